/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Helpers shared by test-connection.c and test-connection-io.c: framings,
 * socketpairs, raw peers and message assertions. */
#pragma once

#include "sw-test-util.h"

G_BEGIN_DECLS

/* Bigger than any default socket buffer, so a send of it cannot finish
 * without the peer reading. */
#define BIG_MESSAGE_SIZE (4 * 1024 * 1024)

SwFraming *
varint_framing (void);

SwFraming *
mp_framing (void);

void
make_socketpair (SwFraming     *framing,
                 SwConnection **a,
                 SwConnection **b);

/* A connection on one end of a socketpair and the other end as a raw,
 * blocking fd the test writes frames to by hand. */
SwConnection *
make_raw_peer (SwFraming *framing,
               int       *raw_fd);

GBytes *
varint_frame (GBytes *payload);

void
assert_bytes_equal_data (GBytes       *bytes,
                         const void   *data,
                         gsize         size);

void
assert_stolen_empty (SwConnection *connection);

void
assert_receive_error (SwConnection *connection,
                      gint64        timeout_us,
                      GCancellable *cancellable,
                      gint          code);

void
assert_receive_pattern (SwConnection *connection,
                        gsize         size,
                        guint32       seed);

void
send_pattern (SwConnection *connection,
              gsize         size,
              guint32       seed);

G_END_DECLS
