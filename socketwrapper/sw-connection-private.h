/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "sw-connection.h"
#include "sw-operation-private.h"

G_BEGIN_DECLS

/* The connection's I/O engine, for tests that check how it did its I/O
 * (write counts); never for doing I/O behind the connection's locks. */
SwChannel *sw_connection_get_channel (SwConnection *self);

G_END_DECLS
