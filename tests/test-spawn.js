// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Children from GJS, which cannot fork: Sw.spawn() hands a child its end
// of a socket pair, and the child takes it with
// Sw.Connection.new_from_environment() (this script run with --child) or
// with a plain Python socket (spawn_child.py).

import Gio from 'gi://Gio';
import GLib from 'gi://GLib';
import Sw from 'gi://Sw?version=1';
import System from 'system';

import {
    PRIORITY, assert, assertEqual, promisify, raises, rejects, run,
    test,
} from './swtap.js';

promisify(Sw.Connection.prototype, 'send_message', 'receive_message',
    'close');
promisify(Gio.Subprocess.prototype, 'wait_check');

const [SCRIPT] = GLib.filename_from_uri(import.meta.url);
const HERE = GLib.path_get_dirname(SCRIPT);
const SIZES = [0, 1, 241, 70000, 1 << 20];

function pattern(size, seed) {
    const data = new Uint8Array(size);
    for (let i = 0; i < size; i++)
        data[i] = (i * 31 + seed) & 0xff;
    return data;
}

function sameBytes(a, b) {
    return a.length === b.length && a.every((v, i) => v === b[i]);
}

// The --child mode: an echo peer, blocking calls only; the exit
// status says what went wrong.
function child() {
    const conn = Sw.Connection.new_from_environment(Sw.VarIntFraming.new());
    if (GLib.getenv(Sw.SPAWN_FD_VARIABLE) !== null)
        return 3;
    for (;;) {
        let message;
        try {
            message = conn.receive_message(-1, null);
        } catch (e) {
            return e.matches(Gio.IOErrorEnum,
                Gio.IOErrorEnum.CONNECTION_CLOSED) ? 0 : 4;
        }
        conn.send_message(message, -1, null);
    }
}

// Spawns argv, exchanges SIZES with it as an echo peer in the
// main loop, closes and waits for a clean exit.
async function exchange(argv) {
    const [conn, process] = Sw.spawn(argv, Sw.VarIntFraming.new(),
        Gio.SubprocessFlags.NONE);
    assert(conn instanceof Sw.Connection, 'a connection');
    assert(process instanceof Gio.Subprocess, 'a subprocess');
    for (const [seed, size] of SIZES.entries()) {
        const data = pattern(size, seed);
        // eslint-disable-next-line no-await-in-loop
        await conn.send_message_async(new GLib.Bytes(data), PRIORITY, null);
        // eslint-disable-next-line no-await-in-loop
        const reply = await conn.receive_message_async(PRIORITY, null);
        assert(sameBytes(reply.toArray(), data),
            `reply to ${size} bytes`);
    }
    await conn.close_async(PRIORITY, null);
    assertEqual(await process.wait_check_async(null), true, 'clean exit');
}

test('Sw.spawn with a plain Python child', async () => {
    await exchange(['/usr/bin/python3', `${HERE}/spawn_child.py`]);
});

test('Sw.spawn with a GJS child', async () => {
    const gjs = GLib.find_program_in_path('gjs');
    assert(gjs !== null, 'gjs in PATH');
    await exchange([gjs, '-m', SCRIPT, '--child']);
});

test('the child end is fd 3, named in SOCKETWRAPPER_FD', () => {
    assertEqual(Sw.SPAWN_FD_VARIABLE, 'SOCKETWRAPPER_FD', 'variable');
    assertEqual(Sw.SPAWN_CHILD_FD, 3, 'fd');
});

test('new_from_environment without the variable is NOT_FOUND', () => {
    GLib.unsetenv('SOCKETWRAPPER_FD');
    raises(Gio.IOErrorEnum.NOT_FOUND,
        () => Sw.Connection.new_from_environment(null));
});

test('new_from_environment with a malformed variable', () => {
    GLib.setenv('SOCKETWRAPPER_FD', 'fd3', true);
    raises(Gio.IOErrorEnum.INVALID_ARGUMENT,
        () => Sw.Connection.new_from_environment(null));
    assertEqual(GLib.getenv('SOCKETWRAPPER_FD'), null, 'variable removed');
});

test('a child that ends early ends the stream', async () => {
    const [conn, process] = Sw.spawn(['/bin/true'], Sw.VarIntFraming.new(),
        Gio.SubprocessFlags.NONE);
    await process.wait_check_async(null);
    await rejects(Gio.IOErrorEnum.CONNECTION_CLOSED,
        conn.receive_message_async(PRIORITY, null));
});

if (System.programArgs.includes('--child'))
    System.exit(child());
else
    run();
