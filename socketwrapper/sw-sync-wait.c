/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Blocking waits of the sync driver, and how close() and a cancellable
 * interrupt them without a file descriptor per connection: each waiting
 * thread has one eventfd, and a connection keeps a registry of the waits
 * under way on it. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <glib/gi18n-lib.h>

#include "sw-sync-wait-private.h"

static void
close_wake_fd (gpointer data)
{
  close (GPOINTER_TO_INT (data) - 1);
}

/* Each thread that waits gets one eventfd for good (made on its first
 * wait, closed when it exits), stored as fd + 1. close() and a cancellable
 * write to it; a connection needs no descriptor of its own, and running
 * out of descriptors is an error rather than GLib's abort in
 * g_cancellable_make_pollfd(). */
static GPrivate wake_fd_key = G_PRIVATE_INIT (close_wake_fd);

/* A forked child must not share its parent's eventfd: reading it could
 * swallow a wake-up meant for the parent. */
static void
forget_wake_fd_in_child (void)
{
  gpointer data = g_private_get (&wake_fd_key);

  if (data != NULL)
    {
      close_wake_fd (data);
      g_private_set (&wake_fd_key, NULL);
    }
}

static int
thread_wake_fd (GError **error)
{
  static gsize atfork_registered = 0;
  int fd = GPOINTER_TO_INT (g_private_get (&wake_fd_key)) - 1;
  int errsv;

  if (G_LIKELY (fd >= 0))
    return fd;
  if (g_once_init_enter (&atfork_registered))
    g_once_init_leave (&atfork_registered,
                       pthread_atfork (NULL, NULL, forget_wake_fd_in_child) == 0 ? 1 : 2);

  fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd >= 0)
    {
      g_private_set (&wake_fd_key, GINT_TO_POINTER (fd + 1));
      return fd;
    }
  errsv = errno;
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
               _("Cannot wait: no file descriptor is left for a wake-up (%s)"),
               g_strerror (errsv));
  return -1;
}

/* One sync wait under way, registered so close() can wake it. */
typedef struct
{
  GList link;       /* in SwCloseWatch.waiters */
  int   fd;         /* the thread's wake fd */
  int   signalled;  /* atomic: @fd was written to */
} SwSyncWait;

static void
sync_wait_signal (SwSyncWait *wait)
{
  guint64 one = 1;
  ssize_t result;

  g_atomic_int_set (&wait->signalled, 1);
  do
    result = write (wait->fd, &one, sizeof one);
  while (result < 0 && errno == EINTR);
}

/* What a cancellable's handler wakes: the wait, until it ends. The
 * handler owns this; the wait detaches itself under @cancel_mutex, so it
 * need not wait for a handler running in another thread (as
 * g_cancellable_disconnect() would: a close() called from a "cancelled"
 * handler would then deadlock with the very wait it waits for). */
typedef struct
{
  SwSyncWait *wait;   /* protected by cancel_mutex; NULL once it ended */
} CancelTarget;

static GMutex cancel_mutex;

static void
on_wait_cancelled (GCancellable *cancellable,
                   gpointer      user_data)
{
  CancelTarget *target = user_data;

  g_mutex_lock (&cancel_mutex);
  if (target->wait != NULL)
    sync_wait_signal (target->wait);
  g_mutex_unlock (&cancel_mutex);
}

static void
cancel_target_free (gpointer  data,
                    GClosure *closure)
{
  g_free (data);
}

/* Runs in the thread calling close(). */
static void
on_close_watch_cancelled (GCancellable *cancellable,
                          gpointer      user_data)
{
  SwCloseWatch *watch = user_data;

  g_mutex_lock (&watch->mutex);
  for (GList *l = watch->waiters.head; l != NULL; l = l->next)
    sync_wait_signal (l->data);
  g_mutex_unlock (&watch->mutex);
}

void
sw_close_watch_init (SwCloseWatch *watch)
{
  watch->cancellable = g_cancellable_new ();
  g_mutex_init (&watch->mutex);
  g_queue_init (&watch->waiters);
  watch->handler = g_cancellable_connect (watch->cancellable,
                                          G_CALLBACK (on_close_watch_cancelled),
                                          watch, NULL);
}

void
sw_close_watch_clear (SwCloseWatch *watch)
{
  g_assert (g_queue_is_empty (&watch->waiters));
  g_cancellable_disconnect (watch->cancellable, watch->handler);
  g_clear_object (&watch->cancellable);
  g_mutex_clear (&watch->mutex);
}

static void
sync_wait_begin (SwSyncWait     *wait,
                 SwCloseWatch   *close_watch,
                 GCancellable   *cancellable,
                 CancelTarget  **target,
                 gulong         *handler)
{
  if (close_watch != NULL)
    {
      wait->link.data = wait;
      g_mutex_lock (&close_watch->mutex);
      g_queue_push_tail_link (&close_watch->waiters, &wait->link);
      g_mutex_unlock (&close_watch->mutex);
    }
  if (cancellable == NULL)
    return;
  *target = g_new0 (CancelTarget, 1);
  (*target)->wait = wait;
  *handler = g_signal_connect_data (cancellable, "cancelled", G_CALLBACK (on_wait_cancelled),
                                    *target, cancel_target_free, 0);
  /* Checked after connecting, so a cancellation is never missed; one
   * seen twice only wakes the wait twice. */
  if (g_cancellable_is_cancelled (cancellable))
    sync_wait_signal (wait);
}

/* After it, nothing writes to the wake fd for this wait; a wake-up that
 * was sent is drained, so the thread's next wait starts clean. */
static void
sync_wait_end (SwSyncWait    *wait,
               SwCloseWatch  *close_watch,
               GCancellable  *cancellable,
               CancelTarget  *target,
               gulong         handler)
{
  guint64 count;
  ssize_t result;

  if (target != NULL)
    {
      g_mutex_lock (&cancel_mutex);
      target->wait = NULL;
      g_mutex_unlock (&cancel_mutex);
      g_signal_handler_disconnect (cancellable, handler);
    }
  if (close_watch != NULL)
    {
      g_mutex_lock (&close_watch->mutex);
      g_queue_unlink (&close_watch->waiters, &wait->link);
      g_mutex_unlock (&close_watch->mutex);
    }
  if (g_atomic_int_get (&wait->signalled))
    do
      result = read (wait->fd, &count, sizeof count);
    while (result < 0 && errno == EINTR);
}

gboolean
sw_sync_wait (SwTransport   *transport,
              GIOCondition   condition,
              gint64         deadline,
              GCancellable  *cancellable,
              SwCloseWatch  *close_watch,
              GError       **error)
{
  SwSyncWait wait = { .fd = -1 };
  CancelTarget *target = NULL;
  gulong handler = 0;
  gboolean ok = TRUE;

  /* Out of time: fail without needing a wake fd. */
  if (deadline >= 0 && g_get_monotonic_time () >= deadline)
    return sw_transport_wait (transport, condition, deadline, cancellable,
                              -1, error);
  wait.fd = thread_wake_fd (error);
  if (wait.fd < 0)
    return FALSE;

  sync_wait_begin (&wait, close_watch, cancellable, &target, &handler);
  /* Registered first: a close() after this check wakes the poll. */
  if (!g_atomic_int_get (&wait.signalled)
      && !(close_watch != NULL && g_cancellable_is_cancelled (close_watch->cancellable)))
    ok = sw_transport_wait (transport, condition, deadline, cancellable,
                            wait.fd, error);
  sync_wait_end (&wait, close_watch, cancellable, target, handler);

  if (!ok)
    return FALSE;
  if (close_watch != NULL && g_cancellable_is_cancelled (close_watch->cancellable))
    {
      sw_transport_set_closed (error);
      return FALSE;
    }
  return !g_cancellable_set_error_if_cancelled (cancellable, error);
}
