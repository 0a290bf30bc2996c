// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Bidirectional IPC: parent and child each send a message and print the
// one they receive.
// GJS cannot fork: Sw.spawn() runs this script again with the argument
// `child` and hands it its end of a (duplex) socket pair.
import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import Sw from 'gi://Sw?version=1';
import System from 'system';

const [script] = GLib.filename_from_uri(import.meta.url);
const framing = Sw.Framing.get_default();
const text = message => new TextDecoder().decode(message.toArray());

if (System.programArgs[0] === 'child') {
    const childDuplex = Sw.Connection.new_from_environment(framing);
    print(`Message '${text(childDuplex.receive_message(-1, null))}' received in child`);
    childDuplex.send_message(new TextEncoder().encode('Hello parent!'), -1, null);
} else {
    const [parentDuplex, child] = Sw.spawn(['gjs', '-m', script, 'child'],
        framing, Gio.SubprocessFlags.NONE);
    parentDuplex.send_message(new TextEncoder().encode('Hello child!'), -1, null);
    print(`Message '${text(parentDuplex.receive_message(-1, null))}' received in parent`);
    child.wait_check(null);
}
