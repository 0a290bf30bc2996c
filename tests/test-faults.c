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
  /* No delimiter inside the payload. */
  if (SW_IS_DELIMITER_FRAMING (framing))
    memset (data, 'x', size);
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

/* A newline-terminated framing written with the public vfuncs that counts
 * every byte its decoder examines, to show whether the connection makes it
 * rescan what it already scanned. */
#define TEST_TYPE_LINE_FRAMING (test_line_framing_get_type ())
G_DECLARE_FINAL_TYPE (TestLineFraming, test_line_framing, TEST, LINE_FRAMING, GObject)

struct _TestLineFraming
{
  GObject parent_instance;
  guint64 n_examined;
};

static void test_line_framing_iface_init (SwFramingInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (TestLineFraming, test_line_framing, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (SW_TYPE_FRAMING,
                                                      test_line_framing_iface_init))

static SwFramingResult
test_line_framing_decode (SwFraming     *framing,
                          const guint8  *data,
                          gsize          length,
                          guint64       *state,
                          gsize         *header_length,
                          guint64       *payload_length,
                          gsize         *trailer_length,
                          gsize         *needed,
                          GError       **error)
{
  TestLineFraming *self = TEST_LINE_FRAMING (framing);

  /* @state: how far earlier calls scanned this frame. */
  for (gsize i = (gsize) *state; i < length; i++)
    {
      self->n_examined++;
      if (data[i] == '\n')
        {
          *header_length = 0;
          *payload_length = i;
          *trailer_length = 1;
          return SW_FRAMING_RESULT_FRAME;
        }
    }
  *state = length;
  *needed = 1;
  return SW_FRAMING_RESULT_NEED_MORE;
}

static gboolean
test_line_framing_encode (SwFraming  *framing,
                          GBytes     *payload,
                          GBytes    **header,
                          GBytes    **trailer,
                          GError    **error)
{
  *header = g_bytes_new_static ("", 0);
  *trailer = g_bytes_new_static ("\n", 1);
  return TRUE;
}

static void
test_line_framing_iface_init (SwFramingInterface *iface)
{
  iface->decode = test_line_framing_decode;
  iface->encode = test_line_framing_encode;
}

static void
test_line_framing_class_init (TestLineFramingClass *klass)
{
}

static void
test_line_framing_init (TestLineFraming *self)
{
}

#define LINE_LIMIT (16 * 1024)
#define LINE_SENT (100 * 1024)

/* A scanning framing's frame over the limit: every retry fails with
 * MESSAGE_TOO_LARGE without scanning the buffered bytes again, and
 * stealing them leaves the connection no buffer. */
static void
test_too_large_scan_retry (void)
{
  g_autoptr(TestLineFraming) framing = g_object_new (TEST_TYPE_LINE_FRAMING, NULL);
  g_autoptr(SwConnection) connection = NULL;
  g_autoptr(GBytes) stolen = NULL;
  guint8 *data = g_malloc (LINE_SENT);
  SwInput *input;
  guint64 examined;
  int fd;

  memset (data, 'x', LINE_SENT);
  connection = make_raw_peer (SW_FRAMING (framing), &fd);
  sw_connection_set_max_message_size (connection, LINE_LIMIT);
  input = &sw_connection_get_channel (connection)->input;
  sw_test_write_all (fd, data, LINE_SENT);

  for (guint i = 0; i < 5; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) received = sw_connection_receive_message (connection, 0, NULL,
                                                                  &error);

      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
      g_assert_null (received);
      if (i == 0)
        examined = framing->n_examined;
    }
  /* The retries examined nothing new: the refusal stands on what the
   * first call scanned. */
  g_assert_cmpuint (framing->n_examined, ==, examined);
  g_assert_cmpuint (examined, <=, input->end - input->start);

  stolen = sw_connection_steal_buffered_input (connection);
  g_assert_cmpuint (g_bytes_get_size (stolen), >, LINE_LIMIT);
  g_assert_true (memcmp (g_bytes_get_data (stolen, NULL), data,
                         g_bytes_get_size (stolen)) == 0);
  g_assert_null (input->data);
  g_assert_cmpuint (input->capacity, ==, 0);

  g_free (data);
  close (fd);
}

/* The same with the built-in scanning framings: each retry is refused
 * again and the stolen bytes are what was sent, with no buffer kept. */
static void
test_too_large_builtin_retry (gconstpointer data)
{
  g_autoptr(SwFraming) framing = NULL;
  g_autoptr(SwConnection) connection = NULL;
  g_autoptr(GBytes) frame = NULL;
  g_autoptr(GBytes) stolen = NULL;
  SwInput *input;
  int fd;

  if (GPOINTER_TO_SIZE (data) == SW_TYPE_DELIMITER_FRAMING)
    {
      g_autoptr(GBytes) delimiter = g_bytes_new_static ("\r\n", 2);

      framing = SW_FRAMING (sw_delimiter_framing_new (delimiter));
    }
  else
    framing = g_object_new (GPOINTER_TO_SIZE (data), NULL);
  frame = encode_frame (framing, LINE_SENT);
  if (SW_IS_MSGPACK_FRAMING (framing))
    {
      /* An array of small items: its length is unknown until scanned. */
      guint8 *array = g_bytes_unref_to_data (g_steal_pointer (&frame), &(gsize) { 0 });

      memset (array + 5, 0, LINE_SENT - 5);
      array[0] = 0xdd;
      frame = g_bytes_new_take (array, LINE_SENT);
    }
  connection = make_raw_peer (framing, &fd);
  sw_connection_set_max_message_size (connection, LINE_LIMIT);
  input = &sw_connection_get_channel (connection)->input;
  /* Without its delimiter: the frame never ends. */
  sw_test_write_all (fd, g_bytes_get_data (frame, NULL), LINE_SENT - 5);

  for (guint i = 0; i < 3; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) received = sw_connection_receive_message (connection, 0, NULL,
                                                                  &error);

      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
      g_assert_null (received);
    }
  stolen = sw_connection_steal_buffered_input (connection);
  g_assert_cmpuint (g_bytes_get_size (stolen), >, 0);
  g_assert_true (memcmp (g_bytes_get_data (stolen, NULL), g_bytes_get_data (frame, NULL),
                         g_bytes_get_size (stolen)) == 0);
  g_assert_null (input->data);
  g_assert_cmpuint (input->capacity, ==, 0);
  close (fd);
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

  g_test_add_func ("/sw/faults/too-large/scan-retry", test_too_large_scan_retry);
  g_test_add_data_func ("/sw/faults/too-large/retry/delimiter",
                        GSIZE_TO_POINTER (SW_TYPE_DELIMITER_FRAMING),
                        test_too_large_builtin_retry);
  g_test_add_data_func ("/sw/faults/too-large/retry/msgpack",
                        GSIZE_TO_POINTER (SW_TYPE_MSGPACK_FRAMING),
                        test_too_large_builtin_retry);

  return g_test_run ();
}
