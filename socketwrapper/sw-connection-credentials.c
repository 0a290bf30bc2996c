/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The credentials of the process at the other end of a UNIX socket. */

#include "config.h"

#include <errno.h>
#include <sys/socket.h>

#include <glib/gi18n-lib.h>

#include "sw-connection-private.h"

static void
set_not_unix_socket (GError **error)
{
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                       _("Peer credentials are only available on UNIX sockets"));
}

/* SO_PEERCRED of @fd, or NOT_SUPPORTED when @fd is no AF_UNIX socket:
 * Linux answers SO_PEERCRED on a TCP socket too, with no process behind
 * it (pid 0, uid and gid -1), so the family is checked first. */
static GCredentials *
peer_credentials_of_fd (int      fd,
                        GError **error)
{
  struct sockaddr_storage address;
  socklen_t address_length = sizeof address;
  struct ucred native;
  socklen_t native_length = sizeof native;
  GCredentials *credentials;

  if (getsockname (fd, (struct sockaddr *) &address, &address_length) < 0
      || address.ss_family != AF_UNIX)
    {
      set_not_unix_socket (error);
      return NULL;
    }
  if (getsockopt (fd, SOL_SOCKET, SO_PEERCRED, &native, &native_length) < 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   _("Cannot get the peer credentials: %s"), g_strerror (saved_errno));
      return NULL;
    }
  credentials = g_credentials_new ();
  g_credentials_set_native (credentials, G_CREDENTIALS_TYPE_LINUX_UCRED, &native);
  return credentials;
}

/**
 * sw_connection_get_peer_credentials:
 * @self: a connection
 * @error: return location for a #GError
 *
 * Gets the credentials of the process at the other end of a UNIX socket:
 * its process id, user id and group id, as the kernel recorded them when
 * the socket was connected (`SO_PEERCRED`) — for a socket pair, the
 * process that made the pair. A server can use them to admit only peers
 * of its own user with [method@Gio.Credentials.is_same_user].
 *
 * The connection needs no lock for this and it never waits for a call in
 * progress.
 *
 * Returns: (transfer full): the peer's credentials, or %NULL with
 *   %G_IO_ERROR_NOT_SUPPORTED when the connection wraps no UNIX socket
 *   (pipes, TCP, streams without a socket), or %G_IO_ERROR_CLOSED once
 *   the connection is closed
 *
 * Since: 0.2
 */
GCredentials *
sw_connection_get_peer_credentials (SwConnection  *self,
                                    GError       **error)
{
  GCredentials *credentials = NULL;

  g_return_val_if_fail (SW_IS_CONNECTION (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  /* Under @closed_mutex close() cannot close the fd meanwhile, so the
   * number is never another file's. The fds are read-only after
   * construction; a pair of fds (a pipe pair, two streams) is no socket
   * with one peer. */
  g_mutex_lock (&self->closed_mutex);
  if (g_atomic_int_get (&self->closing) || self->fds_released)
    sw_transport_set_closed (error);
  else if (self->fd < 0 || self->other_fd >= 0)
    set_not_unix_socket (error);
  else
    credentials = peer_credentials_of_fd (self->fd, error);
  g_mutex_unlock (&self->closed_mutex);
  return credentials;
}
