/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Handing a connection's file descriptor to other code: a thread gets only
 * the number, as a plugin, another language runtime or an embedded
 * interpreter would, and wraps it itself. sw_connection_new_for_borrowed_fd()
 * wraps a duplicate, so the thread's connection never closes the caller's
 * descriptor, nor writes into whatever file reuses the number later.
 *
 *   $ sw-example-fd-thread
 *   Message 'Hello World' received
 */

#include <socketwrapper/socketwrapper.h>

/* Returns NULL, or the GError that stopped it. */
static gpointer
child (gpointer data)
{
  int child_fileno = GPOINTER_TO_INT (data);
  g_autoptr(GBytes) message = g_bytes_new_static ("Hello World", 11);
  g_autoptr(SwConnection) child_writer = NULL;
  GError *error = NULL;

  child_writer = sw_connection_new_for_borrowed_fd (child_fileno, sw_framing_get_default (),
                                                    &error);
  if (child_writer != NULL)
    sw_connection_send_message (child_writer, message, -1, NULL, &error);
  return error;
}

int
main (void)
{
  g_autoptr(SwConnection) parent_reader = NULL;
  g_autoptr(SwConnection) child_writer = NULL;
  g_autoptr(GBytes) message = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) child_error = NULL;
  GThread *thread;

  if (!sw_pipe (sw_framing_get_default (), &parent_reader, &child_writer, &error))
    {
      g_printerr ("sw_pipe: %s\n", error->message);
      return 1;
    }

  /* The thread gets a number, not the connection. A small message fits in
   * the pipe, so the thread is done without waiting for a reader: join it
   * first, and a thread that failed never leaves the receive below waiting. */
  thread = g_thread_new ("child", child, GINT_TO_POINTER (sw_connection_get_fd (child_writer)));
  child_error = g_thread_join (thread);
  if (child_error != NULL)
    {
      g_printerr ("child: %s\n", child_error->message);
      return 1;
    }

  message = sw_connection_receive_message (parent_reader, -1, NULL, &error);
  if (message == NULL)
    {
      g_printerr ("parent: %s\n", error->message);
      return 1;
    }
  g_print ("Message '%.*s' received\n",
           (int) g_bytes_get_size (message), (const char *) g_bytes_get_data (message, NULL));
  return 0;
}
