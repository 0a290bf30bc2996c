/* SPDX-License-Identifier: LGPL-2.1-or-later */

/**
 * SwConnection:
 *
 * A message connection over a socket, a pipe or any [class@Gio.IOStream].
 *
 * `SwConnection` sends and receives whole messages, framed on byte streams
 * by a [iface@Sw.Framing] (by default none: raw bytes) and kept whole by
 * datagram and seqpacket sockets, with a timeout on every blocking call.
 *
 * Every call may come from any thread. One receive and one send run at a
 * time, served first come first served, and a receive and a send proceed
 * concurrently. Timeouts are relative, in microseconds: -1 waits forever,
 * 0 does only what can be done without waiting, and a positive value bounds
 * the whole call, including the wait for another call to finish. Running
 * out of time is always %G_IO_ERROR_TIMED_OUT.
 *
 * Nothing is lost when a call times out or is cancelled: a half-received
 * message stays buffered for the next receive, and a message whose first
 * byte was sent is committed — the call succeeds and the rest of its frame
 * is written before any later frame, by the next send,
 * [method@Sw.Connection.flush] or [method@Sw.Connection.close]. A write
 * error after part of a frame was written breaks the sending side for
 * good: the peer could not find where the next frame starts, so every
 * later send fails with a copy of that error and nothing more is written.
 *
 * Every file descriptor the connection wraps is switched to non-blocking
 * mode (the file description is shared with other processes holding it),
 * and writing to a gone peer fails with %G_IO_ERROR_BROKEN_PIPE instead of
 * raising `SIGPIPE`.
 *
 * Since: 0.1
 */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n-lib.h>

#include "sw-connection-private.h"
#include "sw-init-private.h"

/* This file owns the object: its fields' set-up, properties, constructors
 * and the blocking message calls. The async call object, the async pairs
 * and the receive loop are in sw-connection-async.c, closing in
 * sw-connection-close.c, values and the codec in sw-connection-value.c,
 * the settings' accessors in sw-connection-settings.c, the signals in
 * sw-connection-signals.c; the struct and its locking notes in
 * sw-connection-private.h.
 *
 * The rules every function of SwConnection keeps (docs/threads.md says
 * the same to users):
 *
 * - Settings never wait for the direction locks. Setters write the
 *   channel's settings under their own mutex; each direction's owner picks
 *   them up at the next frame boundary (sw_channel_sync_input/_output).
 * - A call that would wait for a lock that only this thread can release
 *   fails at once with G_IO_ERROR_PENDING (sw_cross_lock_acquire()).
 * - Signals and notifications are emitted in one documented place, never
 *   in a thread the library made: in the thread of the blocking call that
 *   caused them; in the context of the async call that caused them, just
 *   before its callback; for changes with no such caller, in the
 *   thread-default context at construction.
 * - Dispose keeps the committed-send rule: a committed frame is finished
 *   with a blocking flush (sw-connection-close.c), as GOutputStream does
 *   when closed at finalization.
 */


static void sw_connection_initable_iface_init (GInitableIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (SwConnection, sw_connection, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE,
                                                      sw_connection_initable_iface_init))

enum {
  PROP_0,
  PROP_FRAMING,
  PROP_CODEC,
  PROP_SOCKET,
  PROP_INPUT_STREAM,
  PROP_OUTPUT_STREAM,
  PROP_STREAM,
  PROP_FD,
  PROP_READABLE,
  PROP_WRITABLE,
  PROP_CLOSED,
  PROP_INHERITABLE,
  PROP_CLOSE_WRAPPED,
  PROP_MAX_MESSAGE_SIZE,
  PROP_READ_AHEAD,
  PROP_RECEIVING,
  PROP_PROGRESS_THRESHOLD,
  PROP_MEMFD_THRESHOLD,
  N_PROPS
};


static GParamSpec *properties[N_PROPS];

/* ---- wrapping --------------------------------------------------------- */

/* A GSocketConnection is driven through its socket, any other stream
 * pair through its streams. */
static void
wrap_io_stream (SwConnection *self)
{
  SwTransport *transport = &self->channel.transport;

  if (G_IS_SOCKET_CONNECTION (self->stream))
    {
      self->socket = g_object_ref (g_socket_connection_get_socket (G_SOCKET_CONNECTION (self->stream)));
      sw_transport_init_from_socket (transport, self->socket);
      return;
    }
  self->input_stream = g_object_ref (g_io_stream_get_input_stream (self->stream));
  self->output_stream = g_object_ref (g_io_stream_get_output_stream (self->stream));
  sw_transport_init_from_streams (transport, self->input_stream, self->output_stream);
}

/* ---- locking helpers -------------------------------------------------- */

gboolean
sw_connection_check_open (SwConnection  *self,
            GError       **error)
{
  if (g_atomic_int_get (&self->closing))
    {
      sw_transport_set_closed (error);
      return FALSE;
    }
  return TRUE;
}

gint64
sw_connection_deadline (gint64 timeout_us)
{
  gint64 now;

  if (timeout_us < 0)
    return -1;
  now = g_get_monotonic_time ();
  /* A deadline later than 64 bits can hold (G_MAXINT64 as "for ever")
   * is none; the sum would overflow. */
  if (timeout_us > G_MAXINT64 - now)
    return -1;
  return now + timeout_us;
}

SwCrossLock *
sw_connection_lock_for (SwConnection *self,
          SwOperation  *op)
{
  if (sw_operation_is_receive (op))
    return &self->receive_lock;
  return &self->send_lock;
}

/* Runs @op with the sync driver, holding its direction's lock; then, on
 * success, @after, still holding it. */
gboolean
sw_connection_run_sync_then (SwConnection  *self,
                             SwOperation   *op,
                             gint64         timeout_us,
                             GCancellable  *cancellable,
                             SwAfterFunc    after,
                             GError       **error)
{
  gint64 deadline = sw_connection_deadline (timeout_us);
  SwCrossLock *lock = sw_connection_lock_for (self, op);
  gboolean ok;

  if (!sw_connection_check_open (self, error))
    return FALSE;
  if (!sw_cross_lock_acquire (lock, deadline, cancellable, error))
    return FALSE;
  ok = sw_operation_validate (op, &self->channel, error)
       && sw_operation_run_sync (op, &self->channel, deadline, cancellable,
                                 &self->close_watch, error)
       && (after == NULL || after (self, error));
  sw_cross_lock_release (lock);
  return ok;
}

/* Runs @op, then clears it (its counts stay readable). */
static gboolean
run_sync (SwConnection  *self,
          SwOperation   *op,
          gint64         timeout_us,
          GCancellable  *cancellable,
          GError       **error)
{
  gboolean ok = sw_connection_run_sync_then (self, op, timeout_us, cancellable, NULL, error);

  sw_operation_clear (op);
  return ok;
}

/* Runs a receive @op and returns what it received (transfer full). */
static GBytes *
run_sync_receive (SwConnection  *self,
                  SwOperation   *op,
                  gint64         timeout_us,
                  GCancellable  *cancellable,
                  GError       **error)
{
  GBytes *result = NULL;

  if (sw_connection_run_sync_then (self, op, timeout_us, cancellable, NULL, error))
    result = g_steal_pointer (&op->result);
  sw_operation_clear (op);
  return result;
}

/* Half-closes the output once its frames are out; send lock held. */
gboolean
sw_connection_shutdown_output (SwConnection  *self,
                               GError       **error)
{
  if (!sw_transport_shutdown_write (&self->channel.transport, self->output_stream, error))
    return FALSE;
  g_atomic_int_set (&self->writable, FALSE);
  return TRUE;
}

/* Takes the receive lock for a short access to the input state. Returns
 * FALSE when the connection is closed and @closed_mutex was taken instead
 * (*@locked FALSE), or on error (PENDING: the wait could never end). */
static gboolean
lock_input (SwConnection  *self,
            gboolean      *locked,
            GError       **error)
{
  GError *local_error = NULL;

  *locked = sw_cross_lock_acquire (&self->receive_lock, -1, NULL, &local_error);
  if (*locked)
    return TRUE;
  if (!g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CLOSED))
    {
      g_propagate_error (error, local_error);
      return FALSE;
    }
  g_error_free (local_error);
  return sw_connection_lock_closed_state (self, error);
}

static void
unlock_input (SwConnection *self,
              gboolean      locked)
{
  if (locked)
    sw_cross_lock_release (&self->receive_lock);
  else
    g_mutex_unlock (&self->closed_mutex);
}

/* ---- GObject ---------------------------------------------------------- */

static gboolean
sw_connection_initable_init (GInitable     *initable,
                             GCancellable  *cancellable,
                             GError       **error)
{
  SwConnection *self = SW_CONNECTION (initable);

  if (self->init_error != NULL)
    {
      g_propagate_error (error, g_error_copy (self->init_error));
      return FALSE;
    }
  return TRUE;
}

static void
sw_connection_initable_iface_init (GInitableIface *iface)
{
  iface->init = sw_connection_initable_init;
}

static void
sw_connection_constructed (GObject *object)
{
  SwConnection *self = SW_CONNECTION (object);
  SwTransport *transport = &self->channel.transport;

  G_OBJECT_CLASS (sw_connection_parent_class)->constructed (object);

  if (self->construct_fd >= 0)
    sw_transport_init_from_fd (transport, self->construct_fd, self->close_wrapped,
                               &self->socket, &self->owns_socket,
                               &self->input_stream, &self->output_stream, &self->init_error);
  else if (self->stream != NULL)
    wrap_io_stream (self);
  else if (self->socket != NULL)
    sw_transport_init_from_socket (transport, self->socket);
  else
    sw_transport_init_from_streams (transport, self->input_stream, self->output_stream);

  /* On a UNIX stream socket every read keeps the fds that come with it,
   * so a message's fds are never lost to an earlier receive that read
   * ahead without asking for fds (sw-fds.c). */
  transport = &self->channel.transport;
  self->channel.input.collect_fds = transport->is_unix && !sw_transport_is_datagram (transport);

  if (self->socket != NULL)
    self->fd = g_socket_get_fd (self->socket);
  else
    self->fd = self->channel.transport.in_fd >= 0 ? self->channel.transport.in_fd
                                                  : self->channel.transport.out_fd;
  if (self->channel.transport.out_fd != self->fd)
    self->other_fd = self->channel.transport.out_fd;
  g_atomic_int_set (&self->readable, sw_transport_can_read (&self->channel.transport));
  g_atomic_int_set (&self->writable, sw_transport_can_write (&self->channel.transport));
}

static void
sw_connection_dispose (GObject *object)
{
  SwConnection *self = SW_CONNECTION (object);

  /* The committed-send rule holds here too: like a GOutputStream closed
   * at finalization, a committed frame is finished with a blocking flush,
   * so a send that returned TRUE never reaches the peer torn. */
  if (self->init_error == NULL)
    sw_connection_close_internal (self, NULL, NULL);
  else
    g_atomic_int_set (&self->closing, 1);

  G_OBJECT_CLASS (sw_connection_parent_class)->dispose (object);
}

static void
sw_connection_finalize (GObject *object)
{
  SwConnection *self = SW_CONNECTION (object);

  sw_close_watch_clear (&self->close_watch);
  g_mutex_clear (&self->closed_mutex);
  g_cond_clear (&self->closed_cond);
  g_mutex_clear (&self->codec_mutex);
  g_mutex_clear (&self->loop_mutex);
  g_clear_object (&self->codec);
  sw_channel_clear (&self->channel);
  sw_cross_lock_clear (&self->receive_lock);
  sw_cross_lock_clear (&self->send_lock);
  g_clear_object (&self->socket);
  g_clear_object (&self->stream);
  g_clear_object (&self->input_stream);
  g_clear_object (&self->output_stream);
  g_clear_error (&self->init_error);
  g_clear_error (&self->close_error);
  g_clear_pointer (&self->close_context, g_main_context_unref);
  g_assert (self->close_task == NULL && self->close_waiters == NULL);

  G_OBJECT_CLASS (sw_connection_parent_class)->finalize (object);
}

static void
sw_connection_get_property (GObject    *object,
                            guint       prop_id,
                            GValue     *value,
                            GParamSpec *pspec)
{
  SwConnection *self = SW_CONNECTION (object);

  switch (prop_id)
    {
    case PROP_FRAMING:
      g_value_take_object (value, sw_connection_dup_framing (self));
      break;
    case PROP_CODEC:
      g_value_take_object (value, sw_connection_dup_codec (self));
      break;
    case PROP_SOCKET:
      g_value_set_object (value, self->socket);
      break;
    case PROP_INPUT_STREAM:
      g_value_set_object (value, self->input_stream);
      break;
    case PROP_OUTPUT_STREAM:
      g_value_set_object (value, self->output_stream);
      break;
    case PROP_STREAM:
      g_value_set_object (value, self->stream);
      break;
    case PROP_FD:
      g_value_set_int (value, sw_connection_get_fd (self));
      break;
    case PROP_READABLE:
      g_value_set_boolean (value, sw_connection_get_readable (self));
      break;
    case PROP_WRITABLE:
      g_value_set_boolean (value, sw_connection_get_writable (self));
      break;
    case PROP_CLOSED:
      g_value_set_boolean (value, sw_connection_get_closed (self));
      break;
    case PROP_INHERITABLE:
      g_value_set_boolean (value, sw_connection_get_inheritable (self));
      break;
    case PROP_CLOSE_WRAPPED:
      g_value_set_boolean (value, self->close_wrapped);
      break;
    case PROP_MAX_MESSAGE_SIZE:
      g_value_set_uint64 (value, sw_connection_get_max_message_size (self));
      break;
    case PROP_READ_AHEAD:
      g_value_set_boolean (value, sw_connection_get_read_ahead (self));
      break;
    case PROP_RECEIVING:
      g_value_set_boolean (value, sw_connection_get_receiving (self));
      break;
    case PROP_PROGRESS_THRESHOLD:
      g_value_set_uint64 (value, sw_connection_get_progress_threshold (self));
      break;
    case PROP_MEMFD_THRESHOLD:
      g_value_set_uint64 (value, sw_connection_get_memfd_threshold (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
sw_connection_set_property (GObject      *object,
                            guint         prop_id,
                            const GValue *value,
                            GParamSpec   *pspec)
{
  SwConnection *self = SW_CONNECTION (object);

  switch (prop_id)
    {
    case PROP_FRAMING:
      sw_connection_set_framing (self, g_value_get_object (value));
      break;
    case PROP_CODEC:
      sw_connection_set_codec (self, g_value_get_object (value));
      break;
    case PROP_SOCKET:
      self->socket = g_value_dup_object (value);
      break;
    case PROP_INPUT_STREAM:
      self->input_stream = g_value_dup_object (value);
      break;
    case PROP_OUTPUT_STREAM:
      self->output_stream = g_value_dup_object (value);
      break;
    case PROP_STREAM:
      self->stream = g_value_dup_object (value);
      break;
    case PROP_FD:
      self->construct_fd = g_value_get_int (value);
      break;
    case PROP_INHERITABLE:
      sw_connection_set_inheritable (self, g_value_get_boolean (value));
      break;
    case PROP_CLOSE_WRAPPED:
      self->close_wrapped = g_value_get_boolean (value);
      break;
    case PROP_MAX_MESSAGE_SIZE:
      sw_connection_set_max_message_size (self, g_value_get_uint64 (value));
      break;
    case PROP_READ_AHEAD:
      sw_connection_set_read_ahead (self, g_value_get_boolean (value));
      break;
    case PROP_PROGRESS_THRESHOLD:
      sw_connection_set_progress_threshold (self, g_value_get_uint64 (value));
      break;
    case PROP_MEMFD_THRESHOLD:
      sw_connection_set_memfd_threshold (self, g_value_get_uint64 (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
sw_connection_class_init (SwConnectionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;
  const GParamFlags construct_only = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY
                                     | G_PARAM_STATIC_STRINGS;
  const GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

  sw_init ();

  object_class->constructed = sw_connection_constructed;
  object_class->dispose = sw_connection_dispose;
  object_class->finalize = sw_connection_finalize;
  object_class->get_property = sw_connection_get_property;
  object_class->set_property = sw_connection_set_property;

  /**
   * SwConnection:framing: (getter get_framing) (setter set_framing)
   *
   * Where a message ends on a byte stream, or %NULL for raw bytes only.
   * Datagram and seqpacket sockets keep message boundaries themselves and
   * ignore it.
   *
   * Since: 0.1
   */
  properties[PROP_FRAMING] =
    g_param_spec_object ("framing", NULL, NULL, SW_TYPE_FRAMING,
                         rw | G_PARAM_CONSTRUCT);

  /**
   * SwConnection:codec: (getter get_codec) (setter set_codec)
   *
   * What a message's bytes mean as a value, for
   * [method@Sw.Connection.send_value] and
   * [method@Sw.Connection.receive_value]; %NULL when the connection
   * exchanges bytes only.
   *
   * Since: 0.1
   */
  properties[PROP_CODEC] =
    g_param_spec_object ("codec", NULL, NULL, SW_TYPE_CODEC, rw | G_PARAM_CONSTRUCT);

  /**
   * SwConnection:socket: (getter get_socket)
   *
   * The socket the connection wraps, if any.
   *
   * Since: 0.1
   */
  properties[PROP_SOCKET] =
    g_param_spec_object ("socket", NULL, NULL, G_TYPE_SOCKET, construct_only);

  /**
   * SwConnection:input-stream: (getter get_input_stream)
   *
   * The stream the connection reads from, if it wraps streams.
   *
   * Since: 0.1
   */
  properties[PROP_INPUT_STREAM] =
    g_param_spec_object ("input-stream", NULL, NULL, G_TYPE_INPUT_STREAM, construct_only);

  /**
   * SwConnection:output-stream: (getter get_output_stream)
   *
   * The stream the connection writes to, if it wraps streams.
   *
   * Since: 0.1
   */
  properties[PROP_OUTPUT_STREAM] =
    g_param_spec_object ("output-stream", NULL, NULL, G_TYPE_OUTPUT_STREAM, construct_only);

  /**
   * SwConnection:stream:
   *
   * The [class@Gio.IOStream] the connection wraps, if it was made with
   * [ctor@Sw.Connection.new_for_stream]. A [class@Gio.SocketConnection] is
   * driven through its socket.
   *
   * Since: 0.1
   */
  properties[PROP_STREAM] =
    g_param_spec_object ("stream", NULL, NULL, G_TYPE_IO_STREAM, construct_only);

  /**
   * SwConnection:fd: (getter get_fd)
   *
   * A file descriptor to wrap, given at construction (the connection then
   * owns it), and afterwards the descriptor the connection does its I/O
   * on, or -1 when it wraps none.
   *
   * Since: 0.1
   */
  properties[PROP_FD] =
    g_param_spec_int ("fd", NULL, NULL, -1, G_MAXINT, -1, construct_only);

  /**
   * SwConnection:readable: (getter get_readable)
   *
   * Whether the connection has an end to receive from.
   *
   * Since: 0.1
   */
  properties[PROP_READABLE] =
    g_param_spec_boolean ("readable", NULL, NULL, FALSE, ro);

  /**
   * SwConnection:writable: (getter get_writable)
   *
   * Whether the connection has an end to send to. It becomes %FALSE after
   * [method@Sw.Connection.shutdown_write].
   *
   * Since: 0.1
   */
  properties[PROP_WRITABLE] =
    g_param_spec_boolean ("writable", NULL, NULL, FALSE, ro | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * SwConnection:closed: (getter get_closed)
   *
   * Whether [method@Sw.Connection.close] has completed. Notified from the
   * thread that closed the connection.
   *
   * Since: 0.1
   */
  properties[PROP_CLOSED] =
    g_param_spec_boolean ("closed", NULL, NULL, FALSE, ro | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * SwConnection:inheritable: (getter get_inheritable) (setter set_inheritable)
   *
   * Whether the file descriptors the connection wraps directly survive an
   * `exec()` (the inverse of `FD_CLOEXEC`). Always %FALSE for streams
   * without a file descriptor. Descriptors the library makes are not
   * inheritable until this is set.
   *
   * Since: 0.1
   */
  properties[PROP_INHERITABLE] =
    g_param_spec_boolean ("inheritable", NULL, NULL, FALSE, rw);

  /**
   * SwConnection:close-wrapped:
   *
   * Whether closing (or finalizing) the connection closes what it wraps.
   *
   * Since: 0.1
   */
  properties[PROP_CLOSE_WRAPPED] =
    g_param_spec_boolean ("close-wrapped", NULL, NULL, TRUE,
                          construct_only);

  /**
   * SwConnection:max-message-size: (getter get_max_message_size) (setter set_max_message_size)
   *
   * The largest message a receive accepts, in bytes; 0 or %G_MAXUINT64 for
   * no limit. A larger frame fails with %G_IO_ERROR_MESSAGE_TOO_LARGE as
   * soon as its header is read, before anything is allocated, and is
   * skipped.
   *
   * 0 is the spelling for bindings whose numbers cannot hold %G_MAXUINT64
   * (a JavaScript Number is exact up to 2^53 only): in GJS,
   * `connection.max_message_size = 0` lifts the limit. The property reads
   * back the value that was set, 0 included.
   *
   * Since: 0.1
   */
  properties[PROP_MAX_MESSAGE_SIZE] =
    g_param_spec_uint64 ("max-message-size", NULL, NULL, 0, G_MAXUINT64,
                         SW_DEFAULT_MAX_MESSAGE_SIZE, rw);

  /**
   * SwConnection:read-ahead: (getter get_read_ahead) (setter set_read_ahead)
   *
   * Whether receives read as much as is available and keep the surplus for
   * the next receive (fast), or never read past the end of the frame being
   * assembled, so the file descriptor can be handed to someone else
   * between messages.
   *
   * Since: 0.1
   */
  properties[PROP_READ_AHEAD] =
    g_param_spec_boolean ("read-ahead", NULL, NULL, TRUE, rw);

  /**
   * SwConnection:receiving: (getter get_receiving)
   *
   * Whether the receive loop runs (see
   * [method@Sw.Connection.start_receiving]). Notified by start and stop in
   * the calling thread, and in the loop's context when the loop ends by
   * itself (end of stream, close, an error).
   *
   * Since: 0.2
   */
  properties[PROP_RECEIVING] =
    g_param_spec_boolean ("receiving", NULL, NULL, FALSE, ro);

  /**
   * SwConnection:progress-threshold: (getter get_progress_threshold) (setter set_progress_threshold)
   *
   * The smallest message, in bytes, whose transfer is reported by
   * [signal@Sw.Connection::send-progress] and
   * [signal@Sw.Connection::receive-progress]; 0 (the default) reports
   * nothing. Like the other settings it never waits, and a call in
   * progress applies it from its next frame.
   *
   * Since: 0.2
   */
  properties[PROP_PROGRESS_THRESHOLD] =
    g_param_spec_uint64 ("progress-threshold", NULL, NULL, 0, G_MAXUINT64, 0, rw);

  /**
   * SwConnection:memfd-threshold: (getter get_memfd_threshold) (setter set_memfd_threshold)
   *
   * The smallest message, in bytes, sent as a sealed memfd rather than
   * through the socket, and received as a read-only mapping of it; 0 (the
   * default) sends every message inline and refuses memfd messages. It
   * takes effect on UNIX stream sockets only, and both ends must set it:
   * see [memfd messages](memfd.html). Like the other settings it never
   * waits, and a call in progress applies it from its next frame.
   *
   * Since: 0.2
   */
  properties[PROP_MEMFD_THRESHOLD] =
    g_param_spec_uint64 ("memfd-threshold", NULL, NULL, 0, G_MAXUINT64, 0, rw);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  sw_connection_install_signals (object_class);
}

static void
sw_connection_init (SwConnection *self)
{
  self->construct_fd = -1;
  self->fd = -1;
  self->other_fd = -1;
  self->close_wrapped = TRUE;
  sw_close_watch_init (&self->close_watch);
  g_mutex_init (&self->closed_mutex);
  g_cond_init (&self->closed_cond);
  g_mutex_init (&self->codec_mutex);
  g_mutex_init (&self->loop_mutex);
  sw_cross_lock_init (&self->receive_lock, sw_connection_on_lock_sealed, self);
  sw_cross_lock_init (&self->send_lock, sw_connection_on_lock_sealed, self);
  sw_channel_init (&self->channel);
  sw_channel_set_max_message_size (&self->channel, SW_DEFAULT_MAX_MESSAGE_SIZE);
  self->channel.progress_func = sw_connection_on_channel_progress;
  self->channel.progress_data = self;
}

void
sw_connection_notify_closed (SwConnection *self)
{
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CLOSED]);
}

void
sw_connection_notify_writable (SwConnection *self)
{
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_WRITABLE]);
}

void
sw_connection_notify_codec (SwConnection *self)
{
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CODEC]);
}

void
sw_connection_notify_receiving (SwConnection *self)
{
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RECEIVING]);
}

/**
 * sw_connection_get_receiving:
 * @self: a connection
 *
 * Gets [property@Sw.Connection:receiving].
 *
 * Returns: whether the receive loop runs
 *
 * Since: 0.2
 */
gboolean
sw_connection_get_receiving (SwConnection *self)
{
  g_return_val_if_fail (SW_IS_CONNECTION (self), FALSE);

  return g_atomic_int_get (&self->receiving);
}

SwChannel *
sw_connection_get_channel (SwConnection *self)
{
  return &self->channel;
}

/* ---- construction ----------------------------------------------------- */

/**
 * sw_connection_new:
 * @socket: a connected socket: stream, datagram or seqpacket
 * @framing: (nullable): where messages end on a stream socket, or %NULL
 *
 * Wraps @socket. The connection closes it when closed, unless
 * [property@Sw.Connection:close-wrapped] is %FALSE.
 *
 * Returns: (transfer full): a new connection
 *
 * Since: 0.1
 */
SwConnection *
sw_connection_new (GSocket   *socket,
                   SwFraming *framing)
{
  g_return_val_if_fail (G_IS_SOCKET (socket), NULL);
  g_return_val_if_fail (framing == NULL || SW_IS_FRAMING (framing), NULL);

  return g_object_new (SW_TYPE_CONNECTION, "socket", socket, "framing", framing, NULL);
}

/**
 * sw_connection_new_for_stream:
 * @stream: a stream to exchange messages over
 * @framing: (nullable): where messages end on the stream, or %NULL
 *
 * Wraps @stream: a [class@Gio.SocketConnection] (driven through its
 * socket), a pair of Unix streams, a TLS connection or any other
 * [class@Gio.IOStream]. Streams that cannot poll are driven with blocking
 * calls, which only their cancellable interrupts: on them a timeout is not
 * honoured, [method@Sw.Connection.close] waits for a call in progress, and
 * async calls run in a worker thread once it is their turn.
 *
 * That worker calls the framing, so an async message call on such a
 * stream with a framing written in JavaScript (GJS runs JS code in one
 * thread only) fails at once with %G_IO_ERROR_NOT_SUPPORTED, before any
 * byte moves; the sync calls work. Framings written in C or Python may be
 * called from any thread and are used by the worker. Set the framing before
 * starting such a call: see [JavaScript](javascript.html).
 *
 * Returns: (transfer full): a new connection
 *
 * Since: 0.1
 */
SwConnection *
sw_connection_new_for_stream (GIOStream *stream,
                              SwFraming *framing)
{
  g_return_val_if_fail (G_IS_IO_STREAM (stream), NULL);
  g_return_val_if_fail (framing == NULL || SW_IS_FRAMING (framing), NULL);

  return g_object_new (SW_TYPE_CONNECTION, "stream", stream, "framing", framing, NULL);
}

/**
 * sw_connection_new_for_streams:
 * @input: (nullable): the stream to receive from, or %NULL
 * @output: (nullable): the stream to send to, or %NULL
 * @framing: (nullable): where messages end on the streams, or %NULL
 *
 * Wraps a pair of streams, either of which may be missing: a connection
 * over a pipe's read end only receives. Streams that cannot poll are
 * driven as [ctor@Sw.Connection.new_for_stream] says.
 *
 * Returns: (transfer full): a new connection
 *
 * Since: 0.1
 */
SwConnection *
sw_connection_new_for_streams (GInputStream  *input,
                               GOutputStream *output,
                               SwFraming     *framing)
{
  g_return_val_if_fail (input == NULL || G_IS_INPUT_STREAM (input), NULL);
  g_return_val_if_fail (output == NULL || G_IS_OUTPUT_STREAM (output), NULL);
  g_return_val_if_fail (framing == NULL || SW_IS_FRAMING (framing), NULL);

  return g_object_new (SW_TYPE_CONNECTION,
                       "input-stream", input,
                       "output-stream", output,
                       "framing", framing,
                       NULL);
}

/**
 * sw_connection_new_for_fd:
 * @fd: an open file descriptor: a socket, a pipe end, a FIFO or a terminal
 * @framing: (nullable): where messages end on a byte stream, or %NULL
 * @error: return location for a #GError
 *
 * Wraps @fd: a socket in a [class@Gio.Socket], anything else in Unix
 * streams that read and write as its access mode allows.
 *
 * On success the connection takes ownership of @fd: it puts it in
 * non-blocking mode and closes it on [method@Sw.Connection.close] or when
 * finalized (unless [property@Sw.Connection:close-wrapped] is %FALSE).
 * From then on the caller must neither use nor close @fd: once closed, its
 * number may be reused by an unrelated file. To keep using a descriptor,
 * wrap a duplicate with [ctor@Sw.Connection.new_for_borrowed_fd]. On error
 * @fd is left alone, still the caller's.
 *
 * Returns: (transfer full) (nullable): a new connection, or %NULL when @fd
 *   is not an open file descriptor
 *
 * Since: 0.1
 */
SwConnection *
sw_connection_new_for_fd (int         fd,
                          SwFraming  *framing,
                          GError    **error)
{
  g_return_val_if_fail (framing == NULL || SW_IS_FRAMING (framing), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (fd < 0)
    {
      sw_init ();
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("%d is not an open file descriptor"), fd);
      return NULL;
    }
  return g_initable_new (SW_TYPE_CONNECTION, NULL, error,
                         "fd", fd, "framing", framing, NULL);
}

/* ---- messages and bytes ----------------------------------------------- */

/**
 * sw_connection_send_message:
 * @self: a connection
 * @message: the message
 * @timeout_us: how long the call may take, in microseconds; -1 for ever
 * @cancellable: (nullable): a cancellable, or %NULL
 * @error: return location for a #GError
 *
 * Sends @message as one frame (one datagram on datagram and seqpacket
 * sockets). Frames of concurrent senders never interleave.
 *
 * A send that wrote nothing when its time runs out or it is cancelled
 * fails with %G_IO_ERROR_TIMED_OUT or %G_IO_ERROR_CANCELLED. Once the first
 * byte of its frame is written the message is committed: the call
 * succeeds, and the rest of the frame (@message is kept by reference, not
 * copied) is written before any later frame, by the next send,
 * [method@Sw.Connection.flush] or [method@Sw.Connection.close].
 *
 * If writing fails after part of a frame was written, the frame is torn:
 * this call (or the later one that was finishing the frame) fails with the
 * error, and from then on every send, including
 * [method@Sw.Connection.send_bytes], [method@Sw.Connection.flush] and the
 * async forms, fails with a copy of it (same domain and code) without
 * writing anything. A write error before the frame's first byte leaves the
 * connection usable.
 *
 * Returns: %TRUE if the message was sent or committed
 *
 * Since: 0.1
 */
gboolean
sw_connection_send_message (SwConnection  *self,
                            GBytes        *message,
                            gint64         timeout_us,
                            GCancellable  *cancellable,
                            GError       **error)
{
  SwOperation op;

  g_return_val_if_fail (SW_IS_CONNECTION (self), FALSE);
  g_return_val_if_fail (message != NULL, FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  sw_operation_init (&op, SW_OPERATION_SEND_MESSAGE);
  sw_operation_set_data (&op, message);
  return run_sync (self, &op, timeout_us, cancellable, error);
}

/**
 * sw_connection_receive_message:
 * @self: a connection
 * @timeout_us: how long the call may take, in microseconds; -1 for ever
 * @cancellable: (nullable): a cancellable, or %NULL
 * @error: return location for a #GError
 *
 * Receives one whole message. If the call times out or is cancelled part
 * way through a frame, the bytes already read stay in the connection and
 * the next receive returns the complete message.
 *
 * The peer closing the connection at a message boundary is
 * %G_IO_ERROR_CONNECTION_CLOSED; inside a frame it is
 * %G_IO_ERROR_PARTIAL_INPUT, and the partial bytes are available from
 * [method@Sw.Connection.steal_buffered_input]. A malformed header is
 * %G_IO_ERROR_INVALID_DATA and a frame over
 * [property@Sw.Connection:max-message-size] is
 * %G_IO_ERROR_MESSAGE_TOO_LARGE.
 *
 * Returns: (transfer full): the message, or %NULL on error
 *
 * Since: 0.1
 */
GBytes *
sw_connection_receive_message (SwConnection  *self,
                               gint64         timeout_us,
                               GCancellable  *cancellable,
                               GError       **error)
{
  g_return_val_if_fail (SW_IS_CONNECTION (self), NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return sw_connection_receive_message_limited (self, -1, timeout_us, cancellable, error);
}

GBytes *
sw_connection_receive_message_limited (SwConnection  *self,
                                       gssize         limit,
                                       gint64         timeout_us,
                                       GCancellable  *cancellable,
                                       GError       **error)
{
  SwOperation op;

  sw_operation_init (&op, SW_OPERATION_RECEIVE_MESSAGE);
  op.size = limit;
  return run_sync_receive (self, &op, timeout_us, cancellable, error);
}

/**
 * sw_connection_send_messages:
 * @self: a connection
 * @messages: (array length=n_messages): the messages, in order
 * @n_messages: the number of messages
 * @timeout_us: how long the call may take, in microseconds; -1 for ever
 * @cancellable: (nullable): a cancellable, or %NULL
 * @error: return location for a #GError
 *
 * Sends several messages as consecutive frames, writing as many of them
 * per system call as fit (one datagram each on datagram and seqpacket
 * sockets). No frame of another sender comes between them.
 *
 * The batch is committed as a whole: if it wrote nothing when its time
 * runs out or it is cancelled, it fails with %G_IO_ERROR_TIMED_OUT or
 * %G_IO_ERROR_CANCELLED and none of the messages is sent; once its first
 * byte is written the call succeeds, and the rest of the batch is written
 * before any later frame, as for [method@Sw.Connection.send_message].
 *
 * Returns: %TRUE if the messages were sent or committed
 *
 * Since: 0.1
 */
gboolean
sw_connection_send_messages (SwConnection   *self,
                             GBytes * const *messages,
                             guint           n_messages,
                             gint64          timeout_us,
                             GCancellable   *cancellable,
                             GError        **error)
{
  SwOperation op;

  g_return_val_if_fail (SW_IS_CONNECTION (self), FALSE);
  g_return_val_if_fail (messages != NULL || n_messages == 0, FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  for (guint i = 0; i < n_messages; i++)
    g_return_val_if_fail (messages[i] != NULL, FALSE);

  sw_operation_init (&op, SW_OPERATION_SEND_MESSAGE);
  sw_operation_set_messages (&op, messages, n_messages, FALSE);
  return run_sync (self, &op, timeout_us, cancellable, error);
}

/**
 * sw_connection_send_bytes:
 * @self: a connection
 * @data: the bytes to send, without framing
 * @timeout_us: how long the call may take, in microseconds; -1 for ever
 * @cancellable: (nullable): a cancellable, or %NULL
 * @error: return location for a #GError
 *
 * Sends raw bytes (one datagram on datagram and seqpacket sockets), after
 * any committed frame. It writes all of @data unless time runs out or the
 * call is cancelled after some of it was written.
 *
 * Returns: the count of bytes written (at least 1 when @data is not
 *   empty), or -1 on error, when nothing was written
 *
 * Since: 0.1
 */
gssize
sw_connection_send_bytes (SwConnection  *self,
                          GBytes        *data,
                          gint64         timeout_us,
                          GCancellable  *cancellable,
                          GError       **error)
{
  SwOperation op;

  g_return_val_if_fail (SW_IS_CONNECTION (self), -1);
  g_return_val_if_fail (data != NULL, -1);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), -1);
  g_return_val_if_fail (error == NULL || *error == NULL, -1);

  sw_operation_init (&op, SW_OPERATION_SEND_BYTES);
  sw_operation_set_data (&op, data);
  if (!run_sync (self, &op, timeout_us, cancellable, error))
    return -1;
  return (gssize) op.written;
}

/**
 * sw_connection_receive_bytes:
 * @self: a connection
 * @size: how many bytes to receive, or -1 for a blind receive
 * @timeout_us: how long the call may take, in microseconds; -1 for ever
 * @cancellable: (nullable): a cancellable, or %NULL
 * @error: return location for a #GError
 *
 * Receives raw bytes, ignoring the framing. On a stream it returns exactly
 * @size bytes, or with @size -1 the first chunk available (whatever is
 * buffered, else what one read returns). On a datagram or seqpacket
 * socket it returns one whole datagram: with @size -1 whatever its size;
 * otherwise a datagram larger than @size fails with
 * %G_IO_ERROR_MESSAGE_TOO_LARGE and stays queued — never a silent
 * truncation.
 *
 * The peer closing the connection before any byte is
 * %G_IO_ERROR_CONNECTION_CLOSED (also for a blind receive, which never
 * returns empty bytes at the end of the stream); part way through @size
 * bytes it is %G_IO_ERROR_PARTIAL_INPUT, and the bytes are available from
 * [method@Sw.Connection.steal_buffered_input].
 *
 * Returns: (transfer full): the bytes, or %NULL on error
 *
 * Since: 0.1
 */
GBytes *
sw_connection_receive_bytes (SwConnection  *self,
                             gssize         size,
                             gint64         timeout_us,
                             GCancellable  *cancellable,
                             GError       **error)
{
  SwOperation op;

  g_return_val_if_fail (SW_IS_CONNECTION (self), NULL);
  g_return_val_if_fail (size >= -1, NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  sw_operation_init (&op, SW_OPERATION_RECEIVE_BYTES);
  op.size = size;
  return run_sync_receive (self, &op, timeout_us, cancellable, error);
}

/**
 * sw_connection_flush:
 * @self: a connection
 * @timeout_us: how long the call may take, in microseconds; -1 for ever
 * @cancellable: (nullable): a cancellable, or %NULL
 * @error: return location for a #GError
 *
 * Writes the rest of a committed frame, if a send left one unfinished.
 *
 * Returns: %TRUE when no frame is left unfinished
 *
 * Since: 0.1
 */
gboolean
sw_connection_flush (SwConnection  *self,
                     gint64         timeout_us,
                     GCancellable  *cancellable,
                     GError       **error)
{
  SwOperation op;

  g_return_val_if_fail (SW_IS_CONNECTION (self), FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  sw_operation_init (&op, SW_OPERATION_FLUSH);
  return run_sync (self, &op, timeout_us, cancellable, error);
}

/**
 * sw_connection_shutdown_write:
 * @self: a connection
 * @timeout_us: how long to wait at most, in microseconds; -1 for ever
 * @cancellable: (nullable): a cancellable, or %NULL
 * @error: return location for a #GError
 *
 * Half-closes the connection: finishes a committed frame, then shuts a
 * socket down for writing or closes the output stream, so the peer reads
 * the end of the stream while this side can still receive. Like a send, it
 * waits its turn behind sends in progress; the timeout bounds that wait
 * and the flush. Later sends fail with %G_IO_ERROR_NOT_SUPPORTED and
 * [property@Sw.Connection:writable] becomes %FALSE, notified in the
 * calling thread.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.2
 */
gboolean
sw_connection_shutdown_write (SwConnection  *self,
                              gint64         timeout_us,
                              GCancellable  *cancellable,
                              GError       **error)
{
  SwOperation op;
  gboolean ok;

  g_return_val_if_fail (SW_IS_CONNECTION (self), FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  sw_operation_init (&op, SW_OPERATION_FLUSH);
  ok = sw_connection_run_sync_then (self, &op, timeout_us, cancellable, sw_connection_shutdown_output, error);
  sw_operation_clear (&op);
  if (ok)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_WRITABLE]);
  return ok;
}

/**
 * sw_connection_steal_buffered_input:
 * @self: a connection
 *
 * Takes every byte the connection has read but not returned: read-ahead
 * surplus, and a partly received frame (header included) after a
 * %G_IO_ERROR_PARTIAL_INPUT, a timeout or a cancellation. The next receive
 * starts on a fresh frame with what arrives next. It waits for a receive
 * in progress in another thread; behind an async receive pending in a main
 * context this thread owns, it fails at once with %G_IO_ERROR_PENDING.
 *
 * Returns: (transfer full) (nullable): the buffered bytes, possibly empty,
 *   or %NULL with @error set
 *
 * Since: 0.1
 */
GBytes *
sw_connection_steal_buffered_input (SwConnection  *self,
                                    GError       **error)
{
  GBytes *bytes;
  gboolean locked;

  g_return_val_if_fail (SW_IS_CONNECTION (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!lock_input (self, &locked, error))
    return NULL;
  bytes = sw_channel_steal_input (&self->channel);
  unlock_input (self, locked);
  return bytes;
}

/**
 * sw_connection_get_fd:
 * @self: a connection
 *
 * Gets the file descriptor the connection does its I/O on: its socket's,
 * or its input's (else its output's) for streams over file descriptors.
 *
 * Returns: the file descriptor, or -1 when it wraps none or is closed
 *
 * Since: 0.1
 */
int
sw_connection_get_fd (SwConnection *self)
{
  g_return_val_if_fail (SW_IS_CONNECTION (self), -1);

  if (g_atomic_int_get (&self->closed))
    return -1;
  return self->fd;
}

/* ---- properties ------------------------------------------------------- */

/**
 * sw_connection_get_socket:
 * @self: a connection
 *
 * Gets [property@Sw.Connection:socket].
 *
 * Returns: (transfer none) (nullable): the socket, or %NULL
 *
 * Since: 0.1
 */
GSocket *
sw_connection_get_socket (SwConnection *self)
{
  g_return_val_if_fail (SW_IS_CONNECTION (self), NULL);

  return self->socket;
}

/**
 * sw_connection_get_input_stream:
 * @self: a connection
 *
 * Gets [property@Sw.Connection:input-stream].
 *
 * Returns: (transfer none) (nullable): the input stream, or %NULL
 *
 * Since: 0.1
 */
GInputStream *
sw_connection_get_input_stream (SwConnection *self)
{
  g_return_val_if_fail (SW_IS_CONNECTION (self), NULL);

  return self->input_stream;
}

/**
 * sw_connection_get_output_stream:
 * @self: a connection
 *
 * Gets [property@Sw.Connection:output-stream].
 *
 * Returns: (transfer none) (nullable): the output stream, or %NULL
 *
 * Since: 0.1
 */
GOutputStream *
sw_connection_get_output_stream (SwConnection *self)
{
  g_return_val_if_fail (SW_IS_CONNECTION (self), NULL);

  return self->output_stream;
}

/**
 * sw_connection_get_readable:
 * @self: a connection
 *
 * Gets [property@Sw.Connection:readable].
 *
 * Returns: whether the connection can receive
 *
 * Since: 0.1
 */
gboolean
sw_connection_get_readable (SwConnection *self)
{
  g_return_val_if_fail (SW_IS_CONNECTION (self), FALSE);

  return !g_atomic_int_get (&self->closing) && g_atomic_int_get (&self->readable);
}

/**
 * sw_connection_get_writable:
 * @self: a connection
 *
 * Gets [property@Sw.Connection:writable].
 *
 * Returns: whether the connection can send
 *
 * Since: 0.1
 */
gboolean
sw_connection_get_writable (SwConnection *self)
{
  g_return_val_if_fail (SW_IS_CONNECTION (self), FALSE);

  return !g_atomic_int_get (&self->closing) && g_atomic_int_get (&self->writable);
}

/**
 * sw_connection_get_closed:
 * @self: a connection
 *
 * Gets [property@Sw.Connection:closed].
 *
 * Returns: whether the connection is closed
 *
 * Since: 0.1
 */
gboolean
sw_connection_get_closed (SwConnection *self)
{
  g_return_val_if_fail (SW_IS_CONNECTION (self), FALSE);

  return g_atomic_int_get (&self->closed);
}

/**
 * sw_connection_get_inheritable:
 * @self: a connection
 *
 * Gets [property@Sw.Connection:inheritable].
 *
 * Returns: whether the wrapped file descriptors survive `exec()`
 *
 * Since: 0.1
 */
gboolean
sw_connection_get_inheritable (SwConnection *self)
{
  int flags = -1;

  g_return_val_if_fail (SW_IS_CONNECTION (self), FALSE);

  /* Under @closed_mutex: close() cannot close the fd meanwhile, so the
   * number is never another file's. */
  g_mutex_lock (&self->closed_mutex);
  if (!self->fds_released && self->fd >= 0)
    flags = fcntl (self->fd, F_GETFD);
  g_mutex_unlock (&self->closed_mutex);
  return flags >= 0 && (flags & FD_CLOEXEC) == 0;
}

static void
set_cloexec (int      fd,
             gboolean cloexec)
{
  int flags = fd >= 0 ? fcntl (fd, F_GETFD) : -1;

  if (flags < 0)
    return;
  flags = cloexec ? (flags | FD_CLOEXEC) : (flags & ~FD_CLOEXEC);
  if (fcntl (fd, F_SETFD, flags) < 0)
    g_warning ("Cannot change FD_CLOEXEC on file descriptor %d: %s", fd, g_strerror (errno));
}

/**
 * sw_connection_set_inheritable:
 * @self: a connection
 * @inheritable: whether the wrapped file descriptors survive `exec()`
 *
 * Sets [property@Sw.Connection:inheritable] on every file descriptor the
 * connection wraps directly. Typically set around a fork-and-exec that
 * hands an end to a child, and cleared right after so it leaks nowhere
 * else.
 *
 * Since: 0.1
 */
void
sw_connection_set_inheritable (SwConnection *self,
                               gboolean      inheritable)
{
  gboolean changed;

  g_return_if_fail (SW_IS_CONNECTION (self));

  inheritable = !!inheritable;
  if (sw_connection_get_inheritable (self) == inheritable)
    return;
  /* The fds are those found at construction (shutdown_write() clears
   * out_fd, not the fd), read under @closed_mutex so close() cannot close
   * them meanwhile. */
  g_mutex_lock (&self->closed_mutex);
  changed = !self->fds_released && self->fd >= 0;
  if (changed)
    {
      set_cloexec (self->fd, !inheritable);
      if (self->other_fd >= 0)
        set_cloexec (self->other_fd, !inheritable);
    }
  g_mutex_unlock (&self->closed_mutex);
  if (changed)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_INHERITABLE]);
}

/**
 * sw_connection_get_close_wrapped:
 * @self: a connection
 *
 * Gets [property@Sw.Connection:close-wrapped].
 *
 * Returns: whether closing the connection closes what it wraps
 *
 * Since: 0.1
 */
gboolean
sw_connection_get_close_wrapped (SwConnection *self)
{
  g_return_val_if_fail (SW_IS_CONNECTION (self), FALSE);

  return self->close_wrapped;
}
