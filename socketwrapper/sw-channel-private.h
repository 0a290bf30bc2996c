/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "sw-framing-private.h"
#include "sw-transport-private.h"
#include <gio/gunixfdlist.h>

G_BEGIN_DECLS

/* Read-ahead chunk, and the smallest buffer kept between messages. */
#define SW_READ_CHUNK (64 * 1024)
/* Payloads at least this large are read straight into their own buffer. */
#define SW_DIRECT_PAYLOAD (64 * 1024)
/* Header and trailer bytes a frame may add to max-message-size. */
#define SW_FRAMING_SLACK 4096
/* First capacity of a direct payload buffer; past it the buffer doubles as
 * bytes arrive, so a lying length header costs at most this much address
 * space (pages never written take no memory) or twice what was really
 * sent. Messages up to this size are read with no reallocation. */
#define SW_DIRECT_INITIAL (4 * 1024 * 1024)

/* Bytes read but not yet returned, and the frame being assembled. Owned by
 * whoever holds the connection's receive lock. */
typedef struct
{
  guint8  *data;            /* read-ahead buffer: bytes [start, end) */
  gsize    start;
  gsize    end;
  gsize    capacity;

  gboolean in_frame;        /* the current frame's header is decoded */
  guint64  scratch;         /* the framing's per-frame state */
  gsize    header_length;
  guint64  payload_length;
  gsize    trailer_length;

  /* A large payload is read straight into the buffer that becomes the
   * returned GBytes; its header is kept aside in case it must be given back
   * (sw_connection_steal_buffered_input()). */
  guint8  *payload;
  gsize    payload_filled;
  gsize    payload_capacity;
  guint8  *saved_header;

  guint64  skip;            /* bytes of a refused frame still to discard */
  /* Progress of a large frame: the done count that triggers the next
   * report, 0 when the frame reports nothing (sw-progress-private.h). */
  guint64  progress_next;
  /* It reported while its framing scanned for its end: the report at
   * 100 % counts the whole frame, as those did (a delimiter included). */
  gboolean progress_scanned;

  /* Bytes read from the transport so far: the stream offset just past the
   * last byte read (into @data or @payload). */
  guint64  position;
  /* Fds received on a UNIX socket and not yet handed to the message they
   * belong to (SwFdBatch, sw-fds.c), oldest first. */
  GQueue   fd_batches;
  /* Stream reads pass a control buffer and keep the fds that come: set
   * at construction on UNIX stream sockets (sw-fds.c). */
  gboolean collect_fds;
  /* An error a batch receive met after its first message, which it
   * returned without it: the next receive fails with it first (its
   * operation marked skipped when the frame was dropped). */
  GError  *deferred_error;
  gboolean deferred_skipped;
} SwInput;

/* One frame to write: header (inline for built-in framings), payload kept
 * by reference, optional trailer. */
typedef struct
{
  guint8   header[SW_FRAMING_MAX_HEADER];
  gsize    header_length;
  GBytes  *header_bytes;    /* set instead of @header by custom framings */
  GBytes  *payload;
  GBytes  *trailer;
  guint64  progress_next;   /* as in SwInput; 0: the frame reports nothing */
  guint64  progress_total;  /* the payload's size, kept once it is released */
  /* Fds to attach to the frame's first write; dropped once it is done. */
  GUnixFDList *fds;
} SwOutFrame;

/* The committed frames being written, in order. Owned by whoever holds the
 * send lock. A single frame uses @single, so the common case allocates
 * nothing. */
typedef struct
{
  SwOutFrame  single;
  SwOutFrame *frames;       /* &single, or an array for a batch */
  guint       n_frames;
  guint       first;        /* the first frame not completely written */
  gsize       offset;       /* bytes of frames[first] already written */
  gboolean    active;
  /* A write failed after part of a frame was written: the peer can no
   * longer find where frames start, so every later send fails with a copy
   * of this and nothing more is written. */
  GError     *broken;
} SwOutput;

/* The settings a caller may change while calls are in progress. A setter
 * writes them under @mutex and bumps @serial; each direction's lock owner
 * copies them into the channel at a frame boundary
 * (sw_channel_sync_input(), sw_channel_sync_output()), so changing a
 * setting never waits for a call, and a frame is never read or written
 * half with one framing and half with another. @mutex is a leaf: nothing
 * else is taken, and no object is released, while it is held. */
typedef struct
{
  GMutex     mutex;
  guint      serial;            /* atomic; bumped by every change */
  SwFraming *framing;           /* protected by @mutex */
  guint64    max_message_size;  /* protected by @mutex; as set (0: none) */
  gboolean   read_ahead;        /* protected by @mutex */
  guint64    progress_threshold;  /* protected by @mutex; 0 = off */
  guint64    memfd_threshold;   /* protected by @mutex; 0 = off */
} SwSettings;

/* Reports the progress of a frame whose payload reaches the progress
 * threshold: @done payload bytes of @total (0 while a scanning framing
 * cannot know it yet). Called by the direction's lock owner from an
 * operation's step, with no mutex held; it may run user code, which may
 * call close() but gets PENDING for calls in the same direction. */
typedef void (*SwProgressFunc) (gpointer  data,
                                gboolean  sending,
                                guint64   done,
                                guint64   total);

/* The I/O engine of a connection: what it wraps and the state kept across
 * calls, so an operation interrupted by a timeout loses nothing. */
typedef struct
{
  SwTransport               transport;
  SwSettings                settings;

  /* The receive lock owner's copy of the settings. */
  SwFraming                *framing;           /* receive lock */
  const SwFramingFastPath  *fast_path;         /* receive lock */
  guint64                   max_message_size;  /* receive lock; G_MAXUINT64: none */
  gboolean                  read_ahead;        /* receive lock */
  guint                     input_serial;      /* receive lock */
  /* The smallest payload that reports progress: the threshold, or
   * G_MAXUINT64 when it is off, so a frame costs one comparison. */
  guint64                   progress_from;     /* receive lock */
  /* Control frames are unpacked (memfd-threshold on), not refused. */
  gboolean                  memfd_receive;     /* receive lock */

  /* The send lock owner's copy of the framing. */
  SwFraming                *out_framing;       /* send lock */
  const SwFramingFastPath  *out_fast_path;     /* send lock */
  guint                     output_serial;     /* send lock */
  guint64                   out_progress_from; /* send lock */
  /* The smallest message sent as a memfd; G_MAXUINT64 when none is
   * (memfd-threshold off, or not a UNIX stream socket). */
  guint64                   out_memfd_from;    /* send lock */

  /* Read-only after construction; NULL reports nothing. */
  SwProgressFunc            progress_func;
  gpointer                  progress_data;

  SwInput                   input;      /* receive lock */
  SwOutput                  output;     /* send lock */
} SwChannel;

/* ---- the channel (sw-channel.c) ---- */

void     sw_channel_init           (SwChannel     *channel);
void     sw_channel_clear          (SwChannel     *channel);
/* The settings' setters and getters, callable from any thread without
 * the direction locks. Setters return whether the value changed. */
gboolean   sw_channel_set_framing          (SwChannel  *channel,
                                            SwFraming  *framing);
SwFraming *sw_channel_dup_framing          (SwChannel  *channel);
gboolean   sw_channel_set_max_message_size (SwChannel  *channel,
                                            guint64     max_message_size);
guint64    sw_channel_get_max_message_size (SwChannel  *channel);
gboolean   sw_channel_set_read_ahead       (SwChannel  *channel,
                                            gboolean    read_ahead);
gboolean   sw_channel_get_read_ahead       (SwChannel  *channel);
gboolean   sw_channel_set_progress_threshold (SwChannel *channel,
                                              guint64    threshold);
guint64    sw_channel_get_progress_threshold (SwChannel *channel);
gboolean   sw_channel_set_memfd_threshold  (SwChannel  *channel,
                                            guint64     threshold);
guint64    sw_channel_get_memfd_threshold  (SwChannel  *channel);
/* The lock owners pick up changed settings (receive lock, send lock). */
void       sw_channel_sync_input           (SwChannel  *channel);
void       sw_channel_sync_output          (SwChannel  *channel);
/* Every buffered input byte, raw, with any frame state reset. */
GBytes  *sw_channel_steal_input    (SwChannel     *channel);


/* ---- buffers, for the operations (sw-operation.c, sw-operation-send.c) ---- */

/* Frame state back to "no frame started"; buffered bytes stay. */
void           sw_input_reset_frame (SwInput     *in);
/* Puts a partly assembled frame back into the buffer as raw bytes. */
void           sw_input_unwind      (SwInput     *in);
/* Drops @count consumed bytes, releasing the buffer once it is empty. */
void           sw_input_consume     (SwInput     *in,
                                     gsize        count);
/* The first @count buffered bytes, handing the buffer itself over when it
 * holds exactly those. */
GBytes        *sw_input_take        (SwInput     *in,
                                     gsize        count);
/* Reads into the buffer: @wanted (≥ 1) more bytes at least; with @exact
 * never more, otherwise as much as fits. */
SwIOStatus     sw_input_fill        (SwChannel     *channel,
                                     gsize          wanted,
                                     gboolean       exact,
                                     GCancellable  *cancellable,
                                     GError       **error);
void           sw_out_frame_clear   (SwOutFrame  *frame);
/* Drops every queued frame. */
void           sw_output_reset      (SwOutput    *out);
/* Moves every queued frame of @out into the empty @into, releasing
 * nothing. */
void           sw_output_take       (SwOutput    *out,
                                     SwOutput    *into);

static inline gsize
sw_input_available (const SwInput *in)
{
  return in->end - in->start;
}

/* The first buffered byte; an empty string when nothing is buffered, as a
 * framing may recognise a frame (one without header) before any byte. */
static inline const guint8 *
sw_input_peek (const SwInput *in)
{
  return in->data != NULL ? in->data + in->start : (const guint8 *) "";
}

G_END_DECLS
