/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Many threads and main contexts on one connection at once (DESIGN §4
 * "Threads and main contexts"): on one end, blocking sender threads and
 * async senders each in its own context; on the other, a blocking receiver
 * thread and an async receiver in its own context. Every message arrives
 * exactly once and intact, and each sender's messages reach each receiver
 * in the order they were sent.
 *
 * Bounded: modest counts (fewer under valgrind), no timing assumptions. */
#include <string.h>

#include "sw-test-util.h"

#define N_SYNC_SENDERS   3
#define N_ASYNC_SENDERS  3
#define N_SENDERS        (N_SYNC_SENDERS + N_ASYNC_SENDERS)
#define MAX_PAYLOAD      (256 * 1024)
#define HEADER_SIZE      8
/* Async senders keep up to this many sends queued at once. */
#define ASYNC_WINDOW     4
/* The async receiver keeps this many receives queued at once. */
#define RECEIVE_WINDOW   2

typedef struct _Stress Stress;

/* A message: sender id and sequence number (big-endian), then a payload
 * whose pattern seed derives from both. */
static GBytes *
make_message (guint   sender,
              guint   seq,
              GRand  *rand)
{
  gsize payload = g_rand_int_range (rand, 0, MAX_PAYLOAD + 1);
  guint8 *data = g_malloc (HEADER_SIZE + payload);

  /* A few empty and tiny payloads, whatever the random draw. */
  if (seq % 17 == 0)
    payload = seq % 3;
  *(guint32 *) (gpointer) data = GUINT32_TO_BE (sender);
  *(guint32 *) (gpointer) (data + 4) = GUINT32_TO_BE (seq);
  sw_test_pattern_fill (data + HEADER_SIZE, payload, sender << 16 ^ seq);
  return g_bytes_new_take (data, HEADER_SIZE + payload);
}

/* Checks a received message; returns its sender and sequence number. */
static void
parse_message (GBytes *message,
               guint  *sender,
               guint  *seq)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (message, &size);

  g_assert_cmpuint (size, >=, HEADER_SIZE);
  *sender = GUINT32_FROM_BE (*(const guint32 *) (gconstpointer) data);
  *seq = GUINT32_FROM_BE (*(const guint32 *) (gconstpointer) (data + 4));
  g_assert_cmpuint (*sender, <, N_SENDERS);
  g_assert_true (sw_test_pattern_check_data (data + HEADER_SIZE, size - HEADER_SIZE,
                                             *sender << 16 ^ *seq));
}

/* One receiver's view: the last sequence number seen from each sender. */
typedef struct
{
  gint64 last[N_SENDERS];
  guint  count;
  gsize  bytes;
} ReceiverLog;

static void
receiver_log_init (ReceiverLog *log)
{
  for (guint i = 0; i < N_SENDERS; i++)
    log->last[i] = -1;
  log->count = 0;
  log->bytes = 0;
}

struct _Stress
{
  SwConnection *a;            /* the senders' end */
  SwConnection *b;            /* the receivers' end */
  guint         per_sender;

  GMutex        mutex;
  GCond         cond;
  guint8       *seen;         /* protected by @mutex: [sender * per_sender + seq] */
  guint         received;     /* protected by @mutex */

  /* The cancel-close run only. */
  guint8       *outcome;      /* protected by @mutex: a SendOutcome per message */
  guint         senders_done; /* protected by @mutex */
  GCancellable *published;    /* protected by @mutex: a sync send in progress */
  gboolean      stopping;     /* protected by @mutex */
};

typedef enum
{
  SEND_PENDING,
  SEND_OK,
  SEND_CANCELLED,
  SEND_BROKEN,
} SendOutcome;

/* Records @message as received by @log's receiver: exactly once overall,
 * in order per sender for this receiver. */
static void
record (Stress      *stress,
        ReceiverLog *log,
        GBytes      *message)
{
  guint sender, seq;

  parse_message (message, &sender, &seq);
  g_assert_cmpuint (seq, <, stress->per_sender);
  g_assert_cmpint ((gint64) seq, >, log->last[sender]);
  log->last[sender] = seq;
  log->count++;
  log->bytes += g_bytes_get_size (message);

  g_mutex_lock (&stress->mutex);
  g_assert_false (stress->seen[sender * stress->per_sender + seq]);
  stress->seen[sender * stress->per_sender + seq] = TRUE;
  stress->received++;
  g_cond_broadcast (&stress->cond);
  g_mutex_unlock (&stress->mutex);
}

/* ---- senders ---------------------------------------------------------- */

typedef struct
{
  Stress  *stress;
  guint    id;
  GThread *thread;
} Sender;

static gpointer
sync_sender_thread (gpointer data)
{
  Sender *s = data;
  g_autoptr(GRand) rand = g_rand_new_with_seed (s->id);

  for (guint seq = 0; seq < s->stress->per_sender; seq++)
    {
      g_autoptr(GBytes) message = make_message (s->id, seq, rand);
      g_autoptr(GError) error = NULL;

      g_assert_true (sw_connection_send_message (s->stress->a, message, -1,
                                                 NULL, &error));
      g_assert_no_error (error);
    }
  return NULL;
}

typedef struct
{
  guint in_flight;
  guint completed;
} AsyncSendState;

static void
on_sent (GObject      *source,
         GAsyncResult *res,
         gpointer      user_data)
{
  AsyncSendState *state = user_data;
  g_autoptr(GError) error = NULL;

  g_assert_true (sw_connection_send_message_finish (SW_CONNECTION (source), res,
                                                    &error));
  g_assert_no_error (error);
  state->in_flight--;
  state->completed++;
}

/* Sends from its own context, keeping several sends queued at once: their
 * order on the wire is the order of the calls. */
static gpointer
async_sender_thread (gpointer data)
{
  Sender *s = data;
  g_autoptr(GRand) rand = g_rand_new_with_seed (s->id);
  g_autoptr(GMainContext) context = g_main_context_new ();
  AsyncSendState state = { 0, 0 };
  guint seq = 0;

  g_main_context_push_thread_default (context);
  while (state.completed < s->stress->per_sender)
    {
      while (seq < s->stress->per_sender && state.in_flight < ASYNC_WINDOW)
        {
          g_autoptr(GBytes) message = make_message (s->id, seq++, rand);

          state.in_flight++;
          sw_connection_send_message_async (s->stress->a, message,
                                            G_PRIORITY_DEFAULT, NULL,
                                            on_sent, &state);
        }
      g_main_context_iteration (context, TRUE);
    }
  g_main_context_pop_thread_default (context);
  return NULL;
}

/* ---- receivers -------------------------------------------------------- */

typedef struct
{
  Stress      *stress;
  ReceiverLog  log;
  GThread     *thread;
} Receiver;

/* Receives until close() ends it. */
static gpointer
sync_receiver_thread (gpointer data)
{
  Receiver *r = data;

  for (;;)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) message = sw_connection_receive_message (r->stress->b, -1,
                                                                 NULL, &error);

      if (message == NULL)
        {
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
          return NULL;
        }
      record (r->stress, &r->log, message);
    }
}

/* The async receiver keeps RECEIVE_WINDOW receives queued. Their callbacks
 * may not run in call order, so each result is kept in its call's slot
 * and recorded in call order. */
typedef struct
{
  Receiver  *receiver;
  GPtrArray *results;     /* by call index; NULL until completed */
  guint      next_call;
  guint      next_record;
  guint      in_flight;
  gboolean   closed;
} AsyncReceiveState;

typedef struct
{
  AsyncReceiveState *state;
  guint              index;
} AsyncReceiveCall;

static void receive_next (AsyncReceiveState *state);

static void
on_received (GObject      *source,
             GAsyncResult *res,
             gpointer      user_data)
{
  AsyncReceiveCall *call = user_data;
  AsyncReceiveState *state = call->state;
  g_autoptr(GError) error = NULL;
  GBytes *message;

  message = sw_connection_receive_message_finish (SW_CONNECTION (source), res, &error);
  state->in_flight--;
  if (message == NULL)
    {
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
      state->closed = TRUE;
    }
  else
    g_ptr_array_index (state->results, call->index) = message;
  g_free (call);

  while (state->next_record < state->results->len
         && g_ptr_array_index (state->results, state->next_record) != NULL)
    {
      GBytes *next = g_ptr_array_index (state->results, state->next_record);

      record (state->receiver->stress, &state->receiver->log, next);
      g_ptr_array_index (state->results, state->next_record) = NULL;
      g_bytes_unref (next);
      state->next_record++;
    }

  if (!state->closed)
    receive_next (state);
}

static void
receive_next (AsyncReceiveState *state)
{
  while (state->in_flight < RECEIVE_WINDOW)
    {
      AsyncReceiveCall *call = g_new0 (AsyncReceiveCall, 1);

      call->state = state;
      call->index = state->next_call++;
      g_ptr_array_add (state->results, NULL);
      state->in_flight++;
      sw_connection_receive_message_async (state->receiver->stress->b,
                                           G_PRIORITY_DEFAULT, NULL,
                                           on_received, call);
    }
}

static gpointer
async_receiver_thread (gpointer data)
{
  Receiver *r = data;
  g_autoptr(GMainContext) context = g_main_context_new ();
  AsyncReceiveState state = { r, NULL, 0, 0, 0, FALSE };

  state.results = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_main_context_push_thread_default (context);
  receive_next (&state);
  while (!state.closed || state.in_flight > 0)
    g_main_context_iteration (context, TRUE);
  g_main_context_pop_thread_default (context);

  /* Every successful receive was recorded: close() came only after all
   * messages were, and it fails every receive after it. */
  for (guint i = 0; i < state.results->len; i++)
    g_assert_null (g_ptr_array_index (state.results, i));
  g_ptr_array_unref (state.results);
  return NULL;
}

/* ---- the test --------------------------------------------------------- */

/* Sets up @stress's bookkeeping for @total messages and starts a sync
 * and an async receiver on its receivers' end. */
static void
start_receivers (Stress   *stress,
                 guint     total,
                 Receiver *sync_receiver,
                 Receiver *async_receiver)
{
  g_mutex_init (&stress->mutex);
  g_cond_init (&stress->cond);
  stress->seen = g_new0 (guint8, total);

  sync_receiver->stress = async_receiver->stress = stress;
  receiver_log_init (&sync_receiver->log);
  receiver_log_init (&async_receiver->log);
  sync_receiver->thread = g_thread_new ("sync-receiver", sync_receiver_thread,
                                        sync_receiver);
  async_receiver->thread = g_thread_new ("async-receiver", async_receiver_thread,
                                         async_receiver);
}

/* Messages per sender: @normal, fewer under valgrind or SW_TEST_QUICK,
 * @thorough with -m thorough, or SW_STRESS_MESSAGES (the long suite). */
static guint
messages_per_sender (guint normal,
                     guint thorough)
{
  const char *messages = g_getenv ("SW_STRESS_MESSAGES");

  if (messages != NULL)
    return MAX (1, (guint) g_ascii_strtoull (messages, NULL, 10));
  if (sw_test_under_valgrind () || g_getenv ("SW_TEST_QUICK") != NULL)
    return 6;
  return g_test_thorough () ? thorough : normal;
}

static void
test_stress_mixed (void)
{
  Stress stress = { 0 };
  Sender senders[N_SENDERS];
  Receiver sync_receiver = { 0 }, async_receiver = { 0 };
  g_autoptr(GError) error = NULL;
  guint total;

  stress.per_sender = messages_per_sender (24, 200);
  total = N_SENDERS * stress.per_sender;

  g_assert_true (sw_socketpair (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
                                sw_framing_get_default (), &stress.a, &stress.b,
                                &error));
  g_assert_no_error (error);
  start_receivers (&stress, total, &sync_receiver, &async_receiver);

  for (guint i = 0; i < N_SENDERS; i++)
    {
      senders[i].stress = &stress;
      senders[i].id = i;
      senders[i].thread = g_thread_new (i < N_SYNC_SENDERS ? "sync-sender" : "async-sender",
                                        i < N_SYNC_SENDERS ? sync_sender_thread
                                                           : async_sender_thread,
                                        &senders[i]);
    }
  for (guint i = 0; i < N_SENDERS; i++)
    g_thread_join (senders[i].thread);

  /* Every message sent: wait until all are received, then close the
   * receivers' end to end the receivers' loops. */
  g_mutex_lock (&stress.mutex);
  while (stress.received < total)
    g_cond_wait (&stress.cond, &stress.mutex);
  g_mutex_unlock (&stress.mutex);

  g_assert_true (sw_connection_close (stress.b, NULL, &error));
  g_assert_no_error (error);
  g_thread_join (sync_receiver.thread);
  g_thread_join (async_receiver.thread);

  g_assert_cmpuint (sync_receiver.log.count + async_receiver.log.count, ==, total);
  for (guint i = 0; i < total; i++)
    g_assert_true (stress.seen[i]);
  g_test_message ("sync receiver: %u messages, %" G_GSIZE_FORMAT " bytes; "
                  "async receiver: %u messages, %" G_GSIZE_FORMAT " bytes",
                  sync_receiver.log.count, sync_receiver.log.bytes,
                  async_receiver.log.count, async_receiver.log.bytes);

  g_assert_true (sw_connection_close (stress.a, NULL, &error));
  g_assert_no_error (error);
  g_object_unref (stress.a);
  g_object_unref (stress.b);
  g_free (stress.seen);
  g_mutex_clear (&stress.mutex);
  g_cond_clear (&stress.cond);
}

/* ---- random cancellation and a close in the middle -------------------- */

/* A send's outcome: done, cancelled with nothing written, or failed
 * because the receivers' end was closed. */
static void
note_outcome (Stress       *stress,
              guint         sender,
              guint         seq,
              const GError *error)
{
  SendOutcome outcome = SEND_OK;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    outcome = SEND_CANCELLED;
  else if (error != NULL)
    {
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE);
      outcome = SEND_BROKEN;
    }
  g_mutex_lock (&stress->mutex);
  stress->outcome[sender * stress->per_sender + seq] = outcome;
  g_mutex_unlock (&stress->mutex);
}

static void
sender_done (Stress *stress)
{
  g_mutex_lock (&stress->mutex);
  stress->senders_done++;
  g_cond_broadcast (&stress->cond);
  g_mutex_unlock (&stress->mutex);
}

/* Sync sends, each with a cancellable the canceller thread may cancel
 * before, during or after the call. */
static gpointer
cancellable_sync_sender_thread (gpointer data)
{
  Sender *s = data;
  Stress *stress = s->stress;
  g_autoptr(GRand) rand = g_rand_new_with_seed (s->id);

  for (guint seq = 0; seq < stress->per_sender; seq++)
    {
      g_autoptr(GBytes) message = make_message (s->id, seq, rand);
      g_autoptr(GCancellable) cancellable = g_cancellable_new ();
      g_autoptr(GError) error = NULL;

      g_mutex_lock (&stress->mutex);
      g_set_object (&stress->published, cancellable);
      g_cond_broadcast (&stress->cond);
      g_mutex_unlock (&stress->mutex);
      sw_connection_send_message (stress->a, message, -1, cancellable, &error);
      note_outcome (stress, s->id, seq, error);
    }
  sender_done (stress);
  return NULL;
}

/* Cancels about every third published sync send, at whatever point it
 * has reached. */
static gpointer
canceller_thread (gpointer data)
{
  Stress *stress = data;
  g_autoptr(GRand) rand = g_rand_new_with_seed (99);

  g_mutex_lock (&stress->mutex);
  while (!stress->stopping)
    {
      g_autoptr(GCancellable) target = g_steal_pointer (&stress->published);

      if (target == NULL)
        {
          g_cond_wait (&stress->cond, &stress->mutex);
          continue;
        }
      g_mutex_unlock (&stress->mutex);
      if (g_rand_int_range (rand, 0, 3) == 0)
        g_cancellable_cancel (target);
      g_mutex_lock (&stress->mutex);
    }
  g_mutex_unlock (&stress->mutex);
  return NULL;
}

typedef struct
{
  Sender *sender;
  guint   seq;
  guint  *in_flight;
} CancelSend;

static void
on_cancellable_sent (GObject      *source,
                     GAsyncResult *res,
                     gpointer      user_data)
{
  g_autofree CancelSend *send = user_data;
  g_autoptr(GError) error = NULL;

  sw_connection_send_message_finish (SW_CONNECTION (source), res, &error);
  note_outcome (send->sender->stress, send->sender->id, send->seq, error);
  (*send->in_flight)--;
}

/* Async sends from its own context; a third of them are cancelled right
 * after the call, racing the write. */
static gpointer
cancellable_async_sender_thread (gpointer data)
{
  Sender *s = data;
  Stress *stress = s->stress;
  g_autoptr(GRand) rand = g_rand_new_with_seed (s->id);
  g_autoptr(GMainContext) context = g_main_context_new ();
  guint in_flight = 0, seq = 0;

  g_main_context_push_thread_default (context);
  while (seq < stress->per_sender || in_flight > 0)
    {
      while (seq < stress->per_sender && in_flight < ASYNC_WINDOW)
        {
          g_autoptr(GBytes) message = make_message (s->id, seq, rand);
          g_autoptr(GCancellable) cancellable = g_cancellable_new ();
          CancelSend *send = g_new (CancelSend, 1);

          *send = (CancelSend) { s, seq++, &in_flight };
          in_flight++;
          sw_connection_send_message_async (stress->a, message, G_PRIORITY_DEFAULT,
                                            cancellable, on_cancellable_sent, send);
          if (g_rand_int_range (rand, 0, 3) == 0)
            g_cancellable_cancel (cancellable);
        }
      g_main_context_iteration (context, TRUE);
    }
  g_main_context_pop_thread_default (context);
  sender_done (stress);
  return NULL;
}

/* Sync and async senders with random cancellation, sync and async
 * receivers, and the receivers' end closed in the middle: every call
 * ends (no hang), sends fail only as CANCELLED or BROKEN_PIPE, receivers
 * end with CLOSED, and every message that arrived came whole, once, in
 * order per sender, and was not reported cancelled. */
static void
test_stress_cancel_close (void)
{
  Stress stress = { 0 };
  Sender senders[N_SENDERS];
  Receiver sync_receiver = { 0 }, async_receiver = { 0 };
  GThread *canceller;
  guint total, n_outcomes[SEND_BROKEN + 1] = { 0 };

  if (!sw_test_under_valgrind () && !sw_test_run_bounded (120 * G_USEC_PER_SEC))
    return;
  stress.per_sender = messages_per_sender (24, 400);
  total = N_SENDERS * stress.per_sender;
  sw_test_socketpair (sw_framing_get_default (), &stress.a, &stress.b);
  start_receivers (&stress, total, &sync_receiver, &async_receiver);
  stress.outcome = g_new0 (guint8, total);
  canceller = g_thread_new ("canceller", canceller_thread, &stress);
  for (guint i = 0; i < N_SENDERS; i++)
    {
      senders[i] = (Sender) { &stress, i, NULL };
      senders[i].thread = g_thread_new ("sender", i < N_SYNC_SENDERS
                                                  ? cancellable_sync_sender_thread
                                                  : cancellable_async_sender_thread,
                                        &senders[i]);
    }

  /* Close once a quarter has arrived (or every sender is done). */
  g_mutex_lock (&stress.mutex);
  while (stress.received < total / 4 && stress.senders_done < N_SENDERS)
    g_cond_wait (&stress.cond, &stress.mutex);
  g_mutex_unlock (&stress.mutex);
  g_assert_true (sw_connection_close (stress.b, NULL, NULL));

  for (guint i = 0; i < N_SENDERS; i++)
    g_thread_join (senders[i].thread);
  g_thread_join (sync_receiver.thread);
  g_thread_join (async_receiver.thread);
  g_mutex_lock (&stress.mutex);
  stress.stopping = TRUE;
  g_cond_broadcast (&stress.cond);
  g_mutex_unlock (&stress.mutex);
  g_thread_join (canceller);

  for (guint i = 0; i < total; i++)
    {
      g_assert_cmpint (stress.outcome[i], !=, SEND_PENDING);
      if (stress.seen[i])
        g_assert_cmpint (stress.outcome[i], !=, SEND_CANCELLED);
      n_outcomes[stress.outcome[i]]++;
    }
  g_test_message ("%u of %u messages received before the close; sends: %u done, "
                  "%u cancelled, %u broken", stress.received, total,
                  n_outcomes[SEND_OK], n_outcomes[SEND_CANCELLED],
                  n_outcomes[SEND_BROKEN]);

  g_clear_object (&stress.published);
  g_object_unref (stress.a);
  g_object_unref (stress.b);
  g_free (stress.seen);
  g_free (stress.outcome);
  g_mutex_clear (&stress.mutex);
  g_cond_clear (&stress.cond);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/sw/stress/mixed", test_stress_mixed);
  g_test_add_func ("/sw/stress/cancel-close", test_stress_cancel_close);

  return g_test_run ();
}
