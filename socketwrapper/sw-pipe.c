/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <glib/gi18n-lib.h>

#include "sw-pipe.h"
#include "sw-error-private.h"
#include "sw-init-private.h"

/* Wraps a pair of fresh fds; on failure both are closed. */
static gboolean
wrap_pair (int            fds[2],
           SwFraming     *framing,
           SwConnection **first,
           SwConnection **second,
           GError       **error)
{
  g_autoptr(SwConnection) a = sw_connection_new_for_fd (fds[0], framing, error);
  g_autoptr(SwConnection) b = NULL;

  if (a == NULL)
    {
      close (fds[0]);
      close (fds[1]);
      return FALSE;
    }
  b = sw_connection_new_for_fd (fds[1], framing, error);
  if (b == NULL)
    {
      close (fds[1]);
      return FALSE;
    }
  *first = g_steal_pointer (&a);
  *second = g_steal_pointer (&b);
  return TRUE;
}

/**
 * sw_pipe:
 * @framing: (nullable): where messages end on the pipe, or %NULL for raw
 *   bytes
 * @reader: (out) (transfer full): return location for the read end
 * @writer: (out) (transfer full): return location for the write end
 * @error: return location for a #GError
 *
 * Creates a pipe and wraps its two ends. Both file descriptors are
 * close-on-exec and non-blocking; set [property@Sw.Connection:inheritable]
 * on the end a child process should keep.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
sw_pipe (SwFraming     *framing,
         SwConnection **reader,
         SwConnection **writer,
         GError       **error)
{
  int fds[2];

  g_return_val_if_fail (framing == NULL || SW_IS_FRAMING (framing), FALSE);
  g_return_val_if_fail (reader != NULL && writer != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  sw_init ();
  if (pipe2 (fds, O_CLOEXEC | O_NONBLOCK) < 0)
    {
      sw_error_set_from_errno (error, errno, _("Cannot create a pipe"));
      return FALSE;
    }
  return wrap_pair (fds, framing, reader, writer, error);
}

static int
socket_type_to_native (GSocketType type)
{
  switch (type)
    {
    case G_SOCKET_TYPE_STREAM:
      return SOCK_STREAM;
    case G_SOCKET_TYPE_DATAGRAM:
      return SOCK_DGRAM;
    case G_SOCKET_TYPE_SEQPACKET:
      return SOCK_SEQPACKET;
    case G_SOCKET_TYPE_INVALID:
    default:
      return -1;
    }
}

/**
 * sw_socketpair:
 * @family: the socket family, normally %G_SOCKET_FAMILY_UNIX
 * @type: %G_SOCKET_TYPE_STREAM, %G_SOCKET_TYPE_DATAGRAM or
 *   %G_SOCKET_TYPE_SEQPACKET
 * @framing: (nullable): where messages end on a stream socket, or %NULL;
 *   datagram and seqpacket sockets keep message boundaries themselves
 * @a: (out) (transfer full): return location for one end
 * @b: (out) (transfer full): return location for the other end
 * @error: return location for a #GError
 *
 * Creates a pair of connected sockets and wraps them; both ends send and
 * receive. Both file descriptors are close-on-exec and non-blocking.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
sw_socketpair (GSocketFamily   family,
               GSocketType     type,
               SwFraming      *framing,
               SwConnection  **a,
               SwConnection  **b,
               GError        **error)
{
  int native_type = socket_type_to_native (type);
  int fds[2];

  g_return_val_if_fail (framing == NULL || SW_IS_FRAMING (framing), FALSE);
  g_return_val_if_fail (a != NULL && b != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  sw_init ();
  if (native_type < 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("Socket type %d cannot make a socket pair"), (int) type);
      return FALSE;
    }
  if (socketpair ((int) family, native_type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds) < 0)
    {
      sw_error_set_from_errno (error, errno, _("Cannot create a socket pair"));
      return FALSE;
    }
  return wrap_pair (fds, framing, a, b, error);
}
