#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Sw.Service and Sw.connect() from PyGObject: an echo service on TCP, on
# TLS with the test authority (tls-ca.pem, see make-tls-certs.sh) and on
# an abstract UNIX address; clients blocking in a thread (the Pythonic
# send/recv) or async in the service's main loop; a wrong authority.

import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import swtap  # noqa: E402
from swtap import (GLib, Gio, Sw, check, equal, iterate_until,  # noqa: E402
                   msg, run_loop)

HERE = os.path.dirname(os.path.abspath(__file__))
PRIORITY = GLib.PRIORITY_DEFAULT


class Echo:
    """An echo Sw.Service on @address that counts what it saw."""

    def __init__(self, address, tls=False):
        self.service = Sw.Service.new(Sw.VarIntFraming.new())
        self.connections = 0
        self.errors = []
        if tls:
            path = os.path.join(HERE, 'tls-server.pem')
            self.certificate = Gio.TlsCertificate.new_from_file(path)
            self.service.props.tls_certificate = self.certificate
        ok, self.address = self.service.add_address(
            address, Gio.SocketType.STREAM, Gio.SocketProtocol.DEFAULT, None)
        check(ok)
        self.service.connect('connection', self.on_connection)
        self.service.connect('error', self.on_error)

    def on_connection(self, service, connection):
        self.connections += 1
        # The receive loop holds the connection while it runs.
        connection.connect('message', self.on_message)
        connection.connect('closed', lambda c, remote, error: c.close())
        connection.start_receiving()

    @staticmethod
    def on_message(connection, message):
        connection.send_message_async(message, PRIORITY, None, None)

    def on_error(self, service, error):
        self.errors.append(error)

    def connectable(self, host='127.0.0.1'):
        port = self.address.get_port()
        return Gio.NetworkAddress.parse(f'{host}:{port}', 0)

    def close(self):
        self.service.stop()
        self.service.close()


def ca(name='tls-ca.pem'):
    return Gio.TlsFileDatabase.new(os.path.join(HERE, name))


def loopback():
    return Gio.InetSocketAddress.new_from_string('127.0.0.1', 0)


def in_thread(func):
    """Runs func() in a thread while this one runs the service; returns
    its result or raises its exception."""
    outcome = []

    def run():
        try:
            outcome.append((True, func()))
        except Exception as e:
            outcome.append((False, e))
        GLib.MainContext.default().wakeup()

    thread = threading.Thread(target=run)
    thread.start()
    iterate_until(lambda: outcome)
    thread.join()
    ok, value = outcome[0]
    if not ok:
        raise value
    return value


@swtap.test
def test_tcp_blocking_client():
    echo = Echo(loopback())

    def client():
        with Sw.connect(echo.connectable(), Sw.VarIntFraming.new(),
                        Sw.ConnectFlags.NONE, None, None) as conn:
            replies = []
            for data in (b'hello', b'', b'x' * 100000):
                conn.send(data)
                replies.append(conn.recv())
            return replies

    equal(in_thread(client), [b'hello', b'', b'x' * 100000])
    equal(echo.connections, 1)
    equal(echo.errors, [])
    echo.close()


@swtap.test
def test_tls_async_clients():
    echo = Echo(loopback(), tls=True)
    database = ca()
    n_clients = 5
    replies = []

    def start(done):
        def on_received(conn, result, index):
            replies.append(conn.receive_message_finish(result).get_data())
            conn.close(None)
            if len(replies) == n_clients:
                done(None)

        def on_connected(source, result, index):
            conn = Sw.connect_finish(result)
            conn.send_message_async(msg(b'client %d' % index), PRIORITY,
                                    None, None)
            conn.receive_message_async(PRIORITY, None, on_received, index)

        for index in range(n_clients):
            Sw.connect_async(echo.connectable(), Sw.VarIntFraming.new(),
                             Sw.ConnectFlags.TLS, database, PRIORITY, None,
                             on_connected, index)

    run_loop(start)
    equal(sorted(replies), [b'client %d' % i for i in range(n_clients)])
    equal(echo.connections, n_clients)
    equal(echo.errors, [])
    echo.close()


@swtap.test
def test_tls_wrong_ca():
    echo = Echo(loopback(), tls=True)
    other = ca('tls-other-ca.pem')

    def client():
        Sw.connect(echo.connectable('localhost'), None, Sw.ConnectFlags.TLS,
                   other, None)

    try:
        in_thread(client)
    except GLib.Error as e:
        check(e.matches(Gio.tls_error_quark(),
                        Gio.TlsError.BAD_CERTIFICATE), e.message)
        check('not signed by a trusted authority' in e.message, e.message)
    else:
        raise AssertionError('a wrong authority was accepted')
    # The service saw the client give up, once, and handed nothing out.
    iterate_until(lambda: echo.errors)
    equal(len(echo.errors), 1)
    equal(echo.connections, 0)
    echo.close()


@swtap.test
def test_abstract_unix():
    name = f'sw-test-service-py-{os.getpid()}'
    address = Gio.UnixSocketAddress.new_with_type(
        name.encode(), Gio.UnixSocketAddressType.ABSTRACT)
    echo = Echo(address)

    def client():
        with Sw.connect(address, Sw.VarIntFraming.new(), Sw.ConnectFlags.NONE,
                        None, None) as conn:
            conn.send(b'over an abstract address')
            return conn.recv()

    equal(in_thread(client), b'over an abstract address')
    echo.close()


swtap.run()
