/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "sw-cross-lock-private.h"
#include "sw-fd-watch-private.h"
#include "sw-operation-private.h"

G_BEGIN_DECLS

typedef struct _SwAsyncDriver SwAsyncDriver;

/* Called in the driver's context when the operation has finished: @error
 * is NULL on success, else owned by the callee. */
typedef void (*SwAsyncDoneFunc) (SwAsyncDriver *driver,
                                 GError        *error);

/* The async driver: runs the same state machine as the sync driver, but
 * on would-block waits for readiness in @context (the context's shared fd
 * watch, or a source of its own) and resumes from there. Never blocks; no
 * thread hops for fds and pollable streams. */
struct _SwAsyncDriver
{
  SwOperation     *op;
  SwChannel       *channel;
  GMainContext    *context;
  int              priority;
  GCancellable    *cancellable;        /* the caller's, may be NULL */
  SwAsyncDoneFunc  done;
  SwCrossLock     *lock;               /* held by @owner while running;
                                        * NULL for a closer's flush */
  SwLockWaiter    *owner;
  GSource         *source;             /* attached while waiting on a
                                        * source of its own */
  SwFdWait         wait;               /* prepared while waiting on the
                                        * shared fd watch */
  gulong           cancel_handler;     /* on @cancellable while waiting */
  GError          *evicted_error;      /* outcome decided by close() */
};

/* Steps the operation, which holds @driver->lock; on completion calls
 * @driver->done, possibly before returning. */
void sw_async_driver_run   (SwAsyncDriver *driver);
/* close() took the lock from the parked operation: decides its outcome
 * (committed-send rule) while the channel is still its own. Called with
 * the lock's mutex held. */
void sw_async_driver_evict (SwAsyncDriver *driver);

G_END_DECLS
