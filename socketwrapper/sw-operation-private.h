/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "sw-channel-private.h"
#include "sw-sync-wait-private.h"

G_BEGIN_DECLS

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
  gssize          size;         /* receive bytes: wanted, -1 = blind;
                                 * receive message: a limit below
                                 * max-message-size, -1 = none */
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
  gboolean        skipped;      /* receive: a frame over the limit was
                                 * dropped; the stream goes on */
  /* receive messages: the messages collected (set by the caller: a
   * receive returning a batch), at most @max_messages of them. */
  GPtrArray      *batch;
  guint           max_messages;
  /* fds: a send passes @fds with its frame (or bytes); a receive takes the
   * fds that came with its result into @fds (closed by
   * sw_operation_clear() unless the caller steals them). */
  GUnixFDList    *fds;
  gboolean        with_fds;     /* fds given or asked for: UNIX sockets only */
  gboolean        fds_lost;     /* receive: some fds of the result were
                                 * lost (MSG_CTRUNC) */
  /* Frames an interruption dropped, released by sw_operation_clear():
   * close() may interrupt an operation with a lock's mutex held, where no
   * GBytes free function may run. */
  SwOutput        discarded;
} SwOperation;

typedef enum
{
  SW_STEP_DONE,
  SW_STEP_WOULD_BLOCK,
  SW_STEP_ERROR,
} SwStep;

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
 * nevertheless succeeded, else undoes what it had not committed (frames
 * it drops are kept in @op until sw_operation_clear()). Frees nothing of
 * the caller's, so it may run with a lock's mutex held. */
gboolean sw_operation_interrupted  (SwOperation   *op,
                                    SwChannel     *channel,
                                    GError       **error);

/* A step that cannot go on until @condition: the drivers wait for it. */
static inline SwStep
sw_operation_wait_for (SwOperation  *op,
                       GIOCondition  condition)
{
  op->wait_for = condition;
  return SW_STEP_WOULD_BLOCK;
}

/* The send steps (sw-operation-send.c), for sw_operation_step(). */
/* Fails once a write broke off in the middle of a frame. */
gboolean sw_output_check_broken    (const SwOutput  *out,
                                    GError         **error);
/* Writes the rest of the committed frames in the output queue (an earlier
 * call's, before @op's own are queued), then empties the queue. Bytes
 * written after @op queued its frames commit @op (op->committed). On an
 * error the queue is dropped; a write failing inside a frame breaks the
 * output for good (sw_output_check_broken()). */
SwStep   sw_output_write           (SwOperation   *op,
                                    SwChannel     *channel,
                                    GCancellable  *cancellable,
                                    GError       **error);
SwStep   sw_operation_send_frames_step (SwOperation   *op,
                                        SwChannel     *channel,
                                        GCancellable  *cancellable,
                                        GError       **error);
SwStep   sw_operation_send_bytes_step  (SwOperation   *op,
                                        SwChannel     *channel,
                                        GCancellable  *cancellable,
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
