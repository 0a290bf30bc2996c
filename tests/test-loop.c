/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The receive loop as GTK applications use it: ::message for every
 * message, in order, in the caller's context; back-pressure with
 * stop_receiving(); close from a handler; ::closed for the peer's end and
 * for a local close; ::value and ::error with a codec; turns with other
 * receivers. */

#include <string.h>
#include <sys/socket.h>

#include <socketwrapper/socketwrapper.h>

#include "sw-test-util.h"

typedef struct
{
  SwConnection *a;
  SwConnection *b;
  GPtrArray    *messages;       /* of GBytes */
  GPtrArray    *values;         /* of GVariant */
  GPtrArray    *errors;         /* of GError */
  guint         n_closed;
  gboolean      closed_remote;
  GError       *closed_error;
  GThread      *emitted_in;
  GMainContext *emitted_context;
  guint         stop_after;     /* stop_receiving() after this many; 0: never */
  gboolean      close_in_handler;
  GError       *handler_receive_error;
} Loop;

static void
on_message (SwConnection *connection,
            GBytes       *message,
            gpointer      user_data)
{
  Loop *l = user_data;

  l->emitted_in = g_thread_self ();
  l->emitted_context = g_main_context_get_thread_default ();
  g_ptr_array_add (l->messages, g_bytes_ref (message));
  if (l->messages->len == 1 && l->handler_receive_error == NULL)
    {
      g_autoptr(GBytes) inner = sw_connection_receive_message (connection, -1, NULL,
                                                               &l->handler_receive_error);

      g_assert_null (inner);
    }
  if (l->stop_after != 0 && l->messages->len == l->stop_after)
    {
      if (l->close_in_handler)
        g_assert_true (sw_connection_close (connection, NULL, NULL));
      else
        sw_connection_stop_receiving (connection);
    }
}

static void
on_value (SwConnection *connection,
          GVariant     *value,
          gpointer      user_data)
{
  g_ptr_array_add (((Loop *) user_data)->values, g_variant_ref (value));
}

static void
on_error (SwConnection *connection,
          GError       *error,
          gpointer      user_data)
{
  g_ptr_array_add (((Loop *) user_data)->errors, g_error_copy (error));
}

static void
on_closed (SwConnection *connection,
           gboolean      remote,
           GError       *error,
           gpointer      user_data)
{
  Loop *l = user_data;

  l->n_closed++;
  l->closed_remote = remote;
  l->closed_error = error ? g_error_copy (error) : NULL;
}

static void
loop_init (Loop      *l,
           SwFraming *framing)
{
  g_autoptr(GError) error = NULL;

  memset (l, 0, sizeof *l);
  g_assert_true (sw_socketpair (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, framing,
                                &l->a, &l->b, &error));
  g_assert_no_error (error);
  l->messages = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  l->values = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
  l->errors = g_ptr_array_new_with_free_func ((GDestroyNotify) g_error_free);
  g_signal_connect (l->b, "message", G_CALLBACK (on_message), l);
  g_signal_connect (l->b, "value", G_CALLBACK (on_value), l);
  g_signal_connect (l->b, "error", G_CALLBACK (on_error), l);
  g_signal_connect (l->b, "closed", G_CALLBACK (on_closed), l);
}

static void
loop_clear (Loop *l)
{
  g_signal_handlers_disconnect_by_data (l->b, l);
  g_clear_object (&l->a);
  g_clear_object (&l->b);
  g_ptr_array_unref (l->messages);
  g_ptr_array_unref (l->values);
  g_ptr_array_unref (l->errors);
  g_clear_error (&l->closed_error);
  g_clear_error (&l->handler_receive_error);
}

/* Messages "message first" .. "message first+n-1", in one batch: the
 * socket buffer holds far more batched bytes than separate small sends. */
static void
send_numbered (SwConnection *connection,
               guint         first,
               guint         n)
{
  g_autoptr(GPtrArray) messages = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_autoptr(GError) error = NULL;

  for (guint i = first; i < first + n; i++)
    {
      g_autofree char *text = g_strdup_printf ("message %u", i);

      g_ptr_array_add (messages, g_bytes_new (text, strlen (text)));
    }
  g_assert_true (sw_connection_send_messages (connection, (GBytes * const *) messages->pdata,
                                              messages->len, -1, NULL, &error));
  g_assert_no_error (error);
}

static guint
number_of (GBytes *message)
{
  g_autofree char *text = g_strndup (g_bytes_get_data (message, NULL), g_bytes_get_size (message));

  g_assert_true (g_str_has_prefix (text, "message "));
  return (guint) g_ascii_strtoull (text + 8, NULL, 10);
}

static void
iterate_until_stopped (SwConnection *connection,
                       GMainContext *context)
{
  while (sw_connection_get_receiving (connection))
    g_main_context_iteration (context, TRUE);
}

/* 300 messages, more than one turn's batch, all in order; stop_receiving()
 * from the handler leaves the rest for a plain receive. A blocking receive
 * from a handler gets PENDING. */
static void
test_loop_order_and_stop (void)
{
  g_autoptr(GBytes) next = NULL;
  g_autoptr(GError) error = NULL;
  Loop l;

  loop_init (&l, sw_framing_get_default ());
  send_numbered (l.a, 0, 305);
  l.stop_after = 300;
  sw_connection_start_receiving (l.b);
  g_assert_true (sw_connection_get_receiving (l.b));
  /* Signals come from the main loop, never from start_receiving(). */
  g_assert_cmpuint (l.messages->len, ==, 0);
  iterate_until_stopped (l.b, NULL);

  g_assert_cmpuint (l.messages->len, ==, 300);
  for (guint i = 0; i < l.messages->len; i++)
    g_assert_cmpuint (number_of (l.messages->pdata[i]), ==, i);
  g_assert_true (l.emitted_in == g_thread_self ());
  g_assert_error (l.handler_receive_error, G_IO_ERROR, G_IO_ERROR_PENDING);
  g_assert_cmpuint (l.n_closed, ==, 0);

  next = sw_connection_receive_message (l.b, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (number_of (next), ==, 300);
  loop_clear (&l);
}

/* The peer's end of the stream, at a boundary and inside a frame. */
static void
test_loop_remote_end (void)
{
  static const guint8 half[] = { 10, 'h', 'a', 'l', 'f' };
  Loop l;

  loop_init (&l, sw_framing_get_default ());
  send_numbered (l.a, 0, 3);
  g_clear_object (&l.a);
  sw_connection_start_receiving (l.b);
  iterate_until_stopped (l.b, NULL);
  g_assert_cmpuint (l.messages->len, ==, 3);
  g_assert_cmpuint (l.n_closed, ==, 1);
  g_assert_true (l.closed_remote);
  g_assert_no_error (l.closed_error);
  g_assert_false (sw_connection_get_closed (l.b));
  loop_clear (&l);

  loop_init (&l, sw_framing_get_default ());
  sw_test_write_all (sw_connection_get_fd (l.a), half, sizeof half);
  g_clear_object (&l.a);
  sw_connection_start_receiving (l.b);
  iterate_until_stopped (l.b, NULL);
  g_assert_cmpuint (l.messages->len, ==, 0);
  g_assert_cmpuint (l.n_closed, ==, 1);
  g_assert_true (l.closed_remote);
  g_assert_error (l.closed_error, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT);
  loop_clear (&l);
}

/* close() from a handler: no message after it, ::closed once, not remote;
 * close() from outside while the loop waits: the same. */
static void
test_loop_close (void)
{
  Loop l;

  loop_init (&l, sw_framing_get_default ());
  send_numbered (l.a, 0, 10);
  l.stop_after = 4;
  l.close_in_handler = TRUE;
  sw_connection_start_receiving (l.b);
  iterate_until_stopped (l.b, NULL);
  g_assert_cmpuint (l.messages->len, ==, 4);
  g_assert_cmpuint (l.n_closed, ==, 1);
  g_assert_false (l.closed_remote);
  g_assert_true (sw_connection_get_closed (l.b));
  loop_clear (&l);

  loop_init (&l, sw_framing_get_default ());
  sw_connection_start_receiving (l.b);
  /* Let the loop start and wait for data, then close under it. */
  g_main_context_iteration (NULL, FALSE);
  g_assert_true (sw_connection_close (l.b, NULL, NULL));
  iterate_until_stopped (l.b, NULL);
  g_assert_cmpuint (l.n_closed, ==, 1);
  g_assert_false (l.closed_remote);
  g_assert_false (sw_connection_get_receiving (l.b));
  loop_clear (&l);
}

typedef struct
{
  Loop         *loop;
  guint         n_expected;
  GMainContext *context;
} Worker;

static gpointer
receive_in_worker (gpointer data)
{
  Worker *w = data;

  w->context = g_main_context_new ();
  g_main_context_push_thread_default (w->context);
  sw_connection_start_receiving (w->loop->b);
  while (w->loop->messages->len < w->n_expected)
    g_main_context_iteration (w->context, TRUE);
  sw_connection_stop_receiving (w->loop->b);
  iterate_until_stopped (w->loop->b, w->context);
  g_main_context_pop_thread_default (w->context);
  return g_thread_self ();
}

/* Started in a worker with a pushed context, the loop emits there. */
static void
test_loop_worker_context (void)
{
  Loop l;
  Worker w = { &l, 20, NULL };
  GThread *thread;
  gpointer worker;

  loop_init (&l, sw_framing_get_default ());
  thread = g_thread_new ("receiver", receive_in_worker, &w);
  send_numbered (l.a, 0, 20);
  worker = g_thread_join (thread);
  g_assert_cmpuint (l.messages->len, ==, 20);
  g_assert_true (l.emitted_in == worker);
  g_assert_true (l.emitted_context == w.context);
  g_main_context_unref (w.context);
  loop_clear (&l);
}

typedef struct
{
  SwConnection *connection;
  guint         n;
  GArray       *numbers;
} SyncReceiver;

static gpointer
receive_sync (gpointer data)
{
  SyncReceiver *r = data;

  for (guint i = 0; i < r->n; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) message = sw_connection_receive_message (r->connection, -1, NULL, &error);
      guint number;

      g_assert_no_error (error);
      number = number_of (message);
      g_array_append_val (r->numbers, number);
    }
  return NULL;
}

/* A blocking receiver in another thread takes turns with the loop: every
 * message arrives exactly once, in order on each side. */
static void
test_loop_turns_with_sync_receiver (void)
{
  SyncReceiver r = { NULL, 50, g_array_new (FALSE, FALSE, sizeof (guint)) };
  g_autofree gboolean *seen = g_new0 (gboolean, 1000);
  GThread *thread;
  Loop l;

  loop_init (&l, sw_framing_get_default ());
  r.connection = l.b;
  send_numbered (l.a, 0, 1000);
  thread = g_thread_new ("sync-receiver", receive_sync, &r);
  l.stop_after = 950;
  sw_connection_start_receiving (l.b);
  iterate_until_stopped (l.b, NULL);
  g_thread_join (thread);

  g_assert_cmpuint (l.messages->len + r.numbers->len, ==, 1000);
  for (guint i = 0; i < l.messages->len; i++)
    {
      guint number = number_of (l.messages->pdata[i]);

      g_assert_false (seen[number]);
      seen[number] = TRUE;
      if (i > 0)
        g_assert_cmpuint (number, >, number_of (l.messages->pdata[i - 1]));
    }
  for (guint i = 0; i < r.numbers->len; i++)
    {
      guint number = g_array_index (r.numbers, guint, i);

      g_assert_false (seen[number]);
      seen[number] = TRUE;
      if (i > 0)
        g_assert_cmpuint (number, >, g_array_index (r.numbers, guint, i - 1));
    }
  g_array_unref (r.numbers);
  loop_clear (&l);
}

/* With a codec: ::value after each ::message; a message the codec cannot
 * decode and one over the size limit give ::error, and the loop goes on. */
static void
test_loop_values_and_errors (void)
{
  g_autoptr(SwCodec) codec = SW_CODEC (sw_json_codec_new ());
  g_autoptr(GBytes) good = g_bytes_new_static ("{\"n\": 1}", 8);
  g_autoptr(GBytes) bad = g_bytes_new_static ("{not json", 9);
  g_autoptr(GBytes) big = sw_test_pattern_bytes (4096, 1);
  g_autoptr(GBytes) last = g_bytes_new_static ("[2]", 3);
  GBytes *all[] = { good, bad, big, last };
  g_autoptr(GError) error = NULL;
  Loop l;

  loop_init (&l, sw_framing_get_default ());
  sw_connection_set_codec (l.b, codec);
  sw_connection_set_max_message_size (l.b, 1024);
  g_assert_true (sw_connection_send_messages (l.a, all, G_N_ELEMENTS (all), -1, NULL, &error));
  g_assert_no_error (error);
  l.stop_after = 3;
  l.handler_receive_error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED, "skip");
  sw_connection_start_receiving (l.b);
  iterate_until_stopped (l.b, NULL);

  g_assert_cmpuint (l.messages->len, ==, 3);
  g_assert_cmpuint (l.values->len, ==, 2);
  g_assert_cmpuint (l.errors->len, ==, 2);
  g_assert_error ((GError *) l.errors->pdata[0], G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_assert_error ((GError *) l.errors->pdata[1], G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
  g_assert_cmpstr (g_variant_get_type_string (l.values->pdata[1]), ==, "av");
  loop_clear (&l);
}

/* On a stream that cannot poll the loop does not start. */
static void
test_loop_needs_poll (void)
{
  g_autoptr(GInputStream) memory = g_memory_input_stream_new ();
  g_autoptr(GInputStream) buffered = g_buffered_input_stream_new (memory);
  g_autoptr(SwConnection) connection = sw_connection_new_for_streams (buffered, NULL,
                                                                      sw_framing_get_default ());
  Loop l = { 0 };

  l.errors = g_ptr_array_new_with_free_func ((GDestroyNotify) g_error_free);
  g_signal_connect (connection, "error", G_CALLBACK (on_error), &l);
  sw_connection_start_receiving (connection);
  g_assert_false (sw_connection_get_receiving (connection));
  g_assert_cmpuint (l.errors->len, ==, 1);
  g_assert_error ((GError *) l.errors->pdata[0], G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  g_ptr_array_unref (l.errors);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/sw/loop/order-and-stop", test_loop_order_and_stop);
  g_test_add_func ("/sw/loop/remote-end", test_loop_remote_end);
  g_test_add_func ("/sw/loop/close", test_loop_close);
  g_test_add_func ("/sw/loop/worker-context", test_loop_worker_context);
  g_test_add_func ("/sw/loop/turns-with-sync-receiver", test_loop_turns_with_sync_receiver);
  g_test_add_func ("/sw/loop/values-and-errors", test_loop_values_and_errors);
  g_test_add_func ("/sw/loop/needs-poll", test_loop_needs_poll);

  return g_test_run ();
}
