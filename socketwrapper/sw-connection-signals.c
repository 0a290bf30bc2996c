/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The signals of SwConnection: the receive loop's (::message, ::value,
 * ::closed, ::error) and the progress of large messages (::send-progress,
 * ::receive-progress), their documentation, and where each is emitted
 * (docs/threads.md: never in a thread the library made). */

#include "config.h"

#include "sw-connection-private.h"

enum {
  /* The receive loop's. */
  SIGNAL_MESSAGE,
  SIGNAL_VALUE,
  SIGNAL_CLOSED,
  SIGNAL_ERROR,
  /* Progress of large messages. */
  SIGNAL_SEND_PROGRESS,
  SIGNAL_RECEIVE_PROGRESS,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

void
sw_connection_install_signals (GObjectClass *object_class)
{
  /**
   * SwConnection::message:
   * @self: the connection
   * @message: the message
   *
   * Emitted by the receive loop for each message, in order, in the
   * thread-default main context of the thread that called
   * [method@Sw.Connection.start_receiving].
   *
   * Since: 0.2
   */
  signals[SIGNAL_MESSAGE] =
    g_signal_new ("message", G_TYPE_FROM_CLASS (object_class), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_BYTES);

  /**
   * SwConnection::value:
   * @self: the connection
   * @value: the message, decoded
   *
   * Emitted by the receive loop right after [signal@Sw.Connection::message]
   * when [property@Sw.Connection:codec] is set, with the message decoded
   * once. A message the codec cannot decode is reported through
   * [signal@Sw.Connection::error] instead, and the next one still arrives.
   *
   * Since: 0.2
   */
  signals[SIGNAL_VALUE] =
    g_signal_new ("value", G_TYPE_FROM_CLASS (object_class), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_VARIANT);

  /**
   * SwConnection::closed:
   * @self: the connection
   * @remote: %TRUE when the peer ended the stream
   * @error: (nullable): %G_IO_ERROR_PARTIAL_INPUT when the peer ended it in
   *   the middle of a message, else %NULL
   *
   * Emitted once by the receive loop, in its context, when it stops because
   * the peer ended the stream (@remote %TRUE) or the connection was closed
   * (@remote %FALSE). After a remote end the connection stays open for
   * sending; close it when done.
   *
   * Since: 0.2
   */
  signals[SIGNAL_CLOSED] =
    g_signal_new ("closed", G_TYPE_FROM_CLASS (object_class), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_BOOLEAN, G_TYPE_ERROR);

  /**
   * SwConnection::error:
   * @self: the connection
   * @error: what went wrong
   *
   * Emitted by the receive loop, in its context, for an error: a message
   * over [property@Sw.Connection:max-message-size] that was skipped, a
   * memfd message that was refused (see
   * [property@Sw.Connection:memfd-threshold]) or a message the codec
   * cannot decode (the loop goes on), or an error that
   * stops it, such as a malformed frame.
   *
   * Since: 0.2
   */
  signals[SIGNAL_ERROR] =
    g_signal_new ("error", G_TYPE_FROM_CLASS (object_class), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);

  /**
   * SwConnection::send-progress:
   * @self: the connection
   * @done: how many bytes of the message are written
   * @total: the size of the message
   *
   * Reports the progress of sending a message at least
   * [property@Sw.Connection:progress-threshold] bytes long: about every
   * 1 % while it is written, and always once with @done equal to @total
   * when its last byte is written. Raw bytes
   * ([method@Sw.Connection.send_bytes]) report nothing.
   *
   * It is emitted by the thread making a blocking call, and in the
   * context of an async call (the thread-default main context of its
   * caller), never in a thread the library made: for a stream that
   * cannot poll, whose async calls run in a worker thread, the reports
   * are dispatched in the call's context, before its callback. A frame
   * a call committed and a later call finishes reports in that later
   * call; one finished by [method@Sw.Connection.close] reports nothing
   * more.
   *
   * The connection is busy sending while the signal is emitted: a
   * handler's blocking send on it fails with %G_IO_ERROR_PENDING (an async
   * one queues). A handler may call [method@Sw.Connection.close].
   *
   * Since: 0.2
   */
  signals[SIGNAL_SEND_PROGRESS] =
    g_signal_new ("send-progress", G_TYPE_FROM_CLASS (object_class), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_UINT64, G_TYPE_UINT64);

  /**
   * SwConnection::receive-progress:
   * @self: the connection
   * @done: how many bytes of the message are received
   * @total: the size of the message, or 0 while it is unknown
   *
   * Reports the progress of receiving a message at least
   * [property@Sw.Connection:progress-threshold] bytes long, as
   * [signal@Sw.Connection::send-progress] does for sends, and in the same
   * places: about every 1 % while it is read, and always once with @done
   * equal to @total as it is complete, before the receive returns it.
   *
   * A framing that knows the length from a header
   * ([class@Sw.VarIntFraming], [class@Sw.MultiprocessingFraming]) gives
   * @total from the first report on. A scanning framing
   * ([class@Sw.DelimiterFraming], [class@Sw.MsgPackFraming]) knows it
   * once it has found the message's end: when the delimiter arrives, or
   * when the header of the MessagePack object's last item is read — at
   * once for an object that is a single str, bin or ext, whose @done and
   * @total then count the whole object. Until then @total is 0, @done
   * counts the bytes of the frame received so far, and a report comes
   * each time it has grown by about 1 %, from when the frame is known to
   * reach the threshold. A message that reported so counts its whole
   * frame up to the end: its report at 100 % includes the delimiter.
   *
   * Since: 0.2
   */
  signals[SIGNAL_RECEIVE_PROGRESS] =
    g_signal_new ("receive-progress", G_TYPE_FROM_CLASS (object_class), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_UINT64, G_TYPE_UINT64);
}

/* ---- progress --------------------------------------------------------- */

typedef struct
{
  SwConnection *self;
  guint         signal_id;
  guint64       done;
  guint64       total;
} SwProgressReport;

static gboolean
emit_progress_report (gpointer user_data)
{
  SwProgressReport *report = user_data;

  if (!g_atomic_int_get (&report->self->closing))
    g_signal_emit (report->self, report->signal_id, 0, report->done, report->total);
  return G_SOURCE_REMOVE;
}

static void
progress_report_free (gpointer data)
{
  SwProgressReport *report = data;

  g_object_unref (report->self);
  g_free (report);
}

/* The channel's progress hook, called by the owner of a direction's lock
 * with no mutex held. */
void
sw_connection_on_channel_progress (gpointer data,
                                   gboolean sending,
                                   guint64  done,
                                   guint64  total)
{
  SwConnection *self = data;
  guint signal_id = signals[sending ? SIGNAL_SEND_PROGRESS : SIGNAL_RECEIVE_PROGRESS];
  GMainContext *context;
  SwProgressReport *report;
  GSource *idle;

  /* A close finishes a committed frame silently. */
  if (g_atomic_int_get (&self->closing))
    return;
  context = sw_connection_get_worker_context (self);
  if (context == NULL)
    {
      g_signal_emit (self, signal_id, 0, done, total);
      return;
    }
  /* Never in a library thread: in the call's context, ahead of any other
   * source, so before the call's own callback. */
  report = g_new (SwProgressReport, 1);
  *report = (SwProgressReport) { g_object_ref (self), signal_id, done, total };
  idle = g_idle_source_new ();
  g_source_set_priority (idle, G_MININT);
  g_source_set_static_name (idle, "[socketwrapper] progress");
  g_source_set_callback (idle, emit_progress_report, report, progress_report_free);
  g_source_attach (idle, context);
  g_source_unref (idle);
}

/* ---- the receive loop's ---------------------------------------------- */

void
sw_connection_emit_message (SwConnection *self,
                            GBytes       *message)
{
  g_autoptr(SwCodec) codec = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GError) error = NULL;

  g_signal_emit (self, signals[SIGNAL_MESSAGE], 0, message);
  codec = sw_connection_dup_codec (self);
  if (codec == NULL)
    return;
  value = sw_codec_decode (codec, message, &error);
  if (value != NULL)
    g_signal_emit (self, signals[SIGNAL_VALUE], 0, value);
  else
    g_signal_emit (self, signals[SIGNAL_ERROR], 0, error);
}

void
sw_connection_emit_closed (SwConnection *self,
                           gboolean      remote,
                           const GError *error)
{
  g_signal_emit (self, signals[SIGNAL_CLOSED], 0, remote, error);
}

void
sw_connection_emit_error (SwConnection *self,
                          const GError *error)
{
  g_signal_emit (self, signals[SIGNAL_ERROR], 0, error);
}
