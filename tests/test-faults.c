/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Injected faults and resource limits: write errors in the middle of a
 * frame, input left behind by PARTIAL_INPUT and MESSAGE_TOO_LARGE, file
 * descriptor exhaustion, and cancellation racing completion. */
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sw-connection-private.h"
#include "sw-operation-private.h"
#include "sw-test-util.h"

static SwConnection *
make_raw_peer (SwFraming *framing,
               int       *raw_fd)
{
  int fds[2];

  sw_test_raw_socketpair (SOCK_STREAM, fds);
  *raw_fd = fds[1];
  return sw_test_connection_for_socket_fd (fds[0], framing);
}

/* ---- input left behind ------------------------------------------------ */

/* A frame of @framing around a @size-byte payload, as the peer sends it.
 * For MessagePack the payload is a bin 32 object. */
static GBytes *
encode_frame (SwFraming *framing,
              gsize      size)
{
  g_autoptr(GBytes) payload = NULL;
  g_autoptr(GBytes) header = NULL;
  g_autoptr(GBytes) trailer = NULL;
  g_autoptr(GError) error = NULL;
  GByteArray *frame = g_byte_array_new ();
  guint8 *data = g_malloc (size);

  sw_test_pattern_fill (data, size, 7);
  if (SW_IS_MSGPACK_FRAMING (framing))
    {
      data[0] = 0xc6;
      data[1] = (guint8) ((size - 5) >> 24);
      data[2] = (guint8) ((size - 5) >> 16);
      data[3] = (guint8) ((size - 5) >> 8);
      data[4] = (guint8) (size - 5);
    }
  payload = g_bytes_new_take (data, size);
  g_assert_true (sw_framing_encode (framing, payload, &header, &trailer, &error));
  g_assert_no_error (error);
  g_byte_array_append (frame, g_bytes_get_data (header, NULL), (guint) g_bytes_get_size (header));
  g_byte_array_append (frame, g_bytes_get_data (payload, NULL), (guint) size);
  if (trailer != NULL)
    g_byte_array_append (frame, g_bytes_get_data (trailer, NULL),
                         (guint) g_bytes_get_size (trailer));
  return g_byte_array_free_to_bytes (frame);
}

/* EOF in the middle of a frame with more than 64 KiB buffered (a payload
 * read straight into its own buffer, for framings that know the length):
 * the stolen input is every byte received, in order. */
static void
test_steal_after_partial_input (gconstpointer data)
{
  g_autoptr(SwFraming) framing = g_object_new (GPOINTER_TO_SIZE (data), NULL);
  g_autoptr(SwConnection) connection = NULL;
  g_autoptr(GBytes) frame = encode_frame (framing, 200 * 1024);
  g_autoptr(GBytes) stolen = NULL;
  g_autoptr(GBytes) received = NULL;
  g_autoptr(GError) error = NULL;
  gsize sent = 70 * 1024;
  int fd;

  connection = make_raw_peer (framing, &fd);
  sw_test_write_all (fd, g_bytes_get_data (frame, NULL), sent);
  g_assert_cmpint (close (fd), ==, 0);

  received = sw_connection_receive_message (connection, -1, NULL, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT);
  g_assert_null (received);

  stolen = sw_connection_steal_buffered_input (connection);
  g_assert_cmpmem (g_bytes_get_data (stolen, NULL), g_bytes_get_size (stolen),
                   g_bytes_get_data (frame, NULL), sent);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_data_func ("/sw/faults/steal/partial-input/varint",
                        GSIZE_TO_POINTER (SW_TYPE_VARINT_FRAMING),
                        test_steal_after_partial_input);
  g_test_add_data_func ("/sw/faults/steal/partial-input/multiprocessing",
                        GSIZE_TO_POINTER (SW_TYPE_MULTIPROCESSING_FRAMING),
                        test_steal_after_partial_input);
  g_test_add_data_func ("/sw/faults/steal/partial-input/msgpack",
                        GSIZE_TO_POINTER (SW_TYPE_MSGPACK_FRAMING),
                        test_steal_after_partial_input);

  return g_test_run ();
}
