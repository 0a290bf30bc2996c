/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "sw-cross-lock-private.h"
#include "sw-transport-private.h"

void
sw_cross_lock_init (SwCrossLock *lock)
{
  g_mutex_init (&lock->mutex);
  lock->owned = FALSE;
  lock->closed = FALSE;
  lock->parked = NULL;
  lock->sealed = FALSE;
  g_cond_init (&lock->sealed_cond);
  g_queue_init (&lock->waiters);
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

static void
enqueue_unlocked (SwCrossLock  *lock,
                  SwLockWaiter *waiter)
{
  if (lock->closed)
    waiter->state = SW_LOCK_WAITER_CLOSED;
  else if (!lock->owned)
    {
      g_assert (g_queue_is_empty (&lock->waiters));
      lock->owned = TRUE;
      waiter->state = SW_LOCK_WAITER_GRANTED;
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
  SwLockWaiter waiter = { .wake = sw_lock_waiter_signal };
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
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;

  /* Uncontended: one mutex round-trip, no allocation. */
  g_mutex_lock (&lock->mutex);
  if (!lock->owned && !lock->closed)
    {
      lock->owned = TRUE;
      g_mutex_unlock (&lock->mutex);
      return TRUE;
    }
  if (lock->closed)
    {
      g_mutex_unlock (&lock->mutex);
      sw_transport_set_closed (error);
      return FALSE;
    }
  if (deadline >= 0 && g_get_monotonic_time () >= deadline)
    {
      g_mutex_unlock (&lock->mutex);
      sw_transport_set_timed_out (error);
      return FALSE;
    }
  g_mutex_unlock (&lock->mutex);

  return acquire_slow (lock, deadline, cancellable, error);
}

void
sw_cross_lock_release (SwCrossLock *lock)
{
  GList *head;

  g_mutex_lock (&lock->mutex);
  g_assert (lock->owned);
  head = g_queue_pop_head_link (&lock->waiters);
  if (head != NULL)
    {
      /* Hand-off: the lock stays owned and passes to the head waiter. */
      SwLockWaiter *waiter = head->data;

      waiter->state = SW_LOCK_WAITER_GRANTED;
      /* An async waiter runs only once its main context resumes it, maybe
       * in the very thread that is about to close: until then it is
       * parked, so close() can take the lock from it. */
      if (waiter->evict != NULL)
        lock->parked = waiter;
      waiter->wake (waiter);
    }
  else
    lock->owned = FALSE;
  g_mutex_unlock (&lock->mutex);
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
    lock->parked = owner;
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
    }
  g_mutex_unlock (&lock->mutex);
  return still_owner;
}

void
sw_cross_lock_close (SwCrossLock *lock)
{
  SwLockWaiter closer = { .wake = sw_lock_waiter_signal };
  GList *link;

  g_cond_init (&closer.cond);
  g_mutex_lock (&lock->mutex);
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
    }
  else if (lock->owned)
    {
      /* Queue behind the owner, bypassing the closed flag. */
      closer.state = SW_LOCK_WAITER_QUEUED;
      closer.link.data = &closer;
      g_queue_push_tail_link (&lock->waiters, &closer.link);
      while (closer.state == SW_LOCK_WAITER_QUEUED)
        g_cond_wait (&closer.cond, &lock->mutex);
    }
  else
    lock->owned = TRUE;
  lock->sealed = TRUE;
  g_cond_broadcast (&lock->sealed_cond);
  g_mutex_unlock (&lock->mutex);
  g_cond_clear (&closer.cond);
}

void
sw_cross_lock_wait_sealed (SwCrossLock *lock)
{
  g_mutex_lock (&lock->mutex);
  while (!lock->sealed)
    g_cond_wait (&lock->sealed_cond, &lock->mutex);
  g_mutex_unlock (&lock->mutex);
}
