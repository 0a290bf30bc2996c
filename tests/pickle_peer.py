#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A multiprocessing.connection peer exchanging pickled values, for the
PickleCodec tests of the bindings (test_pickle.py, test-pickle.js); it
uses no GObject introspection.

Usage: pickle_peer.py MODE [FD]; without FD the fd comes from the
SOCKETWRAPPER_FD variable (Sw.spawn()). MODE is one of
  send-values      conn.send() each of VALUES
  send-shapes      conn.send() each of SHAPES
  receive-values   conn.recv() as many values as VALUES has, then send the
                   list of those that differ from VALUES (as repr strings)
  send-values=typed, receive-values=typed
                   the same, after sending the list of the GVariant texts
                   of VALUES (for GJS, whose numbers cannot hold them all)
  hostile=PATH     conn.send() an object whose pickle REDUCEs os.system
                   to create PATH, then the string 'after'
Every mode then waits for EOF and exits 0.
"""

import os
import shlex
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mp_auth_peer import connect, wait_eof  # noqa: E402

# Plain values, each with its GVariant text as PickleCodec decodes it
# (and as GJS builds it to send).
TYPED_VALUES = [
    (None, '@mv nothing'),
    (True, 'true'),
    (False, 'false'),
    (0, 'int64 0'),
    (-1, 'int64 -1'),
    (255, 'int64 255'),
    (65536, 'int64 65536'),
    (-2 ** 31, 'int64 -2147483648'),
    (2 ** 63 - 1, 'int64 9223372036854775807'),
    (-2 ** 63, 'int64 -9223372036854775808'),
    (2 ** 63, 'uint64 9223372036854775808'),
    (2 ** 64 - 1, 'uint64 18446744073709551615'),
    (0.5, '0.5'),
    (-1.25e300, '-1.25e300'),
    ('', "''"),
    ('snow ☃', "'snow ☃'"),
    (b'', '@ay []'),
    (b'\x00\xffbytes', '@ay [0, 255, 98, 121, 116, 101, 115]'),
    ([], '@av []'),
    ([1, [2, [3, []]]], '[<int64 1>, <[<int64 2>, <[<int64 3>, <@av []>]>]>]'),
    ({}, '@a{sv} {}'),
    ({'name': 'x', 'list': [1, 'two', None, 3.5],
      'nested': {'ok': True, 'data': b'\x01'}},
     "{'name': <'x'>, 'list': <[<int64 1>, <'two'>, <@mv nothing>, <3.5>]>, "
     "'nested': <{'ok': <true>, 'data': <@ay [1]>}>}"),
    ({1: 'one', 'two': 2}, "@a(vv) [(<int64 1>, <'one'>), (<'two'>, <int64 2>)]"),
]
VALUES = [value for value, text in TYPED_VALUES]

# Python shapes the codec maps to others: tuples, sets and frozensets
# become 'av'.
SHAPES = [(1, 'a'), (), {3, 1, 2}, frozenset({'x'}),
          {(1, 2): 'tuple key', frozenset({7}): 'frozenset key'},
          [(1, (2, 3))]]


def strictly_equal(a, b):
    """a == b with the same types throughout (True is not 1, 1.0 is not
    1)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(map(strictly_equal, a, b))
    if isinstance(a, dict):
        return (list(a) == list(b)
                and all(strictly_equal(a[k], b[k]) for k in a))
    return a == b


class Hostile:
    """Pickled as REDUCE(os.system, (command,)): loading it runs command."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def main():
    mode, _, arg = sys.argv[1].partition('=')
    fd = int(sys.argv[2]) if len(sys.argv) > 2 else int(os.environ['SOCKETWRAPPER_FD'])
    conn = connect(fd)
    if arg == 'typed':
        conn.send([text for value, text in TYPED_VALUES])
    if mode in ('send-values', 'send-shapes'):
        for value in VALUES if mode == 'send-values' else SHAPES:
            conn.send(value)
    elif mode == 'receive-values':
        received = [conn.recv() for _ in VALUES]
        conn.send([repr(got) for got, value in zip(received, VALUES)
                   if not strictly_equal(got, value)])
    elif mode == 'hostile':
        conn.send(Hostile('touch ' + shlex.quote(arg)))
        conn.send('after')
    else:
        raise RuntimeError('unknown mode ' + mode)
    return wait_eof(conn)


if __name__ == '__main__':
    sys.exit(main())
