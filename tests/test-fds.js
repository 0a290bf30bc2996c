// SPDX-License-Identifier: LGPL-2.1-or-later
//
// File descriptors with messages from GJS: a Gio.UnixFDList in, the fds
// of exactly that message out, sync and with a promise; memfd-threshold,
// large messages as memfds.

import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import Sw from 'gi://Sw?version=1';

import {
    PRIORITY, assert, assertEqual, bytes, pair, promisify, raises, run, test, text,
} from './swtap.js';

promisify(Sw.Connection.prototype, 'receive_message_with_fds');

function listOf(fd, n) {
    const list = new Gio.UnixFDList();
    for (let i = 0; i < n; i++)
        list.append(fd);
    return list;
}

test('fds travel with their message', () => {
    const [a, b] = pair();
    a.send_message(bytes('plain'), -1, null);
    a.send_message_with_fds(bytes('with'), listOf(1, 2), -1, null);
    let [message, fds] = b.receive_message_with_fds(-1, null);
    assertEqual(text(message), 'plain');
    assertEqual(fds.get_length(), 0, 'fds of the plain message');
    [message, fds] = b.receive_message_with_fds(-1, null);
    assertEqual(text(message), 'with');
    assertEqual(fds.get_length(), 2, 'fds of the message that has them');
    assert(fds.get(0) >= 0);
});

test('async receive with a promise', async () => {
    const [a, b] = pair();
    a.send_message_with_fds(bytes('async'), listOf(1, 1), -1, null);
    const [message, fds] = await b.receive_message_with_fds_async(PRIORITY, null);
    assertEqual(text(message), 'async');
    assertEqual(fds.get_length(), 1, 'fds');
});

test('too many fds', () => {
    const [a] = pair();
    raises(Gio.IOErrorEnum.INVALID_ARGUMENT,
        () => a.send_message_with_fds(bytes('x'), listOf(1, 254), -1, null));
});

function memfdMappings() {
    const [, maps] = GLib.file_get_contents('/proc/self/maps');
    return new TextDecoder().decode(maps).split('\n')
        .filter(line => line.includes('/memfd:sw-message')).length;
}

test('large messages as memfds', () => {
    const [a, b] = pair();
    assertEqual(a.memfd_threshold, 0, 'the default');
    a.memfd_threshold = b.memfd_threshold = 4096;
    const data = new Uint8Array(100000).map((_, i) => (i * 31) % 251);
    const before = memfdMappings();
    a.send_message(new GLib.Bytes(data), -1, null);
    const message = b.receive_message(-1, null);
    assertEqual(memfdMappings(), before + 1, 'memfd mappings');
    const got = message.toArray();
    assertEqual(got.length, data.length, 'size');
    assert(got.every((v, i) => v === data[i]), 'the message arrived changed');
});

run();
