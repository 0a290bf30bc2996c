#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Python multiprocessing peer for the authentication handshake tests.

Usage: mp_auth_peer.py FD MODE, MODE one of
  answer=KEY    multiprocessing.connection.answer_challenge(conn, KEY)
  deliver=KEY   multiprocessing.connection.deliver_challenge(conn, KEY)
  oversize      send a {sha256} challenge with a 300-byte nonce
  stall         send nothing
  answer-stall  receive the challenge and never answer it
  deliver-stall send a legacy challenge, receive the answer and never
                send a verdict
After a handshake that succeeded the peer sends b'authenticated'. Every
mode then waits for EOF and exits 0; a handshake the peer rejected (or that
was rejected) exits 3 after printing the AuthenticationError.
"""

import multiprocessing.connection as mpc
import os
import sys

HANDSHAKES = {'answer': mpc.answer_challenge, 'deliver': mpc.deliver_challenge}


def wait_eof(conn):
    try:
        conn.recv_bytes()
    except EOFError:
        return 0
    raise RuntimeError('expected EOF')


def connect(fd):
    """A multiprocessing Connection on @fd."""
    # The other side made the shared file description non-blocking;
    # multiprocessing expects blocking I/O.
    os.set_blocking(fd, True)
    return mpc.Connection(fd)


def main():
    fd = int(sys.argv[1])
    mode, _, key = sys.argv[2].partition('=')
    conn = connect(fd)
    if mode in HANDSHAKES:
        try:
            HANDSHAKES[mode](conn, key.encode())
        except mpc.AuthenticationError as error:
            print('AuthenticationError:', error, file=sys.stderr)
            return 3
        conn.send_bytes(b'authenticated')
    elif mode == 'oversize':
        conn.send_bytes(b'#CHALLENGE#{sha256}' + b'x' * 300)
    elif mode == 'answer-stall':
        conn.recv_bytes(256)
    elif mode == 'deliver-stall':
        conn.send_bytes(b'#CHALLENGE#' + os.urandom(20))
        conn.recv_bytes(256)
    elif mode != 'stall':
        raise RuntimeError('unknown mode ' + mode)
    return wait_eof(conn)


if __name__ == '__main__':
    sys.exit(main())
