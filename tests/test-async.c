/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The async API of SwConnection (DESIGN §4 "Threads and main contexts"):
 * every _async/_finish pair round-trips; callbacks run in the caller's
 * thread-default main context; cancellation at every point loses and
 * duplicates nothing; committed sends; queued calls; close() and
 * close_async() with calls in progress and queued; references held by
 * pending calls; receive and send in parallel; one FIFO per direction
 * shared by blocking threads and async calls of any main context.
 *
 * No sleeps: a test waits by iterating the main context that runs the
 * callbacks, or by joining a thread. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sw-test-util.h"

/* Bigger than any default socket buffer, so a send of it cannot finish
 * without the peer reading. */
#define BIG_SIZE (4 * 1024 * 1024)

#define PRIO G_PRIORITY_DEFAULT

#define SW_TAG(fn) ((gpointer) (guintptr) (fn))

/* Iterates @ctx (NULL: the global default context) until @cond holds. */
#define WAIT_UNTIL(ctx, cond)                         \
  G_STMT_START {                                      \
    while (!(cond))                                   \
      g_main_context_iteration ((ctx), TRUE);         \
  } G_STMT_END

/* ---- results of async calls ------------------------------------------- */

typedef struct
{
  int           done;           /* atomic */
  gboolean      ok;
  GBytes       *bytes;          /* receive_* */
  gssize        count;          /* send_bytes */
  GError       *error;
  GThread      *thread;         /* where the callback ran */
  GMainContext *thread_default; /* the thread-default context then */
  gboolean      owned_default;  /* it owned the global default context */
  guint         order;          /* 1-based completion order */
  guint        *counter;        /* shared completion counter, or NULL */
} Result;

static void
result_clear (Result *r)
{
  g_clear_pointer (&r->bytes, g_bytes_unref);
  g_clear_error (&r->error);
  memset (r, 0, sizeof *r);
}

static gboolean
result_done (Result *r)
{
  return g_atomic_int_get (&r->done);
}

/* One callback for every call: the source tag says which _finish to use,
 * which also checks that each call tags its task. */
static void
on_done (GObject      *source,
         GAsyncResult *res,
         gpointer      user_data)
{
  SwConnection *self = SW_CONNECTION (source);
  Result *r = user_data;

  g_assert_false (result_done (r));
  if (g_async_result_is_tagged (res, SW_TAG (sw_connection_receive_message_async)))
    {
      r->bytes = sw_connection_receive_message_finish (self, res, &r->error);
      r->ok = r->bytes != NULL;
    }
  else if (g_async_result_is_tagged (res, SW_TAG (sw_connection_receive_bytes_async)))
    {
      r->bytes = sw_connection_receive_bytes_finish (self, res, &r->error);
      r->ok = r->bytes != NULL;
    }
  else if (g_async_result_is_tagged (res, SW_TAG (sw_connection_send_bytes_async)))
    {
      r->count = sw_connection_send_bytes_finish (self, res, &r->error);
      r->ok = r->count >= 0;
    }
  else if (g_async_result_is_tagged (res, SW_TAG (sw_connection_send_message_async)))
    r->ok = sw_connection_send_message_finish (self, res, &r->error);
  else if (g_async_result_is_tagged (res, SW_TAG (sw_connection_flush_async)))
    r->ok = sw_connection_flush_finish (self, res, &r->error);
  else if (g_async_result_is_tagged (res, SW_TAG (sw_connection_close_async)))
    r->ok = sw_connection_close_finish (self, res, &r->error);
  else
    g_assert_not_reached ();

  g_assert_true (r->ok == (r->error == NULL));
  r->thread = g_thread_self ();
  r->thread_default = g_main_context_get_thread_default ();
  r->owned_default = g_main_context_is_owner (g_main_context_default ());
  if (r->counter != NULL)
    r->order = ++*r->counter;
  g_atomic_int_set (&r->done, TRUE);
}

static void
assert_message (Result *r,
                GBytes *expected)
{
  g_assert_true (result_done (r));
  g_assert_no_error (r->error);
  g_assert_nonnull (r->bytes);
  g_assert_true (g_bytes_equal (r->bytes, expected));
}

static void
assert_error (Result *r,
              int     code)
{
  g_assert_true (result_done (r));
  g_assert_error (r->error, G_IO_ERROR, code);
  g_assert_false (r->ok);
  g_assert_null (r->bytes);
}

static void
receive_async (SwConnection *c,
               GCancellable *cancellable,
               Result       *r)
{
  sw_connection_receive_message_async (c, PRIO, cancellable, on_done, r);
}

static void
send_async (SwConnection *c,
            GBytes       *message,
            GCancellable *cancellable,
            Result       *r)
{
  sw_connection_send_message_async (c, message, PRIO, cancellable, on_done, r);
}

/* ---- helpers ---------------------------------------------------------- */

static void
make_pair (SwConnection **a,
           SwConnection **b)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (sw_socketpair (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
                                sw_framing_get_default (), a, b, &error));
  g_assert_no_error (error);
}

static GBytes *
text (const char *s)
{
  return g_bytes_new (s, strlen (s));
}

/* Short distinct messages "m<i>" in @m[@start .. @n-1]. */
static void
numbered_messages (GBytes **m,
                   guint    start,
                   guint    n)
{
  for (guint i = start; i < n; i++)
    m[i] = g_bytes_new_take (g_strdup_printf ("m%u", i), 2);
}

static void
messages_free (GBytes **m,
               guint    n)
{
  for (guint i = 0; i < n; i++)
    g_bytes_unref (m[i]);
}

/* Bytes queued in the kernel for @c to read. */
static int
pending_input (SwConnection *c)
{
  int n = 0;

  g_assert_cmpint (ioctl (sw_connection_get_fd (c), FIONREAD, &n), ==, 0);
  return n;
}

static void
send_sync (SwConnection *c,
           GBytes       *message)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (sw_connection_send_message (c, message, -1, NULL, &error));
  g_assert_no_error (error);
}

static GBytes *
receive_sync (SwConnection *c)
{
  g_autoptr(GError) error = NULL;
  GBytes *bytes = sw_connection_receive_message (c, -1, NULL, &error);

  g_assert_no_error (error);
  return bytes;
}

static void
assert_receive_sync (SwConnection *c,
                     GBytes       *expected)
{
  g_autoptr(GBytes) bytes = receive_sync (c);

  g_assert_true (g_bytes_equal (bytes, expected));
}

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

/* A one-shot event between threads. */
typedef struct
{
  GMutex   mutex;
  GCond    cond;
  gboolean set;
} Flag;

static void
flag_init (Flag *f)
{
  g_mutex_init (&f->mutex);
  g_cond_init (&f->cond);
  f->set = FALSE;
}

static void
flag_clear (Flag *f)
{
  g_mutex_clear (&f->mutex);
  g_cond_clear (&f->cond);
}

static void
flag_set (Flag *f)
{
  g_mutex_lock (&f->mutex);
  f->set = TRUE;
  g_cond_broadcast (&f->cond);
  g_mutex_unlock (&f->mutex);
}

static void
flag_wait (Flag *f)
{
  g_mutex_lock (&f->mutex);
  while (!f->set)
    g_cond_wait (&f->cond, &f->mutex);
  g_mutex_unlock (&f->mutex);
}

/* A thread receiving @n messages synchronously (timeout -1). */
typedef struct
{
  GThread      *thread;
  SwConnection *connection;
  guint         n;
  GPtrArray    *messages;
  GError       *error;
} Collector;

static gpointer
collector_thread (gpointer data)
{
  Collector *c = data;

  while (c->messages->len < c->n)
    {
      GBytes *bytes = sw_connection_receive_message (c->connection, -1, NULL,
                                                     &c->error);
      if (bytes == NULL)
        break;
      g_ptr_array_add (c->messages, bytes);
    }
  return NULL;
}

static Collector *
collector_new (SwConnection *connection,
               guint         n)
{
  Collector *c = g_new0 (Collector, 1);

  c->connection = g_object_ref (connection);
  c->n = n;
  c->messages = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  c->thread = g_thread_new ("collector", collector_thread, c);
  return c;
}

/* Joins; asserts the messages are @expected, in order. */
static void
collector_join (Collector      *c,
                GBytes * const *expected,
                guint           n_expected)
{
  g_thread_join (c->thread);
  g_assert_no_error (c->error);
  g_assert_cmpuint (c->messages->len, ==, n_expected);
  for (guint i = 0; i < n_expected; i++)
    g_assert_true (g_bytes_equal (g_ptr_array_index (c->messages, i), expected[i]));
  g_ptr_array_unref (c->messages);
  g_object_unref (c->connection);
  g_free (c);
}

/* ---- a thread blocked in a sync call, known to be queued -------------- */

typedef struct
{
  GThread      *thread;
  SwConnection *connection;
  GBytes       *message;      /* to send; NULL: receive */
  GCancellable *cancellable;
  GBytes       *received;
  GError       *error;
  gboolean      ok;
  pid_t         tid;          /* set before @started */
  guintptr      stack_mark;   /* set before @started */
  Flag          started;
} Blocker;

static gpointer
blocker_thread (gpointer data)
{
  Blocker *bl = data;
  volatile int mark = 0;

  bl->tid = sw_test_thread_id ();
  bl->stack_mark = (guintptr) &mark;
  flag_set (&bl->started);

  if (bl->message != NULL)
    bl->ok = sw_connection_send_message (bl->connection, bl->message, -1,
                                         bl->cancellable, &bl->error);
  else
    {
      bl->received = sw_connection_receive_message (bl->connection, -1,
                                                    bl->cancellable, &bl->error);
      bl->ok = bl->received != NULL;
    }
  return NULL;
}

/* Starts a thread making a blocking receive (@message NULL) or send on
 * @connection and returns once it is queued on the lock. */
static Blocker *
blocker_new_full (SwConnection *connection,
                  GBytes       *message,
                  GCancellable *cancellable)
{
  Blocker *bl = g_new0 (Blocker, 1);

  bl->connection = g_object_ref (connection);
  bl->message = message ? g_bytes_ref (message) : NULL;
  bl->cancellable = cancellable ? g_object_ref (cancellable) : NULL;
  flag_init (&bl->started);
  bl->thread = g_thread_new ("blocker", blocker_thread, bl);
  flag_wait (&bl->started);
  sw_test_wait_thread_queued (bl->tid, bl->stack_mark);
  return bl;
}

static Blocker *
blocker_new (SwConnection *connection,
             GBytes       *message)
{
  return blocker_new_full (connection, message, NULL);
}

static void
blocker_join (Blocker *bl)
{
  g_thread_join (bl->thread);
}

static void
blocker_free (Blocker *bl)
{
  g_clear_pointer (&bl->message, g_bytes_unref);
  g_clear_object (&bl->cancellable);
  g_clear_pointer (&bl->received, g_bytes_unref);
  g_clear_error (&bl->error);
  g_object_unref (bl->connection);
  flag_clear (&bl->started);
  g_free (bl);
}

/* ---- a worker thread running its own main context --------------------- */

typedef enum
{
  WORKER_RECEIVE,
  WORKER_SEND,
} WorkerCall;

/* Makes one async call from a thread whose own context is thread-default,
 * signals @queued once the call returned, and runs the context until the
 * call completes. */
typedef struct
{
  GThread      *thread;
  SwConnection *connection;
  WorkerCall    call;
  GBytes       *message;
  gboolean      push_context;
  GMainContext *context;
  GThread      *self;
  Result        result;
  Flag          queued;
} Worker;

static gpointer
worker_thread (gpointer data)
{
  Worker *w = data;

  w->self = g_thread_self ();
  if (w->push_context)
    g_main_context_push_thread_default (w->context);
  if (w->call == WORKER_RECEIVE)
    receive_async (w->connection, NULL, &w->result);
  else
    send_async (w->connection, w->message, NULL, &w->result);
  flag_set (&w->queued);
  if (w->push_context)
    {
      WAIT_UNTIL (w->context, result_done (&w->result));
      g_main_context_pop_thread_default (w->context);
    }
  return NULL;
}

static Worker *
worker_new (SwConnection *connection,
            WorkerCall    call,
            GBytes       *message,
            gboolean      push_context)
{
  Worker *w = g_new0 (Worker, 1);

  w->connection = g_object_ref (connection);
  w->call = call;
  w->message = message ? g_bytes_ref (message) : NULL;
  w->push_context = push_context;
  w->context = push_context ? g_main_context_new () : NULL;
  flag_init (&w->queued);
  w->thread = g_thread_new ("worker", worker_thread, w);
  flag_wait (&w->queued);
  return w;
}

static void
worker_join (Worker *w)
{
  g_thread_join (w->thread);
  if (w->push_context)
    {
      /* The callback ran in the worker, in its own context. */
      g_assert_true (result_done (&w->result));
      g_assert_true (w->result.thread == w->self);
      g_assert_true (w->result.thread_default == w->context);
      g_assert_false (w->result.owned_default);
    }
}

static void
worker_free (Worker *w)
{
  result_clear (&w->result);
  g_clear_pointer (&w->message, g_bytes_unref);
  g_clear_pointer (&w->context, g_main_context_unref);
  g_object_unref (w->connection);
  flag_clear (&w->queued);
  g_free (w);
}

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
                         "blind" + received, g_bytes_get_size (r.bytes));
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
  g_test_add_func ("/sw/async/unref/pending-receive", test_unref_pending_receive);
  g_test_add_func ("/sw/async/unref/pending-send", test_unref_pending_send);
  g_test_add_func ("/sw/async/duplex/concurrent", test_duplex_concurrent);
  g_test_add_func ("/sw/async/fifo/receive", test_fifo_receive);
  g_test_add_func ("/sw/async/fifo/send", test_fifo_send);

  return g_test_run ();
}
