# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The TAP runner and helpers shared by the Python binding tests (test_*.py),
# against the uninstalled typelib. A test script does
#
#     sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
#     import swtap
#
# registers its tests with @swtap.test and ends with swtap.run().

import sys
import traceback

import gi

gi.require_version('GLib', '2.0')
gi.require_version('Gio', '2.0')
gi.require_version('Sw', '1')
from gi.repository import GLib, Gio, Sw  # noqa: E402

PRIORITY = GLib.PRIORITY_DEFAULT
# Long enough never to fire on a loaded machine, short enough that a
# broken test fails instead of hanging (microseconds; the watchdog of a
# main loop in seconds).
TIMEOUT = 10 * 1000 * 1000
WATCHDOG = 30

tests = []


class Skip(Exception):
    """Raised by a test that cannot run here: reported as ok with # SKIP."""


def test(func):
    """Registers @func as the next test; its __name__ names it."""
    tests.append(func)
    return func


# Checks that raise AssertionError themselves: a bare `assert` statement is
# compiled away by `python3 -O`, and the test would then pass whatever
# happened.

def check(condition, message=None):
    """Fails the test unless @condition is true."""
    if not condition:
        raise AssertionError(message if message is not None
                             else 'check failed')


def equal(actual, expected, message=None):
    """Fails the test unless @actual == @expected."""
    if not actual == expected:
        raise AssertionError(message if message is not None
                             else f'{actual!r} != {expected!r}')


def same(actual, expected, message=None):
    """Fails the test unless @actual is @expected."""
    if actual is not expected:
        raise AssertionError(message if message is not None
                             else f'{actual!r} is not {expected!r}')


def raises(code, func, *args):
    """Calls func(*args), which must raise a GLib.Error of
    G_IO_ERROR @code; returns that error."""
    try:
        func(*args)
    except GLib.Error as e:
        check(e.matches(Gio.io_error_quark(), code),
              f'expected {code.value_nick}, got {e.domain} {e.code}: '
              f'{e.message}')
        return e
    raise AssertionError(f'expected {code.value_nick}, nothing raised')


def msg(data):
    """@data (bytes) as a GLib.Bytes message."""
    return GLib.Bytes.new(data)


def pair(framing=None, codec=None, family=Gio.SocketFamily.UNIX,
         type_=Gio.SocketType.STREAM):
    """Two connected Sw.Connections from Sw.socketpair(), with @framing (a
    new Sw.VarIntFraming if None) and, if given, @codec on both ends."""
    if framing is None:
        framing = Sw.VarIntFraming.new()
    ok, a, b = Sw.socketpair(family, type_, framing)
    same(ok, True)
    if codec is not None:
        a.props.codec = codec
        b.set_codec(codec)
        check(a.get_codec() is codec and b.props.codec is codec)
    return a, b


def iterate_until(predicate, context=None):
    """Runs @context (the global default one if None) until @predicate()."""
    context = context or GLib.MainContext.default()
    fired = []
    watchdog = GLib.timeout_source_new_seconds(WATCHDOG)
    watchdog.set_callback(lambda *args: fired.append(True) or False)
    watchdog.attach(context)
    try:
        while not predicate():
            check(not fired, 'watchdog: the calls did not complete')
            context.iteration(True)
    finally:
        watchdog.destroy()


def run_loop(start):
    """Runs a GLib.MainLoop; start(done) begins the async calls and
    done(result) quits the loop. Returns the result; an exception handed
    to done() is raised."""
    loop = GLib.MainLoop()
    outcome = []
    fired = []

    def done(result):
        if not outcome:
            outcome.append(result)
        loop.quit()

    def watchdog():
        fired.append(True)
        done(AssertionError('watchdog: the calls did not complete'))
        return GLib.SOURCE_REMOVE

    source = GLib.timeout_add_seconds(WATCHDOG, watchdog)
    GLib.idle_add(guarded(done, start, done))
    loop.run()
    if not fired:
        GLib.source_remove(source)
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    return outcome[0]


def guarded(done, func, *extra):
    """A callback that hands an exception to done() instead of losing it in
    PyGObject's callback machinery; returns False (a one-shot source)."""
    def callback(*args):
        try:
            func(*(args + extra))
        except Exception as e:
            done(e)
        return False
    return callback


def main():
    """Runs the registered tests in order and prints TAP; returns the exit
    status (1 if any test failed)."""
    print(f'1..{len(tests)}')
    sys.stdout.flush()
    failed = 0
    for number, func in enumerate(tests, 1):
        name = func.__name__
        try:
            func()
        except Skip as e:
            print(f'ok {number} - {name} # SKIP {e}')
        except Exception:
            failed += 1
            print(f'not ok {number} - {name}')
            for line in traceback.format_exc().splitlines():
                print(f'# {line}')
        else:
            print(f'ok {number} - {name}')
        sys.stdout.flush()
    return 1 if failed else 0


def run():
    """main(), then exits with its status."""
    sys.exit(main())
