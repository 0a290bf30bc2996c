/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "sw-connection.h"
#include "sw-cross-lock-private.h"
#include "sw-async-driver-private.h"

G_BEGIN_DECLS

typedef enum
{
  SW_CLOSE_NONE,
  SW_CLOSE_SYNC,      /* a blocking close() waits for the locks to seal */
  SW_CLOSE_DEFERRED,  /* close() was called by user code under a lock and
                       * returned: the owner finishes it on release */
  SW_CLOSE_ASYNC,     /* close_async() finishes in its task's context */
} SwCloseMode;

/* Lock order: @closed_mutex, then the receive lock, then the send lock
 * (each SwCrossLock's mutex), then GMainContext locks; @codec_mutex and the
 * channel's settings mutex are leaves. The rules of the direction locks are
 * at the top of sw-cross-lock.c. */
struct _SwConnection
{
  GObject        parent_instance;

  /* Read-only after construction. */
  GSocket       *socket;
  GIOStream     *stream;
  GInputStream  *input_stream;
  GOutputStream *output_stream;
  int            construct_fd;
  int            fd;              /* what get_fd() returns until closed */
  int            other_fd;        /* a second wrapped fd (a pipe pair), or -1 */
  gboolean       close_wrapped;
  gboolean       owns_socket;     /* socket made here from a dup'ed fd */
  GError        *init_error;

  /* channel.input and the receive copy of the settings belong to the
   * receive lock's owner, channel.output and the send copy to the send
   * lock's owner; channel.settings to anyone under its own mutex;
   * channel.transport is read-only after construction except what
   * shutdown_write() and close() change, under the send lock or once both
   * locks are sealed. */
  SwCrossLock    receive_lock;
  SwCrossLock    send_lock;
  SwChannel      channel;
  int            readable;           /* atomic */
  int            writable;           /* atomic */

  /* The receive loop (sw-connection-async.c). */
  GMutex         loop_mutex;
  int            receiving;          /* atomic; set under @loop_mutex */
  gpointer       loop;               /* protected by @loop_mutex: its call */
  gpointer       pending_loop;       /* protected by @loop_mutex: a loop
                                      * started while the last one ends */

  GMutex         codec_mutex;
  SwCodec       *codec;              /* protected by @codec_mutex */

  SwCloseWatch   close_watch;       /* fired by close() */
  GMutex         closed_mutex;
  GCond          closed_cond;       /* @closed set, or @n_unsealed reached 0 */
  int            closing;            /* atomic: set once by the closer */
  int            closed;             /* atomic; set under @closed_mutex */
  int            n_unsealed;         /* atomic: direction locks a close
                                      * still waits for */
  SwCloseMode    close_mode;         /* protected by @closed_mutex */
  gboolean       fds_released;       /* protected by @closed_mutex: the
                                      * wrapped fds are being closed */
  GTask         *close_task;         /* protected by @closed_mutex */
  GMainContext  *close_context;      /* protected by @closed_mutex:
                                      * close_async()'s context */
  GError        *close_error;        /* protected by @closed_mutex */
  GSList        *close_waiters;      /* protected by @closed_mutex: tasks of
                                      * close_async() calls after the first */
};

/* The connection's I/O engine, for tests that check how it did its I/O;
 * never for doing I/O behind the connection's locks. */
SwChannel *sw_connection_get_channel (SwConnection *self);

/* Runs once an operation succeeded, its lock still held. */
typedef gboolean (*SwAfterFunc) (SwConnection  *self,
                                 GError       **error);

/* The monotonic time @timeout_us (-1: none) from now, -1 for none. */
gint64       sw_connection_deadline        (gint64         timeout_us);
/* Fails with CLOSED once the connection is closing. */
gboolean     sw_connection_check_open      (SwConnection  *self,
                                            GError       **error);
/* The direction lock @op takes. */
SwCrossLock *sw_connection_lock_for        (SwConnection  *self,
                                            SwOperation   *op);
/* Half-closes the output once its frames are out (an SwAfterFunc). */
gboolean     sw_connection_shutdown_output (SwConnection  *self,
                                            GError       **error);
void         sw_connection_notify_writable (SwConnection  *self);
void         sw_connection_notify_codec    (SwConnection  *self);
void         sw_connection_notify_receiving (SwConnection *self);
/* Signals (sw-connection-signals.c): installed by class_init; the
 * channel's progress hook emits the progress ones. */
void         sw_connection_install_signals (GObjectClass  *object_class);
void         sw_connection_on_channel_progress (gpointer data,
                                                gboolean sending,
                                                guint64  done,
                                                guint64  total);
/* The receive loop's signals, emitted in its context.
 * emit_message also emits ::value, or ::error, with a codec set. */
void         sw_connection_emit_message    (SwConnection  *self,
                                            GBytes        *message);
void         sw_connection_emit_closed     (SwConnection  *self,
                                            gboolean       remote,
                                            const GError  *error);
void         sw_connection_emit_error      (SwConnection  *self,
                                            const GError  *error);

/* Runs @op with the sync driver under its direction's lock, then @after
 * (may be NULL) on success; @op is left for the caller to clear. */
gboolean     sw_connection_run_sync_then   (SwConnection  *self,
                                            SwOperation   *op,
                                            gint64         timeout_us,
                                            GCancellable  *cancellable,
                                            SwAfterFunc    after,
                                            GError       **error);
/* Starts @op (taken over) as an async call; a receive with @op->with_fds
 * returns an SwReceived, one with @op->batch that GPtrArray, other
 * receives a GBytes. */
void         sw_connection_start_async     (SwConnection        *self,
                                            SwOperation         *op,
                                            int                  io_priority,
                                            GCancellable        *cancellable,
                                            GAsyncReadyCallback  callback,
                                            gpointer             user_data,
                                            const char          *name,
                                            gpointer             tag);

/* The _finish of an async call tagged @tag (sw-connection-async.c). */
gboolean     sw_connection_finish_boolean  (SwConnection  *self,
                                            GAsyncResult  *result,
                                            gpointer       tag,
                                            GError       **error);
gpointer     sw_connection_finish_pointer  (SwConnection  *self,
                                            GAsyncResult  *result,
                                            gpointer       tag,
                                            GError       **error);

/* In a worker thread running a threaded async call of @self (a stream
 * that cannot poll): that call's context; NULL elsewhere. */
GMainContext *sw_connection_get_worker_context (SwConnection *self);

/* sw_connection_receive_message() for a protocol step that accepts
 * messages of at most @limit bytes (-1: max-message-size): a frame whose header declares more is
 * refused from the header, with MESSAGE_TOO_LARGE, before its payload is
 * read (and skipped as it arrives, as a frame over max-message-size). The
 * async form is finished by sw_connection_receive_message_finish(). */
GBytes    *sw_connection_receive_message_limited (SwConnection  *self,
                                                  gssize         limit,
                                                  gint64         timeout_us,
                                                  GCancellable  *cancellable,
                                                  GError       **error);
void       sw_connection_receive_message_limited_async (SwConnection        *self,
                                                        gssize               limit,
                                                        int                  io_priority,
                                                        GCancellable        *cancellable,
                                                        GAsyncReadyCallback  callback,
                                                        gpointer             user_data);

/* The codec (transfer full), or NULL with NOT_SUPPORTED when none is set. */
SwCodec   *sw_connection_require_codec  (SwConnection  *self,
                                         GError       **error);

/* Closing (sw-connection-close.c). */
gboolean   sw_connection_close_internal (SwConnection  *self,
                                         GCancellable  *cancellable,
                                         GError       **error);
void       sw_connection_on_lock_sealed (SwCrossLock   *lock,
                                         gpointer       user_data);
/* Access to direction state after a failed acquire (CLOSED): waits until
 * no operation runs any more and takes @closed_mutex; FALSE (PENDING) when
 * the operation it would wait for runs in this thread. */
gboolean   sw_connection_lock_closed_state (SwConnection  *self,
                                            GError       **error);
/* Notifies in the calling thread; callers are where the rules of
 * sw-connection.c say a notification is emitted. */
void       sw_connection_notify_closed  (SwConnection  *self);

G_END_DECLS
