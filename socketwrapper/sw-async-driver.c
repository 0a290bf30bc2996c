/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The async driver: runs an operation's steps in a task's main context,
 * attaching a readiness source whenever a step would block (the caller's
 * cancellable and close() wake it through its ready time), and parking the direction lock meanwhile so
 * close() can take it over. The same state machines as the sync driver;
 * never a thread hop. */
#include "config.h"

#include <glib-unix.h>

#include "sw-async-driver-private.h"

/* ---- the async driver ------------------------------------------------- */

static void async_driver_wake (SwAsyncDriver *driver);

/* Each source type calls its callback with its own arguments (a stream,
 * an fd) before @user_data: one callback per type. */
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
  SwAsyncDriver *driver = user_data;

  g_source_set_ready_time (driver->source, 0);
}

static GSource *
readiness_source_new (SwAsyncDriver *driver)
{
  SwTransport *transport = &driver->channel->transport;
  GIOCondition condition = driver->op->wait_for;
  int fd = (condition & G_IO_IN) ? transport->in_fd : transport->out_fd;
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

/* The source a wait attaches: readiness. The caller's cancellable and
 * close() (see sw_async_driver_evict()) wake it through its ready time.
 * Built while the operation still owns the lock, so it reads the transport
 * before close() can clear it. */
static GSource *
async_driver_source_new (SwAsyncDriver *driver)
{
  GSource *source = readiness_source_new (driver);

  g_source_set_priority (source, driver->priority);
  g_source_set_static_name (source, "[socketwrapper] wait for I/O");
  return source;
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
  GSource *source;

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

  /* The source is stored before parking, so close() can wake it, and
   * before attaching: once attached it may dispatch at once in another
   * thread that runs the context, and complete the call. Nothing of
   * @driver may be touched after the attach. */
  source = driver->source = async_driver_source_new (driver);
  if (driver->lock != NULL && !sw_cross_lock_park (driver->lock, driver->owner))
    {
      g_clear_pointer (&driver->source, g_source_unref);
      sw_transport_set_closed (&error);
      async_driver_interrupted (driver, error);
      return;
    }
  /* Runs the handler at once if cancelled meanwhile: the source then
   * dispatches as soon as it is attached. */
  if (driver->cancellable != NULL)
    driver->cancel_handler = g_cancellable_connect (driver->cancellable,
                                                    G_CALLBACK (on_cancelled), driver, NULL);
  g_source_attach (source, driver->context);
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
  g_source_destroy (driver->source);
  g_clear_pointer (&driver->source, g_source_unref);

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

  /* Parked in a wait: make its source dispatch now, in its own context;
   * the wake-up then finds the lock taken and completes the call. (A call
   * parked at a hand-off has no source: its pending idle does the same.) */
  if (driver->source != NULL)
    g_source_set_ready_time (driver->source, 0);
}
