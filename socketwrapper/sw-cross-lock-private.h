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
  SW_LOCK_WAITER_EVICTED,
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
  /* Async owners only: called, mutex held, when close() takes the lock
   * from this owner while it is parked (waiting on a source in its main
   * context, not inside a system call). */
  SwLockWakeFunc    evict;
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
  SwLockWaiter *parked;  /* protected by @mutex: an async owner between steps */
  gboolean sealed;   /* protected by @mutex: the closer owns the lock for good */
  GCond    sealed_cond;
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
 * (returns GRANTED), fails it if the lock is closed (CLOSED), or queues it
 * (QUEUED): @waiter->wake is then called, mutex held, once it is granted
 * or the lock is closed. Only the returned state is safe to act on: a
 * queued waiter may be granted by another thread at once. */
SwLockWaiterState sw_cross_lock_enqueue (SwCrossLock   *lock,
                                         SwLockWaiter  *waiter);
/* Removes a still queued waiter. Returns FALSE when it was already granted
 * or failed: the caller then owns the outcome (and must release a grant). */
gboolean sw_cross_lock_dequeue (SwCrossLock   *lock,
                                SwLockWaiter  *waiter);

/* An async owner is about to wait on a source: until it unparks, close()
 * may take the lock from it (state EVICTED, evict called). Returns FALSE,
 * parking nothing, if the lock is closing: the owner must finish now. */
gboolean sw_cross_lock_park    (SwCrossLock   *lock,
                                SwLockWaiter  *owner);
/* The parked owner resumes. Returns FALSE if it was evicted: the lock is
 * no longer its own and it must neither touch the channel nor release. */
gboolean sw_cross_lock_unpark  (SwCrossLock   *lock,
                                SwLockWaiter  *owner);

/* The owner takes over the head waiter if @match accepts it (called with
 * the mutex held): the waiter leaves the queue without being granted, and
 * the owner completes it. Returns NULL when the head does not match. */
SwLockWaiter *sw_cross_lock_take_head (SwCrossLock   *lock,
                                       gboolean     (*match) (SwLockWaiter *waiter));

/* Closes the lock: every queued waiter fails with CLOSED, later acquires
 * fail at once, and the caller takes the lock from a parked async owner or
 * waits for the current owner to release; it then owns the lock for good. */
void     sw_cross_lock_close   (SwCrossLock   *lock);
/* After a failed acquire (CLOSED): waits until the closer owns the lock,
 * so no operation of this direction runs any more. */
void     sw_cross_lock_wait_sealed (SwCrossLock *lock);

G_END_DECLS
