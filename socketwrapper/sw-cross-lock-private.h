/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _SwCrossLock   SwCrossLock;
typedef struct _SwLockWaiter  SwLockWaiter;

typedef enum
{
  SW_LOCK_WAITER_QUEUED,
  SW_LOCK_WAITER_GRANTED,
  SW_LOCK_WAITER_CLOSED,
} SwLockWaiterState;

/* Called with the lock's mutex held when the waiter's state changes from
 * QUEUED: a blocking waiter signals its condition, an async waiter (which
 * embeds this struct) schedules its resumption in its own main context. */
typedef void (*SwLockWakeFunc) (SwLockWaiter *waiter);

struct _SwLockWaiter
{
  GList             link;   /* in SwCrossLock.waiters */
  SwLockWaiterState state;  /* protected by the lock's mutex */
  SwLockWakeFunc    wake;
  GCond             cond;   /* blocking waiters only */
};

/* A FIFO lock that blocking threads and async tasks queue on together.
 * Release hands the lock to the head waiter, so there is no barging and
 * service is strictly first come, first served. */
struct _SwCrossLock
{
  GMutex   mutex;
  gboolean owned;    /* protected by @mutex */
  gboolean closed;   /* protected by @mutex */
  GQueue   waiters;  /* protected by @mutex; of SwLockWaiter via link */
};

void     sw_cross_lock_init    (SwCrossLock   *lock);
void     sw_cross_lock_clear   (SwCrossLock   *lock);

/* Takes the lock, waiting at most until @deadline (monotonic time, -1 for
 * none). Fails with TIMED_OUT, CANCELLED or CLOSED; a waiter that gives up
 * leaves the queue without disturbing the others. */
gboolean sw_cross_lock_acquire (SwCrossLock   *lock,
                                gint64         deadline,
                                GCancellable  *cancellable,
                                GError       **error);
void     sw_cross_lock_release (SwCrossLock   *lock);

/* Takes the lock for @waiter at once if it is free and nobody queues
 * (state GRANTED), fails it if the lock is closed (state CLOSED), or queues
 * it (state QUEUED): @waiter->wake is then called, mutex held, once it is
 * granted or the lock is closed. */
void     sw_cross_lock_enqueue (SwCrossLock   *lock,
                                SwLockWaiter  *waiter);
/* Removes a still queued waiter. Returns FALSE when it was already granted
 * or failed: the caller then owns the outcome (and must release a grant). */
gboolean sw_cross_lock_dequeue (SwCrossLock   *lock,
                                SwLockWaiter  *waiter);

/* Closes the lock: every queued waiter fails with CLOSED, later acquires
 * fail at once, and the caller waits for the current owner to release, then
 * owns the lock for good. */
void     sw_cross_lock_close   (SwCrossLock   *lock);

G_END_DECLS
