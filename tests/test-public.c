/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The library as an application sees it: this program includes only the
 * public header and links only the shared library, whose private symbols
 * are hidden, so calling anything that is not public API fails to link.
 * Each test is a round trip through the public calls. */
#include <socketwrapper/socketwrapper.h>

static void
make_pair (SwFraming     *framing,
           SwConnection **a,
           SwConnection **b)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (sw_socketpair (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, framing,
                                a, b, &error));
  g_assert_no_error (error);
}

static void
test_public_messages (void)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) message = g_bytes_new_static ("hello", 5);
  g_autoptr(GBytes) received = NULL;
  g_autoptr(GBytes) nothing = NULL;

  make_pair (sw_framing_get_default (), &a, &b);
  g_assert_true (sw_connection_send_message (a, message, -1, NULL, &error));
  g_assert_no_error (error);
  received = sw_connection_receive_message (b, -1, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (received, message));

  /* Nothing more is there: timeout 0 answers TIMED_OUT at once. */
  nothing = sw_connection_receive_message (b, 0, NULL, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_null (nothing);

  g_assert_true (sw_connection_close (a, NULL, NULL));
  g_assert_true (sw_connection_get_closed (a));
}

static void
test_public_pipe (void)
{
  g_autoptr(SwFraming) framing = SW_FRAMING (sw_multiprocessing_framing_new ());
  g_autoptr(SwConnection) reader = NULL;
  g_autoptr(SwConnection) writer = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) message = g_bytes_new_static ("through a pipe", 14);
  g_autoptr(GBytes) received = NULL;

  g_assert_true (sw_pipe (framing, &reader, &writer, &error));
  g_assert_no_error (error);
  g_assert_true (sw_connection_send_message (writer, message, -1, NULL, &error));
  g_assert_no_error (error);
  received = sw_connection_receive_message (reader, -1, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (received, message));
}

static void
test_public_value (void)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(SwCodec) codec = SW_CODEC (sw_msgpack_codec_new ());
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) value = g_variant_ref_sink (g_variant_new_parsed (
      "{'name': <'sw'>, 'list': <[<1>, <'two'>]>}"));
  g_autoptr(GVariant) received = NULL;
  g_autoptr(GBytes) encoded = NULL;
  g_autoptr(GVariant) decoded = NULL;

  /* The codec alone, then through a connection. */
  encoded = sw_codec_encode (codec, value, &error);
  g_assert_no_error (error);
  decoded = sw_codec_decode (codec, encoded, &error);
  g_assert_no_error (error);

  make_pair (sw_framing_get_default (), &a, &b);
  sw_connection_set_codec (a, codec);
  sw_connection_set_codec (b, codec);
  g_assert_true (sw_connection_send_value (a, value, -1, NULL, &error));
  g_assert_no_error (error);
  received = sw_connection_receive_value (b, -1, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_variant_equal (received, decoded));
}

typedef struct
{
  GMainLoop *loop;
  GBytes    *received;
  gboolean   sent;
} AsyncData;

static void
on_received (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  AsyncData *data = user_data;
  g_autoptr(GError) error = NULL;

  data->received = sw_connection_receive_message_finish (SW_CONNECTION (object), result, &error);
  g_assert_no_error (error);
  if (data->sent)
    g_main_loop_quit (data->loop);
}

static void
on_sent (GObject      *object,
         GAsyncResult *result,
         gpointer      user_data)
{
  AsyncData *data = user_data;
  g_autoptr(GError) error = NULL;

  data->sent = sw_connection_send_message_finish (SW_CONNECTION (object), result, &error);
  g_assert_no_error (error);
  g_assert_true (data->sent);
  if (data->received != NULL)
    g_main_loop_quit (data->loop);
}

static void
test_public_async (void)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(GBytes) message = g_bytes_new_static ("asynchronously", 14);
  AsyncData data = { loop, NULL, FALSE };

  make_pair (sw_framing_get_default (), &a, &b);

  /* The receive is pending before anything is sent. */
  sw_connection_receive_message_async (b, G_PRIORITY_DEFAULT, NULL, on_received, &data);
  sw_connection_send_message_async (a, message, G_PRIORITY_DEFAULT, NULL, on_sent, &data);
  g_main_loop_run (loop);

  g_assert_nonnull (data.received);
  g_assert_true (g_bytes_equal (data.received, message));
  g_bytes_unref (data.received);
}

/* A receive with timeout 0 from another thread: it runs out of time
 * waiting for the lock. Returns its error. */
static gpointer
receive_at_once_thread (gpointer user_data)
{
  GError *error = NULL;
  GBytes *message = sw_connection_receive_message (user_data, 0, NULL, &error);

  g_assert_null (message);
  return error;
}

static void
on_receive_cancelled (GObject      *object,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) message = sw_connection_receive_message_finish (SW_CONNECTION (object),
                                                                    result, &error);

  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (message);
  *(gboolean *) user_data = TRUE;
}

/* Running out of time is one error with one message, whether the call
 * waited for the peer or for another call to finish. */
static void
test_public_timed_out (void)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) io_error = NULL;
  g_autoptr(GError) lock_error = NULL;
  g_autoptr(GBytes) nothing = NULL;
  gboolean done = FALSE;

  make_pair (sw_framing_get_default (), &a, &b);
  nothing = sw_connection_receive_message (b, 0, NULL, &io_error);
  g_assert_error (io_error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);

  /* The async receive holds the receive side while it waits for data. */
  sw_connection_receive_message_async (b, G_PRIORITY_DEFAULT, cancellable,
                                       on_receive_cancelled, &done);
  lock_error = g_thread_join (g_thread_new ("receive-at-once", receive_at_once_thread, b));
  g_assert_error (lock_error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_cmpstr (lock_error->message, ==, io_error->message);

  g_cancellable_cancel (cancellable);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/sw/public/messages", test_public_messages);
  g_test_add_func ("/sw/public/pipe", test_public_pipe);
  g_test_add_func ("/sw/public/value", test_public_value);
  g_test_add_func ("/sw/public/async", test_public_async);
  g_test_add_func ("/sw/public/timed-out", test_public_timed_out);

  return g_test_run ();
}
