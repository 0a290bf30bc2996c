#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Python multiprocessing peer for tests/test-mp-peer.c.

Usage:
  mp_peer.py FD echo        reply to each message with its bytes reversed,
                            until EOF (exit 0)
  mp_peer.py FD long N...   send, raw on the socket, one frame per N in the
                            -1 long-header form (payload: the C tests'
                            pattern with seed N), then wait for EOF
"""

import multiprocessing.connection
import os
import struct
import sys


def pattern(size, seed):
    # Same as sw_test_pattern_bytes() in sw-test-util.c.
    return bytes(((((i * 2654435761) & 0xFFFFFFFF) ^ seed) >> 24) & 0xFF
                 for i in range(size))


def write_all(fd, data):
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def main():
    fd = int(sys.argv[1])
    mode = sys.argv[2]
    # The C side made the shared file description non-blocking;
    # multiprocessing expects blocking I/O.
    os.set_blocking(fd, True)
    conn = multiprocessing.connection.Connection(fd)
    if mode == 'echo':
        while True:
            try:
                message = conn.recv_bytes()
            except EOFError:
                return 0
            conn.send_bytes(message[::-1])
    elif mode == 'long':
        for size in map(int, sys.argv[3:]):
            write_all(fd, struct.pack('!i', -1) + struct.pack('!Q', size)
                      + pattern(size, size))
        try:
            conn.recv_bytes()
        except EOFError:
            return 0
        return 1
    return 2


if __name__ == '__main__':
    sys.exit(main())
