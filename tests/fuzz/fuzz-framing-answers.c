/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: a custom framing that answers at random. Every answer
 * of its decode and encode vfuncs comes from the fuzz input (result kind,
 * header, payload and trailer lengths, needed, huge values included), and
 * it drives a real connection: a socketpair whose other end writes bytes
 * from the input, received through receive_message, receive_bytes and
 * steal_buffered_input with read-ahead on and off and changing size
 * limits. Whatever the framing answers, every call returns a result or a
 * GError, no message exceeds max-message-size, and no more bytes come out
 * than went in. All calls use timeout 0, so a call that does not return
 * is a hang of the library, which libFuzzer's -timeout reports.
 *
 * Input: a flags byte, the answers, the operations, then the wire bytes.
 * Each length is a selector byte (see take_length()) and its value. */
#include <string.h>
#include <sys/socket.h>

#include "fuzz-common.h"

#define MAX_ANSWERS 8
#define MAX_OPS 24

/* A length as the input describes it: fixed, or relative to the bytes
 * buffered when the framing answers (to hit every boundary). */
typedef struct
{
  enum { FIXED, BUFFERED_PLUS, BUFFERED_MINUS } kind;
  guint64 value;
} Length;

typedef struct
{
  guint8  result;        /* an SwFramingResult, or any other value */
  gboolean set_error;    /* also set a GError */
  Length  header;
  Length  payload;
  Length  trailer;
  Length  needed;
  gboolean encode_ok;
  guint8  encode_header; /* bytes */
  guint8  encode_trailer;
} Answer;

/* ---- the framing ------------------------------------------------------- */

#define FUZZ_TYPE_FRAMING (fuzz_framing_get_type ())
G_DECLARE_FINAL_TYPE (FuzzFraming, fuzz_framing, FUZZ, FRAMING, GObject)

struct _FuzzFraming
{
  GObject parent_instance;
  Answer  answers[MAX_ANSWERS];
  guint   n_answers;
  guint   next_decode;
  guint   next_encode;
};

static void fuzz_framing_iface_init (SwFramingInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (FuzzFraming, fuzz_framing, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (SW_TYPE_FRAMING,
                                                      fuzz_framing_iface_init))

static guint64
resolve (const Length *length,
         gsize         buffered)
{
  switch (length->kind)
    {
    case BUFFERED_PLUS:
      return (guint64) buffered + length->value;
    case BUFFERED_MINUS:
      return buffered > length->value ? buffered - length->value : 0;
    case FIXED:
    default:
      return length->value;
    }
}

static SwFramingResult
fuzz_framing_decode (SwFraming     *framing,
                     const guint8  *data,
                     gsize          length,
                     guint64       *state,
                     gsize         *header_length,
                     guint64       *payload_length,
                     gsize         *trailer_length,
                     gsize         *needed,
                     GError       **error)
{
  FuzzFraming *self = FUZZ_FRAMING (framing);
  const Answer *answer = &self->answers[self->next_decode++ % self->n_answers];
  volatile guint8 sum = 0;

  /* Touch every byte offered: the buffer must be readable in full. */
  for (gsize i = 0; i < length; i++)
    sum += data[i];
  (void) sum;

  *header_length = (gsize) resolve (&answer->header, length);
  *payload_length = resolve (&answer->payload, length);
  *trailer_length = (gsize) resolve (&answer->trailer, length);
  *needed = (gsize) resolve (&answer->needed, length);
  if (answer->set_error)
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "fuzz says no");
  return (SwFramingResult) answer->result;
}

static gboolean
fuzz_framing_encode (SwFraming  *framing,
                     GBytes     *payload,
                     GBytes    **header,
                     GBytes    **trailer,
                     GError    **error)
{
  FuzzFraming *self = FUZZ_FRAMING (framing);
  const Answer *answer = &self->answers[self->next_encode++ % self->n_answers];
  static const guint8 filler[256];

  if (answer->set_error)
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "fuzz says no");
  /* Set even on failure: the wrapper must not leak them. */
  if (answer->encode_header > 0 || answer->encode_ok)
    *header = g_bytes_new_static (filler, answer->encode_header);
  if (answer->encode_trailer > 0)
    *trailer = g_bytes_new_static (filler, answer->encode_trailer);
  return answer->encode_ok;
}

static void
fuzz_framing_iface_init (SwFramingInterface *iface)
{
  iface->decode = fuzz_framing_decode;
  iface->encode = fuzz_framing_encode;
}

static void
fuzz_framing_class_init (FuzzFramingClass *klass)
{
}

static void
fuzz_framing_init (FuzzFraming *self)
{
}

/* ---- reading the input ------------------------------------------------- */

/* Small values, boundaries of every width and values near 2^64 are all
 * likely, so sums that wrap are found quickly. */
static Length
take_length (FuzzInput *in)
{
  guint8 selector = fuzz_take_byte (in);
  Length length = { FIXED, 0 };

  switch (selector % 10)
    {
    case 0: length.value = fuzz_take_bytes (in, 1); break;
    case 1: length.value = fuzz_take_bytes (in, 2); break;
    case 2: length.value = fuzz_take_bytes (in, 4); break;
    case 3: length.value = fuzz_take_bytes (in, 8); break;
    case 4: length.value = G_MAXUINT64 - fuzz_take_bytes (in, 2); break;
    case 5: length.value = G_MAXUINT64 / 2 + fuzz_take_bytes (in, 1) - 128; break;
    case 6: length.value = G_MAXSIZE - fuzz_take_bytes (in, 1); break;
    case 7: length.kind = BUFFERED_PLUS; length.value = fuzz_take_bytes (in, 1); break;
    case 8: length.kind = BUFFERED_MINUS; length.value = fuzz_take_bytes (in, 1); break;
    default: length.value = (guint64) 1 << (fuzz_take_byte (in) % 64); break;
    }
  return length;
}

static void
take_answer (FuzzInput *in,
             Answer    *answer)
{
  guint8 kind = fuzz_take_byte (in);
  guint8 encode = fuzz_take_byte (in);

  /* Mostly valid result kinds, sometimes any value. */
  answer->result = (kind & 0x80) ? kind : kind % 3;
  answer->set_error = (kind & 0x40) != 0 && (kind & 0x20) != 0;
  answer->header = take_length (in);
  answer->payload = take_length (in);
  answer->trailer = take_length (in);
  answer->needed = take_length (in);
  answer->encode_ok = (encode & 1) != 0;
  answer->encode_header = (encode >> 1) % 16;
  answer->encode_trailer = encode >> 5;
}

/* ---- driving the connection -------------------------------------------- */

typedef enum
{
  OP_RECEIVE_MESSAGE,
  OP_RECEIVE_BYTES,
  OP_STEAL,
  OP_READ_AHEAD,
  OP_LIMIT,
  OP_SEND_MESSAGE,
  OP_FEED,
  OP_RECEIVE_MESSAGE_AGAIN,
} OpKind;

static const guint64 limits[] = {
  128 * 1024 * 1024, 0, 1, 10, 1000, 65536, 5 * 1024 * 1024, G_MAXUINT64,
};

typedef struct
{
  SwConnection *receiver;
  SwConnection *peer;
  FuzzInput     wire;
  gsize         fed;   /* wire bytes the peer sent */
  gsize         out;   /* what the receiver returned, see account() */
  guint64       limit; /* the largest max-message-size since the last
                        * frame boundary: a new limit applies from the
                        * next frame, a frame already started keeps its own */
} Run;

static void
feed (Run   *run,
      gsize  count)
{
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (GError) error = NULL;

  count = MIN (count, run->wire.size);
  if (count == 0)
    return;
  bytes = g_bytes_new_static (run->wire.data, count);
  /* The socket buffer holds every input libFuzzer makes by default. */
  g_assert_cmpint (sw_connection_send_bytes (run->peer, bytes, -1, NULL, &error),
                   ==, (gssize) count);
  run->wire.data += count;
  run->wire.size -= count;
  run->fed += count;
}

/* Each frame has at least one byte and at least as many as its payload,
 * so what comes out never outweighs what went in. */
static void
account (Run    *run,
         GBytes *bytes,
         GError *error,
         gsize   at_least)
{
  g_assert_true ((bytes == NULL) != (error == NULL));
  if (bytes == NULL)
    return;
  run->out += MAX (g_bytes_get_size (bytes), at_least);
  g_assert_cmpuint (run->out, <=, run->fed);
}

/* max-message-size 0 means no limit, as G_MAXUINT64 does. */
static guint64
limit_of (guint64 max_message_size)
{
  return max_message_size == 0 ? G_MAXUINT64 : max_message_size;
}

static void
at_boundary (Run *run)
{
  run->limit = limit_of (sw_connection_get_max_message_size (run->receiver));
}

static void
receive_message (Run *run)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) message = sw_connection_receive_message (run->receiver, 0,
                                                              NULL, &error);

  account (run, message, error, 1);
  if (message != NULL)
    {
      g_assert_cmpuint (g_bytes_get_size (message), <=, run->limit);
      at_boundary (run);
    }
}

static void
run_op (Run    *run,
        guint8  op)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) bytes = NULL;
  guint8 arg = op >> 3;

  switch ((OpKind) (op & 7))
    {
    case OP_RECEIVE_MESSAGE:
    case OP_RECEIVE_MESSAGE_AGAIN:
      receive_message (run);
      break;
    case OP_RECEIVE_BYTES:
      bytes = sw_connection_receive_bytes (run->receiver, arg == 31 ? -1 : arg * 8,
                                           0, NULL, &error);
      account (run, bytes, error, 0);
      at_boundary (run);  /* a raw read unwinds a half-read frame */
      break;
    case OP_STEAL:
      bytes = sw_connection_steal_buffered_input (run->receiver, NULL);
      account (run, bytes, NULL, 0);
      at_boundary (run);
      break;
    case OP_READ_AHEAD:
      sw_connection_set_read_ahead (run->receiver, arg & 1);
      break;
    case OP_LIMIT:
      sw_connection_set_max_message_size (run->receiver, limits[arg % G_N_ELEMENTS (limits)]);
      run->limit = MAX (run->limit, limit_of (limits[arg % G_N_ELEMENTS (limits)]));
      break;
    case OP_SEND_MESSAGE:
      bytes = g_bytes_new_static (run->wire.data, MIN (arg, run->wire.size));
      g_assert_true (sw_connection_send_message (run->receiver, bytes, 0, NULL, &error)
                     == (error == NULL));
      break;
    case OP_FEED:
    default:
      feed (run, (gsize) arg * 32 + 1);
      break;
    }
}

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  g_autoptr (FuzzFraming) framing = g_object_new (FUZZ_TYPE_FRAMING, NULL);
  g_autoptr (GError) error = NULL;
  FuzzInput in = { data, size };
  Run run = { NULL, NULL, { NULL, 0 }, 0, 0 };
  guint8 ops[MAX_OPS];
  guint8 flags, n_ops;

  flags = fuzz_take_byte (&in);
  framing->n_answers = 1 + fuzz_take_byte (&in) % MAX_ANSWERS;
  for (guint i = 0; i < framing->n_answers; i++)
    take_answer (&in, &framing->answers[i]);
  n_ops = 1 + fuzz_take_byte (&in) % MAX_OPS;
  for (guint i = 0; i < n_ops; i++)
    ops[i] = fuzz_take_byte (&in);
  run.wire = in;

  g_assert_true (sw_socketpair (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
                                SW_FRAMING (framing), &run.receiver, &run.peer, &error));
  sw_connection_set_read_ahead (run.receiver, flags & 1);
  sw_connection_set_max_message_size (run.receiver, limits[(flags >> 1) % G_N_ELEMENTS (limits)]);
  at_boundary (&run);

  /* Part of the wire first (maybe all of it), the rest when an op feeds. */
  feed (&run, (flags & 0x10) ? run.wire.size : (gsize) (flags >> 5) * 64);
  if (flags & 0x20 && run.wire.size == 0)
    shutdown (sw_connection_get_fd (run.peer), SHUT_WR);

  for (guint i = 0; i < n_ops; i++)
    run_op (&run, ops[i]);
  /* Whatever is left is still plain bytes. */
  receive_message (&run);
  run_op (&run, OP_STEAL);

  g_clear_object (&run.receiver);
  g_clear_object (&run.peer);
  return 0;
}
