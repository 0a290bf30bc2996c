/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The codecs on their own: round trips of many GVariant types, the wire
 * formats as a plain GLib or JSON peer sees them, refusal of bad input
 * (never a crash: seeded fuzz loops) and nesting limits. The interface
 * wrappers and codecs through a connection: test-codec-connection.c. */

#include <math.h>
#include <string.h>

#include <socketwrapper/socketwrapper.h>

#include "sw-json-codec-private.h"
#include "sw-test-util.h"
#include "test-codec-util.h"

/* Each fuzz loop stops after this many inputs or this much time, so it
 * stays bounded under valgrind too. */
#define FUZZ_ITERATIONS 4000
#define FUZZ_BUDGET_US (8 * G_USEC_PER_SEC)

/* ------------------------------------------------------------------ */
/* Helpers */

/* Encodes @value, decodes the result and returns the decoded value,
 * asserting on any error and on a floating result. */
static GVariant *
round_trip (SwCodec  *codec,
            GVariant *value)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = NULL;
  GVariant *decoded;

  bytes = sw_codec_encode (codec, value, &error);
  g_assert_no_error (error);
  g_assert_nonnull (bytes);
  decoded = sw_codec_decode (codec, bytes, &error);
  g_assert_no_error (error);
  g_assert_nonnull (decoded);
  g_assert_false (g_variant_is_floating (decoded));
  return decoded;
}

static char *
assert_json_invalid (const char *text,
                     gssize      length)
{
  g_autoptr(SwCodec) codec = json_codec ();
  g_autoptr(GBytes) bytes = NULL;

  bytes = g_bytes_new (text, length < 0 ? strlen (text) : (gsize) length);
  return assert_decode_invalid (codec, bytes);
}

/* Values covering every basic type and the container shapes. */
static const char * const gvariant_values[] = {
  "true", "false", "byte 0", "byte 255", "int16 -32768", "uint16 65535",
  "int32 -2147483648", "uint32 4294967295", "int64 -9223372036854775808",
  "uint64 18446744073709551615", "handle 3", "3.25", "-0.0", "1e300",
  "''", "'héllo ✓'", "objectpath '/a/b'", "signature 'a{sv}'",
  "<<int32 1>>", "@a{sv} {}", "@as []", "@aay [[], []]", "()",
  "(1,)", "((1, 'x'), <2>, [(true, 2.5)])",
  "@ms nothing", "@ms 'x'", "@mi 7", "@mmi just nothing", "@mmi nothing",
  "@m(ii) (1, 2)",
  "[(1, 'a'), (2, 'b'), (3, '')]",
  "{'a': <1>, 'b': <{'c': <[<'x'>, <@ms nothing>]>}>, 'e': <@a{sv} {}>}",
  "{1: {'k': <(byte 1, 2.0)>}, 2: @a{sv} {}}",
  "b'bytestring'", "[[1, 2], [], [3]]", "[@ab [], [true]]",
  "{'a': [1, 2], 'b': @ai []}", "[<1>, <'x'>, <(1, 2)>]",
};

/* ------------------------------------------------------------------ */
/* GVariant codec */

static void
test_gvariant_round_trip (void)
{
  g_autoptr(SwCodec) codec = gvariant_codec ();

  for (gsize i = 0; i < G_N_ELEMENTS (gvariant_values); i++)
    {
      g_autoptr(GVariant) value = NULL;
      g_autoptr(GVariant) decoded = NULL;

      value = g_variant_ref_sink (g_variant_new_parsed (gvariant_values[i]));
      decoded = round_trip (codec, value);
      assert_variant_equal (decoded, value);
    }
}

static void
test_gvariant_round_trip_special (void)
{
  g_autoptr(SwCodec) codec = gvariant_codec ();
  g_autofree char *big = g_malloc (4 * 1024 * 1024 + 1);
  g_autoptr(GBytes) pattern = sw_test_pattern_bytes (3 * 1024 * 1024 + 7, 42);
  static const guint8 nuls[] = { 0, 1, 0, 0, 255 };
  GVariant *values[5];

  memset (big, 'z', 4 * 1024 * 1024);
  big[4 * 1024 * 1024] = '\0';
  values[0] = g_variant_new_string (big);
  values[1] = g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, pattern,
                                        TRUE);
  values[2] = g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, nuls,
                                         sizeof nuls, 1);
  values[3] = g_variant_new_double (NAN);
  values[4] = g_variant_new_double (-INFINITY);

  for (gsize i = 0; i < G_N_ELEMENTS (values); i++)
    {
      g_autoptr(GVariant) value = g_variant_ref_sink (values[i]);
      g_autoptr(GVariant) decoded = round_trip (codec, value);

      /* g_variant_equal() compares the serialised bytes: NaN included. */
      assert_variant_equal (decoded, value);
    }
}

/* The bytes are what DESIGN promises a plain GLib peer: a `v`, normal
 * form, little-endian. uint32 1 boxed is its 4 bytes, a NUL, then the type
 * string: fixed bytes, independent of the host. */
static void
test_gvariant_wire_format (void)
{
  g_autoptr(SwCodec) codec = gvariant_codec ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GVariant) boxed = NULL;
  g_autoptr(GVariant) inner = NULL;
  g_autoptr(GVariant) value = NULL;
  static const guint8 expected[] = { 1, 0, 0, 0, 0, 'u' };

  bytes = sw_codec_encode (codec, g_variant_new_uint32 (1), &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes),
                   expected, sizeof expected);

  /* The reader of the docs, for a richer value. */
  g_clear_pointer (&bytes, g_bytes_unref);
  value = g_variant_ref_sink (g_variant_new_parsed (
      "{'a': <1>, 'b': <{'c': <[<'x'>, <@ms nothing>]>}>}"));
  bytes = sw_codec_encode (codec, value, &error);
  g_assert_no_error (error);
  boxed = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE_VARIANT,
                                                        bytes, FALSE));
  g_assert_true (g_variant_is_normal_form (boxed));
#if G_BYTE_ORDER == G_BIG_ENDIAN
  {
    GVariant *swapped = g_variant_byteswap (boxed);

    g_variant_unref (boxed);
    boxed = swapped;
  }
#endif
  inner = g_variant_get_variant (boxed);
  assert_variant_equal (inner, value);
}

/* A value read from untrusted bytes may not be in normal form (here a
 * boolean byte of 2). Encoding sends its normal form, so the peer, which
 * refuses anything else, still reads it. */
static void
test_gvariant_encode_normalises (void)
{
  g_autoptr(SwCodec) codec = gvariant_codec ();
  g_autoptr(GBytes) raw = NULL;
  g_autoptr(GVariant) odd = NULL;
  g_autoptr(GVariant) decoded = NULL;
  static const guint8 data[] = { 1, 2, 0 };

  raw = g_bytes_new_static (data, sizeof data);
  odd = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE ("ab"),
                                                      raw, FALSE));
  g_assert_false (g_variant_is_normal_form (odd));

  decoded = round_trip (codec, odd);
  g_assert_true (g_variant_is_normal_form (decoded));
  g_assert_cmpuint (g_variant_n_children (decoded), ==, 3);
}

/* Every way a peer can get a `v` wrong is refused with INVALID_DATA, with
 * a message saying what was expected. */
static void
test_gvariant_invalid (void)
{
  g_autoptr(SwCodec) codec = gvariant_codec ();
  static const struct
  {
    const char *name;
    const char *data;
    gsize       size;
  } cases[] = {
    { "empty", "", 0 },
    { "no type string", "abc", 3 },
    { "invalid type string", "\0\0z", 3 },
    { "indefinite type", "\0\0*", 3 },
    { "indefinite container", "\0\0a?", 4 },
    { "boolean not 0 or 1", "\2\0b", 3 },
    { "fixed size mismatch", "\1\2\3\0u", 5 },
    { "string without NUL", "ab\0s", 4 },
    { "string with inner NUL", "a\0b\0\0s", 6 },
    { "string not UTF-8", "\xff\0\0s", 4 },
    { "bad array offset", "ab\0\x09\0as", 7 },
    { "non-zero padding", "\1\1\0\0\2\0\0\0\0(yu)", 14 },
    { "trailing type garbage", "\1\0bb", 4 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GBytes) bytes = g_bytes_new (cases[i].data, cases[i].size);
      g_autofree char *message = NULL;

      g_test_message ("case: %s", cases[i].name);
      message = assert_decode_invalid (codec, bytes);
      g_assert_nonnull (strstr (message, "normal form"));
    }
}

/* A message need not start on an aligned address: a caller may decode a
 * slice of a larger buffer at any offset. GLib aborts when it reaches a
 * misaligned 8-byte child, so the codec must not hand it such data; every
 * offset decodes to the same value. */
static void
test_gvariant_decode_unaligned (void)
{
  g_autoptr(SwCodec) codec = gvariant_codec ();
  static const char * const values[] = {
    "uint32 2775908517", "int16 -3", "2.5", "uint64 9", "handle 4",
    "(uint32 2775908517, [int64 -1, 7], 2.5, <uint64 9>, {'k': <(byte 1, 0.5)>})",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (values); i++)
    for (gsize offset = 0; offset < 8; offset++)
      {
        g_autoptr(GVariant) value = g_variant_ref_sink (g_variant_new_parsed (values[i]));
        g_autoptr(GError) error = NULL;
        g_autoptr(GBytes) encoded = sw_codec_encode (codec, value, &error);
        gsize size = g_bytes_get_size (encoded);
        g_autofree guint8 *buffer = g_malloc (size + 8);
        g_autoptr(GBytes) whole = NULL;
        g_autoptr(GBytes) slice = NULL;
        g_autoptr(GVariant) decoded = NULL;
        g_autofree char *printed = NULL;

        g_assert_no_error (error);
        memcpy (buffer + offset, g_bytes_get_data (encoded, NULL), size);
        whole = g_bytes_new_static (buffer, size + 8);
        slice = g_bytes_new_from_bytes (whole, offset, size);
        decoded = sw_codec_decode (codec, slice, &error);
        g_assert_no_error (error);
        /* Printing reads every child, as an application would. */
        printed = g_variant_print (decoded, TRUE);
        g_assert_true (g_variant_equal (decoded, value));
      }
}

/* GLib refuses untrusted data nested deeper than 128 containers (its
 * recursion limit): so does the codec, with an error, not a stack
 * overflow. */
static void
test_gvariant_too_deep (void)
{
  g_autoptr(SwCodec) codec = gvariant_codec ();
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;

  value = g_variant_ref_sink (g_variant_new_int32 (7));
  for (int i = 0; i < 200; i++)
    {
      GVariant *boxed = g_variant_ref_sink (g_variant_new_variant (value));

      g_variant_unref (value);
      value = boxed;
    }

  bytes = sw_codec_encode (codec, value, &error);
  g_assert_no_error (error);
  g_free (assert_decode_invalid (codec, bytes));
}

/* ------------------------------------------------------------------ */
/* JSON codec */

/* The types of the decoding table come back exactly. */
static void
test_json_round_trip (void)
{
  g_autoptr(SwCodec) codec = json_codec ();
  static const char * const values[] = {
    "true", "false", "int64 0", "int64 -9223372036854775808",
    "int64 9223372036854775807", "2.5", "-0.0", "1.0", "0.1", "1e300",
    "-1.5e-300", "''", "'héllo ✓ \"quoted\" \\\\ \\n\\t'", "'\\u0001'",
    "@mv nothing", "@av []", "@a{sv} {}",
    "[<int64 1>, <'a'>, <@mv nothing>, <@av []>, <[<true>]>]",
    ("{'a': <int64 1>, 'b': <{'c': <[<'x'>, <2.5>]>}>, '': <@a{sv} {}>,"
     " 'n': <@mv nothing>}"),
  };

  for (gsize i = 0; i < G_N_ELEMENTS (values); i++)
    {
      g_autoptr(GVariant) value = NULL;
      g_autoptr(GVariant) decoded = NULL;

      g_test_message ("value: %s", values[i]);
      value = g_variant_ref_sink (g_variant_new_parsed (values[i]));
      decoded = round_trip (codec, value);
      assert_variant_equal (decoded, value);
    }
}

/* The other types come back in their natural JSON form, as documented. */
static void
test_json_natural_forms (void)
{
  g_autoptr(SwCodec) codec = json_codec ();
  static const struct
  {
    const char *value;
    const char *json;
    const char *decoded;
  } cases[] = {
    { "(1, 'a')", "[1,\"a\"]", "[<int64 1>, <'a'>]" },
    { "uint32 7", "7", "int64 7" },
    { "byte 200", "200", "int64 200" },
    { "@ms 'x'", "\"x\"", "'x'" },
    { "@ms nothing", "null", "@mv nothing" },
    { "b'ab'", "[97,98,0]", "[<int64 97>, <int64 98>, <int64 0>]" },
    { "objectpath '/a'", "\"/a\"", "'/a'" },
    { "{'k': 1}", "{\"k\":1}", "{'k': <int64 1>}" },
    { "{'a': <(true, [1.5])>}", "{\"a\":[true,[1.5]]}",
      "{'a': <[<true>, <[<1.5>]>]>}" },
    { "uint64 9223372036854775807", "9223372036854775807",
      "int64 9223372036854775807" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) value = NULL;
      g_autoptr(GVariant) expected = NULL;
      g_autoptr(GVariant) decoded = NULL;
      g_autoptr(GBytes) bytes = NULL;

      g_test_message ("value: %s", cases[i].value);
      value = g_variant_ref_sink (g_variant_new_parsed (cases[i].value));
      bytes = sw_codec_encode (codec, value, &error);
      g_assert_no_error (error);
      g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes),
                       cases[i].json, strlen (cases[i].json));
      decoded = sw_codec_decode (codec, bytes, &error);
      g_assert_no_error (error);
      expected = g_variant_ref_sink (g_variant_new_parsed (cases[i].decoded));
      assert_variant_equal (decoded, expected);
    }
}

/* What a JSON peer (Python's json.dumps, say) writes is read: any
 * whitespace, escapes, exponents. */
static void
test_json_from_peer (void)
{
  g_autoptr(SwCodec) codec = json_codec ();
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GVariant) expected = NULL;

  bytes = bytes_from_string ("\n {\"a\": [1, 2.5, \"\\u00e9\\ud83d\\ude00\","
                             " null, true], \"b\": {}, \"c\": -1E2,"
                             " \"d\": \"\\\\u0000\"}\r\n\t ");
  value = sw_codec_decode (codec, bytes, &error);
  g_assert_no_error (error);
  expected = g_variant_ref_sink (g_variant_new_parsed (
      "{'a': <[<int64 1>, <2.5>, <'é😀'>, <@mv nothing>, <true>]>,"
      " 'b': <@a{sv} {}>, 'c': <-100.0>, 'd': <'\\\\u0000'>}"));
  assert_variant_equal (value, expected);
}

static void
test_json_invalid (void)
{
  g_autofree char *deep = NULL;
  g_autofree char *very_deep = NULL;
  static const struct
  {
    const char *name;
    const char *text;
    gssize      length;
  } cases[] = {
    { "empty", "", 0 },
    { "whitespace", " \n\t ", -1 },
    { "truncated array", "[1,", -1 },
    { "truncated object", "{\"a\":", -1 },
    { "truncated string", "\"abc", -1 },
    { "truncated literal", "tru", -1 },
    { "trailing comma", "[1,]", -1 },
    { "bare word", "hello", -1 },
    { "two values", "[1] [2]", -1 },
    { "two scalars", "1 2", -1 },
    { "trailing garbage", "{}x", -1 },
    { "unbalanced", "[1]]", -1 },
    { "single quotes", "'a'", -1 },
    { "invalid UTF-8", "\"a\xff\"", -1 },
    { "overlong UTF-8", "\"\xc0\xaf\"", -1 },
    { "truncated UTF-8", "\"\xe2\x9c", -1 },
    { "embedded NUL", "[1]\0[2]", 7 },
    { "lone surrogate", "\"\\ud800\"", -1 },
    { "U+0000", "\"a\\u0000b\"", -1 },
    { "uppercase U escape", "\"\\ud83d\\Ude00\"", -1 },
    { "high surrogate then letter", "\"\\ud83dx\"", -1 },
    { "high surrogate then BMP", "\"\\ud83d\\u0041\"", -1 },
    { "two high surrogates", "\"\\ud83d\\ud83d\"", -1 },
    { "lone low surrogate", "{\"\\udc00\": 1}", -1 },
    { "short u escape", "\"\\u12\"", -1 },
    { "bad hex", "\"\\u12g4\"", -1 },
    { "unknown escape", "\"\\x41\"", -1 },
    { "integer overflow", "18446744073709551616", -1 },
    { "integer above int64", "9223372036854775808", -1 },
    { "integer below int64", "[-9223372036854775809]", -1 },
    { "huge integer", "123456789012345678901234567890", -1 },
    { "minus alone", "-", -1 },
    { "NaN", "NaN", -1 },
    { "Infinity", "[Infinity]", -1 },
    /* What json-glib's scanner reads but JSON does not have. */
    { "C comment", "[/* c */ 1]", -1 },
    { "slash comment", "[1, / c / 2]", -1 },
    { "line comment", "// c\n1", -1 },
    { "single-quoted string", "['a']", -1 },
    { "hex number", "[0x1f]", -1 },
    { "dollar hex", "[$ff]", -1 },
    { "binary number", "0b101", -1 },
    { "leading zero", "[01]", -1 },
    { "leading plus", "+1", -1 },
    { "no fraction digits", "1.", -1 },
    { "no integer digits", ".5", -1 },
    { "no exponent digits", "[1e]", -1 },
    { "minus then space", "[- 1]", -1 },
    { "number then letters", "[1e5f]", -1 },
    { "literal then letters", "[truex]", -1 },
    { "capitalised literal", "True", -1 },
    { "assignment", "var a = [1]", -1 },
    { "raw tab in a string", "[\"a\tb\"]", -1 },
    { "raw newline in a key", "{\"a\nb\": 1}", -1 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_test_message ("case: %s", cases[i].name);
      g_free (assert_json_invalid (cases[i].text, cases[i].length));
    }

  /* Nesting: one level more than the limit (max-depth shows the limit
   * itself is fine), and a million opening brackets, which would overflow
   * json-glib's recursive parser, fail after a few bytes. */
  deep = g_strnfill (SW_JSON_MAX_DEPTH + 1, '[');
  g_free (assert_json_invalid (deep, -1));
  very_deep = g_strnfill (1000 * 1000, '[');
  g_free (assert_json_invalid (very_deep, -1));
}

/* Errors say where: json-glib's line and column for syntax errors, the
 * codec's own for what it refuses itself. */
static void
test_json_error_position (void)
{
  g_autofree char *syntax = assert_json_invalid ("[1,\n  2,]", -1);
  g_autofree char *trailing = assert_json_invalid ("[1]\n  é x", -1);
  g_autofree char *utf8 = assert_json_invalid ("\"abc\xff\"", -1);
  g_autofree char *overflow =
    assert_json_invalid ("\n\n[1, 99999999999999999999]", -1);

  g_test_message ("%s\n%s\n%s\n%s", syntax, trailing, utf8, overflow);
  g_assert_nonnull (strstr (syntax, ":2:"));
  g_assert_nonnull (strstr (trailing, "line 2, column 3"));
  g_assert_nonnull (strstr (utf8, "byte 4"));
  g_assert_nonnull (strstr (overflow, "line 3, column 5"));
}

/* The deepest text accepted, in its deepest GVariant form (objects: three
 * GVariant levels each) and as arrays, goes on through the GVariant codec,
 * as documented; the same text one level deeper, balanced and otherwise
 * valid (json-glib would parse it), is refused. */
static void
test_json_max_depth (void)
{
  g_autoptr(SwCodec) json = json_codec ();
  g_autoptr(SwCodec) gvariant = gvariant_codec ();
  static const char * const brackets[][2] = {
    { "{\"k\":", "}" }, { "[", "]" },
  };

  for (gsize b = 0; b < G_N_ELEMENTS (brackets); b++)
    {
      g_autoptr(GBytes) bytes = NULL;
      g_autoptr(GBytes) deeper = NULL;
      g_autoptr(GVariant) value = NULL;
      g_autoptr(GVariant) again = NULL;
      g_autoptr(GError) error = NULL;
      g_autofree char *message = NULL;
      g_autofree char *limit = g_strdup_printf ("%d levels", SW_JSON_MAX_DEPTH);

      bytes = nested_json ("", brackets[b][0], SW_JSON_MAX_DEPTH, brackets[b][1], "");
      value = sw_codec_decode (json, bytes, &error);
      g_assert_no_error (error);
      again = round_trip (gvariant, value);
      assert_variant_equal (again, value);

      deeper = nested_json ("", brackets[b][0], SW_JSON_MAX_DEPTH + 1, brackets[b][1], "");
      message = assert_decode_invalid (json, deeper);
      g_assert_nonnull (strstr (message, limit));
    }
}

/* Decoding walks each JSON node once: the work counted is exactly the
 * number of nodes, for small and large arrays and objects alike. A
 * conversion that revisits nodes (json_gvariant_deserialize() appends
 * each array element to a list, which took 41 s for 160 000 zeros)
 * counts nothing here and fails. */
static void
test_json_decode_linear (void)
{
  static const struct
  {
    const char *element;
    guint       nodes;  /* per element */
    guint       large;  /* elements in the large array (160 000 zeros took
                           json_gvariant_deserialize() 41 s) */
  } shapes[] = {
    { "0", 1, 160000 }, { "[0,{}]", 3, 40000 }, { "{\"a\":[null,\"x\"]}", 4, 40000 },
  };

  for (gsize s = 0; s < G_N_ELEMENTS (shapes); s++)
    for (guint k = 0; k < 2; k++)
      {
        guint n = k == 0 ? 1000 : shapes[s].large;
        g_autoptr(GString) text = g_string_new ("[");
        g_autoptr(GBytes) bytes = NULL;
        g_autoptr(GVariant) value = NULL;
        g_autoptr(GError) error = NULL;
        guint64 work = 0;

        for (guint i = 0; i < n; i++)
          g_string_append_printf (text, "%s%s", i > 0 ? "," : "", shapes[s].element);
        g_string_append_c (text, ']');
        bytes = g_bytes_new (text->str, text->len);

        value = sw_json_decode (bytes, &work, &error);
        g_assert_no_error (error);
        g_assert_cmpuint (g_variant_n_children (value), ==, n);
        g_assert_cmpuint (work, ==, 1 + (guint64) n * shapes[s].nodes);
      }
}

/* The codec's own conversion keeps json-glib's mapping exactly, both ways. */
static void
test_json_same_mapping (void)
{
  g_autoptr(SwCodec) codec = json_codec ();
  static const char * const extra[] = {
    "{1.5: 'a', -2.25: 'b'}", "{true: 1, false: 2}", "{int16 -3: byte 4}",
    "{uint64 7: @mi nothing}", "{objectpath '/a': {'x': <1>}}",
    "{'k': 1, 'k': 2, 'j': 3}", "@a{sv} {'dup': <1>, 'dup': <'x'>}",
    "[@mmi just nothing, @mmi just just 3]", "<<<(1, 'x')>>>",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (gvariant_values) + G_N_ELEMENTS (extra); i++)
    {
      const char *text = i < G_N_ELEMENTS (gvariant_values)
                         ? gvariant_values[i] : extra[i - G_N_ELEMENTS (gvariant_values)];
      g_autoptr(GVariant) value = g_variant_ref_sink (g_variant_new_parsed (text));
      g_autoptr(JsonNode) theirs = NULL;
      g_autoptr(GBytes) expected = NULL;
      g_autoptr(GBytes) bytes = NULL;
      g_autoptr(GVariant) decoded = NULL;
      g_autoptr(GVariant) deserialized = NULL;
      g_autoptr(GError) error = NULL;

      g_test_message ("value: %s", text);
      bytes = sw_codec_encode (codec, value, &error);
      if (bytes == NULL)  /* what JSON cannot carry */
        {
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
          continue;
        }
      theirs = json_gvariant_serialize (value);
      expected = sw_json_node_to_bytes (theirs);
      g_assert_true (g_bytes_equal (bytes, expected));

      decoded = sw_codec_decode (codec, bytes, &error);
      g_assert_no_error (error);
      deserialized = json_gvariant_deserialize (theirs, NULL, &error);
      g_assert_no_error (error);
      assert_variant_equal (decoded, deserialized);
    }
}

/* JSON cannot carry NaN, infinities, or (through json-glib) a uint64
 * above G_MAXINT64: encoding refuses them instead of sending text no
 * peer can read or a wrapped number. */
static void
test_json_unrepresentable (void)
{
  g_autoptr(SwCodec) codec = json_codec ();
  GVariant *values[] = {
    g_variant_new_double (NAN),
    g_variant_new_double (INFINITY),
    g_variant_new_uint64 ((guint64) G_MAXINT64 + 1),
    g_variant_new_parsed ("{'a': <[<1.0>, <{'b': <(1, [2.0, %d])>}>]>}",
                          -INFINITY),
    g_variant_new_parsed ("@mt just 18446744073709551615"),
  };

  for (gsize i = 0; i < G_N_ELEMENTS (values); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) bytes = NULL;

      /* Floating on purpose: also checks nothing leaks on failure. */
      bytes = sw_codec_encode (codec, values[i], &error);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
      g_assert_null (bytes);
    }
}

static void
test_json_node_helpers (void)
{
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(JsonNode) parsed = NULL;
  g_autoptr(JsonNode) nan_node = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GBytes) bad = NULL;
  g_autoptr(GError) error = NULL;
  const char *expected = "{\"a\":[1,2.5,\"x\",null,true],\"b\":{}}";
  JsonObject *object;

  node = json_from_string (" { \"a\" : [1, 2.5, \"x\", null, true],"
                           " \"b\": {} } ", &error);
  g_assert_no_error (error);

  /* Compact, and the bytes hold the text without its NUL. */
  bytes = sw_json_node_to_bytes (node);
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes),
                   expected, strlen (expected));

  parsed = sw_json_node_from_bytes (bytes, &error);
  g_assert_no_error (error);
  g_assert_true (json_node_equal (parsed, node));
  /* Mutable: a receiver may edit what it got. */
  g_assert_false (json_node_is_immutable (parsed));
  object = json_node_get_object (parsed);
  json_object_set_int_member (object, "c", 3);
  g_assert_true (sw_json_node_check (parsed, &error));
  g_assert_no_error (error);

  bad = bytes_from_string ("{\"a\":");
  g_assert_null (sw_json_node_from_bytes (bad, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_clear_error (&error);

  nan_node = json_node_new (JSON_NODE_ARRAY);
  json_node_take_array (nan_node, json_array_new ());
  json_array_add_double_element (json_node_get_array (nan_node), NAN);
  g_assert_false (sw_json_node_check (nan_node, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
}

/* ------------------------------------------------------------------ */
/* Fuzzing: every input gives a value or INVALID_DATA, never a crash or a
 * leak (valgrind and ASan builds check the latter). The seed is
 * g_test_rand's, printed by --verbose and reproducible with --seed. */

/* One random change to @data: flip, set, insert, delete, duplicate or
 * truncate, with byte values biased towards @alphabet when given. */
static void
mutate (GByteArray *data,
        const char *alphabet)
{
  guint len = data->len;
  guint pos = len ? (guint) g_test_rand_int_range (0, (gint32) len) : 0;
  guint8 byte = alphabet && g_test_rand_bit ()
    ? (guint8) alphabet[g_test_rand_int_range (0, (gint32) strlen (alphabet))]
    : (guint8) g_test_rand_int_range (0, 256);

  switch (len ? g_test_rand_int_range (0, 6) : 2)
    {
    case 0:
      data->data[pos] ^= (guint8) (1u << g_test_rand_int_range (0, 8));
      break;
    case 1:
      data->data[pos] = byte;
      break;
    case 2:
      g_array_insert_vals ((GArray *) data, pos, &byte, 1);
      break;
    case 3:
      g_byte_array_remove_index (data, pos);
      break;
    case 4:
      {
        /* Not inside MIN(), which would draw twice. */
        guint want = (guint) g_test_rand_int_range (1, 16);
        guint n = MIN (len - pos, want);
        g_autofree guint8 *copy = g_memdup2 (data->data + pos, n);

        g_array_insert_vals ((GArray *) data, pos, copy, n);
      }
      break;
    default:
      g_byte_array_set_size (data, pos);
      break;
    }
}

static void
fuzz_one (SwCodec    *codec,
          GByteArray *input,
          guint      *n_values)
{
  g_autoptr(GBytes) bytes = g_bytes_new (input->data, input->len);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) value = NULL;

  value = sw_codec_decode (codec, bytes, &error);
  if (value == NULL)
    {
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
      return;
    }

  /* A decoded value is a real one: it is not floating and can be used,
   * here by encoding it again with the codec that read it. */
  g_assert_no_error (error);
  g_assert_false (g_variant_is_floating (value));
  {
    g_autoptr(GBytes) again = sw_codec_encode (codec, value, &error);

    /* JSON may decode "1e400" to infinity, which it cannot encode. */
    if (again == NULL)
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  }
  (*n_values)++;
}

static void
fuzz_codec (SwCodec    *codec,
            GPtrArray  *seeds,
            const char *alphabet)
{
  gint64 deadline = g_get_monotonic_time () + FUZZ_BUDGET_US;
  guint n_values = 0;
  guint i;

  for (i = 0; i < FUZZ_ITERATIONS && g_get_monotonic_time () < deadline; i++)
    {
      guint which = (guint) g_test_rand_int_range (0, (gint32) seeds->len);
      GBytes *seed = g_ptr_array_index (seeds, which);
      g_autoptr(GByteArray) input = g_byte_array_new ();
      int n_mutations = g_test_rand_int_range (0, 6);

      if (i % 10 == 9)
        {
          /* Pure noise, from the alphabet or not. */
          for (int j = g_test_rand_int_range (0, 64); j > 0; j--)
            mutate (input, alphabet);
        }
      else
        {
          g_byte_array_append (input, g_bytes_get_data (seed, NULL),
                               (guint) g_bytes_get_size (seed));
          for (int j = 0; j <= n_mutations; j++)
            mutate (input, alphabet);
        }
      fuzz_one (codec, input, &n_values);
    }

  g_test_message ("%u inputs, %u decoded to a value", i, n_values);
  /* Mutations of valid input must sometimes still be valid: otherwise the
   * loop only exercises the first check. */
  g_assert_cmpuint (n_values, >, 0);
}

static GPtrArray *
seeds_from_values (SwCodec *codec)
{
  GPtrArray *seeds;

  seeds = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);

  for (gsize i = 0; i < G_N_ELEMENTS (gvariant_values); i++)
    {
      g_autoptr(GVariant) value = NULL;
      GBytes *bytes;

      value = g_variant_ref_sink (g_variant_new_parsed (gvariant_values[i]));
      bytes = sw_codec_encode (codec, value, NULL);
      if (bytes != NULL)  /* JSON: every value here is representable */
        g_ptr_array_add (seeds, bytes);
    }
  return seeds;
}

static void
test_gvariant_fuzz (void)
{
  g_autoptr(SwCodec) codec = gvariant_codec ();
  g_autoptr(GPtrArray) seeds = seeds_from_values (codec);

  /* Type-string characters make mutated type strings valid more often. */
  fuzz_codec (codec, seeds, "ybnqiuxthdsogvam()[]{}\0");
}

static void
test_json_fuzz (void)
{
  g_autoptr(SwCodec) codec = json_codec ();
  g_autoptr(GPtrArray) seeds = seeds_from_values (codec);

  g_ptr_array_add (seeds, bytes_from_string (
      "{\"a\": [1e400, -0, \"\\ud83d\\ude00\", {\"b\": null}]}"));
  /* Quotes that json-glib's scanner hides in comments and single-quoted
   * strings. */
  g_ptr_array_add (seeds, bytes_from_string ("[/*\"*/[[[[]]]]]"));
  g_ptr_array_add (seeds, bytes_from_string ("['\"',[[[[]]]]]"));
  fuzz_codec (codec, seeds, "[]{}\",:0123456789-+.eE \\utrfalsn/*'x$");
}

/* ------------------------------------------------------------------ */

/* Doubles whose shortest form has an exponent and no decimal point
 * ("1e+19") come out as valid JSON text, and read back the same. */
static void
test_json_exponent_doubles (void)
{
  static const double values[] = { -1e19, 1e19, 1e-7, 5e-324, 1e300, 2.5e-10 };
  g_autoptr(SwCodec) codec = SW_CODEC (sw_json_codec_new ());

  for (guint i = 0; i < G_N_ELEMENTS (values); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) value = NULL;
      g_autoptr(GVariantBuilder) builder = g_variant_builder_new (G_VARIANT_TYPE ("av"));
      g_autoptr(GBytes) text = NULL;
      g_autoptr(GVariant) back = NULL;
      g_autoptr(JsonParser) parser = json_parser_new ();

      g_variant_builder_add (builder, "v", g_variant_new_double (values[i]));
      g_variant_builder_add (builder, "v", g_variant_new_string ("1e+19.0 stays in a string"));
      value = g_variant_ref_sink (g_variant_builder_end (builder));

      text = sw_codec_encode (codec, value, &error);
      g_assert_no_error (error);
      /* Any JSON parser takes it. */
      g_assert_true (json_parser_load_from_data (parser, g_bytes_get_data (text, NULL),
                                                 (gssize) g_bytes_get_size (text), &error));
      g_assert_no_error (error);
      back = sw_codec_decode (codec, text, &error);
      g_assert_no_error (error);
      g_assert_true (g_variant_equal (back, value));
    }
}

/* Every control character in a string, U+001F included (json-glib writes
 * that one raw), is escaped: the text is valid JSON and reads back. */
static void
test_json_control_characters (void)
{
  g_autoptr(SwCodec) codec = SW_CODEC (sw_json_codec_new ());
  g_autoptr(GString) all = g_string_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GBytes) text = NULL;
  g_autoptr(GVariant) back = NULL;
  const char *data;
  gsize length;

  for (char c = 1; c < 0x20; c++)
    g_string_append_c (all, c);
  g_string_append (all, "\x1f\xe2\x80\x9f\x1f");  /* U+201F between two */
  value = g_variant_ref_sink (g_variant_new_string (all->str));

  text = sw_codec_encode (codec, value, &error);
  g_assert_no_error (error);
  data = g_bytes_get_data (text, &length);
  for (gsize i = 0; i < length; i++)
    g_assert_cmpint ((guchar) data[i], >=, 0x20);
  g_assert_nonnull (g_strstr_len (data, (gssize) length, "\\u001f\xe2\x80\x9f\\u001f\""));
  back = sw_codec_decode (codec, text, &error);
  g_assert_no_error (error);
  g_assert_true (g_variant_equal (back, value));
}

/* @depth lists nested in each other around the int 65, as MessagePack or
 * as a pickle. */
static GBytes *
nested_lists (gboolean pickle,
              guint    depth)
{
  GString *out = g_string_new (pickle ? "\x80\x04" : NULL);

  for (guint i = 0; i < depth; i++)
    g_string_append_c (out, pickle ? ']' : '\x91');
  g_string_append (out, pickle ? "KA" : "A");
  for (guint i = 0; pickle && i < depth; i++)
    g_string_append_c (out, 'a');
  if (pickle)
    g_string_append_c (out, '.');
  return g_string_free_to_bytes (out);
}

/* @deepest decodes to a value that survives serialisation whole (GLib
 * then reads it from the serialised form) and the GVariant codec's round
 * trip: both encode again to what the tree gave, and to @deepest itself
 * when @same_bytes. @too_deep is refused. */
static void
check_depth_limit (SwCodec  *codec,
                   GBytes   *deepest,
                   GBytes   *too_deep,
                   gboolean  same_bytes)
{
  g_autoptr(SwCodec) gvariant = SW_CODEC (sw_gvariant_codec_new ());
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GVariant) refused = NULL;
  g_autoptr(GBytes) tree = NULL;
  g_autoptr(GBytes) boxed = NULL;
  g_autoptr(GVariant) back = NULL;
  g_autoptr(GBytes) serialised = NULL;
  g_autoptr(GBytes) via_gvariant = NULL;
  g_autoptr(GError) error = NULL;

  value = sw_codec_decode (codec, deepest, &error);
  g_assert_no_error (error);
  tree = sw_codec_encode (codec, value, &error);
  g_assert_no_error (error);
  if (same_bytes)
    g_assert_true (g_bytes_equal (tree, deepest));

  g_assert_nonnull (g_variant_get_data (value));
  serialised = sw_codec_encode (codec, value, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (serialised, tree));

  boxed = sw_codec_encode (gvariant, value, &error);
  g_assert_no_error (error);
  back = sw_codec_decode (gvariant, boxed, &error);
  g_assert_no_error (error);
  via_gvariant = sw_codec_encode (codec, back, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (via_gvariant, tree));

  refused = sw_codec_decode (codec, too_deep, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_assert_null (refused);
}

/* MessagePack and pickle values nest deeper than GLib reads a serialised
 * GVariant back (128 levels; a list is two: av): beyond that GLib replaces
 * the inner part with "()" as soon as the value is serialised. So a
 * decoded value either survives serialisation whole or is refused. */
static void
test_depth_within_gvariant (void)
{
  for (guint pickle = 0; pickle < 2; pickle++)
    {
      g_autoptr(SwCodec) codec = pickle ? SW_CODEC (sw_pickle_codec_new ())
                                        : SW_CODEC (sw_msgpack_codec_new ());
      g_autoptr(GBytes) deepest = nested_lists (pickle, 63);  /* 126 levels + 65 */
      g_autoptr(GBytes) too_deep = nested_lists (pickle, 64);

      check_depth_limit (codec, deepest, too_deep, !pickle);
    }
}

/* @depth JSON objects around null: three GVariant levels each, two for
 * the null (mv). */
static GBytes *
nested_objects (guint depth)
{
  GString *out = g_string_new (NULL);

  for (guint i = 0; i < depth; i++)
    g_string_append (out, "{\"k\":");
  g_string_append (out, "null");
  for (guint i = 0; i < depth; i++)
    g_string_append_c (out, '}');
  return g_string_free_to_bytes (out);
}

/* The same for JSON: 42 objects is the JSON limit, but around null they
 * take 128 GVariant levels, one too many. */
static void
test_json_depth_within_gvariant (void)
{
  g_autoptr(SwCodec) codec = SW_CODEC (sw_json_codec_new ());
  g_autoptr(GBytes) deepest = nested_objects (41);
  g_autoptr(GBytes) too_deep = nested_objects (42);

  check_depth_limit (codec, deepest, too_deep, TRUE);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/sw/codec/gvariant/round-trip", test_gvariant_round_trip);
  g_test_add_func ("/sw/codec/gvariant/round-trip-special",
                   test_gvariant_round_trip_special);
  g_test_add_func ("/sw/codec/gvariant/wire-format", test_gvariant_wire_format);
  g_test_add_func ("/sw/codec/gvariant/encode-normalises",
                   test_gvariant_encode_normalises);
  g_test_add_func ("/sw/codec/gvariant/invalid", test_gvariant_invalid);
  g_test_add_func ("/sw/codec/gvariant/decode-unaligned",
                   test_gvariant_decode_unaligned);
  g_test_add_func ("/sw/codec/gvariant/too-deep", test_gvariant_too_deep);
  g_test_add_func ("/sw/codec/gvariant/fuzz", test_gvariant_fuzz);
  g_test_add_func ("/sw/codec/json/round-trip", test_json_round_trip);
  g_test_add_func ("/sw/codec/json/natural-forms", test_json_natural_forms);
  g_test_add_func ("/sw/codec/json/from-peer", test_json_from_peer);
  g_test_add_func ("/sw/codec/json/invalid", test_json_invalid);
  g_test_add_func ("/sw/codec/json/error-position", test_json_error_position);
  g_test_add_func ("/sw/codec/json/max-depth", test_json_max_depth);
  g_test_add_func ("/sw/codec/json/decode-linear", test_json_decode_linear);
  g_test_add_func ("/sw/codec/json/same-mapping", test_json_same_mapping);
  g_test_add_func ("/sw/codec/json/unrepresentable", test_json_unrepresentable);
  g_test_add_func ("/sw/codec/json/node-helpers", test_json_node_helpers);
  g_test_add_func ("/sw/codec/json/fuzz", test_json_fuzz);
  g_test_add_func ("/sw/codec/json/exponent-doubles", test_json_exponent_doubles);
  g_test_add_func ("/sw/codec/json/control-characters", test_json_control_characters);
  g_test_add_func ("/sw/codec/depth-within-gvariant", test_depth_within_gvariant);
  g_test_add_func ("/sw/codec/json/depth-within-gvariant", test_json_depth_within_gvariant);

  return g_test_run ();
}
