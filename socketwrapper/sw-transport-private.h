/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <sys/uio.h>
#include <gio/gio.h>

G_BEGIN_DECLS

/* Uniform non-blocking I/O over what a connection wraps. Fds (sockets,
 * pipes, GUnix streams) are driven with system calls directly; streams
 * without an fd through GPollable*Stream, or, when they cannot poll,
 * through blocking stream calls. */
typedef struct
{
  int            in_fd;          /* -1 when reads do not go through an fd */
  int            out_fd;         /* -1 likewise for writes */
  gboolean       is_socket;      /* in_fd == out_fd is a socket */
  int            socket_type;    /* SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET */
  gboolean       is_unix;        /* an AF_UNIX socket: fds may travel */
  GInputStream  *in_stream;      /* fd-less input, or NULL */
  GOutputStream *out_stream;     /* fd-less output, or NULL */
  /* Fds switched to non-blocking that the connection did not create, with
   * the file status flags to give back at close (the file description may
   * be a shell's terminal); -1 when unused. */
  int            restore_fd[2];
  int            restore_flags[2];
} SwTransport;

typedef enum
{
  SW_IO_DONE,
  SW_IO_WOULD_BLOCK,
  SW_IO_EOF,
  SW_IO_ERROR,
} SwIOStatus;

/* Wrapping what a connection was made for (read-only afterwards, except
 * for what close and shutdown clear). */
void       sw_transport_init          (SwTransport        *transport);
void       sw_transport_init_from_socket  (SwTransport    *transport,
                                           GSocket        *socket);
/* Streams are driven through their fd when they have one (fast system
 * calls), otherwise through the stream API; either may be NULL. */
void       sw_transport_init_from_streams (SwTransport    *transport,
                                           GInputStream   *input,
                                           GOutputStream  *output);
/* A socket fd becomes a GSocket (*@socket; a close-on-exec duplicate when
 * !@close_fd, *@owns_socket then TRUE, since a GSocket closes its fd), any
 * other fd GUnix streams (*@input, *@output, by its access mode). */
gboolean   sw_transport_init_from_fd      (SwTransport    *transport,
                                           int             fd,
                                           gboolean        close_fd,
                                           GSocket       **socket,
                                           gboolean       *owns_socket,
                                           GInputStream  **input,
                                           GOutputStream **output,
                                           GError        **error);
void       sw_transport_restore_fd_flags  (SwTransport    *transport);
/* Half-closes the output: shuts a socket down for writing, or closes
 * @output; later writes fail as on a transport without a write end. */
gboolean   sw_transport_shutdown_write    (SwTransport    *transport,
                                           GOutputStream  *output,
                                           GError        **error);

/* Whether the transport keeps message boundaries (datagram, seqpacket). */
gboolean   sw_transport_is_datagram   (const SwTransport  *transport);
gboolean   sw_transport_can_read      (const SwTransport  *transport);
gboolean   sw_transport_can_write     (const SwTransport  *transport);
/* Whether waiting for @condition can use a source rather than a blocking
 * call (fds, and streams that can poll). */
gboolean   sw_transport_can_poll      (const SwTransport  *transport,
                                       GIOCondition        condition);

SwIOStatus sw_transport_read          (SwTransport        *transport,
                                       guint8             *buffer,
                                       gsize               size,
                                       gsize              *n_read,
                                       GCancellable       *cancellable,
                                       GError            **error);
SwIOStatus sw_transport_writev        (SwTransport        *transport,
                                       const struct iovec *vectors,
                                       int                 n_vectors,
                                       gsize              *n_written,
                                       GCancellable       *cancellable,
                                       GError            **error);

/* Datagram sockets: the size of the next datagram without consuming it
 * (EOF on a seqpacket socket is SW_IO_EOF), receiving it whole, dropping
 * it, and sending one. */
SwIOStatus sw_transport_peek_datagram (SwTransport        *transport,
                                       gsize              *size,
                                       GError            **error);
SwIOStatus sw_transport_recv_datagram (SwTransport        *transport,
                                       guint8             *buffer,
                                       gsize               size,
                                       gsize              *n_read,
                                       GError            **error);
SwIOStatus sw_transport_send_datagram (SwTransport        *transport,
                                       const guint8       *data,
                                       gsize               size,
                                       GError            **error);

/* A pollable-stream source for the fd-less side of @condition (a
 * GPollableSourceFunc callback). */
GSource   *sw_transport_stream_source_new (SwTransport    *transport,
                                           GIOCondition    condition);

/* Blocks until the transport is ready for @condition (G_IO_IN or G_IO_OUT)
 * or @wake_fd becomes readable (both TRUE: the caller tells them apart and
 * drains @wake_fd), or @deadline passes (TIMED_OUT, or CANCELLED if
 * @cancellable fired meanwhile). @cancellable wakes the wait only through
 * @wake_fd (or, for streams without an fd, through a source); @wake_fd is
 * -1 when nothing may interrupt the wait. */
gboolean   sw_transport_wait          (SwTransport        *transport,
                                       GIOCondition        condition,
                                       gint64              deadline,
                                       GCancellable       *cancellable,
                                       int                 wake_fd,
                                       GError            **error);

/* The errors of every call that runs out of time (waiting for the lock or
 * for I/O) or finds the connection closed: one message each. */
void       sw_transport_set_timed_out (GError            **error);
/* The errors and status mappings the fd-passing calls (sw-fds.c) share
 * with the plain ones. */
SwIOStatus sw_transport_syscall_status (ssize_t            result,
                                        gsize             *count,
                                        GError           **error);
void       sw_transport_set_datagram_too_large (GError   **error,
                                                gsize      arrived,
                                                gsize      expected);
void       sw_transport_set_too_large_to_send  (GError   **error,
                                                gsize      size);
void       sw_transport_set_closed    (GError            **error);

G_END_DECLS
