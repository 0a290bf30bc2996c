/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The async API of SwConnection (DESIGN §4 "Threads and main contexts"):
 * every _async/_finish pair round-trips; callbacks run in the caller's
 * thread-default main context; references held by pending calls; receive
 * and send in parallel; one FIFO per direction shared by blocking threads
 * and async calls of any main context. Cancellation and close:
 * test-async-cancel.c.
 *
 * No sleeps: a test waits by iterating the main context that runs the
 * callbacks, or by joining a thread. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sw-test-util.h"
#include "test-async-util.h"

/* ---- round trips ------------------------------------------------------ */

static void
test_roundtrip_message (void)
{
  const gsize sizes[] = { 0, 1, 240, 241, 2287, 2288, 67823, 67824,
                          1024 * 1024, BIG_SIZE };
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;

  make_pair (&a, &b);
  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      g_autoptr(GBytes) m = sw_test_pattern_bytes (sizes[i], i);
      Result s = { 0 }, r = { 0 };
      SwConnection *from = i % 2 ? b : a;
      SwConnection *to = i % 2 ? a : b;

      /* Receive first, send second and the other way round: each waits
       * for the other in the same context. */
      if (i % 3 == 0)
        {
          receive_async (to, NULL, &r);
          send_async (from, m, NULL, &s);
        }
      else
        {
          send_async (from, m, NULL, &s);
          receive_async (to, NULL, &r);
        }
      WAIT_UNTIL (NULL, result_done (&s) && result_done (&r));
      g_assert_no_error (s.error);
      g_assert_true (s.ok);
      assert_message (&r, m);
      g_assert_true (sw_test_pattern_check (r.bytes, i));
      result_clear (&s);
      result_clear (&r);
    }
}

static void
test_roundtrip_bytes (void)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) data = sw_test_pattern_bytes (BIG_SIZE, 7);
  gsize sent = 0, received = 0;

  make_pair (&a, &b);

  /* All of it, received while it is sent. */
  {
    Result s = { 0 }, r = { 0 };

    sw_connection_send_bytes_async (a, data, PRIO, NULL, on_done, &s);
    sw_connection_receive_bytes_async (b, BIG_SIZE, PRIO, NULL, on_done, &r);
    WAIT_UNTIL (NULL, result_done (&s) && result_done (&r));
    g_assert_no_error (s.error);
    g_assert_cmpint (s.count, ==, BIG_SIZE);
    assert_message (&r, data);
    result_clear (&s);
    result_clear (&r);
  }

  /* Cancelled once some bytes are out: the count says how many. */
  while (sent < BIG_SIZE)
    {
      g_autoptr(GBytes) rest = g_bytes_new_from_bytes (data, sent, BIG_SIZE - sent);
      g_autoptr(GCancellable) cancellable = g_cancellable_new ();
      Result s = { 0 }, r = { 0 };

      sw_connection_send_bytes_async (a, rest, PRIO, cancellable, on_done, &s);
      while (pending_input (b) == 0 && !result_done (&s))
        g_main_context_iteration (NULL, TRUE);
      g_cancellable_cancel (cancellable);
      WAIT_UNTIL (NULL, result_done (&s));
      g_assert_no_error (s.error);
      g_assert_cmpint (s.count, >=, 1);
      g_assert_cmpint (s.count, <=, (gssize) (BIG_SIZE - sent));

      sw_connection_receive_bytes_async (b, s.count, PRIO, NULL, on_done, &r);
      WAIT_UNTIL (NULL, result_done (&r));
      g_assert_no_error (r.error);
      g_assert_cmpuint (g_bytes_get_size (r.bytes), ==, (gsize) s.count);
      g_assert_cmpmem (g_bytes_get_data (r.bytes, NULL), s.count,
                       (const guint8 *) g_bytes_get_data (data, NULL) + sent, s.count);
      sent += s.count;
      result_clear (&s);
      result_clear (&r);
    }

  /* Blind receives: whatever is there, at least one byte. */
  {
    g_autoptr(GBytes) small = text ("blind");
    Result s = { 0 };

    sw_connection_send_bytes_async (b, small, PRIO, NULL, on_done, &s);
    WAIT_UNTIL (NULL, result_done (&s));
    g_assert_cmpint (s.count, ==, 5);
    while (received < 5)
      {
        Result r = { 0 };

        sw_connection_receive_bytes_async (a, -1, PRIO, NULL, on_done, &r);
        WAIT_UNTIL (NULL, result_done (&r));
        g_assert_no_error (r.error);
        g_assert_cmpuint (g_bytes_get_size (r.bytes), >=, 1);
        g_assert_cmpmem (g_bytes_get_data (r.bytes, NULL), g_bytes_get_size (r.bytes),
                         &"blind"[received], g_bytes_get_size (r.bytes));
        received += g_bytes_get_size (r.bytes);
        result_clear (&r);
      }
    g_assert_cmpuint (received, ==, 5);
    result_clear (&s);
  }
}

static void
test_roundtrip_flush (void)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) m = text ("flushed");
  Result f = { 0 };

  make_pair (&a, &b);

  /* Nothing to flush. */
  sw_connection_flush_async (a, PRIO, NULL, on_done, &f);
  WAIT_UNTIL (NULL, result_done (&f));
  g_assert_no_error (f.error);
  g_assert_true (f.ok);
  result_clear (&f);

  send_sync (a, m);
  sw_connection_flush_async (a, PRIO, NULL, on_done, &f);
  WAIT_UNTIL (NULL, result_done (&f));
  g_assert_true (f.ok);
  assert_receive_sync (b, m);
  result_clear (&f);
}

static void
test_roundtrip_close (void)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) none = NULL;
  Result c = { 0 }, r = { 0 };

  make_pair (&a, &b);
  sw_connection_close_async (a, PRIO, NULL, on_done, &c);
  WAIT_UNTIL (NULL, result_done (&c));
  g_assert_no_error (c.error);
  g_assert_true (c.ok);
  g_assert_true (sw_connection_get_closed (a));
  result_clear (&c);

  /* Twice is harmless. */
  sw_connection_close_async (a, PRIO, NULL, on_done, &c);
  WAIT_UNTIL (NULL, result_done (&c));
  g_assert_true (c.ok);
  result_clear (&c);

  /* Calls after close fail in their callback. */
  receive_async (a, NULL, &r);
  WAIT_UNTIL (NULL, result_done (&r));
  assert_error (&r, G_IO_ERROR_CLOSED);
  result_clear (&r);

  /* The peer sees EOF at a message boundary. */
  none = sw_connection_receive_message (b, -1, NULL, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
  g_assert_null (none);
}

static void
test_roundtrip_pipe (void)
{
  g_autoptr(SwConnection) reader = NULL;
  g_autoptr(SwConnection) writer = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) m = sw_test_pattern_bytes (BIG_SIZE, 3);
  Result s = { 0 }, r = { 0 };

  g_assert_true (sw_pipe (sw_framing_get_default (), &reader, &writer, &error));
  g_assert_no_error (error);

  send_async (writer, m, NULL, &s);
  receive_async (reader, NULL, &r);
  WAIT_UNTIL (NULL, result_done (&s) && result_done (&r));
  g_assert_true (s.ok);
  assert_message (&r, m);
  result_clear (&s);
  result_clear (&r);

  /* A receive on the write end is not supported, and says so async. */
  receive_async (writer, NULL, &r);
  WAIT_UNTIL (NULL, result_done (&r));
  assert_error (&r, G_IO_ERROR_NOT_SUPPORTED);
  result_clear (&r);
}

/* ---- where callbacks run ---------------------------------------------- */

/* A worker that pushed its own context gets its callbacks there, in its
 * thread, never in the global default context. */
static void
test_context_worker (void)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) to_worker = text ("to worker");
  g_autoptr(GBytes) from_worker = text ("from worker");
  Worker *receiver, *sender;

  make_pair (&a, &b);
  receiver = worker_new (b, WORKER_RECEIVE, NULL, TRUE);
  sender = worker_new (b, WORKER_SEND, from_worker, TRUE);

  send_sync (a, to_worker);
  assert_receive_sync (a, from_worker);

  worker_join (receiver);
  worker_join (sender);
  assert_message (&receiver->result, to_worker);
  g_assert_true (sender->result.ok);
  g_assert_true (receiver->result.thread != g_thread_self ());
  g_assert_true (receiver->self != sender->self);
  worker_free (receiver);
  worker_free (sender);
}

/* Without a thread-default context, callbacks go to the global default
 * context: to the main thread iterating it, even for calls made from
 * another thread. */
static void
test_context_global_default (void)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) m1 = text ("one");
  g_autoptr(GBytes) m2 = text ("two");
  Result r = { 0 };
  Worker *w;

  make_pair (&a, &b);

  receive_async (b, NULL, &r);
  send_sync (a, m1);
  WAIT_UNTIL (NULL, result_done (&r));
  assert_message (&r, m1);
  g_assert_true (r.thread == g_thread_self ());
  g_assert_true (r.owned_default);
  g_assert_null (r.thread_default);
  result_clear (&r);

  /* The call made from a thread that pushed no context. */
  w = worker_new (b, WORKER_RECEIVE, NULL, FALSE);
  g_thread_join (w->thread);
  g_assert_false (result_done (&w->result));
  send_sync (a, m2);
  WAIT_UNTIL (NULL, result_done (&w->result));
  assert_message (&w->result, m2);
  g_assert_true (w->result.thread == g_thread_self ());
  g_assert_true (w->result.owned_default);
  worker_free (w);
}

#define N_CONTEXTS 4

/* Several contexts queue on one connection: each is served in the order
 * it called, and each callback runs in its own thread and context. */
static void
test_context_several (void)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  Worker *receivers[N_CONTEXTS];
  Worker *senders[N_CONTEXTS];
  GBytes *to[N_CONTEXTS];
  GBytes *from[N_CONTEXTS];
  gboolean seen[N_CONTEXTS] = { FALSE, };

  make_pair (&a, &b);
  for (guint i = 0; i < N_CONTEXTS; i++)
    {
      to[i] = g_bytes_new_take (g_strdup_printf ("to %u", i), strlen ("to 0"));
      from[i] = g_bytes_new_take (g_strdup_printf ("from %u", i), strlen ("from 0"));
      /* worker_new returns once the call is queued: FIFO order is i. */
      receivers[i] = worker_new (b, WORKER_RECEIVE, NULL, TRUE);
    }
  for (guint i = 0; i < N_CONTEXTS; i++)
    senders[i] = worker_new (b, WORKER_SEND, from[i], TRUE);

  for (guint i = 0; i < N_CONTEXTS; i++)
    send_sync (a, to[i]);
  for (guint i = 0; i < N_CONTEXTS; i++)
    {
      g_autoptr(GBytes) bytes = receive_sync (a);
      guint k;

      g_assert_cmpuint (g_bytes_get_size (bytes), ==, strlen ("from 0"));
      k = ((const char *) g_bytes_get_data (bytes, NULL))[5] - '0';
      g_assert_cmpuint (k, <, N_CONTEXTS);
      g_assert_false (seen[k]);
      seen[k] = TRUE;
      g_assert_true (g_bytes_equal (bytes, from[k]));
    }

  for (guint i = 0; i < N_CONTEXTS; i++)
    {
      worker_join (receivers[i]);
      worker_join (senders[i]);
      assert_message (&receivers[i]->result, to[i]);
      g_assert_true (senders[i]->result.ok);
      worker_free (receivers[i]);
      worker_free (senders[i]);
      g_bytes_unref (to[i]);
      g_bytes_unref (from[i]);
    }
}

/* ---- references ------------------------------------------------------- */

/* Dropping the last user reference while calls are pending neither
 * cancels them nor frees the connection under them. */
static void
test_unref_pending_receive (void)
{
  SwConnection *a = NULL, *b = NULL;
  g_autoptr(GBytes) m = text ("to the orphan");
  Result r1 = { 0 }, r2 = { 0 };
  gpointer weak;

  make_pair (&a, &b);
  receive_async (b, NULL, &r1);
  receive_async (b, NULL, &r2);
  weak = b;
  g_object_add_weak_pointer (G_OBJECT (b), &weak);
  g_object_unref (b);
  g_assert_nonnull (weak);

  send_sync (a, m);
  g_assert_true (sw_connection_close (a, NULL, NULL));
  WAIT_UNTIL (NULL, result_done (&r1) && result_done (&r2));
  assert_message (&r1, m);
  assert_error (&r2, G_IO_ERROR_CONNECTION_CLOSED);

  while (g_main_context_pending (NULL))
    g_main_context_iteration (NULL, FALSE);
  g_assert_null (weak);

  g_object_unref (a);
  result_clear (&r1);
  result_clear (&r2);
}

static void
test_unref_pending_send (void)
{
  SwConnection *a = NULL, *b = NULL;
  g_autoptr(GBytes) big = sw_test_pattern_bytes (BIG_SIZE, 15);
  g_autoptr(GBytes) m = text ("last");
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) none = NULL;
  GBytes *expected[2] = { big, m };
  Result s1 = { 0 }, s2 = { 0 };
  Collector *collector;
  gpointer weak;

  make_pair (&a, &b);
  send_async (a, big, NULL, &s1);
  send_async (a, m, NULL, &s2);
  weak = a;
  g_object_add_weak_pointer (G_OBJECT (a), &weak);
  g_object_unref (a);
  g_assert_nonnull (weak);

  collector = collector_new (b, 2);
  WAIT_UNTIL (NULL, result_done (&s1) && result_done (&s2));
  g_assert_true (s1.ok && s2.ok);
  collector_join (collector, expected, 2);

  while (g_main_context_pending (NULL))
    g_main_context_iteration (NULL, FALSE);
  g_assert_null (weak);

  /* Finalizing closed the socket: the peer sees EOF. */
  none = sw_connection_receive_message (b, -1, NULL, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);

  g_object_unref (b);
  result_clear (&s1);
  result_clear (&s2);
}

/* ---- duplex ----------------------------------------------------------- */

static gpointer
echo_size_thread (gpointer data)
{
  SwConnection *c = data;
  g_autoptr(GBytes) received = receive_sync (c);
  g_autofree char *reply = g_strdup_printf ("%" G_GSIZE_FORMAT,
                                            g_bytes_get_size (received));
  g_autoptr(GBytes) reply_bytes = text (reply);

  g_assert_true (sw_test_pattern_check (received, 16));
  send_sync (c, reply_bytes);
  return NULL;
}

/* A receive waiting on a connection does not hold up a send on it: the
 * peer replies only once it has the whole big message. */
static void
test_duplex_concurrent (void)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) big = sw_test_pattern_bytes (BIG_SIZE, 16);
  g_autofree char *size = g_strdup_printf ("%d", BIG_SIZE);
  g_autoptr(GBytes) expected = text (size);
  Result r = { 0 }, s = { 0 };
  GThread *peer;

  make_pair (&a, &b);
  receive_async (a, NULL, &r);
  send_async (a, big, NULL, &s);
  peer = g_thread_new ("echo", echo_size_thread, b);
  WAIT_UNTIL (NULL, result_done (&r) && result_done (&s));
  g_thread_join (peer);
  g_assert_true (s.ok);
  assert_message (&r, expected);

  result_clear (&r);
  result_clear (&s);
}

/* ---- FIFO across blocking threads and contexts ------------------------ */

/* Behind a holder waiting for data, queue in turn: an async call here, a
 * blocking thread, an async call in a worker's context, a blocking
 * thread, an async call here. Each is queued before the next one comes,
 * so the messages must be handed out in exactly that order. */
static void
test_fifo_receive (void)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  GBytes *m[6];
  Result holder = { 0 }, a1 = { 0 }, a3 = { 0 };
  Blocker *t2, *t3;
  Worker *w;

  if (!sw_test_can_observe_threads ())
    return;

  make_pair (&a, &b);
  numbered_messages (m, 0, G_N_ELEMENTS (m));

  receive_async (b, NULL, &holder);
  receive_async (b, NULL, &a1);
  t2 = blocker_new (b, NULL);
  w = worker_new (b, WORKER_RECEIVE, NULL, TRUE);
  t3 = blocker_new (b, NULL);
  receive_async (b, NULL, &a3);

  for (guint i = 0; i < G_N_ELEMENTS (m); i++)
    send_sync (a, m[i]);
  WAIT_UNTIL (NULL, result_done (&holder) && result_done (&a1) && result_done (&a3));
  blocker_join (t2);
  blocker_join (t3);
  worker_join (w);

  assert_message (&holder, m[0]);
  assert_message (&a1, m[1]);
  g_assert_no_error (t2->error);
  g_assert_true (g_bytes_equal (t2->received, m[2]));
  assert_message (&w->result, m[3]);
  g_assert_no_error (t3->error);
  g_assert_true (g_bytes_equal (t3->received, m[4]));
  assert_message (&a3, m[5]);

  blocker_free (t2);
  blocker_free (t3);
  worker_free (w);
  result_clear (&holder);
  result_clear (&a1);
  result_clear (&a3);
  messages_free (m, G_N_ELEMENTS (m));
}

/* The same for sends, behind a committed frame the peer does not read
 * yet: the frames go out in queue order. */
static void
test_fifo_send (void)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  GBytes *m[6];
  Result holder = { 0 }, a1 = { 0 }, a3 = { 0 };
  Blocker *t2, *t3;
  Worker *w;
  Collector *collector;

  if (!sw_test_can_observe_threads ())
    return;

  make_pair (&a, &b);
  m[0] = sw_test_pattern_bytes (BIG_SIZE, 17);
  numbered_messages (m, 1, G_N_ELEMENTS (m));

  send_async (a, m[0], NULL, &holder);
  g_assert_true (pending_input (b) > 0);
  send_async (a, m[1], NULL, &a1);
  t2 = blocker_new (a, m[2]);
  w = worker_new (a, WORKER_SEND, m[3], TRUE);
  t3 = blocker_new (a, m[4]);
  send_async (a, m[5], NULL, &a3);

  collector = collector_new (b, G_N_ELEMENTS (m));
  WAIT_UNTIL (NULL, result_done (&holder) && result_done (&a1) && result_done (&a3));
  blocker_join (t2);
  blocker_join (t3);
  worker_join (w);
  collector_join (collector, m, G_N_ELEMENTS (m));

  g_assert_true (holder.ok && a1.ok && a3.ok && w->result.ok);
  g_assert_true (t2->ok && t3->ok);

  blocker_free (t2);
  blocker_free (t3);
  worker_free (w);
  result_clear (&holder);
  result_clear (&a1);
  result_clear (&a3);
  messages_free (m, G_N_ELEMENTS (m));
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/sw/async/roundtrip/message", test_roundtrip_message);
  g_test_add_func ("/sw/async/roundtrip/bytes", test_roundtrip_bytes);
  g_test_add_func ("/sw/async/roundtrip/flush", test_roundtrip_flush);
  g_test_add_func ("/sw/async/roundtrip/close", test_roundtrip_close);
  g_test_add_func ("/sw/async/roundtrip/pipe", test_roundtrip_pipe);
  g_test_add_func ("/sw/async/context/worker-thread", test_context_worker);
  g_test_add_func ("/sw/async/context/global-default", test_context_global_default);
  g_test_add_func ("/sw/async/context/several", test_context_several);
  g_test_add_func ("/sw/async/unref/pending-receive", test_unref_pending_receive);
  g_test_add_func ("/sw/async/unref/pending-send", test_unref_pending_send);
  g_test_add_func ("/sw/async/duplex/concurrent", test_duplex_concurrent);
  g_test_add_func ("/sw/async/fifo/receive", test_fifo_receive);
  g_test_add_func ("/sw/async/fifo/send", test_fifo_send);

  return g_test_run ();
}
