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

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  if (sw_test_get_python () != NULL)
    add_matrix ();

  return g_test_run ();
}
