/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Batch receive, the mirror of sw_connection_send_messages(): one call
 * returns every message that is ready, so a busy receiver pays for the
 * lock, the wait and the call once per batch rather than per message. The
 * operation itself is receive_batch_step() in sw-operation.c. */
#include "config.h"

#include "sw-connection-private.h"
#include "sw-init-private.h"

static GPtrArray *
messages_new (void)
{
  return g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
}

static void
receive_messages_init (SwOperation *op,
                       guint        max_messages)
{
  sw_operation_init (op, SW_OPERATION_RECEIVE_MESSAGE);
  op->max_messages = max_messages;
  /* Most batches are small; a large one grows by doubling. */
  op->batch = g_ptr_array_new_full (MIN (max_messages, 64), (GDestroyNotify) g_bytes_unref);
}

/**
 * sw_connection_receive_messages:
 * @self: a connection
 * @max_messages: the most messages to return; 0 returns an empty array at
 *   once, receiving nothing
 * @timeout_us: how long the call may wait for the first message, in
 *   microseconds; -1 for ever
 * @cancellable: (nullable): a cancellable, or %NULL
 * @error: return location for a #GError
 *
 * Receives at least one and at most @max_messages whole messages, in
 * order: the mirror of [method@Sw.Connection.send_messages]. It waits,
 * as [method@Sw.Connection.receive_message] does, only until the first
 * message is complete; then it adds every message that is complete
 * without waiting — the frames already buffered, including what the reads
 * for the first message brought in, or on datagram and seqpacket sockets
 * the datagrams already queued, one message each — and returns. It never
 * reads again to look for more, so a call costs no more system calls than
 * receiving its first message alone would. With
 * [property@Sw.Connection:read-ahead] off, a read brings at most the frame
 * being read, and batches are mostly one message long.
 *
 * Timeouts, cancellation and closing act as on
 * [method@Sw.Connection.receive_message]: they can only interrupt the wait
 * for the first message, and then nothing is consumed (bytes already read
 * stay buffered for the next receive).
 *
 * Errors: if the first message fails, the call fails with that error, as
 * receive_message() would. If a later message fails (a frame over
 * [property@Sw.Connection:max-message-size], a malformed header, a
 * datagram error), the call returns the messages before it and the next
 * receive call on the connection, of any kind (the receive loop
 * included), fails with that error — unless
 * [method@Sw.Connection.steal_buffered_input] takes the buffered bytes
 * first. A frame refused for its size is skipped as usual, and the
 * receive after that goes on with the next frame. The end of the stream is never met
 * after the first message, since the call does not read again: the next
 * call gets %G_IO_ERROR_CONNECTION_CLOSED (or %G_IO_ERROR_PARTIAL_INPUT).
 *
 * File descriptors: like receive_message(), this call closes the
 * descriptors that came with the messages it returns
 * ([method@Sw.Connection.receive_message_with_fds] hands them over). A
 * message that carries descriptors is returned only first in a batch: the
 * batch ends before such a message, so a receive_message_with_fds() after
 * it gets it with its descriptors. (A datagram's descriptors are those
 * of its own message, and are closed as receive_message() closes them.)
 *
 * Returns: (transfer container) (element-type GBytes): the messages, or %NULL
 *   on error. The array owns them: g_ptr_array_unref() releases them
 *   all; g_ptr_array_steal_index() takes one over.
 *
 * Since: 0.2
 */
/* "transfer container", not "full": the array's free function releases
 * the messages, and a binding told it owns them as well (PyGObject 3.42)
 * releases each one once more. */
GPtrArray *
sw_connection_receive_messages (SwConnection  *self,
                                guint          max_messages,
                                gint64         timeout_us,
                                GCancellable  *cancellable,
                                GError       **error)
{
  SwOperation op;
  GPtrArray *messages = NULL;

  g_return_val_if_fail (SW_IS_CONNECTION (self), NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  /* As g_input_stream_read() of 0 bytes: nothing to do. */
  if (max_messages == 0)
    return messages_new ();

  receive_messages_init (&op, max_messages);
  if (sw_connection_run_sync_then (self, &op, timeout_us, cancellable, NULL, error))
    messages = g_steal_pointer (&op.batch);
  sw_operation_clear (&op);
  return messages;
}

/**
 * sw_connection_receive_messages_async:
 * @self: a connection
 * @max_messages: the most messages to return; 0 completes with an empty
 *   array, receiving nothing
 * @io_priority: the I/O priority of the call
 * @cancellable: (nullable): a cancellable, or %NULL
 * @callback: (scope async): called when the call completes
 * @user_data: data for @callback
 *
 * Receives at least one and at most @max_messages whole messages, like
 * [method@Sw.Connection.receive_messages] but without blocking: the call
 * completes once the first message is complete, with every message ready
 * by then. Cancelling it before that keeps the bytes read for the next
 * receive.
 *
 * It never blocks the calling thread, neither waiting for another call on
 * the connection nor for I/O. @callback runs in the thread-default main
 * context of the thread that made the call; finish with
 * [method@Sw.Connection.receive_messages_finish]. The call keeps a
 * reference on the connection until it completes.
 *
 * Since: 0.2
 */
void
sw_connection_receive_messages_async (SwConnection        *self,
                                      guint                max_messages,
                                      int                  io_priority,
                                      GCancellable        *cancellable,
                                      GAsyncReadyCallback  callback,
                                      gpointer             user_data)
{
  SwOperation op;

  g_return_if_fail (SW_IS_CONNECTION (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  if (max_messages == 0)
    {
      g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);

      g_task_set_name (task, "sw_connection_receive_messages_async");
      g_task_set_source_tag (task, SW_TAG (sw_connection_receive_messages_async));
      g_task_set_priority (task, io_priority);
      /* Delivered from an idle in the caller's context, as every call. */
      g_task_return_pointer (task, messages_new (), (GDestroyNotify) g_ptr_array_unref);
      return;
    }

  receive_messages_init (&op, max_messages);
  sw_connection_start_async (self, &op, io_priority, cancellable, callback, user_data,
                             "sw_connection_receive_messages_async",
                             SW_TAG (sw_connection_receive_messages_async));
}

/**
 * sw_connection_receive_messages_finish:
 * @self: a connection
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Sw.Connection.receive_messages_async].
 *
 * Returns: (transfer container) (element-type GBytes): the messages, or %NULL
 *   on error; the array owns them, as for
 *   [method@Sw.Connection.receive_messages]
 *
 * Since: 0.2
 */
GPtrArray *
sw_connection_receive_messages_finish (SwConnection  *self,
                                       GAsyncResult  *result,
                                       GError       **error)
{
  return sw_connection_finish_pointer (self, result,
                                       SW_TAG (sw_connection_receive_messages_async), error);
}
