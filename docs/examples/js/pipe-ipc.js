// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Simple IPC: the child sends one message, the parent prints it.
// GJS cannot fork: Sw.spawn() runs this script again with the argument
// `child` and hands it its end of a socket pair.
import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import Sw from 'gi://Sw?version=1';
import System from 'system';

const [script] = GLib.filename_from_uri(import.meta.url);
const framing = Sw.Framing.get_default();

if (System.programArgs[0] === 'child') {
    const childWriter = Sw.Connection.new_from_environment(framing);
    childWriter.send_message(new TextEncoder().encode('Hello world!'), -1, null);
} else {
    const [parentReader, child] = Sw.spawn(['gjs', '-m', script, 'child'],
        framing, Gio.SubprocessFlags.NONE);
    const message = parentReader.receive_message(-1, null);
    print(`Message '${new TextDecoder().decode(message.toArray())}' received`);
    child.wait_check(null);
}
