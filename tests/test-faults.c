/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Injected faults and resource limits: write errors in the middle of a
 * frame, input left behind by PARTIAL_INPUT and MESSAGE_TOO_LARGE, file
 * descriptor exhaustion, and cancellation racing completion. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib-unix.h>

#include "sw-connection-private.h"
#include "sw-operation-private.h"
#include "sw-test-util.h"

static SwConnection *
make_raw_peer (SwFraming *framing,
               int       *raw_fd)
{
  int fds[2];

  sw_test_raw_socketpair (SOCK_STREAM, fds);
  *raw_fd = fds[1];
  return sw_test_connection_for_socket_fd (fds[0], framing);
}

/* ---- input left behind ------------------------------------------------ */

/* A frame of @framing around a @size-byte payload, as the peer sends it.
 * For MessagePack the payload is a bin 32 object. */
static GBytes *
encode_frame (SwFraming *framing,
              gsize      size)
{
  g_autoptr(GBytes) payload = NULL;
  g_autoptr(GBytes) header = NULL;
  g_autoptr(GBytes) trailer = NULL;
  g_autoptr(GError) error = NULL;
  GByteArray *frame = g_byte_array_new ();
  guint8 *data = g_malloc (size);

  sw_test_pattern_fill (data, size, 7);
  /* No delimiter inside the payload. */
  if (SW_IS_DELIMITER_FRAMING (framing))
    memset (data, 'x', size);
  if (SW_IS_MSGPACK_FRAMING (framing))
    {
      data[0] = 0xc6;
      data[1] = (guint8) ((size - 5) >> 24);
      data[2] = (guint8) ((size - 5) >> 16);
      data[3] = (guint8) ((size - 5) >> 8);
      data[4] = (guint8) (size - 5);
    }
  payload = g_bytes_new_take (data, size);
  g_assert_true (sw_framing_encode (framing, payload, &header, &trailer, &error));
  g_assert_no_error (error);
  g_byte_array_append (frame, g_bytes_get_data (header, NULL), (guint) g_bytes_get_size (header));
  g_byte_array_append (frame, g_bytes_get_data (payload, NULL), (guint) size);
  if (trailer != NULL)
    g_byte_array_append (frame, g_bytes_get_data (trailer, NULL),
                         (guint) g_bytes_get_size (trailer));
  return g_byte_array_free_to_bytes (frame);
}

/* EOF in the middle of a frame with more than 64 KiB buffered (a payload
 * read straight into its own buffer, for framings that know the length):
 * the stolen input is every byte received, in order. */
static void
test_steal_after_partial_input (gconstpointer data)
{
  g_autoptr(SwFraming) framing = g_object_new (GPOINTER_TO_SIZE (data), NULL);
  g_autoptr(SwConnection) connection = NULL;
  g_autoptr(GBytes) frame = encode_frame (framing, 200 * 1024);
  g_autoptr(GBytes) stolen = NULL;
  g_autoptr(GBytes) received = NULL;
  g_autoptr(GError) error = NULL;
  gsize sent = 70 * 1024;
  int fd;

  connection = make_raw_peer (framing, &fd);
  sw_test_write_all (fd, g_bytes_get_data (frame, NULL), sent);
  g_assert_cmpint (close (fd), ==, 0);

  received = sw_connection_receive_message (connection, -1, NULL, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT);
  g_assert_null (received);

  stolen = sw_connection_steal_buffered_input (connection, NULL);
  g_assert_cmpmem (g_bytes_get_data (stolen, NULL), g_bytes_get_size (stolen),
                   g_bytes_get_data (frame, NULL), sent);
}

/* A newline-terminated framing written with the public vfuncs that counts
 * every byte its decoder examines, to show whether the connection makes it
 * rescan what it already scanned. */
#define TEST_TYPE_LINE_FRAMING (test_line_framing_get_type ())
G_DECLARE_FINAL_TYPE (TestLineFraming, test_line_framing, TEST, LINE_FRAMING, GObject)

struct _TestLineFraming
{
  GObject parent_instance;
  guint64 n_examined;
};

static void test_line_framing_iface_init (SwFramingInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (TestLineFraming, test_line_framing, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (SW_TYPE_FRAMING,
                                                      test_line_framing_iface_init))

static SwFramingResult
test_line_framing_decode (SwFraming     *framing,
                          const guint8  *data,
                          gsize          length,
                          guint64       *state,
                          gsize         *header_length,
                          guint64       *payload_length,
                          gsize         *trailer_length,
                          gsize         *needed,
                          GError       **error)
{
  TestLineFraming *self = TEST_LINE_FRAMING (framing);

  /* @state: how far earlier calls scanned this frame. */
  for (gsize i = (gsize) *state; i < length; i++)
    {
      self->n_examined++;
      if (data[i] == '\n')
        {
          *header_length = 0;
          *payload_length = i;
          *trailer_length = 1;
          return SW_FRAMING_RESULT_FRAME;
        }
    }
  *state = length;
  *needed = 1;
  return SW_FRAMING_RESULT_NEED_MORE;
}

static gboolean
test_line_framing_encode (SwFraming  *framing,
                          GBytes     *payload,
                          GBytes    **header,
                          GBytes    **trailer,
                          GError    **error)
{
  *header = g_bytes_new_static ("", 0);
  *trailer = g_bytes_new_static ("\n", 1);
  return TRUE;
}

static void
test_line_framing_iface_init (SwFramingInterface *iface)
{
  iface->decode = test_line_framing_decode;
  iface->encode = test_line_framing_encode;
}

static void
test_line_framing_class_init (TestLineFramingClass *klass)
{
}

static void
test_line_framing_init (TestLineFraming *self)
{
}

#define LINE_LIMIT (16 * 1024)
#define LINE_SENT (100 * 1024)

/* A scanning framing's frame over the limit: every retry fails with
 * MESSAGE_TOO_LARGE without scanning the buffered bytes again, and
 * stealing them leaves the connection no buffer. */
static void
test_too_large_scan_retry (void)
{
  g_autoptr(TestLineFraming) framing = g_object_new (TEST_TYPE_LINE_FRAMING, NULL);
  g_autoptr(SwConnection) connection = NULL;
  g_autoptr(GBytes) stolen = NULL;
  guint8 *data = g_malloc (LINE_SENT);
  SwInput *input;
  guint64 examined;
  int fd;

  memset (data, 'x', LINE_SENT);
  connection = make_raw_peer (SW_FRAMING (framing), &fd);
  sw_connection_set_max_message_size (connection, LINE_LIMIT);
  input = &sw_connection_get_channel (connection)->input;
  sw_test_write_all (fd, data, LINE_SENT);

  for (guint i = 0; i < 5; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) received = sw_connection_receive_message (connection, 0, NULL,
                                                                  &error);

      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
      g_assert_null (received);
      if (i == 0)
        examined = framing->n_examined;
    }
  /* The retries examined nothing new: the refusal stands on what the
   * first call scanned. */
  g_assert_cmpuint (framing->n_examined, ==, examined);
  g_assert_cmpuint (examined, <=, input->end - input->start);

  stolen = sw_connection_steal_buffered_input (connection, NULL);
  g_assert_cmpuint (g_bytes_get_size (stolen), >, LINE_LIMIT);
  g_assert_true (memcmp (g_bytes_get_data (stolen, NULL), data,
                         g_bytes_get_size (stolen)) == 0);
  g_assert_null (input->data);
  g_assert_cmpuint (input->capacity, ==, 0);

  g_free (data);
  close (fd);
}

/* The same with the built-in scanning framings: each retry is refused
 * again and the stolen bytes are what was sent, with no buffer kept. */
static void
test_too_large_builtin_retry (gconstpointer data)
{
  g_autoptr(SwFraming) framing = NULL;
  g_autoptr(SwConnection) connection = NULL;
  g_autoptr(GBytes) frame = NULL;
  g_autoptr(GBytes) stolen = NULL;
  SwInput *input;
  int fd;

  if (GPOINTER_TO_SIZE (data) == SW_TYPE_DELIMITER_FRAMING)
    {
      g_autoptr(GBytes) delimiter = g_bytes_new_static ("\r\n", 2);

      framing = SW_FRAMING (sw_delimiter_framing_new (delimiter));
    }
  else
    framing = g_object_new (GPOINTER_TO_SIZE (data), NULL);
  frame = encode_frame (framing, LINE_SENT);
  if (SW_IS_MSGPACK_FRAMING (framing))
    {
      /* An array of small items: its length is unknown until scanned. */
      guint8 *array = g_bytes_unref_to_data (g_steal_pointer (&frame), &(gsize) { 0 });

      memset (array + 5, 0, LINE_SENT - 5);
      array[0] = 0xdd;
      frame = g_bytes_new_take (array, LINE_SENT);
    }
  connection = make_raw_peer (framing, &fd);
  sw_connection_set_max_message_size (connection, LINE_LIMIT);
  input = &sw_connection_get_channel (connection)->input;
  /* Without its delimiter: the frame never ends. */
  sw_test_write_all (fd, g_bytes_get_data (frame, NULL), LINE_SENT - 5);

  for (guint i = 0; i < 3; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) received = sw_connection_receive_message (connection, 0, NULL,
                                                                  &error);

      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
      g_assert_null (received);
    }
  stolen = sw_connection_steal_buffered_input (connection, NULL);
  g_assert_cmpuint (g_bytes_get_size (stolen), >, 0);
  g_assert_true (memcmp (g_bytes_get_data (stolen, NULL), g_bytes_get_data (frame, NULL),
                         g_bytes_get_size (stolen)) == 0);
  g_assert_null (input->data);
  g_assert_cmpuint (input->capacity, ==, 0);
  close (fd);
}

/* ---- write errors ----------------------------------------------------- */

/* An output stream into a byte array that takes at most @chunk bytes per
 * write call and fails its @fail_at-th call (1-based; 0: never), like a
 * disk filling up or a peer resetting the connection. When pollable, every
 * @block_every-th call would block instead (0: never). */
typedef struct
{
  GOutputStream  parent_instance;
  GByteArray    *sink;
  gboolean       pollable;
  gsize          chunk;
  guint          fail_at;
  guint          block_every;
  guint          n_calls;
} FaultStream;

typedef struct
{
  GOutputStreamClass parent_class;
} FaultStreamClass;

static GType fault_stream_get_type (void);
static void fault_stream_pollable_init (GPollableOutputStreamInterface *iface);

G_DEFINE_TYPE_WITH_CODE (FaultStream, fault_stream, G_TYPE_OUTPUT_STREAM,
                         G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_OUTPUT_STREAM,
                                                fault_stream_pollable_init))

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FaultStream, g_object_unref)

static GPollableReturn
fault_stream_take (FaultStream          *self,
                   const GOutputVector  *vectors,
                   gsize                 n_vectors,
                   gsize                *bytes_written,
                   GError              **error)
{
  gsize room = self->chunk;

  *bytes_written = 0;
  self->n_calls++;
  if (self->n_calls == self->fail_at)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE, "injected write error");
      return G_POLLABLE_RETURN_FAILED;
    }
  if (self->pollable && self->block_every > 0 && self->n_calls % self->block_every == 0)
    return G_POLLABLE_RETURN_WOULD_BLOCK;

  for (gsize i = 0; i < n_vectors && room > 0; i++)
    {
      gsize size = MIN (vectors[i].size, room);

      g_byte_array_append (self->sink, vectors[i].buffer, (guint) size);
      *bytes_written += size;
      room -= size;
    }
  return G_POLLABLE_RETURN_OK;
}

static gboolean
fault_stream_writev (GOutputStream        *stream,
                     const GOutputVector  *vectors,
                     gsize                 n_vectors,
                     gsize                *bytes_written,
                     GCancellable         *cancellable,
                     GError              **error)
{
  return fault_stream_take ((FaultStream *) stream, vectors, n_vectors, bytes_written,
                            error) == G_POLLABLE_RETURN_OK;
}

static gssize
fault_stream_write (GOutputStream  *stream,
                    const void     *buffer,
                    gsize           count,
                    GCancellable   *cancellable,
                    GError        **error)
{
  GOutputVector vector = { buffer, count };
  gsize written;

  if (!fault_stream_writev (stream, &vector, 1, &written, cancellable, error))
    return -1;
  return (gssize) written;
}

static gboolean
fault_stream_can_poll (GPollableOutputStream *stream)
{
  return ((FaultStream *) stream)->pollable;
}

static gboolean
fault_stream_is_writable (GPollableOutputStream *stream)
{
  return TRUE;
}

static GPollableReturn
fault_stream_writev_nonblocking (GPollableOutputStream  *stream,
                                 const GOutputVector    *vectors,
                                 gsize                   n_vectors,
                                 gsize                  *bytes_written,
                                 GError                **error)
{
  return fault_stream_take ((FaultStream *) stream, vectors, n_vectors, bytes_written,
                            error);
}

static gssize
fault_stream_write_nonblocking (GPollableOutputStream  *stream,
                                const void             *buffer,
                                gsize                   count,
                                GError                **error)
{
  GOutputVector vector = { buffer, count };
  gsize written;

  switch (fault_stream_writev_nonblocking (stream, &vector, 1, &written, error))
    {
    case G_POLLABLE_RETURN_OK:
      return (gssize) written;
    case G_POLLABLE_RETURN_WOULD_BLOCK:
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK, "would block");
      return -1;
    case G_POLLABLE_RETURN_FAILED:
    default:
      return -1;
    }
}

static GSource *
fault_stream_create_source (GPollableOutputStream *stream,
                            GCancellable          *cancellable)
{
  /* Always writable: ready at once. */
  GSource *source = g_pollable_source_new (G_OBJECT (stream));

  g_source_set_ready_time (source, 0);
  return source;
}

static void
fault_stream_pollable_init (GPollableOutputStreamInterface *iface)
{
  iface->can_poll = fault_stream_can_poll;
  iface->is_writable = fault_stream_is_writable;
  iface->write_nonblocking = fault_stream_write_nonblocking;
  iface->writev_nonblocking = fault_stream_writev_nonblocking;
  iface->create_source = fault_stream_create_source;
}

static void
fault_stream_finalize (GObject *object)
{
  g_byte_array_unref (((FaultStream *) object)->sink);
  G_OBJECT_CLASS (fault_stream_parent_class)->finalize (object);
}

static void
fault_stream_class_init (FaultStreamClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = fault_stream_finalize;
  G_OUTPUT_STREAM_CLASS (klass)->write_fn = fault_stream_write;
  G_OUTPUT_STREAM_CLASS (klass)->writev_fn = fault_stream_writev;
}

static void
fault_stream_init (FaultStream *self)
{
  self->sink = g_byte_array_new ();
  self->chunk = 3;
}

/* The messages the write-error loop sends, all distinct. */
#define N_FAULT_MESSAGES 6

static GBytes **
fault_messages_new (void)
{
  GBytes **messages = g_new (GBytes *, N_FAULT_MESSAGES);

  messages[0] = g_bytes_new_static ("A", 1);
  messages[1] = g_bytes_new_static ("BBBB", 4);
  messages[2] = g_bytes_new_static ("CCC", 3);
  messages[3] = sw_test_pattern_bytes (300, 3);   /* a 2-byte header */
  messages[4] = g_bytes_new_static ("DD", 2);
  messages[5] = sw_test_pattern_bytes (70, 5);
  return messages;
}

static void
fault_messages_free (GBytes **messages)
{
  for (guint i = 0; i < N_FAULT_MESSAGES; i++)
    g_bytes_unref (messages[i]);
  g_free (messages);
}

/* Splits @sink into whole varint frames and a tail. Each frame's payload
 * must be one of @messages, in order (messages of a batch dropped at a
 * frame boundary may be missing); the tail, if any, must be the start of
 * the frame of a later message. Returns the tail's length. */
static gsize
check_whole_frames (GByteArray  *sink,
                    GBytes     **messages)
{
  gsize offset = 0;
  guint next = 0;

  while (offset < sink->len)
    {
      const guint8 *p = sink->data + offset;
      gsize left = sink->len - offset, header, length;
      guint8 frame[9];
      gboolean torn = FALSE;

      g_assert_cmpuint (p[0], <=, 248);
      header = p[0] <= 240 ? 1 : 2;
      if (left < header)
        torn = TRUE;
      else
        {
          length = p[0] <= 240 ? p[0] : 240 + 256 * (gsize) (p[0] - 241) + p[1];
          torn = left < header + length;
        }

      /* The message this frame carries, skipping dropped ones. */
      for (; next < N_FAULT_MESSAGES; next++)
        {
          gsize size = g_bytes_get_size (messages[next]);
          gsize n = sw_test_varint_encode (size, frame);
          gsize have = MIN (left, n + size);

          if (n <= have && memcmp (p, frame, n) == 0
              && memcmp (p + n, g_bytes_get_data (messages[next], NULL), have - n) == 0)
            break;
          if (have < n && memcmp (p, frame, have) == 0)
            break;
        }
      g_assert_cmpuint (next, <, N_FAULT_MESSAGES);
      if (torn)
        return left;
      offset += header + length;
      next++;
    }
  return 0;
}

typedef enum
{
  CALL_SEND_A,
  CALL_SEND_B,
  CALL_SEND_BATCH,
  CALL_SEND_LAST,
  CALL_FLUSH,
  N_CALLS
} FaultCall;

static gboolean
fault_call_run (SwConnection  *connection,
                FaultCall      call,
                GBytes       **messages,
                GError       **error)
{
  switch (call)
    {
    case CALL_SEND_A:
      return sw_connection_send_message (connection, messages[0], 0, NULL, error);
    case CALL_SEND_B:
      return sw_connection_send_message (connection, messages[1], 0, NULL, error);
    case CALL_SEND_BATCH:
      return sw_connection_send_messages (connection, messages + 2, 3, 0, NULL, error);
    case CALL_SEND_LAST:
      return sw_connection_send_message (connection, messages[5], 0, NULL, error);
    case CALL_FLUSH:
    case N_CALLS:
    default:
      return sw_connection_flush (connection, 0, NULL, error);
    }
}

static void
on_async_send_done (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  GError **error = user_data;

  g_assert_false (sw_connection_send_message_finish (SW_CONNECTION (source), result, error));
}

static void
assert_broken_error (const GError *error)
{
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
  g_assert_nonnull (strstr (error->message, "injected write error"));
  g_assert_cmpstr (error->message, !=, "injected write error");
}

/* After a torn frame, every kind of send fails with a copy of the error
 * and writes nothing; close() does not try to finish the frame. */
static void
assert_output_broken (SwConnection *connection,
                      FaultStream  *stream,
                      GBytes      **messages)
{
  guint len = stream->sink->len;
  GError *async_error = NULL;
  GError *error = NULL;

  for (FaultCall call = 0; call < N_CALLS; call++)
    {
      g_assert_false (fault_call_run (connection, call, messages, &error));
      assert_broken_error (error);
      g_clear_error (&error);
    }
  g_assert_cmpint (sw_connection_send_bytes (connection, messages[0], -1, NULL, &error), ==, -1);
  assert_broken_error (error);
  g_clear_error (&error);

  sw_connection_send_message_async (connection, messages[1], G_PRIORITY_DEFAULT, NULL,
                                    on_async_send_done, &async_error);
  while (async_error == NULL)
    g_main_context_iteration (NULL, TRUE);
  assert_broken_error (async_error);
  g_clear_error (&async_error);

  g_assert_true (sw_connection_close (connection, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (stream->sink->len, ==, len);
}

/* One run of the loop: the @fail_at-th write call fails. Returns FALSE
 * once no write call failed (the loop is done). */
static gboolean
run_write_error (gboolean  pollable,
                 guint     fail_at,
                 guint    *n_torn)
{
  g_autoptr(FaultStream) stream = g_object_new (fault_stream_get_type (), NULL);
  g_autoptr(SwFraming) framing = SW_FRAMING (sw_varint_framing_new ());
  g_autoptr(SwConnection) connection = NULL;
  GBytes **messages = fault_messages_new ();
  gboolean failed = FALSE, torn = FALSE;

  stream->pollable = pollable;
  stream->fail_at = fail_at;
  stream->block_every = 5;
  connection = sw_connection_new_for_streams (NULL, G_OUTPUT_STREAM (stream), framing);

  for (FaultCall call = 0; call < N_CALLS && !torn; call++)
    {
      GError *error = NULL;
      gboolean ok;

      /* A call that would block before writing anything times out (the
       * timeout is 0): try again, as an application would. */
      while (!(ok = fault_call_run (connection, call, messages, &error))
             && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
        g_clear_error (&error);
      if (!ok)
        {
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
          g_assert_cmpstr (error->message, ==, "injected write error");
          g_assert_false (failed);
          failed = TRUE;
          torn = check_whole_frames (stream->sink, messages) > 0;
        }
      g_clear_error (&error);
    }

  *n_torn += torn;
  if (torn)
    assert_output_broken (connection, stream, messages);
  else
    {
      /* Usable: once flushed, nothing is left over. */
      g_assert_cmpuint (check_whole_frames (stream->sink, messages), ==, 0);
      g_assert_true (sw_connection_close (connection, NULL, NULL));
      g_assert_cmpuint (check_whole_frames (stream->sink, messages), ==, 0);
    }
  fault_messages_free (messages);
  return failed;
}

/* SQLite's I/O error loop: for every N, the N-th write call fails. The
 * stream then holds only whole frames and, if a frame was torn, its start
 * and nothing after it. */
static void
test_write_error_loop (gconstpointer data)
{
  gboolean pollable = GPOINTER_TO_INT (data);
  guint fail_at = 1, n_torn = 0;

  while (run_write_error (pollable, fail_at, &n_torn))
    fail_at++;
  /* Every frame and boundary was hit: most calls fail inside a frame, a
   * few at a boundary. */
  g_test_message ("%u write calls, %u torn frames", fail_at - 1, n_torn);
  g_assert_cmpuint (fail_at, >, 100);
  g_assert_cmpuint (n_torn, >, 0);
  g_assert_cmpuint (n_torn, <, fail_at - 1);
}

/* ---- cancelling queued async calls ------------------------------------ */

/* A "cancelled" handler that blocks the cancelling thread until released,
 * so the test can act while the cancellation is being emitted. */
typedef struct
{
  GMutex        mutex;
  GCond         cond;
  gboolean      in_handler;
  gboolean      released;
  GCancellable *cancellable;
} Emission;

static void
on_cancelled_block (GCancellable *cancellable,
                    gpointer      user_data)
{
  Emission *emission = user_data;

  g_mutex_lock (&emission->mutex);
  emission->in_handler = TRUE;
  g_cond_broadcast (&emission->cond);
  while (!emission->released)
    g_cond_wait (&emission->cond, &emission->mutex);
  g_mutex_unlock (&emission->mutex);
}

static gpointer
cancel_thread (gpointer data)
{
  Emission *emission = data;

  g_cancellable_cancel (emission->cancellable);
  return NULL;
}

static void
on_receive_done (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  GAsyncResult **out = user_data;

  *out = g_object_ref (result);
}

static GBytes *
wait_receive (SwConnection  *connection,
              GAsyncResult **result,
              GError       **error)
{
  GBytes *bytes;

  while (*result == NULL)
    g_main_context_iteration (NULL, TRUE);
  bytes = sw_connection_receive_message_finish (connection, *result, error);
  g_clear_object (result);
  return bytes;
}

/* A queued call whose cancellable fires in another thread completes with
 * CANCELLED while that thread is still emitting "cancelled" (another
 * handler is slow). GLib 2.74 leaks a GCancellableSource destroyed during
 * the emission; the queued call must not use one (run under valgrind or
 * LSan to see it). */
static void
test_cancel_queued_during_emission (void)
{
  g_autoptr(SwFraming) framing = SW_FRAMING (sw_varint_framing_new ());
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) message = g_bytes_new_static ("first", 5);
  g_autoptr(GBytes) received = NULL;
  g_autoptr(GError) error = NULL;
  GAsyncResult *first = NULL, *second = NULL;
  Emission emission = { 0 };
  GThread *thread;

  g_assert_true (sw_socketpair (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, framing,
                                &a, &b, NULL));
  emission.cancellable = g_cancellable_new ();
  sw_connection_receive_message_async (a, G_PRIORITY_DEFAULT, NULL, on_receive_done, &first);
  sw_connection_receive_message_async (a, G_PRIORITY_DEFAULT, emission.cancellable,
                                       on_receive_done, &second);
  /* Connected after the call's own handler or source: it runs second. */
  g_cancellable_connect (emission.cancellable, G_CALLBACK (on_cancelled_block),
                         &emission, NULL);

  thread = g_thread_new ("cancel", cancel_thread, &emission);
  g_mutex_lock (&emission.mutex);
  while (!emission.in_handler)
    g_cond_wait (&emission.cond, &emission.mutex);
  g_mutex_unlock (&emission.mutex);

  received = wait_receive (a, &second, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (received);
  g_clear_error (&error);

  g_mutex_lock (&emission.mutex);
  emission.released = TRUE;
  g_cond_broadcast (&emission.cond);
  g_mutex_unlock (&emission.mutex);
  g_thread_join (thread);

  /* The first call was not disturbed. */
  g_assert_true (sw_connection_send_message (b, message, -1, NULL, NULL));
  received = wait_receive (a, &first, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (received, message));

  g_object_unref (emission.cancellable);
  g_mutex_clear (&emission.mutex);
  g_cond_clear (&emission.cond);
}

#define N_CANCEL_ROUNDS 20000

static gpointer
cancel_queue_thread (gpointer data)
{
  GAsyncQueue *queue = data;
  GCancellable *cancellable;

  while ((cancellable = g_async_queue_pop (queue)) != (gpointer) queue)
    {
      g_cancellable_cancel (cancellable);
      g_object_unref (cancellable);
    }
  return NULL;
}

/* Many queued calls cancelled from another thread while the main context
 * completes them: each completes with CANCELLED, and nothing leaks (the
 * race that makes GLib 2.74 leak a GCancellableSource; run under valgrind
 * or LSan). */
static void
test_cancel_queued_stress (void)
{
  g_autoptr(SwFraming) framing = SW_FRAMING (sw_varint_framing_new ());
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) message = g_bytes_new_static ("last", 4);
  g_autoptr(GBytes) received = NULL;
  g_autoptr(GError) error = NULL;
  GAsyncQueue *queue = g_async_queue_new ();
  GAsyncResult *first = NULL;
  GThread *thread;
  guint rounds = g_test_slow () ? 10 * N_CANCEL_ROUNDS : N_CANCEL_ROUNDS;

  g_assert_true (sw_socketpair (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, framing,
                                &a, &b, NULL));
  /* Holds the receive lock: every later call queues. */
  sw_connection_receive_message_async (a, G_PRIORITY_DEFAULT, NULL, on_receive_done, &first);
  thread = g_thread_new ("cancel", cancel_queue_thread, queue);

  for (guint i = 0; i < rounds; i++)
    {
      GCancellable *cancellable = g_cancellable_new ();
      GAsyncResult *result = NULL;
      g_autoptr(GBytes) none = NULL;

      sw_connection_receive_message_async (a, G_PRIORITY_DEFAULT, cancellable,
                                           on_receive_done, &result);
      g_async_queue_push (queue, cancellable);
      none = wait_receive (a, &result, &error);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      g_assert_null (none);
      g_clear_error (&error);
    }
  g_async_queue_push (queue, queue);
  g_thread_join (thread);
  g_async_queue_unref (queue);

  g_assert_true (sw_connection_send_message (b, message, -1, NULL, NULL));
  received = wait_receive (a, &first, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (received, message));
}

/* ---- file descriptors ------------------------------------------------- */

#define N_WAITED_CONNECTIONS 100

/* A connection that waited keeps no descriptor for it: the wake-up fd is
 * the thread's, one for all connections. */
static void
test_waits_keep_no_fd (void)
{
  SwConnection *connections[2 * N_WAITED_CONNECTIONS];
  g_autoptr(SwFraming) framing = SW_FRAMING (sw_varint_framing_new ());
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  guint before, after;

  before = sw_test_count_open_fds ();
  for (guint i = 0; i < N_WAITED_CONNECTIONS; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) none = NULL;

      g_assert_true (sw_socketpair (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, framing,
                                    &connections[2 * i], &connections[2 * i + 1], NULL));
      none = sw_connection_receive_message (connections[2 * i], 1000,
                                            i % 2 ? cancellable : NULL, &error);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
    }
  after = sw_test_count_open_fds ();
  /* Two sockets per pair, and at most the thread's own wake-up fd. */
  g_test_message ("%u fds before, %u after", before, after);
  g_assert_cmpuint (after, <=, before + 2 * N_WAITED_CONNECTIONS + 1);

  for (guint i = 0; i < 2 * N_WAITED_CONNECTIONS; i++)
    g_object_unref (connections[i]);
  g_assert_cmpuint (sw_test_count_open_fds (), <=, before + 1);
}

/* The child's exit status when it cannot lower its limit (valgrind keeps
 * the descriptor limit to itself). */
#define EXIT_NO_RLIMIT 77

/* Lowers the descriptor limit to exactly the descriptors in use, filling
 * any gap below the highest, so the next one fails with EMFILE. */
static void
use_up_fds (void)
{
  struct rlimit limit;
  int highest = 0, fd;
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  const char *name;

  while ((name = g_dir_read_name (dir)) != NULL)
    highest = MAX (highest, atoi (name));
  g_clear_pointer (&dir, g_dir_close);

  g_assert_cmpint (getrlimit (RLIMIT_NOFILE, &limit), ==, 0);
  limit.rlim_cur = (rlim_t) highest + 1;
  if (setrlimit (RLIMIT_NOFILE, &limit) != 0)
    _exit (EXIT_NO_RLIMIT);
  while ((fd = dup (0)) >= 0)
    ;
  g_assert_cmpint (errno, ==, EMFILE);
}

/* A receive that must wait: with no descriptor to spare it fails with
 * TOO_MANY_OPEN_FILES, or times out if it needed none. Never aborts. */
static gpointer
receive_without_fds (gpointer data)
{
  SwConnection *connection = data;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();

  for (guint i = 0; i < 2; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) none = sw_connection_receive_message (connection, 1000,
                                                              i ? cancellable : NULL,
                                                              &error);

      g_assert_null (none);
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TOO_MANY_OPEN_FILES))
        g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
    }
  return NULL;
}

/* Out of descriptors (EMFILE), sync waits in the main thread and in a new
 * one fail cleanly; GLib's g_cancellable_make_pollfd() would abort. Run
 * in a forked child, whose limit can be lowered. */
static void
test_waits_without_fds (void)
{
  g_autoptr(SwFraming) framing = SW_FRAMING (sw_varint_framing_new ());
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  int status;
  pid_t pid;

  /* A forked child under valgrind reports the parent's threads as leaks. */
  if (sw_test_under_valgrind ())
    {
      g_test_skip ("A forked child cannot run under valgrind");
      return;
    }
  g_assert_true (sw_socketpair (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, framing,
                                &a, &b, NULL));
  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      use_up_fds ();
      receive_without_fds (a);
      g_thread_join (g_thread_new ("receive", receive_without_fds, a));
      _exit (0);
    }
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFEXITED (status));
  if (WEXITSTATUS (status) == EXIT_NO_RLIMIT)
    g_test_skip ("The descriptor limit cannot be lowered here (valgrind)");
  else
    g_assert_cmpint (WEXITSTATUS (status), ==, 0);
}

/* Asserts that exactly @n_free descriptors can still be opened: nothing
 * a failed (or released) constructor took stayed open. */
static void
assert_free_fds (const char *what,
                 guint       n_free)
{
  int fds[8];

  g_test_message ("%s with %u descriptors left", what, n_free);
  g_assert_cmpuint (n_free, <=, G_N_ELEMENTS (fds));
  for (guint i = 0; i < n_free; i++)
    {
      fds[i] = dup (0);
      g_assert_cmpint (fds[i], >=, 0);
    }
  g_assert_cmpint (dup (0), <, 0);
  g_assert_cmpint (errno, ==, EMFILE);
  for (guint i = 0; i < n_free; i++)
    close (fds[i]);
}

/* A constructor's outcome with few descriptors left: a result or a
 * G_IO_ERROR (or, starting a child, GSubprocess's documented domains),
 * never both or neither. */
static void
assert_result_or_error (const char *what,
                        gboolean    ok,
                        GError     *error)
{
  gboolean spawning = g_str_equal (what, "sw_spawn");

  if (ok)
    g_assert_no_error (error);
  else if (error == NULL
           || !(error->domain == G_IO_ERROR
                || (spawning && (error->domain == G_SPAWN_ERROR
                                 || error->domain == G_UNIX_ERROR))))
    g_error ("%s failed without a G_IO_ERROR: %s %d: %s", what,
             error ? g_quark_to_string (error->domain) : "", error ? error->code : 0,
             error ? error->message : "(no error)");
}

/* Wrapping the blocking pipe end *@fd_inout, handed over or borrowed,
 * with few descriptors left: when that fails, it is left as it was,
 * blocking. Once a connection took it, *@fd_inout becomes a duplicate of
 * @other_end in its place. */
static void
wrap_pipe_with_free_fds (guint  n_free,
                         int   *fd_inout,
                         int    other_end)
{
  SwConnection *connection;
  GError *error = NULL;
  int fd = *fd_inout;

  for (guint borrow = 0; borrow < 2; borrow++)
    {
      connection = borrow ? sw_connection_new_for_borrowed_fd (fd, NULL, &error)
                          : sw_connection_new_for_fd (fd, NULL, &error);
      assert_result_or_error ("wrapping a pipe end", connection != NULL, error);
      if (connection != NULL && !borrow)
        {
          /* It took the descriptor and closes it. */
          g_object_unref (connection);
          fd = *fd_inout = dup (other_end);
          g_assert_cmpint (fd, >=, 0);
          continue;
        }
      if (connection == NULL)
        g_assert_false (sw_test_fd_is_nonblocking (fd));
      g_clear_object (&connection);
      g_clear_error (&error);
      assert_free_fds ("wrapping a pipe end", n_free);
    }
}

/* Every constructor that opens descriptors, with @n_free of them left. */
static void
construct_with_free_fds (guint n_free,
                         int   borrowed)
{
  SwConnection *a = NULL, *b = NULL;
  GError *error = NULL;
  gboolean ok;

  ok = sw_socketpair (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, NULL, &a, &b, &error);
  assert_result_or_error ("sw_socketpair", ok, error);
  g_clear_object (&a);
  g_clear_object (&b);
  g_clear_error (&error);
  assert_free_fds ("sw_socketpair", n_free);

  ok = sw_pipe (NULL, &a, &b, &error);
  assert_result_or_error ("sw_pipe", ok, error);
  g_clear_object (&a);
  g_clear_object (&b);
  g_clear_error (&error);
  assert_free_fds ("sw_pipe", n_free);

  a = sw_connection_new_for_borrowed_fd (borrowed, NULL, &error);
  assert_result_or_error ("sw_connection_new_for_borrowed_fd", a != NULL, error);
  g_clear_object (&a);
  g_clear_error (&error);
  assert_free_fds ("sw_connection_new_for_borrowed_fd", n_free);
}

/* sw_spawn() with few descriptors left: the child or a GError. Not
 * counted: GLib's worker thread opens and closes descriptors of its own
 * around a child's start and exit. */
static void
spawn_with_free_fds (void)
{
  const char *argv[] = { "/bin/true", NULL };
  g_autoptr(SwConnection) connection = NULL;
  g_autoptr(GSubprocess) child = NULL;
  GError *error = NULL;

  connection = sw_spawn (argv, NULL, G_SUBPROCESS_FLAGS_NONE, &child, &error);
  assert_result_or_error ("sw_spawn", connection != NULL, error);
  if (child != NULL)
    g_assert_true (g_subprocess_wait (child, NULL, NULL));
  g_clear_error (&error);
}

/* Out of descriptors, or nearly (0 to 4 left): each constructor returns
 * its result or a GError (GLib 2.74's GUnixInputStream would abort the
 * process for a pipe end) and keeps no descriptor when it fails; then
 * sw_connection_new_for_fd() still wraps a descriptor it is given, and
 * sends and receives on existing connections work. Run in a subprocess of
 * its own, whose limit can be lowered, and where GLib's worker thread
 * (which GSubprocess needs) is this process's own, not a forked copy. */
static void
test_constructors_without_fds (void)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(SwConnection) wrapped = NULL;
  g_autoptr(GBytes) message = g_bytes_new_static ("x", 1);
  g_autoptr(GBytes) received = NULL;
  g_autoptr(GSubprocess) first = NULL;
  GError *error = NULL;
  struct rlimit limit;
  int spare[2];
  int pipe_fds[2];

  if (!sw_test_run_bounded (60 * G_USEC_PER_SEC))
    return;
  sw_test_socketpair (sw_framing_get_default (), &a, &b);
  sw_test_raw_socketpair (SOCK_STREAM, spare);
  g_assert_cmpint (pipe2 (pipe_fds, O_CLOEXEC), ==, 0);
  /* GLib aborts when it cannot make its worker thread's wake-up fd,
   * which the first GSubprocess starts: start one while there are
   * descriptors left. */
  first = g_subprocess_new (G_SUBPROCESS_FLAGS_NONE, &error, "/bin/true", NULL);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_wait (first, NULL, NULL));

  use_up_fds ();
  g_assert_cmpint (getrlimit (RLIMIT_NOFILE, &limit), ==, 0);
  for (guint n_free = 0; n_free <= 4; n_free++)
    {
      construct_with_free_fds (n_free, spare[1]);
      wrap_pipe_with_free_fds (n_free, &pipe_fds[0], pipe_fds[1]);
      limit.rlim_cur++;
      g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &limit), ==, 0);
    }
  for (guint n_free = 0; n_free <= 4; n_free++)
    {
      limit.rlim_cur = (rlim_t) (limit.rlim_cur - 5 + n_free);
      g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &limit), ==, 0);
      spawn_with_free_fds ();
      limit.rlim_cur = (rlim_t) (limit.rlim_cur + 5 - n_free);
    }

  wrapped = sw_connection_new_for_fd (spare[0], NULL, &error);
  g_assert_no_error (error);
  sw_connection_send_message (a, message, -1, NULL, &error);
  g_assert_no_error (error);
  received = sw_connection_receive_message (b, -1, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (received, message));
  close (spare[1]);
  close (pipe_fds[0]);
  close (pipe_fds[1]);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_data_func ("/sw/faults/steal/partial-input/varint",
                        GSIZE_TO_POINTER (SW_TYPE_VARINT_FRAMING),
                        test_steal_after_partial_input);
  g_test_add_data_func ("/sw/faults/steal/partial-input/multiprocessing",
                        GSIZE_TO_POINTER (SW_TYPE_MULTIPROCESSING_FRAMING),
                        test_steal_after_partial_input);
  g_test_add_data_func ("/sw/faults/steal/partial-input/msgpack",
                        GSIZE_TO_POINTER (SW_TYPE_MSGPACK_FRAMING),
                        test_steal_after_partial_input);

  g_test_add_data_func ("/sw/faults/write-error/loop/pollable", GINT_TO_POINTER (TRUE),
                        test_write_error_loop);
  g_test_add_data_func ("/sw/faults/write-error/loop/blocking", GINT_TO_POINTER (FALSE),
                        test_write_error_loop);
  g_test_add_func ("/sw/faults/fds/waits-keep-no-fd", test_waits_keep_no_fd);
  g_test_add_func ("/sw/faults/fds/waits-without-fds", test_waits_without_fds);
  g_test_add_func ("/sw/faults/fds/constructors-without-fds",
                   test_constructors_without_fds);
  g_test_add_func ("/sw/faults/too-large/scan-retry", test_too_large_scan_retry);
  g_test_add_func ("/sw/faults/async/cancel-queued-during-emission",
                   test_cancel_queued_during_emission);
  g_test_add_func ("/sw/faults/async/cancel-queued-stress", test_cancel_queued_stress);
  g_test_add_data_func ("/sw/faults/too-large/retry/delimiter",
                        GSIZE_TO_POINTER (SW_TYPE_DELIMITER_FRAMING),
                        test_too_large_builtin_retry);
  g_test_add_data_func ("/sw/faults/too-large/retry/msgpack",
                        GSIZE_TO_POINTER (SW_TYPE_MSGPACK_FRAMING),
                        test_too_large_builtin_retry);

  return g_test_run ();
}
