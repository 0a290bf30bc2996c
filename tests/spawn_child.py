#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A child started with sw_spawn() / Sw.spawn() that uses no GObject
introspection: only `socket` and the SOCKETWRAPPER_FD variable, as the docs
show, and the VarInt framing of varint_peer.py. Sends each message back
until EOF at a message boundary (exit 0).
Exit status 3: not given fd 3; 5: the fd is not blocking; 4: EOF inside a
frame."""

import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from varint_peer import encode, read_header, recv_exact  # noqa: E402


def main():
    fd = int(os.environ['SOCKETWRAPPER_FD'])
    if fd != 3:
        return 3
    # The documented one-liner must work as it is: the child's end of the
    # socket pair is blocking, whatever the parent does with its own end.
    if not os.get_blocking(fd):
        return 5
    with socket.socket(fileno=fd) as sock:
        while (header := read_header(sock)) is not None:
            size = header[0]
            payload = recv_exact(sock, size) if size else b''
            if payload is None or len(payload) != size:
                return 4
            sock.sendall(encode(size) + payload)
    return 0


if __name__ == '__main__':
    sys.exit(main())
