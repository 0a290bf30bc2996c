/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _SwCrossLock   SwCrossLock;
typedef struct _SwLockWaiter  SwLockWaiter;

typedef enum
{
  SW_LOCK_WAITER_IDLE,     /* not (or no longer) in any queue */
  SW_LOCK_WAITER_QUEUED,
  SW_LOCK_WAITER_GRANTED,
  SW_LOCK_WAITER_CLOSED,
  SW_LOCK_WAITER_EVICTED,
} SwLockWaiterState;

/* How sw_cross_lock_close() left the lock. */
typedef enum
{
  SW_LOCK_SEALED,         /* the closer owns it now */
  SW_LOCK_SEAL_LATER,     /* an owner in another thread seals it on release */
  SW_LOCK_SEAL_DEFERRED,  /* the owner runs in this very thread, below the
                           * closer: it seals the lock once it unwinds */
} SwLockSeal;

/* Called with the lock's mutex held when the waiter's state changes from
 * QUEUED: a blocking waiter signals its condition, an async waiter (which
 * embeds this struct) schedules its resumption in its own main context. */
typedef void (*SwLockWakeFunc) (SwLockWaiter *waiter);

/* Called, mutex not held, in the releasing thread, when an owner releases
 * a lock that was closed under it. */
typedef void (*SwLockSealedFunc) (SwCrossLock *lock,
                                  gpointer     user_data);

struct _SwLockWaiter
{
  GList             link;   /* in SwCrossLock.waiters */
  SwLockWaiterState state;  /* protected by the lock's mutex */
  SwLockWakeFunc    wake;
  /* Async owners only: called, mutex held, when close() takes the lock
   * from this owner while it is parked (waiting on a source in its main
   * context, not inside a system call). */
  SwLockWakeFunc    evict;
  GMainContext     *context;  /* async waiters: where they resume */
  gboolean          threaded; /* async waiters that run in a worker thread
                               * once resumed (streams that cannot poll) */
  const char       *name;     /* async waiters: the call, for errors */
  GThread          *thread;   /* blocking waiters: the waiting thread */
  GCond             cond;     /* blocking waiters only */
};

/* A FIFO lock that blocking threads and async tasks queue on together.
 * Release hands the lock to the head waiter, so there is no barging and
 * service is strictly first come, first served. The rules are written at
 * the top of sw-cross-lock.c. */
struct _SwCrossLock
{
  GMutex   mutex;
  gboolean owned;    /* protected by @mutex */
  gboolean closed;   /* protected by @mutex */
  SwLockWaiter *parked;  /* protected by @mutex: an async owner between steps */
  SwLockWaiter *owner;   /* protected by @mutex: the async owner, or NULL */
  GThread  *running;     /* protected by @mutex: the thread the owner runs in,
                          * NULL while it is parked */
  gboolean sealed;   /* protected by @mutex: the closer owns the lock for good */
  GCond    sealed_cond;
  GQueue   waiters;  /* protected by @mutex; of SwLockWaiter via link */
  SwLockSealedFunc sealed_func;     /* read-only after init */
  gpointer         sealed_data;     /* read-only after init */
};

void     sw_cross_lock_init    (SwCrossLock      *lock,
                                SwLockSealedFunc  sealed_func,
                                gpointer          sealed_data);
void     sw_cross_lock_clear   (SwCrossLock      *lock);

/* Takes the lock, waiting at most until @deadline (monotonic time, -1 for
 * none). Fails with TIMED_OUT, CANCELLED or CLOSED; a waiter that gives up
 * leaves the queue without disturbing the others. Fails at once with
 * PENDING when the wait could only end by this thread going on: the owner
 * runs in this thread, or the owner or a waiter ahead is an async call of
 * a main context this thread owns. */
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

/* The owner now runs in @thread (a threaded call: NULL while it moves to
 * its worker, then the worker). */
void     sw_cross_lock_set_running (SwCrossLock *lock,
                                    GThread     *thread);
/* Whether the owner runs in this thread, below the caller. */
gboolean sw_cross_lock_runs_here   (SwCrossLock *lock);

/* Closes the lock: every queued waiter fails with CLOSED and later
 * acquires fail at once. The caller takes the lock from a parked async
 * owner at once; an owner that is running seals it when it releases (see
 * SwLockSeal), calling the sealed function. Never waits. */
SwLockSeal sw_cross_lock_close (SwCrossLock   *lock);
/* After a failed acquire (CLOSED): waits until the lock is sealed, so no
 * operation of this direction runs any more. Fails with PENDING when the
 * owner it would wait for runs in this very thread. */
gboolean sw_cross_lock_wait_sealed (SwCrossLock  *lock,
                                    GError      **error);

G_END_DECLS
