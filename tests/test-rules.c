/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The core's thread, close and settings rules, tried the
 * way GTK applications and multi-threaded programs use a connection. Each
 * case runs in a subprocess with a time bound, so a case that hangs fails
 * (as "hung") instead of stalling the suite. */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <gio/gunixinputstream.h>
#include <socketwrapper/socketwrapper.h>

#include "sw-test-util.h"

/* Generous: every case finishes in milliseconds unless it hangs. */
#define BOUND_US (20 * G_USEC_PER_SEC)

/* Runs the current test's body in a subprocess, bounded. */
/* Whether thread @tid sleeps in a system call of @nr. */
static gboolean
thread_in_syscall (pid_t tid,
                   long  nr)
{
  char path[64];
  g_autofree char *contents = NULL;
  char *end;

  g_snprintf (path, sizeof path, "/proc/self/task/%d/syscall", (int) tid);
  if (!g_file_get_contents (path, &contents, NULL, NULL))
    g_error ("cannot read %s", path);
  return strtol (contents, &end, 10) == nr && *end == ' ';
}

typedef struct
{
  guint     n_notified;
  GThread  *notified_in;
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

/* ---- close_async() and then close() in the same thread --------------- */

typedef struct
{
  GMainLoop    *loop;
  SwConnection *connection;
  gboolean      close_returned;
  gboolean      async_done;
  GError       *error;
} CloseBoth;

static void
on_close_async_done (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  CloseBoth *c = user_data;

  g_assert_true (sw_connection_close_finish (SW_CONNECTION (source), result, NULL));
  c->async_done = TRUE;
  g_main_loop_quit (c->loop);
}

static gboolean
close_async_then_sync (gpointer user_data)
{
  CloseBoth *c = user_data;

  /* A GTK app: close_async() from one handler, close() from another
   * (say, the window's destroy) before the loop ran again. The first
   * close finishes in this thread's context, so a second close() that
   * waits for it here can never return. */
  sw_connection_close_async (c->connection, G_PRIORITY_DEFAULT, NULL,
                             on_close_async_done, c);
  c->close_returned = TRUE;
  sw_connection_close (c->connection, NULL, &c->error);
  return G_SOURCE_REMOVE;
}

static void
test_close_async_then_close (void)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  CloseBoth c = { 0 };

  if (!sw_test_run_bounded (BOUND_US))
    return;
  sw_test_socketpair (sw_framing_get_default (), &a, &b);
  c.loop = g_main_loop_new (NULL, FALSE);
  c.connection = a;
  g_idle_add (close_async_then_sync, &c);
  g_main_loop_run (c.loop);
  g_assert_true (c.async_done);
  g_clear_error (&c.error);
  g_main_loop_unref (c.loop);
}

/* ---- close() twice from a framing's decode --------------------------- */

#define TEST_TYPE_DOUBLE_CLOSE_FRAMING (test_double_close_framing_get_type ())
G_DECLARE_FINAL_TYPE (TestDoubleCloseFraming, test_double_close_framing, TEST,
                      DOUBLE_CLOSE_FRAMING, GObject)

struct _TestDoubleCloseFraming
{
  GObject       parent_instance;
  SwConnection *connection;
  guint         n_closes_returned;
};

static SwFramingResult
double_close_framing_decode (SwFraming     *framing,
                             const guint8  *data,
                             gsize          length,
                             guint64       *state,
                             gsize         *header_length,
                             guint64       *payload_length,
                             gsize         *trailer_length,
                             gsize         *needed,
                             GError       **error)
{
  TestDoubleCloseFraming *self = TEST_DOUBLE_CLOSE_FRAMING (framing);

  /* Two pieces of user code reacting to the same bad input, each closing
   * the connection: "close() never waits for its own thread". */
  if (self->n_closes_returned == 0)
    {
      sw_connection_close (self->connection, NULL, NULL);
      self->n_closes_returned++;
      sw_connection_close (self->connection, NULL, NULL);
      self->n_closes_returned++;
    }
  *needed = 1;
  return SW_FRAMING_RESULT_NEED_MORE;
}

static gboolean
double_close_framing_encode (SwFraming  *framing,
                             GBytes     *payload,
                             GBytes    **header,
                             GBytes    **trailer,
                             GError    **error)
{
  *header = g_bytes_new (NULL, 0);
  return TRUE;
}

static void
test_double_close_framing_iface_init (SwFramingInterface *iface)
{
  iface->decode = double_close_framing_decode;
  iface->encode = double_close_framing_encode;
}

G_DEFINE_FINAL_TYPE_WITH_CODE (TestDoubleCloseFraming, test_double_close_framing,
                               G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (SW_TYPE_FRAMING,
                                                      test_double_close_framing_iface_init))

static void
test_double_close_framing_class_init (TestDoubleCloseFramingClass *klass)
{
}

static void
test_double_close_framing_init (TestDoubleCloseFraming *self)
{
}

static void
test_close_twice_from_framing (void)
{
  g_autoptr(TestDoubleCloseFraming) framing = NULL;
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) message = NULL;
  g_autoptr(GError) error = NULL;
  static const guint8 byte = 'x';

  if (!sw_test_run_bounded (BOUND_US))
    return;
  framing = g_object_new (TEST_TYPE_DOUBLE_CLOSE_FRAMING, NULL);
  sw_test_socketpair (SW_FRAMING (framing), &a, &b);
  framing->connection = b;
  sw_test_write_all (sw_connection_get_fd (a), &byte, 1);

  message = sw_connection_receive_message (b, -1, NULL, &error);
  g_assert_null (message);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_assert_cmpuint (framing->n_closes_returned, ==, 2);
  g_assert_true (sw_connection_get_closed (b));
}

/* ---- close() from a GCancellable::cancelled handler ------------------ */

typedef struct
{
  SwConnection *connection;
  GCancellable *cancellable;
  pid_t         tid;
  gint          started;
  GBytes       *received;
  GError       *error;
} Receiver;

static gpointer
receive_thread (gpointer data)
{
  Receiver *r = data;

  r->tid = (pid_t) syscall (SYS_gettid);
  g_atomic_int_set (&r->started, 1);
  r->received = sw_connection_receive_message (r->connection, -1, r->cancellable, &r->error);
  return NULL;
}

static GThread *
start_receiver_in_poll (Receiver *r)
{
  GThread *thread = g_thread_new ("receiver", receive_thread, r);

  while (!g_atomic_int_get (&r->started))
    g_thread_yield ();
  while (!thread_in_syscall (r->tid, SYS_poll) && !thread_in_syscall (r->tid, SYS_ppoll))
    g_thread_yield ();
  return thread;
}

static void
close_on_cancelled (GCancellable *cancellable,
                    gpointer      user_data)
{
  /* "Cancel" in an app: stop the download and close the connection. */
  sw_connection_close (user_data, NULL, NULL);
}

static void
test_close_from_cancelled_handler (void)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  Receiver r = { 0 };
  GThread *thread;

  if (!sw_test_run_bounded (BOUND_US))
    return;
  sw_test_socketpair (sw_framing_get_default (), &a, &b);
  g_cancellable_connect (cancellable, G_CALLBACK (close_on_cancelled), b, NULL);
  r.connection = b;
  r.cancellable = cancellable;
  thread = start_receiver_in_poll (&r);

  g_cancellable_cancel (cancellable);
  g_thread_join (thread);
  g_assert_null (r.received);
  g_assert_nonnull (r.error);
  g_assert_true (g_error_matches (r.error, G_IO_ERROR, G_IO_ERROR_CANCELLED)
                 || g_error_matches (r.error, G_IO_ERROR, G_IO_ERROR_CLOSED));
  g_clear_error (&r.error);
  g_assert_true (sw_connection_get_closed (b));
}

/* ---- a non-pollable stream: the async call runs in a GTask worker ---- */

typedef struct
{
  GMainLoop *loop;
  GBytes    *received;
  GError    *error;
  gboolean   done;
} AsyncResult;

static void
on_received (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  AsyncResult *r = user_data;

  r->received = sw_connection_receive_message_finish (SW_CONNECTION (source), result,
                                                      &r->error);
  r->done = TRUE;
  if (r->loop != NULL)
    g_main_loop_quit (r->loop);
}

/* A connection reading a pipe through a GBufferedInputStream, which is
 * not pollable: async receives run the blocking code in a worker. */
static SwConnection *
non_pollable_connection (int *write_fd)
{
  int fds[2];
  g_autoptr(GInputStream) base = NULL;
  g_autoptr(GInputStream) buffered = NULL;

  g_assert_cmpint (pipe2 (fds, O_CLOEXEC), ==, 0);
  base = g_unix_input_stream_new (fds[0], TRUE);
  buffered = g_buffered_input_stream_new (base);
  g_assert_false (G_IS_POLLABLE_INPUT_STREAM (buffered)
                  && g_pollable_input_stream_can_poll (G_POLLABLE_INPUT_STREAM (buffered)));
  *write_fd = fds[1];
  return sw_connection_new_for_streams (buffered, NULL, sw_framing_get_default ());
}

/* close() right after starting an async receive that runs in a worker:
 * until the worker starts, the lock says the call "runs" in this thread,
 * so close() takes itself for code the connection runs and returns at
 * once, leaving the close to the GTask worker. */
static void
test_close_after_threaded_async (void)
{
  guint n_not_closed = 0;
  guint n_wrong_thread = 0;

  if (!sw_test_run_bounded (BOUND_US))
    return;
  for (guint i = 0; i < 200; i++)
    {
      g_autoptr(SwConnection) c = NULL;
      g_autoptr(GError) error = NULL;
      AsyncResult r = { 0 };
      NotifyCount n = { 0 };
      int write_fd;

      c = non_pollable_connection (&write_fd);
      g_signal_connect (c, "notify::closed", G_CALLBACK (on_notify_count), &n);
      sw_connection_receive_message_async (c, G_PRIORITY_DEFAULT, NULL, on_received, &r);
      g_assert_true (sw_connection_close (c, NULL, &error));
      g_assert_no_error (error);
      /* close() returned: the connection is closed, notified here. */
      if (!sw_connection_get_closed (c))
        n_not_closed++;
      /* EOF ends the worker's read (close() does not: see
       * /sw/rules/close/during-threaded-receive). */
      close (write_fd);
      while (!r.done)
        g_main_context_iteration (NULL, TRUE);
      if (n.notified_in != g_thread_self ())
        n_wrong_thread++;
      g_assert_cmpuint (n.n_notified, ==, 1);
      g_assert_null (r.received);
      g_clear_error (&r.error);
    }
  g_printerr ("not closed on return: %u, notified in another thread: %u\n", n_not_closed, n_wrong_thread);
  if (n_not_closed || n_wrong_thread)
    g_error ("of 200 close() calls right after a threaded async receive, %u returned "
             "before the connection was closed and %u notified closed in another thread",
             n_not_closed, n_wrong_thread);
}

/* close() from the main thread while a threaded async receive waits in
 * its worker on an empty pipe: every call in progress ends with CLOSED. */
static void
test_close_during_threaded_receive (void)
{
  g_autoptr(SwConnection) c = NULL;
  g_autoptr(GError) error = NULL;
  AsyncResult r = { 0 };
  int write_fd;

  if (!sw_test_run_bounded (BOUND_US))
    return;
  c = non_pollable_connection (&write_fd);
  sw_connection_receive_message_async (c, G_PRIORITY_DEFAULT, NULL, on_received, &r);
  /* Let the worker reach its blocking read: a 1-byte message proves the
   * worker runs; the second receive then blocks in the worker. */
  {
    static const guint8 frame[] = { 1, 'x' };

    g_assert_cmpint (write (write_fd, frame, sizeof frame), ==, sizeof frame);
  }
  while (!r.done)
    g_main_context_iteration (NULL, TRUE);
  g_assert_no_error (r.error);
  g_clear_pointer (&r.received, g_bytes_unref);
  r.done = FALSE;
  sw_connection_receive_message_async (c, G_PRIORITY_DEFAULT, NULL, on_received, &r);
  {
    /* The worker is in its read once some task thread sits in read(). */
    gboolean blocked = FALSE;

    while (!blocked)
      {
        g_autoptr(GDir) dir = g_dir_open ("/proc/self/task", 0, NULL);
        const char *name;

        while (!blocked && (name = g_dir_read_name (dir)) != NULL)
          blocked = (pid_t) atoi (name) != (pid_t) syscall (SYS_gettid)
                    && (thread_in_syscall (atoi (name), SYS_read)
                        || thread_in_syscall (atoi (name), SYS_poll));
        g_thread_yield ();
      }
  }
  g_assert_true (sw_connection_close (c, NULL, &error));
  g_assert_no_error (error);
  while (!r.done)
    g_main_context_iteration (NULL, TRUE);
  g_assert_error (r.error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_clear_error (&r.error);
  close (write_fd);
}

/* A blocking receive in a loop callback behind a threaded async receive
 * of the same context: the worker ends the call without this thread, so
 * the rule ("PENDING when the wait could only end by this thread going
 * on") says wait; both messages are there already. */
static gboolean
blocking_behind_threaded (gpointer user_data)
{
  SwConnection *c = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) message = NULL;

  message = sw_connection_receive_message (c, -1, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (message);
  return G_SOURCE_REMOVE;
}

static void
test_pending_false_positive_threaded (void)
{
  g_autoptr(SwConnection) c = NULL;
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  static const guint8 frames[] = { 1, 'x', 1, 'y' };
  AsyncResult r = { 0 };
  int write_fd;

  if (!sw_test_run_bounded (BOUND_US))
    return;
  c = non_pollable_connection (&write_fd);
  g_assert_cmpint (write (write_fd, frames, sizeof frames), ==, sizeof frames);
  r.loop = loop;
  sw_connection_receive_message_async (c, G_PRIORITY_DEFAULT, NULL, on_received, &r);
  g_idle_add (blocking_behind_threaded, c);
  g_main_loop_run (loop);
  g_assert_no_error (r.error);
  g_clear_pointer (&r.received, g_bytes_unref);
  close (write_fd);
}

/* ---- PENDING with an acquired, never iterated context ---------------- */

static void
test_pending_acquired_context (void)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) message = NULL;
  AsyncResult r = { 0 };
  AsyncResult r2 = { 0 };

  if (!sw_test_run_bounded (BOUND_US))
    return;
  sw_test_socketpair (sw_framing_get_default (), &a, &b);
  g_assert_true (g_main_context_acquire (NULL));
  sw_connection_receive_message_async (b, G_PRIORITY_DEFAULT, NULL, on_received, &r);
  message = sw_connection_receive_message (b, -1, NULL, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PENDING);
  g_clear_error (&error);

  /* A pushed context of this thread, one level deeper: same rule. */
  {
    GMainContext *inner = g_main_context_new ();
    g_autoptr(GBytes) blocked = NULL;

    g_main_context_push_thread_default (inner);
    sw_connection_receive_message_async (a, G_PRIORITY_DEFAULT, NULL, on_received, &r2);
    blocked = sw_connection_receive_message (a, -1, NULL, &error);
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PENDING);
    g_clear_error (&error);
    g_main_context_pop_thread_default (inner);
    sw_connection_close (a, NULL, NULL);
    while (!r2.done)
      g_main_context_iteration (inner, TRUE);
    g_clear_error (&r2.error);
    g_main_context_unref (inner);
  }
  sw_connection_close (b, NULL, NULL);
  while (!r.done)
    g_main_context_iteration (NULL, TRUE);
  g_clear_error (&r.error);
  g_clear_pointer (&r.received, g_bytes_unref);
  g_main_context_release (NULL);
}

/* ---- notify::closed: exactly once, even when its handler closes ------ */

static void
close_again_on_notify (GObject    *object,
                       GParamSpec *pspec,
                       gpointer    user_data)
{
  NotifyCount *n = user_data;

  n->n_notified++;
  sw_connection_close (SW_CONNECTION (object), NULL, NULL);
  sw_connection_close_async (SW_CONNECTION (object), G_PRIORITY_DEFAULT, NULL, NULL, NULL);
}

static void
test_notify_closed_once (void)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  NotifyCount n = { 0 };
  if (!sw_test_run_bounded (BOUND_US))
    return;
  sw_test_socketpair (sw_framing_get_default (), &a, &b);
  g_signal_connect (a, "notify::closed", G_CALLBACK (close_again_on_notify), &n);
  sw_connection_close_async (a, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
  sw_connection_close_async (a, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
  g_assert_true (sw_connection_close (b, NULL, NULL));
  while (!sw_connection_get_closed (a))
    g_main_context_iteration (NULL, TRUE);
  /* Let the second close_async() and the handler's own one complete. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_cmpuint (n.n_notified, ==, 1);
}

/* ---- settings swapped at run time under traffic ---------------------- */

#define N_RACE_MESSAGES 20000

typedef struct
{
  SwConnection *connection;
  SwFraming    *framings[2];
  gint          stop;
  guint         n_sets;
} Flipper;

static gpointer
flip_settings (gpointer data)
{
  Flipper *f = data;

  while (!g_atomic_int_get (&f->stop))
    {
      guint i = f->n_sets++;

      /* Two framings that read and write the same bytes: whatever frame
       * boundary a change lands on, no message may change. */
      sw_connection_set_framing (f->connection, f->framings[i % 2]);
      sw_connection_set_max_message_size (f->connection, (i % 2) ? 4096 : 1024 * 1024);
      sw_connection_set_read_ahead (f->connection, i % 3 != 0);
    }
  return NULL;
}

static gpointer
send_many (gpointer data)
{
  SwConnection *connection = data;
  GError *error = NULL;

  for (guint i = 0; i < N_RACE_MESSAGES; i++)
    {
      g_autoptr(GBytes) message = sw_test_pattern_bytes (1 + i % 2000, i);

      if (!sw_connection_send_message (connection, message, -1, NULL, &error))
        break;
    }
  return error;
}

static void
test_settings_race_under_traffic (void)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(SwVarIntFraming) v1 = sw_varint_framing_new ();
  g_autoptr(SwVarIntFraming) v2 = sw_varint_framing_new ();
  Flipper fa = { 0 }, fb = { 0 };
  GThread *flip_a, *flip_b, *sender;
  GError *error = NULL;
  guint n_bad = 0;

  if (!sw_test_run_bounded (BOUND_US))
    return;
  sw_test_socketpair (SW_FRAMING (v1), &a, &b);
  fa = (Flipper) { a, { SW_FRAMING (v1), SW_FRAMING (v2) }, 0, 0 };
  fb = (Flipper) { b, { SW_FRAMING (v2), SW_FRAMING (v1) }, 0, 0 };
  flip_a = g_thread_new ("flip-a", flip_settings, &fa);
  flip_b = g_thread_new ("flip-b", flip_settings, &fb);
  sender = g_thread_new ("sender", send_many, a);
  for (guint i = 0; i < N_RACE_MESSAGES; i++)
    {
      g_autoptr(GBytes) message = sw_connection_receive_message (b, -1, NULL, &error);

      if (message == NULL)
        break;
      if (g_bytes_get_size (message) != 1 + i % 2000 || !sw_test_pattern_check (message, i))
        n_bad++;
    }
  g_atomic_int_set (&fa.stop, 1);
  g_atomic_int_set (&fb.stop, 1);
  g_thread_join (flip_a);
  g_thread_join (flip_b);
  g_assert_no_error (error);
  error = g_thread_join (sender);
  g_assert_no_error (error);
  g_assert_cmpuint (n_bad, ==, 0);
  g_test_message ("%u + %u setting changes", fa.n_sets, fb.n_sets);
}

/* ---- dispose of a connection made from a closed fd ------------------- */

static void
test_new_for_closed_fd (void)
{
  g_autoptr(GError) error = NULL;
  SwConnection *c;
  int fds[2];

  if (!sw_test_run_bounded (BOUND_US))
    return;
  sw_test_raw_socketpair (SOCK_STREAM, fds);
  close (fds[0]);
  close (fds[1]);
  c = sw_connection_new_for_fd (fds[0], NULL, &error);
  g_assert_null (c);
  g_assert_nonnull (error);
}

/* ---- close(cancellable) while another thread is stuck in a write ----- */

/* An output stream whose write blocks until released, as a stream over a
 * slow device or a custom transport does; it ignores cancellables. */
#define TEST_TYPE_STUCK_STREAM (test_stuck_stream_get_type ())
G_DECLARE_FINAL_TYPE (TestStuckStream, test_stuck_stream, TEST, STUCK_STREAM, GOutputStream)

struct _TestStuckStream
{
  GOutputStream parent_instance;
  GMutex        mutex;
  GCond         cond;
  gboolean      entered;
  gboolean      released;
};

G_DEFINE_FINAL_TYPE (TestStuckStream, test_stuck_stream, G_TYPE_OUTPUT_STREAM)

static gssize
stuck_stream_write (GOutputStream  *stream,
                    const void     *buffer,
                    gsize           count,
                    GCancellable   *cancellable,
                    GError        **error)
{
  TestStuckStream *self = TEST_STUCK_STREAM (stream);

  g_mutex_lock (&self->mutex);
  self->entered = TRUE;
  g_cond_broadcast (&self->cond);
  while (!self->released)
    g_cond_wait (&self->cond, &self->mutex);
  g_mutex_unlock (&self->mutex);
  return (gssize) count;
}

static void
test_stuck_stream_finalize (GObject *object)
{
  TestStuckStream *self = TEST_STUCK_STREAM (object);

  g_mutex_clear (&self->mutex);
  g_cond_clear (&self->cond);
  G_OBJECT_CLASS (test_stuck_stream_parent_class)->finalize (object);
}

static void
test_stuck_stream_class_init (TestStuckStreamClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = test_stuck_stream_finalize;
  G_OUTPUT_STREAM_CLASS (klass)->write_fn = stuck_stream_write;
}

static void
test_stuck_stream_init (TestStuckStream *self)
{
  g_mutex_init (&self->mutex);
  g_cond_init (&self->cond);
}

typedef struct
{
  SwConnection *connection;
  GCancellable *cancellable;
  pid_t         tid;
  gint          started;
  gboolean      ok;
  GError       *error;
} CloseCall;

static gpointer
close_thread (gpointer data)
{
  CloseCall *c = data;

  c->tid = (pid_t) syscall (SYS_gettid);
  g_atomic_int_set (&c->started, 1);
  c->ok = sw_connection_close (c->connection, c->cancellable, &c->error);
  return NULL;
}

static gpointer
send_thread (gpointer data)
{
  g_autoptr(GBytes) message = g_bytes_new_static ("hello", 5);
  GError *error = NULL;

  sw_connection_send_message (data, message, -1, NULL, &error);
  return error;
}

/* "Pass a cancellable where that matters": the first close() waits for
 * the thread running a send to let go; its cancellable must end that
 * wait. */
static void
test_close_cancellable_stuck_sender (void)
{
  g_autoptr(TestStuckStream) stream = g_object_new (TEST_TYPE_STUCK_STREAM, NULL);
  g_autoptr(SwConnection) c = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  CloseCall cc = { 0 };
  GThread *sender, *closer;

  if (!sw_test_run_bounded (BOUND_US))
    return;
  c = sw_connection_new_for_streams (NULL, G_OUTPUT_STREAM (stream), sw_framing_get_default ());
  sender = g_thread_new ("sender", send_thread, c);
  g_mutex_lock (&stream->mutex);
  while (!stream->entered)
    g_cond_wait (&stream->cond, &stream->mutex);
  g_mutex_unlock (&stream->mutex);

  cc.connection = c;
  cc.cancellable = cancellable;
  closer = g_thread_new ("closer", close_thread, &cc);
  while (!g_atomic_int_get (&cc.started))
    g_thread_yield ();
  while (!thread_in_syscall (cc.tid, SYS_futex))
    g_thread_yield ();
  g_cancellable_cancel (cancellable);
  g_thread_join (closer);
  g_assert_false (cc.ok);
  g_assert_error (cc.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&cc.error);

  g_mutex_lock (&stream->mutex);
  stream->released = TRUE;
  g_cond_broadcast (&stream->cond);
  g_mutex_unlock (&stream->mutex);
  g_clear_error ((GError **) &(GError *) { g_thread_join (sender) });
}

/* ---- close() while shutdown_write_async() waits for the peer --------- */

typedef struct
{
  gboolean  done;
  gboolean  ok;
  GError   *error;
} ShutDone;

static void
on_shutdown_done (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  ShutDone *d = user_data;

  d->ok = sw_connection_shutdown_write_finish (SW_CONNECTION (source), result, &d->error);
  d->done = TRUE;
}

static gpointer
drain_all (gpointer data)
{
  int fd = GPOINTER_TO_INT (data);
  char buffer[65536];

  for (;;)
    {
      struct pollfd pfd = { fd, POLLIN, 0 };
      ssize_t n;

      /* The library made the fd non-blocking. */
      poll (&pfd, 1, -1);
      n = read (fd, buffer, sizeof buffer);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
        return NULL;
    }
}

/* A committed 8 MiB frame, shutdown_write_async() waiting to flush it,
 * then close(): the shutdown completes (the frame is committed, so it is
 * finished by close), notify::closed is emitted once, in this thread. */
static void
test_close_during_shutdown_write_async (void)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) big = sw_test_pattern_bytes (8 * 1024 * 1024, 5);
  g_autoptr(GError) error = NULL;
  ShutDone d = { 0 };
  NotifyCount n = { 0 };
  GThread *drainer;
  int fd;

  if (!sw_test_run_bounded (BOUND_US))
    return;
  sw_test_socketpair (sw_framing_get_default (), &a, &b);
  g_assert_true (sw_connection_send_message (a, big, 0, NULL, &error));
  g_signal_connect (a, "notify::closed", G_CALLBACK (on_notify_count), &n);
  sw_connection_shutdown_write_async (a, G_PRIORITY_DEFAULT, NULL, on_shutdown_done, &d);
  /* The peer reads with plain read(): b's fd, kept open by b. */
  fd = sw_connection_get_fd (b);
  drainer = g_thread_new ("drain", drain_all, GINT_TO_POINTER (fd));
  g_assert_true (sw_connection_close (a, NULL, &error));
  g_assert_no_error (error);
  while (!d.done)
    g_main_context_iteration (NULL, TRUE);
  g_thread_join (drainer);
  g_assert_cmpuint (n.n_notified, ==, 1);
  g_assert_true (n.notified_in == g_thread_self ());
  g_clear_error (&d.error);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/sw/rules/close/async-then-close", test_close_async_then_close);
  g_test_add_func ("/sw/rules/close/twice-from-framing", test_close_twice_from_framing);
  g_test_add_func ("/sw/rules/close/from-cancelled-handler", test_close_from_cancelled_handler);
  g_test_add_func ("/sw/rules/close/after-threaded-async", test_close_after_threaded_async);
  g_test_add_func ("/sw/rules/close/during-threaded-receive",
                   test_close_during_threaded_receive);
  g_test_add_func ("/sw/rules/pending/threaded-false-positive",
                   test_pending_false_positive_threaded);
  g_test_add_func ("/sw/rules/pending/acquired-context", test_pending_acquired_context);
  g_test_add_func ("/sw/rules/notify/closed-once", test_notify_closed_once);
  g_test_add_func ("/sw/rules/settings/race-under-traffic", test_settings_race_under_traffic);
  g_test_add_func ("/sw/rules/dispose/closed-fd", test_new_for_closed_fd);
  g_test_add_func ("/sw/rules/close/cancellable-stuck-sender",
                   test_close_cancellable_stuck_sender);
  g_test_add_func ("/sw/rules/close/during-shutdown-write-async",
                   test_close_during_shutdown_write_async);

  return g_test_run ();
}
