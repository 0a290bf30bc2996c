/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* SwDelimiterFraming: decoding whole and a byte at a time (same answers,
 * the search resuming delimiter_length - 1 bytes before where it
 * stopped), the encode checks, real connections ("\n" lines, a delimiter
 * split across writes, empty messages, max-message-size while scanning),
 * JSON Lines with a Python peer using only `json`, and a seeded fuzz loop
 * against a naive reference. */

#include <string.h>

#include <socketwrapper/socketwrapper.h>

#include "sw-test-peer.h"
#include "sw-test-util.h"

#define TIMEOUT_US (10 * G_USEC_PER_SEC)

static SwFraming *
framing_new (const char *delimiter)
{
  g_autoptr(GBytes) bytes = delimiter ? g_bytes_new (delimiter, strlen (delimiter)) : NULL;

  return SW_FRAMING (sw_delimiter_framing_new (bytes));
}

typedef struct
{
  SwFramingResult result;
  guint64 payload;
  gsize trailer;
  gsize needed;
} Answer;

static Answer
decode (SwFraming  *framing,
        const char *data,
        gsize       length,
        guint64    *state)
{
  g_autoptr(GError) error = NULL;
  Answer answer = { 0 };
  gsize header = 0;

  answer.result = sw_framing_decode (framing, (const guint8 *) data, length, state,
                                     &header, &answer.payload, &answer.trailer,
                                     &answer.needed, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (header, ==, 0);
  return answer;
}

/* The reference: the first occurrence, found naively. */
static gssize
naive_find (const char *data,
            gsize       length,
            const char *delimiter)
{
  gsize n = strlen (delimiter);

  for (gsize i = 0; i + n <= length; i++)
    if (memcmp (data + i, delimiter, n) == 0)
      return (gssize) i;
  return -1;
}

/* Feeds @data a byte at a time with one state word; each prefix gives
 * the answer a fresh decode and the reference give, and the state never
 * lags more than delimiter_length - 1 bytes behind (linear work). */
static Answer
decode_incrementally (SwFraming  *framing,
                      const char *delimiter,
                      const char *data,
                      gsize       length)
{
  gsize n = strlen (delimiter);
  guint64 state = 0;
  Answer answer = { 0 };

  for (gsize k = 0; k <= length; k++)
    {
      guint64 fresh_state = 0;
      Answer fresh = decode (framing, data, k, &fresh_state);
      gssize found = naive_find (data, k, delimiter);

      answer = decode (framing, data, k, &state);
      g_assert_cmpint (answer.result, ==, fresh.result);
      if (found >= 0)
        {
          g_assert_cmpint (answer.result, ==, SW_FRAMING_RESULT_FRAME);
          g_assert_cmpuint (answer.payload, ==, (guint64) found);
          g_assert_cmpuint (answer.trailer, ==, n);
          return answer;
        }
      g_assert_cmpint (answer.result, ==, SW_FRAMING_RESULT_NEED_MORE);
      g_assert_cmpuint (answer.needed, ==, fresh.needed);
      g_assert_cmpuint (answer.needed, >=, 1);
      g_assert_cmpuint (state, ==, k >= n - 1 ? k - (n - 1) : 0);
    }
  return answer;
}

static void
test_decode_lines (void)
{
  static const struct { const char *delimiter; const char *data; } cases[] = {
    { NULL, "abc\ndef\n" }, { NULL, "\n" }, { NULL, "no end" },
    { "\r\n", "abc\r\r\ndef" }, { "\r\n", "\r\n" }, { "<END>", "x<EN<END>" },
    { "<END>", "<END<END>" }, { "aab", "aaaab" }, { "aba", "ababa" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const char *delimiter = cases[i].delimiter ? cases[i].delimiter : "\n";
      g_autoptr(SwFraming) framing = framing_new (cases[i].delimiter);

      g_test_message ("%s in %s", delimiter, cases[i].data);
      decode_incrementally (framing, delimiter, cases[i].data, strlen (cases[i].data));
    }
}

/* A connection that does not read ahead must never be asked for a byte
 * past the delimiter. */
static void
test_decode_needed (void)
{
  g_autoptr(SwFraming) framing = framing_new ("<END>");
  guint64 state = 0;
  Answer answer;

  answer = decode (framing, "ab", 2, &state);
  g_assert_cmpint (answer.result, ==, SW_FRAMING_RESULT_NEED_MORE);
  g_assert_cmpuint (answer.needed, ==, 3);
  answer = decode (framing, "ab<EN", 5, &state);
  g_assert_cmpint (answer.result, ==, SW_FRAMING_RESULT_NEED_MORE);
  g_assert_cmpuint (answer.needed, ==, 1);
  g_assert_cmpuint (state, ==, 1);
}

static void
test_decode_linear (void)
{
  g_autoptr(SwFraming) framing = framing_new ("\r\n");
  gsize size = 200000;
  g_autofree char *data = g_malloc (size);
  guint64 state = 0, examined = 0;
  Answer answer = { 0 };

  memset (data, '\r', size - 1);
  data[size - 1] = '\n';
  for (gsize k = 0; k <= size; k += 1)
    {
      examined += k - MIN (state, (guint64) k);
      answer = decode (framing, data, k, &state);
      if (answer.result == SW_FRAMING_RESULT_FRAME)
        break;
    }
  g_assert_cmpint (answer.result, ==, SW_FRAMING_RESULT_FRAME);
  g_assert_cmpuint (answer.payload, ==, size - 2);
  /* Each call looks at the new byte and one byte of overlap. */
  g_assert_cmpuint (examined, <=, 2 * (guint64) size);
}

static void
assert_encode (SwFraming  *framing,
               const char *payload,
               gboolean    ok)
{
  g_autoptr(GBytes) bytes = g_bytes_new (payload, strlen (payload));
  g_autoptr(GBytes) header = NULL;
  g_autoptr(GBytes) trailer = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (sw_framing_encode (framing, bytes, &header, &trailer, &error) == ok);
  if (!ok)
    {
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
      return;
    }
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (header), ==, 0);
  g_assert_true (g_bytes_equal (trailer,
                                sw_delimiter_framing_get_delimiter (SW_DELIMITER_FRAMING (framing))));
}

static void
test_encode (void)
{
  g_autoptr(SwFraming) lines = framing_new (NULL);
  g_autoptr(SwFraming) crlf = framing_new ("\r\n");
  g_autoptr(SwFraming) aa = framing_new ("aa");
  g_autoptr(GBytes) delimiter = NULL;

  assert_encode (lines, "hello", TRUE);
  assert_encode (lines, "", TRUE);
  assert_encode (lines, "two\nlines", FALSE);
  assert_encode (lines, "end\n", FALSE);
  assert_encode (crlf, "a\rb\nc\r", TRUE);  /* "\r\r\n" ends at the end */
  assert_encode (crlf, "a\r\nb", FALSE);
  assert_encode (aa, "ax", TRUE);
  assert_encode (aa, "xa", FALSE);         /* "xaaa" would end after "x" */
  assert_encode (aa, "a", FALSE);

  g_object_get (lines, "delimiter", &delimiter, NULL);
  g_assert_cmpmem (g_bytes_get_data (delimiter, NULL), g_bytes_get_size (delimiter), "\n", 1);
}

static void
test_empty_delimiter (void)
{
  g_autoptr(GBytes) empty = g_bytes_new (NULL, 0);
  SwDelimiterFraming *framing;

  g_test_expect_message ("Sw", G_LOG_LEVEL_CRITICAL, "*assertion*");
  framing = sw_delimiter_framing_new (empty);
  g_test_assert_expected_messages ();
  g_assert_null (framing);

  /* Through the property (bindings): refused, "\n" used instead. */
  g_test_expect_message ("Sw", G_LOG_LEVEL_CRITICAL, "*must not be empty*");
  framing = g_object_new (SW_TYPE_DELIMITER_FRAMING, "delimiter", empty, NULL);
  g_test_assert_expected_messages ();
  g_assert_cmpuint (g_bytes_get_size (sw_delimiter_framing_get_delimiter (framing)), ==, 1);
  g_object_unref (framing);
}

/* ------------------------------------------------------------------ */

static void
make_pair (const char    *delimiter,
           SwConnection **a,
           SwConnection **b)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwFraming) framing = framing_new (delimiter);

  g_assert_true (sw_socketpair (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, framing,
                                a, b, &error));
  g_assert_no_error (error);
}

static void
send_raw (SwConnection *connection,
          const char   *data)
{
  g_autoptr(GBytes) bytes = g_bytes_new (data, strlen (data));
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (sw_connection_send_bytes (connection, bytes, TIMEOUT_US, NULL, &error),
                   ==, (gssize) strlen (data));
  g_assert_no_error (error);
}

static void
send_text (SwConnection *connection,
           const char   *text)
{
  g_autoptr(GBytes) bytes = g_bytes_new (text, strlen (text));
  g_autoptr(GError) error = NULL;

  g_assert_true (sw_connection_send_message (connection, bytes, TIMEOUT_US, NULL, &error));
  g_assert_no_error (error);
}

/* Receives with @timeout_us; NULL when it timed out. */
static char *
receive_text (SwConnection *connection,
              gint64        timeout_us)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = sw_connection_receive_message (connection, timeout_us,
                                                           NULL, &error);

  if (bytes == NULL)
    {
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
      return NULL;
    }
  /* An empty GBytes may have NULL data, which g_strndup() turns into NULL. */
  return g_bytes_get_size (bytes) > 0
         ? g_strndup (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes))
         : g_strdup ("");
}

#define assert_received(connection, text) \
  G_STMT_START { \
    g_autofree char *received_ = receive_text ((connection), TIMEOUT_US); \
    g_assert_cmpstr (received_, ==, (text)); \
  } G_STMT_END

static void
test_connection_lines (void)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;

  make_pair (NULL, &a, &b);
  send_text (a, "hello");
  send_text (a, "");
  send_text (a, "world");
  send_raw (a, "x\ny\n\nz\n");
  assert_received (b, "hello");
  assert_received (b, "");
  assert_received (b, "world");
  assert_received (b, "x");
  assert_received (b, "y");
  assert_received (b, "");
  assert_received (b, "z");
}

/* The delimiter straddles two writes; nothing is lost on timeout. */
static void
test_connection_split (void)
{
  for (guint read_ahead = 0; read_ahead < 2; read_ahead++)
    {
      g_autoptr(SwConnection) a = NULL;
      g_autoptr(SwConnection) b = NULL;
      g_autofree char *early = NULL;

      make_pair ("<END>", &a, &b);
      sw_connection_set_read_ahead (b, read_ahead);
      send_raw (a, "abc<E");
      early = receive_text (b, 0);
      g_assert_null (early);
      send_raw (a, "ND>xyz<");
      assert_received (b, "abc");
      g_clear_pointer (&early, g_free);
      early = receive_text (b, 0);
      g_assert_null (early);
      send_raw (a, "END><END>");
      assert_received (b, "xyz");
      assert_received (b, "");
    }
}

static void
test_connection_refuse_send (void)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) bad = g_bytes_new_static ("a\nb", 3);
  g_autoptr(GError) error = NULL;

  make_pair (NULL, &a, &b);
  g_assert_false (sw_connection_send_message (a, bad, TIMEOUT_US, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  send_text (a, "good");
  assert_received (b, "good");
}

/* max-message-size applies to a frame found and to the bytes buffered
 * while looking for the delimiter. */
static void
test_connection_too_large (void)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) message = NULL;
  g_autofree char *exact = g_strnfill (100, 'e');
  g_autofree char *over = g_strnfill (101, 'o');
  g_autofree char *endless = g_strnfill (20000, 'x');

  make_pair (NULL, &a, &b);
  sw_connection_set_max_message_size (b, 100);
  send_text (a, exact);
  assert_received (b, exact);
  send_text (a, over);
  message = sw_connection_receive_message (b, TIMEOUT_US, NULL, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
  g_assert_null (message);
  g_clear_object (&a);
  g_clear_object (&b);
  g_clear_error (&error);

  make_pair (NULL, &a, &b);
  sw_connection_set_max_message_size (b, 100);
  send_raw (a, endless);
  message = sw_connection_receive_message (b, TIMEOUT_US, NULL, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
  g_assert_null (message);
}

/* ------------------------------------------------------------------ */
/* JSON Lines with a Python peer (standard json module only). */

static void
test_python_jsonl_echo (void)
{
  static const struct { const char *line; const char *reply; } cases[] = {
    { "{\"a\": 1}", "{\"echo\": {\"a\": 1}, \"n\": 1}" },
    { "[1, 2.5, null, true, \"\\u2603\"]", "{\"echo\": [1, 2.5, null, true, \"\\u2603\"], \"n\": 2}" },
    { "\"snow ☃\"", "{\"echo\": \"snow \\u2603\", \"n\": 3}" },
    { "{}", "{\"echo\": {}, \"n\": 4}" },
  };
  g_autoptr(SwFraming) framing = framing_new (NULL);
  SwTestPeer peer = { 0 };

  if (!sw_test_peer_start (&peer, "jsonl_peer.py", "echo", framing))
    return;
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    send_text (peer.connection, cases[i].line);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    assert_received (peer.connection, cases[i].reply);
  sw_test_peer_finish (&peer);
}

static void
test_python_jsonl_send (void)
{
  static const char * const lines[] = {
    "{\"a\": 1}", "[]", "\"snow \\u2603\"", "null",
    "{\"nested\": {\"list\": [1, 2.5, true]}}",
  };
  g_autoptr(SwFraming) framing = framing_new (NULL);
  SwTestPeer peer = { 0 };

  if (!sw_test_peer_start (&peer, "jsonl_peer.py", "send", framing))
    return;
  for (guint i = 0; i < G_N_ELEMENTS (lines); i++)
    assert_received (peer.connection, lines[i]);
  sw_test_peer_finish (&peer);
}

/* ------------------------------------------------------------------ */

static void
fuzz_one (GRand      *rand,
          const char *delimiter)
{
  g_autoptr(SwFraming) framing = framing_new (delimiter);
  static const char alphabet[] = "aab\n\r<";
  char data[40];
  gsize length = (gsize) g_rand_int_range (rand, 0, sizeof data);
  g_autoptr(GBytes) payload = NULL;
  g_autoptr(GBytes) header = NULL;
  g_autoptr(GBytes) trailer = NULL;
  g_autoptr(GString) framed = NULL;
  gboolean ok;

  for (gsize i = 0; i < length; i++)
    data[i] = alphabet[g_rand_int_range (rand, 0, sizeof alphabet - 1)];
  decode_incrementally (framing, delimiter, data, length);

  /* Encode accepts exactly the payloads the reference decodes back. */
  payload = g_bytes_new (data, length);
  ok = sw_framing_encode (framing, payload, &header, &trailer, NULL);
  framed = g_string_new_len (data, (gssize) length);
  g_string_append (framed, delimiter);
  g_assert_true (ok == (naive_find (framed->str, framed->len, delimiter) == (gssize) length));
}

static void
test_fuzz (void)
{
  static const char * const delimiters[] = { "\n", "\r\n", "aa", "aab", "aba", "<a<" };
  GRand *rand = g_rand_new_with_seed (4242);
  guint n = g_test_slow () ? 100000 : 10000;

  for (guint i = 0; i < n; i++)
    fuzz_one (rand, delimiters[g_rand_int_range (rand, 0, G_N_ELEMENTS (delimiters))]);
  g_rand_free (rand);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/sw/delimiter/decode/lines", test_decode_lines);
  g_test_add_func ("/sw/delimiter/decode/needed", test_decode_needed);
  g_test_add_func ("/sw/delimiter/decode/linear", test_decode_linear);
  g_test_add_func ("/sw/delimiter/encode", test_encode);
  g_test_add_func ("/sw/delimiter/empty-delimiter", test_empty_delimiter);
  g_test_add_func ("/sw/delimiter/connection/lines", test_connection_lines);
  g_test_add_func ("/sw/delimiter/connection/split", test_connection_split);
  g_test_add_func ("/sw/delimiter/connection/refuse-send", test_connection_refuse_send);
  g_test_add_func ("/sw/delimiter/connection/too-large", test_connection_too_large);
  g_test_add_func ("/sw/delimiter/python/jsonl-echo", test_python_jsonl_echo);
  g_test_add_func ("/sw/delimiter/python/jsonl-send", test_python_jsonl_send);
  g_test_add_func ("/sw/delimiter/fuzz", test_fuzz);

  return g_test_run ();
}
