/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Threads and main contexts: a GTK-style application receives messages
 * asynchronously in its main context (where it may touch its widgets)
 * while a worker thread sends them with the blocking API.
 *
 *   $ sw-example-threads
 *   Received 'message 1' in the main thread
 *   Received 'message 2' in the main thread
 *   Received 'message 3' in the main thread
 *   The worker sent 3 messages
 */

#include <string.h>

#include <socketwrapper/socketwrapper.h>

#define N_MESSAGES 3

typedef struct
{
  GMainLoop *loop;
  guint      received;
  GError    *error;
} App;

/* The worker: plain blocking calls, with a timeout. A GTK application
 * would do its slow work here and send the results. */
static gpointer
worker_thread (gpointer data)
{
  SwConnection *connection = data;
  GError *error = NULL;

  for (guint i = 1; i <= N_MESSAGES; i++)
    {
      g_autofree char *text = g_strdup_printf ("message %u", i);
      g_autoptr(GBytes) message = g_bytes_new (text, strlen (text));

      if (!sw_connection_send_message (connection, message,
                                       5 * G_USEC_PER_SEC, NULL, &error))
        break;
    }
  return error;
}

static void receive_next (SwConnection *connection,
                          App          *app);

/* Runs in the main context, the thread-default context of the thread that
 * called receive_message_async(): here, the main thread. */
static void
on_message (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  SwConnection *connection = SW_CONNECTION (source);
  App *app = user_data;
  g_autoptr(GBytes) message = NULL;

  message = sw_connection_receive_message_finish (connection, result, &app->error);
  if (message == NULL)
    {
      g_main_loop_quit (app->loop);
      return;
    }

  g_print ("Received '%.*s' in the %s thread\n",
           (int) g_bytes_get_size (message),
           (const char *) g_bytes_get_data (message, NULL),
           g_main_context_is_owner (g_main_context_default ()) ? "main" : "wrong");

  if (++app->received == N_MESSAGES)
    g_main_loop_quit (app->loop);
  else
    receive_next (connection, app);
}

static void
receive_next (SwConnection *connection,
              App          *app)
{
  /* Never blocks the main loop: the callback comes when a whole message
   * is there. */
  sw_connection_receive_message_async (connection, G_PRIORITY_DEFAULT, NULL,
                                       on_message, app);
}

int
main (void)
{
  g_autoptr(SwConnection) app_end = NULL;
  g_autoptr(SwConnection) worker_end = NULL;
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(GError) error = NULL;
  App app = { loop, 0, NULL };
  GThread *worker;
  GError *worker_error;

  if (!sw_socketpair (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
                      sw_framing_get_default (), &app_end, &worker_end,
                      &error))
    {
      g_printerr ("sw_socketpair: %s\n", error->message);
      return 1;
    }

  receive_next (app_end, &app);
  worker = g_thread_new ("worker", worker_thread, worker_end);
  g_main_loop_run (loop);   /* gtk_main () or g_application_run () */

  worker_error = g_thread_join (worker);
  if (worker_error != NULL || app.error != NULL)
    {
      g_printerr ("%s\n", (worker_error ? worker_error : app.error)->message);
      g_clear_error (&worker_error);
      g_clear_error (&app.error);
      return 1;
    }
  g_print ("The worker sent %u messages\n", N_MESSAGES);
  return 0;
}
