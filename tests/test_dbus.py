#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The D-Bus hand-off from PyGObject, on a private dbus-daemon
# (Gio.TestDBus): a Python service's OpenChannel returns one end of a
# socketpair as a handle; clients in other Python processes wrap it with
# Sw.Connection.new_for_fd() and exchange JSON values through it while the
# service's receive loops echo them. Also runs the documentation's example
# against the same bus. Run with --client, this script is such a client.

import os
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import swtap  # noqa: E402
from swtap import GLib, Gio, Sw, check, equal  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLE = os.path.join(HERE, '..', 'docs', 'examples', 'python',
                       'dbus-channel.py')
NAME, PATH = 'org.socketwrapper.Test', '/org/socketwrapper/Test'
INTERFACE = 'org.socketwrapper.Test.Channels'
XML = f'''<node><interface name="{INTERFACE}">
  <method name="OpenChannel"><arg type="h" direction="out"/></method>
</interface></node>'''
VALUES = [{'n': 1, 'text': 'one'}, [1, 2.5, True, None], 'three' * 1000]


def client(count):
    """The --client mode: OpenChannel, then @count values and their
    echoes; count 0 drops the channel at once. Exit 1 on a bad echo."""
    bus = Gio.bus_get_sync(Gio.BusType.SESSION, None)
    reply, fds = bus.call_with_unix_fd_list_sync(
        NAME, PATH, INTERFACE, 'OpenChannel', None,
        GLib.VariantType.new('(h)'), Gio.DBusCallFlags.NONE, -1, None, None)
    channel = Sw.Connection.new_for_fd(fds.get(reply.unpack()[0]),
                                       Sw.Framing.get_default())
    channel.set_codec(Sw.JsonCodec.new())
    for value in VALUES[:count]:
        channel.send(value)
        if channel.recv() != value:
            return 1
    channel.close()
    return 0


class Service:
    """The service: every channel echoes values in its receive loop and
    reports its end once; done() is called when @expected channels
    ended."""

    def __init__(self, bus, expected, done):
        self.channels = []
        self.ended = []
        self.expected, self.done = expected, done
        node = Gio.DBusNodeInfo.new_for_xml(XML)
        bus.register_object(PATH, node.interfaces[0], self.open_channel)

    def open_channel(self, bus, sender, path, interface, method, args,
                     invocation):
        ours, theirs = socket.socketpair()
        channel = Sw.Connection.fromfd(ours, codec=Sw.JsonCodec)
        ours.close()
        fds = Gio.UnixFDList.new_from_array([theirs.detach()])
        invocation.return_value_with_unix_fd_list(GLib.Variant('(h)', (0,)),
                                                  fds)
        channel.connect('value', lambda conn, value: conn.send(value))
        channel.connect('closed', self.on_closed)
        channel.start_receiving()
        self.channels.append(channel)

    def on_closed(self, channel, remote, error):
        self.ended.append((remote, error))
        if len(self.ended) == self.expected:
            self.done(None)


def start_bus():
    dbus = Gio.TestDBus.new(Gio.TestDBusFlags.NONE)
    dbus.up()
    address = dbus.get_bus_address()
    flags = (Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT
             | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION)
    bus = Gio.DBusConnection.new_for_address_sync(address, flags, None, None)
    reply = bus.call_sync('org.freedesktop.DBus', '/org/freedesktop/DBus',
                          'org.freedesktop.DBus', 'RequestName',
                          GLib.Variant('(su)', (NAME, 4)),
                          GLib.VariantType.new('(u)'),
                          Gio.DBusCallFlags.NONE, -1, None)
    equal(reply.unpack(), (1,), 'the name is ours')
    return dbus, address, bus


def spawn(address, *args):
    env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=address,
               PYTHONUNBUFFERED='1')
    return subprocess.Popen(['/usr/bin/python3', *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


@swtap.test
def clients_in_other_processes():
    """Three client processes, one of which drops its channel without a
    word: each channel ends once, by its peer, and the others are served
    to the end."""
    dbus, address, bus = start_bus()
    counts = [3, 0, 2]
    children = []
    services = []

    def start(done):
        services.append(Service(bus, len(counts), done))
        children.extend(spawn(address, __file__, '--client', str(count))
                        for count in counts)

    swtap.run_loop(start)
    for child in children:
        out, err = child.communicate(timeout=60)
        equal(child.returncode, 0, err)
    service = services[0]
    equal(len(service.channels), 3, 'channels opened')
    equal(service.ended, [(True, None)] * 3, 'ends')
    bus.close_sync(None)
    dbus.down()


@swtap.test
def the_documentation_example():
    dbus, address, bus = start_bus()
    bus.close_sync(None)
    child = spawn(address, EXAMPLE)
    out, err = child.communicate(timeout=60)
    equal(child.returncode, 0, err)
    equal(out.splitlines(), ["Service received b'Hello service!'",
                             "Client received b'Hello client!'"])
    dbus.down()


if __name__ == '__main__':
    if sys.argv[1:2] == ['--client']:
        sys.exit(client(int(sys.argv[2])))
    swtap.run()
