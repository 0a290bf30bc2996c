/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The connection as GTK applications meet it: a receive (or send) always
 * pending in the main context while the same thread changes settings,
 * makes blocking calls, closes from callbacks, and drops its references;
 * where signals are emitted; what dispose and close promise. */

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <socketwrapper/socketwrapper.h>

#include "sw-test-util.h"

static GBytes *
bytes_from_string (const char *text)
{
  return g_bytes_new (text, strlen (text));
}

static void
assert_bytes_equal (GBytes     *bytes,
                    const char *text)
{
  g_assert_nonnull (bytes);
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), text, strlen (text));
}

/* ---- a receive pending in the main context ---------------------------- */

typedef struct
{
  GMainLoop    *loop;
  SwConnection *a;
  SwConnection *b;
  GBytes       *received;
  GError       *error;
  gboolean      done;
} Pending;

static void
on_received (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  Pending *p = user_data;

  p->received = sw_connection_receive_message_finish (SW_CONNECTION (source), result, &p->error);
  p->done = TRUE;
  g_main_loop_quit (p->loop);
}

static void
pending_init (Pending   *p,
              SwFraming *framing)
{
  memset (p, 0, sizeof *p);
  p->loop = g_main_loop_new (NULL, FALSE);
  sw_test_socketpair (framing, &p->a, &p->b);
  sw_connection_receive_message_async (p->b, G_PRIORITY_DEFAULT, NULL, on_received, p);
}

static void
pending_clear (Pending *p)
{
  g_clear_pointer (&p->received, g_bytes_unref);
  g_clear_error (&p->error);
  g_clear_object (&p->a);
  g_clear_object (&p->b);
  g_main_loop_unref (p->loop);
}

static void
run_in_loop (Pending     *p,
             GSourceFunc  func)
{
  g_idle_add (func, p);
  g_main_loop_run (p->loop);
}

static void
assert_pending_error (GError *error)
{
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PENDING);
  g_assert_nonnull (strstr (error->message, "sw_connection_receive_message_async"));
}

/* Inside a main-loop callback, the thread owns the default context, where
 * the async receive waits: a blocking receive could never end. */
static gboolean
blocking_calls_behind_pending_receive (gpointer user_data)
{
  Pending *p = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) message = NULL;
  g_autoptr(GBytes) stolen = NULL;

  message = sw_connection_receive_message (p->b, -1, NULL, &error);
  g_assert_null (message);
  assert_pending_error (error);
  g_clear_error (&error);

  message = sw_connection_receive_message (p->b, 0, NULL, &error);
  assert_pending_error (error);
  g_clear_error (&error);

  message = sw_connection_receive_bytes (p->b, 4, 1000000, NULL, &error);
  assert_pending_error (error);
  g_clear_error (&error);

  stolen = sw_connection_steal_buffered_input (p->b, &error);
  g_assert_null (stolen);
  assert_pending_error (error);
  g_clear_error (&error);

  /* The send direction is free: a send works meanwhile. */
  message = bytes_from_string ("later");
  g_assert_true (sw_connection_send_message (p->a, message, -1, NULL, &error));
  g_assert_no_error (error);
  return G_SOURCE_REMOVE;
}

static void
test_pending_blocking_calls (void)
{
  Pending p;

  pending_init (&p, sw_framing_get_default ());
  run_in_loop (&p, blocking_calls_behind_pending_receive);
  g_assert_true (p.done);
  g_assert_no_error (p.error);
  assert_bytes_equal (p.received, "later");
  pending_clear (&p);
}

/* Settings never wait, even for a receive only this thread can finish. */
static gboolean
settings_behind_pending_receive (gpointer user_data)
{
  Pending *p = user_data;
  g_autoptr(SwFraming) mp = SW_FRAMING (sw_multiprocessing_framing_new ());
  g_autoptr(SwFraming) dup = NULL;
  g_autoptr(SwCodec) codec = SW_CODEC (sw_json_codec_new ());
  g_autoptr(SwCodec) codec_dup = NULL;
  static const guint8 frame[] = { 0, 0, 0, 3, 'n', 'e', 'w' };

  sw_connection_set_read_ahead (p->b, FALSE);
  sw_connection_set_max_message_size (p->b, 1000);
  sw_connection_set_framing (p->b, mp);
  sw_connection_set_codec (p->b, codec);
  g_object_set (p->b, "read-ahead", TRUE, "max-message-size", (guint64) 2000, NULL);

  g_assert_true (sw_connection_get_read_ahead (p->b));
  g_assert_cmpuint (sw_connection_get_max_message_size (p->b), ==, 2000);
  g_assert_true (sw_connection_get_framing (p->b) == mp);
  dup = sw_connection_dup_framing (p->b);
  g_assert_true (dup == mp);
  codec_dup = sw_connection_dup_codec (p->b);
  g_assert_true (codec_dup == codec);

  /* The pending receive had not started a frame: the new framing applies
   * to the next one, which the peer writes in multiprocessing framing. */
  sw_test_write_all (sw_connection_get_fd (p->a), frame, sizeof frame);
  return G_SOURCE_REMOVE;
}

static void
test_pending_settings (void)
{
  Pending p;

  pending_init (&p, sw_framing_get_default ());
  run_in_loop (&p, settings_behind_pending_receive);
  g_assert_no_error (p.error);
  assert_bytes_equal (p.received, "new");
  pending_clear (&p);
}

/* A limit lowered while a receive waits applies to the frame it reads. */
static gboolean
lower_limit_behind_pending_receive (gpointer user_data)
{
  Pending *p = user_data;
  g_autoptr(GBytes) message = bytes_from_string ("0123456789");
  g_autoptr(GError) error = NULL;

  sw_connection_set_max_message_size (p->b, 4);
  g_assert_true (sw_connection_send_message (p->a, message, -1, NULL, &error));
  g_assert_no_error (error);
  return G_SOURCE_REMOVE;
}

static void
test_pending_max_message_size (void)
{
  Pending p;

  pending_init (&p, sw_framing_get_default ());
  run_in_loop (&p, lower_limit_behind_pending_receive);
  g_assert_error (p.error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
  pending_clear (&p);
}

/* A framing set while a frame is half read applies from the next frame:
 * the half-read one finishes with the framing it started with. */
static void
test_settings_frame_boundary (void)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(SwFraming) mp = SW_FRAMING (sw_multiprocessing_framing_new ());
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) first = NULL;
  g_autoptr(GBytes) second = NULL;
  static const guint8 varint_half[] = { 5, 'h', 'e' };
  static const guint8 varint_rest[] = { 'l', 'l', 'o' };
  static const guint8 mp_frame[] = { 0, 0, 0, 2, 'm', 'p' };
  int fd;

  sw_test_socketpair (sw_framing_get_default (), &a, &b);
  fd = sw_connection_get_fd (a);
  sw_test_write_all (fd, varint_half, sizeof varint_half);
  first = sw_connection_receive_message (b, 0, NULL, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);

  sw_connection_set_framing (b, mp);
  sw_test_write_all (fd, varint_rest, sizeof varint_rest);
  sw_test_write_all (fd, mp_frame, sizeof mp_frame);
  first = sw_connection_receive_message (b, -1, NULL, &error);
  g_assert_no_error (error);
  assert_bytes_equal (first, "hello");
  second = sw_connection_receive_message (b, -1, NULL, &error);
  g_assert_no_error (error);
  assert_bytes_equal (second, "mp");
}

/* ---- a send pending in the main context ------------------------------- */

typedef struct
{
  GMainLoop    *loop;
  SwConnection *a;
  SwConnection *b;
  GError       *send_error;
  gboolean      sent;
  GThread      *drainer;
} PendingSend;

static void
on_sent (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  PendingSend *p = user_data;

  p->sent = sw_connection_send_message_finish (SW_CONNECTION (source), result, &p->send_error);
}

static gpointer
drain_one_message (gpointer data)
{
  SwConnection *b = data;
  g_autoptr(GError) error = NULL;
  GBytes *message = sw_connection_receive_message (b, -1, NULL, &error);

  g_assert_no_error (error);
  return message;
}

static gboolean
blocking_calls_behind_pending_send (gpointer user_data)
{
  PendingSend *p = user_data;
  g_autoptr(GBytes) message = bytes_from_string ("x");
  g_autoptr(GError) error = NULL;

  g_assert_false (sw_connection_send_message (p->a, message, -1, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PENDING);
  g_assert_nonnull (strstr (error->message, "sw_connection_send_message_async"));
  g_clear_error (&error);

  g_assert_false (sw_connection_flush (p->a, -1, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PENDING);
  g_clear_error (&error);

  g_assert_false (sw_connection_shutdown_write (p->a, -1, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PENDING);
  g_clear_error (&error);
  g_assert_true (sw_connection_get_writable (p->a));

  /* Let the peer take the big message, so the pending send completes. */
  p->drainer = g_thread_new ("drain", drain_one_message, p->b);
  return G_SOURCE_REMOVE;
}

static gboolean
quit_when_sent (gpointer user_data)
{
  PendingSend *p = user_data;

  if (!p->sent && p->send_error == NULL)
    return G_SOURCE_CONTINUE;
  g_main_loop_quit (p->loop);
  return G_SOURCE_REMOVE;
}

static void
test_pending_send (void)
{
  PendingSend p = { 0 };
  g_autoptr(GBytes) big = sw_test_pattern_bytes (8 * 1024 * 1024, 7);
  g_autoptr(GBytes) received = NULL;

  p.loop = g_main_loop_new (NULL, FALSE);
  sw_test_socketpair (sw_framing_get_default (), &p.a, &p.b);
  sw_connection_send_message_async (p.a, big, G_PRIORITY_DEFAULT, NULL, on_sent, &p);
  g_idle_add (blocking_calls_behind_pending_send, &p);
  g_idle_add (quit_when_sent, &p);
  g_main_loop_run (p.loop);

  g_assert_no_error (p.send_error);
  g_assert_true (p.sent);
  received = g_thread_join (p.drainer);
  g_assert_true (sw_test_pattern_check (received, 7));
  g_object_unref (p.a);
  g_object_unref (p.b);
  g_main_loop_unref (p.loop);
}

/* ---- shutdown_write --------------------------------------------------- */

typedef struct
{
  GMainContext *context;
  GThread      *notified_in;
  GMainContext *notified_context;
  gboolean      notified_before_callback;
  gboolean      finished;
  gboolean      ok;
  GError       *error;
} NotifyWatch;

static void
on_notify (GObject    *object,
           GParamSpec *pspec,
           gpointer    user_data)
{
  NotifyWatch *w = user_data;

  g_assert_null (w->notified_in);
  w->notified_in = g_thread_self ();
  w->notified_context = g_main_context_get_thread_default ();
  w->notified_before_callback = !w->finished;
}

static void
on_shutdown_done (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  NotifyWatch *w = user_data;

  w->ok = sw_connection_shutdown_write_finish (SW_CONNECTION (source), result, &w->error);
  w->finished = TRUE;
}

static void
test_shutdown_write_async (void)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) message = bytes_from_string ("last");
  g_autoptr(GBytes) received = NULL;
  g_autoptr(GError) error = NULL;
  NotifyWatch w = { 0 };

  sw_test_socketpair (sw_framing_get_default (), &a, &b);
  g_assert_true (sw_connection_send_message (a, message, -1, NULL, &error));
  g_signal_connect (a, "notify::writable", G_CALLBACK (on_notify), &w);
  sw_connection_shutdown_write_async (a, G_PRIORITY_DEFAULT, NULL, on_shutdown_done, &w);
  while (!w.finished)
    g_main_context_iteration (NULL, TRUE);

  g_assert_no_error (w.error);
  g_assert_true (w.ok);
  g_assert_true (w.notified_in == g_thread_self ());
  g_assert_true (w.notified_before_callback);
  g_assert_false (sw_connection_get_writable (a));

  received = sw_connection_receive_message (b, -1, NULL, &error);
  assert_bytes_equal (received, "last");
  g_clear_pointer (&received, g_bytes_unref);
  received = sw_connection_receive_message (b, -1, NULL, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
  g_clear_error (&error);

  g_assert_false (sw_connection_send_message (a, message, -1, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
}

/* A shutdown waiting its turn behind a send honours its timeout. */
static void
test_shutdown_write_timeout (void)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) big = sw_test_pattern_bytes (8 * 1024 * 1024, 3);
  g_autoptr(GBytes) received = NULL;
  g_autoptr(GError) error = NULL;

  sw_test_socketpair (sw_framing_get_default (), &a, &b);
  g_assert_true (sw_connection_send_message (a, big, 0, NULL, &error));
  g_assert_no_error (error);
  /* The committed frame cannot be finished while nobody reads. */
  g_assert_false (sw_connection_shutdown_write (a, 20000, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_true (sw_connection_get_writable (a));
  g_clear_error (&error);

  /* Nothing was torn or duplicated by the attempt. */
  {
    GThread *drainer = g_thread_new ("drain", drain_one_message, b);

    g_assert_true (sw_connection_shutdown_write (a, -1, NULL, &error));
    g_assert_no_error (error);
    received = g_thread_join (drainer);
  }
  g_assert_true (sw_test_pattern_check (received, 3));
}

/* ---- notifications ---------------------------------------------------- */

typedef struct
{
  SwConnection *connection;
  NotifyWatch   watch;
} CloseInThread;

static void
on_close_done (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  NotifyWatch *w = user_data;

  w->ok = sw_connection_close_finish (SW_CONNECTION (source), result, &w->error);
  w->finished = TRUE;
}

static gpointer
close_async_in_thread (gpointer data)
{
  CloseInThread *c = data;
  GMainContext *context = g_main_context_new ();

  g_main_context_push_thread_default (context);
  c->watch.context = context;
  sw_connection_close_async (c->connection, G_PRIORITY_DEFAULT, NULL, on_close_done, &c->watch);
  while (!c->watch.finished)
    g_main_context_iteration (context, TRUE);
  g_main_context_pop_thread_default (context);
  g_main_context_unref (context);
  return NULL;
}

/* close_async() from a worker with its own context: notify::closed is
 * emitted there, before the callback, never in a thread of the library. */
static void
test_notify_close_async_context (void)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) message = sw_test_pattern_bytes (8 * 1024 * 1024, 9);
  g_autoptr(GError) error = NULL;
  CloseInThread c = { 0 };
  GThread *thread;
  GThread *drainer;
  GBytes *received;

  sw_test_socketpair (sw_framing_get_default (), &a, &b);
  /* A committed frame the close must finish, asynchronously. */
  g_assert_true (sw_connection_send_message (a, message, 0, NULL, &error));
  c.connection = a;
  g_signal_connect (a, "notify::closed", G_CALLBACK (on_notify), &c.watch);
  thread = g_thread_new ("closer", close_async_in_thread, &c);
  drainer = g_thread_new ("drain", drain_one_message, b);
  received = g_thread_join (drainer);
  g_thread_join (thread);

  g_assert_no_error (c.watch.error);
  g_assert_true (c.watch.ok);
  g_assert_true (c.watch.notified_in == thread);
  g_assert_true (c.watch.notified_context == c.watch.context);
  g_assert_true (c.watch.notified_before_callback);
  g_assert_true (sw_connection_get_closed (a));
  g_assert_true (sw_test_pattern_check (received, 9));
  g_bytes_unref (received);
}

/* A blocking close notifies in the calling thread, once. */
static void
test_notify_close_sync (void)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GError) error = NULL;
  NotifyWatch w = { 0 };

  sw_test_socketpair (sw_framing_get_default (), &a, &b);
  g_signal_connect (a, "notify::closed", G_CALLBACK (on_notify), &w);
  g_assert_true (sw_connection_close (a, NULL, &error));
  g_assert_true (sw_connection_close (a, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (w.notified_in == g_thread_self ());
}

/* ---- dispose ---------------------------------------------------------- */

/* Dropping the last reference right after a send that committed a large
 * frame: the peer still receives the whole message. */
static void
test_dispose_finishes_committed_frame (void)
{
  SwConnection *a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) message = sw_test_pattern_bytes (8 * 1024 * 1024, 5);
  g_autoptr(GError) error = NULL;
  GThread *drainer;
  GBytes *received;

  sw_test_socketpair (sw_framing_get_default (), &a, &b);
  g_assert_true (sw_connection_send_message (a, message, 0, NULL, &error));
  g_assert_no_error (error);
  drainer = g_thread_new ("drain", drain_one_message, b);
  g_object_unref (a);
  received = g_thread_join (drainer);
  g_assert_true (sw_test_pattern_check (received, 5));
  g_bytes_unref (received);
}

/* ---- closing ---------------------------------------------------------- */

/* A framing whose decode closes its own connection, as user code under a
 * direction lock may (a framing, a stream, a TLS handler). */
#define TEST_TYPE_CLOSING_FRAMING (test_closing_framing_get_type ())
G_DECLARE_FINAL_TYPE (TestClosingFraming, test_closing_framing, TEST, CLOSING_FRAMING, GObject)

struct _TestClosingFraming
{
  GObject       parent_instance;
  SwConnection *connection;   /* not owned */
  gboolean      closed_returned;
  GError       *reentrant_error;
};

static SwFramingResult
closing_framing_decode (SwFraming     *framing,
                        const guint8  *data,
                        gsize          length,
                        guint64       *scratch,
                        gsize         *header_length,
                        guint64       *payload_length,
                        gsize         *trailer_length,
                        gsize         *needed,
                        GError       **error)
{
  TestClosingFraming *self = TEST_CLOSING_FRAMING (framing);
  g_autoptr(GBytes) inner = NULL;

  if (self->reentrant_error == NULL)
    {
      /* A blocking call on the same direction would wait for itself. */
      inner = sw_connection_receive_message (self->connection, -1, NULL,
                                             &self->reentrant_error);
      g_assert_null (inner);
      /* close() from here returns: the receive finishes closing it. */
      self->closed_returned = sw_connection_close (self->connection, NULL, NULL);
    }
  *needed = 1;
  return SW_FRAMING_RESULT_NEED_MORE;
}

static gboolean
closing_framing_encode (SwFraming  *framing,
                        GBytes     *payload,
                        GBytes    **header,
                        GBytes    **trailer,
                        GError    **error)
{
  *header = g_bytes_new (NULL, 0);
  return TRUE;
}

static void
test_closing_framing_iface_init (SwFramingInterface *iface)
{
  iface->decode = closing_framing_decode;
  iface->encode = closing_framing_encode;
}

G_DEFINE_FINAL_TYPE_WITH_CODE (TestClosingFraming, test_closing_framing, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (SW_TYPE_FRAMING,
                                                      test_closing_framing_iface_init))

static void
test_closing_framing_class_init (TestClosingFramingClass *klass)
{
}

static void
test_closing_framing_init (TestClosingFraming *self)
{
}

static void
test_close_from_framing (void)
{
  g_autoptr(TestClosingFraming) framing = g_object_new (TEST_TYPE_CLOSING_FRAMING, NULL);
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) message = NULL;
  g_autoptr(GError) error = NULL;
  NotifyWatch w = { 0 };
  static const guint8 byte = 'x';

  sw_test_socketpair (SW_FRAMING (framing), &a, &b);
  framing->connection = b;
  g_signal_connect (b, "notify::closed", G_CALLBACK (on_notify), &w);
  sw_test_write_all (sw_connection_get_fd (a), &byte, 1);

  message = sw_connection_receive_message (b, -1, NULL, &error);
  g_assert_null (message);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_assert_true (framing->closed_returned);
  g_assert_error (framing->reentrant_error, G_IO_ERROR, G_IO_ERROR_PENDING);
  g_clear_error (&framing->reentrant_error);
  g_assert_true (sw_connection_get_closed (b));
  g_assert_true (w.notified_in == g_thread_self ());
  g_assert_cmpint (sw_connection_get_fd (b), ==, -1);
}

/* An output stream (that cannot poll) whose write closes the connection
 * writing to it, as user code under a direction lock may. */
#define TEST_TYPE_CLOSING_STREAM (test_closing_stream_get_type ())
G_DECLARE_FINAL_TYPE (TestClosingStream, test_closing_stream, TEST, CLOSING_STREAM,
                      GOutputStream)

struct _TestClosingStream
{
  GOutputStream  parent_instance;
  SwConnection  *connection;    /* not owned */
  GByteArray    *written;
  gboolean       close_returned;
};

G_DEFINE_FINAL_TYPE (TestClosingStream, test_closing_stream, G_TYPE_OUTPUT_STREAM)

static gssize
closing_stream_write (GOutputStream  *stream,
                      const void     *buffer,
                      gsize           count,
                      GCancellable   *cancellable,
                      GError        **error)
{
  TestClosingStream *self = TEST_CLOSING_STREAM (stream);

  g_byte_array_append (self->written, buffer, count);
  if (self->connection != NULL && !self->close_returned)
    self->close_returned = sw_connection_close (self->connection, NULL, NULL);
  return (gssize) count;
}

static void
test_closing_stream_finalize (GObject *object)
{
  g_byte_array_unref (TEST_CLOSING_STREAM (object)->written);
  G_OBJECT_CLASS (test_closing_stream_parent_class)->finalize (object);
}

static void
test_closing_stream_class_init (TestClosingStreamClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = test_closing_stream_finalize;
  G_OUTPUT_STREAM_CLASS (klass)->write_fn = closing_stream_write;
}

static void
test_closing_stream_init (TestClosingStream *self)
{
  self->written = g_byte_array_new ();
}

/* close() from a stream's write, during a blocking send on that very
 * connection: it returns, the send finishes its frame, and the send's
 * return finishes the close (notified in this thread). */
static void
test_close_from_stream (void)
{
  g_autoptr(TestClosingStream) stream = g_object_new (TEST_TYPE_CLOSING_STREAM, NULL);
  g_autoptr(SwConnection) connection = NULL;
  g_autoptr(GBytes) message = g_bytes_new_static ("whole", 5);
  g_autoptr(GError) error = NULL;
  NotifyWatch w = { 0 };
  static const guint8 frame[] = { 5, 'w', 'h', 'o', 'l', 'e' };

  connection = sw_connection_new_for_streams (NULL, G_OUTPUT_STREAM (stream),
                                              sw_framing_get_default ());
  stream->connection = connection;
  g_signal_connect (connection, "notify::closed", G_CALLBACK (on_notify), &w);

  g_assert_true (sw_connection_send_message (connection, message, -1, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (stream->close_returned);
  g_assert_true (sw_connection_get_closed (connection));
  g_assert_true (w.notified_in == g_thread_self ());
  g_assert_cmpmem (stream->written->data, stream->written->len, frame, sizeof frame);
  g_assert_true (g_output_stream_is_closed (G_OUTPUT_STREAM (stream)));
}

/* A framing whose headers are GBytes with a free function of their own:
 * the user code that must never run with a lock's mutex held. */
#define TEST_TYPE_WATCHED_FRAMING (test_watched_framing_get_type ())
G_DECLARE_FINAL_TYPE (TestWatchedFraming, test_watched_framing, TEST, WATCHED_FRAMING, GObject)

struct _TestWatchedFraming
{
  GObject  parent_instance;
  gboolean closing;           /* set by the test around close() */
  gboolean freed_in_close;
  guint    n_freed;
};

static void
watched_header_free (gpointer data)
{
  TestWatchedFraming *self = data;

  self->n_freed++;
  if (self->closing)
    self->freed_in_close = TRUE;
}

static SwFramingResult
watched_framing_decode (SwFraming     *framing,
                        const guint8  *data,
                        gsize          length,
                        guint64       *scratch,
                        gsize         *header_length,
                        guint64       *payload_length,
                        gsize         *trailer_length,
                        gsize         *needed,
                        GError       **error)
{
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED, "send only");
  return SW_FRAMING_RESULT_ERROR;
}

static gboolean
watched_framing_encode (SwFraming  *framing,
                        GBytes     *payload,
                        GBytes    **header,
                        GBytes    **trailer,
                        GError    **error)
{
  static const guint8 mark[4] = { 'H', 'D', 'R', ':' };

  *header = g_bytes_new_with_free_func (mark, sizeof mark, watched_header_free, framing);
  return TRUE;
}

static void
test_watched_framing_iface_init (SwFramingInterface *iface)
{
  iface->decode = watched_framing_decode;
  iface->encode = watched_framing_encode;
}

G_DEFINE_FINAL_TYPE_WITH_CODE (TestWatchedFraming, test_watched_framing, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (SW_TYPE_FRAMING,
                                                      test_watched_framing_iface_init))

static void
test_watched_framing_class_init (TestWatchedFramingClass *klass)
{
}

static void
test_watched_framing_init (TestWatchedFraming *self)
{
}

static void
on_send_closed (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  GError **error = user_data;

  g_assert_false (sw_connection_send_message_finish (SW_CONNECTION (source), result, error));
}

/* close() takes the lock from an async send parked before its first byte
 * and drops its frames; the framing's header GBytes is released later, in
 * the call's context, not inside close() where a lock's mutex is held. */
static void
test_close_releases_dropped_frames_outside_locks (void)
{
  g_autoptr(TestWatchedFraming) framing = g_object_new (TEST_TYPE_WATCHED_FRAMING, NULL);
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) big = sw_test_pattern_bytes (8 * 1024 * 1024, 13);
  g_autoptr(GBytes) small = g_bytes_new_static ("queued", 6);
  g_autoptr(GError) small_error = NULL;
  g_autoptr(GError) error = NULL;

  sw_test_socketpair (SW_FRAMING (framing), &a, &b);
  /* Raw bytes fill the socket while the peer reads nothing; the async send
   * then frames its message and parks before writing a byte of it. */
  while (sw_connection_send_bytes (a, big, 0, NULL, &error) > 0)
    ;
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);
  sw_connection_send_message_async (a, small, G_PRIORITY_DEFAULT, NULL, on_send_closed,
                                    &small_error);
  g_assert_cmpuint (framing->n_freed, ==, 0);

  framing->closing = TRUE;
  sw_connection_close_async (a, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
  framing->closing = FALSE;
  while (small_error == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_error (small_error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_assert_false (framing->freed_in_close);
  g_assert_cmpuint (framing->n_freed, ==, 1);
  g_object_unref (g_steal_pointer (&b));
  while (!sw_connection_get_closed (a))
    g_main_context_iteration (NULL, TRUE);
}

typedef struct
{
  SwConnection *connection;
  gboolean      ok;
  GError       *error;
} Closer;

static gpointer
close_in_thread (gpointer data)
{
  Closer *c = data;

  c->ok = sw_connection_close (c->connection, NULL, &c->error);
  return NULL;
}

/* A second close while the first waits for the peer: its own cancellable
 * ends its wait; once the first has finished, it returns its outcome. */
static void
test_second_close_cancellable (void)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) message = sw_test_pattern_bytes (8 * 1024 * 1024, 11);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  Closer first = { 0 };
  GThread *thread;
  GBytes *received;

  sw_test_socketpair (sw_framing_get_default (), &a, &b);
  g_assert_true (sw_connection_send_message (a, message, 0, NULL, &error));
  first.connection = a;
  thread = g_thread_new ("closer", close_in_thread, &first);
  /* The first close has begun once the connection is no longer readable;
   * it then waits for the peer to take the committed frame. */
  while (sw_connection_get_readable (a))
    g_thread_yield ();

  g_cancellable_cancel (cancellable);
  g_assert_false (sw_connection_close (a, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);

  received = drain_one_message (b);
  g_thread_join (thread);
  g_assert_no_error (first.error);
  g_assert_true (first.ok);
  g_assert_true (sw_test_pattern_check (received, 11));
  g_bytes_unref (received);
  g_assert_true (sw_connection_close (a, cancellable, &error));
  g_assert_no_error (error);
}

/* An output stream whose close fails. */
#define TEST_TYPE_FAILING_CLOSE_STREAM (test_failing_close_stream_get_type ())
G_DECLARE_FINAL_TYPE (TestFailingCloseStream, test_failing_close_stream, TEST,
                      FAILING_CLOSE_STREAM, GOutputStream)

struct _TestFailingCloseStream
{
  GOutputStream parent_instance;
};

G_DEFINE_FINAL_TYPE (TestFailingCloseStream, test_failing_close_stream, G_TYPE_OUTPUT_STREAM)

static gssize
failing_close_stream_write (GOutputStream  *stream,
                            const void     *buffer,
                            gsize           count,
                            GCancellable   *cancellable,
                            GError        **error)
{
  return (gssize) count;
}

static gboolean
failing_close_stream_close (GOutputStream  *stream,
                            GCancellable   *cancellable,
                            GError        **error)
{
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE, "disk full at close");
  return FALSE;
}

static void
test_failing_close_stream_class_init (TestFailingCloseStreamClass *klass)
{
  GOutputStreamClass *stream_class = G_OUTPUT_STREAM_CLASS (klass);

  stream_class->write_fn = failing_close_stream_write;
  stream_class->close_fn = failing_close_stream_close;
}

static void
test_failing_close_stream_init (TestFailingCloseStream *self)
{
}

/* Every close reports the first close's failure, not success. */
static void
test_second_close_reports_failure (void)
{
  g_autoptr(GOutputStream) stream = g_object_new (TEST_TYPE_FAILING_CLOSE_STREAM, NULL);
  g_autoptr(SwConnection) connection = sw_connection_new_for_streams (NULL, stream,
                                                                      sw_framing_get_default ());
  g_autoptr(GError) error = NULL;

  g_assert_false (sw_connection_close (connection, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
  g_clear_error (&error);
  g_assert_false (sw_connection_close (connection, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
  g_assert_true (sw_connection_get_closed (connection));
}

/* ---- file descriptors ------------------------------------------------- */

static gboolean
fd_is_blocking (int fd)
{
  int flags = fcntl (fd, F_GETFL);

  g_assert_cmpint (flags, >=, 0);
  return (flags & O_NONBLOCK) == 0;
}

/* An fd the connection did not create gets its blocking mode back at
 * close: the file description may be a shell's terminal. */
static void
test_fd_flags_restored (void)
{
  g_autoptr(GError) error = NULL;
  int fds[2];
  int shared;

  g_assert_cmpint (pipe (fds), ==, 0);
  shared = dup (fds[0]);
  g_assert_cmpint (shared, >=, 0);

  {
    g_autoptr(SwConnection) reader = g_initable_new (SW_TYPE_CONNECTION, NULL, &error,
                                                     "fd", fds[0], "close-wrapped", FALSE,
                                                     "framing", sw_framing_get_default (),
                                                     NULL);

    /* close-wrapped FALSE: the fd stays open, blocking again. */
    g_assert_no_error (error);
    g_assert_false (fd_is_blocking (shared));
    g_assert_true (sw_connection_close (reader, NULL, &error));
    g_assert_true (fd_is_blocking (shared));
    g_assert_true (sw_test_fd_is_open (fds[0]));
  }

  {
    /* The connection closes the fd; the description it shared with
     * @shared is blocking again. */
    g_autoptr(SwConnection) reader = sw_connection_new_for_fd (fds[0], sw_framing_get_default (),
                                                               &error);

    g_assert_no_error (error);
    g_assert_false (fd_is_blocking (shared));
    g_assert_true (sw_connection_close (reader, NULL, &error));
    g_assert_true (fd_is_blocking (shared));
  }
  close (shared);
  close (fds[1]);
}

/* ---- getters across threads ------------------------------------------- */

typedef struct
{
  SwConnection *connection;
  gint          stop;
} Swapper;

static gpointer
swap_codecs (gpointer data)
{
  Swapper *s = data;

  while (!g_atomic_int_get (&s->stop))
    {
      g_autoptr(SwCodec) json = SW_CODEC (sw_json_codec_new ());
      g_autoptr(SwCodec) gvariant = SW_CODEC (sw_gvariant_codec_new ());
      g_autoptr(SwFraming) mp = SW_FRAMING (sw_multiprocessing_framing_new ());

      sw_connection_set_codec (s->connection, json);
      sw_connection_set_codec (s->connection, gvariant);
      sw_connection_set_framing (s->connection, mp);
      sw_connection_set_framing (s->connection, sw_framing_get_default ());
    }
  return NULL;
}

/* dup_codec() and dup_framing() stay valid while another thread replaces
 * them (valgrind and ASan check the reads). */
static void
test_dup_getters_race_setters (void)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  Swapper s = { 0 };
  GThread *thread;

  sw_test_socketpair (sw_framing_get_default (), &a, &b);
  s.connection = a;
  thread = g_thread_new ("swapper", swap_codecs, &s);
  for (guint i = 0; i < 2000; i++)
    {
      g_autoptr(SwCodec) codec = sw_connection_dup_codec (a);
      g_autoptr(SwFraming) framing = sw_connection_dup_framing (a);
      g_autoptr(GVariant) value = g_variant_ref_sink (g_variant_new_int32 ((gint32) i));
      g_autoptr(GBytes) encoded = NULL;
      g_autoptr(GError) error = NULL;

      g_assert_nonnull (framing);
      if (codec == NULL)
        continue;
      encoded = sw_codec_encode (codec, value, &error);
      g_assert_no_error (error);
      g_assert_nonnull (encoded);
    }
  g_atomic_int_set (&s.stop, TRUE);
  g_thread_join (thread);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/sw/context/pending/blocking-calls", test_pending_blocking_calls);
  g_test_add_func ("/sw/context/pending/settings", test_pending_settings);
  g_test_add_func ("/sw/context/pending/max-message-size", test_pending_max_message_size);
  g_test_add_func ("/sw/context/pending/send", test_pending_send);
  g_test_add_func ("/sw/context/settings/frame-boundary", test_settings_frame_boundary);
  g_test_add_func ("/sw/context/shutdown-write/async", test_shutdown_write_async);
  g_test_add_func ("/sw/context/shutdown-write/timeout", test_shutdown_write_timeout);
  g_test_add_func ("/sw/context/notify/close-async-context", test_notify_close_async_context);
  g_test_add_func ("/sw/context/notify/close-sync", test_notify_close_sync);
  g_test_add_func ("/sw/context/dispose/committed-frame", test_dispose_finishes_committed_frame);
  g_test_add_func ("/sw/context/close/from-framing", test_close_from_framing);
  g_test_add_func ("/sw/context/close/from-stream", test_close_from_stream);
  g_test_add_func ("/sw/context/close/second-cancellable", test_second_close_cancellable);
  g_test_add_func ("/sw/context/close/releases-outside-locks",
                   test_close_releases_dropped_frames_outside_locks);
  g_test_add_func ("/sw/context/close/second-reports-failure", test_second_close_reports_failure);
  g_test_add_func ("/sw/context/fd/flags-restored", test_fd_flags_restored);
  g_test_add_func ("/sw/context/getters/dup-race", test_dup_getters_race_setters);

  return g_test_run ();
}
