/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The FIFO hand-off lock that blocking threads and async calls of any main
 * context queue on together: one per direction of a connection.
 *
 * Locking
 * =======
 *
 * A waiter's life:
 *
 *     enqueue ──> QUEUED ──release hands off──> GRANTED ──> (runs) ──> release
 *                   │                             │   ^
 *                   │ timeout, cancel             │   │ unpark
 *                   v                             v   │
 *                 (gone)             async only: parked ──close()──> EVICTED
 *                   │
 *                   └── close() ──> CLOSED
 *
 * - Who owns the channel: the GRANTED owner, and only while it is not
 *   EVICTED. A blocking owner owns it from acquire to release. An async
 *   owner is "parked" (@parked) whenever it waits for its main context to
 *   run it again: after a hand-off until its idle runs, and while it waits
 *   on a readiness source. A parked owner is in no system call and runs no
 *   user code, so close() may take the lock (and the channel) from it:
 *   EVICTED, its outcome decided by the committed-send rule at that point.
 * - @running is the thread the owner runs in, NULL while parked. A call in
 *   this thread that would wait for the lock fails with PENDING instead
 *   when the wait could only end by this thread going on (the owner runs
 *   in it: user code called by the operation — a framing, a stream, a TLS
 *   handler; or the owner or a waiter ahead belongs to a main context this
 *   thread owns). close() from such user code does not wait either: the
 *   owner seals the lock when it unwinds to its release.
 * - Closing: @closed fails every queued waiter and every later acquire;
 *   the lock is @sealed (the closer's for good) at once when free or
 *   parked, else when the running owner releases it, which then calls
 *   @sealed_func in its own thread.
 *
 * Lock order: a connection's closed_mutex, then the receive lock's mutex,
 * then the send lock's mutex, then a GMainContext's own lock (attaching an
 * idle, g_main_context_is_owner()); the settings and codec mutexes are
 * leaves. Functions called with @mutex held end in _unlocked, or are wake
 * and evict callbacks, which must only schedule (attach a source, signal a
 * condition): no user code and no object release runs under @mutex.
 */

#include "config.h"

#include <glib/gi18n-lib.h>

#include "sw-cross-lock-private.h"
#include "sw-transport-private.h"

/* Asserts that @lock's mutex is held, as _unlocked functions need (a
 * mutex held by anyone cannot be taken again: trylock fails). */
#define LOCK_ENSURE_HELD(lock) g_assert (!g_mutex_trylock (&(lock)->mutex))

void
sw_cross_lock_init (SwCrossLock      *lock,
                    SwLockSealedFunc  sealed_func,
                    gpointer          sealed_data)
{
  g_mutex_init (&lock->mutex);
  lock->owned = FALSE;
  lock->closed = FALSE;
  lock->parked = NULL;
  lock->owner = NULL;
  lock->running = NULL;
  lock->sealed = FALSE;
  g_cond_init (&lock->sealed_cond);
  g_queue_init (&lock->waiters);
  lock->sealed_func = sealed_func;
  lock->sealed_data = sealed_data;
}

void
sw_cross_lock_clear (SwCrossLock *lock)
{
  g_assert (g_queue_is_empty (&lock->waiters));
  g_cond_clear (&lock->sealed_cond);
  g_mutex_clear (&lock->mutex);
}

static void
sw_lock_waiter_signal (SwLockWaiter *waiter)
{
  g_cond_signal (&waiter->cond);
}

/* @waiter now owns the lock. A blocking waiter runs in its thread; an
 * async one is parked until its main context resumes it (unless
 * @runs_now: it was granted in the thread that is about to run it). */
static void
grant_unlocked (SwCrossLock  *lock,
                SwLockWaiter *waiter,
                gboolean      runs_now)
{
  LOCK_ENSURE_HELD (lock);
  lock->owned = TRUE;
  waiter->state = SW_LOCK_WAITER_GRANTED;
  lock->owner = waiter->context != NULL ? waiter : NULL;
  if (waiter->context == NULL)
    lock->running = waiter->thread;
  else if (runs_now)
    lock->running = waiter->threaded ? NULL : g_thread_self ();
  else
    {
      lock->running = NULL;
      lock->parked = waiter;
    }
}

static void
enqueue_unlocked (SwCrossLock  *lock,
                  SwLockWaiter *waiter)
{
  LOCK_ENSURE_HELD (lock);
  if (lock->closed)
    waiter->state = SW_LOCK_WAITER_CLOSED;
  else if (!lock->owned)
    {
      g_assert (g_queue_is_empty (&lock->waiters));
      grant_unlocked (lock, waiter, TRUE);
    }
  else
    {
      waiter->state = SW_LOCK_WAITER_QUEUED;
      waiter->link.data = waiter;
      g_queue_push_tail_link (&lock->waiters, &waiter->link);
    }
}

SwLockWaiterState
sw_cross_lock_enqueue (SwCrossLock  *lock,
                       SwLockWaiter *waiter)
{
  SwLockWaiterState state;

  g_mutex_lock (&lock->mutex);
  enqueue_unlocked (lock, waiter);
  state = waiter->state;
  g_mutex_unlock (&lock->mutex);
  return state;
}

gboolean
sw_cross_lock_dequeue (SwCrossLock  *lock,
                       SwLockWaiter *waiter)
{
  gboolean was_queued;

  g_mutex_lock (&lock->mutex);
  was_queued = waiter->state == SW_LOCK_WAITER_QUEUED;
  if (was_queued)
    g_queue_unlink (&lock->waiters, &waiter->link);
  g_mutex_unlock (&lock->mutex);

  return was_queued;
}

/* Whether @waiter is an async call that only this thread can run: one of
 * a main context this thread owns, and not one running in its worker. */
static gboolean
runs_in_own_context_unlocked (SwCrossLock        *lock,
                              const SwLockWaiter *waiter)
{
  if (waiter == NULL || waiter->context == NULL)
    return FALSE;
  if (waiter->threaded && waiter->state == SW_LOCK_WAITER_GRANTED && lock->parked != waiter)
    return FALSE;
  return g_main_context_is_owner (waiter->context);
}

/* Fails with PENDING when waiting for the lock could only end by this
 * thread going on. */
static gboolean
check_wait_can_end_unlocked (SwCrossLock  *lock,
                             GError      **error)
{
  const SwLockWaiter *blocker = NULL;

  LOCK_ENSURE_HELD (lock);
  if (lock->running == g_thread_self ())
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_PENDING,
                           _("A call on this connection is in progress in this very "
                             "thread, which would wait for itself"));
      return FALSE;
    }
  if (runs_in_own_context_unlocked (lock, lock->owner))
    blocker = lock->owner;
  for (GList *l = lock->waiters.head; blocker == NULL && l != NULL; l = l->next)
    if (runs_in_own_context_unlocked (lock, l->data))
      blocker = l->data;
  if (blocker == NULL)
    return TRUE;

  g_set_error (error, G_IO_ERROR, G_IO_ERROR_PENDING,
               _("%s is pending in this thread's main context; waiting for it "
                 "here would never end"), blocker->name ? blocker->name : "An async call");
  return FALSE;
}

static void
on_waiter_cancelled (GCancellable *cancellable,
                     gpointer      user_data)
{
  SwCrossLock *lock = ((gpointer *) user_data)[0];
  SwLockWaiter *waiter = ((gpointer *) user_data)[1];

  /* Taking the mutex orders this signal after the waiter's check of the
   * cancellable, so the wake-up cannot be lost. */
  g_mutex_lock (&lock->mutex);
  g_cond_signal (&waiter->cond);
  g_mutex_unlock (&lock->mutex);
}

/* Waits, mutex held, until @waiter leaves the QUEUED state or gives up.
 * Returns the final state; a waiter that gave up is no longer queued. */
static SwLockWaiterState
wait_queued_unlocked (SwCrossLock  *lock,
                      SwLockWaiter *waiter,
                      gint64        deadline,
                      GCancellable *cancellable)
{
  LOCK_ENSURE_HELD (lock);
  while (waiter->state == SW_LOCK_WAITER_QUEUED)
    {
      if (g_cancellable_is_cancelled (cancellable))
        break;
      if (deadline < 0)
        g_cond_wait (&waiter->cond, &lock->mutex);
      else if (!g_cond_wait_until (&waiter->cond, &lock->mutex, deadline))
        break;
    }

  if (waiter->state == SW_LOCK_WAITER_QUEUED)
    g_queue_unlink (&lock->waiters, &waiter->link);

  return waiter->state;
}

static gboolean
acquire_slow (SwCrossLock   *lock,
              gint64         deadline,
              GCancellable  *cancellable,
              GError       **error)
{
  SwLockWaiter waiter = { .wake = sw_lock_waiter_signal, .thread = g_thread_self () };
  gpointer handler_data[2] = { lock, &waiter };
  SwLockWaiterState state;
  gulong handler = 0;

  g_cond_init (&waiter.cond);
  if (cancellable != NULL)
    handler = g_cancellable_connect (cancellable, G_CALLBACK (on_waiter_cancelled),
                                     handler_data, NULL);

  g_mutex_lock (&lock->mutex);
  enqueue_unlocked (lock, &waiter);
  state = wait_queued_unlocked (lock, &waiter, deadline, cancellable);
  g_mutex_unlock (&lock->mutex);

  /* Not under the mutex: disconnecting waits for a running handler, which
   * takes the mutex. */
  g_cancellable_disconnect (cancellable, handler);
  g_cond_clear (&waiter.cond);

  if (state == SW_LOCK_WAITER_GRANTED)
    return TRUE;
  if (state == SW_LOCK_WAITER_CLOSED)
    sw_transport_set_closed (error);
  else if (!g_cancellable_set_error_if_cancelled (cancellable, error))
    sw_transport_set_timed_out (error);
  return FALSE;
}

gboolean
sw_cross_lock_acquire (SwCrossLock   *lock,
                       gint64         deadline,
                       GCancellable  *cancellable,
                       GError       **error)
{
  gboolean ok = FALSE;

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;

  /* Uncontended: one mutex round-trip, no allocation. */
  g_mutex_lock (&lock->mutex);
  if (!lock->owned && !lock->closed)
    {
      lock->owned = TRUE;
      lock->owner = NULL;
      lock->running = g_thread_self ();
      g_mutex_unlock (&lock->mutex);
      return TRUE;
    }
  if (lock->closed)
    sw_transport_set_closed (error);
  else if (!check_wait_can_end_unlocked (lock, error))
    ;
  else if (deadline >= 0 && g_get_monotonic_time () >= deadline)
    sw_transport_set_timed_out (error);
  else
    ok = TRUE;
  g_mutex_unlock (&lock->mutex);

  return ok && acquire_slow (lock, deadline, cancellable, error);
}

/* The owner of a closed lock lets go: the lock is sealed, the closer's. */
static void
seal_unlocked (SwCrossLock *lock)
{
  LOCK_ENSURE_HELD (lock);
  lock->owner = NULL;
  lock->running = NULL;
  lock->sealed = TRUE;
  g_cond_broadcast (&lock->sealed_cond);
}

void
sw_cross_lock_release (SwCrossLock *lock)
{
  GList *head;
  gboolean sealed_now = FALSE;

  g_mutex_lock (&lock->mutex);
  g_assert (lock->owned && !lock->sealed);
  head = g_queue_pop_head_link (&lock->waiters);
  if (head != NULL)
    {
      /* Hand-off: the lock stays owned and passes to the head waiter. An
       * async waiter runs only once its main context resumes it, maybe in
       * the very thread that is about to close: until then it is parked,
       * so close() can take the lock from it. */
      SwLockWaiter *waiter = head->data;

      grant_unlocked (lock, waiter, FALSE);
      waiter->wake (waiter);
    }
  else if (lock->closed)
    {
      seal_unlocked (lock);
      sealed_now = TRUE;
    }
  else
    {
      lock->owned = FALSE;
      lock->owner = NULL;
      lock->running = NULL;
    }
  g_mutex_unlock (&lock->mutex);

  if (sealed_now && lock->sealed_func != NULL)
    lock->sealed_func (lock, lock->sealed_data);
}

SwLockWaiter *
sw_cross_lock_take_head (SwCrossLock   *lock,
                         gboolean     (*match) (SwLockWaiter *waiter))
{
  SwLockWaiter *head;

  g_mutex_lock (&lock->mutex);
  head = g_queue_peek_head (&lock->waiters);
  if (head != NULL && match (head))
    {
      g_queue_unlink (&lock->waiters, &head->link);
      head->state = SW_LOCK_WAITER_GRANTED;
    }
  else
    head = NULL;
  g_mutex_unlock (&lock->mutex);
  return head;
}

gboolean
sw_cross_lock_park (SwCrossLock  *lock,
                    SwLockWaiter *owner)
{
  gboolean parked;

  g_mutex_lock (&lock->mutex);
  g_assert (lock->owned && lock->parked == NULL);
  parked = !lock->closed;
  if (parked)
    {
      lock->parked = owner;
      lock->running = NULL;
    }
  g_mutex_unlock (&lock->mutex);
  return parked;
}

gboolean
sw_cross_lock_unpark (SwCrossLock  *lock,
                      SwLockWaiter *owner)
{
  gboolean still_owner;

  g_mutex_lock (&lock->mutex);
  still_owner = owner->state != SW_LOCK_WAITER_EVICTED;
  if (still_owner)
    {
      g_assert (lock->parked == owner);
      lock->parked = NULL;
      lock->running = g_thread_self ();
    }
  g_mutex_unlock (&lock->mutex);
  return still_owner;
}

void
sw_cross_lock_set_running (SwCrossLock *lock,
                           GThread     *thread)
{
  g_mutex_lock (&lock->mutex);
  lock->running = thread;
  g_mutex_unlock (&lock->mutex);
}

gboolean
sw_cross_lock_runs_here (SwCrossLock *lock)
{
  gboolean here;

  g_mutex_lock (&lock->mutex);
  here = lock->running == g_thread_self ();
  g_mutex_unlock (&lock->mutex);
  return here;
}

SwLockSeal
sw_cross_lock_close (SwCrossLock *lock)
{
  SwLockSeal seal = SW_LOCK_SEALED;
  GList *link;

  g_mutex_lock (&lock->mutex);
  g_assert (!lock->closed);
  lock->closed = TRUE;
  while ((link = g_queue_pop_head_link (&lock->waiters)) != NULL)
    {
      SwLockWaiter *waiter = link->data;

      waiter->state = SW_LOCK_WAITER_CLOSED;
      waiter->wake (waiter);
    }

  if (lock->parked != NULL)
    {
      /* The owner waits on a source, maybe in this very thread's main
       * context: waiting for it could deadlock, and it is in no system
       * call, so take the lock over. */
      SwLockWaiter *owner = g_steal_pointer (&lock->parked);

      owner->state = SW_LOCK_WAITER_EVICTED;
      owner->evict (owner);
      seal_unlocked (lock);
    }
  else if (lock->owned)
    seal = lock->running == g_thread_self () ? SW_LOCK_SEAL_DEFERRED : SW_LOCK_SEAL_LATER;
  else
    {
      lock->owned = TRUE;
      seal_unlocked (lock);
    }
  g_mutex_unlock (&lock->mutex);
  return seal;
}

gboolean
sw_cross_lock_wait_sealed (SwCrossLock  *lock,
                           GError      **error)
{
  gboolean ok = TRUE;

  g_mutex_lock (&lock->mutex);
  while (!lock->sealed && ok)
    {
      if (lock->running == g_thread_self ())
        ok = check_wait_can_end_unlocked (lock, error);
      else
        g_cond_wait (&lock->sealed_cond, &lock->mutex);
    }
  g_mutex_unlock (&lock->mutex);
  return ok;
}
