/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Python peers for the framing interop tests (msgpack, JSON Lines). */

#include <unistd.h>

#include "sw-test-peer.h"
#include "sw-test-util.h"

gboolean
sw_test_peer_start (SwTestPeer *peer,
                    const char *script,
                    const char *mode,
                    SwFraming  *framing)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwConnection) child = NULL;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autofree char *path = sw_test_get_script (script);
  const char *python = sw_test_get_python ();
  int fd;

  if (python == NULL)
    {
      g_test_skip ("no python3 for the peer");
      return FALSE;
    }
  g_assert_true (sw_socketpair (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, framing,
                                &peer->connection, &child, &error));
  g_assert_no_error (error);
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  fd = dup (sw_connection_get_fd (child));
  g_assert_cmpint (fd, >=, 0);
  g_subprocess_launcher_take_fd (launcher, fd, 3);
  peer->process = g_subprocess_launcher_spawn (launcher, &error, python, path, "3",
                                               mode, NULL);
  g_assert_no_error (error);
  return TRUE;
}

void
sw_test_peer_finish (SwTestPeer *peer)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (sw_connection_close (peer->connection, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_subprocess_wait_check (peer->process, NULL, &error));
  g_assert_no_error (error);
  g_clear_object (&peer->connection);
  g_clear_object (&peer->process);
}
