/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "sw-operation-private.h"

G_BEGIN_DECLS

/* The most fds one sendmsg() may carry on Linux (SCM_MAX_FD). */
#define SW_MAX_FDS 253

/* Fds that one read delivered, queued in SwInput.fd_batches until the
 * bytes they belong to are consumed (the binding rule is in sw-fds.c). */
typedef struct
{
  guint64  at;          /* the stream offset just past that read */
  GArray  *fds;         /* of int, owned; may be empty */
  gboolean truncated;   /* MSG_CTRUNC: some fds were lost */
} SwFdBatch;

/* A receive that took fds: the result of its async task. */
typedef struct
{
  GBytes      *bytes;
  GUnixFDList *fds;     /* never NULL: an empty list when none came */
} SwReceived;

void        sw_received_free     (SwReceived *received);
/* What a receive with @op->with_fds got (its result and fds). */
SwReceived *sw_operation_steal_received (SwOperation *op);
/* Fails with INVALID_ARGUMENT for more fds than one message may carry. */
gboolean    sw_fds_check_count   (GUnixFDList  *fds,
                                  GError      **error);
/* Checks the count as sw_fds_check_count() and duplicates the fds of
 * @fds into *@copy (NULL when @fds is NULL or empty). A send passes its
 * own duplicates: the caller's list may be emptied (steal_fds), grown or
 * freed while the send waits behind others, and the send must still pass
 * exactly the fds the list held when the call was made. Fails with the
 * error of dup() (too many open files), nothing duplicated. */
gboolean    sw_fds_copy_for_send (GUnixFDList  *fds,
                                  GUnixFDList **copy,
                                  GError      **error);

/* A read on an AF_UNIX stream socket, queueing the fds that came with it
 * and advancing the input position. */
SwIOStatus  sw_fds_read_stream   (SwChannel     *channel,
                                  guint8        *buffer,
                                  gsize          size,
                                  gsize         *n_read,
                                  GError       **error);
/* Receives one whole datagram of at most @size bytes (MESSAGE_TOO_LARGE,
 * as sw_transport_recv_datagram()), with its fds into *@fds. */
SwIOStatus  sw_fds_recv_datagram (SwTransport   *transport,
                                  guint8        *buffer,
                                  gsize          size,
                                  gsize         *n_read,
                                  GUnixFDList  **fds,
                                  gboolean      *truncated,
                                  GError       **error);
/* One sendmsg() of @vectors with @fds as SCM_RIGHTS: a stream write (part
 * of it may go out) or a whole datagram. */
SwIOStatus  sw_fds_sendmsg       (SwTransport        *transport,
                                  const struct iovec *vectors,
                                  int                 n_vectors,
                                  GUnixFDList        *fds,
                                  gsize              *n_written,
                                  GError            **error);

/* The fds of the stream bytes that end at offset @end (exclusive) and
 * start at @start: batches delivered by a read that ended at or before
 * @start belong to earlier bytes and are closed; those ending in
 * (@start, @end] are appended to *@fds (created as needed; closed when
 * @fds is NULL), and *@truncated set if one of them lost fds. */
void        sw_fds_claim         (SwInput       *in,
                                  guint64        start,
                                  guint64        end,
                                  GUnixFDList  **fds,
                                  gboolean      *truncated);
/* Closes every queued fd (close, steal, finalize). */
void        sw_fds_drop_all      (SwInput       *in);

/* The stream offset of the first byte not yet consumed. */
static inline guint64
sw_input_offset (const SwInput *in)
{
  return in->position - sw_input_available (in);
}

/* Every stream read of the receive operations. On a UNIX socket with a
 * control buffer, so fds sent with a message are kept for it even when a
 * read-ahead brings them in before that message is asked for; elsewhere
 * a plain read. */
static inline SwIOStatus
sw_channel_read (SwChannel     *channel,
                 guint8        *buffer,
                 gsize          size,
                 gsize         *n_read,
                 GCancellable  *cancellable,
                 GError       **error)
{
  SwIOStatus status;

  if (G_UNLIKELY (channel->input.collect_fds))
    return sw_fds_read_stream (channel, buffer, size, n_read, error);
  status = sw_transport_read (&channel->transport, buffer, size, n_read, cancellable, error);
  channel->input.position += *n_read;
  return status;
}

G_END_DECLS
