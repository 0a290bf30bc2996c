/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The send steps of the operation state machine (see sw-operation.c):
 * frames are encoded into the channel's output queue and written with as
 * few writev() calls as the transport allows. A frame written in part
 * stays in the queue, so a later call finishes it before its own. */
#include "config.h"

#include <string.h>
#include <sys/uio.h>
#include <glib/gi18n-lib.h>

#include "sw-fds-private.h"
#include "sw-memfd-private.h"
#include "sw-operation-private.h"
#include "sw-progress-private.h"

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
        sw_progress_finish (channel, TRUE, &frame->progress_next, frame->progress_total);
      else if (out->offset > frame->header_length)
        sw_progress_step (channel, TRUE, &frame->progress_next,
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
gboolean
sw_output_check_broken (const SwOutput  *out,
                        GError         **error)
{
  if (out->broken == NULL)
    return TRUE;
  g_propagate_error (error, g_error_copy (out->broken));
  return FALSE;
}

/* Writes the rest of the committed frames. */
SwStep
sw_output_write (SwOperation   *op,
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
        return sw_operation_wait_for (op, G_IO_OUT);
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
    frame->progress_next = sw_progress_next (0, frame->progress_total, 0);
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

SwStep
sw_operation_send_frames_step (SwOperation   *op,
                               SwChannel     *channel,
                               GCancellable  *cancellable,
                               GError       **error)
{
  if (!op->started)
    {
      /* Earlier committed frames go first. */
      if (channel->output.active)
        {
          SwStep step = sw_output_write (op, channel, cancellable, error);

          if (step != SW_STEP_DONE)
            return step;
        }
      if (op->n_messages == 0)
        return SW_STEP_DONE;
      if (!output_start_frames (op, channel, error))
        return SW_STEP_ERROR;
      op->started = TRUE;
    }
  return sw_output_write (op, channel, cancellable, error);
}

SwStep
sw_operation_send_bytes_step (SwOperation   *op,
                              SwChannel     *channel,
                              GCancellable  *cancellable,
                              GError       **error)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (op->data, &size);

  if (!op->started && channel->output.active)
    {
      SwStep step = sw_output_write (op, channel, cancellable, error);

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
          return sw_operation_wait_for (op, G_IO_OUT);
        case SW_IO_EOF:
        case SW_IO_ERROR:
        default:
          return SW_STEP_ERROR;
        }
    }
  return SW_STEP_DONE;
}
