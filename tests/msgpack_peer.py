#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""MessagePack peer for tests/test-msgpack.c, built on python3-msgpack.

The wire format is Python socketwrapper's framing.MsgPack: MessagePack
objects back to back, no header. Usage:

  msgpack_peer.py FD echo   unpack each object with msgpack.Unpacker and
                            send it back packed with msgpack.packb, until
                            EOF (exit 0)
  msgpack_peer.py FD repr   reply to each object with repr() of what
                            Python decoded, as a MessagePack str
  msgpack_peer.py FD send   send SAMPLES in one write, then wait for EOF

Exit status 3: EOF inside an object.
"""

import os
import sys

import msgpack

# Kept in step with python_samples in test-msgpack.c.
SAMPLES = [
    {'text': 'héllo wörld ✓', 'bytes': b'\x00\x01\xff', 'none': None},
    [1, -1, 127, 128, -32, -33, 255, 256, 65535, 65536, 2**32, -2**31 - 1],
    [2**64 - 1, -2**63, 2**63],
    [1.5, -0.25, True, False, None],
    {1: 'one', 'two': 2},
    msgpack.ExtType(5, b'abc'),
    msgpack.ExtType(127, b'\x01\x02\x03\x04'),
    'x' * 300,
    b'\xaa' * 70000,
]


def write_all(fd, data):
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def objects(fd):
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
    fed = end = 0
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            if fed != end:
                sys.exit(3)
            return
        unpacker.feed(chunk)
        fed += len(chunk)
        for obj in unpacker:
            end = unpacker.tell()
            yield obj


def main():
    fd = int(sys.argv[1])
    mode = sys.argv[2]
    # The C side made the shared file description non-blocking.
    os.set_blocking(fd, True)
    if mode == 'send':
        write_all(fd, b''.join(msgpack.packb(o) for o in SAMPLES))
        while os.read(fd, 4096):
            pass
        return 0
    for obj in objects(fd):
        reply = obj if mode == 'echo' else repr(obj)
        write_all(fd, msgpack.packb(reply))
    return 0


if __name__ == '__main__':
    sys.exit(main())
