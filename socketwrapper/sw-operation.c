/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The operation state machines: receive a frame, receive bytes, receive a
 * batch, and the dispatch to the send steps (send a frame, send bytes,
 * flush: sw-operation-send.c); then the sync driver. Each step does
 * non-blocking I/O only and reports done, would-block or an error; the
 * drivers decide how to wait.
 * Everything that must survive an interrupted call (a half-read frame, a
 * half-written frame) lives in the channel, not in the operation. */
#include "config.h"

#include <string.h>
#include <sys/socket.h>
#include <glib/gi18n-lib.h>
#include <glib-unix.h>

#include "sw-fds-private.h"
#include "sw-memfd-private.h"
#include "sw-operation-private.h"
#include "sw-progress-private.h"
#include "sw-sync-wait-private.h"

/* ---- errors ----------------------------------------------------------- */

static SwStep
fail_eof (gboolean  inside,
          gsize     received,
          GError  **error)
{
  if (inside)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT,
                 _("The peer closed the connection in the middle of a message "
                   "(%zu bytes buffered)"), received);
  else
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                         _("The peer closed the connection"));
  return SW_STEP_ERROR;
}

static SwStep
fail_too_large (guint64   size,
                guint64   limit,
                GError  **error)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
               _("A message of %llu bytes exceeds the limit of %llu bytes"),
               (unsigned long long) size, (unsigned long long) limit);
  return SW_STEP_ERROR;
}

/* Maps the outcome of a read that was needed to make progress. */
static SwStep
after_read (SwOperation  *op,
            SwIOStatus    status,
            gboolean      inside,
            gsize         buffered,
            GError      **error)
{
  switch (status)
    {
    case SW_IO_DONE:
      return SW_STEP_DONE;
    case SW_IO_WOULD_BLOCK:
      return sw_operation_wait_for (op, G_IO_IN);
    case SW_IO_EOF:
      return fail_eof (inside, buffered, error);
    case SW_IO_ERROR:
    default:
      return SW_STEP_ERROR;
    }
}

/* ---- progress --------------------------------------------------------- */

/* A scanning framing still looks for the frame's end: its length is
 * unknown (total 0), but once what is buffered and the least it still
 * needs reach the threshold, the frame does too. Every buffered byte
 * belongs to the frame: a complete one would have been recognised. */
static void
progress_scan (SwChannel *channel,
               gsize      needed)
{
  SwInput *in = &channel->input;
  guint64 available = sw_input_available (in);

  if (in->progress_next == 0)
    {
      /* check_unframed_size() made sure the sum does not overflow. */
      if (available == 0 || available + needed < channel->progress_from)
        return;
      in->progress_next = available;
      in->progress_scanned = TRUE;
    }
  sw_progress_step (channel, FALSE, &in->progress_next, available, 0, channel->progress_from);
}

/* ---- receive a frame -------------------------------------------------- */

/* The frame functions below are forced inline (G_ALWAYS_INLINE): a single
 * receive and a batch both call them, and with two callers the compiler
 * makes calls of them, which cost a single receive of a small message
 * about 5 % more instructions. */

G_ALWAYS_INLINE static inline SwFramingResult
decode_frame (SwChannel  *channel,
              gsize      *needed,
              GError    **error)
{
  SwInput *in = &channel->input;
  const guint8 *data = sw_input_peek (in);

  if (channel->fast_path != NULL)
    return channel->fast_path->decode (channel->framing, data, sw_input_available (in),
                                       &in->scratch, &in->header_length,
                                       &in->payload_length, &in->trailer_length,
                                       needed, error);
  return sw_framing_decode (channel->framing, data, sw_input_available (in),
                            &in->scratch, &in->header_length, &in->payload_length,
                            &in->trailer_length, needed, error);
}

/* Discards buffered bytes of a refused frame, and the fds of the reads
 * that ended in them (they were sent with that frame: sw-fds.c), so a peer
 * streaming fds into a refused frame cannot make us hold them; returns
 * how many more bytes must still be read and dropped. */
static guint64
skip_buffered (SwInput *in)
{
  gsize count = (gsize) MIN (in->skip, (guint64) sw_input_available (in));
  guint64 through;
  gboolean unused = FALSE;

  sw_input_consume (in, count);
  in->skip -= count;
  through = sw_input_offset (in);
  sw_fds_claim (in, through, through, NULL, &unused);
  return in->skip;
}

/* Switches a large frame to reading straight into its payload buffer. */
static void
start_direct_payload (SwInput *in)
{
  gsize have = MIN (sw_input_available (in) - in->header_length, (gsize) in->payload_length);

  in->saved_header = g_memdup2 (sw_input_peek (in), in->header_length);
  in->payload_capacity = (gsize) MIN (in->payload_length,
                                      (guint64) MAX (2 * have, SW_DIRECT_INITIAL));
  in->payload = g_malloc (in->payload_capacity);
  memcpy (in->payload, sw_input_peek (in) + in->header_length, have);
  in->payload_filled = have;
  sw_input_consume (in, in->header_length + have);
}

static SwStep
read_direct_payload (SwOperation   *op,
                     SwChannel     *channel,
                     GCancellable  *cancellable,
                     GError       **error)
{
  SwInput *in = &channel->input;

  while (in->payload_filled < in->payload_length)
    {
      gsize n_read;
      SwIOStatus status;

      if (in->payload_filled == in->payload_capacity)
        {
          /* Doubles, up to the payload length, without overflowing. */
          in->payload_capacity += (gsize) MIN (in->payload_length - in->payload_capacity,
                                               (guint64) in->payload_capacity);
          in->payload = g_realloc (in->payload, in->payload_capacity);
        }
      status = sw_channel_read (channel, in->payload + in->payload_filled,
                                in->payload_capacity - in->payload_filled,
                                &n_read, cancellable, error);
      in->payload_filled += n_read;
      sw_progress_step (channel, FALSE, &in->progress_next, in->payload_filled,
                        in->payload_length, channel->progress_from);
      if (status != SW_IO_DONE)
        return after_read (op, status, TRUE,
                           in->header_length + in->payload_filled, error);
    }
  return SW_STEP_DONE;
}

/* The whole frame's length: check_frame_size() made sure it fits. */
static gsize
input_frame_length (const SwInput *in)
{
  return in->header_length + (gsize) in->payload_length + in->trailer_length;
}

static void
finish_frame (SwOperation *op,
              SwChannel   *channel)
{
  SwInput *in = &channel->input;
  guint64 total = in->progress_scanned ? input_frame_length (in) : in->payload_length;
  guint64 next = in->progress_next;
  gsize frame_length = input_frame_length (in);

  if (in->payload != NULL)
    {
      op->result = g_bytes_new_take (g_steal_pointer (&in->payload),
                                     (gsize) in->payload_length);
      sw_input_consume (in, in->trailer_length);
    }
  else
    {
      op->result = g_bytes_new (sw_input_peek (in) + in->header_length,
                                (gsize) in->payload_length);
      sw_input_consume (in, input_frame_length (in));
    }
  sw_input_reset_frame (in);
  if (G_UNLIKELY (in->fd_batches.length > 0))
    {
      guint64 end = sw_input_offset (in);

      sw_fds_claim (in, end - frame_length, end, &op->fds, &op->fds_lost);
    }
  sw_progress_finish (channel, FALSE, &next, total);
}

/* The most a frame may take: max-message-size plus SW_FRAMING_SLACK bytes
 * of header and trailer, G_MAXUINT64 for no limit. */
static guint64
frame_limit (const SwChannel *channel)
{
  guint64 limit;

  if (!g_uint64_checked_add (&limit, channel->max_message_size, SW_FRAMING_SLACK))
    return G_MAXUINT64;
  return limit;
}

/* A scanning framing (delimiter, MessagePack) cannot say how long a frame
 * is until it has all of it: refuse it once more bytes are buffered than
 * the largest allowed frame could take. Its length being unknown, it
 * cannot be skipped; the bytes stay buffered for
 * sw_connection_steal_buffered_input(). */
static SwStep
check_unframed_size (SwChannel  *channel,
                     gsize       needed,
                     GError    **error)
{
  gsize available = sw_input_available (&channel->input);
  guint64 limit = frame_limit (channel);
  guint64 least;

  /* @needed is a lower bound of what the frame still lacks (a scanner that
   * read a large declared length knows it early). The framing's state is
   * kept: a retry resumes the scan where it stopped instead of scanning
   * the refused bytes again (and succeeds if the limit was raised). */
  if (!g_uint64_checked_add (&least, available, needed) || least > limit)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                   _("The message exceeds the limit of %llu bytes: %zu bytes are "
                     "buffered and at least %zu more are needed"),
                   (unsigned long long) channel->max_message_size, available, needed);
      return SW_STEP_ERROR;
    }
  return SW_STEP_WOULD_BLOCK;
}

/* The largest message a receive @op accepts: max-message-size, or the
 * op's own lower limit (an internal receive of a bounded protocol step). */
static guint64
message_limit (const SwOperation *op,
               const SwChannel   *channel)
{
  if (op->size >= 0)
    return MIN ((guint64) op->size, channel->max_message_size);
  return channel->max_message_size;
}

/* Refuses a decoded frame that is too large to receive: a payload over
 * message_limit(), a whole frame (header and trailer count) over
 * frame_limit(), or one that cannot be held in memory. Stores the frame's
 * length for skipping it, G_MAXUINT64 when it does not fit in 64 bits (a
 * length prefix may announce a payload of 2^64 - 1 bytes). */
G_ALWAYS_INLINE static inline gboolean
check_frame_size (const SwOperation  *op,
                  const SwChannel    *channel,
                  guint64            *frame_length,
                  GError            **error)
{
  const SwInput *in = &channel->input;
  guint64 limit = message_limit (op, channel);
  gboolean fits;

  if (!g_uint64_checked_add (frame_length, in->header_length, in->trailer_length)
      || !g_uint64_checked_add (frame_length, *frame_length, in->payload_length))
    *frame_length = G_MAXUINT64;
  fits = *frame_length < G_MAXUINT64 && (guint64) (gsize) *frame_length == *frame_length;

  if (in->payload_length > limit)
    fail_too_large (in->payload_length, limit, error);
  else if (!fits)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                 _("A message of %llu bytes does not fit in memory"),
                 (unsigned long long) in->payload_length);
  else if (*frame_length > frame_limit (channel))
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                 _("A frame of %llu bytes, header and trailer included, exceeds "
                   "the limit of %llu bytes"),
                 (unsigned long long) *frame_length,
                 (unsigned long long) frame_limit (channel));
  else
    return TRUE;
  return FALSE;
}

/* Whether the complete frame of @length bytes at the head of the buffer
 * came with fds, by the binding rule of sw-fds.c. */
static gboolean
frame_carries_fds (const SwInput *in,
                   gsize          length)
{
  guint64 start = sw_input_offset (in);
  guint64 end = start + length;

  for (const GList *l = in->fd_batches.head; l != NULL; l = l->next)
    {
      const SwFdBatch *batch = l->data;

      if (batch->at > end)
        break;
      if (batch->at > start && (batch->fds->len > 0 || batch->truncated))
        return TRUE;
    }
  return FALSE;
}

/* A batch takes no frame with fds after its first message: it would close
 * them, while a receive of its own can hand them over. */
static gboolean
ends_batch_before (const SwOperation *op,
                   const SwInput     *in,
                   gsize              length)
{
  return op->batch != NULL && op->batch->len > 0 && frame_carries_fds (in, length);
}

/* One pass over what is buffered: returns DONE with a frame in op->result,
 * ERROR, or WOULD_BLOCK after setting *wanted to the bytes still needed. */
G_ALWAYS_INLINE static inline SwStep
parse_buffered_frame (SwOperation  *op,
                      SwChannel    *channel,
                      gsize        *wanted,
                      GError      **error)
{
  SwInput *in = &channel->input;
  guint64 frame_length;
  gsize available;

  if (in->skip > 0 && skip_buffered (in) > 0)
    {
      *wanted = (gsize) MIN (in->skip, (guint64) G_MAXSIZE);
      return SW_STEP_WOULD_BLOCK;
    }

  if (!in->in_frame)
    {
      switch (decode_frame (channel, wanted, error))
        {
        case SW_FRAMING_RESULT_NEED_MORE:
          if (check_unframed_size (channel, *wanted, error) == SW_STEP_ERROR)
            return SW_STEP_ERROR;
          progress_scan (channel, *wanted);
          return SW_STEP_WOULD_BLOCK;
        case SW_FRAMING_RESULT_FRAME:
          break;
        case SW_FRAMING_RESULT_ERROR:
        default:
          in->scratch = 0;
          return SW_STEP_ERROR;
        }
      if (!check_frame_size (op, channel, &frame_length, error))
        {
          /* Refused from the header alone; the frame is skipped as it
           * arrives so the connection stays usable. */
          op->skipped = TRUE;
          in->skip = frame_length;
          sw_input_reset_frame (in);
          skip_buffered (in);
          return SW_STEP_ERROR;
        }
      in->in_frame = TRUE;
      if (in->progress_next == 0 && in->payload_length >= channel->progress_from)
        in->progress_next = sw_progress_next (0, in->payload_length, 0);
    }

  available = sw_input_available (in);
  if (in->payload == NULL)
    {
      gsize total = input_frame_length (in);

      if (available >= total)
        {
          if (G_UNLIKELY (in->fd_batches.length > 0) && ends_batch_before (op, in, total))
            return SW_STEP_WOULD_BLOCK;
          finish_frame (op, channel);
          return SW_STEP_DONE;
        }
      if (in->payload_length < SW_DIRECT_PAYLOAD)
        {
          sw_progress_step (channel, FALSE, &in->progress_next,
                            MIN (available - in->header_length, (gsize) in->payload_length),
                            in->payload_length, channel->progress_from);
          *wanted = total - available;
          return SW_STEP_WOULD_BLOCK;
        }
      start_direct_payload (in);
      available = sw_input_available (in);
    }

  if (in->payload_filled < in->payload_length)
    {
      *wanted = 0;  /* read straight into the payload */
      return SW_STEP_WOULD_BLOCK;
    }
  if (available < in->trailer_length)
    {
      *wanted = in->trailer_length - available;
      return SW_STEP_WOULD_BLOCK;
    }
  finish_frame (op, channel);
  return SW_STEP_DONE;
}

G_ALWAYS_INLINE static inline SwStep
receive_frame_step (SwOperation   *op,
                    SwChannel     *channel,
                    GCancellable  *cancellable,
                    GError       **error)
{
  SwInput *in = &channel->input;

  for (;;)
    {
      gsize wanted = 0;
      SwIOStatus status;
      SwStep step;

      /* A frame boundary: settings changed meanwhile apply from here. */
      if (!in->in_frame && in->skip == 0)
        sw_channel_sync_input (channel);
      step = parse_buffered_frame (op, channel, &wanted, error);
      if (step != SW_STEP_WOULD_BLOCK)
        return step;

      if (wanted == 0)
        step = read_direct_payload (op, channel, cancellable, error);
      else
        {
          gboolean inside = in->in_frame || in->skip > 0 || sw_input_available (in) > 0;

          status = sw_input_fill (channel, wanted, !channel->read_ahead, cancellable, error);
          step = after_read (op, status, inside, sw_input_available (in), error);
          if (status == SW_IO_EOF)
            in->skip = 0;
        }
      if (step != SW_STEP_DONE)
        return step;
    }
}

/* A frame that reads as a memfd control frame and came with fds, on a
 * UNIX stream socket: unpacked into the message it stands for when
 * memfd-threshold is on here, refused when it is off (the peer has it on,
 * this end does not; docs/memfd.md). Either way the frame is consumed
 * and its fds closed, and a refused one is skipped: the next receive
 * gets the next message. */
static SwStep
receive_memfd (SwOperation  *op,
               SwChannel    *channel,
               SwStep        step,
               GError      **error)
{
  gsize size;
  const guint8 *data;
  GBytes *message = NULL;

  if (step != SW_STEP_DONE || G_LIKELY (g_bytes_get_size (op->result) != SW_MEMFD_HEADER_SIZE))
    return step;
  data = g_bytes_get_data (op->result, &size);
  if (!channel->input.collect_fds || !sw_memfd_is_header (data, size))
    return step;
  if (channel->memfd_receive)
    message = sw_memfd_unpack (op->result, op->fds, message_limit (op, channel), error);
  else if (op->fds == NULL || g_unix_fd_list_get_length (op->fds) == 0)
    return step;  /* an ordinary message from a peer with memfd off */
  else
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                         _("The peer sent a message as a memfd, but memfd-threshold is 0 "
                           "on this connection; the message was dropped"));
  /* The mapping stays valid once its fd is closed. */
  g_clear_object (&op->fds);
  g_clear_pointer (&op->result, g_bytes_unref);
  if (message == NULL)
    {
      op->skipped = TRUE;
      return SW_STEP_ERROR;
    }
  op->result = message;
  /* Mapped at once: its one report, at 100 %. */
  if (g_bytes_get_size (message) >= channel->progress_from)
    sw_progress_report (channel, FALSE, g_bytes_get_size (message), g_bytes_get_size (message));
  return SW_STEP_DONE;
}

/* ---- receive raw bytes ------------------------------------------------ */

/* Raw bytes just taken get the fds that came with them. */
static SwStep
take_bytes_fds (SwOperation *op,
                SwInput     *in)
{
  if (G_UNLIKELY (in->fd_batches.length > 0))
    {
      guint64 end = sw_input_offset (in);

      sw_fds_claim (in, end - g_bytes_get_size (op->result), end, &op->fds, &op->fds_lost);
    }
  return SW_STEP_DONE;
}

static SwStep
receive_bytes_step (SwOperation   *op,
                    SwChannel     *channel,
                    GCancellable  *cancellable,
                    GError       **error)
{
  SwInput *in = &channel->input;
  gboolean blind = op->size < 0;

  /* Raw reads see the stream as it is: a half-assembled frame becomes
   * plain bytes again. */
  sw_input_unwind (in);

  for (;;)
    {
      gsize available = sw_input_available (in);
      gsize wanted;
      SwIOStatus status;
      SwStep step;

      if (!blind && available >= (gsize) op->size)
        {
          op->result = op->size == 0 ? g_bytes_new (NULL, 0) : sw_input_take (in, (gsize) op->size);
          return take_bytes_fds (op, in);
        }
      if (blind && available > 0)
        {
          op->result = sw_input_take (in, available);
          return take_bytes_fds (op, in);
        }

      /* A blind read takes the first chunk available, whatever its size. */
      wanted = blind ? SW_READ_CHUNK : (gsize) op->size - available;
      status = sw_input_fill (channel, wanted, !blind && !channel->read_ahead,
                           cancellable, error);
      step = after_read (op, status, available > 0, available, error);
      if (step != SW_STEP_DONE)
        return step;
    }
}

/* ---- datagrams -------------------------------------------------------- */

static SwStep
receive_datagram_step (SwOperation   *op,
                       SwChannel     *channel,
                       GError       **error)
{
  SwTransport *transport = &channel->transport;
  guint64 limit = G_MAXUINT64;
  gsize size, n_read;
  guint8 *buffer;
  SwIOStatus status;

  status = sw_transport_peek_datagram (transport, &size, error);
  if (status != SW_IO_DONE)
    return after_read (op, status, FALSE, 0, error);

  if (op->kind == SW_OPERATION_RECEIVE_MESSAGE)
    limit = message_limit (op, channel);
  else if (op->size >= 0)
    limit = (guint64) op->size;

  if (size > limit)
    {
      /* A message over the limit is dropped, the connection stays usable;
       * a raw read that is too small leaves the datagram queued. */
      if (op->kind == SW_OPERATION_RECEIVE_MESSAGE)
        {
          guint8 byte;

          if (sw_transport_recv_datagram (transport, &byte, 1, &n_read, error) == SW_IO_ERROR)
            return SW_STEP_ERROR;
          op->skipped = TRUE;
        }
      return fail_too_large (size, limit, error);
    }

  buffer = g_malloc (MAX (size, 1));
  /* A datagram is read whole: only a receive asking for fds needs them. */
  if (op->with_fds)
    status = sw_fds_recv_datagram (transport, buffer, size, &n_read, &op->fds, &op->fds_lost, error);
  else
    status = sw_transport_recv_datagram (transport, buffer, size, &n_read, error);
  if (status != SW_IO_DONE)
    {
      g_free (buffer);
      return after_read (op, status, FALSE, 0, error);
    }
  op->result = g_bytes_new_take (buffer, n_read);
  if (op->kind == SW_OPERATION_RECEIVE_MESSAGE && n_read >= channel->progress_from)
    sw_progress_report (channel, FALSE, n_read, n_read);
  return SW_STEP_DONE;
}

/* ---- receive a batch of messages -------------------------------------- */

static void
batch_take_result (SwOperation *op)
{
  g_ptr_array_add (op->batch, g_steal_pointer (&op->result));
  /* Fds that came with a message nobody asked them for are closed, as a
   * plain receive does. */
  g_clear_object (&op->fds);
}

/* A later message of a batch: one already complete (a queued datagram,
 * or a whole frame in the buffer), never a read that could wait. DONE with
 * it in op->result, WOULD_BLOCK when there is none, or ERROR. */
static SwStep
next_ready_message (SwOperation  *op,
                    SwChannel    *channel,
                    GError      **error)
{
  SwInput *in = &channel->input;
  gsize wanted;
  SwStep step;

  /* A frame boundary: settings changed meanwhile apply from here. */
  if (!in->in_frame && in->skip == 0)
    sw_channel_sync_input (channel);
  if (sw_transport_is_datagram (&channel->transport))
    return receive_datagram_step (op, channel, error);
  step = parse_buffered_frame (op, channel, &wanted, error);
  /* A frame not all here is left unread, header included: no receive is
   * waiting for it yet, so settings changed before the next one apply to
   * it, as they would after a single receive. */
  if (step == SW_STEP_WOULD_BLOCK && in->skip == 0)
    sw_input_unwind (in);
  /* A control frame with its memfd ends the batch before it; one without
   * is refused here as a single receive refuses it. */
  return receive_memfd (op, channel, step, error);
}

/* Receives the first message as a single receive does, waiting for it,
 * then adds every message ready without waiting, up to max_messages. An
 * error after the first message ends the batch; it is kept for the next
 * receive, as is the skip of a refused frame. */
static SwStep
receive_batch_step (SwOperation   *op,
                    SwChannel     *channel,
                    GCancellable  *cancellable,
                    GError       **error)
{
  SwInput *in = &channel->input;

  if (op->batch->len == 0)
    {
      SwStep step = sw_transport_is_datagram (&channel->transport)
                    ? receive_datagram_step (op, channel, error)
                    : receive_memfd (op, channel,
                                     receive_frame_step (op, channel, cancellable, error),
                                     error);

      if (step != SW_STEP_DONE)
        return step;
      batch_take_result (op);
    }
  while (op->batch->len < op->max_messages)
    {
      GError *later = NULL;
      SwStep step = next_ready_message (op, channel, &later);

      if (step == SW_STEP_DONE)
        batch_take_result (op);
      else
        {
          if (step == SW_STEP_ERROR)
            {
              in->deferred_error = later;
              in->deferred_skipped = op->skipped;
              op->skipped = FALSE;
            }
          break;
        }
    }
  return SW_STEP_DONE;
}

/* A receive after a batch that met an error: that error first. */
static SwStep
report_deferred (SwOperation  *op,
                 SwInput      *in,
                 GError      **error)
{
  op->skipped = in->deferred_skipped;
  in->deferred_skipped = FALSE;
  g_propagate_error (error, g_steal_pointer (&in->deferred_error));
  return SW_STEP_ERROR;
}

/* ---- operations and the sync driver ----------------------------------- */

void
sw_operation_init (SwOperation     *op,
                   SwOperationKind  kind)
{
  memset (op, 0, sizeof *op);
  op->kind = kind;
  op->size = -1;
}

void
sw_operation_set_data (SwOperation *op,
                       GBytes      *data)
{
  op->data = g_bytes_ref (data);
  op->messages = &op->data;
  op->n_messages = 1;
}

void
sw_operation_set_messages (SwOperation    *op,
                           GBytes * const *messages,
                           guint           n_messages,
                           gboolean        copy)
{
  if (copy)
    {
      op->owned = g_new (GBytes *, MAX (n_messages, 1));
      for (guint i = 0; i < n_messages; i++)
        op->owned[i] = g_bytes_ref (messages[i]);
      messages = op->owned;
    }
  op->messages = messages;
  op->n_messages = n_messages;
}

void
sw_operation_append_messages (SwOperation    *op,
                              GBytes * const *messages,
                              guint           n_messages)
{
  GBytes **owned = g_new (GBytes *, op->n_messages + n_messages);

  for (guint i = 0; i < op->n_messages; i++)
    owned[i] = g_bytes_ref (op->messages[i]);
  for (guint i = 0; i < n_messages; i++)
    owned[op->n_messages + i] = g_bytes_ref (messages[i]);

  /* Drop what the op held before: its own copies and its single message. */
  if (op->owned != NULL)
    {
      for (guint i = 0; i < op->n_messages; i++)
        g_bytes_unref (op->owned[i]);
      g_free (op->owned);
    }
  g_clear_pointer (&op->data, g_bytes_unref);
  op->owned = owned;
  op->messages = owned;
  op->n_messages += n_messages;
}

void
sw_operation_clear (SwOperation *op)
{
  sw_output_reset (&op->discarded);
  if (op->owned != NULL)
    {
      for (guint i = 0; i < op->n_messages; i++)
        g_bytes_unref (op->owned[i]);
      g_clear_pointer (&op->owned, g_free);
    }
  g_clear_pointer (&op->data, g_bytes_unref);
  g_clear_pointer (&op->result, g_bytes_unref);
  g_clear_pointer (&op->batch, g_ptr_array_unref);
  g_clear_object (&op->fds);
}

gboolean
sw_operation_is_receive (const SwOperation *op)
{
  return op->kind == SW_OPERATION_RECEIVE_MESSAGE || op->kind == SW_OPERATION_RECEIVE_BYTES;
}

static gboolean
has_empty_message (const SwOperation *op)
{
  for (guint i = 0; i < op->n_messages; i++)
    if (g_bytes_get_size (op->messages[i]) == 0)
      return TRUE;
  return op->data != NULL && g_bytes_get_size (op->data) == 0;
}

gboolean
sw_operation_validate (SwOperation  *op,
                       SwChannel    *channel,
                       GError      **error)
{
  if (sw_operation_is_receive (op))
    sw_channel_sync_input (channel);
  else
    sw_channel_sync_output (channel);
  return sw_operation_check (op, channel, error);
}

gboolean
sw_operation_check (const SwOperation  *op,
                    const SwChannel    *channel,
                    GError            **error)
{
  const SwTransport *transport = &channel->transport;
  gboolean datagram = sw_transport_is_datagram (transport);
  SwFraming *framing = sw_operation_is_receive (op) ? channel->framing : channel->out_framing;

  if (sw_operation_is_receive (op) && !sw_transport_can_read (transport))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                           _("The connection cannot receive: it has no readable end"));
      return FALSE;
    }
  if (!sw_operation_is_receive (op) && op->kind != SW_OPERATION_FLUSH
      && !sw_transport_can_write (transport))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                           _("The connection cannot send: it has no writable end"));
      return FALSE;
    }
  if ((op->kind == SW_OPERATION_RECEIVE_MESSAGE || op->kind == SW_OPERATION_SEND_MESSAGE)
      && !datagram && framing == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                           _("Messages need a framing on a byte stream; "
                             "this connection has none"));
      return FALSE;
    }
  if (op->with_fds && !transport->is_unix)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                           _("File descriptors can only be passed on UNIX domain sockets"));
      return FALSE;
    }
  if (datagram && transport->socket_type == SOCK_SEQPACKET && has_empty_message (op))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           _("An empty message cannot be sent on a seqpacket socket: "
                             "the peer would read it as the end of the connection"));
      return FALSE;
    }
  return TRUE;
}

/* A receive that asked for fds fails when some of its message's fds were
 * lost; the message is consumed (and its other fds closed). */
static inline SwStep
check_fds_lost (SwOperation  *op,
                SwStep        step,
                GError      **error)
{
  if (G_LIKELY (!op->fds_lost) || step != SW_STEP_DONE || !op->with_fds)
    return step;
  g_clear_pointer (&op->result, g_bytes_unref);
  g_clear_object (&op->fds);
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       _("File descriptors sent with the message were lost (too many "
                         "for the control buffer, or no descriptor left in this "
                         "process); the message was dropped"));
  return SW_STEP_ERROR;
}

SwStep
sw_operation_step (SwOperation   *op,
                   SwChannel     *channel,
                   GCancellable  *cancellable,
                   GError       **error)
{
  gboolean datagram = sw_transport_is_datagram (&channel->transport);

  if (!sw_operation_is_receive (op) && !sw_output_check_broken (&channel->output, error))
    return SW_STEP_ERROR;

  switch (op->kind)
    {
    case SW_OPERATION_RECEIVE_MESSAGE:
      if (G_UNLIKELY (channel->input.deferred_error != NULL))
        return report_deferred (op, &channel->input, error);
      if (op->batch != NULL)
        return receive_batch_step (op, channel, cancellable, error);
      if (datagram)
        return check_fds_lost (op, receive_datagram_step (op, channel, error), error);
      return check_fds_lost (op, receive_memfd (op, channel,
                                                receive_frame_step (op, channel, cancellable,
                                                                    error),
                                                error),
                             error);
    case SW_OPERATION_RECEIVE_BYTES:
      if (G_UNLIKELY (channel->input.deferred_error != NULL))
        return report_deferred (op, &channel->input, error);
      if (datagram)
        return check_fds_lost (op, receive_datagram_step (op, channel, error), error);
      return check_fds_lost (op, receive_bytes_step (op, channel, cancellable, error), error);
    case SW_OPERATION_SEND_MESSAGE:
      return sw_operation_send_frames_step (op, channel, cancellable, error);
    case SW_OPERATION_SEND_BYTES:
      if (datagram)
        {
          /* A raw datagram is a message without framing. */
          SwStep step;

          step = sw_operation_send_frames_step (op, channel, cancellable, error);

          if (step == SW_STEP_DONE)
            op->written = g_bytes_get_size (op->data);
          return step;
        }
      return sw_operation_send_bytes_step (op, channel, cancellable, error);
    case SW_OPERATION_FLUSH:
    default:
      if (!channel->output.active)
        return SW_STEP_DONE;
      return sw_output_write (op, channel, cancellable, error);
    }
}

gboolean
sw_operation_interrupted (SwOperation  *op,
                          SwChannel    *channel,
                          GError      **error)
{
  switch (op->kind)
    {
    case SW_OPERATION_SEND_MESSAGE:
      /* Committed: the rest of the frame goes out before any later one. */
      if (op->committed)
        {
          g_clear_error (error);
          return TRUE;
        }
      if (op->started)
        sw_output_take (&channel->output, &op->discarded);
      return FALSE;
    case SW_OPERATION_SEND_BYTES:
      if (op->written > 0)
        {
          g_clear_error (error);
          return TRUE;
        }
      /* A raw datagram queued as a frame was not sent: drop it. */
      if (op->started && !op->committed && sw_transport_is_datagram (&channel->transport))
        sw_output_take (&channel->output, &op->discarded);
      return FALSE;
    case SW_OPERATION_RECEIVE_MESSAGE:
    case SW_OPERATION_RECEIVE_BYTES:
    case SW_OPERATION_FLUSH:
    default:
      /* Whatever was read stays buffered for the next receive. */
      return FALSE;
    }
}

static void
on_blocking_interrupted (GCancellable *cancellable,
                         gpointer      user_data)
{
  g_cancellable_cancel (user_data);
}

/* Runs @handler's connection on @source with a reference on @target, so
 * it may be disconnected without waiting for a handler running in another
 * thread (g_cancellable_disconnect() would: a close() called from a
 * "cancelled" handler then deadlocks with the thread it waits for). */
static gulong
forward_cancel (GCancellable *source,
                GCancellable *target)
{
  if (source == NULL)
    return 0;
  if (g_cancellable_is_cancelled (source))
    {
      g_cancellable_cancel (target);
      return 0;
    }
  return g_signal_connect_data (source, "cancelled", G_CALLBACK (on_blocking_interrupted),
                                g_object_ref (target), (GClosureNotify) (void (*) (void)) g_object_unref,
                                0);
}

/* A stream that cannot poll is only interrupted through the cancellable
 * of its blocking call: give that call one that the caller's cancellable
 * and close() both fire. NULL when the transport can poll. */
static GCancellable *
blocking_cancellable_new (const SwOperation  *op,
                          SwChannel          *channel,
                          GCancellable       *cancellable,
                          SwCloseWatch       *close_watch,
                          gulong              handlers[2])
{
  GIOCondition condition = sw_operation_is_receive (op) ? G_IO_IN : G_IO_OUT;
  GCancellable *blocking;

  if (close_watch == NULL || sw_transport_can_poll (&channel->transport, condition))
    return NULL;
  blocking = g_cancellable_new ();
  handlers[0] = forward_cancel (cancellable, blocking);
  handlers[1] = forward_cancel (close_watch->cancellable, blocking);
  return blocking;
}

static void
blocking_cancellable_free (GCancellable  *blocking,
                           GCancellable  *cancellable,
                           SwCloseWatch  *close_watch,
                           gulong         handlers[2])
{
  if (blocking == NULL)
    return;
  if (handlers[0] != 0)
    g_signal_handler_disconnect (cancellable, handlers[0]);
  if (handlers[1] != 0)
    g_signal_handler_disconnect (close_watch->cancellable, handlers[1]);
  g_object_unref (blocking);
}

/* A blocking stream call cancelled by close() failed as CANCELLED: say
 * CLOSED, as a wait would. */
static void
blocking_error_fixup (GError        *error,
                      GCancellable  *cancellable,
                      SwCloseWatch  *close_watch)
{
  if (close_watch != NULL && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)
      && !g_cancellable_is_cancelled (cancellable)
      && g_cancellable_is_cancelled (close_watch->cancellable))
    {
      error->code = G_IO_ERROR_CLOSED;
      g_free (error->message);
      error->message = g_strdup (_("The connection is closed"));
    }
}

gboolean
sw_operation_run_sync (SwOperation   *op,
                       SwChannel     *channel,
                       gint64         deadline,
                       GCancellable  *cancellable,
                       SwCloseWatch  *close_watch,
                       GError       **error)
{
  gulong handlers[2] = { 0, 0 };
  GCancellable *blocking = blocking_cancellable_new (op, channel, cancellable, close_watch,
                                                     handlers);
  GError *local_error = NULL;
  gboolean ok;

  for (;;)
    {
      SwStep step = sw_operation_step (op, channel, blocking ? blocking : cancellable,
                                       &local_error);

      if (step == SW_STEP_DONE || step == SW_STEP_ERROR)
        {
          ok = step == SW_STEP_DONE;
          break;
        }
      if (!sw_sync_wait (&channel->transport, op->wait_for, deadline, cancellable,
                         close_watch, &local_error))
        {
          ok = sw_operation_interrupted (op, channel, &local_error);
          break;
        }
    }
  if (!ok)
    {
      blocking_error_fixup (local_error, cancellable, close_watch);
      g_propagate_error (error, local_error);
    }
  blocking_cancellable_free (blocking, cancellable, close_watch, handlers);
  return ok;
}

