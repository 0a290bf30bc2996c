// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The library as a GJS user sees it, against the uninstalled typelib:
// every public type built the way JavaScript code builds it, messages both
// ways, errors, properties, and the async API through promises. Prints TAP.

import GLib from 'gi://GLib?version=2.0';
import Gio from 'gi://Gio?version=2.0';
import Sw from 'gi://Sw?version=1';

import {TIMEOUT, assert, assertEqual, bytes, encoder, pair, promisify, raises,
    run, test, text} from './swtap.js';

promisify(Sw.Connection.prototype, 'receive_message', 'send_message',
    'receive_messages', 'send_messages');

// Two connected Gio.Sockets made without the library: an abstract
// unix-domain listener and a client.
function giosocketpair() {
    const name = `sw-test-js-${GLib.random_int()}-${GLib.get_monotonic_time()}`;
    const address = Gio.UnixSocketAddress.new_with_type(name,
        Gio.UnixSocketAddressType.ABSTRACT);
    const listener = Gio.Socket.new(Gio.SocketFamily.UNIX,
        Gio.SocketType.STREAM, Gio.SocketProtocol.DEFAULT);
    listener.bind(address, true);
    listener.listen();
    const client = Gio.Socket.new(Gio.SocketFamily.UNIX,
        Gio.SocketType.STREAM, Gio.SocketProtocol.DEFAULT);
    client.connect(address, null);
    const server = listener.accept(null);
    listener.close();
    return [client, server];
}

test('framing constructors', () => {
    const varint = Sw.VarIntFraming.new();
    const mp = Sw.MultiprocessingFraming.new();
    assert(varint instanceof Sw.VarIntFraming, 'VarIntFraming.new()');
    assert(varint instanceof Sw.Framing, 'VarIntFraming is a Framing');
    assert(mp instanceof Sw.MultiprocessingFraming,
        'MultiprocessingFraming.new()');
    assert(mp instanceof Sw.Framing, 'MultiprocessingFraming is a Framing');
    assert(Sw.Framing.get_default() instanceof Sw.VarIntFraming,
        'default framing');
});

test('socketpair messages both ways', () => {
    const [a, b] = pair();
    assertEqual(a.send_message(bytes('Hello child!'), TIMEOUT, null), true);
    assertEqual(text(b.receive_message(TIMEOUT, null)), 'Hello child!');
    assertEqual(b.send_message(bytes('Hello parent!'), TIMEOUT, null), true);
    assertEqual(text(a.receive_message(TIMEOUT, null)), 'Hello parent!');
    // A Uint8Array is converted to GBytes by GJS itself.
    a.send_message(encoder.encode('plain array'), TIMEOUT, null);
    assertEqual(text(b.receive_message(TIMEOUT, null)), 'plain array');
    a.close(null);
    b.close(null);
});

test('send_messages batch', () => {
    const [a, b] = pair();
    const words = ['one', 'two', '', 'three'];
    assertEqual(a.send_messages(words.map(w => bytes(w)), TIMEOUT, null), true);
    for (const w of words)
        assertEqual(text(b.receive_message(TIMEOUT, null)), w);
    a.close(null);
    b.close(null);
});

test('receive_messages batch', () => {
    const [a, b] = pair();
    const words = ['one', 'two', '', 'three'];
    a.send_messages(words.map(w => bytes(w)), TIMEOUT, null);
    const batch = b.receive_messages(100, TIMEOUT, null);
    assert(Array.isArray(batch), 'an array');
    assert(batch.every(m => m instanceof GLib.Bytes), 'of GLib.Bytes');
    assertEqual(batch.map(text).join(','), words.join(','), 'batch');
    // A limit leaves the rest, in order; 0 asks for nothing.
    a.send_messages(words.map(w => bytes(w)), TIMEOUT, null);
    assertEqual(b.receive_messages(3, TIMEOUT, null).map(text).join(','),
        'one,two,', 'first three');
    assertEqual(b.receive_messages(0, TIMEOUT, null).length, 0, 'zero');
    assertEqual(b.receive_messages(3, TIMEOUT, null).map(text).join(','),
        'three', 'the rest');
    raises(Gio.IOErrorEnum.TIMED_OUT, () => b.receive_messages(3, 0, null));
    a.close(null);
    b.close(null);
});

test('raw bytes both ways', () => {
    const [ok, a, b] = Sw.socketpair(Gio.SocketFamily.UNIX,
        Gio.SocketType.STREAM, null);
    assert(ok && a.framing === null, 'raw socketpair');
    assertEqual(a.send_bytes(bytes('abcdef'), TIMEOUT, null), 6, 'sent');
    assertEqual(text(b.receive_bytes(4, TIMEOUT, null)), 'abcd');
    assertEqual(text(b.receive_bytes(2, TIMEOUT, null)), 'ef');
    assertEqual(b.send_bytes(bytes('back'), TIMEOUT, null), 4, 'sent back');
    assertEqual(text(a.receive_bytes(-1, TIMEOUT, null)), 'back');
});

test('pipe', () => {
    const [ok, reader, writer] = Sw.pipe(Sw.VarIntFraming.new());
    assertEqual(ok, true, 'pipe');
    assert(reader.readable && !reader.writable, 'reader end');
    assert(writer.writable && !writer.readable, 'writer end');
    writer.send_message(bytes('Hello world!'), TIMEOUT, null);
    assertEqual(text(reader.receive_message(TIMEOUT, null)), 'Hello world!');
    raises(Gio.IOErrorEnum.NOT_SUPPORTED,
        () => writer.receive_message(0, null));
});

test('new_for_fd', () => {
    // A raw fd a JS program gets hold of: a child's stdout pipe, taken
    // over from the stream that would otherwise close it.
    const proc = Gio.Subprocess.new(['printf', '\\005hello'],
        Gio.SubprocessFlags.STDOUT_PIPE);
    const stream = proc.get_stdout_pipe();
    stream.set_close_fd(false);
    const fd = stream.get_fd();
    const conn = Sw.Connection.new_for_fd(fd, Sw.VarIntFraming.new());
    assertEqual(conn.get_fd(), fd, 'fd');
    assertEqual(conn.readable, true, 'readable');
    assertEqual(conn.writable, false, 'writable');
    assertEqual(text(conn.receive_message(TIMEOUT, null)), 'hello');
    raises(Gio.IOErrorEnum.CONNECTION_CLOSED,
        () => conn.receive_message(TIMEOUT, null));
    conn.close(null);
    proc.wait(null);
});

test('new Sw.Connection({socket})', () => {
    const [client, server] = giosocketpair();
    const conn = new Sw.Connection({
        socket: client,
        framing: Sw.MultiprocessingFraming.new(),
    });
    const peer = new Sw.Connection({socket: server});
    assert(conn.socket === client, 'socket property');
    assert(conn.framing instanceof Sw.MultiprocessingFraming, 'framing');
    assert(peer.framing === null, 'raw peer');
    assert(conn.readable && conn.writable, 'duplex');
    // multiprocessing.connection framing: 4-byte big-endian length.
    conn.send_message(bytes('hey'), TIMEOUT, null);
    const wire = peer.receive_bytes(7, TIMEOUT, null).toArray();
    assertEqual(Array.from(wire).join(','), '0,0,0,3,104,101,121', 'wire');
    peer.send_bytes(new Uint8Array([0, 0, 0, 2, 111, 107]), TIMEOUT, null);
    assertEqual(text(conn.receive_message(TIMEOUT, null)), 'ok');
    conn.close(null);
    peer.close(null);
});

test('timeout', () => {
    const [a, b] = pair();
    raises(Gio.IOErrorEnum.TIMED_OUT, () => b.receive_message(0, null));
    raises(Gio.IOErrorEnum.TIMED_OUT, () => b.receive_message(1000, null));
    a.send_message(bytes('late'), TIMEOUT, null);
    assertEqual(text(b.receive_message(TIMEOUT, null)), 'late');
});

test('end of stream', () => {
    const [a, b] = pair();
    a.close(null);
    raises(Gio.IOErrorEnum.CONNECTION_CLOSED,
        () => b.receive_message(TIMEOUT, null));
    raises(Gio.IOErrorEnum.CLOSED, () => a.receive_message(0, null));
});

test('properties', () => {
    const varint = Sw.VarIntFraming.new();
    const [a] = pair(varint);
    assert(a.framing === varint, 'framing');
    const mp = Sw.MultiprocessingFraming.new();
    a.framing = mp;
    assert(a.get_framing() === mp, 'framing set');

    assertEqual(a.readable, true, 'readable');
    assertEqual(a.writable, true, 'writable');
    assertEqual(a.close_wrapped, true, 'close-wrapped');
    assert(a.socket instanceof Gio.Socket, 'socket');

    assertEqual(a.max_message_size, 128 * 1024 * 1024, 'max-message-size');
    a.max_message_size = 4096;
    assertEqual(a.get_max_message_size(), 4096, 'max-message-size set');

    assertEqual(a.read_ahead, true, 'read-ahead');
    a.read_ahead = false;
    assertEqual(a.get_read_ahead(), false, 'read-ahead set');

    assertEqual(a.inheritable, false, 'inheritable');
    a.inheritable = true;
    assertEqual(a.get_inheritable(), true, 'inheritable set');
    a.set_inheritable(false);
    assertEqual(a.inheritable, false, 'inheritable cleared');

    let notified = 0;
    a.connect('notify::closed', () => notified++);
    assertEqual(a.closed, false, 'closed');
    assertEqual(a.close(null), true, 'close()');
    assertEqual(a.closed, true, 'closed after close()');
    const context = GLib.MainContext.default();
    while (context.iteration(false))
        ;
    assertEqual(notified, 1, 'notify::closed');
});

test('async round trip', async () => {
    const [a, b] = pair();
    const receiving = b.receive_message_async(GLib.PRIORITY_DEFAULT, null);
    const sent = await a.send_message_async(bytes('async hello'),
        GLib.PRIORITY_DEFAULT, null);
    assertEqual(sent, true, 'sent');
    assertEqual(text(await receiving), 'async hello');
});

test('async receive_messages', async () => {
    const [a, b] = pair();
    const receiving = b.receive_messages_async(10, GLib.PRIORITY_DEFAULT, null);
    await a.send_messages_async([bytes('x'), bytes('y')],
        GLib.PRIORITY_DEFAULT, null);
    assertEqual((await receiving).map(text).join(','), 'x,y', 'batch');
});

run();
