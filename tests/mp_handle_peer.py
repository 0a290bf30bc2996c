#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Python multiprocessing.reduction peer for tests/test-fds.c.

Usage:
  mp_handle_peer.py FD recv   recv_handle(); then a framed message whose
                              bytes it writes through the handle; replies
                              b'done'; waits for EOF
  mp_handle_peer.py FD send   send_handle() of a pipe's write end, then the
                              framed message b'after-handle'; reads what
                              comes through the pipe and sends it back;
                              waits for EOF
"""

import multiprocessing.connection
import multiprocessing.reduction
import os
import sys


def expect_eof(conn):
    try:
        conn.recv_bytes()
    except EOFError:
        return
    raise RuntimeError('expected EOF')


def main():
    fd = int(sys.argv[1])
    mode = sys.argv[2]
    # multiprocessing expects a blocking socket.
    os.set_blocking(fd, True)
    conn = multiprocessing.connection.Connection(fd)
    if mode == 'recv':
        handle = multiprocessing.reduction.recv_handle(conn)
        data = conn.recv_bytes()
        os.write(handle, data)
        os.close(handle)
        conn.send_bytes(b'done')
    elif mode == 'send':
        r, w = os.pipe()
        multiprocessing.reduction.send_handle(conn, w, os.getpid())
        os.close(w)
        conn.send_bytes(b'after-handle')
        data = os.read(r, 4096)
        conn.send_bytes(data)
    else:
        raise SystemExit('unknown mode ' + mode)
    expect_eof(conn)


if __name__ == '__main__':
    main()
