#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The async API as a PyGObject user sees it (callbacks and GLib main loops:
# PyGObject 3.42 has no awaitables), against the uninstalled typelib. The
# asyncio examples of the Python socketwrapper package, re-created:
# "Simple asyncio IPC with pipe" (os.fork) and "Connection handling"
# (a server wrapping accepted connections). Prints TAP.

import array
import fcntl
import os
import sys
import termios
import threading
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import swtap  # noqa: E402
from swtap import PRIORITY, iterate_until, msg, pair, test  # noqa: E402

from gi.repository import GLib, Gio, Sw  # noqa: E402


def pending_input(conn):
    """Bytes queued in the kernel for @conn to read."""
    buf = array.array('i', [0])
    fcntl.ioctl(conn.get_fd(), termios.FIONREAD, buf, True)
    return buf[0]


class Call:
    """The outcome of one async call: call.done, then call.value or
    call.error (a GLib.Error), and the thread its callback ran in."""

    def __init__(self, finish_name):
        self.finish_name = finish_name
        self.done = False
        self.value = None
        self.error = None
        self.thread = None

    def __call__(self, source, result):
        try:
            self.value = getattr(source, self.finish_name)(result)
        except GLib.Error as e:
            self.error = e
        self.thread = threading.get_ident()
        self.done = True

    def data(self):
        swtap.same(self.error, None, self.error)
        return self.value.get_data()

    def failed_with(self, code):
        return (self.error is not None
                and self.error.matches(Gio.io_error_quark(), code))


def receive(conn, cancellable=None):
    call = Call('receive_message_finish')
    conn.receive_message_async(PRIORITY, cancellable, call)
    return call


def send(conn, data, cancellable=None):
    call = Call('send_message_finish')
    conn.send_message_async(msg(data), PRIORITY, cancellable, call)
    return call


@test
def asyncio_pipe_ipc_with_fork():
    # socketwrapper: "Simple asyncio IPC with pipe". The child sends from
    # its own main loop, the parent receives from its own.
    ok, parent_reader, child_writer = Sw.pipe(Sw.VarIntFraming.new())
    swtap.check(ok)
    child_writer.props.inheritable = True
    child_pid = os.fork()  # replace with your own process fork/spawn logic
    if child_pid == 0:
        status = 1
        try:
            context = GLib.MainContext.new()
            context.push_thread_default()
            sent = send(child_writer, b'Hello world!')
            iterate_until(lambda: sent.done, context)
            if sent.error is None and sent.value is True:
                child_writer.close(None)
                status = 0
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(status)
    child_writer.props.inheritable = False  # important, prevent fd leaks!
    child_writer.close(None)  # the parent keeps only its end

    received = receive(parent_reader)
    iterate_until(lambda: received.done)
    print(f'# Message {received.data()!r} received')
    swtap.equal(received.data(), b'Hello world!')
    _, status = os.waitpid(child_pid, 0)
    swtap.check(os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status)

    # The child is gone: EOF at a message boundary.
    eof = receive(parent_reader)
    iterate_until(lambda: eof.done)
    swtap.check(eof.failed_with(Gio.IOErrorEnum.CONNECTION_CLOSED), eof.error)
    parent_reader.close(None)


@test
def asyncio_server_connection_handling():
    # socketwrapper: "Connection handling (socket.accept)". Accepted
    # connections are wrapped and sent b'message'; a client receives it.
    service = Gio.SocketService.new()
    ok, address = service.add_address(
        Gio.InetSocketAddress.new_from_string('127.0.0.1', 0),
        Gio.SocketType.STREAM, Gio.SocketProtocol.TCP, None)
    swtap.check(ok)
    swtap.check(address.get_port() != 0)
    served = []

    def on_sent(conn, result):
        served.append(conn.send_message_finish(result))
        conn.close_async(PRIORITY, None, lambda c, r: c.close_finish(r))

    def on_incoming(service, connection, source_object):
        server_side = Sw.Connection.new_for_stream(connection,
                                                   Sw.VarIntFraming.new())
        # The pending call keeps server_side alive.
        server_side.send_message_async(msg(b'message'), PRIORITY, None,
                                       on_sent)
        return True

    service.connect('incoming', on_incoming)
    service.start()
    try:
        client = Gio.SocketClient.new()
        connected = Call('connect_finish')
        client.connect_async(address, None, connected)
        iterate_until(lambda: connected.done)
        swtap.same(connected.error, None, connected.error)

        sw_client = Sw.Connection.new_for_stream(connected.value,
                                                 Sw.VarIntFraming.new())
        received = receive(sw_client)
        iterate_until(lambda: received.done)
        print(f'# {received.data()!r}')
        swtap.equal(received.data(), b'message')
        iterate_until(lambda: served)
        swtap.equal(served, [True])

        # The server closed its side after sending.
        eof = receive(sw_client)
        iterate_until(lambda: eof.done)
        swtap.check(eof.failed_with(Gio.IOErrorEnum.CONNECTION_CLOSED), eof.error)
        sw_client.close(None)
    finally:
        service.stop()
        service.close()


@test
def queued_receives_in_order():
    # Calls queue first come, first served; callbacks follow that order.
    a, b = pair()
    completed = []

    def track(call):
        def callback(source, result):
            call(source, result)
            completed.append(call)
        return callback

    calls = []
    for _ in range(3):
        call = Call('receive_message_finish')
        b.receive_message_async(PRIORITY, None, track(call))
        calls.append(call)
    for payload in (b'one', b'two', b'three'):
        a.send_message(msg(payload), -1, None)
    iterate_until(lambda: len(completed) == 3)
    swtap.equal(completed, calls)
    swtap.equal([c.data() for c in calls], [b'one', b'two', b'three'])


@test
def cancel_queued_receive():
    a, b = pair()
    cancellable = Gio.Cancellable.new()
    first = receive(b)
    second = receive(b, cancellable)
    third = receive(b)
    cancellable.cancel()
    iterate_until(lambda: second.done)
    swtap.check(second.failed_with(Gio.IOErrorEnum.CANCELLED), second.error)
    swtap.check(not first.done and not third.done)
    a.send_message(msg(b'm1'), -1, None)
    a.send_message(msg(b'm2'), -1, None)
    iterate_until(lambda: first.done and third.done)
    swtap.equal((first.data(), third.data()), (b'm1', b'm2'))


@test
def cancel_committed_send_succeeds():
    a, b = pair()
    big = bytes(range(256)) * (4 * 4096)   # 4 MiB: more than fits
    cancellable = Gio.Cancellable.new()
    sent = send(a, big, cancellable)
    # Once the peer has bytes of the frame, the message is committed.
    iterate_until(lambda: pending_input(b) > 0 or sent.done)
    cancellable.cancel()
    iterate_until(lambda: sent.done)
    swtap.same(sent.error, None, sent.error)
    swtap.same(sent.value, True)
    flushed = Call('flush_finish')
    a.flush_async(PRIORITY, None, flushed)
    received = receive(b)
    iterate_until(lambda: flushed.done and received.done)
    swtap.same(flushed.value, True)
    swtap.equal(received.data(), big)


@test
def close_async_wakes_pending_calls():
    a, b = pair()
    pending = [receive(a), receive(a)]
    closed = Call('close_finish')
    a.close_async(PRIORITY, None, closed)
    iterate_until(lambda: closed.done and all(c.done for c in pending))
    swtap.same(closed.value, True, closed.error)
    for call in pending:
        swtap.check(call.failed_with(Gio.IOErrorEnum.CLOSED), call.error)
    swtap.same(a.props.closed, True)


@test
def bytes_and_flush():
    ok, a, b = Sw.socketpair(Gio.SocketFamily.UNIX, Gio.SocketType.STREAM,
                             None)
    swtap.check(ok)
    sent = Call('send_bytes_finish')
    a.send_bytes_async(msg(b'abcdef'), PRIORITY, None, sent)
    received = Call('receive_bytes_finish')
    b.receive_bytes_async(6, PRIORITY, None, received)
    flushed = Call('flush_finish')
    a.flush_async(PRIORITY, None, flushed)
    iterate_until(lambda: sent.done and received.done and flushed.done)
    swtap.equal(sent.value, 6)
    swtap.equal(received.data(), b'abcdef')
    swtap.same(flushed.value, True)


@test
def callback_in_thread_default_context():
    # A thread with its own context gets its callbacks there, while the
    # main thread sends.
    a, b = pair()
    outcome = {}

    def worker():
        context = GLib.MainContext.new()
        context.push_thread_default()
        try:
            call = receive(b)
            outcome['queued'] = True
            iterate_until(lambda: call.done, context)
            outcome['call'] = call
            outcome['thread'] = threading.get_ident()
        finally:
            context.pop_thread_default()

    thread = threading.Thread(target=worker)
    thread.start()
    a.send_message(msg(b'to the worker'), -1, None)
    thread.join()
    call = outcome['call']
    swtap.equal(call.data(), b'to the worker')
    swtap.check(call.thread == outcome['thread'] != threading.get_ident())


if __name__ == '__main__':
    swtap.run()
