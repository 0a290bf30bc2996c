/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Seeded fault injection (sw-fault-stream.c): thousands of runs, each a
 * connection pair over streams that deliver short reads and writes, bursts
 * of WOULD_BLOCK, spurious wake-ups and, in some runs, a hard error, with
 * a seed-chosen framing, read-ahead, sync or async sender and receiver.
 * Whatever the faults, the messages that arrive are the ones sent, whole,
 * once each and in order; a run without a hard error delivers them all;
 * every error is a GError of a documented code; nothing hangs.
 *
 * SW_FAULT_RUNS=N runs N seeds (default: a few seconds' worth);
 * SW_FAULT_SEED=S replays seed S alone. A failing run prints its seed. */
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "sw-fault-stream.h"
#include "sw-test-util.h"

#define DEFAULT_RUNS       400
#define VALGRIND_RUNS      30
/* No receive may take this long: it means a hang. Generous: a run of
 * 1-byte reads and WOULD_BLOCKs on a stream without an fd costs a private
 * main context per wait (25 000 waits take 5 s in one seed), and CI
 * machines are shared. */
#define HANG_US            (120 * G_USEC_PER_SEC)

typedef enum
{
  FRAMING_VARINT,
  FRAMING_DELIMITER,
  FRAMING_MSGPACK,
  FRAMING_MULTIPROCESSING,
  N_FRAMINGS,
} FramingKind;

typedef enum
{
  FAIL_NONE,
  FAIL_SENDER,
  FAIL_RECEIVER,
} FailSide;

typedef struct
{
  guint32        seed;
  FramingKind    framing_kind;
  gboolean       read_ahead;
  gboolean       async_send;
  gboolean       async_receive;
  FailSide       fail;
  SwFaultConfig  send_config;
  SwFaultConfig  receive_config;
  GPtrArray     *messages;      /* GBytes, in sending order */

  SwConnection  *sender;
  SwConnection  *receiver;
  SwFaultStream *send_stream;
  SwFaultStream *receive_stream;

  /* Sender side, read by the main thread after join. */
  guint          n_sent;
  guint          n_overtaken;   /* async completions out of call order */
  GArray        *completion_order;  /* guint: async send indexes */
  GError        *send_error;
  /* Receiver side. */
  guint          n_received;
  GError        *receive_error;
} Run;

/* The replay hint a crash or failed assertion prints. */
static char seed_note[80];
/* Runs in which an async send's completion overtook an earlier call's. */
static guint n_overtaking_runs;

static void
print_seed_and_abort (int signum)
{
  if (write (STDERR_FILENO, seed_note, strlen (seed_note)) < 0)
    {
      /* Nothing more to do on the way out. */
    }
  signal (signum, SIG_DFL);
  raise (signum);
}

static void
install_seed_printer (void)
{
  struct sigaction action = { 0 };

  action.sa_handler = print_seed_and_abort;
  sigaction (SIGABRT, &action, NULL);
  sigaction (SIGSEGV, &action, NULL);
  sigaction (SIGBUS, &action, NULL);
}

/* ---- the run's choices ----------------------------------------------- */

static SwFraming *
framing_new (FramingKind kind)
{
  g_autoptr(GBytes) newline = NULL;

  switch (kind)
    {
    case FRAMING_DELIMITER:
      newline = g_bytes_new_static ("\n", 1);
      return SW_FRAMING (sw_delimiter_framing_new (newline));
    case FRAMING_MSGPACK:
      return SW_FRAMING (sw_msgpack_framing_new ());
    case FRAMING_MULTIPROCESSING:
      return SW_FRAMING (sw_multiprocessing_framing_new ());
    case FRAMING_VARINT:
    case N_FRAMINGS:
    default:
      return SW_FRAMING (sw_varint_framing_new ());
    }
}

/* A payload of @size bytes that @kind can carry: no delimiter inside one
 * for the delimiter framing, one bin 32 object for MessagePack. */
static GBytes *
payload_new (FramingKind kind,
             gsize       size,
             guint32     pattern_seed)
{
  guint8 *data;

  if (kind == FRAMING_MSGPACK)
    size += 5;
  data = g_malloc (size);
  sw_test_pattern_fill (data, size, pattern_seed);
  if (kind == FRAMING_DELIMITER)
    for (gsize i = 0; i < size; i++)
      data[i] = data[i] == '\n' ? 'n' : data[i];
  if (kind == FRAMING_MSGPACK)
    {
      data[0] = 0xc6;
      data[1] = (guint8) ((size - 5) >> 24);
      data[2] = (guint8) ((size - 5) >> 16);
      data[3] = (guint8) ((size - 5) >> 8);
      data[4] = (guint8) (size - 5);
    }
  return g_bytes_new_take (data, size);
}

/* Mostly small messages, some over a page, a few over the socket's
 * buffer so that writes really block. */
static gsize
payload_size (GRand *rand)
{
  guint dice = (guint) g_rand_int_range (rand, 0, 100);

  if (dice < 70)
    return (gsize) g_rand_int_range (rand, 0, 300);
  if (dice < 99)
    return (gsize) g_rand_int_range (rand, 300, 6000);
  return (gsize) g_rand_int_range (rand, 70000, 260000);
}

static void
fault_config_init (SwFaultConfig *config,
                   GRand         *rand)
{
  config->pollable = g_rand_boolean (rand);
  config->short_percent = (guint) g_rand_int_range (rand, 0, 70);
  config->block_percent = (guint) g_rand_int_range (rand, 0, 30);
  config->retry_percent = (guint) g_rand_int_range (rand, 0, 30);
}

static void
run_init (Run     *run,
          guint32  seed)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (seed);
  guint n_messages;

  memset (run, 0, sizeof *run);
  run->seed = seed;
  run->framing_kind = (FramingKind) g_rand_int_range (rand, 0, N_FRAMINGS);
  run->read_ahead = g_rand_boolean (rand);
  run->async_send = g_rand_boolean (rand);
  run->async_receive = g_rand_boolean (rand);
  fault_config_init (&run->send_config, rand);
  fault_config_init (&run->receive_config, rand);
  if (g_rand_int_range (rand, 0, 4) == 0)
    {
      run->fail = g_rand_boolean (rand) ? FAIL_SENDER : FAIL_RECEIVER;
      if (run->fail == FAIL_SENDER)
        {
          run->send_config.fail_at = (guint) g_rand_int_range (rand, 1, 40);
          run->send_config.fail_code = g_rand_boolean (rand) ? G_IO_ERROR_NO_SPACE
                                                             : G_IO_ERROR_FAILED;
        }
      else
        {
          run->receive_config.fail_at = (guint) g_rand_int_range (rand, 1, 40);
          run->receive_config.fail_code = g_rand_boolean (rand) ? G_IO_ERROR_PERMISSION_DENIED
                                                                : G_IO_ERROR_FAILED;
        }
    }

  n_messages = (guint) g_rand_int_range (rand, 1, 9);
  run->messages = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  for (guint i = 0; i < n_messages; i++)
    g_ptr_array_add (run->messages,
                     payload_new (run->framing_kind, payload_size (rand), seed * 16 + i));
}

static void
run_connect (Run *run)
{
  g_autoptr(SwFraming) framing = framing_new (run->framing_kind);

  /* The sender's stream faults on its output, the receiver's on its
   * input; the other directions carry nothing. */
  sw_fault_stream_pair (&run->send_config, &run->receive_config, run->seed,
                        &run->send_stream, &run->receive_stream);
  run->sender = sw_connection_new_for_stream (G_IO_STREAM (run->send_stream), framing);
  run->receiver = sw_connection_new_for_stream (G_IO_STREAM (run->receive_stream), framing);
  sw_connection_set_read_ahead (run->receiver, run->read_ahead);
}

static void
run_clear (Run *run)
{
  g_clear_object (&run->sender);
  g_clear_object (&run->receiver);
  g_clear_object (&run->send_stream);
  g_clear_object (&run->receive_stream);
  g_clear_pointer (&run->messages, g_ptr_array_unref);
  g_clear_pointer (&run->completion_order, g_array_unref);
  g_clear_error (&run->send_error);
  g_clear_error (&run->receive_error);
}

/* ---- sender ----------------------------------------------------------- */

static void
send_sync (Run *run)
{
  for (guint i = 0; i < run->messages->len; i++)
    {
      if (!sw_connection_send_message (run->sender, g_ptr_array_index (run->messages, i),
                                       -1, NULL, &run->send_error))
        return;
      run->n_sent++;
    }
}

typedef struct
{
  Run      *run;
  guint     pending;
  guint     n_completed;
  gboolean  failed;
} AsyncSend;

typedef struct
{
  AsyncSend *send;
  guint      index;
} AsyncSendCall;

/* Completions come in call order; once one fails, the later ones fail
 * too (the frame it tore breaks the sending side). */
static void
on_sent (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autofree AsyncSendCall *call = user_data;
  AsyncSend *send = call->send;
  g_autoptr(GError) error = NULL;

  /* The wire order is the call order (the receiver checks it); a
   * completion that overtakes an earlier one is counted and reported. */
  g_array_append_val (send->run->completion_order, call->index);
  if (call->index != send->n_completed)
    send->run->n_overtaken++;
  send->n_completed++;
  send->pending--;
  if (sw_connection_send_message_finish (SW_CONNECTION (source), result, &error))
    {
      if (send->failed)
        send->run->n_overtaken++;
      send->run->n_sent++;
      return;
    }
  send->failed = TRUE;
  if (send->run->send_error == NULL)
    send->run->send_error = g_steal_pointer (&error);
}

/* Every send queued at once from this thread's own context. */
static void
send_async (Run *run)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  AsyncSend send = { run, 0, 0, FALSE };

  run->completion_order = g_array_new (FALSE, FALSE, sizeof (guint));
  g_main_context_push_thread_default (context);
  for (guint i = 0; i < run->messages->len; i++)
    {
      AsyncSendCall *call = g_new (AsyncSendCall, 1);

      call->send = &send;
      call->index = i;
      send.pending++;
      sw_connection_send_message_async (run->sender, g_ptr_array_index (run->messages, i),
                                        G_PRIORITY_DEFAULT, NULL, on_sent, call);
    }
  /* Every call is queued: a write held back by the test may go on. */
  if (run->send_config.gate != NULL)
    g_mutex_unlock (run->send_config.gate);
  while (send.pending > 0)
    g_main_context_iteration (context, TRUE);
  g_main_context_pop_thread_default (context);
}

static gpointer
sender_thread (gpointer data)
{
  Run *run = data;

  if (run->async_send)
    send_async (run);
  else
    send_sync (run);
  /* A sender that failed goes away, as a crashed peer would: the
   * receiver sees the end of the stream. */
  if (run->send_error != NULL)
    sw_connection_close (run->sender, NULL, NULL);
  return NULL;
}

/* ---- receiver --------------------------------------------------------- */

/* Checks the next message; FALSE once every message is in. */
static gboolean
receiver_take (Run    *run,
               GBytes *message)
{
  GBytes *expected;

  g_assert_cmpuint (run->n_received, <, run->messages->len);
  expected = g_ptr_array_index (run->messages, run->n_received);
  g_assert_cmpuint (g_bytes_get_size (message), ==, g_bytes_get_size (expected));
  g_assert_true (g_bytes_equal (message, expected));
  run->n_received++;
  return run->n_received < run->messages->len;
}

static void
receive_sync (Run *run)
{
  for (;;)
    {
      g_autoptr(GBytes) message = sw_connection_receive_message (run->receiver, HANG_US,
                                                                 NULL, &run->receive_error);

      if (message == NULL || !receiver_take (run, message))
        return;
    }
}

typedef struct
{
  Run      *run;
  gboolean  done;
} AsyncReceive;

static void receive_next (AsyncReceive *receive);

static void
on_received (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  AsyncReceive *receive = user_data;
  Run *run = receive->run;
  g_autoptr(GBytes) message = NULL;

  message = sw_connection_receive_message_finish (SW_CONNECTION (source), result,
                                                  &run->receive_error);
  if (message != NULL && receiver_take (run, message))
    receive_next (receive);
  else
    receive->done = TRUE;
}

static void
receive_next (AsyncReceive *receive)
{
  sw_connection_receive_message_async (receive->run->receiver, G_PRIORITY_DEFAULT, NULL,
                                       on_received, receive);
}

static gboolean
on_hang (gpointer user_data)
{
  g_error ("no progress in %d s", (int) (HANG_US / G_USEC_PER_SEC));
  return G_SOURCE_REMOVE;
}

static void
receive_async (Run *run)
{
  AsyncReceive receive = { run, FALSE };
  GSource *hang = g_timeout_source_new_seconds (HANG_US / G_USEC_PER_SEC);

  g_source_set_callback (hang, on_hang, NULL, NULL);
  g_source_attach (hang, NULL);
  receive_next (&receive);
  while (!receive.done)
    g_main_context_iteration (NULL, TRUE);
  g_source_destroy (hang);
  g_source_unref (hang);
}

/* ---- one run ---------------------------------------------------------- */

/* A receiver's error: its own injected one, or the end of a stream whose
 * sender failed and went away. */
static void
check_receive_error (Run *run)
{
  GError *error = run->receive_error;

  if (run->fail == FAIL_RECEIVER && (gint) run->receive_config.fail_code == error->code
      && error->domain == G_IO_ERROR)
    return;
  if (run->fail != FAIL_SENDER)
    g_assert_no_error (error);
  if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT))
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
}

/* A sender's error: its own injected one, or a send to a receiver that
 * failed and went away (BROKEN_PIPE, the same value as
 * CONNECTION_CLOSED). */
static void
check_send_error (Run *run)
{
  GError *error = run->send_error;

  if (run->fail == FAIL_SENDER && (gint) run->send_config.fail_code == error->code
      && error->domain == G_IO_ERROR)
    return;
  if (run->fail != FAIL_RECEIVER)
    g_assert_no_error (error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE);
}

static guint
run_one (guint32 seed)
{
  Run run;
  GThread *sender;
  guint n_faults;

  g_snprintf (seed_note, sizeof seed_note,
              "\nfault injection failed: replay with SW_FAULT_SEED=%u\n", seed);
  run_init (&run, seed);
  run_connect (&run);

  sender = g_thread_new ("sender", sender_thread, &run);
  if (run.async_receive)
    receive_async (&run);
  else
    receive_sync (&run);
  /* A receiver that failed goes away: a sender still writing fails. */
  if (run.receive_error != NULL)
    {
      check_receive_error (&run);
      g_assert_true (sw_connection_close (run.receiver, NULL, NULL));
    }
  g_thread_join (sender);

  if (run.send_error != NULL)
    check_send_error (&run);
  if (run.fail == FAIL_NONE)
    {
      g_assert_no_error (run.send_error);
      g_assert_no_error (run.receive_error);
      g_assert_cmpuint (run.n_received, ==, run.messages->len);
    }
  if (g_test_verbose ())
    g_test_message ("seed %u: framing %d, read-ahead %d, %s send, %s receive, "
                    "pollable %d/%d, fail %d at %u/%u; %u messages, %u sent, "
                    "%u received, %u overtaken; errors: %s / %s", seed, run.framing_kind,
                    run.read_ahead, run.async_send ? "async" : "sync",
                    run.async_receive ? "async" : "sync", run.send_config.pollable,
                    run.receive_config.pollable, run.fail, run.send_config.fail_at,
                    run.receive_config.fail_at, run.messages->len, run.n_sent,
                    run.n_received, run.n_overtaken, run.send_error ? run.send_error->message : "-",
                    run.receive_error ? run.receive_error->message : "-");
  /* A failed corked batch fails every call in it, even those whose frames
   * were written whole before the error (sw_connection_send_message_async
   * documents the batch as completing as a whole), so only a sender that
   * saw no error bounds what arrived. The order, contents and uniqueness
   * were checked message by message. */
  if (run.send_error == NULL)
    g_assert_cmpuint (run.n_received, <=, run.n_sent);
  n_faults = sw_fault_stream_get_n_faults (run.send_stream)
             + sw_fault_stream_get_n_faults (run.receive_stream);
  if (run.n_overtaken > 0)
    n_overtaking_runs++;
  run_clear (&run);
  return n_faults;
}

static guint
n_runs (void)
{
  const char *runs = g_getenv ("SW_FAULT_RUNS");

  if (runs != NULL)
    return (guint) g_ascii_strtoull (runs, NULL, 10);
  if (sw_test_under_valgrind ())
    return VALGRIND_RUNS;
  return g_test_thorough () ? 20 * DEFAULT_RUNS : DEFAULT_RUNS;
}

static void
test_fault_injection_seeded (void)
{
  const char *replay = g_getenv ("SW_FAULT_SEED");
  guint32 first = 1;
  guint runs = n_runs ();
  guint64 n_faults = 0;
  gint64 start;

  /* Bounded in a subprocess, except under valgrind, which only watches
   * this process (meson's timeout bounds it there). */
  if (!sw_test_under_valgrind () && !sw_test_run_bounded (10 * 60 * G_USEC_PER_SEC))
    return;
  if (replay != NULL)
    {
      first = (guint32) g_ascii_strtoull (replay, NULL, 10);
      runs = 1;
    }
  install_seed_printer ();
  start = g_get_monotonic_time ();
  for (guint i = 0; i < runs; i++)
    n_faults += run_one (first + i);
  seed_note[0] = '\0';
  g_test_message ("%u seeded runs from %u, %" G_GUINT64_FORMAT " faults delivered, "
                  "%u runs with async completions out of call order, %.0f runs/s",
                  runs, first, n_faults, n_overtaking_runs,
                  runs / ((g_get_monotonic_time () - start + 1) / (double) G_USEC_PER_SEC));
}

/* Async sends queued at once behind another complete in call order, also
 * when the stream cannot poll: the first of them gets the connection,
 * runs in a worker thread and takes the others into its batch, whose
 * completions must not overtake its own (threads.md, "Queued async sends
 * travel together"). The first send, alone in its batch, may complete
 * before or after them: separate calls promise their wire order only. */
static void
test_async_send_order (gconstpointer data)
{
  SwFaultConfig config = { 0 };
  Run run;
  guint last = 0;
  GMutex gate;

  memset (&run, 0, sizeof run);
  config.pollable = GPOINTER_TO_INT (data);
  run.framing_kind = FRAMING_VARINT;
  run.send_config = config;
  run.receive_config = config;
  /* On a stream that cannot poll, the first send's worker must not finish
   * before the others are queued behind it (else they form batches of
   * their own, whose completions may come in any order): its write waits
   * for the gate, which send_async() opens once all six are queued. */
  g_mutex_init (&gate);
  if (!config.pollable)
    {
      g_mutex_lock (&gate);
      run.send_config.gate = &gate;
    }
  run.messages = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  for (guint i = 0; i < 6; i++)
    g_ptr_array_add (run.messages, sw_test_pattern_bytes (10 + i, i));
  run_connect (&run);

  send_async (&run);
  g_assert_no_error (run.send_error);
  g_assert_cmpuint (run.n_sent, ==, run.messages->len);
  for (guint i = 0; i < run.completion_order->len; i++)
    {
      guint index = g_array_index (run.completion_order, guint, i);

      if (index == 0)
        continue;
      g_assert_cmpuint (index, ==, last + 1);
      last = index;
    }
  receive_sync (&run);
  g_assert_no_error (run.receive_error);
  g_assert_cmpuint (run.n_received, ==, run.messages->len);
  run_clear (&run);
  g_mutex_clear (&gate);
}

/* ---- a peer killed mid-frame ------------------------------------------ */

/* This program, to start it as the writer. */
static const char *self_path;

/* Far larger than a socket buffer: a peer writing one is blocked inside
 * it for most of the frame. */
#define KILLED_FRAME   (4 * 1024 * 1024)
/* Whole frames the survivor gets before the kill, under load. */
#define FRAMES_BEFORE_KILL 2

/* The child: sends big frames until it is killed. */
static int
writer_main (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwConnection) connection = sw_connection_new_from_environment (
      sw_framing_get_default (), &error);

  if (connection == NULL)
    return 2;
  for (guint32 i = 0; ; i++)
    {
      g_autoptr(GBytes) frame = sw_test_pattern_bytes (KILLED_FRAME, i);

      if (!sw_connection_send_message (connection, frame, -1, NULL, &error))
        return 3;
    }
}

typedef struct
{
  GSubprocess *writer;
  guint        n_frames;
  gboolean     killed;
  gboolean     done;
  GError      *error;
} Survivor;

/* Kills the writer once the survivor is inside a frame whose end the
 * writer cannot have written yet: more is missing than a socket buffer
 * holds. */
static void
on_receive_progress (SwConnection *connection,
                     guint64       done,
                     guint64       total,
                     gpointer      user_data)
{
  Survivor *survivor = user_data;

  if (survivor->killed || survivor->n_frames < FRAMES_BEFORE_KILL
      || done == 0 || total - done < KILLED_FRAME / 2)
    return;
  g_subprocess_force_exit (survivor->writer);
  survivor->killed = TRUE;
}

static void
survivor_take (Survivor *survivor,
               GBytes   *frame)
{
  g_assert_cmpuint (g_bytes_get_size (frame), ==, KILLED_FRAME);
  g_assert_true (sw_test_pattern_check (frame, survivor->n_frames));
  survivor->n_frames++;
}

static void on_survivor_received (GObject      *source,
                                  GAsyncResult *result,
                                  gpointer      user_data);

static void
survivor_receive_async (SwConnection *connection,
                        Survivor     *survivor)
{
  sw_connection_receive_message_async (connection, G_PRIORITY_DEFAULT, NULL,
                                       on_survivor_received, survivor);
}

static void
on_survivor_received (GObject      *source,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  Survivor *survivor = user_data;
  g_autoptr(GBytes) frame = NULL;

  frame = sw_connection_receive_message_finish (SW_CONNECTION (source), result,
                                                &survivor->error);
  if (frame == NULL)
    {
      survivor->done = TRUE;
      return;
    }
  survivor_take (survivor, frame);
  survivor_receive_async (SW_CONNECTION (source), survivor);
}

/* A peer SIGKILLed in the middle of a frame: the survivor, sync or async,
 * gets the frames before it whole and then PARTIAL_INPUT (or
 * CONNECTION_CLOSED), never a hang. No timing: the kill comes from the
 * survivor's own progress report. */
static void
test_peer_killed (gconstpointer data)
{
  gboolean async = GPOINTER_TO_INT (data);
  /* argv[0], not /proc/self/exe: under valgrind that is valgrind. */
  const char *argv[] = { self_path, "--writer", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(SwConnection) connection = NULL;
  Survivor survivor = { 0 };

  if (!sw_test_under_valgrind () && !sw_test_run_bounded (120 * G_USEC_PER_SEC))
    return;
  connection = sw_spawn (argv, sw_framing_get_default (), G_SUBPROCESS_FLAGS_NONE,
                         &survivor.writer, &error);
  g_assert_no_error (error);
  sw_connection_set_progress_threshold (connection, KILLED_FRAME);
  g_signal_connect (connection, "receive-progress", G_CALLBACK (on_receive_progress),
                    &survivor);

  if (async)
    {
      survivor_receive_async (connection, &survivor);
      while (!survivor.done)
        g_main_context_iteration (NULL, TRUE);
    }
  else
    for (;;)
      {
        g_autoptr(GBytes) frame = sw_connection_receive_message (connection, -1, NULL,
                                                                 &survivor.error);

        if (frame == NULL)
          break;
        survivor_take (&survivor, frame);
      }

  g_assert_true (survivor.killed);
  /* An async receive's reports reach this context after the bytes: the
   * frame reported may have been completed meanwhile. */
  g_assert_cmpuint (survivor.n_frames, >=, FRAMES_BEFORE_KILL);
  if (!g_error_matches (survivor.error, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT))
    g_assert_error (survivor.error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
  g_test_message ("survivor: %s", survivor.error->message);
  g_clear_error (&survivor.error);
  g_assert_true (g_subprocess_wait (survivor.writer, NULL, &error));
  g_assert_true (g_subprocess_get_if_signaled (survivor.writer));
  g_assert_cmpint (g_subprocess_get_term_sig (survivor.writer), ==, SIGKILL);
  g_object_unref (survivor.writer);
}

int
main (int    argc,
      char **argv)
{
  if (argc == 2 && strcmp (argv[1], "--writer") == 0)
    return writer_main ();
  self_path = argv[0];
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/sw/fault-injection/seeded", test_fault_injection_seeded);
  g_test_add_data_func ("/sw/fault-injection/async-send-order/blocking",
                        GINT_TO_POINTER (FALSE), test_async_send_order);
  g_test_add_data_func ("/sw/fault-injection/async-send-order/pollable",
                        GINT_TO_POINTER (TRUE), test_async_send_order);
  g_test_add_data_func ("/sw/fault-injection/peer-killed/sync", GINT_TO_POINTER (FALSE),
                        test_peer_killed);
  g_test_add_data_func ("/sw/fault-injection/peer-killed/async", GINT_TO_POINTER (TRUE),
                        test_peer_killed);

  return g_test_run ();
}
