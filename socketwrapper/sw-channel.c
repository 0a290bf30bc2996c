/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The channel: what a connection keeps across calls — the transport, the
 * settings and each direction's copy of them, the read-ahead buffer with
 * the frame being assembled, and the frames being written — so an
 * operation interrupted by a timeout loses nothing. The operations read
 * (sw-operation.c) and write (sw-operation-send.c) through it. */
#include "config.h"

#include <string.h>
#include <sys/socket.h>

#include "sw-channel-private.h"
#include "sw-fds-private.h"

/* ---- channel ---------------------------------------------------------- */

void
sw_channel_init (SwChannel *channel)
{
  memset (channel, 0, sizeof *channel);
  sw_transport_init (&channel->transport);
  g_mutex_init (&channel->settings.mutex);
  channel->settings.read_ahead = TRUE;
  channel->settings.max_message_size = G_MAXUINT64;
  channel->progress_from = G_MAXUINT64;
  channel->out_progress_from = G_MAXUINT64;
  channel->out_memfd_from = G_MAXUINT64;
  /* Differs from the owners' serials: the first call copies them. */
  channel->settings.serial = 1;
}

void
sw_input_reset_frame (SwInput *in)
{
  in->in_frame = FALSE;
  in->scratch = 0;
  in->header_length = 0;
  in->payload_length = 0;
  in->trailer_length = 0;
  g_clear_pointer (&in->payload, g_free);
  g_clear_pointer (&in->saved_header, g_free);
  in->payload_filled = 0;
  in->payload_capacity = 0;
  in->progress_next = 0;
  in->progress_scanned = FALSE;
}

void
sw_out_frame_clear (SwOutFrame *frame)
{
  g_clear_pointer (&frame->header_bytes, g_bytes_unref);
  g_clear_pointer (&frame->payload, g_bytes_unref);
  g_clear_pointer (&frame->trailer, g_bytes_unref);
  g_clear_object (&frame->fds);
}

void
sw_output_reset (SwOutput *out)
{
  for (guint i = 0; i < out->n_frames; i++)
    sw_out_frame_clear (&out->frames[i]);
  if (out->frames != &out->single)
    g_free (out->frames);
  out->frames = NULL;
  out->n_frames = 0;
  out->first = 0;
  out->offset = 0;
  out->active = FALSE;
}

void
sw_output_take (SwOutput *out,
                SwOutput *into)
{
  g_assert (into->n_frames == 0);
  into->single = out->single;
  into->frames = out->frames == &out->single ? &into->single : out->frames;
  into->n_frames = out->n_frames;
  /* Emptied without a release: the frames are @into's now. */
  out->frames = NULL;
  out->n_frames = 0;
  sw_output_reset (out);
}

void
sw_channel_clear (SwChannel *channel)
{
  sw_input_reset_frame (&channel->input);
  g_clear_pointer (&channel->input.data, g_free);
  sw_fds_drop_all (&channel->input);
  g_clear_error (&channel->input.deferred_error);
  sw_output_reset (&channel->output);
  g_clear_error (&channel->output.broken);
  g_clear_object (&channel->framing);
  channel->fast_path = NULL;
  g_clear_object (&channel->out_framing);
  channel->out_fast_path = NULL;
  g_clear_object (&channel->settings.framing);
  g_mutex_clear (&channel->settings.mutex);
}

/* ---- settings --------------------------------------------------------- */

gboolean
sw_channel_set_framing (SwChannel *channel,
                        SwFraming *framing)
{
  SwSettings *settings = &channel->settings;
  SwFraming *old;

  if (framing != NULL)
    g_object_ref (framing);
  g_mutex_lock (&settings->mutex);
  old = settings->framing;
  settings->framing = framing;
  if (old != framing)
    g_atomic_int_inc (&settings->serial);
  g_mutex_unlock (&settings->mutex);

  /* Released outside the mutex: a framing's finalizer is user code. */
  if (old != NULL)
    g_object_unref (old);
  return old != framing;
}

SwFraming *
sw_channel_dup_framing (SwChannel *channel)
{
  SwSettings *settings = &channel->settings;
  SwFraming *framing;

  g_mutex_lock (&settings->mutex);
  framing = settings->framing ? g_object_ref (settings->framing) : NULL;
  g_mutex_unlock (&settings->mutex);
  return framing;
}

/* Stores @size bytes of @value in @field of the settings; returns whether
 * that changed it. */
static gboolean
settings_store (SwSettings    *settings,
                gpointer       field,
                gconstpointer  value,
                gsize          size)
{
  gboolean changed;

  g_mutex_lock (&settings->mutex);
  changed = memcmp (field, value, size) != 0;
  if (changed)
    {
      memcpy (field, value, size);
      g_atomic_int_inc (&settings->serial);
    }
  g_mutex_unlock (&settings->mutex);
  return changed;
}

static void
settings_load (SwSettings    *settings,
               gpointer       value,
               gconstpointer  field,
               gsize          size)
{
  g_mutex_lock (&settings->mutex);
  memcpy (value, field, size);
  g_mutex_unlock (&settings->mutex);
}

gboolean
sw_channel_set_max_message_size (SwChannel *channel,
                                 guint64    max_message_size)
{
  SwSettings *settings = &channel->settings;

  return settings_store (settings, &settings->max_message_size, &max_message_size,
                         sizeof max_message_size);
}

guint64
sw_channel_get_max_message_size (SwChannel *channel)
{
  SwSettings *settings = &channel->settings;
  guint64 value;

  settings_load (settings, &value, &settings->max_message_size, sizeof value);
  return value;
}

gboolean
sw_channel_set_read_ahead (SwChannel *channel,
                           gboolean   read_ahead)
{
  SwSettings *settings = &channel->settings;

  return settings_store (settings, &settings->read_ahead, &read_ahead, sizeof read_ahead);
}

gboolean
sw_channel_get_read_ahead (SwChannel *channel)
{
  SwSettings *settings = &channel->settings;
  gboolean value;

  settings_load (settings, &value, &settings->read_ahead, sizeof value);
  return value;
}

gboolean
sw_channel_set_progress_threshold (SwChannel *channel,
                                   guint64    threshold)
{
  SwSettings *settings = &channel->settings;

  return settings_store (settings, &settings->progress_threshold, &threshold,
                         sizeof threshold);
}

guint64
sw_channel_get_progress_threshold (SwChannel *channel)
{
  SwSettings *settings = &channel->settings;
  guint64 value;

  settings_load (settings, &value, &settings->progress_threshold, sizeof value);
  return value;
}

gboolean
sw_channel_set_memfd_threshold (SwChannel *channel,
                                guint64    threshold)
{
  SwSettings *settings = &channel->settings;

  return settings_store (settings, &settings->memfd_threshold, &threshold, sizeof threshold);
}

guint64
sw_channel_get_memfd_threshold (SwChannel *channel)
{
  SwSettings *settings = &channel->settings;
  guint64 value;

  settings_load (settings, &value, &settings->memfd_threshold, sizeof value);
  return value;
}

static guint64
progress_from (const SwSettings *settings)
{
  return settings->progress_threshold != 0 ? settings->progress_threshold : G_MAXUINT64;
}

/* Makes *@copy the settings' framing; returns the framing it replaced
 * (transfer full) for the caller to release outside the mutex, or NULL
 * when it stays. */
static SwFraming *
copy_framing_unlocked (SwSettings               *settings,
                       SwFraming               **copy,
                       const SwFramingFastPath **fast_path)
{
  SwFraming *old = *copy;

  if (old == settings->framing)
    return NULL;
  *copy = settings->framing ? g_object_ref (settings->framing) : NULL;
  *fast_path = *copy ? sw_framing_get_fast_path (*copy) : NULL;
  return old;
}

void
sw_channel_sync_input (SwChannel *channel)
{
  SwSettings *settings = &channel->settings;
  SwFraming *old;

  /* The common case: one atomic read, no lock. */
  if ((guint) g_atomic_int_get (&settings->serial) == channel->input_serial)
    return;

  g_mutex_lock (&settings->mutex);
  if (channel->framing != settings->framing)
    channel->input.scratch = 0;  /* a scan restarts with the new framing */
  old = copy_framing_unlocked (settings, &channel->framing, &channel->fast_path);
  /* 0 spells "no limit" where G_MAXUINT64 cannot be written (a JS Number
   * holds integers up to 2^53 only). */
  channel->max_message_size = settings->max_message_size != 0 ? settings->max_message_size
                                                               : G_MAXUINT64;
  channel->read_ahead = settings->read_ahead;
  channel->progress_from = progress_from (settings);
  channel->memfd_receive = settings->memfd_threshold != 0;
  channel->input_serial = settings->serial;
  g_mutex_unlock (&settings->mutex);
  g_clear_object (&old);
}

void
sw_channel_sync_output (SwChannel *channel)
{
  SwSettings *settings = &channel->settings;
  SwFraming *old;

  if ((guint) g_atomic_int_get (&settings->serial) == channel->output_serial)
    return;

  g_mutex_lock (&settings->mutex);
  old = copy_framing_unlocked (settings, &channel->out_framing, &channel->out_fast_path);
  channel->out_progress_from = progress_from (settings);
  /* Only a UNIX stream socket passes fds with its frames; elsewhere the
   * setting is ignored and every message goes inline. */
  channel->out_memfd_from = settings->memfd_threshold != 0 && channel->input.collect_fds
                            ? settings->memfd_threshold : G_MAXUINT64;
  channel->output_serial = settings->serial;
  g_mutex_unlock (&settings->mutex);
  g_clear_object (&old);
}

/* Puts a partly assembled frame back into the buffer as raw bytes. */
void
sw_input_unwind (SwInput *in)
{
  if (in->payload != NULL)
    {
      gsize rest = in->end - in->start;
      gsize total = in->header_length + in->payload_filled + rest;
      guint8 *data = g_malloc (MAX (total, 1));

      /* A frame without header (MessagePack) saved none: NULL. */
      if (in->header_length > 0)
        memcpy (data, in->saved_header, in->header_length);
      memcpy (data + in->header_length, in->payload, in->payload_filled);
      if (rest > 0)
        memcpy (data + in->header_length + in->payload_filled, in->data + in->start, rest);
      g_free (in->data);
      in->data = data;
      in->start = 0;
      in->end = total;
      in->capacity = MAX (total, 1);
    }
  sw_input_reset_frame (in);
  in->skip = 0;
}


/* ---- input buffer ----------------------------------------------------- */

/* One spare read buffer per thread. A connection gives its buffer back as
 * soon as it is empty, so idle connections cost no buffer memory, and the
 * next receive in the thread takes the spare instead of allocating: a
 * ping-pong allocates nothing per message but the returned GBytes. */
static GPrivate spare_buffer = G_PRIVATE_INIT (g_free);

static guint8 *
spare_buffer_take (void)
{
  guint8 *buffer = g_private_get (&spare_buffer);

  if (buffer == NULL)
    return g_malloc (SW_READ_CHUNK);
  g_private_set (&spare_buffer, NULL);
  return buffer;
}

static void
spare_buffer_give (guint8 *buffer)
{
  if (g_private_get (&spare_buffer) == NULL)
    g_private_set (&spare_buffer, buffer);
  else
    g_free (buffer);
}

/* Makes room after the buffered bytes for @wanted more, or for as many as
 * are already buffered if that is less, and returns the room. */
static gsize
input_reserve (SwInput *in,
               gsize    wanted)
{
  gsize used = sw_input_available (in);
  gsize capacity;

  /* Grow by at most doubling what is already there: a peer announcing a
   * huge read costs memory only as its bytes really arrive. */
  wanted = MIN (wanted, MAX (used, SW_READ_CHUNK));
  if (in->capacity - in->end >= wanted)
    return in->capacity - in->end;
  if (in->start > 0)
    {
      memmove (in->data, in->data + in->start, used);
      in->start = 0;
      in->end = used;
      if (in->capacity - in->end >= wanted)
        return in->capacity - in->end;
    }

  capacity = MAX (in->capacity, SW_READ_CHUNK);
  while (capacity - used < wanted)
    capacity *= 2;
  if (in->data == NULL && capacity == SW_READ_CHUNK)
    in->data = spare_buffer_take ();
  else
    in->data = g_realloc (in->data, capacity);
  in->capacity = capacity;
  return capacity - in->end;
}

/* Gives an emptied buffer back: an idle connection keeps none. */
static void
input_release (SwInput *in)
{
  if (in->capacity == SW_READ_CHUNK)
    spare_buffer_give (g_steal_pointer (&in->data));
  else
    g_clear_pointer (&in->data, g_free);
  in->start = in->end = in->capacity = 0;
}

/* Drops consumed bytes, releasing the buffer once it is empty. */
void
sw_input_consume (SwInput *in,
               gsize    count)
{
  in->start += count;
  if (in->start == in->end)
    input_release (in);
}

/* Reads into the buffer. @wanted (≥ 1) is how many more bytes the caller
 * needs; with @exact it never reads more, otherwise as much as fits. */
SwIOStatus
sw_input_fill (SwChannel     *channel,
            gsize          wanted,
            gboolean       exact,
            GCancellable  *cancellable,
            GError       **error)
{
  SwInput *in = &channel->input;
  gsize room, n_read;
  SwIOStatus status;

  room = input_reserve (in, exact ? wanted : MAX (wanted, 4096));
  if (exact)
    room = MIN (room, wanted);
  status = sw_channel_read (channel, in->data + in->end, room, &n_read, cancellable, error);
  in->end += n_read;

  if (in->start == in->end && in->data != NULL)
    input_release (in);
  return status;
}

/* Returns the first @count buffered bytes as a GBytes, handing over the
 * buffer itself when it holds exactly those bytes. */
GBytes *
sw_input_take (SwInput *in,
            gsize    count)
{
  GBytes *bytes;

  if (in->start == 0 && in->end == count && count >= SW_READ_CHUNK)
    {
      bytes = g_bytes_new_take (g_realloc (in->data, count), count);
      in->data = NULL;
      in->capacity = 0;
      in->end = 0;
      return bytes;
    }
  bytes = g_bytes_new (in->data + in->start, count);
  sw_input_consume (in, count);
  return bytes;
}

/* Hands every buffered byte over and keeps no buffer: after a refused
 * frame it may be as large as the message limit allows. */
GBytes *
sw_channel_steal_input (SwChannel *channel)
{
  SwInput *in = &channel->input;

  sw_input_unwind (in);
  /* The fds of the stolen bytes go with none of them, and an error a
   * batch met in them is no longer anyone's to report. */
  sw_fds_drop_all (in);
  g_clear_error (&in->deferred_error);
  if (sw_input_available (in) > 0)
    return sw_input_take (in, sw_input_available (in));
  input_release (in);
  return g_bytes_new (NULL, 0);
}

