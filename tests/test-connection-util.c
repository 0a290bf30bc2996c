/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Helpers shared by test-connection.c and test-connection-io.c. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>

#include "sw-test-util.h"
#include "test-connection-util.h"

SwFraming *
varint_framing (void)
{
  return SW_FRAMING (sw_varint_framing_new ());
}

SwFraming *
mp_framing (void)
{
  return SW_FRAMING (sw_multiprocessing_framing_new ());
}

void
make_socketpair (SwFraming     *framing,
                 SwConnection **a,
                 SwConnection **b)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (sw_socketpair (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
                                framing, a, b, &error));
  g_assert_no_error (error);
  g_assert_nonnull (*a);
  g_assert_nonnull (*b);
}

SwConnection *
make_raw_peer (SwFraming *framing,
               int       *raw_fd)
{
  int fds[2];

  sw_test_raw_socketpair (SOCK_STREAM, fds);
  *raw_fd = fds[1];
  return sw_test_connection_for_socket_fd (fds[0], framing);
}

GBytes *
varint_frame (GBytes *payload)
{
  guint8 header[9];
  gsize header_len = sw_test_varint_encode (g_bytes_get_size (payload), header);
  GByteArray *frame = g_byte_array_new ();

  g_byte_array_append (frame, header, (guint) header_len);
  g_byte_array_append (frame, g_bytes_get_data (payload, NULL),
                       (guint) g_bytes_get_size (payload));
  return g_byte_array_free_to_bytes (frame);
}

void
assert_bytes_equal_data (GBytes       *bytes,
                         const void   *data,
                         gsize         size)
{
  g_assert_nonnull (bytes);
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes),
                   data, size);
}

void
assert_stolen_empty (SwConnection *connection)
{
  g_autoptr(GBytes) stolen = sw_connection_steal_buffered_input (connection, NULL);

  g_assert_nonnull (stolen);
  g_assert_cmpuint (g_bytes_get_size (stolen), ==, 0);
}

void
assert_receive_error (SwConnection *connection,
                      gint64        timeout_us,
                      GCancellable *cancellable,
                      gint          code)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) message = sw_connection_receive_message (connection,
                                                             timeout_us,
                                                             cancellable,
                                                             &error);

  g_assert_error (error, G_IO_ERROR, code);
  g_assert_null (message);
}

void
assert_receive_pattern (SwConnection *connection,
                        gsize         size,
                        guint32       seed)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) message = sw_connection_receive_message (connection, -1,
                                                             NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (message);
  g_assert_cmpuint (g_bytes_get_size (message), ==, size);
  g_assert_true (sw_test_pattern_check (message, seed));
}

void
send_pattern (SwConnection *connection,
              gsize         size,
              guint32       seed)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) message = sw_test_pattern_bytes (size, seed);

  g_assert_true (sw_connection_send_message (connection, message, -1, NULL,
                                             &error));
  g_assert_no_error (error);
}
