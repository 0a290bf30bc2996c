#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# memfd-threshold from PyGObject: a normal GObject property; large bytes
# messages both ways as memfds, received intact as read-only mappings of
# the memfd, and a receiver with the setting off refusing them.

import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import swtap  # noqa: E402
from swtap import Gio, Sw, check, equal, msg, raises  # noqa: E402

THRESHOLD = 64 * 1024


def memfd_mappings():
    """How many mappings of /proc/self/maps are of a message's memfd."""
    with open('/proc/self/maps') as maps:
        return sum('/memfd:sw-message' in line for line in maps)


def payload(size, seed):
    return bytes((i * 31 + seed) % 251 for i in range(256)) * (size // 256)


@swtap.test
def property_defaults_and_notifies():
    a, b = swtap.pair()
    equal(a.props.memfd_threshold, 0)
    seen = []
    a.connect('notify::memfd-threshold', lambda obj, pspec: seen.append(pspec.name))
    a.props.memfd_threshold = THRESHOLD
    equal(a.get_memfd_threshold(), THRESHOLD)
    equal(seen, ['memfd-threshold'])


@swtap.test
def large_messages_both_ways():
    a, b = swtap.pair()
    for end in (a, b):
        end.props.memfd_threshold = THRESHOLD
    before = memfd_mappings()
    for sender, receiver, seed in ((a, b, 1), (b, a, 2)):
        data = payload(4 * 1024 * 1024, seed)
        # From a thread: sent inline, it would not fit the socket.
        thread = threading.Thread(target=sender.send_message,
                                  args=(msg(data), -1, None))
        thread.start()
        received = receiver.receive_message(-1, None)
        thread.join()
        equal(received.get_size(), len(data))
        check(received.get_data() == data, 'the message arrived changed')
        # The bytes are a mapping of the memfd until the GLib.Bytes goes.
        equal(memfd_mappings(), before + 1)
        del received
        equal(memfd_mappings(), before)
    small = payload(THRESHOLD - 256, 3)
    a.send_message(msg(small), -1, None)
    equal(b.receive_message(-1, None).get_data(), small)
    equal(memfd_mappings(), before)


@swtap.test
def receiver_off_refuses():
    a, b = swtap.pair()
    a.props.memfd_threshold = THRESHOLD
    a.send_message(msg(payload(THRESHOLD, 4)), -1, None)
    a.send_message(msg(b'next'), -1, None)
    raises(Gio.IOErrorEnum.NOT_SUPPORTED, b.receive_message, -1, None)
    equal(b.receive_message(-1, None).get_data(), b'next')


@swtap.test
def pipes_ignore_it():
    ok, reader, writer = Sw.pipe(Sw.VarIntFraming.new())
    check(ok)
    for end in (reader, writer):
        end.props.memfd_threshold = 16
    data = payload(4096, 5)
    writer.send_message(msg(data), -1, None)
    equal(reader.receive_message(-1, None).get_data(), data)


if __name__ == '__main__':
    swtap.run()
