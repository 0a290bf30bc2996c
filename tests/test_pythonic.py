#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The Pythonic layer of gi/overrides/Sw.py: bytes-like messages, timeouts in
# seconds, plain values with codecs, asyncio without a GLib main loop
# (cancellation loses nothing), iteration, `with`, the exceptions, and the
# Python socketwrapper package's examples from docs/examples/python run as
# programs. Prints TAP.

import array
import asyncio
import fcntl
import os
import re
import subprocess
import sys
import termios
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import swtap  # noqa: E402
from swtap import check, equal, same, test  # noqa: E402

from gi.repository import GLib, Gio, Sw  # noqa: E402
import gi.overrides.Sw as overrides  # noqa: E402

SECONDS = 10  # never reached unless a test is broken
EXAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        '..', 'docs', 'examples', 'python')


def raises(kind, func, *args, **kwargs):
    """Calls func(), which must raise @kind; returns the exception."""
    try:
        func(*args, **kwargs)
    except kind as e:
        return e
    raise AssertionError(f'expected {kind.__name__}, nothing raised')


def unread(fd):
    """Bytes queued in the kernel for @fd."""
    count = array.array('i', [0])
    fcntl.ioctl(fd, termios.FIONREAD, count)
    return count[0]


def wait_blocked(thread):
    """Returns once @thread sleeps in poll/futex (a blocking wait)."""
    path = f'/proc/self/task/{thread.native_id}/syscall'
    while True:
        with open(path) as f:
            if f.read().split(' ')[0] in {'7', '271', '202'}:
                return
        os.sched_yield()


@test
def overrides_are_loaded():
    check(Sw.Connection is overrides.Connection, Sw.Connection)
    a, b = Sw.socketpair(framing=True)
    check(type(a) is overrides.Connection, type(a))


@test
def receive_messages_batches():
    a, b = Sw.socketpair()
    a.send_messages([b'one', bytearray(b'two'), b'', memoryview(b'four')])
    batch = b.receive_messages(100)
    same(type(batch), list)
    check(all(isinstance(m, GLib.Bytes) for m in batch), batch)
    equal([m.get_data() for m in batch], [b'one', b'two', b'', b'four'])
    # A limit leaves the rest for the next call, in order.
    a.send_messages([b'%d' % i for i in range(5)])
    equal([m.get_data() for m in b.receive_messages(3)], [b'0', b'1', b'2'])
    equal([m.get_data() for m in b.receive_messages(3, swtap.TIMEOUT)],
          [b'3', b'4'])
    equal(b.receive_messages(0), [])
    swtap.raises(Gio.IOErrorEnum.TIMED_OUT, b.receive_messages, 3, 0)
    # A frame over the limit after a good one: the good one, then the
    # error, then the connection goes on.
    b.set_max_message_size(10)
    a.send_messages([b'ok', b'x' * 100, b'after'])
    equal([m.get_data() for m in b.receive_messages(10)], [b'ok'])
    swtap.raises(Gio.IOErrorEnum.MESSAGE_TOO_LARGE, b.receive_messages, 10)
    equal([m.get_data() for m in b.receive_messages(10)], [b'after'])

    def start(done):
        def received(conn, result):
            done([m.get_data() for m in conn.receive_messages_finish(result)])
        b.receive_messages_async(10, GLib.PRIORITY_DEFAULT, None,
                                 swtap.guarded(done, received))
        a.send_messages([b'async', b'batch'])
    equal(swtap.run_loop(start), [b'async', b'batch'])


@test
def bytes_like_messages_everywhere():
    a, b = Sw.socketpair()
    for data in (b'bytes', bytearray(b'bytearray'), memoryview(b'view'),
                 GLib.Bytes.new(b'gbytes')):
        same(a.send_message(data, swtap.TIMEOUT, None), True)
        equal(b.receive_message(swtap.TIMEOUT, None).get_data(),
              bytes(data.get_data() if isinstance(data, GLib.Bytes)
                    else data))
    a.send_messages([b'one', bytearray(b'two'), memoryview(b'three')])
    equal([b.recv() for _ in range(3)], [b'one', b'two', b'three'])
    equal(a.send_bytes(b'\x03raw'), 4)
    equal(b.recv(), b'raw')
    equal(a.send_bytes(memoryview(b'\x01x'), timeout=1.5), 2)
    equal(b.recv_bytes(2), b'\x01x')
    raises(TypeError, a.send, 'text is not bytes')

    def start(done):
        def sent(conn, result):
            conn.send_message_finish(result)
            done(b.recv(SECONDS))
        a.send_message_async(bytearray(b'async'), GLib.PRIORITY_DEFAULT,
                             None, swtap.guarded(done, sent))
    equal(swtap.run_loop(start), b'async')


@test
def timeouts_in_seconds():
    a, b = Sw.socketpair()
    e = raises(Sw.StreamTimeoutError, b.recv, 0)
    check(isinstance(e, TimeoutError) and isinstance(e, GLib.Error))
    check(e.matches(Gio.io_error_quark(), Gio.IOErrorEnum.TIMED_OUT), e)
    equal(e.data, b'')
    raises(TimeoutError, b.recv_bytes, 1, timeout=0.001)
    raises(ValueError, b.recv, -1)
    raises(ValueError, b.recv, float('nan'))
    # A timed-out receive keeps a partial frame: the next one completes it.
    a.send_bytes(b'\x05ab')
    raises(TimeoutError, b.recv, 0)
    a.send_bytes(b'cde')
    equal(b.recv(timeout=SECONDS), b'abcde')


@test
def eof_errors_carry_the_partial_payload():
    a, b = Sw.socketpair()
    a.send(b'whole')
    a.send_bytes(b'\x06abc')   # header says 6, 3 arrive
    a.close()
    equal(b.recv(), b'whole')
    e = raises(Sw.StreamEOFError, b.recv)
    check(isinstance(e, EOFError) and isinstance(e, GLib.Error))
    check(e.matches(Gio.io_error_quark(), Gio.IOErrorEnum.PARTIAL_INPUT), e)
    equal(e.data, b'abc')
    e = raises(EOFError, b.recv)
    check(e.matches(Gio.io_error_quark(),
                    Gio.IOErrorEnum.CONNECTION_CLOSED), e)
    equal(e.data, b'')
    # Still caught as GLib.Error, as every other error of the library.
    try:
        b.recv()
    except GLib.Error as error:
        check(isinstance(error, Sw.StreamEOFError), repr(error))


@test
def partial_payload_of_a_headerless_framing():
    a, b = Sw.socketpair(framing=Sw.DelimiterFraming.new(None))
    a.send_bytes(b'no newline')
    a.close()
    equal(raises(Sw.StreamEOFError, b.recv).data, b'no newline')


@test
def iteration_until_a_clean_end():
    a, b = Sw.socketpair()
    for data in (b'1', b'', b'3'):
        a.send(data)
    a.close()
    equal(list(b), [b'1', b'', b'3'])
    c, d = Sw.socketpair()
    c.send(b'x')
    c.send_bytes(b'\x09partial')
    c.close()
    got = []
    e = raises(Sw.StreamEOFError, lambda: got.extend(d))
    equal(got, [b'x'])
    equal(e.data, b'partial')


@test
def with_closes_connections_and_pairs():
    with Sw.socketpair() as (a, b):
        with a:
            same(a.closed, False)
        same(a.closed, True)
    same(b.closed, True)
    reader, writer = Sw.pipe(framing=True)
    with reader, writer:
        pass
    check(reader.closed and writer.closed)


@test
def pipe_and_socketpair_both_ways():
    # The introspected, positional calls are unchanged.
    ok, reader, writer = Sw.pipe(Sw.VarIntFraming.new())
    same(ok, True)
    ok, a, b = Sw.socketpair(Gio.SocketFamily.UNIX, Gio.SocketType.STREAM,
                             None)
    check(ok and a.framing is None)
    reader, writer = Sw.pipe(framing=True)
    same(reader.framing, Sw.Framing.get_default())
    check(reader.readable and not reader.writable and writer.writable)
    a, b = Sw.socketpair(framing=Sw.MultiprocessingFraming)
    check(isinstance(a.framing, Sw.MultiprocessingFraming), a.framing)
    mp = Sw.MsgPackFraming.new()
    a, b = Sw.socketpair(framing=mp, codec=Sw.MsgPackCodec.new())
    check(a.framing is mp and isinstance(b.codec, Sw.MsgPackCodec))
    a, b = Sw.socketpair(framing=False, type=Gio.SocketType.SEQPACKET)
    a.send(b'datagram')
    equal(b.recv(), b'datagram')


@test
def plain_attributes():
    a, b = Sw.socketpair()
    a.inheritable = True
    check(a.inheritable and a.props.inheritable)
    check(not fcntl.fcntl(a.fileno(), fcntl.F_GETFD) & fcntl.FD_CLOEXEC)
    a.inheritable = False
    check(fcntl.fcntl(a.fileno(), fcntl.F_GETFD) & fcntl.FD_CLOEXEC)
    a.max_message_size = 4
    equal(a.get_max_message_size(), 4)
    a.read_ahead = False
    same(a.props.read_ahead, False)
    a.codec = Sw.JsonCodec.new()
    check(isinstance(a.get_codec(), Sw.JsonCodec))
    check(isinstance(a.socket, Gio.Socket))
    # fromfd() works on a duplicate, and closes it when wrapping fails.
    before = len(os.listdir('/proc/self/fd'))
    read_end, write_end = os.pipe()
    with Sw.Connection.fromfd(write_end) as writer:
        check(writer.fileno() != write_end)
    os.write(write_end, b'still open')
    raises(TypeError, Sw.Connection.fromfd, read_end, framing='no framing')
    os.close(read_end)
    os.close(write_end)
    equal(len(os.listdir('/proc/self/fd')), before)


VALUE = {'data': b'Hello world!', 'int': -(2 ** 40), 'float': 2.5,
         'str': 'text', 'bool': True, 'none': None,
         'list': [1, 'two', [3.0, False], {}, b''], 'dict': {'a': {'b': []}}}


def without_bytes(value):
    if isinstance(value, dict):
        return {k: without_bytes(v) for k, v in value.items()
                if not isinstance(v, bytes)}
    if isinstance(value, list):
        return [without_bytes(v) for v in value if not isinstance(v, bytes)]
    return value


@test
def plain_values_with_every_codec():
    for framing, codec in ((True, Sw.GVariantCodec), (True, Sw.JsonCodec),
                           (Sw.MsgPackFraming, Sw.MsgPackCodec)):
        a, b = Sw.socketpair(framing=framing, codec=codec)
        values = [VALUE, [], 0, None, 'x', b'\x00\xff', True]
        if codec is Sw.JsonCodec:  # JSON has no bytes: they are lists
            values = [without_bytes(v) for v in values
                      if not isinstance(v, bytes)]
        for value in values:
            a.send(value)
            got = b.recv()
            equal(got, value, f'{codec.__name__}: {got!r} != {value!r}')
            equal(type(got), type(value), codec.__name__)


@test
def variant_mapping():
    equal(Sw.to_variant(VALUE['list']).get_type_string(), 'av')
    equal(Sw.to_variant(VALUE).get_type_string(), 'a{sv}')
    equal(Sw.to_variant(None).get_type_string(), 'mv')
    equal(Sw.to_variant(2 ** 64 - 1).get_type_string(), 't')
    equal(Sw.to_variant({1: 'a'}).get_type_string(), 'a(vv)')
    equal(Sw.from_variant(Sw.to_variant({1: 'a'})), {1: 'a'})
    equal(Sw.from_variant(GLib.Variant('(yay)', (5, b'xy'))), (5, b'xy'))
    equal(Sw.from_variant(GLib.Variant('a{ib}', {1: True})), {1: True})
    raises(OverflowError, Sw.to_variant, 2 ** 64)
    raises(TypeError, Sw.to_variant, object())


@test
def asyncio_without_a_main_loop():
    async def main():
        a, b = Sw.socketpair()
        await a.send_async(b'one')
        await a.send_async(memoryview(b'two'))
        got = [await b.recv_async(), await b.recv_async()]
        c, d = Sw.socketpair(codec=Sw.JsonCodec)
        await c.send_async({'k': [1, None]})
        got.append(await d.recv_async())
        c.close()
        got.append([m async for m in d])
        return got

    equal(asyncio.run(main()), [b'one', b'two', {'k': [1, None]}, []])
    check(not GLib.MainContext.default().pending(),
          'nothing was dispatched to the global default context')


@test
def asyncio_errors_are_typed():
    async def main():
        a, b = Sw.socketpair()
        a.send_bytes(b'\x04ab')
        a.close()
        return await b.recv_async()

    equal(raises(Sw.StreamEOFError, asyncio.run, main()).data, b'ab')


@test
def cancelled_recv_async_keeps_the_partial_frame():
    a, b = Sw.socketpair()

    async def main():
        task = asyncio.create_task(b.recv_async())
        a.send_bytes(b'\x0bHello')
        # The helper thread has read the partial frame and waits for more.
        while unread(b.fileno()):
            await asyncio.sleep(0)
        wait_blocked(overrides._get_bridge().thread)
        task.cancel()
        await asyncio.wait({task}, timeout=SECONDS)
        if not task.done():  # the receive went on: let it end, then fail
            a.send_bytes(b' world')
            await asyncio.gather(task, return_exceptions=True)
            raise AssertionError('cancelling the task left the call running')
        check(task.cancelled(), task)

    asyncio.run(main())
    a.send_bytes(b' world')
    equal(b.recv(SECONDS), b'Hello world')


@test
def cancelling_recv_async_at_any_moment_loses_nothing():
    a, b = Sw.socketpair()
    sent = [f'message {i}'.encode() for i in range(300)]

    async def main():
        got = []
        for i, data in enumerate(sent):
            a.send(data)
            task = asyncio.create_task(b.recv_async())
            for _ in range(i % 7):
                await asyncio.sleep(0)
            task.cancel()
            result, = await asyncio.gather(task, return_exceptions=True)
            if not isinstance(result, asyncio.CancelledError):
                got.append(result)
            else:
                got.append(await asyncio.wait_for(b.recv_async(), SECONDS))
        return got

    equal(asyncio.run(main()), sent)


@test
def asyncio_while_a_glib_main_loop_runs():
    loop = GLib.MainLoop()
    thread = threading.Thread(target=loop.run)
    thread.start()
    try:
        async def main():
            a, b = Sw.socketpair()
            await a.send_async(b'beside a main loop')
            return await b.recv_async()
        equal(asyncio.run(main()), b'beside a main loop')
    finally:
        GLib.idle_add(loop.quit)
        thread.join()


EXPECTED = {
    'pipe-ipc.py': ["Message b'Hello world!' received"],
    'msgpack-ipc.py': ["Message {'data': b'Hello world!'} received"],
    'async-pipe.py': ["Message b'Hello world!' received"],
    'socketpair-ipc.py': ["Message b'Hello child!' received in child",
                          "Message b'Hello parent!' received in parent"],
    'multiprocessing-peer.py': [
        "Message b'Hello child!' received in child",
        "Message b'Hello parent!' received in parent"],
    'fd-thread.py': ["Message b'Hello World' received"],
    'tcp-server.py': ["b'message'"],
    # Parent and child print at once: compared sorted, without the steps
    # below 100 %, which vary from run to run.
    'progress.py': sorted(['Sending 1048576 bytes!', '< 100.00%',
                           '> 100.00%', 'Received 1048576 bytes!']),
}
VARYING = {'progress.py': re.compile(r'[<>] +\d{1,2}\.\d\d%')}


@test
def the_package_examples():
    env = dict(os.environ, PYTHONUNBUFFERED='1')
    for name, lines in EXPECTED.items():
        run = subprocess.run(['/usr/bin/python3', os.path.join(EXAMPLES, name)],
                             env=env, capture_output=True, text=True,
                             timeout=60)
        equal(run.returncode, 0, f'{name}: {run.stderr}')
        got = run.stdout.splitlines()
        if name in VARYING:
            got = sorted(line for line in got
                         if not VARYING[name].fullmatch(line))
        equal(got, lines, name)


swtap.run()
