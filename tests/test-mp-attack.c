/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* SwMultiprocessingListener and sw_multiprocessing_connect against hostile
 * peers and careless callers: raw clients that lie, stall, leave or reset
 * in the middle of the handshake, and a listener closed from another
 * thread. Every case runs bounded, so a hang fails instead of stalling
 * the suite. */
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include <gio/gunixsocketaddress.h>
#include <glib-unix.h>

#include "sw-test-util.h"

#define KEY "socketwrapper"
#define BOUND_US (30 * G_USEC_PER_SEC)
/* 4-byte header, "#CHALLENGE#{sha256}" and 40 random bytes. */
#define CHALLENGE_FRAME (4 + 19 + 40)

static GBytes *
key_bytes (void)
{
  return g_bytes_new_static (KEY, strlen (KEY));
}

static SwMultiprocessingListener *
new_listener (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) key = key_bytes ();
  SwMultiprocessingListener *listener = sw_multiprocessing_listener_new (NULL, key, &error);

  g_assert_no_error (error);
  return listener;
}

/* A raw client of @listener, as a blocking fd. */
static int
connect_raw (SwMultiprocessingListener *listener)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
                                            G_SOCKET_PROTOCOL_DEFAULT, &error);
  int fd;

  g_assert_no_error (error);
  g_assert_true (g_socket_connect (socket, sw_multiprocessing_listener_get_address (listener),
                                   NULL, &error));
  g_assert_no_error (error);
  fd = dup (g_socket_get_fd (socket));
  g_assert_cmpint (fd, >=, 0);
  /* GSocket made the shared file description non-blocking. */
  g_assert_true (g_unix_set_fd_nonblocking (fd, FALSE, NULL));
  return fd;
}

/* Our client with the right key in a thread, accepted here: the listener
 * still works. */
static gpointer
connect_thread (gpointer data)
{
  SwMultiprocessingListener *listener = data;
  g_autoptr(GBytes) key = key_bytes ();

  return sw_multiprocessing_connect (sw_multiprocessing_listener_get_address (listener), key,
                                     NULL, NULL);
}

static void
assert_accepts_next (SwMultiprocessingListener *listener)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwConnection) server = NULL;
  g_autoptr(SwConnection) client = NULL;
  g_autoptr(GBytes) sent = g_bytes_new_static ("ping", 4);
  g_autoptr(GBytes) received = NULL;
  GThread *thread = g_thread_new ("client", connect_thread, listener);

  server = sw_multiprocessing_listener_accept (listener, NULL, &error);
  g_assert_no_error (error);
  client = g_thread_join (thread);
  g_assert_nonnull (client);
  g_assert_true (sw_connection_send_message (client, sent, -1, NULL, &error));
  g_assert_no_error (error);
  received = sw_connection_receive_message (server, -1, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (received, sent));
}

/* ---- hostile clients --------------------------------------------------------- */

typedef struct
{
  const char *name;
  const char *frame;      /* what the client writes before accept runs */
  gsize       frame_len;
  int         code;       /* the accept's error */
  gboolean    failure;    /* whether the client is sent #FAILURE# */
} Hostile;

#define FRAME(s) s, sizeof s - 1

static const Hostile hostiles[] = {
  { "silent-eof", FRAME (""), G_IO_ERROR_CONNECTION_CLOSED, FALSE },
  { "declares-1GiB", FRAME ("\x40\x00\x00\x00" "abc"), G_IO_ERROR_INVALID_DATA, TRUE },
  { "declares-2^62", FRAME ("\xff\xff\xff\xff" "\x40\0\0\0\0\0\0\0" "abc"),
    G_IO_ERROR_INVALID_DATA, TRUE },
  { "negative-length", FRAME ("\xff\xff\xff\xfe"), G_IO_ERROR_INVALID_DATA, TRUE },
  { "challenge-back", FRAME ("\0\0\0\x13" "#CHALLENGE#{sha256}"), G_IO_ERROR_INVALID_DATA, TRUE },
  { "empty-answer", FRAME ("\0\0\0\0"), G_IO_ERROR_INVALID_DATA, TRUE },
  { "17-bytes", FRAME ("\0\0\0\x11" "0123456789abcdefg"), G_IO_ERROR_INVALID_DATA, TRUE },
  { "16-bytes-wrong", FRAME ("\0\0\0\x10" "0123456789abcdef"), G_IO_ERROR_PERMISSION_DENIED, TRUE },
  { "sha3", FRAME ("\0\0\0\x15" "{sha3_256}01234567890"), G_IO_ERROR_NOT_SUPPORTED, TRUE },
  { "partial-answer", FRAME ("\0\0\0\x30" "{sha256}"), G_IO_ERROR_PARTIAL_INPUT, FALSE },
};

/* Reads what the listener sent @fd until it closed the connection. */
static GByteArray *
read_until_eof (int fd)
{
  GByteArray *all = g_byte_array_new ();
  guint8 buffer[512];
  gssize n;

  while ((n = read (fd, buffer, sizeof buffer)) > 0)
    g_byte_array_append (all, buffer, n);
  g_assert_cmpint (n, ==, 0);
  return all;
}

/* One hostile client, accepted sync or with accept_async(): the accept
 * fails as the table says and the client gets what it says, then end of
 * stream while the failed accept's result is still held. */
static void
hostile_round (SwMultiprocessingListener *listener,
               const Hostile             *hostile,
               gboolean                   async)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwConnection) connection = NULL;
  g_autoptr(GByteArray) received = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  int fd = connect_raw (listener);

  sw_test_write_all (fd, hostile->frame, hostile->frame_len);
  g_assert_no_errno (shutdown (fd, SHUT_WR));
  if (async)
    {
      sw_multiprocessing_listener_accept_async (listener, NULL, sw_test_store_result, &result);
      sw_test_iterate_until (&result);
      connection = sw_multiprocessing_listener_accept_finish (listener, result, &error);
    }
  else
    connection = sw_multiprocessing_listener_accept (listener, NULL, &error);
  g_assert_error (error, G_IO_ERROR, hostile->code);
  g_assert_null (connection);
  received = read_until_eof (fd);
  close (fd);
  if (hostile->failure)
    {
      g_assert_cmpuint (received->len, ==, CHALLENGE_FRAME + 4 + 9);
      g_assert_cmpmem (received->data + CHALLENGE_FRAME, 13, "\0\0\0\x09#FAILURE#", 13);
    }
  else
    g_assert_cmpuint (received->len, ==, CHALLENGE_FRAME);
}

static void
test_hostile (gconstpointer data)
{
  const Hostile *hostile = data;
  g_autoptr(SwMultiprocessingListener) listener = NULL;
  guint fds_before;

  if (!sw_test_run_bounded (BOUND_US))
    return;
  listener = new_listener ();
  /* Sync then async; the first async round makes what GLib keeps for
   * good (the main context's descriptors), the second must keep none. */
  hostile_round (listener, hostile, FALSE);
  hostile_round (listener, hostile, TRUE);
  fds_before = sw_test_count_open_fds ();
  hostile_round (listener, hostile, TRUE);
  g_assert_cmpuint (sw_test_count_open_fds (), ==, fds_before);
  assert_accepts_next (listener);
}

/* A client that answers right, then leaves before the verdict. */
static gpointer
answer_and_leave (gpointer data)
{
  int fd = GPOINTER_TO_INT (data);
  guint8 challenge[CHALLENGE_FRAME];
  g_autoptr(GHmac) hmac = g_hmac_new (G_CHECKSUM_SHA256, (const guint8 *) KEY, strlen (KEY));
  guint8 answer[4 + 8 + 32] = { 0, 0, 0, 8 + 32, '{', 's', 'h', 'a', '2', '5', '6', '}' };
  gsize digest_len = 32;

  sw_test_read_all (fd, challenge, sizeof challenge);
  g_hmac_update (hmac, challenge + 4 + 11, sizeof challenge - 4 - 11);
  g_hmac_get_digest (hmac, answer + 12, &digest_len);
  sw_test_write_all (fd, answer, sizeof answer);
  close (fd);
  return NULL;
}

static void
test_answer_then_leave (void)
{
  g_autoptr(SwMultiprocessingListener) listener = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(SwConnection) connection = NULL;
  GThread *thread;

  if (!sw_test_run_bounded (BOUND_US))
    return;
  listener = new_listener ();
  thread = g_thread_new ("client", answer_and_leave, GINT_TO_POINTER (connect_raw (listener)));
  connection = sw_multiprocessing_listener_accept (listener, NULL, &error);
  g_thread_join (thread);
  /* Our #WELCOME# may or may not reach the socket before it is gone. */
  g_assert_nonnull (error);
  g_assert_true (error->domain == G_IO_ERROR
                 && (error->code == G_IO_ERROR_CONNECTION_CLOSED
                     || error->code == G_IO_ERROR_BROKEN_PIPE));
  g_assert_null (connection);
  assert_accepts_next (listener);
}

/* ---- close() from another thread while accept() blocks ------------------------ */

/* Once thread @blocked sleeps in poll(), closes @listener or cancels
 * @cancellable (whichever is set). */
typedef struct
{
  pid_t                      blocked;
  SwMultiprocessingListener *listener;
  GCancellable              *cancellable;
} Interrupter;

static gpointer
interrupt_when_blocked (gpointer data)
{
  Interrupter *interrupter = data;

  sw_test_wait_thread_polling (interrupter->blocked);
  if (interrupter->listener != NULL)
    sw_multiprocessing_listener_close (interrupter->listener);
  else
    g_cancellable_cancel (interrupter->cancellable);
  return NULL;
}

static void
test_close_while_accepting (void)
{
  g_autoptr(SwMultiprocessingListener) listener = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(SwConnection) connection = NULL;
  Interrupter closer = { sw_test_thread_id (), NULL, NULL };
  GThread *thread;
  guint fds_before;

  if (!sw_test_run_bounded (BOUND_US) || !sw_test_can_observe_threads ())
    return;
  fds_before = sw_test_count_open_fds ();
  listener = new_listener ();
  closer.listener = listener;
  thread = g_thread_new ("closer", interrupt_when_blocked, &closer);
  connection = sw_multiprocessing_listener_accept (listener, NULL, &error);
  g_thread_join (thread);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_assert_null (connection);
  g_assert_true (sw_multiprocessing_listener_get_closed (listener));
  g_clear_object (&listener);
  g_assert_cmpuint (sw_test_count_open_fds (), ==, fds_before);
}

/* ---- careless callers -------------------------------------------------------- */

/* A listener made with g_object_new() was never bound: every call is a
 * clear error or a no-op. */
static void
test_unbound (void)
{
  g_autoptr(SwMultiprocessingListener) listener = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(SwConnection) connection = NULL;
  g_autoptr(GAsyncResult) result = NULL;

  if (!sw_test_run_bounded (BOUND_US))
    return;
  listener = g_object_new (SW_TYPE_MULTIPROCESSING_LISTENER, NULL);
  g_assert_true (sw_multiprocessing_listener_get_closed (listener));
  g_assert_null (sw_multiprocessing_listener_get_address (listener));
  connection = sw_multiprocessing_listener_accept (listener, NULL, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_clear_error (&error);
  sw_multiprocessing_listener_accept_async (listener, NULL, sw_test_store_result, &result);
  sw_test_iterate_until (&result);
  connection = sw_multiprocessing_listener_accept_finish (listener, result, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_assert_null (connection);
  sw_multiprocessing_listener_set_backlog (listener, 3);
  g_assert_cmpint (sw_multiprocessing_listener_get_backlog (listener), ==, 3);
  sw_multiprocessing_listener_close (listener);
}

/* Two accept_async() at once and one client: one gets it, the other
 * goes on waiting until close(). */
static void
two_accepts (void)
{
  g_autoptr(SwMultiprocessingListener) listener = new_listener ();
  g_autoptr(GAsyncResult) first = NULL;
  g_autoptr(GAsyncResult) second = NULL;
  g_autoptr(GAsyncResult) connected = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) key = key_bytes ();
  g_autoptr(SwConnection) server = NULL;
  g_autoptr(SwConnection) client = NULL;
  g_autoptr(SwConnection) other = NULL;
  GAsyncResult **waiting;

  sw_multiprocessing_listener_accept_async (listener, NULL, sw_test_store_result, &first);
  sw_multiprocessing_listener_accept_async (listener, NULL, sw_test_store_result, &second);
  sw_multiprocessing_connect_async (sw_multiprocessing_listener_get_address (listener), key,
                                    NULL, sw_test_store_result, &connected);
  sw_test_iterate_until (&connected);
  client = sw_multiprocessing_connect_finish (connected, &error);
  g_assert_no_error (error);
  g_assert_true ((first == NULL) != (second == NULL));
  server = sw_multiprocessing_listener_accept_finish (listener, first ? first : second, &error);
  g_assert_no_error (error);
  waiting = first == NULL ? &first : &second;
  sw_multiprocessing_listener_close (listener);
  sw_test_iterate_until (waiting);
  other = sw_multiprocessing_listener_accept_finish (listener, *waiting, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_assert_null (other);
}

static void
test_two_accepts (void)
{
  guint fds_before;

  if (!sw_test_run_bounded (BOUND_US))
    return;
  /* The first round makes what the thread and GLib keep for good (main
   * context and wake-up descriptors); the second must leave none. */
  two_accepts ();
  fds_before = sw_test_count_open_fds ();
  two_accepts ();
  g_assert_cmpuint (sw_test_count_open_fds (), ==, fds_before);
}

typedef struct
{
  SwConnection *connection;
  GBytes       *key;
  GError       *deliver_error;
  GError       *answer_error;
  gboolean      done;
} Nested;

/* A client stalled in the handshake holds only its own accept_async():
 * another one serves the next client meanwhile. */
static void
test_stalled_beside (void)
{
  g_autoptr(SwMultiprocessingListener) listener = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GAsyncResult) stalled_result = NULL;
  g_autoptr(GAsyncResult) accepted = NULL;
  g_autoptr(GAsyncResult) connected = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) key = key_bytes ();
  g_autoptr(SwConnection) server = NULL;
  g_autoptr(SwConnection) client = NULL;
  g_autoptr(SwConnection) none = NULL;
  GPollFD poll_fd = { 0, G_IO_IN, 0 };

  if (!sw_test_run_bounded (BOUND_US))
    return;
  listener = new_listener ();
  poll_fd.fd = connect_raw (listener);
  sw_multiprocessing_listener_accept_async (listener, cancellable, sw_test_store_result,
                                            &stalled_result);
  /* Until the stalled client has its challenge. */
  while (g_poll (&poll_fd, 1, 0) == 0)
    g_main_context_iteration (NULL, TRUE);
  sw_multiprocessing_listener_accept_async (listener, NULL, sw_test_store_result, &accepted);
  sw_multiprocessing_connect_async (sw_multiprocessing_listener_get_address (listener), key,
                                    NULL, sw_test_store_result, &connected);
  sw_test_iterate_until (&connected);
  sw_test_iterate_until (&accepted);
  g_assert_null (stalled_result);
  client = sw_multiprocessing_connect_finish (connected, &error);
  g_assert_no_error (error);
  server = sw_multiprocessing_listener_accept_finish (listener, accepted, &error);
  g_assert_no_error (error);
  g_cancellable_cancel (cancellable);
  sw_test_iterate_until (&stalled_result);
  none = sw_multiprocessing_listener_accept_finish (listener, stalled_result, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (none);
  close (poll_fd.fd);
}

/* A blocking handshake inside a callback of the loop that runs an async
 * receive on the same connection fails at once with PENDING. */
static gboolean
handshake_in_callback (gpointer data)
{
  Nested *nested = data;

  g_assert_false (sw_multiprocessing_answer_challenge (nested->connection, nested->key, -1,
                                                       NULL, &nested->answer_error));
  g_assert_false (sw_multiprocessing_deliver_challenge (nested->connection, nested->key, -1,
                                                        NULL, &nested->deliver_error));
  nested->done = TRUE;
  return G_SOURCE_REMOVE;
}

static void
test_sync_handshake_behind_async (void)
{
  g_autoptr(SwMultiprocessingFraming) framing = sw_multiprocessing_framing_new ();
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GAsyncResult) received = NULL;
  g_autoptr(GBytes) message = NULL;
  g_autoptr(GError) error = NULL;
  Nested nested = { 0 };

  if (!sw_test_run_bounded (BOUND_US))
    return;
  sw_test_socketpair (SW_FRAMING (framing), &a, &b);
  nested.connection = a;
  nested.key = key_bytes ();
  sw_connection_receive_message_async (a, G_PRIORITY_DEFAULT, cancellable, sw_test_store_result,
                                       &received);
  g_idle_add (handshake_in_callback, &nested);
  while (!nested.done)
    g_main_context_iteration (NULL, TRUE);
  g_assert_error (nested.answer_error, G_IO_ERROR, G_IO_ERROR_PENDING);
  g_assert_error (nested.deliver_error, G_IO_ERROR, G_IO_ERROR_PENDING);
  g_cancellable_cancel (cancellable);
  sw_test_iterate_until (&received);
  message = sw_connection_receive_message_finish (a, received, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&nested.answer_error);
  g_clear_error (&nested.deliver_error);
  g_bytes_unref (nested.key);
}

/* A TCP client that resets its connection before the accept runs. */
static void
test_reset_client (void)
{
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GBytes) key = key_bytes ();
  g_autoptr(SwMultiprocessingListener) listener = NULL;
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(SwConnection) connection = NULL;
  struct linger linger = { 1, 0 };

  if (!sw_test_run_bounded (BOUND_US))
    return;
  listener = sw_multiprocessing_listener_new (address, key, &error);
  g_assert_no_error (error);
  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                         G_SOCKET_PROTOCOL_DEFAULT, &error);
  g_assert_no_error (error);
  g_assert_true (g_socket_connect (socket, sw_multiprocessing_listener_get_address (listener),
                                   NULL, &error));
  g_assert_no_error (error);
  g_assert_no_errno (setsockopt (g_socket_get_fd (socket), SOL_SOCKET, SO_LINGER,
                                 &linger, sizeof linger));
  g_assert_true (g_socket_close (socket, &error));
  connection = sw_multiprocessing_listener_accept (listener, NULL, &error);
  g_assert_nonnull (error);
  g_assert_true (error->domain == G_IO_ERROR);
  g_assert_null (connection);
  g_test_message ("reset client: %s", error->message);
}

/* Our async client against a listener that never accepts (the kernel
 * completes the connect), cancelled before it starts, at its first
 * step and in the handshake: CANCELLED each time. */
static void
connects_cancelled (SwMultiprocessingListener *listener,
                    guint                      fds_before)
{
  g_autoptr(GBytes) key = key_bytes ();

  for (int stage = 0; stage < 3; stage++)
    {
      g_autoptr(GCancellable) cancellable = g_cancellable_new ();
      g_autoptr(GAsyncResult) connected = NULL;
      g_autoptr(GError) error = NULL;
      g_autoptr(SwConnection) client = NULL;

      if (stage == 0)
        g_cancellable_cancel (cancellable);
      sw_multiprocessing_connect_async (sw_multiprocessing_listener_get_address (listener), key,
                                        cancellable, sw_test_store_result, &connected);
      for (int i = 0; i < stage; i++)
        g_main_context_iteration (NULL, FALSE);
      g_cancellable_cancel (cancellable);
      sw_test_iterate_until (&connected);
      client = sw_multiprocessing_connect_finish (connected, &error);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      g_assert_null (client);
      /* Nothing is kept open for the result the caller still holds. */
      if (fds_before != G_MAXUINT)
        g_assert_cmpuint (sw_test_count_open_fds (), ==, fds_before);
    }
}

static void
test_connect_async_cancelled (void)
{
  g_autoptr(SwMultiprocessingListener) listener = NULL;
  guint fds_before;

  if (!sw_test_run_bounded (BOUND_US))
    return;
  listener = new_listener ();
  /* The first round makes what GLib keeps for good; the second must
   * leave nothing open but the clients queued on the listener. */
  connects_cancelled (listener, G_MAXUINT);
  fds_before = sw_test_count_open_fds ();
  connects_cancelled (listener, fds_before);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_cmpuint (sw_test_count_open_fds (), ==, fds_before);
}

/* The sync client's handshake has no timeout; its cancellable stops it. */
static void
test_connect_sync_cancelled (void)
{
  g_autoptr(SwMultiprocessingListener) listener = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) key = key_bytes ();
  g_autoptr(SwConnection) client = NULL;
  Interrupter canceller = { sw_test_thread_id (), NULL, cancellable };
  GThread *thread;

  if (!sw_test_run_bounded (BOUND_US) || !sw_test_can_observe_threads ())
    return;
  listener = new_listener ();
  thread = g_thread_new ("canceller", interrupt_when_blocked, &canceller);
  client = sw_multiprocessing_connect (sw_multiprocessing_listener_get_address (listener), key,
                                       cancellable, &error);
  g_thread_join (thread);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (client);
}

/* ---- timeouts ----------------------------------------------------------------- */

/* A peer that wrote a legacy challenge and its #WELCOME# before we look:
 * answering needs no wait, so a timeout of 0 succeeds, and so does the
 * largest one (a deadline that does not fit in 64 bits is "for ever"). */
static void
test_answer_prewritten (gconstpointer data)
{
  gint64 timeout_us = *(const gint64 *) data;
  g_autoptr(SwMultiprocessingFraming) framing = sw_multiprocessing_framing_new ();
  g_autoptr(SwConnection) connection = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) key = key_bytes ();
  static const char frames[] = "\0\0\0\x1f" "#CHALLENGE#" "01234567890123456789"
                               "\0\0\0\x09" "#WELCOME#";
  guint8 answer[4 + 16];
  int fds[2];

  if (!sw_test_run_bounded (BOUND_US))
    return;
  sw_test_raw_socketpair (SOCK_STREAM, fds);
  connection = sw_test_connection_for_socket_fd (fds[1], SW_FRAMING (framing));
  sw_test_write_all (fds[0], frames, sizeof frames - 1);
  g_assert_true (sw_multiprocessing_answer_challenge (connection, key, timeout_us, NULL, &error));
  g_assert_no_error (error);
  sw_test_read_all (fds[0], answer, sizeof answer);
  g_assert_cmpmem (answer, 4, "\0\0\0\x10", 4);
  close (fds[0]);
}

static const gint64 timeout_zero = 0;
static const gint64 timeout_max = G_MAXINT64;

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (hostiles); i++)
    {
      g_autofree char *path = g_strdup_printf ("/sw/mp-attack/hostile/%s", hostiles[i].name);

      g_test_add_data_func (path, &hostiles[i], test_hostile);
    }
  g_test_add_func ("/sw/mp-attack/answer-then-leave", test_answer_then_leave);
  g_test_add_func ("/sw/mp-attack/close-while-accepting", test_close_while_accepting);
  g_test_add_func ("/sw/mp-attack/unbound", test_unbound);
  g_test_add_data_func ("/sw/mp-attack/timeout/zero-prewritten", &timeout_zero,
                        test_answer_prewritten);
  g_test_add_data_func ("/sw/mp-attack/timeout/max-prewritten", &timeout_max,
                        test_answer_prewritten);
  g_test_add_func ("/sw/mp-attack/two-accepts", test_two_accepts);
  g_test_add_func ("/sw/mp-attack/stalled-beside", test_stalled_beside);
  g_test_add_func ("/sw/mp-attack/sync-handshake-behind-async", test_sync_handshake_behind_async);
  g_test_add_func ("/sw/mp-attack/reset-client", test_reset_client);
  g_test_add_func ("/sw/mp-attack/connect-async-cancelled", test_connect_async_cancelled);
  g_test_add_func ("/sw/mp-attack/connect-sync-cancelled", test_connect_sync_cancelled);

  return g_test_run ();
}
