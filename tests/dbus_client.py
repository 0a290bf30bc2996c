#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A D-Bus client for tests/test-dbus.c that uses Gio for the bus and a
plain socket with the VarInt framing of varint_peer.py for the channel: it
calls OpenChannel on the session bus ($DBUS_SESSION_BUS_ADDRESS), sends
three messages through the fd it gets back and checks each echo.
Exit status 0: every echo came back whole; 1: one did not; 2: no fd."""

import os
import socket
import sys

import gi
gi.require_version('Gio', '2.0')
from gi.repository import Gio, GLib  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from varint_peer import encode, read_header, recv_exact  # noqa: E402


def open_channel():
    bus = Gio.bus_get_sync(Gio.BusType.SESSION, None)
    reply, fds = bus.call_with_unix_fd_list_sync(
        'org.socketwrapper.Test', '/org/socketwrapper/Test',
        'org.socketwrapper.Test.Channels', 'OpenChannel', None,
        GLib.VariantType.new('(h)'), Gio.DBusCallFlags.NONE, -1, None, None)
    if fds is None:
        sys.exit(2)
    (handle,) = reply.unpack()
    return fds.get(handle)


def main():
    with socket.socket(fileno=open_channel()) as sock:
        sock.setblocking(True)
        for text in ('one', 'two' * 100, 'three' * 1000):
            payload = text.encode()
            sock.sendall(encode(len(payload)) + payload)
            header = read_header(sock)
            if header is None or recv_exact(sock, header[0]) != payload:
                return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
