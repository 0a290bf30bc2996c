/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Cancellation and close in the async API of SwConnection (DESIGN §4
 * "Threads and main contexts"): cancellation at every point loses and
 * duplicates nothing; committed sends; queued calls, async and blocking;
 * close() and close_async() with calls in progress and queued, from a
 * callback and from the thread that runs the calls. Round trips, contexts
 * and the FIFO: test-async.c.
 *
 * No sleeps: a test waits by iterating the main context that runs the
 * callbacks, or by joining a thread. */
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sw-test-util.h"
#include "test-async-util.h"

/* ---- helpers ---------------------------------------------------------- */

/* Nothing more is queued for @c: a receive that may not wait times out. */
static void
assert_nothing_more (SwConnection *c)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = sw_connection_receive_message (c, 0, NULL, &error);

  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_null (bytes);
}

/* Fills the kernel buffer between @c and its peer with raw bytes, so the
 * next write on @c cannot write a single byte until the peer reads. */
static void
fill_send_buffer (SwConnection *c)
{
  g_autoptr(GBytes) chunk = sw_test_pattern_bytes (64 * 1024, 99);

  for (;;)
    {
      g_autoptr(GError) error = NULL;
      gssize n = sw_connection_send_bytes (c, chunk, 0, NULL, &error);

      if (n < 0)
        {
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
          return;
        }
      g_assert_cmpint (n, >, 0);
    }
}

/* ---- cancellation ----------------------------------------------------- */

static void
test_cancel_before_call (void)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GCancellable) cancelled = g_cancellable_new ();
  g_autoptr(GBytes) m1 = text ("kept");
  g_autoptr(GBytes) m2 = text ("never sent");
  g_autoptr(GBytes) m3 = text ("sent");
  Result r = { 0 }, s = { 0 };

  make_pair (&a, &b);
  g_cancellable_cancel (cancelled);

  /* Nothing to read yet, and then with a message waiting: the message
   * stays for the next receive either way. */
  receive_async (b, cancelled, &r);
  WAIT_UNTIL (NULL, result_done (&r));
  assert_error (&r, G_IO_ERROR_CANCELLED);
  result_clear (&r);

  send_sync (a, m1);
  receive_async (b, cancelled, &r);
  WAIT_UNTIL (NULL, result_done (&r));
  assert_error (&r, G_IO_ERROR_CANCELLED);
  result_clear (&r);
  assert_receive_sync (b, m1);

  send_async (a, m2, cancelled, &s);
  WAIT_UNTIL (NULL, result_done (&s));
  assert_error (&s, G_IO_ERROR_CANCELLED);
  result_clear (&s);
  send_async (a, m3, NULL, &s);
  WAIT_UNTIL (NULL, result_done (&s));
  g_assert_true (s.ok);
  result_clear (&s);
  assert_receive_sync (b, m3);
  assert_nothing_more (b);
}

/* Writes @frame to @fd in segments ending at each of @cuts (increasing,
 * the last one the frame's length). For each segment a receive is started
 * with a queued receive behind it, the segment is written, the receive
 * reads it, then the queued receive and (unless the segment completed the
 * frame) the reading one are cancelled. The final receive must return the
 * whole message. */
static void
trickle (SwConnection *b,
         int           fd,
         GBytes       *frame,
         GBytes       *message,
         const gsize  *cuts,
         guint         n_cuts)
{
  const guint8 *data = g_bytes_get_data (frame, NULL);
  gsize written = 0;

  g_assert_cmpuint (cuts[n_cuts - 1], ==, g_bytes_get_size (frame));
  for (guint i = 0; i < n_cuts; i++)
    {
      g_autoptr(GCancellable) reading = g_cancellable_new ();
      g_autoptr(GCancellable) queued = g_cancellable_new ();
      gboolean last = i == n_cuts - 1;
      Result r = { 0 }, q = { 0 };

      receive_async (b, reading, &r);
      receive_async (b, queued, &q);
      g_assert_cmpuint (cuts[i], >, written);
      sw_test_write_all (fd, data + written, cuts[i] - written);
      written = cuts[i];
      while (pending_input (b) > 0 && !result_done (&r))
        g_main_context_iteration (NULL, TRUE);

      g_cancellable_cancel (queued);
      WAIT_UNTIL (NULL, result_done (&q));
      assert_error (&q, G_IO_ERROR_CANCELLED);

      if (!last)
        {
          g_assert_false (result_done (&r));
          g_cancellable_cancel (reading);
          WAIT_UNTIL (NULL, result_done (&r));
          assert_error (&r, G_IO_ERROR_CANCELLED);
        }
      else
        {
          WAIT_UNTIL (NULL, result_done (&r));
          assert_message (&r, message);
        }
      result_clear (&r);
      result_clear (&q);
    }
}

static GBytes *
make_frame (GBytes *message)
{
  guint8 header[9];
  gsize header_length = sw_test_varint_encode (g_bytes_get_size (message), header);
  GByteArray *frame = g_byte_array_new ();

  g_byte_array_append (frame, header, header_length);
  g_byte_array_append (frame, g_bytes_get_data (message, NULL),
                       g_bytes_get_size (message));
  return g_byte_array_free_to_bytes (frame);
}

static void
test_cancel_receive_trickle (void)
{
  const gsize sizes[] = { 0, 1, 300, 70000 };
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) after = text ("after");
  g_autoptr(GBytes) after_frame = make_frame (after);
  int fds[2];

  sw_test_raw_socketpair (SOCK_STREAM, fds);
  b = sw_test_connection_for_socket_fd (fds[1], sw_framing_get_default ());

  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      g_autoptr(GBytes) message = sw_test_pattern_bytes (sizes[i], i);
      g_autoptr(GBytes) frame = make_frame (message);
      gsize length = g_bytes_get_size (frame);
      g_autoptr(GArray) cuts = g_array_new (FALSE, FALSE, sizeof (gsize));

      /* Byte by byte through the header and the start of the payload,
       * then in chunks, then the last byte on its own. */
      for (gsize k = 1; k < length && k <= 400; k++)
        g_array_append_val (cuts, k);
      for (gsize k = 401 + 6999; k + 1 < length; k += 6999)
        g_array_append_val (cuts, k);
      if (length > 401 && length - 1 > g_array_index (cuts, gsize, cuts->len - 1))
        {
          gsize k = length - 1;

          g_array_append_val (cuts, k);
        }
      g_array_append_val (cuts, length);

      trickle (b, fds[0], frame, message, (const gsize *) (gpointer) cuts->data,
               cuts->len);

      /* Nothing lost, nothing duplicated. */
      sw_test_write_all (fds[0], g_bytes_get_data (after_frame, NULL),
                         g_bytes_get_size (after_frame));
      assert_receive_sync (b, after);
      assert_nothing_more (b);
    }
  close (fds[0]);
}

/* A receive that completed while its cancellable fires before the callback
 * runs: the message is either returned or kept for the next receive. */
static void
test_cancel_receive_completed (void)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) m1 = text ("first");
  g_autoptr(GBytes) m2 = text ("second");
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  Result r = { 0 };

  make_pair (&a, &b);
  send_sync (a, m1);
  send_sync (a, m2);

  /* m1 is already there: the call reads it at once, and the callback
   * is due in the next iteration. Cancel in between. */
  receive_async (b, cancellable, &r);
  g_cancellable_cancel (cancellable);
  WAIT_UNTIL (NULL, result_done (&r));
  if (r.error != NULL)
    {
      assert_error (&r, G_IO_ERROR_CANCELLED);
      assert_receive_sync (b, m1);
    }
  else
    assert_message (&r, m1);
  assert_receive_sync (b, m2);
  result_clear (&r);
}

/* Receives queued behind another: cancelling one leaves the others
 * queued, in order. */
static void
test_cancel_queued_receive (void)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GCancellable) c2 = g_cancellable_new ();
  g_autoptr(GCancellable) c4 = g_cancellable_new ();
  g_autoptr(GBytes) m1 = text ("m1");
  g_autoptr(GBytes) m2 = text ("m2");
  Result r1 = { 0 }, r2 = { 0 }, r3 = { 0 }, r4 = { 0 }, r5 = { 0 };
  guint counter = 0;

  make_pair (&a, &b);
  r1.counter = r2.counter = r3.counter = r4.counter = r5.counter = &counter;
  receive_async (b, NULL, &r1);
  receive_async (b, c2, &r2);
  receive_async (b, NULL, &r3);
  receive_async (b, c4, &r4);
  receive_async (b, NULL, &r5);

  g_cancellable_cancel (c2);
  WAIT_UNTIL (NULL, result_done (&r2));
  assert_error (&r2, G_IO_ERROR_CANCELLED);
  g_cancellable_cancel (c4);
  WAIT_UNTIL (NULL, result_done (&r4));
  assert_error (&r4, G_IO_ERROR_CANCELLED);
  g_assert_false (result_done (&r1) || result_done (&r3) || result_done (&r5));

  send_sync (a, m1);
  send_sync (a, m2);
  WAIT_UNTIL (NULL, result_done (&r1) && result_done (&r3));
  assert_message (&r1, m1);
  assert_message (&r3, m2);
  g_assert_cmpuint (r1.order, <, r3.order);
  g_assert_false (result_done (&r5));

  send_sync (a, m1);
  WAIT_UNTIL (NULL, result_done (&r5));
  assert_message (&r5, m1);

  result_clear (&r1);
  result_clear (&r2);
  result_clear (&r3);
  result_clear (&r4);
  result_clear (&r5);
}

/* The same with blocking threads: one queued between two others is
 * cancelled; it leaves the queue with CANCELLED (while the holder keeps
 * the lock) and the threads behind it keep their order. */
static void
test_cancel_queued_blocking (void)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  GBytes *m[3];
  Result holder = { 0 };
  Blocker *t1, *t2, *t3;

  if (!sw_test_can_observe_threads ())
    return;

  make_pair (&a, &b);
  numbered_messages (m, 0, G_N_ELEMENTS (m));

  receive_async (b, NULL, &holder);
  t1 = blocker_new (b, NULL);
  t2 = blocker_new_full (b, NULL, cancellable);
  t3 = blocker_new (b, NULL);

  g_cancellable_cancel (cancellable);
  blocker_join (t2);
  g_assert_error (t2->error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (t2->received);
  g_assert_false (result_done (&holder));

  for (guint i = 0; i < G_N_ELEMENTS (m); i++)
    send_sync (a, m[i]);
  WAIT_UNTIL (NULL, result_done (&holder));
  blocker_join (t1);
  blocker_join (t3);
  assert_message (&holder, m[0]);
  g_assert_no_error (t1->error);
  g_assert_true (g_bytes_equal (t1->received, m[1]));
  g_assert_no_error (t3->error);
  g_assert_true (g_bytes_equal (t3->received, m[2]));

  blocker_free (t1);
  blocker_free (t2);
  blocker_free (t3);
  result_clear (&holder);
  messages_free (m, G_N_ELEMENTS (m));
}

/* A send that cannot write its first byte (the peer's buffer is full of
 * an earlier committed frame) fails with CANCELLED, and its message never
 * appears. */
static void
test_cancel_send_before_first_byte (void)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GBytes) big = sw_test_pattern_bytes (BIG_SIZE, 11);
  g_autoptr(GBytes) never = text ("never");
  g_autoptr(GBytes) later = text ("later");
  GBytes *expected[2] = { big, later };
  Result s2 = { 0 }, s3 = { 0 };
  Collector *collector;

  make_pair (&a, &b);

  /* Timeout 0: writes what fits, commits, succeeds. */
  g_assert_true (sw_connection_send_message (a, big, 0, NULL, &error));
  g_assert_no_error (error);

  send_async (a, never, cancellable, &s2);
  g_cancellable_cancel (cancellable);
  WAIT_UNTIL (NULL, result_done (&s2));
  assert_error (&s2, G_IO_ERROR_CANCELLED);

  send_async (a, later, NULL, &s3);
  collector = collector_new (b, 2);
  WAIT_UNTIL (NULL, result_done (&s3));
  g_assert_no_error (s3.error);
  collector_join (collector, expected, 2);
  assert_nothing_more (b);

  result_clear (&s2);
  result_clear (&s3);
}

/* A send cancelled after its first byte is committed: it succeeds, and
 * the rest of the frame goes out before the next frame, by the next send
 * or by a flush. */
static void
test_cancel_send_committed (gconstpointer data)
{
  gboolean use_flush = GPOINTER_TO_INT (data);
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GBytes) big = sw_test_pattern_bytes (BIG_SIZE, 12);
  g_autoptr(GBytes) next = text ("next");
  GBytes *expected[2] = { big, next };
  Result s1 = { 0 }, s2 = { 0 };
  Collector *collector;

  make_pair (&a, &b);

  send_async (a, big, cancellable, &s1);
  while (pending_input (b) == 0)
    g_main_context_iteration (NULL, TRUE);
  g_assert_false (result_done (&s1));
  g_cancellable_cancel (cancellable);
  WAIT_UNTIL (NULL, result_done (&s1));
  g_assert_no_error (s1.error);
  g_assert_true (s1.ok);

  if (use_flush)
    sw_connection_flush_async (a, PRIO, NULL, on_done, &s2);
  else
    send_async (a, next, NULL, &s2);
  collector = collector_new (b, use_flush ? 1 : 2);
  WAIT_UNTIL (NULL, result_done (&s2));
  g_assert_no_error (s2.error);
  g_assert_true (s2.ok);
  collector_join (collector, expected, use_flush ? 1 : 2);

  if (use_flush)
    {
      send_sync (a, next);
      assert_receive_sync (b, next);
    }
  assert_nothing_more (b);

  result_clear (&s1);
  result_clear (&s2);
}

/* Sends queued behind a committed frame: cancelling one leaves the others
 * intact and in order. */
static void
test_cancel_queued_send (void)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GBytes) big = sw_test_pattern_bytes (BIG_SIZE, 13);
  g_autoptr(GBytes) m2 = text ("m2");
  g_autoptr(GBytes) m3 = text ("m3 cancelled");
  g_autoptr(GBytes) m4 = text ("m4");
  GBytes *expected[3] = { big, m2, m4 };
  Result s1 = { 0 }, s2 = { 0 }, s3 = { 0 }, s4 = { 0 };
  guint counter = 0;
  Collector *collector;

  make_pair (&a, &b);
  s1.counter = s2.counter = s3.counter = s4.counter = &counter;
  send_async (a, big, NULL, &s1);
  send_async (a, m2, NULL, &s2);
  send_async (a, m3, cancellable, &s3);
  send_async (a, m4, NULL, &s4);

  g_cancellable_cancel (cancellable);
  WAIT_UNTIL (NULL, result_done (&s3));
  assert_error (&s3, G_IO_ERROR_CANCELLED);
  g_assert_false (result_done (&s1) || result_done (&s2) || result_done (&s4));

  collector = collector_new (b, 3);
  WAIT_UNTIL (NULL, result_done (&s1) && result_done (&s2) && result_done (&s4));
  collector_join (collector, expected, 3);
  g_assert_true (s1.ok && s2.ok && s4.ok);
  g_assert_cmpuint (s1.order, <, s2.order);
  g_assert_cmpuint (s2.order, <, s4.order);
  assert_nothing_more (b);

  result_clear (&s1);
  result_clear (&s2);
  result_clear (&s3);
  result_clear (&s4);
}

/* ---- close ------------------------------------------------------------ */

typedef enum
{
  CLOSE_SAME_THREAD,
  CLOSE_OTHER_THREAD,
  CLOSE_ASYNC,
} CloseMode;

static gpointer
close_thread (gpointer data)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (sw_connection_close (data, NULL, &error));
  g_assert_no_error (error);
  return NULL;
}

/* Receives and sends in progress and queued, in this context, in a
 * worker's context and in a blocking thread: close wakes each with
 * CLOSED. */
static void
test_close_pending (gconstpointer data)
{
  CloseMode mode = GPOINTER_TO_INT (data);
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) m = text ("never");
  Result r1 = { 0 }, r2 = { 0 }, s1 = { 0 }, s2 = { 0 }, c = { 0 }, late = { 0 };
  Worker *worker_receive, *worker_send;
  Blocker *blocked_receive = NULL, *blocked_send = NULL;
  GThread *closer = NULL;
  gboolean observe = sw_test_can_observe_threads ();

  make_pair (&a, &b);
  fill_send_buffer (a);

  receive_async (a, NULL, &r1);    /* in progress: nothing to read */
  receive_async (a, NULL, &r2);    /* queued */
  send_async (a, m, NULL, &s1);    /* in progress: buffer full, uncommitted */
  send_async (a, m, NULL, &s2);    /* queued */
  worker_receive = worker_new (a, WORKER_RECEIVE, NULL, TRUE);
  worker_send = worker_new (a, WORKER_SEND, m, TRUE);
  if (observe)
    {
      blocked_receive = blocker_new (a, NULL);
      blocked_send = blocker_new (a, m);
    }
  g_assert_false (result_done (&r1) || result_done (&r2)
                  || result_done (&s1) || result_done (&s2));

  switch (mode)
    {
    case CLOSE_SAME_THREAD:
      close_thread (a);
      break;
    case CLOSE_OTHER_THREAD:
      closer = g_thread_new ("closer", close_thread, a);
      break;
    case CLOSE_ASYNC:
      sw_connection_close_async (a, PRIO, NULL, on_done, &c);
      break;
    default:
      g_assert_not_reached ();
    }

  WAIT_UNTIL (NULL, result_done (&r1) && result_done (&r2)
                    && result_done (&s1) && result_done (&s2)
                    && (mode != CLOSE_ASYNC || result_done (&c)));
  assert_error (&r1, G_IO_ERROR_CLOSED);
  assert_error (&r2, G_IO_ERROR_CLOSED);
  assert_error (&s1, G_IO_ERROR_CLOSED);
  assert_error (&s2, G_IO_ERROR_CLOSED);
  if (mode == CLOSE_ASYNC)
    {
      g_assert_no_error (c.error);
      g_assert_true (c.ok);
    }
  if (closer != NULL)
    g_thread_join (closer);

  worker_join (worker_receive);
  worker_join (worker_send);
  assert_error (&worker_receive->result, G_IO_ERROR_CLOSED);
  assert_error (&worker_send->result, G_IO_ERROR_CLOSED);
  if (observe)
    {
      blocker_join (blocked_receive);
      blocker_join (blocked_send);
      g_assert_error (blocked_receive->error, G_IO_ERROR, G_IO_ERROR_CLOSED);
      g_assert_error (blocked_send->error, G_IO_ERROR, G_IO_ERROR_CLOSED);
      blocker_free (blocked_receive);
      blocker_free (blocked_send);
    }
  g_assert_true (sw_connection_get_closed (a));

  receive_async (a, NULL, &late);
  WAIT_UNTIL (NULL, result_done (&late));
  assert_error (&late, G_IO_ERROR_CLOSED);

  worker_free (worker_receive);
  worker_free (worker_send);
  result_clear (&r1);
  result_clear (&r2);
  result_clear (&s1);
  result_clear (&s2);
  result_clear (&c);
  result_clear (&late);
}

/* close() inside a callback, in the very context that runs the other
 * pending calls. */
typedef struct
{
  Result        result;
  SwConnection *connection;
} CloseOnDone;

static void
on_done_then_close (GObject      *source,
                    GAsyncResult *res,
                    gpointer      user_data)
{
  CloseOnDone *cod = user_data;
  g_autoptr(GError) error = NULL;

  on_done (source, res, &cod->result);
  g_assert_true (sw_connection_close (cod->connection, NULL, &error));
  g_assert_no_error (error);
}

/* Runs @path in a subprocess: a deadlock there fails the test after a
 * generous watchdog instead of hanging the whole suite. */
static void
run_in_subprocess (const char *path)
{
  if (!g_test_subprocess ())
    {
      g_test_trap_subprocess (path, 30 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
      g_test_trap_assert_passed ();
    }
}

static void
test_close_from_callback (void)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) m = text ("trigger");
  CloseOnDone first = { { 0 }, NULL };
  Result r2 = { 0 }, r3 = { 0 }, s1 = { 0 };

  if (!g_test_subprocess ())
    {
      run_in_subprocess ("/sw/async/close/from-callback");
      return;
    }

  make_pair (&a, &b);
  first.connection = a;
  fill_send_buffer (a);
  sw_connection_receive_message_async (a, PRIO, NULL, on_done_then_close, &first);
  receive_async (a, NULL, &r2);
  receive_async (a, NULL, &r3);
  send_async (a, m, NULL, &s1);

  send_sync (b, m);
  WAIT_UNTIL (NULL, result_done (&first.result) && result_done (&r2)
                    && result_done (&r3) && result_done (&s1));
  assert_message (&first.result, m);
  assert_error (&r2, G_IO_ERROR_CLOSED);
  assert_error (&r3, G_IO_ERROR_CLOSED);
  assert_error (&s1, G_IO_ERROR_CLOSED);
  g_assert_true (sw_connection_get_closed (a));

  result_clear (&first.result);
  result_clear (&r2);
  result_clear (&r3);
  result_clear (&s1);
}

/* close() from the thread that runs the calls, between two iterations:
 * the first receive completed and handed the lock to the next one, whose
 * start is due in this context. */
static void
test_close_after_hand_off (void)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) m = text ("first");
  g_autoptr(GError) error = NULL;
  Result r1 = { 0 }, r2 = { 0 };

  if (!g_test_subprocess ())
    {
      run_in_subprocess ("/sw/async/close/after-hand-off");
      return;
    }

  make_pair (&a, &b);
  receive_async (a, NULL, &r1);
  receive_async (a, NULL, &r2);
  send_sync (b, m);
  WAIT_UNTIL (NULL, result_done (&r1));
  assert_message (&r1, m);

  g_assert_true (sw_connection_close (a, NULL, &error));
  g_assert_no_error (error);
  WAIT_UNTIL (NULL, result_done (&r2));
  assert_error (&r2, G_IO_ERROR_CLOSED);

  result_clear (&r1);
  result_clear (&r2);
}

/* Whether close() has begun: a call that may not wait then fails with
 * CLOSED instead of TIMED_OUT (nothing is ever sent to @c here). */
static gboolean
close_has_begun (SwConnection *c)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = sw_connection_receive_bytes (c, 1, 0, NULL, &error);

  g_assert_null (bytes);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CLOSED))
    return TRUE;
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  return FALSE;
}

/* A committed send when close comes: it succeeds and the peer gets the
 * whole frame; the send queued behind it fails with CLOSED. */
static void
test_close_committed_send (gconstpointer data)
{
  CloseMode mode = GPOINTER_TO_INT (data);
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) big = sw_test_pattern_bytes (BIG_SIZE, 14);
  g_autoptr(GBytes) m = text ("queued");
  Result s1 = { 0 }, s2 = { 0 }, c = { 0 }, rb1 = { 0 }, rb2 = { 0 };
  GThread *closer = NULL;

  make_pair (&a, &b);
  send_async (a, big, NULL, &s1);
  send_async (a, m, NULL, &s2);
  g_assert_true (pending_input (b) > 0);

  /* close() finishes the committed frame, so it waits for the peer: it
   * cannot run in this thread, which reads for the peer. */
  if (mode == CLOSE_ASYNC)
    sw_connection_close_async (a, PRIO, NULL, on_done, &c);
  else
    closer = g_thread_new ("closer", close_thread, a);
  while (!close_has_begun (a))
    g_thread_yield ();

  receive_async (b, NULL, &rb1);
  WAIT_UNTIL (NULL, result_done (&s1) && result_done (&s2) && result_done (&rb1)
                    && (mode != CLOSE_ASYNC || result_done (&c)));
  g_assert_no_error (s1.error);
  g_assert_true (s1.ok);
  assert_error (&s2, G_IO_ERROR_CLOSED);
  assert_message (&rb1, big);
  if (closer != NULL)
    g_thread_join (closer);
  else
    g_assert_true (c.ok);

  receive_async (b, NULL, &rb2);
  WAIT_UNTIL (NULL, result_done (&rb2));
  assert_error (&rb2, G_IO_ERROR_CONNECTION_CLOSED);

  result_clear (&s1);
  result_clear (&s2);
  result_clear (&c);
  result_clear (&rb1);
  result_clear (&rb2);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/sw/async/cancel/before-call", test_cancel_before_call);
  g_test_add_func ("/sw/async/cancel/receive-trickle", test_cancel_receive_trickle);
  g_test_add_func ("/sw/async/cancel/receive-completed", test_cancel_receive_completed);
  g_test_add_func ("/sw/async/cancel/queued-receive", test_cancel_queued_receive);
  g_test_add_func ("/sw/async/cancel/queued-blocking", test_cancel_queued_blocking);
  g_test_add_func ("/sw/async/cancel/send-before-first-byte", test_cancel_send_before_first_byte);
  g_test_add_data_func ("/sw/async/cancel/send-committed/next-send",
                        GINT_TO_POINTER (FALSE), test_cancel_send_committed);
  g_test_add_data_func ("/sw/async/cancel/send-committed/flush",
                        GINT_TO_POINTER (TRUE), test_cancel_send_committed);
  g_test_add_func ("/sw/async/cancel/queued-send", test_cancel_queued_send);
  g_test_add_data_func ("/sw/async/close/same-thread",
                        GINT_TO_POINTER (CLOSE_SAME_THREAD), test_close_pending);
  g_test_add_data_func ("/sw/async/close/other-thread",
                        GINT_TO_POINTER (CLOSE_OTHER_THREAD), test_close_pending);
  g_test_add_data_func ("/sw/async/close/async",
                        GINT_TO_POINTER (CLOSE_ASYNC), test_close_pending);
  g_test_add_func ("/sw/async/close/from-callback", test_close_from_callback);
  g_test_add_func ("/sw/async/close/after-hand-off", test_close_after_hand_off);
  g_test_add_data_func ("/sw/async/close/committed-send/other-thread",
                        GINT_TO_POINTER (CLOSE_OTHER_THREAD), test_close_committed_send);
  g_test_add_data_func ("/sw/async/close/committed-send/async",
                        GINT_TO_POINTER (CLOSE_ASYNC), test_close_committed_send);

  return g_test_run ();
}
