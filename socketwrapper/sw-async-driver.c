/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The async driver: runs an operation's steps in a task's main context,
 * waiting for readiness whenever a step would block (the caller's
 * cancellable and close() wake the wait), and parking the direction lock
 * meanwhile so close() can take it over. The same state machines as the
 * sync driver; never a thread hop.
 *
 * Once a context has many waits, a wait on an fd goes through the
 * context's shared epoll source (sw-fd-watch.c), so thousands of pending
 * calls in one context cost nothing per main-loop iteration; below that,
 * a stream without an fd (TLS, a pollable stream), or an fd the shared
 * source cannot take, a wait gets a readiness source of its own. */
#include "config.h"

#include <glib-unix.h>

#include "sw-async-driver-private.h"
#include "sw-fd-watch-private.h"

/* ---- the async driver ------------------------------------------------- */

static void async_driver_wake (SwAsyncDriver *driver);

/* From any thread, while @driver waits: its wake-up runs soon in its
 * context. */
static void
async_driver_wake_soon (SwAsyncDriver *driver)
{
  if (driver->source != NULL)
    g_source_set_ready_time (driver->source, 0);
  else
    sw_fd_wait_wake (&driver->wait);
}

/* Each source type calls its callback with its own arguments (a stream,
 * an fd) before @user_data: one callback per type. */
static void
on_wait_ready (gpointer user_data)
{
  async_driver_wake (user_data);
}

static gboolean
on_stream_ready (GObject  *stream,
                 gpointer  user_data)
{
  async_driver_wake (user_data);
  return G_SOURCE_REMOVE;
}

static gboolean
on_fd_ready (int          fd,
             GIOCondition condition,
             gpointer     user_data)
{
  async_driver_wake (user_data);
  return G_SOURCE_REMOVE;
}

/* May run in any thread, until the wake-up disconnects it. A handler, not
 * a child GCancellableSource: GLib 2.74 leaks one cancelled in one thread
 * while another destroys it. */
static void
on_cancelled (GCancellable *cancellable,
              gpointer      user_data)
{
  async_driver_wake_soon (user_data);
}

static GSource *
readiness_source_new (SwAsyncDriver *driver,
                      int            fd)
{
  SwTransport *transport = &driver->channel->transport;
  GIOCondition condition = driver->op->wait_for;
  GSource *source;

  if (fd >= 0)
    {
      source = g_unix_fd_source_new (fd, condition);
      g_source_set_callback (source, G_SOURCE_FUNC (on_fd_ready), driver, NULL);
    }
  else
    {
      source = sw_transport_stream_source_new (transport, condition);
      g_source_set_callback (source, G_SOURCE_FUNC (on_stream_ready),
                             driver, NULL);
    }
  return source;
}

/* Prepares the wait: on the shared fd watch, else a source of its own
 * (@driver->source). The caller's cancellable and close() (see
 * sw_async_driver_evict()) wake either. Done while the operation still
 * owns the lock, so it reads the transport before close() can clear it. */
static void
async_driver_prepare_wait (SwAsyncDriver *driver)
{
  SwTransport *transport = &driver->channel->transport;
  GIOCondition condition = driver->op->wait_for;
  int fd = (condition & G_IO_IN) ? transport->in_fd : transport->out_fd;

  if (fd >= 0 && sw_fd_wait_prepare (&driver->wait, driver->context, driver->priority, fd,
                                     condition, on_wait_ready, driver))
    return;
  /* Few waits in the context, a stream, or an fd epoll refuses. */
  driver->source = readiness_source_new (driver, fd);
  g_source_set_priority (driver->source, driver->priority);
  g_source_set_static_name (driver->source, "[socketwrapper] wait for I/O");
}

/* The wait ended without its wake-up: never armed, or woken. */
static void
async_driver_end_wait (SwAsyncDriver *driver,
                       gboolean       armed)
{
  if (driver->source != NULL)
    {
      g_source_destroy (driver->source);
      g_clear_pointer (&driver->source, g_source_unref);
    }
  /* A source of its own may still have been counted by the watch. */
  if (driver->wait.watch == NULL)
    return;
  if (armed)
    sw_fd_wait_clear (&driver->wait);
  else
    sw_fd_wait_discard (&driver->wait);
}

static void
async_driver_interrupted (SwAsyncDriver *driver,
                          GError        *error)
{
  if (sw_operation_interrupted (driver->op, driver->channel, &error))
    driver->done (driver, NULL);
  else
    driver->done (driver, error);
}

void
sw_async_driver_run (SwAsyncDriver *driver)
{
  GError *error = NULL;

  switch (sw_operation_step (driver->op, driver->channel, driver->cancellable, &error))
    {
    case SW_STEP_DONE:
      driver->done (driver, NULL);
      return;
    case SW_STEP_ERROR:
      driver->done (driver, error);
      return;
    case SW_STEP_WOULD_BLOCK:
    default:
      break;
    }

  if (g_cancellable_set_error_if_cancelled (driver->cancellable, &error))
    {
      async_driver_interrupted (driver, error);
      return;
    }

  /* The wait is prepared before parking, so close() can wake it, and
   * armed last: once armed it may dispatch at once in another thread that
   * runs the context, and complete the call. Nothing of @driver may be
   * touched after arming. */
  async_driver_prepare_wait (driver);
  if (driver->lock != NULL && !sw_cross_lock_park (driver->lock, driver->owner))
    {
      async_driver_end_wait (driver, FALSE);
      sw_transport_set_closed (&error);
      async_driver_interrupted (driver, error);
      return;
    }
  /* Runs the handler at once if cancelled meanwhile: the wait then
   * dispatches as soon as it is armed. */
  if (driver->cancellable != NULL)
    driver->cancel_handler = g_cancellable_connect (driver->cancellable,
                                                    G_CALLBACK (on_cancelled), driver, NULL);
  if (driver->source != NULL)
    g_source_attach (driver->source, driver->context);
  else
    sw_fd_wait_arm (&driver->wait);
}

static void
async_driver_wake (SwAsyncDriver *driver)
{
  GError *error = NULL;
  gboolean still_owner;

  /* Waits for a handler running in another thread, which reads
   * @driver->source; none runs after it. */
  g_cancellable_disconnect (driver->cancellable, driver->cancel_handler);
  driver->cancel_handler = 0;
  /* Unpark first: it orders this wake-up with close(), which reads
   * @driver->source while the operation is parked. */
  still_owner = driver->lock == NULL || sw_cross_lock_unpark (driver->lock, driver->owner);
  async_driver_end_wait (driver, TRUE);

  if (!still_owner)
    {
      driver->done (driver, g_steal_pointer (&driver->evicted_error));
      return;
    }

  /* Woken by its cancellable, or ready: run() checks the cancellable
   * after a step that would block, so nothing ready is left unread. */
  if (g_cancellable_set_error_if_cancelled (driver->cancellable, &error))
    async_driver_interrupted (driver, error);
  else
    sw_async_driver_run (driver);
}

void
sw_async_driver_evict (SwAsyncDriver *driver)
{
  GError *error = NULL;

  sw_transport_set_closed (&error);
  if (!sw_operation_interrupted (driver->op, driver->channel, &error))
    driver->evicted_error = error;

  /* Parked in a wait: make it dispatch now, in its own context; the
   * wake-up then finds the lock taken and completes the call. A shared
   * wait leaves the epoll set before this returns, before close() closes
   * the fd. (A call parked at a hand-off has no wait: its pending idle
   * does the same.) */
  if (driver->source != NULL || driver->wait.watch != NULL)
    async_driver_wake_soon (driver);
}
