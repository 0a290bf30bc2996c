/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <glib/gi18n-lib.h>
#include <glib-unix.h>

#include "sw-transport-private.h"

gboolean
sw_transport_is_datagram (const SwTransport *transport)
{
  return transport->is_socket && transport->socket_type != SOCK_STREAM;
}

gboolean
sw_transport_can_read (const SwTransport *transport)
{
  return transport->in_fd >= 0 || transport->in_stream != NULL;
}

gboolean
sw_transport_can_write (const SwTransport *transport)
{
  return transport->out_fd >= 0 || transport->out_stream != NULL;
}

gboolean
sw_transport_can_poll (const SwTransport *transport,
                       GIOCondition       condition)
{
  if (condition & G_IO_IN)
    return transport->in_fd >= 0
           || (G_IS_POLLABLE_INPUT_STREAM (transport->in_stream)
               && g_pollable_input_stream_can_poll (G_POLLABLE_INPUT_STREAM (transport->in_stream)));
  return transport->out_fd >= 0
         || (G_IS_POLLABLE_OUTPUT_STREAM (transport->out_stream)
             && g_pollable_output_stream_can_poll (G_POLLABLE_OUTPUT_STREAM (transport->out_stream)));
}

void
sw_transport_set_timed_out (GError **error)
{
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                       _("The operation timed out"));
}

void
sw_transport_set_closed (GError **error)
{
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CLOSED,
                       _("The connection is closed"));
}

static SwIOStatus
set_errno_error (int      errsv,
                 GError **error)
{
  if (errsv == EPIPE)
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE,
                         _("Broken pipe: the peer closed the connection"));
  else if (errsv == ECONNRESET)
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                         _("The connection was reset by the peer"));
  else
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                 _("Input/output error: %s"), g_strerror (errsv));
  return SW_IO_ERROR;
}

/* Maps the result of a system call that moved @result bytes or failed
 * with errno: would-block is not an error here. */
static SwIOStatus
syscall_status (ssize_t   result,
                gsize    *count,
                GError  **error)
{
  if (result >= 0)
    {
      *count = (gsize) result;
      return SW_IO_DONE;
    }
  if (errno == EAGAIN || errno == EWOULDBLOCK)
    return SW_IO_WOULD_BLOCK;
  return set_errno_error (errno, error);
}

/* Maps a stream error: would-block is not an error here. */
static SwIOStatus
stream_status (gssize   result,
               GError  *local_error,
               GError **error)
{
  if (result >= 0)
    return SW_IO_DONE;
  if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    {
      g_error_free (local_error);
      return SW_IO_WOULD_BLOCK;
    }
  g_propagate_error (error, local_error);
  return SW_IO_ERROR;
}

static SwIOStatus
read_stream (SwTransport   *transport,
             guint8        *buffer,
             gsize          size,
             gsize         *n_read,
             GCancellable  *cancellable,
             GError       **error)
{
  GInputStream *stream = transport->in_stream;
  GError *local_error = NULL;
  gssize result;

  /* Pollable streams get no cancellable: the drivers watch it, and a call
   * that fails as cancelled part-way would tear a frame. */
  if (sw_transport_can_poll (transport, G_IO_IN))
    result = g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (stream),
                                                       buffer, size, NULL,
                                                       &local_error);
  else
    result = g_input_stream_read (stream, buffer, size, cancellable, &local_error);

  *n_read = result > 0 ? (gsize) result : 0;
  if (result == 0)
    return SW_IO_EOF;
  return stream_status (result, local_error, error);
}

SwIOStatus
sw_transport_read (SwTransport   *transport,
                   guint8        *buffer,
                   gsize          size,
                   gsize         *n_read,
                   GCancellable  *cancellable,
                   GError       **error)
{
  ssize_t result;

  *n_read = 0;
  if (transport->in_fd < 0)
    return read_stream (transport, buffer, size, n_read, cancellable, error);

  do
    result = read (transport->in_fd, buffer, size);
  while (result < 0 && errno == EINTR);

  if (result == 0)
    return SW_IO_EOF;
  return syscall_status (result, n_read, error);
}

static SwIOStatus
writev_stream (SwTransport        *transport,
               const struct iovec *vectors,
               int                 n_vectors,
               gsize              *n_written,
               GCancellable       *cancellable,
               GError            **error)
{
  GOutputStream *stream = transport->out_stream;
  GOutputVector *out = g_newa (GOutputVector, n_vectors);
  GError *local_error = NULL;
  gboolean ok;

  for (int i = 0; i < n_vectors; i++)
    {
      out[i].buffer = vectors[i].iov_base;
      out[i].size = vectors[i].iov_len;
    }

  if (sw_transport_can_poll (transport, G_IO_OUT))
    {
      GPollableReturn ret;

      ret = g_pollable_output_stream_writev_nonblocking (G_POLLABLE_OUTPUT_STREAM (stream),
                                                         out, n_vectors, n_written,
                                                         NULL, &local_error);
      if (ret == G_POLLABLE_RETURN_WOULD_BLOCK)
        return SW_IO_WOULD_BLOCK;
      ok = ret == G_POLLABLE_RETURN_OK;
    }
  else
    ok = g_output_stream_writev (stream, out, n_vectors, n_written,
                                 cancellable, &local_error);

  return stream_status (ok ? 0 : -1, local_error, error);
}

SwIOStatus
sw_transport_writev (SwTransport        *transport,
                     const struct iovec *vectors,
                     int                 n_vectors,
                     gsize              *n_written,
                     GCancellable       *cancellable,
                     GError            **error)
{
  ssize_t result;

  *n_written = 0;
  if (transport->out_fd < 0)
    return writev_stream (transport, vectors, n_vectors, n_written, cancellable, error);

  do
    {
      if (transport->is_socket)
        {
          /* MSG_NOSIGNAL: a gone peer is EPIPE, not a signal. */
          struct msghdr msg = { .msg_iov = (struct iovec *) vectors,
                                .msg_iovlen = (size_t) n_vectors };

          result = sendmsg (transport->out_fd, &msg, MSG_NOSIGNAL);
        }
      else
        result = writev (transport->out_fd, vectors, n_vectors);
    }
  while (result < 0 && errno == EINTR);

  return syscall_status (result, n_written, error);
}

SwIOStatus
sw_transport_peek_datagram (SwTransport  *transport,
                            gsize        *size,
                            GError      **error)
{
  ssize_t result;
  guint8 byte;

  /* MSG_TRUNC makes Linux report the datagram's real length whatever the
   * buffer size; g_socket_get_available_bytes() caps it at 64 KiB. */
  do
    result = recv (transport->in_fd, &byte, 1, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
  while (result < 0 && errno == EINTR);

  /* A seqpacket socket reads 0 only at EOF: empty messages are refused. */
  if (result == 0 && transport->socket_type == SOCK_SEQPACKET)
    return SW_IO_EOF;
  return syscall_status (result, size, error);
}

SwIOStatus
sw_transport_recv_datagram (SwTransport  *transport,
                            guint8       *buffer,
                            gsize         size,
                            gsize        *n_read,
                            GError      **error)
{
  ssize_t result;

  do
    result = recv (transport->in_fd, buffer, size, MSG_DONTWAIT);
  while (result < 0 && errno == EINTR);

  return syscall_status (result, n_read, error);
}

SwIOStatus
sw_transport_send_datagram (SwTransport   *transport,
                            const guint8  *data,
                            gsize          size,
                            GError       **error)
{
  ssize_t result;
  gsize sent;

  do
    result = send (transport->out_fd, data, size, MSG_NOSIGNAL | MSG_DONTWAIT);
  while (result < 0 && errno == EINTR);

  if (result >= 0 || errno != EMSGSIZE)
    return syscall_status (result, &sent, error);

  g_set_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
               _("The message of %zu bytes is too large for a datagram"), size);
  return SW_IO_ERROR;
}

static gboolean
wait_failed (GCancellable  *cancellable,
             gboolean       closed,
             GError       **error)
{
  if (closed)
    sw_transport_set_closed (error);
  else if (!g_cancellable_set_error_if_cancelled (cancellable, error))
    sw_transport_set_timed_out (error);
  return FALSE;
}

/* What ended a wait_stream(): each flag is set by its own source, except
 * @cancelled, set by a cancellable handler in any thread. */
typedef struct
{
  GMainContext *context;
  gboolean      ready;
  gboolean      closed;
  gboolean      timed_out;
  gint          cancelled;  /* atomic */
} StreamWait;

/* Each source type calls its callback with its own arguments: a callback
 * of the wrong type would write through the stream or the fd number. */
static gboolean
on_wait_stream_ready (GObject  *stream,
                      gpointer  user_data)
{
  ((StreamWait *) user_data)->ready = TRUE;
  return G_SOURCE_REMOVE;
}

static gboolean
on_wait_closed (int          fd,
                GIOCondition condition,
                gpointer     user_data)
{
  ((StreamWait *) user_data)->closed = TRUE;
  return G_SOURCE_REMOVE;
}

static void
on_wait_cancelled (GCancellable *cancellable,
                   gpointer      user_data)
{
  StreamWait *wait = user_data;

  g_atomic_int_set (&wait->cancelled, TRUE);
  g_main_context_wakeup (wait->context);
}

static gboolean
on_wait_deadline (gpointer user_data)
{
  ((StreamWait *) user_data)->timed_out = TRUE;
  return G_SOURCE_REMOVE;
}

static gboolean
deadline_source_dispatch (GSource     *source,
                          GSourceFunc  callback,
                          gpointer     user_data)
{
  return callback (user_data);
}

/* A source that only dispatches at its ready time. The deadline is not
 * put on the stream's own source: that one belongs to the stream, which
 * may drive it by its ready time too. */
static GSourceFuncs deadline_source_funcs = {
  .dispatch = deadline_source_dispatch,
};

static GSource *
stream_source_new (SwTransport  *transport,
                   GIOCondition  condition)
{
  if (condition & G_IO_IN)
    return g_pollable_input_stream_create_source (
        G_POLLABLE_INPUT_STREAM (transport->in_stream), NULL);
  return g_pollable_output_stream_create_source (
      G_POLLABLE_OUTPUT_STREAM (transport->out_stream), NULL);
}

static void
wait_source_attach (GSource     *source,
                    GSourceFunc  callback,
                    StreamWait  *wait,
                    GSource    **sources,
                    guint       *n_sources)
{
  g_source_set_callback (source, callback, wait, NULL);
  g_source_attach (source, wait->context);
  sources[(*n_sources)++] = source;
}

/* Waits on a pollable stream without an fd of its own (TLS, for one) by
 * iterating a private main context holding its source. */
static gboolean
wait_stream (SwTransport   *transport,
             GIOCondition   condition,
             gint64         deadline,
             GCancellable  *cancellable,
             int            close_fd,
             GError       **error)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  StreamWait wait = { context, FALSE, FALSE, FALSE, FALSE };
  GSource *sources[3];
  guint n_sources = 0;
  gulong cancel_id;

  wait_source_attach (stream_source_new (transport, condition),
                      G_SOURCE_FUNC (on_wait_stream_ready), &wait,
                      sources, &n_sources);
  if (close_fd >= 0)
    wait_source_attach (g_unix_fd_source_new (close_fd, G_IO_IN),
                        G_SOURCE_FUNC (on_wait_closed), &wait,
                        sources, &n_sources);
  if (deadline >= 0)
    {
      GSource *timer = g_source_new (&deadline_source_funcs, sizeof (GSource));

      g_source_set_ready_time (timer, deadline);
      wait_source_attach (timer, on_wait_deadline, &wait, sources, &n_sources);
    }

  /* A handler rather than a cancellable source: GLib 2.74 leaks a
   * GCancellableSource cancelled in one thread while another destroys it.
   * The handler runs at once if @cancellable is cancelled already. */
  cancel_id = cancellable ? g_cancellable_connect (cancellable,
                                                   G_CALLBACK (on_wait_cancelled),
                                                   &wait, NULL)
                          : 0;

  while (!wait.ready && !wait.closed && !wait.timed_out
         && !g_atomic_int_get (&wait.cancelled))
    g_main_context_iteration (context, TRUE);

  /* Returns once a handler running in another thread is done with @wait. */
  g_cancellable_disconnect (cancellable, cancel_id);

  /* Destroying a source that already dispatched is harmless. */
  for (guint i = 0; i < n_sources; i++)
    {
      g_source_destroy (sources[i]);
      g_source_unref (sources[i]);
    }

  if (wait.closed || g_atomic_int_get (&wait.cancelled) || !wait.ready)
    return wait_failed (cancellable, wait.closed, error);
  return TRUE;
}

static int
poll_timeout_ms (gint64 deadline)
{
  gint64 remaining;

  if (deadline < 0)
    return -1;
  remaining = deadline - g_get_monotonic_time ();
  if (remaining <= 0)
    return 0;
  /* Round up so a wait never ends just short of its deadline. */
  return (int) MIN ((remaining + 999) / 1000, G_MAXINT);
}

gboolean
sw_transport_wait (SwTransport   *transport,
                   GIOCondition   condition,
                   gint64         deadline,
                   GCancellable  *cancellable,
                   int            close_fd,
                   GError       **error)
{
  struct pollfd fds[3];
  GPollFD cancel_pollfd;
  gboolean has_cancel_fd = FALSE;
  int fd, n_fds = 1, result, errsv;

  if (deadline >= 0 && g_get_monotonic_time () >= deadline)
    return wait_failed (cancellable, FALSE, error);

  fd = (condition & G_IO_IN) ? transport->in_fd : transport->out_fd;
  if (fd < 0)
    return wait_stream (transport, condition, deadline, cancellable, close_fd, error);

  fds[0] = (struct pollfd) { .fd = fd, .events = (condition & G_IO_IN) ? POLLIN : POLLOUT };
  if (close_fd >= 0)
    fds[n_fds++] = (struct pollfd) { .fd = close_fd, .events = POLLIN };
  if (cancellable != NULL && g_cancellable_make_pollfd (cancellable, &cancel_pollfd))
    {
      has_cancel_fd = TRUE;
      fds[n_fds++] = (struct pollfd) { .fd = cancel_pollfd.fd, .events = POLLIN };
    }

  for (;;)
    {
      result = poll (fds, (nfds_t) n_fds, poll_timeout_ms (deadline));
      if (result >= 0 || errno != EINTR)
        break;
    }

  errsv = errno;
  if (has_cancel_fd)
    g_cancellable_release_fd (cancellable);

  if (result < 0)
    {
      set_errno_error (errsv, error);
      return FALSE;
    }
  if (close_fd >= 0 && fds[1].revents != 0)
    return wait_failed (cancellable, TRUE, error);
  if (g_cancellable_is_cancelled (cancellable))
    return wait_failed (cancellable, FALSE, error);
  if (fds[0].revents != 0)
    return TRUE;
  return wait_failed (cancellable, FALSE, error);
}
