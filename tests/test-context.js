// SPDX-License-Identifier: LGPL-2.1-or-later
//
// A GJS application with a receive always pending in its main loop:
// blocking calls fail with PENDING instead of hanging, settings never
// wait, close() completes the pending call, shutdown_write_async notifies
// before its callback.

import Gio from 'gi://Gio';
import GLib from 'gi://GLib';
import Sw from 'gi://Sw?version=1';

import {
    PRIORITY, TIMEOUT, assert, assertEqual, bytes, pair, promisify, raises,
    rejects, run, test, text,
} from './swtap.js';

promisify(Sw.Connection.prototype, 'receive_message');
promisify(Sw.Connection.prototype, 'shutdown_write');

// Resolves with func()'s result from a main-loop callback, as a GTK
// signal handler runs: the thread then owns the main context.
function inCallback(func) {
    return new Promise((resolve, reject) => {
        GLib.idle_add(GLib.PRIORITY_DEFAULT, () => {
            try {
                resolve(func());
            } catch (e) {
                reject(e);
            }
            return GLib.SOURCE_REMOVE;
        });
    });
}

test('blocking calls behind a pending receive throw PENDING', async () => {
    const [a, b] = pair();
    const pending = b.receive_message_async(PRIORITY, null);
    await inCallback(() => {
        const e = raises(Gio.IOErrorEnum.PENDING,
            () => b.receive_message(-1, null));
        assert(e.message.includes('receive_message_async'), e.message);
        raises(Gio.IOErrorEnum.PENDING, () => b.steal_buffered_input());
        b.read_ahead = false;
        b.max_message_size = 1000;
        assertEqual(b.max_message_size, 1000, 'max_message_size');
        a.send_message(bytes('after'), -1, null);
    });
    assertEqual(text(await pending), 'after', 'received');
});

test('close() completes the pending receive with CLOSED', async () => {
    const [, b] = pair();
    let notified = 0;
    b.connect('notify::closed', () => notified++);
    const pending = b.receive_message_async(PRIORITY, null);
    assertEqual(b.close(null), true, 'close');
    await rejects(Gio.IOErrorEnum.CLOSED, pending);
    assertEqual(notified, 1, 'notify::closed');
});

test('shutdown_write_async notifies writable before resolving', async () => {
    const [a, b] = pair();
    const events = [];
    a.connect('notify::writable', () => events.push('notify'));
    a.send_message(bytes('last'), -1, null);
    assertEqual(await a.shutdown_write_async(PRIORITY, null), true, 'result');
    events.push('resolved');
    assertEqual(events.join(','), 'notify,resolved', 'order');
    assertEqual(text(b.receive_message(TIMEOUT, null)), 'last', 'last');
    raises(Gio.IOErrorEnum.CONNECTION_CLOSED,
        () => b.receive_message(TIMEOUT, null));
});

test('the receive loop emits messages, then closed', async () => {
    const [a, b] = pair();
    const got = [];
    let closed = null;
    b.connect('message', (conn, message) => got.push(text(message)));
    a.send_message(bytes('one'), -1, null);
    a.send_message(bytes('two'), -1, null);
    a.close(null);
    await new Promise(resolve => {
        b.connect('closed', (conn, remote, error) => {
            closed = {remote, error};
            resolve();
        });
        b.start_receiving();
    });
    assertEqual(got.join(','), 'one,two', 'messages');
    assertEqual(closed.remote, true, 'remote');
    assertEqual(closed.error, null, 'error');
    assertEqual(b.receiving, false, 'receiving');
});

run();
