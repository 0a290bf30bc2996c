/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Adversarial cases for the receive loop, progress signals and spawned
 * children, tried the way applications use them. Each case runs in a
 * subprocess with a time bound, so a case that hangs fails instead of
 * stalling the suite; with SW_TEST_DIRECT set a case runs in the test
 * process itself (SW_TEST_DIRECT=1 valgrind test-attack-loop -p PATH). */

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <socketwrapper/socketwrapper.h>

#include "sw-test-util.h"

#define BOUND_US (20 * G_USEC_PER_SEC)

/* ---- recorder ------------------------------------------------------------ */

typedef struct
{
  SwConnection *a;     /* the sender */
  SwConnection *b;     /* the receiver, running the loop */
  guint         n_messages;
  guint32       next;  /* the number expected next */
  gboolean      out_of_order;
  guint         n_values;
  guint         n_errors;
  GError       *last_error;
  guint         n_closed;
  gboolean      closed_remote;
  GError       *closed_error;
  guint         n_notify;
  /* Behaviour of the ::message handler. */
  gboolean      restart_each;     /* stop + start in each emission */
  guint         close_at;         /* close() at this count; 0: never */
  guint         close_async_at;   /* close_async() at this count */
  gboolean      toggle_codec;
  volatile gint seen;             /* for other threads */
} Rec;

static guint32
seq_of (GBytes *message)
{
  guint32 seq;

  g_assert_cmpuint (g_bytes_get_size (message), ==, sizeof seq);
  memcpy (&seq, g_bytes_get_data (message, NULL), sizeof seq);
  return seq;
}

static void
on_close_async_done (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  sw_connection_close_finish (SW_CONNECTION (source), result, &error);
  g_assert_no_error (error);
  (*(guint *) user_data)++;
}

static guint n_close_async_done;

static void
rec_on_message (SwConnection *c,
                GBytes       *message,
                Rec          *r)
{
  if (g_bytes_get_size (message) == sizeof (guint32))
    {
      if (seq_of (message) != r->next)
        r->out_of_order = TRUE;
      r->next = seq_of (message) + 1;
    }
  r->n_messages++;
  g_atomic_int_set (&r->seen, (gint) r->n_messages);
  if (r->restart_each)
    {
      sw_connection_stop_receiving (c);
      sw_connection_start_receiving (c);
    }
  if (r->toggle_codec)
    {
      g_autoptr(SwCodec) codec = SW_CODEC (sw_gvariant_codec_new ());

      sw_connection_set_codec (c, (r->n_messages % 2) ? codec : NULL);
    }
  if (r->close_at != 0 && r->n_messages == r->close_at)
    g_assert_true (sw_connection_close (c, NULL, NULL));
  if (r->close_async_at != 0 && r->n_messages == r->close_async_at)
    sw_connection_close_async (c, G_PRIORITY_DEFAULT, NULL, on_close_async_done, &n_close_async_done);
}

static void
rec_on_value (SwConnection *c,
              GVariant     *value,
              Rec          *r)
{
  r->n_values++;
}

static void
rec_on_error (SwConnection *c,
              GError       *error,
              Rec          *r)
{
  r->n_errors++;
  g_clear_error (&r->last_error);
  r->last_error = g_error_copy (error);
  /* A loop that spins on ::error must not stall the case. */
  if (r->n_errors > 1000)
    sw_connection_stop_receiving (c);
}

static void
rec_on_closed (SwConnection *c,
               gboolean      remote,
               GError       *error,
               Rec          *r)
{
  r->n_closed++;
  r->closed_remote = remote;
  g_clear_error (&r->closed_error);
  r->closed_error = error ? g_error_copy (error) : NULL;
}

static void
rec_on_notify (GObject    *object,
               GParamSpec *pspec,
               Rec        *r)
{
  r->n_notify++;
}

static void
rec_attach (Rec          *r,
            SwConnection *b)
{
  g_signal_connect (b, "message", G_CALLBACK (rec_on_message), r);
  g_signal_connect (b, "value", G_CALLBACK (rec_on_value), r);
  g_signal_connect (b, "error", G_CALLBACK (rec_on_error), r);
  g_signal_connect (b, "closed", G_CALLBACK (rec_on_closed), r);
  g_signal_connect (b, "notify::receiving", G_CALLBACK (rec_on_notify), r);
}

static void
rec_init_type (Rec          *r,
               GSocketType   type,
               SwFraming    *framing)
{
  g_autoptr(GError) error = NULL;

  memset (r, 0, sizeof *r);
  g_assert_true (sw_socketpair (G_SOCKET_FAMILY_UNIX, type,
                                framing ? framing : sw_framing_get_default (),
                                &r->a, &r->b, &error));
  g_assert_no_error (error);
  rec_attach (r, r->b);
}

static void
rec_init (Rec *r)
{
  rec_init_type (r, G_SOCKET_TYPE_STREAM, NULL);
}

static void
rec_clear (Rec *r)
{
  if (r->b != NULL)
    g_signal_handlers_disconnect_by_data (r->b, r);
  g_clear_object (&r->a);
  g_clear_object (&r->b);
  g_clear_error (&r->last_error);
  g_clear_error (&r->closed_error);
}

/* Sends seq first..first+n-1 in batches of 256 from this thread. */
static void
send_seq (SwConnection *c,
          guint32       first,
          guint         n)
{
  g_autoptr(GError) error = NULL;

  for (guint done = 0; done < n;)
    {
      GBytes *batch[256];
      guint k = MIN (256, n - done);

      for (guint i = 0; i < k; i++)
        {
          guint32 seq = first + done + i;

          batch[i] = g_bytes_new (&seq, sizeof seq);
        }
      g_assert_true (sw_connection_send_messages (c, batch, k, -1, NULL, &error));
      g_assert_no_error (error);
      for (guint i = 0; i < k; i++)
        g_bytes_unref (batch[i]);
      done += k;
    }
}

typedef struct
{
  SwConnection *c;
  guint32       first;
  guint         n;
  gboolean      shutdown_after;
} SendJob;

static gpointer
send_thread (gpointer data)
{
  SendJob *job = data;

  send_seq (job->c, job->first, job->n);
  if (job->shutdown_after)
    g_assert_true (sw_connection_shutdown_write (job->c, -1, NULL, NULL));
  return NULL;
}

static void
iterate_until_closed (Rec *r)
{
  gint64 end = g_get_monotonic_time () + 15 * G_USEC_PER_SEC;

  while (r->n_closed == 0 && sw_connection_get_receiving (r->b))
    {
      g_main_context_iteration (NULL, FALSE);
      g_assert_cmpint (g_get_monotonic_time (), <, end);
    }
  /* Anything emitted late (a second ::closed) shows up now. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

/* ---- the receive loop ---------------------------------------------------- */

/* 10 000 small messages while the handler stops and restarts the loop in
 * every emission: all arrive, in order, then ::closed once for the end. */
static void
test_restart_in_handler (void)
{
  Rec r;
  SendJob job;
  GThread *sender;

  if (!sw_test_run_bounded (BOUND_US))
    return;
  rec_init (&r);
  r.restart_each = TRUE;
  job = (SendJob) { r.a, 0, 10000, TRUE };
  sender = g_thread_new ("sender", send_thread, &job);
  sw_connection_start_receiving (r.b);
  iterate_until_closed (&r);
  g_thread_join (sender);
  g_assert_cmpuint (r.n_messages, ==, 10000);
  g_assert_false (r.out_of_order);
  g_assert_cmpuint (r.n_closed, ==, 1);
  g_assert_true (r.closed_remote);
  g_assert_cmpuint (r.n_errors, ==, 0);
  g_assert_false (sw_connection_get_receiving (r.b));
  rec_clear (&r);
}

typedef struct
{
  SwConnection *c;
  guint         n;
  volatile gint done;
} Toggler;

static gpointer
toggle_thread (gpointer data)
{
  Toggler *t = data;

  for (guint i = 0; i < t->n; i++)
    {
      sw_connection_stop_receiving (t->c);
      sw_connection_start_receiving (t->c);
    }
  g_atomic_int_set (&t->done, 1);
  return NULL;
}

/* Another thread stops and starts the loop 20 000 times while it emits
 * 10 000 messages: nothing lost, order kept, ::closed once at the end. */
static void
test_toggle_from_thread (void)
{
  Rec r;
  SendJob job;
  Toggler t;
  GThread *sender, *toggler;

  if (!sw_test_run_bounded (BOUND_US))
    return;
  rec_init (&r);
  job = (SendJob) { r.a, 0, 10000, FALSE };
  t = (Toggler) { r.b, 20000, 0 };
  /* The toggler's start_receiving() uses its own thread-default context:
   * make it the main one so the loop always runs here. */
  sender = g_thread_new ("sender", send_thread, &job);
  toggler = g_thread_new ("toggler", toggle_thread, &t);
  sw_connection_start_receiving (r.b);
  while (!g_atomic_int_get (&t.done))
    g_main_context_iteration (NULL, FALSE);
  g_thread_join (toggler);
  g_thread_join (sender);
  g_assert_true (sw_connection_shutdown_write (r.a, -1, NULL, NULL));
  sw_connection_start_receiving (r.b);
  iterate_until_closed (&r);
  g_assert_cmpuint (r.n_messages, ==, 10000);
  g_assert_false (r.out_of_order);
  g_assert_cmpuint (r.n_closed, ==, 1);
  g_assert_true (r.closed_remote);
  rec_clear (&r);
}

static gpointer
close_when_seen (gpointer data)
{
  Rec *r = data;

  while (g_atomic_int_get (&r->seen) < 100)
    g_thread_yield ();
  g_assert_true (sw_connection_close (r->b, NULL, NULL));
  return NULL;
}

/* close() from another thread while the loop emits a batch of 10 000:
 * the loop stops, ::closed (remote FALSE) once, no message after. */
static void
test_close_from_thread_mid_batch (void)
{
  Rec r;
  GThread *closer;
  guint at_close;

  if (!sw_test_run_bounded (BOUND_US))
    return;
  rec_init (&r);
  send_seq (r.a, 0, 10000);
  closer = g_thread_new ("closer", close_when_seen, &r);
  sw_connection_start_receiving (r.b);
  iterate_until_closed (&r);
  g_thread_join (closer);
  at_close = r.n_messages;
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_cmpuint (r.n_messages, ==, at_close);
  g_assert_false (r.out_of_order);
  g_assert_cmpuint (r.n_closed, ==, 1);
  g_assert_false (r.closed_remote);
  g_assert_false (sw_connection_get_receiving (r.b));
  rec_clear (&r);
}

/* close() and close_async() from a handler: ::closed once, remote FALSE,
 * the loop emits nothing more. */
static void
test_close_in_handler (void)
{
  for (guint use_async = 0; use_async < 2; use_async++)
    {
      Rec r;

      if (!sw_test_run_bounded (BOUND_US))
        return;
      rec_init (&r);
      n_close_async_done = 0;
      if (use_async)
        r.close_async_at = 5;
      else
        r.close_at = 5;
      send_seq (r.a, 0, 200);
      sw_connection_start_receiving (r.b);
      iterate_until_closed (&r);
      while (use_async && n_close_async_done == 0)
        g_main_context_iteration (NULL, TRUE);
      g_assert_cmpuint (r.n_messages, ==, 5);
      g_assert_cmpuint (r.n_closed, ==, 1);
      g_assert_false (r.closed_remote);
      g_assert_cmpuint (r.n_errors, ==, 0);
      rec_clear (&r);
    }
}

/* The user drops the last reference while the loop runs; the peer then
 * ends the stream: ::closed, and the connection is finalized. */
static void
test_unref_while_receiving (void)
{
  Rec r;
  gpointer weak;

  if (!sw_test_run_bounded (BOUND_US))
    return;
  rec_init (&r);
  send_seq (r.a, 0, 10);
  sw_connection_start_receiving (r.b);
  weak = r.b;
  g_object_add_weak_pointer (G_OBJECT (weak), &weak);
  r.b = NULL;
  g_object_unref (weak);
  g_assert_nonnull (weak);
  g_assert_true (sw_connection_shutdown_write (r.a, -1, NULL, NULL));
  while (r.n_closed == 0)
    g_main_context_iteration (NULL, TRUE);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_cmpuint (r.n_messages, ==, 10);
  g_assert_cmpuint (r.n_closed, ==, 1);
  g_assert_null (weak);
  rec_clear (&r);
}

/* close() then the last unref, with the loop running: finalized once the
 * loop has ended. Also with close() from another thread. */
static void
test_close_then_unref (void)
{
  Rec r;
  gpointer weak;

  if (!sw_test_run_bounded (BOUND_US))
    return;
  rec_init (&r);
  sw_connection_start_receiving (r.b);
  g_main_context_iteration (NULL, FALSE);
  weak = r.b;
  g_object_add_weak_pointer (G_OBJECT (weak), &weak);
  g_assert_true (sw_connection_close (r.b, NULL, NULL));
  g_object_unref (g_steal_pointer (&r.b));
  while (weak != NULL && r.n_closed == 0)
    g_main_context_iteration (NULL, TRUE);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_cmpuint (r.n_closed, ==, 1);
  g_assert_null (weak);
  rec_clear (&r);
}

/* The codec set and unset from the handler, message by message: ::value
 * exactly for messages emitted while a codec is set. */
static void
test_codec_toggle (void)
{
  Rec r;
  g_autoptr(GPtrArray) batch = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);

  if (!sw_test_run_bounded (BOUND_US))
    return;
  rec_init (&r);
  r.toggle_codec = TRUE;
  for (guint i = 0; i < 1000; i++)
    {
      g_autoptr(GVariant) v = g_variant_ref_sink (g_variant_new_uint32 (i));

      g_ptr_array_add (batch, g_variant_get_data_as_bytes (v));
    }
  g_assert_true (sw_connection_send_messages (r.a, (GBytes * const *) batch->pdata, batch->len,
                                              -1, NULL, NULL));
  g_assert_true (sw_connection_shutdown_write (r.a, -1, NULL, NULL));
  sw_connection_start_receiving (r.b);
  iterate_until_closed (&r);
  g_assert_cmpuint (r.n_messages, ==, 1000);
  /* Handler of message k (1-based) sets a codec when k is odd, so message
   * k+1 is decoded when k is odd: messages 2, 4, ... 1000. */
  g_assert_cmpuint (r.n_values + r.n_errors, ==, 500);
  g_assert_cmpuint (r.n_closed, ==, 1);
  rec_clear (&r);
}

/* The peer ends the stream in the middle of a frame: ::closed once,
 * remote, with PARTIAL_INPUT; the whole messages before it arrive. */
static void
test_remote_end_mid_frame (void)
{
  Rec r;
  int fds[2];
  guint8 partial[] = { 0, 0, 0, 100, 'x' };

  if (!sw_test_run_bounded (BOUND_US))
    return;
  memset (&r, 0, sizeof r);
  sw_test_raw_socketpair (SOCK_STREAM, fds);
  r.b = sw_test_connection_for_socket_fd (fds[1], sw_framing_get_default ());
  rec_attach (&r, r.b);
  /* varint: 0x05 then "hello", then a frame of 100 bytes cut after one. */
  sw_test_write_all (fds[0], "\x05hello", 6);
  partial[0] = 100;
  sw_test_write_all (fds[0], partial, 2);
  close (fds[0]);
  sw_connection_start_receiving (r.b);
  iterate_until_closed (&r);
  g_assert_cmpuint (r.n_messages, ==, 1);
  g_assert_cmpuint (r.n_closed, ==, 1);
  g_assert_true (r.closed_remote);
  g_assert_error (r.closed_error, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT);
  g_assert_cmpuint (r.n_errors, ==, 0);
  rec_clear (&r);
}

/* A malformed frame (MessagePack's reserved byte 0xc1) ends the loop with one
 * ::error and receiving FALSE, notified once each way. */
static void
test_invalid_frame (void)
{
  Rec r;
  int fds[2];
  g_autoptr(SwFraming) msgpack = SW_FRAMING (sw_msgpack_framing_new ());
  guint8 bad[16];

  if (!sw_test_run_bounded (BOUND_US))
    return;
  memset (&r, 0, sizeof r);
  sw_test_raw_socketpair (SOCK_STREAM, fds);
  r.b = sw_test_connection_for_socket_fd (fds[1], msgpack);
  rec_attach (&r, r.b);
  memset (bad, 0xc1, sizeof bad);  /* 0xc1: never used in MessagePack */
  sw_test_write_all (fds[0], bad, sizeof bad);
  sw_connection_start_receiving (r.b);
  iterate_until_closed (&r);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_cmpuint (r.n_errors, ==, 1);
  g_assert_nonnull (r.last_error);
  g_assert_false (sw_connection_get_receiving (r.b));
  g_assert_cmpuint (r.n_notify, ==, 2);
  g_assert_cmpuint (r.n_closed, ==, 0);
  close (fds[0]);
  rec_clear (&r);
}

/* MESSAGE_TOO_LARGE on a scanning framing: a frame bigger than
 * max-message-size, then a small one and the end. The loop must not spin
 * on ::error: at most one ::error per oversized frame. */
static void
too_large_on (SwFraming   *framing,
              GBytes      *big,
              GBytes      *small)
{
  Rec r;

  rec_init_type (&r, G_SOCKET_TYPE_STREAM, framing);
  sw_connection_set_max_message_size (r.b, 1024);
  g_assert_true (sw_connection_send_message (r.a, big, -1, NULL, NULL));
  g_assert_true (sw_connection_send_message (r.a, small, -1, NULL, NULL));
  g_assert_true (sw_connection_shutdown_write (r.a, -1, NULL, NULL));
  sw_connection_start_receiving (r.b);
  iterate_until_closed (&r);
  g_test_message ("errors %u messages %u closed %u: %s", r.n_errors, r.n_messages,
                  r.n_closed, r.last_error ? r.last_error->message : "-");
  g_assert_cmpuint (r.n_errors, >=, 1);
  g_assert_cmpuint (r.n_errors, <=, 2);
  g_assert_error (r.last_error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
  rec_clear (&r);
}

static void
test_too_large_delimiter (void)
{
  g_autoptr(GBytes) nl = g_bytes_new_static ("\n", 1);
  g_autoptr(SwFraming) framing = NULL;
  g_autofree char *text = g_malloc (100000);
  g_autoptr(GBytes) big = NULL;
  g_autoptr(GBytes) small = g_bytes_new_static ("ok", 2);

  if (!sw_test_run_bounded (BOUND_US))
    return;
  framing = SW_FRAMING (sw_delimiter_framing_new (nl));
  memset (text, 'a', 100000);
  big = g_bytes_new (text, 100000);
  too_large_on (framing, big, small);
}

static void
test_too_large_msgpack (void)
{
  g_autoptr(SwFraming) framing = NULL;
  g_autofree guint8 *data = g_malloc (100005);
  g_autoptr(GBytes) big = NULL;
  g_autoptr(GBytes) small = g_bytes_new_static ("\x01", 1);

  if (!sw_test_run_bounded (BOUND_US))
    return;
  framing = SW_FRAMING (sw_msgpack_framing_new ());
  /* An array of 100 000 positive fixints: scanned item by item. */
  data[0] = 0xdc;
  data[1] = (guint8) (100000 >> 8);  /* array16 holds at most 65535 */
  data[0] = 0xdd;
  data[1] = 0; data[2] = 0x01; data[3] = 0x86; data[4] = 0xa0;
  memset (data + 5, 0x01, 100000);
  big = g_bytes_new (data, 100005);
  too_large_on (framing, big, small);
}

/* The loop on datagram sockets: every datagram one message, in order;
 * on SEQPACKET the peer's close is ::closed once. */
static void
datagram_case (GSocketType type,
               gboolean    expect_end)
{
  Rec r;

  rec_init_type (&r, type, NULL);
  send_seq (r.a, 0, 100);
  if (expect_end)
    g_assert_true (sw_connection_close (r.a, NULL, NULL));
  sw_connection_start_receiving (r.b);
  while (r.n_messages < 100)
    g_main_context_iteration (NULL, TRUE);
  if (expect_end)
    iterate_until_closed (&r);
  else
    {
      g_assert_true (sw_connection_close (r.b, NULL, NULL));
      iterate_until_closed (&r);
    }
  g_assert_cmpuint (r.n_messages, ==, 100);
  g_assert_false (r.out_of_order);
  g_assert_cmpuint (r.n_closed, ==, 1);
  g_assert_cmpuint (r.n_errors, ==, 0);
  rec_clear (&r);
}

static void
test_datagram (void)
{
  if (!sw_test_run_bounded (BOUND_US))
    return;
  datagram_case (G_SOCKET_TYPE_DATAGRAM, FALSE);
}

static void
test_seqpacket (void)
{
  if (!sw_test_run_bounded (BOUND_US))
    return;
  datagram_case (G_SOCKET_TYPE_SEQPACKET, TRUE);
}

/* A blocking receiver in another thread gets turns while the loop has
 * 10 000 messages to emit: it receives before the loop is done. */
typedef struct
{
  SwConnection *c;
  guint         got;
  gint          loop_seen_at_first;
  Rec          *r;
} SyncRx;

static gpointer
sync_rx_thread (gpointer data)
{
  SyncRx *s = data;

  for (;;)
    {
      g_autoptr(GBytes) m = sw_connection_receive_message (s->c, -1, NULL, NULL);

      if (m == NULL)
        break;
      if (s->got++ == 0)
        s->loop_seen_at_first = g_atomic_int_get (&s->r->seen);
    }
  return NULL;
}

static void
test_huge_batch_fair (void)
{
  Rec r;
  SyncRx s;
  GThread *rx;

  if (!sw_test_run_bounded (BOUND_US))
    return;
  rec_init (&r);
  s = (SyncRx) { r.b, 0, -1, &r };
  send_seq (r.a, 0, 10000);
  g_assert_true (sw_connection_shutdown_write (r.a, -1, NULL, NULL));
  rx = g_thread_new ("rx", sync_rx_thread, &s);
  sw_connection_start_receiving (r.b);
  iterate_until_closed (&r);
  g_thread_join (rx);
  g_test_message ("loop %u, thread %u (first at loop count %d)", r.n_messages, s.got,
                  s.loop_seen_at_first);
  g_assert_cmpuint (r.n_messages + s.got, ==, 10000);
  g_assert_cmpuint (r.n_closed, ==, 1);
  rec_clear (&r);
}

/* ---- progress ------------------------------------------------------------ */

typedef struct
{
  guint64  last_done;
  guint64  last_total;
  guint    n;
  guint    n_full;
  gboolean backwards;
  gboolean stop_on_first;
  gboolean close_on_first;
  gboolean change_threshold;
  GError  *send_error;
} Prog;

static void
on_progress (SwConnection *c,
             guint64       done,
             guint64       total,
             Prog         *p)
{
  if (done < p->last_done && done != 0 && total == p->last_total)
    p->backwards = TRUE;
  if (total != 0 && done > total)
    p->backwards = TRUE;
  if (total != 0 && done == total)
    p->n_full++;
  p->last_done = done;
  p->last_total = total;
  if (p->n++ == 0)
    {
      if (p->stop_on_first)
        sw_connection_stop_receiving (c);
      if (p->close_on_first)
        g_assert_true (sw_connection_close (c, NULL, NULL));
    }
  if (p->change_threshold)
    sw_connection_set_progress_threshold (c, (p->n % 2) ? G_MAXUINT64 : 1);
}

static gpointer
receive_one_thread (gpointer data)
{
  return sw_connection_receive_message (data, -1, NULL, NULL);
}

static gpointer
receive_three (gpointer data)
{
  for (guint i = 0; i < 3; i++)
    {
      g_autoptr(GBytes) m = sw_connection_receive_message (data, -1, NULL, NULL);

      g_assert_nonnull (m);
      g_assert_true (sw_test_pattern_check (m, i + 1));
    }
  return NULL;
}

/* The threshold flips between 1 and "never" from the handler, mid message:
 * done never goes back, and 100 % comes at most once, never above total. */
static void
test_progress_threshold_flip (void)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) big = sw_test_pattern_bytes (4 << 20, 7);
  g_autoptr(GBytes) got = NULL;
  Prog ps = { 0 }, pr = { 0 };
  GThread *rx;

  if (!sw_test_run_bounded (BOUND_US))
    return;
  g_assert_true (sw_socketpair (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
                                sw_framing_get_default (), &a, &b, NULL));
  sw_connection_set_progress_threshold (a, 1);
  ps.change_threshold = TRUE;
  g_signal_connect (a, "send-progress", G_CALLBACK (on_progress), &ps);
  rx = g_thread_new ("rx", receive_one_thread, b);
  g_assert_true (sw_connection_send_message (a, big, -1, NULL, NULL));
  got = g_thread_join (rx);
  g_assert_true (sw_test_pattern_check (got, 7));
  g_test_message ("send reports %u, full %u", ps.n, ps.n_full);
  g_assert_false (ps.backwards);
  g_assert_cmpuint (ps.n_full, <=, 1);
  (void) pr;
}

typedef struct
{
  SwConnection *c;
  GBytes       *m;
} BigSend;

static gpointer
big_send_thread (gpointer data)
{
  BigSend *s = data;

  /* Fails when the receiver closes first. */
  sw_connection_send_message (s->c, s->m, -1, NULL, NULL);
  return NULL;
}

/* stop_receiving() or close() from ::receive-progress of the loop's large
 * message: the loop stops; after a stop, a later receive returns the whole
 * message; after a close, ::closed once (remote FALSE). */
static void
progress_in_loop (gboolean close_it)
{
  Rec r;
  Prog p = { 0 };
  g_autoptr(GBytes) big = sw_test_pattern_bytes (8 << 20, 3);
  BigSend s;
  GThread *tx;

  rec_init (&r);
  sw_connection_set_progress_threshold (r.b, 1024);
  if (close_it)
    p.close_on_first = TRUE;
  else
    p.stop_on_first = TRUE;
  g_signal_connect (r.b, "receive-progress", G_CALLBACK (on_progress), &p);
  s = (BigSend) { r.a, big };
  tx = g_thread_new ("tx", big_send_thread, &s);
  sw_connection_start_receiving (r.b);
  iterate_until_closed (&r);
  /* Stopped while the message was being received: it is emitted once
   * whole, or left whole for a later receive; never lost, never twice. */
  g_assert_cmpuint (r.n_messages, <=, (close_it ? 0 : 1));
  g_assert_cmpuint (r.n_errors, ==, 0);
  if (close_it)
    {
      g_assert_cmpuint (r.n_closed, ==, 1);
      g_assert_false (r.closed_remote);
      g_signal_handlers_disconnect_by_data (r.b, &p);
      /* the sender fails or finishes; either way it returns */
      sw_connection_close (r.a, NULL, NULL);
    }
  else
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) got = NULL;

      g_assert_cmpuint (r.n_closed, ==, 0);
      g_signal_handlers_disconnect_by_data (r.b, &p);
      if (r.n_messages == 0)
        {
          got = sw_connection_receive_message (r.b, 10 * G_USEC_PER_SEC, NULL, &error);
          g_assert_no_error (error);
          g_assert_true (sw_test_pattern_check (got, 3));
        }
      else
        {
          got = sw_connection_receive_message (r.b, 0, NULL, &error);
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
        }
    }
  g_thread_join (tx);
  rec_clear (&r);
}

static void
test_progress_stop_in_loop (void)
{
  if (!sw_test_run_bounded (BOUND_US))
    return;
  progress_in_loop (FALSE);
}

static void
test_progress_close_in_loop (void)
{
  if (!sw_test_run_bounded (BOUND_US))
    return;
  progress_in_loop (TRUE);
}

/* A batch of three large messages with send_messages(): each reports
 * 100 % exactly once, done never goes back within a message. */
static void
on_batch_progress (SwConnection *c,
                   guint64       done,
                   guint64       total,
                   Prog         *p)
{
  if (total == p->last_total && done < p->last_done)
    p->backwards = TRUE;
  if (done == total)
    p->n_full++;
  p->last_done = done;
  p->last_total = total;
  p->n++;
}

static void
test_progress_batch (void)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  GBytes *batch[3];
  Prog ps = { 0 }, pr = { 0 };
  GThread *tx;
  BigSend s;

  if (!sw_test_run_bounded (BOUND_US))
    return;
  g_assert_true (sw_socketpair (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
                                sw_framing_get_default (), &a, &b, NULL));
  batch[0] = sw_test_pattern_bytes (1 << 20, 1);
  batch[1] = sw_test_pattern_bytes (2 << 20, 2);
  batch[2] = sw_test_pattern_bytes (3 << 20, 3);
  sw_connection_set_progress_threshold (a, 4096);
  sw_connection_set_progress_threshold (b, 4096);
  g_signal_connect (a, "send-progress", G_CALLBACK (on_batch_progress), &ps);
  g_signal_connect (b, "receive-progress", G_CALLBACK (on_batch_progress), &pr);
  (void) s;
  tx = g_thread_new ("rx", receive_three, b);
  g_assert_true (sw_connection_send_messages (a, batch, 3, -1, NULL, NULL));
  g_thread_join (tx);
  g_test_message ("send: %u reports, %u at 100%%; receive: %u reports, %u at 100%%",
                  ps.n, ps.n_full, pr.n, pr.n_full);
  g_assert_false (ps.backwards);
  g_assert_false (pr.backwards);
  g_assert_cmpuint (ps.n_full, ==, 3);
  g_assert_cmpuint (pr.n_full, ==, 3);
  for (guint i = 0; i < 3; i++)
    g_bytes_unref (batch[i]);
}

/* ---- spawn --------------------------------------------------------------- */

static void
test_spawn_missing_program (void)
{
  const char *argv[] = { "/nonexistent/sw-no-such-program", NULL };
  guint before, after;

  if (!sw_test_run_bounded (BOUND_US))
    return;
  before = sw_test_count_open_fds ();
  for (guint i = 0; i < 50; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(SwConnection) c = sw_spawn (argv, sw_framing_get_default (), 0, NULL, &error);

      g_assert_null (c);
      g_assert_nonnull (error);
    }
  after = sw_test_count_open_fds ();
  g_assert_cmpuint (after, ==, before);
}

/* A child that exits at once: the parent's receive ends, no hang, and
 * spawning many leaks no descriptor (counted after ten warm-up rounds,
 * which open GLib's and the library's per-process descriptors). */
static void
spawn_true_once (void)
{
  const char *argv[] = { "true", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(SwConnection) c = sw_spawn (argv, sw_framing_get_default (), 0, &process, &error);
  g_autoptr(GBytes) m = NULL;

  g_assert_no_error (error);
  m = sw_connection_receive_message (c, 5 * G_USEC_PER_SEC, NULL, &error);
  g_assert_null (m);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
  g_assert_true (g_subprocess_wait (process, NULL, NULL));
}

static void
test_spawn_exits_at_once (void)
{
  guint before;

  if (!sw_test_run_bounded (BOUND_US))
    return;
  for (guint i = 0; i < 10; i++)
    spawn_true_once ();
  before = sw_test_count_open_fds ();
  for (guint i = 0; i < 100; i++)
    spawn_true_once ();
  /* GLib opens a few descriptors of its own lazily (wakeups of contexts
   * and threads); a leak per child would show 100 or more. */
  g_assert_cmpuint (sw_test_count_open_fds (), <, before + 10);
}

/* The receive loop on a spawned child that exits: ::closed once. */
static void
test_spawn_loop (void)
{
  const char *argv[] = { "true", NULL };
  Rec r;
  g_autoptr(GError) error = NULL;

  if (!sw_test_run_bounded (BOUND_US))
    return;
  memset (&r, 0, sizeof r);
  r.b = sw_spawn (argv, sw_framing_get_default (), 0, NULL, &error);
  g_assert_no_error (error);
  rec_attach (&r, r.b);
  sw_connection_start_receiving (r.b);
  iterate_until_closed (&r);
  g_assert_cmpuint (r.n_closed, ==, 1);
  g_assert_true (r.closed_remote);
  rec_clear (&r);
}

static void
test_borrowed_closed_fd (void)
{
  int fds[2];
  guint before;

  if (!sw_test_run_bounded (BOUND_US))
    return;
  g_assert_cmpint (pipe (fds), ==, 0);
  close (fds[0]);
  close (fds[1]);
  before = sw_test_count_open_fds ();
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(SwConnection) c = sw_connection_new_for_borrowed_fd (fds[0], NULL, &error);

    g_assert_null (c);
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  }
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(SwConnection) c = sw_connection_new_for_borrowed_fd (-1, NULL, &error);

    g_assert_null (c);
    g_assert_nonnull (error);
  }
  g_assert_cmpuint (sw_test_count_open_fds (), ==, before);
}

/* A pipe's ends, borrowed: the read end receives, the write end sends,
 * the wrong direction fails with a GError; the caller's fds stay open. */
static void
test_borrowed_pipe_ends (void)
{
  int fds[2];
  g_autoptr(GError) error = NULL;
  g_autoptr(SwConnection) rx = NULL;
  g_autoptr(SwConnection) tx = NULL;
  g_autoptr(GBytes) msg = g_bytes_new_static ("hi", 2);
  g_autoptr(GBytes) got = NULL;

  if (!sw_test_run_bounded (BOUND_US))
    return;
  g_assert_cmpint (pipe (fds), ==, 0);
  rx = sw_connection_new_for_borrowed_fd (fds[0], sw_framing_get_default (), &error);
  g_assert_no_error (error);
  tx = sw_connection_new_for_borrowed_fd (fds[1], sw_framing_get_default (), &error);
  g_assert_no_error (error);
  g_assert_true (sw_connection_send_message (tx, msg, 5 * G_USEC_PER_SEC, NULL, &error));
  g_assert_no_error (error);
  got = sw_connection_receive_message (rx, 5 * G_USEC_PER_SEC, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (got, msg));
  g_assert_false (sw_connection_send_message (rx, msg, 5 * G_USEC_PER_SEC, NULL, &error));
  g_test_message ("send on read end: %s", error->message);
  g_clear_error (&error);
  g_clear_pointer (&got, g_bytes_unref);
  got = sw_connection_receive_message (tx, 0, NULL, &error);
  g_assert_null (got);
  g_test_message ("receive on write end: %s", error->message);
  g_clear_error (&error);
  g_assert_true (sw_connection_close (rx, NULL, NULL));
  g_assert_true (sw_connection_close (tx, NULL, NULL));
  g_assert_true (sw_test_fd_is_open (fds[0]));
  g_assert_true (sw_test_fd_is_open (fds[1]));
  close (fds[0]);
  close (fds[1]);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/sw/attack-loop/restart-in-handler", test_restart_in_handler);
  g_test_add_func ("/sw/attack-loop/toggle-from-thread", test_toggle_from_thread);
  g_test_add_func ("/sw/attack-loop/close-from-thread-mid-batch", test_close_from_thread_mid_batch);
  g_test_add_func ("/sw/attack-loop/close-in-handler", test_close_in_handler);
  g_test_add_func ("/sw/attack-loop/unref-while-receiving", test_unref_while_receiving);
  g_test_add_func ("/sw/attack-loop/close-then-unref", test_close_then_unref);
  g_test_add_func ("/sw/attack-loop/codec-toggle", test_codec_toggle);
  g_test_add_func ("/sw/attack-loop/remote-end-mid-frame", test_remote_end_mid_frame);
  g_test_add_func ("/sw/attack-loop/invalid-frame", test_invalid_frame);
  g_test_add_func ("/sw/attack-loop/too-large-delimiter", test_too_large_delimiter);
  g_test_add_func ("/sw/attack-loop/too-large-msgpack", test_too_large_msgpack);
  g_test_add_func ("/sw/attack-loop/datagram", test_datagram);
  g_test_add_func ("/sw/attack-loop/seqpacket", test_seqpacket);
  g_test_add_func ("/sw/attack-loop/huge-batch-fair", test_huge_batch_fair);
  g_test_add_func ("/sw/attack-loop/progress-threshold-flip", test_progress_threshold_flip);
  g_test_add_func ("/sw/attack-loop/spawn-missing-program", test_spawn_missing_program);
  g_test_add_func ("/sw/attack-loop/spawn-exits-at-once", test_spawn_exits_at_once);
  g_test_add_func ("/sw/attack-loop/spawn-loop", test_spawn_loop);
  g_test_add_func ("/sw/attack-loop/borrowed-closed-fd", test_borrowed_closed_fd);
  g_test_add_func ("/sw/attack-loop/borrowed-pipe-ends", test_borrowed_pipe_ends);
  g_test_add_func ("/sw/attack-loop/progress-stop-in-loop", test_progress_stop_in_loop);
  g_test_add_func ("/sw/attack-loop/progress-close-in-loop", test_progress_close_in_loop);
  g_test_add_func ("/sw/attack-loop/progress-batch", test_progress_batch);
  return g_test_run ();
}
