/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Progress of a large message: the parent sends 1 MiB to a forked child,
 * and both print how far the message has come. No framing of its own:
 * set progress-threshold and connect the two signals.
 *
 *   $ sw-example-progress
 *   Sending 1048576 bytes!
 *   <  20.91%
 *   ...
 *   < 100.00%
 *   >  20.91%
 *   ...
 *   > 100.00%
 *   Received 1048576 bytes!
 *
 * How many lines come between depends on how the system splits the
 * transfer; the last of each side is always 100 %.
 */

#include <stdio.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <socketwrapper/socketwrapper.h>

#define SIZE (1024 * 1024)

/* Emitted in the thread making the blocking call; "<" sending, ">"
 * receiving. */
static void
on_progress (SwConnection *connection,
             guint64       done,
             guint64       total,
             gpointer      arrow)
{
  g_print ("%s %6.2f%%\n", (const char *) arrow, 100.0 * (double) done / (double) total);
}

static int
run_child (SwConnection *child_duplex)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) message = NULL;

  g_signal_connect (child_duplex, "receive-progress", G_CALLBACK (on_progress), ">");
  message = sw_connection_receive_message (child_duplex, -1, NULL, &error);
  if (message == NULL)
    {
      g_printerr ("child: %s\n", error->message);
      return 1;
    }
  g_print ("Received %zu bytes!\n", g_bytes_get_size (message));
  return 0;
}

static int
run_parent (SwConnection *parent_duplex,
            pid_t         child_pid)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) payload = g_bytes_new_take (g_malloc0 (SIZE), SIZE);
  int status;

  g_signal_connect (parent_duplex, "send-progress", G_CALLBACK (on_progress), "<");
  g_print ("Sending %zu bytes!\n", g_bytes_get_size (payload));
  if (!sw_connection_send_message (parent_duplex, payload, -1, NULL, &error))
    {
      g_printerr ("parent: %s\n", error->message);
      return 1;
    }
  if (waitpid (child_pid, &status, 0) < 0 || !WIFEXITED (status) || WEXITSTATUS (status) != 0)
    return 1;
  return 0;
}

int
main (void)
{
  g_autoptr(SwConnection) parent_duplex = NULL;
  g_autoptr(SwConnection) child_duplex = NULL;
  g_autoptr(GError) error = NULL;
  pid_t child_pid;

  if (!sw_socketpair (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, sw_framing_get_default (),
                      &parent_duplex, &child_duplex, &error))
    {
      g_printerr ("sw_socketpair: %s\n", error->message);
      return 1;
    }
  /* Messages of 1 MiB and more report their progress. */
  sw_connection_set_progress_threshold (parent_duplex, SIZE);
  sw_connection_set_progress_threshold (child_duplex, SIZE);

  /* Lines already printed must not be printed again by the child. */
  fflush (stdout);
  child_pid = fork ();
  if (child_pid < 0)
    {
      g_printerr ("fork failed\n");
      return 1;
    }
  if (child_pid == 0)
    {
      g_clear_object (&parent_duplex);
      return run_child (child_duplex);
    }
  g_clear_object (&child_duplex);
  return run_parent (parent_duplex, child_pid);
}
