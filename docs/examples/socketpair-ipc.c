/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Simple bidirectional IPC with a socketpair: both ends are duplex. The
 * parent greets the forked child, the child answers.
 *
 *   $ sw-example-socketpair-ipc
 *   Message 'Hello child!' received in child
 *   Message 'Hello parent!' received in parent
 */

#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <socketwrapper/socketwrapper.h>

static gboolean
send_text (SwConnection  *connection,
           const char    *text,
           GError       **error)
{
  g_autoptr(GBytes) message = g_bytes_new_static (text, strlen (text));

  return sw_connection_send_message (connection, message, -1, NULL, error);
}

static gboolean
receive_and_print (SwConnection  *connection,
                   const char    *where,
                   GError       **error)
{
  g_autoptr(GBytes) message = NULL;
  const char *data;
  gsize size;

  message = sw_connection_receive_message (connection, -1, NULL, error);
  if (message == NULL)
    return FALSE;

  data = g_bytes_get_data (message, &size);
  g_print ("Message '%.*s' received in %s\n", (int) size, data, where);
  /* Flush before answering, so the two processes' lines come out in the
   * order the messages travel even when stdout is a pipe. */
  fflush (stdout);
  return TRUE;
}

static int
run_child (SwConnection *child_duplex)
{
  g_autoptr(GError) error = NULL;

  if (!receive_and_print (child_duplex, "child", &error) ||
      !send_text (child_duplex, "Hello parent!", &error))
    {
      g_printerr ("child: %s\n", error->message);
      return 1;
    }
  return 0;
}

static int
run_parent (SwConnection *parent_duplex,
            pid_t         child_pid)
{
  g_autoptr(GError) error = NULL;
  int status;

  if (!send_text (parent_duplex, "Hello child!", &error) ||
      !receive_and_print (parent_duplex, "parent", &error))
    {
      g_printerr ("parent: %s\n", error->message);
      return 1;
    }

  if (waitpid (child_pid, &status, 0) < 0 ||
      !WIFEXITED (status) || WEXITSTATUS (status) != 0)
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

  if (!sw_socketpair (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
                      sw_framing_get_default (),
                      &parent_duplex, &child_duplex, &error))
    {
      g_printerr ("sw_socketpair: %s\n", error->message);
      return 1;
    }

  /* Inheritable only around the spawn: see pipe-ipc.c. */
  sw_connection_set_inheritable (child_duplex, TRUE);
  child_pid = fork ();
  sw_connection_set_inheritable (child_duplex, FALSE);

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
