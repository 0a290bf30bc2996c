// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The recipes of docs/javascript.md, run as a GJS user runs them, against
// the uninstalled typelib: Gio._promisify() of every async pair of
// Sw.Connection, each awaited; `for await (const message of
// messages(connection))` ending at a clean end of stream and throwing any
// other error; max_message_size = 0 as "no limit"; and a framing written in
// JS, which async calls on a stream that cannot poll refuse (they would
// call it from a worker thread) while the sync calls use it. Prints TAP.

import GLib from 'gi://GLib?version=2.0';
import GObject from 'gi://GObject?version=2.0';
import Gio from 'gi://Gio?version=2.0';
import Json from 'gi://Json?version=1.0';
import Sw from 'gi://Sw?version=1';

import {PRIORITY, TIMEOUT, assert, assertEqual, bytes, pair, rejects, run,
    test, text} from './swtap.js';

// ---- the recipes, as docs/javascript.md shows them ----------------------

// Every async/finish pair of Sw.Connection, made to return a Promise when
// called without a callback.
const ASYNC_CALLS = [
    'send_message', 'receive_message', 'send_messages', 'receive_messages',
    'send_bytes', 'receive_bytes', 'flush', 'shutdown_write', 'close',
    'send_value', 'receive_value', 'send_json_node', 'receive_json_node',
];
for (const name of ASYNC_CALLS)
    Gio._promisify(Sw.Connection.prototype, `${name}_async`, `${name}_finish`);

// The messages of a connection until the peer closes it cleanly (at a
// message boundary); any other error is thrown.
async function* messages(connection, cancellable = null) {
    for (;;) {
        let message;
        try {
            // eslint-disable-next-line no-await-in-loop
            message = await connection.receive_message_async(
                GLib.PRIORITY_DEFAULT, cancellable);
        } catch (e) {
            if (e instanceof GLib.Error &&
                e.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.CONNECTION_CLOSED))
                return;
            throw e;
        }
        yield message;
    }
}

// A framing written in JS: a one-byte length, then the payload.
const OneByteFraming = GObject.registerClass({
    Implements: [Sw.Framing],
}, class OneByteFraming extends GObject.Object {
    vfunc_decode(data, state) {
        if (data.length < 1)
            return [Sw.FramingResult.NEED_MORE, state, 0, 0, 0, 1];
        return [Sw.FramingResult.FRAME, state, 1, data[0], 0, 0];
    }

    vfunc_encode(payload) {
        const size = payload.get_size();
        if (size > 255) {
            throw new GLib.Error(Gio.IOErrorEnum, Gio.IOErrorEnum.INVALID_ARGUMENT,
                'at most 255 bytes');
        }
        return [true, new GLib.Bytes(new Uint8Array([size])), null];
    }
});

// ---- the tests -------------------------------------------------------------

test('Gio._promisify: every async pair awaited once', async () => {
    const [a, b] = pair(Sw.VarIntFraming.new(), Sw.GVariantCodec.new());

    assertEqual(await a.send_message_async(bytes('one'), PRIORITY, null),
        true, 'send_message');
    assertEqual(text(await b.receive_message_async(PRIORITY, null)), 'one',
        'receive_message');

    assertEqual(await a.send_messages_async([bytes('two'), bytes('three')],
        PRIORITY, null), true, 'send_messages');
    assertEqual((await b.receive_messages_async(64, PRIORITY, null))
        .map(text).join(','), 'two,three', 'receive_messages');

    assertEqual(await a.send_value_async(new GLib.Variant('as', ['v']),
        PRIORITY, null), true, 'send_value');
    const value = await b.receive_value_async(PRIORITY, null);
    assertEqual(value.deepUnpack()[0], 'v', 'receive_value');

    const node = Json.from_string('{"k": [1, 2]}');
    assertEqual(await a.send_json_node_async(node, PRIORITY, null), true,
        'send_json_node');
    assert((await b.receive_json_node_async(PRIORITY, null)).equal(node),
        'receive_json_node');

    assertEqual(await a.send_bytes_async(bytes('raw'), PRIORITY, null), 3,
        'send_bytes');
    assertEqual(text(await b.receive_bytes_async(3, PRIORITY, null)), 'raw',
        'receive_bytes');

    assertEqual(await a.flush_async(PRIORITY, null), true, 'flush');
    assertEqual(await a.shutdown_write_async(PRIORITY, null), true,
        'shutdown_write');
    await rejects(Gio.IOErrorEnum.CONNECTION_CLOSED,
        b.receive_message_async(PRIORITY, null));
    assertEqual(await a.close_async(PRIORITY, null), true, 'close a');
    assertEqual(await b.close_async(PRIORITY, null), true, 'close b');
    assert(a.closed && b.closed, 'both closed');
});

test('for await: messages until the peer closes', async () => {
    const [a, b] = pair();
    try {
        const sent = ['first', '', 'third'];
        for (const message of sent)
            a.send_message(bytes(message), TIMEOUT, null);
        a.shutdown_write(TIMEOUT, null);

        const received = [];
        for await (const message of messages(b))
            received.push(text(message));
        assertEqual(JSON.stringify(received), JSON.stringify(sent), 'messages');
    } finally {
        a.close(null);
        b.close(null);
    }
});

test('for await: other errors are thrown, break stops receiving', async () => {
    const [a, b] = pair();
    try {
        b.max_message_size = 4;
        a.send_message(bytes('ok'), TIMEOUT, null);
        a.send_message(bytes('too large'), TIMEOUT, null);
        a.send_message(bytes('next'), TIMEOUT, null);
        const received = [];
        await rejects(Gio.IOErrorEnum.MESSAGE_TOO_LARGE, (async () => {
            for await (const message of messages(b))
                received.push(text(message));
        })());
        assertEqual(JSON.stringify(received), '["ok"]', 'before the error');

        // The connection is still usable; leaving the loop early loses
        // nothing that was not yielded.
        a.send_message(bytes('last'), TIMEOUT, null);
        for await (const message of messages(b)) {
            assertEqual(text(message), 'next', 'after the error');
            break;
        }
        assertEqual(text(b.receive_message(TIMEOUT, null)), 'last', 'kept');
    } finally {
        a.close(null);
        b.close(null);
    }
});

test('max_message_size = 0 is no limit', async () => {
    const [a, b] = pair();
    try {
        b.max_message_size = 1000;
        b.max_message_size = 0;
        assertEqual(b.max_message_size, 0, 'reads back 0');
        const big = new Uint8Array(5000).fill(7);
        a.send_message(big, TIMEOUT, null);
        const received = await b.receive_message_async(PRIORITY, null);
        assertEqual(received.get_size(), 5000, 'size');
        b.set_max_message_size(0);
        assertEqual(b.get_max_message_size(), 0, 'getter');
    } finally {
        a.close(null);
        b.close(null);
    }
});

test('a JS framing on a socket: sync and async calls', async () => {
    const [a, b] = pair(new OneByteFraming());
    try {
        a.send_message(bytes('sync'), TIMEOUT, null);
        assertEqual(await a.send_message_async(bytes('async'), PRIORITY, null),
            true, 'sent');
        assertEqual(text(b.receive_message(TIMEOUT, null)), 'sync', 'sync');
        assertEqual(text(await b.receive_message_async(PRIORITY, null)),
            'async', 'async');
    } finally {
        a.close(null);
        b.close(null);
    }
});

test('a JS framing on streams that cannot poll: async refused, sync works',
    async () => {
        const framed = new Uint8Array([3, ...new TextEncoder().encode('abc')]);
        const input = new Gio.BufferedInputStream({
            base_stream: Gio.MemoryInputStream.new_from_bytes(bytes(framed)),
        });
        const memory = Gio.MemoryOutputStream.new_resizable();
        const output = new Gio.BufferedOutputStream({base_stream: memory});
        assert(!(input instanceof Gio.PollableInputStream), 'input polls');
        assert(!(output instanceof Gio.PollableOutputStream), 'output polls');
        const connection = Sw.Connection.new_for_streams(input, output,
            new OneByteFraming());

        const refused = await rejects(Gio.IOErrorEnum.NOT_SUPPORTED,
            connection.receive_message_async(PRIORITY, null));
        assert(refused.message.includes('worker thread'), refused.message);
        await rejects(Gio.IOErrorEnum.NOT_SUPPORTED,
            connection.send_message_async(bytes('no'), PRIORITY, null));
        // Raw bytes call no framing: they still run in the worker.
        assertEqual(await connection.send_bytes_async(bytes('\x02'), PRIORITY,
            null), 1, 'raw async send');

        assertEqual(text(connection.receive_message(TIMEOUT, null)), 'abc',
            'sync receive');
        assertEqual(connection.send_message(bytes('ok'), TIMEOUT, null), true,
            'sync send');
        connection.close(null);
        assertEqual(text(memory.steal_as_bytes()), '\x02\x02ok', 'written');
    });

run();
