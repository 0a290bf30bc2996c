/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Connections over streams that have no file descriptor of their own, so
 * every wait goes through the stream's pollable source: real TLS from
 * glib-networking over a socketpair, a GConverterInputStream over a pipe,
 * and a GSimpleIOStream made of converter streams. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <glib-unix.h>
#include <gio/gunixinputstream.h>
#include <gio/gunixoutputstream.h>
#include <socketwrapper/socketwrapper.h>

#include "sw-test-util.h"

#define TIMEOUT_20_MS (20 * 1000)
#define PRIO G_PRIORITY_DEFAULT

#define WAIT_UNTIL(cond)                              \
  G_STMT_START {                                      \
    while (!(cond))                                   \
      g_main_context_iteration (NULL, TRUE);          \
  } G_STMT_END

static GBytes *
text (const char *s)
{
  return g_bytes_new (s, strlen (s));
}

static void
assert_bytes_equal (GBytes     *bytes,
                    const char *expected)
{
  g_autoptr(GBytes) want = text (expected);

  g_assert_nonnull (bytes);
  g_assert_true (g_bytes_equal (bytes, want));
}

/* Header, payload and trailer of @message in @framing, as one block. */
static GBytes *
frame (SwFraming  *framing,
       const char *message)
{
  g_autoptr(GBytes) payload = text (message);
  g_autoptr(GBytes) header = NULL;
  g_autoptr(GBytes) trailer = NULL;
  g_autoptr(GError) error = NULL;
  GByteArray *out = g_byte_array_new ();
  gsize size;
  const guint8 *data;

  g_assert_true (sw_framing_encode (framing, payload, &header, &trailer, &error));
  g_assert_no_error (error);
  data = g_bytes_get_data (header, &size);
  g_byte_array_append (out, data, (guint) size);
  g_byte_array_append (out, (const guint8 *) message, (guint) strlen (message));
  if (trailer != NULL)
    {
      data = g_bytes_get_data (trailer, &size);
      g_byte_array_append (out, data, (guint) size);
    }
  return g_byte_array_free_to_bytes (out);
}

/* ---- async results ----------------------------------------------------- */

typedef struct
{
  gboolean  done;
  gboolean  ok;
  GBytes   *received;
  GError   *error;
} Result;

static void
on_done (GObject      *source,
         GAsyncResult *res,
         gpointer      user_data)
{
  SwConnection *self = SW_CONNECTION (source);
  Result *r = user_data;

  if (g_async_result_is_tagged (res, (gpointer) (guintptr) sw_connection_close_async))
    r->ok = sw_connection_close_finish (self, res, &r->error);
  else
    {
      r->received = sw_connection_receive_message_finish (self, res, &r->error);
      r->ok = r->received != NULL;
    }
  r->done = TRUE;
}

static void
result_clear (Result *r)
{
  g_clear_pointer (&r->received, g_bytes_unref);
  g_clear_error (&r->error);
}

/* Runs @func once every source of default priority is idle, that is once
 * an async call started before has tried to read and parked in its wait. */
static void
when_parked (GSourceFunc func,
             gpointer    data)
{
  g_idle_add_full (G_PRIORITY_LOW, func, data, NULL);
}

/* ---- a thread blocked in a sync receive -------------------------------- */

/* Starts a thread receiving on @connection with timeout -1 and returns
 * once it waits in poll(): a sync receive over a stream without an fd
 * waits there, in its private main context. */
static SwTestReceiver *
waiter_new (SwConnection *connection,
            GCancellable *cancellable)
{
  SwTestReceiver *receiver = sw_test_receiver_new (connection, cancellable);

  sw_test_receiver_wait_polling (receiver);
  return receiver;
}

static void
waiter_join (SwTestReceiver *receiver,
             gint            error_code)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) received = sw_test_receiver_join (receiver, &error);

  g_assert_error (error, G_IO_ERROR, error_code);
  g_assert_null (received);
}

/* ---- a TLS pair -------------------------------------------------------- */

typedef struct
{
  GIOStream    *server_tls;
  GIOStream    *client_tls;
  SwConnection *server;
  SwConnection *client;
} TlsPair;

static gboolean
on_accept_certificate (GTlsConnection       *connection,
                       GTlsCertificate      *peer_cert,
                       GTlsCertificateFlags  errors,
                       gpointer              user_data)
{
  /* The test certificate is self-signed. */
  return TRUE;
}

static void
on_handshake_done (GObject      *source,
                   GAsyncResult *res,
                   gpointer      user_data)
{
  g_autoptr(GError) error = NULL;
  guint *pending = user_data;

  g_assert_true (g_tls_connection_handshake_finish (G_TLS_CONNECTION (source), res, &error));
  g_assert_no_error (error);
  (*pending)--;
}

static GIOStream *
socket_connection_for_fd (int fd)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = g_socket_new_from_fd (fd, &error);

  g_assert_no_error (error);
  return G_IO_STREAM (g_socket_connection_factory_create_connection (socket));
}

/* Two TLS endpoints over a socketpair, handshaken, each wrapped in a
 * connection with @framing (NULL: the default one). Without a TLS backend the
 * test fails: these tests are the only ones that wait on TLS streams. */
static gboolean
tls_pair_init (TlsPair   *pair,
               SwFraming *framing)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "tls-test.pem", NULL);
  g_autoptr(GTlsCertificate) certificate = NULL;
  g_autoptr(GIOStream) server_base = NULL;
  g_autoptr(GIOStream) client_base = NULL;
  g_autoptr(GError) error = NULL;
  guint pending = 2;
  int fds[2];

  if (!g_tls_backend_supports_tls (g_tls_backend_get_default ()))
    {
      g_test_fail_printf ("No TLS backend: install glib-networking (GnuTLS)");
      return FALSE;
    }

  certificate = g_tls_certificate_new_from_file (path, &error);
  g_assert_no_error (error);

  sw_test_raw_socketpair (SOCK_STREAM, fds);
  server_base = socket_connection_for_fd (fds[0]);
  client_base = socket_connection_for_fd (fds[1]);

  pair->server_tls = G_IO_STREAM (g_tls_server_connection_new (server_base, certificate, &error));
  g_assert_no_error (error);
  pair->client_tls = G_IO_STREAM (g_tls_client_connection_new (client_base, NULL, &error));
  g_assert_no_error (error);
  g_signal_connect (pair->client_tls, "accept-certificate",
                    G_CALLBACK (on_accept_certificate), NULL);

  /* Each handshake needs the other: run both at once. */
  g_tls_connection_handshake_async (G_TLS_CONNECTION (pair->server_tls), PRIO, NULL,
                                    on_handshake_done, &pending);
  g_tls_connection_handshake_async (G_TLS_CONNECTION (pair->client_tls), PRIO, NULL,
                                    on_handshake_done, &pending);
  WAIT_UNTIL (pending == 0);

  if (framing == NULL)
    framing = sw_framing_get_default ();
  pair->server = sw_connection_new_for_stream (pair->server_tls, framing);
  pair->client = sw_connection_new_for_stream (pair->client_tls, framing);
  return TRUE;
}

/* Drops the pair and checks that nothing kept a connection alive. (Not
 * the TLS streams: a handshake's GTask may still hold one in a GIO worker
 * thread for a moment after its callback.) */
static void
tls_pair_clear (TlsPair *pair)
{
  g_object_add_weak_pointer (G_OBJECT (pair->server), (gpointer *) &pair->server);
  g_object_add_weak_pointer (G_OBJECT (pair->client), (gpointer *) &pair->client);
  g_object_unref (pair->server);
  g_object_unref (pair->client);
  g_assert_null (pair->server);
  g_assert_null (pair->client);
  g_clear_object (&pair->server_tls);
  g_clear_object (&pair->client_tls);
}

static void
send_text (SwConnection *connection,
           const char   *message)
{
  g_autoptr(GBytes) bytes = text (message);
  g_autoptr(GError) error = NULL;

  g_assert_true (sw_connection_send_message (connection, bytes, -1, NULL, &error));
  g_assert_no_error (error);
}

static void
assert_receives (SwConnection *connection,
                 gint64        timeout_us,
                 const char   *expected)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) received = sw_connection_receive_message (connection, timeout_us,
                                                              NULL, &error);

  g_assert_no_error (error);
  assert_bytes_equal (received, expected);
}

static void
assert_times_out (SwConnection *connection)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) received = sw_connection_receive_message (connection, TIMEOUT_20_MS,
                                                              NULL, &error);

  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_null (received);
}

/* Sends the first @split bytes of the frame of @message; returns the rest. */
static GBytes *
send_frame_head (SwConnection *connection,
                 const char   *message,
                 gsize         split)
{
  g_autoptr(GBytes) framed = frame (sw_framing_get_default (), message);

  g_assert_cmpuint (split, <, g_bytes_get_size (framed));
  sw_test_send_raw (connection, g_bytes_get_data (framed, NULL), split);
  return g_bytes_new_from_bytes (framed, split, g_bytes_get_size (framed) - split);
}

static void
send_bytes_or_fail (SwConnection *connection,
                    GBytes       *bytes)
{
  sw_test_send_raw (connection, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
}

/* An idle TLS connection: the 20 ms wait ends at its deadline, and a
 * message sent afterwards arrives whole. */
static void
test_tls_sync_timeout (void)
{
  TlsPair pair = { 0 };

  if (!tls_pair_init (&pair, NULL))
    return;
  assert_times_out (pair.client);
  assert_times_out (pair.server);
  send_text (pair.server, "after the timeout");
  assert_receives (pair.client, -1, "after the timeout");
  send_text (pair.client, "and back");
  assert_receives (pair.server, TIMEOUT_20_MS * 50, "and back");
  tls_pair_clear (&pair);
}

typedef struct
{
  SwConnection *connection;
  GBytes       *bytes;
} SendLater;

static gboolean
send_later_cb (gpointer data)
{
  SendLater *later = data;

  send_bytes_or_fail (later->connection, later->bytes);
  return G_SOURCE_REMOVE;
}

static gboolean
send_message_later_cb (gpointer data)
{
  SendLater *later = data;
  g_autoptr(GError) error = NULL;

  g_assert_true (sw_connection_send_message (later->connection, later->bytes, -1,
                                             NULL, &error));
  g_assert_no_error (error);
  return G_SOURCE_REMOVE;
}

/* An async receive parked on the TLS stream's source completes when the
 * peer sends, first the whole frame, then its second half. */
static void
test_tls_async_data_arrives (void)
{
  TlsPair pair = { 0 };
  Result r1 = { 0 }, r2 = { 0 };
  g_autoptr(GBytes) whole = frame (sw_framing_get_default (), "arrives later");
  SendLater later = { NULL, whole };
  g_autoptr(GBytes) rest = NULL;

  if (!tls_pair_init (&pair, NULL))
    return;
  later.connection = pair.server;

  sw_connection_receive_message_async (pair.client, PRIO, NULL, on_done, &r1);
  when_parked (send_later_cb, &later);
  WAIT_UNTIL (r1.done);
  g_assert_no_error (r1.error);
  assert_bytes_equal (r1.received, "arrives later");

  rest = send_frame_head (pair.server, "in two parts", 3);
  later.bytes = rest;
  sw_connection_receive_message_async (pair.client, PRIO, NULL, on_done, &r2);
  when_parked (send_later_cb, &later);
  WAIT_UNTIL (r2.done);
  g_assert_no_error (r2.error);
  assert_bytes_equal (r2.received, "in two parts");

  result_clear (&r1);
  result_clear (&r2);
  tls_pair_clear (&pair);
}

/* A sync receive blocked in the middle of a frame, cancelled from another
 * thread: CANCELLED, and the frame's first part stays buffered. */
static void
test_tls_sync_cancel (void)
{
  TlsPair pair = { 0 };
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GBytes) rest = NULL;
  SwTestReceiver *w;

  if (!tls_pair_init (&pair, NULL))
    return;
  rest = send_frame_head (pair.server, "not lost", 4);
  w = waiter_new (pair.client, cancellable);
  g_cancellable_cancel (cancellable);
  waiter_join (w, G_IO_ERROR_CANCELLED);

  send_bytes_or_fail (pair.server, rest);
  assert_receives (pair.client, -1, "not lost");
  tls_pair_clear (&pair);
}

static gboolean
cancel_cb (gpointer data)
{
  g_cancellable_cancel (data);
  return G_SOURCE_REMOVE;
}

/* The same with an async receive, cancelled from an idle. */
static void
test_tls_async_cancel (void)
{
  TlsPair pair = { 0 };
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GBytes) rest = NULL;
  Result r = { 0 };

  if (!tls_pair_init (&pair, NULL))
    return;
  rest = send_frame_head (pair.server, "not lost either", 5);
  sw_connection_receive_message_async (pair.client, PRIO, cancellable, on_done, &r);
  when_parked (cancel_cb, cancellable);
  WAIT_UNTIL (r.done);
  g_assert_error (r.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (r.received);

  send_bytes_or_fail (pair.server, rest);
  assert_receives (pair.client, -1, "not lost either");
  result_clear (&r);
  tls_pair_clear (&pair);
}

/* Closes @data; returns the error of a failed close, NULL on success, to
 * be checked in the test's thread. */
static gpointer
close_in_thread (gpointer data)
{
  GError *error = NULL;

  if (!sw_connection_close (data, NULL, &error) && error == NULL)
    g_set_error_literal (&error, G_IO_ERROR, G_IO_ERROR_FAILED,
                         "close() failed without an error");
  return error;
}

/* close() from another thread wakes a sync receive blocked on TLS. */
static void
test_tls_sync_close (void)
{
  TlsPair pair = { 0 };
  g_autoptr(GError) error = NULL;
  SwTestReceiver *w;

  if (!tls_pair_init (&pair, NULL))
    return;
  w = waiter_new (pair.client, NULL);
  error = g_thread_join (g_thread_new ("closer", close_in_thread, pair.client));
  g_assert_no_error (error);
  waiter_join (w, G_IO_ERROR_CLOSED);
  g_assert_true (sw_connection_get_closed (pair.client));
  tls_pair_clear (&pair);
}

typedef struct
{
  SwConnection *connection;
  Result       *result;
} CloseLater;

static gboolean
close_async_cb (gpointer data)
{
  CloseLater *later = data;

  sw_connection_close_async (later->connection, PRIO, NULL, on_done, later->result);
  return G_SOURCE_REMOVE;
}

/* close_async() from an idle wakes an async receive parked on TLS. */
static void
test_tls_async_close (void)
{
  TlsPair pair = { 0 };
  Result r = { 0 }, c = { 0 };
  CloseLater later = { NULL, &c };

  if (!tls_pair_init (&pair, NULL))
    return;
  later.connection = pair.client;
  sw_connection_receive_message_async (pair.client, PRIO, NULL, on_done, &r);
  when_parked (close_async_cb, &later);
  WAIT_UNTIL (r.done && c.done);
  g_assert_error (r.error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_assert_no_error (c.error);
  g_assert_true (c.ok);
  result_clear (&r);
  result_clear (&c);
  tls_pair_clear (&pair);
}

static void
exchange_large (SwConnection *from,
                SwConnection *to,
                guint32       seed)
{
  g_autoptr(GBytes) message = sw_test_pattern_bytes (16 * 1024 * 1024, seed);
  g_autoptr(GBytes) received = NULL;
  g_autoptr(GError) error = NULL;
  SwTestSender *sender = sw_test_sender_new (from, &message, 1);

  received = sw_connection_receive_message (to, -1, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (sw_test_sender_join (sender, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (received), ==, g_bytes_get_size (message));
  g_assert_true (sw_test_pattern_check (received, seed));
}

/* 16 MiB each way: both sides wait for the stream many times, the sender
 * for room and the receiver for data. */
static void
test_tls_large (void)
{
  TlsPair pair = { 0 };

  if (!tls_pair_init (&pair, NULL))
    return;
  exchange_large (pair.server, pair.client, 1);
  exchange_large (pair.client, pair.server, 2);
  tls_pair_clear (&pair);
}

/* MessagePack objects: an array, a str, a map and a bin 16 whose data
 * ends the object. */
static GBytes *
msgpack_object (guint i)
{
  static const guint8 array[] = { 0x93, 0x01, 0x02, 0x03 };
  static const guint8 str[] = { 0xa5, 'h', 'e', 'l', 'l', 'o' };
  static const guint8 map[] = { 0x81, 0xa1, 'k', 0xc3 };
  guint8 bin[3 + 300] = { 0xc5, 0x01, 0x2c };

  switch (i)
    {
    case 0:
      return g_bytes_new (array, sizeof array);
    case 1:
      return g_bytes_new (str, sizeof str);
    case 2:
      return g_bytes_new (map, sizeof map);
    default:
      sw_test_pattern_fill (bin + 3, 300, i);
      return g_bytes_new (bin, sizeof bin);
    }
}

#define N_MSGPACK_OBJECTS 4

static void
assert_receives_bytes (SwConnection *connection,
                       GBytes       *expected)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) received = sw_connection_receive_message (connection, -1, NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (received);
  g_assert_true (g_bytes_equal (received, expected));
}

/* The MessagePack framing over TLS: objects back to back in one write,
 * then each split in two with the receiver waiting in between, sync (the
 * wait times out) and async (the wait completes). */
static void
test_tls_msgpack (void)
{
  g_autoptr(SwFraming) framing = SW_FRAMING (sw_msgpack_framing_new ());
  GByteArray *all = g_byte_array_new ();
  TlsPair pair = { 0 };

  if (!tls_pair_init (&pair, framing))
    {
      g_byte_array_unref (all);
      return;
    }

  for (guint i = 0; i < N_MSGPACK_OBJECTS; i++)
    {
      g_autoptr(GBytes) object = msgpack_object (i);

      g_byte_array_append (all, g_bytes_get_data (object, NULL),
                           (guint) g_bytes_get_size (object));
    }
  sw_test_send_raw (pair.server, all->data, all->len);
  g_byte_array_unref (all);
  for (guint i = 0; i < N_MSGPACK_OBJECTS; i++)
    {
      g_autoptr(GBytes) object = msgpack_object (i);

      assert_receives_bytes (pair.client, object);
    }

  for (guint i = 0; i < N_MSGPACK_OBJECTS; i++)
    {
      g_autoptr(GBytes) object = msgpack_object (i);
      gsize size = g_bytes_get_size (object), split = size / 2;
      g_autoptr(GBytes) rest = g_bytes_new_from_bytes (object, split, size - split);
      SendLater later = { pair.server, rest };
      Result r = { 0 };

      /* Sync: the first half alone is no message. */
      sw_test_send_raw (pair.server, g_bytes_get_data (object, NULL), split);
      assert_times_out (pair.client);
      send_bytes_or_fail (pair.server, rest);
      assert_receives_bytes (pair.client, object);

      /* Async: the second half completes the parked receive. */
      sw_test_send_raw (pair.server, g_bytes_get_data (object, NULL), split);
      sw_connection_receive_message_async (pair.client, PRIO, NULL, on_done, &r);
      when_parked (send_later_cb, &later);
      WAIT_UNTIL (r.done);
      g_assert_no_error (r.error);
      g_assert_true (g_bytes_equal (r.received, object));
      result_clear (&r);
    }
  tls_pair_clear (&pair);
}

/* ---- converter streams ------------------------------------------------- */

/* A connection receiving through a zlib decompressor from a pipe, and a
 * raw connection on the pipe's write end, where the test sends compressed
 * frames with send_bytes(). */
typedef struct
{
  SwConnection *connection;
  GConverter   *compressor;
  SwConnection *writer;
} ZlibPipe;

static void
zlib_pipe_init (ZlibPipe *p)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GInputStream) base = NULL;
  g_autoptr(GZlibDecompressor) decompressor = NULL;
  g_autoptr(GInputStream) input = NULL;
  int fds[2];

  g_assert_true (g_unix_open_pipe (fds, FD_CLOEXEC, &error));
  g_assert_no_error (error);
  base = g_unix_input_stream_new (fds[0], TRUE);
  decompressor = g_zlib_decompressor_new (G_ZLIB_COMPRESSOR_FORMAT_ZLIB);
  input = g_converter_input_stream_new (base, G_CONVERTER (decompressor));
  g_assert_true (G_IS_POLLABLE_INPUT_STREAM (input)
                 && g_pollable_input_stream_can_poll (G_POLLABLE_INPUT_STREAM (input)));

  p->connection = sw_connection_new_for_streams (input, NULL, sw_framing_get_default ());
  p->compressor = G_CONVERTER (g_zlib_compressor_new (G_ZLIB_COMPRESSOR_FORMAT_ZLIB, -1));
  p->writer = sw_connection_new_for_fd (fds[1], NULL, &error);
  g_assert_no_error (error);
}

static void
zlib_pipe_clear (ZlibPipe *p)
{
  g_clear_object (&p->connection);
  g_clear_object (&p->compressor);
  g_clear_object (&p->writer);
}

/* The frame of @message compressed and flushed, so the decompressor can
 * produce all of it. */
static GBytes *
zlib_pipe_compress (ZlibPipe   *p,
                    const char *message)
{
  g_autoptr(GBytes) framed = frame (sw_framing_get_default (), message);
  g_autoptr(GError) error = NULL;
  GByteArray *compressed = g_byte_array_new ();
  guint8 out[4096];
  gsize size, n_read, n_written;
  const guint8 *data = g_bytes_get_data (framed, &size);
  GConverterResult result;

  /* Called again with what is left until zlib says all is flushed. */
  do
    {
      result = g_converter_convert (p->compressor, data, size, out, sizeof out,
                                    G_CONVERTER_FLUSH, &n_read, &n_written, &error);
      g_assert_no_error (error);
      data += n_read;
      size -= n_read;
      g_byte_array_append (compressed, out, (guint) n_written);
    }
  while (result != G_CONVERTER_FLUSHED);
  g_assert_cmpuint (size, ==, 0);
  return g_byte_array_free_to_bytes (compressed);
}

static void
zlib_pipe_write (ZlibPipe   *p,
                 const char *message)
{
  g_autoptr(GBytes) compressed = zlib_pipe_compress (p, message);

  send_bytes_or_fail (p->writer, compressed);
}

/* A GConverterInputStream over an empty pipe: a 20 ms receive times out,
 * then compressed frames arrive, sync and async. */
static void
test_converter_input (void)
{
  ZlibPipe p = { 0 };
  g_autoptr(GBytes) third = NULL;
  SendLater later = { NULL, NULL };
  Result r = { 0 };

  zlib_pipe_init (&p);
  assert_times_out (p.connection);

  zlib_pipe_write (&p, "first");
  zlib_pipe_write (&p, "second");
  assert_receives (p.connection, -1, "first");
  assert_receives (p.connection, -1, "second");
  assert_times_out (p.connection);

  third = zlib_pipe_compress (&p, "third, while parked");
  later.connection = p.writer;
  later.bytes = third;
  sw_connection_receive_message_async (p.connection, PRIO, NULL, on_done, &r);
  when_parked (send_later_cb, &later);
  WAIT_UNTIL (r.done);
  g_assert_no_error (r.error);
  assert_bytes_equal (r.received, "third, while parked");

  result_clear (&r);
  zlib_pipe_clear (&p);
}

/* One end of a two-pipe link: it writes Latin-1 re-encoded as UTF-8 and
 * decodes what it reads back to Latin-1, so every byte value crosses the
 * pipes changed and comes out as it went in. */
static GIOStream *
converter_io_stream (int read_fd,
                     int write_fd)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GInputStream) raw_in = g_unix_input_stream_new (read_fd, TRUE);
  g_autoptr(GOutputStream) raw_out = g_unix_output_stream_new (write_fd, TRUE);
  g_autoptr(GCharsetConverter) decoder = g_charset_converter_new ("ISO-8859-1", "UTF-8", &error);
  g_autoptr(GCharsetConverter) encoder = NULL;
  g_autoptr(GInputStream) input = NULL;
  g_autoptr(GOutputStream) output = NULL;

  g_assert_no_error (error);
  encoder = g_charset_converter_new ("UTF-8", "ISO-8859-1", &error);
  g_assert_no_error (error);
  input = g_converter_input_stream_new (raw_in, G_CONVERTER (decoder));
  output = g_converter_output_stream_new (raw_out, G_CONVERTER (encoder));
  return g_simple_io_stream_new (input, output);
}

/* A GSimpleIOStream of converter streams on each side: a message each
 * way, the second received async, after a receive that timed out. */
static void
test_simple_io_stream (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GIOStream) stream_a = NULL;
  g_autoptr(GIOStream) stream_b = NULL;
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) ping = sw_test_pattern_bytes (20000, 7);
  g_autoptr(GBytes) pong = sw_test_pattern_bytes (30000, 8);
  SendLater later = { NULL, NULL };
  Result r = { 0 };
  int a_to_b[2], b_to_a[2];

  g_assert_true (g_unix_open_pipe (a_to_b, FD_CLOEXEC, &error));
  g_assert_true (g_unix_open_pipe (b_to_a, FD_CLOEXEC, &error));
  g_assert_no_error (error);
  stream_a = converter_io_stream (b_to_a[0], a_to_b[1]);
  stream_b = converter_io_stream (a_to_b[0], b_to_a[1]);
  a = sw_connection_new_for_stream (stream_a, sw_framing_get_default ());
  b = sw_connection_new_for_stream (stream_b, sw_framing_get_default ());

  assert_times_out (b);
  g_assert_true (sw_connection_send_message (a, ping, -1, NULL, &error));
  g_assert_no_error (error);
  assert_receives_bytes (b, ping);

  assert_times_out (a);
  later.connection = b;
  later.bytes = g_steal_pointer (&pong);
  sw_connection_receive_message_async (a, PRIO, NULL, on_done, &r);
  when_parked (send_message_later_cb, &later);
  WAIT_UNTIL (r.done);
  g_assert_no_error (r.error);
  g_assert_true (sw_test_pattern_check (r.received, 8));
  g_assert_cmpuint (g_bytes_get_size (r.received), ==, 30000);

  g_bytes_unref (later.bytes);
  result_clear (&r);
}

/* ---- close() from accept-certificate ---------------------------------- */

typedef struct
{
  SwConnection *client;
  gint          handler_runs;   /* atomic */
  gint          server_done;    /* atomic */
  gboolean      received;
  GError       *receive_error;
} RefusingClient;

/* An application refusing the server's certificate closes its connection
 * from the handler. glib-networking runs it in its handshake thread or in
 * the main context, while the connection's first receive waits for the
 * implicit handshake. */
static gboolean
on_accept_certificate_close (GTlsConnection       *connection,
                             GTlsCertificate      *peer_cert,
                             GTlsCertificateFlags  errors,
                             gpointer              user_data)
{
  RefusingClient *r = user_data;

  g_atomic_int_inc (&r->handler_runs);
  /* The TLS stream, in its handshake, may refuse to close: the
   * connection is closed all the same. */
  sw_connection_close (r->client, NULL, NULL);
  return FALSE;
}

static void
on_refused_server_handshake (GObject      *source,
                             GAsyncResult *res,
                             gpointer      user_data)
{
  RefusingClient *r = user_data;

  g_assert_false (g_tls_connection_handshake_finish (G_TLS_CONNECTION (source), res, NULL));
  g_atomic_int_set (&r->server_done, TRUE);
}

static void
on_refusing_client_received (GObject      *source,
                             GAsyncResult *res,
                             gpointer      user_data)
{
  RefusingClient *r = user_data;
  g_autoptr(GBytes) message = sw_connection_receive_message_finish (SW_CONNECTION (source),
                                                                    res, &r->receive_error);

  g_assert_null (message);
  r->received = TRUE;
}

static void
close_from_accept_certificate (gboolean blocking)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "tls-test.pem", NULL);
  g_autoptr(GTlsCertificate) certificate = NULL;
  g_autoptr(GIOStream) server_base = NULL;
  g_autoptr(GIOStream) client_base = NULL;
  g_autoptr(GIOStream) server_tls = NULL;
  g_autoptr(GIOStream) client_tls = NULL;
  g_autoptr(SwConnection) client = NULL;
  g_autoptr(GError) error = NULL;
  RefusingClient r = { 0 };
  int fds[2];

  if (!g_tls_backend_supports_tls (g_tls_backend_get_default ()))
    {
      g_test_fail_printf ("No TLS backend: install glib-networking (GnuTLS)");
      return;
    }
  certificate = g_tls_certificate_new_from_file (path, &error);
  g_assert_no_error (error);
  sw_test_raw_socketpair (SOCK_STREAM, fds);
  server_base = socket_connection_for_fd (fds[0]);
  client_base = socket_connection_for_fd (fds[1]);
  server_tls = G_IO_STREAM (g_tls_server_connection_new (server_base, certificate, &error));
  g_assert_no_error (error);
  client_tls = G_IO_STREAM (g_tls_client_connection_new (client_base, NULL, &error));
  g_assert_no_error (error);

  client = sw_connection_new_for_stream (client_tls, sw_framing_get_default ());
  r.client = client;
  g_signal_connect (client_tls, "accept-certificate",
                    G_CALLBACK (on_accept_certificate_close), &r);
  g_tls_connection_handshake_async (G_TLS_CONNECTION (server_tls), PRIO, NULL,
                                    on_refused_server_handshake, &r);
  if (blocking)
    {
      g_autoptr(GBytes) message = sw_connection_receive_message (client, -1, NULL,
                                                                 &r.receive_error);

      g_assert_null (message);
    }
  else
    {
      sw_connection_receive_message_async (client, PRIO, NULL, on_refusing_client_received, &r);
      WAIT_UNTIL (r.received);
    }

  g_assert_error (r.receive_error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_clear_error (&r.receive_error);
  g_assert_cmpint (g_atomic_int_get (&r.handler_runs), ==, 1);
  WAIT_UNTIL (sw_connection_get_closed (client));
  /* The TLS stream refused to close in its handshake; its socket is
   * closed anyway, and the server's handshake ends on it. */
  g_assert_true (g_io_stream_is_closed (client_base));
  WAIT_UNTIL (g_atomic_int_get (&r.server_done));
}

static void
test_tls_sync_close_from_accept_certificate (void)
{
  close_from_accept_certificate (TRUE);
}

static void
test_tls_async_close_from_accept_certificate (void)
{
  close_from_accept_certificate (FALSE);
}

/* Batches over TLS: ten messages from one send_messages() arrive whole
 * and in order, in as many batches as the records' reads make, sync and
 * async; the batch never waits for more than its first message. */
static void
test_tls_batch_receive (void)
{
  TlsPair pair = { 0 };
  GBytes *messages[10];
  g_autoptr(GError) error = NULL;

  if (!tls_pair_init (&pair, NULL))
    return;
  for (guint i = 0; i < G_N_ELEMENTS (messages); i++)
    messages[i] = sw_test_pattern_bytes (1 + i * 29, 40 + i);

  for (guint async = 0; async < 2; async++)
    {
      guint received = 0;

      g_assert_true (sw_connection_send_messages (pair.server, messages,
                                                  G_N_ELEMENTS (messages), -1, NULL, &error));
      g_assert_no_error (error);
      while (received < G_N_ELEMENTS (messages))
        {
          g_autoptr(GPtrArray) batch = NULL;

          if (async)
            {
              g_autoptr(GAsyncResult) result = NULL;

              sw_connection_receive_messages_async (pair.client, 100, PRIO, NULL,
                                                    sw_test_store_result, &result);
              sw_test_iterate_until (&result);
              batch = sw_connection_receive_messages_finish (pair.client, result, &error);
            }
          else
            batch = sw_connection_receive_messages (pair.client, 100, -1, NULL, &error);
          g_assert_no_error (error);
          g_assert_cmpuint (batch->len, >=, 1);
          g_assert_cmpuint (received + batch->len, <=, G_N_ELEMENTS (messages));
          for (guint i = 0; i < batch->len; i++)
            g_assert_true (g_bytes_equal (g_ptr_array_index (batch, i), messages[received + i]));
          received += batch->len;
        }
      assert_times_out (pair.client);
    }
  for (guint i = 0; i < G_N_ELEMENTS (messages); i++)
    g_bytes_unref (messages[i]);
  tls_pair_clear (&pair);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/sw/tls/sync/timeout", test_tls_sync_timeout);
  g_test_add_func ("/sw/tls/batch-receive", test_tls_batch_receive);
  g_test_add_func ("/sw/tls/async/data-arrives", test_tls_async_data_arrives);
  g_test_add_func ("/sw/tls/sync/cancel", test_tls_sync_cancel);
  g_test_add_func ("/sw/tls/async/cancel", test_tls_async_cancel);
  g_test_add_func ("/sw/tls/sync/close", test_tls_sync_close);
  g_test_add_func ("/sw/tls/async/close", test_tls_async_close);
  g_test_add_func ("/sw/tls/large", test_tls_large);
  g_test_add_func ("/sw/tls/msgpack", test_tls_msgpack);
  g_test_add_func ("/sw/tls/sync/close-from-accept-certificate",
                   test_tls_sync_close_from_accept_certificate);
  g_test_add_func ("/sw/tls/async/close-from-accept-certificate",
                   test_tls_async_close_from_accept_certificate);
  g_test_add_func ("/sw/converter/input", test_converter_input);
  g_test_add_func ("/sw/converter/simple-io-stream", test_simple_io_stream);

  return g_test_run ();
}
