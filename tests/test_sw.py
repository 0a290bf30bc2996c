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
    assert isinstance(varint, Sw.VarIntFraming), type(varint)
    assert isinstance(varint, Sw.Framing)
    assert isinstance(mp, Sw.MultiprocessingFraming), type(mp)
    assert isinstance(mp, Sw.Framing)
    default = Sw.Framing.get_default()
    assert isinstance(default, Sw.VarIntFraming), type(default)
    assert Sw.Framing.get_default() is default


@test
def socketpair_messages_both_ways():
    a, b = pair()
    assert isinstance(a, Sw.Connection) and isinstance(b, Sw.Connection)
    assert a.send_message(msg(b'Hello child!'), TIMEOUT, None) is True
    assert b.receive_message(TIMEOUT, None).get_data() == b'Hello child!'
    assert b.send_message(msg(b'Hello parent!'), TIMEOUT, None) is True
    assert a.receive_message(TIMEOUT, None).get_data() == b'Hello parent!'
    # An empty message is a message too, and order is kept.
    for payload in (b'', b'x', bytes(range(256)) * 300):
        a.send_message(msg(payload), TIMEOUT, None)
    for payload in (b'', b'x', bytes(range(256)) * 300):
        assert b.receive_message(TIMEOUT, None).get_data() == payload


@test
def send_messages_array():
    a, b = pair()
    payloads = [b'one', b'two', b'three']
    assert a.send_messages([msg(p) for p in payloads], TIMEOUT, None) is True
    for p in payloads:
        assert b.receive_message(TIMEOUT, None).get_data() == p


@test
def raw_bytes_both_ways():
    ok, a, b = Sw.socketpair(Gio.SocketFamily.UNIX, Gio.SocketType.STREAM,
                             None)
    assert ok and a.props.framing is None
    assert a.send_bytes(msg(b'abcdef'), TIMEOUT, None) == 6
    assert b.receive_bytes(4, TIMEOUT, None).get_data() == b'abcd'
    assert b.receive_bytes(2, TIMEOUT, None).get_data() == b'ef'
    assert b.send_bytes(msg(b'back'), TIMEOUT, None) == 4
    # Blind receive (-1): the first chunk available.
    assert a.receive_bytes(-1, TIMEOUT, None).get_data() == b'back'


@test
def varint_wire_format():
    # send_bytes writes raw bytes on a framed connection: a hand-made
    # varint frame is read back as a message, and a message comes out with
    # the varint header Python socketwrapper writes.
    a, b = pair(Sw.VarIntFraming.new())
    a.send_bytes(msg(b'\x05hello'), TIMEOUT, None)
    assert b.receive_message(TIMEOUT, None).get_data() == b'hello'
    payload = b'z' * 300   # 300 - 240 = 60: header f1 3c
    b.send_message(msg(payload), TIMEOUT, None)
    assert a.receive_bytes(2 + 300, TIMEOUT, None).get_data() == \
        b'\xf1\x3c' + payload


@test
def pipe_reader_writer():
    ok, reader, writer = Sw.pipe(Sw.VarIntFraming.new())
    assert ok is True
    assert reader.props.readable and not reader.props.writable
    assert writer.props.writable and not writer.props.readable
    assert writer.send_message(msg(b'Hello world!'), TIMEOUT, None)
    assert reader.receive_message(TIMEOUT, None).get_data() == b'Hello world!'
    raises(Gio.IOErrorEnum.NOT_SUPPORTED, writer.receive_message, 0, None)
    raises(Gio.IOErrorEnum.NOT_SUPPORTED, reader.send_message, msg(b'x'),
           0, None)


@test
def new_for_fd_on_os_pipe():
    r, w = os.pipe()
    reader = Sw.Connection.new_for_fd(r, Sw.MultiprocessingFraming.new())
    writer = Sw.Connection.new_for_fd(w, Sw.MultiprocessingFraming.new())
    assert reader.get_fd() == r and writer.get_fd() == w
    assert reader.props.readable and writer.props.writable
    writer.send_message(msg(b'over a pipe'), TIMEOUT, None)
    assert reader.receive_message(TIMEOUT, None).get_data() == b'over a pipe'
    writer.close(None)
    reader.close(None)


@test
def connection_from_gio_socket():
    ours, theirs = socket.socketpair()
    theirs.settimeout(10)
    conn = adopt_python_socket(ours, Sw.VarIntFraming.new())
    assert isinstance(conn.props.socket, Gio.Socket)
    assert conn.props.readable and conn.props.writable
    theirs.sendall(b'\x05hello')
    assert conn.receive_message(TIMEOUT, None).get_data() == b'hello'
    conn.send_message(msg(b'world'), TIMEOUT, None)
    assert theirs.recv(16) == b'\x05world'
    conn.close(None)
    theirs.close()


@test
def multiprocessing_connection_peer():
    ours, theirs = socket.socketpair()
    conn = adopt_python_socket(ours, Sw.MultiprocessingFraming.new())
    peer = multiprocessing.connection.Connection(theirs.detach())
    peer.send_bytes(b'Hello child!')
    assert conn.receive_message(TIMEOUT, None).get_data() == b'Hello child!'
    conn.send_message(msg(b'Hello parent!'), TIMEOUT, None)
    assert peer.poll(10)
    assert peer.recv_bytes() == b'Hello parent!'
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
    assert b.receive_message(TIMEOUT, None).get_data() == b'late'


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
    assert a.props.framing is varint and a.get_framing() is varint
    mp = Sw.MultiprocessingFraming.new()
    a.props.framing = mp
    assert a.get_framing() is mp
    a.set_framing(varint)
    assert a.props.framing is varint

    assert a.props.readable is True and a.props.writable is True
    assert a.props.close_wrapped is True
    assert isinstance(a.props.socket, Gio.Socket)

    assert a.props.max_message_size == 128 * 1024 * 1024
    a.props.max_message_size = 4096
    assert a.get_max_message_size() == 4096
    a.set_max_message_size(GLib.MAXUINT64)
    assert a.props.max_message_size == GLib.MAXUINT64

    assert a.props.read_ahead is True
    a.props.read_ahead = False
    assert a.get_read_ahead() is False

    # inheritable is the inverse of FD_CLOEXEC on the wrapped fd.
    fd = a.get_fd()
    assert fd >= 0
    assert a.props.inheritable is False
    assert fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC
    a.props.inheritable = True
    assert a.get_inheritable() is True
    assert not fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC
    a.set_inheritable(False)
    assert fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC

    # Every wrapped fd is non-blocking.
    assert not os.get_blocking(fd)

    notified = []
    a.connect('notify::closed', lambda obj, pspec: notified.append(pspec.name))
    assert a.props.closed is False
    assert a.close(None) is True
    assert a.props.closed is True and a.get_closed() is True
    ctx = GLib.MainContext.default()
    while ctx.iteration(False):
        pass
    assert notified == ['closed'], notified


@test
def message_too_large():
    a, b = pair()
    b.props.max_message_size = 4
    a.send_message(msg(b'too long'), TIMEOUT, None)
    a.send_message(msg(b'ok'), TIMEOUT, None)
    raises(Gio.IOErrorEnum.MESSAGE_TOO_LARGE, b.receive_message, TIMEOUT,
           None)
    # The varint framing knows the length: the connection stays usable.
    assert b.receive_message(TIMEOUT, None).get_data() == b'ok'


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
    assert results.get('sent') is True, results
    assert results.get('message') == b'async hello', results


if __name__ == '__main__':
    swtap.run()
