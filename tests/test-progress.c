/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* SwConnection::send-progress and ::receive-progress: reports of large
 * frames, where they are emitted, and what a handler may do. */

#include <string.h>
#include <sys/socket.h>

#include "sw-test-util.h"

#define BIG (8 * 1024 * 1024)

typedef struct
{
  guint64 done;
  guint64 total;
} Report;

/* Every report of one signal, and whether each was emitted where it
 * belongs: in @thread, with @context as the thread-default context. */
typedef struct
{
  GArray       *reports;
  GThread      *thread;
  GMainContext *context;
  gboolean      misplaced;
  gboolean      after_callback;  /* a report came after the call's callback */
  gboolean      finished;        /* the call's callback ran */
  gboolean      close_in_handler;
} Recorder;

static void
recorder_init (Recorder *recorder)
{
  memset (recorder, 0, sizeof *recorder);
  recorder->reports = g_array_new (FALSE, FALSE, sizeof (Report));
  recorder->thread = g_thread_self ();
}

static void
recorder_clear (Recorder *recorder)
{
  g_array_unref (recorder->reports);
}

static void
on_progress (SwConnection *connection,
             guint64       done,
             guint64       total,
             gpointer      user_data)
{
  Recorder *recorder = user_data;
  Report report = { done, total };

  g_array_append_val (recorder->reports, report);
  if (g_thread_self () != recorder->thread
      || g_main_context_get_thread_default () != recorder->context)
    recorder->misplaced = TRUE;
  if (recorder->finished)
    recorder->after_callback = TRUE;
  if (recorder->close_in_handler)
    g_assert_true (sw_connection_close (connection, NULL, NULL));
}

/* The reports of a frame of @total bytes whose framing knows its length:
 * increasing, every 1 % at most (a read or write may cover several
 * steps), ending exactly at 100 %. */
static void
assert_reports (Recorder *recorder,
                guint64   total)
{
  GArray *reports = recorder->reports;
  const Report *last;

  g_test_message ("%u reports", reports->len);
  g_assert_false (recorder->misplaced);
  g_assert_cmpuint (reports->len, >=, 2);
  g_assert_cmpuint (reports->len, <=, 101);
  for (guint i = 0; i < reports->len; i++)
    {
      const Report *report = &g_array_index (reports, Report, i);

      g_assert_cmpuint (report->total, ==, total);
      g_assert_cmpuint (report->done, <=, total);
      if (i > 0)
        g_assert_cmpuint (report->done, >, g_array_index (reports, Report, i - 1).done);
    }
  last = &g_array_index (reports, Report, reports->len - 1);
  g_assert_cmpuint (last->done, ==, total);
}

/* A blocking receive of 8 MiB reports its progress in its own thread; the
 * sending peer, with no threshold, reports nothing. */
static void
test_receive_sync (void)
{
  g_autoptr(SwConnection) receiver = NULL;
  g_autoptr(SwConnection) sender_end = NULL;
  g_autoptr(GBytes) message = sw_test_pattern_bytes (BIG, 7);
  g_autoptr(GBytes) received = NULL;
  GError *error = NULL;
  Recorder progress, sent, peer_sent;
  SwTestSender *sender;

  sw_test_socketpair (sw_framing_get_default (), &receiver, &sender_end);
  recorder_init (&progress);
  recorder_init (&sent);
  recorder_init (&peer_sent);
  sw_connection_set_progress_threshold (receiver, 1024 * 1024);
  g_assert_cmpuint (sw_connection_get_progress_threshold (receiver), ==, 1024 * 1024);
  g_signal_connect (receiver, "receive-progress", G_CALLBACK (on_progress), &progress);
  g_signal_connect (receiver, "send-progress", G_CALLBACK (on_progress), &sent);
  g_signal_connect (sender_end, "send-progress", G_CALLBACK (on_progress), &peer_sent);

  sender = sw_test_sender_new (sender_end, &message, 1);
  received = sw_connection_receive_message (receiver, -1, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (sw_test_sender_join (sender, &error));
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (received, message));

  assert_reports (&progress, BIG);
  g_assert_cmpuint (sent.reports->len, ==, 0);
  g_assert_cmpuint (peer_sent.reports->len, ==, 0);
  recorder_clear (&progress);
  recorder_clear (&sent);
  recorder_clear (&peer_sent);
}

/* A blocking send of 8 MiB, read by a peer thread, reports in the sending
 * thread. */
static void
test_send_sync (void)
{
  g_autoptr(SwConnection) sender = NULL;
  g_autoptr(SwConnection) receiver_end = NULL;
  g_autoptr(GBytes) message = sw_test_pattern_bytes (BIG, 8);
  g_autoptr(GBytes) received = NULL;
  GError *error = NULL;
  Recorder progress;
  SwTestReceiver *receiver;

  sw_test_socketpair (sw_framing_get_default (), &sender, &receiver_end);
  recorder_init (&progress);
  g_object_set (sender, "progress-threshold", (guint64) BIG, NULL);
  g_signal_connect (sender, "send-progress", G_CALLBACK (on_progress), &progress);

  receiver = sw_test_receiver_new (receiver_end, NULL);
  g_assert_true (sw_connection_send_message (sender, message, -1, NULL, &error));
  g_assert_no_error (error);
  received = sw_test_receiver_join (receiver, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (received, message));

  assert_reports (&progress, BIG);
  recorder_clear (&progress);
}

/* A message one byte below the threshold reports nothing, nor does any
 * message with the threshold 0; small messages with a small threshold
 * still report their 100 %. */
static void
test_below_threshold (void)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) message = sw_test_pattern_bytes (BIG, 9);
  g_autoptr(GBytes) small = g_bytes_new_static ("0123456789", 10);
  GError *error = NULL;
  Recorder sent, received;
  const guint64 thresholds[] = { BIG + 1, 0 };

  sw_test_socketpair (sw_framing_get_default (), &a, &b);
  recorder_init (&sent);
  recorder_init (&received);
  g_signal_connect (a, "send-progress", G_CALLBACK (on_progress), &sent);
  g_signal_connect (b, "receive-progress", G_CALLBACK (on_progress), &received);

  for (guint i = 0; i < G_N_ELEMENTS (thresholds); i++)
    {
      SwTestSender *sender;
      g_autoptr(GBytes) got = NULL;

      sw_connection_set_progress_threshold (a, thresholds[i]);
      sw_connection_set_progress_threshold (b, thresholds[i]);
      sender = sw_test_sender_new (a, &message, 1);
      got = sw_connection_receive_message (b, -1, NULL, &error);
      g_assert_no_error (error);
      g_assert_true (sw_test_sender_join (sender, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (g_bytes_get_size (got), ==, BIG);
    }
  g_assert_cmpuint (sent.reports->len, ==, 0);
  g_assert_cmpuint (received.reports->len, ==, 0);

  /* At the threshold exactly: one report each, at 100 %. */
  sw_connection_set_progress_threshold (a, 10);
  sw_connection_set_progress_threshold (b, 10);
  g_assert_true (sw_connection_send_message (a, small, -1, NULL, &error));
  g_assert_no_error (error);
  g_bytes_unref (sw_connection_receive_message (b, -1, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (sent.reports->len, ==, 1);
  g_assert_cmpuint (received.reports->len, ==, 1);
  g_assert_cmpuint (g_array_index (received.reports, Report, 0).done, ==, 10);
  g_assert_cmpuint (g_array_index (received.reports, Report, 0).total, ==, 10);
  recorder_clear (&sent);
  recorder_clear (&received);
}

typedef struct
{
  SwConnection *connection;
  Recorder      progress;
  GBytes       *received;
} AsyncReceive;

static void
on_received (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  AsyncReceive *receive = user_data;
  GError *error = NULL;

  receive->received = sw_connection_receive_message_finish (SW_CONNECTION (source),
                                                            result, &error);
  g_assert_no_error (error);
  receive->progress.finished = TRUE;
}

/* Runs an async receive in a worker thread that pushed its own context. */
static gpointer
async_receive_thread (gpointer data)
{
  AsyncReceive *receive = data;
  g_autoptr(GMainContext) context = g_main_context_new ();

  g_main_context_push_thread_default (context);
  receive->progress.thread = g_thread_self ();
  receive->progress.context = context;
  sw_connection_receive_message_async (receive->connection, G_PRIORITY_DEFAULT, NULL,
                                       on_received, receive);
  while (!receive->progress.finished)
    g_main_context_iteration (context, TRUE);
  g_main_context_pop_thread_default (context);
  return NULL;
}

/* An async receive reports in its caller's thread-default context, and
 * every report comes before its callback. */
static void
test_receive_async (void)
{
  g_autoptr(SwConnection) receiver = NULL;
  g_autoptr(SwConnection) sender_end = NULL;
  g_autoptr(GBytes) message = sw_test_pattern_bytes (BIG, 10);
  GError *error = NULL;
  AsyncReceive receive;
  SwTestSender *sender;
  GThread *thread;

  sw_test_socketpair (sw_framing_get_default (), &receiver, &sender_end);
  recorder_init (&receive.progress);
  receive.connection = receiver;
  receive.received = NULL;
  sw_connection_set_progress_threshold (receiver, BIG / 2);
  g_signal_connect (receiver, "receive-progress", G_CALLBACK (on_progress), &receive.progress);

  thread = g_thread_new ("receiver", async_receive_thread, &receive);
  sender = sw_test_sender_new (sender_end, &message, 1);
  g_thread_join (thread);
  g_assert_true (sw_test_sender_join (sender, &error));
  g_assert_no_error (error);

  g_assert_true (g_bytes_equal (receive.received, message));
  g_assert_false (receive.progress.after_callback);
  assert_reports (&receive.progress, BIG);
  g_bytes_unref (receive.received);
  recorder_clear (&receive.progress);
}

/* A stream that cannot poll runs async calls in a GTask worker: the
 * reports still come in the caller's context, before the callback. */
static void
test_receive_async_threaded (void)
{
  g_autoptr(GBytes) message = sw_test_pattern_bytes (BIG, 11);
  g_autoptr(GByteArray) frame = g_byte_array_new ();
  g_autoptr(GBytes) frame_bytes = NULL;
  g_autoptr(GInputStream) memory = NULL;
  g_autoptr(GInputStream) input = NULL;
  g_autoptr(SwConnection) receiver = NULL;
  g_autoptr(GMainContext) context = g_main_context_new ();
  guint8 header[9];
  AsyncReceive receive;

  g_byte_array_append (frame, header, (guint) sw_test_varint_encode (BIG, header));
  g_byte_array_append (frame, g_bytes_get_data (message, NULL), BIG);
  frame_bytes = g_byte_array_free_to_bytes (g_steal_pointer (&frame));
  memory = g_memory_input_stream_new_from_bytes (frame_bytes);
  input = G_INPUT_STREAM (g_buffered_input_stream_new (memory));
  g_assert_false (G_IS_POLLABLE_INPUT_STREAM (input)
                  && g_pollable_input_stream_can_poll (G_POLLABLE_INPUT_STREAM (input)));
  receiver = sw_connection_new_for_streams (input, NULL, sw_framing_get_default ());

  g_main_context_push_thread_default (context);
  recorder_init (&receive.progress);
  receive.progress.context = context;
  receive.connection = receiver;
  receive.received = NULL;
  sw_connection_set_progress_threshold (receiver, BIG);
  g_signal_connect (receiver, "receive-progress", G_CALLBACK (on_progress), &receive.progress);
  sw_connection_receive_message_async (receiver, G_PRIORITY_DEFAULT, NULL, on_received, &receive);
  while (!receive.progress.finished)
    g_main_context_iteration (context, TRUE);
  /* Nothing is left to dispatch after the callback. */
  while (g_main_context_iteration (context, FALSE))
    ;
  g_main_context_pop_thread_default (context);

  g_assert_true (g_bytes_equal (receive.received, message));
  g_assert_false (receive.progress.after_callback);
  assert_reports (&receive.progress, BIG);
  g_bytes_unref (receive.received);
  recorder_clear (&receive.progress);
}

/* Receives @message over a socketpair with @framing and a threshold of
 * @threshold, recording the reports. */
static void
receive_recorded (SwFraming *framing,
                  GBytes    *message,
                  guint64    threshold,
                  Recorder  *progress)
{
  g_autoptr(SwConnection) receiver = NULL;
  g_autoptr(SwConnection) sender_end = NULL;
  g_autoptr(GBytes) received = NULL;
  GError *error = NULL;
  SwTestSender *sender;

  sw_test_socketpair (framing, &receiver, &sender_end);
  recorder_init (progress);
  sw_connection_set_progress_threshold (receiver, threshold);
  g_signal_connect (receiver, "receive-progress", G_CALLBACK (on_progress), progress);
  sender = sw_test_sender_new (sender_end, &message, 1);
  received = sw_connection_receive_message (receiver, -1, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (sw_test_sender_join (sender, &error));
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (received, message));
}

static GBytes *
msgpack_bin32 (gsize size)
{
  GByteArray *object = g_byte_array_new ();
  g_autoptr(GBytes) data = sw_test_pattern_bytes (size, 12);
  const guint8 header[5] = { 0xc6, size >> 24, (size >> 16) & 0xff, (size >> 8) & 0xff,
                             size & 0xff };

  g_byte_array_append (object, header, sizeof header);
  g_byte_array_append (object, g_bytes_get_data (data, NULL), (guint) size);
  return g_byte_array_free_to_bytes (object);
}

/* MessagePack, an object that ends with declared data (a bin): the framing
 * recognises the frame from its header, so the total (the whole object,
 * header included: the framing adds none) is known from the first report. */
static void
test_msgpack_bin (void)
{
  g_autoptr(SwFraming) framing = SW_FRAMING (sw_msgpack_framing_new ());
  g_autoptr(GBytes) message = msgpack_bin32 (BIG);
  Recorder progress;

  receive_recorded (framing, message, BIG, &progress);
  assert_reports (&progress, g_bytes_get_size (message));
  recorder_clear (&progress);
}

/* The reports of a frame whose length a scanning framing learns only at
 * its end: total 0 and done growing, then exactly 100 %. While the total
 * is unknown a report needs 1 % of the threshold or of done more, so
 * from 0 to @size there are at most 100 + 100 ln (@size / @threshold). */
static void
assert_scanning_reports (Recorder *progress,
                         guint64   size,
                         guint     most)
{
  const Report *last;

  g_test_message ("%u reports", progress->reports->len);
  g_assert_false (progress->misplaced);
  g_assert_cmpuint (progress->reports->len, >=, 2);
  g_assert_cmpuint (progress->reports->len, <=, most);
  for (guint i = 0; i + 1 < progress->reports->len; i++)
    {
      const Report *report = &g_array_index (progress->reports, Report, i);

      g_assert_cmpuint (report->total, ==, 0);
      g_assert_cmpuint (report->done, <, size);
      if (i > 0)
        g_assert_cmpuint (report->done, >, g_array_index (progress->reports, Report, i - 1).done);
    }
  last = &g_array_index (progress->reports, Report, progress->reports->len - 1);
  g_assert_cmpuint (last->done, ==, size);
  g_assert_cmpuint (last->total, ==, size);
}

/* MessagePack, an array of 64 Ki items: the framing knows the length only
 * once the last item's header is in. */
static void
test_msgpack_array (void)
{
  g_autoptr(SwFraming) framing = SW_FRAMING (sw_msgpack_framing_new ());
  GByteArray *object = g_byte_array_new ();
  g_autoptr(GBytes) message = NULL;
  const guint8 array32[5] = { 0xdd, 0, 1, 0, 0 };
  guint8 item[128] = { 0xc4, 126 };
  Recorder progress;

  g_byte_array_append (object, array32, sizeof array32);
  for (guint i = 0; i < 65536; i++)
    {
      memset (item + 2, (int) (i & 0xff), 126);
      g_byte_array_append (object, item, sizeof item);
    }
  message = g_byte_array_free_to_bytes (object);

  receive_recorded (framing, message, BIG / 8, &progress);
  assert_scanning_reports (&progress, g_bytes_get_size (message), 100 + 100 * 3);
  recorder_clear (&progress);
}

/* A delimiter framing learns the length when the delimiter arrives; the
 * message counts its whole frame, delimiter included, so done grows up to
 * the last report even when the whole payload came before the delimiter. */
static void
test_delimiter (void)
{
  g_autoptr(GBytes) delimiter = g_bytes_new_static ("\n", 1);
  g_autoptr(SwFraming) framing = SW_FRAMING (sw_delimiter_framing_new (delimiter));
  guint8 *line = g_malloc (BIG);
  g_autoptr(GBytes) message = NULL;
  Recorder progress;

  memset (line, 'x', BIG);
  message = g_bytes_new_take (line, BIG);
  receive_recorded (framing, message, BIG / 8, &progress);
  assert_scanning_reports (&progress, BIG + 1, 100 + 100 * 3);
  recorder_clear (&progress);
}

/* A handler may close the connection: no report follows, the connection
 * is closed once the call returns, and the receive ends with CLOSED — or
 * with the whole message, when it had every byte before it had to wait
 * again (docs/threads.md: a close from code under a call). */
static void
test_close_in_handler (void)
{
  g_autoptr(SwConnection) receiver = NULL;
  g_autoptr(SwConnection) sender_end = NULL;
  g_autoptr(GBytes) message = sw_test_pattern_bytes (BIG, 13);
  g_autoptr(GBytes) received = NULL;
  GError *error = NULL;
  Recorder progress;
  SwTestSender *sender;

  sw_test_socketpair (sw_framing_get_default (), &receiver, &sender_end);
  recorder_init (&progress);
  progress.close_in_handler = TRUE;
  sw_connection_set_progress_threshold (receiver, BIG);
  g_signal_connect (receiver, "receive-progress", G_CALLBACK (on_progress), &progress);

  sender = sw_test_sender_new (sender_end, &message, 1);
  received = sw_connection_receive_message (receiver, -1, NULL, &error);
  if (received != NULL)
    g_assert_true (sw_test_pattern_check (received, 13));
  else
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_clear_error (&error);
  g_assert_cmpuint (progress.reports->len, ==, 1);
  g_assert_true (sw_connection_get_closed (receiver));

  /* The peer's send fails or completes, depending on how much it wrote
   * before the close: either way it returns. */
  sw_test_sender_join (sender, &error);
  g_clear_error (&error);
  recorder_clear (&progress);
}

/* A send that ran out of time after its first byte is committed; the
 * close() that finishes its frame reports nothing more. */
static void
test_close_finishes_silently (void)
{
  g_autoptr(SwConnection) sender = NULL;
  g_autoptr(SwConnection) receiver_end = NULL;
  g_autoptr(GBytes) message = sw_test_pattern_bytes (BIG, 14);
  g_autoptr(GBytes) received = NULL;
  GError *error = NULL;
  Recorder progress;
  SwTestReceiver *receiver;
  guint before;

  sw_test_socketpair (sw_framing_get_default (), &sender, &receiver_end);
  recorder_init (&progress);
  sw_connection_set_progress_threshold (sender, BIG);
  g_signal_connect (sender, "send-progress", G_CALLBACK (on_progress), &progress);

  /* Timeout 0: what fits in the socket buffer, far less than 8 MiB. */
  g_assert_true (sw_connection_send_message (sender, message, 0, NULL, &error));
  g_assert_no_error (error);
  before = progress.reports->len;
  receiver = sw_test_receiver_new (receiver_end, NULL);
  g_assert_true (sw_connection_close (sender, NULL, &error));
  g_assert_no_error (error);
  received = sw_test_receiver_join (receiver, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (received, message));
  g_assert_cmpuint (progress.reports->len, ==, before);
  recorder_clear (&progress);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/sw/progress/receive-sync", test_receive_sync);
  g_test_add_func ("/sw/progress/send-sync", test_send_sync);
  g_test_add_func ("/sw/progress/below-threshold", test_below_threshold);
  g_test_add_func ("/sw/progress/receive-async", test_receive_async);
  g_test_add_func ("/sw/progress/receive-async-threaded", test_receive_async_threaded);
  g_test_add_func ("/sw/progress/msgpack-bin", test_msgpack_bin);
  g_test_add_func ("/sw/progress/msgpack-array", test_msgpack_array);
  g_test_add_func ("/sw/progress/delimiter", test_delimiter);
  g_test_add_func ("/sw/progress/close-in-handler", test_close_in_handler);
  g_test_add_func ("/sw/progress/close-finishes-silently", test_close_finishes_silently);

  return g_test_run ();
}
