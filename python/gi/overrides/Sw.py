# SPDX-License-Identifier: LGPL-2.1-or-later
#
# PyGObject overrides for Sw: the introspected API stays as it is, and
# Python code also gets bytes-like messages, timeouts in seconds, plain
# Python values with a codec, asyncio coroutines, iteration, context
# managers and exceptions derived from EOFError and TimeoutError.
# docs/python.md describes it.

import asyncio
import collections
import errno
import math
import os
import socket
import threading

from gi.repository import GLib, Gio

from ..module import get_introspection_module
from ..overrides import override

Sw = get_introspection_module('Sw')

__all__ = []

_IO_ERROR = Gio.io_error_quark()
_MAX_INT64 = 2 ** 63 - 1
_MAX_UINT64 = 2 ** 64 - 1


# ---------------------------------------------------------------------------
# Exceptions


class _StreamError(GLib.Error):
    def __init__(self, message, domain, code, data=b''):
        super().__init__(message, domain, code)
        self.data = data

    def __repr__(self):
        return (f'Sw.{type(self).__name__}({self.message!r}, '
                f'{self.domain!r}, {self.code}, data={self.data!r})')


class StreamEOFError(_StreamError, EOFError):
    """The stream ended: %G_IO_ERROR_CONNECTION_CLOSED at a message
    boundary (.data is b''), or %G_IO_ERROR_PARTIAL_INPUT inside a frame
    (.data is the part of the payload that arrived, without the header;
    those bytes have been taken out of the connection)."""


class StreamTimeoutError(_StreamError, TimeoutError):
    """A call ran out of time (%G_IO_ERROR_TIMED_OUT). A receive keeps the
    bytes of a partly received frame in the connection, so the next receive
    returns the whole message: .data is always b''."""


__all__ += ['StreamEOFError', 'StreamTimeoutError']


def _strip_header(framing, data):
    """The payload part of @data, the start of one frame of @framing."""
    if framing is None:
        return data
    try:
        result = framing.decode(data, 0)
        if result[0] == Sw.FramingResult.FRAME:
            start = result.header_length
            return data[start:start + result.payload_length]
        # Not even a whole header yet: a framing with headers has no
        # payload bytes in @data; a scanning one (no header) has only those.
        header = framing.encode(GLib.Bytes.new(b''))[1]
        return data if header.get_size() == 0 else b''
    except GLib.Error:
        return data


def _typed_error(connection, error):
    """@error as a StreamEOFError or StreamTimeoutError when it is one of
    those, else @error itself."""
    if error.matches(_IO_ERROR, Gio.IOErrorEnum.TIMED_OUT):
        return StreamTimeoutError(error.message, error.domain, error.code)
    if error.matches(_IO_ERROR, Gio.IOErrorEnum.CONNECTION_CLOSED):
        return StreamEOFError(error.message, error.domain, error.code)
    if error.matches(_IO_ERROR, Gio.IOErrorEnum.PARTIAL_INPUT):
        try:
            data = connection.steal_buffered_input().get_data()
        except GLib.Error:
            data = b''
        data = _strip_header(connection.get_framing(), data)
        return StreamEOFError(error.message, error.domain, error.code, data)
    return error


# ---------------------------------------------------------------------------
# Conversions


def _gbytes(data):
    """@data (GLib.Bytes or any bytes-like object) as GLib.Bytes."""
    if isinstance(data, GLib.Bytes):
        return data
    if isinstance(data, bytes):
        return GLib.Bytes.new(data)
    if isinstance(data, (bytearray, memoryview)):
        return GLib.Bytes.new(bytes(data))
    raise TypeError('a message must be bytes, bytearray, memoryview or '
                    f'GLib.Bytes, not {type(data).__name__}')


def _timeout_us(timeout):
    """A timeout in seconds (None: for ever) in microseconds."""
    if timeout is None:
        return -1
    if not timeout >= 0:  # also refuses NaN
        raise ValueError(f'timeout must be None or >= 0 seconds, '
                         f'not {timeout!r}')
    if math.isinf(timeout):
        return -1
    return math.ceil(timeout * 1000000)


def to_variant(value):
    """A GLib.Variant for a plain Python value, in the codecs' mapping:
    None → an empty `mv`, bool → `b`, int → `x` (`t` above the int64
    range), float → `d`, str → `s`, bytes-like → `ay`, dict → `a{sv}`
    (`a(vv)` when a key is not a str), list and tuple → `av`. A
    GLib.Variant is taken as it is."""
    if isinstance(value, GLib.Variant):
        return value
    if value is None:
        return GLib.Variant.new_maybe(GLib.VariantType.new('v'), None)
    if isinstance(value, bool):
        return GLib.Variant.new_boolean(value)
    if isinstance(value, int):
        if -_MAX_INT64 - 1 <= value <= _MAX_INT64:
            return GLib.Variant.new_int64(value)
        if 0 <= value <= _MAX_UINT64:
            return GLib.Variant.new_uint64(value)
        raise OverflowError(f'{value} does not fit in 64 bits')
    if isinstance(value, float):
        return GLib.Variant.new_double(value)
    if isinstance(value, str):
        return GLib.Variant.new_string(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return GLib.Variant.new_from_bytes(GLib.VariantType.new('ay'),
                                           GLib.Bytes.new(bytes(value)), True)
    if isinstance(value, dict):
        return _dict_to_variant(value)
    if isinstance(value, (list, tuple)):
        return GLib.Variant('av', [to_variant(item) for item in value])
    raise TypeError(f'cannot send a {type(value).__name__} as a value')


def _dict_to_variant(value):
    if all(isinstance(key, str) for key in value):
        return GLib.Variant('a{sv}', {key: to_variant(item)
                                      for key, item in value.items()})
    return GLib.Variant('a(vv)', [(to_variant(key), to_variant(item))
                                  for key, item in value.items()])


def from_variant(variant):
    """The plain Python value of a GLib.Variant, the reverse of
    to_variant(): maybes are None or their value, variants their content,
    `ay` bytes, `a{..}` and `a(vv)` dicts, other arrays lists (tuples
    when they are dict keys), tuples tuples, every integer type int, `o`
    and `g` str."""
    type_string = variant.get_type_string()
    head = type_string[0]
    if head == 'v':
        return from_variant(variant.get_variant())
    if head == 'm':
        inner = variant.get_maybe()
        return None if inner is None else from_variant(inner)
    if type_string == 'ay':
        return variant.get_data_as_bytes().get_data()
    if head == 'a':
        return _array_from_variant(variant, type_string)
    if head == '(':
        return tuple(from_variant(variant.get_child_value(i))
                     for i in range(variant.n_children()))
    return variant.unpack()


def _array_from_variant(variant, type_string):
    children = (variant.get_child_value(i)
                for i in range(variant.n_children()))
    if type_string[1] == '{' or type_string == 'a(vv)':
        return dict((_key(from_variant(entry.get_child_value(0))),
                     from_variant(entry.get_child_value(1)))
                    for entry in children)
    return [from_variant(child) for child in children]


def _key(value):
    """A dict key Python can hash: the codecs carry tuple and frozenset
    keys as arrays, which from_variant() makes lists; as keys they are
    tuples."""
    if isinstance(value, list):
        return tuple(_key(item) for item in value)
    return value


def _framing(framing):
    """A framing argument: True for the default (VarInt) framing, False or
    None for none, an Sw.Framing, or an Sw.Framing class to instantiate."""
    if framing is True:
        return Sw.Framing.get_default()
    if framing is False or framing is None:
        return None
    if isinstance(framing, type):
        return framing()
    return framing


def _codec(codec):
    """A codec argument: None, an Sw.Codec or an Sw.Codec class."""
    return codec() if isinstance(codec, type) else codec


__all__ += ['to_variant', 'from_variant']


# ---------------------------------------------------------------------------
# The asyncio bridge


class _Bridge:
    """One helper thread iterating a private GMainContext, pushed as its
    thread-default context: an _async call started there completes there,
    whether or not any GLib main loop runs elsewhere."""

    def __init__(self):
        self.context = GLib.MainContext.new()
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,),
                                       name='Sw-asyncio', daemon=True)
        self.thread.start()
        ready.wait()

    def _run(self, ready):
        self.context.push_thread_default()
        ready.set()
        while True:
            self.context.iteration(True)

    def call(self, func):
        """Runs func() in the helper thread."""
        def once(*unused):
            func()
            return GLib.SOURCE_REMOVE

        source = GLib.idle_source_new()
        source.set_callback(once)
        source.attach(self.context)


_bridge = None
_bridge_lock = threading.Lock()


def _get_bridge():
    global _bridge
    with _bridge_lock:
        if _bridge is None:
            _bridge = _Bridge()
        return _bridge


def _forget_bridge():
    # A forked child has none of its parent's threads.
    global _bridge, _bridge_lock
    _bridge = None
    _bridge_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_bridge)


async def _bridged(start, finish, orphan):
    """Runs an _async call in the helper thread and awaits its result.
    start(cancellable, callback) begins it, finish(result) returns its
    value or raises. Cancelling the awaiting task cancels the call and
    waits for it to end; a value it still produced goes to orphan(), so
    nothing is lost."""
    loop = asyncio.get_running_loop()
    future = loop.create_future()
    cancellable = Gio.Cancellable.new()

    def settle(outcome):
        if not future.done():
            future.set_result(outcome)

    def deliver(outcome):
        try:
            loop.call_soon_threadsafe(settle, outcome)
        except RuntimeError:  # the event loop is closed
            if outcome[0]:
                orphan(outcome[1])

    def callback(source, result, *unused):
        try:
            deliver((True, finish(result)))
        except Exception as e:
            deliver((False, e))

    def begin():
        try:
            start(cancellable, callback)
        except Exception as e:
            deliver((False, e))

    _get_bridge().call(begin)
    try:
        succeeded, value = await asyncio.shield(future)
    except asyncio.CancelledError:
        cancellable.cancel()
        succeeded, value = await _uncancellable(future)
        if succeeded:
            orphan(value)
        raise
    if succeeded:
        return value
    raise value


async def _uncancellable(future):
    while True:
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            continue


# ---------------------------------------------------------------------------
# Connection


def _with_message(name):
    """The introspected method @name, taking any bytes-like message first."""
    original = getattr(Sw.Connection, name)

    def method(self, message, *args, **kwargs):
        return original(self, _gbytes(message), *args, **kwargs)

    method.__name__ = name
    method.__doc__ = original.__doc__
    return method


def _property(name, writable=True):
    getter = getattr(Sw.Connection, 'get_' + name)
    setter = getattr(Sw.Connection, 'set_' + name) if writable else None
    return property(getter, setter, doc=f'The {name} property.')


_UNSET = object()


class Connection(Sw.Connection):
    """Sw.Connection with a Pythonic layer: see docs/python.md."""

    send_message_async = _with_message('send_message_async')
    send_bytes_async = _with_message('send_bytes_async')

    framing = _property('framing')
    codec = _property('codec')
    inheritable = _property('inheritable')
    max_message_size = _property('max_message_size')
    read_ahead = _property('read_ahead')
    progress_threshold = _property('progress_threshold')
    readable = _property('readable', writable=False)
    writable = _property('writable', writable=False)
    closed = _property('closed', writable=False)
    socket = _property('socket', writable=False)

    @classmethod
    def fromfd(cls, fd, framing=True, codec=None):
        """A connection on a duplicate of @fd (an int, or an object with a
        fileno() method such as a socket or a multiprocessing Connection):
        the caller keeps its own fd and closes it when it likes."""
        fd = os.dup(fd if isinstance(fd, int) else fd.fileno())
        try:
            connection = Sw.Connection.new_for_fd(fd, _framing(framing))
        except BaseException:
            os.close(fd)
            raise
        if codec is not None:
            connection.set_codec(_codec(codec))
        return connection

    # The introspected calls, taking bytes-like messages and defaults.

    def send_message(self, message, timeout_us=-1, cancellable=None):
        return super().send_message(_gbytes(message), timeout_us,
                                    cancellable)

    def send_messages(self, messages, timeout_us=-1, cancellable=None):
        return super().send_messages([_gbytes(m) for m in messages],
                                     timeout_us, cancellable)

    def send_messages_async(self, messages, *args, **kwargs):
        return super().send_messages_async([_gbytes(m) for m in messages],
                                           *args, **kwargs)

    def receive_messages(self, max_messages, timeout_us=-1, cancellable=None):
        """A list of 1 to @max_messages GLib.Bytes, as receive_message()
        returns one: every message ready once the first is complete."""
        return list(super().receive_messages(max_messages, timeout_us,
                                             cancellable))

    def receive_messages_finish(self, result):
        return list(super().receive_messages_finish(result))

    def send_bytes(self, data, timeout_us=-1, cancellable=None, *,
                   timeout=_UNSET):
        """Sends raw bytes, ignoring the framing; returns how many were
        written. `timeout=` in seconds replaces @timeout_us."""
        if timeout is not _UNSET:
            timeout_us = _timeout_us(timeout)
        try:
            return super().send_bytes(_gbytes(data), timeout_us, cancellable)
        except GLib.Error as e:
            raise _typed_error(self, e) from None

    # The Pythonic calls.

    def fileno(self):
        """The file descriptor the connection does its I/O on."""
        return self.get_fd()

    def send(self, data, timeout=None):
        """Sends one message: bytes-like data, or with a codec any value
        to_variant() takes. @timeout in seconds, None for ever."""
        try:
            if self.get_codec() is not None:
                self.send_value(to_variant(data), _timeout_us(timeout), None)
            elif self.get_framing() is None:
                self._send_all(_gbytes(data), _timeout_us(timeout))
            else:
                self.send_message(data, _timeout_us(timeout), None)
        except GLib.Error as e:
            raise _typed_error(self, e) from None

    def _send_all(self, data, timeout_us):
        # Without a framing a message is its bytes: all of them.
        self._check_written(data, Sw.Connection.send_bytes(
            self, data, timeout_us, None))

    @staticmethod
    def _check_written(data, written):
        if written != data.get_size():
            raise StreamTimeoutError('Timed out after a partial write',
                                     GLib.quark_to_string(_IO_ERROR),
                                     int(Gio.IOErrorEnum.TIMED_OUT))

    def recv(self, timeout=None):
        """Receives one message as bytes, or with a codec as a plain value
        (from_variant()); without a framing, the first bytes available.
        @timeout in seconds, None for ever. Raises StreamEOFError at the
        end of the stream, StreamTimeoutError when out of time."""
        held = self._held_values()
        if held:
            return held.popleft()
        try:
            return self._receive(_timeout_us(timeout))
        except GLib.Error as e:
            raise _typed_error(self, e) from None

    def _receive(self, timeout_us):
        if self.get_codec() is not None:
            return from_variant(self.receive_value(timeout_us, None))
        if self.get_framing() is None:
            return self.receive_bytes(-1, timeout_us, None).get_data()
        return self.receive_message(timeout_us, None).get_data()

    def recv_bytes(self, size=None, timeout=None):
        """Receives raw bytes, ignoring the framing: exactly @size, or the
        first bytes available when None. @timeout in seconds."""
        size = -1 if size is None else size
        try:
            return self.receive_bytes(size, _timeout_us(timeout),
                                      None).get_data()
        except GLib.Error as e:
            raise _typed_error(self, e) from None

    async def send_async(self, data):
        """send() as a coroutine for asyncio. Cancelling the task cancels
        the send: the message is then sent whole if its first byte was
        already written (the library's commit rule), else not at all."""
        if self.get_codec() is not None:
            value = to_variant(data)
            start = (lambda cancellable, callback: self.send_value_async(
                value, GLib.PRIORITY_DEFAULT, cancellable, callback))
            finish = self.send_value_finish
        elif self.get_framing() is None:
            message = _gbytes(data)
            start = (lambda cancellable, callback: self.send_bytes_async(
                message, GLib.PRIORITY_DEFAULT, cancellable, callback))
            finish = (lambda result: self._check_written(
                message, self.send_bytes_finish(result)))
        else:
            message = _gbytes(data)
            start = (lambda cancellable, callback: self.send_message_async(
                message, GLib.PRIORITY_DEFAULT, cancellable, callback))
            finish = self.send_message_finish
        await _bridged(start, self._finishing(finish), lambda value: None)

    async def recv_async(self):
        """recv() as a coroutine for asyncio. Cancelling the task cancels
        the receive; a message it still received is returned by the next
        recv() or recv_async()."""
        held = self._held_values()
        if held:
            return held.popleft()
        if self.get_codec() is not None:
            start = (lambda cancellable, callback: self.receive_value_async(
                GLib.PRIORITY_DEFAULT, cancellable, callback))
            finish = (lambda result:
                      from_variant(self.receive_value_finish(result)))
        elif self.get_framing() is None:
            start = (lambda cancellable, callback: self.receive_bytes_async(
                -1, GLib.PRIORITY_DEFAULT, cancellable, callback))
            finish = (lambda result:
                      self.receive_bytes_finish(result).get_data())
        else:
            start = (lambda cancellable, callback: self.receive_message_async(
                GLib.PRIORITY_DEFAULT, cancellable, callback))
            finish = (lambda result:
                      self.receive_message_finish(result).get_data())
        return await _bridged(start, self._finishing(finish), held.append)

    def _finishing(self, finish):
        def typed(result):
            try:
                return finish(result)
            except GLib.Error as e:
                raise _typed_error(self, e) from None
        return typed

    def _held_values(self):
        # Values a cancelled recv_async() received after all.
        try:
            return self.__dict__['_sw_held']
        except KeyError:
            return self.__dict__.setdefault('_sw_held', collections.deque())

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close(None)

    def __iter__(self):
        """Receives until the peer closes at a message boundary."""
        while True:
            try:
                yield self.recv()
            except StreamEOFError as e:
                if e.code == Gio.IOErrorEnum.CONNECTION_CLOSED:
                    return
                raise

    async def __aiter__(self):
        while True:
            try:
                yield await self.recv_async()
            except StreamEOFError as e:
                if e.code == Gio.IOErrorEnum.CONNECTION_CLOSED:
                    return
                raise


Connection = override(Connection)
__all__.append('Connection')


# ---------------------------------------------------------------------------
# pipe() and socketpair()


class Pair(tuple):
    """Two connections; `with` closes both."""

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        for connection in self:
            connection.close(None)


def _pair(a, b, codec):
    codec = _codec(codec)
    if codec is not None:
        a.set_codec(codec)
        b.set_codec(codec)
    return Pair((a, b))


_sw_pipe = Sw.pipe
_sw_socketpair = Sw.socketpair


@override(Sw.pipe)
def pipe(*args, framing=True, codec=None):
    """pipe(framing=True, codec=None) -> (reader, writer), a Pair that
    `with` closes. The introspected call, pipe(framing) -> (ok, reader,
    writer), is kept for positional arguments."""
    if args:
        return _sw_pipe(*args)
    ok, reader, writer = _sw_pipe(_framing(framing))
    return _pair(reader, writer, codec)


@override(Sw.socketpair)
def socketpair(*args, framing=True, codec=None,
               family=Gio.SocketFamily.UNIX, type=Gio.SocketType.STREAM):
    """socketpair(framing=True, codec=None, family=UNIX, type=STREAM) ->
    (a, b), a Pair that `with` closes. The introspected call,
    socketpair(family, type, framing) -> (ok, a, b), is kept for positional
    arguments."""
    if args:
        return _sw_socketpair(*args)
    ok, a, b = _sw_socketpair(family, type, _framing(framing))
    return _pair(a, b, codec)


__all__ += ['Pair', 'pipe', 'socketpair']


# ---------------------------------------------------------------------------
# multiprocessing.connection's Listener and Client

# sun_path holds 108 bytes; GUnixSocketAddress keeps at most 107 and would
# silently cut a longer name.
_MAX_UNIX_NAME = 107


def _authkey(authkey):
    if authkey is None:
        return None
    if not isinstance(authkey, bytes):
        raise TypeError('authkey should be a byte string')
    return GLib.Bytes.new(authkey)


def _unix_address(address):
    name = os.fsencode(address)
    abstract = name[:1] == b'\0'
    if len(name) > _MAX_UNIX_NAME + abstract:
        raise OSError(errno.ENAMETOOLONG, 'AF_UNIX path too long')
    if abstract:
        name, kind = name[1:], Gio.UnixSocketAddressType.ABSTRACT
    elif b'\0' in name:
        raise ValueError('embedded null byte')  # as socket.bind() says
    else:
        kind = Gio.UnixSocketAddressType.PATH
    # The name travels as its bytes (an abstract name may hold NULs, a
    # path any bytes os.fsencode() gives), which PyGObject takes only as
    # signed chars.
    return Gio.UnixSocketAddress.new_with_type(
        [byte - 256 if byte > 127 else byte for byte in name], kind)


def _unix_name(address):
    """The bytes of a Gio.UnixSocketAddress's path or name: get_path()
    stops at a NUL and fails on bytes that are not UTF-8."""
    return bytes(address.props.path_as_array)


def _inet_address(address):
    """(host, port) or (host, port, flowinfo, scope_id): a host name is
    resolved, preferring IPv4 as multiprocessing (AF_INET only) does."""
    host, port = address[0], address[1]
    infos = socket.getaddrinfo(host or '0.0.0.0', port, 0,
                               socket.SOCK_STREAM)
    info = next((i for i in infos if i[0] == socket.AF_INET), infos[0])
    inet = Gio.InetAddress.new_from_string(info[4][0].partition('%')[0])
    extra = {}
    if len(address) == 4:
        extra = {'flowinfo': address[2], 'scope_id': address[3]}
    elif info[0] == socket.AF_INET6:
        extra = {'flowinfo': info[4][2], 'scope_id': info[4][3]}
    return Gio.InetSocketAddress(address=inet, port=info[4][1], **extra)


def _socket_address(address):
    """A Gio.SocketAddress for an address in multiprocessing's spelling: a
    str path, a str or bytes starting with NUL for an abstract name, a
    (host, port) tuple for TCP; a Gio.SocketAddress is taken as it is."""
    if isinstance(address, Gio.SocketAddress):
        return address
    if isinstance(address, tuple):
        return _inet_address(address)
    if isinstance(address, (str, bytes)) and address:
        return _unix_address(address)
    raise ValueError(f'address type of {address!r} unrecognized')


def _python_address(address):
    """A Gio.SocketAddress in the shape Python's getsockname() gives."""
    if isinstance(address, Gio.UnixSocketAddress):
        name = _unix_name(address)
        if address.get_address_type() == Gio.UnixSocketAddressType.PATH:
            return os.fsdecode(name)
        return b'\0' + name
    host = address.get_address().to_string()
    if address.get_family() == Gio.SocketFamily.IPV6:
        return (host, address.get_port(), address.get_flowinfo(),
                address.get_scope_id())
    return (host, address.get_port())


class MultiprocessingListener(Sw.MultiprocessingListener):
    """MultiprocessingListener(address=None, authkey=None, backlog=None):
    multiprocessing.connection.Listener's arguments (address: a str path,
    a str starting with NUL for an abstract name, a (host, port) tuple, or
    a Gio.SocketAddress; None for a new path in a private directory).
    accept() returns a connection whose send() and recv() exchange plain
    Python objects as pickles; `with` closes the listener."""

    def __new__(cls, address=None, authkey=None, backlog=None):
        key = _authkey(authkey)
        address = None if address is None else _socket_address(address)
        listener = Sw.MultiprocessingListener.new(address, key)
        if backlog is not None:
            listener.set_backlog(backlog)
        return listener

    def __init__(self, *args, **kwargs):
        pass  # __new__ built it

    def accept(self, cancellable=None):
        """Waits for a client and authenticates it when there is an
        authkey; raises GLib.Error (PERMISSION_DENIED for a wrong key)."""
        return super().accept(cancellable)

    @property
    def address(self):
        """The bound address as Listener.address gives it: a str path,
        bytes b'\\0name' for an abstract name, (host, port) for IPv4,
        (host, port, flowinfo, scope_id) for IPv6; None for a listener
        made with GObject.new(), which is bound to nothing."""
        address = self.get_address()
        return None if address is None else _python_address(address)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


MultiprocessingListener = override(MultiprocessingListener)
__all__.append('MultiprocessingListener')

_sw_multiprocessing_connect = Sw.multiprocessing_connect


@override(Sw.multiprocessing_connect)
def multiprocessing_connect(address, authkey=None, cancellable=None):
    """multiprocessing.connection.Client(address, authkey=...): connects to
    a Listener (ours or Python's) and returns a connection whose send()
    and recv() exchange plain Python objects as pickles. @address as
    MultiprocessingListener takes it."""
    return _sw_multiprocessing_connect(_socket_address(address),
                                       _authkey(authkey), cancellable)


__all__.append('multiprocessing_connect')
