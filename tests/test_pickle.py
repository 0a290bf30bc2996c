#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Sw.PickleCodec as a PyGObject user meets it: our end of a socketpair,
# with Sw.MultiprocessingFraming and the codec, talks to a real
# multiprocessing.connection.Connection in a /usr/bin/python3 child
# (pickle_peer.py), and send()/recv() exchange plain Python objects both
# ways. Tuples and sets come back as lists (tuple dict keys as tuples); a
# hostile pickle fails its receive with INVALID_DATA, runs nothing, and the
# next message still arrives. Prints TAP.

import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import swtap  # noqa: E402
from swtap import check, equal, test  # noqa: E402
from pickle_peer import VALUES, strictly_equal  # noqa: E402

from gi.repository import Gio, GLib, Sw  # noqa: E402

PEER = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                    'pickle_peer.py')
# Seconds: never reached on a loaded machine; a broken test fails instead
# of hanging.
TIMEOUT = 30


class Child:
    """pickle_peer.py MODE with the other end of a socketpair; `with`
    closes our end and checks that the child exited 0."""

    def __init__(self, mode):
        self.connection, child = Sw.socketpair(
            framing=Sw.MultiprocessingFraming, codec=Sw.PickleCodec)
        fd = child.get_fd()
        try:
            self.process = subprocess.Popen(
                ['/usr/bin/python3', PEER, mode, str(fd)], pass_fds=[fd])
        finally:
            child.close(None)

    def __enter__(self):
        return self.connection

    def __exit__(self, *exc_info):
        self.connection.close(None)
        status = self.process.wait(TIMEOUT)
        if exc_info[0] is None:
            equal(status, 0, f'the peer exited with {status}')


def check_strictly_equal(actual, expected):
    check(strictly_equal(actual, expected), f'{actual!r} != {expected!r}')


@test
def objects_from_multiprocessing():
    with Child('send-values') as connection:
        for value in VALUES:
            check_strictly_equal(connection.recv(TIMEOUT), value)


@test
def objects_to_multiprocessing():
    with Child('receive-values') as connection:
        for value in VALUES:
            connection.send(value, TIMEOUT)
        # What the peer's recv() gave that differs from what we sent.
        equal(connection.recv(TIMEOUT), [])


@test
def tuples_and_sets_arrive_as_lists():
    with Child('send-shapes') as connection:
        received = [connection.recv(TIMEOUT) for _ in range(6)]
    check_strictly_equal(received[0], [1, 'a'])
    check_strictly_equal(received[1], [])
    # A set's order is Python's iteration order.
    check_strictly_equal(sorted(received[2]), [1, 2, 3])
    check_strictly_equal(received[3], ['x'])
    # Dict keys stay hashable: a tuple or frozenset key is a tuple.
    check_strictly_equal(received[4], {(1, 2): 'tuple key',
                                       (7,): 'frozenset key'})
    check_strictly_equal(received[5], [[1, [2, 3]]])


@test
def tuple_keys_round_trip():
    a, b = Sw.socketpair(framing=Sw.MultiprocessingFraming,
                         codec=Sw.PickleCodec)
    with a, b:
        value = {(1, ('x', b'y')): [1, 2], (): None}
        a.send(value, TIMEOUT)
        check_strictly_equal(b.recv(TIMEOUT), value)


@test
def hostile_pickle_refused_then_next_message():
    with tempfile.TemporaryDirectory() as directory:
        marker = os.path.join(directory, 'executed')
        with Child('hostile=' + marker) as connection:
            try:
                connection.recv(TIMEOUT)
            except GLib.Error as e:
                check(e.matches(Gio.io_error_quark(),
                                Gio.IOErrorEnum.INVALID_DATA),
                      f'{e.domain} {e.code}: {e.message}')
                check('REDUCE' in e.message or 'GLOBAL' in e.message,
                      e.message)
            else:
                raise AssertionError('the hostile pickle was accepted')
            equal(connection.recv(TIMEOUT), 'after')
        check(not os.path.exists(marker), 'the pickle ran its command')


if __name__ == '__main__':
    swtap.run()
