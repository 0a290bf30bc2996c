/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Connections over streams without a file descriptor: a pollable stream
 * that takes a few bytes per write, and a stream that cannot poll. */
#include <stdio.h>
#include <string.h>
#include <socketwrapper/socketwrapper.h>

#include "sw-test-util.h"

/* An output stream that takes at most 10 bytes per write into a byte
 * array, and cancels a cancellable on its second write, as if another
 * thread had cancelled right then. It says it can poll or not, as told:
 * the connection then drives it non-blocking or with blocking writes. */
typedef struct
{
  GOutputStream  parent_instance;
  GByteArray    *sink;
  guint          n_writes;
  GCancellable  *cancel_on_second;
  gboolean       pollable;
} TrickleStream;

typedef struct
{
  GOutputStreamClass parent_class;
} TrickleStreamClass;

static GType trickle_stream_get_type (void);
static void trickle_stream_pollable_init (GPollableOutputStreamInterface *iface);

G_DEFINE_TYPE_WITH_CODE (TrickleStream, trickle_stream, G_TYPE_OUTPUT_STREAM,
                         G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_OUTPUT_STREAM,
                                                trickle_stream_pollable_init))

static gssize
trickle_stream_write (GOutputStream  *stream,
                      const void     *buffer,
                      gsize           count,
                      GCancellable   *cancellable,
                      GError        **error)
{
  TrickleStream *self = (TrickleStream *) stream;

  /* As a real blocking stream does. */
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return -1;
  count = MIN (count, 10);
  g_byte_array_append (self->sink, buffer, (guint) count);
  if (++self->n_writes == 2 && self->cancel_on_second != NULL)
    g_cancellable_cancel (self->cancel_on_second);
  return (gssize) count;
}

static gboolean
trickle_stream_can_poll (GPollableOutputStream *stream)
{
  return ((TrickleStream *) stream)->pollable;
}

static gboolean
trickle_stream_is_writable (GPollableOutputStream *stream)
{
  return TRUE;
}

static gssize
trickle_stream_write_nonblocking (GPollableOutputStream  *stream,
                                  const void             *buffer,
                                  gsize                   count,
                                  GError                **error)
{
  return trickle_stream_write (G_OUTPUT_STREAM (stream), buffer, count, NULL, error);
}

static GSource *
trickle_stream_create_source (GPollableOutputStream *stream,
                              GCancellable          *cancellable)
{
  return g_pollable_source_new (G_OBJECT (stream));
}

static void
trickle_stream_pollable_init (GPollableOutputStreamInterface *iface)
{
  iface->can_poll = trickle_stream_can_poll;
  iface->is_writable = trickle_stream_is_writable;
  iface->write_nonblocking = trickle_stream_write_nonblocking;
  iface->create_source = trickle_stream_create_source;
}

static void
trickle_stream_finalize (GObject *object)
{
  g_byte_array_unref (((TrickleStream *) object)->sink);
  G_OBJECT_CLASS (trickle_stream_parent_class)->finalize (object);
}

static void
trickle_stream_class_init (TrickleStreamClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = trickle_stream_finalize;
  G_OUTPUT_STREAM_CLASS (klass)->write_fn = trickle_stream_write;
}

static void
trickle_stream_init (TrickleStream *self)
{
  self->sink = g_byte_array_new ();
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TrickleStream, g_object_unref)

/* Cancelled after the first bytes of its frame are written, a send is
 * committed: it succeeds and the frame is whole before the next one. The
 * same whether the stream polls (non-blocking writes) or not (blocking
 * writes that see the cancellable). */
static void
test_cancel_after_first_byte (gconstpointer data)
{
  g_autoptr(TrickleStream) out = g_object_new (trickle_stream_get_type (), NULL);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(SwConnection) connection = NULL;
  g_autoptr(GBytes) first = sw_test_pattern_bytes (100, 1);
  g_autoptr(GBytes) second = g_bytes_new_static ("BBBB", 4);
  g_autoptr(GError) error = NULL;

  out->cancel_on_second = cancellable;
  out->pollable = GPOINTER_TO_INT (data);
  g_assert_cmpint (g_pollable_output_stream_can_poll (G_POLLABLE_OUTPUT_STREAM (out)),
                   ==, out->pollable);
  connection = sw_connection_new_for_streams (NULL, G_OUTPUT_STREAM (out),
                                              sw_framing_get_default ());
  g_assert_true (sw_connection_send_message (connection, first, -1, cancellable, &error));
  g_assert_no_error (error);
  g_assert_true (sw_connection_send_message (connection, second, -1, NULL, &error));
  g_assert_no_error (error);

  /* 1 + 100 bytes, then 1 + 4: nothing torn, nothing interleaved. */
  g_assert_cmpuint (out->sink->len, ==, 106);
  g_assert_cmpuint (out->sink->data[0], ==, 100);
  g_assert_true (sw_test_pattern_check_data (out->sink->data + 1, 100, 1));
  g_assert_cmpuint (out->sink->data[101], ==, 4);
  g_assert_cmpmem (out->sink->data + 102, 4, "BBBB", 4);
}

static void
on_sent (GObject      *object,
         GAsyncResult *result,
         gpointer      user_data)
{
  GError *error = NULL;

  g_assert_true (sw_connection_send_message_finish (SW_CONNECTION (object), result, &error));
  g_assert_no_error (error);
  (*(guint *) user_data)--;
}

#define N_ASYNC 500

/* Async sends on a stream that cannot poll run in worker threads, and
 * still go out in the order of the calls. */
static void
test_non_pollable_fifo (void)
{
  g_autoptr(GOutputStream) memory = g_memory_output_stream_new_resizable ();
  g_autoptr(GOutputStream) out = G_OUTPUT_STREAM (g_data_output_stream_new (memory));
  g_autoptr(SwConnection) connection = NULL;
  const guint8 *data;
  gsize size;
  guint pending = 0;

  g_assert_false (G_IS_POLLABLE_OUTPUT_STREAM (out)
                  && g_pollable_output_stream_can_poll (G_POLLABLE_OUTPUT_STREAM (out)));
  connection = sw_connection_new_for_streams (NULL, out, sw_framing_get_default ());
  for (guint i = 0; i < N_ASYNC; i++)
    {
      char text[16];
      int length = g_snprintf (text, sizeof text, "%08u", i);
      g_autoptr(GBytes) message = g_bytes_new (text, (gsize) length);

      pending++;
      sw_connection_send_message_async (connection, message, G_PRIORITY_DEFAULT, NULL,
                                        on_sent, &pending);
    }
  while (pending > 0)
    g_main_context_iteration (NULL, TRUE);

  data = g_memory_output_stream_get_data (G_MEMORY_OUTPUT_STREAM (memory));
  size = g_memory_output_stream_get_data_size (G_MEMORY_OUTPUT_STREAM (memory));
  g_assert_cmpuint (size, ==, N_ASYNC * 9);
  for (guint i = 0; i < N_ASYNC; i++)
    {
      char expected[16];

      g_snprintf (expected, sizeof expected, "%08u", i);
      g_assert_cmpuint (data[i * 9], ==, 8);
      g_assert_cmpmem (data + i * 9 + 1, 8, expected, 8);
    }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_data_func ("/sw/streams/pollable/cancel-after-first-byte",
                        GINT_TO_POINTER (TRUE), test_cancel_after_first_byte);
  g_test_add_data_func ("/sw/streams/non-pollable/cancel-after-first-byte",
                        GINT_TO_POINTER (FALSE), test_cancel_after_first_byte);
  g_test_add_func ("/sw/streams/non-pollable/async-fifo", test_non_pollable_fifo);

  return g_test_run ();
}
