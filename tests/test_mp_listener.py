#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Sw.MultiprocessingListener and Sw.multiprocessing_connect as a PyGObject
# user runs them, against the uninstalled typelib: Python's own
# multiprocessing.connection Client and Listener at the other end (in a
# child /usr/bin/python3 running mp_listener_peer.py, or in a thread),
# plain Python values both ways. Prints TAP.

import atexit
import multiprocessing.connection as mpc
import os
import socket
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import swtap  # noqa: E402
from swtap import check, equal, guarded, run_loop, test  # noqa: E402

from gi.repository import Gio, GLib, Sw  # noqa: E402

KEY = b'socketwrapper'
PEER = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                    'mp_listener_peer.py')
# mp_listener_peer.py's SENT and EXPECTED.
SENT = {'str': 'h\u00e9llo', 'list': [1, 'two', [3.5, None]], 'int': -7,
        'big': 2 ** 40, 'bytes': b'\x00\xffpickle', 'none': None,
        'true': True}
EXPECTED = {'answer': 42, 'items': ['a', b'b', None, {'k': -1}],
            'text': 'ok'}
PEER_AUTH_FAILED = 3


_peers = []


@atexit.register
def _kill_leftover_peers():
    """A test that failed half-way leaves a peer waiting: end it, so that
    the run reports the failure instead of waiting for the peer's output
    pipe to close."""
    for peer in _peers:
        if peer.poll() is None:
            peer.kill()


def spawn_peer(role, address, key):
    peer = subprocess.Popen(
        [sys.executable, PEER, role, address,
         '-' if key is None else key.decode()],
        stdout=subprocess.PIPE if role == 'listener' else None, text=True)
    _peers.append(peer)
    return peer


def peer_spelling(address):
    """A Listener.address-shaped address as mp_listener_peer.py takes it."""
    if isinstance(address, tuple):
        kind = 'tcp6' if ':' in address[0] else 'tcp'
        return f'{kind}:{address[0]}:{address[1]}'
    if isinstance(address, bytes):
        return 'abstract:' + address[1:].decode()
    return 'unix:' + address


def exchange(connection, peer):
    """The other side of mp_listener_peer.py's exchange."""
    with connection:
        equal(connection.recv(), SENT)
        connection.send(EXPECTED)
        equal(connection.recv(), EXPECTED)
    equal(peer.wait(), 0)


def ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(('::1', 0))
        return True
    except OSError:
        return False


def abstract_name():
    return f'\0sw-test-{os.getpid()}-{next(_counter)}'


_counter = iter(range(1 << 30))


def serve_python_client(address, key=KEY, shape=None):
    with Sw.MultiprocessingListener(address, authkey=key) as listener:
        if shape is not None:
            check(isinstance(listener.address, shape), repr(listener.address))
        peer = spawn_peer('client', peer_spelling(listener.address), key)
        exchange(listener.accept(), peer)


@test
def listener_unix_path_python_client():
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, 'socket')
        serve_python_client(path, shape=str)
        check(not os.path.exists(path), 'close() left the socket file')


@test
def listener_abstract_python_client():
    serve_python_client(abstract_name(), shape=bytes)


@test
def listener_tcp_python_client_no_key():
    serve_python_client(('localhost', 0), key=None, shape=tuple)


@test
def listener_wrong_key_then_right_key():
    with Sw.MultiprocessingListener(('127.0.0.1', 0), authkey=KEY) as listener:
        equal(len(listener.address), 2)
        check(listener.address[1] != 0)
        address = peer_spelling(listener.address)
        peer = spawn_peer('client', address, b'not the key')
        swtap.raises(Gio.IOErrorEnum.PERMISSION_DENIED, listener.accept)
        equal(peer.wait(), PEER_AUTH_FAILED)
        peer = spawn_peer('client', address, KEY)
        exchange(listener.accept(), peer)


@test
def arbitrary_address_python_client_in_thread():
    """Python's Client takes our .address as it is."""
    with Sw.MultiprocessingListener(authkey=KEY) as listener:
        path = listener.address
        check(os.path.exists(path))
        result = []

        def client():
            with mpc.Client(listener.address, authkey=KEY) as conn:
                result.append(conn.recv())

        thread = threading.Thread(target=client)
        thread.start()
        with listener.accept() as connection:
            connection.send({'n': [1, 2]})
        thread.join()
        equal(result, [{'n': [1, 2]}])
    check(not os.path.exists(path) and
          not os.path.exists(os.path.dirname(path)))


def connect_to_python_listener(address, key=KEY, family='tcp'):
    peer = spawn_peer('listener', address, key)
    port = int(peer.stdout.readline().split()[1])
    if port:
        host = address.split(':', 1)[1].rpartition(':')[0]
        target = (host, port)
    else:
        kind, _, name = address.partition(':')
        target = name if kind == 'unix' else '\0' + name
    return peer, target


@test
def client_to_python_listener_unix_and_abstract():
    with tempfile.TemporaryDirectory() as tmp:
        for address in ('unix:' + os.path.join(tmp, 'socket'),
                        'abstract:' + abstract_name()[1:]):
            peer, target = connect_to_python_listener(address)
            exchange(Sw.multiprocessing_connect(target, authkey=KEY), peer)


@test
def client_to_python_listener_tcp():
    addresses = ['tcp:127.0.0.1:0']
    if ipv6_loopback():
        addresses.append('tcp6:::1:0')
    for address in addresses:
        peer, target = connect_to_python_listener(address)
        exchange(Sw.multiprocessing_connect(target, KEY), peer)


@test
def client_wrong_key():
    peer, target = connect_to_python_listener('tcp:127.0.0.1:0')
    swtap.raises(Gio.IOErrorEnum.PERMISSION_DENIED,
                 Sw.multiprocessing_connect, target, b'not the key')
    equal(peer.wait(), PEER_AUTH_FAILED)


@test
def accept_async_in_main_loop():
    listener = Sw.MultiprocessingListener(abstract_name(), authkey=KEY)
    peers = []

    def start(done):
        def on_accepted(listener, result):
            done(listener.accept_finish(result))

        listener.accept_async(None, guarded(done, on_accepted))
        # Runs while the accept waits, as any source of an application.
        GLib.idle_add(lambda: peers.append(spawn_peer(
            'client', peer_spelling(listener.address), KEY)) and False)

    connection = run_loop(start)
    exchange(connection, peers[0])
    listener.close()


@test
def ours_to_ours_ipv6():
    if not ipv6_loopback():
        raise swtap.Skip('no IPv6 loopback')
    with Sw.MultiprocessingListener(('::1', 0), authkey=KEY) as listener:
        equal(len(listener.address), 4)
        result = []
        thread = threading.Thread(target=lambda: result.append(
            Sw.multiprocessing_connect(listener.address, KEY)))
        thread.start()
        with listener.accept() as server:
            thread.join()
            with result[0] as client:
                client.send([1, 'two', None])
                equal(server.recv(), [1, 'two', None])


@test
def bad_arguments():
    for bad in (42, '', None):
        try:
            Sw.multiprocessing_connect(bad)
        except ValueError:
            continue
        raise AssertionError(f'{bad!r} was taken as an address')
    try:
        Sw.MultiprocessingListener(authkey='text')
    except TypeError:
        pass
    else:
        raise AssertionError('a str authkey was taken')
    try:
        Sw.MultiprocessingListener('/tmp/' + 'x' * 200)
    except OSError:
        pass
    else:
        raise AssertionError('a path longer than sun_path was taken')


if __name__ == '__main__':
    swtap.run()
