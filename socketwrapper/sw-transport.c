/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <unistd.h>
#include <glib/gi18n-lib.h>
#include <glib-unix.h>
#include <gio/gunixinputstream.h>
#include <gio/gunixoutputstream.h>

#include "sw-error-private.h"
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

/* Maps the result of a system call that moved @result bytes or failed
 * with errno: would-block is not an error here. */
SwIOStatus
sw_transport_syscall_status (ssize_t   result,
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
  sw_error_set_from_errno (error, errno, _("Input/output error"));
  return SW_IO_ERROR;
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
  return sw_transport_syscall_status (result, n_read, error);
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

  return sw_transport_syscall_status (result, n_written, error);
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
  return sw_transport_syscall_status (result, size, error);
}

SwIOStatus
sw_transport_recv_datagram (SwTransport  *transport,
                            guint8       *buffer,
                            gsize         size,
                            gsize        *n_read,
                            GError      **error)
{
  ssize_t result;

  /* MSG_TRUNC: the datagram's real length, so one that grew since the
   * peek (another reader shares the socket) is never cut silently. */
  do
    result = recv (transport->in_fd, buffer, size, MSG_DONTWAIT | MSG_TRUNC);
  while (result < 0 && errno == EINTR);

  if (result > (ssize_t) size)
    {
      sw_transport_set_datagram_too_large (error, (gsize) result, size);
      return SW_IO_ERROR;
    }
  return sw_transport_syscall_status (result, n_read, error);
}

void
sw_transport_set_datagram_too_large (GError **error,
                                     gsize    arrived,
                                     gsize    expected)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
               _("A datagram of %zu bytes arrived where %zu were expected; "
                 "it was dropped"), arrived, expected);
}

void
sw_transport_set_too_large_to_send (GError **error,
                                    gsize    size)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
               _("The message of %zu bytes is too large for a datagram"), size);
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
    return sw_transport_syscall_status (result, &sent, error);

  sw_transport_set_too_large_to_send (error, size);
  return SW_IO_ERROR;
}

/* A wait ran out of time: TIMED_OUT, or CANCELLED if @cancellable fired
 * meanwhile. */
static gboolean
wait_failed (GCancellable  *cancellable,
             GError       **error)
{
  if (!g_cancellable_set_error_if_cancelled (cancellable, error))
    sw_transport_set_timed_out (error);
  return FALSE;
}

/* What ended a wait_stream(): each flag is set by its own source; @woken
 * by the wake fd, which close() and the cancellable write to. */
typedef struct
{
  GMainContext *context;
  gboolean      ready;
  gboolean      woken;
  gboolean      timed_out;
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
on_wait_woken (int          fd,
                GIOCondition condition,
                gpointer     user_data)
{
  ((StreamWait *) user_data)->woken = TRUE;
  return G_SOURCE_REMOVE;
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

GSource *
sw_transport_stream_source_new (SwTransport  *transport,
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
             int            wake_fd,
             GError       **error)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  StreamWait wait = { context, FALSE, FALSE, FALSE };
  GSource *sources[3];
  guint n_sources = 0;

  wait_source_attach (sw_transport_stream_source_new (transport, condition),
                      G_SOURCE_FUNC (on_wait_stream_ready), &wait,
                      sources, &n_sources);
  if (wake_fd >= 0)
    wait_source_attach (g_unix_fd_source_new (wake_fd, G_IO_IN),
                        G_SOURCE_FUNC (on_wait_woken), &wait,
                        sources, &n_sources);
  if (deadline >= 0)
    {
      GSource *timer = g_source_new (&deadline_source_funcs, sizeof (GSource));

      g_source_set_ready_time (timer, deadline);
      wait_source_attach (timer, on_wait_deadline, &wait, sources, &n_sources);
    }

  /* Cancelling @cancellable writes to @wake_fd (sw-sync-wait.c), which
   * wakes this wait like close() does. */
  while (!wait.ready && !wait.woken && !wait.timed_out)
    g_main_context_iteration (context, TRUE);

  /* Destroying a source that already dispatched is harmless. */
  for (guint i = 0; i < n_sources; i++)
    {
      g_source_destroy (sources[i]);
      g_source_unref (sources[i]);
    }

  if (wait.woken)
    return TRUE;  /* woken: the caller checks why */
  if (!wait.ready)
    return wait_failed (cancellable, error);
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
                   int            wake_fd,
                   GError       **error)
{
  struct pollfd fds[2];
  int fd, n_fds = 1, result;

  if (deadline >= 0 && g_get_monotonic_time () >= deadline)
    return wait_failed (cancellable, error);

  fd = (condition & G_IO_IN) ? transport->in_fd : transport->out_fd;
  if (fd < 0)
    return wait_stream (transport, condition, deadline, cancellable, wake_fd, error);

  /* No fd of the cancellable's own (g_cancellable_make_pollfd() aborts
   * the process when none is left): cancelling writes to @wake_fd. */
  fds[0] = (struct pollfd) { .fd = fd, .events = (condition & G_IO_IN) ? POLLIN : POLLOUT };
  if (wake_fd >= 0)
    fds[n_fds++] = (struct pollfd) { .fd = wake_fd, .events = POLLIN };

  do
    result = poll (fds, (nfds_t) n_fds, poll_timeout_ms (deadline));
  while (result < 0 && errno == EINTR);

  if (result < 0)
    {
      sw_error_set_from_errno (error, errno, _("Cannot wait for the connection"));
      return FALSE;
    }
  if (result > 0)
    return TRUE;
  return wait_failed (cancellable, error);
}

/* ---- wrapping --------------------------------------------------------- */

void
sw_transport_init (SwTransport *transport)
{
  memset (transport, 0, sizeof *transport);
  transport->in_fd = transport->out_fd = -1;
  transport->socket_type = SOCK_STREAM;
  transport->restore_fd[0] = transport->restore_fd[1] = -1;
}

/* Remembers @fd's file status flags, to restore at close, when it is
 * about to become non-blocking. */
static void
remember_fd_flags (SwTransport *transport,
                   int          fd,
                   int          flags)
{
  if (flags < 0 || (flags & O_NONBLOCK) != 0)
    return;
  for (guint i = 0; i < G_N_ELEMENTS (transport->restore_fd); i++)
    {
      if (transport->restore_fd[i] == fd)
        return;
      if (transport->restore_fd[i] < 0)
        {
          transport->restore_fd[i] = fd;
          transport->restore_flags[i] = flags;
          return;
        }
    }
}

static gboolean
set_nonblocking (SwTransport  *transport,
                 int           fd,
                 GError      **error)
{
  remember_fd_flags (transport, fd, fcntl (fd, F_GETFL));
  if (!g_unix_set_fd_nonblocking (fd, TRUE, NULL))
    {
      sw_error_set_from_errno (error, errno, _("Cannot make file descriptor %d non-blocking"), fd);
      return FALSE;
    }
  return TRUE;
}

void
sw_transport_restore_fd_flags (SwTransport *transport)
{
  for (guint i = 0; i < G_N_ELEMENTS (transport->restore_fd); i++)
    if (transport->restore_fd[i] >= 0)
      fcntl (transport->restore_fd[i], F_SETFL, transport->restore_flags[i]);
}

void
sw_transport_init_from_socket (SwTransport *transport,
                               GSocket     *socket)
{
  int fd = g_socket_get_fd (socket);

  transport->in_fd = fd;
  transport->out_fd = fd;
  transport->is_socket = TRUE;
  transport->is_unix = g_socket_get_family (socket) == G_SOCKET_FAMILY_UNIX;
  switch (g_socket_get_socket_type (socket))
    {
    case G_SOCKET_TYPE_DATAGRAM:
      transport->socket_type = SOCK_DGRAM;
      break;
    case G_SOCKET_TYPE_SEQPACKET:
      transport->socket_type = SOCK_SEQPACKET;
      break;
    case G_SOCKET_TYPE_STREAM:
    case G_SOCKET_TYPE_INVALID:
    default:
      transport->socket_type = SOCK_STREAM;
      break;
    }
  /* GSocket keeps its fd non-blocking already; be explicit for fds it
   * adopted from elsewhere. */
  set_nonblocking (transport, fd, NULL);
}

void
sw_transport_init_from_streams (SwTransport   *transport,
                                GInputStream  *input,
                                GOutputStream *output)
{
  if (G_IS_UNIX_INPUT_STREAM (input))
    {
      transport->in_fd = g_unix_input_stream_get_fd (G_UNIX_INPUT_STREAM (input));
      set_nonblocking (transport, transport->in_fd, NULL);
    }
  else
    transport->in_stream = input;

  if (G_IS_UNIX_OUTPUT_STREAM (output))
    {
      transport->out_fd = g_unix_output_stream_get_fd (G_UNIX_OUTPUT_STREAM (output));
      set_nonblocking (transport, transport->out_fd, NULL);
    }
  else
    transport->out_stream = output;
}

static gboolean
init_from_socket_fd (SwTransport  *transport,
                     int           fd,
                     int           flags,
                     gboolean      close_fd,
                     GSocket     **socket,
                     gboolean     *owns_socket,
                     GError      **error)
{
  int socket_fd = close_fd ? fd : fcntl (fd, F_DUPFD_CLOEXEC, 0);

  if (socket_fd < 0)
    {
      sw_error_set_from_errno (error, errno, _("Cannot duplicate file descriptor %d"), fd);
      return FALSE;
    }
  /* The GSocket makes it non-blocking; the description is shared. */
  remember_fd_flags (transport, socket_fd, flags);
  *socket = g_socket_new_from_fd (socket_fd, error);
  if (*socket == NULL)
    {
      if (socket_fd != fd)
        close (socket_fd);
      return FALSE;
    }
  *owns_socket = socket_fd != fd;
  sw_transport_init_from_socket (transport, *socket);
  return TRUE;
}

/* GLib 2.74's GUnixInputStream and GUnixOutputStream open an epoll
 * descriptor for a moment to learn whether theirs can poll, and abort the
 * process when they cannot: fail first, with an error, when no
 * descriptor is left. (Another thread may still take the last one in
 * between; this covers the usual case of a process at its limit.) */
static gboolean
can_open_one_more (int      fd,
                   GError **error)
{
  int probe = fcntl (fd, F_DUPFD_CLOEXEC, 0);

  if (probe < 0)
    {
      sw_error_set_from_errno (error, errno, _("Cannot wrap a file descriptor"));
      return FALSE;
    }
  close (probe);
  return TRUE;
}

gboolean
sw_transport_init_from_fd (SwTransport    *transport,
                           int             fd,
                           gboolean        close_fd,
                           GSocket       **socket,
                           gboolean       *owns_socket,
                           GInputStream  **input,
                           GOutputStream **output,
                           GError        **error)
{
  struct stat st;
  int flags;

  if (fd < 0 || fstat (fd, &st) < 0 || (flags = fcntl (fd, F_GETFL)) < 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("%d is not an open file descriptor"), fd);
      return FALSE;
    }
  if (S_ISSOCK (st.st_mode))
    return init_from_socket_fd (transport, fd, flags, close_fd, socket, owns_socket, error);

  /* The check comes first: a constructor that fails leaves the caller's
   * descriptor as it was, blocking. */
  if (!can_open_one_more (fd, error) || !set_nonblocking (transport, fd, error))
    return FALSE;
  if ((flags & O_ACCMODE) != O_WRONLY)
    *input = g_unix_input_stream_new (fd, close_fd);
  if ((flags & O_ACCMODE) != O_RDONLY)
    /* With both ends on one fd, only the input stream closes it. */
    *output = g_unix_output_stream_new (fd, close_fd && *input == NULL);
  sw_transport_init_from_streams (transport, *input, *output);
  return TRUE;
}

gboolean
sw_transport_shutdown_write (SwTransport    *transport,
                             GOutputStream  *output,
                             GError        **error)
{
  if (!sw_transport_can_write (transport))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                           _("The connection cannot send: it has no writable end"));
      return FALSE;
    }
  if (transport->is_socket)
    {
      if (shutdown (transport->out_fd, SHUT_WR) < 0)
        {
          sw_error_set_from_errno (error, errno, _("Cannot shut the connection down"));
          return FALSE;
        }
    }
  else if (output != NULL && !g_output_stream_close (output, NULL, error))
    return FALSE;

  transport->out_fd = -1;
  transport->out_stream = NULL;
  return TRUE;
}
