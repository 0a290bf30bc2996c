/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Helpers shared by test-async.c and test-async-cancel.c. */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sw-test-util.h"
#include "test-async-util.h"

/* The source tag of a library call, as the library sets it. */
#define SW_TAG(fn) ((gpointer) (guintptr) (fn))

void
result_clear (Result *r)
{
  g_clear_pointer (&r->bytes, g_bytes_unref);
  g_clear_error (&r->error);
  memset (r, 0, sizeof *r);
}

gboolean
result_done (Result *r)
{
  return g_atomic_int_get (&r->done);
}

void
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

void
assert_message (Result *r,
                GBytes *expected)
{
  g_assert_true (result_done (r));
  g_assert_no_error (r->error);
  g_assert_nonnull (r->bytes);
  g_assert_true (g_bytes_equal (r->bytes, expected));
}

void
assert_error (Result *r,
              int     code)
{
  g_assert_true (result_done (r));
  g_assert_error (r->error, G_IO_ERROR, code);
  g_assert_false (r->ok);
  g_assert_null (r->bytes);
}

void
receive_async (SwConnection *c,
               GCancellable *cancellable,
               Result       *r)
{
  sw_connection_receive_message_async (c, PRIO, cancellable, on_done, r);
}

void
send_async (SwConnection *c,
            GBytes       *message,
            GCancellable *cancellable,
            Result       *r)
{
  sw_connection_send_message_async (c, message, PRIO, cancellable, on_done, r);
}

void
make_pair (SwConnection **a,
           SwConnection **b)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (sw_socketpair (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
                                sw_framing_get_default (), a, b, &error));
  g_assert_no_error (error);
}

GBytes *
text (const char *s)
{
  return g_bytes_new (s, strlen (s));
}

void
numbered_messages (GBytes **m,
                   guint    start,
                   guint    n)
{
  for (guint i = start; i < n; i++)
    m[i] = g_bytes_new_take (g_strdup_printf ("m%u", i), 2);
}

void
messages_free (GBytes **m,
               guint    n)
{
  for (guint i = 0; i < n; i++)
    g_bytes_unref (m[i]);
}

int
pending_input (SwConnection *c)
{
  int n = 0;

  g_assert_cmpint (ioctl (sw_connection_get_fd (c), FIONREAD, &n), ==, 0);
  return n;
}

void
send_sync (SwConnection *c,
           GBytes       *message)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (sw_connection_send_message (c, message, -1, NULL, &error));
  g_assert_no_error (error);
}

GBytes *
receive_sync (SwConnection *c)
{
  g_autoptr(GError) error = NULL;
  GBytes *bytes = sw_connection_receive_message (c, -1, NULL, &error);

  g_assert_no_error (error);
  return bytes;
}

void
assert_receive_sync (SwConnection *c,
                     GBytes       *expected)
{
  g_autoptr(GBytes) bytes = receive_sync (c);

  g_assert_true (g_bytes_equal (bytes, expected));
}

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

struct _Collector
{
  GThread      *thread;
  SwConnection *connection;
  guint         n;
  GPtrArray    *messages;
  GError       *error;
};

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

Collector *
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

void
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

Blocker *
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

Blocker *
blocker_new (SwConnection *connection,
             GBytes       *message)
{
  return blocker_new_full (connection, message, NULL);
}

void
blocker_join (Blocker *bl)
{
  g_thread_join (bl->thread);
}

void
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

Worker *
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

void
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

void
worker_free (Worker *w)
{
  result_clear (&w->result);
  g_clear_pointer (&w->message, g_bytes_unref);
  g_clear_pointer (&w->context, g_main_context_unref);
  g_object_unref (w->connection);
  flag_clear (&w->queued);
  g_free (w);
}
