# A D-Bus hand-off, the pattern desktop portals use: the service's
# OpenChannel method returns one end of a fresh socketpair as a file
# descriptor (D-Bus type 'h'); the client wraps it and the two then talk
# directly, with whole messages. Both halves run here, the client in a
# thread with its own bus connection; in a desktop they are two processes.
# Needs a session bus (dbus-run-session python3 dbus-channel.py).
import socket
import threading
import gi
gi.require_version('Sw', '1')
from gi.repository import Gio, GLib, Sw

NAME, PATH = 'org.socketwrapper.Example', '/org/socketwrapper/Example'
INTERFACE = 'org.socketwrapper.Example.Channels'
XML = f'''<node><interface name="{INTERFACE}">
  <method name="OpenChannel"><arg type="h" direction="out"/></method>
</interface></node>'''

def on_message(channel, message):
    print(f'Service received {message.get_data()!r}')
    channel.send(b'Hello client!')
    channel.close()  # ends the receive loop, which lets the channel go

def open_channel(bus, sender, path, interface, method, args, invocation):
    ours, theirs = socket.socketpair()
    channel = Sw.Connection.fromfd(ours)  # a duplicate: close ours
    ours.close()
    fds = Gio.UnixFDList.new_from_array([theirs.detach()])  # the list owns it
    invocation.return_value_with_unix_fd_list(GLib.Variant('(h)', (0,)), fds)
    # Messages come as signals from this main loop; it never blocks.
    channel.connect('message', on_message)
    channel.start_receiving()

def client(address):
    flags = (Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT
             | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION)
    bus = Gio.DBusConnection.new_for_address_sync(address, flags, None, None)
    reply, fds = bus.call_with_unix_fd_list_sync(
        NAME, PATH, INTERFACE, 'OpenChannel', None,
        GLib.VariantType.new('(h)'), Gio.DBusCallFlags.NONE, -1, None, None)
    fd = fds.get(reply.unpack()[0])  # a duplicate we own
    with Sw.Connection.new_for_fd(fd, Sw.Framing.get_default()) as channel:
        channel.send(b'Hello service!')
        print(f'Client received {channel.recv()!r}')

def main():
    loop = GLib.MainLoop()
    address = Gio.dbus_address_get_for_bus_sync(Gio.BusType.SESSION, None)
    bus = Gio.bus_get_sync(Gio.BusType.SESSION, None)
    node = Gio.DBusNodeInfo.new_for_xml(XML)
    bus.register_object(PATH, node.interfaces[0], open_channel)
    thread = threading.Thread(target=lambda: (client(address),
                                              GLib.idle_add(loop.quit)))
    Gio.bus_own_name_on_connection(bus, NAME, Gio.BusNameOwnerFlags.NONE,
                                   lambda *args: thread.start(), None)
    loop.run()
    thread.join()

if __name__ == '__main__':
    main()
