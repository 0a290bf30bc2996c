/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The SwCodec interface and codecs on a connection: the checks the public
 * wrappers apply to a misbehaving implementation, floating references, and
 * values and JsonNodes through a real socketpair. The codecs on their
 * own: test-codec.c. */

#include <math.h>
#include <string.h>

#include <socketwrapper/socketwrapper.h>

#include "sw-json-codec-private.h"
#include "sw-test-util.h"
#include "test-codec-util.h"

/* ------------------------------------------------------------------ */
/* The interface wrappers */

/* Floating values passed in C are sunk and released by sw_codec_encode:
 * valgrind (meson test --setup valgrind) reports any leak here. A
 * non-floating value keeps exactly the caller's reference. */
static void
test_encode_floating (void)
{
  SwCodec *codecs[] = { gvariant_codec (), json_codec () };

  for (gsize i = 0; i < G_N_ELEMENTS (codecs); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) a = NULL;
      g_autoptr(GBytes) b = NULL;
      GVariant *kept;

      a = sw_codec_encode (codecs[i],
                           g_variant_new_parsed ("{'a': <[1, 2]>, 'b': <'x'>}"),
                           &error);
      g_assert_no_error (error);

      kept = g_variant_ref_sink (g_variant_new_parsed ("[<'kept'>]"));
      b = sw_codec_encode (codecs[i], kept, &error);
      g_assert_no_error (error);
      g_assert_false (g_variant_is_floating (kept));
      g_assert_cmpstr (g_variant_get_type_string (kept), ==, "av");
      g_variant_unref (kept);
      g_object_unref (codecs[i]);
    }
}

/* A codec as an application would write it, misbehaving on demand. */
typedef enum
{
  MODE_SILENT_FAILURE,    /* NULL without an error */
  MODE_FLOATING,          /* decode returns a floating value */
  MODE_RESULT_AND_ERROR,  /* a result and an error */
} TestMode;

#define TEST_TYPE_CODEC (test_codec_get_type ())
G_DECLARE_FINAL_TYPE (TestCodec, test_codec, TEST, CODEC, GObject)

struct _TestCodec
{
  GObject  parent_instance;
  TestMode mode;
};

static void test_codec_iface_init (SwCodecInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (TestCodec, test_codec, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (SW_TYPE_CODEC,
                                                      test_codec_iface_init))

static GBytes *
test_codec_encode (SwCodec   *codec,
                   GVariant  *value,
                   GError   **error)
{
  g_assert_false (g_variant_is_floating (value));
  if (TEST_CODEC (codec)->mode == MODE_RESULT_AND_ERROR)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                           "x");
      return g_bytes_new ("x", 1);
    }
  if (TEST_CODEC (codec)->mode == MODE_SILENT_FAILURE)
    return NULL;
  return g_bytes_new ("x", 1);
}

static GVariant *
test_codec_decode (SwCodec   *codec,
                   GBytes    *bytes,
                   GError   **error)
{
  switch (TEST_CODEC (codec)->mode)
    {
    case MODE_SILENT_FAILURE:
      return NULL;
    case MODE_FLOATING:
      return g_variant_new_string ("floating");
    case MODE_RESULT_AND_ERROR:
    default:
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                           "x");
      return g_variant_ref_sink (g_variant_new_string ("and an error"));
    }
}

static void
test_codec_iface_init (SwCodecInterface *iface)
{
  iface->encode = test_codec_encode;
  iface->decode = test_codec_decode;
}

static void
test_codec_class_init (TestCodecClass *klass)
{
}

static void
test_codec_init (TestCodec *self)
{
}

static TestCodec *
test_codec_new (TestMode mode)
{
  TestCodec *codec = g_object_new (TEST_TYPE_CODEC, NULL);

  codec->mode = mode;
  return codec;
}

/* An implementation that fails without saying why still gives the caller
 * an error: INVALID_DATA on decode (the bytes were unreadable), FAILED on
 * encode. */
static void
test_contract_silent_failure (void)
{
  g_autoptr(TestCodec) codec = test_codec_new (MODE_SILENT_FAILURE);
  g_autoptr(GBytes) bytes = bytes_from_string ("x");
  g_autoptr(GError) error = NULL;

  g_assert_null (sw_codec_decode (SW_CODEC (codec), bytes, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_assert_nonnull (strstr (error->message, "TestCodec"));
  g_clear_error (&error);

  g_assert_null (sw_codec_encode (SW_CODEC (codec), g_variant_new_int32 (1),
                                  &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_FAILED);

  /* Without an error location, too. */
  g_assert_null (sw_codec_decode (SW_CODEC (codec), bytes, NULL));
}

static void
test_contract_floating (void)
{
  g_autoptr(TestCodec) codec = test_codec_new (MODE_FLOATING);
  g_autoptr(GBytes) bytes = bytes_from_string ("x");
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) value = NULL;

  value = sw_codec_decode (SW_CODEC (codec), bytes, &error);
  g_assert_no_error (error);
  g_assert_false (g_variant_is_floating (value));
  g_assert_cmpstr (g_variant_get_string (value, NULL), ==, "floating");
}

static void
test_contract_result_and_error (void)
{
  g_autoptr(TestCodec) codec = test_codec_new (MODE_RESULT_AND_ERROR);
  g_autoptr(GBytes) bytes = bytes_from_string ("x");
  g_autoptr(GError) error = NULL;

  g_test_expect_message ("Sw", G_LOG_LEVEL_CRITICAL,
                         "*returned a result and set an error*");
  g_assert_null (sw_codec_decode (SW_CODEC (codec), bytes, &error));
  g_test_assert_expected_messages ();
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
  g_clear_error (&error);

  g_test_expect_message ("Sw", G_LOG_LEVEL_CRITICAL,
                         "*returned a result and set an error*");
  g_assert_null (sw_codec_encode (SW_CODEC (codec), g_variant_new_int32 (1),
                                  &error));
  g_test_assert_expected_messages ();
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
}

/* A type that implements the interface without its vfuncs gets the
 * defaults: NOT_SUPPORTED, not a crash. */
#define TEST_TYPE_EMPTY_CODEC (test_empty_codec_get_type ())
G_DECLARE_FINAL_TYPE (TestEmptyCodec, test_empty_codec, TEST, EMPTY_CODEC, GObject)

struct _TestEmptyCodec
{
  GObject parent_instance;
};

static void
test_empty_codec_iface_init (SwCodecInterface *iface)
{
}

G_DEFINE_FINAL_TYPE_WITH_CODE (TestEmptyCodec, test_empty_codec, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (SW_TYPE_CODEC,
                                                      test_empty_codec_iface_init))

static void
test_empty_codec_class_init (TestEmptyCodecClass *klass)
{
}

static void
test_empty_codec_init (TestEmptyCodec *self)
{
}

static void
test_contract_not_implemented (void)
{
  g_autoptr(SwCodec) codec = g_object_new (TEST_TYPE_EMPTY_CODEC, NULL);
  g_autoptr(GBytes) bytes = bytes_from_string ("x");
  g_autoptr(GError) error = NULL;

  g_assert_null (sw_codec_decode (codec, bytes, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  g_clear_error (&error);
  g_assert_null (sw_codec_encode (codec, g_variant_new_int32 (1), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
}

/* ------------------------------------------------------------------ */
/* Through a connection */

/* Long enough never to fire on a loaded machine, short enough that a
 * broken test fails instead of hanging. */
#define TIMEOUT_US (10 * G_USEC_PER_SEC)

static void
make_pair (SwCodec       *codec,
           SwConnection **a,
           SwConnection **b)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (sw_socketpair (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
                                sw_framing_get_default (), a, b, &error));
  g_assert_no_error (error);
  sw_connection_set_codec (*a, codec);
  sw_connection_set_codec (*b, codec);
}

static void
send_value (SwConnection *connection,
            GVariant     *value)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (sw_connection_send_value (connection, value, TIMEOUT_US,
                                           NULL, &error));
  g_assert_no_error (error);
}

static void
assert_receive_value (SwConnection *connection,
                      const char   *expected)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GVariant) wanted = NULL;

  value = sw_connection_receive_value (connection, TIMEOUT_US, NULL, &error);
  g_assert_no_error (error);
  g_assert_false (g_variant_is_floating (value));
  wanted = g_variant_ref_sink (g_variant_new_parsed (expected));
  assert_variant_equal (value, wanted);
}

static void
send_raw (SwConnection *connection,
          const char   *data,
          gsize         size)
{
  g_autoptr(GBytes) bytes = g_bytes_new (data, size);
  g_autoptr(GError) error = NULL;

  g_assert_true (sw_connection_send_message (connection, bytes, TIMEOUT_US,
                                             NULL, &error));
  g_assert_no_error (error);
}

/* A quote inside a comment or a single-quoted string, both of which
 * json-glib's scanner skips, must not hide the brackets after it: 200 000
 * nested arrays would overflow json-glib's recursive parser (SIGSEGV).
 * Refused with a clear error by the codec, by the JsonNode helper and by
 * a receiving connection. */
static void
test_json_hidden_brackets (void)
{
  g_autoptr(SwCodec) codec = json_codec ();
  static const char * const prefixes[] = {
    "[/*\"*/", "['\"',", "[/\"/", "[ // \"\n",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (prefixes); i++)
    {
      g_autoptr(GBytes) bytes = nested_json (prefixes[i], "[", 200000, "]", "]");
      GBytes *messages[] = { bytes, bytes };
      SwTestSender *sender;
      g_autoptr(SwConnection) a = NULL;
      g_autoptr(SwConnection) b = NULL;
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) value = NULL;
      g_autoptr(JsonNode) node = NULL;

      g_test_message ("prefix: %s", prefixes[i]);
      g_free (assert_decode_invalid (codec, bytes));

      make_pair (codec, &a, &b);
      /* A thread: the frames are larger than the socket buffer. */
      sender = sw_test_sender_new (a, messages, G_N_ELEMENTS (messages));
      value = sw_connection_receive_value (b, TIMEOUT_US, NULL, &error);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
      g_assert_null (value);
      g_clear_error (&error);
      node = sw_connection_receive_json_node (b, TIMEOUT_US, NULL, &error);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
      g_assert_null (node);
      g_clear_error (&error);
      g_assert_true (sw_test_sender_join (sender, &error));
      g_assert_no_error (error);
    }
}

/* Both codecs carry values both ways over a real socketpair; floating
 * values go in inline. */
static void
test_connection_values (void)
{
  SwCodec *codecs[] = { gvariant_codec (), json_codec () };
  const char *value = "{'a': <int64 1>, 'b': <[<'x'>, <2.5>, <@mv nothing>]>}";

  for (gsize i = 0; i < G_N_ELEMENTS (codecs); i++)
    {
      g_autoptr(SwConnection) a = NULL;
      g_autoptr(SwConnection) b = NULL;

      make_pair (codecs[i], &a, &b);
      send_value (a, g_variant_new_parsed (value));
      send_value (a, g_variant_new_string ("second"));
      send_value (b, g_variant_new_parsed ("@av []"));
      assert_receive_value (b, value);
      assert_receive_value (b, "'second'");
      assert_receive_value (a, "@av []");
      g_object_unref (codecs[i]);
    }
}

/* A message the codec refuses fails that receive with INVALID_DATA; it was
 * read whole, so the next receive returns the next value. */
static void
test_connection_invalid_then_next (void)
{
  SwCodec *codecs[] = { gvariant_codec (), json_codec () };

  for (gsize i = 0; i < G_N_ELEMENTS (codecs); i++)
    {
      g_autoptr(SwConnection) a = NULL;
      g_autoptr(SwConnection) b = NULL;
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) value = NULL;

      make_pair (codecs[i], &a, &b);
      send_raw (a, "\xff\xfe\0garbage", 10);
      send_value (a, g_variant_new_string ("next"));

      value = sw_connection_receive_value (b, TIMEOUT_US, NULL, &error);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
      g_assert_null (value);
      assert_receive_value (b, "'next'");
      g_object_unref (codecs[i]);
    }
}

static void
store_result (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

/* The same through the async calls, iterating the main context. */
static void
test_connection_invalid_then_next_async (void)
{
  g_autoptr(SwCodec) codec = json_codec ();
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  const char *expected[] = { NULL, "next" };

  make_pair (codec, &a, &b);
  send_raw (a, "{\"a\": [1,", 9);
  send_value (a, g_variant_new_string ("next"));

  for (gsize i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      g_autoptr(GAsyncResult) result = NULL;
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) value = NULL;

      sw_connection_receive_value_async (b, G_PRIORITY_DEFAULT, NULL,
                                         store_result, &result);
      while (result == NULL)
        g_main_context_iteration (NULL, TRUE);
      value = sw_connection_receive_value_finish (b, result, &error);
      if (expected[i] == NULL)
        {
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
          g_assert_nonnull (strstr (error->message, ":1:"));
          continue;
        }
      g_assert_no_error (error);
      g_assert_cmpstr (g_variant_get_string (value, NULL), ==, expected[i]);
    }
}

/* JsonNode calls need no codec: JSON text on the wire, readable by the JSON
 * codec on the other end. A node JSON cannot carry is refused before
 * anything is sent; bad text fails one receive only. */
static void
test_connection_json_node (void)
{
  g_autoptr(SwCodec) codec = json_codec ();
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(JsonNode) received = NULL;
  g_autoptr(JsonNode) nan_node = NULL;
  g_autoptr(GError) error = NULL;

  make_pair (codec, &a, &b);
  node = json_from_string ("{\"a\": [1, 2.5, \"x\", null], \"b\": {}}", &error);
  g_assert_no_error (error);

  g_assert_true (sw_connection_send_json_node (a, node, TIMEOUT_US, NULL,
                                               &error));
  g_assert_no_error (error);
  received = sw_connection_receive_json_node (b, TIMEOUT_US, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (json_node_equal (received, node));

  nan_node = json_node_init_double (json_node_alloc (), NAN);
  g_assert_false (sw_connection_send_json_node (a, nan_node, TIMEOUT_US, NULL,
                                                &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  send_raw (a, "[1] [2]", 7);
  g_assert_true (sw_connection_send_json_node (a, node, TIMEOUT_US, NULL,
                                               &error));
  g_assert_no_error (error);
  g_assert_null (sw_connection_receive_json_node (b, TIMEOUT_US, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_clear_error (&error);
  /* The node sent after the refused message, read by the JSON codec. */
  assert_receive_value (b, "{'a': <[<int64 1>, <2.5>, <'x'>, <@mv nothing>]>,"
                           " 'b': <@a{sv} {}>}");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/sw/codec/json/hidden-brackets", test_json_hidden_brackets);
  g_test_add_func ("/sw/codec/encode-floating", test_encode_floating);
  g_test_add_func ("/sw/codec/contract/silent-failure",
                   test_contract_silent_failure);
  g_test_add_func ("/sw/codec/contract/floating", test_contract_floating);
  g_test_add_func ("/sw/codec/contract/result-and-error",
                   test_contract_result_and_error);
  g_test_add_func ("/sw/codec/contract/not-implemented",
                   test_contract_not_implemented);
  g_test_add_func ("/sw/codec/connection/values", test_connection_values);
  g_test_add_func ("/sw/codec/connection/invalid-then-next",
                   test_connection_invalid_then_next);
  g_test_add_func ("/sw/codec/connection/invalid-then-next-async",
                   test_connection_invalid_then_next_async);
  g_test_add_func ("/sw/codec/connection/json-node", test_connection_json_node);

  return g_test_run ();
}
