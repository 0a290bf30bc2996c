#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Sw.MultiprocessingListener and Sw.multiprocessing_connect from PyGObject
# against what careless users and hostile peers hand them: addresses that
# are not plain UTF-8 text, and pickles that are too deep, too large or
# not plain data from Python's multiprocessing.connection.Client (in a
# thread). Prints TAP.

import multiprocessing.connection as mpc
import os
import pickle
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import swtap  # noqa: E402
from swtap import check, equal, test  # noqa: E402

from gi.repository import Gio, GLib, GObject, Sw  # noqa: E402

KEY = b'socketwrapper'
_counter = iter(range(1 << 30))


class ClientThread(threading.Thread):
    """Runs client(address) in a thread; a client that fails cancels the
    accept waiting for it, so the test fails instead of hanging, and
    join() raises its exception."""

    def __init__(self, listener, client):
        super().__init__()
        self.address = listener.address
        self.client = client
        self.cancellable = Gio.Cancellable()
        self.error = None
        self.start()

    def run(self):
        try:
            self.client(self.address)
        except BaseException as e:  # noqa: B036 (reported by join())
            self.error = e
            self.cancellable.cancel()

    def accept(self, listener):
        try:
            return listener.accept(self.cancellable)
        except GLib.Error:
            self.join()
            raise

    def join(self):
        super().join()
        if self.error is not None:
            raise AssertionError(f'client failed: {self.error!r}')


def python_client_roundtrip(address):
    """A Python Client on @address (as our listener reports it) sends a
    value our listener receives."""
    with Sw.MultiprocessingListener(address, authkey=KEY) as listener:
        result = []

        def client(address):
            with mpc.Client(address, authkey=KEY) as conn:
                conn.send(['hello', 1])
                result.append(conn.recv())

        thread = ClientThread(listener, client)
        with thread.accept(listener) as connection:
            equal(connection.recv(), ['hello', 1])
            connection.send('bye')
        thread.join()
        equal(result, ['bye'])
        return listener.address


@test
def abstract_name_with_nul():
    """Python's Listener takes '\\0a\\0b'; .address must give all of it."""
    name = f'\0sw-attack\0{os.getpid()}-{next(_counter)}'
    equal(python_client_roundtrip(name), os.fsencode(name))


@test
def abstract_name_not_utf8():
    name = b'\0sw-attack-\xff\xfe-%d-%d' % (os.getpid(), next(_counter))
    equal(python_client_roundtrip(name), name)


@test
def path_not_utf8():
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(os.fsencode(tmp), b'sock-\xff')
        equal(python_client_roundtrip(path), os.fsdecode(path))
        check(not os.path.exists(path), 'close() left the socket file')


@test
def path_with_nul_refused():
    for address in ('/tmp/sw\0attack', b'/tmp/sw\0attack'):
        try:
            Sw.MultiprocessingListener(address)
        except ValueError:
            continue
        raise AssertionError(f'{address!r} was taken')


@test
def unbound_listener():
    """GObject.new() skips new(): a listener bound to nothing, closed."""
    listener = GObject.new(Sw.MultiprocessingListener)
    equal(listener.address, None)
    check(listener.get_closed())
    swtap.raises(Gio.IOErrorEnum.CLOSED, listener.accept)
    listener.close()


def wait_polling(thread):
    """Returns once @thread sleeps in poll() or ppoll()."""
    path = f'/proc/self/task/{thread.native_id}/syscall'
    while True:
        with open(path) as f:
            if f.read().split(' ')[0] in {'7', '271'}:
                return
        os.sched_yield()


@test
def close_from_other_thread_ends_accept():
    """The pattern of a server thread in accept() stopped by close()."""
    listener = Sw.MultiprocessingListener(authkey=KEY)
    outcome = []

    def serve():
        try:
            outcome.append(listener.accept())
        except GLib.Error as e:
            outcome.append(e)

    # A daemon: without the fix the accept never returns.
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    wait_polling(thread)
    listener.close()
    thread.join(swtap.WATCHDOG)
    check(not thread.is_alive(), 'accept() went on after close()')
    check(isinstance(outcome[0], GLib.Error) and outcome[0].matches(
        Gio.io_error_quark(), Gio.IOErrorEnum.CLOSED), repr(outcome))


def deep_list_pickle(depth):
    """A pickle of lists nested @depth deep, which Python's own pickler
    cannot write (it recurses)."""
    return b'\x80\x02' + b']' * depth + b'a' * (depth - 1) + b'.'


class Evil:
    def __reduce__(self):
        return (os.getpid, ())


@test
def hostile_pickles_then_usable():
    """Each refused pickle is a clear INVALID_DATA and the next value on
    the connection still arrives."""
    hostile = [deep_list_pickle(10000), pickle.dumps(2 ** 64),
               pickle.dumps(-2 ** 64 - 1), pickle.dumps(Evil()),
               pickle.dumps(1 + 2j), b'\x80\x04', b'not a pickle', b'']
    plain = [{1, 2}, float('inf'), 2 ** 64 - 1, -2 ** 63, {b'k': (1, 2)}]
    with Sw.MultiprocessingListener(authkey=KEY) as listener:
        def client(address):
            with mpc.Client(address, authkey=KEY) as conn:
                for data in hostile:
                    conn.send_bytes(data)
                    conn.send('next')
                for value in plain:
                    conn.send(value)

        thread = ClientThread(listener, client)
        with thread.accept(listener) as connection:
            for data in hostile:
                swtap.raises(Gio.IOErrorEnum.INVALID_DATA, connection.recv)
                equal(connection.recv(), 'next')
            equal([connection.recv() for _ in plain],
                  [[1, 2], float('inf'), 2 ** 64 - 1, -2 ** 63,
                   {b'k': [1, 2]}])
            try:
                connection.recv()
            except EOFError:
                pass
            else:
                raise AssertionError('no end of stream')
        thread.join()


@test
def unsendable_values_keep_connection():
    """Values with no pickle in the codecs' mapping are refused before
    anything is written: the peer gets the next value whole."""
    with Sw.MultiprocessingListener() as listener:
        got = []

        def client(address):
            with mpc.Client(address) as conn:
                got.append(conn.recv())

        thread = ClientThread(listener, client)
        with thread.accept(listener) as connection:
            for bad, error in (({1}, TypeError), (2 ** 64, OverflowError),
                               (1j, TypeError), (object(), TypeError)):
                try:
                    connection.send(bad)
                except error:
                    continue
                raise AssertionError(f'{bad!r} was sent')
            connection.send({'ok': float('nan') != float('nan')})
        thread.join()
        equal(got, [{'ok': True}])


@test
def peer_closes_mid_message():
    with Sw.MultiprocessingListener() as listener:
        def client(address):
            with mpc.Client(address) as conn:
                conn._send(b'\0\0\0\x64\x80\x04abc')  # 100 declared, 5 sent

        thread = ClientThread(listener, client)
        with thread.accept(listener) as connection:
            thread.join()
            try:
                connection.recv()
            except EOFError as e:
                check(isinstance(e, GLib.Error) and e.matches(
                    Gio.io_error_quark(), Gio.IOErrorEnum.PARTIAL_INPUT), repr(e))
            else:
                raise AssertionError('no error for a torn message')


if __name__ == '__main__':
    swtap.run()
