#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The multiprocessing authentication handshake as a PyGObject user runs it,
# against the uninstalled typelib: our end of a socketpair authenticates
# with Python's own multiprocessing.connection at the other end (in a
# thread of this process), sync with the right key and async with a wrong
# one. Prints TAP.

import multiprocessing.connection as mpc
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import swtap  # noqa: E402
from swtap import guarded, run_loop, test  # noqa: E402

from gi.repository import Gio, GLib, Sw  # noqa: E402

KEY = b'socketwrapper'


class Peer:
    """multiprocessing.connection's @handshake on the other end, in a
    thread; join() returns the exception it raised, or None."""

    def __init__(self, connection, handshake, key):
        fd = os.dup(connection.get_fd())
        connection.close(None)
        os.set_blocking(fd, True)
        self.conn = mpc.Connection(fd)
        self.error = None
        self.thread = threading.Thread(target=self.run, args=(handshake, key))
        self.thread.start()

    def run(self, handshake, key):
        try:
            handshake(self.conn, key)
        except Exception as e:
            self.error = e

    def join(self):
        self.thread.join()
        self.conn.close()
        return self.error


def mp_pair():
    return swtap.pair(Sw.MultiprocessingFraming.new())


@test
def deliver_to_python_answer():
    a, b = mp_pair()
    peer = Peer(b, mpc.answer_challenge, KEY)
    try:
        swtap.same(Sw.multiprocessing_deliver_challenge(
            a, GLib.Bytes.new(KEY), -1, None), True)
    finally:
        swtap.same(peer.join(), None)
        a.close(None)


@test
def answer_python_deliver_wrong_key_async():
    a, b = mp_pair()
    peer = Peer(b, mpc.deliver_challenge, b'another key')
    try:
        def start(done):
            def on_answered(connection, result):
                try:
                    Sw.multiprocessing_answer_challenge_finish(connection, result)
                except GLib.Error as e:
                    done([e])  # a result, not an exception to raise
                    return
                done(AssertionError('the wrong key was accepted'))

            Sw.multiprocessing_answer_challenge_async(
                a, GLib.Bytes.new(KEY), None, guarded(done, on_answered))

        error, = run_loop(start)
        swtap.check(error.matches(Gio.io_error_quark(),
                                  Gio.IOErrorEnum.PERMISSION_DENIED), error.message)
    finally:
        swtap.check(isinstance(peer.join(), mpc.AuthenticationError))
        a.close(None)


if __name__ == '__main__':
    swtap.run()
