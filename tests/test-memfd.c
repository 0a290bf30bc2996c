/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Large messages as sealed memfds (memfd-threshold): which messages go as
 * memfds (shown by where the received bytes live: a read-only mapping of
 * the memfd in /proc/self/maps), sync, async, batches, the value layer
 * and the receive loop; a receiver with the setting off; control frames
 * forged on the raw socket; transports where the setting is ignored. Every
 * case checks that no descriptor is left open. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <gio/gunixfdlist.h>

#include "sw-memfd-private.h"
#include "sw-test-util.h"

#define THRESHOLD 4096

/* ---- helpers ---------------------------------------------------------- */

/* The permissions and path of the mapping of /proc/self/maps holding
 * @address, or NULL when none does. */
static char *
mapping_of (gconstpointer address)
{
  g_autofree char *maps = NULL;
  g_auto(GStrv) lines = NULL;
  guintptr at = (guintptr) address;

  g_assert_true (g_file_get_contents ("/proc/self/maps", &maps, NULL, NULL));
  lines = g_strsplit (maps, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      unsigned long start, end;
      char perms[8];
      int path_at = 0;

      if (sscanf (lines[i], "%lx-%lx %7s %*s %*s %*s %n", &start, &end, perms, &path_at) < 3)
        continue;
      if (at >= start && at < end)
        return g_strdup_printf ("%s %s", perms, lines[i] + path_at);
    }
  return NULL;
}

/* Whether @message's bytes are a read-only shared mapping of a memfd. */
static gboolean
is_memfd_mapping (GBytes *message)
{
  g_autofree char *mapping = mapping_of (g_bytes_get_data (message, NULL));

  return mapping != NULL && g_str_has_prefix (mapping, "r--s ")
         && strstr (mapping, "/memfd:") != NULL;
}

/* Sockets, pipes and memfds open: a main context's or a thread's wake-up
 * fds, made once on first use, do not count. */
static guint
open_fds (void)
{
  return sw_test_count_open_fds_of ("socket:") + sw_test_count_open_fds_of ("pipe:")
         + sw_test_count_open_fds_of ("/memfd:");
}

static void
memfd_pair (guint64        sender_threshold,
            guint64        receiver_threshold,
            SwConnection **sender,
            SwConnection **receiver)
{
  g_autoptr(SwFraming) framing = SW_FRAMING (sw_varint_framing_new ());

  sw_test_socketpair (framing, sender, receiver);
  sw_connection_set_memfd_threshold (*sender, sender_threshold);
  sw_connection_set_memfd_threshold (*receiver, receiver_threshold);
}

static GBytes *
receive_ok (SwConnection *connection)
{
  g_autoptr(GError) error = NULL;
  GBytes *message = sw_connection_receive_message (connection, -1, NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (message);
  return message;
}

static void
send_ok (SwConnection *connection,
         GBytes       *message)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (sw_connection_send_message (connection, message, -1, NULL, &error));
  g_assert_no_error (error);
}

/* Receives a message of @size pattern bytes (@seed), and checks whether it
 * came as a memfd. */
static void
expect_message (SwConnection *connection,
                gsize         size,
                guint32       seed,
                gboolean      as_memfd)
{
  g_autoptr(GBytes) message = receive_ok (connection);

  g_assert_cmpuint (g_bytes_get_size (message), ==, size);
  g_assert_true (sw_test_pattern_check (message, seed));
  if (size > 0)
    g_assert_cmpint (is_memfd_mapping (message), ==, as_memfd);
}

/* A control frame's payload, as sw_memfd_pack() writes it. */
static GBytes *
control_header (guint32 version,
                guint64 length)
{
  guint8 header[SW_MEMFD_HEADER_SIZE] = { 0x89, 'S', 'W', 'M', 'E', 'M', 'F', 'D' };
  guint32 le_version = GUINT32_TO_LE (version);
  guint64 le_length = GUINT64_TO_LE (length);

  memcpy (header + 8, &le_version, sizeof le_version);
  memcpy (header + 16, &le_length, sizeof le_length);
  return g_bytes_new (header, sizeof header);
}

/* ---- which messages go as memfds -------------------------------------- */

static void
test_boundary (void)
{
  guint n_fds = open_fds ();
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) below = sw_test_pattern_bytes (THRESHOLD - 1, 1);
  g_autoptr(GBytes) at = sw_test_pattern_bytes (THRESHOLD, 2);
  g_autoptr(GBytes) above = sw_test_pattern_bytes (3 * 1024 * 1024 + 5, 3);

  GBytes *messages[] = { below, at, above };
  SwTestSender *sender;
  g_autoptr(GError) error = NULL;

  memfd_pair (THRESHOLD, THRESHOLD, &a, &b);
  g_assert_cmpuint (sw_connection_get_memfd_threshold (a), ==, THRESHOLD);
  /* From a thread: inline, the large one would not fit the socket. */
  sender = sw_test_sender_new (a, messages, G_N_ELEMENTS (messages));
  expect_message (b, THRESHOLD - 1, 1, FALSE);
  expect_message (b, THRESHOLD, 2, TRUE);
  expect_message (b, 3 * 1024 * 1024 + 5, 3, TRUE);
  g_assert_true (sw_test_sender_join (sender, &error));
  g_assert_no_error (error);

  /* Both directions, and off again: inline. */
  send_ok (b, at);
  expect_message (a, THRESHOLD, 2, TRUE);
  g_object_set (a, "memfd-threshold", (guint64) 0, NULL);
  g_object_set (b, "memfd-threshold", (guint64) 0, NULL);
  send_ok (a, at);
  expect_message (b, THRESHOLD, 2, FALSE);

  sw_connection_close (a, NULL, NULL);
  sw_connection_close (b, NULL, NULL);
  g_clear_object (&a);
  g_clear_object (&b);
  g_assert_cmpuint (open_fds (), ==, n_fds);
}

/* When the kernel will not seal a new memfd (EBUSY: it still saw the
 * pages referenced), the message goes inline; a look-alike, which only a
 * memfd keeps from being misread, fails with BUSY and nothing is sent. */
static void
test_seal_busy (void)
{
  guint n_fds = open_fds ();
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) at = sw_test_pattern_bytes (THRESHOLD, 2);
  g_autoptr(GBytes) lookalike = control_header (SW_MEMFD_VERSION, 5);
  g_autoptr(GError) error = NULL;

  memfd_pair (THRESHOLD, THRESHOLD, &a, &b);
  sw_memfd_fail_seals_for_testing (1);
  send_ok (a, at);
  expect_message (b, THRESHOLD, 2, FALSE);
  send_ok (a, at);
  expect_message (b, THRESHOLD, 2, TRUE);

  sw_memfd_fail_seals_for_testing (1);
  g_assert_false (sw_connection_send_message (a, lookalike, -1, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_BUSY);
  send_ok (a, at);
  expect_message (b, THRESHOLD, 2, TRUE);

  g_clear_object (&a);
  g_clear_object (&b);
  g_assert_cmpuint (open_fds (), ==, n_fds);
}

/* The received bytes stay valid, and read-only, after the connection is
 * gone: the mapping is theirs. */
static void
test_mapping_outlives_connection (void)
{
  guint n_fds = open_fds ();
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) big = sw_test_pattern_bytes (1024 * 1024, 4);
  g_autoptr(GBytes) message = NULL;

  SwTestSender *sender;
  g_autoptr(GError) error = NULL;

  memfd_pair (THRESHOLD, THRESHOLD, &a, &b);
  sender = sw_test_sender_new (a, &big, 1);
  message = receive_ok (b);
  g_assert_true (sw_test_sender_join (sender, &error));
  g_assert_no_error (error);
  g_clear_object (&a);
  g_clear_object (&b);
  /* The memfd itself was closed as soon as it was mapped. */
  g_assert_cmpuint (open_fds (), ==, n_fds);
  g_assert_true (is_memfd_mapping (message));
  g_assert_true (g_bytes_equal (message, big));
  g_clear_pointer (&message, g_bytes_unref);
}

static void
test_async (void)
{
  guint n_fds = open_fds ();
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) big = sw_test_pattern_bytes (2 * 1024 * 1024, 5);
  g_autoptr(GAsyncResult) sent = NULL;
  g_autoptr(GAsyncResult) received = NULL;
  g_autoptr(GBytes) message = NULL;
  g_autoptr(GError) error = NULL;

  memfd_pair (THRESHOLD, THRESHOLD, &a, &b);
  sw_connection_receive_message_async (b, G_PRIORITY_DEFAULT, NULL, sw_test_store_result,
                                       &received);
  sw_connection_send_message_async (a, big, G_PRIORITY_DEFAULT, NULL, sw_test_store_result,
                                    &sent);
  sw_test_iterate_until (&sent);
  g_assert_true (sw_connection_send_message_finish (a, sent, &error));
  g_assert_no_error (error);
  sw_test_iterate_until (&received);
  message = sw_connection_receive_message_finish (b, received, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (message, big));
  g_assert_true (is_memfd_mapping (message));

  g_clear_pointer (&message, g_bytes_unref);
  g_clear_object (&sent);
  g_clear_object (&received);
  g_clear_object (&a);
  g_clear_object (&b);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_cmpuint (open_fds (), ==, n_fds);
}

/* A batch mixes inline and memfd frames, in order; a message that reads
 * like a control frame travels intact (as a memfd itself). */
static void
test_batch (void)
{
  guint n_fds = open_fds ();
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) lookalike = control_header (SW_MEMFD_VERSION, 5);
  GBytes *batch[6];
  g_autoptr(GError) error = NULL;
  static const gsize sizes[] = { 10, 100000, 0, THRESHOLD, 7 };

  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    batch[i] = sw_test_pattern_bytes (sizes[i], 10 + i);
  batch[5] = g_bytes_ref (lookalike);

  memfd_pair (THRESHOLD, THRESHOLD, &a, &b);
  g_assert_true (sw_connection_send_messages (a, batch, G_N_ELEMENTS (batch), -1, NULL,
                                              &error));
  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    expect_message (b, sizes[i], 10 + i, sizes[i] >= THRESHOLD);
  {
    g_autoptr(GBytes) message = receive_ok (b);

    g_assert_true (g_bytes_equal (message, lookalike));
    g_assert_true (is_memfd_mapping (message));
  }

  for (guint i = 0; i < G_N_ELEMENTS (batch); i++)
    g_bytes_unref (batch[i]);
  g_clear_object (&a);
  g_clear_object (&b);
  g_assert_cmpuint (open_fds (), ==, n_fds);
}

/* receive_messages() gives memfd messages as the mappings they stand
 * for, wherever they fall in a batch, never their control frames. */
static void
test_receive_messages (void)
{
  guint n_fds = open_fds ();
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  GBytes *batch[5];
  g_autoptr(GError) error = NULL;
  static const gsize sizes[] = { 100000, 10, 20, 200000, 30 };
  guint got = 0;

  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    batch[i] = sw_test_pattern_bytes (sizes[i], 40 + i);
  memfd_pair (THRESHOLD, THRESHOLD, &a, &b);
  g_assert_true (sw_connection_send_messages (a, batch, G_N_ELEMENTS (batch), -1, NULL,
                                              &error));
  g_assert_no_error (error);
  while (got < G_N_ELEMENTS (sizes))
    {
      g_autoptr(GPtrArray) messages = sw_connection_receive_messages (b, 100, -1, NULL, &error);

      g_assert_no_error (error);
      g_assert_nonnull (messages);
      g_assert_cmpuint (messages->len, >=, 1);
      for (guint i = 0; i < messages->len; i++, got++)
        {
          GBytes *message = g_ptr_array_index (messages, i);

          g_assert_cmpuint (got, <, G_N_ELEMENTS (sizes));
          g_assert_cmpuint (g_bytes_get_size (message), ==, sizes[got]);
          g_assert_true (sw_test_pattern_check (message, 40 + got));
          g_assert_cmpint (is_memfd_mapping (message), ==, sizes[got] >= THRESHOLD);
        }
    }

  for (guint i = 0; i < G_N_ELEMENTS (batch); i++)
    g_bytes_unref (batch[i]);
  g_clear_object (&a);
  g_clear_object (&b);
  g_assert_cmpuint (open_fds (), ==, n_fds);
}

/* A memfd message comes with no fd of its own; a message sent with fds
 * goes inline, whatever its size, and one that reads like a control frame
 * cannot go with fds at all. */
static void
test_with_fds (void)
{
  guint n_fds = open_fds ();
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) big = sw_test_pattern_bytes (100000, 20);
  g_autoptr(GBytes) lookalike = control_header (SW_MEMFD_VERSION, 5);
  g_autoptr(GUnixFDList) fds = g_unix_fd_list_new ();
  g_autoptr(GUnixFDList) got = NULL;
  g_autoptr(GBytes) message = NULL;
  g_autoptr(GError) error = NULL;

  memfd_pair (THRESHOLD, THRESHOLD, &a, &b);
  g_assert_cmpint (g_unix_fd_list_append (fds, STDIN_FILENO, NULL), >=, 0);

  send_ok (a, big);
  message = sw_connection_receive_message_with_fds (b, &got, -1, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (is_memfd_mapping (message));
  g_assert_cmpint (g_unix_fd_list_get_length (got), ==, 0);
  g_clear_pointer (&message, g_bytes_unref);
  g_clear_object (&got);

  g_assert_true (sw_connection_send_message_with_fds (a, big, fds, -1, NULL, &error));
  g_assert_no_error (error);
  message = sw_connection_receive_message_with_fds (b, &got, -1, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (message, big));
  g_assert_false (is_memfd_mapping (message));
  g_assert_cmpint (g_unix_fd_list_get_length (got), ==, 1);
  g_clear_pointer (&message, g_bytes_unref);
  g_clear_object (&got);

  g_assert_false (sw_connection_send_message_with_fds (a, lookalike, fds, -1, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  /* Nothing was written: the stream goes on. */
  send_ok (a, big);
  expect_message (b, 100000, 20, TRUE);

  g_clear_object (&fds);
  g_clear_object (&a);
  g_clear_object (&b);
  g_assert_cmpuint (open_fds (), ==, n_fds);
}

/* A large value goes through the codec layer as a memfd. */
static void
test_value (void)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(SwCodec) codec = SW_CODEC (sw_gvariant_codec_new ());
  g_autoptr(GBytes) big = sw_test_pattern_bytes (100000, 30);
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GVariant) got = NULL;
  g_autoptr(GError) error = NULL;

  memfd_pair (THRESHOLD, THRESHOLD, &a, &b);
  sw_connection_set_codec (a, codec);
  sw_connection_set_codec (b, codec);
  value = g_variant_ref_sink (g_variant_new ("(s@ay)", "payload",
                                             g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING,
                                                                       big, TRUE)));
  g_assert_true (sw_connection_send_value (a, value, -1, NULL, &error));
  g_assert_no_error (error);
  got = sw_connection_receive_value (b, -1, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_variant_equal (got, value));
}

static void
on_progress (SwConnection *connection,
             guint64       done,
             guint64       total,
             GArray       *reports)
{
  guint64 report[2] = { done, total };

  g_array_append_vals (reports, report, 2);
}

/* A memfd message reports its progress once, at 100 % of its size, on
 * both ends. */
static void
test_progress (void)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) big = sw_test_pattern_bytes (2000, 90);
  g_autoptr(GArray) sent = g_array_new (FALSE, FALSE, sizeof (guint64));
  g_autoptr(GArray) received = g_array_new (FALSE, FALSE, sizeof (guint64));

  /* 1 % of the message is less than the control frame's payload. */
  memfd_pair (1000, 1000, &a, &b);
  sw_connection_set_progress_threshold (a, 1000);
  sw_connection_set_progress_threshold (b, 1000);
  g_signal_connect (a, "send-progress", G_CALLBACK (on_progress), sent);
  g_signal_connect (b, "receive-progress", G_CALLBACK (on_progress), received);
  send_ok (a, big);
  expect_message (b, 2000, 90, TRUE);
  g_assert_cmpuint (sent->len, ==, 2);
  g_assert_cmpuint (g_array_index (sent, guint64, 0), ==, 2000);
  g_assert_cmpuint (g_array_index (sent, guint64, 1), ==, 2000);
  g_assert_cmpuint (received->len, ==, 2);
  g_assert_cmpuint (g_array_index (received, guint64, 0), ==, 2000);
  g_assert_cmpuint (g_array_index (received, guint64, 1), ==, 2000);
}

/* ---- refused control frames ------------------------------------------- */

/* Sender on, receiver off: the memfd message is refused, clearly, its fd
 * closed, and the next message still arrives. */
static void
test_receiver_off (void)
{
  guint n_fds = open_fds ();
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) big = sw_test_pattern_bytes (100000, 40);
  g_autoptr(GBytes) small = sw_test_pattern_bytes (100, 41);
  g_autoptr(GBytes) lookalike = control_header (SW_MEMFD_VERSION, 5);
  g_autoptr(GBytes) message = NULL;
  g_autoptr(GError) error = NULL;

  memfd_pair (THRESHOLD, 0, &a, &b);
  send_ok (a, big);
  send_ok (a, small);
  message = sw_connection_receive_message (b, -1, NULL, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  g_assert_nonnull (strstr (error->message, "memfd-threshold"));
  g_assert_null (message);
  g_clear_error (&error);
  expect_message (b, 100, 41, FALSE);

  /* A peer with the setting off sends anything inline, the lookalike
   * included, and this end, off too, delivers it as it is. */
  sw_connection_set_memfd_threshold (a, 0);
  send_ok (a, lookalike);
  message = receive_ok (b);
  g_assert_true (g_bytes_equal (message, lookalike));

  g_clear_pointer (&message, g_bytes_unref);
  g_clear_object (&a);
  g_clear_object (&b);
  g_assert_cmpuint (open_fds (), ==, n_fds);
}

/* One blocking sendmsg() of @size bytes on the raw @fd, with the @n_pass
 * fds of @pass attached. */
static void
raw_sendmsg (int         fd,
             const void *data,
             gsize       size,
             const int  *pass,
             int         n_pass)
{
  union
  {
    struct cmsghdr align;
    char           buffer[CMSG_SPACE (sizeof (int) * 2)];
  } control;
  struct iovec vector = { (void *) data, size };
  struct msghdr msg = { .msg_iov = &vector, .msg_iovlen = 1 };

  if (n_pass > 0)
    {
      struct cmsghdr *cmsg;

      memset (&control, 0, sizeof control);
      msg.msg_control = control.buffer;
      msg.msg_controllen = CMSG_SPACE (sizeof (int) * (gsize) n_pass);
      cmsg = CMSG_FIRSTHDR (&msg);
      cmsg->cmsg_level = SOL_SOCKET;
      cmsg->cmsg_type = SCM_RIGHTS;
      cmsg->cmsg_len = CMSG_LEN (sizeof (int) * (gsize) n_pass);
      memcpy (CMSG_DATA (cmsg), pass, sizeof (int) * (gsize) n_pass);
    }
  g_assert_cmpint (sendmsg (fd, &msg, MSG_NOSIGNAL), ==, (ssize_t) size);
}

/* A varint-framed frame of @payload on the raw @fd, with fds. */
static void
raw_frame (int        fd,
           GBytes    *payload,
           const int *pass,
           int        n_pass)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (payload, &size);
  guint8 frame[9 + 64];
  gsize header = sw_test_varint_encode (size, frame);

  g_assert_cmpuint (size, <=, 64);
  memcpy (frame + header, data, size);
  raw_sendmsg (fd, frame, header + size, pass, n_pass);
}

/* A memfd of @size bytes with @seals added (none when 0). */
static int
make_memfd (gsize size,
            int   seals)
{
  g_autofree guint8 *data = g_malloc0 (MAX (size, 1));
  int fd = memfd_create ("forged", MFD_CLOEXEC | MFD_ALLOW_SEALING);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (write (fd, data, size), ==, (ssize_t) size);
  if (seals != 0)
    g_assert_cmpint (fcntl (fd, F_ADD_SEALS, seals), ==, 0);
  return fd;
}

#define ALL_SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

typedef struct
{
  const char *name;
  guint32     version;
  guint64     declared;   /* the length the header announces */
  gsize       size;       /* the memfd's real size */
  int         seals;
  int         n_memfds;   /* 0, 1 or 2 */
  gboolean    pipe;       /* a pipe instead of the memfd */
  int         code;       /* the error expected */
} Forgery;

static const Forgery forgeries[] = {
  { "no fd", 1, 100, 100, ALL_SEALS, 0, FALSE, G_IO_ERROR_INVALID_DATA },
  { "two fds", 1, 100, 100, ALL_SEALS, 2, FALSE, G_IO_ERROR_INVALID_DATA },
  { "unsealed", 1, 100, 100, 0, 1, FALSE, G_IO_ERROR_INVALID_DATA },
  { "no shrink seal", 1, 100, 100, F_SEAL_SEAL | F_SEAL_GROW | F_SEAL_WRITE, 1, FALSE,
    G_IO_ERROR_INVALID_DATA },
  { "no write seal", 1, 100, 100, F_SEAL_SEAL | F_SEAL_GROW | F_SEAL_SHRINK, 1, FALSE,
    G_IO_ERROR_INVALID_DATA },
  { "memfd shorter", 1, 100, 99, ALL_SEALS, 1, FALSE, G_IO_ERROR_INVALID_DATA },
  { "memfd longer", 1, 100, 101, ALL_SEALS, 1, FALSE, G_IO_ERROR_INVALID_DATA },
  { "over max-message-size", 1, 70000, 70000, ALL_SEALS, 1, FALSE,
    G_IO_ERROR_MESSAGE_TOO_LARGE },
  { "huge length", 1, G_MAXUINT64, 100, ALL_SEALS, 1, FALSE, G_IO_ERROR_MESSAGE_TOO_LARGE },
  { "pipe", 1, 100, 100, 0, 1, TRUE, G_IO_ERROR_INVALID_DATA },
  { "unknown version", 2, 100, 100, ALL_SEALS, 1, FALSE, G_IO_ERROR_INVALID_DATA },
};

/* A forged control frame is refused with the documented error, its fds
 * closed, and the frame after it is received. */
static void
run_forgery (const Forgery *f)
{
  guint n_fds = open_fds ();
  g_autoptr(SwFraming) framing = SW_FRAMING (sw_varint_framing_new ());
  g_autoptr(SwConnection) receiver = NULL;
  g_autoptr(GBytes) header = control_header (f->version, f->declared);
  g_autoptr(GBytes) next = g_bytes_new_static ("next", 4);
  g_autoptr(GBytes) message = NULL;
  g_autoptr(GError) error = NULL;
  int sv[2], pass[2] = { -1, -1 };

  g_test_message ("forgery: %s", f->name);
  sw_test_raw_socketpair (SOCK_STREAM, sv);
  receiver = sw_test_connection_for_socket_fd (sv[0], framing);
  sw_connection_set_memfd_threshold (receiver, THRESHOLD);
  sw_connection_set_max_message_size (receiver, 65536);

  if (f->pipe)
    {
      int p[2];

      g_assert_cmpint (pipe2 (p, O_CLOEXEC), ==, 0);
      close (p[1]);
      pass[0] = p[0];
    }
  else
    for (int i = 0; i < f->n_memfds; i++)
      pass[i] = make_memfd (f->size, f->seals);
  raw_frame (sv[1], header, pass, f->pipe ? 1 : f->n_memfds);
  for (int i = 0; i < 2; i++)
    if (pass[i] >= 0)
      close (pass[i]);
  raw_frame (sv[1], next, NULL, 0);

  message = sw_connection_receive_message (receiver, -1, NULL, &error);
  g_assert_error (error, G_IO_ERROR, f->code);
  g_assert_null (message);
  g_clear_error (&error);
  message = receive_ok (receiver);
  g_assert_true (g_bytes_equal (message, next));

  close (sv[1]);
  g_clear_object (&receiver);
  g_assert_cmpuint (open_fds (), ==, n_fds);
}

static void
test_forgeries (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (forgeries); i++)
    run_forgery (&forgeries[i]);
}

/* The same forgery as a later message of a batch: refused as a single
 * receive refuses it, never handed out as a message of its own bytes. */
static void
test_forgery_later_in_batch (void)
{
  g_autoptr(SwFraming) framing = SW_FRAMING (sw_varint_framing_new ());
  g_autoptr(SwConnection) receiver = NULL;
  g_autoptr(GBytes) header = control_header (SW_MEMFD_VERSION, 100);
  g_autoptr(GBytes) first = g_bytes_new_static ("first", 5);
  g_autoptr(GBytes) next = g_bytes_new_static ("next", 4);
  g_autoptr(GBytes) message = NULL;
  g_autoptr(GPtrArray) batch = NULL;
  g_autoptr(GError) error = NULL;
  int sv[2];

  sw_test_raw_socketpair (SOCK_STREAM, sv);
  receiver = sw_test_connection_for_socket_fd (sv[0], framing);
  sw_connection_set_memfd_threshold (receiver, THRESHOLD);
  raw_frame (sv[1], first, NULL, 0);
  raw_frame (sv[1], header, NULL, 0);
  raw_frame (sv[1], next, NULL, 0);

  batch = sw_connection_receive_messages (receiver, 10, -1, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (batch->len, ==, 1);
  g_assert_true (g_bytes_equal (g_ptr_array_index (batch, 0), first));
  message = sw_connection_receive_message (receiver, -1, NULL, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_assert_null (message);
  message = receive_ok (receiver);
  g_assert_true (g_bytes_equal (message, next));
  close (sv[1]);
}

/* A control frame from a foreign sender that follows the format (docs/
 * memfd.md) is taken: the format is all a peer needs. */
static void
test_forged_valid (void)
{
  guint n_fds = open_fds ();
  g_autoptr(SwFraming) framing = SW_FRAMING (sw_varint_framing_new ());
  g_autoptr(SwConnection) receiver = NULL;
  g_autoptr(GBytes) header = control_header (SW_MEMFD_VERSION, 8192);
  g_autoptr(GBytes) message = NULL;
  int sv[2];
  int fd;

  sw_test_raw_socketpair (SOCK_STREAM, sv);
  receiver = sw_test_connection_for_socket_fd (sv[0], framing);
  sw_connection_set_memfd_threshold (receiver, 1);

  fd = make_memfd (8192, ALL_SEALS);
  raw_frame (sv[1], header, &fd, 1);
  close (fd);
  message = receive_ok (receiver);
  g_assert_cmpuint (g_bytes_get_size (message), ==, 8192);
  g_assert_true (is_memfd_mapping (message));
  g_assert_cmpint (((const guint8 *) g_bytes_get_data (message, NULL))[8191], ==, 0);

  close (sv[1]);
  g_clear_pointer (&message, g_bytes_unref);
  g_clear_object (&receiver);
  g_assert_cmpuint (open_fds (), ==, n_fds);
}

/* Out of descriptors: a sender cannot make the memfd and fails before
 * writing anything; a receiver loses the memfd (MSG_CTRUNC) and refuses
 * the frame. Both connections go on once descriptors are free again. */
static void
test_no_descriptors (void)
{
  guint n_fds = open_fds ();
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) big = sw_test_pattern_bytes (THRESHOLD, 80);
  g_autoptr(GBytes) message = NULL;
  g_autoptr(GError) error = NULL;
  struct rlimit saved;

  if (sw_test_under_valgrind ())
    {
      g_test_skip ("valgrind does not lower the kernel's descriptor limit");
      return;
    }
  memfd_pair (THRESHOLD, THRESHOLD, &a, &b);

  sw_test_leave_free_fds (0, &saved);
  g_assert_false (sw_connection_send_message (a, big, -1, NULL, &error));
  g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &saved), ==, 0);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TOO_MANY_OPEN_FILES);
  g_clear_error (&error);

  send_ok (a, big);
  send_ok (a, big);
  sw_test_leave_free_fds (0, &saved);
  message = sw_connection_receive_message (b, -1, NULL, &error);
  g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &saved), ==, 0);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_assert_null (message);
  expect_message (b, THRESHOLD, 80, TRUE);

  g_clear_object (&a);
  g_clear_object (&b);
  g_assert_cmpuint (open_fds (), ==, n_fds);
}

/* ---- the receive loop ------------------------------------------------- */

typedef struct
{
  GPtrArray *messages;
  GPtrArray *errors;
} LoopLog;

static void
on_message (SwConnection *connection,
            GBytes       *message,
            LoopLog      *log)
{
  g_ptr_array_add (log->messages, g_bytes_ref (message));
}

static void
on_error (SwConnection *connection,
          GError       *error,
          LoopLog      *log)
{
  g_ptr_array_add (log->errors, g_error_copy (error));
}

/* The loop emits memfd messages, reports a refused one and goes on. */
static void
test_loop (void)
{
  guint n_fds = open_fds ();
  g_autoptr(SwFraming) framing = SW_FRAMING (sw_varint_framing_new ());
  g_autoptr(SwConnection) receiver = NULL;
  g_autoptr(GBytes) big = sw_test_pattern_bytes (65536, 50);
  g_autoptr(GBytes) forged = control_header (SW_MEMFD_VERSION, 100);
  g_autoptr(GBytes) last = g_bytes_new_static ("last", 4);
  LoopLog log = { g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref),
                  g_ptr_array_new_with_free_func ((GDestroyNotify) g_error_free) };
  g_autoptr(SwConnection) sender = NULL;
  int sv[2], unsealed;

  sw_test_raw_socketpair (SOCK_STREAM, sv);
  receiver = sw_test_connection_for_socket_fd (sv[0], framing);
  sender = sw_test_connection_for_socket_fd (sv[1], framing);
  sw_connection_set_memfd_threshold (receiver, THRESHOLD);
  sw_connection_set_memfd_threshold (sender, THRESHOLD);
  g_signal_connect (receiver, "message", G_CALLBACK (on_message), &log);
  g_signal_connect (receiver, "error", G_CALLBACK (on_error), &log);

  send_ok (sender, big);
  unsealed = make_memfd (100, 0);
  raw_frame (sv[1], forged, &unsealed, 1);
  close (unsealed);
  send_ok (sender, last);

  sw_connection_start_receiving (receiver);
  /* Until all three frames are in, or the loop stopped. */
  while (log.messages->len + log.errors->len < 3 && sw_connection_get_receiving (receiver))
    g_main_context_iteration (NULL, TRUE);
  sw_connection_stop_receiving (receiver);

  g_assert_cmpuint (log.errors->len, ==, 1);
  g_assert_error ((GError *) log.errors->pdata[0], G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_assert_cmpuint (log.messages->len, ==, 2);
  g_assert_true (g_bytes_equal (log.messages->pdata[0], big));
  g_assert_true (is_memfd_mapping (log.messages->pdata[0]));
  g_assert_true (g_bytes_equal (log.messages->pdata[1], last));

  g_ptr_array_unref (log.messages);
  g_ptr_array_unref (log.errors);
  sw_connection_close (receiver, NULL, NULL);
  sw_connection_close (sender, NULL, NULL);
  g_clear_object (&receiver);
  g_clear_object (&sender);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_cmpuint (open_fds (), ==, n_fds);
}

/* ---- transports that ignore the setting ------------------------------- */

/* Pipes pass no fds: the setting is kept and ignored; every message,
 * large or reading like a control frame, goes inline and arrives as is. */
static void
test_pipe_ignores (void)
{
  guint n_fds = open_fds ();
  g_autoptr(SwFraming) framing = SW_FRAMING (sw_varint_framing_new ());
  g_autoptr(SwConnection) reader = NULL;
  g_autoptr(SwConnection) writer = NULL;
  g_autoptr(GBytes) lookalike = control_header (SW_MEMFD_VERSION, 5);
  g_autoptr(GBytes) message = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (sw_pipe (framing, &reader, &writer, &error));
  g_assert_no_error (error);
  sw_connection_set_memfd_threshold (reader, 16);
  sw_connection_set_memfd_threshold (writer, 16);
  g_assert_cmpuint (sw_connection_get_memfd_threshold (writer), ==, 16);

  send_ok (writer, lookalike);
  message = receive_ok (reader);
  g_assert_true (g_bytes_equal (message, lookalike));
  {
    g_autoptr(GBytes) big = sw_test_pattern_bytes (1000, 60);

    send_ok (writer, big);
    expect_message (reader, 1000, 60, FALSE);
  }

  g_clear_pointer (&message, g_bytes_unref);
  g_clear_object (&reader);
  g_clear_object (&writer);
  g_assert_cmpuint (open_fds (), ==, n_fds);
}

/* Datagram sockets: ignored too; a message goes whole in its datagram. */
static void
test_datagram_ignores (void)
{
  guint n_fds = open_fds ();
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) big = sw_test_pattern_bytes (8192, 70);
  g_autoptr(GError) error = NULL;

  g_assert_true (sw_socketpair (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_SEQPACKET, NULL, &a, &b,
                                &error));
  g_assert_no_error (error);
  sw_connection_set_memfd_threshold (a, 16);
  sw_connection_set_memfd_threshold (b, 16);
  send_ok (a, big);
  expect_message (b, 8192, 70, FALSE);

  g_clear_object (&a);
  g_clear_object (&b);
  g_assert_cmpuint (open_fds (), ==, n_fds);
}

/* A framing whose encode refuses the control frame: the memfd made for it
 * is closed with the failed send, not left open. */
#define SW_TEST_TYPE_REFUSING_FRAMING (sw_test_refusing_framing_get_type ())
G_DECLARE_FINAL_TYPE (SwTestRefusingFraming, sw_test_refusing_framing, SW_TEST,
                      REFUSING_FRAMING, GObject)

struct _SwTestRefusingFraming
{
  GObject parent_instance;
};

static SwFramingResult
refusing_framing_decode (SwFraming     *framing,
                         const guint8  *data,
                         gsize          length,
                         guint64       *state,
                         gsize         *header_length,
                         guint64       *payload_length,
                         gsize         *trailer_length,
                         gsize         *needed,
                         GError       **error)
{
  return sw_framing_decode (sw_framing_get_default (), data, length, state, header_length,
                            payload_length, trailer_length, needed, error);
}

static gboolean
refusing_framing_encode (SwFraming  *framing,
                         GBytes     *payload,
                         GBytes    **header,
                         GBytes    **trailer,
                         GError    **error)
{
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "refused");
  return FALSE;
}

static void
sw_test_refusing_framing_iface_init (SwFramingInterface *iface)
{
  iface->decode = refusing_framing_decode;
  iface->encode = refusing_framing_encode;
}

G_DEFINE_FINAL_TYPE_WITH_CODE (SwTestRefusingFraming, sw_test_refusing_framing, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (SW_TYPE_FRAMING,
                                                      sw_test_refusing_framing_iface_init))

static void
sw_test_refusing_framing_class_init (SwTestRefusingFramingClass *klass)
{
}

static void
sw_test_refusing_framing_init (SwTestRefusingFraming *self)
{
}

static void
test_encode_fails (void)
{
  g_autoptr(SwFraming) framing = g_object_new (SW_TEST_TYPE_REFUSING_FRAMING, NULL);
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) big = sw_test_pattern_bytes (THRESHOLD, 3);
  g_autoptr(GError) error = NULL;
  guint n_fds;

  sw_test_socketpair (framing, &a, &b);
  sw_connection_set_memfd_threshold (a, THRESHOLD);
  n_fds = open_fds ();
  g_assert_false (sw_connection_send_message (a, big, -1, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_cmpuint (open_fds (), ==, n_fds);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/sw/memfd/boundary", test_boundary);
  g_test_add_func ("/sw/memfd/seal-busy", test_seal_busy);
  g_test_add_func ("/sw/memfd/mapping-outlives-connection", test_mapping_outlives_connection);
  g_test_add_func ("/sw/memfd/async", test_async);
  g_test_add_func ("/sw/memfd/batch", test_batch);
  g_test_add_func ("/sw/memfd/receive-messages", test_receive_messages);
  g_test_add_func ("/sw/memfd/with-fds", test_with_fds);
  g_test_add_func ("/sw/memfd/value", test_value);
  g_test_add_func ("/sw/memfd/progress", test_progress);
  g_test_add_func ("/sw/memfd/receiver-off", test_receiver_off);
  g_test_add_func ("/sw/memfd/forgeries", test_forgeries);
  g_test_add_func ("/sw/memfd/forgery-later-in-batch", test_forgery_later_in_batch);
  g_test_add_func ("/sw/memfd/forged-valid", test_forged_valid);
  g_test_add_func ("/sw/memfd/no-descriptors", test_no_descriptors);
  g_test_add_func ("/sw/memfd/loop", test_loop);
  g_test_add_func ("/sw/memfd/pipe-ignores", test_pipe_ignores);
  g_test_add_func ("/sw/memfd/datagram-ignores", test_datagram_ignores);
  g_test_add_func ("/sw/memfd/encode-fails", test_encode_fails);

  return g_test_run ();
}
