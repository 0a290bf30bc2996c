#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Writes the seed corpus of every libFuzzer target to
tests/fuzz/corpus/<target>/: a few dozen small inputs each, built from the
varint vectors, values encoded by Python's own json, msgpack, pickle and
GLib, and the boundaries of each target's input format. Deterministic:
running it again rewrites the same files.

    /usr/bin/python3 tests/fuzz/make-corpus.py
"""
import json
import os
import pickle
import random
import shutil
import struct
import sys

import msgpack
import gi
gi.require_version('GLib', '2.0')
from gi.repository import GLib

HERE = os.path.dirname(os.path.abspath(__file__))
VECTORS = os.path.join(HERE, '..', 'vectors')
N_FRAMINGS = 5   # varint, multiprocessing, msgpack, delimiter "\n", "\r\n"
N_CODECS = 4     # gvariant, json, msgpack, pickle


def varint_vectors():
    """(value, canonical encoding) of tests/vectors/varint.txt."""
    with open(os.path.join(VECTORS, 'varint.txt')) as f:
        for line in f:
            if line.startswith('#') or not line.strip():
                continue
            value, encoding = line.split()
            yield int(value), bytes.fromhex(encoding)


def varint(n):
    for value, encoding in varint_vectors():
        if value == n:
            return encoding
    if n <= 240:
        return bytes([n])
    if n <= 2287:
        return bytes([(n - 240) // 256 + 241, (n - 240) % 256])
    if n <= 67823:
        return bytes([249, (n - 2288) // 256, (n - 2288) % 256])
    raise ValueError(n)


def frame(framing, payload):
    """@payload framed as framing number @framing writes it."""
    if framing == 0:
        return varint(len(payload)) + payload
    if framing == 1:
        return struct.pack('>i', len(payload)) + payload
    if framing == 2:
        return payload            # a MessagePack object frames itself
    if framing == 3:
        return payload + b'\n'
    return payload + b'\r\n'


VALUES = [
    None, True, 0, -1, 127, 2**31, -2**63, 2**64 - 1, 1.5, 1e300, '', 'text',
    'ünï\u001f', b'\x00\xff', [], [1, [2, [3]]], {}, {'a': 1, 'b': [None, 'x']},
    {'k': {'k': {'k': []}}}, list(range(20)),
]


def msgpack_values():
    return [msgpack.packb(v) for v in VALUES if not isinstance(v, float) or v == 1.5]


def json_values():
    out = [json.dumps(v).encode() for v in VALUES
           if not isinstance(v, bytes) and not (isinstance(v, int) and v >= 2**63)]
    return out + [b' [ 1 , "\\u005b\\"" ] ', b'{"a":{"b":[true,false,null]}}',
                  b'[1e+19, -0.0, 1E-7]', b'"\\ud83d\\ude00"']


def gvariant_values():
    specs = [('i', 7), ('s', 'x'), ('as', ['a', 'b']), ('a{sv}', {'k': GLib.Variant('i', 1)}),
             ('(yqd)', (1, 2, 0.5)), ('mmi', None), ('ay', b'abc'), ('v', GLib.Variant('s', 'i')),
             ('a(xt)', [(1, 2), (-3, 4)]), ('(bhog)', (True, 0, '/a', 'ii'))]
    return [GLib.Variant('v', GLib.Variant(t, v)).get_data_as_bytes().get_data()
            for t, v in specs]


def pickle_values(protocol=4):
    return [pickle.dumps(v, protocol=protocol) for v in VALUES] + [
        pickle.dumps((1, 2), protocol=protocol), pickle.dumps({1, 2}, protocol=protocol),
        pickle.dumps(bytearray(b'ab'), protocol=protocol),
        pickle.dumps({(1, 2): [1.5]}, protocol=protocol)]


def codec_values(codec):
    return [gvariant_values, json_values, msgpack_values, pickle_values][codec]()


# ---- one generator per target ------------------------------------------

def fuzz_framing():
    rng = random.Random(1)
    for framing in range(N_FRAMINGS):
        payloads = msgpack_values() if framing == 2 else [b'', b'x', b'hello', bytes(300)]
        for i, payload in enumerate(payloads[:7]):
            selector = framing + N_FRAMINGS * rng.randrange(0, 50)
            yield f'{framing}-{i}', bytes([selector]) + frame(framing, payload)
    for value, encoding in varint_vectors():
        if value > 300:
            yield f'varint-{value}', bytes([N_FRAMINGS * 3]) + encoding + b'x'
    with open(os.path.join(VECTORS, 'varint-noncanonical.txt')) as f:
        for n, line in enumerate(l for l in f if l.strip() and not l.startswith('#')):
            yield f'varint-noncanonical-{n}', b'\x00' + bytes.fromhex(line.split()[-1])


def fuzz_codec():
    for codec in range(N_CODECS):
        for i, encoded in enumerate(codec_values(codec)[:12]):
            yield f'{codec}-{i}', bytes([codec]) + encoded


def fuzz_pickle():
    for protocol in range(6):
        for i, encoded in enumerate(pickle_values(protocol)[::3]):
            yield f'p{protocol}-{i}', bytes([protocol]) + encoded


def fuzz_framing_answers():
    rng = random.Random(2)
    for i in range(30):
        n_answers = rng.randrange(1, 4)
        answers = bytes(rng.randrange(256) for _ in range(n_answers * 12))
        ops = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 10)))
        wire = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 64)))
        yield f'random-{i}', (bytes([rng.randrange(256), n_answers - 1]) + answers
                              + bytes([len(ops) - 1]) + ops + wire)


def fuzz_receive():
    rng = random.Random(3)
    for framing in range(N_FRAMINGS):
        codec = [0, 3, 2, 1, 1][framing]
        payloads = codec_values(codec)[:6]
        if framing == 2:
            payloads = msgpack_values()[:6]
        wire = b''.join(frame(framing, p) for p in payloads)
        for variant in range(6):
            flags = framing | (variant & 1) << 3   # read-ahead
            if variant & 2:
                flags |= 0x10 | (codec << 5)        # values through the codec
            if variant == 5:
                flags |= 0xc0                       # not pollable
            limit = [0, 4, 5, 7][variant % 4]
            script = bytes(rng.choice([0x80, 0x81, 1, 2, 0x7f, 0x40]) for _ in range(rng.randrange(0, 40)))
            yield f'{framing}-{variant}', bytes([flags, limit, len(script)]) + script + wire
        # A frame over a small limit between two that are not, then a short one.
        big = frame(framing, (msgpack.packb('y' * 200) if framing == 2 else b'y' * 200))
        yield f'{framing}-too-large', (bytes([framing | 0x08, 2, 0]) + frame(framing, payloads[0])
                                       + big + frame(framing, payloads[1]) + big[:5])


def fuzz_depth():
    for fmt in range(4):
        limit = [42, 512, 60, 512][fmt]
        for depth in (0, 1, limit, limit + 1, 699):
            for how in (b'\x00', b'\x01\x02\x04', b'\x25\x44\x63\xa4\xe5', b'\x08\x18', b'\x10\x11\x13'):
                if how == b'\x08\x18' and fmt != 0:
                    continue
                yield f'{fmt}-{depth}-{how.hex()}', bytes([fmt]) + struct.pack('>H', depth) + how


def fuzz_encode():
    specs = [('i', -5), ('s', 'x\u001f'), ('as', ['a', 'b']), ('a{sv}', {'k': GLib.Variant('i', 1)}),
             ('(yqd)', (1, 2, 0.5)), ('mmi', None), ('ay', b'abc'), ('v', GLib.Variant('s', 'i')),
             ('a(xt)', [(1, 2**63)]), ('(bhog)', (True, 0, '/a', 'ii')), ('d', 1e19),
             ('aay', [b'', b'x']), ('a{ii}', {1: 2}), ('mv', GLib.Variant('b', True)),
             ('t', 2**64 - 1), ('(yay)', (3, b'ext'))]
    rng = random.Random(4)
    for codec in range(N_CODECS):
        for t, v in specs:
            data = GLib.Variant(t, v).get_data_as_bytes().get_data()
            if rng.random() < 0.3:
                data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 24)))
            yield f'{codec}-{t}', bytes([codec, len(t)]) + t.encode() + data


TARGETS = {
    'fuzz-framing': fuzz_framing,
    'fuzz-codec': fuzz_codec,
    'fuzz-pickle': fuzz_pickle,
    'fuzz-framing-answers': fuzz_framing_answers,
    'fuzz-receive': fuzz_receive,
    'fuzz-depth': fuzz_depth,
    'fuzz-encode': fuzz_encode,
}


def main():
    root = os.path.join(HERE, 'corpus')
    for target, generate in TARGETS.items():
        directory = os.path.join(root, target)
        shutil.rmtree(directory, ignore_errors=True)
        os.makedirs(directory)
        for name, data in generate():
            with open(os.path.join(directory, name.replace('/', '_')), 'wb') as f:
                f.write(data)
    return 0


if __name__ == '__main__':
    sys.exit(main())
