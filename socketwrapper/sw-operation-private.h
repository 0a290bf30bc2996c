/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "sw-framing-private.h"
#include "sw-cross-lock-private.h"
#include "sw-transport-private.h"
#include "sw-sync-wait-private.h"

G_BEGIN_DECLS

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
  guint64    max_message_size;  /* protected by @mutex */
  gboolean   read_ahead;        /* protected by @mutex */
} SwSettings;

/* The I/O engine of a connection: what it wraps and the state kept across
 * calls, so an operation interrupted by a timeout loses nothing. */
typedef struct
{
  SwTransport               transport;
  SwSettings                settings;

  /* The receive lock owner's copy of the settings. */
  SwFraming                *framing;           /* receive lock */
  const SwFramingFastPath  *fast_path;         /* receive lock */
  guint64                   max_message_size;  /* receive lock */
  gboolean                  read_ahead;        /* receive lock */
  guint                     input_serial;      /* receive lock */

  /* The send lock owner's copy of the framing. */
  SwFraming                *out_framing;       /* send lock */
  const SwFramingFastPath  *out_fast_path;     /* send lock */
  guint                     output_serial;     /* send lock */

  SwInput                   input;      /* receive lock */
  SwOutput                  output;     /* send lock */
} SwChannel;

typedef enum
{
  SW_OPERATION_RECEIVE_MESSAGE,
  SW_OPERATION_RECEIVE_BYTES,
  SW_OPERATION_SEND_MESSAGE,
  SW_OPERATION_SEND_BYTES,
  SW_OPERATION_FLUSH,
} SwOperationKind;

/* One call in progress. step() advances it on non-blocking I/O; a driver
 * (sync: poll; async: a source in the task's context) waits in between. */
typedef struct
{
  SwOperationKind kind;
  gssize          size;         /* receive bytes: wanted, -1 = blind */
  GBytes         *data;         /* send: the message or bytes */
  GBytes * const *messages;     /* send message(s): &data, or a batch */
  guint           n_messages;
  GBytes        **owned;        /* a batch copied for an async call */
  GBytes         *result;       /* receive: what was received */
  gsize           written;      /* send bytes: count written */
  gboolean        started;      /* send message: frames queued in output */
  gboolean        committed;    /* send message: first byte written; a
                                 * batch commits as a whole */
  GIOCondition    wait_for;     /* after SW_STEP_WOULD_BLOCK */
} SwOperation;

typedef enum
{
  SW_STEP_DONE,
  SW_STEP_WOULD_BLOCK,
  SW_STEP_ERROR,
} SwStep;

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
/* The lock owners pick up changed settings (receive lock, send lock). */
void       sw_channel_sync_input           (SwChannel  *channel);
void       sw_channel_sync_output          (SwChannel  *channel);
/* Every buffered input byte, raw, with any frame state reset. */
GBytes  *sw_channel_steal_input    (SwChannel     *channel);

void     sw_operation_init         (SwOperation   *op,
                                    SwOperationKind kind);
void     sw_operation_clear        (SwOperation   *op);
/* The bytes to send: one message or raw bytes. */
void     sw_operation_set_data     (SwOperation   *op,
                                    GBytes        *data);
/* Appends copies of @messages to @op's batch (which becomes owned). */
void     sw_operation_append_messages (SwOperation    *op,
                                       GBytes * const *messages,
                                       guint           n_messages);
/* A batch of messages, borrowed for a sync call or copied (@copy). */
void     sw_operation_set_messages (SwOperation   *op,
                                    GBytes * const *messages,
                                    guint           n_messages,
                                    gboolean        copy);

/* Whether @op reads (and so takes the receive lock). */
gboolean sw_operation_is_receive   (const SwOperation *op);
/* Checks that @op can run on @channel at all (direction, framing, sizes),
 * after picking up changed settings; called by the lock owner as the
 * operation starts. */
gboolean sw_operation_validate     (SwOperation   *op,
                                    SwChannel     *channel,
                                    GError       **error);
/* The same check with the owner's settings as they are: for a queued call
 * the owner considers taking into its batch. */
gboolean sw_operation_check        (const SwOperation *op,
                                    const SwChannel   *channel,
                                    GError           **error);
SwStep   sw_operation_step         (SwOperation   *op,
                                    SwChannel     *channel,
                                    GCancellable  *cancellable,
                                    GError       **error);
/* The op was interrupted (timeout, cancel, close) with @error. Applies the
 * committed-send rule: returns TRUE (and frees @error) when the op has
 * nevertheless succeeded, else undoes what it had not committed. */
gboolean sw_operation_interrupted  (SwOperation   *op,
                                    SwChannel     *channel,
                                    GError       **error);

/* The sync driver: steps @op, polling in between, until done, @deadline,
 * @cancellable or close (@close_watch; NULL when closing must not
 * interrupt). A wait needs the thread's wake fd: without a descriptor to
 * spare it fails with TOO_MANY_OPEN_FILES. */
gboolean sw_operation_run_sync     (SwOperation   *op,
                                    SwChannel     *channel,
                                    gint64         deadline,
                                    GCancellable  *cancellable,
                                    SwCloseWatch  *close_watch,
                                    GError       **error);

G_END_DECLS

G_BEGIN_DECLS

typedef struct _SwAsyncDriver SwAsyncDriver;

/* Called in the driver's context when the operation has finished: @error
 * is NULL on success, else owned by the callee. */
typedef void (*SwAsyncDoneFunc) (SwAsyncDriver *driver,
                                 GError        *error);

/* The async driver: runs the same state machine as the sync driver, but
 * on would-block attaches a readiness source to @context and resumes from
 * it. Never blocks; no thread hops for fds and pollable streams. */
struct _SwAsyncDriver
{
  SwOperation     *op;
  SwChannel       *channel;
  GMainContext    *context;
  int              priority;
  GCancellable    *cancellable;        /* the caller's, may be NULL */
  SwAsyncDoneFunc  done;
  SwCrossLock     *lock;               /* held by @owner while running;
                                        * NULL for a closer's flush */
  SwLockWaiter    *owner;
  GSource         *source;             /* attached while waiting */
  GError          *evicted_error;      /* outcome decided by close() */
};

/* Steps the operation, which holds @driver->lock; on completion calls
 * @driver->done, possibly before returning. */
void sw_async_driver_run   (SwAsyncDriver *driver);
/* close() took the lock from the parked operation: decides its outcome
 * (committed-send rule) while the channel is still its own. Called with
 * the lock's mutex held. */
void sw_async_driver_evict (SwAsyncDriver *driver);

G_END_DECLS
