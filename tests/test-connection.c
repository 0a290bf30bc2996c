/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* SwConnection on stream sockets, pipes and GIO streams: construction,
 * properties, whole messages, timeouts, EOF, bad input, committed sends,
 * read-ahead, threads and close (DESIGN §3, §4). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gio/gunixinputstream.h>
#include <gio/gunixoutputstream.h>

#include "sw-test-util.h"

/* Bigger than any default socket buffer, so a send of it cannot finish
 * without the peer reading. */
#define BIG_MESSAGE_SIZE (4 * 1024 * 1024)

static SwFraming *
varint_framing (void)
{
  return SW_FRAMING (sw_varint_framing_new ());
}

static SwFraming *
mp_framing (void)
{
  return SW_FRAMING (sw_multiprocessing_framing_new ());
}

static void
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

/* A connection on one end of a socketpair and the other end as a raw,
 * blocking fd the test writes frames to by hand. */
static SwConnection *
make_raw_peer (SwFraming *framing,
               int       *raw_fd)
{
  int fds[2];

  sw_test_raw_socketpair (SOCK_STREAM, fds);
  *raw_fd = fds[1];
  return sw_test_connection_for_socket_fd (fds[0], framing);
}

static GBytes *
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

static void
assert_bytes_equal_data (GBytes       *bytes,
                         const void   *data,
                         gsize         size)
{
  g_assert_nonnull (bytes);
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes),
                   data, size);
}

static void
assert_stolen_empty (SwConnection *connection)
{
  g_autoptr(GBytes) stolen = sw_connection_steal_buffered_input (connection, NULL);

  g_assert_nonnull (stolen);
  g_assert_cmpuint (g_bytes_get_size (stolen), ==, 0);
}

static void
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

static void
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

static void
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

/* Construction */

static void
test_new_socket (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwFraming) framing = varint_framing ();
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  int fds[2];

  sw_test_raw_socketpair (SOCK_STREAM, fds);
  socket = g_socket_new_from_fd (fds[0], &error);
  g_assert_no_error (error);
  a = sw_connection_new (socket, framing);
  b = sw_test_connection_for_socket_fd (fds[1], framing);

  g_assert_true (sw_connection_get_socket (a) == socket);
  g_assert_true (sw_connection_get_framing (a) == framing);
  g_assert_cmpint (sw_connection_get_fd (a), ==, fds[0]);
  g_assert_true (sw_connection_get_readable (a));
  g_assert_true (sw_connection_get_writable (a));
  g_assert_false (sw_connection_get_closed (a));
  g_assert_true (sw_test_fd_is_nonblocking (fds[0]));

  send_pattern (a, 1000, 1);
  assert_receive_pattern (b, 1000, 1);
  send_pattern (b, 10, 2);
  assert_receive_pattern (a, 10, 2);
}

static void
test_new_stream (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwFraming) framing = varint_framing ();
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocketConnection) stream = NULL;
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  int fds[2];

  sw_test_raw_socketpair (SOCK_STREAM, fds);
  socket = g_socket_new_from_fd (fds[0], &error);
  g_assert_no_error (error);
  stream = g_socket_connection_factory_create_connection (socket);
  a = sw_connection_new_for_stream (G_IO_STREAM (stream), framing);
  b = sw_test_connection_for_socket_fd (fds[1], framing);

  g_assert_true (sw_connection_get_readable (a));
  g_assert_true (sw_connection_get_writable (a));
  g_assert_cmpint (sw_connection_get_fd (a), ==, fds[0]);

  send_pattern (a, 5000, 3);
  assert_receive_pattern (b, 5000, 3);
  send_pattern (b, 0, 4);
  assert_receive_pattern (a, 0, 4);

  g_assert_true (sw_connection_close (a, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_io_stream_is_closed (G_IO_STREAM (stream)));
}

static void
test_new_streams (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwFraming) framing = varint_framing ();
  g_autoptr(GInputStream) input = NULL;
  g_autoptr(GOutputStream) output = NULL;
  g_autoptr(SwConnection) reader = NULL;
  g_autoptr(SwConnection) writer = NULL;
  int fds[2];

  g_assert_cmpint (pipe2 (fds, O_CLOEXEC), ==, 0);
  g_assert_false (sw_test_fd_is_nonblocking (fds[0]));
  input = g_unix_input_stream_new (fds[0], TRUE);
  output = g_unix_output_stream_new (fds[1], TRUE);
  reader = sw_connection_new_for_streams (input, NULL, framing);
  writer = sw_connection_new_for_streams (NULL, output, framing);

  g_assert_true (sw_connection_get_input_stream (reader) == input);
  g_assert_null (sw_connection_get_output_stream (reader));
  g_assert_true (sw_connection_get_output_stream (writer) == output);
  g_assert_null (sw_connection_get_input_stream (writer));
  g_assert_null (sw_connection_get_socket (reader));
  g_assert_true (sw_connection_get_readable (reader));
  g_assert_false (sw_connection_get_writable (reader));
  g_assert_false (sw_connection_get_readable (writer));
  g_assert_true (sw_connection_get_writable (writer));
  g_assert_cmpint (sw_connection_get_fd (reader), ==, fds[0]);
  g_assert_cmpint (sw_connection_get_fd (writer), ==, fds[1]);
  /* Wrapping made both ends non-blocking. */
  g_assert_true (sw_test_fd_is_nonblocking (fds[0]));
  g_assert_true (sw_test_fd_is_nonblocking (fds[1]));

  send_pattern (writer, 241, 5);
  assert_receive_pattern (reader, 241, 5);
}

/* Memory streams wrap no fd: the stream transport works on any pollable
 * stream, and the wire bytes are exactly header + payload. */
static void
test_new_memory_streams (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwFraming) framing = varint_framing ();
  g_autoptr(GOutputStream) output = g_memory_output_stream_new_resizable ();
  g_autoptr(GInputStream) input = NULL;
  g_autoptr(SwConnection) writer = NULL;
  g_autoptr(SwConnection) reader = NULL;
  g_autoptr(GBytes) payload = sw_test_pattern_bytes (241, 6);
  g_autoptr(GBytes) expected = varint_frame (payload);
  g_autoptr(GBytes) wire = NULL;

  writer = sw_connection_new_for_streams (NULL, output, framing);
  g_assert_cmpint (sw_connection_get_fd (writer), ==, -1);
  g_assert_false (sw_connection_get_inheritable (writer));
  g_assert_true (sw_connection_send_message (writer, payload, -1, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (sw_connection_flush (writer, -1, NULL, &error));
  g_assert_no_error (error);

  wire = g_bytes_new (g_memory_output_stream_get_data (G_MEMORY_OUTPUT_STREAM (output)),
                      g_memory_output_stream_get_data_size (G_MEMORY_OUTPUT_STREAM (output)));
  g_assert_true (g_bytes_equal (wire, expected));
  /* 241 = f1 01 in SQLite4 varint */
  g_assert_cmpuint (((const guint8 *) g_bytes_get_data (wire, NULL))[0], ==, 0xf1);

  input = g_memory_input_stream_new_from_bytes (wire);
  reader = sw_connection_new_for_streams (input, NULL, framing);
  assert_receive_pattern (reader, 241, 6);
  assert_receive_error (reader, -1, NULL, G_IO_ERROR_CONNECTION_CLOSED);
}

static void
test_new_fd (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwFraming) framing = varint_framing ();
  g_autoptr(SwConnection) sa = NULL;
  g_autoptr(SwConnection) sb = NULL;
  g_autoptr(SwConnection) reader = NULL;
  g_autoptr(SwConnection) writer = NULL;
  g_autoptr(SwConnection) null_reader = NULL;
  g_autoptr(GBytes) data = NULL;
  int sfds[2], pfds[2], null_fd;

  /* A socket fd is wrapped in a GSocket. */
  sw_test_raw_socketpair (SOCK_STREAM, sfds);
  sa = sw_connection_new_for_fd (sfds[0], framing, &error);
  g_assert_no_error (error);
  sb = sw_connection_new_for_fd (sfds[1], framing, &error);
  g_assert_no_error (error);
  g_assert_nonnull (sw_connection_get_socket (sa));
  g_assert_cmpint (g_socket_get_fd (sw_connection_get_socket (sa)), ==, sfds[0]);
  g_assert_cmpint (sw_connection_get_fd (sa), ==, sfds[0]);
  g_assert_true (sw_connection_get_readable (sa));
  g_assert_true (sw_connection_get_writable (sa));
  send_pattern (sa, 2288, 7);
  assert_receive_pattern (sb, 2288, 7);

  /* Pipe ends become unix streams according to their access mode. */
  g_assert_cmpint (pipe2 (pfds, O_CLOEXEC), ==, 0);
  reader = sw_connection_new_for_fd (pfds[0], framing, &error);
  g_assert_no_error (error);
  writer = sw_connection_new_for_fd (pfds[1], framing, &error);
  g_assert_no_error (error);
  g_assert_null (sw_connection_get_socket (reader));
  g_assert_nonnull (sw_connection_get_input_stream (reader));
  g_assert_nonnull (sw_connection_get_output_stream (writer));
  g_assert_true (sw_connection_get_readable (reader));
  g_assert_false (sw_connection_get_writable (reader));
  g_assert_false (sw_connection_get_readable (writer));
  g_assert_true (sw_connection_get_writable (writer));
  g_assert_cmpint (sw_connection_get_fd (reader), ==, pfds[0]);
  g_assert_true (sw_test_fd_is_nonblocking (pfds[0]));
  g_assert_true (sw_test_fd_is_nonblocking (pfds[1]));
  /* Less than the pipe's 64 KiB buffer: no reader thread needed. */
  send_pattern (writer, 60000, 8);
  assert_receive_pattern (reader, 60000, 8);

  /* A read-only character device: readable only, at EOF at once. */
  null_fd = open ("/dev/null", O_RDONLY | O_CLOEXEC);
  g_assert_cmpint (null_fd, >=, 0);
  null_reader = sw_connection_new_for_fd (null_fd, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (sw_connection_get_readable (null_reader));
  g_assert_false (sw_connection_get_writable (null_reader));
  data = sw_connection_receive_bytes (null_reader, -1, -1, NULL, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
  g_assert_null (data);
}

static void
test_new_fd_invalid (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwConnection) connection = NULL;
  int fds[2];

  connection = sw_connection_new_for_fd (-1, NULL, &error);
  g_assert_null (connection);
  g_assert_nonnull (error);
  g_assert_true (error->domain == G_IO_ERROR);
  g_clear_error (&error);

  /* A closed fd number (nothing else can take it: this thread is the only
   * one opening fds). */
  g_assert_cmpint (pipe2 (fds, O_CLOEXEC), ==, 0);
  g_assert_cmpint (close (fds[1]), ==, 0);
  connection = sw_connection_new_for_fd (fds[1], NULL, &error);
  g_assert_null (connection);
  g_assert_nonnull (error);
  g_assert_true (error->domain == G_IO_ERROR);
  g_assert_cmpint (close (fds[0]), ==, 0);
}

/* Properties */

static void
test_properties_defaults (void)
{
  g_autoptr(SwFraming) framing = varint_framing ();
  g_autoptr(SwFraming) other = mp_framing ();
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(SwFraming) got_framing = NULL;
  g_autoptr(GSocket) got_socket = NULL;
  g_autoptr(GInputStream) got_input = NULL;
  g_autoptr(GOutputStream) got_output = NULL;
  gboolean readable, writable, closed, inheritable, close_wrapped, read_ahead;
  guint64 max_message_size;

  make_socketpair (framing, &a, &b);
  g_object_get (a,
                "framing", &got_framing,
                "socket", &got_socket,
                "input-stream", &got_input,
                "output-stream", &got_output,
                "readable", &readable,
                "writable", &writable,
                "closed", &closed,
                "inheritable", &inheritable,
                "close-wrapped", &close_wrapped,
                "max-message-size", &max_message_size,
                "read-ahead", &read_ahead,
                NULL);
  g_assert_true (got_framing == framing);
  g_assert_nonnull (got_socket);
  g_assert_true (readable);
  g_assert_true (writable);
  g_assert_false (closed);
  g_assert_false (inheritable);
  g_assert_true (close_wrapped);
  g_assert_cmpuint (max_message_size, ==, SW_DEFAULT_MAX_MESSAGE_SIZE);
  g_assert_cmpuint (max_message_size, ==, 128 * 1024 * 1024);
  g_assert_true (read_ahead);

  sw_connection_set_max_message_size (a, 1000);
  g_assert_cmpuint (sw_connection_get_max_message_size (a), ==, 1000);
  g_object_set (a, "max-message-size", G_MAXUINT64, NULL);
  g_assert_cmpuint (sw_connection_get_max_message_size (a), ==, G_MAXUINT64);
  sw_connection_set_read_ahead (a, FALSE);
  g_assert_false (sw_connection_get_read_ahead (a));
  g_object_set (a, "read-ahead", TRUE, NULL);
  g_assert_true (sw_connection_get_read_ahead (a));

  /* The framing can change between messages. */
  sw_connection_set_framing (a, other);
  sw_connection_set_framing (b, other);
  g_assert_true (sw_connection_get_framing (a) == other);
  send_pattern (a, 300, 9);
  assert_receive_pattern (b, 300, 9);
}

static void
on_notify_closed (GObject    *object,
                  GParamSpec *pspec,
                  gpointer    user_data)
{
  guint *count = user_data;

  g_assert_cmpstr (pspec->name, ==, "closed");
  (*count)++;
}

static gboolean
on_guard_timeout (gpointer user_data)
{
  g_error ("notify::closed was never emitted");
  return G_SOURCE_REMOVE;
}

static void
test_properties_closed_notify (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  guint count = 0;
  guint guard;

  make_socketpair (NULL, &a, &b);
  g_signal_connect (a, "notify::closed", G_CALLBACK (on_notify_closed), &count);
  g_assert_true (sw_connection_close (a, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (sw_connection_get_closed (a));

  /* The notify may be dispatched from the main context: iterate, with a
   * generous guard so a missing notify fails instead of hanging. */
  guard = g_timeout_add_seconds (30, on_guard_timeout, NULL);
  while (count == 0)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (guard);

  g_assert_true (sw_connection_close (a, NULL, &error));
  g_assert_no_error (error);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_cmpuint (count, ==, 1);
}

static void
test_properties_inheritable (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(SwConnection) reader = NULL;
  g_autoptr(SwConnection) writer = NULL;
  gboolean inheritable;
  SwConnection *all[4];

  make_socketpair (NULL, &a, &b);
  g_assert_true (sw_pipe (NULL, &reader, &writer, &error));
  g_assert_no_error (error);
  all[0] = a;
  all[1] = b;
  all[2] = reader;
  all[3] = writer;

  for (guint i = 0; i < G_N_ELEMENTS (all); i++)
    {
      int fd = sw_connection_get_fd (all[i]);

      g_assert_cmpint (fd, >=, 0);
      /* Library-made fds: close-on-exec and non-blocking. */
      g_assert_true (sw_test_fd_is_cloexec (fd));
      g_assert_true (sw_test_fd_is_nonblocking (fd));
      g_assert_false (sw_connection_get_inheritable (all[i]));

      sw_connection_set_inheritable (all[i], TRUE);
      g_assert_true (sw_connection_get_inheritable (all[i]));
      g_assert_false (sw_test_fd_is_cloexec (fd));

      g_object_set (all[i], "inheritable", FALSE, NULL);
      g_object_get (all[i], "inheritable", &inheritable, NULL);
      g_assert_false (inheritable);
      g_assert_true (sw_test_fd_is_cloexec (fd));
    }
}

static void
test_properties_close_wrapped (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwFraming) framing = varint_framing ();
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocket) socket2 = NULL;
  g_autoptr(GInputStream) input = NULL;
  g_autoptr(GInputStream) input2 = NULL;
  SwConnection *connection;
  int fds[2], pfds[2], dup_fd;
  gssize n;
  char buf[3];

  /* close-wrapped FALSE on a socket: the GSocket and its fd survive. */
  sw_test_raw_socketpair (SOCK_STREAM, fds);
  socket = g_socket_new_from_fd (fds[0], &error);
  g_assert_no_error (error);
  connection = g_object_new (SW_TYPE_CONNECTION,
                             "socket", socket,
                             "framing", framing,
                             "close-wrapped", FALSE,
                             NULL);
  g_assert_false (sw_connection_get_close_wrapped (connection));
  g_assert_true (sw_connection_close (connection, NULL, &error));
  g_assert_no_error (error);
  g_object_unref (connection);
  g_assert_false (g_socket_is_closed (socket));
  g_assert_true (sw_test_fd_is_open (fds[0]));
  n = g_socket_send (socket, "abc", 3, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (n, ==, 3);
  sw_test_read_all (fds[1], buf, 3);
  g_assert_cmpmem (buf, 3, "abc", 3);
  g_assert_cmpint (close (fds[1]), ==, 0);

  /* close-wrapped FALSE on a socket fd: the connection wraps a duplicate,
   * close-on-exec like every fd the library makes, and closes it; the
   * caller's fd stays open. */
  sw_test_raw_socketpair (SOCK_STREAM, fds);
  connection = g_initable_new (SW_TYPE_CONNECTION, NULL, &error,
                               "fd", fds[0],
                               "framing", framing,
                               "close-wrapped", FALSE,
                               NULL);
  g_assert_no_error (error);
  dup_fd = g_socket_get_fd (sw_connection_get_socket (connection));
  g_assert_cmpint (dup_fd, !=, fds[0]);
  g_assert_true (sw_test_fd_is_cloexec (dup_fd));
  g_assert_true (sw_connection_close (connection, NULL, &error));
  g_assert_no_error (error);
  g_assert_false (sw_test_fd_is_open (dup_fd));
  g_object_unref (connection);
  g_assert_true (sw_test_fd_is_open (fds[0]));
  sw_test_write_all (fds[0], "def", 3);
  sw_test_read_all (fds[1], buf, 3);
  g_assert_cmpmem (buf, 3, "def", 3);
  g_assert_cmpint (close (fds[0]), ==, 0);
  g_assert_cmpint (close (fds[1]), ==, 0);

  /* close-wrapped FALSE on a stream. */
  g_assert_cmpint (pipe2 (pfds, O_CLOEXEC), ==, 0);
  input = g_unix_input_stream_new (pfds[0], TRUE);
  connection = g_object_new (SW_TYPE_CONNECTION,
                             "input-stream", input,
                             "close-wrapped", FALSE,
                             NULL);
  g_assert_true (sw_connection_close (connection, NULL, &error));
  g_assert_no_error (error);
  g_object_unref (connection);
  g_assert_false (g_input_stream_is_closed (input));
  g_assert_true (sw_test_fd_is_open (pfds[0]));
  g_assert_cmpint (close (pfds[1]), ==, 0);

  /* The default (TRUE) closes what it wraps. */
  sw_test_raw_socketpair (SOCK_STREAM, fds);
  socket2 = g_socket_new_from_fd (fds[0], &error);
  g_assert_no_error (error);
  connection = sw_connection_new (socket2, NULL);
  g_assert_true (sw_connection_get_close_wrapped (connection));
  g_assert_true (sw_connection_close (connection, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_socket_is_closed (socket2));
  g_object_unref (connection);
  g_assert_cmpint (close (fds[1]), ==, 0);

  g_assert_cmpint (pipe2 (pfds, O_CLOEXEC), ==, 0);
  input2 = g_unix_input_stream_new (pfds[0], TRUE);
  connection = sw_connection_new_for_streams (input2, NULL, NULL);
  g_assert_true (sw_connection_close (connection, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_input_stream_is_closed (input2));
  g_object_unref (connection);
  g_assert_cmpint (close (pfds[1]), ==, 0);
}

/* Whole messages */

static const gsize message_sizes[] = {
  0, 1, 240, 241, 2287, 2288, 67823, 67824, 1024 * 1024, 16 * 1024 * 1024,
};

static void
roundtrip_sizes (SwConnection *sender_end,
                 SwConnection *receiver_end)
{
  g_autoptr(GError) error = NULL;
  GBytes *messages[G_N_ELEMENTS (message_sizes)];
  SwTestSender *sender;

  for (guint i = 0; i < G_N_ELEMENTS (message_sizes); i++)
    messages[i] = sw_test_pattern_bytes (message_sizes[i], 100 + i);

  /* The big ones do not fit in the socket buffer: send from a thread. */
  sender = sw_test_sender_new (sender_end, messages, G_N_ELEMENTS (messages));
  for (guint i = 0; i < G_N_ELEMENTS (message_sizes); i++)
    assert_receive_pattern (receiver_end, message_sizes[i], 100 + i);
  g_assert_true (sw_test_sender_join (sender, &error));
  g_assert_no_error (error);
  assert_stolen_empty (receiver_end);

  for (guint i = 0; i < G_N_ELEMENTS (message_sizes); i++)
    g_bytes_unref (messages[i]);
}

static void
test_message_sizes (gconstpointer data)
{
  g_autoptr(SwFraming) framing = GPOINTER_TO_INT (data) ? mp_framing () : varint_framing ();
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;

  make_socketpair (framing, &a, &b);
  roundtrip_sizes (a, b);
  roundtrip_sizes (b, a);
}

static void
test_message_sizes_pipe (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwFraming) framing = varint_framing ();
  g_autoptr(SwConnection) reader = NULL;
  g_autoptr(SwConnection) writer = NULL;

  g_assert_true (sw_pipe (framing, &reader, &writer, &error));
  g_assert_no_error (error);
  g_assert_true (sw_connection_get_readable (reader));
  g_assert_false (sw_connection_get_writable (reader));
  g_assert_false (sw_connection_get_readable (writer));
  g_assert_true (sw_connection_get_writable (writer));
  roundtrip_sizes (writer, reader);
}

/* The bytes on the wire are exactly the framing's format. */
static void
test_message_wire_format (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwFraming) varint = varint_framing ();
  g_autoptr(SwFraming) mp = mp_framing ();
  g_autoptr(SwConnection) connection = NULL;
  g_autoptr(GBytes) payload = sw_test_pattern_bytes (67824, 10);
  g_autoptr(GBytes) frame = varint_frame (payload);
  guint8 *wire;
  static const guint8 mp_header[] = { 0x00, 0x01, 0x08, 0xf0 };  /* 67824 */
  int fd;

  connection = make_raw_peer (varint, &fd);
  g_assert_true (sw_connection_send_message (connection, payload, -1, NULL, &error));
  g_assert_no_error (error);
  wire = g_malloc (g_bytes_get_size (frame));
  sw_test_read_all (fd, wire, g_bytes_get_size (frame));
  g_assert_cmpmem (wire, g_bytes_get_size (frame),
                   g_bytes_get_data (frame, NULL), g_bytes_get_size (frame));
  g_assert_cmpmem (wire, 4, "\xfa\x01\x08\xf0", 4);

  sw_connection_set_framing (connection, mp);
  g_assert_true (sw_connection_send_message (connection, payload, -1, NULL, &error));
  g_assert_no_error (error);
  sw_test_read_all (fd, wire, 4 + g_bytes_get_size (payload));
  g_assert_cmpmem (wire, 4, mp_header, 4);
  g_assert_true (sw_test_pattern_check_data (wire + 4, g_bytes_get_size (payload), 10));
  g_free (wire);
  g_assert_cmpint (close (fd), ==, 0);
}

/* A message and raw bytes after it: receive_bytes takes what receive_message
 * read ahead. */
static void
test_message_then_bytes (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwFraming) framing = varint_framing ();
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) tail = g_bytes_new_static ("tail", 4);
  g_autoptr(GBytes) got = NULL;
  gssize n;

  make_socketpair (framing, &a, &b);
  send_pattern (a, 100, 11);
  n = sw_connection_send_bytes (a, tail, -1, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (n, ==, 4);
  assert_receive_pattern (b, 100, 11);
  got = sw_connection_receive_bytes (b, 4, -1, NULL, &error);
  g_assert_no_error (error);
  assert_bytes_equal_data (got, "tail", 4);
}

/* Raw bytes */

static void
test_bytes_send_count (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) big = sw_test_pattern_bytes (BIG_MESSAGE_SIZE, 12);
  g_autoptr(GBytes) small = g_bytes_new_static ("0123456789", 10);
  g_autoptr(GBytes) got = NULL;
  g_autoptr(GBytes) got_small = NULL;
  g_autoptr(GBytes) none = NULL;
  gssize n, n2;

  make_socketpair (NULL, &a, &b);

  /* Only part of it fits: the count written, not committed. */
  n = sw_connection_send_bytes (a, big, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (n, >=, 1);
  g_assert_cmpint (n, <, BIG_MESSAGE_SIZE);

  /* Nothing fits any more: a failure, not 0. */
  n2 = sw_connection_send_bytes (a, small, 0, NULL, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_cmpint (n2, ==, -1);
  g_clear_error (&error);

  got = sw_connection_receive_bytes (b, n, -1, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (got), ==, (gsize) n);
  g_assert_true (sw_test_pattern_check (got, 12));
  /* Raw sends are not committed: the rest was never written. */
  none = sw_connection_receive_bytes (b, -1, 0, NULL, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_null (none);
  g_clear_error (&error);

  n2 = sw_connection_send_bytes (a, small, -1, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (n2, ==, 10);
  got_small = sw_connection_receive_bytes (b, 10, -1, NULL, &error);
  g_assert_no_error (error);
  assert_bytes_equal_data (got_small, "0123456789", 10);
}

static void
test_bytes_receive (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwConnection) connection = NULL;
  g_autoptr(GBytes) fixed = NULL;
  g_autoptr(GByteArray) all = g_byte_array_new ();
  g_autoptr(GBytes) payload = sw_test_pattern_bytes (1000, 13);
  int fd;

  connection = make_raw_peer (NULL, &fd);
  sw_test_write_all (fd, g_bytes_get_data (payload, NULL), 1000);

  /* Fixed size: exactly n bytes. */
  fixed = sw_connection_receive_bytes (connection, 10, -1, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (fixed), ==, 10);
  g_byte_array_append (all, g_bytes_get_data (fixed, NULL), 10);

  /* Blind: the next available chunk, never empty. */
  while (all->len < 1000)
    {
      g_autoptr(GBytes) chunk = sw_connection_receive_bytes (connection, -1, -1,
                                                             NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (g_bytes_get_size (chunk), >, 0);
      g_assert_cmpuint (all->len + g_bytes_get_size (chunk), <=, 1000);
      g_byte_array_append (all, g_bytes_get_data (chunk, NULL),
                           (guint) g_bytes_get_size (chunk));
    }
  g_assert_cmpmem (all->data, all->len, g_bytes_get_data (payload, NULL), 1000);

  g_assert_cmpint (close (fd), ==, 0);
}

static void
test_bytes_eof (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwConnection) connection = NULL;
  g_autoptr(SwConnection) connection2 = NULL;
  g_autoptr(GBytes) got = NULL;
  g_autoptr(GBytes) stolen = NULL;
  int fd;

  /* Blind receive at EOF: CONNECTION_CLOSED, never an empty GBytes. */
  connection = make_raw_peer (NULL, &fd);
  g_assert_cmpint (close (fd), ==, 0);
  got = sw_connection_receive_bytes (connection, -1, -1, NULL, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
  g_assert_null (got);
  g_clear_error (&error);

  /* Fixed-size receive cut by EOF: PARTIAL_INPUT, partial bytes kept. */
  connection2 = make_raw_peer (NULL, &fd);
  sw_test_write_all (fd, "12345", 5);
  g_assert_cmpint (close (fd), ==, 0);
  got = sw_connection_receive_bytes (connection2, 10, -1, NULL, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT);
  g_assert_null (got);
  stolen = sw_connection_steal_buffered_input (connection2, NULL);
  assert_bytes_equal_data (stolen, "12345", 5);
  assert_stolen_empty (connection2);
}

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

/* Close */

static void
test_close_then_calls (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwFraming) framing = varint_framing ();
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) message = g_bytes_new_static ("abc", 3);
  g_autoptr(GBytes) got = NULL;

  make_socketpair (framing, &a, &b);
  g_assert_true (sw_connection_close (a, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (sw_connection_get_closed (a));
  g_assert_true (sw_connection_close (a, NULL, &error));
  g_assert_no_error (error);

  g_assert_false (sw_connection_send_message (a, message, -1, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_clear_error (&error);
  assert_receive_error (a, -1, NULL, G_IO_ERROR_CLOSED);
  assert_receive_error (a, 0, NULL, G_IO_ERROR_CLOSED);
  g_assert_cmpint (sw_connection_send_bytes (a, message, -1, NULL, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_clear_error (&error);
  got = sw_connection_receive_bytes (a, -1, -1, NULL, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_assert_null (got);
  g_clear_error (&error);
  g_assert_false (sw_connection_flush (a, -1, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_clear_error (&error);
  g_assert_false (sw_connection_shutdown_write (a, -1, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_clear_error (&error);

  assert_receive_error (b, -1, NULL, G_IO_ERROR_CONNECTION_CLOSED);
}

static void
test_close_wakes_receive (void)
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
  g_assert_true (sw_connection_close (b, NULL, &error));
  g_assert_no_error (error);
  got = sw_test_receiver_join (receiver, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_assert_null (got);
}

/* A receive blocked on one thread does not hold up a send on the same
 * connection: the two directions have their own locks. */
static void
test_threads_duplex (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwFraming) framing = varint_framing ();
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) got = NULL;
  SwTestReceiver *receiver;

  make_socketpair (framing, &a, &b);
  receiver = sw_test_receiver_new (a, NULL);
  sw_test_receiver_wait_polling (receiver);
  send_pattern (a, 1000, 62);
  assert_receive_pattern (b, 1000, 62);
  send_pattern (b, 2000, 63);
  got = sw_test_receiver_join (receiver, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (got), ==, 2000);
  g_assert_true (sw_test_pattern_check (got, 63));
}

typedef struct
{
  SwConnection *connection;
  GPtrArray *messages;
  GError *error;
} DrainReader;

static gpointer
drain_thread (gpointer data)
{
  DrainReader *reader = data;
  GBytes *message;

  while ((message = sw_connection_receive_message (reader->connection, -1, NULL,
                                                   &reader->error)) != NULL)
    g_ptr_array_add (reader->messages, message);
  return NULL;
}

/* close() while another thread is blocked sending (it waits for room to
 * finish m1 before it can start m2): the sender either committed its
 * message (TRUE, and the peer gets it whole) or had not started it
 * (CLOSED, and nothing of it appears). Never a torn frame. */
static void
test_close_during_send (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwFraming) framing = varint_framing ();
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) m1 = sw_test_pattern_bytes (BIG_MESSAGE_SIZE, 64);
  g_autoptr(GBytes) m2 = sw_test_pattern_bytes (BIG_MESSAGE_SIZE / 2, 65);
  g_autoptr(GError) send_error = NULL;
  DrainReader reader = { 0 };
  SwTestSender *sender;
  GThread *thread;
  gboolean sent;

  make_socketpair (framing, &a, &b);
  /* m1 is committed and pending; the sender of m2 must first finish it. */
  g_assert_true (sw_connection_send_message (a, m1, 0, NULL, &error));
  g_assert_no_error (error);
  sender = sw_test_sender_new (a, &m2, 1);
  sw_test_sender_wait_polling (sender);

  reader.connection = b;
  reader.messages = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  thread = g_thread_new ("drain", drain_thread, &reader);

  g_assert_true (sw_connection_close (a, NULL, &error));
  g_assert_no_error (error);
  sent = sw_test_sender_join (sender, &send_error);
  g_test_message ("the second send %s", sent ? "was committed" : "was closed");
  g_thread_join (thread);

  g_assert_error (reader.error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
  g_clear_error (&reader.error);
  g_assert_cmpuint (reader.messages->len, >=, 1);
  g_assert_true (g_bytes_equal (g_ptr_array_index (reader.messages, 0), m1));
  if (sent)
    {
      g_assert_cmpuint (reader.messages->len, ==, 2);
      g_assert_true (g_bytes_equal (g_ptr_array_index (reader.messages, 1), m2));
    }
  else
    {
      g_assert_error (send_error, G_IO_ERROR, G_IO_ERROR_CLOSED);
      g_assert_cmpuint (reader.messages->len, ==, 1);
    }
  g_ptr_array_unref (reader.messages);
}

/* ---- a framing bound to one thread on a stream that cannot poll -------- */

/* A framing written in C without a fast path (sw-test-util.c). */
#define TEST_TYPE_PLAIN_FRAMING SW_TEST_TYPE_PLAIN_FRAMING

static void
on_async_ready (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

static GAsyncResult *
wait_async (GAsyncResult **result)
{
  while (*result == NULL)
    g_main_context_iteration (NULL, TRUE);
  return *result;
}

/* Async calls on a stream that cannot poll run the framing in a worker
 * thread: a C framing is called there; one GJS defined (its type marked
 * the way GJS marks the types it registers) is refused before any byte
 * moves, and the sync call still gets the frame. */
static void
test_async_thread_bound_framing (void)
{
  g_autoptr(SwFraming) framing = g_object_new (TEST_TYPE_PLAIN_FRAMING, NULL);
  g_autoptr(GInputStream) base_in = NULL;
  g_autoptr(GInputStream) in = NULL;
  g_autoptr(GOutputStream) base_out = NULL;
  g_autoptr(GOutputStream) out = NULL;
  g_autoptr(SwConnection) connection = NULL;
  g_autoptr(GAsyncResult) received = NULL;
  g_autoptr(GAsyncResult) refused = NULL;
  g_autoptr(GAsyncResult) sent = NULL;
  g_autoptr(GBytes) message = NULL;
  g_autoptr(GBytes) payload = g_bytes_new_static ("abc", 3);
  g_autoptr(GError) error = NULL;
  int in_fds[2], out_fds[2];

  g_assert_cmpint (pipe2 (in_fds, O_CLOEXEC), ==, 0);
  g_assert_cmpint (pipe2 (out_fds, O_CLOEXEC), ==, 0);
  base_in = g_unix_input_stream_new (in_fds[0], TRUE);
  in = g_buffered_input_stream_new (base_in);
  base_out = g_unix_output_stream_new (out_fds[1], TRUE);
  out = g_buffered_output_stream_new (base_out);
  g_assert_false (G_IS_POLLABLE_INPUT_STREAM (in));
  g_assert_false (G_IS_POLLABLE_OUTPUT_STREAM (out));
  connection = sw_connection_new_for_streams (in, out, framing);

  sw_test_write_all (in_fds[1], "\003abc\003abc", 8);
  sw_connection_receive_message_async (connection, G_PRIORITY_DEFAULT, NULL,
                                       on_async_ready, &received);
  message = sw_connection_receive_message_finish (connection, wait_async (&received), &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (message, NULL), g_bytes_get_size (message), "abc", 3);
  g_clear_pointer (&message, g_bytes_unref);

  g_type_set_qdata (TEST_TYPE_PLAIN_FRAMING, g_quark_from_static_string ("gjs::custom-type"),
                    GINT_TO_POINTER (TRUE));
  sw_connection_receive_message_async (connection, G_PRIORITY_DEFAULT, NULL,
                                       on_async_ready, &refused);
  g_assert_null (sw_connection_receive_message_finish (connection, wait_async (&refused),
                                                       &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  g_assert_nonnull (strstr (error->message, "TestPlainFraming"));
  g_clear_error (&error);
  sw_connection_send_message_async (connection, payload, G_PRIORITY_DEFAULT, NULL,
                                    on_async_ready, &sent);
  g_assert_false (sw_connection_send_message_finish (connection, wait_async (&sent), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  g_clear_error (&error);

  message = sw_connection_receive_message (connection, -1, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (message, NULL), g_bytes_get_size (message), "abc", 3);
  g_assert_cmpint (close (in_fds[1]), ==, 0);
  g_assert_cmpint (close (out_fds[0]), ==, 0);
}

static void
test_shutdown_write (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwFraming) framing = varint_framing ();
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) message = g_bytes_new_static ("abc", 3);

  make_socketpair (framing, &a, &b);
  send_pattern (a, 20, 60);
  g_assert_true (sw_connection_shutdown_write (a, -1, NULL, &error));
  g_assert_no_error (error);
  assert_receive_pattern (b, 20, 60);
  assert_receive_error (b, -1, NULL, G_IO_ERROR_CONNECTION_CLOSED);

  /* a can still receive. */
  send_pattern (b, 30, 61);
  assert_receive_pattern (a, 30, 61);

  /* It has no writable end any more (documented at SwConnection:writable). */
  g_assert_false (sw_connection_get_writable (a));
  g_assert_true (sw_connection_get_readable (a));
  g_assert_false (sw_connection_send_message (a, message, -1, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/sw/connection/new/socket", test_new_socket);
  g_test_add_func ("/sw/connection/new/stream", test_new_stream);
  g_test_add_func ("/sw/connection/new/streams", test_new_streams);
  g_test_add_func ("/sw/connection/new/memory-streams", test_new_memory_streams);
  g_test_add_func ("/sw/connection/new/fd", test_new_fd);
  g_test_add_func ("/sw/connection/new/fd-invalid", test_new_fd_invalid);
  g_test_add_func ("/sw/connection/properties/defaults", test_properties_defaults);
  g_test_add_func ("/sw/connection/properties/closed-notify", test_properties_closed_notify);
  g_test_add_func ("/sw/connection/properties/inheritable", test_properties_inheritable);
  g_test_add_func ("/sw/connection/properties/close-wrapped", test_properties_close_wrapped);
  g_test_add_data_func ("/sw/connection/message/sizes/varint", GINT_TO_POINTER (0), test_message_sizes);
  g_test_add_data_func ("/sw/connection/message/sizes/multiprocessing", GINT_TO_POINTER (1), test_message_sizes);
  g_test_add_func ("/sw/connection/message/sizes/pipe", test_message_sizes_pipe);
  g_test_add_func ("/sw/connection/message/wire-format", test_message_wire_format);
  g_test_add_func ("/sw/connection/message/then-bytes", test_message_then_bytes);
  g_test_add_func ("/sw/connection/bytes/send-count", test_bytes_send_count);
  g_test_add_func ("/sw/connection/bytes/receive", test_bytes_receive);
  g_test_add_func ("/sw/connection/bytes/eof", test_bytes_eof);
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
  g_test_add_func ("/sw/connection/close/then-calls", test_close_then_calls);
  g_test_add_func ("/sw/connection/close/wakes-receive", test_close_wakes_receive);
  g_test_add_func ("/sw/connection/close/during-send", test_close_during_send);
  g_test_add_func ("/sw/connection/threads/duplex", test_threads_duplex);
  g_test_add_func ("/sw/connection/shutdown-write", test_shutdown_write);
  g_test_add_func ("/sw/connection/receive/limit-zero", test_receive_limit_zero);
  g_test_add_func ("/sw/connection/async/thread-bound-framing",
                   test_async_thread_bound_framing);

  return g_test_run ();
}
