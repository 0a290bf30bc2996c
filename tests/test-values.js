// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Values and JSON nodes as a GJS user sends them, against the uninstalled
// typelib: a JS object built as an a{sv} GLib.Variant goes through each
// built-in codec (GVariant and JSON over VarIntFraming, MessagePack over
// MsgPackFraming), with the sync calls and the promisified async ones; a
// message the codec refuses fails that receive only; Json.Node values
// travel with send_json_node/receive_json_node and interoperate with the
// JSON codec. Prints TAP.

import GLib from 'gi://GLib?version=2.0';
import Gio from 'gi://Gio?version=2.0';
import Json from 'gi://Json?version=1.0';
import Sw from 'gi://Sw?version=1';

import {PRIORITY, TIMEOUT, assert, assertDeepEqual, assertEqual, bytes,
    encoder, pair, promisify, raises, rejects, run, test} from './swtap.js';

promisify(Sw.Connection.prototype, 'send_value', 'receive_value',
    'send_json_node', 'receive_json_node', 'send_message');

// The JS object of the brief, as a GLib.Variant 'a{sv}'.
function value() {
    return new GLib.Variant('a{sv}', {
        name: new GLib.Variant('s', 'x'),
        n: new GLib.Variant('i', 3),
        nested: new GLib.Variant('a{sv}', {
            list: new GLib.Variant('ai', [1, 2, 3]),
            ok: new GLib.Variant('b', true),
            half: new GLib.Variant('d', 0.5),
            text: new GLib.Variant('s', 'snow ☃'),
        }),
    });
}

// What every codec gives back once unpacked: the same plain JS object.
const UNPACKED = {
    name: 'x',
    n: 3,
    nested: {list: [1, 2, 3], ok: true, half: 0.5, text: 'snow ☃'},
};

// Each built-in codec, with a framing that carries its messages, and the
// type each member of value() comes back with. The GVariant codec keeps
// every type; JSON and MessagePack carry no GVariant types, so integers
// come back as int64 'x', arrays as 'av', doubles as 'd'.
const CODECS = [
    {
        name: 'GVariant',
        codec: () => Sw.GVariantCodec.new(),
        framing: () => Sw.VarIntFraming.new(),
        types: {name: 's', n: 'i', nested: 'a{sv}', list: 'ai', ok: 'b',
            half: 'd', text: 's'},
        // A serialised 'v' that is not in normal form.
        invalid: new Uint8Array([0x02, 0x00, 0x62]),
    },
    {
        name: 'JSON',
        codec: () => Sw.JsonCodec.new(),
        framing: () => Sw.VarIntFraming.new(),
        types: {name: 's', n: 'x', nested: 'a{sv}', list: 'av', ok: 'b',
            half: 'd', text: 's'},
        invalid: encoder.encode('{"a": [1,'),
    },
    {
        name: 'MessagePack',
        codec: () => Sw.MsgPackCodec.new(),
        framing: () => Sw.MsgPackFraming.new(),
        types: {name: 's', n: 'x', nested: 'a{sv}', list: 'av', ok: 'b',
            half: 'd', text: 's'},
        // One well-formed object, so MsgPackFraming frames (and sends) it,
        // but a str that is not UTF-8: the codec refuses it.
        invalid: new Uint8Array([0xa1, 0xff]),
    },
];

function checkReceived(received, types, what) {
    assertEqual(received.get_type_string(), 'a{sv}', `${what} type`);
    // deepUnpack: one level, the members stay GLib.Variant.
    const members = received.deepUnpack();
    assertDeepEqual(Object.keys(members).sort(), ['n', 'name', 'nested'],
        `${what} keys`);
    for (const key of ['name', 'n', 'nested']) {
        assert(members[key] instanceof GLib.Variant, `${what} ${key} boxed`);
        assertEqual(members[key].get_type_string(), types[key],
            `${what} ${key} type`);
    }
    const nested = members.nested.deepUnpack();
    for (const key of ['list', 'ok', 'half', 'text']) {
        assertEqual(nested[key].get_type_string(), types[key],
            `${what} nested.${key} type`);
    }
    // recursiveUnpack: plain JS all the way down (int64 as Number).
    assertDeepEqual(received.recursiveUnpack(), UNPACKED, `${what} content`);
}

for (const {name, codec, framing, types, invalid} of CODECS) {
    test(`${name} codec: a JS object round trip, sync`, () => {
        const [a, b] = pair(framing(), codec());
        try {
            assertEqual(a.send_value(value(), TIMEOUT, null), true, 'sent');
            // And back the other way: both ends are duplex.
            const received = b.receive_value(TIMEOUT, null);
            checkReceived(received, types, 'a -> b');
            if (name === 'GVariant')
                assert(received.equal(value()), 'GVariant keeps every type');
            assertEqual(b.send_value(received, TIMEOUT, null), true, 'echo');
            checkReceived(a.receive_value(TIMEOUT, null), types, 'b -> a');
        } finally {
            a.close(null);
            b.close(null);
        }
    });

    test(`${name} codec: a JS object round trip, async`, async () => {
        const [a, b] = pair(framing(), codec());
        try {
            const receiving = b.receive_value_async(PRIORITY, null);
            assertEqual(await a.send_value_async(value(), PRIORITY, null),
                true, 'sent');
            const received = await receiving;
            checkReceived(received, types, 'a -> b');
            // Several in flight at once arrive in order.
            const scalars = [new GLib.Variant('s', 'one'),
                new GLib.Variant('b', false), new GLib.Variant('d', -1.25)];
            const receives = scalars.map(() =>
                a.receive_value_async(PRIORITY, null));
            await Promise.all(scalars.map(v =>
                b.send_value_async(v, PRIORITY, null)));
            const back = await Promise.all(receives);
            assertDeepEqual(back.map(v => v.recursiveUnpack()),
                ['one', false, -1.25], 'in order');
        } finally {
            a.close(null);
            b.close(null);
        }
    });

    test(`${name} codec: refused bytes fail one receive, sync`, () => {
        const [a, b] = pair(framing(), codec());
        try {
            assertEqual(a.send_message(bytes(invalid), TIMEOUT, null), true,
                'raw bytes sent');
            assertEqual(a.send_value(value(), TIMEOUT, null), true, 'sent');
            const e = raises(Gio.IOErrorEnum.INVALID_DATA,
                () => b.receive_value(TIMEOUT, null));
            print(`# ${e.message}`);
            // The bad message was consumed whole: the next value is intact.
            checkReceived(b.receive_value(TIMEOUT, null), types, 'next');
        } finally {
            a.close(null);
            b.close(null);
        }
    });

    test(`${name} codec: refused bytes fail one receive, async`, async () => {
        const [a, b] = pair(framing(), codec());
        try {
            // Handled from the start: it fails while the sends are awaited.
            const first = rejects(Gio.IOErrorEnum.INVALID_DATA,
                b.receive_value_async(PRIORITY, null));
            const second = b.receive_value_async(PRIORITY, null);
            await a.send_message_async(bytes(invalid), PRIORITY, null);
            await a.send_value_async(value(), PRIORITY, null);
            await first;
            checkReceived(await second, types, 'next');
        } finally {
            a.close(null);
            b.close(null);
        }
    });
}

test('a value the codec cannot represent is refused, nothing sent', () => {
    const [a, b] = pair(Sw.VarIntFraming.new(), Sw.JsonCodec.new());
    try {
        raises(Gio.IOErrorEnum.INVALID_ARGUMENT,
            () => a.send_value(new GLib.Variant('d', NaN), TIMEOUT, null));
        a.send_value(new GLib.Variant('s', 'after'), TIMEOUT, null);
        assertEqual(b.receive_value(TIMEOUT, null).unpack(), 'after',
            'next value');
    } finally {
        a.close(null);
        b.close(null);
    }
});

const JSON_TEXT = '{"a": [1, 2.5, "x", null, true, {}], "b": {"c": -1}}';

function builtNode() {
    const builder = new Json.Builder();
    builder.begin_object();
    builder.set_member_name('id');
    builder.add_int_value(7);
    builder.set_member_name('tags');
    builder.begin_array();
    builder.add_string_value('red');
    builder.add_string_value('☃');
    builder.end_array();
    builder.set_member_name('ratio');
    builder.add_double_value(0.75);
    builder.set_member_name('none');
    builder.add_null_value();
    builder.set_member_name('ok');
    builder.add_boolean_value(false);
    builder.end_object();
    return builder.get_root();
}

test('JSON nodes: Json.from_string round trip, sync', () => {
    // No codec at all: the JSON node calls ignore it.
    const [a, b] = pair(Sw.DelimiterFraming.new(null));
    try {
        const node = Json.from_string(JSON_TEXT);
        assertEqual(a.send_json_node(node, TIMEOUT, null), true, 'sent');
        const received = b.receive_json_node(TIMEOUT, null);
        assert(received instanceof Json.Node, 'a Json.Node');
        assertEqual(received.get_node_type(), Json.NodeType.OBJECT, 'object');
        assert(received.equal(node), 'equal nodes');
        assertDeepEqual(JSON.parse(Json.to_string(received, false)),
            JSON.parse(JSON_TEXT), 'content');
        const object = received.get_object();
        assertEqual(object.get_object_member('b').get_int_member('c'), -1,
            'b.c');
        assertEqual(object.get_array_member('a').get_length(), 6, 'a length');
    } finally {
        a.close(null);
        b.close(null);
    }
});

test('JSON nodes: Json.Builder round trip, async', async () => {
    const [a, b] = pair(Sw.VarIntFraming.new());
    try {
        const node = builtNode();
        const receiving = b.receive_json_node_async(PRIORITY, null);
        assertEqual(await a.send_json_node_async(node, PRIORITY, null), true,
            'sent');
        const received = await receiving;
        assert(received.equal(node), 'equal nodes');
        assertDeepEqual(JSON.parse(Json.to_string(received, false)),
            {id: 7, tags: ['red', '☃'], ratio: 0.75, none: null, ok: false},
            'content');
    } finally {
        a.close(null);
        b.close(null);
    }
});

test('JSON nodes: invalid JSON fails one receive, then the next', async () => {
    const [a, b] = pair(Sw.DelimiterFraming.new(null));
    try {
        a.send_message(bytes('{"a": [1,'), TIMEOUT, null);
        a.send_message(bytes('[1, 2] trailing'), TIMEOUT, null);
        a.send_json_node(Json.from_string('"fine"'), TIMEOUT, null);
        raises(Gio.IOErrorEnum.INVALID_DATA,
            () => b.receive_json_node(TIMEOUT, null));
        await rejects(Gio.IOErrorEnum.INVALID_DATA,
            b.receive_json_node_async(PRIORITY, null));
        assertEqual((await b.receive_json_node_async(PRIORITY, null))
            .get_string(), 'fine', 'next node');
    } finally {
        a.close(null);
        b.close(null);
    }
});

test('JSON nodes and the JSON codec speak the same text', () => {
    const [a, b] = pair(Sw.DelimiterFraming.new(null), Sw.JsonCodec.new());
    try {
        // A node in, a value out...
        a.send_json_node(builtNode(), TIMEOUT, null);
        const received = b.receive_value(TIMEOUT, null);
        assertEqual(received.get_type_string(), 'a{sv}', 'object as a{sv}');
        const members = received.deepUnpack();
        assertEqual(members.id.get_type_string(), 'x', 'id type');
        assertEqual(members.tags.get_type_string(), 'av', 'tags type');
        assertEqual(members.none.get_type_string(), 'mv', 'null type');
        assertEqual(members.none.get_maybe(), null, 'null is Nothing');
        // ...and a value in, a node out.
        b.send_value(value(), TIMEOUT, null);
        const node = a.receive_json_node(TIMEOUT, null);
        assertDeepEqual(JSON.parse(Json.to_string(node, false)), UNPACKED,
            'value as JSON');
        // One document per line on the wire.
        b.send_value(new GLib.Variant('as', ['p', 'q']), TIMEOUT, null);
        const raw = a.receive_bytes(-1, TIMEOUT, null).toArray();
        assertEqual(new TextDecoder().decode(raw), '["p","q"]\n',
            'JSON Lines');
    } finally {
        a.close(null);
        b.close(null);
    }
});

run();
