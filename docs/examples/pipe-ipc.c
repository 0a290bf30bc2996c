/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Simple IPC with a pipe: a forked child sends one message through the
 * write end, the parent receives it whole from the read end.
 *
 *   $ sw-example-pipe-ipc
 *   Message 'Hello world!' received
 */

#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <socketwrapper/socketwrapper.h>

static int
run_child (SwConnection *writer)
{
  g_autoptr(GBytes) message = g_bytes_new_static ("Hello world!", 12);
  g_autoptr(GError) error = NULL;

  /* -1: no timeout. The sync API needs no helper thread, so it is safe
   * in a forked child. */
  if (!sw_connection_send_message (writer, message, -1, NULL, &error) ||
      !sw_connection_close (writer, NULL, &error))
    {
      g_printerr ("child: %s\n", error->message);
      return 1;
    }
  return 0;
}

static int
run_parent (SwConnection *reader,
            pid_t         child_pid)
{
  g_autoptr(GBytes) message = NULL;
  g_autoptr(GError) error = NULL;
  const char *data;
  gsize size;
  int status;

  message = sw_connection_receive_message (reader, -1, NULL, &error);
  if (message == NULL)
    {
      g_printerr ("parent: %s\n", error->message);
      return 1;
    }

  data = g_bytes_get_data (message, &size);
  g_print ("Message '%.*s' received\n", (int) size, data);

  if (waitpid (child_pid, &status, 0) < 0 ||
      !WIFEXITED (status) || WEXITSTATUS (status) != 0)
    return 1;
  return 0;
}

int
main (void)
{
  g_autoptr(SwConnection) parent_reader = NULL;
  g_autoptr(SwConnection) child_writer = NULL;
  g_autoptr(GError) error = NULL;
  pid_t child_pid;

  /* The default framing is SwVarIntFraming, the wire format of Python
   * socketwrapper's pipe(framing=True). */
  if (!sw_pipe (sw_framing_get_default (), &parent_reader, &child_writer,
                &error))
    {
      g_printerr ("sw_pipe: %s\n", error->message);
      return 1;
    }

  /* Fds the library creates are close-on-exec. A child that exec()s a new
   * program needs the write end inheritable across the spawn; make it so
   * only around the spawn, so no later child inherits it by accident.
   * (A bare fork() copies every fd anyway; replace it with your own
   * fork/spawn logic.) */
  sw_connection_set_inheritable (child_writer, TRUE);
  child_pid = fork ();
  sw_connection_set_inheritable (child_writer, FALSE);

  if (child_pid < 0)
    {
      g_printerr ("fork failed\n");
      return 1;
    }

  if (child_pid == 0)
    {
      /* Each process keeps only the end it uses. */
      g_clear_object (&parent_reader);
      return run_child (child_writer);
    }

  g_clear_object (&child_writer);
  return run_parent (parent_reader, child_pid);
}
