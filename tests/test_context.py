#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A PyGObject application with a receive always pending in its main loop:
# blocking calls from its callbacks fail with PENDING instead of hanging,
# settings never wait, close() from a callback completes the pending call,
# and notifications arrive in the main thread.

import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import swtap  # noqa: E402
from swtap import GLib, Gio, Sw, PRIORITY, check, msg, pair, raises  # noqa: E402

PENDING = Gio.IOErrorEnum.PENDING


@swtap.test
def blocking_calls_behind_pending_receive_raise_pending():
    a, b = pair()

    def start(done):
        def on_received(conn, result):
            done(conn.receive_message_finish(result).get_data())

        b.receive_message_async(PRIORITY, None, swtap.guarded(done, on_received))
        e = raises(PENDING, b.receive_message, -1, None)
        check('receive_message_async' in e.message, e.message)
        raises(PENDING, b.receive_message, 0, None)
        raises(PENDING, b.steal_buffered_input)
        a.send_message(msg(b'after'), -1, None)

    received = swtap.run_loop(start)
    check(received == b'after', received)


@swtap.test
def settings_from_a_callback_never_wait():
    a, b = pair()
    mp = Sw.MultiprocessingFraming.new()

    def start(done):
        def on_received(conn, result):
            done(conn.receive_message_finish(result).get_data())

        b.receive_message_async(PRIORITY, None, swtap.guarded(done, on_received))
        b.props.read_ahead = False
        b.set_max_message_size(1000)
        b.props.framing = mp
        check(b.get_framing() is mp and b.dup_framing() is mp, 'framing')
        check(b.props.max_message_size == 1000, 'max-message-size')
        # The pending receive reads the next frame with the new framing.
        a.props.framing = mp
        a.send_message(msg(b'framed anew'), -1, None)

    received = swtap.run_loop(start)
    check(received == b'framed anew', received)


@swtap.test
def close_from_a_callback_completes_the_pending_receive():
    a, b = pair()
    notified = []
    b.connect('notify::closed',
              lambda conn, pspec: notified.append(threading.get_ident()))

    def start(done):
        def on_received(conn, result):
            try:
                conn.receive_message_finish(result)
            except GLib.Error as e:
                done([e])
                return
            done(None)

        b.receive_message_async(PRIORITY, None, swtap.guarded(done, on_received))
        check(b.close(None) is True, 'close')

    [error] = swtap.run_loop(start)
    check(isinstance(error, GLib.Error)
          and error.matches(Gio.io_error_quark(), Gio.IOErrorEnum.CLOSED), error)
    check(notified == [threading.get_ident()], notified)


@swtap.test
def shutdown_write_async_notifies_before_its_callback():
    a, b = pair()
    events = []
    a.connect('notify::writable', lambda conn, pspec: events.append('notify'))
    a.send_message(msg(b'last'), -1, None)

    def start(done):
        def on_shut(conn, result):
            events.append('callback')
            done(conn.shutdown_write_finish(result))

        a.shutdown_write_async(PRIORITY, None, swtap.guarded(done, on_shut))

    check(swtap.run_loop(start) is True, 'shutdown_write_finish')
    check(events == ['notify', 'callback'], events)
    check(b.receive_message(swtap.TIMEOUT, None).get_data() == b'last', 'last')
    raises(Gio.IOErrorEnum.CONNECTION_CLOSED, b.receive_message, swtap.TIMEOUT, None)


@swtap.test
def receive_loop_emits_messages_then_closed():
    a, b = pair()
    got = []
    closed = []
    b.connect('message', lambda conn, message: got.append(message.get_data()))
    b.connect('closed', lambda conn, remote, error: closed.append((remote, error)))
    a.send_messages([msg(b'one'), msg(b'two'), msg(b'three')], -1, None)
    a.close(None)

    def start(done):
        b.connect('notify::receiving',
                  lambda conn, pspec: conn.props.receiving or done(None))
        b.start_receiving()

    swtap.run_loop(start)
    check(got == [b'one', b'two', b'three'], got)
    check(closed == [(True, None)], closed)


@swtap.test
def receive_loop_stops_from_a_handler():
    a, b = pair()
    got = []

    def on_message(conn, message):
        got.append(message.get_data())
        conn.stop_receiving()

    b.connect('message', on_message)
    a.send_messages([msg(b'first'), msg(b'second')], -1, None)

    def start(done):
        b.connect('notify::receiving',
                  lambda conn, pspec: conn.props.receiving or done(None))
        b.start_receiving()

    swtap.run_loop(start)
    check(got == [b'first'], got)
    check(b.receive_message(swtap.TIMEOUT, None).get_data() == b'second', 'second')


if __name__ == '__main__':
    swtap.run()
