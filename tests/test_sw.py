#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The library as a PyGObject user sees it, against the uninstalled typelib:
# every public type built the way Python code builds it, messages both ways,
# errors as GLib.Error, properties. Prints TAP.

import fcntl
import multiprocessing.connection
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import swtap  # noqa: E402
from swtap import TIMEOUT, msg, pair, raises, test  # noqa: E402

from gi.repository import GLib, Gio, Sw  # noqa: E402


def adopt_python_socket(sock, framing):
    """A Gio.Socket taking over a Python socket's fd, wrapped by
    Sw.Connection(socket=...) as a binding user would."""
    gsock = Gio.Socket.new_from_fd(sock.detach())
    return Sw.Connection(socket=gsock, framing=framing)


@test
def framing_constructors():
    varint = Sw.VarIntFraming.new()
    mp = Sw.MultiprocessingFraming.new()
    swtap.check(isinstance(varint, Sw.VarIntFraming), type(varint))
    swtap.check(isinstance(varint, Sw.Framing))
    swtap.check(isinstance(mp, Sw.MultiprocessingFraming), type(mp))
    swtap.check(isinstance(mp, Sw.Framing))
    default = Sw.Framing.get_default()
    swtap.check(isinstance(default, Sw.VarIntFraming), type(default))
    swtap.same(Sw.Framing.get_default(), default)


@test
def socketpair_messages_both_ways():
    a, b = pair()
    swtap.check(isinstance(a, Sw.Connection) and isinstance(b, Sw.Connection))
    swtap.same(a.send_message(msg(b'Hello child!'), TIMEOUT, None), True)
    swtap.equal(b.receive_message(TIMEOUT, None).get_data(), b'Hello child!')
    swtap.same(b.send_message(msg(b'Hello parent!'), TIMEOUT, None), True)
    swtap.equal(a.receive_message(TIMEOUT, None).get_data(), b'Hello parent!')
    # An empty message is a message too, and order is kept.
    for payload in (b'', b'x', bytes(range(256)) * 300):
        a.send_message(msg(payload), TIMEOUT, None)
    for payload in (b'', b'x', bytes(range(256)) * 300):
        swtap.equal(b.receive_message(TIMEOUT, None).get_data(), payload)


@test
def send_messages_array():
    a, b = pair()
    payloads = [b'one', b'two', b'three']
    swtap.same(a.send_messages([msg(p) for p in payloads], TIMEOUT, None), True)
    for p in payloads:
        swtap.equal(b.receive_message(TIMEOUT, None).get_data(), p)


@test
def raw_bytes_both_ways():
    ok, a, b = Sw.socketpair(Gio.SocketFamily.UNIX, Gio.SocketType.STREAM,
                             None)
    swtap.check(ok and a.props.framing is None)
    swtap.equal(a.send_bytes(msg(b'abcdef'), TIMEOUT, None), 6)
    swtap.equal(b.receive_bytes(4, TIMEOUT, None).get_data(), b'abcd')
    swtap.equal(b.receive_bytes(2, TIMEOUT, None).get_data(), b'ef')
    swtap.equal(b.send_bytes(msg(b'back'), TIMEOUT, None), 4)
    # Blind receive (-1): the first chunk available.
    swtap.equal(a.receive_bytes(-1, TIMEOUT, None).get_data(), b'back')


@test
def varint_wire_format():
    # send_bytes writes raw bytes on a framed connection: a hand-made
    # varint frame is read back as a message, and a message comes out with
    # the varint header Python socketwrapper writes.
    a, b = pair(Sw.VarIntFraming.new())
    a.send_bytes(msg(b'\x05hello'), TIMEOUT, None)
    swtap.equal(b.receive_message(TIMEOUT, None).get_data(), b'hello')
    payload = b'z' * 300   # 300 - 240 = 60: header f1 3c
    b.send_message(msg(payload), TIMEOUT, None)
    swtap.equal(a.receive_bytes(2 + 300, TIMEOUT, None).get_data(), b'\xf1\x3c' + payload)


@test
def pipe_reader_writer():
    ok, reader, writer = Sw.pipe(Sw.VarIntFraming.new())
    swtap.same(ok, True)
    swtap.check(reader.props.readable and not reader.props.writable)
    swtap.check(writer.props.writable and not writer.props.readable)
    swtap.check(writer.send_message(msg(b'Hello world!'), TIMEOUT, None))
    swtap.equal(reader.receive_message(TIMEOUT, None).get_data(), b'Hello world!')
    raises(Gio.IOErrorEnum.NOT_SUPPORTED, writer.receive_message, 0, None)
    raises(Gio.IOErrorEnum.NOT_SUPPORTED, reader.send_message, msg(b'x'),
           0, None)


@test
def new_for_fd_on_os_pipe():
    r, w = os.pipe()
    reader = Sw.Connection.new_for_fd(r, Sw.MultiprocessingFraming.new())
    writer = Sw.Connection.new_for_fd(w, Sw.MultiprocessingFraming.new())
    swtap.check(reader.get_fd() == r and writer.get_fd() == w)
    swtap.check(reader.props.readable and writer.props.writable)
    writer.send_message(msg(b'over a pipe'), TIMEOUT, None)
    swtap.equal(reader.receive_message(TIMEOUT, None).get_data(), b'over a pipe')
    writer.close(None)
    reader.close(None)


@test
def connection_from_gio_socket():
    ours, theirs = socket.socketpair()
    theirs.settimeout(10)
    conn = adopt_python_socket(ours, Sw.VarIntFraming.new())
    swtap.check(isinstance(conn.props.socket, Gio.Socket))
    swtap.check(conn.props.readable and conn.props.writable)
    theirs.sendall(b'\x05hello')
    swtap.equal(conn.receive_message(TIMEOUT, None).get_data(), b'hello')
    conn.send_message(msg(b'world'), TIMEOUT, None)
    swtap.equal(theirs.recv(16), b'\x05world')
    conn.close(None)
    theirs.close()


@test
def multiprocessing_connection_peer():
    ours, theirs = socket.socketpair()
    conn = adopt_python_socket(ours, Sw.MultiprocessingFraming.new())
    peer = multiprocessing.connection.Connection(theirs.detach())
    peer.send_bytes(b'Hello child!')
    swtap.equal(conn.receive_message(TIMEOUT, None).get_data(), b'Hello child!')
    conn.send_message(msg(b'Hello parent!'), TIMEOUT, None)
    swtap.check(peer.poll(10))
    swtap.equal(peer.recv_bytes(), b'Hello parent!')
    peer.close()
    conn.close(None)


@test
def receive_timeout_zero():
    a, b = pair()
    raises(Gio.IOErrorEnum.TIMED_OUT, b.receive_message, 0, None)
    raises(Gio.IOErrorEnum.TIMED_OUT, b.receive_message, 1000, None)
    raises(Gio.IOErrorEnum.TIMED_OUT, b.receive_bytes, 1, 0, None)
    # Nothing was lost: the connection still works.
    a.send_message(msg(b'late'), TIMEOUT, None)
    swtap.equal(b.receive_message(TIMEOUT, None).get_data(), b'late')


@test
def cancelled_receive():
    a, b = pair()
    cancellable = Gio.Cancellable()
    cancellable.cancel()
    raises(Gio.IOErrorEnum.CANCELLED, b.receive_message, -1, cancellable)


@test
def eof_is_connection_closed():
    a, b = pair()
    a.close(None)
    raises(Gio.IOErrorEnum.CONNECTION_CLOSED, b.receive_message, TIMEOUT,
           None)


@test
def operations_after_close():
    a, b = pair()
    a.close(None)
    raises(Gio.IOErrorEnum.CLOSED, a.receive_message, 0, None)
    raises(Gio.IOErrorEnum.CLOSED, a.send_message, msg(b'x'), 0, None)


@test
def properties():
    varint = Sw.VarIntFraming.new()
    a, b = pair(varint)
    swtap.check(a.props.framing is varint and a.get_framing() is varint)
    mp = Sw.MultiprocessingFraming.new()
    a.props.framing = mp
    swtap.same(a.get_framing(), mp)
    a.set_framing(varint)
    swtap.same(a.props.framing, varint)

    swtap.check(a.props.readable is True and a.props.writable is True)
    swtap.same(a.props.close_wrapped, True)
    swtap.check(isinstance(a.props.socket, Gio.Socket))

    swtap.equal(a.props.max_message_size, 128 * 1024 * 1024)
    a.props.max_message_size = 4096
    swtap.equal(a.get_max_message_size(), 4096)
    a.set_max_message_size(GLib.MAXUINT64)
    swtap.equal(a.props.max_message_size, GLib.MAXUINT64)

    swtap.same(a.props.read_ahead, True)
    a.props.read_ahead = False
    swtap.same(a.get_read_ahead(), False)

    # inheritable is the inverse of FD_CLOEXEC on the wrapped fd.
    fd = a.get_fd()
    swtap.check(fd >= 0)
    swtap.same(a.props.inheritable, False)
    swtap.check(fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC)
    a.props.inheritable = True
    swtap.same(a.get_inheritable(), True)
    swtap.check(not fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC)
    a.set_inheritable(False)
    swtap.check(fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC)

    # Every wrapped fd is non-blocking.
    swtap.check(not os.get_blocking(fd))

    notified = []
    a.connect('notify::closed', lambda obj, pspec: notified.append(pspec.name))
    swtap.same(a.props.closed, False)
    swtap.same(a.close(None), True)
    swtap.check(a.props.closed is True and a.get_closed() is True)
    ctx = GLib.MainContext.default()
    while ctx.iteration(False):
        pass
    swtap.equal(notified, ['closed'], notified)


@test
def message_too_large():
    a, b = pair()
    b.props.max_message_size = 4
    a.send_message(msg(b'too long'), TIMEOUT, None)
    a.send_message(msg(b'ok'), TIMEOUT, None)
    raises(Gio.IOErrorEnum.MESSAGE_TOO_LARGE, b.receive_message, TIMEOUT,
           None)
    # The varint framing knows the length: the connection stays usable.
    swtap.equal(b.receive_message(TIMEOUT, None).get_data(), b'ok')


@test
def async_round_trip():
    a, b = pair()
    loop = GLib.MainLoop()
    results = {}

    def done(key, finish, res):
        try:
            results[key] = finish(res)
        except GLib.Error as e:
            results[key + '-error'] = e
        if len(results) == 2:
            loop.quit()

    def received(conn, res):
        done('message', lambda r: conn.receive_message_finish(r).get_data(),
             res)

    def sent(conn, res):
        done('sent', conn.send_message_finish, res)

    b.receive_message_async(GLib.PRIORITY_DEFAULT, None, received)
    a.send_message_async(msg(b'async hello'), GLib.PRIORITY_DEFAULT, None,
                         sent)
    timeout_id = GLib.timeout_add_seconds(10, loop.quit)
    loop.run()
    GLib.source_remove(timeout_id)
    swtap.same(results.get('sent'), True, results)
    swtap.equal(results.get('message'), b'async hello', results)


if __name__ == '__main__':
    swtap.run()
