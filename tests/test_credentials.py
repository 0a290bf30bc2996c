#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Peer credentials from PyGObject: a socket pair's peer is this process;
# a pipe has none.

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import swtap  # noqa: E402
from swtap import Gio, Sw, equal, raises, same  # noqa: E402


@swtap.test
def socketpair_peer_is_this_process():
    a, b = swtap.pair()
    credentials = a.get_peer_credentials()
    equal(credentials.get_unix_pid(), os.getpid())
    equal(credentials.get_unix_user(), os.getuid())
    same(credentials.is_same_user(Gio.Credentials.new()), True)
    equal(b.get_peer_credentials().get_unix_pid(), os.getpid())


@swtap.test
def pipe_has_no_peer_credentials():
    ok, reader, writer = Sw.pipe(None)
    same(ok, True)
    raises(Gio.IOErrorEnum.NOT_SUPPORTED, reader.get_peer_credentials)
    raises(Gio.IOErrorEnum.NOT_SUPPORTED, writer.get_peer_credentials)


@swtap.test
def closed_connection_has_none():
    a, b = swtap.pair()
    a.close(None)
    raises(Gio.IOErrorEnum.CLOSED, a.get_peer_credentials)


if __name__ == '__main__':
    swtap.run()
