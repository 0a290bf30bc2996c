#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A Python multiprocessing.connection peer for the Listener/Client tests.

Usage: mp_listener_peer.py ROLE ADDRESS KEY
  ROLE     client: Client(ADDRESS, authkey=KEY)
           listener: Listener(ADDRESS, authkey=KEY), prints `ready PORT`
           on stdout (PORT is 0 for UNIX addresses), then accepts one
           client
  ADDRESS  unix:PATH, abstract:NAME, tcp:HOST:PORT or tcp6:HOST:PORT (the
           port may be 0 for a listener)
  KEY      the authkey, or - for none

Once connected the peer sends SENT, receives one value that must equal
EXPECTED, sends it back, then waits for EOF. Exit status: 0 when all went
well, 3 after an AuthenticationError (printed on stderr), 4 when the value
received was not EXPECTED.
"""

import multiprocessing.connection as mpc
import sys

from mp_auth_peer import wait_eof

# What the peer sends; the C and Python tests check what they receive.
SENT = {'str': 'h\u00e9llo', 'list': [1, 'two', [3.5, None]], 'int': -7,
        'big': 2 ** 40, 'bytes': b'\x00\xffpickle', 'none': None,
        'true': True}
# What the peer expects from us.
EXPECTED = {'answer': 42, 'items': ['a', b'b', None, {'k': -1}],
            'text': 'ok'}


def parse_address(text):
    kind, _, rest = text.partition(':')
    if kind == 'unix':
        return rest, None
    if kind == 'abstract':
        return '\0' + rest, None
    host, _, port = rest.rpartition(':')
    return (host, int(port)), ('AF_INET6' if kind == 'tcp6' else None)


def exchange(conn):
    conn.send(SENT)
    value = conn.recv()
    if value != EXPECTED:
        print('unexpected value:', repr(value), file=sys.stderr)
        return 4
    conn.send(value)
    return wait_eof(conn)


def main():
    role, text, key = sys.argv[1:4]
    address, family = parse_address(text)
    authkey = None if key == '-' else key.encode()
    try:
        if role == 'client':
            conn = mpc.Client(address, family=family, authkey=authkey)
        else:
            with mpc.Listener(address, family=family,
                              authkey=authkey) as listener:
                port = listener.address[1] if isinstance(address, tuple) else 0
                print('ready', port, flush=True)
                conn = listener.accept()
    except mpc.AuthenticationError as error:
        print('AuthenticationError:', error, file=sys.stderr)
        return 3
    with conn:
        return exchange(conn)


if __name__ == '__main__':
    sys.exit(main())
