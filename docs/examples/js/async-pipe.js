// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Simple IPC with Promises: the child sends one message, the parent
// prints it, both with await under a GLib main loop.
// GJS cannot fork: Sw.spawn() runs this script again with the argument
// `child` and hands it its end of a socket pair.
import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import Sw from 'gi://Sw?version=1';
import System from 'system';

Gio._promisify(Sw.Connection.prototype, 'send_message_async', 'send_message_finish');
Gio._promisify(Sw.Connection.prototype, 'receive_message_async', 'receive_message_finish');
Gio._promisify(Gio.Subprocess.prototype, 'wait_check_async', 'wait_check_finish');

const [script] = GLib.filename_from_uri(import.meta.url);
const framing = Sw.Framing.get_default();

async function parent() {
    const [parentReader, child] = Sw.spawn(['gjs', '-m', script, 'child'],
        framing, Gio.SubprocessFlags.NONE);
    const message = await parentReader.receive_message_async(GLib.PRIORITY_DEFAULT, null);
    print(`Message '${new TextDecoder().decode(message.toArray())}' received`);
    await child.wait_check_async(null);
}

async function child() {
    const childWriter = Sw.Connection.new_from_environment(framing);
    await childWriter.send_message_async(new TextEncoder().encode('Hello world!'),
        GLib.PRIORITY_DEFAULT, null);
}

const loop = new GLib.MainLoop(null, false);
let status = 0;
(System.programArgs[0] === 'child' ? child() : parent())
    .catch(e => { logError(e); status = 1; })
    .finally(() => loop.quit());
loop.run();
System.exit(status);
