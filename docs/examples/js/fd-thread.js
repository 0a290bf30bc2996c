// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Handing a connection's fd to other code, as the package hands it to
// another interpreter. GJS has no threads: here the "other side" is a
// second connection in the same program, made from the fd number alone.
// new_for_borrowed_fd() works on a duplicate, so the fd stays the
// writer's and is never closed twice (new_for_fd() would take it).
import Sw from 'gi://Sw?version=1';

function child(childFileno) {
    const childWriter = Sw.Connection.new_for_borrowed_fd(childFileno,
        Sw.Framing.get_default());
    childWriter.send_message(new TextEncoder().encode('Hello World'), -1, null);
    childWriter.close(null);
}

const [, parentReader, childWriter] = Sw.pipe(Sw.Framing.get_default());
child(childWriter.get_fd());
const message = parentReader.receive_message(-1, null);
print(`Message '${new TextDecoder().decode(message.toArray())}' received`);
