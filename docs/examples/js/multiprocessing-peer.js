// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Talking to a Python multiprocessing.connection.Connection: the child is
// plain Python with no socketwrapper, the parent speaks its framing with
// Sw.MultiprocessingFraming and takes the reply from the receive loop
// (the ::message signal) under a GLib main loop.
import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import Sw from 'gi://Sw?version=1';
import System from 'system';

// The child: its end of the socket pair is the fd named by SOCKETWRAPPER_FD.
const CHILD = `
import multiprocessing.connection, os
with multiprocessing.connection.Connection(int(os.environ['SOCKETWRAPPER_FD'])) as conn:
    print(f"Message '{conn.recv_bytes().decode()}' received in child", flush=True)
    conn.send_bytes(b'Hello parent!')
`;

const [parentDuplex, child] = Sw.spawn(['/usr/bin/python3', '-c', CHILD],
    Sw.MultiprocessingFraming.new(), Gio.SubprocessFlags.NONE);
parentDuplex.send_message(new TextEncoder().encode('Hello child!'), -1, null);

const loop = new GLib.MainLoop(null, false);
let status = 1;
parentDuplex.connect('message', (connection, message) => {
    print(`Message '${new TextDecoder().decode(message.toArray())}' received in parent`);
    connection.stop_receiving();
    status = 0;
    loop.quit();
});
parentDuplex.connect('closed', (connection, remote, error) => {
    logError(error ?? new Error('the child closed the connection'));
    loop.quit();
});
parentDuplex.start_receiving();
loop.run();
child.wait_check(null);
System.exit(status);
