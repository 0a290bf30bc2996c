/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Closing a connection: close(), close_async() and the close on dispose.
 *
 * A close wakes every call (the close watch), seals both direction locks
 * (sw-cross-lock.c), finishes a committed frame, restores the fd flags it
 * changed and closes what the connection wraps. Sealing never waits in
 * the closing thread for something only that thread can do:
 *
 * - a parked async owner is evicted at once;
 * - an owner running in another thread (a blocking call woken by the close
 *   watch) seals its lock when it releases: a blocking close() waits for
 *   that, close_async() continues from there in its own context;
 * - an owner running in this very thread (user code called by the
 *   operation: a framing, a stream, a TLS handler, called close()) seals
 *   its lock when it unwinds; close() returns at once and the owner
 *   finishes the close when it releases (SW_CLOSE_DEFERRED).
 *
 * notify::closed is emitted once, by whoever finishes the close: the
 * thread of a blocking close() (or of the releasing owner for a deferred
 * one, or of the last unref), or close_async()'s task context, just before
 * its callback. A close never runs in a thread the library made.
 */

#include "config.h"

#include <glib/gi18n-lib.h>

#include "sw-connection-private.h"
#include "sw-fds-private.h"
#include "sw-init-private.h"
#include "sw-transport-private.h"

/* Closes @stream; a TLS connection that refuses (in the middle of a
 * handshake, say) still gets its transport closed, so no socket outlives
 * the close. */
static gboolean
close_io_stream (GIOStream     *stream,
                 GCancellable  *cancellable,
                 GError       **error)
{
  g_autoptr(GIOStream) base = NULL;

  if (g_io_stream_close (stream, cancellable, error))
    return TRUE;
  if (G_IS_TLS_CONNECTION (stream))
    {
      g_object_get (stream, "base-io-stream", &base, NULL);
      if (base != NULL)
        g_io_stream_close (base, NULL, NULL);
    }
  return FALSE;
}

static gboolean
close_wrapped_objects (SwConnection  *self,
                       GCancellable  *cancellable,
                       GError       **error)
{
  gboolean ok = TRUE;

  if (self->owns_socket)
    return g_socket_close (self->socket, error);
  if (!self->close_wrapped)
    return TRUE;

  if (self->stream != NULL)
    return close_io_stream (self->stream, cancellable, error);
  if (self->socket != NULL)
    ok = g_socket_close (self->socket, error);
  if (self->input_stream != NULL)
    ok = g_input_stream_close (self->input_stream, cancellable, ok ? error : NULL) && ok;
  if (self->output_stream != NULL)
    ok = g_output_stream_close (self->output_stream, cancellable, ok ? error : NULL) && ok;
  return ok;
}

/* Closes what the connection wraps and marks it closed; runs once, after
 * the frame flush. Returns the close's outcome. */
static gboolean
close_transport (SwConnection  *self,
                 gboolean       flushed,
                 GError        *flush_error,
                 GCancellable  *cancellable,
                 GError       **error)
{
  SwTransport *transport = &self->channel.transport;
  GError *local_error = flush_error;
  GSList *waiters;

  /* From here on set_inheritable() leaves the fds alone, so it never
   * touches a reused fd number; the objects are closed outside the mutex,
   * as a stream's close may run user code. */
  g_mutex_lock (&self->closed_mutex);
  self->fds_released = TRUE;
  /* Fds received with messages nobody took: both locks are sealed, no
   * operation touches the input. */
  sw_fds_drop_all (&self->channel.input);
  sw_transport_restore_fd_flags (transport);
  transport->in_fd = transport->out_fd = -1;
  transport->in_stream = NULL;
  transport->out_stream = NULL;
  g_mutex_unlock (&self->closed_mutex);

  if (!close_wrapped_objects (self, cancellable, flushed ? &local_error : NULL))
    flushed = FALSE;

  g_mutex_lock (&self->closed_mutex);
  g_atomic_int_set (&self->readable, FALSE);
  g_atomic_int_set (&self->writable, FALSE);
  self->close_error = local_error ? g_error_copy (local_error) : NULL;
  g_atomic_int_set (&self->closed, 1);
  g_cond_broadcast (&self->closed_cond);
  waiters = g_steal_pointer (&self->close_waiters);
  g_mutex_unlock (&self->closed_mutex);

  for (GSList *l = waiters; l != NULL; l = l->next)
    {
      if (local_error != NULL)
        g_task_return_error (l->data, g_error_copy (local_error));
      else
        g_task_return_boolean (l->data, TRUE);
      g_object_unref (l->data);
    }
  g_slist_free (waiters);

  if (local_error != NULL)
    {
      g_propagate_error (error, local_error);
      return FALSE;
    }
  return TRUE;
}

/* Both locks are sealed: finishes a committed frame, blocking, then closes. */
static gboolean
finish_close_sync (SwConnection  *self,
                   GCancellable  *cancellable,
                   GError       **error)
{
  GError *flush_error = NULL;
  gboolean ok = TRUE;

  if (self->channel.output.active && sw_transport_can_write (&self->channel.transport))
    {
      SwOperation flush;

      sw_operation_init (&flush, SW_OPERATION_FLUSH);
      ok = sw_operation_run_sync (&flush, &self->channel, -1, cancellable, NULL, &flush_error);
      sw_operation_clear (&flush);
    }
  ok = close_transport (self, ok, flush_error, cancellable, error);
  sw_connection_notify_closed (self);
  return ok;
}

/* ---- close_async ------------------------------------------------------ */

typedef struct
{
  SwAsyncDriver driver;
  SwOperation   op;
  GTask        *task;
} SwCloseCall;

static void
close_call_free (gpointer data)
{
  SwCloseCall *call = data;

  sw_operation_clear (&call->op);
  g_free (call);
}

static void
on_close_flush_done (SwAsyncDriver *driver,
                     GError        *error)
{
  SwCloseCall *call = (SwCloseCall *) ((guint8 *) driver - G_STRUCT_OFFSET (SwCloseCall, driver));
  GTask *task = call->task;
  SwConnection *self = g_task_get_source_object (task);
  GError *close_error = NULL;

  if (close_transport (self, error == NULL, error, g_task_get_cancellable (task), &close_error))
    {
      sw_connection_notify_closed (self);
      g_task_return_boolean (task, TRUE);
    }
  else
    {
      sw_connection_notify_closed (self);
      g_task_return_error (task, close_error);
    }
  g_object_unref (task);
}

/* Both locks are sealed; runs in close_async()'s context: finishes a
 * committed frame with the async driver, then closes. */
static gboolean
close_async_continue (gpointer user_data)
{
  GTask *task = user_data;
  SwConnection *self = g_task_get_source_object (task);
  SwCloseCall *call = g_task_get_task_data (task);

  sw_operation_init (&call->op, SW_OPERATION_FLUSH);
  call->task = g_object_ref (task);
  call->driver = (SwAsyncDriver) {
    .op = &call->op,
    .channel = &self->channel,
    .context = g_task_get_context (task),
    .priority = g_task_get_priority (task),
    .cancellable = g_task_get_cancellable (task),
    .done = on_close_flush_done,
    .lock = NULL,  /* the locks are sealed: the closer owns the channel */
  };
  if (sw_transport_can_write (&self->channel.transport))
    sw_async_driver_run (&call->driver);
  else
    on_close_flush_done (&call->driver, NULL);
  return G_SOURCE_REMOVE;
}

static void
schedule_close_async_continue (GTask *task)
{
  GSource *idle = g_idle_source_new ();

  g_source_set_priority (idle, g_task_get_priority (task));
  g_source_set_static_name (idle, "[socketwrapper] close");
  g_source_set_callback (idle, close_async_continue, g_object_ref (task), g_object_unref);
  g_source_attach (idle, g_task_get_context (task));
  g_source_unref (idle);
}

/* ---- sealing ---------------------------------------------------------- */

static gboolean
finish_close_in_context (gpointer user_data)
{
  finish_close_sync (user_data, NULL, NULL);
  return G_SOURCE_REMOVE;
}

/* A close left to the call that held a lock: it finishes in that call's
 * thread, or, for a call running in a library worker, in the call's
 * context (a close never runs in a thread the library made). */
static void
finish_deferred_close (SwConnection *self)
{
  GMainContext *context = sw_connection_get_worker_context (self);
  GSource *idle;

  if (context == NULL)
    {
      finish_close_sync (self, NULL, NULL);
      return;
    }
  idle = g_idle_source_new ();
  g_source_set_static_name (idle, "[socketwrapper] close");
  g_source_set_callback (idle, finish_close_in_context, g_object_ref (self), g_object_unref);
  g_source_attach (idle, context);
  g_source_unref (idle);
}

/* Both locks are sealed: whoever waits for that goes on. */
static void
close_locks_sealed (SwConnection *self)
{
  GTask *task = NULL;
  SwCloseMode mode;

  g_mutex_lock (&self->closed_mutex);
  mode = self->close_mode;
  if (mode == SW_CLOSE_SYNC)
    g_cond_broadcast (&self->closed_cond);
  else if (mode == SW_CLOSE_ASYNC)
    task = g_steal_pointer (&self->close_task);
  g_mutex_unlock (&self->closed_mutex);

  if (mode == SW_CLOSE_DEFERRED)
    finish_deferred_close (self);
  else if (task != NULL)
    {
      schedule_close_async_continue (task);
      g_object_unref (task);
    }
}

void
sw_connection_on_lock_sealed (SwCrossLock *lock,
                              gpointer     user_data)
{
  SwConnection *self = user_data;

  if (g_atomic_int_dec_and_test (&self->n_unsealed))
    close_locks_sealed (self);
}

/* Starts closing in @mode: wakes every call and seals what can be sealed
 * now. Returns TRUE when both locks are sealed already; otherwise
 * sw_connection_on_lock_sealed() goes on once they are. */
static gboolean
begin_close (SwConnection *self,
             SwCloseMode   mode,
             GTask        *task)
{
  SwCrossLock *locks[] = { &self->receive_lock, &self->send_lock };
  gboolean deferred = FALSE;
  gboolean sealed = FALSE;

  g_mutex_lock (&self->closed_mutex);
  self->close_mode = mode;
  self->close_task = task ? g_object_ref (task) : NULL;
  if (task != NULL)
    self->close_context = g_main_context_ref (g_task_get_context (task));
  g_mutex_unlock (&self->closed_mutex);

  g_atomic_int_set (&self->n_unsealed, G_N_ELEMENTS (locks));
  g_cancellable_cancel (self->close_watch.cancellable);
  for (guint i = 0; i < G_N_ELEMENTS (locks); i++)
    switch (sw_cross_lock_close (locks[i]))
      {
      case SW_LOCK_SEALED:
        sealed = g_atomic_int_dec_and_test (&self->n_unsealed);
        break;
      case SW_LOCK_SEAL_DEFERRED:
        deferred = TRUE;
        break;
      case SW_LOCK_SEAL_LATER:
      default:
        break;
      }

  /* The deferred owner is this thread, below us: nothing can seal before
   * the mode says who finishes. */
  if (deferred && mode == SW_CLOSE_SYNC)
    {
      g_mutex_lock (&self->closed_mutex);
      self->close_mode = SW_CLOSE_DEFERRED;
      g_mutex_unlock (&self->closed_mutex);
    }
  if (sealed && task != NULL)
    {
      g_mutex_lock (&self->closed_mutex);
      g_clear_object (&self->close_task);
      g_mutex_unlock (&self->closed_mutex);
    }
  return sealed;
}

static void
on_close_wait_cancelled (GCancellable *cancellable,
                         gpointer      user_data)
{
  SwConnection *self = user_data;

  g_mutex_lock (&self->closed_mutex);
  g_cond_broadcast (&self->closed_cond);
  g_mutex_unlock (&self->closed_mutex);
}

/* Whether the close under way can only finish once this thread goes on:
 * it was left to an owner running in this thread, or it is a
 * close_async() of a context that no other thread runs. */
static gboolean
close_finishes_here_unlocked (SwConnection *self)
{
  if (self->close_mode == SW_CLOSE_DEFERRED)
    return sw_cross_lock_runs_here (&self->receive_lock)
           || sw_cross_lock_runs_here (&self->send_lock);
  if (self->close_mode != SW_CLOSE_ASYNC)
    return FALSE;
  /* Free or this thread's: no other thread runs the context, so waiting
   * here (before the main loop runs, say) would never end. */
  if (!g_main_context_acquire (self->close_context))
    return FALSE;
  g_main_context_release (self->close_context);
  return TRUE;
}

/* Another close is under way: waits until it has finished (or
 * @cancellable fires) and returns its outcome; returns TRUE at once when
 * that close can only finish once this thread goes on. */
static gboolean
wait_for_other_close (SwConnection  *self,
                      GCancellable  *cancellable,
                      GError       **error)
{
  gulong handler = 0;
  gboolean ok;

  if (cancellable != NULL)
    handler = g_cancellable_connect (cancellable, G_CALLBACK (on_close_wait_cancelled),
                                     self, NULL);
  g_mutex_lock (&self->closed_mutex);
  while (!g_atomic_int_get (&self->closed) && !g_cancellable_is_cancelled (cancellable)
         && !close_finishes_here_unlocked (self))
    g_cond_wait (&self->closed_cond, &self->closed_mutex);
  if (!g_atomic_int_get (&self->closed) && close_finishes_here_unlocked (self))
    ok = TRUE;
  else if (g_atomic_int_get (&self->closed))
    {
      ok = self->close_error == NULL;
      if (!ok)
        g_propagate_error (error, g_error_copy (self->close_error));
    }
  else
    ok = !g_cancellable_set_error_if_cancelled (cancellable, error);
  g_mutex_unlock (&self->closed_mutex);
  g_cancellable_disconnect (cancellable, handler);
  return ok;
}

typedef enum
{
  SEALS_DONE,
  SEALS_LEFT_DEFERRED,   /* an owner in this thread finishes the close */
  SEALS_LEFT_CANCELLED,  /* the owner finishes it: the closer gave up */
} SealsWait;

/* A blocking close waits for owners in other threads, woken by the close
 * watch, to seal their locks as they leave their system calls; or, if
 * @cancellable fires first, leaves the close to them. */
static SealsWait
wait_for_seals (SwConnection *self,
                GCancellable *cancellable)
{
  SealsWait result = SEALS_DONE;
  gulong handler = 0;

  if (cancellable != NULL)
    handler = g_cancellable_connect (cancellable, G_CALLBACK (on_close_wait_cancelled),
                                     self, NULL);
  g_mutex_lock (&self->closed_mutex);
  while (result == SEALS_DONE && g_atomic_int_get (&self->n_unsealed) > 0)
    {
      if (self->close_mode == SW_CLOSE_DEFERRED)
        result = SEALS_LEFT_DEFERRED;
      else if (g_cancellable_is_cancelled (cancellable))
        {
          /* Under the mutex: the last seal then sees the mode. */
          self->close_mode = SW_CLOSE_DEFERRED;
          result = SEALS_LEFT_CANCELLED;
        }
      else
        g_cond_wait (&self->closed_cond, &self->closed_mutex);
    }
  g_mutex_unlock (&self->closed_mutex);
  g_cancellable_disconnect (cancellable, handler);
  return result;
}

gboolean
sw_connection_close_internal (SwConnection  *self,
                              GCancellable  *cancellable,
                              GError       **error)
{
  if (!g_atomic_int_compare_and_exchange (&self->closing, 0, 1))
    return wait_for_other_close (self, cancellable, error);

  if (!begin_close (self, SW_CLOSE_SYNC, NULL))
    switch (wait_for_seals (self, cancellable))
      {
      case SEALS_LEFT_DEFERRED:
        return TRUE;
      case SEALS_LEFT_CANCELLED:
        g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                             _("Closing goes on once the call in progress returns"));
        return FALSE;
      case SEALS_DONE:
      default:
        break;
      }
  return finish_close_sync (self, cancellable, error);
}

gboolean
sw_connection_lock_closed_state (SwConnection  *self,
                                 GError       **error)
{
  if (!sw_cross_lock_wait_sealed (&self->receive_lock, error)
      || !sw_cross_lock_wait_sealed (&self->send_lock, error))
    return FALSE;
  g_mutex_lock (&self->closed_mutex);
  return TRUE;
}

/* ---- public API ------------------------------------------------------- */

/**
 * sw_connection_close:
 * @self: a connection
 * @cancellable: (nullable): a cancellable, or %NULL
 * @error: return location for a #GError
 *
 * Closes the connection. Calls in progress or queued, in any thread or
 * main context, complete with %G_IO_ERROR_CLOSED (a committed send
 * succeeds); a committed frame is finished, waiting for the peer as long
 * as it takes unless @cancellable fires; then what the connection wraps
 * is closed (unless [property@Sw.Connection:close-wrapped] is %FALSE), and
 * file descriptors the connection did not create get back the blocking
 * mode they had.
 *
 * Called from code that the connection itself is running — a framing, a
 * stream or a TLS handler called during a receive or a send — it returns
 * at once, and that call finishes the close when it returns.
 *
 * Later calls fail with %G_IO_ERROR_CLOSED. A second close waits for the
 * first to finish (or for its own @cancellable) and returns the first
 * close's outcome; it returns %TRUE at once when that close can only
 * finish once this thread goes on (it was called by code the connection
 * runs in this thread, or it is a [method@Sw.Connection.close_async] whose
 * main context no other thread is running).
 *
 * If @cancellable fires while a call in another thread still holds the
 * connection (a blocking write to a stream that cannot poll), close()
 * fails with %G_IO_ERROR_CANCELLED and that call finishes the close when
 * it returns.
 *
 * Returns: %TRUE on success; the connection is closed either way
 *
 * Since: 0.1
 */
gboolean
sw_connection_close (SwConnection  *self,
                     GCancellable  *cancellable,
                     GError       **error)
{
  g_return_val_if_fail (SW_IS_CONNECTION (self), FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return sw_connection_close_internal (self, cancellable, error);
}

/**
 * sw_connection_close_async:
 * @self: a connection
 * @io_priority: the I/O priority of the call
 * @cancellable: (nullable): a cancellable, or %NULL
 * @callback: (scope async): called when the connection is closed
 * @user_data: data for @callback
 *
 * Closes the connection like [method@Sw.Connection.close] without
 * blocking the calling thread: calls in progress or queued complete with
 * %G_IO_ERROR_CLOSED (or succeed, for committed sends), a committed frame
 * is finished, and what the connection wraps is closed. The close runs in
 * the thread-default main context of the thread that made the call, where
 * [property@Sw.Connection:closed] is notified and then @callback runs.
 *
 * Since: 0.1
 */
void
sw_connection_close_async (SwConnection        *self,
                           int                  io_priority,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (SW_IS_CONNECTION (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_name (task, "sw_connection_close_async");
  g_task_set_source_tag (task, SW_TAG (sw_connection_close_async));
  g_task_set_priority (task, io_priority);
  g_task_set_check_cancellable (task, FALSE);
  g_task_set_task_data (task, g_new0 (SwCloseCall, 1), close_call_free);

  if (!g_atomic_int_compare_and_exchange (&self->closing, 0, 1))
    {
      /* Another close is under way: complete with its outcome. */
      g_mutex_lock (&self->closed_mutex);
      if (!g_atomic_int_get (&self->closed))
        {
          self->close_waiters = g_slist_append (self->close_waiters,
                                                g_steal_pointer (&task));
          g_mutex_unlock (&self->closed_mutex);
          return;
        }
      if (self->close_error != NULL)
        g_task_return_error (task, g_error_copy (self->close_error));
      else
        g_task_return_boolean (task, TRUE);
      g_mutex_unlock (&self->closed_mutex);
      return;
    }

  if (begin_close (self, SW_CLOSE_ASYNC, task))
    schedule_close_async_continue (task);
}

/**
 * sw_connection_close_finish:
 * @self: a connection
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Sw.Connection.close_async].
 *
 * Returns: %TRUE on success; the connection is closed either way
 *
 * Since: 0.1
 */
gboolean
sw_connection_close_finish (SwConnection  *self,
                            GAsyncResult  *result,
                            GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_async_result_is_tagged (result, SW_TAG (sw_connection_close_async)),
                        FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}
