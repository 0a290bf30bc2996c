/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Simple asynchronous IPC with a pipe: each process runs a GMainLoop, as
 * a GTK application would. The forked child sends with
 * sw_connection_send_message_async(); the parent lets the connection
 * receive by itself (sw_connection_start_receiving()) and handles the
 * ::message signal. Neither ever blocks its main loop.
 *
 *   $ sw-example-async-pipe
 *   Message 'Hello world!' received
 */

#include <sys/wait.h>
#include <unistd.h>

#include <socketwrapper/socketwrapper.h>

typedef struct
{
  GMainLoop *loop;
  int        status;  /* the exit status: 1 until the message went through */
} App;

/* The parent's side: signal handlers, run in its main loop. */
static void
on_message (SwConnection *parent_reader,
            GBytes       *message,
            gpointer      user_data)
{
  App *app = user_data;

  g_print ("Message '%.*s' received\n",
           (int) g_bytes_get_size (message), (const char *) g_bytes_get_data (message, NULL));
  app->status = 0;
  /* One message is all we wait for. */
  sw_connection_stop_receiving (parent_reader);
  g_main_loop_quit (app->loop);
}

/* The child ended the pipe before sending a whole message. */
static void
on_closed (SwConnection *parent_reader,
           gboolean      remote,
           GError       *error,
           gpointer      user_data)
{
  App *app = user_data;

  g_printerr ("parent: %s\n", error != NULL ? error->message : "the child sent nothing");
  g_main_loop_quit (app->loop);
}

/* A malformed frame, for instance. */
static void
on_error (SwConnection *parent_reader,
          GError       *error,
          gpointer      user_data)
{
  App *app = user_data;

  g_printerr ("parent: %s\n", error->message);
  g_main_loop_quit (app->loop);
}

static void
parent (SwConnection *parent_reader,
        App          *app)
{
  g_signal_connect (parent_reader, "message", G_CALLBACK (on_message), app);
  g_signal_connect (parent_reader, "closed", G_CALLBACK (on_closed), app);
  g_signal_connect (parent_reader, "error", G_CALLBACK (on_error), app);
  sw_connection_start_receiving (parent_reader);
}

/* The child's side: an async call and its callback. */
static void
on_sent (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  App *app = user_data;
  g_autoptr(GError) error = NULL;

  if (sw_connection_send_message_finish (SW_CONNECTION (source), result, &error))
    app->status = 0;
  else
    g_printerr ("child: %s\n", error->message);
  g_main_loop_quit (app->loop);
}

static void
child (SwConnection *child_writer,
       App          *app)
{
  g_autoptr(GBytes) message = g_bytes_new_static ("Hello world!", 12);

  sw_connection_send_message_async (child_writer, message, G_PRIORITY_DEFAULT, NULL,
                                    on_sent, app);
}

int
main (void)
{
  g_autoptr(SwConnection) parent_reader = NULL;
  g_autoptr(SwConnection) child_writer = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autoptr(GError) error = NULL;
  App app = { NULL, 1 };
  pid_t child_pid;
  int status;

  if (!sw_pipe (sw_framing_get_default (), &parent_reader, &child_writer, &error))
    {
      g_printerr ("sw_pipe: %s\n", error->message);
      return 1;
    }

  /* Inheritable only around the spawn: see pipe-ipc.c. */
  sw_connection_set_inheritable (child_writer, TRUE);
  child_pid = fork ();  /* replace with your own process fork/spawn logic */
  sw_connection_set_inheritable (child_writer, FALSE);
  if (child_pid < 0)
    {
      g_printerr ("fork failed\n");
      return 1;
    }

  /* Each process makes its main loop after the fork: threads and main
   * loops do not survive fork(). */
  app.loop = loop = g_main_loop_new (NULL, FALSE);
  if (child_pid != 0)
    {
      g_clear_object (&child_writer);
      parent (parent_reader, &app);
    }
  else
    {
      g_clear_object (&parent_reader);
      child (child_writer, &app);
    }
  g_main_loop_run (loop);

  if (child_pid != 0 &&
      (waitpid (child_pid, &status, 0) < 0 || !WIFEXITED (status) || WEXITSTATUS (status) != 0))
    return 1;
  return app.status;
}
