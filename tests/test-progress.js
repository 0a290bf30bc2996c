// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Progress of large messages from GJS: example 7 of the Python socketwrapper
// package with no framing of its own: set progress-threshold, connect two
// signals, print percentages.

import Sw from 'gi://Sw?version=1';
import {test, assert, assertEqual, pair, promisify, run, PRIORITY} from './swtap.js';

promisify(Sw.Connection.prototype, 'send_message', 'receive_message');

const SIZE = 1024 * 1024;

function checkReports(reports, total) {
    assert(reports.length >= 2 && reports.length <= 101, `${reports.length} reports`);
    for (const [index, [done, t]] of reports.entries()) {
        assertEqual(t, total, 'total');
        if (index > 0)
            assert(done > reports[index - 1][0], 'done increases');
    }
    assertEqual(reports[reports.length - 1][0], total, 'last done');
}

test('example 7: progress', async () => {
    const [parent, child] = pair();
    parent.progress_threshold = SIZE;
    child.set_progress_threshold(SIZE);
    assertEqual(child.get_progress_threshold(), SIZE, 'threshold');
    const sent = [], received = [];
    let finished = false;
    parent.connect('send-progress', (connection, done, total) => {
        assert(!finished, 'report after the callback');
        sent.push([done, total]);
        print(`# < ${(100 * done / total).toFixed(2).padStart(6)}%`);
    });
    child.connect('receive-progress', (connection, done, total) => {
        assert(!finished, 'report after the callback');
        received.push([done, total]);
        print(`# > ${(100 * done / total).toFixed(2).padStart(6)}%`);
    });

    const payload = new Uint8Array(SIZE).fill(42);
    print(`# Sending ${payload.length} bytes!`);
    const receiving = child.receive_message_async(PRIORITY, null);
    await parent.send_message_async(payload, PRIORITY, null);
    const message = await receiving;
    finished = true;
    print(`# Received ${message.get_size()} bytes!`);
    assertEqual(message.get_size(), SIZE, 'size');
    checkReports(sent, SIZE);
    checkReports(received, SIZE);
});

test('threshold 0 reports nothing', async () => {
    const [a, b] = pair();
    let reports = 0;
    a.connect('send-progress', () => reports++);
    b.connect('receive-progress', () => reports++);
    const receiving = b.receive_message_async(PRIORITY, null);
    await a.send_message_async(new Uint8Array(SIZE), PRIORITY, null);
    assertEqual((await receiving).get_size(), SIZE, 'size');
    assertEqual(reports, 0, 'reports');
});

run();
