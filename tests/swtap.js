// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The TAP runner and helpers shared by the GJS binding tests (test-*.js),
// against the uninstalled typelib. A test script imports what it uses with
//
//     import {test, assertEqual, run} from './swtap.js';
//
// registers its tests with test(name, func) (func may be async) and ends
// with run(), which prints TAP and exits.

import GLib from 'gi://GLib?version=2.0';
import Gio from 'gi://Gio?version=2.0';
import Sw from 'gi://Sw?version=1';
import System from 'system';

export const PRIORITY = GLib.PRIORITY_DEFAULT;
// Microseconds: long enough never to fire on a loaded machine, short
// enough that a broken test fails instead of hanging.
export const TIMEOUT = 10 * 1000 * 1000;

export const encoder = new TextEncoder();
const decoder = new TextDecoder();
const tests = [];

export function test(name, func) {
    tests.push({name, func});
}

// Gio._promisify() of name_async/name_finish for each name, on prototype.
export function promisify(prototype, ...names) {
    for (const name of names)
        Gio._promisify(prototype, `${name}_async`, `${name}_finish`);
}

export function assert(condition, message = 'assertion failed') {
    if (!condition)
        throw new Error(message);
}

export function assertEqual(actual, expected, what = 'value') {
    if (actual !== expected)
        throw new Error(`${what}: expected ${expected}, got ${actual}`);
}

// Structural equality of what recursiveUnpack()/JSON.parse() return:
// plain objects (any key order), arrays, numbers, strings, booleans, null.
export function deepEqual(a, b) {
    if (a === b)
        return true;
    if (typeof a !== 'object' || typeof b !== 'object' || a === null ||
        b === null || Array.isArray(a) !== Array.isArray(b))
        return false;
    const keys = Object.keys(a);
    if (keys.length !== Object.keys(b).length)
        return false;
    return keys.every(k => Object.hasOwn(b, k) && deepEqual(a[k], b[k]));
}

export function assertDeepEqual(actual, expected, what = 'value') {
    if (!deepEqual(actual, expected)) {
        throw new Error(`${what}: expected ${JSON.stringify(expected)}, ` +
            `got ${JSON.stringify(actual)}`);
    }
}

function checkIOError(e, code) {
    if (!(e instanceof GLib.Error) || !e.matches(Gio.IOErrorEnum, code))
        throw new Error(`expected IOErrorEnum ${code}, got ${e}`);
    return e;
}

// func() must throw a GLib.Error of Gio.IOErrorEnum code; returns it.
export function raises(code, func) {
    try {
        func();
    } catch (e) {
        return checkIOError(e, code);
    }
    throw new Error(`expected IOErrorEnum ${code}, nothing thrown`);
}

// promise must reject with a GLib.Error of Gio.IOErrorEnum code; resolves
// to it.
export async function rejects(code, promise) {
    try {
        await promise;
    } catch (e) {
        return checkIOError(e, code);
    }
    throw new Error(`expected IOErrorEnum ${code}, the call succeeded`);
}

// A string (as UTF-8) or a Uint8Array as GLib.Bytes.
export function bytes(data) {
    return new GLib.Bytes(data instanceof Uint8Array
        ? data : encoder.encode(data));
}

// GLib.Bytes as a string, from UTF-8.
export function text(gbytes) {
    return decoder.decode(gbytes.toArray());
}

// Two connected Sw.Connections from Sw.socketpair(), with framing and,
// if given, codec on both ends.
export function pair(framing = Sw.VarIntFraming.new(), codec = null) {
    const [ok, a, b] = Sw.socketpair(Gio.SocketFamily.UNIX,
        Gio.SocketType.STREAM, framing);
    assertEqual(ok, true, 'socketpair');
    if (codec) {
        a.codec = codec;
        b.codec = codec;
        assert(b.codec === codec, 'codec property');
    }
    return [a, b];
}

async function main() {
    print(`1..${tests.length}`);
    let failed = 0;
    for (const [index, {name, func}] of tests.entries()) {
        try {
            // eslint-disable-next-line no-await-in-loop
            await func();
            print(`ok ${index + 1} - ${name}`);
        } catch (e) {
            failed++;
            print(`not ok ${index + 1} - ${name}`);
            for (const line of `${e}\n${e.stack ?? ''}`.split('\n'))
                print(`# ${line}`);
        }
    }
    return failed;
}

// Runs the registered tests in order under a main loop, prints TAP and
// exits: 1 if any test failed.
export function run() {
    const loop = new GLib.MainLoop(null, false);
    let failures = 1;
    main().then(failed => {
        failures = failed;
    }).catch(e => {
        print(`# ${e}`);
    }).finally(() => {
        loop.quit();
    });
    loop.run();
    System.exit(failures ? 1 : 0);
}
