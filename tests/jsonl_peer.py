#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""JSON Lines peer for tests/test-delimiter.c, standard library only.

Each message is one JSON document on one line ending in "\\n". Usage:

  jsonl_peer.py FD echo   reply to each line with json.dumps({"n": N,
                          "echo": document}, sort_keys=True), N counting
                          from 1, until EOF (exit 0)
  jsonl_peer.py FD send   send LINES in one write, then wait for EOF

Exit status 3: EOF inside a line; 4: a line that is not JSON.
"""

import json
import os
import sys

# Kept in step with test-delimiter.c.
LINES = [{'a': 1}, [], 'snow ☃', None, {'nested': {'list': [1, 2.5, True]}}]


def write_all(fd, data):
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def main():
    fd = int(sys.argv[1])
    mode = sys.argv[2]
    # The C side made the shared file description non-blocking.
    os.set_blocking(fd, True)
    if mode == 'send':
        write_all(fd, ''.join(json.dumps(o) + '\n' for o in LINES).encode())
        while os.read(fd, 4096):
            pass
        return 0
    stream = os.fdopen(fd, 'rb', buffering=0)
    for n, line in enumerate(iter(stream.readline, b''), start=1):
        if not line.endswith(b'\n'):
            return 3
        try:
            document = json.loads(line)
        except ValueError:
            return 4
        reply = json.dumps({'n': n, 'echo': document}, sort_keys=True)
        write_all(fd, reply.encode() + b'\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
