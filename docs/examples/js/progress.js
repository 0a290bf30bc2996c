// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Progress of a large message: the parent sends 1 MiB to a child and both
// print how far the message has come. No framing of its own: set
// progress-threshold and connect the two signals. How many lines come
// between depends on how the system splits the transfer; the last of each
// side is always 100 %.
// GJS cannot fork: Sw.spawn() runs this script again with the argument
// `child` and hands it its end of a socket pair.
import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import Sw from 'gi://Sw?version=1';
import System from 'system';

const [script] = GLib.filename_from_uri(import.meta.url);
const SIZE = 1024 * 1024;

// Emitted in the thread making the blocking call: "<" sending, ">" receiving.
function progress(arrow) {
    return (connection, done, total) =>
        print(`${arrow} ${(100 * done / total).toFixed(2).padStart(6)}%`);
}

if (System.programArgs[0] === 'child') {
    const childDuplex = Sw.Connection.new_from_environment(Sw.Framing.get_default());
    childDuplex.progress_threshold = SIZE;
    childDuplex.connect('receive-progress', progress('>'));
    print(`Received ${childDuplex.receive_message(-1, null).get_size()} bytes!`);
} else {
    const [parentDuplex, child] = Sw.spawn(['gjs', '-m', script, 'child'],
        Sw.Framing.get_default(), Gio.SubprocessFlags.NONE);
    parentDuplex.progress_threshold = SIZE;
    parentDuplex.connect('send-progress', progress('<'));
    const payload = new Uint8Array(SIZE);
    print(`Sending ${payload.length} bytes!`);
    parentDuplex.send_message(payload, -1, null);
    child.wait_check(null);
}
