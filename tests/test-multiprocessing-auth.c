/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The multiprocessing.connection authentication handshake, in both roles,
 * against /usr/bin/python3's multiprocessing (the legacy HMAC-MD5 form on
 * Python <= 3.11), between two of our ends (the {sha256} form), and
 * against a fixed {sha256} vector. */
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sw-test-peer.h"
#include "sw-test-util.h"

#define KEY "socketwrapper"
/* An expected "error" code: the step must succeed. */
#define G_IO_ERROR_NONE (-1)

static GBytes *
key_bytes (const char *key)
{
  return g_bytes_new_static (key, strlen (key));
}

static GBytes *
str_bytes (const char *text)
{
  return g_bytes_new_static (text, strlen (text));
}

static void
new_pair (SwConnection **a,
          SwConnection **b)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwMultiprocessingFraming) framing = sw_multiprocessing_framing_new ();

  g_assert_true (sw_socketpair (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
                                SW_FRAMING (framing), a, b, &error));
  g_assert_no_error (error);
}

static gboolean
start_peer (SwTestPeer *peer,
            const char *mode)
{
  g_autoptr(SwMultiprocessingFraming) framing = sw_multiprocessing_framing_new ();

  return sw_test_peer_start (peer, "mp_auth_peer.py", mode, SW_FRAMING (framing));
}

/* Closes our end and checks the peer's exit status. */
static void
finish_peer (SwTestPeer *peer,
             int         expected_status)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (sw_connection_close (peer->connection, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_subprocess_wait (peer->process, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (peer->process));
  g_assert_cmpint (g_subprocess_get_exit_status (peer->process), ==, expected_status);
  g_clear_object (&peer->connection);
  g_clear_object (&peer->process);
}

static void
assert_receives (SwConnection *connection,
                 const char   *text)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) message = sw_connection_receive_message (connection, -1, NULL, &error);
  g_autoptr(GBytes) expected = str_bytes (text);

  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (message, expected));
}

/* ---- against Python's multiprocessing --------------------------------------- */

typedef gboolean (*Handshake) (SwConnection  *connection,
                               GBytes        *authkey,
                               gint64         timeout_us,
                               GCancellable  *cancellable,
                               GError       **error);

typedef struct
{
  Handshake ours;
  const char *peer_mode;  /* the peer's role with its key */
  gboolean right;
} PythonCase;

static const PythonCase deliver_right = { sw_multiprocessing_deliver_challenge, "answer=" KEY, TRUE };
static const PythonCase deliver_wrong = { sw_multiprocessing_deliver_challenge, "answer=wrong", FALSE };
static const PythonCase answer_right = { sw_multiprocessing_answer_challenge, "deliver=" KEY, TRUE };
static const PythonCase answer_wrong = { sw_multiprocessing_answer_challenge, "deliver=wrong", FALSE };

static void
test_python (gconstpointer data)
{
  const PythonCase *test = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) key = key_bytes (KEY);
  SwTestPeer peer = { 0 };

  if (!start_peer (&peer, test->peer_mode))
    return;
  g_assert_cmpint (test->ours (peer.connection, key, -1, NULL, &error), ==, test->right);
  if (test->right)
    {
      g_assert_no_error (error);
      assert_receives (peer.connection, "authenticated");
    }
  else
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
  /* 3: the peer raised AuthenticationError (it sent or saw #FAILURE#). */
  finish_peer (&peer, test->right ? 0 : 3);
}

static void
test_answer_oversize (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) key = key_bytes (KEY);
  SwTestPeer peer = { 0 };

  if (!start_peer (&peer, "oversize"))
    return;
  g_assert_false (sw_multiprocessing_answer_challenge (peer.connection, key, -1, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  finish_peer (&peer, 0);
}

/* ---- a stalled peer ------------------------------------------------------- */

/* Our sync handshake against a Python peer in @peer_mode that stalls. */
typedef struct
{
  Handshake ours;
  const char *peer_mode;
  gboolean peer_sends_first;  /* wait for its challenge before starting */
} StalledCase;

/* Stalls before sending anything, after taking our challenge, after
 * taking our answer: each step's wait is bounded. */
static const StalledCase answer_stall_start = { sw_multiprocessing_answer_challenge, "stall", FALSE };
static const StalledCase deliver_stall_response = { sw_multiprocessing_deliver_challenge, "answer-stall", FALSE };
static const StalledCase answer_stall_verdict = { sw_multiprocessing_answer_challenge, "deliver-stall", TRUE };

/* Starts the peer; when it sends first, returns once its first message
 * is readable, so our handshake's first wait is for what the peer never
 * sends. */
static gboolean
start_stalled_peer (SwTestPeer        *peer,
                    const StalledCase *test)
{
  struct pollfd pfd = { .events = POLLIN };

  if (!start_peer (peer, test->peer_mode))
    return FALSE;
  pfd.fd = sw_connection_get_fd (peer->connection);
  if (test->peer_sends_first)
    g_assert_cmpint (poll (&pfd, 1, -1), ==, 1);
  return TRUE;
}

/* Long enough for the peer to get to where it stalls, which the test
 * does not depend on: any step left waiting ends with TIMED_OUT. */
#define STALL_TIMEOUT_US (50 * G_TIME_SPAN_MILLISECOND)
/* A handshake ignoring its timeout hangs: the case then fails. */
#define STALL_BOUND_US (30 * G_USEC_PER_SEC)

static void
test_stalled_timeout (gconstpointer data)
{
  const StalledCase *test = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) key = key_bytes (KEY);
  SwTestPeer peer = { 0 };

  if (!sw_test_run_bounded (STALL_BOUND_US) || !start_stalled_peer (&peer, test))
    return;
  g_assert_false (test->ours (peer.connection, key, STALL_TIMEOUT_US, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  finish_peer (&peer, 0);
}

typedef struct
{
  const StalledCase *test;
  SwConnection *connection;
  GCancellable *cancellable;
  GMutex mutex;
  GCond cond;
  pid_t tid;
  GError *error;
} Stalled;

static gpointer
stalled_thread (gpointer data)
{
  Stalled *stalled = data;
  g_autoptr(GBytes) key = key_bytes (KEY);

  g_mutex_lock (&stalled->mutex);
  stalled->tid = sw_test_thread_id ();
  g_cond_signal (&stalled->cond);
  g_mutex_unlock (&stalled->mutex);
  g_assert_false (stalled->test->ours (stalled->connection, key, -1, stalled->cancellable,
                                       &stalled->error));
  return NULL;
}

/* Cancelled once blocked in poll() waiting for what the peer never
 * sends. */
static void
test_stalled_cancelled (gconstpointer data)
{
  Stalled stalled = { .test = data };
  SwTestPeer peer = { 0 };
  GThread *thread;

  if (!sw_test_can_observe_threads () || !start_stalled_peer (&peer, stalled.test))
    return;
  stalled.connection = peer.connection;
  stalled.cancellable = g_cancellable_new ();
  g_mutex_init (&stalled.mutex);
  g_cond_init (&stalled.cond);
  thread = g_thread_new ("stalled-handshake", stalled_thread, &stalled);
  g_mutex_lock (&stalled.mutex);
  while (stalled.tid == 0)
    g_cond_wait (&stalled.cond, &stalled.mutex);
  g_mutex_unlock (&stalled.mutex);
  sw_test_wait_thread_polling (stalled.tid);
  g_cancellable_cancel (stalled.cancellable);
  g_thread_join (thread);
  g_assert_error (stalled.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&stalled.error);
  g_object_unref (stalled.cancellable);
  g_mutex_clear (&stalled.mutex);
  g_cond_clear (&stalled.cond);
  finish_peer (&peer, 0);
}

/* ---- between our own ends, with async calls -------------------------------- */

typedef struct
{
  GAsyncResult *result;
  gboolean ok;
  GError *error;
  GBytes *message;
} Outcome;

static void
on_done (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  Outcome *outcome = user_data;

  outcome->result = g_object_ref (result);
}

static GAsyncResult *
wait_result (Outcome *outcome)
{
  while (outcome->result == NULL)
    g_main_context_iteration (NULL, TRUE);
  return outcome->result;
}

static void
wait_delivered (SwConnection *connection,
                Outcome      *outcome)
{
  outcome->ok = sw_multiprocessing_deliver_challenge_finish (connection,
                                                             wait_result (outcome),
                                                             &outcome->error);
}

static void
wait_answered (SwConnection *connection,
               Outcome      *outcome)
{
  outcome->ok = sw_multiprocessing_answer_challenge_finish (connection,
                                                            wait_result (outcome),
                                                            &outcome->error);
}

static void
outcome_clear (Outcome *outcome)
{
  g_clear_object (&outcome->result);
  g_clear_error (&outcome->error);
  g_clear_pointer (&outcome->message, g_bytes_unref);
}

/* Drives our raw end of a handshake while the other end runs async. */
static GBytes *
raw_receive (SwConnection *connection)
{
  Outcome outcome = { 0 };

  GBytes *message;

  sw_connection_receive_message_async (connection, G_PRIORITY_DEFAULT, NULL, on_done,
                                       &outcome);
  message = sw_connection_receive_message_finish (connection, wait_result (&outcome),
                                                  &outcome.error);
  g_assert_no_error (outcome.error);
  outcome_clear (&outcome);
  return message;
}

static void
raw_send (SwConnection *connection,
          GBytes       *message)
{
  Outcome outcome = { 0 };

  sw_connection_send_message_async (connection, message, G_PRIORITY_DEFAULT, NULL, on_done,
                                    &outcome);
  g_assert_true (sw_connection_send_message_finish (connection, wait_result (&outcome),
                                                    &outcome.error));
  g_assert_no_error (outcome.error);
  outcome_clear (&outcome);
}

static void
test_sha256_own_ends (gconstpointer data)
{
  gboolean right = GPOINTER_TO_INT (data);
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) key = key_bytes (KEY);
  g_autoptr(GBytes) other_key = key_bytes (right ? KEY : "wrong");
  Outcome delivered = { 0 }, answered = { 0 };

  new_pair (&a, &b);
  sw_multiprocessing_deliver_challenge_async (a, key, NULL, on_done, &delivered);
  sw_multiprocessing_answer_challenge_async (b, other_key, NULL, on_done, &answered);
  wait_delivered (a, &delivered);
  wait_answered (b, &answered);
  g_assert_cmpint (delivered.ok, ==, right);
  g_assert_cmpint (answered.ok, ==, right);
  if (right)
    {
      g_assert_no_error (delivered.error);
      g_assert_no_error (answered.error);
    }
  else
    {
      g_assert_error (delivered.error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
      g_assert_error (answered.error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
    }
  outcome_clear (&delivered);
  outcome_clear (&answered);
}

/* The challenge we deliver has CPython 3.12's shape. */
static void
test_challenge_shape (void)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) key = key_bytes (KEY);
  g_autoptr(GBytes) challenge = NULL;
  g_autoptr(GBytes) failure = str_bytes ("#FAILURE#");
  g_autoptr(GBytes) garbage = str_bytes ("no digest here");
  g_autoptr(GBytes) verdict = NULL;
  Outcome delivered = { 0 };

  new_pair (&a, &b);
  sw_multiprocessing_deliver_challenge_async (a, key, NULL, on_done, &delivered);
  challenge = raw_receive (b);
  g_assert_cmpuint (g_bytes_get_size (challenge), ==, strlen ("#CHALLENGE#{sha256}") + 40);
  g_assert_cmpmem (g_bytes_get_data (challenge, NULL), strlen ("#CHALLENGE#{sha256}"),
                   "#CHALLENGE#{sha256}", strlen ("#CHALLENGE#{sha256}"));
  /* A malformed response: #FAILURE# is sent, then INVALID_DATA. */
  raw_send (b, garbage);
  verdict = raw_receive (b);
  g_assert_true (g_bytes_equal (verdict, failure));
  wait_delivered (a, &delivered);
  g_assert_false (delivered.ok);
  g_assert_error (delivered.error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  outcome_clear (&delivered);
}

/* "{name}" + HMAC(key, challenge without "#CHALLENGE#") + @padding bytes. */
static GBytes *
digest_response (GBytes        *challenge,
                 const char    *name,
                 GChecksumType  type,
                 gsize          padding)
{
  g_autoptr(GHmac) hmac = g_hmac_new (type, (const guint8 *) KEY, strlen (KEY));
  GByteArray *response = g_byte_array_new ();
  guint8 digest[64];
  gsize len = sizeof digest;
  g_autofree char *prefix = g_strdup_printf ("{%s}", name);

  g_hmac_update (hmac, (const guint8 *) g_bytes_get_data (challenge, NULL) + strlen ("#CHALLENGE#"),
                 g_bytes_get_size (challenge) - strlen ("#CHALLENGE#"));
  g_hmac_get_digest (hmac, digest, &len);
  g_byte_array_append (response, (const guint8 *) prefix, strlen (prefix));
  g_byte_array_append (response, digest, len);
  g_byte_array_set_size (response, response->len + padding);
  memset (response->data + response->len - padding, 'x', padding);
  return g_byte_array_free_to_bytes (response);
}

/* Our deliver against hand-made responses: a peer may pick {sha384}; a
 * right digest with bytes after it, making the response longer than 256
 * bytes, is refused for its size. */
static void
check_response (const char    *name,
                GChecksumType  type,
                gsize          padding,
                int            code)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) key = key_bytes (KEY);
  g_autoptr(GBytes) challenge = NULL;
  g_autoptr(GBytes) response = NULL;
  g_autoptr(GBytes) verdict = NULL;
  g_autoptr(GBytes) expected = str_bytes (code == G_IO_ERROR_NONE ? "#WELCOME#" : "#FAILURE#");
  Outcome delivered = { 0 };

  new_pair (&a, &b);
  sw_multiprocessing_deliver_challenge_async (a, key, NULL, on_done, &delivered);
  challenge = raw_receive (b);
  response = digest_response (challenge, name, type, padding);
  raw_send (b, response);
  verdict = raw_receive (b);
  g_assert_true (g_bytes_equal (verdict, expected));
  wait_delivered (a, &delivered);
  if (code == G_IO_ERROR_NONE)
    g_assert_no_error (delivered.error);
  else
    g_assert_error (delivered.error, G_IO_ERROR, code);
  outcome_clear (&delivered);
}

static void
test_deliver_responses (void)
{
  check_response ("sha384", G_CHECKSUM_SHA384, 0, G_IO_ERROR_NONE);
  check_response ("sha256", G_CHECKSUM_SHA256, 0, G_IO_ERROR_NONE);
  check_response ("sha256", G_CHECKSUM_SHA256, 1, G_IO_ERROR_PERMISSION_DENIED);
  check_response ("sha256", G_CHECKSUM_SHA256, 257 - strlen ("{sha256}") - 32,
                  G_IO_ERROR_INVALID_DATA);
}

/* A fixed {sha256} challenge and the response CPython 3.12's
 * _create_response() gives for it: "{sha256}" + HMAC-SHA256(key,
 * "{sha256}" + bytes(range(40))), computed with Python's hmac module. */
static const char vector_sha256_hex[] =
  "a240a71fa4102e58175fd27ad7eca7ed70f32cbca5e2160378522dd38bed277b";
/* The legacy form: HMAC-MD5(key, bytes(range(20))). */
static const char vector_md5_hex[] = "24754e26836fc44df5a4ae731a193466";

static GBytes *
vector_challenge (const char *prefix,
                  gsize       nonce_len)
{
  GByteArray *array = g_byte_array_new ();

  g_byte_array_append (array, (const guint8 *) "#CHALLENGE#", strlen ("#CHALLENGE#"));
  g_byte_array_append (array, (const guint8 *) prefix, strlen (prefix));
  for (gsize i = 0; i < nonce_len; i++)
    g_byte_array_append (array, (const guint8 *) &(guint8) { i }, 1);
  return g_byte_array_free_to_bytes (array);
}

static char *
hex_of (const guint8 *data,
        gsize         len)
{
  GString *hex = g_string_new (NULL);

  for (gsize i = 0; i < len; i++)
    g_string_append_printf (hex, "%02x", data[i]);
  return g_string_free (hex, FALSE);
}

static void
check_vector (const char *prefix,
              gsize       nonce_len,
              const char *expected_hex)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) key = key_bytes (KEY);
  g_autoptr(GBytes) challenge = vector_challenge (prefix, nonce_len);
  g_autoptr(GBytes) welcome = str_bytes ("#WELCOME#");
  g_autoptr(GBytes) response = NULL;
  g_autofree char *hex = NULL;
  const guint8 *data;
  gsize len;
  Outcome answered = { 0 };

  new_pair (&a, &b);
  sw_multiprocessing_answer_challenge_async (a, key, NULL, on_done, &answered);
  raw_send (b, challenge);
  response = raw_receive (b);
  data = g_bytes_get_data (response, &len);
  g_assert_cmpuint (len, >=, strlen (prefix));
  g_assert_cmpmem (data, strlen (prefix), prefix, strlen (prefix));
  hex = hex_of (data + strlen (prefix), len - strlen (prefix));
  g_assert_cmpstr (hex, ==, expected_hex);
  raw_send (b, welcome);
  wait_answered (a, &answered);
  g_assert_no_error (answered.error);
  g_assert_true (answered.ok);
  outcome_clear (&answered);
}

static void
test_vectors (void)
{
  check_vector ("{sha256}", 40, vector_sha256_hex);
  check_vector ("", 20, vector_md5_hex);
}

/* A raw peer that stalls mid-handshake: it takes our challenge and never
 * answers (deliver), or sends a challenge, takes our answer and never
 * sends a verdict (answer). The async call waits until its cancellable is
 * cancelled. */
static void
test_stalled_cancelled_async (gconstpointer data)
{
  gboolean deliver = GPOINTER_TO_INT (data);
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) key = key_bytes (KEY);
  g_autoptr(GBytes) challenge = vector_challenge ("{sha256}", 40);
  g_autoptr(GBytes) taken = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  Outcome outcome = { 0 };

  new_pair (&a, &b);
  if (deliver)
    sw_multiprocessing_deliver_challenge_async (a, key, cancellable, on_done, &outcome);
  else
    {
      sw_multiprocessing_answer_challenge_async (a, key, cancellable, on_done, &outcome);
      raw_send (b, challenge);
    }
  taken = raw_receive (b);
  /* Let the call start waiting for what never comes. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_null (outcome.result);
  g_cancellable_cancel (cancellable);
  if (deliver)
    wait_delivered (a, &outcome);
  else
    wait_answered (a, &outcome);
  g_assert_false (outcome.ok);
  g_assert_error (outcome.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  outcome_clear (&outcome);
}

/* ---- refusals ------------------------------------------------------------ */

static void
answer_refuses (const char *prefix,
                gsize       nonce_len,
                int         code)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) key = key_bytes (KEY);
  g_autoptr(GBytes) challenge = vector_challenge (prefix, nonce_len);
  Outcome answered = { 0 };

  new_pair (&a, &b);
  sw_multiprocessing_answer_challenge_async (a, key, NULL, on_done, &answered);
  raw_send (b, challenge);
  if (code == G_IO_ERROR_NONE)
    {
      /* Answered: the peer gets a response; closing it ends the wait. */
      g_autoptr(GBytes) response = raw_receive (b);

      g_assert_cmpuint (g_bytes_get_size (response), >=, 16); /* an HMAC digest */
      g_assert_true (sw_connection_close (b, NULL, NULL));
      code = G_IO_ERROR_CONNECTION_CLOSED;
    }
  wait_answered (a, &answered);
  g_assert_false (answered.ok);
  g_assert_nonnull (answered.error);
  g_assert_cmpint (answered.error->domain, ==, G_IO_ERROR);
  g_assert_cmpint (answered.error->code, ==, code);
  outcome_clear (&answered);
}

static void
test_answer_refusals (void)
{
  answer_refuses ("", 19, G_IO_ERROR_INVALID_DATA);           /* too short */
  answer_refuses ("", 30, G_IO_ERROR_INVALID_DATA);           /* no prefix */
  answer_refuses ("{sha1}", 40, G_IO_ERROR_INVALID_DATA);     /* not allowed */
  answer_refuses ("{sha3_256}", 40, G_IO_ERROR_NOT_SUPPORTED);
  /* Well-formed but over 256 bytes. */
  answer_refuses ("{sha256}", 256 - strlen ("#CHALLENGE#{sha256}"), G_IO_ERROR_NONE);
  answer_refuses ("{sha256}", 257 - strlen ("#CHALLENGE#{sha256}"), G_IO_ERROR_INVALID_DATA);
}

/* ---- handshake messages declared too long ---------------------------------- */

/* Runs our side of the handshake, sync or async, to its failure. */
static void
run_failing_handshake (SwConnection  *connection,
                       gboolean       deliver,
                       gboolean       async,
                       GError       **error)
{
  g_autoptr(GBytes) key = key_bytes (KEY);
  Outcome outcome = { 0 };

  if (!async)
    {
      g_assert_false (deliver ? sw_multiprocessing_deliver_challenge (connection, key, -1, NULL, error)
                              : sw_multiprocessing_answer_challenge (connection, key, -1, NULL, error));
      return;
    }
  if (deliver)
    {
      sw_multiprocessing_deliver_challenge_async (connection, key, NULL, on_done, &outcome);
      wait_delivered (connection, &outcome);
    }
  else
    {
      sw_multiprocessing_answer_challenge_async (connection, key, NULL, on_done, &outcome);
      wait_answered (connection, &outcome);
    }
  g_assert_false (outcome.ok);
  g_propagate_error (error, g_steal_pointer (&outcome.error));
  outcome_clear (&outcome);
}

/* A multiprocessing frame header declaring @declared bytes, then @start. */
static void
raw_write_frame (int         fd,
                 guint32     declared,
                 const void *start,
                 gsize       len)
{
  guint32 header = GUINT32_TO_BE (declared);

  sw_test_write_all (fd, &header, sizeof header);
  sw_test_write_all (fd, start, len);
}

static GBytes *
raw_read_frame (int fd)
{
  guint32 header;
  gsize len;
  guint8 *data;

  sw_test_read_all (fd, &header, sizeof header);
  len = GUINT32_FROM_BE (header);
  g_assert_cmpuint (len, <=, 256);
  data = g_malloc (len);
  sw_test_read_all (fd, data, len);
  return g_bytes_new_take (data, len);
}

typedef struct
{
  gboolean deliver;
  gboolean verdict_step;  /* answer: after a well-formed challenge */
  gboolean async;
  guint32 declared;
} OversizeCase;

/* The peer's message is written before the handshake starts: a header
 * declaring @declared bytes and a few of them. The connection has no
 * max-message-size, so only the 256-byte rule of the handshake can end
 * the receive, and it must do so from the header: the payload never
 * comes. */
static void
check_oversize_declared (const OversizeCase *test)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwMultiprocessingFraming) framing = sw_multiprocessing_framing_new ();
  g_autoptr(SwConnection) ours = NULL;
  int fds[2];

  sw_test_raw_socketpair (SOCK_STREAM, fds);
  ours = sw_test_connection_for_socket_fd (fds[0], SW_FRAMING (framing));
  sw_connection_set_max_message_size (ours, 0);
  if (test->verdict_step)
    {
      g_autoptr(GBytes) challenge = vector_challenge ("{sha256}", 40);

      raw_write_frame (fds[1], g_bytes_get_size (challenge),
                       g_bytes_get_data (challenge, NULL), g_bytes_get_size (challenge));
    }
  raw_write_frame (fds[1], test->declared, "#CHALLENGE#{sha256}", 19);
  run_failing_handshake (ours, test->deliver, test->async, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  if (test->deliver)
    {
      /* Our challenge, then #FAILURE#, as for any malformed response. */
      g_autoptr(GBytes) challenge = raw_read_frame (fds[1]);
      g_autoptr(GBytes) reply = raw_read_frame (fds[1]);
      g_autoptr(GBytes) failure = str_bytes ("#FAILURE#");

      g_assert_cmpuint (g_bytes_get_size (challenge), >, 11);
      g_assert_cmpmem (g_bytes_get_data (challenge, NULL), 11, "#CHALLENGE#", 11);
      g_assert_true (g_bytes_equal (reply, failure));
    }
  g_assert_cmpint (close (fds[1]), ==, 0);
}

static void
test_oversize_declared (void)
{
  static const OversizeCase cases[] = {
    { FALSE, FALSE, FALSE, 1u << 30 },
    { FALSE, FALSE, TRUE, 257 },
    { FALSE, TRUE, FALSE, 257 },
    { FALSE, TRUE, TRUE, 1u << 30 },
    { TRUE, FALSE, FALSE, 1u << 30 },
    { TRUE, FALSE, TRUE, 1u << 30 },
    { TRUE, FALSE, FALSE, 257 },
  };

  guint fds = 0;

  /* Without the check from the header each case waits for ever. */
  if (!sw_test_run_bounded (STALL_BOUND_US))
    return;
  /* The first round creates the thread's wake fd and the main context's;
   * the second must leave the count as it found it. */
  for (guint round = 0; round < 2; round++)
    {
      if (round == 1)
        fds = sw_test_count_open_fds ();
      for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
        check_oversize_declared (&cases[i]);
    }
  g_assert_cmpuint (sw_test_count_open_fds (), ==, fds);
}

static void
test_wrong_framing (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(SwVarIntFraming) framing = sw_varint_framing_new ();
  g_autoptr(GBytes) key = key_bytes (KEY);

  g_assert_true (sw_socketpair (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
                                SW_FRAMING (framing), &a, &b, &error));
  g_assert_no_error (error);
  /* No peer: any I/O would fail with another error (or wait). */
  g_assert_true (sw_connection_close (b, NULL, &error));
  g_assert_false (sw_multiprocessing_deliver_challenge (a, key, -1, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  g_clear_error (&error);
  g_assert_false (sw_multiprocessing_answer_challenge (a, key, -1, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_data_func ("/sw/mp-auth/deliver/python-right-key", &deliver_right, test_python);
  g_test_add_data_func ("/sw/mp-auth/deliver/python-wrong-key", &deliver_wrong, test_python);
  g_test_add_data_func ("/sw/mp-auth/answer/python-right-key", &answer_right, test_python);
  g_test_add_data_func ("/sw/mp-auth/answer/python-wrong-key", &answer_wrong, test_python);
  g_test_add_func ("/sw/mp-auth/answer/python-oversize", test_answer_oversize);
  g_test_add_data_func ("/sw/mp-auth/answer/stalled-cancelled", &answer_stall_start,
                        test_stalled_cancelled);
  g_test_add_data_func ("/sw/mp-auth/deliver/stalled-response-cancelled",
                        &deliver_stall_response, test_stalled_cancelled);
  g_test_add_data_func ("/sw/mp-auth/answer/stalled-verdict-cancelled",
                        &answer_stall_verdict, test_stalled_cancelled);
  g_test_add_data_func ("/sw/mp-auth/answer/stalled-timeout", &answer_stall_start,
                        test_stalled_timeout);
  g_test_add_data_func ("/sw/mp-auth/deliver/stalled-response-timeout",
                        &deliver_stall_response, test_stalled_timeout);
  g_test_add_data_func ("/sw/mp-auth/answer/stalled-verdict-timeout",
                        &answer_stall_verdict, test_stalled_timeout);
  g_test_add_data_func ("/sw/mp-auth/sha256/right-key", GINT_TO_POINTER (TRUE),
                        test_sha256_own_ends);
  g_test_add_data_func ("/sw/mp-auth/sha256/wrong-key", GINT_TO_POINTER (FALSE),
                        test_sha256_own_ends);
  g_test_add_data_func ("/sw/mp-auth/deliver/stalled-cancelled-async",
                        GINT_TO_POINTER (TRUE), test_stalled_cancelled_async);
  g_test_add_data_func ("/sw/mp-auth/answer/stalled-verdict-cancelled-async",
                        GINT_TO_POINTER (FALSE), test_stalled_cancelled_async);
  g_test_add_func ("/sw/mp-auth/deliver/responses", test_deliver_responses);
  g_test_add_func ("/sw/mp-auth/deliver/challenge-shape", test_challenge_shape);
  g_test_add_func ("/sw/mp-auth/answer/vectors", test_vectors);
  g_test_add_func ("/sw/mp-auth/answer/refusals", test_answer_refusals);
  g_test_add_func ("/sw/mp-auth/oversize-declared", test_oversize_declared);
  g_test_add_func ("/sw/mp-auth/wrong-framing", test_wrong_framing);
  return g_test_run ();
}
