/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "sw-transport-private.h"

G_BEGIN_DECLS

/* A connection's close(), for the sync waits in progress. close() cancels
 * @cancellable; its handler wakes every wait registered in @waiters
 * through the waiting thread's wake fd (one per thread, not per
 * connection), so a connection holds no descriptor of its own. */
typedef struct
{
  GCancellable *cancellable;  /* read-only after init */
  gulong        handler;      /* read-only after init */
  GMutex        mutex;
  GQueue        waiters;      /* protected by @mutex: sync waits under way */
} SwCloseWatch;

void     sw_close_watch_init   (SwCloseWatch *watch);
void     sw_close_watch_clear  (SwCloseWatch *watch);

/* Waits once until the transport is ready for @condition; close()
 * (@close_watch, NULL when closing must not interrupt) and @cancellable end
 * the wait early with CLOSED and CANCELLED, @deadline with TIMED_OUT. The
 * thread's wake fd is made on its first wait: without a descriptor to
 * spare that fails with TOO_MANY_OPEN_FILES. A wait that ended for no
 * reason it can name returns TRUE: the caller steps again. */
gboolean sw_sync_wait (SwTransport   *transport,
                       GIOCondition   condition,
                       gint64         deadline,
                       GCancellable  *cancellable,
                       SwCloseWatch  *close_watch,
                       GError       **error);

G_END_DECLS
