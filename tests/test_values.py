#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Values through a connection as a PyGObject user sends them, against the
# uninstalled typelib: a dict built as an a{sv} GLib.Variant goes through
# each built-in codec (GVariant and JSON over VarIntFraming, MessagePack
# over MsgPackFraming) with send_value/receive_value, sync and async
# (callbacks under a GLib.MainLoop: PyGObject 3.42 has no awaitables); a
# message the codec refuses fails that receive only; Json.Node values go
# through send_json_node/receive_json_node. test_codec.py covers the codecs'
# bytes and codecs written in Python. Prints TAP.

import os
import sys

import gi

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import swtap  # noqa: E402
from swtap import (PRIORITY, TIMEOUT, guarded, pair, raises,  # noqa: E402
                   run_loop, test)

gi.require_version('Json', '1.0')
from gi.repository import GLib, Gio, Json, Sw  # noqa: E402


def value():
    return GLib.Variant('a{sv}', {
        'name': GLib.Variant('s', 'x'),
        'n': GLib.Variant('i', 3),
        'nested': GLib.Variant('a{sv}', {
            'list': GLib.Variant('ai', [1, 2, 3]),
            'ok': GLib.Variant('b', True),
            'half': GLib.Variant('d', 0.5),
            'text': GLib.Variant('s', 'snow ☃'),
        }),
    })


# What every codec gives back once unpacked.
UNPACKED = {
    'name': 'x',
    'n': 3,
    'nested': {'list': [1, 2, 3], 'ok': True, 'half': 0.5,
               'text': 'snow ☃'},
}

# Each built-in codec with a framing that carries its messages, the type
# each member comes back with (JSON and MessagePack carry no GVariant
# types: integers come back as int64 'x', arrays as 'av'), and bytes the
# codec refuses.
CODECS = [
    ('GVariant', Sw.GVariantCodec.new, Sw.VarIntFraming.new,
     {'name': 's', 'n': 'i', 'nested': 'a{sv}', 'list': 'ai', 'ok': 'b',
      'half': 'd', 'text': 's'},
     b'\x02\x00b'),   # a 'v' not in normal form
    ('JSON', Sw.JsonCodec.new, Sw.VarIntFraming.new,
     {'name': 's', 'n': 'x', 'nested': 'a{sv}', 'list': 'av', 'ok': 'b',
      'half': 'd', 'text': 's'},
     b'{"a": [1,'),
    # One well-formed object (MsgPackFraming frames it), but a str that is
    # not UTF-8.
    ('MessagePack', Sw.MsgPackCodec.new, Sw.MsgPackFraming.new,
     {'name': 's', 'n': 'x', 'nested': 'a{sv}', 'list': 'av', 'ok': 'b',
      'half': 'd', 'text': 's'},
     b'\xa1\xff'),
]


def check_received(received, types, what):
    swtap.equal(received.get_type_string(), 'a{sv}', (what, received))
    # lookup_value() keeps the members boxed, with their types.
    members = {k: received.lookup_value(k, None) for k in ('name', 'n',
                                                           'nested')}
    for key, member in members.items():
        swtap.equal(member.get_type_string(), types[key], (what, key, member))
    nested = members['nested']
    for key in ('list', 'ok', 'half', 'text'):
        member = nested.lookup_value(key, None)
        swtap.equal(member.get_type_string(), types[key], (what, key, member))
    swtap.equal(received.unpack(), UNPACKED, (what, received.unpack()))


def make_tests(name, codec_new, framing_new, types, invalid):
    def sync_round_trip():
        a, b = pair(framing_new(), codec_new())
        try:
            swtap.same(a.send_value(value(), TIMEOUT, None), True)
            received = b.receive_value(TIMEOUT, None)
            check_received(received, types, 'a -> b')
            if name == 'GVariant':
                swtap.check(received.equal(value()), received)
            # Both ends are duplex: echo it back.
            swtap.same(b.send_value(received, TIMEOUT, None), True)
            check_received(a.receive_value(TIMEOUT, None), types, 'b -> a')
        finally:
            a.close(None)
            b.close(None)

    def async_round_trip():
        a, b = pair(framing_new(), codec_new())
        try:
            def start(done):
                state = {'sent': False, 'received': None}

                def maybe_done():
                    if state['sent'] and state['received'] is not None:
                        done(state['received'])

                def on_sent(conn, res):
                    state['sent'] = conn.send_value_finish(res)
                    maybe_done()

                def on_received(conn, res):
                    state['received'] = conn.receive_value_finish(res)
                    maybe_done()

                b.receive_value_async(PRIORITY, None,
                                      guarded(done, on_received))
                a.send_value_async(value(), PRIORITY, None,
                                   guarded(done, on_sent))

            check_received(run_loop(start), types, 'async')
        finally:
            a.close(None)
            b.close(None)

    def sync_codec_error():
        a, b = pair(framing_new(), codec_new())
        try:
            swtap.check(a.send_message(GLib.Bytes.new(invalid), TIMEOUT, None))
            swtap.check(a.send_value(value(), TIMEOUT, None))
            e = raises(Gio.IOErrorEnum.INVALID_DATA, b.receive_value,
                       TIMEOUT, None)
            print(f'# {e.message}')
            # The refused message was consumed whole.
            check_received(b.receive_value(TIMEOUT, None), types, 'next')
        finally:
            a.close(None)
            b.close(None)

    def async_codec_error():
        a, b = pair(framing_new(), codec_new())
        try:
            def start(done):
                def on_first(conn, res):
                    raises(Gio.IOErrorEnum.INVALID_DATA,
                           conn.receive_value_finish, res)
                    conn.receive_value_async(PRIORITY, None,
                                             guarded(done, on_second))

                def on_second(conn, res):
                    done(conn.receive_value_finish(res))

                b.receive_value_async(PRIORITY, None, guarded(done, on_first))
                a.send_message(GLib.Bytes.new(invalid), TIMEOUT, None)
                a.send_value(value(), TIMEOUT, None)

            check_received(run_loop(start), types, 'next')
        finally:
            a.close(None)
            b.close(None)

    for func, suffix in ((sync_round_trip, 'round_trip_sync'),
                         (async_round_trip, 'round_trip_async'),
                         (sync_codec_error, 'codec_error_sync'),
                         (async_codec_error, 'codec_error_async')):
        func.__name__ = f'{name.lower()}_{suffix}'
        test(func)


for codec_args in CODECS:
    make_tests(*codec_args)


JSON_TEXT = '{"a": [1, 2.5, "x", null, true, {}], "b": {"c": -1}}'


@test
def json_node_round_trip_sync():
    a, b = pair(Sw.DelimiterFraming.new(None))
    try:
        node = Json.from_string(JSON_TEXT)
        swtap.same(a.send_json_node(node, TIMEOUT, None), True)
        received = b.receive_json_node(TIMEOUT, None)
        swtap.check(received.equal(node))
        swtap.equal(received.get_object().get_object_member('b') \
            .get_int_member('c'), -1)
        # Invalid text fails that receive only.
        a.send_message(GLib.Bytes.new(b'{"a": [1,'), TIMEOUT, None)
        a.send_json_node(Json.from_string('"fine"'), TIMEOUT, None)
        raises(Gio.IOErrorEnum.INVALID_DATA, b.receive_json_node, TIMEOUT,
               None)
        swtap.equal(b.receive_json_node(TIMEOUT, None).get_string(), 'fine')
    finally:
        a.close(None)
        b.close(None)


@test
def json_node_round_trip_async():
    a, b = pair(Sw.VarIntFraming.new())
    builder = Json.Builder()
    builder.begin_object()
    builder.set_member_name('id')
    builder.add_int_value(7)
    builder.set_member_name('tags')
    builder.begin_array()
    builder.add_string_value('☃')
    builder.end_array()
    builder.end_object()
    node = builder.get_root()
    try:
        def start(done):
            def on_received(conn, res):
                done(conn.receive_json_node_finish(res))

            def on_sent(conn, res):
                swtap.same(conn.send_json_node_finish(res), True)
                b.receive_json_node_async(PRIORITY, None,
                                          guarded(done, on_received))

            a.send_json_node_async(node, PRIORITY, None,
                                   guarded(done, on_sent))

        received = run_loop(start)
        swtap.check(received.equal(node))
        swtap.equal(Json.to_string(received, False), '{"id":7,"tags":["☃"]}')
    finally:
        a.close(None)
        b.close(None)


if __name__ == '__main__':
    swtap.run()
