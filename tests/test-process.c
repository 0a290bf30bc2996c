/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* SwConnection between processes: the Python socketwrapper README examples
 * redone in C with fork(), fd inheritance across exec, and a GSubprocess
 * peer speaking VarInt framing (Python, and this binary re-executed). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sw-test-util.h"

static char *self_exe;

/* Child side helpers: no GTest assertions here, results go to the exit
 * status. */

static gboolean
bytes_equal_str (GBytes     *bytes,
                 const char *str)
{
  gsize size;
  const char *data;

  if (bytes == NULL)
    return FALSE;
  data = g_bytes_get_data (bytes, &size);
  return size == strlen (str) && memcmp (data, str, size) == 0;
}

static gboolean
send_str (SwConnection *connection,
          const char   *str)
{
  g_autoptr(GBytes) message = g_bytes_new_static (str, strlen (str));

  return sw_connection_send_message (connection, message, -1, NULL, NULL);
}

static void
wait_child_exit (pid_t pid,
                 int   expected_status)
{
  int status;
  pid_t ret;

  do
    ret = waitpid (pid, &status, 0);
  while (ret == -1 && errno == EINTR);
  g_assert_cmpint (ret, ==, pid);
  if (WIFSIGNALED (status))
    g_error ("child killed by signal %d", WTERMSIG (status));
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, expected_status);
}

static void
assert_receive_str (SwConnection *connection,
                    const char   *expected)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) message = sw_connection_receive_message (connection, -1, NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (message);
  g_assert_cmpmem (g_bytes_get_data (message, NULL), g_bytes_get_size (message),
                   expected, strlen (expected));
}

static void
assert_receive_closed (SwConnection *connection)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) message = sw_connection_receive_message (connection, -1, NULL, &error);

  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
  g_assert_null (message);
}

/* README "Simple IPC with pipe": the child writes, the parent reads. */
static void
test_fork_pipe (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwConnection) parent_reader = NULL;
  SwConnection *child_writer = NULL;
  pid_t pid;

  g_assert_true (sw_pipe (sw_framing_get_default (), &parent_reader, &child_writer, &error));
  g_assert_no_error (error);
  sw_connection_set_inheritable (child_writer, TRUE);
  pid = fork ();
  g_assert_cmpint (pid, !=, -1);
  if (pid == 0)
    {
      gboolean ok;

      g_clear_object (&parent_reader);
      ok = send_str (child_writer, "Hello world!");
      g_object_unref (child_writer);
      _exit (ok ? 0 : 1);
    }
  sw_connection_set_inheritable (child_writer, FALSE);
  g_object_unref (child_writer);

  assert_receive_str (parent_reader, "Hello world!");
  /* Our copy of the writer is closed and the child's goes with it. */
  assert_receive_closed (parent_reader);
  wait_child_exit (pid, 0);
}

/* README "Simple bidirectional IPC with socketpair". */
static void
test_fork_socketpair (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwConnection) parent_duplex = NULL;
  SwConnection *child_duplex = NULL;
  pid_t pid;

  g_assert_true (sw_socketpair (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
                                sw_framing_get_default (),
                                &parent_duplex, &child_duplex, &error));
  g_assert_no_error (error);
  sw_connection_set_inheritable (child_duplex, TRUE);
  pid = fork ();
  g_assert_cmpint (pid, !=, -1);
  if (pid == 0)
    {
      GBytes *message;
      gboolean ok;

      g_clear_object (&parent_duplex);
      message = sw_connection_receive_message (child_duplex, -1, NULL, NULL);
      ok = bytes_equal_str (message, "Hello child!");
      g_clear_pointer (&message, g_bytes_unref);
      ok = ok && send_str (child_duplex, "Hello parent!");
      g_object_unref (child_duplex);
      _exit (ok ? 0 : 1);
    }
  sw_connection_set_inheritable (child_duplex, FALSE);
  g_object_unref (child_duplex);

  g_assert_true (send_str (parent_duplex, "Hello child!"));
  assert_receive_str (parent_duplex, "Hello parent!");
  assert_receive_closed (parent_duplex);
  wait_child_exit (pid, 0);
}

/* A big message both ways between processes (the README's 1 MiB custom
 * framing example, without the progress printing). */
static void
test_fork_big (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwConnection) parent_duplex = NULL;
  g_autoptr(GBytes) payload = sw_test_pattern_bytes (1024 * 1024, 400);
  g_autoptr(GBytes) reply = NULL;
  SwConnection *child_duplex = NULL;
  pid_t pid;

  g_assert_true (sw_socketpair (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
                                sw_framing_get_default (),
                                &parent_duplex, &child_duplex, &error));
  g_assert_no_error (error);
  pid = fork ();
  g_assert_cmpint (pid, !=, -1);
  if (pid == 0)
    {
      GBytes *message;
      gboolean ok;

      /* The parent's copies: _exit() runs no cleanup. */
      g_clear_object (&parent_duplex);
      g_clear_pointer (&payload, g_bytes_unref);
      message = sw_connection_receive_message (child_duplex, -1, NULL, NULL);
      ok = message != NULL && g_bytes_get_size (message) == 1024 * 1024 &&
           sw_test_pattern_check (message, 400);
      /* Echo it back. */
      ok = ok && sw_connection_send_message (child_duplex, message, -1, NULL, NULL);
      g_clear_pointer (&message, g_bytes_unref);
      g_object_unref (child_duplex);
      _exit (ok ? 0 : 1);
    }
  g_object_unref (child_duplex);

  g_assert_true (sw_connection_send_message (parent_duplex, payload, -1, NULL, &error));
  g_assert_no_error (error);
  reply = sw_connection_receive_message (parent_duplex, -1, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (reply, payload));
  wait_child_exit (pid, 0);
}

/* Child mode --child-no-sigpipe: a fresh process (nothing of GLib's
 * socket code has run, so GSocket's class init has not ignored SIGPIPE)
 * writes to a pipe whose reader is gone. It must get BROKEN_PIPE and exit
 * normally, which only the library's own SIGPIPE handling can ensure. */
static int
child_no_sigpipe (void)
{
  SwConnection *reader = NULL, *writer = NULL;
  GBytes *message = g_bytes_new_static ("x", 1);
  GError *error = NULL;
  gboolean ok;

  /* An ignored signal stays ignored across exec: start from the default. */
  signal (SIGPIPE, SIG_DFL);
  ok = sw_pipe (NULL, &reader, &writer, NULL);
  if (ok)
    {
      g_clear_object (&reader);
      ok = sw_connection_send_bytes (writer, message, -1, NULL, &error) == -1 &&
           g_error_matches (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE);
    }
  /* Proof that GSocket did not do the ignoring. */
  ok = ok && g_type_class_peek (G_TYPE_SOCKET) == NULL;
  g_clear_error (&error);
  g_clear_object (&writer);
  g_bytes_unref (message);
  return ok ? 0 : 1;
}

static void
test_exec_no_sigpipe (void)
{
  pid_t pid = fork ();

  g_assert_cmpint (pid, !=, -1);
  if (pid == 0)
    {
      execl (self_exe, self_exe, "--child-no-sigpipe", (char *) NULL);
      _exit (127);
    }
  wait_child_exit (pid, 0);
}

/* fd inheritance across exec: the writer end reaches the exec'ed child
 * only when inheritable. */
static pid_t
spawn_child_writer (int fd)
{
  char arg[64];
  pid_t pid;

  g_snprintf (arg, sizeof arg, "--child-write-fd=%d", fd);
  pid = fork ();
  g_assert_cmpint (pid, !=, -1);
  if (pid == 0)
    {
      execl (self_exe, self_exe, arg, (char *) NULL);
      _exit (127);
    }
  return pid;
}

static void
test_exec_inheritable (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwConnection) reader = NULL;
  SwConnection *writer = NULL;
  pid_t pid;

  g_assert_true (sw_pipe (sw_framing_get_default (), &reader, &writer, &error));
  g_assert_no_error (error);
  sw_connection_set_inheritable (writer, TRUE);
  pid = spawn_child_writer (sw_connection_get_fd (writer));
  sw_connection_set_inheritable (writer, FALSE);
  g_object_unref (writer);

  assert_receive_str (reader, "Hello world!");
  assert_receive_closed (reader);
  wait_child_exit (pid, 0);
}

static void
test_exec_not_inheritable (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwConnection) reader = NULL;
  SwConnection *writer = NULL;
  pid_t pid;

  g_assert_true (sw_pipe (sw_framing_get_default (), &reader, &writer, &error));
  g_assert_no_error (error);
  g_assert_false (sw_connection_get_inheritable (writer));
  pid = spawn_child_writer (sw_connection_get_fd (writer));
  g_object_unref (writer);

  /* The child never had the fd: EOF, and it says so in its status. */
  assert_receive_closed (reader);
  wait_child_exit (pid, 3);
}

/* Child mode for the exec tests: fd N must be open; send on it. */
static int
child_write_fd (int fd)
{
  g_autoptr(SwConnection) writer = NULL;

  if (fd < 0 || fcntl (fd, F_GETFD) == -1)
    return 3;
  writer = sw_connection_new_for_fd (fd, sw_framing_get_default (), NULL);
  if (writer == NULL)
    return 4;
  return send_str (writer, "Hello world!") ? 0 : 1;
}

/* Child mode for the GSubprocess test: a VarInt echo peer on fd N that
 * replies with each message reversed until EOF. */
static int
child_echo_fd (int fd)
{
  g_autoptr(SwConnection) duplex = sw_connection_new_for_fd (fd, sw_framing_get_default (), NULL);

  if (duplex == NULL)
    return 4;
  for (;;)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) message = sw_connection_receive_message (duplex, -1, NULL, &error);
      g_autoptr(GBytes) reply = NULL;
      const guint8 *data;
      guint8 *reversed;
      gsize size;

      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED))
        return 0;
      if (message == NULL)
        return 5;
      data = g_bytes_get_data (message, &size);
      reversed = g_malloc (size ? size : 1);
      for (gsize i = 0; i < size; i++)
        reversed[i] = data[size - 1 - i];
      reply = g_bytes_new_take (reversed, size);
      if (!sw_connection_send_message (duplex, reply, -1, NULL, NULL))
        return 6;
    }
}

static const gsize echo_sizes[] = {
  0, 1, 240, 241, 2287, 2288, 67823, 67824, 1024 * 1024,
};

static GBytes *
reversed_bytes (GBytes *bytes)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (bytes, &size);
  guint8 *reversed = g_malloc (size ? size : 1);

  for (gsize i = 0; i < size; i++)
    reversed[i] = data[size - 1 - i];
  return g_bytes_new_take (reversed, size);
}

/* Exchange echo_sizes with an echo peer that was given fd 3. */
static void
exchange_with_echo_peer (const char * const *argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwConnection) parent = NULL;
  g_autoptr(SwConnection) child = NULL;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) process = NULL;
  int fd;

  g_assert_true (sw_socketpair (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
                                sw_framing_get_default (), &parent, &child, &error));
  g_assert_no_error (error);

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  fd = dup (sw_connection_get_fd (child));
  g_assert_cmpint (fd, >=, 0);
  g_subprocess_launcher_take_fd (launcher, fd, 3);
  process = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);
  g_clear_object (&launcher);  /* closes our copy of the passed fd */
  g_clear_object (&child);

  for (guint i = 0; i < G_N_ELEMENTS (echo_sizes); i++)
    {
      g_autoptr(GBytes) message = sw_test_pattern_bytes (echo_sizes[i], 500 + i);
      g_autoptr(GBytes) expected = reversed_bytes (message);
      g_autoptr(GBytes) reply = NULL;

      g_assert_true (sw_connection_send_message (parent, message, -1, NULL, &error));
      g_assert_no_error (error);
      reply = sw_connection_receive_message (parent, -1, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (g_bytes_get_size (reply), ==, echo_sizes[i]);
      g_assert_true (g_bytes_equal (reply, expected));
    }

  /* EOF ends the peer, which exits 0. */
  g_assert_true (sw_connection_close (parent, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_subprocess_wait_check (process, NULL, &error));
  g_assert_no_error (error);
}

static void
test_subprocess_python (void)
{
  const char *python = sw_test_get_python ();
  g_autofree char *script = NULL;

  if (python == NULL)
    {
      g_test_skip ("no python3 for the peer");
      return;
    }
  script = sw_test_get_script ("varint_peer.py");
  {
    const char * const argv[] = { python, script, "3", NULL };

    exchange_with_echo_peer (argv);
  }
}

static void
test_subprocess_self (void)
{
  const char * const argv[] = { self_exe, "--child-echo-fd=3", NULL };

  exchange_with_echo_peer (argv);
}

int
main (int   argc,
      char *argv[])
{
  /* Child modes come first: nothing of GTest runs in them. */
  if (argc == 2 && g_str_has_prefix (argv[1], "--child-write-fd="))
    return child_write_fd (atoi (argv[1] + strlen ("--child-write-fd=")));
  if (argc == 2 && strcmp (argv[1], "--child-no-sigpipe") == 0)
    return child_no_sigpipe ();
  if (argc == 2 && g_str_has_prefix (argv[1], "--child-echo-fd="))
    return child_echo_fd (atoi (argv[1] + strlen ("--child-echo-fd=")));

  self_exe = g_canonicalize_filename (argv[0], NULL);
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/sw/process/fork/pipe", test_fork_pipe);
  g_test_add_func ("/sw/process/fork/socketpair", test_fork_socketpair);
  g_test_add_func ("/sw/process/fork/big", test_fork_big);
  g_test_add_func ("/sw/process/exec/no-sigpipe", test_exec_no_sigpipe);
  g_test_add_func ("/sw/process/exec/inheritable", test_exec_inheritable);
  g_test_add_func ("/sw/process/exec/not-inheritable", test_exec_not_inheritable);
  g_test_add_func ("/sw/process/spawn/python-varint", test_subprocess_python);
  g_test_add_func ("/sw/process/spawn/self", test_subprocess_self);

  {
    int ret = g_test_run ();

    g_free (self_exe);
    return ret;
  }
}
