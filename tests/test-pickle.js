// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Sw.PickleCodec from GJS: a connection with Sw.MultiprocessingFraming
// and the codec, given to a /usr/bin/python3 child by Sw.spawn(), talks to
// a real multiprocessing.connection.Connection there (pickle_peer.py).
// The same plain values as test_pickle.py go both ways, checked against
// their GVariant texts (ints beyond 2^53 do not fit a JS Number); a
// hostile pickle fails its receive with INVALID_DATA, runs nothing, and
// the next message still arrives.

import Gio from 'gi://Gio';
import GLib from 'gi://GLib';
import Sw from 'gi://Sw?version=1';

import {
    PRIORITY, assert, assertDeepEqual, assertEqual, promisify, rejects, run,
    test,
} from './swtap.js';

promisify(Sw.Connection.prototype, 'send_value', 'receive_value', 'close');
promisify(Gio.Subprocess.prototype, 'wait_check');

const [SCRIPT] = GLib.filename_from_uri(import.meta.url);
const PEER = `${GLib.path_get_dirname(SCRIPT)}/pickle_peer.py`;

// Runs func(conn) with pickle_peer.py in mode at the other end, then
// closes and waits for the child's clean exit.
async function withPeer(mode, func) {
    const [conn, process] = Sw.spawn(['/usr/bin/python3', PEER, mode],
        Sw.MultiprocessingFraming.new(), Gio.SubprocessFlags.NONE);
    conn.codec = Sw.PickleCodec.new();
    try {
        await func(conn);
    } finally {
        await conn.close_async(PRIORITY, null);
    }
    assertEqual(await process.wait_check_async(null), true, 'clean exit');
}

function parse(text) {
    return GLib.Variant.parse(null, text, null, null);
}

// The peer's list of the GVariant texts of its values.
async function receiveTexts(conn) {
    const texts = (await conn.receive_value_async(PRIORITY, null))
        .recursiveUnpack();
    assert(texts.length > 20, 'the texts of the values');
    return texts;
}

test('values pickled by multiprocessing arrive as their GVariants',
    async () => {
        await withPeer('send-values=typed', async conn => {
            for (const text of await receiveTexts(conn)) {
                // eslint-disable-next-line no-await-in-loop
                const value = await conn.receive_value_async(PRIORITY, null);
                assert(value.equal(parse(text)),
                    `expected ${text}, got ${value.print(true)}`);
                if (text.startsWith("{'name'")) {
                    // What a JS user unpacks.
                    assertDeepEqual(value.recursiveUnpack(), {
                        name: 'x', list: [1, 'two', null, 3.5],
                        nested: {ok: true, data: new Uint8Array([1])},
                    });
                }
            }
        });
    });

test('GVariants sent arrive in multiprocessing as the Python values',
    async () => {
        await withPeer('receive-values=typed', async conn => {
            for (const text of await receiveTexts(conn)) {
                // eslint-disable-next-line no-await-in-loop
                await conn.send_value_async(parse(text), PRIORITY, null);
            }
            const mismatches = await conn.receive_value_async(PRIORITY, null);
            assertDeepEqual(mismatches.recursiveUnpack(), [],
                'values the peer got wrong');
        });
    });

test('a hostile pickle fails with INVALID_DATA, the next value arrives',
    async () => {
        const directory = GLib.dir_make_tmp('sw-pickle-XXXXXX');
        const marker = `${directory}/executed`;
        await withPeer(`hostile=${marker}`, async conn => {
            const error = await rejects(Gio.IOErrorEnum.INVALID_DATA,
                conn.receive_value_async(PRIORITY, null));
            assert(/REDUCE|GLOBAL/.test(error.message), error.message);
            const next = await conn.receive_value_async(PRIORITY, null);
            assertEqual(next.recursiveUnpack(), 'after', 'the next value');
        });
        assert(!GLib.file_test(marker, GLib.FileTest.EXISTS),
            'the pickle ran its command');
        GLib.rmdir(directory);
    });

run();
