/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#define SW_INSIDE
# include <socketwrapper/sw-version-macros.h>
# include <socketwrapper/sw-version.h>
# include <socketwrapper/sw-framing.h>
# include <socketwrapper/sw-varint-framing.h>
# include <socketwrapper/sw-multiprocessing-framing.h>
# include <socketwrapper/sw-multiprocessing.h>
# include <socketwrapper/sw-msgpack-framing.h>
# include <socketwrapper/sw-delimiter-framing.h>
# include <socketwrapper/sw-codec.h>
# include <socketwrapper/sw-gvariant-codec.h>
# include <socketwrapper/sw-json-codec.h>
# include <socketwrapper/sw-msgpack-codec.h>
# include <socketwrapper/sw-pickle-codec.h>
# include <socketwrapper/sw-connection.h>
# include <socketwrapper/sw-multiprocessing-listener.h>
# include <socketwrapper/sw-pipe.h>
# include <socketwrapper/sw-spawn.h>
# include <socketwrapper/sw-service.h>
# include <socketwrapper/sw-connect.h>
#undef SW_INSIDE
