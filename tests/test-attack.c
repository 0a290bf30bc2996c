/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Adversarial cases for cancellation, close and threaded waits, tried the
 * way GTK applications, bindings and multi-threaded programs use a
 * connection. Each case runs in a subprocess with a time bound, so a case
 * that hangs fails instead of stalling the suite; with SW_TEST_DIRECT
 * set in the environment a case runs in the test process itself (to run
 * one under valgrind: SW_TEST_DIRECT=1 valgrind test-attack -p PATH). */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gio/gunixinputstream.h>
#include <socketwrapper/socketwrapper.h>

#include "sw-test-util.h"

/* Generous: every case takes a few seconds at most unless it hangs. */
#define BOUND_US (15 * G_USEC_PER_SEC)

static gboolean
thread_in_syscall (pid_t tid,
                   long  nr)
{
  char path[64];
  g_autofree char *contents = NULL;
  char *end;

  g_snprintf (path, sizeof path, "/proc/self/task/%d/syscall", (int) tid);
  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return FALSE;
  return strtol (contents, &end, 10) == nr && *end == ' ';
}

static GBytes *
seq_message (guint32 seq)
{
  return g_bytes_new (&seq, sizeof seq);
}

static guint32
seq_of (GBytes *message)
{
  guint32 seq;

  g_assert_cmpuint (g_bytes_get_size (message), ==, sizeof seq);
  memcpy (&seq, g_bytes_get_data (message, NULL), sizeof seq);
  return seq;
}

/* The counts of every eventfd of the process, by fd number. */
static GHashTable *
eventfd_counts (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/fdinfo", 0, NULL);
  GHashTable *counts = g_hash_table_new (NULL, NULL);
  const char *name;

  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename ("/proc/self/fdinfo", name, NULL);
      g_autofree char *contents = NULL;
      const char *count;

      if (!g_file_get_contents (path, &contents, NULL, NULL))
        continue;
      count = strstr (contents, "eventfd-count:");
      if (count != NULL)
        g_hash_table_insert (counts, GINT_TO_POINTER (atoi (name) + 1),
                             GSIZE_TO_POINTER (strtoull (count + 14, NULL, 16) + 1));
    }
  return counts;
}

/* Makes @cancellable the one the other thread cancels next. */
static void
publish (GCancellable **slot,
         GCancellable  *cancellable)
{
  GCancellable *old = g_atomic_pointer_exchange (slot, g_object_ref (cancellable));

  g_clear_object (&old);
}

/* ---- sync wait: cancel racing the data, from another thread ---------- */

#define N_RACES 3000

typedef struct
{
  SwConnection *connection;
  gboolean      reuse;            /* one cancellable, reset after each cancel */
  GCancellable *published;        /* atomic: the attempt's cancellable */
  guint         received;         /* atomic */
  guint         n_cancelled;
  guint         n_bad;
  int           wake_fd;
  guint64       wake_count;
} SyncRace;

static gpointer
sync_race_receiver (gpointer data)
{
  SyncRace *s = data;
  g_autoptr(GHashTable) before = NULL;
  g_autoptr(GHashTable) after = NULL;
  g_autoptr(GCancellable) shared = g_cancellable_new ();
  GHashTableIter iter;
  gpointer key, value;

  before = eventfd_counts ();
  while ((guint) g_atomic_int_get (&s->received) < N_RACES)
    {
      g_autoptr(GCancellable) cancellable = s->reuse ? g_object_ref (shared)
                                                     : g_cancellable_new ();
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) message = NULL;

      if (s->reuse)
        g_cancellable_reset (cancellable);
      publish (&s->published, cancellable);
      message = sw_connection_receive_message (s->connection, -1, cancellable, &error);
      if (message != NULL)
        {
          if (seq_of (message) != (guint) g_atomic_int_get (&s->received))
            s->n_bad++;
          g_atomic_int_inc (&s->received);
        }
      else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        s->n_cancelled++;
      else
        g_error ("receive: %s", error->message);
    }

  /* The thread's wake fd is the eventfd that appeared with its first wait;
   * after the last wait it must hold no count (a stale one makes every
   * later wait of this thread return at once and spin). */
  after = eventfd_counts ();
  s->wake_fd = -1;
  g_hash_table_iter_init (&iter, after);
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (!g_hash_table_contains (before, key))
      {
        s->wake_fd = GPOINTER_TO_INT (key) - 1;
        s->wake_count = GPOINTER_TO_SIZE (value) - 1;
      }
  return NULL;
}

static void
run_sync_race (gboolean reuse)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  SyncRace s = { 0 };
  GThread *thread;

  sw_test_socketpair (sw_framing_get_default (), &a, &b);
  s.connection = b;
  s.reuse = reuse;
  thread = g_thread_new ("receiver", sync_race_receiver, &s);
  for (guint32 i = 0; i < N_RACES; i++)
    {
      g_autoptr(GBytes) message = seq_message (i);
      g_autoptr(GError) error = NULL;

      g_assert_true (sw_connection_send_message (a, message, -1, NULL, &error));
      g_assert_no_error (error);
      /* Cancel every attempt until the message was taken, right as the
       * data arrives. */
      while ((guint) g_atomic_int_get (&s.received) <= i)
        {
          GCancellable *c = g_atomic_pointer_exchange (&s.published, NULL);

          if (c != NULL)
            {
              g_cancellable_cancel (c);
              g_object_unref (c);
            }
          else
            g_thread_yield ();
        }
    }
  g_thread_join (thread);
  g_clear_object (&s.published);
  g_printerr ("sync race (reuse %d): %u cancelled, %u out of order, wake fd %d count %"
              G_GUINT64_FORMAT "\n", reuse, s.n_cancelled, s.n_bad, s.wake_fd, s.wake_count);
  g_assert_cmpuint (s.n_bad, ==, 0);
  g_assert_cmpint (s.wake_fd, >=, 0);
  g_assert_cmpuint (s.wake_count, ==, 0);
}

static void
test_sync_cancel_vs_data (void)
{
  if (!sw_test_run_bounded (BOUND_US))
    return;
  run_sync_race (FALSE);
}

static void
test_sync_cancel_reused (void)
{
  if (!sw_test_run_bounded (BOUND_US))
    return;
  run_sync_race (TRUE);
}

/* ---- async receive: cancel from another thread racing the data ------- */

typedef struct
{
  SwConnection *connection;
  GCancellable *published;  /* atomic */
  guint         received;   /* atomic */
  guint         n_cancelled;
  guint         n_bad;
  guint         n_callbacks;
  gboolean      in_flight;
} AsyncRace;

static void receive_next_async (AsyncRace *s);

static void
on_race_received (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  AsyncRace *s = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) message = NULL;

  message = sw_connection_receive_message_finish (SW_CONNECTION (source), result, &error);
  s->n_callbacks++;
  s->in_flight = FALSE;
  if (message != NULL)
    {
      if (seq_of (message) != (guint) g_atomic_int_get (&s->received))
        s->n_bad++;
      g_atomic_int_inc (&s->received);
    }
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    s->n_cancelled++;
  else
    g_error ("receive_async: %s", error->message);
}

static void
receive_next_async (AsyncRace *s)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();

  s->in_flight = TRUE;
  publish (&s->published, cancellable);
  sw_connection_receive_message_async (s->connection, G_PRIORITY_DEFAULT, cancellable,
                                       on_race_received, s);
}

typedef struct
{
  SwConnection *connection;
  AsyncRace    *race;
} RaceSender;

static gpointer
async_race_sender (gpointer data)
{
  RaceSender *r = data;

  for (guint32 i = 0; i < N_RACES; i++)
    {
      g_autoptr(GBytes) message = seq_message (i);
      g_autoptr(GError) error = NULL;

      /* Wait for an attempt to be in flight, then send and cancel it. */
      while (g_atomic_pointer_get (&r->race->published) == NULL)
        g_thread_yield ();
      g_assert_true (sw_connection_send_message (r->connection, message, -1, NULL, &error));
      g_assert_no_error (error);
      while ((guint) g_atomic_int_get (&r->race->received) <= i)
        {
          GCancellable *c = g_atomic_pointer_exchange (&r->race->published, NULL);

          if (c != NULL)
            {
              g_cancellable_cancel (c);
              g_object_unref (c);
            }
          else
            g_thread_yield ();
        }
    }
  return NULL;
}

static void
test_async_cancel_vs_data (void)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  AsyncRace s = { 0 };
  RaceSender r;
  GThread *thread;

  if (!sw_test_run_bounded (BOUND_US))
    return;
  sw_test_socketpair (sw_framing_get_default (), &a, &b);
  s.connection = b;
  r.connection = a;
  r.race = &s;
  thread = g_thread_new ("sender", async_race_sender, &r);
  while ((guint) g_atomic_int_get (&s.received) < N_RACES)
    {
      if (!s.in_flight)
        receive_next_async (&s);
      g_main_context_iteration (NULL, TRUE);
    }
  g_thread_join (thread);
  g_clear_object (&s.published);
  g_printerr ("async race: %u callbacks, %u cancelled, %u out of order\n",
              s.n_callbacks, s.n_cancelled, s.n_bad);
  g_assert_cmpuint (s.n_bad, ==, 0);
  g_assert_cmpuint (s.n_callbacks, ==, N_RACES + s.n_cancelled);
}

/* ---- async receive: cancel and close together from another thread ---- */

typedef struct
{
  SwConnection *connection;
  GCancellable *cancellable;
  gint          go;
} Closer;

static gpointer
cancel_and_close_thread (gpointer data)
{
  Closer *c = data;

  while (!g_atomic_int_get (&c->go))
    ;
  g_cancellable_cancel (c->cancellable);
  sw_connection_close (c->connection, NULL, NULL);
  return NULL;
}

typedef struct
{
  guint   n_callbacks;
  GError *error;
} Done;

static void
on_done_received (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  Done *d = user_data;
  g_autoptr(GBytes) message = NULL;

  message = sw_connection_receive_message_finish (SW_CONNECTION (source), result, &d->error);
  d->n_callbacks++;
}

static void
test_async_cancel_and_close (void)
{
  if (!sw_test_run_bounded (BOUND_US))
    return;
  for (guint i = 0; i < 500; i++)
    {
      g_autoptr(SwConnection) a = NULL;
      g_autoptr(SwConnection) b = NULL;
      g_autoptr(GCancellable) cancellable = g_cancellable_new ();
      g_autoptr(GBytes) message = seq_message (i);
      Closer c = { 0 };
      Done d = { 0 };
      GThread *thread;

      sw_test_socketpair (sw_framing_get_default (), &a, &b);
      c.connection = b;
      c.cancellable = cancellable;
      thread = g_thread_new ("closer", cancel_and_close_thread, &c);
      sw_connection_receive_message_async (b, G_PRIORITY_DEFAULT, cancellable,
                                           on_done_received, &d);
      if (i % 2 == 0)
        g_assert_true (sw_connection_send_message (a, message, -1, NULL, NULL));
      g_atomic_int_set (&c.go, 1);
      while (d.n_callbacks == 0)
        g_main_context_iteration (NULL, TRUE);
      g_thread_join (thread);
      /* Nothing more may arrive. */
      while (g_main_context_iteration (NULL, FALSE))
        ;
      g_assert_cmpuint (d.n_callbacks, ==, 1);
      g_assert_true (sw_connection_get_closed (b));
      g_clear_error (&d.error);
    }
}

/* ---- close_async() and close() before the loop runs ------------------ */

static void
test_close_async_then_close_top_level (void)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GError) error = NULL;

  if (!sw_test_run_bounded (BOUND_US))
    return;
  sw_test_socketpair (sw_framing_get_default (), &a, &b);
  /* A script's cleanup, before (or without) loop.run(): close_async()
   * with no callback, then close(). The first close can only finish in
   * this thread's default context; the second one waits for it. */
  sw_connection_close_async (b, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
  sw_connection_close (b, NULL, &error);
  g_assert_no_error (error);
}

/* ---- a stream whose blocking read ignores its cancellable ------------ */

#define TEST_TYPE_STUCK_STREAM (test_stuck_stream_get_type ())
G_DECLARE_FINAL_TYPE (TestStuckStream, test_stuck_stream, TEST, STUCK_STREAM, GInputStream)

struct _TestStuckStream
{
  GInputStream parent_instance;
  int          fd;
  gint         reader_tid;  /* atomic */
  GThread     *closed_in;
};

G_DEFINE_FINAL_TYPE (TestStuckStream, test_stuck_stream, G_TYPE_INPUT_STREAM)

/* Like many hand-written streams (a device, a library's blocking read):
 * a plain read(2) that no cancellable interrupts. */
static gssize
stuck_stream_read (GInputStream  *stream,
                   void          *buffer,
                   gsize          count,
                   GCancellable  *cancellable,
                   GError       **error)
{
  TestStuckStream *self = TEST_STUCK_STREAM (stream);
  gssize n;

  g_atomic_int_set (&self->reader_tid, (gint) syscall (SYS_gettid));
  do
    n = read (self->fd, buffer, count);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    g_set_error_literal (error, G_IO_ERROR, g_io_error_from_errno (errno), "read");
  return n;
}

static gboolean
stuck_stream_close (GInputStream  *stream,
                    GCancellable  *cancellable,
                    GError       **error)
{
  TestStuckStream *self = TEST_STUCK_STREAM (stream);

  self->closed_in = g_thread_self ();
  close (self->fd);
  self->fd = -1;
  return TRUE;
}

static void
test_stuck_stream_class_init (TestStuckStreamClass *klass)
{
  G_INPUT_STREAM_CLASS (klass)->read_fn = stuck_stream_read;
  G_INPUT_STREAM_CLASS (klass)->close_fn = stuck_stream_close;
}

static void
test_stuck_stream_init (TestStuckStream *self)
{
  self->fd = -1;
}

typedef struct
{
  guint    n_notified;
  GThread *notified_in;
} NotifyCount;

static void
on_notify_count (GObject    *object,
                 GParamSpec *pspec,
                 gpointer    user_data)
{
  NotifyCount *n = user_data;

  n->n_notified++;
  n->notified_in = g_thread_self ();
}

/* close() with a cancellable behind an async receive stuck in its GTask
 * worker: close() returns CANCELLED and leaves the close to the owner;
 * when the read ends, the close must still not run in the worker (a
 * thread the library made): notify::closed and the stream's close would
 * run there, under the feet of a GTK app. */
static void
test_cancelled_close_behind_threaded_owner (void)
{
  g_autoptr(TestStuckStream) stream = g_object_new (TEST_TYPE_STUCK_STREAM, NULL);
  g_autoptr(SwConnection) c = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  static const guint8 frame[] = { 1, 'x' };
  NotifyCount n = { 0 };
  Done d = { 0 };
  int fds[2];

  if (!sw_test_run_bounded (BOUND_US))
    return;
  g_assert_cmpint (pipe2 (fds, O_CLOEXEC), ==, 0);
  stream->fd = fds[0];
  c = sw_connection_new_for_streams (G_INPUT_STREAM (stream), NULL, sw_framing_get_default ());
  g_signal_connect (c, "notify::closed", G_CALLBACK (on_notify_count), &n);
  sw_connection_receive_message_async (c, G_PRIORITY_DEFAULT, NULL, on_done_received, &d);
  while (g_atomic_int_get (&stream->reader_tid) == 0
         || !thread_in_syscall (g_atomic_int_get (&stream->reader_tid), SYS_read))
    g_thread_yield ();

  g_cancellable_cancel (cancellable);
  g_assert_false (sw_connection_close (c, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpuint (n.n_notified, ==, 0);

  /* The read ends; the call completes in this thread's context. */
  g_assert_cmpint (write (fds[1], frame, sizeof frame), ==, sizeof frame);
  while (d.n_callbacks == 0)
    g_main_context_iteration (NULL, TRUE);
  while (!sw_connection_get_closed (c))
    g_main_context_iteration (NULL, TRUE);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_clear_error (&d.error);
  close (fds[1]);
  g_printerr ("notified %u times, in %s; stream closed in %s\n", n.n_notified,
              n.notified_in == g_thread_self () ? "this thread" : "another thread",
              stream->closed_in == g_thread_self () ? "this thread" : "another thread");
  g_assert_cmpuint (n.n_notified, ==, 1);
  g_assert_true (n.notified_in == g_thread_self ());
  g_assert_true (stream->closed_in == g_thread_self ());
}

/* The same behind a blocking receive in an application thread: close()
 * with a cancellable gives up (CANCELLED, mode deferred), a close_async()
 * and a second close() from another thread queue behind it; once the read
 * ends, all of them complete, notify::closed is emitted once and the
 * stream is closed. */
typedef struct
{
  SwConnection *connection;
  gboolean      ok;
  GError       *error;
} SecondClose;

static gpointer
second_close_thread (gpointer data)
{
  SecondClose *s = data;

  s->ok = sw_connection_close (s->connection, NULL, &s->error);
  return NULL;
}

static void
on_close_async_done (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  guint *n_done = user_data;

  g_assert_true (sw_connection_close_finish (SW_CONNECTION (source), result, NULL));
  (*n_done)++;
}

typedef struct
{
  SwConnection *connection;
  GBytes       *message;
  GError       *error;
} StuckReceive;

static gpointer
stuck_receive (gpointer data)
{
  StuckReceive *r = data;

  r->message = sw_connection_receive_message (r->connection, -1, NULL, &r->error);
  return NULL;
}

static void
test_cancelled_close_behind_blocking_owner (void)
{
  g_autoptr(TestStuckStream) stream = g_object_new (TEST_TYPE_STUCK_STREAM, NULL);
  g_autoptr(SwConnection) c = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  static const guint8 frame[] = { 1, 'x' };
  NotifyCount n = { 0 };
  StuckReceive r = { 0 };
  SecondClose s = { 0 };
  GThread *receiver, *closer;
  guint n_async_done = 0;
  int fds[2];

  if (!sw_test_run_bounded (BOUND_US))
    return;
  g_assert_cmpint (pipe2 (fds, O_CLOEXEC), ==, 0);
  stream->fd = fds[0];
  c = sw_connection_new_for_streams (G_INPUT_STREAM (stream), NULL, sw_framing_get_default ());
  g_signal_connect (c, "notify::closed", G_CALLBACK (on_notify_count), &n);
  r.connection = c;
  receiver = g_thread_new ("receiver", stuck_receive, &r);
  while (g_atomic_int_get (&stream->reader_tid) == 0
         || !thread_in_syscall (g_atomic_int_get (&stream->reader_tid), SYS_read))
    g_thread_yield ();

  g_cancellable_cancel (cancellable);
  g_assert_false (sw_connection_close (c, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_false (sw_connection_get_closed (c));
  sw_connection_close_async (c, G_PRIORITY_DEFAULT, NULL, on_close_async_done, &n_async_done);
  s.connection = c;
  closer = g_thread_new ("second close", second_close_thread, &s);

  g_assert_cmpint (write (fds[1], frame, sizeof frame), ==, sizeof frame);
  g_thread_join (receiver);
  g_thread_join (closer);
  while (n_async_done == 0)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (s.ok);
  g_assert_no_error (s.error);
  g_assert_true (sw_connection_get_closed (c));
  g_assert_cmpuint (n.n_notified, ==, 1);
  g_assert_cmpint (stream->fd, ==, -1);
  g_assert_false (sw_test_fd_is_open (fds[0]));
  /* The receive had everything it needed: its message. */
  g_assert_no_error (r.error);
  g_assert_nonnull (r.message);
  g_bytes_unref (r.message);
  close (fds[1]);
}

/* ---- close() and cancel during a blocking read on a non-pollable stream */

static SwConnection *
buffered_pipe_connection (int *write_fd,
                          int *read_fd)
{
  int fds[2];
  g_autoptr(GInputStream) base = NULL;
  g_autoptr(GInputStream) data = NULL;

  g_assert_cmpint (pipe2 (fds, O_CLOEXEC), ==, 0);
  base = g_unix_input_stream_new (fds[0], TRUE);
  data = G_INPUT_STREAM (g_data_input_stream_new (base));
  *write_fd = fds[1];
  *read_fd = fds[0];
  return sw_connection_new_for_streams (data, NULL, sw_framing_get_default ());
}

typedef struct
{
  SwConnection *connection;
  GCancellable *cancellable;
  gint          tid;
  GBytes       *message;
  GError       *error;
} Blocked;

static gpointer
blocked_receive (gpointer data)
{
  Blocked *b = data;

  g_atomic_int_set (&b->tid, (gint) syscall (SYS_gettid));
  b->message = sw_connection_receive_message (b->connection, -1, b->cancellable, &b->error);
  return NULL;
}

static GThread *
start_blocked (Blocked *b)
{
  GThread *thread = g_thread_new ("blocked", blocked_receive, b);

  while (g_atomic_int_get (&b->tid) == 0)
    g_thread_yield ();
  while (!thread_in_syscall (b->tid, SYS_poll) && !thread_in_syscall (b->tid, SYS_ppoll)
         && !thread_in_syscall (b->tid, SYS_read))
    g_thread_yield ();
  return thread;
}

static void
test_close_during_data_stream_read (void)
{
  g_autoptr(SwConnection) c = NULL;
  g_autoptr(GError) error = NULL;
  guint fds_before = sw_test_count_open_fds ();
  Blocked b = { 0 };
  GThread *thread;
  int write_fd, read_fd;

  if (!sw_test_run_bounded (BOUND_US))
    return;
  c = buffered_pipe_connection (&write_fd, &read_fd);
  b.connection = c;
  thread = start_blocked (&b);
  g_assert_true (sw_connection_close (c, NULL, &error));
  g_assert_no_error (error);
  g_thread_join (thread);
  g_assert_null (b.message);
  g_assert_error (b.error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_clear_error (&b.error);
  g_assert_false (sw_test_fd_is_open (read_fd));
  close (write_fd);
  g_assert_cmpuint (sw_test_count_open_fds (), ==, fds_before);
}

/* A cancel in the middle of a frame keeps what was read. */
static void
test_cancel_mid_frame_data_stream (void)
{
  g_autoptr(SwConnection) c = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) message = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  static const guint8 frame[] = { 5, 'h', 'e', 'l', 'l', 'o' };
  Blocked b = { 0 };
  GThread *thread;
  int write_fd, read_fd;

  if (!sw_test_run_bounded (BOUND_US))
    return;
  c = buffered_pipe_connection (&write_fd, &read_fd);
  g_assert_cmpint (write (write_fd, frame, 3), ==, 3);
  b.connection = c;
  b.cancellable = cancellable;
  thread = start_blocked (&b);
  /* start_blocked may see the first read: wait until it waits again. */
  while (!thread_in_syscall (b.tid, SYS_poll) && !thread_in_syscall (b.tid, SYS_ppoll))
    g_thread_yield ();
  g_cancellable_cancel (cancellable);
  g_thread_join (thread);
  g_assert_null (b.message);
  g_assert_error (b.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&b.error);

  g_assert_cmpint (write (write_fd, frame + 3, 3), ==, 3);
  message = sw_connection_receive_message (c, -1, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (message, NULL), g_bytes_get_size (message), "hello", 5);
  close (write_fd);
}

/* ---- fork: the child's waits are woken by its own cancels ------------ */

static gboolean
cancel_blocked_receive (SwConnection *connection)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  Blocked b = { 0 };
  GThread *thread;
  gboolean ok;

  b.connection = connection;
  b.cancellable = cancellable;
  thread = start_blocked (&b);
  g_cancellable_cancel (cancellable);
  g_thread_join (thread);
  ok = b.message == NULL && g_error_matches (b.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&b.error);
  g_clear_pointer (&b.message, g_bytes_unref);
  return ok;
}

static gboolean
cancel_own_receive (SwConnection *connection)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) message = NULL;

  /* This thread's wake fd, cancelled before the wait. */
  g_cancellable_cancel (cancellable);
  message = sw_connection_receive_message (connection, -1, cancellable, &error);
  return message == NULL && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

static void
test_fork_wake_fd (void)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) message = NULL;
  int status;
  pid_t pid;

  if (!sw_test_run_bounded (BOUND_US))
    return;
  sw_test_socketpair (sw_framing_get_default (), &a, &b);
  /* Gives this thread its wake fd. */
  g_assert_true (cancel_own_receive (b));
  message = sw_connection_receive_message (b, 1000, NULL, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);

  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    _exit (cancel_own_receive (b) && cancel_blocked_receive (b) && cancel_own_receive (b)
           ? 0 : 1);
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);
  /* The parent's waits are unaffected. */
  g_assert_true (cancel_own_receive (b));
  g_assert_true (cancel_blocked_receive (b));
}

/* ---- batches interrupted by close and cancel ------------------------- */

#define BIG (256 * 1024)

typedef struct
{
  guint   n_callbacks;
  guint   n_ok;
  guint   n_failed;
} SendDone;

static void
on_batch_sent (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  SendDone *d = user_data;
  g_autoptr(GError) error = NULL;

  d->n_callbacks++;
  if (sw_connection_send_messages_finish (SW_CONNECTION (source), result, &error))
    d->n_ok++;
  else
    d->n_failed++;
}

static void
on_one_sent (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  SendDone *d = user_data;
  g_autoptr(GError) error = NULL;

  d->n_callbacks++;
  if (sw_connection_send_message_finish (SW_CONNECTION (source), result, &error))
    d->n_ok++;
  else
    d->n_failed++;
}

/* Reads everything until the peer closes. */
static gpointer
drain_thread (gpointer data)
{
  SwConnection *b = data;

  for (;;)
    {
      g_autoptr(GBytes) bytes = sw_connection_receive_bytes (b, -1, -1, NULL, NULL);

      if (bytes == NULL)
        return NULL;
    }
}

static void
run_batch_interrupted (gboolean by_close,
                       gboolean corked)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autofree guint8 *data = g_malloc0 (BIG);
  GBytes *messages[5];
  SendDone d = { 0 };
  guint n_calls = corked ? 5 : 2;
  GThread *drainer;

  sw_test_socketpair (sw_framing_get_default (), &a, &b);
  for (guint i = 0; i < G_N_ELEMENTS (messages); i++)
    messages[i] = g_bytes_new (data, BIG);
  if (corked)
    {
      /* A first send with a cancellable, then corked ones behind it. */
      sw_connection_send_message_async (a, messages[0], G_PRIORITY_DEFAULT, cancellable,
                                        on_one_sent, &d);
      for (guint i = 1; i < 5; i++)
        sw_connection_send_message_async (a, messages[i], G_PRIORITY_DEFAULT, NULL,
                                          on_one_sent, &d);
    }
  else
    {
      sw_connection_send_messages_async (a, messages, 5, G_PRIORITY_DEFAULT, cancellable,
                                         on_batch_sent, &d);
      sw_connection_send_messages_async (a, messages, 5, G_PRIORITY_DEFAULT, cancellable,
                                         on_batch_sent, &d);
    }
  for (guint i = 0; i < G_N_ELEMENTS (messages); i++)
    g_bytes_unref (messages[i]);
  /* Let the first batch fill the socket and park. */
  for (guint i = 0; i < 20; i++)
    g_main_context_iteration (NULL, FALSE);
  if (by_close)
    sw_connection_close_async (a, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
  else
    g_cancellable_cancel (cancellable);
  /* Drain the peer so a committed frame can finish. */
  drainer = g_thread_new ("drain", drain_thread, b);
  while (d.n_callbacks < n_calls)
    g_main_context_iteration (NULL, TRUE);
  if (!by_close)
    sw_connection_close_async (a, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
  while (!sw_connection_get_closed (a))
    g_main_context_iteration (NULL, TRUE);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_thread_join (drainer);
  g_printerr ("batch (close %d, corked %d): %u ok, %u failed\n", by_close, corked, d.n_ok, d.n_failed);
  g_assert_cmpuint (d.n_callbacks, ==, n_calls);
}

static void
test_batch_close (void)
{
  if (!sw_test_run_bounded (BOUND_US))
    return;
  run_batch_interrupted (TRUE, FALSE);
}

static void
test_batch_cancel (void)
{
  if (!sw_test_run_bounded (BOUND_US))
    return;
  run_batch_interrupted (FALSE, FALSE);
}

static void
test_corked_close (void)
{
  if (!sw_test_run_bounded (BOUND_US))
    return;
  run_batch_interrupted (TRUE, TRUE);
}

static void
test_corked_cancel (void)
{
  if (!sw_test_run_bounded (BOUND_US))
    return;
  run_batch_interrupted (FALSE, TRUE);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/sw/attack/sync-wait/cancel-vs-data", test_sync_cancel_vs_data);
  g_test_add_func ("/sw/attack/sync-wait/cancel-reused-reset", test_sync_cancel_reused);
  g_test_add_func ("/sw/attack/async/cancel-vs-data", test_async_cancel_vs_data);
  g_test_add_func ("/sw/attack/async/cancel-and-close", test_async_cancel_and_close);
  g_test_add_func ("/sw/attack/close/async-then-close-top-level",
                   test_close_async_then_close_top_level);
  g_test_add_func ("/sw/attack/close/cancelled-behind-threaded-owner",
                   test_cancelled_close_behind_threaded_owner);
  g_test_add_func ("/sw/attack/close/cancelled-behind-blocking-owner",
                   test_cancelled_close_behind_blocking_owner);
  g_test_add_func ("/sw/attack/non-pollable/close-during-read",
                   test_close_during_data_stream_read);
  g_test_add_func ("/sw/attack/non-pollable/cancel-mid-frame",
                   test_cancel_mid_frame_data_stream);
  g_test_add_func ("/sw/attack/fork/wake-fd", test_fork_wake_fd);
  g_test_add_func ("/sw/attack/batch/close", test_batch_close);
  g_test_add_func ("/sw/attack/batch/cancel", test_batch_cancel);
  g_test_add_func ("/sw/attack/corked/close", test_corked_close);
  g_test_add_func ("/sw/attack/corked/cancel", test_corked_cancel);

  return g_test_run ();
}
