/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Peer credentials: SO_PEERCRED on UNIX sockets (pairs, a child that
 * connects, a child handed a pair end), NOT_SUPPORTED on every other
 * transport, CLOSED once closed. */
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gio/gunixsocketaddress.h>

#include "sw-test-util.h"

static char *self_exe;

/* ---- the children ------------------------------------------------------- */

/* Sends "pid uid gid" of its peer as one message, then waits for EOF. */
static int
child_report_peer (SwConnection *connection)
{
  g_autoptr(GCredentials) credentials = sw_connection_get_peer_credentials (connection, NULL);
  g_autofree char *text = NULL;
  g_autoptr(GBytes) message = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) end = NULL;

  if (credentials == NULL)
    return 10;
  text = g_strdup_printf ("%d %d %d", (int) g_credentials_get_unix_pid (credentials, NULL),
                          (int) g_credentials_get_unix_user (credentials, NULL),
                          (int) ((const struct ucred *) g_credentials_get_native (credentials, G_CREDENTIALS_TYPE_LINUX_UCRED))->gid);
  message = g_bytes_new (text, strlen (text));
  if (!sw_connection_send_message (connection, message, -1, NULL, NULL))
    return 11;
  end = sw_connection_receive_message (connection, -1, NULL, &error);
  return g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED) ? 0 : 12;
}

/* --child-spawned: its end of the pair from the environment. */
static int
child_spawned (void)
{
  g_autoptr(SwConnection) connection = sw_connection_new_from_environment (sw_framing_get_default (), NULL);

  return connection != NULL ? child_report_peer (connection) : 13;
}

/* --child-connect PATH: connects to a listener on UNIX socket PATH. */
static int
child_connect (const char *path)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new (path);
  g_autoptr(GSocketConnection) stream = NULL;
  g_autoptr(SwConnection) connection = NULL;

  g_socket_client_set_enable_proxy (client, FALSE);
  stream = g_socket_client_connect (client, G_SOCKET_CONNECTABLE (address), NULL, NULL);
  if (stream == NULL)
    return 14;
  connection = sw_connection_new (g_socket_connection_get_socket (stream), sw_framing_get_default ());
  return child_report_peer (connection);
}

/* ---- the parent --------------------------------------------------------- */

static void
assert_credentials (SwConnection *connection,
                    pid_t         pid)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GCredentials) credentials = sw_connection_get_peer_credentials (connection, &error);
  g_autoptr(GCredentials) mine = g_credentials_new ();
  const struct ucred *native;

  g_assert_no_error (error);
  g_assert_nonnull (credentials);
  g_assert_cmpint (g_credentials_get_unix_pid (credentials, &error), ==, pid);
  g_assert_no_error (error);
  g_assert_cmpuint (g_credentials_get_unix_user (credentials, &error), ==, getuid ());
  g_assert_no_error (error);
  native = g_credentials_get_native (credentials, G_CREDENTIALS_TYPE_LINUX_UCRED);
  g_assert_nonnull (native);
  g_assert_cmpuint (native->gid, ==, getgid ());
  /* The same-user check docs/overview.md shows a listener. */
  g_assert_true (g_credentials_is_same_user (credentials, mine, &error));
  g_assert_no_error (error);
}

static void
assert_not_supported (SwConnection *connection)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GCredentials) credentials = sw_connection_get_peer_credentials (connection, &error);

  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  g_assert_null (credentials);
}

static void
test_socketpair (void)
{
  const GSocketType types[] = { G_SOCKET_TYPE_STREAM, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_TYPE_SEQPACKET };

  for (guint i = 0; i < G_N_ELEMENTS (types); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(SwConnection) a = NULL;
      g_autoptr(SwConnection) b = NULL;

      g_assert_true (sw_socketpair (G_SOCKET_FAMILY_UNIX, types[i], NULL, &a, &b, &error));
      g_assert_no_error (error);
      /* A pair's credentials name the process that made it. */
      assert_credentials (a, getpid ());
      assert_credentials (b, getpid ());
    }
}

/* A socket given as an fd, and one borrowed: wrapped without the GSocket
 * the caller made. */
static void
test_socket_fd (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwConnection) owned = NULL;
  g_autoptr(SwConnection) borrowed = NULL;
  int fds[2];

  sw_test_raw_socketpair (SOCK_STREAM, fds);
  owned = sw_connection_new_for_fd (fds[0], NULL, &error);
  g_assert_no_error (error);
  borrowed = sw_connection_new_for_borrowed_fd (fds[1], NULL, &error);
  g_assert_no_error (error);
  assert_credentials (owned, getpid ());
  assert_credentials (borrowed, getpid ());
  g_clear_object (&borrowed);
  close (fds[1]);
}

static void
test_pipe (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwConnection) reader = NULL;
  g_autoptr(SwConnection) writer = NULL;

  g_assert_true (sw_pipe (NULL, &reader, &writer, &error));
  g_assert_no_error (error);
  assert_not_supported (reader);
  assert_not_supported (writer);
}

static void
test_streams (void)
{
  g_autoptr(GInputStream) input = g_memory_input_stream_new ();
  g_autoptr(GOutputStream) output = g_memory_output_stream_new_resizable ();
  g_autoptr(SwConnection) connection = sw_connection_new_for_streams (input, output, NULL);

  assert_not_supported (connection);
}

/* Linux answers SO_PEERCRED on TCP too, naming no process: refused. */
static void
test_tcp (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketListener) listener = g_socket_listener_new ();
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketConnection) outgoing = NULL;
  g_autoptr(GSocketConnection) incoming = NULL;
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;

  /* No proxy lookup: a loopback test must not depend on the machine's
   * network settings (libproxy leaks a thread's exception globals). */
  g_socket_client_set_enable_proxy (client, FALSE);
  g_assert_true (g_socket_listener_add_address (listener, address, G_SOCKET_TYPE_STREAM,
                                                G_SOCKET_PROTOCOL_TCP, NULL, &bound, &error));
  g_assert_no_error (error);
  /* The kernel completes the connection in the backlog: no thread. */
  outgoing = g_socket_client_connect (client, G_SOCKET_CONNECTABLE (bound), NULL, &error);
  g_assert_no_error (error);
  incoming = g_socket_listener_accept (listener, NULL, NULL, &error);
  g_assert_no_error (error);
  a = sw_connection_new_for_stream (G_IO_STREAM (outgoing), NULL);
  b = sw_connection_new (g_socket_connection_get_socket (incoming), NULL);
  assert_not_supported (a);
  assert_not_supported (b);
}

static void
assert_child_report (SwConnection *connection,
                     pid_t         peer_pid)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) report = sw_connection_receive_message (connection, -1, NULL, &error);
  g_autofree char *expected = g_strdup_printf ("%d %d %d", (int) peer_pid, (int) getuid (), (int) getgid ());
  g_autofree char *text = NULL;
  gsize size;
  const char *data;

  g_assert_no_error (error);
  data = g_bytes_get_data (report, &size);
  text = g_strndup (data, size);
  g_assert_cmpstr (text, ==, expected);
}

static void
close_and_wait (SwConnection *connection,
                GSubprocess  *process)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (sw_connection_close (connection, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_subprocess_wait_check (process, NULL, &error));
  g_assert_no_error (error);
}

/* A spawned child sees this process, which made the pair; this process
 * sees itself too: SO_PEERCRED names the pair's maker, not the child. */
static void
test_spawn (void)
{
  const char * const argv[] = { self_exe, "--child-spawned", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(SwConnection) parent = sw_spawn (argv, sw_framing_get_default (),
                                             G_SUBPROCESS_FLAGS_NONE, &process, &error);

  g_assert_no_error (error);
  assert_credentials (parent, getpid ());
  assert_child_report (parent, getpid ());
  close_and_wait (parent, process);
}

/* A child that connects to a listening UNIX socket: each side sees the
 * other's pid. */
static void
test_connecting_child (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("sw-credentials-XXXXXX", &error);
  g_autofree char *path = g_build_filename (dir, "socket", NULL);
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new (path);
  g_autoptr(GSocketListener) listener = g_socket_listener_new ();
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GSocketConnection) stream = NULL;
  g_autoptr(SwConnection) connection = NULL;
  const char *identifier;

  g_assert_no_error (error);
  g_assert_true (g_socket_listener_add_address (listener, address, G_SOCKET_TYPE_STREAM,
                                                G_SOCKET_PROTOCOL_DEFAULT, NULL, NULL, &error));
  g_assert_no_error (error);
  process = g_subprocess_new (G_SUBPROCESS_FLAGS_NONE, &error, self_exe, "--child-connect", path, NULL);
  g_assert_no_error (error);
  identifier = g_subprocess_get_identifier (process);
  stream = g_socket_listener_accept (listener, NULL, NULL, &error);
  g_assert_no_error (error);
  connection = sw_connection_new (g_socket_connection_get_socket (stream), sw_framing_get_default ());
  assert_credentials (connection, (pid_t) g_ascii_strtoll (identifier, NULL, 10));
  assert_child_report (connection, getpid ());
  close_and_wait (connection, process);
  g_assert_no_errno (unlink (path));
  g_assert_no_errno (rmdir (dir));
}

static void
test_closed (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GCredentials) credentials = NULL;

  g_assert_true (sw_socketpair (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, NULL, &a, &b, &error));
  g_assert_no_error (error);
  g_assert_true (sw_connection_close (a, NULL, &error));
  g_assert_no_error (error);
  credentials = sw_connection_get_peer_credentials (a, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_assert_null (credentials);
  /* The other end still has its socket: its peer made the pair. */
  assert_credentials (b, getpid ());
}

int
main (int   argc,
      char *argv[])
{
  /* The child modes come first: nothing of GTest runs in them. */
  if (argc == 2 && strcmp (argv[1], "--child-spawned") == 0)
    return child_spawned ();
  if (argc == 3 && strcmp (argv[1], "--child-connect") == 0)
    return child_connect (argv[2]);

  self_exe = g_canonicalize_filename (argv[0], NULL);
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/sw/credentials/socketpair", test_socketpair);
  g_test_add_func ("/sw/credentials/socket-fd", test_socket_fd);
  g_test_add_func ("/sw/credentials/pipe", test_pipe);
  g_test_add_func ("/sw/credentials/streams", test_streams);
  g_test_add_func ("/sw/credentials/tcp", test_tcp);
  g_test_add_func ("/sw/credentials/spawn", test_spawn);
  g_test_add_func ("/sw/credentials/connecting-child", test_connecting_child);
  g_test_add_func ("/sw/credentials/closed", test_closed);

  {
    int ret = g_test_run ();

    g_free (self_exe);
    return ret;
  }
}
