#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Children from PyGObject: Sw.spawn() hands a child its end of a socket
# pair; the child takes it with Sw.Connection.new_from_environment(), or
# with a plain socket (spawn_child.py). Also
# Sw.Connection.new_for_borrowed_fd() on a Python socket's descriptor.
# Run with --child, this script is such a child itself.

import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import swtap  # noqa: E402
from swtap import (GLib, Gio, Sw, check, equal, msg,  # noqa: E402
                   raises, same)

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = '/usr/bin/python3'
SIZES = (0, 1, 241, 70000, 1 << 20)


def child():
    """The --child mode: an echo peer over the connection from
    the environment; the exit status says what went wrong."""
    conn = Sw.Connection.new_from_environment(Sw.VarIntFraming.new())
    if GLib.getenv('SOCKETWRAPPER_FD') is not None:
        return 3
    while True:
        try:
            message = conn.receive_message(-1, None)
        except GLib.Error as e:
            closed = Gio.IOErrorEnum.CONNECTION_CLOSED
            return 0 if e.matches(Gio.io_error_quark(), closed) else 4
        conn.send_message(message, -1, None)


def exchange(argv):
    """Spawns @argv, exchanges SIZES with it as an echo peer,
    closes and waits for a clean exit."""
    conn, process = Sw.spawn(argv, Sw.VarIntFraming.new(),
                             Gio.SubprocessFlags.NONE)
    check(isinstance(conn, Sw.Connection))
    check(isinstance(process, Gio.Subprocess))
    for size in SIZES:
        data = os.urandom(size)
        conn.send_message(msg(data), swtap.TIMEOUT, None)
        equal(conn.receive_message(swtap.TIMEOUT, None).get_data(),
              data, f'reply to {size} bytes')
    conn.close(None)
    same(process.wait_check(None), True)


@swtap.test
def spawn_plain_python_child():
    exchange([PYTHON, os.path.join(HERE, 'spawn_child.py')])


@swtap.test
def spawn_pygobject_child():
    exchange([PYTHON, os.path.abspath(__file__), '--child'])


@swtap.test
def names_in_the_gir():
    equal(Sw.SPAWN_FD_VARIABLE, 'SOCKETWRAPPER_FD')
    equal(Sw.SPAWN_CHILD_FD, 3)
    # Constructors of Sw.Connection, not free functions.
    check(callable(Sw.Connection.new_from_environment))
    check(callable(Sw.Connection.new_for_borrowed_fd))
    check(not hasattr(Sw, 'connection_new_from_environment'))


@swtap.test
def spawn_missing_program():
    try:
        Sw.spawn(['/nonexistent/sw-no-such-program'], None,
                 Gio.SubprocessFlags.NONE)
    except GLib.Error as e:
        check(e.matches(GLib.spawn_error_quark(), GLib.SpawnError.NOENT),
              e.message)
    else:
        raise AssertionError('spawning a missing program succeeded')


@swtap.test
def environment_absent():
    GLib.unsetenv('SOCKETWRAPPER_FD')
    e = raises(Gio.IOErrorEnum.NOT_FOUND,
               Sw.Connection.new_from_environment, None)
    check('SOCKETWRAPPER_FD' in e.message, e.message)


@swtap.test
def environment_malformed():
    for value in ('', 'three', '3 ', '-3', '0x3'):
        GLib.setenv('SOCKETWRAPPER_FD', value, True)
        raises(Gio.IOErrorEnum.INVALID_ARGUMENT,
               Sw.Connection.new_from_environment, None)
        same(GLib.getenv('SOCKETWRAPPER_FD'), None, f'after {value!r}')


@swtap.test
def borrowed_fd_stays_the_callers():
    mine, peer = socket.socketpair()
    with mine, peer:
        conn = Sw.Connection.new_for_borrowed_fd(mine.fileno(),
                                                 Sw.VarIntFraming.new())
        check(conn.get_fd() != mine.fileno())
        same(conn.props.inheritable, False)
        conn.send_message(msg(b'abc'), swtap.TIMEOUT, None)
        equal(peer.recv(4), b'\x03abc')
        conn.close(None)
        same(os.get_blocking(mine.fileno()), True)
        mine.sendall(b'still mine')
        equal(peer.recv(10), b'still mine')


if __name__ == '__main__':
    if sys.argv[1:] == ['--child']:
        sys.exit(child())
    swtap.run()
