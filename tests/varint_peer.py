#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""VarInt-framed echo peer for tests/test-process.c.

An independent implementation of Python socketwrapper's VarIntBytes
framing (SQLite4 varint length header + payload). Usage:
varint_peer.py FD — replies to each message with its bytes reversed until
EOF at a message boundary (exit 0). Exit status 2: a header was not in the
shortest form; 4: EOF inside a frame.
"""

import os
import socket
import sys


def encode(value):
    if value <= 240:
        return bytes([value])
    if value <= 2287:
        value -= 240
        return bytes([value // 256 + 241, value % 256])
    if value <= 67823:
        value -= 2288
        return bytes([249, value >> 8, value & 0xFF])
    length = max(3, (value.bit_length() + 7) // 8)
    return bytes([247 + length]) + value.to_bytes(length, 'big')


def recv_exact(sock, size):
    buf = bytearray(size)
    view = memoryview(buf)
    done = 0
    while done < size:
        n = sock.recv_into(view[done:], size - done)
        if n == 0:
            return None if done == 0 else bytes(buf[:done])
        done += n
    return bytes(buf)


def read_header(sock):
    """Returns (value, raw header bytes), None at EOF before a frame."""
    first = recv_exact(sock, 1)
    if first is None:
        return None
    b0 = first[0]
    if b0 <= 240:
        return b0, first
    if b0 <= 248:
        rest = recv_exact(sock, 1)
        if rest is None or len(rest) < 1:
            sys.exit(4)
        return 240 + 256 * (b0 - 241) + rest[0], first + rest
    if b0 == 249:
        rest = recv_exact(sock, 2)
        if rest is None or len(rest) < 2:
            sys.exit(4)
        return 2288 + 256 * rest[0] + rest[1], first + rest
    length = b0 - 247
    rest = recv_exact(sock, length)
    if rest is None or len(rest) < length:
        sys.exit(4)
    return int.from_bytes(rest, 'big'), first + rest


def main():
    fd = int(sys.argv[1])
    os.set_blocking(fd, True)  # the C side made the shared description non-blocking
    sock = socket.socket(fileno=fd)
    sock.setblocking(True)
    while True:
        header = read_header(sock)
        if header is None:
            return 0
        size, raw = header
        if raw != encode(size):
            return 2
        payload = recv_exact(sock, size) if size else b''
        if payload is None or len(payload) != size:
            return 4
        sock.sendall(encode(size) + payload[::-1])


if __name__ == '__main__':
    sys.exit(main())
