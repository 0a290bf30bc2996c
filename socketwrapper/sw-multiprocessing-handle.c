/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* multiprocessing.reduction's send_handle() / recv_handle() on Linux
 * (sendfds() / recvfds() with one fd): one unframed byte, the number of
 * fds modulo 256, sent by one sendmsg() with the fds as SCM_RIGHTS. No
 * acknowledgement byte (Python sends one on macOS only). */

#include "config.h"

#include <unistd.h>
#include <glib/gi18n-lib.h>

#include "sw-connection-private.h"
#include "sw-fds-private.h"
#include "sw-init-private.h"
#include "sw-multiprocessing.h"

static void
send_handle_op_init (SwOperation *op,
                     GUnixFDList *fds)
{
  static const guint8 marker = 1;  /* one fd: 1 % 256 */
  g_autoptr(GBytes) byte = g_bytes_new_static (&marker, 1);

  sw_operation_init (op, SW_OPERATION_SEND_BYTES);
  sw_operation_set_data (op, byte);
  op->fds = g_object_ref (fds);
  op->with_fds = TRUE;
}

/* The list holding a duplicate of @fd (the caller keeps @fd). */
static GUnixFDList *
handle_list_new (int      fd,
                 GError **error)
{
  g_autoptr(GUnixFDList) fds = NULL;

  if (fd < 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("%d is not a file descriptor"), fd);
      return NULL;
    }
  fds = g_unix_fd_list_new ();
  if (g_unix_fd_list_append (fds, fd, error) < 0)
    return NULL;
  return g_steal_pointer (&fds);
}

/**
 * sw_multiprocessing_send_handle:
 * @connection: a connection over a UNIX domain socket
 * @fd: the file descriptor to pass; the caller keeps it
 * @cancellable: (nullable): a cancellable, or %NULL
 * @error: return location for a #GError
 *
 * Passes @fd to the peer the way Python's
 * `multiprocessing.reduction.send_handle (conn, fd, pid)` does: one byte
 * (the number of descriptors, 1) outside any framing, with the descriptor
 * attached. A Python peer takes it with
 * `multiprocessing.reduction.recv_handle (conn)`, we with
 * [func@Sw.multiprocessing_receive_handle]. Messages sent before it are
 * written first; messages sent after it follow it on the stream.
 *
 * @fd < 0 is %G_IO_ERROR_INVALID_ARGUMENT and a connection that is not a
 * UNIX domain socket %G_IO_ERROR_NOT_SUPPORTED, both before anything is
 * written. Other errors (%G_IO_ERROR_CANCELLED before the byte is written,
 * write errors) are those of [method@Sw.Connection.send_bytes]; the
 * connection stays usable unless the write broke it.
 *
 * Returns: %TRUE once the byte and @fd are sent
 *
 * Since: 0.2
 */
gboolean
sw_multiprocessing_send_handle (SwConnection  *connection,
                                int            fd,
                                GCancellable  *cancellable,
                                GError       **error)
{
  g_autoptr(GUnixFDList) fds = NULL;
  SwOperation op;
  gboolean ok;

  g_return_val_if_fail (SW_IS_CONNECTION (connection), FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  fds = handle_list_new (fd, error);
  if (fds == NULL)
    return FALSE;
  send_handle_op_init (&op, fds);
  ok = sw_connection_run_sync_then (connection, &op, -1, cancellable, NULL, error);
  sw_operation_clear (&op);
  return ok;
}

/**
 * sw_multiprocessing_send_handle_async:
 * @connection: a connection over a UNIX domain socket
 * @fd: the file descriptor to pass; the caller keeps it (the call passes
 *   a duplicate)
 * @cancellable: (nullable): a cancellable, or %NULL
 * @callback: (scope async): called when the call completes
 * @user_data: data for @callback
 *
 * Passes @fd like [func@Sw.multiprocessing_send_handle] but without
 * blocking. Finish with [func@Sw.multiprocessing_send_handle_finish].
 *
 * Since: 0.2
 */
void
sw_multiprocessing_send_handle_async (SwConnection        *connection,
                                      int                  fd,
                                      GCancellable        *cancellable,
                                      GAsyncReadyCallback  callback,
                                      gpointer             user_data)
{
  g_autoptr(GUnixFDList) fds = NULL;
  GError *error = NULL;
  SwOperation op;

  g_return_if_fail (SW_IS_CONNECTION (connection));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  fds = handle_list_new (fd, &error);
  if (fds == NULL)
    {
      g_task_report_error (connection, callback, user_data,
                           SW_TAG (sw_multiprocessing_send_handle_async), error);
      return;
    }
  send_handle_op_init (&op, fds);
  sw_connection_start_async (connection, &op, G_PRIORITY_DEFAULT, cancellable,
                             callback, user_data, "sw_multiprocessing_send_handle_async",
                             SW_TAG (sw_multiprocessing_send_handle_async));
}

/**
 * sw_multiprocessing_send_handle_finish:
 * @connection: a connection
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes [func@Sw.multiprocessing_send_handle_async].
 *
 * Returns: %TRUE once the byte and the descriptor are sent
 *
 * Since: 0.2
 */
gboolean
sw_multiprocessing_send_handle_finish (SwConnection  *connection,
                                       GAsyncResult  *result,
                                       GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, connection), FALSE);
  g_return_val_if_fail (g_async_result_is_tagged (result,
                                                  SW_TAG (sw_multiprocessing_send_handle_async)),
                        FALSE);

  /* The async call returns the count of bytes written (1). */
  return g_task_propagate_int (G_TASK (result), error) > 0;
}

static void
receive_handle_op_init (SwOperation *op)
{
  sw_operation_init (op, SW_OPERATION_RECEIVE_BYTES);
  op->size = 1;
  op->with_fds = TRUE;
}

/* recvfds (sock, 1)'s checks: the byte counts the fds modulo 256 and
 * exactly one came. Takes @received; every fd is closed on error. */
static int
handle_from_received (SwReceived  *received,
                      GError     **error)
{
  gsize size;
  const guint8 *byte = g_bytes_get_data (received->bytes, &size);
  int n_fds = g_unix_fd_list_get_length (received->fds);
  int fd = -1;

  if (n_fds == 0)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 _("No file descriptor came with the handle marker byte (%u)"),
                 size > 0 ? byte[0] : 0u);
  else if (size != 1 || byte[0] != n_fds % 256)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 _("%d file descriptors came with a marker byte of %u: "
                   "not a multiprocessing handle"), n_fds, size > 0 ? byte[0] : 0u);
  else if (n_fds != 1)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 _("%d file descriptors came where one handle was expected"), n_fds);
  else
    {
      int *fds = g_unix_fd_list_steal_fds (received->fds, NULL);

      fd = fds[0];
      g_free (fds);
    }
  /* Unstolen fds close with the list. */
  sw_received_free (received);
  return fd;
}

/**
 * sw_multiprocessing_receive_handle:
 * @connection: a connection over a UNIX domain socket
 * @cancellable: (nullable): a cancellable, or %NULL
 * @error: return location for a #GError
 *
 * Receives a file descriptor sent the way Python's
 * `multiprocessing.reduction.send_handle (conn, fd, pid)` sends it (and
 * [func@Sw.multiprocessing_send_handle]): one unframed byte, the number of
 * descriptors, with the descriptor attached. Messages the peer sent after
 * it are received normally afterwards.
 *
 * Errors, and the connection's state after them:
 *
 * - the marker byte without a descriptor, a byte that does not count the
 *   descriptors that came with it, or more than one descriptor:
 *   %G_IO_ERROR_INVALID_DATA, with every descriptor that came closed; the
 *   byte is consumed, and the peer and this connection no longer agree
 *   on where messages start: close it;
 * - a connection that is not a UNIX domain socket:
 *   %G_IO_ERROR_NOT_SUPPORTED, nothing read;
 * - the peer closed the connection first: %G_IO_ERROR_CONNECTION_CLOSED;
 *   cancelled: %G_IO_ERROR_CANCELLED, nothing consumed.
 *
 * Returns: a new close-on-exec file descriptor, yours to close, or -1 on
 *   error
 *
 * Since: 0.2
 */
int
sw_multiprocessing_receive_handle (SwConnection  *connection,
                                   GCancellable  *cancellable,
                                   GError       **error)
{
  SwOperation op;
  SwReceived *received = NULL;

  g_return_val_if_fail (SW_IS_CONNECTION (connection), -1);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), -1);
  g_return_val_if_fail (error == NULL || *error == NULL, -1);

  receive_handle_op_init (&op);
  if (sw_connection_run_sync_then (connection, &op, -1, cancellable, NULL, error))
    received = sw_operation_steal_received (&op);
  sw_operation_clear (&op);
  return received != NULL ? handle_from_received (received, error) : -1;
}

/**
 * sw_multiprocessing_receive_handle_async:
 * @connection: a connection over a UNIX domain socket
 * @cancellable: (nullable): a cancellable, or %NULL
 * @callback: (scope async): called when the call completes
 * @user_data: data for @callback
 *
 * Receives a file descriptor like [func@Sw.multiprocessing_receive_handle]
 * but without blocking. Finish with
 * [func@Sw.multiprocessing_receive_handle_finish]; a descriptor whose call
 * is never finished is closed.
 *
 * Since: 0.2
 */
void
sw_multiprocessing_receive_handle_async (SwConnection        *connection,
                                         GCancellable        *cancellable,
                                         GAsyncReadyCallback  callback,
                                         gpointer             user_data)
{
  SwOperation op;

  g_return_if_fail (SW_IS_CONNECTION (connection));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  receive_handle_op_init (&op);
  sw_connection_start_async (connection, &op, G_PRIORITY_DEFAULT, cancellable,
                             callback, user_data, "sw_multiprocessing_receive_handle_async",
                             SW_TAG (sw_multiprocessing_receive_handle_async));
}

/**
 * sw_multiprocessing_receive_handle_finish:
 * @connection: a connection
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes [func@Sw.multiprocessing_receive_handle_async], with its
 * errors.
 *
 * Returns: a new close-on-exec file descriptor, yours to close, or -1 on
 *   error
 *
 * Since: 0.2
 */
int
sw_multiprocessing_receive_handle_finish (SwConnection  *connection,
                                          GAsyncResult  *result,
                                          GError       **error)
{
  SwReceived *received;

  received = sw_connection_finish_pointer (connection, result,
                                           SW_TAG (sw_multiprocessing_receive_handle_async),
                                           error);
  if (received == NULL)
    return -1;
  return handle_from_received (received, error);
}
