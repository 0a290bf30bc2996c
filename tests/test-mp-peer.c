/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* SwMultiprocessingFraming against a real Python multiprocessing.connection
 * peer (tests/mp_peer.py) at the other end of a socketpair: byte for byte
 * wire compatibility both ways (DESIGN §5, §7). */
#include <string.h>
#include <unistd.h>

#include "sw-test-util.h"

typedef struct
{
  SwConnection *connection;
  GSubprocess *process;
} Peer;

static gboolean
peer_start (Peer               *peer,
            const char * const *args)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwFraming) framing = SW_FRAMING (sw_multiprocessing_framing_new ());
  g_autoptr(SwConnection) child = NULL;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  const char *python = sw_test_get_python ();
  int fd;

  if (python == NULL)
    {
      g_test_skip ("no python3 for the multiprocessing peer");
      return FALSE;
    }
  g_ptr_array_add (argv, g_strdup (python));
  g_ptr_array_add (argv, sw_test_get_script ("mp_peer.py"));
  g_ptr_array_add (argv, g_strdup ("3"));
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, g_strdup (args[i]));
  g_ptr_array_add (argv, NULL);

  g_assert_true (sw_socketpair (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, framing,
                                &peer->connection, &child, &error));
  g_assert_no_error (error);
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  fd = dup (sw_connection_get_fd (child));
  g_assert_cmpint (fd, >=, 0);
  g_subprocess_launcher_take_fd (launcher, fd, 3);
  peer->process = g_subprocess_launcher_spawnv (launcher,
                                                (const char * const *) argv->pdata,
                                                &error);
  g_assert_no_error (error);
  return TRUE;
}

/* Close our end: the peer sees EOF and must exit 0. */
static void
peer_finish (Peer *peer)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (sw_connection_close (peer->connection, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_subprocess_wait_check (peer->process, NULL, &error));
  g_assert_no_error (error);
  g_clear_object (&peer->connection);
  g_clear_object (&peer->process);
}

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

static void
assert_reply (SwConnection *connection,
              GBytes       *sent)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) expected = reversed_bytes (sent);
  g_autoptr(GBytes) reply = sw_connection_receive_message (connection, -1, NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (reply);
  g_assert_cmpuint (g_bytes_get_size (reply), ==, g_bytes_get_size (sent));
  g_assert_true (g_bytes_equal (reply, expected));
}

/* Python's send_bytes writes header and payload in one buffer up to 16384
 * bytes and in two writes above; sizes around that and well beyond. */
static void
test_echo (void)
{
  static const gsize sizes[] = { 0, 1, 16384, 16385, 1024 * 1024 };
  const char * const args[] = { "echo", NULL };
  Peer peer = { 0 };

  if (!peer_start (&peer, args))
    return;
  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) message = sw_test_pattern_bytes (sizes[i], 600 + i);

      g_assert_true (sw_connection_send_message (peer.connection, message, -1, NULL, &error));
      g_assert_no_error (error);
      assert_reply (peer.connection, message);
    }
  peer_finish (&peer);
}

/* Many frames sent before any reply is read. */
static void
test_pipelined (void)
{
  const char * const args[] = { "echo", NULL };
  GBytes *messages[20];
  Peer peer = { 0 };

  if (!peer_start (&peer, args))
    return;
  for (guint i = 0; i < G_N_ELEMENTS (messages); i++)
    {
      g_autoptr(GError) error = NULL;

      messages[i] = sw_test_pattern_bytes (i * 97, 700 + i);
      g_assert_true (sw_connection_send_message (peer.connection, messages[i], -1, NULL, &error));
      g_assert_no_error (error);
    }
  for (guint i = 0; i < G_N_ELEMENTS (messages); i++)
    {
      assert_reply (peer.connection, messages[i]);
      g_bytes_unref (messages[i]);
    }
  peer_finish (&peer);
}

/* Python writes the -1 long-header form (what it uses above 0x7fffffff);
 * we accept it for any length. */
static void
test_long_header (void)
{
  static const gsize sizes[] = { 0, 5, 100000 };
  const char * const args[] = { "long", "0", "5", "100000", NULL };
  Peer peer = { 0 };

  if (!peer_start (&peer, args))
    return;
  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) message = sw_connection_receive_message (peer.connection, -1,
                                                                 NULL, &error);

      g_assert_no_error (error);
      g_assert_cmpuint (g_bytes_get_size (message), ==, sizes[i]);
      g_assert_true (sw_test_pattern_check (message, (guint32) sizes[i]));
    }
  peer_finish (&peer);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/sw/mp-peer/echo", test_echo);
  g_test_add_func ("/sw/mp-peer/pipelined", test_pipelined);
  g_test_add_func ("/sw/mp-peer/long-header", test_long_header);

  return g_test_run ();
}
