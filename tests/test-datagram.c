/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* SwConnection on datagram and seqpacket sockets: one datagram is one
 * message, the framing adds no header, sizes come from the kernel, never a
 * silent truncation (DESIGN §4 "Datagrams"). */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sw-test-util.h"
#include "sw-transport-private.h"

#define BIG_DATAGRAM (100 * 1024)

static void
make_pair (GSocketType    type,
           SwFraming     *framing,
           SwConnection **a,
           SwConnection **b)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (sw_socketpair (G_SOCKET_FAMILY_UNIX, type, framing, a, b, &error));
  g_assert_no_error (error);
  g_assert_nonnull (*a);
  g_assert_nonnull (*b);
}

static void
raise_buffers (SwConnection *connection)
{
  int fd = sw_connection_get_fd (connection);
  int size = 1024 * 1024;

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (setsockopt (fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size), ==, 0);
  g_assert_cmpint (setsockopt (fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size), ==, 0);
}

static void
send_pattern (SwConnection *connection,
              gsize         size,
              guint32       seed)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) message = sw_test_pattern_bytes (size, seed);

  g_assert_true (sw_connection_send_message (connection, message, -1, NULL, &error));
  g_assert_no_error (error);
}

static void
assert_pattern (GBytes  *bytes,
                gsize    size,
                guint32  seed)
{
  g_assert_nonnull (bytes);
  g_assert_cmpuint (g_bytes_get_size (bytes), ==, size);
  g_assert_true (sw_test_pattern_check (bytes, seed));
}

static void
assert_receive_pattern (SwConnection *connection,
                        gsize         size,
                        guint32       seed)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) message = sw_connection_receive_message (connection, -1, NULL, &error);

  g_assert_no_error (error);
  assert_pattern (message, size, seed);
}

static void
assert_receive_error (SwConnection *connection,
                      gint64        timeout_us,
                      gint          code)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) message = sw_connection_receive_message (connection, timeout_us,
                                                             NULL, &error);

  g_assert_error (error, G_IO_ERROR, code);
  g_assert_null (message);
}

static GSocketType
type_of (gconstpointer data)
{
  return (GSocketType) GPOINTER_TO_INT (data);
}

/* Each message is one datagram, in order, whatever the framing. */
static void
test_boundaries (gconstpointer data)
{
  g_autoptr(SwFraming) framing = SW_FRAMING (sw_varint_framing_new ());
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  static const gsize sizes[] = { 1, 240, 241, 2288, 30000, 1 };

  make_pair (type_of (data), framing, &a, &b);
  g_assert_true (sw_connection_get_readable (a));
  g_assert_true (sw_connection_get_writable (a));
  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    send_pattern (a, sizes[i], 200 + i);
  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    assert_receive_pattern (b, sizes[i], 200 + i);
  /* and the other way */
  send_pattern (b, 17, 210);
  assert_receive_pattern (a, 17, 210);
}

/* The framing adds no header: the raw datagram is the payload. */
static void
test_no_header (gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwFraming) framing = SW_FRAMING (sw_multiprocessing_framing_new ());
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(GBytes) message = NULL;
  char buf[64];
  gssize n;
  int fds[2];

  sw_test_raw_socketpair (type_of (data) == G_SOCKET_TYPE_DATAGRAM ?
                          SOCK_DGRAM : SOCK_SEQPACKET, fds);
  a = sw_test_connection_for_socket_fd (fds[0], framing);

  send_pattern (a, 10, 220);
  n = recv (fds[1], buf, sizeof buf, 0);
  g_assert_cmpint (n, ==, 10);
  g_assert_true (sw_test_pattern_check_data ((const guint8 *) buf, 10, 220));

  g_assert_cmpint (send (fds[1], "hello", 5, 0), ==, 5);
  message = sw_connection_receive_message (a, -1, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (message, NULL), g_bytes_get_size (message), "hello", 5);
  g_assert_cmpint (close (fds[1]), ==, 0);
}

/* A blind receive returns a datagram bigger than 64 KiB whole, and so does
 * receive_message. */
static void
test_blind_large (gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) got = NULL;

  make_pair (type_of (data), NULL, &a, &b);
  raise_buffers (a);
  raise_buffers (b);

  send_pattern (a, BIG_DATAGRAM, 230);
  send_pattern (a, BIG_DATAGRAM + 1, 231);
  got = sw_connection_receive_bytes (b, -1, -1, NULL, &error);
  g_assert_no_error (error);
  assert_pattern (got, BIG_DATAGRAM, 230);
  assert_receive_pattern (b, BIG_DATAGRAM + 1, 231);
}

/* receive_bytes(n) on a bigger datagram: MESSAGE_TOO_LARGE, and the
 * datagram stays queued. */
static void
test_fixed_too_small (gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) got = NULL;
  g_autoptr(GBytes) exact = NULL;

  make_pair (type_of (data), NULL, &a, &b);
  send_pattern (a, 1000, 240);
  send_pattern (a, 300, 241);

  got = sw_connection_receive_bytes (b, 10, -1, NULL, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
  g_assert_null (got);
  g_clear_error (&error);
  got = sw_connection_receive_bytes (b, 999, 0, NULL, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
  g_assert_null (got);
  g_clear_error (&error);

  got = sw_connection_receive_bytes (b, -1, -1, NULL, &error);
  g_assert_no_error (error);
  assert_pattern (got, 1000, 240);

  exact = sw_connection_receive_bytes (b, 300, -1, NULL, &error);
  g_assert_no_error (error);
  assert_pattern (exact, 300, 241);
}

/* max-message-size applies to datagrams too; the datagram is dropped and
 * the next one is received. */
static void
test_too_large (gconstpointer data)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;

  make_pair (type_of (data), NULL, &a, &b);
  sw_connection_set_max_message_size (b, 1000);
  send_pattern (a, 5000, 250);
  send_pattern (a, 10, 251);
  assert_receive_error (b, -1, G_IO_ERROR_MESSAGE_TOO_LARGE);
  assert_receive_pattern (b, 10, 251);
}

static void
test_dgram_empty_message (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) empty = g_bytes_new (NULL, 0);
  g_autoptr(GBytes) got = NULL;

  make_pair (G_SOCKET_TYPE_DATAGRAM, SW_FRAMING (sw_framing_get_default ()), &a, &b);
  g_assert_true (sw_connection_send_message (a, empty, -1, NULL, &error));
  g_assert_no_error (error);
  send_pattern (a, 3, 260);
  assert_receive_pattern (b, 0, 0);
  assert_receive_pattern (b, 3, 260);

  /* A blind raw receive of an empty datagram is an empty GBytes too: no
   * EOF on DGRAM. */
  g_assert_true (sw_connection_send_message (a, empty, -1, NULL, &error));
  g_assert_no_error (error);
  got = sw_connection_receive_bytes (b, -1, -1, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (got);
  g_assert_cmpuint (g_bytes_get_size (got), ==, 0);
}

static void
test_seqpacket_empty_message (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) empty = g_bytes_new (NULL, 0);

  make_pair (G_SOCKET_TYPE_SEQPACKET, NULL, &a, &b);
  g_assert_false (sw_connection_send_message (a, empty, -1, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  /* Nothing was sent; the connection still works. */
  assert_receive_error (b, 0, G_IO_ERROR_TIMED_OUT);
  send_pattern (a, 4, 270);
  assert_receive_pattern (b, 4, 270);
}

static void
test_seqpacket_eof (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) got = NULL;

  make_pair (G_SOCKET_TYPE_SEQPACKET, NULL, &a, &b);
  send_pattern (a, 8, 280);
  g_assert_true (sw_connection_close (a, NULL, &error));
  g_assert_no_error (error);
  assert_receive_pattern (b, 8, 280);
  assert_receive_error (b, -1, G_IO_ERROR_CONNECTION_CLOSED);
  got = sw_connection_receive_bytes (b, -1, -1, NULL, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
  g_assert_null (got);
}

static void
test_timeout (gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) got = NULL;

  make_pair (type_of (data), NULL, &a, &b);
  assert_receive_error (b, 0, G_IO_ERROR_TIMED_OUT);
  assert_receive_error (b, 10000, G_IO_ERROR_TIMED_OUT);
  got = sw_connection_receive_bytes (b, -1, 0, NULL, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_null (got);
  send_pattern (a, 5, 290);
  assert_receive_pattern (b, 5, 290);
}

/* DGRAM has no EOF: after the peer is gone a receive waits for its
 * timeout. */
static void
test_dgram_no_eof (void)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;

  make_pair (G_SOCKET_TYPE_DATAGRAM, NULL, &a, &b);
  g_clear_object (&a);
  assert_receive_error (b, 0, G_IO_ERROR_TIMED_OUT);
}

static void
test_sizes (gconstpointer data)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  static const gsize sizes[] = { 1, 240, 241, 2287, 2288, 67823, 67824, BIG_DATAGRAM };

  make_pair (type_of (data), NULL, &a, &b);
  raise_buffers (a);
  raise_buffers (b);
  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      send_pattern (a, sizes[i], 300 + i);
      assert_receive_pattern (b, sizes[i], 300 + i);
    }
}

/* A raw datagram that could not be sent before its timeout is dropped:
 * retrying it does not send it twice. */
static void
test_send_bytes_timeout_not_resent (gconstpointer data)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) fill = g_bytes_new_static ("fill", 4);
  g_autoptr(GBytes) refused = g_bytes_new_static ("REFUSED", 7);
  g_autoptr(GBytes) next = g_bytes_new_static ("NEXT", 4);
  g_autoptr(GError) error = NULL;
  guint n_filled = 0;

  make_pair (type_of (data), NULL, &a, &b);
  while (sw_connection_send_bytes (a, fill, 0, NULL, &error) >= 0)
    n_filled++;
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);

  g_assert_cmpint (sw_connection_send_bytes (a, refused, 0, NULL, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);

  for (guint i = 0; i < n_filled; i++)
    {
      g_autoptr(GBytes) datagram = sw_connection_receive_bytes (b, -1, -1, NULL, &error);

      g_assert_no_error (error);
      g_assert_true (g_bytes_equal (datagram, fill));
    }
  g_assert_cmpint (sw_connection_send_bytes (a, next, -1, NULL, &error), ==, 4);
  g_assert_no_error (error);
  {
    g_autoptr(GBytes) datagram = sw_connection_receive_bytes (b, -1, -1, NULL, &error);

    g_assert_no_error (error);
    g_assert_true (g_bytes_equal (datagram, next));
  }
  assert_receive_error (b, 0, G_IO_ERROR_TIMED_OUT);
}

static void
add_both (const char *name,
          GTestDataFunc func)
{
  g_autofree char *dgram = g_strdup_printf ("/sw/datagram/dgram/%s", name);
  g_autofree char *seqpacket = g_strdup_printf ("/sw/datagram/seqpacket/%s", name);

  g_test_add_data_func (dgram, GINT_TO_POINTER (G_SOCKET_TYPE_DATAGRAM), func);
  g_test_add_data_func (seqpacket, GINT_TO_POINTER (G_SOCKET_TYPE_SEQPACKET), func);
}

/* Receiving a datagram into a buffer sized by an earlier peek: a datagram
 * that grew meanwhile (another reader shares the socket) is an error,
 * never silently cut to the buffer. */
static void
test_recv_datagram_larger_than_peeked (void)
{
  static const char payload[] = "a datagram of forty bytes, more or less";
  SwTransport transport = { .in_fd = -1, .out_fd = -1, .is_socket = TRUE,
                            .socket_type = SOCK_DGRAM };
  g_autoptr(GError) error = NULL;
  guint8 buffer[10];
  gsize n_read = 0;
  int fds[2];

  sw_test_raw_socketpair (SOCK_DGRAM, fds);
  transport.in_fd = fds[0];
  g_assert_cmpint (send (fds[1], payload, sizeof payload, 0), ==, (int) sizeof payload);
  g_assert_cmpint (sw_transport_recv_datagram (&transport, buffer, sizeof buffer, &n_read, &error),
                   ==, SW_IO_ERROR);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
  close (fds[0]);
  close (fds[1]);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  add_both ("boundaries", test_boundaries);
  add_both ("no-header", test_no_header);
  add_both ("blind-large", test_blind_large);
  add_both ("fixed-too-small", test_fixed_too_small);
  add_both ("too-large", test_too_large);
  add_both ("timeout", test_timeout);
  add_both ("sizes", test_sizes);
  add_both ("send-bytes-timeout-not-resent", test_send_bytes_timeout_not_resent);
  g_test_add_func ("/sw/datagram/dgram/empty-message", test_dgram_empty_message);
  g_test_add_func ("/sw/datagram/dgram/no-eof", test_dgram_no_eof);
  g_test_add_func ("/sw/datagram/seqpacket/empty-message", test_seqpacket_empty_message);
  g_test_add_func ("/sw/datagram/seqpacket/eof", test_seqpacket_eof);
  g_test_add_func ("/sw/datagram/dgram/recv-larger-than-peeked",
                   test_recv_datagram_larger_than_peeked);

  return g_test_run ();
}
