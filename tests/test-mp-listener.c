/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* SwMultiprocessingListener and sw_multiprocessing_connect against
 * /usr/bin/python3's multiprocessing.connection Client and Listener
 * (tests/mp_listener_peer.py), over UNIX paths, abstract names and TCP,
 * with and without an authkey, and against each other. */
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>

#include "sw-test-util.h"

#define KEY "socketwrapper"
#define OTHER_KEY "not-the-key"
#define PEER_OK 0
#define PEER_AUTH_FAILED 3

typedef enum { FAMILY_UNIX, FAMILY_ABSTRACT, FAMILY_TCP4, FAMILY_TCP6 } Family;
typedef enum { KEY_NONE, KEY_RIGHT, KEY_WRONG } KeyCase;

static const char *family_names[] = { "unix", "abstract", "tcp4", "tcp6" };
static const char *key_names[] = { "no-key", "key", "wrong-key" };

typedef struct
{
  gboolean ours_listens;
  Family   family;
  KeyCase  key;
} Case;

/* ---- values: what mp_listener_peer.py sends and expects ------------------- */

static GVariant *
peer_sent_value (void)
{
  static const guint8 bytes[] = "\0\xffpickle";
  GVariant *data = g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, bytes,
                                              sizeof bytes - 1, 1);

  return g_variant_ref_sink (g_variant_new_parsed (
    "{'str': <'h\u00e9llo'>, 'list': <[<int64 1>, <'two'>, <[<3.5>, <@mv nothing>]>]>,"
    " 'int': <int64 -7>, 'big': <int64 1099511627776>, 'bytes': <%@ay>,"
    " 'none': <@mv nothing>, 'true': <true>}", data));
}

static GVariant *
peer_expected_value (void)
{
  return g_variant_ref_sink (g_variant_new_parsed (
    "{'answer': <int64 42>, 'items': <[<'a'>, <[byte 0x62]>, <@mv nothing>,"
    " <{'k': <int64 -1>}>]>, 'text': <'ok'>}"));
}

static void
assert_variant_equal (GVariant *value,
                      GVariant *expected)
{
  g_autofree char *got = g_variant_print (value, TRUE);
  g_autofree char *want = g_variant_print (expected, TRUE);

  g_assert_cmpstr (got, ==, want);
}

static void
assert_receives (SwConnection *connection,
                 GVariant     *expected)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) value = sw_connection_receive_value (connection, -1, NULL, &error);

  g_assert_no_error (error);
  assert_variant_equal (value, expected);
}

/* A value sent on @from arrives whole on @to. */
static void
assert_value_travels (SwConnection *from,
                      SwConnection *to)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) value = g_variant_ref_sink (g_variant_new_parsed (
    "{'n': <[<int64 1>, <'x'>, <@mv nothing>]>}"));

  g_assert_true (sw_connection_send_value (from, value, -1, NULL, &error));
  g_assert_no_error (error);
  assert_receives (to, value);
}

/* The peer's side of mp_listener_peer.py's exchange; then closes. */
static void
exchange_with_peer (SwConnection *connection)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) sent = peer_sent_value ();
  g_autoptr(GVariant) expected = peer_expected_value ();

  assert_receives (connection, sent);
  g_assert_true (sw_connection_send_value (connection, expected, -1, NULL, &error));
  g_assert_no_error (error);
  assert_receives (connection, expected);
  g_assert_true (sw_connection_close (connection, NULL, &error));
  g_assert_no_error (error);
}

/* ---- addresses ------------------------------------------------------------------ */

static GBytes *
key_bytes (const char *key)
{
  return key != NULL ? g_bytes_new_static (key, strlen (key)) : NULL;
}

static gboolean
ipv6_loopback_works (void)
{
  g_autoptr(GSocket) socket = g_socket_new (G_SOCKET_FAMILY_IPV6, G_SOCKET_TYPE_STREAM,
                                            G_SOCKET_PROTOCOL_DEFAULT, NULL);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV6);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, 0);

  return socket != NULL && g_socket_bind (socket, address, TRUE, NULL);
}

/* A fresh address of @family: port 0 for TCP, a path in @dir for UNIX. */
static GSocketAddress *
new_address (Family      family,
             const char *dir)
{
  static guint counter;
  g_autofree char *name = NULL;
  g_autoptr(GInetAddress) loopback = NULL;

  switch (family)
    {
    case FAMILY_UNIX:
      name = g_build_filename (dir, "socket", NULL);
      return g_unix_socket_address_new (name);
    case FAMILY_ABSTRACT:
      name = g_strdup_printf ("sw-test-%d-%u", (int) getpid (), counter++);
      return g_unix_socket_address_new_with_type (name, -1, G_UNIX_SOCKET_ADDRESS_ABSTRACT);
    case FAMILY_TCP4:
    case FAMILY_TCP6:
      loopback = g_inet_address_new_loopback (family == FAMILY_TCP4 ? G_SOCKET_FAMILY_IPV4
                                                                   : G_SOCKET_FAMILY_IPV6);
      return g_inet_socket_address_new (loopback, 0);
    default:
      g_assert_not_reached ();
    }
}

/* @address in mp_listener_peer.py's spelling. */
static char *
peer_address (GSocketAddress *address)
{
  if (G_IS_UNIX_SOCKET_ADDRESS (address))
    {
      GUnixSocketAddress *unix_address = G_UNIX_SOCKET_ADDRESS (address);
      gboolean path = g_unix_socket_address_get_address_type (unix_address)
                      == G_UNIX_SOCKET_ADDRESS_PATH;

      return g_strconcat (path ? "unix:" : "abstract:",
                          g_unix_socket_address_get_path (unix_address), NULL);
    }
  else
    {
      GInetSocketAddress *inet = G_INET_SOCKET_ADDRESS (address);
      GInetAddress *host = g_inet_socket_address_get_address (inet);
      g_autofree char *text = g_inet_address_to_string (host);

      return g_strdup_printf ("%s:%s:%u",
                              g_inet_address_get_family (host) == G_SOCKET_FAMILY_IPV6
                                ? "tcp6" : "tcp",
                              text, g_inet_socket_address_get_port (inet));
    }
}

/* ---- the Python peer ----------------------------------------------------------- */

static GSubprocess *
spawn_peer (const char         *role,
            const char         *address,
            const char         *key,
            GSubprocessFlags    flags)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *script = sw_test_get_script ("mp_listener_peer.py");
  GSubprocess *process;

  process = g_subprocess_new (flags, &error, sw_test_get_python (), script, role, address,
                              key != NULL ? key : "-", NULL);
  g_assert_no_error (error);
  return process;
}

static void
assert_peer_exits (GSubprocess *process,
                   int          status)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (g_subprocess_wait (process, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (process));
  g_assert_cmpint (g_subprocess_get_exit_status (process), ==, status);
}

/* Reads the listener peer's "ready PORT" line. */
static guint16
wait_peer_ready (GSubprocess *process)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDataInputStream) lines = NULL;
  g_autofree char *line = NULL;
  guint64 port = 0;

  lines = g_data_input_stream_new (g_subprocess_get_stdout_pipe (process));
  line = g_data_input_stream_read_line (lines, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (line);
  g_assert_true (g_str_has_prefix (line, "ready "));
  g_assert_true (g_ascii_string_to_unsigned (line + 6, 10, 0, G_MAXUINT16, &port, &error));
  g_assert_no_error (error);
  return (guint16) port;
}

static const char *
peer_key (KeyCase key)
{
  return key == KEY_NONE ? NULL : key == KEY_RIGHT ? KEY : OTHER_KEY;
}

/* ---- the interop matrix ------------------------------------------------------- */

/* Accepts a Python Client with the right key and exchanges values: after
 * a failed handshake the listener must still do this. */
static void
accept_python_client (SwMultiprocessingListener *listener,
                      const char                *key)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *address = peer_address (sw_multiprocessing_listener_get_address (listener));
  g_autoptr(GSubprocess) peer = spawn_peer ("client", address, key, G_SUBPROCESS_FLAGS_NONE);
  g_autoptr(SwConnection) connection = NULL;

  connection = sw_multiprocessing_listener_accept (listener, NULL, &error);
  g_assert_no_error (error);
  exchange_with_peer (connection);
  assert_peer_exits (peer, PEER_OK);
}

static void
test_our_listener (gconstpointer data)
{
  const Case *c = data;
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("sw-test-XXXXXX", NULL);
  g_autoptr(GSocketAddress) address = new_address (c->family, dir);
  g_autoptr(GBytes) key = key_bytes (c->key == KEY_NONE ? NULL : KEY);
  g_autoptr(SwMultiprocessingListener) listener = NULL;
  g_autofree char *text = NULL;
  g_autoptr(GSubprocess) peer = NULL;
  g_autoptr(SwConnection) connection = NULL;

  listener = sw_multiprocessing_listener_new (address, key, &error);
  g_assert_no_error (error);
  if (c->key != KEY_WRONG)
    accept_python_client (listener, peer_key (c->key));
  else
    {
      text = peer_address (sw_multiprocessing_listener_get_address (listener));
      peer = spawn_peer ("client", text, OTHER_KEY, G_SUBPROCESS_FLAGS_NONE);
      connection = sw_multiprocessing_listener_accept (listener, NULL, &error);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
      g_assert_null (connection);
      assert_peer_exits (peer, PEER_AUTH_FAILED);
      accept_python_client (listener, KEY);
    }
  sw_multiprocessing_listener_close (listener);
  g_assert_no_errno (g_rmdir (dir));
}

static void
test_our_client (gconstpointer data)
{
  const Case *c = data;
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("sw-test-XXXXXX", NULL);
  g_autoptr(GSocketAddress) address = new_address (c->family, dir);
  g_autofree char *text = peer_address (address);
  g_autoptr(GBytes) key = key_bytes (c->key == KEY_NONE ? NULL : KEY);
  g_autoptr(GSubprocess) peer = NULL;
  g_autoptr(SwConnection) connection = NULL;
  guint16 port;

  peer = spawn_peer ("listener", text, peer_key (c->key), G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  port = wait_peer_ready (peer);
  if (G_IS_INET_SOCKET_ADDRESS (address))
    {
      GInetAddress *host = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (address));
      GSocketAddress *bound = g_inet_socket_address_new (host, port);

      g_object_unref (address);
      address = bound;
    }
  connection = sw_multiprocessing_connect (address, key, NULL, &error);
  if (c->key == KEY_WRONG)
    {
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
      g_assert_null (connection);
      assert_peer_exits (peer, PEER_AUTH_FAILED);
    }
  else
    {
      g_assert_no_error (error);
      exchange_with_peer (connection);
      assert_peer_exits (peer, PEER_OK);
    }
  g_assert_no_errno (g_rmdir (dir));
}

static void
add_matrix (void)
{
  gboolean ipv6 = ipv6_loopback_works ();

  for (guint role = 0; role < 2; role++)
    for (Family family = FAMILY_UNIX; family <= FAMILY_TCP6; family++)
      for (KeyCase key = KEY_NONE; key <= KEY_WRONG; key++)
        {
          Case *c = g_new0 (Case, 1);
          g_autofree char *path = NULL;

          /* Python's Client() only connects to IPv4 (address_type()
           * makes every tuple AF_INET); its Listener takes family=. */
          if (family == FAMILY_TCP6 && (role == 0 || !ipv6))
            {
              g_free (c);
              continue;
            }
          c->ours_listens = role == 0;
          c->family = family;
          c->key = key;
          path = g_strdup_printf ("/sw/mp-listener/python/%s/%s/%s",
                                  c->ours_listens ? "our-listener" : "our-client",
                                  family_names[family], key_names[key]);
          g_test_add_data_func_full (path, c, c->ours_listens ? test_our_listener
                                                              : test_our_client, g_free);
        }
}

/* ---- lifecycle ------------------------------------------------------------------ */

static GSocketAddress *
path_address (const char *dir,
              char      **path)
{
  *path = g_build_filename (dir, "socket", NULL);
  return g_unix_socket_address_new (*path);
}

static SwMultiprocessingListener *
new_listener (GSocketAddress *address,
              const char     *key)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) authkey = key_bytes (key);
  SwMultiprocessingListener *listener = sw_multiprocessing_listener_new (address, authkey,
                                                                         &error);

  g_assert_no_error (error);
  return listener;
}

/* Connects to @listener without a key and accepts, in one thread: the
 * kernel completes the connect before accept is called. */
static void
assert_accepts_unauthenticated (SwMultiprocessingListener *listener)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwConnection) client = NULL;
  g_autoptr(SwConnection) server = NULL;

  client = sw_multiprocessing_connect (sw_multiprocessing_listener_get_address (listener),
                                       NULL, NULL, &error);
  g_assert_no_error (error);
  server = sw_multiprocessing_listener_accept (listener, NULL, &error);
  g_assert_no_error (error);
  assert_value_travels (client, server);
  assert_value_travels (server, client);
}

static void
test_close_unlinks (void)
{
  g_autofree char *dir = g_dir_make_tmp ("sw-test-XXXXXX", NULL);
  g_autofree char *path = NULL;
  g_autoptr(GSocketAddress) address = path_address (dir, &path);
  g_autoptr(SwMultiprocessingListener) listener = new_listener (address, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(SwConnection) connection = NULL;

  g_assert_true (g_file_test (path, G_FILE_TEST_EXISTS));
  g_assert_false (sw_multiprocessing_listener_get_closed (listener));
  sw_multiprocessing_listener_close (listener);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_assert_true (sw_multiprocessing_listener_get_closed (listener));
  sw_multiprocessing_listener_close (listener);
  connection = sw_multiprocessing_listener_accept (listener, NULL, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_assert_null (connection);
  /* The last reference closes too. */
  g_clear_object (&listener);
  listener = new_listener (address, NULL);
  g_assert_true (g_file_test (path, G_FILE_TEST_EXISTS));
  g_clear_object (&listener);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_assert_no_errno (g_rmdir (dir));
}

static void
test_arbitrary_address (void)
{
  g_autoptr(SwMultiprocessingListener) listener = new_listener (NULL, NULL);
  GSocketAddress *address = sw_multiprocessing_listener_get_address (listener);
  g_autofree char *path = NULL;
  g_autofree char *dir = NULL;
  GStatBuf info;

  g_assert_true (G_IS_UNIX_SOCKET_ADDRESS (address));
  g_assert_cmpint (g_unix_socket_address_get_address_type (G_UNIX_SOCKET_ADDRESS (address)),
                   ==, G_UNIX_SOCKET_ADDRESS_PATH);
  path = g_strdup (g_unix_socket_address_get_path (G_UNIX_SOCKET_ADDRESS (address)));
  dir = g_path_get_dirname (path);
  g_assert_no_errno (g_stat (dir, &info));
  g_assert_cmpint (info.st_mode & 0777, ==, 0700);
  g_assert_true (g_file_test (path, G_FILE_TEST_EXISTS));
  assert_accepts_unauthenticated (listener);
  sw_multiprocessing_listener_close (listener);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (dir, G_FILE_TEST_EXISTS));
}

/* A second listener on a path in use fails, and leaves the first's
 * socket file alone. */
static void
test_address_in_use (void)
{
  g_autofree char *dir = g_dir_make_tmp ("sw-test-XXXXXX", NULL);
  g_autofree char *path = NULL;
  g_autoptr(GSocketAddress) address = path_address (dir, &path);
  g_autoptr(SwMultiprocessingListener) listener = new_listener (address, NULL);
  g_autoptr(SwMultiprocessingListener) second = NULL;
  g_autoptr(GError) error = NULL;

  second = sw_multiprocessing_listener_new (address, NULL, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE);
  g_assert_null (second);
  g_assert_true (g_file_test (path, G_FILE_TEST_EXISTS));
  assert_accepts_unauthenticated (listener);
  sw_multiprocessing_listener_close (listener);
  g_assert_no_errno (g_rmdir (dir));
}

static void
test_tcp_port (void)
{
  g_autoptr(GSocketAddress) asked = new_address (FAMILY_TCP4, NULL);
  g_autoptr(SwMultiprocessingListener) listener = new_listener (asked, NULL);
  g_autoptr(GSocketAddress) property = NULL;
  GSocketAddress *bound = sw_multiprocessing_listener_get_address (listener);

  g_assert_true (G_IS_INET_SOCKET_ADDRESS (bound));
  g_assert_cmpuint (g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)), !=, 0);
  g_object_get (listener, "address", &property, NULL);
  g_assert_true (property == bound);
  assert_accepts_unauthenticated (listener);
}

/* A non-blocking connect to a UNIX listener whose queue is full fails
 * with EAGAIN; Linux queues backlog + 1 clients. */
static gboolean
try_connect (GSocketAddress *address)
{
  g_autoptr(GError) error = NULL;
  GSocket *socket = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
                                  G_SOCKET_PROTOCOL_DEFAULT, &error);
  gboolean connected;

  g_assert_no_error (error);
  g_socket_set_blocking (socket, FALSE);
  connected = g_socket_connect (socket, address, NULL, &error);
  if (!connected)
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  /* The queued client stays queued after its fd is gone. */
  g_object_unref (socket);
  return connected;
}

static void
test_backlog (void)
{
  g_autoptr(SwMultiprocessingListener) listener = new_listener (NULL, NULL);
  GSocketAddress *address = sw_multiprocessing_listener_get_address (listener);

  g_assert_cmpint (sw_multiprocessing_listener_get_backlog (listener), ==, 16);
  sw_multiprocessing_listener_set_backlog (listener, 0);
  g_assert_cmpint (sw_multiprocessing_listener_get_backlog (listener), ==, 0);
  g_assert_true (try_connect (address));
  g_assert_false (try_connect (address));
  sw_multiprocessing_listener_set_backlog (listener, 2);
  g_assert_true (try_connect (address));
  g_assert_true (try_connect (address));
  g_assert_false (try_connect (address));
}

static void
test_connect_errors (void)
{
  g_autofree char *dir = g_dir_make_tmp ("sw-test-XXXXXX", NULL);
  g_autofree char *path = NULL;
  g_autoptr(GSocketAddress) missing = path_address (dir, &path);
  g_autoptr(GSocketAddress) any = new_address (FAMILY_TCP4, NULL);
  g_autoptr(GSocket) bound = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                           G_SOCKET_PROTOCOL_DEFAULT, NULL);
  g_autoptr(GSocketAddress) not_listening = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(SwConnection) connection = NULL;

  connection = sw_multiprocessing_connect (missing, NULL, NULL, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_null (connection);
  g_clear_error (&error);
  /* A port that is bound but not listening refuses. */
  g_assert_true (g_socket_bind (bound, any, FALSE, NULL));
  not_listening = g_socket_get_local_address (bound, NULL);
  connection = sw_multiprocessing_connect (not_listening, NULL, NULL, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
  g_assert_null (connection);
  g_assert_no_errno (g_rmdir (dir));
}

/* ---- async ------------------------------------------------------------------------ */

static SwConnection *
finish_accept (SwMultiprocessingListener  *listener,
               GAsyncResult              **result,
               GError                    **error)
{
  SwConnection *connection;

  sw_test_iterate_until (result);
  connection = sw_multiprocessing_listener_accept_finish (listener, *result, error);
  g_clear_object (result);
  return connection;
}

static SwConnection *
finish_connect (GAsyncResult  **result,
                GError        **error)
{
  SwConnection *connection;

  sw_test_iterate_until (result);
  connection = sw_multiprocessing_connect_finish (*result, error);
  g_clear_object (result);
  return connection;
}

/* Our client with @client_key and an accept_async, both in this thread's
 * loop; checks both sides' errors, or a value from client to server. */
static void
async_pair (SwMultiprocessingListener *listener,
            const char                *client_key,
            int                        expected)
{
  g_autoptr(GBytes) key = key_bytes (client_key);
  g_autoptr(GAsyncResult) accepted = NULL;
  g_autoptr(GAsyncResult) connected = NULL;
  g_autoptr(GError) server_error = NULL;
  g_autoptr(GError) client_error = NULL;
  g_autoptr(SwConnection) server = NULL;
  g_autoptr(SwConnection) client = NULL;

  sw_multiprocessing_listener_accept_async (listener, NULL, sw_test_store_result, &accepted);
  sw_multiprocessing_connect_async (sw_multiprocessing_listener_get_address (listener), key,
                                    NULL, sw_test_store_result, &connected);
  server = finish_accept (listener, &accepted, &server_error);
  client = finish_connect (&connected, &client_error);
  if (expected != -1)
    {
      g_assert_error (server_error, G_IO_ERROR, expected);
      g_assert_error (client_error, G_IO_ERROR, expected);
      return;
    }
  g_assert_no_error (server_error);
  g_assert_no_error (client_error);
  assert_value_travels (client, server);
  assert_value_travels (server, client);
}

static void
test_async_ours (gconstpointer data)
{
  Family family = GPOINTER_TO_INT (data);
  g_autofree char *dir = g_dir_make_tmp ("sw-test-XXXXXX", NULL);
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(SwMultiprocessingListener) listener = NULL;

  if (family == FAMILY_TCP6 && !ipv6_loopback_works ())
    {
      g_test_skip ("no IPv6 loopback");
      g_assert_no_errno (g_rmdir (dir));
      return;
    }
  address = new_address (family, dir);
  listener = new_listener (address, KEY);
  async_pair (listener, KEY, -1);
  async_pair (listener, OTHER_KEY, G_IO_ERROR_PERMISSION_DENIED);
  async_pair (listener, KEY, -1);
  sw_multiprocessing_listener_close (listener);
  g_assert_no_errno (g_rmdir (dir));
}

typedef struct
{
  SwMultiprocessingListener *listener;
  GAsyncResult             **accepted;
  GSubprocess               *peer;
} SpawnLater;

/* An idle source that runs while the accept_async is pending, as any
 * other source of an application's loop would. */
static gboolean
spawn_client_later (gpointer user_data)
{
  SpawnLater *later = user_data;
  g_autofree char *address = peer_address (sw_multiprocessing_listener_get_address (later->listener));

  g_assert_null (*later->accepted);
  later->peer = spawn_peer ("client", address, KEY, G_SUBPROCESS_FLAGS_NONE);
  return G_SOURCE_REMOVE;
}

static void
test_async_main_loop (void)
{
  g_autoptr(SwMultiprocessingListener) listener = new_listener (NULL, KEY);
  g_autoptr(GAsyncResult) accepted = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(SwConnection) connection = NULL;
  SpawnLater later = { listener, &accepted, NULL };

  sw_multiprocessing_listener_accept_async (listener, NULL, sw_test_store_result, &accepted);
  g_idle_add (spawn_client_later, &later);
  connection = finish_accept (listener, &accepted, &error);
  g_assert_no_error (error);
  g_assert_nonnull (later.peer);
  exchange_with_peer (connection);
  assert_peer_exits (later.peer, PEER_OK);
  g_object_unref (later.peer);
}

static void
test_async_closed (void)
{
  g_autoptr(SwMultiprocessingListener) listener = new_listener (NULL, NULL);
  g_autoptr(GAsyncResult) accepted = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(SwConnection) connection = NULL;
  int fds[2];

  /* Closed while waiting for a client. */
  sw_multiprocessing_listener_accept_async (listener, NULL, sw_test_store_result, &accepted);
  g_main_context_iteration (NULL, FALSE);
  g_assert_null (accepted);
  sw_multiprocessing_listener_close (listener);
  /* The lowest free numbers: the closed socket's among them, so a wait
   * still polling that number would watch a pipe that never gets data. */
  g_assert_no_errno (pipe (fds));
  connection = finish_accept (listener, &accepted, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_assert_null (connection);
  g_clear_error (&error);
  close (fds[0]);
  close (fds[1]);
  /* Started on a closed listener. */
  sw_multiprocessing_listener_accept_async (listener, NULL, sw_test_store_result, &accepted);
  connection = finish_accept (listener, &accepted, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_assert_null (connection);
}

/* ---- a client that stalls in the middle of the handshake ------------------------ */

/* A raw client that connects and never answers. */
static GSocket *
connect_stalling (SwMultiprocessingListener *listener)
{
  g_autoptr(GError) error = NULL;
  GSocket *socket = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
                                  G_SOCKET_PROTOCOL_DEFAULT, &error);

  g_assert_no_error (error);
  g_assert_true (g_socket_connect (socket, sw_multiprocessing_listener_get_address (listener),
                                   NULL, &error));
  g_assert_no_error (error);
  return socket;
}

/* The stalled client got the challenge, then end of stream: the
 * listener closed the half-authenticated connection. */
static void
assert_challenged_then_closed (GSocket *socket)
{
  g_autoptr(GError) error = NULL;
  char buffer[256];
  gssize n;
  gsize total = 0;

  while ((n = g_socket_receive (socket, buffer, sizeof buffer, NULL, &error)) > 0)
    total += n;
  g_assert_no_error (error);
  g_assert_cmpint (n, ==, 0);
  /* 4-byte header, "#CHALLENGE#{sha256}" and 40 random bytes. */
  g_assert_cmpuint (total, ==, 4 + 19 + 40);
}

static void
test_stalled_async (void)
{
  g_autoptr(SwMultiprocessingListener) listener = new_listener (NULL, KEY);
  g_autoptr(GSocket) stalled = connect_stalling (listener);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GAsyncResult) accepted = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(SwConnection) connection = NULL;

  sw_multiprocessing_listener_accept_async (listener, cancellable, sw_test_store_result, &accepted);
  /* Until the challenge was sent: the accept now waits for the answer. */
  while (!(g_socket_condition_check (stalled, G_IO_IN) & G_IO_IN))
    g_main_context_iteration (NULL, TRUE);
  g_assert_null (accepted);
  g_cancellable_cancel (cancellable);
  connection = finish_accept (listener, &accepted, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (connection);
  assert_challenged_then_closed (stalled);
  async_pair (listener, KEY, -1);
}

typedef struct
{
  GSocket      *stalled;
  GCancellable *cancellable;
  pid_t         accepter;
} Canceller;

static gpointer
cancel_when_blocked (gpointer data)
{
  Canceller *canceller = data;

  /* The challenge was sent, so the accepter's next wait is for the
   * answer; cancel once it sleeps in it. */
  g_assert_true (g_socket_condition_wait (canceller->stalled, G_IO_IN, NULL, NULL));
  sw_test_wait_thread_polling (canceller->accepter);
  g_cancellable_cancel (canceller->cancellable);
  return NULL;
}

static void
test_stalled_sync (void)
{
  g_autoptr(SwMultiprocessingListener) listener = new_listener (NULL, KEY);
  g_autoptr(GSocket) stalled = connect_stalling (listener);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(SwConnection) connection = NULL;
  Canceller canceller = { stalled, cancellable, sw_test_thread_id () };
  GThread *thread;

  if (!sw_test_can_observe_threads ())
    return;
  thread = g_thread_new ("canceller", cancel_when_blocked, &canceller);
  connection = sw_multiprocessing_listener_accept (listener, cancellable, &error);
  g_thread_join (thread);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (connection);
  assert_challenged_then_closed (stalled);
  async_pair (listener, KEY, -1);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/sw/mp-listener/close-unlinks", test_close_unlinks);
  g_test_add_func ("/sw/mp-listener/arbitrary-address", test_arbitrary_address);
  g_test_add_func ("/sw/mp-listener/address-in-use", test_address_in_use);
  g_test_add_func ("/sw/mp-listener/tcp-port", test_tcp_port);
  g_test_add_func ("/sw/mp-listener/backlog", test_backlog);
  g_test_add_func ("/sw/mp-listener/connect-errors", test_connect_errors);
  for (Family family = FAMILY_UNIX; family <= FAMILY_TCP6; family++)
    {
      g_autofree char *path = g_strdup_printf ("/sw/mp-listener/async/ours/%s",
                                               family_names[family]);

      g_test_add_data_func (path, GINT_TO_POINTER (family), test_async_ours);
    }
  g_test_add_func ("/sw/mp-listener/async/closed", test_async_closed);
  g_test_add_func ("/sw/mp-listener/stalled/async", test_stalled_async);
  g_test_add_func ("/sw/mp-listener/stalled/sync", test_stalled_sync);
  if (sw_test_get_python () != NULL)
    {
      g_test_add_func ("/sw/mp-listener/async/main-loop", test_async_main_loop);
      add_matrix ();
    }

  return g_test_run ();
}
