// SPDX-License-Identifier: LGPL-2.1-or-later
//
// IPC with MessagePack: the child sends a dictionary, the parent prints it.
// With a codec set, values travel as GLib.Variant; MessagePack's binary
// strings come back as 'ay' (a Uint8Array once unpacked).
// GJS cannot fork: Sw.spawn() runs this script again with the argument
// `child` and hands it its end of a socket pair.
import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import Sw from 'gi://Sw?version=1';
import System from 'system';

const [script] = GLib.filename_from_uri(import.meta.url);

// Prints bytes as text, the way Python prints b'...'.
function show(value) {
    return JSON.stringify(value.recursiveUnpack(),
        (key, v) => v instanceof Uint8Array ? new TextDecoder().decode(v) : v);
}

if (System.programArgs[0] === 'child') {
    const childWriter = Sw.Connection.new_from_environment(Sw.MsgPackFraming.new());
    childWriter.set_codec(Sw.MsgPackCodec.new());
    childWriter.send_value(new GLib.Variant('a{sv}', {
        data: new GLib.Variant('ay', new TextEncoder().encode('Hello world!')),
    }), -1, null);
} else {
    const [parentReader, child] = Sw.spawn(['gjs', '-m', script, 'child'],
        Sw.MsgPackFraming.new(), Gio.SubprocessFlags.NONE);
    parentReader.set_codec(Sw.MsgPackCodec.new());
    print(`Message ${show(parentReader.receive_value(-1, null))} received`);
    child.wait_check(null);
}
