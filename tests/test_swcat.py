#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""swcat(1) run as a subprocess against Python peers and against itself.

The path of the swcat binary comes from the environment (SWCAT), the
source directory of the tests from G_TEST_SRCDIR. Standard library only:
swcat needs no introspection. Output is TAP.

No sleeps: a listening swcat is connected to once it has printed its
"swcat: listening on ADDRESS" line, and Python peers are threads that
listen before swcat starts.
"""

import codecs
import json
import os
import pty
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import traceback
from multiprocessing import AuthenticationError
from multiprocessing.connection import Client, Listener

SWCAT = os.environ.get('SWCAT', 'swcat')
SRCDIR = os.environ.get('G_TEST_SRCDIR', os.path.dirname(os.path.abspath(__file__)))
CERTIFICATE = os.path.join(SRCDIR, 'tls-test.pem')
PYTHON = '/usr/bin/python3'
# Never reached on a working swcat; a hang fails instead of blocking.
WATCHDOG = 30

tests = []


def test(func):
    tests.append(func)
    return func


# Checks that raise themselves: `assert` vanishes under python3 -O.

def check(condition, message='check failed'):
    if not condition:
        raise AssertionError(message)


def equal(actual, expected, message=None):
    if not actual == expected:
        raise AssertionError(message or f'{actual!r} != {expected!r}')


class Swcat:
    """A running swcat; stdin stays open until close_stdin() or finish()."""

    def __init__(self, *args, stdin_data=None, pass_fds=(), stderr=subprocess.PIPE):
        self.args = [SWCAT, *args]
        self.process = subprocess.Popen(self.args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=stderr, pass_fds=pass_fds)
        self.stderr_lines = []
        if stdin_data is not None:
            self.process.stdin.write(stdin_data)
            self.close_stdin()

    def close_stdin(self):
        if self.process.stdin is not None:
            self.process.stdin.close()
            self.process.stdin = None

    def wait_listening(self):
        """Reads standard error up to the "listening on" line; returns the address."""
        line = self.process.stderr.readline().decode()
        self.stderr_lines.append(line)
        match = re.match(r'^swcat: listening on (\S+)\n$', line)
        check(match is not None, f'no "listening on" line but {line!r}')
        return match.group(1)

    def read_line(self):
        return self.process.stdout.readline()

    def finish(self):
        """Waits for the exit; returns (status, stdout bytes, stderr text)."""
        self.close_stdin()
        try:
            out, err = self.process.communicate(timeout=WATCHDOG)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.communicate()
            raise AssertionError(f'{self.args} did not exit')
        err = ''.join(self.stderr_lines) + (err.decode() if err else '')
        return self.process.returncode, out, err


def run(*args, stdin_data=b'', pass_fds=()):
    return Swcat(*args, stdin_data=stdin_data, pass_fds=pass_fds).finish()


def succeeded(status, err, expected=0):
    equal(status, expected, f'exit status {status}, stderr: {err!r}')


def json_lines(out):
    return [json.loads(line) for line in out.decode().splitlines()]


def one_error_line(err, pattern):
    lines = err.splitlines()
    equal(len(lines), 1, f'not one line on stderr: {err!r}')
    check(lines[0].startswith('swcat: '), f'no "swcat: " prefix: {err!r}')
    check(re.search(pattern, lines[0]) is not None, f'{pattern!r} not in {lines[0]!r}')


class Peer(threading.Thread):
    """Runs @serve(arg) in a thread; its exception fails the test."""

    def __init__(self, serve, arg):
        super().__init__(daemon=True)
        self.serve = serve
        self.arg = arg
        self.error = None

    def run(self):
        try:
            self.serve(self.arg)
        except BaseException as e:  # reported by join_checked()
            self.error = e

    def join_checked(self):
        self.join(WATCHDOG)
        check(not self.is_alive(), 'the peer thread did not end')
        if self.error is not None:
            raise self.error


def start_unix_peer(directory, serve):
    """Listens on a socket file in @directory, then serves one client with
    @serve(listening socket) in a thread; returns (path, peer)."""
    path = os.path.join(directory, 'peer.sock')
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    server.listen()
    peer = Peer(serve, server)
    peer.start()
    return path, peer


def varint_frame(payload):
    # Lengths up to 240 are one byte in the varint framing.
    check(len(payload) <= 240)
    return bytes([len(payload)]) + payload


def read_exact(sock, n):
    data = b''
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        check(chunk, 'EOF from swcat inside a frame')
        data += chunk
    return data


def read_varint_frames(sock):
    """The payloads of small varint frames until EOF."""
    frames = []
    while True:
        header = sock.recv(1)
        if not header:
            return frames
        check(header[0] <= 240, 'a frame over 240 bytes')
        frames.append(read_exact(sock, header[0]))


# ---- usage -------------------------------------------------------------------

@test
def bad_options_and_addresses_exit_2_with_one_line():
    cases = [
        ([], 'Missing ADDRESS'),
        (['foo:bar'], 'Unknown address “foo:bar”'),
        (['--framing', 'x', 'unix:/a'], 'Unknown framing “x”'),
        (['--codec', 'yaml', 'unix:/a'], 'Unknown codec “yaml”'),
        (['--count', '0', 'unix:/a'], '--count'),
        (['--count', 'x', 'unix:/a'], '--count'),
        (['--timeout', '-1', 'unix:/a'], '--timeout'),
        (['--timeout', '0', 'unix:/a'], '--timeout'),
        (['--timeout', 'nan', 'unix:/a'], '--timeout'),
        (['--timeout', '1s', 'unix:/a'], '--timeout'),
        (['--count', '-1', 'unix:/a'], '--count'),
        (['--raw', '--codec', 'json', 'unix:/a'], '--codec none'),
        (['-0', '--codec', 'pickle', 'unix:/a'], '--codec none'),
        (['--keep-listening', 'unix:/a'], 'listen:'),
        (['listen:tls:127.0.0.1:0'], '--certificate'),
        (['--certificate', CERTIFICATE, 'tls:localhost:1'], '--certificate'),
        (['--insecure', 'unix:/a'], '--insecure'),
        (['--insecure', '--ca-file', CERTIFICATE, 'tls:localhost:1'], 'exclude'),
        (['listen:fd:3'], 'Cannot listen'),
        (['listen:exec:true'], 'Cannot listen'),
        (['fd:1'], '3 or more'),
        (['fd:x'], '3 or more'),
        (['tcp:localhost'], 'HOST:PORT'),
        (['tcp:localhost:0'], 'port'),
        (['tcp:localhost:65536'], 'port'),
        (['tls::443'], 'HOST:PORT'),
        (['unix:'], 'needs a name'),
        (['abstract:'], 'needs a name'),
        (['exec:'], 'needs a command'),
        (['exec:"unclosed'], 'exec:'),
        (['unix:/a', 'extra'], 'Unexpected argument “extra”'),
        (['stray', 'exec:true'], 'Unexpected argument “stray”'),
        (['--bogus', 'unix:/a'], '--bogus'),
        (['--authkey', 'k', 'unix:/a'], '--framing multiprocessing'),
        (['--framing', 'multiprocessing', '--authkey', '', 'unix:/a'], 'empty'),
        (['--framing', 'multiprocessing', '--authkey', 'k', '--authkey-file', '/dev/null', 'unix:/a'],
         'exclude'),
        (['--framing', 'multiprocessing', '--authkey-file', '/nonexistent/key', 'unix:/a'],
         '--authkey-file'),
    ]
    for args, pattern in cases:
        status, out, err = run(*args)
        equal(status, 2, f'{args}: exit status {status}, stderr {err!r}')
        equal(out, b'', f'{args}: printed {out!r}')
        one_error_line(err, pattern)


@test
def help_describes_addresses_and_exit_statuses():
    status, out, err = run('--help')
    succeeded(status, err)
    for text in ('--framing', '--codec', '--keep-listening', 'listen:tls:HOST:PORT',
                 'exec:COMMAND', 'Exit status', 'listening on'):
        check(text in out.decode(), f'{text!r} not in --help')


# ---- Python peers ------------------------------------------------------------

@test
def multiprocessing_listener_exchanges_pickles():
    listener = Listener(('127.0.0.1', 0), authkey=None)
    host, port = listener.address

    def serve(listener):
        with listener, listener.accept() as conn:
            n = 0
            while True:
                try:
                    value = conn.recv()
                except EOFError:
                    break
                n += 1
                conn.send({'n': n, 'echo': value, 'extra': (b'\x00\xff', None)})

    peer = Peer(serve, listener)
    peer.start()
    values = [{'a': [1, 2.5, True, None]}, 'snow ☃', -(2 ** 40)]
    stdin = ''.join(json.dumps(v) + '\n' for v in values).encode()
    status, out, err = run('--framing', 'multiprocessing', '--codec', 'pickle',
                           f'tcp:{host}:{port}', stdin_data=stdin)
    peer.join_checked()
    succeeded(status, err)
    equal(json_lines(out), [{'n': i + 1, 'echo': v, 'extra': [[0, 255], None]}
                            for i, v in enumerate(values)])


@test
def authkey_answers_a_python_listener():
    # The right key: the values pass; a wrong one: one line, status 1.
    for key, ok in ((b'right key', True), (b'wrong key', False)):
        listener = Listener(('127.0.0.1', 0), authkey=b'right key')
        host, port = listener.address
        rejected = []

        def serve(listener):
            with listener:
                try:
                    conn = listener.accept()
                except AuthenticationError:
                    rejected.append(True)
                    return
                with conn:
                    conn.send(['hello', conn.recv()])

        peer = Peer(serve, listener)
        peer.start()
        status, out, err = run('--framing', 'multiprocessing', '--codec', 'pickle',
                               '--authkey', key.decode(), f'tcp:{host}:{port}', stdin_data=b'42\n')
        peer.join_checked()
        if ok:
            succeeded(status, err)
            equal(json_lines(out), [['hello', 42]])
        else:
            equal(status, 1, err)
            equal(out, b'')
            one_error_line(err, f'tcp:{host}:{port}: .*authentication')
            equal(rejected, [True])


@test
def authkey_listener_challenges_python_clients():
    # A client with the key is served; with --keep-listening one with a
    # wrong key is reported and the next is served.
    with tempfile.TemporaryDirectory() as tmp:
        key_file = os.path.join(tmp, 'key')
        with open(key_file, 'wb') as f:
            f.write(b's3cret\n')
        server = Swcat('--keep-listening', '--count', '2', '--framing', 'multiprocessing',
                       '--codec', 'pickle', '--authkey-file', key_file, 'listen:tcp:127.0.0.1:0',
                       stdin_data=b'')
        address = server.wait_listening()
        host, port = address.split(':')[1:]
        with Client((host, int(port)), authkey=b's3cret') as conn:
            conn.send({'first': 1})
        try:
            Client((host, int(port)), authkey=b'other')
        except AuthenticationError:
            pass
        else:
            raise AssertionError('a wrong key was accepted')
        with Client((host, int(port)), authkey=b's3cret') as conn:
            conn.send({'second': 2})
        status, out, err = server.finish()
        succeeded(status, err)
        equal(json_lines(out), [{'first': 1}, {'second': 2}])
        lines = err.splitlines()
        equal(len(lines), 2, err)
        check(re.search('did not authenticate', lines[1]) is not None, err)


def serve_json_lines(server):
    """A JSON Lines service: one reply line per request line, until EOF."""
    conn, _ = server.accept()
    with conn, conn.makefile('rwb') as f:
        for n, line in enumerate(f, 1):
            request = json.loads(line)
            f.write(json.dumps({'id': request['id'], 'result': request['x'] * 2,
                                'n': n}).encode() + b'\n')
            f.flush()
    server.close()


@test
def json_lines_service():
    with tempfile.TemporaryDirectory() as tmp:
        path, peer = start_unix_peer(tmp, serve_json_lines)
        stdin = b'{"id": 1, "x": 21}\n\n{"id": 2, "x": "ab"}\n'
        status, out, err = run('--framing', 'lines', '--codec', 'json', f'unix:{path}',
                               stdin_data=stdin)
        peer.join_checked()
    succeeded(status, err)
    equal(json_lines(out), [{'id': 1, 'result': 42, 'n': 1},
                            {'id': 2, 'result': 'abab', 'n': 2}])


@test
def a_line_that_is_not_json_is_an_error_naming_it():
    a, b = socket.socketpair()
    with a, b:
        status, out, err = run('--framing', 'lines', '--codec', 'json', f'fd:{b.fileno()}',
                               stdin_data=b'1\n[2,\n', pass_fds=[b.fileno()])
    equal(status, 1, err)
    one_error_line(err, 'line 2')


@test
def a_message_that_does_not_decode_is_an_error():
    a, b = socket.socketpair()
    with a, b:
        a.sendall(b'not json\n')
        a.shutdown(socket.SHUT_WR)
        status, out, err = run('--framing', 'lines', '--codec', 'json', f'fd:{b.fileno()}',
                               pass_fds=[b.fileno()])
    equal(status, 1, err)
    one_error_line(err, '.')


# ---- swcat against itself ----------------------------------------------------

def exchange_with_itself(listen_args, connect_args, address_of):
    """A listening swcat and a client swcat each send two messages."""
    server = Swcat(*listen_args)
    address = address_of(server.wait_listening())
    server.process.stdin.write(b'from server 1\nfrom server 2\n')
    server.close_stdin()
    status, out, err = run(*connect_args, address, stdin_data=b'from client\n\nlast')
    succeeded(status, err)
    equal(out, b'from server 1\nfrom server 2\n')
    status, out, err = server.finish()
    succeeded(status, err)
    equal(out, b'from client\n\nlast\n')
    return address


@test
def listen_unix_and_unix():
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, 's')
        address = exchange_with_itself([f'listen:unix:{path}'], [], lambda a: a)
        equal(address, f'unix:{path}')
        check(not os.path.exists(path), 'the socket file is left behind')


@test
def listen_abstract_and_abstract():
    name = f'swcat-test-{os.getpid()}'
    exchange_with_itself([f'listen:abstract:{name}'], [], lambda a: a)


@test
def listen_tcp_port_0_and_tcp_with_msgpack():
    server = Swcat('--framing', 'msgpack', '--codec', 'msgpack', 'listen:tcp:127.0.0.1:0')
    address = server.wait_listening()
    check(re.match(r'^tcp:127\.0\.0\.1:[1-9][0-9]*$', address), address)
    server.process.stdin.write(b'{"from": "server", "list": [1, 2.5, null, false]}\n')
    server.close_stdin()
    status, out, err = run('--framing', 'msgpack', '--codec', 'msgpack', address,
                           stdin_data=b'"from client"\n-7\n')
    succeeded(status, err)
    equal(json_lines(out), [{'from': 'server', 'list': [1, 2.5, None, False]}])
    status, out, err = server.finish()
    succeeded(status, err)
    equal(json_lines(out), ['from client', -7])


@test
def listen_tls_serves_clients_one_after_another():
    # Two clients that trust the certificate, one between them that does
    # not: the server reports that one and goes on to the next.
    # The server has nothing to send: each client sees the end of its
    # stream at once.
    server = Swcat('--keep-listening', '--count', '2', '--codec', 'gvariant',
                   '--certificate', CERTIFICATE, 'listen:tls:127.0.0.1:0', stdin_data=b'')
    address = server.wait_listening()
    check(address.startswith('tls:127.0.0.1:'), address)
    port = address.rsplit(':', 1)[1]

    status, out, err = run('--codec', 'gvariant', '--insecure', address, stdin_data=b'"first"\n')
    succeeded(status, err)
    status, out, err = run('--codec', 'gvariant', address, stdin_data=b'"rejected"\n')
    equal(status, 1, err)
    one_error_line(err, 'TLS certificate')
    status, out, err = run('--codec', 'gvariant', '--ca-file', CERTIFICATE, f'tls:localhost:{port}',
                           stdin_data=b'{"second": [1, 2]}\n')
    succeeded(status, err)

    status, out, err = server.finish()
    succeeded(status, err)
    equal(json_lines(out), ['first', {'second': [1, 2]}])
    check('TLS' in err, f'the failed handshake is not reported: {err!r}')


@test
def piping_one_swcat_into_another():
    # listen A | relay to B: messages pass through as text, NUL-separated.
    with tempfile.TemporaryDirectory() as tmp:
        a_path = os.path.join(tmp, 'a')
        b_path = os.path.join(tmp, 'b')
        # Both listeners have nothing to send: their standard input is empty.
        sink = Swcat('-0', '--raw', f'listen:unix:{b_path}', stdin_data=b'')
        sink.wait_listening()
        source = Swcat('-0', '--raw', f'listen:unix:{a_path}', stdin_data=b'')
        source.wait_listening()
        relay = subprocess.Popen([SWCAT, '-0', f'unix:{b_path}'], stdin=source.process.stdout,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        source.process.stdout.close()
        messages = [b'one\nline', b'', b'\xff\x01 binary']
        stdin = b''.join(m + b'\x00' for m in messages)
        status, out, err = run('-0', f'unix:{a_path}', stdin_data=stdin)
        succeeded(status, err)
        status, out, err = source.finish()
        succeeded(status, err)
        equal(relay.wait(WATCHDOG), 0, relay.stderr.read())
        relay.stderr.close()
        status, out, err = sink.finish()
        succeeded(status, err)
        equal(out, stdin)


# ---- exec: and fd: -----------------------------------------------------------

CHILD = r'''
import os, socket, sys
fd = int(os.environ["SOCKETWRAPPER_FD"])
if fd != 3:
    sys.exit(10)
with socket.socket(fileno=fd) as s, s.makefile("rwb") as f:
    for line in f:
        f.write(line.upper())
        f.flush()
    f.write(b"child done\n")
'''


@test
def exec_gives_the_child_a_connection_on_fd_3():
    status, out, err = run('--framing', 'lines', 'exec:' + PYTHON, '-c', CHILD,
                           stdin_data=b'hello\nworld\n')
    succeeded(status, err)
    equal(out, b'HELLO\nWORLD\nchild done\n')


@test
def fd_escapes_what_it_prints():
    messages = [b'plain', b'tab\there', b'back\\slash', b'new\nline\r', b'\x00\x01\x7f',
                b'\xff\xfe not utf-8', 'snow ☃ é'.encode(), b'']
    a, b = socket.socketpair()
    with a, b:
        a.sendall(b''.join(varint_frame(m) for m in messages))
        a.shutdown(socket.SHUT_WR)
        status, out, err = run(f'fd:{b.fileno()}', stdin_data=b'in 1\n\nin\t3',
                               pass_fds=[b.fileno()])
        b.close()
        received = read_varint_frames(a)
    succeeded(status, err)
    equal(received, [b'in 1', b'', b'in\t3'])
    lines = out.split(b'\n')
    equal(lines[-1], b'')
    equal([codecs.escape_decode(line)[0] for line in lines[:-1]], messages)
    equal(lines[1], b'tab\\there')
    equal(lines[4], b'\\x00\\x01\\x7f')
    equal(lines[6], 'snow ☃ é'.encode())


@test
def null_records_and_raw_output():
    a, b = socket.socketpair()
    with a, b:
        a.sendall(varint_frame(b'line 1\nline 2') + varint_frame(b'\xff raw'))
        a.shutdown(socket.SHUT_WR)
        status, out, err = run('-0', '--raw', f'fd:{b.fileno()}',
                               stdin_data=b'with\nnewline\x00second\x00',
                               pass_fds=[b.fileno()])
        b.close()
        received = read_varint_frames(a)
    succeeded(status, err)
    equal(received, [b'with\nnewline', b'second'])
    equal(out, b'line 1\nline 2\x00\xff raw\x00')


# ---- ends ----------------------------------------------------------------------

@test
def count_exits_after_n_messages():
    a, b = socket.socketpair()
    with a, b:
        a.sendall(b''.join(varint_frame(b'm%d' % i) for i in range(5)))
        # The peer does not end its stream: only --count can end swcat.
        status, out, err = run('--count', '3', f'fd:{b.fileno()}', pass_fds=[b.fileno()])
    succeeded(status, err)
    equal(out, b'm0\nm1\nm2\n')


@test
def timeout_exits_3():
    # Nothing connects to the listener.
    with tempfile.TemporaryDirectory() as tmp:
        swcat = Swcat('--timeout', '0.2', f'listen:unix:{os.path.join(tmp, "s")}')
        swcat.wait_listening()
        status, out, err = swcat.finish()
        equal(status, 3, err)
        equal(err.splitlines()[1:], ['swcat: Timed out: nothing happened for 0.2 seconds'])
    # A peer that is connected and says nothing, standard input open.
    a, b = socket.socketpair()
    with a, b:
        swcat = Swcat('--timeout', '0.2', f'fd:{b.fileno()}', pass_fds=[b.fileno()])
        status = swcat.process.wait(WATCHDOG)
        status, out, err = swcat.finish()
    equal(status, 3, err)
    one_error_line(err, 'Timed out')


@test
def peer_vanishing_mid_frame_exits_1():
    a, b = socket.socketpair()
    with a, b:
        a.sendall(varint_frame(b'whole') + bytes([100]) + b'0123456789')
        a.close()
        status, out, err = run(f'fd:{b.fileno()}', pass_fds=[b.fileno()])
    equal(status, 1, err)
    equal(out, b'whole\n')
    one_error_line(err, 'in the middle of a message')


@test
def connection_refused_exits_1():
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "nobody")
        status, out, err = run(f'unix:{path}')
    equal(status, 1, err)
    one_error_line(err, f'^swcat: Cannot connect to unix:{re.escape(path)}: ')


@test
def standard_output_that_takes_no_more_exits_1():
    r, w = os.pipe()
    os.close(r)
    a, b = socket.socketpair()
    with a, b:
        a.sendall(varint_frame(b'nobody reads this'))
        process = subprocess.Popen([SWCAT, f'fd:{b.fileno()}'], stdin=subprocess.PIPE, stdout=w,
                                   stderr=subprocess.PIPE, pass_fds=[b.fileno()])
        os.close(w)
        _, err = process.communicate(timeout=WATCHDOG)
    equal(process.returncode, 1, err)
    one_error_line(err.decode(), 'standard output: Broken pipe')


@test
def sigterm_removes_the_socket_file():
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, 's')
        server = Swcat('--keep-listening', f'listen:unix:{path}')
        server.wait_listening()
        check(os.path.exists(path), 'no socket file')
        server.process.send_signal(signal.SIGTERM)
        status, out, err = server.finish()
        equal(status, 128 + signal.SIGTERM, err)
        check(not os.path.exists(path), 'the socket file is left behind')


def serve_one_message(server):
    conn, _ = server.accept()
    with conn:
        conn.sendall(varint_frame(b'to swcat'))
        # swcat's input is empty: it ends its stream at once.
        equal(conn.recv(100), b'')
    server.close()


@test
def closed_standard_input_is_not_taken_by_the_connection():
    with tempfile.TemporaryDirectory() as tmp:
        path, peer = start_unix_peer(tmp, serve_one_message)
        process = subprocess.Popen([SWCAT, f'unix:{path}'], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, preexec_fn=lambda: os.close(0))
        out, err = process.communicate(timeout=WATCHDOG)
        peer.join_checked()
    succeeded(process.returncode, err)
    equal(out, b'to swcat\n')


def read_terminal(master):
    """What a pty's master reads until its slave side is closed."""
    data = b''
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: no slave open any more
            return data
        if not chunk:
            return data
        data += chunk


@test
def progress_bar_on_a_terminal():
    master, slave = pty.openpty()
    size = 3 << 20
    a, b = socket.socketpair()
    with a, b:
        swcat = Swcat('--progress', '--raw', f'fd:{b.fileno()}', pass_fds=[b.fileno()],
                      stderr=slave)
        os.close(slave)
        terminal = {}
        reader = Peer(lambda fd: terminal.setdefault('data', read_terminal(fd)), master)
        reader.start()
        swcat.close_stdin()
        # A 3 MiB message: varint header 250 and the length in 3 bytes.
        a.sendall(bytes([250]) + size.to_bytes(3, 'big') + b'x' * size)
        a.shutdown(socket.SHUT_WR)
        out = swcat.process.stdout.read()
        status = swcat.process.wait(WATCHDOG)
        reader.join_checked()
    os.close(master)
    succeeded(status, terminal['data'])
    equal(len(out), size + 1)
    check(re.search(rb'receiving +[0-9]+% \[[#.]+\]', terminal['data']),
          f'no progress bar: {terminal["data"][:200]!r}')


@test
def manual_page_is_clean_roff_with_the_examples():
    page = os.environ.get('SWCAT_MAN')
    groff = shutil.which('groff')
    if page is None or groff is None:
        return
    result = subprocess.run([groff, '-ww', '-z', '-man', page], capture_output=True, timeout=WATCHDOG)
    equal(result.returncode, 0)
    equal(result.stderr, b'', 'groff warns')
    with open(page, encoding='ascii') as f:
        text = f.read()
    check(text.startswith('.\\" Generated'), 'not generated by md2man.py')
    for needed in ('.SH NAME\nswcat \\- ', '.SH EXIT STATUS', '.SH EXAMPLES', 'multiprocessing.connection.Listener',
                   '\\-\\-codec json unix:', 'listening on'):
        check(needed in text, f'{needed!r} not in the manual page')


def main():
    if shutil.which(SWCAT) is None and not os.access(SWCAT, os.X_OK):
        print('1..0 # SKIP no swcat binary')
        return 0
    print(f'1..{len(tests)}')
    failed = 0
    for number, func in enumerate(tests, 1):
        try:
            func()
        except Exception:
            failed += 1
            print(f'not ok {number} {func.__name__}')
            for text in traceback.format_exc().splitlines():
                print('# ' + text)
        else:
            print(f'ok {number} {func.__name__}')
        sys.stdout.flush()
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
