// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Connection handling: a Gio.SocketService accepts TCP connections and
// each accepted connection is wrapped with Sw.Connection.new_for_stream();
// a client in the same program connects and prints what it receives.
// No framing (null), as in the package: raw bytes.
import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import Sw from 'gi://Sw?version=1';
import System from 'system';

for (const name of ['send_bytes', 'receive_bytes', 'close'])
    Gio._promisify(Sw.Connection.prototype, `${name}_async`, `${name}_finish`);
Gio._promisify(Gio.SocketClient.prototype, 'connect_async', 'connect_finish');

async function handle(connection) {
    const sock = Sw.Connection.new_for_stream(connection, null);
    try {
        await sock.send_bytes_async(new TextEncoder().encode('message'),
            GLib.PRIORITY_DEFAULT, null);
    } finally {
        await sock.close_async(GLib.PRIORITY_DEFAULT, null);
    }
}

async function main() {
    const server = new Gio.SocketService();
    // Port 0: the system picks a free one (the package binds port 8080).
    const [, address] = server.add_address(
        Gio.InetSocketAddress.new_from_string('127.0.0.1', 0),
        Gio.SocketType.STREAM, Gio.SocketProtocol.TCP, null);
    server.connect('incoming', (service, connection) => {
        handle(connection).catch(logError);
        return true;
    });
    server.start();

    const connection = await new Gio.SocketClient().connect_async(address, null);
    const client = Sw.Connection.new_for_stream(connection, null);
    const message = await client.receive_bytes_async(-1, GLib.PRIORITY_DEFAULT, null);
    print(new TextDecoder().decode(message.toArray()));
    await client.close_async(GLib.PRIORITY_DEFAULT, null);

    server.stop();  // stop accepting connections
    server.close();
}

const loop = new GLib.MainLoop(null, false);
let status = 0;
main().catch(e => { logError(e); status = 1; }).finally(() => loop.quit());
loop.run();
System.exit(status);
