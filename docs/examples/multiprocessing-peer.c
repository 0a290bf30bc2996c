/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* A Python multiprocessing peer: the child is /usr/bin/python3 with a
 * plain multiprocessing.connection.Connection, nothing but the standard
 * library. sw_spawn() hands it its end of a socket pair as fd 3 (named by
 * SOCKETWRAPPER_FD); SwMultiprocessingFraming speaks the wire format of
 * Connection.send_bytes() and recv_bytes(). The parent greets the child,
 * the child answers.
 *
 *   $ sw-example-multiprocessing-peer
 *   Message 'Hello child!' received in child
 *   Message 'Hello parent!' received in parent
 */

#include <socketwrapper/socketwrapper.h>

/* The whole child. It flushes its line before answering, so the two
 * processes' lines come out in the order the messages travel. */
static const char CHILD_SCRIPT[] =
  "import multiprocessing.connection, os\n"
  "conn = multiprocessing.connection.Connection(int(os.environ['SOCKETWRAPPER_FD']))\n"
  "print(f'Message {conn.recv_bytes().decode()!r} received in child', flush=True)\n"
  "conn.send_bytes(b'Hello parent!')\n";

int
main (void)
{
  const char * const argv[] = { "/usr/bin/python3", "-c", CHILD_SCRIPT, NULL };
  g_autoptr(SwMultiprocessingFraming) framing = sw_multiprocessing_framing_new ();
  g_autoptr(GBytes) greeting = g_bytes_new_static ("Hello child!", 12);
  g_autoptr(GSubprocess) child_process = NULL;
  g_autoptr(SwConnection) parent_conn = NULL;
  g_autoptr(GBytes) message = NULL;
  g_autoptr(GError) error = NULL;

  parent_conn = sw_spawn (argv, SW_FRAMING (framing), G_SUBPROCESS_FLAGS_NONE,
                          &child_process, &error);
  if (parent_conn == NULL)
    {
      g_printerr ("Cannot start the child: %s\n", error->message);
      return 1;
    }

  if (sw_connection_send_message (parent_conn, greeting, -1, NULL, &error))
    message = sw_connection_receive_message (parent_conn, -1, NULL, &error);
  if (message == NULL)
    {
      g_printerr ("parent: %s\n", error->message);
      g_subprocess_force_exit (child_process);
      return 1;
    }
  g_print ("Message '%.*s' received in parent\n",
           (int) g_bytes_get_size (message), (const char *) g_bytes_get_data (message, NULL));

  /* Closing our end ends the child's connection; it has exited by now. */
  if (!sw_connection_close (parent_conn, NULL, &error) ||
      !g_subprocess_wait_check (child_process, NULL, &error))
    {
      g_printerr ("child: %s\n", error->message);
      return 1;
    }
  return 0;
}
