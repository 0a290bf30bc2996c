/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: the whole receive path, fed arbitrary bytes through a
 * test input stream whose every read the input shapes (a short read of
 * 1 to 128 bytes, or WOULD_BLOCK), pollable or not, with each built-in
 * framing, read-ahead on and off, a size limit, and sync (timeout -1 or 0)
 * and async receives, of messages or of values through a codec.
 *
 * The oracle is the framing itself, decoding the same bytes whole: the
 * connection must return exactly the messages it finds, in order; a frame
 * whose payload is over the limit is MESSAGE_TOO_LARGE and skipped, a
 * message the codec refuses is that codec's error, and the next receive
 * gets the next message either way; the stream ends with
 * CONNECTION_CLOSED at a boundary, PARTIAL_INPUT inside a frame, or the
 * framing's INVALID_DATA. With read-ahead off the connection never reads
 * past the end of the frame it returns.
 *
 * Input: a flags byte, a limit byte, a script length byte and that many
 * script bytes (one per read or receive call; zeros once used up), then
 * the wire bytes. */
#include <string.h>

#include "fuzz-common.h"

/* ---- the test stream --------------------------------------------------- */

#define FUZZ_TYPE_STREAM (fuzz_stream_get_type ())
G_DECLARE_FINAL_TYPE (FuzzStream, fuzz_stream, FUZZ, STREAM, GInputStream)

struct _FuzzStream
{
  GInputStream parent_instance;
  FuzzInput   *script;   /* shared with the receive loop */
  FuzzInput    wire;
  gsize        position; /* wire bytes handed out */
  gboolean     pollable;
};

static void fuzz_stream_pollable_init (GPollableInputStreamInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (FuzzStream, fuzz_stream, G_TYPE_INPUT_STREAM,
                               G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_INPUT_STREAM,
                                                      fuzz_stream_pollable_init))

/* One read: the script byte says how many bytes (1 to 128, never more
 * than asked) or, with its top bit, WOULD_BLOCK where that is allowed. */
static gssize
fuzz_stream_take (FuzzStream  *self,
                  void        *buffer,
                  gsize        count,
                  gboolean     may_block,
                  GError     **error)
{
  guint8 choice = fuzz_take_byte (self->script);
  gsize n;

  if (may_block && (choice & 0x80) != 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK, "fuzz would block");
      return -1;
    }
  /* A used-up script reads as much as it can. */
  n = MIN (count, MIN (self->wire.size, choice == 0 ? G_MAXSIZE : (gsize) (choice & 0x7f) + 1));
  memcpy (buffer, self->wire.data, n);
  self->wire.data += n;
  self->wire.size -= n;
  self->position += n;
  return (gssize) n;
}

static gssize
fuzz_stream_read (GInputStream  *stream,
                  void          *buffer,
                  gsize          count,
                  GCancellable  *cancellable,
                  GError       **error)
{
  return fuzz_stream_take (FUZZ_STREAM (stream), buffer, count, FALSE, error);
}

static gboolean
fuzz_stream_can_poll (GPollableInputStream *stream)
{
  return FUZZ_STREAM (stream)->pollable;
}

static gboolean
fuzz_stream_is_readable (GPollableInputStream *stream)
{
  return TRUE;
}

static gssize
fuzz_stream_read_nonblocking (GPollableInputStream  *stream,
                              void                  *buffer,
                              gsize                  count,
                              GError               **error)
{
  return fuzz_stream_take (FUZZ_STREAM (stream), buffer, count, TRUE, error);
}

/* Always ready, as GMemoryInputStream's: the next read decides. */
static GSource *
fuzz_stream_create_source (GPollableInputStream *stream,
                           GCancellable         *cancellable)
{
  g_autoptr(GSource) ready = g_timeout_source_new (0);

  return g_pollable_source_new_full (stream, ready, cancellable);
}

static void
fuzz_stream_pollable_init (GPollableInputStreamInterface *iface)
{
  iface->can_poll = fuzz_stream_can_poll;
  iface->is_readable = fuzz_stream_is_readable;
  iface->read_nonblocking = fuzz_stream_read_nonblocking;
  iface->create_source = fuzz_stream_create_source;
}

static void
fuzz_stream_class_init (FuzzStreamClass *klass)
{
  G_INPUT_STREAM_CLASS (klass)->read_fn = fuzz_stream_read;
}

static void
fuzz_stream_init (FuzzStream *self)
{
}

/* ---- the oracle -------------------------------------------------------- */

typedef enum
{
  EXPECT_MESSAGE,
  EXPECT_TOO_LARGE,        /* skipped, the next receive goes on */
  EXPECT_TOO_LARGE_OR_END, /* over even the slack: maybe not skippable */
  EXPECT_END,              /* one of the errors in end_error_ok() */
} ExpectKind;

typedef struct
{
  ExpectKind  kind;
  gsize       offset;    /* of the payload, or of the frame */
  gsize       length;    /* of the payload */
  gsize       frame_end; /* where the frame ends, for read-ahead off */
  gboolean    truncated; /* the stream ends inside the frame */
  int         code;      /* of EXPECT_END: the one error expected, or -1 */
} Expect;

static guint64
limit_of (guint64 max_message_size)
{
  return max_message_size == 0 ? G_MAXUINT64 : max_message_size;
}

/* The next thing a receive must give at @offset of @wire, the framing
 * decoding everything left at once. */
static Expect
expect_at (SwFraming    *framing,
           const guint8 *wire,
           gsize         size,
           gsize         offset,
           guint64       max_message_size)
{
  g_autoptr(GError) error = NULL;
  guint64 limit = limit_of (max_message_size), slack_limit, state = 0, total;
  gsize header = 0, trailer = 0, needed = 0, rest = size - offset;
  guint64 payload = 0;
  Expect expect = { EXPECT_END, offset, 0, size, FALSE, -1 };
  SwFramingResult result;

  if (!g_uint64_checked_add (&slack_limit, limit, 4096))
    slack_limit = G_MAXUINT64;
  if (rest == 0)
    {
      expect.code = G_IO_ERROR_CONNECTION_CLOSED;
      return expect;
    }
  result = sw_framing_decode (framing, wire + offset, rest, &state, &header, &payload,
                              &trailer, &needed, &error);
  if (result == SW_FRAMING_RESULT_ERROR)
    {
      /* The framing's own error: INVALID_DATA, or MESSAGE_TOO_LARGE from
       * a scan that outgrew what it can count. */
      g_assert_true (error->domain == G_IO_ERROR);
      expect.code = error->code;
      return expect;
    }
  if (result == SW_FRAMING_RESULT_NEED_MORE)
    {
      /* Everything is buffered and still not a frame: the stream ends in
       * it, unless the scan already outgrew the limit. */
      expect.code = (guint64) rest + needed > slack_limit ? -1 : G_IO_ERROR_PARTIAL_INPUT;
      return expect;
    }

  if (!g_uint64_checked_add (&total, header, trailer)
      || !g_uint64_checked_add (&total, total, payload))
    total = G_MAXUINT64;
  /* A frame of 2^64 - 1 bytes or more does not fit in memory. */
  if (payload > limit || total == G_MAXUINT64 || total > slack_limit)
    {
      expect.kind = total > slack_limit ? EXPECT_TOO_LARGE_OR_END : EXPECT_TOO_LARGE;
      expect.truncated = total > rest;
      expect.frame_end = expect.truncated ? size : offset + (gsize) total;
      return expect;
    }
  if (total > rest)
    {
      expect.code = G_IO_ERROR_PARTIAL_INPUT;
      return expect;
    }
  expect.kind = EXPECT_MESSAGE;
  expect.offset = offset + header;
  expect.length = (gsize) payload;
  expect.frame_end = offset + (gsize) total;
  return expect;
}

/* The errors a stream may end with. */
static gboolean
end_error_ok (const GError *error)
{
  return g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED)
         || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT)
         || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA)
         || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
}

/* ---- receiving --------------------------------------------------------- */

typedef struct
{
  SwConnection *connection;
  FuzzStream   *stream;
  SwCodec      *codec;     /* or NULL: raw messages */
  GMainContext *context;
  FuzzInput     script;
  GAsyncResult *result;
} Run;

/* What one receive gave: a message, or with a codec a value, or an error. */
typedef struct
{
  GBytes   *message;
  GVariant *value;
  GError   *error;
} Received;

static void
received_clear (Received *received)
{
  g_clear_pointer (&received->message, g_bytes_unref);
  g_clear_pointer (&received->value, g_variant_unref);
  g_clear_error (&received->error);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Received, received_clear)

static void
on_received (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  ((Run *) user_data)->result = g_object_ref (result);
}

static void
receive_async (Run      *run,
               Received *received)
{
  if (run->codec != NULL)
    sw_connection_receive_value_async (run->connection, G_PRIORITY_DEFAULT, NULL,
                                       on_received, run);
  else
    sw_connection_receive_message_async (run->connection, G_PRIORITY_DEFAULT, NULL,
                                         on_received, run);
  while (run->result == NULL)
    g_main_context_iteration (run->context, TRUE);
  if (run->codec != NULL)
    received->value = sw_connection_receive_value_finish (run->connection, run->result,
                                                          &received->error);
  else
    received->message = sw_connection_receive_message_finish (run->connection, run->result,
                                                              &received->error);
  g_clear_object (&run->result);
}

/* One receive, as the script says: sync for ever, sync without waiting,
 * or async on the run's context. */
static void
receive_once (Run      *run,
              Received *received)
{
  guint8 mode = fuzz_take_byte (&run->script) % 3;
  gint64 timeout = mode == 1 ? 0 : -1;

  if (mode == 2 && run->stream->pollable)
    receive_async (run, received);
  else if (run->codec != NULL)
    received->value = sw_connection_receive_value (run->connection, timeout, NULL,
                                                   &received->error);
  else
    received->message = sw_connection_receive_message (run->connection, timeout, NULL,
                                                       &received->error);
  g_assert_true ((received->message != NULL || received->value != NULL)
                 != (received->error != NULL));
}

/* Receives until something other than a time-out: the script is finite,
 * and a used-up script never blocks. */
static void
receive (Run      *run,
         Received *received)
{
  for (;;)
    {
      receive_once (run, received);
      if (!g_error_matches (received->error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
        return;
      received_clear (received);
    }
}

/* A message the oracle expects: its bytes, or with a codec what the codec
 * makes of them (a value, or its refusal, after which the connection goes
 * on). */
static void
check_message (Run          *run,
               Received     *received,
               GBytes       *expected)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) value = NULL;

  if (run->codec == NULL)
    {
      if (received->message == NULL)
        g_error ("expected a message of %zu bytes, got: %s",
                 g_bytes_get_size (expected), received->error->message);
      g_assert_true (g_bytes_equal (received->message, expected));
      return;
    }
  value = sw_codec_decode (run->codec, expected, &error);
  if (value == NULL)
    {
      g_assert_nonnull (received->error);
      g_assert_true (g_error_matches (received->error, error->domain, error->code));
      return;
    }
  if (received->value == NULL)
    g_error ("expected a value, got: %s", received->error->message);
  g_assert_true (g_variant_equal (received->value, value));
}

static void
check_run (Run          *run,
           SwFraming    *framing,
           const guint8 *wire,
           gsize         size,
           guint64       max_message_size,
           gboolean      read_ahead)
{
  gsize offset = 0;
  gboolean truncated = FALSE;

  for (;;)
    {
      Expect expect = expect_at (framing, wire, size, offset, max_message_size);
      g_auto(Received) received = { NULL, NULL, NULL };

      /* Skipping a refused frame the stream ends in ends inside it. */
      if (truncated)
        expect.code = G_IO_ERROR_PARTIAL_INPUT;
      receive (run, &received);
      switch (expect.kind)
        {
        case EXPECT_MESSAGE:
          {
            g_autoptr(GBytes) expected = g_bytes_new_static (wire + expect.offset,
                                                             expect.length);

            check_message (run, &received, expected);
          }
          break;
        case EXPECT_TOO_LARGE:
        case EXPECT_TOO_LARGE_OR_END:
          g_assert_error (received.error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
          if (expect.kind == EXPECT_TOO_LARGE_OR_END)
            return;
          break;
        case EXPECT_END:
        default:
          if (received.error == NULL || !end_error_ok (received.error))
            g_error ("expected the end at %zu, got: %s", offset,
                     received.error ? received.error->message : "a message");
          /* A scanning framing reading in pieces may refuse a frame as too
           * large from a declared length before it reaches the bytes that
           * make the whole invalid or short. */
          if (expect.code >= 0 && !g_error_matches (received.error, G_IO_ERROR, expect.code)
              && (expect.code == G_IO_ERROR_CONNECTION_CLOSED
                  || !g_error_matches (received.error, G_IO_ERROR,
                                       G_IO_ERROR_MESSAGE_TOO_LARGE)))
            g_error ("expected error %d at %zu, got: %s", expect.code, offset,
                     received.error->message);
          return;
        }
      /* Read-ahead off reads what the framing asks for, never more. */
      if (!read_ahead)
        g_assert_cmpuint (run->stream->position, <=, expect.frame_end);
      offset = expect.frame_end;
      truncated = expect.truncated;
    }
}

static const guint64 limits[] = {
  0, 1, 7, 16, 100, 1000, 5000, 128 * 1024 * 1024,
};

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  FuzzInput in = { data, size };
  g_autoptr(SwFraming) framing = NULL;
  g_autoptr(FuzzStream) stream = NULL;
  g_autoptr(SwConnection) connection = NULL;
  g_autoptr(SwCodec) codec = NULL;
  g_autoptr(GMainContext) context = g_main_context_new ();
  Run run = { .connection = NULL };
  guint8 flags, limit, n_script;
  gboolean read_ahead;

  flags = fuzz_take_byte (&in);
  limit = fuzz_take_byte (&in);
  n_script = fuzz_take_byte (&in);
  run.script.data = in.data;
  run.script.size = MIN (n_script, in.size);
  in.data += run.script.size;
  in.size -= run.script.size;

  framing = fuzz_framing_new (flags % FUZZ_N_FRAMINGS);
  read_ahead = (flags & 0x08) != 0;
  if (flags & 0x10)
    codec = fuzz_codec_new (flags >> 5);

  stream = g_object_new (FUZZ_TYPE_STREAM, NULL);
  stream->script = &run.script;
  stream->wire = in;
  stream->pollable = (flags & 0x80) == 0 || (flags & 0x40) == 0;

  g_main_context_push_thread_default (context);
  connection = sw_connection_new_for_streams (G_INPUT_STREAM (stream), NULL, framing);
  sw_connection_set_read_ahead (connection, read_ahead);
  if (codec != NULL)
    sw_connection_set_codec (connection, codec);
  sw_connection_set_max_message_size (connection, limits[limit % G_N_ELEMENTS (limits)]);

  run.connection = connection;
  run.stream = stream;
  run.codec = codec;
  run.context = context;
  check_run (&run, framing, in.data, in.size, limits[limit % G_N_ELEMENTS (limits)],
             read_ahead);

  g_clear_object (&connection);
  g_main_context_pop_thread_default (context);
  return 0;
}
