#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The codecs from Python, against the uninstalled typelib: the built-in
# codecs' bytes as a plain Python peer reads and writes them (PyGObject's
# GLib.Variant, the standard json module), and a codec written in Python
# (Sw.Codec implemented with do_encode and do_decode), through the public
# methods and, when SwConnection has its value calls, a real connection.
# Prints TAP.
#
# Notes on PyGObject, checked with 3.42.2 (Debian 12):
# - do_encode receives a GLib.Variant and returns a GLib.Bytes; do_decode
#   receives a GLib.Bytes and returns a GLib.Variant.
# - Raising GLib.Error in a vfunc sets the GError of the C caller; any
#   other exception is printed and turns into NULL without a GError, which
#   Sw.Codec.decode()/encode() report as G_IO_ERROR_INVALID_DATA /
#   G_IO_ERROR_FAILED.

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import swtap  # noqa: E402
from swtap import TIMEOUT, Skip, pair, raises, test  # noqa: E402

from gi.repository import GLib, GObject, Gio, Sw  # noqa: E402


def variant_from_gvariant_codec(data):
    """What the docs show a PyGObject peer doing with the codec's bytes."""
    return GLib.Variant.new_from_bytes(GLib.VariantType('v'),
                                       GLib.Bytes.new(data), False).get_variant()


def value():
    return GLib.Variant('a{sv}', {
        'name': GLib.Variant('s', 'héllo'),
        'list': GLib.Variant('ai', [1, 2, 3]),
        'pair': GLib.Variant('(xd)', (-5, 2.5)),
        'nested': GLib.Variant('a{sv}', {'ok': GLib.Variant('b', True)}),
    })


class ReprCodec(GObject.Object, Sw.Codec):
    """GVariant text format (g_variant_print/parse), as UTF-8. Text that
    does not parse is refused with a GLib.Error; every call is counted."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def do_encode(self, value):
        self.calls += 1
        return GLib.Bytes.new(value.print_(True).encode())

    def do_decode(self, data):
        self.calls += 1
        try:
            return GLib.Variant.parse(None, data.get_data().decode(), None,
                                      None)
        except (GLib.Error, UnicodeDecodeError) as e:
            raise GLib.Error.new_literal(Gio.io_error_quark(),
                                         f'python says: {e}',
                                         Gio.IOErrorEnum.INVALID_DATA)


class CrashingCodec(GObject.Object, Sw.Codec):
    """Raises a plain Python exception: callers still get a GLib.Error."""

    def do_encode(self, value):
        raise ValueError('not a GLib.Error')

    def do_decode(self, data):
        raise ValueError('not a GLib.Error')


@test
def gvariant_codec_to_python():
    codec = Sw.GVariantCodec.new()
    data = codec.encode(value()).get_data()
    decoded = variant_from_gvariant_codec(data)
    swtap.check(decoded.equal(value()), decoded)
    swtap.equal(decoded.unpack()['pair'], (-5, 2.5))


@test
def gvariant_codec_from_python():
    codec = Sw.GVariantCodec.new()
    # A PyGObject peer writing a message: the value boxed in a 'v'.
    data = GLib.Variant('v', value()).get_data_as_bytes()
    decoded = codec.decode(data)
    swtap.check(decoded.equal(value()), decoded)
    e = raises(Gio.IOErrorEnum.INVALID_DATA, codec.decode,
               GLib.Bytes.new(b'\x02\x00b'))
    swtap.check('normal form' in e.message, e.message)


@test
def gvariant_codec_decodes_slices():
    # Messages packed back to back in one buffer (a file of records, say):
    # each slice starts wherever the previous one ended, aligned or not.
    codec = Sw.GVariantCodec.new()
    values = [GLib.Variant('u', 2775908517), GLib.Variant('s', 'odd'),
              GLib.Variant('(td)', (9, 2.5)), value()]
    parts = [codec.encode(v).get_data() for v in values]
    whole = GLib.Bytes.new(b'x' + b''.join(parts))
    offset = 1
    for v, part in zip(values, parts):
        piece = GLib.Bytes.new_from_bytes(whole, offset, len(part))
        decoded = codec.decode(piece)
        swtap.check(decoded.equal(v), (offset, decoded))
        swtap.equal(decoded.unpack(), v.unpack())
        offset += len(part)


@test
def json_codec_with_python_json():
    codec = Sw.JsonCodec.new()
    text = codec.encode(value()).get_data()
    swtap.equal(json.loads(text), {'name': 'héllo', 'list': [1, 2, 3],
                                'pair': [-5, 2.5], 'nested': {'ok': True}})

    obj = {'a': [1, 2.5, 'x', None, True, {}], 'b': {'c': -1}}
    decoded = codec.decode(GLib.Bytes.new(json.dumps(obj).encode()))
    swtap.equal(decoded.get_type_string(), 'a{sv}')
    swtap.equal(decoded.unpack(), obj, decoded.unpack())

    e = raises(Gio.IOErrorEnum.INVALID_DATA, codec.decode,
               GLib.Bytes.new(b'{"a": [1,'))
    swtap.check(':1:' in e.message, e.message)
    raises(Gio.IOErrorEnum.INVALID_ARGUMENT, codec.encode,
           GLib.Variant('d', float('nan')))


@test
def python_codec_public_methods():
    codec = ReprCodec()
    data = codec.encode(value())
    swtap.equal(data.get_data().decode(), value().print_(True))
    decoded = codec.decode(data)
    swtap.check(decoded.equal(value()), decoded)
    swtap.equal(codec.calls, 2)
    e = raises(Gio.IOErrorEnum.INVALID_DATA, codec.decode,
               GLib.Bytes.new(b'[1,'))
    swtap.check('python says' in e.message, e.message)


@test
def python_exception_is_an_error():
    codec = CrashingCodec()
    raises(Gio.IOErrorEnum.FAILED, codec.encode, GLib.Variant('i', 1))
    e = raises(Gio.IOErrorEnum.INVALID_DATA, codec.decode,
               GLib.Bytes.new(b'x'))
    swtap.check('CrashingCodec' in e.message, e.message)


def value_pair(codec):
    if not hasattr(Sw.Connection, 'send_value'):
        raise Skip('SwConnection has no send_value yet')
    return pair(Sw.Framing.get_default(), codec)


@test
def python_codec_through_connection():
    codec = ReprCodec()
    a, b = value_pair(codec)
    swtap.same(a.send_value(value(), TIMEOUT, None), True)
    swtap.check(b.receive_value(TIMEOUT, None).equal(value()))
    # A message the codec refuses fails that receive only.
    swtap.same(a.send_message(GLib.Bytes.new(b'[1,'), TIMEOUT, None), True)
    swtap.same(a.send_value(GLib.Variant('s', 'next'), TIMEOUT, None), True)
    raises(Gio.IOErrorEnum.INVALID_DATA, b.receive_value, TIMEOUT, None)
    swtap.equal(b.receive_value(TIMEOUT, None).unpack(), 'next')


@test
def builtin_codecs_through_connection():
    for codec in (Sw.GVariantCodec.new(), Sw.JsonCodec.new()):
        a, b = value_pair(codec)
        swtap.same(a.send_value(value(), TIMEOUT, None), True)
        received = b.receive_value(TIMEOUT, None)
        swtap.equal(received.unpack()['name'], 'héllo', received)


if __name__ == '__main__':
    swtap.run()
