// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The async API as a GJS user sees it (promises and await), against the
// uninstalled typelib. The asyncio examples of the Python socketwrapper
// package, re-created: "Simple asyncio IPC with pipe" (a child spawned with
// Gio.Subprocess gets the pipe's write end) and "Connection handling" (a
// Gio.SocketService wraps accepted connections). Prints TAP.

import GLib from 'gi://GLib?version=2.0';
import Gio from 'gi://Gio?version=2.0';
import Sw from 'gi://Sw?version=1';

import {PRIORITY, assert, assertEqual, bytes, pair, promisify, rejects, run,
    test, text} from './swtap.js';

promisify(Sw.Connection.prototype, 'receive_message', 'send_message',
    'receive_bytes', 'send_bytes', 'flush', 'close');
promisify(Gio.SocketClient.prototype, 'connect');
promisify(Gio.Subprocess.prototype, 'wait_check');

// The child of the pipe example: a small GJS program sending one message
// from its own main loop through fd 3.
const CHILD = `
imports.gi.versions.Sw = '1';
const {GLib, Gio, Sw} = imports.gi;
const writer = Sw.Connection.new_for_fd(3, Sw.VarIntFraming.new());
const loop = new GLib.MainLoop(null, false);
let status = 1;
writer.send_message_async(new TextEncoder().encode('Hello world!'),
    GLib.PRIORITY_DEFAULT, null, (conn, result) => {
        try {
            conn.send_message_finish(result);
            conn.close(null);
            status = 0;
        } catch (e) {
            printerr(e);
        }
        loop.quit();
    });
loop.run();
imports.system.exit(status);
`;

test('asyncio pipe IPC with a spawned child', async () => {
    const [ok, parentReader, childWriter] = Sw.pipe(Sw.VarIntFraming.new());
    assertEqual(ok, true, 'pipe');
    try {
        // The launcher takes (and closes) an fd of its own: hand it a
        // duplicate of the write end, as fd 3 of the child.
        const fds = new Gio.UnixFDList();
        fds.append(childWriter.get_fd());
        const [childFd] = fds.steal_fds();
        childWriter.close(null);  // the parent keeps only its end

        const launcher = new Gio.SubprocessLauncher({
            flags: Gio.SubprocessFlags.NONE,
        });
        launcher.take_fd(childFd, 3);
        const gjs = GLib.find_program_in_path('gjs');
        assert(gjs !== null, 'gjs in PATH');
        const child = launcher.spawnv([gjs, '-c', CHILD]);
        // Closes the parent's copy of fd 3, or the reader never sees EOF.
        launcher.close();

        const message = await parentReader.receive_message_async(PRIORITY,
            null);
        print(`# Message '${text(message)}' received`);
        assertEqual(text(message), 'Hello world!', 'message');
        assertEqual(await child.wait_check_async(null), true, 'child status');

        // The child is gone: EOF at a message boundary.
        await rejects(Gio.IOErrorEnum.CONNECTION_CLOSED,
            parentReader.receive_message_async(PRIORITY, null));
    } finally {
        parentReader.close(null);
        childWriter.close(null);
    }
});

test('asyncio server connection handling', async () => {
    const service = Gio.SocketService.new();
    try {
        const [ok, address] = service.add_address(
            Gio.InetSocketAddress.new_from_string('127.0.0.1', 0),
            Gio.SocketType.STREAM, Gio.SocketProtocol.TCP, null);
        assert(ok && address.get_port() !== 0, 'listening');

        const served = [];
        service.connect('incoming', (_service, connection) => {
            const serverSide = Sw.Connection.new_for_stream(connection,
                Sw.VarIntFraming.new());
            served.push(serverSide.send_message_async(bytes('message'),
                PRIORITY, null).then(sent => {
                return serverSide.close_async(PRIORITY, null)
                    .then(() => sent);
            }));
            return true;
        });
        service.start();

        const connection = await new Gio.SocketClient().connect_async(
            address, null);
        const client = Sw.Connection.new_for_stream(connection,
            Sw.VarIntFraming.new());
        try {
            const message = await client.receive_message_async(PRIORITY,
                null);
            print(`# ${text(message)}`);
            assertEqual(text(message), 'message', 'message');
            assertEqual(served.length, 1, 'connections served');
            assertEqual(await served[0], true, 'sent');
            await rejects(Gio.IOErrorEnum.CONNECTION_CLOSED,
                client.receive_message_async(PRIORITY, null));
        } finally {
            client.close(null);
        }
    } finally {
        service.stop();
        service.close();
    }
});

test('queued receives complete in order', async () => {
    const [a, b] = pair();
    try {
        const order = [];
        const receives = [0, 1, 2].map(i =>
            b.receive_message_async(PRIORITY, null).then(message => {
                order.push(i);
                return text(message);
            }));
        for (const payload of ['one', 'two', 'three'])
            a.send_message(bytes(payload), -1, null);
        const results = await Promise.all(receives);
        assertEqual(results.join(), 'one,two,three', 'messages');
        assertEqual(order.join(), '0,1,2', 'completion order');
    } finally {
        a.close(null);
        b.close(null);
    }
});

test('cancelling a queued receive leaves the others', async () => {
    const [a, b] = pair();
    try {
        const cancellable = new Gio.Cancellable();
        const first = b.receive_message_async(PRIORITY, null);
        const second = b.receive_message_async(PRIORITY, cancellable);
        const third = b.receive_message_async(PRIORITY, null);
        cancellable.cancel();
        await rejects(Gio.IOErrorEnum.CANCELLED, second);
        await a.send_message_async(bytes('m1'), PRIORITY, null);
        await a.send_message_async(bytes('m2'), PRIORITY, null);
        assertEqual(text(await first), 'm1', 'first');
        assertEqual(text(await third), 'm2', 'third');
    } finally {
        a.close(null);
        b.close(null);
    }
});

test('close_async wakes pending calls with CLOSED', async () => {
    const [a, b] = pair();
    try {
        const pending = [a.receive_message_async(PRIORITY, null),
            a.receive_message_async(PRIORITY, null)];
        assertEqual(await a.close_async(PRIORITY, null), true, 'closed');
        for (const call of pending)
            // eslint-disable-next-line no-await-in-loop
            await rejects(Gio.IOErrorEnum.CLOSED, call);
        assertEqual(a.closed, true, 'closed property');
    } finally {
        a.close(null);
        b.close(null);
    }
});

test('raw bytes and flush', async () => {
    const [ok, a, b] = Sw.socketpair(Gio.SocketFamily.UNIX,
        Gio.SocketType.STREAM, null);
    assertEqual(ok, true, 'socketpair');
    try {
        const receiving = b.receive_bytes_async(6, PRIORITY, null);
        assertEqual(await a.send_bytes_async(bytes('abcdef'), PRIORITY, null),
            6, 'sent');
        assertEqual(await a.flush_async(PRIORITY, null), true, 'flushed');
        assertEqual(text(await receiving), 'abcdef', 'received');
    } finally {
        a.close(null);
        b.close(null);
    }
});

test('a big message both ways at once', async () => {
    const [a, b] = pair();
    try {
        const big = new Uint8Array(4 * 1024 * 1024);
        for (let i = 0; i < big.length; i++)
            big[i] = (i * 7) & 0xff;
        const [sentA, sentB, atB, atA] = await Promise.all([
            a.send_message_async(big, PRIORITY, null),
            b.send_message_async(big, PRIORITY, null),
            b.receive_message_async(PRIORITY, null),
            a.receive_message_async(PRIORITY, null),
        ]);
        assert(sentA && sentB, 'sent');
        for (const received of [atA, atB]) {
            const array = received.toArray();
            assertEqual(array.length, big.length, 'size');
            assert(array.every((v, i) => v === big[i]), 'content');
        }
    } finally {
        a.close(null);
        b.close(null);
    }
});

run();
