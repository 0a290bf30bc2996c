#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A framing written in Python (Sw.Framing implemented with do_decode and
# do_encode) driving real connections, against the uninstalled typelib.
# Prints TAP.
#
# Notes on PyGObject, checked with 3.42.2 (Debian 12):
# - do_decode receives the buffered bytes as `bytes`. PyGObject 3.42 also
#   passes the array's length as a separate argument (do_decode(self, data,
#   length, state)); newer PyGObject releases hide it (do_decode(self, data,
#   state)). Taking `*args` and the state as args[-1] works with both.
# - The return value is a tuple: (result, state, header_length,
#   payload_length, trailer_length, needed) for decode and (True, header,
#   trailer) for encode, outs in declaration order after the return value.
# - Raising GLib.Error in a vfunc sets the GError of the C caller; any
#   other exception is printed and turns into a zeroed answer (ERROR /
#   FALSE without a GError), which Sw.Framing.decode()/encode() report as
#   G_IO_ERROR_INVALID_DATA / G_IO_ERROR_FAILED.

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import swtap  # noqa: E402
from swtap import TIMEOUT, msg, pair, raises, test  # noqa: E402

from gi.repository import GLib, GObject, Gio, Sw  # noqa: E402

# A first header byte the framing refuses, so the longest payload it
# encodes is 0xfeff bytes.
BAD_BYTE = 0xff
MAX_SIZE = 0xfeff


class TwoByteFraming(GObject.Object, Sw.Framing):
    """A 2-byte big-endian length, then the payload. A first byte of
    BAD_BYTE is refused with a GLib.Error; every answer is logged."""

    def __init__(self):
        super().__init__()
        self.answers = []
        self.encoded = 0

    def do_decode(self, data, *args):
        state = args[-1]  # see the note at the top about the length argument
        if len(data) >= 1 and data[0] == BAD_BYTE:
            self.answers.append(Sw.FramingResult.ERROR)
            raise GLib.Error.new_literal(Gio.io_error_quark(),
                                         'python says: bad header',
                                         Gio.IOErrorEnum.INVALID_DATA)
        if len(data) < 2:
            self.answers.append(Sw.FramingResult.NEED_MORE)
            return (Sw.FramingResult.NEED_MORE, state + 1, 0, 0, 0,
                    2 - len(data))
        self.answers.append(Sw.FramingResult.FRAME)
        return (Sw.FramingResult.FRAME, state, 2, data[0] << 8 | data[1], 0, 0)

    def do_encode(self, payload):
        size = payload.get_size()
        if size > MAX_SIZE:
            raise GLib.Error.new_literal(Gio.io_error_quark(),
                                         'python says: too long',
                                         Gio.IOErrorEnum.MESSAGE_TOO_LARGE)
        self.encoded += 1
        return True, msg(size.to_bytes(2, 'big')), None


class CrashingFraming(GObject.Object, Sw.Framing):
    """Raises a plain Python exception: the receive must still fail
    cleanly."""

    def do_decode(self, data, *args):
        raise ValueError('not a GLib.Error')

    def do_encode(self, payload):
        raise ValueError('not a GLib.Error')


class HugeTrailerFraming(GObject.Object, Sw.Framing):
    """Answers a 2-byte header, a @payload_length payload and a trailer so
    long that header + payload + trailer wraps past 2^64 (to 0 with no
    payload: an endless run of empty messages; to the payload length
    otherwise: a read past the buffer)."""

    def __init__(self, payload_length):
        super().__init__()
        self.payload_length = payload_length

    def do_decode(self, data, *args):
        state = args[-1]
        if len(data) < 2:
            return (Sw.FramingResult.NEED_MORE, state, 0, 0, 0,
                    2 - len(data))
        return (Sw.FramingResult.FRAME, state, 2, self.payload_length,
                2**64 - 2, 0)

    def do_encode(self, payload):
        return True, msg(b''), None


@test
def vfuncs_through_public_methods():
    framing = TwoByteFraming()
    result = framing.decode(b'', 0)
    swtap.equal(result[0], Sw.FramingResult.NEED_MORE, result)
    swtap.equal(result.needed, 2, result)
    swtap.equal(result.state, 1, result)  # the inout state came back

    result = framing.decode(b'\x00\x05hello', 7)
    swtap.equal(result[0], Sw.FramingResult.FRAME, result)
    swtap.equal((result.state, result.header_length, result.payload_length,
            result.trailer_length), (7, 2, 5, 0), result)

    ok, header, trailer = framing.encode(msg(b'hello'))
    swtap.same(ok, True)
    swtap.equal(header.get_data(), b'\x00\x05')
    swtap.same(trailer, None)


@test
def messages_both_ways():
    framing = TwoByteFraming()
    a, b = pair(framing)
    for size in (5, 0, 1, 300, MAX_SIZE):
        data = bytes(i % 251 for i in range(size))
        swtap.same(a.send_message(msg(data), TIMEOUT, None), True)
        swtap.equal(b.receive_message(TIMEOUT, None).get_data(), data)
        swtap.same(b.send_message(msg(data), TIMEOUT, None), True)
        swtap.equal(a.receive_message(TIMEOUT, None).get_data(), data)
    # The Python framing did the work, not a built-in one.
    swtap.equal(framing.encoded, 10, framing.encoded)
    swtap.check(Sw.FramingResult.FRAME in framing.answers)


@test
def header_on_the_wire():
    framing = TwoByteFraming()
    a, b = pair(framing)
    swtap.same(a.send_message(msg(b'hi'), TIMEOUT, None), True)
    raw = b.receive_bytes(4, TIMEOUT, None)
    swtap.equal(raw.get_data(), b'\x00\x02hi', raw.get_data())


@test
def split_frame_needs_more():
    framing = TwoByteFraming()
    a, b = pair(framing)
    swtap.equal(a.send_bytes(msg(b'\x00'), TIMEOUT, None), 1)
    raises(Gio.IOErrorEnum.TIMED_OUT, b.receive_message, 0, None)
    swtap.check(Sw.FramingResult.NEED_MORE in framing.answers, framing.answers)
    swtap.equal(a.send_bytes(msg(b'\x05hel'), TIMEOUT, None), 4)
    raises(Gio.IOErrorEnum.TIMED_OUT, b.receive_message, 0, None)
    swtap.equal(a.send_bytes(msg(b'lo'), TIMEOUT, None), 2)
    swtap.equal(b.receive_message(TIMEOUT, None).get_data(), b'hello')


@test
def decode_glib_error_surfaces():
    framing = TwoByteFraming()
    a, b = pair(framing)
    swtap.equal(a.send_bytes(msg(bytes([BAD_BYTE, 0, 0])), TIMEOUT, None), 3)
    e = raises(Gio.IOErrorEnum.INVALID_DATA, b.receive_message, TIMEOUT, None)
    swtap.check('python says: bad header' in e.message, e.message)


@test
def encode_glib_error_surfaces():
    framing = TwoByteFraming()
    a, b = pair(framing)
    e = raises(Gio.IOErrorEnum.MESSAGE_TOO_LARGE, a.send_message,
               msg(bytes(MAX_SIZE + 1)), TIMEOUT, None)
    swtap.check('python says: too long' in e.message, e.message)
    # Nothing reached the wire: the connection is still usable.
    swtap.same(a.send_message(msg(b'after'), TIMEOUT, None), True)
    swtap.equal(b.receive_message(TIMEOUT, None).get_data(), b'after')


@test
def python_exception_is_an_error():
    framing = CrashingFraming()
    a, b = pair(framing)
    raises(Gio.IOErrorEnum.FAILED, a.send_message, msg(b'x'), TIMEOUT, None)
    swtap.equal(a.send_bytes(msg(b'\x00\x01x'), TIMEOUT, None), 3)
    raises(Gio.IOErrorEnum.INVALID_DATA, b.receive_message, TIMEOUT, None)


@test
def async_round_trip():
    framing = TwoByteFraming()
    a, b = pair(framing)
    loop = GLib.MainLoop()
    results = {}

    def received(conn, res):
        try:
            results['message'] = conn.receive_message_finish(res).get_data()
        finally:
            loop.quit()

    b.receive_message_async(GLib.PRIORITY_DEFAULT, None, received)
    # Split, so the async receive waits inside a frame.
    swtap.equal(a.send_bytes(msg(b'\x00\x0basync'), TIMEOUT, None), 7)
    GLib.idle_add(lambda: a.send_bytes(msg(b' hello'), TIMEOUT, None) and False)
    timeout_id = GLib.timeout_add_seconds(10, loop.quit)
    loop.run()
    GLib.source_remove(timeout_id)
    swtap.equal(results.get('message'), b'async hello', results)


@test
def huge_trailer_is_invalid_data():
    for payload_length in (0, 16):
        a, b = pair(HugeTrailerFraming(payload_length))
        if a.send_bytes(msg(b'\x00\x01'), TIMEOUT, None) != 2:
            raise AssertionError('the peer could not send 2 bytes')
        # Never a message: not an empty one, not bytes from past the buffer.
        for _ in range(2):
            e = raises(Gio.IOErrorEnum.INVALID_DATA, b.receive_message, 0,
                       None)
            if 'HugeTrailerFraming' not in e.message:
                raise AssertionError(f'the error does not name the framing: '
                                     f'{e.message}')


if __name__ == '__main__':
    swtap.run()
