/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* File descriptors passed with messages on AF_UNIX sockets (SCM_RIGHTS).
 *
 * Sending: the frame that carries fds starts its own sendmsg(), with the
 * fds attached, and that sendmsg() carries nothing but that frame
 * (sw-operation-send.c: output_writev()); the rest of a partly written frame
 * goes out with plain writes. Linux's unix_stream_sendmsg() attaches the
 * fds to the first skb of the call, so the skb holding them starts at the
 * frame's first byte and ends inside the frame.
 *
 * Receiving, the rule this file relies on: Linux's
 * unix_stream_read_generic() detaches an skb's fds when a read copies the
 * first bytes of that skb, and then ends the read: it stops after that
 * skb, or inside it when the buffer is full; it never goes on to a later
 * skb. So the fds a stream read delivers belong to the skb that holds the
 * read's last byte, and with the sender above to the message holding that
 * byte, however many earlier messages the same read brought in (with
 * read-ahead) and however few bytes it asked for (without). Each read
 * therefore records its fds with the stream offset just past its last
 * byte (SwFdBatch.at), and a message spanning [start, end) takes the
 * batches with start < at <= end. Earlier batches (bytes that were
 * skipped, stolen or read raw) are closed. A datagram's fds belong to it.
 *
 * When reads collect fds: every read of a UNIX stream socket passes a
 * control buffer (SwInput.collect_fds, set at construction), so no fd is
 * dropped before the message it belongs to is asked for, even when the
 * read-ahead of a plain receive brings it in early. recvmsg() costs a
 * little more than read() (about 130 ns a call here, 7 % of a 16-byte
 * write and read without read-ahead; with read-ahead one read serves
 * many messages); reading with read() until a receive asks for fds would
 * save that, but the kernel closes the fds that reach a read(), so an
 * earlier plain receive could silently lose a later message's fds. Fds of
 * a message that a caller receives without asking for them are closed
 * with the operation (MSG_CMSG_CLOEXEC: never inherited meanwhile). A
 * datagram is read whole, so only a receive asking for fds passes a
 * control buffer there. */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <glib/gi18n-lib.h>

#include "sw-error-private.h"
#include "sw-fds-private.h"

/* Room for the most fds Linux sends at once, and credentials should the
 * socket have SO_PASSCRED on. */
typedef union
{
  struct cmsghdr align;
  char           buffer[CMSG_SPACE (sizeof (int) * SW_MAX_FDS)
                        + CMSG_SPACE (sizeof (struct ucred))];
} SwControl;

void
sw_received_free (SwReceived *received)
{
  g_clear_pointer (&received->bytes, g_bytes_unref);
  g_clear_object (&received->fds);
  g_free (received);
}

SwReceived *
sw_operation_steal_received (SwOperation *op)
{
  SwReceived *received = g_new0 (SwReceived, 1);

  received->bytes = g_steal_pointer (&op->result);
  received->fds = op->fds != NULL ? g_steal_pointer (&op->fds) : g_unix_fd_list_new ();
  return received;
}

gboolean
sw_fds_check_count (GUnixFDList  *fds,
                    GError      **error)
{
  if (fds == NULL || g_unix_fd_list_get_length (fds) <= SW_MAX_FDS)
    return TRUE;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
               _("%d file descriptors cannot go with one message: the most is %d"),
               g_unix_fd_list_get_length (fds), SW_MAX_FDS);
  return FALSE;
}

static void
close_fds (GArray *fds)
{
  for (guint i = 0; i < fds->len; i++)
    close (g_array_index (fds, int, i));
  g_array_set_size (fds, 0);
}

gboolean
sw_fds_copy_for_send (GUnixFDList  *fds,
                      GUnixFDList **copy,
                      GError      **error)
{
  g_autoptr(GUnixFDList) own = NULL;
  const int *originals;
  int n = 0;

  *copy = NULL;
  if (!sw_fds_check_count (fds, error))
    return FALSE;
  if (fds == NULL || g_unix_fd_list_get_length (fds) == 0)
    return TRUE;
  /* append() duplicates; freeing @own closes what it already holds. */
  own = g_unix_fd_list_new ();
  originals = g_unix_fd_list_peek_fds (fds, &n);
  for (int i = 0; i < n; i++)
    if (g_unix_fd_list_append (own, originals[i], error) < 0)
      return FALSE;
  *copy = g_steal_pointer (&own);
  return TRUE;
}

static void
fd_batch_free (SwFdBatch *batch)
{
  close_fds (batch->fds);
  g_array_unref (batch->fds);
  g_free (batch);
}

/* The fds of every SCM_RIGHTS message in @msg, or NULL when none came. */
static GArray *
collect_fds (struct msghdr *msg)
{
  GArray *fds = NULL;

  for (struct cmsghdr *cmsg = CMSG_FIRSTHDR (msg); cmsg != NULL; cmsg = CMSG_NXTHDR (msg, cmsg))
    {
      gsize n;

      if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS)
        continue;
      n = (cmsg->cmsg_len - CMSG_LEN (0)) / sizeof (int);
      if (fds == NULL)
        fds = g_array_sized_new (FALSE, FALSE, sizeof (int), n);
      g_array_append_vals (fds, CMSG_DATA (cmsg), n);
    }
  return fds;
}

/* One recvmsg() into @buffer; *@fds gets the fds (or NULL), *@truncated
 * whether some were lost. */
static ssize_t
recv_with_fds (int       fd,
               guint8   *buffer,
               gsize     size,
               int       flags,
               GArray  **fds,
               gboolean *truncated)
{
  SwControl control;
  struct iovec vector = { buffer, size };
  struct msghdr msg = { .msg_iov = &vector, .msg_iovlen = 1,
                        .msg_control = control.buffer,
                        .msg_controllen = sizeof control.buffer };
  ssize_t result;

  do
    result = recvmsg (fd, &msg, flags | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  while (result < 0 && errno == EINTR);

  *fds = NULL;
  *truncated = FALSE;
  if (result < 0)
    return result;
  *fds = collect_fds (&msg);
  *truncated = (msg.msg_flags & MSG_CTRUNC) != 0;
  return result;
}

SwIOStatus
sw_fds_read_stream (SwChannel  *channel,
                    guint8     *buffer,
                    gsize       size,
                    gsize      *n_read,
                    GError    **error)
{
  SwInput *in = &channel->input;
  GArray *fds;
  gboolean truncated;
  ssize_t result;
  int saved_errno;

  *n_read = 0;
  result = recv_with_fds (channel->transport.in_fd, buffer, size, 0, &fds, &truncated);
  saved_errno = errno;
  if (result > 0)
    {
      in->position += (gsize) result;
      *n_read = (gsize) result;
    }
  if (result > 0 && (fds != NULL || truncated))
    {
      SwFdBatch *batch = g_new0 (SwFdBatch, 1);

      batch->at = in->position;
      batch->fds = fds != NULL ? fds : g_array_new (FALSE, FALSE, sizeof (int));
      batch->truncated = truncated;
      g_queue_push_tail (&in->fd_batches, batch);
    }
  else if (fds != NULL)
    {
      /* Fds with no byte (EOF) belong to no message. */
      close_fds (fds);
      g_array_unref (fds);
    }

  if (result == 0)
    return SW_IO_EOF;
  if (result > 0)
    return SW_IO_DONE;
  if (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK)
    return SW_IO_WOULD_BLOCK;
  sw_error_set_from_errno (error, saved_errno, _("Input/output error"));
  return SW_IO_ERROR;
}

/* Moves the fds of @from to the list *@into (created as needed); sets
 * *@truncated when one could not be kept. */
static void
give_fds (GArray       *from,
          GUnixFDList **into,
          gboolean     *truncated)
{
  if (*into == NULL)
    {
      *into = g_unix_fd_list_new_from_array ((const int *) (gpointer) from->data, (int) from->len);
      g_array_set_size (from, 0);
      return;
    }
  for (guint i = 0; i < from->len; i++)
    {
      int fd = g_array_index (from, int, i);

      /* Appending dups: the list keeps its copy, this one is closed. The
       * dup fails when the process is out of descriptors: that fd is
       * lost, and the receive must say so. */
      if (g_unix_fd_list_append (*into, fd, NULL) < 0)
        *truncated = TRUE;
    }
  close_fds (from);
}

SwIOStatus
sw_fds_recv_datagram (SwTransport   *transport,
                      guint8        *buffer,
                      gsize          size,
                      gsize         *n_read,
                      GUnixFDList  **fds,
                      gboolean      *truncated,
                      GError       **error)
{
  GArray *received;
  ssize_t result;
  SwIOStatus status;

  *n_read = 0;
  /* MSG_TRUNC: the real length, as in sw_transport_recv_datagram(). */
  result = recv_with_fds (transport->in_fd, buffer, size, MSG_TRUNC, &received, truncated);
  /* The status first: handing the fds over may change errno. */
  if (result > (ssize_t) size)
    {
      sw_transport_set_datagram_too_large (error, (gsize) result, size);
      status = SW_IO_ERROR;
    }
  else
    status = sw_transport_syscall_status (result, n_read, error);
  if (received != NULL)
    {
      give_fds (received, fds, truncated);
      g_array_unref (received);
    }
  return status;
}

SwIOStatus
sw_fds_sendmsg (SwTransport        *transport,
                const struct iovec *vectors,
                int                 n_vectors,
                GUnixFDList        *fds,
                gsize              *n_written,
                GError            **error)
{
  SwControl control;
  int n_fds = g_unix_fd_list_get_length (fds);
  struct msghdr msg = { .msg_iov = (struct iovec *) vectors,
                        .msg_iovlen = (size_t) n_vectors,
                        .msg_control = control.buffer,
                        .msg_controllen = CMSG_SPACE (sizeof (int) * (gsize) n_fds) };
  struct cmsghdr *cmsg;
  ssize_t result;

  g_assert (n_fds > 0 && n_fds <= SW_MAX_FDS);
  memset (&control, 0, sizeof control);
  cmsg = CMSG_FIRSTHDR (&msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN (sizeof (int) * (gsize) n_fds);
  memcpy (CMSG_DATA (cmsg), g_unix_fd_list_peek_fds (fds, NULL), sizeof (int) * (gsize) n_fds);

  *n_written = 0;
  do
    result = sendmsg (transport->out_fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
  while (result < 0 && errno == EINTR);

  if (result < 0 && errno == EMSGSIZE && sw_transport_is_datagram (transport))
    {
      gsize size = 0;

      for (int i = 0; i < n_vectors; i++)
        size += vectors[i].iov_len;
      sw_transport_set_too_large_to_send (error, size);
      return SW_IO_ERROR;
    }
  return sw_transport_syscall_status (result, n_written, error);
}

void
sw_fds_claim (SwInput       *in,
              guint64        start,
              guint64        end,
              GUnixFDList  **fds,
              gboolean      *truncated)
{
  g_autoptr(GArray) claimed = NULL;
  SwFdBatch *batch;

  while ((batch = g_queue_peek_head (&in->fd_batches)) != NULL && batch->at <= end)
    {
      g_queue_pop_head (&in->fd_batches);
      if (batch->at > start)
        {
          *truncated = *truncated || batch->truncated;
          /* The fds of several reads are gathered and given as one
           * array: appending to a list would dup them, which can fail. */
          if (fds != NULL)
            {
              if (claimed == NULL)
                claimed = g_array_new (FALSE, FALSE, sizeof (int));
              g_array_append_vals (claimed, batch->fds->data, batch->fds->len);
              g_array_set_size (batch->fds, 0);
            }
        }
      fd_batch_free (batch);
    }
  if (claimed != NULL)
    give_fds (claimed, fds, truncated);
}

void
sw_fds_drop_all (SwInput *in)
{
  g_queue_clear_full (&in->fd_batches, (GDestroyNotify) fd_batch_free);
}
