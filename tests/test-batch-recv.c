/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sw_connection_receive_messages() and its async pair: every message ready
 * once the first is complete, in order; errors of later frames reported by
 * the next call; fds never mixed into a batch. */
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <socketwrapper/socketwrapper.h>

#include <gio/gunixfdlist.h>

#include "sw-fault-stream.h"
#include "sw-test-util.h"

/* ---- helpers ---------------------------------------------------------- */

typedef enum
{
  FRAMING_DEFAULT,
  FRAMING_VARINT,
  FRAMING_DELIMITER,
  FRAMING_MSGPACK,
  FRAMING_MULTIPROCESSING,
  FRAMING_CUSTOM,
  N_FRAMINGS
} FramingKind;

static SwFraming *
framing_new (FramingKind kind)
{
  g_autoptr(GBytes) newline = g_bytes_new_static ("\n", 1);

  switch (kind)
    {
    case FRAMING_VARINT:
      return SW_FRAMING (sw_varint_framing_new ());
    case FRAMING_DELIMITER:
      return SW_FRAMING (sw_delimiter_framing_new (newline));
    case FRAMING_MSGPACK:
      return SW_FRAMING (sw_msgpack_framing_new ());
    case FRAMING_MULTIPROCESSING:
      return SW_FRAMING (sw_multiprocessing_framing_new ());
    case FRAMING_CUSTOM:
      return g_object_new (SW_TEST_TYPE_PLAIN_FRAMING, NULL);
    case FRAMING_DEFAULT:
    case N_FRAMINGS:
    default:
      return g_object_ref (sw_framing_get_default ());
    }
}

/* Message @i of a test: a MessagePack bin 8 object of 1 to 9 bytes, which
 * every framing carries (no newline inside, one whole object). */
static GBytes *
message_new (guint i)
{
  guint8 data[11];
  gsize size = 1 + i % 9;

  data[0] = 0xc4;
  data[1] = (guint8) size;
  for (gsize j = 0; j < size; j++)
    data[2 + j] = (guint8) ('a' + (i + j) % 26);
  return g_bytes_new (data, size + 2);
}

static GPtrArray *
messages_new (guint first,
              guint n)
{
  GPtrArray *messages = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);

  for (guint i = 0; i < n; i++)
    g_ptr_array_add (messages, message_new (first + i));
  return messages;
}

static void
send_all (SwConnection *connection,
          GPtrArray    *messages)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (sw_connection_send_messages (connection, (GBytes * const *) messages->pdata,
                                              messages->len, -1, NULL, &error));
  g_assert_no_error (error);
}

/* Asserts @batch holds @n messages equal to @expected[@first...]. */
static void
assert_batch (GPtrArray *batch,
              GPtrArray *expected,
              guint      first,
              guint      n)
{
  g_assert_nonnull (batch);
  g_assert_cmpuint (batch->len, ==, n);
  for (guint i = 0; i < n; i++)
    g_assert_true (g_bytes_equal (g_ptr_array_index (batch, i),
                                  g_ptr_array_index (expected, first + i)));
}

static GPtrArray *
receive_batch (SwConnection *connection,
               guint         max_messages)
{
  g_autoptr(GError) error = NULL;
  GPtrArray *batch = sw_connection_receive_messages (connection, max_messages, -1, NULL, &error);

  g_assert_no_error (error);
  return batch;
}

static void
assert_receive_batch (SwConnection *connection,
                      guint         max_messages,
                      GPtrArray    *expected,
                      guint         first,
                      guint         n)
{
  g_autoptr(GPtrArray) batch = receive_batch (connection, max_messages);

  assert_batch (batch, expected, first, n);
}

static void
assert_receive_fails (SwConnection *connection,
                      GIOErrorEnum  code)
{
  g_autoptr(GError) error = NULL;

  g_assert_null (sw_connection_receive_messages (connection, 100, 0, NULL, &error));
  g_assert_error (error, G_IO_ERROR, (gint) code);
}

/* ---- every framing: all buffered messages, max-messages ---------------- */

/* Ten messages sent by one send_messages() are all buffered after the
 * first read: one call returns all ten. With a limit the rest stay for the
 * next calls, in order. */
static void
test_all_buffered (gconstpointer data)
{
  FramingKind kind = GPOINTER_TO_INT (data);
  g_autoptr(SwFraming) framing = framing_new (kind);
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GPtrArray) messages = messages_new (0, 10);

  sw_test_socketpair (framing, &a, &b);
  send_all (a, messages);
  assert_receive_batch (b, 100, messages, 0, 10);

  send_all (a, messages);
  assert_receive_batch (b, 3, messages, 0, 3);
  assert_receive_batch (b, 3, messages, 3, 3);
  assert_receive_batch (b, 1, messages, 6, 1);
  assert_receive_batch (b, 100, messages, 7, 3);

  /* Mixed with single receives, in order. */
  send_all (a, messages);
  {
    g_autoptr(GBytes) first = sw_connection_receive_message (b, -1, NULL, NULL);

    g_assert_true (g_bytes_equal (first, g_ptr_array_index (messages, 0)));
  }
  assert_receive_batch (b, 4, messages, 1, 4);
  {
    g_autoptr(GBytes) sixth = sw_connection_receive_message (b, -1, NULL, NULL);

    g_assert_true (g_bytes_equal (sixth, g_ptr_array_index (messages, 5)));
  }
  assert_receive_batch (b, 100, messages, 6, 4);
  assert_receive_fails (b, G_IO_ERROR_TIMED_OUT);
}

/* 0 asks for nothing: an empty array at once, sync and async, nothing
 * consumed. */
static void
test_zero (void)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GPtrArray) messages = messages_new (0, 2);
  g_autoptr(GPtrArray) empty = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  sw_test_socketpair (sw_framing_get_default (), &a, &b);
  send_all (a, messages);
  empty = sw_connection_receive_messages (b, 0, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (empty->len, ==, 0);
  g_clear_pointer (&empty, g_ptr_array_unref);

  sw_connection_receive_messages_async (b, 0, G_PRIORITY_DEFAULT, NULL,
                                        sw_test_store_result, &result);
  g_assert_null (result);  /* never from inside the call */
  sw_test_iterate_until (&result);
  empty = sw_connection_receive_messages_finish (b, result, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (empty->len, ==, 0);

  assert_receive_batch (b, 100, messages, 0, 2);
}

/* ---- waiting, timeout, cancel ----------------------------------------- */

typedef struct
{
  SwConnection *connection;
  pid_t         tid;
  int           started;
  GPtrArray    *batch;
  GError       *error;
} BlockedReceiver;

static gpointer
blocked_receiver_thread (gpointer data)
{
  BlockedReceiver *r = data;

  r->tid = sw_test_thread_id ();
  g_atomic_int_set (&r->started, 1);
  r->batch = sw_connection_receive_messages (r->connection, 100, -1, NULL, &r->error);
  return NULL;
}

/* The call blocks, in poll(), until the first message; then it returns
 * the messages of that read, and the rest come with the next calls. */
static void
test_blocks_for_first (void)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GPtrArray) messages = messages_new (0, 5);
  BlockedReceiver r = { NULL, 0, 0, NULL, NULL };
  GThread *thread;
  guint received;

  if (!sw_test_can_observe_threads ())
    return;
  sw_test_socketpair (sw_framing_get_default (), &a, &b);
  r.connection = b;
  thread = g_thread_new ("batch-receiver", blocked_receiver_thread, &r);
  while (!g_atomic_int_get (&r.started))
    g_thread_yield ();
  sw_test_wait_thread_polling (r.tid);
  g_assert_null (r.batch);

  send_all (a, messages);
  g_thread_join (thread);
  g_assert_no_error (r.error);
  g_assert_cmpuint (r.batch->len, >=, 1);
  assert_batch (r.batch, messages, 0, r.batch->len);
  received = r.batch->len;
  g_ptr_array_unref (r.batch);
  while (received < 5)
    {
      g_autoptr(GPtrArray) batch = receive_batch (b, 100);

      assert_batch (batch, messages, received, batch->len);
      received += batch->len;
    }
  g_assert_cmpuint (received, ==, 5);
}

/* Half a frame: the call times out, or is cancelled, consuming nothing;
 * once the rest comes the whole message is returned. */
static void
test_timeout_cancel (void)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) message = message_new (3);
  g_autoptr(GBytes) header = NULL;
  g_autoptr(GBytes) trailer = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GPtrArray) batch = NULL;
  g_autoptr(GError) error = NULL;
  gsize size;
  const guint8 *data = g_bytes_get_data (message, &size);

  sw_test_socketpair (sw_framing_get_default (), &a, &b);
  assert_receive_fails (b, G_IO_ERROR_TIMED_OUT);

  g_assert_true (sw_framing_encode (sw_framing_get_default (), message, &header, &trailer, NULL));
  sw_test_send_raw (a, g_bytes_get_data (header, NULL), g_bytes_get_size (header));
  sw_test_send_raw (a, data, 2);
  g_assert_null (sw_connection_receive_messages (b, 100, 1000, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);

  g_cancellable_cancel (cancellable);
  g_assert_null (sw_connection_receive_messages (b, 100, -1, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);

  sw_test_send_raw (a, data + 2, size - 2);
  batch = receive_batch (b, 100);
  g_assert_cmpuint (batch->len, ==, 1);
  g_assert_true (g_bytes_equal (g_ptr_array_index (batch, 0), message));
}

/* ---- async ------------------------------------------------------------ */

typedef struct
{
  SwConnection *sender;
  GPtrArray    *messages;
  GAsyncResult *result;
  guint         n_ticks;
} AsyncRun;

/* Another source of the same main loop runs while the receive is
 * pending; it sends once it has seen the receive still pending. */
static gboolean
on_tick (gpointer user_data)
{
  AsyncRun *run = user_data;

  g_assert_null (run->result);
  if (++run->n_ticks < 3)
    return G_SOURCE_CONTINUE;
  send_all (run->sender, run->messages);
  return G_SOURCE_REMOVE;
}

static void
test_async (void)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GPtrArray) messages = messages_new (0, 10);
  g_autoptr(GPtrArray) batch = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  AsyncRun run = { NULL, messages, NULL, 0 };

  sw_test_socketpair (sw_framing_get_default (), &a, &b);
  run.sender = a;
  sw_connection_receive_messages_async (b, 100, G_PRIORITY_DEFAULT, NULL,
                                        sw_test_store_result, &run.result);
  g_idle_add (on_tick, &run);
  sw_test_iterate_until (&run.result);
  g_assert_cmpuint (run.n_ticks, ==, 3);
  batch = sw_connection_receive_messages_finish (b, run.result, &error);
  g_assert_no_error (error);
  /* One read brought the ten: they come in one batch. */
  assert_batch (batch, messages, 0, 10);
  g_clear_object (&run.result);
  g_clear_pointer (&batch, g_ptr_array_unref);

  /* A limit, then cancel while pending: nothing is lost. */
  send_all (a, messages);
  sw_connection_receive_messages_async (b, 4, G_PRIORITY_DEFAULT, NULL,
                                        sw_test_store_result, &run.result);
  sw_test_iterate_until (&run.result);
  batch = sw_connection_receive_messages_finish (b, run.result, &error);
  assert_batch (batch, messages, 0, 4);
  g_clear_object (&run.result);
  g_clear_pointer (&batch, g_ptr_array_unref);
  assert_receive_batch (b, 100, messages, 4, 6);

  sw_connection_receive_messages_async (b, 4, G_PRIORITY_DEFAULT, cancellable,
                                        sw_test_store_result, &run.result);
  g_cancellable_cancel (cancellable);
  sw_test_iterate_until (&run.result);
  g_assert_null (sw_connection_receive_messages_finish (b, run.result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_clear_object (&run.result);

  /* Pending at close(): CLOSED. */
  sw_connection_receive_messages_async (b, 4, G_PRIORITY_DEFAULT, NULL,
                                        sw_test_store_result, &run.result);
  g_assert_true (sw_connection_close (b, NULL, NULL));
  sw_test_iterate_until (&run.result);
  g_assert_null (sw_connection_receive_messages_finish (b, run.result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_clear_object (&run.result);
}

/* ---- errors of later frames ------------------------------------------- */

/* A frame over max-message-size after two good ones: the call returns the
 * two, the next fails with MESSAGE_TOO_LARGE (of any kind of receive),
 * and the connection goes on with the frame after it. */
static void
test_later_too_large (gconstpointer data)
{
  gboolean async = GPOINTER_TO_INT (data);
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GPtrArray) messages = messages_new (0, 4);
  g_autoptr(GPtrArray) batch = NULL;
  g_autoptr(GError) error = NULL;

  sw_test_socketpair (sw_framing_get_default (), &a, &b);
  g_ptr_array_insert (messages, 2, sw_test_pattern_bytes (500, 7));
  sw_connection_set_max_message_size (b, 100);
  send_all (a, messages);

  if (async)
    {
      g_autoptr(GAsyncResult) result = NULL;

      sw_connection_receive_messages_async (b, 100, G_PRIORITY_DEFAULT, NULL,
                                            sw_test_store_result, &result);
      sw_test_iterate_until (&result);
      batch = sw_connection_receive_messages_finish (b, result, &error);
      g_assert_no_error (error);
    }
  else
    batch = receive_batch (b, 100);
  assert_batch (batch, messages, 0, 2);

  /* The next receive, a single one here, reports the refused frame. */
  g_assert_null (sw_connection_receive_message (b, 0, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
  g_clear_error (&error);
  assert_receive_batch (b, 100, messages, 3, 2);
  assert_receive_fails (b, G_IO_ERROR_TIMED_OUT);

  /* Once more with a batch reporting it. */
  send_all (a, messages);
  assert_receive_batch (b, 100, messages, 0, 2);
  assert_receive_fails (b, G_IO_ERROR_MESSAGE_TOO_LARGE);
  assert_receive_batch (b, 100, messages, 3, 2);
}

typedef struct
{
  GPtrArray *messages;
  GError    *error;
} LoopSeen;

static void
on_loop_message (SwConnection *connection,
                 GBytes       *message,
                 gpointer      user_data)
{
  g_ptr_array_add (((LoopSeen *) user_data)->messages, g_bytes_ref (message));
}

static void
on_loop_error (SwConnection *connection,
               const GError *error,
               gpointer      user_data)
{
  LoopSeen *seen = user_data;

  g_assert_null (seen->error);
  seen->error = g_error_copy (error);
}

/* The receive loop after a batch that met a refused frame: it reports
 * the frame through ::error and goes on, as for a frame it refused
 * itself. */
static void
test_later_too_large_then_loop (void)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GPtrArray) messages = messages_new (0, 4);
  LoopSeen seen = { g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref), NULL };

  sw_test_socketpair (sw_framing_get_default (), &a, &b);
  g_ptr_array_insert (messages, 2, sw_test_pattern_bytes (500, 7));
  sw_connection_set_max_message_size (b, 100);
  send_all (a, messages);
  assert_receive_batch (b, 100, messages, 0, 2);

  g_signal_connect (b, "message", G_CALLBACK (on_loop_message), &seen);
  g_signal_connect (b, "error", G_CALLBACK (on_loop_error), &seen);
  sw_connection_start_receiving (b);
  /* Until both came, or the loop stopped (then the test fails). */
  SW_TEST_WAIT_UNTIL (seen.messages->len == 2 || !sw_connection_get_receiving (b));
  g_assert_error (seen.error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
  g_assert_true (sw_connection_get_receiving (b));
  assert_batch (seen.messages, messages, 3, 2);
  sw_connection_stop_receiving (b);
  g_ptr_array_unref (seen.messages);
  g_error_free (seen.error);
}

/* The peer ends the stream after two messages and half a frame: the two
 * come, then PARTIAL_INPUT; at a boundary, then CONNECTION_CLOSED. */
static void
test_later_eof (void)
{
  g_autoptr(GPtrArray) messages = messages_new (0, 2);

  for (guint partial = 0; partial < 2; partial++)
    {
      g_autoptr(SwConnection) a = NULL;
      g_autoptr(SwConnection) b = NULL;

      sw_test_socketpair (sw_framing_get_default (), &a, &b);
      send_all (a, messages);
      if (partial)
        sw_test_send_raw (a, "\x09xy", 3);  /* a varint header: 9 bytes */
      g_assert_true (sw_connection_close (a, NULL, NULL));
      assert_receive_batch (b, 100, messages, 0, 2);
      assert_receive_fails (b, partial ? G_IO_ERROR_PARTIAL_INPUT
                                       : G_IO_ERROR_CONNECTION_CLOSED);
    }
}

/* A malformed header after a good frame (a multiprocessing length of
 * -2): the good one comes, then INVALID_DATA, as a single receive would
 * report it. */
static void
test_later_invalid (void)
{
  g_autoptr(SwFraming) framing = SW_FRAMING (sw_multiprocessing_framing_new ());
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GPtrArray) messages = messages_new (0, 1);
  static const guint8 bad[4] = { 0xff, 0xff, 0xff, 0xfe };

  sw_test_socketpair (framing, &a, &b);
  send_all (a, messages);
  sw_test_send_raw (a, bad, sizeof bad);
  assert_receive_batch (b, 100, messages, 0, 1);
  assert_receive_fails (b, G_IO_ERROR_INVALID_DATA);
  /* The bytes stay: every receive says so, as receive_message() does. */
  assert_receive_fails (b, G_IO_ERROR_INVALID_DATA);

  /* Stealing the bytes drops the error kept for them as well. */
  {
    g_autoptr(GBytes) stolen = NULL;

    send_all (a, messages);
    sw_test_send_raw (a, bad, sizeof bad);
    stolen = sw_connection_steal_buffered_input (b, NULL);
    g_assert_cmpuint (g_bytes_get_size (stolen), ==, sizeof bad);
    assert_receive_batch (b, 100, messages, 0, 1);
    g_bytes_unref (stolen);
    stolen = sw_connection_steal_buffered_input (b, NULL);
    g_assert_cmpuint (g_bytes_get_size (stolen), ==, sizeof bad);
    assert_receive_fails (b, G_IO_ERROR_TIMED_OUT);
  }
}

/* ---- fds -------------------------------------------------------------- */

static GUnixFDList *
fd_list_new (void)
{
  g_autoptr(GUnixFDList) list = g_unix_fd_list_new ();
  int fds[2];

  g_assert_no_errno (pipe (fds));
  g_assert_cmpint (g_unix_fd_list_append (list, fds[0], NULL), ==, 0);
  close (fds[0]);
  close (fds[1]);
  return g_steal_pointer (&list);
}

/* A message with fds after a plain one ends the batch before it, so a
 * receive with fds gets it with them; first in a batch, its fds are
 * closed, as receive_message() closes them. */
static void
send_with_fds (SwConnection *connection,
               GBytes       *message)
{
  g_autoptr(GUnixFDList) fds = fd_list_new ();
  g_autoptr(GError) error = NULL;

  g_assert_true (sw_connection_send_message_with_fds (connection, message, fds, -1, NULL,
                                                      &error));
  g_assert_no_error (error);
}

static void
test_fds_boundary (void)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GPtrArray) messages = messages_new (0, 4);
  g_autoptr(GUnixFDList) received = NULL;
  g_autoptr(GBytes) with_fds = NULL;
  g_autoptr(GError) error = NULL;
  guint baseline;

  sw_test_socketpair (sw_framing_get_default (), &a, &b);
  g_assert_true (sw_connection_send_message (a, g_ptr_array_index (messages, 0), -1, NULL,
                                             &error));
  send_with_fds (a, g_ptr_array_index (messages, 1));
  g_assert_true (sw_connection_send_messages (a, (GBytes * const *) messages->pdata + 2, 2,
                                              -1, NULL, &error));
  g_assert_no_error (error);

  /* The read that brings message 1 brings its fds: the batch stops. */
  assert_receive_batch (b, 100, messages, 0, 1);
  with_fds = sw_connection_receive_message_with_fds (b, &received, -1, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (with_fds, g_ptr_array_index (messages, 1)));
  g_assert_cmpint (g_unix_fd_list_get_length (received), ==, 1);
  assert_receive_batch (b, 100, messages, 2, 2);

  /* First in a batch: returned, its fd closed. */
  send_with_fds (a, g_ptr_array_index (messages, 1));
  g_assert_true (sw_connection_send_messages (a, (GBytes * const *) messages->pdata + 2, 2,
                                              -1, NULL, &error));
  baseline = sw_test_count_open_fds ();
  assert_receive_batch (b, 100, messages, 1, 1);
  g_assert_cmpuint (sw_test_count_open_fds (), ==, baseline);
  assert_receive_batch (b, 100, messages, 2, 2);
}

static void
test_datagram (gconstpointer data)
{
  GSocketType type = GPOINTER_TO_INT (data);
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GPtrArray) messages = messages_new (0, 10);
  g_autoptr(GError) error = NULL;

  g_assert_true (sw_socketpair (G_SOCKET_FAMILY_UNIX, type, NULL, &a, &b, &error));
  g_assert_no_error (error);
  send_all (a, messages);
  assert_receive_batch (b, 100, messages, 0, 10);
  send_all (a, messages);
  assert_receive_batch (b, 4, messages, 0, 4);
  assert_receive_batch (b, 4, messages, 4, 4);
  assert_receive_batch (b, 4, messages, 8, 2);
  assert_receive_fails (b, G_IO_ERROR_TIMED_OUT);

  /* A datagram over the limit later in the batch: dropped, reported by
   * the next call, the rest follows. */
  g_ptr_array_insert (messages, 3, sw_test_pattern_bytes (500, 9));
  sw_connection_set_max_message_size (b, 100);
  send_all (a, messages);
  assert_receive_batch (b, 100, messages, 0, 3);
  assert_receive_fails (b, G_IO_ERROR_MESSAGE_TOO_LARGE);
  assert_receive_batch (b, 100, messages, 4, 7);
}

/* Without read-ahead a read never goes past the frame it reads: each
 * call returns one message, all of them in order. */
static void
test_read_ahead_off (void)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GPtrArray) messages = messages_new (0, 10);

  sw_test_socketpair (sw_framing_get_default (), &a, &b);
  sw_connection_set_read_ahead (b, FALSE);
  send_all (a, messages);
  for (guint i = 0; i < 10; i++)
    assert_receive_batch (b, 100, messages, i, 1);
  assert_receive_fails (b, G_IO_ERROR_TIMED_OUT);
}

/* ---- fault-injection streams ------------------------------------------ */

typedef struct
{
  SwConnection *connection;
  GPtrArray    *messages;
  guint32       seed;
  GError       *error;
} FaultSender;

/* Sends every message in batches of 1 to 5, blocking. */
static gpointer
fault_sender_thread (gpointer data)
{
  FaultSender *s = data;
  g_autoptr(GRand) rand = g_rand_new_with_seed (s->seed);

  for (guint sent = 0; sent < s->messages->len;)
    {
      guint n = (guint) g_rand_int_range (rand, 1, 6);

      n = MIN (n, s->messages->len - sent);

      if (!sw_connection_send_messages (s->connection, (GBytes * const *) s->messages->pdata + sent,
                                        n, -1, NULL, &s->error))
        break;
      sent += n;
    }
  return NULL;
}

typedef struct
{
  SwConnection *connection;
  GPtrArray    *expected;
  GPtrArray    *received;
  GRand        *rand;
  GError       *error;
  gboolean      async;
  gboolean      done;
} FaultReceiver;

static void receive_next (FaultReceiver *r);

/* Appends @batch; fails the run on an empty one. */
static gboolean
take_batch (FaultReceiver *r,
            GPtrArray     *batch)
{
  if (batch == NULL)
    return FALSE;
  g_assert_cmpuint (batch->len, >=, 1);
  for (guint i = 0; i < batch->len; i++)
    g_ptr_array_add (r->received, g_bytes_ref (g_ptr_array_index (batch, i)));
  g_ptr_array_unref (batch);
  return r->received->len < r->expected->len;
}

static void
on_fault_batch (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  FaultReceiver *r = user_data;

  if (take_batch (r, sw_connection_receive_messages_finish (SW_CONNECTION (source), result,
                                                            &r->error)))
    receive_next (r);
  else
    r->done = TRUE;
}

static void
receive_next (FaultReceiver *r)
{
  guint max_messages = (guint) g_rand_int_range (r->rand, 1, 9);

  if (r->async)
    {
      sw_connection_receive_messages_async (r->connection, max_messages, G_PRIORITY_DEFAULT,
                                            NULL, on_fault_batch, r);
      return;
    }
  /* A bound against a hang, not a timing assumption. */
  while (take_batch (r, sw_connection_receive_messages (r->connection, max_messages,
                                                        30 * G_USEC_PER_SEC, NULL, &r->error)))
    ;
  r->done = TRUE;
}

/* Returns how many faults the receiving stream delivered. */
static guint
fault_run (guint32  seed,
           gboolean pollable,
           gboolean async)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (seed);
  FramingKind kind = (FramingKind) (seed % N_FRAMINGS);
  g_autoptr(SwFraming) framing = framing_new (kind);
  SwFaultConfig send_config = { pollable, 30, pollable ? 10 : 0, 0, 0, 0 };
  SwFaultConfig receive_config = { pollable, 40, pollable ? 20 : 0, pollable ? 10 : 0, 0, 0 };
  g_autoptr(SwFaultStream) send_stream = NULL;
  g_autoptr(SwFaultStream) receive_stream = NULL;
  g_autoptr(SwConnection) sender = NULL;
  g_autoptr(SwConnection) receiver = NULL;
  g_autoptr(GPtrArray) messages = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_autoptr(GPtrArray) received = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  FaultSender s = { NULL, messages, seed, NULL };
  FaultReceiver r = { NULL, messages, received, rand, NULL, async, FALSE };
  GThread *thread;

  for (guint i = 0; i < 40; i++)
    g_ptr_array_add (messages, kind == FRAMING_DELIMITER || kind == FRAMING_MSGPACK
                               ? message_new (seed + i)
                               : sw_test_pattern_bytes ((gsize) g_rand_int_range (rand, 1, 300),
                                                        seed * 64 + i));
  sw_fault_stream_pair (&send_config, &receive_config, seed, &send_stream, &receive_stream);
  s.connection = sender = sw_connection_new_for_stream (G_IO_STREAM (send_stream), framing);
  r.connection = receiver = sw_connection_new_for_stream (G_IO_STREAM (receive_stream), framing);
  sw_connection_set_read_ahead (receiver, seed % 3 != 0);

  thread = g_thread_new ("fault-sender", fault_sender_thread, &s);
  receive_next (&r);
  SW_TEST_WAIT_UNTIL (r.done);
  g_thread_join (thread);

  g_assert_no_error (s.error);
  g_assert_no_error (r.error);
  /* Nothing torn, lost, duplicated or reordered. */
  g_assert_cmpuint (received->len, ==, messages->len);
  for (guint i = 0; i < messages->len; i++)
    g_assert_true (g_bytes_equal (g_ptr_array_index (received, i),
                                  g_ptr_array_index (messages, i)));
  return sw_fault_stream_get_n_faults (receive_stream);
}

/* Short reads down to 1 byte, WOULD_BLOCK bursts and retries on both
 * ends, every framing, read-ahead on and off, pollable streams and
 * streams that cannot poll (async calls then run in a worker). */
static void
test_fault_streams (gconstpointer data)
{
  guint mode = GPOINTER_TO_UINT (data);
  guint n_seeds = sw_test_under_valgrind () ? 6 : 60;

  guint n_faults = 0;

  for (guint32 seed = 1; seed <= n_seeds; seed++)
    n_faults += fault_run (seed, (mode & 1) != 0, (mode & 2) != 0);
  g_assert_cmpuint (n_faults, >, n_seeds);
}

/* A batch that stops at a frame still arriving leaves it unread: settings
 * changed after the call apply to it, as they would after a single
 * receive (a receive still waiting for a frame's first byte uses the new
 * ones). */
static void
test_settings_after_partial (void)
{
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GPtrArray) batch = NULL;
  g_autoptr(GBytes) message = NULL;
  g_autoptr(GBytes) newline = g_bytes_new_static ("\n", 1);
  g_autoptr(SwFraming) lines = SW_FRAMING (sw_delimiter_framing_new (newline));
  g_autoptr(GError) error = NULL;
  int fds[2];

  sw_test_raw_socketpair (SOCK_STREAM, fds);
  b = sw_test_connection_for_socket_fd (fds[0], sw_framing_get_default ());

  /* A new framing. */
  sw_test_write_all (fds[1], "\003abc\005xy", 7);
  batch = receive_batch (b, 10);
  g_assert_cmpuint (batch->len, ==, 1);
  sw_connection_set_framing (b, lines);
  sw_test_write_all (fds[1], "zzz\n", 4);
  message = sw_connection_receive_message (b, -1, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (message, NULL), g_bytes_get_size (message),
                   "\005xyzzz", 6);
  g_clear_pointer (&message, g_bytes_unref);
  g_clear_pointer (&batch, g_ptr_array_unref);

  /* A lower max-message-size. */
  sw_connection_set_framing (b, sw_framing_get_default ());
  sw_test_write_all (fds[1], "\003abc\005xy", 7);
  batch = receive_batch (b, 10);
  g_assert_cmpuint (batch->len, ==, 1);
  sw_connection_set_max_message_size (b, 4);
  sw_test_write_all (fds[1], "zzz\003abc", 7);
  message = sw_connection_receive_message (b, -1, NULL, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
  g_assert_null (message);
  g_clear_error (&error);
  message = sw_connection_receive_message (b, -1, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (message, NULL), g_bytes_get_size (message), "abc", 3);
  close (fds[1]);
}

int
main (int   argc,
      char *argv[])
{
  static const char * const framing_names[N_FRAMINGS] = {
    "default", "varint", "delimiter", "msgpack", "multiprocessing", "custom",
  };

  g_test_init (&argc, &argv, NULL);

  for (int kind = 0; kind < N_FRAMINGS; kind++)
    {
      g_autofree char *path = g_strdup_printf ("/sw/batch-recv/all-buffered/%s",
                                               framing_names[kind]);

      g_test_add_data_func (path, GINT_TO_POINTER (kind), test_all_buffered);
    }
  g_test_add_func ("/sw/batch-recv/zero", test_zero);
  g_test_add_func ("/sw/batch-recv/blocks-for-first", test_blocks_for_first);
  g_test_add_func ("/sw/batch-recv/timeout-cancel", test_timeout_cancel);
  g_test_add_func ("/sw/batch-recv/async", test_async);
  g_test_add_data_func ("/sw/batch-recv/later-too-large/sync", GINT_TO_POINTER (FALSE),
                        test_later_too_large);
  g_test_add_data_func ("/sw/batch-recv/later-too-large/async", GINT_TO_POINTER (TRUE),
                        test_later_too_large);
  g_test_add_func ("/sw/batch-recv/later-too-large-then-loop", test_later_too_large_then_loop);
  g_test_add_func ("/sw/batch-recv/later-eof", test_later_eof);
  g_test_add_func ("/sw/batch-recv/later-invalid", test_later_invalid);
  g_test_add_func ("/sw/batch-recv/fds-boundary", test_fds_boundary);
  g_test_add_data_func ("/sw/batch-recv/datagram/dgram", GINT_TO_POINTER (G_SOCKET_TYPE_DATAGRAM),
                        test_datagram);
  g_test_add_data_func ("/sw/batch-recv/datagram/seqpacket",
                        GINT_TO_POINTER (G_SOCKET_TYPE_SEQPACKET), test_datagram);
  g_test_add_func ("/sw/batch-recv/read-ahead-off", test_read_ahead_off);
  g_test_add_func ("/sw/batch-recv/settings-after-partial", test_settings_after_partial);
  g_test_add_data_func ("/sw/batch-recv/fault-stream/blocking-sync", GUINT_TO_POINTER (0),
                        test_fault_streams);
  g_test_add_data_func ("/sw/batch-recv/fault-stream/pollable-sync", GUINT_TO_POINTER (1),
                        test_fault_streams);
  g_test_add_data_func ("/sw/batch-recv/fault-stream/blocking-async", GUINT_TO_POINTER (2),
                        test_fault_streams);
  g_test_add_data_func ("/sw/batch-recv/fault-stream/pollable-async", GUINT_TO_POINTER (3),
                        test_fault_streams);
  return g_test_run ();
}
