/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The public calls that pass file descriptors with messages on UNIX
 * sockets; how the fds stay bound to their message is in sw-fds.c. */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "sw-connection-private.h"
#include "sw-fds-private.h"
#include "sw-init-private.h"

/* A send of @message with @fds (none when NULL or empty). */
static void
send_op_init (SwOperation *op,
              GBytes      *message,
              GUnixFDList *fds)
{
  sw_operation_init (op, SW_OPERATION_SEND_MESSAGE);
  sw_operation_set_data (op, message);
  if (fds != NULL && g_unix_fd_list_get_length (fds) > 0)
    {
      op->fds = g_object_ref (fds);
      op->with_fds = TRUE;
    }
}

/**
 * sw_connection_send_message_with_fds:
 * @self: a connection
 * @message: the message
 * @fds: (nullable): file descriptors to pass with @message, or %NULL
 * @timeout_us: how long the call may take, in microseconds; -1 for ever
 * @cancellable: (nullable): a cancellable, or %NULL
 * @error: return location for a #GError
 *
 * Sends @message like [method@Sw.Connection.send_message], with @fds
 * passed along (`SCM_RIGHTS`): the peer gets its own descriptors for the
 * same open files, bound to this message, from
 * [method@Sw.Connection.receive_message_with_fds]. The list keeps its
 * descriptors; close them when no longer needed. The call passes
 * duplicates it makes before returning, so the fds sent are those @fds
 * held at the call, whatever is done to the list later.
 *
 * Frames already committed by earlier sends are written first; the fds go
 * with the first system call that writes this message's frame, and no
 * other frame shares that call, so the receiver can tell which message
 * they came with.
 *
 * Errors, and the connection's state after them:
 *
 * - more than 253 descriptors (Linux's `SCM_MAX_FD`):
 *   %G_IO_ERROR_INVALID_ARGUMENT before anything is written;
 * - the descriptors cannot be duplicated (too many open files): the
 *   error of `dup()`, before anything is written;
 * - @fds not empty on a connection that is not a UNIX domain socket
 *   (pipes, TCP, streams): %G_IO_ERROR_NOT_SUPPORTED, nothing written;
 * - timeout, cancellation, write errors and torn frames: as for
 *   [method@Sw.Connection.send_message]. A message that wrote nothing is
 *   not sent and its fds were not passed; a committed message had its fds
 *   passed with its first bytes.
 *
 * An empty or %NULL @fds sends a plain message, on any connection.
 *
 * Returns: %TRUE if the message was sent or committed
 *
 * Since: 0.2
 */
gboolean
sw_connection_send_message_with_fds (SwConnection  *self,
                                     GBytes        *message,
                                     GUnixFDList   *fds,
                                     gint64         timeout_us,
                                     GCancellable  *cancellable,
                                     GError       **error)
{
  g_autoptr(GUnixFDList) own = NULL;
  SwOperation op;
  gboolean ok;

  g_return_val_if_fail (SW_IS_CONNECTION (self), FALSE);
  g_return_val_if_fail (message != NULL, FALSE);
  g_return_val_if_fail (fds == NULL || G_IS_UNIX_FD_LIST (fds), FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!sw_fds_copy_for_send (fds, &own, error))
    return FALSE;
  send_op_init (&op, message, own);
  ok = sw_connection_run_sync_then (self, &op, timeout_us, cancellable, NULL, error);
  sw_operation_clear (&op);
  return ok;
}

/**
 * sw_connection_send_message_with_fds_async:
 * @self: a connection
 * @message: the message
 * @fds: (nullable): file descriptors to pass with @message, or %NULL
 * @io_priority: the I/O priority of the call
 * @cancellable: (nullable): a cancellable, or %NULL
 * @callback: (scope async): called when the call completes
 * @user_data: data for @callback
 *
 * Sends @message with @fds like
 * [method@Sw.Connection.send_message_with_fds] but without blocking, with
 * the cancellation and ordering rules of
 * [method@Sw.Connection.send_message_async]; a send with fds is never
 * merged into another call's batch. The call duplicates the descriptors
 * of @fds before it returns: the list may be changed, emptied or freed
 * while the send waits, and the send passes the fds it held at the call
 * (failing with the error of `dup()`, e.g. too many open files, before
 * anything is queued). Finish with
 * [method@Sw.Connection.send_message_with_fds_finish].
 *
 * Since: 0.2
 */
void
sw_connection_send_message_with_fds_async (SwConnection        *self,
                                           GBytes              *message,
                                           GUnixFDList         *fds,
                                           int                  io_priority,
                                           GCancellable        *cancellable,
                                           GAsyncReadyCallback  callback,
                                           gpointer             user_data)
{
  g_autoptr(GUnixFDList) own = NULL;
  GError *error = NULL;
  SwOperation op;

  g_return_if_fail (SW_IS_CONNECTION (self));
  g_return_if_fail (message != NULL);
  g_return_if_fail (fds == NULL || G_IS_UNIX_FD_LIST (fds));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  if (!sw_fds_copy_for_send (fds, &own, &error))
    {
      g_task_report_error (self, callback, user_data,
                           SW_TAG (sw_connection_send_message_with_fds_async), error);
      return;
    }
  send_op_init (&op, message, own);
  sw_connection_start_async (self, &op, io_priority, cancellable, callback, user_data,
                             "sw_connection_send_message_with_fds_async",
                             SW_TAG (sw_connection_send_message_with_fds_async));
}

/**
 * sw_connection_send_message_with_fds_finish:
 * @self: a connection
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Sw.Connection.send_message_with_fds_async].
 *
 * Returns: %TRUE on success
 *
 * Since: 0.2
 */
gboolean
sw_connection_send_message_with_fds_finish (SwConnection  *self,
                                            GAsyncResult  *result,
                                            GError       **error)
{
  return sw_connection_finish_boolean (self, result,
                                       SW_TAG (sw_connection_send_message_with_fds_async), error);
}

/**
 * sw_connection_receive_message_with_fds:
 * @self: a connection
 * @fds: (out) (optional) (nullable) (transfer full): return location for
 *   the file descriptors that came with the message, or %NULL
 * @timeout_us: how long the call may take, in microseconds; -1 for ever
 * @cancellable: (nullable): a cancellable, or %NULL
 * @error: return location for a #GError
 *
 * Receives one whole message like [method@Sw.Connection.receive_message],
 * with the file descriptors the peer sent with exactly this message
 * (by [method@Sw.Connection.send_message_with_fds] or any sender that
 * starts a message's write with its fds and writes no byte of a later
 * message in that same system call): an empty list when it sent none.
 * A peer that writes several messages in the call carrying fds gets them
 * delivered with one of those messages, which one depending on how the
 * reads split the stream.
 * The descriptors are close-on-exec and yours to close
 * ([method@Gio.UnixFDList.steal_fds]).
 *
 * Descriptors that arrive with a message received without asking for them
 * (@fds %NULL here, [method@Sw.Connection.receive_message], the value
 * calls, the receive loop) are closed; so are those still queued when the
 * connection closes or [method@Sw.Connection.steal_buffered_input] takes
 * the bytes they came with.
 *
 * Every read of a UNIX stream socket keeps the descriptors that come with
 * it for the message they belong to, so a plain receive whose read-ahead
 * reaches into a later message never takes or loses that message's
 * descriptors: plain receives and this call mix freely.
 *
 * Errors, and the connection's state after them:
 *
 * - asking for fds on a connection that is not a UNIX domain socket:
 *   %G_IO_ERROR_NOT_SUPPORTED, nothing read;
 * - fds of the message lost on the way in (`MSG_CTRUNC`: the process ran
 *   out of descriptors, or the sender passed more than fit):
 *   %G_IO_ERROR_INVALID_DATA; the message and the fds that did arrive are
 *   dropped, and the next receive returns the next message;
 * - timeout, cancellation, end of stream and bad frames: as for
 *   [method@Sw.Connection.receive_message]; the fds of a message not yet
 *   complete stay with it for the next receive.
 *
 * Returns: (transfer full): the message, or %NULL on error
 *
 * Since: 0.2
 */
GBytes *
sw_connection_receive_message_with_fds (SwConnection  *self,
                                        GUnixFDList  **fds,
                                        gint64         timeout_us,
                                        GCancellable  *cancellable,
                                        GError       **error)
{
  SwOperation op;
  GBytes *message = NULL;

  g_return_val_if_fail (SW_IS_CONNECTION (self), NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (fds != NULL)
    *fds = NULL;
  sw_operation_init (&op, SW_OPERATION_RECEIVE_MESSAGE);
  op.with_fds = fds != NULL;
  if (sw_connection_run_sync_then (self, &op, timeout_us, cancellable, NULL, error))
    {
      message = g_steal_pointer (&op.result);
      if (fds != NULL)
        *fds = op.fds != NULL ? g_steal_pointer (&op.fds) : g_unix_fd_list_new ();
    }
  sw_operation_clear (&op);
  return message;
}

/**
 * sw_connection_receive_message_with_fds_async:
 * @self: a connection
 * @io_priority: the I/O priority of the call
 * @cancellable: (nullable): a cancellable, or %NULL
 * @callback: (scope async): called when the call completes
 * @user_data: data for @callback
 *
 * Receives one whole message with its file descriptors like
 * [method@Sw.Connection.receive_message_with_fds] but without blocking
 * (it always asks for fds: %G_IO_ERROR_NOT_SUPPORTED on connections that
 * are not UNIX domain sockets). Fds of a result never finished are closed
 * with it. Finish with
 * [method@Sw.Connection.receive_message_with_fds_finish].
 *
 * Since: 0.2
 */
void
sw_connection_receive_message_with_fds_async (SwConnection        *self,
                                              int                  io_priority,
                                              GCancellable        *cancellable,
                                              GAsyncReadyCallback  callback,
                                              gpointer             user_data)
{
  SwOperation op;

  g_return_if_fail (SW_IS_CONNECTION (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  sw_operation_init (&op, SW_OPERATION_RECEIVE_MESSAGE);
  op.with_fds = TRUE;
  sw_connection_start_async (self, &op, io_priority, cancellable, callback, user_data,
                             "sw_connection_receive_message_with_fds_async",
                             SW_TAG (sw_connection_receive_message_with_fds_async));
}

/**
 * sw_connection_receive_message_with_fds_finish:
 * @self: a connection
 * @result: the result passed to the callback
 * @fds: (out) (optional) (nullable) (transfer full): return location for
 *   the file descriptors that came with the message, or %NULL to close them
 * @error: return location for a #GError
 *
 * Finishes [method@Sw.Connection.receive_message_with_fds_async].
 *
 * Returns: (transfer full): the message, or %NULL on error
 *
 * Since: 0.2
 */
GBytes *
sw_connection_receive_message_with_fds_finish (SwConnection  *self,
                                               GAsyncResult  *result,
                                               GUnixFDList  **fds,
                                               GError       **error)
{
  SwReceived *received;
  GBytes *message;

  if (fds != NULL)
    *fds = NULL;
  received = sw_connection_finish_pointer (self, result,
                                           SW_TAG (sw_connection_receive_message_with_fds_async),
                                           error);
  if (received == NULL)
    return NULL;
  message = g_steal_pointer (&received->bytes);
  if (fds != NULL)
    *fds = g_steal_pointer (&received->fds);
  sw_received_free (received);
  return message;
}
