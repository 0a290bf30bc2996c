/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* SwConnection on stream sockets, pipes and GIO streams: construction,
 * properties, whole messages, raw bytes, close, a receive and a send on
 * two threads, a thread-bound framing, shutdown of the write side
 * (DESIGN §3, §4). Receive and send in detail: test-connection-io.c. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gio/gunixinputstream.h>
#include <gio/gunixoutputstream.h>

#include "sw-test-util.h"
#include "test-connection-util.h"

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
  g_test_add_func ("/sw/connection/close/then-calls", test_close_then_calls);
  g_test_add_func ("/sw/connection/close/wakes-receive", test_close_wakes_receive);
  g_test_add_func ("/sw/connection/close/during-send", test_close_during_send);
  g_test_add_func ("/sw/connection/threads/duplex", test_threads_duplex);
  g_test_add_func ("/sw/connection/shutdown-write", test_shutdown_write);
  g_test_add_func ("/sw/connection/async/thread-bound-framing",
                   test_async_thread_bound_framing);

  return g_test_run ();
}
