/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The async calls of SwConnection: the call object (a GTask's data) that
 * queues on a direction lock in the caller's context, is granted the lock
 * through an idle in that context, runs the operation with the async
 * driver (or, on streams that cannot poll, the sync driver in a worker),
 * takes queued sends into its batch (corking), leaves the queue when its
 * cancellable fires, and completes the task; and the public _async and
 * _finish functions of the message calls. */

#include "config.h"

#include <glib/gi18n-lib.h>

#include "sw-connection-private.h"
#include "sw-fds-private.h"
#include "sw-init-private.h"
#include "sw-transport-private.h"

/* ---- async calls ------------------------------------------------------ */

/* One async call in flight: the task's data. While in flight it holds a
 * reference on the task, which holds one on the connection. */
typedef struct
{
  SwLockWaiter   waiter;
  SwAsyncDriver  driver;
  SwOperation    op;
  GTask         *task;
  gulong         queue_handler;  /* on the caller's cancellable, while queued */

  /* Queued sends whose messages ride in this call's batch (corking); they
   * complete with it. */
  GSList             *absorbed;

  /* Runs once the operation succeeded, the lock still held. */
  SwAfterFunc         after;

  /* The stream cannot poll: once granted the lock, the call runs the sync
   * driver in a worker thread (GIO does the same for such streams). */
  gboolean            threaded;

  /* The receive loop: one call that receives message after message. */
  gboolean            loop;
  guint               n_batch;       /* messages since it got the lock */
  GCancellable       *loop_cancellable;  /* owned; stop_receiving() fires it */
} SwAsyncCall;

static void
async_call_free (gpointer data)
{
  SwAsyncCall *call = data;

  g_assert (call->queue_handler == 0 && call->driver.source == NULL
            && call->driver.wait.watch == NULL);
  g_clear_error (&call->driver.evicted_error);
  sw_operation_clear (&call->op);
  g_clear_object (&call->loop_cancellable);
  g_free (call);
}

static SwAsyncCall *
async_call_from_waiter (SwLockWaiter *waiter)
{
  return (SwAsyncCall *) ((guint8 *) waiter - G_STRUCT_OFFSET (SwAsyncCall, waiter));
}

static SwAsyncCall *
async_call_from_driver (SwAsyncDriver *driver)
{
  return (SwAsyncCall *) ((guint8 *) driver - G_STRUCT_OFFSET (SwAsyncCall, driver));
}

static void loop_end (SwAsyncCall *call,
                      GError      *error);
static void loop_step_done (SwAsyncCall *call,
                            GError      *error);

static void async_call_return (SwAsyncCall *call,
                               GError      *error);

/* The sends that rode in a threaded call's batch, waiting for that call
 * to complete. */
typedef struct
{
  GSList *absorbed;
  GError *error;
} AbsorbedReturn;

static void
absorbed_return_free (gpointer data,
                      GClosure *closure)
{
  AbsorbedReturn *later = data;

  g_slist_free (later->absorbed);
  g_clear_error (&later->error);
  g_free (later);
}

static void
on_batch_lead_completed (GObject    *task,
                         GParamSpec *pspec,
                         gpointer    user_data)
{
  AbsorbedReturn *later = user_data;
  GSList *absorbed = g_steal_pointer (&later->absorbed);

  for (GSList *l = absorbed; l != NULL; l = l->next)
    async_call_return (l->data, later->error ? g_error_copy (later->error) : NULL);
  g_slist_free (absorbed);
}

/* A threaded call's task completes only after its worker returns, from an
 * idle in its context, while the sends in its batch would complete at
 * once: they wait for its "completed" notification (emitted in that
 * context right after its callback), so completions keep the call order. */
static void
return_after_lead (GTask  *task,
                   GSList *absorbed,
                   GError *error_copy)
{
  AbsorbedReturn *later = g_new0 (AbsorbedReturn, 1);

  later->absorbed = absorbed;
  later->error = error_copy;
  g_signal_connect_data (task, "notify::completed", G_CALLBACK (on_batch_lead_completed),
                         later, absorbed_return_free, 0);
}

static void
async_call_return (SwAsyncCall *call,
                   GError      *error)
{
  GTask *task;
  GSList *absorbed;
  GError *error_copy;

  if (call->loop)
    {
      loop_end (call, error);
      return;
    }
  task = g_steal_pointer (&call->task);
  absorbed = g_steal_pointer (&call->absorbed);
  error_copy = (error != NULL && absorbed != NULL) ? g_error_copy (error) : NULL;
  if (call->threaded && absorbed != NULL)
    return_after_lead (task, g_steal_pointer (&absorbed), g_steal_pointer (&error_copy));

  /* Not g_cancellable_disconnect(): it would wait for a "cancelled"
   * emission running in another thread, whose other handlers may wait for
   * this thread. The handler owns its task reference, so a run that
   * overlaps the call's end only schedules an idle that finds the call no
   * longer queued. */
  if (call->queue_handler != 0)
    {
      g_signal_handler_disconnect (call->driver.cancellable, call->queue_handler);
      call->queue_handler = 0;
    }

  if (error != NULL)
    g_task_return_error (task, error);
  else if (call->op.batch != NULL)
    g_task_return_pointer (task, g_steal_pointer (&call->op.batch),
                           (GDestroyNotify) g_ptr_array_unref);
  else if (sw_operation_is_receive (&call->op) && call->op.with_fds)
    g_task_return_pointer (task, sw_operation_steal_received (&call->op),
                           (GDestroyNotify) sw_received_free);
  else if (sw_operation_is_receive (&call->op))
    g_task_return_pointer (task, g_steal_pointer (&call->op.result),
                           (GDestroyNotify) g_bytes_unref);
  else if (call->op.kind == SW_OPERATION_SEND_BYTES)
    g_task_return_int (task, (gssize) call->op.written);
  else
    g_task_return_boolean (task, TRUE);
  g_object_unref (task);

  /* Sends that rode in this call's batch complete after it, in order. */
  for (GSList *l = absorbed; l != NULL; l = l->next)
    async_call_return (l->data, error_copy ? g_error_copy (error_copy) : NULL);
  g_slist_free (absorbed);
  g_clear_error (&error_copy);
}

/* The driver finished: hand the lock on (unless close() took it), then
 * complete the task. */
static void
on_async_done (SwAsyncDriver *driver,
               GError        *error)
{
  SwAsyncCall *call = async_call_from_driver (driver);

  if (call->loop)
    {
      loop_step_done (call, error);
      return;
    }
  if (call->waiter.state != SW_LOCK_WAITER_EVICTED)
    {
      if (error == NULL && call->after != NULL)
        call->after (g_task_get_source_object (call->task), &error);
      sw_cross_lock_release (driver->lock);
    }
  async_call_return (call, error);
}

static void async_call_thread (GTask        *task,
                               gpointer      source_object,
                               gpointer      task_data,
                               GCancellable *cancellable);

/* Most calls a corked batch takes in. */
#define SW_CORK_MAX_CALLS 64

/* A queued async send that can join a batch: it has no cancellable (so
 * nothing but close() interrupts the batch), returns no value, and is valid
 * on its own. Called with the send lock's mutex held. */
static gboolean
is_corkable_send (SwLockWaiter *waiter)
{
  SwAsyncCall *call;

  if (waiter->evict == NULL)
    return FALSE;  /* a blocking thread */
  call = async_call_from_waiter (waiter);
  /* Its fds must go with its own frame: it is not merged into a batch. */
  return call->op.kind == SW_OPERATION_SEND_MESSAGE
         && call->op.fds == NULL
         && call->driver.cancellable == NULL
         && sw_operation_check (&call->op, call->driver.channel, NULL);
}

/* Corking: a send about to write takes the async sends queued right behind
 * it into its batch, so many small frames go out in one vectored write.
 * FIFO order holds (they were next anyway) and the batch commits as a
 * whole, so no frame is torn. */
static void
cork_queued_sends (SwAsyncCall *call)
{
  SwLockWaiter *waiter;
  guint n_calls = 0;

  if (call->op.kind != SW_OPERATION_SEND_MESSAGE || call->driver.cancellable != NULL
      || call->op.started)
    return;

  while (n_calls < SW_CORK_MAX_CALLS
         && (waiter = sw_cross_lock_take_head (call->driver.lock, is_corkable_send)) != NULL)
    {
      SwAsyncCall *other = async_call_from_waiter (waiter);

      sw_operation_append_messages (&call->op, other->op.messages, other->op.n_messages);
      call->absorbed = g_slist_append (call->absorbed, other);
      n_calls++;
    }
}

/* A threaded call runs the framing in its worker: refuse, before any
 * byte moves, a framing that cannot run there (one written in JS). */
static gboolean
check_worker_framing (SwAsyncCall  *call,
                      GError      **error)
{
  SwChannel *channel = call->driver.channel;
  SwFraming *framing;

  if (!call->threaded)
    return TRUE;
  if (call->op.kind == SW_OPERATION_RECEIVE_MESSAGE)
    framing = channel->framing;
  else if (call->op.kind == SW_OPERATION_SEND_MESSAGE)
    framing = channel->out_framing;
  else
    return TRUE;  /* raw bytes and flushes call no framing */
  if (framing == NULL || !sw_framing_is_thread_bound (framing))
    return TRUE;

  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
               _("Framing %s is written in JavaScript, but an asynchronous call "
                 "on a stream that cannot poll would call it from a worker "
                 "thread; use the synchronous call or a pollable stream"),
               G_OBJECT_TYPE_NAME (framing));
  return FALSE;
}

static void
async_call_start (SwAsyncCall *call)
{
  SwConnection *self = g_task_get_source_object (call->task);
  GError *error = NULL;

  if (g_cancellable_set_error_if_cancelled (call->driver.cancellable, &error)
      || !sw_connection_check_open (self, &error)
      || !sw_operation_validate (&call->op, &self->channel, &error)
      || !check_worker_framing (call, &error))
    on_async_done (&call->driver, error);
  else
    {
      cork_queued_sends (call);
      if (call->threaded)
        {
          /* Not this thread's any more: close() from here must wait for
           * the worker rather than leave the close to it. */
          sw_cross_lock_set_running (call->driver.lock, NULL);
          g_task_run_in_thread (call->task, async_call_thread);
        }
      else
        sw_async_driver_run (&call->driver);
    }
}

static gboolean
on_async_lock_answer_idle (gpointer user_data)
{
  SwAsyncCall *call = g_task_get_task_data (user_data);
  GError *error = NULL;

  /* Handed the lock, the call was parked until now: close() may have
   * taken the lock from it meanwhile (EVICTED), deciding its outcome. */
  if (call->waiter.state == SW_LOCK_WAITER_CLOSED)
    {
      sw_transport_set_closed (&error);
      async_call_return (call, error);
    }
  else if (!sw_cross_lock_unpark (call->driver.lock, &call->waiter))
    async_call_return (call, g_steal_pointer (&call->driver.evicted_error));
  else
    async_call_start (call);
  return G_SOURCE_REMOVE;
}

/* Called with the lock's mutex held, in whichever thread released or
 * closed the lock: resume the call in its own main context. */
static void
on_async_lock_answer (SwLockWaiter *waiter)
{
  SwAsyncCall *call = async_call_from_waiter (waiter);
  GSource *idle = g_idle_source_new ();

  g_source_set_priority (idle, g_task_get_priority (call->task));
  g_source_set_static_name (idle, "[socketwrapper] lock granted");
  g_source_set_callback (idle, on_async_lock_answer_idle,
                         g_object_ref (call->task), g_object_unref);
  g_source_attach (idle, g_task_get_context (call->task));
  g_source_unref (idle);
}

static void
on_async_evict (SwLockWaiter *waiter)
{
  sw_async_driver_evict (&async_call_from_waiter (waiter)->driver);
}

/* The caller's cancellable fired while the call was queued: leave the
 * queue, unless the lock was handed over meanwhile (then the grant's idle
 * sees the cancellation and passes the lock on). */
static gboolean
on_async_queue_cancelled_idle (gpointer user_data)
{
  SwAsyncCall *call = g_task_get_task_data (user_data);
  GError *error = NULL;

  if (sw_cross_lock_dequeue (call->driver.lock, &call->waiter))
    {
      g_cancellable_set_error_if_cancelled (call->driver.cancellable, &error);
      async_call_return (call, error);
    }
  return G_SOURCE_REMOVE;
}

/* Runs in the cancelling thread: resume in the call's own context. A
 * handler rather than a GCancellableSource, which GLib 2.74 leaks when it
 * is destroyed while "cancelled" is being emitted. */
static void
on_async_queue_cancelled (GCancellable *cancellable,
                          gpointer      user_data)
{
  GTask *task = user_data;
  GSource *idle = g_idle_source_new ();

  g_source_set_priority (idle, g_task_get_priority (task));
  g_source_set_static_name (idle, "[socketwrapper] cancelled while queued");
  g_source_set_callback (idle, on_async_queue_cancelled_idle, g_object_ref (task),
                         g_object_unref);
  g_source_attach (idle, g_task_get_context (task));
  g_source_unref (idle);
}

/* The threaded call this worker thread runs. */
static GPrivate worker_task;

/* Non-pollable streams have only blocking calls: the call, already
 * holding the lock, runs the sync driver in a worker thread, then hands the
 * lock on. */
static void
async_call_thread (GTask        *task,
                   gpointer      source_object,
                   gpointer      task_data,
                   GCancellable *cancellable)
{
  SwConnection *self = source_object;
  SwAsyncCall *call = task_data;
  GError *error = NULL;

  /* What this call causes here — progress, a close left to it — belongs
   * to its context, not to this thread. */
  g_private_set (&worker_task, task);
  sw_cross_lock_set_running (call->driver.lock, g_thread_self ());
  if (sw_operation_run_sync (&call->op, &self->channel, -1, cancellable,
                             &self->close_watch, &error)
      && call->after != NULL)
    call->after (self, &error);
  sw_cross_lock_release (call->driver.lock);
  g_private_set (&worker_task, NULL);
  async_call_return (call, error);
}

GMainContext *
sw_connection_get_worker_context (SwConnection *self)
{
  GTask *task = g_private_get (&worker_task);

  if (task == NULL || g_task_get_source_object (task) != self)
    return NULL;
  return g_task_get_context (task);
}

static void async_call_enqueue (SwAsyncCall *call);

/* A call running @op (which it takes over), not yet queued. */
static SwAsyncCall *
async_call_new (SwConnection        *self,
                SwOperation         *op,
                int                  io_priority,
                GCancellable        *cancellable,
                GAsyncReadyCallback  callback,
                gpointer             user_data,
                const char          *name,
                gpointer             tag)
{
  SwAsyncCall *call = g_new0 (SwAsyncCall, 1);
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  GIOCondition condition;

  g_task_set_name (task, name);
  g_task_set_source_tag (task, tag);
  g_task_set_priority (task, io_priority);
  g_task_set_task_data (task, call, async_call_free);
  /* Cancellation is decided by the operation (a committed send succeeds
   * even when cancelled), not by GTask after the fact. */
  g_task_set_check_cancellable (task, FALSE);

  call->op = *op;
  if (op->messages == &op->data)
    call->op.messages = &call->op.data;
  call->task = task;
  call->waiter.wake = on_async_lock_answer;
  call->waiter.evict = on_async_evict;
  call->waiter.context = g_task_get_context (task);
  call->waiter.name = name;
  call->driver = (SwAsyncDriver) {
    .op = &call->op,
    .channel = &self->channel,
    .context = g_task_get_context (task),
    .priority = io_priority,
    .cancellable = cancellable,
    .done = on_async_done,
    .lock = sw_connection_lock_for (self, op),
    .owner = &call->waiter,
  };

  condition = sw_operation_is_receive (op) ? G_IO_IN : G_IO_OUT;
  call->threaded = (condition == G_IO_IN ? sw_transport_can_read (&self->channel.transport)
                                         : sw_transport_can_write (&self->channel.transport))
                   && !sw_transport_can_poll (&self->channel.transport, condition);
  call->waiter.threaded = call->threaded;

  if (cancellable != NULL)
    call->queue_handler = g_cancellable_connect (cancellable,
                                                 G_CALLBACK (on_async_queue_cancelled),
                                                 g_object_ref (task), g_object_unref);
  return call;
}

/* Queues @call on its lock; starts it at once if the lock is free. */
static void
async_call_enqueue (SwAsyncCall *call)
{
  switch (sw_cross_lock_enqueue (call->driver.lock, &call->waiter))
    {
    case SW_LOCK_WAITER_GRANTED:
      async_call_start (call);
      break;
    case SW_LOCK_WAITER_QUEUED:
      break;
    case SW_LOCK_WAITER_CLOSED:
    case SW_LOCK_WAITER_EVICTED:
    default:
      {
        GError *error = NULL;

        sw_transport_set_closed (&error);
        async_call_return (call, error);
      }
      break;
    }
}

static void
start_async (SwConnection        *self,
             SwOperation         *op,
             int                  io_priority,
             GCancellable        *cancellable,
             GAsyncReadyCallback  callback,
             gpointer             user_data,
             const char          *name,
             gpointer             tag)
{
  async_call_enqueue (async_call_new (self, op, io_priority, cancellable, callback,
                                      user_data, name, tag));
}

void
sw_connection_start_async (SwConnection        *self,
                           SwOperation         *op,
                           int                  io_priority,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data,
                           const char          *name,
                           gpointer             tag)
{
  start_async (self, op, io_priority, cancellable, callback, user_data, name, tag);
}

gboolean
sw_connection_finish_boolean (SwConnection  *self,
                              GAsyncResult  *result,
                              gpointer       tag,
                              GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_async_result_is_tagged (result, tag), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

gpointer
sw_connection_finish_pointer (SwConnection  *self,
                              GAsyncResult  *result,
                              gpointer       tag,
                              GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_async_result_is_tagged (result, tag), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
on_shutdown_flushed (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      g_task_return_error (task, error);
      return;
    }
  /* In the caller's context, just before its callback. */
  sw_connection_notify_writable (SW_CONNECTION (source));
  g_task_return_boolean (task, TRUE);
}

/**
 * sw_connection_shutdown_write_async:
 * @self: a connection
 * @io_priority: the I/O priority of the call
 * @cancellable: (nullable): a cancellable, or %NULL
 * @callback: (scope async): called when the call completes
 * @user_data: data for @callback
 *
 * Half-closes the connection like [method@Sw.Connection.shutdown_write]
 * without blocking: it waits its turn behind sends in progress, finishes a
 * committed frame, then shuts the output down. In the thread-default main
 * context of the thread that made the call,
 * [property@Sw.Connection:writable] is notified and then @callback runs;
 * finish with [method@Sw.Connection.shutdown_write_finish].
 *
 * Since: 0.2
 */
void
sw_connection_shutdown_write_async (SwConnection        *self,
                                    int                  io_priority,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data)
{
  GTask *task;
  SwAsyncCall *call;
  SwOperation op;

  g_return_if_fail (SW_IS_CONNECTION (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_name (task, "sw_connection_shutdown_write_async");
  g_task_set_source_tag (task, SW_TAG (sw_connection_shutdown_write_async));
  g_task_set_priority (task, io_priority);
  g_task_set_check_cancellable (task, FALSE);

  sw_operation_init (&op, SW_OPERATION_FLUSH);
  call = async_call_new (self, &op, io_priority, cancellable, on_shutdown_flushed, task,
                         "sw_connection_shutdown_write_async", NULL);
  call->after = sw_connection_shutdown_output;
  async_call_enqueue (call);
}

/**
 * sw_connection_shutdown_write_finish:
 * @self: a connection
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Sw.Connection.shutdown_write_async].
 *
 * Returns: %TRUE on success
 *
 * Since: 0.2
 */
gboolean
sw_connection_shutdown_write_finish (SwConnection  *self,
                                     GAsyncResult  *result,
                                     GError       **error)
{
  return sw_connection_finish_boolean (self, result, SW_TAG (sw_connection_shutdown_write_async), error);
}

/**
 * sw_connection_send_message_async:
 * @self: a connection
 * @message: the message
 * @io_priority: the I/O priority of the call
 * @cancellable: (nullable): a cancellable, or %NULL
 * @callback: (scope async): called when the call completes
 * @user_data: data for @callback
 *
 * Sends @message as one frame, like [method@Sw.Connection.send_message]
 * but without blocking. Cancelling it before the first byte of the frame is
 * written fails it with %G_IO_ERROR_CANCELLED; after that the message is
 * committed and the call succeeds.
 *
 * Async sends without a cancellable that are queued behind another send
 * are written together with it, many frames per system call (corking);
 * their order is kept and each call completes, in order, once the batch
 * is written or committed.
 *
 * It never blocks the calling thread, neither waiting for another call on
 * the connection nor for I/O. @callback runs in the thread-default main
 * context of the thread that made the call; finish with
 * [method@Sw.Connection.send_message_finish]. The call keeps a reference on the
 * connection until it completes.
 *
 * Since: 0.1
 */
void
sw_connection_send_message_async (SwConnection        *self,
                                  GBytes              *message,
                                  int                  io_priority,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  SwOperation op;

  g_return_if_fail (SW_IS_CONNECTION (self));
  g_return_if_fail (message != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  sw_operation_init (&op, SW_OPERATION_SEND_MESSAGE);
  sw_operation_set_data (&op, message);
  start_async (self, &op, io_priority, cancellable, callback, user_data,
               "sw_connection_send_message_async", SW_TAG (sw_connection_send_message_async));
}

/**
 * sw_connection_send_message_finish:
 * @self: a connection
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Sw.Connection.send_message_async].
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
sw_connection_send_message_finish (SwConnection  *self,
                                   GAsyncResult  *result,
                                   GError       **error)
{
  return sw_connection_finish_boolean (self, result, SW_TAG (sw_connection_send_message_async), error);
}

/**
 * sw_connection_receive_message_async:
 * @self: a connection
 * @io_priority: the I/O priority of the call
 * @cancellable: (nullable): a cancellable, or %NULL
 * @callback: (scope async): called when the call completes
 * @user_data: data for @callback
 *
 * Receives one whole message, like [method@Sw.Connection.receive_message]
 * but without blocking. Cancelling it part way through a frame keeps the
 * bytes read for the next receive.
 *
 * It never blocks the calling thread, neither waiting for another call on
 * the connection nor for I/O. @callback runs in the thread-default main
 * context of the thread that made the call; finish with
 * [method@Sw.Connection.receive_message_finish]. The call keeps a reference on the
 * connection until it completes.
 *
 * Since: 0.1
 */
void
sw_connection_receive_message_async (SwConnection        *self,
                                     int                  io_priority,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data)
{
  g_return_if_fail (SW_IS_CONNECTION (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  sw_connection_receive_message_limited_async (self, -1, io_priority, cancellable, callback,
                                               user_data);
}

void
sw_connection_receive_message_limited_async (SwConnection        *self,
                                             gssize               limit,
                                             int                  io_priority,
                                             GCancellable        *cancellable,
                                             GAsyncReadyCallback  callback,
                                             gpointer             user_data)
{
  SwOperation op;

  sw_operation_init (&op, SW_OPERATION_RECEIVE_MESSAGE);
  op.size = limit;
  start_async (self, &op, io_priority, cancellable, callback, user_data,
               "sw_connection_receive_message_async", SW_TAG (sw_connection_receive_message_async));
}

/**
 * sw_connection_receive_message_finish:
 * @self: a connection
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Sw.Connection.receive_message_async].
 *
 * Returns: (transfer full): the bytes received, or %NULL on error
 *
 * Since: 0.1
 */
GBytes *
sw_connection_receive_message_finish (SwConnection  *self,
                                      GAsyncResult  *result,
                                      GError       **error)
{
  return sw_connection_finish_pointer (self, result, SW_TAG (sw_connection_receive_message_async), error);
}

/**
 * sw_connection_send_bytes_async:
 * @self: a connection
 * @data: the bytes to send, without framing
 * @io_priority: the I/O priority of the call
 * @cancellable: (nullable): a cancellable, or %NULL
 * @callback: (scope async): called when the call completes
 * @user_data: data for @callback
 *
 * Sends raw bytes, like [method@Sw.Connection.send_bytes] but without
 * blocking.
 *
 * It never blocks the calling thread, neither waiting for another call on
 * the connection nor for I/O. @callback runs in the thread-default main
 * context of the thread that made the call; finish with
 * [method@Sw.Connection.send_bytes_finish]. The call keeps a reference on the
 * connection until it completes.
 *
 * Since: 0.1
 */
void
sw_connection_send_bytes_async (SwConnection        *self,
                                GBytes              *data,
                                int                  io_priority,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  SwOperation op;

  g_return_if_fail (SW_IS_CONNECTION (self));
  g_return_if_fail (data != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  sw_operation_init (&op, SW_OPERATION_SEND_BYTES);
  sw_operation_set_data (&op, data);
  start_async (self, &op, io_priority, cancellable, callback, user_data,
               "sw_connection_send_bytes_async", SW_TAG (sw_connection_send_bytes_async));
}

/**
 * sw_connection_send_bytes_finish:
 * @self: a connection
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Sw.Connection.send_bytes_async].
 *
 * Returns: the count of bytes written, or -1 on error
 *
 * Since: 0.1
 */
gssize
sw_connection_send_bytes_finish (SwConnection  *self,
                                 GAsyncResult  *result,
                                 GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), -1);
  g_return_val_if_fail (g_async_result_is_tagged (result, SW_TAG (sw_connection_send_bytes_async)), -1);

  return g_task_propagate_int (G_TASK (result), error);
}

/**
 * sw_connection_receive_bytes_async:
 * @self: a connection
 * @size: how many bytes to receive, or -1 for a blind receive
 * @io_priority: the I/O priority of the call
 * @cancellable: (nullable): a cancellable, or %NULL
 * @callback: (scope async): called when the call completes
 * @user_data: data for @callback
 *
 * Receives raw bytes, like [method@Sw.Connection.receive_bytes] but
 * without blocking.
 *
 * It never blocks the calling thread, neither waiting for another call on
 * the connection nor for I/O. @callback runs in the thread-default main
 * context of the thread that made the call; finish with
 * [method@Sw.Connection.receive_bytes_finish]. The call keeps a reference on the
 * connection until it completes.
 *
 * Since: 0.1
 */
void
sw_connection_receive_bytes_async (SwConnection        *self,
                                   gssize               size,
                                   int                  io_priority,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  SwOperation op;

  g_return_if_fail (SW_IS_CONNECTION (self));
  g_return_if_fail (size >= -1);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  sw_operation_init (&op, SW_OPERATION_RECEIVE_BYTES);
  op.size = size;
  start_async (self, &op, io_priority, cancellable, callback, user_data,
               "sw_connection_receive_bytes_async", SW_TAG (sw_connection_receive_bytes_async));
}

/**
 * sw_connection_receive_bytes_finish:
 * @self: a connection
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Sw.Connection.receive_bytes_async].
 *
 * Returns: (transfer full): the bytes received, or %NULL on error
 *
 * Since: 0.1
 */
GBytes *
sw_connection_receive_bytes_finish (SwConnection  *self,
                                    GAsyncResult  *result,
                                    GError       **error)
{
  return sw_connection_finish_pointer (self, result, SW_TAG (sw_connection_receive_bytes_async), error);
}

/**
 * sw_connection_flush_async:
 * @self: a connection
 * @io_priority: the I/O priority of the call
 * @cancellable: (nullable): a cancellable, or %NULL
 * @callback: (scope async): called when the call completes
 * @user_data: data for @callback
 *
 * Writes the rest of a committed frame, like [method@Sw.Connection.flush]
 * but without blocking.
 *
 * It never blocks the calling thread, neither waiting for another call on
 * the connection nor for I/O. @callback runs in the thread-default main
 * context of the thread that made the call; finish with
 * [method@Sw.Connection.flush_finish]. The call keeps a reference on the
 * connection until it completes.
 *
 * Since: 0.1
 */
void
sw_connection_flush_async (SwConnection        *self,
                           int                  io_priority,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  SwOperation op;

  g_return_if_fail (SW_IS_CONNECTION (self));
    g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  sw_operation_init (&op, SW_OPERATION_FLUSH);
  start_async (self, &op, io_priority, cancellable, callback, user_data,
               "sw_connection_flush_async", SW_TAG (sw_connection_flush_async));
}

/**
 * sw_connection_flush_finish:
 * @self: a connection
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Sw.Connection.flush_async].
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
sw_connection_flush_finish (SwConnection  *self,
                            GAsyncResult  *result,
                            GError       **error)
{
  return sw_connection_finish_boolean (self, result, SW_TAG (sw_connection_flush_async), error);
}

/**
 * sw_connection_send_messages_async:
 * @self: a connection
 * @messages: (array length=n_messages): the messages, in order
 * @n_messages: the number of messages
 * @io_priority: the I/O priority of the call
 * @cancellable: (nullable): a cancellable, or %NULL
 * @callback: (scope async): called when the call completes
 * @user_data: data for @callback
 *
 * Sends several messages as consecutive frames, like
 * [method@Sw.Connection.send_messages] but without blocking. The batch is
 * committed as a whole once its first byte is written.
 *
 * @callback runs in the thread-default main context of the thread that
 * made the call; finish with [method@Sw.Connection.send_messages_finish].
 *
 * Since: 0.1
 */
void
sw_connection_send_messages_async (SwConnection        *self,
                                   GBytes * const      *messages,
                                   guint                n_messages,
                                   int                  io_priority,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  SwOperation op;

  g_return_if_fail (SW_IS_CONNECTION (self));
  g_return_if_fail (messages != NULL || n_messages == 0);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  for (guint i = 0; i < n_messages; i++)
    g_return_if_fail (messages[i] != NULL);

  sw_operation_init (&op, SW_OPERATION_SEND_MESSAGE);
  sw_operation_set_messages (&op, messages, n_messages, TRUE);
  start_async (self, &op, io_priority, cancellable, callback, user_data,
               "sw_connection_send_messages_async",
               SW_TAG (sw_connection_send_messages_async));
}

/**
 * sw_connection_send_messages_finish:
 * @self: a connection
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Sw.Connection.send_messages_async].
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
sw_connection_send_messages_finish (SwConnection  *self,
                                    GAsyncResult  *result,
                                    GError       **error)
{
  return sw_connection_finish_boolean (self, result, SW_TAG (sw_connection_send_messages_async), error);
}


/* ---- the receive loop ------------------------------------------------- */

/* Most messages the loop emits per turn on the lock before it queues
 * again behind other receivers. */
#define SW_LOOP_BATCH 64

/* Whether the loop goes on: still wanted, and the connection open. */
static gboolean
loop_wanted (SwConnection *self)
{
  return g_atomic_int_get (&self->receiving) && !g_atomic_int_get (&self->closing);
}

static gboolean
on_loop_turn_idle (gpointer user_data)
{
  async_call_enqueue (g_task_get_task_data (user_data));
  return G_SOURCE_REMOVE;
}

/* Queues @call for its next turn from an idle in its context: messages are
 * always emitted from the main loop, never from the call that started it,
 * and a busy stream never recurses. */
static void
loop_schedule_turn (SwAsyncCall *call)
{
  GSource *idle = g_idle_source_new ();

  g_source_set_priority (idle, g_task_get_priority (call->task));
  g_source_set_static_name (idle, "[socketwrapper] receive loop");
  g_source_set_callback (idle, on_loop_turn_idle, g_object_ref (call->task), g_object_unref);
  g_source_attach (idle, g_task_get_context (call->task));
  g_source_unref (idle);
}

static SwAsyncCall *
loop_new (SwConnection *self)
{
  GCancellable *cancellable = g_cancellable_new ();
  SwOperation op;
  SwAsyncCall *call;

  sw_operation_init (&op, SW_OPERATION_RECEIVE_MESSAGE);
  call = async_call_new (self, &op, G_PRIORITY_DEFAULT, cancellable, NULL, NULL,
                         "sw_connection_start_receiving",
                         SW_TAG (sw_connection_start_receiving));
  call->loop = TRUE;
  call->loop_cancellable = cancellable;
  return call;
}

/* Drops a loop call that will run no more. */
static void
loop_free (SwAsyncCall *call)
{
  GTask *task = g_steal_pointer (&call->task);

  if (call->queue_handler != 0)
    {
      g_signal_handler_disconnect (call->loop_cancellable, call->queue_handler);
      call->queue_handler = 0;
    }
  g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

/* The loop has stopped, for @error or because it was asked to (@error
 * NULL or CANCELLED); no lock is held. Says why through ::closed or
 * ::error, and starts a loop that was asked for meanwhile. */
static void
loop_end (SwAsyncCall *call,
          GError      *error)
{
  SwConnection *self = g_task_get_source_object (call->task);
  /* Held to the end: a ::closed or ::error handler may drop the last
   * reference to the connection. */
  g_autoptr(SwConnection) keep G_GNUC_UNUSED = g_object_ref (self);
  gboolean stopped_itself;
  gboolean was_receiving;
  SwAsyncCall *pending;

  /* Stopped by close() (from a handler, say) rather than asked to stop. */
  if (error == NULL && g_atomic_int_get (&self->closing) && g_atomic_int_get (&self->receiving))
    sw_transport_set_closed (&error);
  stopped_itself = error != NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);

  g_mutex_lock (&self->loop_mutex);
  g_assert (self->loop == call);
  self->loop = NULL;
  was_receiving = self->receiving;
  if (stopped_itself)
    g_atomic_int_set (&self->receiving, FALSE);
  pending = g_steal_pointer (&self->pending_loop);
  if (pending != NULL && !stopped_itself && self->receiving)
    self->loop = pending;
  else if (pending != NULL)
    {
      g_mutex_unlock (&self->loop_mutex);
      loop_free (pending);
      g_mutex_lock (&self->loop_mutex);
      pending = NULL;
    }
  g_mutex_unlock (&self->loop_mutex);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED))
    sw_connection_emit_closed (self, TRUE, NULL);
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT))
    sw_connection_emit_closed (self, TRUE, error);
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CLOSED))
    sw_connection_emit_closed (self, FALSE, NULL);
  else if (stopped_itself)
    sw_connection_emit_error (self, error);
  if (stopped_itself && was_receiving)
    sw_connection_notify_receiving (self);

  g_clear_error (&error);
  loop_free (call);
  if (pending != NULL)
    loop_schedule_turn (pending);
}

/* A receive of the loop finished, in its context, its lock held unless
 * close() took it. */
static void
loop_step_done (SwAsyncCall *call,
                GError      *error)
{
  SwConnection *self = g_task_get_source_object (call->task);
  gboolean owner = call->waiter.state != SW_LOCK_WAITER_EVICTED;

  if (error == NULL && g_atomic_int_get (&self->closing))
    {
      /* Closed while it was received (from a progress handler, say): a
       * closed connection emits no more messages. */
      g_clear_pointer (&call->op.result, g_bytes_unref);
    }
  else if (error == NULL)
    {
      g_autoptr(GBytes) message = g_steal_pointer (&call->op.result);

      /* Under the receive lock: a handler's receive on this connection
       * gets PENDING, its close() is left to the loop. */
      sw_operation_clear (&call->op);
      sw_operation_init (&call->op, SW_OPERATION_RECEIVE_MESSAGE);
      sw_connection_emit_message (self, message);
      if (loop_wanted (self) && ++call->n_batch < SW_LOOP_BATCH)
        {
          sw_async_driver_run (&call->driver);
          return;
        }
    }
  else if (call->op.skipped)
    {
      /* The frame was dropped (too large, or a memfd message refused) and
       * the stream goes on. */
      sw_connection_emit_error (self, error);
      g_clear_error (&error);
      sw_operation_clear (&call->op);
      sw_operation_init (&call->op, SW_OPERATION_RECEIVE_MESSAGE);
    }

  call->n_batch = 0;
  if (owner)
    sw_cross_lock_release (call->driver.lock);
  /* Out of every queue until its next turn: a cancel meanwhile must not
   * take it for a queued waiter. */
  call->waiter.state = SW_LOCK_WAITER_IDLE;
  if (error == NULL && loop_wanted (self))
    loop_schedule_turn (call);
  else
    loop_end (call, error);
}

/**
 * sw_connection_start_receiving:
 * @self: a connection
 *
 * Starts the receive loop: from now on the connection receives by itself,
 * in the thread-default main context of the calling thread, and emits
 * [signal@Sw.Connection::message] for each message, in order (and, with a
 * codec, [signal@Sw.Connection::value]). When the peer ends the stream, or
 * the connection is closed, the loop stops and emits
 * [signal@Sw.Connection::closed]; an error that ends it is reported
 * through [signal@Sw.Connection::error].
 *
 * The loop takes its turn on the connection like an async receive: other
 * receivers, in any thread or context, are served in between, after at
 * most 64 messages. Inside a signal handler, a blocking receive on this
 * connection fails with %G_IO_ERROR_PENDING, and
 * [method@Sw.Connection.stop_receiving] stops the loop after the message
 * being emitted (back-pressure). Signals are always emitted from the main
 * loop, never from this call.
 *
 * The loop needs a connection whose input can poll (sockets, pipes, TLS
 * and pollable streams); on a stream that cannot poll it does not start
 * and [signal@Sw.Connection::error] reports %G_IO_ERROR_NOT_SUPPORTED.
 * Calling it while the loop runs does nothing.
 *
 * Since: 0.2
 */
void
sw_connection_start_receiving (SwConnection *self)
{
  g_autoptr(GError) error = NULL;
  SwAsyncCall *call = NULL;
  gboolean started = FALSE;

  g_return_if_fail (SW_IS_CONNECTION (self));

  if (sw_transport_can_read (&self->channel.transport)
      && !sw_transport_can_poll (&self->channel.transport, G_IO_IN))
    {
      g_set_error_literal (&error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                           _("The receive loop needs an input that can poll"));
      sw_connection_emit_error (self, error);
      return;
    }

  g_mutex_lock (&self->loop_mutex);
  if (!self->receiving)
    {
      g_atomic_int_set (&self->receiving, TRUE);
      started = TRUE;
      call = loop_new (self);
      /* A loop still ending hands over to this one when it has. */
      if (self->loop == NULL)
        self->loop = call;
      else
        {
          g_assert (self->pending_loop == NULL);
          self->pending_loop = call;
          call = NULL;
        }
    }
  g_mutex_unlock (&self->loop_mutex);

  if (call != NULL)
    loop_schedule_turn (call);
  if (started)
    sw_connection_notify_receiving (self);
}

/**
 * sw_connection_stop_receiving:
 * @self: a connection
 *
 * Stops the receive loop after the message being emitted, if any. Frames
 * already read stay buffered for later receives: nothing is lost. Called
 * from a [signal@Sw.Connection::message] handler, no further message is
 * emitted; called while a message is being received (from a
 * [signal@Sw.Connection::receive-progress] handler, say), that message is
 * either emitted once it is whole or left, whole, for a later receive,
 * and none after it is emitted. It may be called from any thread; the loop ends in its own
 * context.
 *
 * Since: 0.2
 */
void
sw_connection_stop_receiving (SwConnection *self)
{
  GCancellable *cancellable = NULL;
  SwAsyncCall *pending;
  gboolean stopped = FALSE;

  g_return_if_fail (SW_IS_CONNECTION (self));

  g_mutex_lock (&self->loop_mutex);
  if (self->receiving)
    {
      g_atomic_int_set (&self->receiving, FALSE);
      stopped = TRUE;
      if (self->loop != NULL)
        cancellable = g_object_ref (((SwAsyncCall *) self->loop)->loop_cancellable);
    }
  pending = g_steal_pointer (&self->pending_loop);
  g_mutex_unlock (&self->loop_mutex);

  /* A loop waiting for data wakes up and ends; bytes it read stay. */
  if (cancellable != NULL)
    {
      g_cancellable_cancel (cancellable);
      g_object_unref (cancellable);
    }
  if (pending != NULL)
    loop_free (pending);
  if (stopped)
    sw_connection_notify_receiving (self);
}
