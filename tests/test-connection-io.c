/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* SwConnection receive and send on stream sockets and pipes: timeouts,
 * cancellation, EOF, bad headers, size limits, the receive lock,
 * read-ahead, committed sends, senders on several threads, broken pipes
 * (DESIGN §3, §4). Construction, properties and close: test-connection.c. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sw-test-util.h"
#include "test-connection-util.h"

/* Receive */

static void
test_receive_timeout_empty (void)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) got = NULL;

  make_socketpair (NULL, &a, &b);
  sw_connection_set_framing (a, sw_framing_get_default ());
  sw_connection_set_framing (b, sw_framing_get_default ());
  assert_receive_error (b, 0, NULL, G_IO_ERROR_TIMED_OUT);
  assert_receive_error (b, 10000, NULL, G_IO_ERROR_TIMED_OUT);
  got = sw_connection_receive_bytes (b, -1, 0, NULL, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_null (got);
  /* Still fine afterwards. */
  send_pattern (a, 5, 14);
  assert_receive_pattern (b, 5, 14);
}

static void
test_receive_timeout_mid_frame (void)
{
  for (int read_ahead = 0; read_ahead <= 1; read_ahead++)
    {
      g_autoptr(SwFraming) framing = varint_framing ();
      g_autoptr(SwConnection) connection = NULL;
      g_autoptr(GBytes) payload = sw_test_pattern_bytes (1000, 15);
      g_autoptr(GBytes) frame = varint_frame (payload);
      const guint8 *data = g_bytes_get_data (frame, NULL);
      gsize size = g_bytes_get_size (frame);
      int fd;

      connection = make_raw_peer (framing, &fd);
      sw_connection_set_read_ahead (connection, read_ahead);

      /* Only the first header byte. */
      sw_test_write_all (fd, data, 1);
      assert_receive_error (connection, 0, NULL, G_IO_ERROR_TIMED_OUT);
      /* The rest of the header and half the payload. */
      sw_test_write_all (fd, data + 1, size / 2 - 1);
      assert_receive_error (connection, 0, NULL, G_IO_ERROR_TIMED_OUT);
      assert_receive_error (connection, 10000, NULL, G_IO_ERROR_TIMED_OUT);
      /* The rest, then the message is whole. */
      sw_test_write_all (fd, data + size / 2, size - size / 2);
      assert_receive_pattern (connection, 1000, 15);
      assert_stolen_empty (connection);
      g_assert_cmpint (close (fd), ==, 0);
    }
}

static void
test_receive_cancel_mid_frame (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwFraming) framing = mp_framing ();
  g_autoptr(SwConnection) connection = NULL;
  g_autoptr(GCancellable) cancelled = g_cancellable_new ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GBytes) payload = sw_test_pattern_bytes (5000, 16);
  g_autoptr(GBytes) got = NULL;
  static const guint8 header[] = { 0, 0, 0x13, 0x88 };  /* 5000 */
  const guint8 *data = g_bytes_get_data (payload, NULL);
  SwTestReceiver *receiver;
  int fd;

  connection = make_raw_peer (framing, &fd);
  sw_test_write_all (fd, header, 4);
  sw_test_write_all (fd, data, 2000);
  /* A zero-timeout receive takes in what is there. */
  assert_receive_error (connection, 0, NULL, G_IO_ERROR_TIMED_OUT);

  /* Already cancelled. */
  g_cancellable_cancel (cancelled);
  assert_receive_error (connection, -1, cancelled, G_IO_ERROR_CANCELLED);

  /* Cancelled from another thread while waiting for the rest. */
  receiver = sw_test_receiver_new (connection, cancellable);
  sw_test_receiver_wait_polling (receiver);
  g_cancellable_cancel (cancellable);
  got = sw_test_receiver_join (receiver, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (got);

  sw_test_write_all (fd, data + 2000, 3000);
  assert_receive_pattern (connection, 5000, 16);
  g_assert_cmpint (close (fd), ==, 0);
}

static void
test_receive_eof_boundary (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwFraming) framing = varint_framing ();
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(SwConnection) reader = NULL;
  g_autoptr(SwConnection) writer = NULL;

  make_socketpair (framing, &a, &b);
  send_pattern (a, 50, 17);
  g_assert_true (sw_connection_close (a, NULL, &error));
  g_assert_no_error (error);
  assert_receive_pattern (b, 50, 17);
  assert_receive_error (b, -1, NULL, G_IO_ERROR_CONNECTION_CLOSED);
  assert_receive_error (b, 0, NULL, G_IO_ERROR_CONNECTION_CLOSED);

  g_assert_true (sw_pipe (framing, &reader, &writer, &error));
  g_assert_no_error (error);
  send_pattern (writer, 0, 18);
  g_clear_object (&writer);
  assert_receive_pattern (reader, 0, 18);
  assert_receive_error (reader, -1, NULL, G_IO_ERROR_CONNECTION_CLOSED);
}

static void
check_partial_frame (SwFraming    *framing,
                     const guint8 *data,
                     gsize         size)
{
  g_autoptr(SwConnection) connection = NULL;
  g_autoptr(GBytes) stolen = NULL;
  int fd;

  connection = make_raw_peer (framing, &fd);
  sw_test_write_all (fd, data, size);
  g_assert_cmpint (close (fd), ==, 0);
  assert_receive_error (connection, -1, NULL, G_IO_ERROR_PARTIAL_INPUT);
  stolen = sw_connection_steal_buffered_input (connection, NULL);
  assert_bytes_equal_data (stolen, data, size);
  assert_stolen_empty (connection);
}

static void
test_receive_eof_mid_frame (void)
{
  g_autoptr(SwFraming) varint = varint_framing ();
  g_autoptr(SwFraming) mp = mp_framing ();
  g_autoptr(GBytes) payload = sw_test_pattern_bytes (1000, 19);
  g_autoptr(GBytes) frame = varint_frame (payload);
  static const guint8 varint_header_part[] = { 249 };  /* needs 2 more */
  static const guint8 mp_header_part[] = { 0, 0 };
  static const guint8 mp_long_part[] = { 0xff, 0xff, 0xff, 0xff, 0, 0, 0 };

  /* Inside the payload: header bytes included in what is kept. */
  check_partial_frame (varint, g_bytes_get_data (frame, NULL), 302);
  /* Inside the header. */
  check_partial_frame (varint, varint_header_part, 1);
  check_partial_frame (mp, mp_header_part, 2);
  check_partial_frame (mp, mp_long_part, sizeof mp_long_part);
}

static void
test_receive_invalid_header (void)
{
  g_autoptr(SwFraming) framing = mp_framing ();
  g_autoptr(SwConnection) connection = NULL;
  static const guint8 header[] = { 0xff, 0xff, 0xff, 0xfe, 'x', 'y' };
  int fd;

  connection = make_raw_peer (framing, &fd);
  sw_test_write_all (fd, header, sizeof header);
  assert_receive_error (connection, -1, NULL, G_IO_ERROR_INVALID_DATA);
  g_assert_cmpint (close (fd), ==, 0);
}

/* The -1 long form of the multiprocessing header, for any length. */
static void
test_receive_mp_long_header (void)
{
  g_autoptr(SwFraming) framing = mp_framing ();
  g_autoptr(SwConnection) connection = NULL;
  g_autoptr(GBytes) payload = sw_test_pattern_bytes (300, 20);
  static const guint8 long_300[] = { 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0x01, 0x2c };
  static const guint8 long_0[] = { 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0 };
  int fd;

  connection = make_raw_peer (framing, &fd);
  sw_test_write_all (fd, long_300, sizeof long_300);
  sw_test_write_all (fd, g_bytes_get_data (payload, NULL), 300);
  sw_test_write_all (fd, long_0, sizeof long_0);
  assert_receive_pattern (connection, 300, 20);
  assert_receive_pattern (connection, 0, 0);
  g_assert_cmpint (close (fd), ==, 0);
  assert_receive_error (connection, -1, NULL, G_IO_ERROR_CONNECTION_CLOSED);
}

static void
test_receive_too_large (gconstpointer data)
{
  g_autoptr(SwFraming) framing = GPOINTER_TO_INT (data) ? mp_framing () : varint_framing ();
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;

  make_socketpair (framing, &a, &b);
  sw_connection_set_max_message_size (b, 1000);
  send_pattern (a, 5000, 21);
  send_pattern (a, 10, 22);
  send_pattern (a, 1001, 23);
  send_pattern (a, 1000, 24);
  assert_receive_error (b, -1, NULL, G_IO_ERROR_MESSAGE_TOO_LARGE);
  assert_receive_pattern (b, 10, 22);
  assert_receive_error (b, -1, NULL, G_IO_ERROR_MESSAGE_TOO_LARGE);
  assert_receive_pattern (b, 1000, 24);
  assert_stolen_empty (b);
}

/* 0 means no limit, as G_MAXUINT64 does: it is the spelling JavaScript can
 * write. The getter returns what was set. */
static void
test_receive_limit_zero (void)
{
  g_autoptr(SwFraming) framing = varint_framing ();
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;

  make_socketpair (framing, &a, &b);
  sw_connection_set_max_message_size (b, 1000);
  sw_connection_set_max_message_size (b, 0);
  g_assert_cmpuint (sw_connection_get_max_message_size (b), ==, 0);
  send_pattern (a, 5000, 31);
  send_pattern (a, 0, 32);
  assert_receive_pattern (b, 5000, 31);
  assert_receive_pattern (b, 0, 32);
  assert_stolen_empty (b);
}

/* The oversized payload arrives after the error: it is skipped as it
 * comes. With @data TRUE the peer closes part-way through the skipped
 * payload: the frame ends inside its payload, which is PARTIAL_INPUT, not a
 * clean EOF. */
static void
test_receive_too_large_incremental (gconstpointer data)
{
  gboolean eof_while_skipping = GPOINTER_TO_INT (data);
  g_autoptr(SwFraming) framing = varint_framing ();
  g_autoptr(SwConnection) connection = NULL;
  g_autoptr(GBytes) big = sw_test_pattern_bytes (5000, 25);
  g_autoptr(GBytes) big_frame = varint_frame (big);
  g_autoptr(GBytes) small = sw_test_pattern_bytes (10, 26);
  g_autoptr(GBytes) small_frame = varint_frame (small);
  const guint8 *frame = g_bytes_get_data (big_frame, NULL);
  int fd;

  connection = make_raw_peer (framing, &fd);
  sw_connection_set_max_message_size (connection, 1000);
  sw_test_write_all (fd, frame, 100);
  assert_receive_error (connection, 0, NULL, G_IO_ERROR_MESSAGE_TOO_LARGE);
  assert_receive_error (connection, 0, NULL, G_IO_ERROR_TIMED_OUT);
  if (eof_while_skipping)
    {
      sw_test_write_all (fd, frame + 100, 900);
      assert_receive_error (connection, 0, NULL, G_IO_ERROR_TIMED_OUT);
      g_assert_cmpint (close (fd), ==, 0);
      assert_receive_error (connection, -1, NULL, G_IO_ERROR_PARTIAL_INPUT);
      return;
    }
  sw_test_write_all (fd, frame + 100, g_bytes_get_size (big_frame) - 100);
  sw_test_write_all (fd, g_bytes_get_data (small_frame, NULL),
                     g_bytes_get_size (small_frame));
  assert_receive_pattern (connection, 10, 26);
  g_assert_cmpint (close (fd), ==, 0);
}

/* A header announcing 100 MiB followed by 10 bytes and EOF: the declared
 * length is not trusted (under ASan/valgrind a 100 MiB allocation would
 * still pass, but an allocation sized from the header plus the partial
 * data must not crash and the result must be exact). */
static void
test_receive_lying_header (void)
{
  g_autoptr(SwFraming) framing = varint_framing ();
  g_autoptr(SwConnection) connection = NULL;
  g_autoptr(GBytes) stolen = NULL;
  guint8 frame[9 + 10];
  gsize header_len = sw_test_varint_encode (100 * 1024 * 1024, frame);
  int fd;

  g_assert_cmpuint (header_len, ==, 5);
  g_assert_cmpmem (frame, 5, "\xfb\x06\x40\x00\x00", 5);
  memset (frame + header_len, 'z', 10);

  connection = make_raw_peer (framing, &fd);
  sw_connection_set_max_message_size (connection, G_MAXUINT64);
  sw_test_write_all (fd, frame, header_len + 10);
  g_assert_cmpint (close (fd), ==, 0);
  assert_receive_error (connection, -1, NULL, G_IO_ERROR_PARTIAL_INPUT);
  stolen = sw_connection_steal_buffered_input (connection, NULL);
  assert_bytes_equal_data (stolen, frame, header_len + 10);
}

/* The same in a forked child whose address space leaves no room for a
 * buffer sized from the header: an up-front 100 MiB allocation aborts the
 * child. Not under ASan or valgrind, which need the address space. */
static gboolean
address_space_is_free (void)
{
#if defined (__SANITIZE_ADDRESS__)
  return FALSE;
#else
  const char *preload = g_getenv ("LD_PRELOAD");

  return preload == NULL || strstr (preload, "vgpreload") == NULL;
#endif
}

static int
lying_header_child (SwConnection *connection)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) message = NULL;
  g_autofree char *statm = NULL;
  struct rlimit limit;
  guint64 pages;

  if (!g_file_get_contents ("/proc/self/statm", &statm, NULL, NULL))
    return 2;
  pages = g_ascii_strtoull (statm, NULL, 10);
  limit.rlim_cur = limit.rlim_max = pages * (guint64) sysconf (_SC_PAGESIZE) + 48 * 1024 * 1024;
  if (setrlimit (RLIMIT_AS, &limit) != 0)
    return 3;
  message = sw_connection_receive_message (connection, -1, NULL, &error);
  return g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT) ? 0 : 1;
}

static void
test_receive_lying_header_rlimit (void)
{
  g_autoptr(SwFraming) framing = varint_framing ();
  SwConnection *connection;
  guint8 frame[9 + 10];
  gsize header_len = sw_test_varint_encode (100 * 1024 * 1024, frame);
  int fd, status;
  pid_t pid;

  if (!address_space_is_free ())
    {
      g_test_skip ("needs a plain build (no ASan, no valgrind)");
      return;
    }
  memset (frame + header_len, 'z', 10);
  connection = make_raw_peer (framing, &fd);
  sw_test_write_all (fd, frame, header_len + 10);
  g_assert_cmpint (close (fd), ==, 0);

  pid = fork ();
  g_assert_cmpint (pid, !=, -1);
  if (pid == 0)
    _exit (lying_header_child (connection));
  g_object_unref (connection);
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);
}

/* Thread A waits in receive (holding the receive lock); a receive with a
 * 10 ms bound times out — the lock wait counts. */
static void
test_receive_lock_timeout (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwFraming) framing = varint_framing ();
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) got = NULL;
  SwTestReceiver *receiver;

  make_socketpair (framing, &a, &b);
  receiver = sw_test_receiver_new (b, NULL);
  sw_test_receiver_wait_polling (receiver);
  assert_receive_error (b, 10000, NULL, G_IO_ERROR_TIMED_OUT);
  assert_receive_error (b, 0, NULL, G_IO_ERROR_TIMED_OUT);
  send_pattern (a, 77, 27);
  got = sw_test_receiver_join (receiver, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (got), ==, 77);
  g_assert_true (sw_test_pattern_check (got, 27));
}

/* A deadline that falls between two milliseconds of poll()'s timeout:
 * the wait may not end before it. Checked against the clock after the
 * error, which holds however slow the machine is. */
static void
assert_receive_waits_until (SwConnection *connection,
                            gint64        timeout_us)
{
  gint64 deadline = g_get_monotonic_time () + timeout_us;

  assert_receive_error (connection, timeout_us, NULL, G_IO_ERROR_TIMED_OUT);
  g_assert_cmpint (g_get_monotonic_time (), >=, deadline);
}

static void
test_receive_timeout_between_ticks (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwFraming) framing = varint_framing ();
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) m1 = sw_test_pattern_bytes (BIG_MESSAGE_SIZE, 29);
  static const gint64 timeouts[] = { 1, 500, 999, 1001, 1500, 2500 };
  SwTestReceiver *receiver;

  make_socketpair (framing, &a, &b);
  /* Waiting for data. */
  for (guint i = 0; i < G_N_ELEMENTS (timeouts); i++)
    assert_receive_waits_until (b, timeouts[i]);

  /* Waiting for room to write. */
  g_assert_true (sw_connection_send_message (a, m1, 0, NULL, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (timeouts); i++)
    {
      gint64 deadline = g_get_monotonic_time () + timeouts[i];

      g_assert_false (sw_connection_flush (a, timeouts[i], NULL, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
      g_clear_error (&error);
      g_assert_cmpint (g_get_monotonic_time (), >=, deadline);
    }

  /* Waiting for the lock, held by a thread waiting for data. */
  receiver = sw_test_receiver_new (a, NULL);
  sw_test_receiver_wait_polling (receiver);
  for (guint i = 0; i < G_N_ELEMENTS (timeouts); i++)
    assert_receive_waits_until (a, timeouts[i]);
  send_pattern (b, 5, 29);
  g_clear_pointer (&m1, g_bytes_unref);
  m1 = sw_test_receiver_join (receiver, &error);
  g_assert_no_error (error);
  g_assert_true (sw_test_pattern_check (m1, 29));
}

/* Read-ahead */

static GBytes *
three_messages_sent (SwConnection *a)
{
  GByteArray *wire = g_byte_array_new ();

  for (guint i = 0; i < 3; i++)
    {
      g_autoptr(GBytes) payload = sw_test_pattern_bytes (100 + i, 30 + i);
      g_autoptr(GBytes) frame = varint_frame (payload);

      g_assert_true (sw_connection_send_message (a, payload, -1, NULL, NULL));
      if (i > 0)
        g_byte_array_append (wire, g_bytes_get_data (frame, NULL),
                             (guint) g_bytes_get_size (frame));
    }
  /* The wire bytes of messages 2 and 3. */
  return g_byte_array_free_to_bytes (wire);
}

static void
test_receive_read_ahead_false (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwFraming) framing = varint_framing ();
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(SwConnection) b2 = NULL;
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GBytes) rest = NULL;

  make_socketpair (framing, &a, &b);
  sw_connection_set_read_ahead (b, FALSE);
  rest = three_messages_sent (a);
  assert_receive_pattern (b, 100, 30);
  assert_stolen_empty (b);

  /* The other two are still in the fd: a second connection on a dup of it
   * receives them. */
  socket = g_socket_new_from_fd (dup (sw_connection_get_fd (b)), &error);
  g_assert_no_error (error);
  b2 = sw_connection_new (socket, framing);
  assert_receive_pattern (b2, 101, 31);
  assert_receive_pattern (b2, 102, 32);
}

/* Without read-ahead a fixed-size raw read takes exactly that many bytes:
 * nothing is buffered and the rest is still in the fd. */
static void
test_receive_read_ahead_false_bytes (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) data = g_bytes_new_static ("abcdef", 6);
  g_autoptr(GBytes) got = NULL;
  char rest[16];
  gssize n;

  make_socketpair (NULL, &a, &b);
  sw_connection_set_read_ahead (b, FALSE);
  g_assert_cmpint (sw_connection_send_bytes (a, data, -1, NULL, &error), ==, 6);
  g_assert_no_error (error);
  got = sw_connection_receive_bytes (b, 2, -1, NULL, &error);
  g_assert_no_error (error);
  assert_bytes_equal_data (got, "ab", 2);
  assert_stolen_empty (b);
  n = recv (sw_connection_get_fd (b), rest, sizeof rest, MSG_DONTWAIT);
  g_assert_cmpint (n, ==, 4);
  g_assert_cmpmem (rest, 4, "cdef", 4);
}

static void
test_receive_read_ahead_true (void)
{
  g_autoptr(SwFraming) framing = varint_framing ();
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) rest = NULL;
  g_autoptr(GBytes) stolen = NULL;

  make_socketpair (framing, &a, &b);
  g_assert_true (sw_connection_get_read_ahead (b));
  rest = three_messages_sent (a);
  assert_receive_pattern (b, 100, 30);
  /* All three were in the socket in one read: the surplus is buffered. */
  stolen = sw_connection_steal_buffered_input (b, NULL);
  g_assert_nonnull (stolen);
  g_assert_true (g_bytes_equal (stolen, rest));
  assert_receive_error (b, 0, NULL, G_IO_ERROR_TIMED_OUT);
}

/* Send */

static void
test_send_committed (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwFraming) framing = varint_framing ();
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) m1 = sw_test_pattern_bytes (BIG_MESSAGE_SIZE, 40);
  g_autoptr(GBytes) m2 = sw_test_pattern_bytes (100, 41);
  g_autoptr(GBytes) got = NULL;
  g_autoptr(GCancellable) cancelled = g_cancellable_new ();
  SwTestReceiver *receiver;

  make_socketpair (framing, &a, &b);

  /* Part of m1 goes out, then no room: committed, so TRUE. */
  g_assert_true (sw_connection_send_message (a, m1, 0, NULL, &error));
  g_assert_no_error (error);

  /* The buffer is full and m1's rest is pending: m2 writes nothing. */
  g_assert_false (sw_connection_send_message (a, m2, 0, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);
  g_assert_false (sw_connection_send_message (a, m2, 10000, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);
  g_cancellable_cancel (cancelled);
  g_assert_false (sw_connection_send_message (a, m2, -1, cancelled, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_assert_false (sw_connection_flush (a, 0, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);

  /* The peer reads; flush finishes m1. */
  receiver = sw_test_receiver_new (b, NULL);
  g_assert_true (sw_connection_flush (a, -1, NULL, &error));
  g_assert_no_error (error);
  got = sw_test_receiver_join (receiver, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (got), ==, BIG_MESSAGE_SIZE);
  g_assert_true (sw_test_pattern_check (got, 40));
  /* Nothing pending: flush(0) succeeds. */
  g_assert_true (sw_connection_flush (a, 0, NULL, &error));
  g_assert_no_error (error);

  send_pattern (a, 50, 42);
  assert_receive_pattern (b, 50, 42);

  /* m2 never appears: the next thing after m3 is EOF. */
  g_assert_true (sw_connection_close (a, NULL, &error));
  g_assert_no_error (error);
  assert_receive_error (b, -1, NULL, G_IO_ERROR_CONNECTION_CLOSED);
}

/* A later send finishes the pending frame before its own. */
static void
test_send_committed_next_send (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwFraming) framing = mp_framing ();
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) m1 = sw_test_pattern_bytes (BIG_MESSAGE_SIZE, 43);
  g_autoptr(GBytes) m2 = sw_test_pattern_bytes (1000, 44);
  SwTestSender *sender;

  make_socketpair (framing, &a, &b);
  g_assert_true (sw_connection_send_message (a, m1, 0, NULL, &error));
  g_assert_no_error (error);
  sender = sw_test_sender_new (a, &m2, 1);
  assert_receive_pattern (b, BIG_MESSAGE_SIZE, 43);
  assert_receive_pattern (b, 1000, 44);
  g_assert_true (sw_test_sender_join (sender, &error));
  g_assert_no_error (error);
}

/* close() finishes a committed frame before closing. With @data TRUE, raw
 * bytes sent after the committed frame come first: they must follow the
 * whole frame (close then pushes out whatever is still pending, so a
 * misplaced write shows as a wrong message rather than a hang). */
static void
test_send_close_finishes_frame (gconstpointer data)
{
  gboolean raw_first = GPOINTER_TO_INT (data);
  g_autoptr(GError) error = NULL;
  g_autoptr(SwFraming) framing = varint_framing ();
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) m1 = sw_test_pattern_bytes (BIG_MESSAGE_SIZE, 45);
  g_autoptr(GBytes) raw = g_bytes_new_static ("RAW", 3);
  g_autoptr(GBytes) got = NULL;
  SwTestReceiver *receiver;

  make_socketpair (framing, &a, &b);
  g_assert_true (sw_connection_send_message (a, m1, 0, NULL, &error));
  g_assert_no_error (error);

  receiver = sw_test_receiver_new (b, NULL);
  if (raw_first)
    {
      g_assert_cmpint (sw_connection_send_bytes (a, raw, -1, NULL, &error), ==, 3);
      g_assert_no_error (error);
    }
  g_assert_true (sw_connection_close (a, NULL, &error));
  g_assert_no_error (error);
  got = sw_test_receiver_join (receiver, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (got), ==, BIG_MESSAGE_SIZE);
  g_assert_true (sw_test_pattern_check (got, 45));
  if (raw_first)
    {
      g_autoptr(GBytes) got_raw = sw_connection_receive_bytes (b, 3, -1, NULL, &error);

      g_assert_no_error (error);
      assert_bytes_equal_data (got_raw, "RAW", 3);
    }
  assert_receive_error (b, -1, NULL, G_IO_ERROR_CONNECTION_CLOSED);
}

/* Several threads on one connection: every message whole, each thread's
 * in order. */
#define N_SENDERS 4
#define N_PER_SENDER 200

typedef struct
{
  SwConnection *connection;
  guint32 id;
  GError *error;
} InterleaveSender;

static gpointer
interleave_thread (gpointer data)
{
  InterleaveSender *sender = data;
  GRand *rand = g_rand_new_with_seed (sender->id);

  for (guint32 seq = 0; seq < N_PER_SENDER && sender->error == NULL; seq++)
    {
      gsize size = (gsize) g_rand_int_range (rand, 0, 64 * 1024 + 1);
      guint8 *buf = g_malloc (8 + size);
      g_autoptr(GBytes) message = NULL;
      guint32 id_be = GUINT32_TO_BE (sender->id);
      guint32 seq_be = GUINT32_TO_BE (seq);

      memcpy (buf, &id_be, 4);
      memcpy (buf + 4, &seq_be, 4);
      sw_test_pattern_fill (buf + 8, size, sender->id << 16 | seq);
      message = g_bytes_new_take (buf, 8 + size);
      sw_connection_send_message (sender->connection, message, -1, NULL,
                                  &sender->error);
    }
  g_rand_free (rand);
  return NULL;
}

static void
test_send_threads (void)
{
  g_autoptr(SwFraming) framing = varint_framing ();
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  InterleaveSender senders[N_SENDERS];
  GThread *threads[N_SENDERS];
  guint32 next_seq[N_SENDERS] = { 0 };

  make_socketpair (framing, &a, &b);
  for (guint i = 0; i < N_SENDERS; i++)
    {
      senders[i] = (InterleaveSender) { .connection = a, .id = i };
      threads[i] = g_thread_new ("sender", interleave_thread, &senders[i]);
    }

  for (guint n = 0; n < N_SENDERS * N_PER_SENDER; n++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) message = sw_connection_receive_message (b, -1, NULL, &error);
      const guint8 *data;
      gsize size;
      guint32 id, seq;

      g_assert_no_error (error);
      data = g_bytes_get_data (message, &size);
      g_assert_cmpuint (size, >=, 8);
      memcpy (&id, data, 4);
      memcpy (&seq, data + 4, 4);
      id = GUINT32_FROM_BE (id);
      seq = GUINT32_FROM_BE (seq);
      g_assert_cmpuint (id, <, N_SENDERS);
      g_assert_cmpuint (seq, ==, next_seq[id]);
      next_seq[id]++;
      g_assert_true (sw_test_pattern_check_data (data + 8, size - 8, id << 16 | seq));
    }

  for (guint i = 0; i < N_SENDERS; i++)
    {
      g_thread_join (threads[i]);
      g_assert_no_error (senders[i].error);
      g_assert_cmpuint (next_seq[i], ==, N_PER_SENDER);
    }
  assert_receive_error (b, 0, NULL, G_IO_ERROR_TIMED_OUT);
}

static void
test_send_broken_pipe (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwFraming) framing = varint_framing ();
  g_autoptr(SwConnection) reader = NULL;
  g_autoptr(SwConnection) writer = NULL;
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) message = sw_test_pattern_bytes (10, 50);
  gssize n;

  g_assert_true (sw_pipe (framing, &reader, &writer, &error));
  g_assert_no_error (error);
  g_clear_object (&reader);
  g_assert_false (sw_connection_send_message (writer, message, -1, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE);
  g_assert_cmpint (G_IO_ERROR_BROKEN_PIPE, ==, G_IO_ERROR_CONNECTION_CLOSED);
  g_clear_error (&error);
  n = sw_connection_send_bytes (writer, message, -1, NULL, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE);
  g_assert_cmpint (n, ==, -1);
  g_clear_error (&error);

  make_socketpair (framing, &a, &b);
  g_clear_object (&b);
  g_assert_false (sw_connection_send_message (a, message, -1, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE);
}

/* In a fresh process (SIGPIPE at its default), using only sw_pipe: the
 * library must keep the process alive. */
static void
test_send_no_sigpipe (void)
{
  if (g_test_subprocess ())
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(SwConnection) reader = NULL;
      g_autoptr(SwConnection) writer = NULL;
      g_autoptr(GBytes) message = g_bytes_new_static ("x", 1);

      /* Nothing of the library has run in this process yet, so restoring
       * the default (GSpawn does too) makes the test independent of what
       * the parent inherited. */
      g_assert_null (g_type_class_peek (SW_TYPE_CONNECTION));
      g_assert_null (g_type_class_peek (G_TYPE_SOCKET));
      signal (SIGPIPE, SIG_DFL);

      g_assert_true (sw_pipe (NULL, &reader, &writer, &error));
      g_assert_no_error (error);
      g_clear_object (&reader);
      g_assert_cmpint (sw_connection_send_bytes (writer, message, -1, NULL, &error), ==, -1);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE);
      g_assert_null (g_type_class_peek (G_TYPE_SOCKET));
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

static void
test_send_framing_null (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) message = g_bytes_new_static ("abc", 3);

  make_socketpair (NULL, &a, &b);
  g_assert_null (sw_connection_get_framing (a));
  g_assert_false (sw_connection_send_message (a, message, -1, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  g_clear_error (&error);
  assert_receive_error (b, 0, NULL, G_IO_ERROR_NOT_SUPPORTED);
}

static void
test_direction_not_supported (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwFraming) framing = varint_framing ();
  g_autoptr(SwConnection) reader = NULL;
  g_autoptr(SwConnection) writer = NULL;
  g_autoptr(GBytes) message = g_bytes_new_static ("abc", 3);
  g_autoptr(GBytes) got = NULL;

  g_assert_true (sw_pipe (framing, &reader, &writer, &error));
  g_assert_no_error (error);

  g_assert_false (sw_connection_send_message (reader, message, -1, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  g_clear_error (&error);
  g_assert_cmpint (sw_connection_send_bytes (reader, message, -1, NULL, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  g_clear_error (&error);

  assert_receive_error (writer, -1, NULL, G_IO_ERROR_NOT_SUPPORTED);
  got = sw_connection_receive_bytes (writer, -1, -1, NULL, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  g_assert_null (got);
  g_clear_error (&error);

  /* Both still work in their own direction. */
  send_pattern (writer, 3, 51);
  assert_receive_pattern (reader, 3, 51);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/sw/connection/receive/timeout-empty", test_receive_timeout_empty);
  g_test_add_func ("/sw/connection/receive/timeout-mid-frame", test_receive_timeout_mid_frame);
  g_test_add_func ("/sw/connection/receive/cancel-mid-frame", test_receive_cancel_mid_frame);
  g_test_add_func ("/sw/connection/receive/eof-boundary", test_receive_eof_boundary);
  g_test_add_func ("/sw/connection/receive/eof-mid-frame", test_receive_eof_mid_frame);
  g_test_add_func ("/sw/connection/receive/invalid-header", test_receive_invalid_header);
  g_test_add_func ("/sw/connection/receive/mp-long-header", test_receive_mp_long_header);
  g_test_add_data_func ("/sw/connection/receive/too-large/varint", GINT_TO_POINTER (0), test_receive_too_large);
  g_test_add_data_func ("/sw/connection/receive/too-large/multiprocessing", GINT_TO_POINTER (1), test_receive_too_large);
  g_test_add_data_func ("/sw/connection/receive/too-large/incremental",
                        GINT_TO_POINTER (FALSE), test_receive_too_large_incremental);
  g_test_add_data_func ("/sw/connection/receive/too-large/eof-while-skipping",
                        GINT_TO_POINTER (TRUE), test_receive_too_large_incremental);
  g_test_add_func ("/sw/connection/receive/lying-header", test_receive_lying_header);
  g_test_add_func ("/sw/connection/receive/lying-header-rlimit", test_receive_lying_header_rlimit);
  g_test_add_func ("/sw/connection/receive/lock-timeout", test_receive_lock_timeout);
  g_test_add_func ("/sw/connection/receive/timeout-between-ticks",
                   test_receive_timeout_between_ticks);
  g_test_add_func ("/sw/connection/receive/read-ahead-false", test_receive_read_ahead_false);
  g_test_add_func ("/sw/connection/receive/read-ahead-false-bytes",
                   test_receive_read_ahead_false_bytes);
  g_test_add_func ("/sw/connection/receive/read-ahead-true", test_receive_read_ahead_true);
  g_test_add_func ("/sw/connection/send/committed", test_send_committed);
  g_test_add_func ("/sw/connection/send/committed-next-send", test_send_committed_next_send);
  g_test_add_data_func ("/sw/connection/send/close-finishes-frame",
                        GINT_TO_POINTER (FALSE), test_send_close_finishes_frame);
  g_test_add_data_func ("/sw/connection/send/committed-then-bytes",
                        GINT_TO_POINTER (TRUE), test_send_close_finishes_frame);
  g_test_add_func ("/sw/connection/send/threads", test_send_threads);
  g_test_add_func ("/sw/connection/send/broken-pipe", test_send_broken_pipe);
  g_test_add_func ("/sw/connection/send/no-sigpipe", test_send_no_sigpipe);
  g_test_add_func ("/sw/connection/send/framing-null", test_send_framing_null);
  g_test_add_func ("/sw/connection/direction/not-supported", test_direction_not_supported);
  g_test_add_func ("/sw/connection/receive/limit-zero", test_receive_limit_zero);

  return g_test_run ();
}
