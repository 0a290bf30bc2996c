/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Children: sw_spawn() hands a child its end of a socket pair on fd 3 and
 * in SOCKETWRAPPER_FD; the child takes it with
 * sw_connection_new_from_environment() (this binary re-executed) or with a
 * plain Python socket. Also sw_connection_new_for_borrowed_fd(), which
 * leaves the caller's descriptor the caller's. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sw-test-util.h"

static char *self_exe;

/* ---- the child ---------------------------------------------------------- */

/* Child mode: takes the connection from the environment, checks what it
 * was given, and sends each message back until EOF. No GTest here: the exit status says what went wrong. */
static int
child_echo (void)
{
  g_autoptr(SwConnection) connection = NULL;

  if (g_strcmp0 (g_getenv ("SOCKETWRAPPER_FD"), "3") != 0)
    return 3;
  connection = sw_connection_new_from_environment (sw_framing_get_default (), NULL);
  if (connection == NULL)
    return 4;
  if (g_getenv ("SOCKETWRAPPER_FD") != NULL)
    return 5;  /* a grandchild would take the variable for its own */
  if (sw_connection_get_fd (connection) != 3 || sw_connection_get_inheritable (connection))
    return 6;
  for (;;)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) message = sw_connection_receive_message (connection, -1, NULL, &error);

      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED))
        return 0;
      if (message == NULL)
        return 7;
      if (!sw_connection_send_message (connection, message, -1, NULL, NULL))
        return 8;
    }
}

/* ---- the parent --------------------------------------------------------- */

static const gsize echo_sizes[] = { 0, 1, 240, 241, 67824, 1024 * 1024 };

/* Exchanges echo_sizes with an echo child, then closes. */
static void
exchange_with_child (SwConnection *parent)
{
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (echo_sizes); i++)
    {
      g_autoptr(GBytes) message = sw_test_pattern_bytes (echo_sizes[i], 900 + i);
      g_autoptr(GBytes) reply = NULL;

      g_assert_true (sw_connection_send_message (parent, message, -1, NULL, &error));
      g_assert_no_error (error);
      reply = sw_connection_receive_message (parent, -1, NULL, &error);
      g_assert_no_error (error);
      g_assert_true (g_bytes_equal (reply, message));
    }
  g_assert_true (sw_connection_close (parent, NULL, &error));
  g_assert_no_error (error);
}

static void
spawn_and_exchange (const char * const *argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(SwConnection) parent = sw_spawn (argv, sw_framing_get_default (),
                                             G_SUBPROCESS_FLAGS_NONE, &process, &error);

  g_assert_no_error (error);
  g_assert_nonnull (parent);
  g_assert_true (G_IS_SUBPROCESS (process));
  /* The parent keeps no copy of the child's end: EOF reaches the child. */
  exchange_with_child (parent);
  g_assert_true (g_subprocess_wait_check (process, NULL, &error));
  g_assert_no_error (error);
}

static void
test_spawn_self (void)
{
  const char * const argv[] = { self_exe, "--child-echo", NULL };

  spawn_and_exchange (argv);
}

static void
test_spawn_python (void)
{
  const char *python = sw_test_get_python ();
  g_autofree char *script = NULL;

  if (python == NULL)
    {
      g_test_skip ("no python3 for the child");
      return;
    }
  script = sw_test_get_script ("spawn_child.py");
  {
    const char * const argv[] = { python, script, NULL };

    spawn_and_exchange (argv);
  }
}

/* Without a GSubprocess the child still runs and talks. */
static void
test_spawn_no_subprocess (void)
{
  const char * const argv[] = { self_exe, "--child-echo", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(SwConnection) parent = sw_spawn (argv, sw_framing_get_default (),
                                             G_SUBPROCESS_FLAGS_NONE, NULL, &error);

  g_assert_no_error (error);
  exchange_with_child (parent);
}

/* A child that cannot start is an error, and neither end of the socket
 * pair is left open: the two lowest free numbers, which the pair takes,
 * are free again after. It runs before any child exists, so no GIO worker
 * opens or closes descriptors meanwhile. */
static void
test_spawn_no_program (void)
{
  const char * const argv[] = { "/nonexistent/sw-no-such-program", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(SwConnection) parent = NULL;
  int probe[2];

  sw_test_raw_socketpair (SOCK_STREAM, probe);
  close (probe[0]);
  close (probe[1]);
  parent = sw_spawn (argv, NULL, G_SUBPROCESS_FLAGS_NONE, &process, &error);
  g_assert_null (parent);
  g_assert_null (process);
  g_assert_error (error, G_SPAWN_ERROR, G_SPAWN_ERROR_NOENT);
  g_assert_false (sw_test_fd_is_open (probe[0]));
  g_assert_false (sw_test_fd_is_open (probe[1]));
}

/* ---- sw_connection_new_from_environment ------------------------------- */

static void
test_environment_absent (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwConnection) connection = NULL;

  g_unsetenv ("SOCKETWRAPPER_FD");
  connection = sw_connection_new_from_environment (NULL, &error);
  g_assert_null (connection);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "SOCKETWRAPPER_FD"));
}

/* A descriptor number that is not open (the lowest free one). */
static int
closed_fd_number (void)
{
  int fds[2];

  sw_test_raw_socketpair (SOCK_STREAM, fds);
  close (fds[0]);
  close (fds[1]);
  return fds[0];
}

/* Values that name no open descriptor are refused, and removed too. */
static void
test_environment_malformed (void)
{
  g_autofree char *closed = g_strdup_printf ("%d", closed_fd_number ());
  const char *values[] = { "", "abc", "3x", " 3", "-1", "0x3", "2147483648",
                           "99999999999999999999", closed };

  for (guint i = 0; i < G_N_ELEMENTS (values); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(SwConnection) connection = NULL;

      g_assert_true (g_setenv ("SOCKETWRAPPER_FD", values[i], TRUE));
      connection = sw_connection_new_from_environment (NULL, &error);
      g_assert_null (connection);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
      g_assert_null (g_getenv ("SOCKETWRAPPER_FD"));
    }
}

/* An inherited fd: the connection owns it, makes it close-on-exec and
 * removes the variable. */
static void
test_environment_takes_fd (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwConnection) connection = NULL;
  g_autoptr(SwConnection) peer = NULL;
  g_autoptr(GBytes) message = g_bytes_new_static ("hi", 2);
  g_autoptr(GBytes) received = NULL;
  g_autofree char *number = NULL;
  int fds[2];

  sw_test_raw_socketpair (SOCK_STREAM, fds);
  g_assert_cmpint (fcntl (fds[0], F_SETFD, 0), ==, 0);  /* as inherited */
  number = g_strdup_printf ("%d", fds[0]);
  g_assert_true (g_setenv ("SOCKETWRAPPER_FD", number, TRUE));

  connection = sw_connection_new_from_environment (sw_framing_get_default (), &error);
  g_assert_no_error (error);
  g_assert_null (g_getenv ("SOCKETWRAPPER_FD"));
  g_assert_cmpint (sw_connection_get_fd (connection), ==, fds[0]);
  g_assert_true (sw_test_fd_is_cloexec (fds[0]));
  g_assert_false (sw_connection_get_inheritable (connection));

  peer = sw_test_connection_for_socket_fd (fds[1], sw_framing_get_default ());
  g_assert_true (sw_connection_send_message (peer, message, -1, NULL, &error));
  g_assert_no_error (error);
  received = sw_connection_receive_message (connection, -1, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (received, message));
}

/* ---- sw_connection_new_for_borrowed_fd -------------------------------- */

/* The connection works on a close-on-exec duplicate; after close the
 * caller's fd is open, blocking again, and still carries data. */
static void
test_borrowed_socket (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwConnection) connection = NULL;
  g_autoptr(GBytes) message = g_bytes_new_static ("abc", 3);
  guint8 frame[4];
  int fds[2];

  sw_test_raw_socketpair (SOCK_STREAM, fds);
  g_assert_cmpint (fcntl (fds[0], F_SETFD, 0), ==, 0);
  connection = sw_connection_new_for_borrowed_fd (fds[0], sw_framing_get_default (), &error);
  g_assert_no_error (error);
  g_assert_cmpint (sw_connection_get_fd (connection), !=, fds[0]);
  g_assert_true (sw_test_fd_is_cloexec (sw_connection_get_fd (connection)));
  g_assert_false (sw_test_fd_is_cloexec (fds[0]));
  g_assert_true (sw_connection_send_message (connection, message, -1, NULL, &error));
  g_assert_no_error (error);
  sw_test_read_all (fds[1], frame, sizeof frame);
  g_assert_cmpmem (frame, 4, "\003abc", 4);

  g_assert_true (sw_connection_close (connection, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (sw_test_fd_is_open (fds[0]));
  g_assert_false (sw_test_fd_is_nonblocking (fds[0]));
  sw_test_write_all (fds[0], "xyz", 3);
  sw_test_read_all (fds[1], frame, 3);
  g_assert_cmpmem (frame, 3, "xyz", 3);
  close (fds[0]);
  close (fds[1]);
}

/* The same for a pipe end, which is wrapped in a Unix stream. */
static void
test_borrowed_pipe (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwConnection) connection = NULL;
  g_autoptr(GBytes) message = g_bytes_new_static ("abc", 3);
  guint8 frame[4];
  int fds[2];

  g_assert_cmpint (pipe2 (fds, O_CLOEXEC), ==, 0);
  connection = sw_connection_new_for_borrowed_fd (fds[1], sw_framing_get_default (), &error);
  g_assert_no_error (error);
  g_assert_cmpint (sw_connection_get_fd (connection), !=, fds[1]);
  g_assert_true (sw_connection_send_message (connection, message, -1, NULL, &error));
  g_assert_no_error (error);
  g_clear_object (&connection);  /* finalize closes the duplicate only */
  g_assert_true (sw_test_fd_is_open (fds[1]));
  g_assert_false (sw_test_fd_is_nonblocking (fds[1]));
  sw_test_write_all (fds[1], "x", 1);
  close (fds[1]);
  sw_test_read_all (fds[0], frame, sizeof frame);
  g_assert_cmpmem (frame, 4, "\003abc", 4);
  sw_test_read_all (fds[0], frame, 1);
  g_assert_cmpint (frame[0], ==, 'x');
  close (fds[0]);
}

static void
test_borrowed_invalid (void)
{
  int bad[] = { -1, -5, closed_fd_number () };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(SwConnection) connection = NULL;

      connection = sw_connection_new_for_borrowed_fd (bad[i], NULL, &error);
      g_assert_null (connection);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
    }
}

int
main (int   argc,
      char *argv[])
{
  /* The child mode comes first: nothing of GTest runs in it. */
  if (argc == 2 && strcmp (argv[1], "--child-echo") == 0)
    return child_echo ();

  self_exe = g_canonicalize_filename (argv[0], NULL);
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/sw/spawn/no-program", test_spawn_no_program);
  g_test_add_func ("/sw/spawn/self", test_spawn_self);
  g_test_add_func ("/sw/spawn/python", test_spawn_python);
  g_test_add_func ("/sw/spawn/no-subprocess", test_spawn_no_subprocess);
  g_test_add_func ("/sw/spawn/environment/absent", test_environment_absent);
  g_test_add_func ("/sw/spawn/environment/malformed", test_environment_malformed);
  g_test_add_func ("/sw/spawn/environment/takes-fd", test_environment_takes_fd);
  g_test_add_func ("/sw/connection/borrowed-fd/socket", test_borrowed_socket);
  g_test_add_func ("/sw/connection/borrowed-fd/pipe", test_borrowed_pipe);
  g_test_add_func ("/sw/connection/borrowed-fd/invalid", test_borrowed_invalid);

  {
    int ret = g_test_run ();

    g_free (self_exe);
    return ret;
  }
}
