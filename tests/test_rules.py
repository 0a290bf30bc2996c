#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The thread and close rules as PyGObject programs meet
# them: a GLib.MainLoop with a receive pending, Python threads making
# blocking calls meanwhile, and the last reference dropped under the GIL.
# Each case runs in a subprocess with a time bound, so a hang (a deadlock
# with the GIL included) is reported as "hung" instead of stalling.

import gc
import os
import socket
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import swtap  # noqa: E402
from gi.repository import GObject  # noqa: E402
from swtap import GLib, Gio, Sw, PRIORITY, msg, pair, raises  # noqa: E402

BOUND = 20  # seconds; every case takes milliseconds unless it hangs
cases = {}


def case(func):
    cases[func.__name__] = func
    return func


def check(condition, message):
    """Raises AssertionError unless @condition (survives python3 -O)."""
    if not condition:
        raise AssertionError(message)


def wait_blocked(thread):
    """Returns once @thread sleeps in poll/futex (a blocking wait)."""
    path = f'/proc/self/task/{thread.native_id}/syscall'
    blocking = {'7', '271', '202'}  # poll, ppoll, futex on x86_64
    while True:
        with open(path) as f:
            if f.read().split(' ')[0] in blocking:
                return
        os.sched_yield()


@case
def timeout_callback_blocking_receive_raises_pending():
    a, b = pair()

    def start(done):
        def on_received(conn, result):
            done(conn.receive_message_finish(result).get_data())

        def on_timeout():
            raises(Gio.IOErrorEnum.PENDING, b.receive_message, -1, None)
            a.send_message(msg(b'one'), -1, None)
            return GLib.SOURCE_REMOVE

        b.receive_message_async(PRIORITY, None, swtap.guarded(done, on_received))
        GLib.timeout_add(1, swtap.guarded(done, on_timeout))

    check(swtap.run_loop(start) == b'one', 'received')


@case
def python_thread_waits_behind_main_loop_receive():
    a, b = pair()
    got = {}

    def worker():
        got['worker'] = b.receive_message(-1, None).get_data()

    def start(done):
        def on_received(conn, result):
            got['loop'] = conn.receive_message_finish(result).get_data()
            thread.join()
            done(got)

        b.receive_message_async(PRIORITY, None, swtap.guarded(done, on_received))
        thread.start()
        wait_blocked(thread)
        a.send_message(msg(b'first'), -1, None)
        a.send_message(msg(b'second'), -1, None)

    thread = threading.Thread(target=worker)
    result = swtap.run_loop(start)
    check(result == {'loop': b'first', 'worker': b'second'}, result)


@case
def last_unref_flush_does_not_hold_the_gil():
    # The peer is a Python thread reading the raw socket in chunks: it
    # needs the GIL between reads while dispose's blocking flush waits.
    s1, s2 = socket.socketpair()
    a = Sw.Connection.new_for_fd(s1.detach(), Sw.VarIntFraming.new())
    size = 8 * 1024 * 1024
    check(a.send_message(msg(b'x' * size), 0, None), 'committed')
    total = []

    def reader():
        n = 0
        while True:
            data = s2.recv(65536)
            if not data:
                break
            n += len(data)
        total.append(n)

    thread = threading.Thread(target=reader)
    thread.start()
    del a
    gc.collect()
    thread.join()
    check(total[0] > size, total)


class TwoByteFraming(GObject.Object, Sw.Framing):
    """A 2-byte big-endian length, then the payload; @on_decode, if set,
    runs at every decode (user code under the receive lock)."""

    def __init__(self, on_decode=None):
        super().__init__()
        self.on_decode = on_decode

    def do_decode(self, data, *args):
        state = args[-1]
        if self.on_decode is not None:
            self.on_decode()
        if len(data) < 2:
            return (Sw.FramingResult.NEED_MORE, state, 0, 0, 0, 2 - len(data))
        return (Sw.FramingResult.FRAME, state, 2, data[0] << 8 | data[1], 0, 0)

    def do_encode(self, payload):
        return True, msg(payload.get_size().to_bytes(2, 'big')), None


@case
def python_framing_swapped_under_traffic():
    # Two equal framings in Python, swapped on both ends while a Python
    # thread receives (decode needs the GIL) and the main thread sends.
    f1, f2 = TwoByteFraming(), TwoByteFraming()
    a, b = pair(f1)
    out = []

    def worker():
        for _ in range(500):
            out.append(b.receive_message(-1, None).get_size())

    thread = threading.Thread(target=worker)
    thread.start()
    for i in range(500):
        a.send_message(msg(b'y' * (i + 1)), -1, None)
        b.set_framing(f2 if i % 2 else f1)
        a.props.framing = f1 if i % 2 else f2
    thread.join()
    check(out == list(range(1, 501)), out[:10])


@case
def python_framing_closing_twice():
    # Two handlers in Python reacting to the same input both close: both
    # close() calls return at once; the receive they ran in still returns
    # the frame it had whole, and the connection is closed when it does.
    closes = []

    def on_decode():
        if not closes:
            b.close(None)
            closes.append(1)
            b.close(None)
            closes.append(2)

    a, b = pair(TwoByteFraming(on_decode))
    a.send_message(msg(b'z'), -1, None)
    check(b.receive_message(-1, None).get_data() == b'z', 'the frame')
    check(closes == [1, 2], closes)
    check(b.props.closed is True, 'closed')
    raises(Gio.IOErrorEnum.CLOSED, b.receive_message, -1, None)


@case
def close_async_then_close_in_callback():
    # A GTK-style app: close_async() from one handler and close() from
    # another (the window's destroy) before the loop ran again.
    a, b = pair()

    def start(done):
        def on_closed(conn, result):
            done(conn.close_finish(result))

        a.close_async(PRIORITY, None, swtap.guarded(done, on_closed))
        a.close(None)

    check(swtap.run_loop(start) is True, 'closed')


def run_one(name):
    cases[name]()


def main():
    names = list(cases)
    print(f'1..{len(names)}')
    failed = 0
    for number, name in enumerate(names, 1):
        try:
            proc = subprocess.run([sys.executable, __file__, name], timeout=BOUND,
                                  capture_output=True, text=True)
            ok = proc.returncode == 0
            detail = proc.stderr.strip().splitlines()[-1:] if not ok else []
        except subprocess.TimeoutExpired:
            ok, detail = False, [f'hung (bound {BOUND} s)']
        if not ok:
            failed += 1
        print(f'{"ok" if ok else "not ok"} {number} - {name}'
              + (f' # {detail[0]}' if detail else ''))
        sys.stdout.flush()
    return 1 if failed else 0


if __name__ == '__main__':
    if len(sys.argv) > 1:
        run_one(sys.argv[1])
    else:
        sys.exit(main())
