/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The operation state machines: receive a frame, receive bytes, send a
 * frame, send bytes, flush. Each step does non-blocking I/O only and
 * reports done, would-block or an error; the drivers decide how to wait.
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

static SwStep
wait_for (SwOperation  *op,
          GIOCondition  condition)
{
  op->wait_for = condition;
  return SW_STEP_WOULD_BLOCK;
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
      return wait_for (op, G_IO_IN);
    case SW_IO_EOF:
      return fail_eof (inside, buffered, error);
    case SW_IO_ERROR:
    default:
      return SW_STEP_ERROR;
    }
}

/* ---- progress --------------------------------------------------------- */

/* A frame whose payload reaches the progress threshold reports its
 * progress through the channel's hook: about every 1 % of its payload, and
 * once at 100 % as it completes. Frames below the threshold cost one
 * comparison (their progress_next stays 0). */

/* The done count of the report after one at @done: the next 1 % step of
 * @total; while the total is unknown (a scanning framing), 1 % more than
 * has arrived, and at least 1 % of @threshold. */
static guint64
progress_next (guint64 done,
               guint64 total,
               guint64 threshold)
{
  guint64 step;

  if (total != 0)
    {
      step = MAX (total / 100, 1);
      return (done / step + 1) * step;
    }
  step = MAX (MAX (done, threshold) / 100, 1);
  return done + step;
}

static void
progress_report (SwChannel *channel,
                 gboolean   sending,
                 guint64    done,
                 guint64    total)
{
  if (channel->progress_func != NULL)
    channel->progress_func (channel->progress_data, sending, done, total);
}

/* Reports @done once it reaches *@next, short of 100 %. */
static inline void
progress_step (SwChannel *channel,
               gboolean   sending,
               guint64   *next,
               guint64    done,
               guint64    total,
               guint64    threshold)
{
  if (*next == 0 || done < *next || (total != 0 && done >= total))
    return;
  *next = progress_next (done, total, threshold);
  progress_report (channel, sending, done, total);
}

/* The frame is complete: its report at 100 %, if it reports at all. */
static void
progress_finish (SwChannel *channel,
                 gboolean   sending,
                 guint64   *next,
                 guint64    total)
{
  if (*next == 0)
    return;
  *next = 0;
  progress_report (channel, sending, total, total);
}

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
  progress_step (channel, FALSE, &in->progress_next, available, 0, channel->progress_from);
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
      progress_step (channel, FALSE, &in->progress_next, in->payload_filled,
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
  progress_finish (channel, FALSE, &next, total);
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
        in->progress_next = progress_next (0, in->payload_length, 0);
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
          progress_step (channel, FALSE, &in->progress_next,
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
    progress_report (channel, FALSE, g_bytes_get_size (message), g_bytes_get_size (message));
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
    progress_report (channel, FALSE, n_read, n_read);
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

/* ---- send ------------------------------------------------------------- */

/* Vectors per write: enough to batch hundreds of small frames. */
#define SW_MAX_VECTORS 256

/* The parts of @frame as up to three vectors, skipping @skip bytes. */
static int
out_frame_vectors (const SwOutFrame *frame,
                   gsize             skip,
                   struct iovec     *vectors)
{
  const guint8 *parts[3];
  gsize sizes[3];
  int n = 0;

  parts[0] = frame->header_bytes ? g_bytes_get_data (frame->header_bytes, NULL) : frame->header;
  sizes[0] = frame->header_length;
  parts[1] = g_bytes_get_data (frame->payload, &sizes[1]);
  parts[2] = frame->trailer ? g_bytes_get_data (frame->trailer, NULL) : NULL;
  sizes[2] = frame->trailer ? g_bytes_get_size (frame->trailer) : 0;

  for (int i = 0; i < 3; i++)
    {
      if (skip >= sizes[i])
        {
          skip -= sizes[i];
          continue;
        }
      vectors[n].iov_base = (guint8 *) parts[i] + skip;
      vectors[n].iov_len = sizes[i] - skip;
      skip = 0;
      n++;
    }
  return n;
}

static gsize
out_frame_size (const SwOutFrame *frame)
{
  return frame->header_length + g_bytes_get_size (frame->payload)
         + (frame->trailer ? g_bytes_get_size (frame->trailer) : 0);
}

/* Accounts for @count written bytes. */
static void
output_advance (SwOutput *out,
                gsize     count)
{
  while (out->first < out->n_frames)
    {
      gsize left = out_frame_size (&out->frames[out->first]) - out->offset;

      if (count < left)
        {
          out->offset += count;
          return;
        }
      count -= left;
      sw_out_frame_clear (&out->frames[out->first]);
      out->first++;
      out->offset = 0;
    }
}

/* Stream sockets and pipes: as many frames per vectored write as fit. */
static SwIOStatus
output_writev (SwChannel     *channel,
               GCancellable  *cancellable,
               GError       **error)
{
  SwOutput *out = &channel->output;
  struct iovec vectors[SW_MAX_VECTORS];
  int n_vectors = 0;
  gsize skip = out->offset, n_written;
  GUnixFDList *fds;
  SwIOStatus status;

  for (guint i = out->first; i < out->n_frames && n_vectors + 3 <= SW_MAX_VECTORS; i++)
    {
      /* A frame with fds starts a write of its own and is all it carries
       * (the binding rule at the top of sw-fds.c). */
      if (G_UNLIKELY (out->frames[i].fds != NULL) && n_vectors > 0)
        break;
      n_vectors += out_frame_vectors (&out->frames[i], skip, vectors + n_vectors);
      skip = 0;
      if (G_UNLIKELY (out->frames[i].fds != NULL))
        break;
    }

  /* A blocking stream write may be cancelled only before the frames'
   * first byte: after it they are committed. */
  if (out->first > 0 || out->offset > 0)
    cancellable = NULL;

  fds = out->frames[out->first].fds;
  if (G_UNLIKELY (fds != NULL))
    status = sw_fds_sendmsg (&channel->transport, vectors, n_vectors, fds, &n_written, error);
  else
    status = sw_transport_writev (&channel->transport, vectors, n_vectors,
                                  &n_written, cancellable, error);
  if (status == SW_IO_DONE)
    {
      /* Sent with the frame's first bytes; the rest goes without. */
      if (fds != NULL && n_written > 0)
        g_clear_object (&out->frames[out->first].fds);
      output_advance (out, n_written);
    }
  return status;
}

/* Reports the progress of the frames from @first on, after a write. */
static void
output_progress (SwChannel *channel,
                 guint      first)
{
  SwOutput *out = &channel->output;

  for (guint i = first; i <= out->first && i < out->n_frames; i++)
    {
      SwOutFrame *frame = &out->frames[i];

      if (frame->progress_next == 0)
        continue;
      if (i < out->first)
        progress_finish (channel, TRUE, &frame->progress_next, frame->progress_total);
      else if (out->offset > frame->header_length)
        progress_step (channel, TRUE, &frame->progress_next,
                       MIN (out->offset - frame->header_length, frame->progress_total),
                       frame->progress_total, 0);
    }
}

/* Datagram sockets: one datagram per frame, each sent whole or not at all. */
static SwIOStatus
output_send_datagram (SwChannel  *channel,
                      GError    **error)
{
  SwOutput *out = &channel->output;
  SwOutFrame *frame = &out->frames[out->first];
  gsize size;
  const guint8 *data = g_bytes_get_data (frame->payload, &size);
  SwIOStatus status;

  if (G_UNLIKELY (frame->fds != NULL))
    {
      struct iovec vector = { (guint8 *) data, size };
      gsize sent;

      status = sw_fds_sendmsg (&channel->transport, &vector, 1, frame->fds, &sent, error);
    }
  else
    status = sw_transport_send_datagram (&channel->transport, data, size, error);
  if (status == SW_IO_DONE)
    {
      sw_out_frame_clear (&out->frames[out->first]);
      out->first++;
    }
  return status;
}

static void
output_break (SwOutput     *out,
              const GError *error)
{
  g_clear_error (&out->broken);
  out->broken = g_error_new (error->domain, error->code,
                             _("The connection cannot send any more: a write failed "
                               "in the middle of a message (%s)"), error->message);
}

/* Every send after a torn frame fails: writing more would make the peer
 * read the next frame's bytes as the rest of the torn one. */
static gboolean
output_check_broken (const SwOutput  *out,
                     GError         **error)
{
  if (out->broken == NULL)
    return TRUE;
  g_propagate_error (error, g_error_copy (out->broken));
  return FALSE;
}

/* Writes the rest of the committed frames. */
static SwStep
output_write (SwOperation   *op,
              SwChannel     *channel,
              GCancellable  *cancellable,
              GError       **error)
{
  SwOutput *out = &channel->output;
  gboolean datagram = sw_transport_is_datagram (&channel->transport);

  while (out->first < out->n_frames)
    {
      guint first = out->first;
      gsize offset = out->offset;
      SwIOStatus status = datagram ? output_send_datagram (channel, error)
                                   : output_writev (channel, cancellable, error);

      if (status == SW_IO_WOULD_BLOCK)
        return wait_for (op, G_IO_OUT);
      if (status != SW_IO_DONE)
        {
          /* The frames can never be finished. Failing at a frame boundary
           * leaves the stream usable; inside a frame it is torn for good. */
          if (out->offset > 0)
            output_break (out, *error);
          op->committed = FALSE;
          sw_output_reset (out);
          return SW_STEP_ERROR;
        }
      if (out->first != first || out->offset != offset)
        op->committed = op->started;
      output_progress (channel, first);
    }

  op->committed = op->started;
  sw_output_reset (out);
  return SW_STEP_DONE;
}

/* A message that goes as a memfd (memfd-threshold) is replaced by its
 * control frame's payload, the memfd bound to the frame. So that the
 * receiver can never take a message for a control frame, one that reads
 * like a control frame's payload goes as a memfd too, whatever its size;
 * it cannot when the caller passes fds of its own with it. */
static gboolean
out_frame_pack (const SwChannel  *channel,
                SwOutFrame       *frame,
                GBytes           *payload,
                gboolean          has_fds,
                GBytes          **packed,
                GError          **error)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (payload, &size);
  gboolean reads_as_header;
  g_autoptr(GError) local_error = NULL;

  if (G_LIKELY (channel->out_memfd_from == G_MAXUINT64))
    return TRUE;
  reads_as_header = sw_memfd_is_header (data, size);
  if (size < channel->out_memfd_from && !reads_as_header)
    return TRUE;
  if (has_fds && !reads_as_header)
    return TRUE;
  if (has_fds)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           _("This message reads like a memfd control frame: with "
                             "memfd-threshold on it cannot be sent with file descriptors"));
      return FALSE;
    }
  *packed = sw_memfd_pack (payload, &frame->fds, &local_error);
  if (*packed != NULL)
    return TRUE;
  /* Pages the kernel still saw referenced after its wait: inline is as
   * good, except for a message only a memfd keeps from being misread. */
  if (!reads_as_header && g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_BUSY))
    return TRUE;
  g_propagate_error (error, g_steal_pointer (&local_error));
  return FALSE;
}

static gboolean
out_frame_encode (SwChannel   *channel,
                  SwOutFrame  *frame,
                  GBytes      *message,
                  gboolean     has_fds,
                  GError     **error)
{
  g_autoptr(GBytes) packed = NULL;
  GBytes *payload;

  if (!out_frame_pack (channel, frame, message, has_fds, &packed, error))
    return FALSE;
  payload = packed != NULL ? packed : message;
  /* Datagrams keep their own boundaries: no header. */
  if (sw_transport_is_datagram (&channel->transport))
    frame->header_length = 0;
  else if (channel->out_fast_path != NULL)
    frame->header_length = channel->out_fast_path->encode_header (channel->out_framing,
                                                                  g_bytes_get_size (payload),
                                                                  frame->header);
  else
    {
      if (!sw_framing_encode (channel->out_framing, payload, &frame->header_bytes,
                              &frame->trailer, error))
        {
          /* sw_output_reset() clears only the frames encoded before this
           * one: the memfd made for it is this function's to close. */
          g_clear_object (&frame->fds);
          return FALSE;
        }
      frame->header_length = g_bytes_get_size (frame->header_bytes);
    }
  frame->payload = g_bytes_ref (payload);
  /* A memfd message reports its own size as its control frame completes
   * (a write that split those few bytes could report a step of them
   * before: harmless, and the 100 % report still comes). */
  frame->progress_total = g_bytes_get_size (message);
  if (frame->progress_total >= channel->out_progress_from)
    frame->progress_next = progress_next (0, frame->progress_total, 0);
  return TRUE;
}

/* Queues the frames of @op's messages in the channel's output. */
static gboolean
output_start_frames (SwOperation  *op,
                     SwChannel    *channel,
                     GError      **error)
{
  SwOutput *out = &channel->output;

  /* A frame boundary: a framing set meanwhile applies from here. */
  sw_channel_sync_output (channel);
  out->frames = op->n_messages == 1 ? &out->single : g_new0 (SwOutFrame, op->n_messages);
  if (out->frames == &out->single)
    memset (&out->single, 0, sizeof out->single);
  out->first = 0;
  out->offset = 0;
  for (out->n_frames = 0; out->n_frames < op->n_messages; out->n_frames++)
    if (!out_frame_encode (channel, &out->frames[out->n_frames],
                           op->messages[out->n_frames],
                           out->n_frames == 0 && op->fds != NULL, error))
      {
        sw_output_reset (out);
        return FALSE;
      }
  if (op->fds != NULL && out->n_frames > 0)
    out->frames[0].fds = g_object_ref (op->fds);
  out->active = TRUE;
  return TRUE;
}

static SwStep
send_frames_step (SwOperation   *op,
                  SwChannel     *channel,
                  GCancellable  *cancellable,
                  GError       **error)
{
  if (!op->started)
    {
      /* Earlier committed frames go first. */
      if (channel->output.active)
        {
          SwStep step = output_write (op, channel, cancellable, error);

          if (step != SW_STEP_DONE)
            return step;
        }
      if (op->n_messages == 0)
        return SW_STEP_DONE;
      if (!output_start_frames (op, channel, error))
        return SW_STEP_ERROR;
      op->started = TRUE;
    }
  return output_write (op, channel, cancellable, error);
}

static SwStep
send_bytes_step (SwOperation   *op,
                 SwChannel     *channel,
                 GCancellable  *cancellable,
                 GError       **error)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (op->data, &size);

  if (!op->started && channel->output.active)
    {
      SwStep step = output_write (op, channel, cancellable, error);

      if (step != SW_STEP_DONE)
        return step;
    }
  op->started = TRUE;

  while (op->written < size)
    {
      struct iovec vector = { (guint8 *) data + op->written, size - op->written };
      gsize n_written;
      SwIOStatus status;

      /* Fds go with the first bytes written. */
      if (G_UNLIKELY (op->fds != NULL && op->written == 0))
        status = sw_fds_sendmsg (&channel->transport, &vector, 1, op->fds, &n_written, error);
      else
        status = sw_transport_writev (&channel->transport, &vector, 1, &n_written,
                                      cancellable, error);
      switch (status)
        {
        case SW_IO_DONE:
          op->written += n_written;
          break;
        case SW_IO_WOULD_BLOCK:
          return wait_for (op, G_IO_OUT);
        case SW_IO_EOF:
        case SW_IO_ERROR:
        default:
          return SW_STEP_ERROR;
        }
    }
  return SW_STEP_DONE;
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

  if (!sw_operation_is_receive (op) && !output_check_broken (&channel->output, error))
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
      return send_frames_step (op, channel, cancellable, error);
    case SW_OPERATION_SEND_BYTES:
      if (datagram)
        {
          /* A raw datagram is a message without framing. */
          SwStep step = send_frames_step (op, channel, cancellable, error);

          if (step == SW_STEP_DONE)
            op->written = g_bytes_get_size (op->data);
          return step;
        }
      return send_bytes_step (op, channel, cancellable, error);
    case SW_OPERATION_FLUSH:
    default:
      if (!channel->output.active)
        return SW_STEP_DONE;
      return output_write (op, channel, cancellable, error);
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

