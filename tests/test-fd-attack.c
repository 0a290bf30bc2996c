/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* File descriptors passed with messages, under attack: a foreign sender
 * that attaches fds to odd places in the byte stream, receives that time
 * out or are cancelled in the middle of a message with fds, refused
 * frames and datagrams carrying fds, many concurrent senders, and the
 * receive loop. Every case checks which message each fd came with (by
 * inode) and that no descriptor is left open. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <gio/gunixfdlist.h>

#include "sw-test-util.h"

/* ---- helpers ---------------------------------------------------------- */

static ino_t
fd_inode (int fd)
{
  struct stat st;

  g_assert_cmpint (fstat (fd, &st), ==, 0);
  return st.st_ino;
}

/* One blocking sendmsg() of @size bytes on the raw @fd, with @pass
 * attached when it is >= 0: what any foreign sender may do. */
static void
raw_sendmsg (int         fd,
             const void *data,
             gsize       size,
             int         pass)
{
  union
  {
    struct cmsghdr align;
    char           buffer[CMSG_SPACE (sizeof (int))];
  } control;
  struct iovec vector = { (void *) data, size };
  struct msghdr msg = { .msg_iov = &vector, .msg_iovlen = 1 };

  if (pass >= 0)
    {
      struct cmsghdr *cmsg;

      memset (&control, 0, sizeof control);
      msg.msg_control = control.buffer;
      msg.msg_controllen = sizeof control.buffer;
      cmsg = CMSG_FIRSTHDR (&msg);
      cmsg->cmsg_level = SOL_SOCKET;
      cmsg->cmsg_type = SCM_RIGHTS;
      cmsg->cmsg_len = CMSG_LEN (sizeof (int));
      memcpy (CMSG_DATA (cmsg), &pass, sizeof (int));
    }
  g_assert_cmpint (sendmsg (fd, &msg, MSG_NOSIGNAL), ==, (gssize) size);
}

/* A connection on one end of a UNIX stream socketpair; *@raw is the
 * other end, for a foreign sender. */
static SwConnection *
foreign_pair (SwFraming *framing,
              gboolean   read_ahead,
              int       *raw)
{
  int sv[2];
  SwConnection *connection;

  sw_test_raw_socketpair (SOCK_STREAM, sv);
  connection = sw_test_connection_for_socket_fd (sv[0], framing);
  sw_connection_set_read_ahead (connection, read_ahead);
  *raw = sv[1];
  return connection;
}

/* Receives @text with its fds, each of inode @inode; returns how many. */
static int
receive_counting (SwConnection *connection,
                  const char   *text,
                  ino_t         inode)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GUnixFDList) fds = NULL;
  g_autoptr(GBytes) message = NULL;
  int n_fds;

  message = sw_connection_receive_message_with_fds (connection, &fds, -1, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (message);
  g_assert_cmpmem (g_bytes_get_data (message, NULL), g_bytes_get_size (message),
                   text, strlen (text));
  n_fds = g_unix_fd_list_get_length (fds);
  for (int i = 0; i < n_fds; i++)
    {
      int fd = g_unix_fd_list_get (fds, i, &error);

      g_assert_no_error (error);
      g_assert_cmpuint (fd_inode (fd), ==, inode);
      g_assert_true (sw_test_fd_is_cloexec (fd));
      close (fd);
    }
  return n_fds;
}

/* Receives @text with exactly @n_fds fds, each of inode @inode. */
static void
expect_message (SwConnection *connection,
                const char   *text,
                int           n_fds,
                ino_t         inode)
{
  g_assert_cmpint (receive_counting (connection, text, inode), ==, n_fds);
}

/* A pipe whose write end is passed; returns its inode. */
static ino_t
make_pipe (int p[2])
{
  g_assert_cmpint (pipe2 (p, O_CLOEXEC), ==, 0);
  return fd_inode (p[1]);
}

static void
close_pipe (int p[2])
{
  close (p[0]);
  close (p[1]);
}

/* ---- a foreign sender's odd writes ------------------------------------ */

/* What a foreign sender does: each write is one sendmsg(), the write
 * end of a pipe attached when with_fd; each message expected comes with
 * n_fds of them, or, for -1, the -1 messages together with one. */
typedef struct
{
  const char *data;
  gsize       size;
  gboolean    with_fd;
} Write;

typedef struct
{
  const char *text;
  int         n_fds;
} Expected;

typedef struct
{
  const char *name;
  gboolean    multiprocessing;   /* the framing: else varint */
  Write       writes[6];         /* up to one with data NULL */
  Expected    expected[4];       /* up to one with text NULL */
} Script;

static const Script scripts[] = {
  /* The fds ride on the frame's last byte alone, then the next frame
   * comes in the same stream: they belong to the first. */
  { "last-byte", FALSE,
    { { "\005hell", 5, FALSE }, { "o", 1, TRUE }, { "\004next", 5, FALSE } },
    { { "hello", 1 }, { "next", 0 } } },
  /* The fds ride on one byte in the middle of a 4-byte header. */
  { "mid-header", TRUE,
    { { "\0\0\0\002ab", 6, FALSE }, { "\0", 1, FALSE }, { "\0", 1, TRUE },
      { "\0\005hello", 7, FALSE }, { "\0\0\0\002cd", 6, FALSE } },
    { { "ab", 0 }, { "hello", 1 }, { "cd", 0 } } },
  /* A sender that writes two whole frames in the sendmsg() carrying the
   * fds breaks the sender's rule: the fds go with one of the two
   * messages (which one depends on the reads: here the first with exact
   * reads, the second with read-ahead), never with both, never lost. */
  { "two-frames-one-write", FALSE,
    { { "\005first\006second", 13, TRUE }, { "\005third", 6, FALSE } },
    { { "first", -1 }, { "second", -1 }, { "third", 0 } } },
};

static void
run_script (gconstpointer data)
{
  const Script *script = data;
  g_autoptr(SwFraming) framing = NULL;
  g_autoptr(SwConnection) connection = NULL;
  int raw, p[2], either = 0;
  ino_t inode = make_pipe (p);
  guint baseline;

  for (int read_ahead = 0; read_ahead < 2; read_ahead++)
    {
      framing = script->multiprocessing ? SW_FRAMING (sw_multiprocessing_framing_new ())
                                        : SW_FRAMING (sw_varint_framing_new ());
      connection = foreign_pair (framing, read_ahead, &raw);
      baseline = sw_test_count_open_fds ();
      for (const Write *w = script->writes; w->data != NULL; w++)
        raw_sendmsg (raw, w->data, w->size, w->with_fd ? p[1] : -1);
      for (const Expected *e = script->expected; e->text != NULL; e++)
        if (e->n_fds >= 0)
          expect_message (connection, e->text, e->n_fds, inode);
        else
          either += 1 + receive_counting (connection, e->text, inode);
      /* Two messages marked -1 carry one fd between them: 3; none: 0. */
      g_assert_true (either == 0 || either == 3);
      either = 0;
      g_assert_cmpuint (sw_test_count_open_fds (), ==, baseline);
      close (raw);
      g_clear_object (&connection);
      g_clear_object (&framing);
    }
  close_pipe (p);
}

/* A foreign sender passes fds with the first and with the last byte of
 * one message: two reads deliver them, and the message gets both, even
 * when the process has room for just those two (no descriptor is
 * duplicated on the way, which could fail and lose one). */
static void
test_two_batches_no_room (void)
{
  g_autoptr(SwFraming) framing = SW_FRAMING (sw_varint_framing_new ());
  g_autoptr(SwConnection) connection = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GUnixFDList) fds = NULL;
  g_autoptr(GBytes) message = NULL;
  struct rlimit saved;
  int raw, p[2];
  ino_t inode;

  if (sw_test_under_valgrind ())
    {
      g_test_skip ("valgrind does not lower the kernel's descriptor limit");
      return;
    }
  inode = make_pipe (p);
  connection = foreign_pair (framing, TRUE, &raw);
  /* What a receive allocates exists before the limit drops. */
  raw_sendmsg (raw, "\000", 1, -1);
  expect_message (connection, "", 0, 0);
  raw_sendmsg (raw, "\005hell", 5, p[1]);
  raw_sendmsg (raw, "o", 1, p[1]);
  raw_sendmsg (raw, "\004next", 5, -1);
  sw_test_leave_free_fds (2, &saved);
  message = sw_connection_receive_message_with_fds (connection, &fds, -1, NULL, &error);
  g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &saved), ==, 0);
  g_assert_no_error (error);
  g_assert_cmpint (g_unix_fd_list_get_length (fds), ==, 2);
  for (int i = 0; i < 2; i++)
    g_assert_cmpuint (fd_inode (g_unix_fd_list_peek_fds (fds, NULL)[i]), ==, inode);
  expect_message (connection, "next", 0, 0);
  close (raw);
  close_pipe (p);
}

/* ---- receives interrupted in a message with fds ----------------------- */

/* A receive runs out of time after the fds and half the frame arrived;
 * the next receive gets the whole message with them. */
static void
check_timeout_mid_frame (gboolean read_ahead)
{
  g_autoptr(SwFraming) framing = SW_FRAMING (sw_varint_framing_new ());
  g_autoptr(SwConnection) connection = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GUnixFDList) fds = NULL;
  int raw, p[2];
  ino_t inode = make_pipe (p);
  guint baseline;

  connection = foreign_pair (framing, read_ahead, &raw);
  baseline = sw_test_count_open_fds ();
  raw_sendmsg (raw, "\005he", 3, p[1]);
  g_assert_null (sw_connection_receive_message_with_fds (connection, &fds, 0, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_null (fds);
  g_clear_error (&error);
  /* The fd is held for the message, nowhere else. */
  g_assert_cmpuint (sw_test_count_open_fds (), ==, baseline + 1);
  raw_sendmsg (raw, "llo", 3, -1);
  raw_sendmsg (raw, "\004next", 5, -1);
  expect_message (connection, "hello", 1, inode);
  expect_message (connection, "next", 0, 0);
  g_assert_cmpuint (sw_test_count_open_fds (), ==, baseline);
  close (raw);
  close_pipe (p);
}

static void
test_timeout_mid_frame_read_ahead (void)
{
  check_timeout_mid_frame (TRUE);
}

static void
test_timeout_mid_frame_exact (void)
{
  check_timeout_mid_frame (FALSE);
}

/* A raw read takes the bytes of a half-received frame: the fds that came
 * with them go with the raw bytes, not to a later message. */
static void
test_raw_read_takes_fds (void)
{
  g_autoptr(SwFraming) framing = SW_FRAMING (sw_varint_framing_new ());
  g_autoptr(SwConnection) connection = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GUnixFDList) fds = NULL;
  g_autoptr(GBytes) bytes = NULL;
  int raw, p[2];
  guint baseline;

  make_pipe (p);
  connection = foreign_pair (framing, TRUE, &raw);
  baseline = sw_test_count_open_fds ();
  raw_sendmsg (raw, "\005he", 3, p[1]);
  g_assert_null (sw_connection_receive_message_with_fds (connection, &fds, 0, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);
  bytes = sw_connection_receive_bytes (connection, 3, -1, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (bytes), ==, 3);
  g_assert_cmpuint (sw_test_count_open_fds (), ==, baseline);
  raw_sendmsg (raw, "\004next", 5, -1);
  expect_message (connection, "next", 0, 0);
  close (raw);
  close_pipe (p);
}

/* close() from another thread while a receive waits in the middle of a
 * message whose fds came: the receive fails with CLOSED and the queued
 * fds are closed with the socket. */
static void
test_close_while_receiving (void)
{
  g_autoptr(SwFraming) framing = SW_FRAMING (sw_varint_framing_new ());
  g_autoptr(SwConnection) connection = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) message = NULL;
  SwTestReceiver *receiver;
  int raw, p[2];
  guint pipes, sockets;

  if (!sw_test_can_observe_threads ())
    return;
  make_pipe (p);
  connection = foreign_pair (framing, TRUE, &raw);
  /* The receiving thread has an eventfd of its own: count by kind. */
  pipes = sw_test_count_open_fds_of ("pipe:");
  sockets = sw_test_count_open_fds_of ("socket:");
  raw_sendmsg (raw, "\005he", 3, p[1]);
  receiver = sw_test_receiver_new (connection, NULL);
  sw_test_receiver_wait_polling (receiver);
  /* The fd is queued for the message being assembled. */
  g_assert_cmpuint (sw_test_count_open_fds_of ("pipe:"), ==, pipes + 1);
  g_assert_true (sw_connection_close (connection, NULL, &error));
  g_assert_no_error (error);
  message = sw_test_receiver_join (receiver, &error);
  g_assert_null (message);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_assert_cmpuint (sw_test_count_open_fds_of ("pipe:"), ==, pipes);
  g_assert_cmpuint (sw_test_count_open_fds_of ("socket:"), ==, sockets - 1);
  close (raw);
  close_pipe (p);
}

/* Fds queued for a message not yet received are close-on-exec: a child
 * forked and exec'd meanwhile inherits none. And a framing set between
 * messages leaves them with their message. */
static void
test_queued_fds_cloexec (void)
{
  g_autoptr(SwFraming) framing = SW_FRAMING (sw_varint_framing_new ());
  g_autoptr(SwFraming) other = SW_FRAMING (sw_multiprocessing_framing_new ());
  g_autoptr(SwConnection) connection = NULL;
  g_autoptr(GDir) dir = NULL;
  const char *name;
  int raw, p[2];
  ino_t inode = make_pipe (p);
  guint queued = 0;

  connection = foreign_pair (framing, TRUE, &raw);
  raw_sendmsg (raw, "\002ab", 3, -1);
  raw_sendmsg (raw, "\0\0\0\003cde", 7, p[1]);
  expect_message (connection, "ab", 0, 0);
  /* The second message's fd came with the first read: it is queued. */
  dir = g_dir_open ("/proc/self/fd", 0, NULL);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      int fd = (int) g_ascii_strtoll (name, NULL, 10);
      struct stat st;

      if (fd == p[1] || fstat (fd, &st) != 0 || st.st_ino != inode)
        continue;
      queued++;
      g_assert_true (sw_test_fd_is_cloexec (fd));
    }
  /* p[0] has the same inode. */
  g_assert_cmpuint (queued, ==, 2);
  sw_connection_set_framing (connection, other);
  expect_message (connection, "cde", 1, inode);
  close (raw);
  close_pipe (p);
}

/* ---- refused messages carrying fds ------------------------------------ */

/* A frame over max-message-size is skipped with its fds closed; they go
 * to no later message. */
static void
check_too_large (gboolean read_ahead)
{
  g_autoptr(SwFraming) framing = SW_FRAMING (sw_varint_framing_new ());
  g_autoptr(SwConnection) connection = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GUnixFDList) fds = NULL;
  int raw, p[2];
  guint baseline;

  make_pipe (p);
  connection = foreign_pair (framing, read_ahead, &raw);
  sw_connection_set_max_message_size (connection, 4);
  baseline = sw_test_count_open_fds ();
  raw_sendmsg (raw, "\012", 1, p[1]);
  raw_sendmsg (raw, "0123456789", 10, -1);
  raw_sendmsg (raw, "\002ok", 3, -1);
  g_assert_null (sw_connection_receive_message_with_fds (connection, &fds, -1, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
  g_assert_null (fds);
  g_clear_error (&error);
  expect_message (connection, "ok", 0, 0);
  g_assert_cmpuint (sw_test_count_open_fds (), ==, baseline);
  close (raw);
  close_pipe (p);
}

static void
test_too_large_read_ahead (void)
{
  check_too_large (TRUE);
}

static void
test_too_large_exact (void)
{
  check_too_large (FALSE);
}

/* A peer streaming fds into a frame refused from its header: the fds are
 * closed as the frame's bytes are skipped, not held until a later frame
 * completes (a hostile peer could otherwise exhaust our descriptors). */
static void
check_fds_in_skipped_frame (gboolean read_ahead)
{
  g_autoptr(SwFraming) framing = SW_FRAMING (sw_varint_framing_new ());
  g_autoptr(SwConnection) connection = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GUnixFDList) fds = NULL;
  int raw, p[2];
  guint baseline;

  make_pipe (p);
  connection = foreign_pair (framing, read_ahead, &raw);
  sw_connection_set_max_message_size (connection, 4);
  baseline = sw_test_count_open_fds ();
  raw_sendmsg (raw, "\310", 1, -1);  /* a 200-byte frame: refused */
  for (guint i = 0; i < 20; i++)
    raw_sendmsg (raw, "0123456789", 10, p[1]);
  g_assert_null (sw_connection_receive_message_with_fds (connection, &fds, -1, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
  g_clear_error (&error);
  /* Nothing follows the refused frame: this receive skips what is left. */
  g_assert_null (sw_connection_receive_message_with_fds (connection, &fds, 0, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_cmpuint (sw_test_count_open_fds (), ==, baseline);
  close (raw);
  close_pipe (p);
}

static void
test_fds_in_skipped_frame_read_ahead (void)
{
  check_fds_in_skipped_frame (TRUE);
}

static void
test_fds_in_skipped_frame_exact (void)
{
  check_fds_in_skipped_frame (FALSE);
}

/* A datagram larger than max-message-size carrying fds: dropped, fds
 * closed, the next datagram is fine. */
static void
check_datagram_too_large (int type)
{
  g_autoptr(SwConnection) connection = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GUnixFDList) fds = NULL;
  int sv[2], p[2];
  ino_t inode = make_pipe (p);
  guint baseline;

  sw_test_raw_socketpair (type, sv);
  connection = sw_test_connection_for_socket_fd (sv[0], NULL);
  sw_connection_set_max_message_size (connection, 4);
  baseline = sw_test_count_open_fds ();
  raw_sendmsg (sv[1], "0123456789", 10, p[1]);
  raw_sendmsg (sv[1], "ok", 2, p[1]);
  g_assert_null (sw_connection_receive_message_with_fds (connection, &fds, -1, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
  g_assert_null (fds);
  g_clear_error (&error);
  g_assert_cmpuint (sw_test_count_open_fds (), ==, baseline);
  expect_message (connection, "ok", 1, inode);
  g_assert_cmpuint (sw_test_count_open_fds (), ==, baseline);
  close (sv[1]);
  close_pipe (p);
}

static void
test_datagram_too_large (void)
{
  check_datagram_too_large (SOCK_DGRAM);
}

static void
test_seqpacket_too_large (void)
{
  check_datagram_too_large (SOCK_SEQPACKET);
}

/* ---- many senders ----------------------------------------------------- */

#define N_THREADS 4
#define N_PER_THREAD 200

/* Each message names the inode of the fd it carries (every third carries
 * none: "-"). */
static GBytes *
message_for (int fd)
{
  char *text;

  if (fd < 0)
    return g_bytes_new_static ("-", 1);
  text = g_strdup_printf ("%" G_GUINT64_FORMAT, (guint64) fd_inode (fd));
  return g_bytes_new_take (text, strlen (text));
}

static gpointer
sender_thread (gpointer data)
{
  SwConnection *connection = data;
  int p[2];

  make_pipe (p);
  for (guint i = 0; i < N_PER_THREAD; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GUnixFDList) fds = NULL;
      g_autoptr(GBytes) message = message_for (i % 3 == 0 ? -1 : p[i % 2]);

      if (i % 3 != 0)
        {
          fds = g_unix_fd_list_new ();
          g_unix_fd_list_append (fds, p[i % 2], NULL);
        }
      if (!sw_connection_send_message_with_fds (connection, message, fds, -1, NULL, &error))
        g_error ("send failed: %s", error->message);
    }
  close_pipe (p);
  return NULL;
}

static void
check_received (GBytes      *message,
                GUnixFDList *fds)
{
  gsize size;
  const char *data = g_bytes_get_data (message, &size);
  g_autofree char *text = g_strndup (data, size);

  if (strcmp (text, "-") == 0)
    {
      g_assert_cmpint (g_unix_fd_list_get_length (fds), ==, 0);
      return;
    }
  g_assert_cmpint (g_unix_fd_list_get_length (fds), ==, 1);
  g_assert_cmpuint (g_ascii_strtoull (text, NULL, 10), ==,
                    (guint64) fd_inode (g_unix_fd_list_peek_fds (fds, NULL)[0]));
}

typedef struct
{
  SwConnection *connection;
  guint         pending;
} AsyncSends;

static void
on_async_sent (GObject      *source,
               GAsyncResult *result,
               gpointer      data)
{
  AsyncSends *sends = data;
  g_autoptr(GError) error = NULL;

  g_assert_true (sw_connection_send_message_with_fds_finish (SW_CONNECTION (source), result,
                                                             &error));
  g_assert_no_error (error);
  sends->pending--;
}

/* Queues N_PER_THREAD async sends in a main context of its own (the plain
 * ones cork into batches behind a send with fds) and runs it until all
 * are done. Its own context, so that the blocking receives of the test's
 * thread never wait for a send only that thread could drive. */
static gpointer
async_sender_thread (gpointer data)
{
  AsyncSends sends = { data, 0 };
  g_autoptr(GMainContext) context = g_main_context_new ();
  int p[2];

  g_main_context_push_thread_default (context);
  make_pipe (p);
  for (guint i = 0; i < N_PER_THREAD; i++)
    {
      g_autoptr(GUnixFDList) fds = NULL;
      g_autoptr(GBytes) message = message_for (i % 3 == 0 ? -1 : p[i % 2]);

      if (i % 3 != 0)
        {
          fds = g_unix_fd_list_new ();
          g_unix_fd_list_append (fds, p[i % 2], NULL);
        }
      sends.pending++;
      sw_connection_send_message_with_fds_async (sends.connection, message, fds,
                                                 G_PRIORITY_DEFAULT, NULL,
                                                 on_async_sent, &sends);
    }
  while (sends.pending > 0)
    g_main_context_iteration (context, TRUE);
  close_pipe (p);
  g_main_context_pop_thread_default (context);
  return NULL;
}

/* Threads send blocking while another thread's context sends async:
 * every message arrives with exactly its own fd. */
static void
check_many_senders (gboolean read_ahead)
{
  g_autoptr(SwFraming) framing = SW_FRAMING (sw_varint_framing_new ());
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  GThread *threads[N_THREADS + 1];
  guint total = N_THREADS * N_PER_THREAD + N_PER_THREAD;
  guint baseline;

  sw_test_socketpair (framing, &a, &b);
  sw_connection_set_read_ahead (b, read_ahead);
  baseline = sw_test_count_open_fds_of ("pipe:");
  for (guint i = 0; i < N_THREADS; i++)
    threads[i] = g_thread_new ("sender", sender_thread, a);
  threads[N_THREADS] = g_thread_new ("async sender", async_sender_thread, a);
  for (guint i = 0; i < total; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GUnixFDList) fds = NULL;
      g_autoptr(GBytes) message = NULL;

      message = sw_connection_receive_message_with_fds (b, &fds, -1, NULL, &error);
      g_assert_no_error (error);
      check_received (message, fds);
    }
  for (guint i = 0; i <= N_THREADS; i++)
    g_thread_join (threads[i]);
  /* GLib keeps an eventfd or two for the threads' contexts: count pipes. */
  g_assert_cmpuint (sw_test_count_open_fds_of ("pipe:"), ==, baseline);
}

static void
test_many_senders_read_ahead (void)
{
  check_many_senders (TRUE);
}

static void
test_many_senders_exact (void)
{
  check_many_senders (FALSE);
}

/* ---- the receive loop ------------------------------------------------- */

static void
on_message (SwConnection *connection,
            GBytes       *message,
            gpointer      data)
{
  guint *count = data;

  (*count)++;
}

/* The receive loop asks for no fds: those that come are closed. */
static void
test_receive_loop_closes (void)
{
  g_autoptr(SwFraming) framing = SW_FRAMING (sw_varint_framing_new ());
  g_autoptr(SwConnection) connection = NULL;
  int raw, p[2];
  guint count = 0, baseline;

  make_pipe (p);
  connection = foreign_pair (framing, TRUE, &raw);
  g_signal_connect (connection, "message", G_CALLBACK (on_message), &count);
  /* Pipes only: the main context's shared epoll fd may be opened by the
   * loop's first wait. */
  baseline = sw_test_count_open_fds_of ("pipe:");
  for (guint i = 0; i < 20; i++)
    raw_sendmsg (raw, "\005hello", 6, p[1]);
  sw_connection_start_receiving (connection);
  while (count < 20)
    g_main_context_iteration (NULL, TRUE);
  sw_connection_stop_receiving (connection);
  g_assert_cmpuint (sw_test_count_open_fds_of ("pipe:"), ==, baseline);
  close (raw);
  close_pipe (p);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (scripts); i++)
    {
      g_autofree char *path = g_strconcat ("/sw/fd-attack/foreign/", scripts[i].name, NULL);

      g_test_add_data_func (path, &scripts[i], run_script);
    }
  g_test_add_func ("/sw/fd-attack/foreign/two-batches-no-room", test_two_batches_no_room);
  g_test_add_func ("/sw/fd-attack/timeout-mid-frame-read-ahead",
                   test_timeout_mid_frame_read_ahead);
  g_test_add_func ("/sw/fd-attack/timeout-mid-frame-exact", test_timeout_mid_frame_exact);
  g_test_add_func ("/sw/fd-attack/raw-read-takes-fds", test_raw_read_takes_fds);
  g_test_add_func ("/sw/fd-attack/close-while-receiving", test_close_while_receiving);
  g_test_add_func ("/sw/fd-attack/queued-fds-cloexec", test_queued_fds_cloexec);
  g_test_add_func ("/sw/fd-attack/too-large-read-ahead", test_too_large_read_ahead);
  g_test_add_func ("/sw/fd-attack/too-large-exact", test_too_large_exact);
  g_test_add_func ("/sw/fd-attack/fds-in-skipped-frame/read-ahead",
                   test_fds_in_skipped_frame_read_ahead);
  g_test_add_func ("/sw/fd-attack/fds-in-skipped-frame/exact", test_fds_in_skipped_frame_exact);
  g_test_add_func ("/sw/fd-attack/datagram-too-large", test_datagram_too_large);
  g_test_add_func ("/sw/fd-attack/seqpacket-too-large", test_seqpacket_too_large);
  g_test_add_func ("/sw/fd-attack/many-senders-read-ahead", test_many_senders_read_ahead);
  g_test_add_func ("/sw/fd-attack/many-senders-exact", test_many_senders_exact);
  g_test_add_func ("/sw/fd-attack/receive-loop-closes", test_receive_loop_closes);

  return g_test_run ();
}
