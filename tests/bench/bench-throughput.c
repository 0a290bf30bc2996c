/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Messages per second over a Unix stream socketpair with the varint
 * framing: a sender thread and a receiving main thread, for a few message
 * sizes. Prints one line per size; asserts nothing about speed. */
#include <socketwrapper/socketwrapper.h>

typedef struct
{
  SwConnection *connection;
  GBytes       *message;
  guint         count;
} SenderData;

static gpointer
sender_thread (gpointer user_data)
{
  SenderData *data = user_data;
  GError *error = NULL;

  for (guint i = 0; i < data->count; i++)
    if (!sw_connection_send_message (data->connection, data->message, -1, NULL, &error))
      g_error ("send: %s", error->message);
  return NULL;
}

static void
bench_size (gsize size,
            guint count)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GError) error = NULL;
  SenderData data;
  GThread *thread;
  gint64 start, elapsed;
  double seconds;

  if (!sw_socketpair (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
                      sw_framing_get_default (), &a, &b, &error))
    g_error ("socketpair: %s", error->message);

  data.connection = a;
  data.message = g_bytes_new_take (g_malloc0 (size), size);
  data.count = count;

  start = g_get_monotonic_time ();
  thread = g_thread_new ("sender", sender_thread, &data);
  for (guint i = 0; i < count; i++)
    {
      GBytes *message = sw_connection_receive_message (b, -1, NULL, &error);

      if (message == NULL || g_bytes_get_size (message) != size)
        g_error ("receive: %s", error ? error->message : "wrong size");
      g_bytes_unref (message);
    }
  g_thread_join (thread);
  elapsed = g_get_monotonic_time () - start;
  seconds = elapsed / 1e6;

  g_print ("%8" G_GSIZE_FORMAT " B  %9u msgs  %10.0f msgs/s  %9.1f MiB/s\n",
           size, count, count / seconds, count * (double) size / seconds / (1024 * 1024));
  g_bytes_unref (data.message);
}

int
main (int   argc,
      char *argv[])
{
  double scale = argc > 1 ? g_ascii_strtod (argv[1], NULL) : 1.0;

  bench_size (64, (guint) (1000000 * scale));
  bench_size (4096, (guint) (300000 * scale));
  bench_size (1024 * 1024, (guint) (2000 * scale));
  return 0;
}
