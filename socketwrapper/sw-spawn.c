/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Handing a connection to a child process, and taking it in the child.
 *
 * A child started by sw_spawn() finds its end of a fresh socket pair on
 * fd 3 and the number in the environment variable SOCKETWRAPPER_FD, so
 * it needs no command-line convention and works whatever language it is
 * written in: GIO's GSubprocess closes every descriptor not handed over
 * explicitly, which is why spawning goes through
 * g_subprocess_launcher_take_fd() rather than an inheritable flag. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <glib/gi18n-lib.h>

#include "sw-spawn.h"
#include "sw-error-private.h"
#include "sw-init-private.h"

/* Starts @argv with @child_fd as its fd 3 and the variable naming it; the
 * launcher owns @child_fd from the start, and closes the parent's copy when
 * it goes, whether the spawn worked or not. */
static GSubprocess *
spawn_with_fd (const char * const  *argv,
               GSubprocessFlags     flags,
               int                  child_fd,
               GError             **error)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (flags);
  g_autofree char *number = g_strdup_printf ("%d", SW_SPAWN_CHILD_FD);

  g_subprocess_launcher_take_fd (launcher, child_fd, SW_SPAWN_CHILD_FD);
  g_subprocess_launcher_setenv (launcher, SW_SPAWN_FD_VARIABLE, number, TRUE);
  return g_subprocess_launcher_spawnv (launcher, argv, error);
}

/**
 * sw_spawn:
 * @argv: (array zero-terminated=1) (element-type filename): the command
 *   line of the child; `argv[0]` is looked up in `PATH`
 * @framing: (nullable): where messages end on the connection, or %NULL for
 *   raw bytes
 * @flags: flags for the [class@Gio.Subprocess], such as
 *   %G_SUBPROCESS_FLAGS_STDOUT_PIPE
 * @subprocess: (out) (optional) (transfer full): return location for the
 *   child process, or %NULL
 * @error: return location for a #GError
 *
 * Starts a child process connected to the caller by a fresh Unix stream
 * socket pair, and returns the caller's end as a connection; both ends
 * send and receive.
 *
 * The child finds its end on file descriptor 3 ([const@Sw.SPAWN_CHILD_FD])
 * and the environment variable `SOCKETWRAPPER_FD` ([const@Sw.SPAWN_FD_VARIABLE])
 * set to `3`. It takes it with [ctor@Sw.Connection.new_from_environment],
 * or, without this library, with Python's
 * `socket.socket(fileno=int(os.environ['SOCKETWRAPPER_FD']))`: the child's
 * end is a separate, blocking socket, untouched by the caller's
 * non-blocking one. No other descriptor of the caller reaches the child,
 * unlike an inherited one, and the caller keeps no copy of the child's end,
 * so the caller sees the end of the stream when the child exits.
 *
 * This is how a GJS program, which cannot fork, hands a connection to a
 * child. When @subprocess is %NULL the child still runs, and is reaped by
 * GIO when it exits.
 *
 * Errors making the socket pair are in the %G_IO_ERROR domain
 * (%G_IO_ERROR_TOO_MANY_OPEN_FILES when the process is out of
 * descriptors); errors starting the child are
 * [class@Gio.Subprocess]'s, in the %G_SPAWN_ERROR or, for its own pipes,
 * %G_UNIX_ERROR domain.
 *
 * Returns: (transfer full) (nullable): the caller's end of the connection,
 *   or %NULL with @error set when the child could not be started
 *
 * Since: 0.2
 */
SwConnection *
sw_spawn (const char * const  *argv,
          SwFraming           *framing,
          GSubprocessFlags     flags,
          GSubprocess        **subprocess,
          GError             **error)
{
  g_autoptr(SwConnection) connection = NULL;
  g_autoptr(GSubprocess) process = NULL;
  int fds[2];

  g_return_val_if_fail (argv != NULL && argv[0] != NULL, NULL);
  g_return_val_if_fail (framing == NULL || SW_IS_FRAMING (framing), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  sw_init ();
  /* Not SOCK_NONBLOCK: the child's end keeps blocking I/O, which a plain
   * socket in any language expects; only the caller's end is switched. */
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0)
    {
      sw_error_set_from_errno (error, errno, _("Cannot create a socket pair"));
      return NULL;
    }
  connection = sw_connection_new_for_fd (fds[0], framing, error);
  if (connection == NULL)
    {
      close (fds[0]);
      close (fds[1]);
      return NULL;
    }
  process = spawn_with_fd (argv, flags, fds[1], error);
  if (process == NULL)
    return NULL;
  if (subprocess != NULL)
    *subprocess = g_steal_pointer (&process);
  return g_steal_pointer (&connection);
}

/* Parses the value of SOCKETWRAPPER_FD: a decimal descriptor number. */
static gboolean
parse_fd_variable (const char  *value,
                   int         *fd,
                   GError     **error)
{
  gint64 number;

  if (!g_ascii_string_to_signed (value, 10, 0, G_MAXINT, &number, NULL))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("The environment variable %s is not a file descriptor number: “%s”"),
                   SW_SPAWN_FD_VARIABLE, value);
      return FALSE;
    }
  *fd = (int) number;
  return TRUE;
}

/**
 * sw_connection_new_from_environment:
 * @framing: (nullable): where messages end on the connection, or %NULL for
 *   raw bytes
 * @error: return location for a #GError
 *
 * The child's side of [func@Sw.spawn]: wraps the file descriptor named by
 * the environment variable `SOCKETWRAPPER_FD`, and removes the variable
 * from the environment, so that the child's own children do not take it
 * for theirs. The connection owns the descriptor and makes it
 * close-on-exec for the same reason.
 *
 * The variable is removed whether or not the call succeeds. Like
 * g_unsetenv(), call this early in `main()`, before other threads run.
 *
 * Returns: (transfer full) (nullable): a new connection, or %NULL with
 *   @error set: %G_IO_ERROR_NOT_FOUND when the variable is not set,
 *   %G_IO_ERROR_INVALID_ARGUMENT when it does not name an open file
 *   descriptor
 *
 * Since: 0.2
 */
SwConnection *
sw_connection_new_from_environment (SwFraming  *framing,
                                    GError    **error)
{
  g_autoptr(SwConnection) connection = NULL;
  g_autofree char *value = NULL;
  int fd;

  g_return_val_if_fail (framing == NULL || SW_IS_FRAMING (framing), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  sw_init ();
  value = g_strdup (g_getenv (SW_SPAWN_FD_VARIABLE));
  if (value == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   _("The environment variable %s is not set: this process "
                     "was not given a connection"), SW_SPAWN_FD_VARIABLE);
      return NULL;
    }
  g_unsetenv (SW_SPAWN_FD_VARIABLE);
  if (!parse_fd_variable (value, &fd, error))
    return NULL;
  connection = sw_connection_new_for_fd (fd, framing, error);
  if (connection != NULL)
    sw_connection_set_inheritable (connection, FALSE);
  return g_steal_pointer (&connection);
}

/**
 * sw_connection_new_for_borrowed_fd:
 * @fd: an open file descriptor: a socket, a pipe end, a FIFO or a terminal
 * @framing: (nullable): where messages end on a byte stream, or %NULL
 * @error: return location for a #GError
 *
 * Wraps a close-on-exec duplicate of @fd, which stays the caller's: the
 * connection closes only its duplicate, so @fd stays open and usable after
 * [method@Sw.Connection.close], and the connection never reads or writes a
 * file that later reuses the number @fd once the caller closes it. Use
 * [ctor@Sw.Connection.new_for_fd] instead to hand @fd over.
 *
 * The duplicate shares @fd's open file description, and so its file status
 * flags: @fd is non-blocking while the connection is open, and gets its
 * flags back when the connection closes.
 *
 * Returns: (transfer full) (nullable): a new connection, or %NULL with
 *   @error set (%G_IO_ERROR_INVALID_ARGUMENT when @fd is not an open file
 *   descriptor)
 *
 * Since: 0.2
 */
SwConnection *
sw_connection_new_for_borrowed_fd (int         fd,
                                   SwFraming  *framing,
                                   GError    **error)
{
  SwConnection *connection;
  int copy;

  g_return_val_if_fail (framing == NULL || SW_IS_FRAMING (framing), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  sw_init ();
  copy = fd < 0 ? -1 : fcntl (fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0 && (fd < 0 || errno == EBADF))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("%d is not an open file descriptor"), fd);
      return NULL;
    }
  if (copy < 0)
    {
      sw_error_set_from_errno (error, errno, _("Cannot duplicate file descriptor %d"), fd);
      return NULL;
    }
  connection = sw_connection_new_for_fd (copy, framing, error);
  if (connection == NULL)
    close (copy);
  return connection;
}
