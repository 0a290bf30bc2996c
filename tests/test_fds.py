#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# File descriptors with messages from PyGObject: Gio.UnixFDList in and
# out, each fd with its own message, sync and async; multiprocessing
# handles between us and Python's own multiprocessing.reduction.

import multiprocessing.connection
import multiprocessing.reduction
import os
import socket
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import swtap  # noqa: E402
from swtap import Gio, GLib, Sw, check, equal, msg, raises, same  # noqa: E402


def fd_list(*fds):
    fds_list = Gio.UnixFDList.new()
    for fd in fds:
        fds_list.append(fd)
    return fds_list


def same_file(a, b):
    sa, sb = os.fstat(a), os.fstat(b)
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


@swtap.test
def fds_travel_with_their_message():
    a, b = swtap.pair()
    r, w = os.pipe()
    a.send_message(msg(b'plain'), -1, None)
    a.send_message_with_fds(msg(b'with'), fd_list(w, r), -1, None)
    a.send_message_with_fds(msg(b'after'), None, -1, None)
    message, fds = b.receive_message_with_fds(-1, None)
    equal(message.get_data(), b'plain')
    equal(fds.get_length(), 0)
    message, fds = b.receive_message_with_fds(-1, None)
    equal(message.get_data(), b'with')
    got = fds.steal_fds()
    equal(len(got), 2)
    check(same_file(got[0], w) and same_file(got[1], r))
    same(os.get_inheritable(got[0]), False)
    os.write(got[0], b'z')
    equal(os.read(r, 1), b'z')
    for fd in got + [r, w]:
        os.close(fd)
    message, fds = b.receive_message_with_fds(-1, None)
    equal(message.get_data(), b'after')
    equal(fds.get_length(), 0)


@swtap.test
def fds_async():
    a, b = swtap.pair()
    r, w = os.pipe()

    def start(done):
        def on_received(conn, result):
            message, fds = conn.receive_message_with_fds_finish(result)
            done((message.get_data(), fds.steal_fds()))

        def on_sent(conn, result):
            conn.send_message_with_fds_finish(result)
            b.receive_message_with_fds_async(GLib.PRIORITY_DEFAULT, None,
                                             swtap.guarded(done, on_received))

        a.send_message_with_fds_async(msg(b'async'), fd_list(w),
                                      GLib.PRIORITY_DEFAULT, None,
                                      swtap.guarded(done, on_sent))

    data, fds = swtap.run_loop(start)
    equal(data, b'async')
    equal(len(fds), 1)
    check(same_file(fds[0], w))
    for fd in fds + [r, w]:
        os.close(fd)


def send_then_change_list(change):
    """A send with fds queued behind a large message, then change() on
    the list it was given: the peer still gets the one fd the list held
    at the call."""
    a, b = swtap.pair()
    r, w = os.pipe()
    fds = fd_list(w)
    big = GLib.Bytes.new(bytes(4 * 1024 * 1024))

    def start(done):
        results = {}

        def on_received(conn, result):
            message, got = conn.receive_message_with_fds_finish(result)
            if message.get_size() == big.get_size():
                conn.receive_message_with_fds_async(
                    GLib.PRIORITY_DEFAULT, None, swtap.guarded(done, on_received))
                return
            results['received'] = (message.get_data(), got.steal_fds())
            if 'sent' in results:
                done(results['received'])

        def on_sent(conn, result):
            results['sent'] = conn.send_message_with_fds_finish(result)
            if 'received' in results:
                done(results['received'])

        a.send_message_async(big, GLib.PRIORITY_DEFAULT, None, None)
        a.send_message_with_fds_async(msg(b'queued'), fds, GLib.PRIORITY_DEFAULT,
                                      None, swtap.guarded(done, on_sent))
        # The large message fills the socket (nobody reads yet): the send
        # with fds waits behind it while the list changes.
        change(fds)
        b.receive_message_with_fds_async(GLib.PRIORITY_DEFAULT, None,
                                         swtap.guarded(done, on_received))

    data, got = swtap.run_loop(start)
    equal(data, b'queued')
    equal(len(got), 1)
    check(same_file(got[0], w))
    for fd in got + [r, w]:
        os.close(fd)


@swtap.test
def list_emptied_while_queued():
    def steal(fds):
        for fd in fds.steal_fds():
            os.close(fd)
    send_then_change_list(steal)


@swtap.test
def list_grown_while_queued():
    def grow(fds):
        for _ in range(300):
            fds.append(0)
    send_then_change_list(grow)


@swtap.test
def pipe_refuses_fds():
    ok, reader, writer = Sw.pipe(Sw.VarIntFraming.new())
    same(ok, True)
    raises(Gio.IOErrorEnum.NOT_SUPPORTED, writer.send_message_with_fds,
           msg(b'x'), fd_list(0), -1, None)
    raises(Gio.IOErrorEnum.NOT_SUPPORTED, reader.receive_message_with_fds,
           -1, None)


@swtap.test
def too_many_fds():
    a, b = swtap.pair()
    raises(Gio.IOErrorEnum.INVALID_ARGUMENT, a.send_message_with_fds,
           msg(b'x'), fd_list(*([0] * 254)), -1, None)


def python_peer(target):
    """Runs target(conn) in a thread on a multiprocessing Connection at
    the other end of a socketpair; returns our Sw end and the thread."""
    ours, theirs = socket.socketpair()
    conn = multiprocessing.connection.Connection(theirs.detach())
    sock = Gio.Socket.new_from_fd(ours.detach())
    sw = Sw.Connection.new(sock, Sw.MultiprocessingFraming.new())
    errors = []

    def run():
        try:
            target(conn)
        except Exception as e:
            errors.append(e)
        finally:
            conn.close()

    thread = threading.Thread(target=run)
    thread.start()
    return sw, thread, errors


@swtap.test
def handle_to_python():
    r, w = os.pipe()
    got = []

    def peer(conn):
        # Python's end stays blocking: the socketpair ends are separate.
        handle = multiprocessing.reduction.recv_handle(conn)
        got.append(conn.recv_bytes())
        os.write(handle, b'from python')
        os.close(handle)

    sw, thread, errors = python_peer(peer)
    same(Sw.multiprocessing_send_handle(sw, w, None), True)
    os.close(w)
    sw.send_message(msg(b'then a message'), -1, None)
    thread.join()
    equal(errors, [])
    equal(got, [b'then a message'])
    equal(os.read(r, 100), b'from python')
    os.close(r)
    sw.close(None)


@swtap.test
def handle_from_python():
    r, w = os.pipe()

    def peer(conn):
        multiprocessing.reduction.send_handle(conn, w, os.getpid())
        conn.send_bytes(b'then a message')

    sw, thread, errors = python_peer(peer)
    fd = Sw.multiprocessing_receive_handle(sw, None)
    thread.join()
    equal(errors, [])
    check(same_file(fd, w))
    same(os.get_inheritable(fd), False)
    equal(sw.receive_message(-1, None).get_data(), b'then a message')
    os.write(fd, b'!')
    equal(os.read(r, 1), b'!')
    for x in (fd, r, w):
        os.close(x)
    sw.close(None)


@swtap.test
def handle_from_python_after_a_message():
    # Python sends a message, then the handle: receiving the message with
    # receive_message_with_fds makes the connection keep fds from the
    # start, so the read-ahead that reaches the handle's byte keeps it.
    r, w = os.pipe()

    def peer(conn):
        conn.send_bytes(b'before')
        multiprocessing.reduction.send_handle(conn, w, os.getpid())
        conn.send_bytes(b'after')

    sw, thread, errors = python_peer(peer)
    thread.join()
    equal(errors, [])
    message, fds = sw.receive_message_with_fds(-1, None)
    equal(message.get_data(), b'before')
    equal(fds.get_length(), 0)
    fd = Sw.multiprocessing_receive_handle(sw, None)
    check(same_file(fd, w))
    equal(sw.receive_message(-1, None).get_data(), b'after')
    for x in (fd, r, w):
        os.close(x)
    sw.close(None)


if __name__ == '__main__':
    swtap.run()
