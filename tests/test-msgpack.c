/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* MessagePack: the private scanner on every type, whole and a byte at a
 * time (same answers, linear work, exact NEED_MORE bounds, the depth
 * limit), SwMsgPackFraming's encode check, SwMsgPackCodec's type mapping
 * both ways, real connections, a Python msgpack peer, and a seeded fuzz
 * loop. */

#include <string.h>

#include <socketwrapper/socketwrapper.h>

#include "sw-msgpack-private.h"
#include "sw-test-peer.h"
#include "sw-test-util.h"

#define TIMEOUT_US (10 * G_USEC_PER_SEC)

/* "c4 02 01 02" style hex; "xx*N" repeats a byte N times. */
static GBytes *
hex_bytes (const char *hex)
{
  g_auto(GStrv) tokens = g_strsplit (hex, " ", -1);
  GByteArray *array = g_byte_array_new ();

  for (guint i = 0; tokens[i] != NULL; i++)
    {
      char *end;
      guint8 byte;
      guint64 count = 1;

      if (tokens[i][0] == '\0')
        continue;
      byte = (guint8) g_ascii_strtoull (tokens[i], &end, 16);
      if (*end == '*')
        count = g_ascii_strtoull (end + 1, NULL, 10);
      for (guint64 j = 0; j < count; j++)
        g_byte_array_append (array, &byte, 1);
    }
  return g_byte_array_free_to_bytes (array);
}

static GVariant *
parse_variant (const char *text)
{
  g_autoptr(GError) error = NULL;
  GVariant *value = g_variant_parse (NULL, text, NULL, NULL, &error);

  g_assert_no_error (error);
  return value;  /* g_variant_parse() returns a full reference */
}

typedef struct
{
  SwFramingResult result;
  guint64 object_length;
  gsize needed;
  int code;  /* error code, or -1 */
} ScanAnswer;

static ScanAnswer
scan (const guint8 *data,
      gsize         length,
      guint64      *state,
      guint64      *work)
{
  g_autoptr(GError) error = NULL;
  ScanAnswer answer = { 0, 0, 0, -1 };

  answer.result = sw_msgpack_scan (data, length, state, &answer.object_length,
                                   &answer.needed, work, &error);
  if (answer.result == SW_FRAMING_RESULT_ERROR)
    {
      g_assert_nonnull (error);
      answer.code = error->code;
    }
  else
    g_assert_no_error (error);
  return answer;
}

static void
assert_same_answer (const ScanAnswer *a,
                    const ScanAnswer *b)
{
  g_assert_cmpint (a->result, ==, b->result);
  g_assert_cmpint (a->code, ==, b->code);
  if (a->result == SW_FRAMING_RESULT_FRAME)
    g_assert_cmpuint (a->object_length, ==, b->object_length);
  if (a->result == SW_FRAMING_RESULT_NEED_MORE)
    g_assert_cmpuint (a->needed, ==, b->needed);
}

/* Every prefix of @data, scanned afresh and resumed from the previous
 * prefix's state, gives the same answer; returns the final one. */
static ScanAnswer
scan_incrementally (const guint8 *data,
                    gsize         length,
                    guint64      *work)
{
  guint64 state = 0;
  ScanAnswer answer = { 0 };

  for (gsize k = 0; k <= length; k++)
    {
      guint64 fresh_state = 0;
      ScanAnswer fresh = scan (data, k, &fresh_state, NULL);

      answer = scan (data, k, &state, work);
      assert_same_answer (&answer, &fresh);
      if (answer.result != SW_FRAMING_RESULT_NEED_MORE)
        break;
    }
  return answer;
}

/* One object of every type and form, each with its length. */
static const struct
{
  const char *hex;
  gsize length;
} type_vectors[] = {
  { "00", 1 }, { "7f", 1 },                            /* positive fixint */
  { "e0", 1 }, { "ff", 1 },                            /* negative fixint */
  { "cc ff", 2 }, { "cd 01 00", 3 }, { "ce 00 01 00 00", 5 },
  { "cf 00*7 01", 9 },                                  /* uint8..64 */
  { "d0 80", 2 }, { "d1 80 00", 3 }, { "d2 80 00 00 00", 5 },
  { "d3 80 00*7", 9 },                                  /* int8..64 */
  { "ca 3f c0 00 00", 5 }, { "cb 3f f8 00*6", 9 },      /* float32/64 */
  { "a0", 1 }, { "a3 61 62 63", 4 }, { "bf 61*31", 32 }, /* fixstr */
  { "d9 03 61 62 63", 5 }, { "da 00 03 61 62 63", 6 },
  { "db 00 00 00 03 61 62 63", 8 },                     /* str8/16/32 */
  { "c4 02 01 02", 4 }, { "c5 00 02 01 02", 5 },
  { "c6 00 00 00 02 01 02", 7 },                        /* bin8/16/32 */
  { "90", 1 }, { "92 01 02", 3 }, { "9f 00*15", 16 },   /* fixarray */
  { "dc 00 02 01 02", 5 }, { "dd 00 00 00 02 01 02", 7 }, /* array16/32 */
  { "80", 1 }, { "81 a1 61 01", 4 },                    /* fixmap */
  { "de 00 01 a1 61 01", 6 }, { "df 00 00 00 01 a1 61 01", 8 },
  { "d4 05 01", 3 }, { "d5 05 01 02", 4 }, { "d6 ff 00*4", 6 },
  { "d7 05 00*8", 10 }, { "d8 80 00*16", 18 },          /* fixext1..16 */
  { "c7 03 05 01 02 03", 6 }, { "c8 00 03 05 01 02 03", 7 },
  { "c9 00 00 00 03 05 01 02 03", 9 },                  /* ext8/16/32 */
  { "c0", 1 }, { "c2", 1 }, { "c3", 1 },                /* nil, bools */
  { "93 91 90 81 a0 c0 82 01 92 c2 c3 a1 78 c4 00", 15 }, /* nested */
  { "c7 00 05", 3 }, { "c4 00", 2 },                    /* empty data */
};

static void
test_scan_types (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (type_vectors); i++)
    {
      g_autoptr(GBytes) bytes = hex_bytes (type_vectors[i].hex);
      g_autofree char *with_tail = g_strconcat (type_vectors[i].hex, " c1 c1", NULL);
      g_autoptr(GBytes) tailed = hex_bytes (with_tail);
      gsize size;
      const guint8 *data = g_bytes_get_data (bytes, &size);
      guint64 state = 0;
      ScanAnswer answer;

      g_test_message ("vector %s", type_vectors[i].hex);
      g_assert_cmpuint (size, ==, type_vectors[i].length);
      answer = scan (data, size, &state, NULL);
      g_assert_cmpint (answer.result, ==, SW_FRAMING_RESULT_FRAME);
      g_assert_cmpuint (answer.object_length, ==, size);

      /* What follows the object is not looked at. */
      state = 0;
      answer = scan (g_bytes_get_data (tailed, NULL), size + 2, &state, NULL);
      g_assert_cmpint (answer.result, ==, SW_FRAMING_RESULT_FRAME);
      g_assert_cmpuint (answer.object_length, ==, size);

      answer = scan_incrementally (data, size, NULL);
      g_assert_cmpint (answer.result, ==, SW_FRAMING_RESULT_FRAME);
      g_assert_cmpuint (answer.object_length, ==, size);
    }
}

/* NEED_MORE never asks for a byte past the object, so a connection that
 * does not read ahead reads exactly; an object ending in str/bin/ext data
 * is a frame as soon as its last header is in. */
static void
test_scan_needed (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (type_vectors); i++)
    {
      g_autoptr(GBytes) bytes = hex_bytes (type_vectors[i].hex);
      gsize size;
      const guint8 *data = g_bytes_get_data (bytes, &size);
      guint64 state = 0;

      for (gsize k = 0; k < size; k++)
        {
          ScanAnswer answer = scan (data, k, &state, NULL);

          if (answer.result == SW_FRAMING_RESULT_FRAME)
            {
              g_assert_cmpuint (answer.object_length, ==, size);
              break;
            }
          g_assert_cmpint (answer.result, ==, SW_FRAMING_RESULT_NEED_MORE);
          g_assert_cmpuint (answer.needed, >=, 1);
          g_assert_cmpuint (k + answer.needed, <=, size);
        }
    }
}

static void
test_scan_declared_sizes (void)
{
  static const struct
  {
    const char *hex;
    SwFramingResult result;
    guint64 value;  /* object length, or needed */
  } cases[] = {
    /* The last item: the length is known from its header alone. */
    { "db ff ff ff ff", SW_FRAMING_RESULT_FRAME, 5 + G_GUINT64_CONSTANT (0xffffffff) },
    { "c6 ff ff ff ff 00 00", SW_FRAMING_RESULT_FRAME, 5 + G_GUINT64_CONSTANT (0xffffffff) },
    { "c9 ff ff ff ff 01", SW_FRAMING_RESULT_FRAME, 6 + G_GUINT64_CONSTANT (0xffffffff) },
    { "92 01 db 00 01 00 00", SW_FRAMING_RESULT_FRAME, 7 + 65536 },
    /* Not the last: the exact data still missing, plus a byte per item due. */
    { "92 db ff ff ff ff", SW_FRAMING_RESULT_NEED_MORE, G_GUINT64_CONSTANT (0xffffffff) + 1 },
    { "92 c5 01 00 00 00", SW_FRAMING_RESULT_NEED_MORE, 256 - 2 + 1 },
    { "dd ff ff ff ff", SW_FRAMING_RESULT_NEED_MORE, G_GUINT64_CONSTANT (0xffffffff) },
    { "df ff ff ff ff", SW_FRAMING_RESULT_NEED_MORE, 2 * G_GUINT64_CONSTANT (0xffffffff) },
    { "dd 00 00 00 03 cf 00", SW_FRAMING_RESULT_NEED_MORE, 7 + 2 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GBytes) bytes = hex_bytes (cases[i].hex);
      gsize size;
      const guint8 *data = g_bytes_get_data (bytes, &size);
      guint64 state = 0;
      ScanAnswer answer = scan (data, size, &state, NULL);

      g_test_message ("case %s", cases[i].hex);
      g_assert_cmpint (answer.result, ==, cases[i].result);
      if (answer.result == SW_FRAMING_RESULT_FRAME)
        g_assert_cmpuint (answer.object_length, ==, cases[i].value);
      else if (sizeof (gsize) == 8)
        g_assert_cmpuint (answer.needed, ==, cases[i].value);
    }
}

static void
test_scan_invalid (void)
{
  static const char * const invalid[] = { "c1", "92 01 c1", "81 c1 01", "dc 00 02 c0 c1" };

  for (guint i = 0; i < G_N_ELEMENTS (invalid); i++)
    {
      g_autoptr(GBytes) bytes = hex_bytes (invalid[i]);
      gsize size;
      const guint8 *data = g_bytes_get_data (bytes, &size);
      ScanAnswer answer = scan_incrementally (data, size, NULL);

      g_assert_cmpint (answer.result, ==, SW_FRAMING_RESULT_ERROR);
      g_assert_cmpint (answer.code, ==, G_IO_ERROR_INVALID_DATA);
    }
}

/* @depth times @open, then @inner. */
static GBytes *
nested (const char *open,
        guint       depth,
        const char *inner)
{
  g_autoptr(GString) hex = g_string_new (NULL);

  for (guint i = 0; i < depth; i++)
    g_string_append_printf (hex, "%s ", open);
  g_string_append (hex, inner);
  return hex_bytes (hex->str);
}

/* A state that does not belong to the data is refused, never followed
 * out of the buffer. */
static void
test_scan_bad_state (void)
{
  g_autoptr(GBytes) bytes = hex_bytes ("92 a3 61 62 63 01");
  const guint8 *data = g_bytes_get_data (bytes, NULL);
  guint64 state = 0;
  ScanAnswer answer;

  answer = scan (data, 2, &state, NULL);
  g_assert_cmpint (answer.result, ==, SW_FRAMING_RESULT_NEED_MORE);
  /* Resumed on other data, it lands inside the array's first string. */
  answer = scan ((const guint8 *) "\x91\xc0\xc0\xc0\xc0\xc0", 6, &state, NULL);
  g_assert_cmpint (answer.result, ==, SW_FRAMING_RESULT_ERROR);
  g_assert_cmpint (answer.code, ==, G_IO_ERROR_INVALID_ARGUMENT);

  state = G_MAXUINT64;
  answer = scan (data, 6, &state, NULL);
  g_assert_cmpint (answer.result, ==, SW_FRAMING_RESULT_ERROR);
  g_assert_cmpint (answer.code, ==, G_IO_ERROR_INVALID_ARGUMENT);
}

static void
test_scan_depth (void)
{
  struct { const char *open; const char *inner; } shapes[] = {
    { "91", "c0" },        /* [[[nil]]] */
    { "91", "90" },        /* the innermost container is empty */
    { "81 a0", "01" },     /* {"": {"": 1}} */
    { "92 01", "01" },     /* [1, [1, ...]] */
    { "92 90", "80" },     /* [[], [[], ...]]: pending stays low */
  };

  for (guint i = 0; i < G_N_ELEMENTS (shapes); i++)
    {
      gboolean empty_inner = g_str_equal (shapes[i].inner, "90")
                             || g_str_equal (shapes[i].inner, "80");
      guint ok_depth = SW_MSGPACK_MAX_DEPTH - (empty_inner ? 1 : 0);
      g_autoptr(GBytes) ok = nested (shapes[i].open, ok_depth, shapes[i].inner);
      g_autoptr(GBytes) deep = nested (shapes[i].open, ok_depth + 1, shapes[i].inner);
      gsize size;
      const guint8 *data = g_bytes_get_data (ok, &size);
      ScanAnswer answer = scan_incrementally (data, size, NULL);

      g_assert_cmpint (answer.result, ==, SW_FRAMING_RESULT_FRAME);
      g_assert_cmpuint (answer.object_length, ==, size);
      data = g_bytes_get_data (deep, &size);
      answer = scan_incrementally (data, size, NULL);
      g_assert_cmpint (answer.result, ==, SW_FRAMING_RESULT_ERROR);
      g_assert_cmpint (answer.code, ==, G_IO_ERROR_INVALID_DATA);
    }
}

/* Resuming examines each header once: the work of feeding a large object
 * a byte at a time is that of scanning it whole (two passes of headers). */
static void
test_scan_linear (void)
{
  g_autoptr(GByteArray) array = g_byte_array_new ();
  static const guint8 head[] = { 0xdd, 0x00, 0x00, 0x13, 0x88 };  /* 5000 */
  guint64 work = 0, whole_work = 0, state = 0;
  ScanAnswer answer;

  g_byte_array_append (array, head, sizeof head);
  for (guint i = 0; i < 5000; i++)
    {
      g_autoptr(GBytes) item = hex_bytes (type_vectors[i % G_N_ELEMENTS (type_vectors)].hex);

      g_byte_array_append (array, g_bytes_get_data (item, NULL), g_bytes_get_size (item));
    }

  for (gsize k = 0; k <= array->len; k++)
    {
      answer = scan (array->data, k, &state, &work);
      if (answer.result != SW_FRAMING_RESULT_NEED_MORE)
        break;
    }
  g_assert_cmpint (answer.result, ==, SW_FRAMING_RESULT_FRAME);
  g_assert_cmpuint (answer.object_length, ==, array->len);

  state = 0;
  answer = scan (array->data, array->len, &state, &whole_work);
  g_assert_cmpint (answer.result, ==, SW_FRAMING_RESULT_FRAME);
  g_assert_cmpuint (work, ==, whole_work);
  g_assert_cmpuint (work, <=, 2 * (guint64) array->len);
}

/* ------------------------------------------------------------------ */

static void
test_framing_decode (void)
{
  g_autoptr(SwFraming) framing = SW_FRAMING (sw_msgpack_framing_new ());
  g_autoptr(GBytes) bytes = hex_bytes ("92 a1 61 c4 02 01 02 c3");
  g_autoptr(GError) error = NULL;
  gsize size, header = 9, trailer = 9, needed = 0;
  const guint8 *data = g_bytes_get_data (bytes, &size);
  guint64 state = 0, payload = 0;

  g_assert_cmpint (sw_framing_decode (framing, data, 3, &state, &header, &payload,
                                      &trailer, &needed, &error),
                   ==, SW_FRAMING_RESULT_NEED_MORE);
  g_assert_no_error (error);
  g_assert_cmpuint (needed, ==, 1);
  g_assert_cmpint (sw_framing_decode (framing, data, size, &state, &header, &payload,
                                      &trailer, &needed, &error),
                   ==, SW_FRAMING_RESULT_FRAME);
  g_assert_no_error (error);
  g_assert_cmpuint (header, ==, 0);
  g_assert_cmpuint (payload, ==, 7);
  g_assert_cmpuint (trailer, ==, 0);

  state = 0;
  g_assert_cmpint (sw_framing_decode (framing, (const guint8 *) "\xc1", 1, &state, &header,
                                      &payload, &trailer, &needed, &error),
                   ==, SW_FRAMING_RESULT_ERROR);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
}

static void
test_framing_encode (void)
{
  static const char * const refused[] = {
    "", "01 02", "92 01", "c1", "db 00 00 00 05 61", "a1 61 00",
  };
  g_autoptr(SwFraming) framing = SW_FRAMING (sw_msgpack_framing_new ());
  g_autoptr(GBytes) ok = hex_bytes ("82 a1 61 01 a1 62 92 c0 c3");
  g_autoptr(GBytes) header = NULL;
  g_autoptr(GBytes) trailer = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (sw_framing_encode (framing, ok, &header, &trailer, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (header), ==, 0);
  g_assert_null (trailer);

  for (guint i = 0; i < G_N_ELEMENTS (refused); i++)
    {
      g_autoptr(GBytes) bad = hex_bytes (refused[i]);
      g_autoptr(GBytes) bad_header = NULL;
      g_autoptr(GError) bad_error = NULL;

      g_assert_false (sw_framing_encode (framing, bad, &bad_header, NULL, &bad_error));
      g_assert_error (bad_error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
      g_assert_null (bad_header);
    }
}

/* ------------------------------------------------------------------ */
/* The codec's type mapping. */

static const struct
{
  const char *hex;
  const char *variant;
} decode_table[] = {
  { "c0", "@mv nothing" },
  { "c3", "true" }, { "c2", "false" },
  { "05", "int64 5" }, { "ff", "int64 -1" }, { "d0 80", "int64 -128" },
  { "cc ff", "int64 255" }, { "d1 80 00", "int64 -32768" },
  { "ce ff ff ff ff", "int64 4294967295" },
  { "cf 7f ff ff ff ff ff ff ff", "int64 9223372036854775807" },
  { "cf 80 00 00 00 00 00 00 00", "uint64 9223372036854775808" },
  { "cf ff ff ff ff ff ff ff ff", "uint64 18446744073709551615" },
  { "d3 80 00 00 00 00 00 00 00", "int64 -9223372036854775808" },
  { "ca 3f c0 00 00", "1.5" }, { "cb bf d0 00 00 00 00 00 00", "-0.25" },
  { "a0", "''" }, { "a5 68 c3 a9 6c 6c", "'héll'" },
  { "d9 03 61 62 63", "'abc'" },
  { "c4 03 00 01 ff", "[byte 0x00, 0x01, 0xff]" }, { "c4 00", "@ay []" },
  { "92 01 a1 78", "[<int64 1>, <'x'>]" }, { "90", "@av []" },
  { "82 a1 61 01 a1 62 c0", "{'a': <int64 1>, 'b': <@mv nothing>}" },
  { "80", "@a{sv} {}" },
  { "82 01 a3 6f 6e 65 a3 74 77 6f 02",
    "[(<int64 1>, <'one'>), (<'two'>, <int64 2>)]" },
  { "81 92 01 02 c3", "[(<[<int64 1>, <int64 2>]>, <true>)]" },
  { "d4 05 61", "(byte 5, [byte 0x61])" },
  { "d5 ff 01 02", "(byte 255, [byte 0x01, 0x02])" },
  { "c7 03 80 61 62 63", "(byte 128, [byte 0x61, 0x62, 0x63])" },
  { "c7 00 01", "(byte 1, @ay [])" },
  { "91 91 81 a1 6b 91 c0", "[<[<{'k': <[<@mv nothing>]>}>]>]" },
};

static GVariant *
decode_hex (SwCodec    *codec,
            const char *hex,
            GError    **error)
{
  g_autoptr(GBytes) bytes = hex_bytes (hex);

  return sw_codec_decode (codec, bytes, error);
}

static void
test_codec_decode (void)
{
  g_autoptr(SwCodec) codec = SW_CODEC (sw_msgpack_codec_new ());

  for (guint i = 0; i < G_N_ELEMENTS (decode_table); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) expected = parse_variant (decode_table[i].variant);
      g_autoptr(GVariant) value = decode_hex (codec, decode_table[i].hex, &error);
      g_autofree char *text = NULL;

      g_assert_no_error (error);
      text = g_variant_print (value, TRUE);
      g_test_message ("%s -> %s", decode_table[i].hex, text);
      g_assert_false (g_variant_is_floating (value));
      g_assert_true (g_variant_equal (value, expected));
    }
}

static const struct
{
  const char *variant;
  const char *hex;
} encode_table[] = {
  { "true", "c3" }, { "false", "c2" },
  { "byte 200", "cc c8" }, { "int16 -1", "ff" }, { "uint16 300", "cd 01 2c" },
  { "int32 -100", "d0 9c" }, { "int32 -129", "d1 ff 7f" },
  { "uint32 70000", "ce 00 01 11 70" }, { "int32 127", "7f" }, { "int32 -32", "e0" },
  { "int32 -33", "d0 df" }, { "int32 -2147483648", "d2 80 00 00 00" },
  { "int64 -2147483649", "d3 ff ff ff ff 7f ff ff ff" },
  { "int64 4294967296", "cf 00 00 00 01 00 00 00 00" },
  { "uint64 18446744073709551615", "cf ff*8" },
  { "handle 3", "03" },
  { "1.5", "cb 3f f8 00*6" },
  { "'abc'", "a3 61 62 63" }, { "objectpath '/a'", "a2 2f 61" },
  { "signature 'ai'", "a2 61 69" },
  { "[byte 1, 2]", "c4 02 01 02" }, { "@ay []", "c4 00" },
  { "(byte 5, [byte 0x61])", "d4 05 61" },
  { "(byte 251, [byte 1, 2, 3])", "c7 03 fb 01 02 03" },
  { "(byte 1, @ay [])", "c7 00 01" },
  { "{'a': <1>}", "81 a1 61 01" }, { "@a{ss} {}", "80" },
  { "{1: 'x'}", "81 01 a1 78" },
  { "[(<1>, <'x'>)]", "81 01 a1 78" },
  { "{1, 'x'}", "81 01 a1 78" },
  { "[1, 2]", "92 01 02" }, { "@ai []", "90" }, { "[(1, 2)]", "91 92 01 02" },
  { "(1, 'a')", "92 01 a1 61" }, { "()", "90" },
  { "@mi nothing", "c0" }, { "@mi 5", "05" }, { "@mmi just nothing", "c0" },
  { "<<5>>", "05" }, { "[<'a'>, <@ms nothing>]", "92 a1 61 c0" },
};

static void
assert_encodes_to (SwCodec    *codec,
                   GVariant   *value,
                   const char *hex)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) expected = hex_bytes (hex);
  g_autoptr(GBytes) bytes = sw_codec_encode (codec, value, &error);

  g_assert_no_error (error);
  g_assert_nonnull (bytes);
  g_assert_true (g_bytes_equal (bytes, expected));
}

static void
test_codec_encode (void)
{
  g_autoptr(SwCodec) codec = SW_CODEC (sw_msgpack_codec_new ());
  g_autofree char *s32 = g_strnfill (32, 'x');
  g_autofree char *s256 = g_strnfill (256, 'x');
  g_autofree char *zeros = g_malloc0 (70000);
  g_autoptr(GVariant) v32 = g_variant_ref_sink (g_variant_new_string (s32));
  g_autoptr(GVariant) v256 = g_variant_ref_sink (g_variant_new_string (s256));
  g_autoptr(GVariant) big = g_variant_ref_sink (
    g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, zeros, 70000, 1));
  GVariantBuilder builder;
  g_autoptr(GVariant) many = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (encode_table); i++)
    {
      g_autoptr(GVariant) value = parse_variant (encode_table[i].variant);

      g_test_message ("%s", encode_table[i].variant);
      assert_encodes_to (codec, value, encode_table[i].hex);
    }

  assert_encodes_to (codec, v32, "d9 20 78*32");
  assert_encodes_to (codec, v256, "da 01 00 78*256");
  assert_encodes_to (codec, big, "c6 00 01 11 70 00*70000");
  g_variant_builder_init (&builder, G_VARIANT_TYPE ("ab"));
  for (guint i = 0; i < 16; i++)
    g_variant_builder_add (&builder, "b", TRUE);
  many = g_variant_ref_sink (g_variant_builder_end (&builder));
  assert_encodes_to (codec, many, "dc 00 10 c3*16");
}

/* Canonical MessagePack survives decode then encode byte for byte. */
static void
test_codec_round_trip (void)
{
  static const char * const canonical[] = {
    "c0", "c3", "00", "7f", "e0", "cc 80", "cd 01 00", "ce 00 01 00 00",
    "cf 00 00 00 01 00 00 00 00", "cf ff*8", "d0 df", "d1 ff 7f",
    "d2 ff ff 7f ff", "d3 ff ff ff ff 7f ff ff ff", "cb 40 09 21 fb 54 44 2d 18",
    "a0", "bf 61*31", "d9 20 61*32", "da 01 00 61*256", "c4 00", "c4 01 ff",
    "c5 01 00 00*256", "90", "9f c0*15", "dc 00 10 c0*16", "80",
    "8f 01*30", "de 00 10 01*32", "81 a1 61 81 a1 62 90",
    "d4 05 01", "d5 fb 01 02", "d6 7f 00*4", "d7 80 00*8", "d8 01 00*16",
    "c7 03 05 01 02 03", "c8 01 00 05 00*256",
    "93 91 90 82 a0 c0 01 92 c2 c3 c4 01 00",
  };
  g_autoptr(SwCodec) codec = SW_CODEC (sw_msgpack_codec_new ());

  for (guint i = 0; i < G_N_ELEMENTS (canonical); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) value = decode_hex (codec, canonical[i], &error);

      g_test_message ("%s", canonical[i]);
      g_assert_no_error (error);
      assert_encodes_to (codec, value, canonical[i]);
    }
}

static GVariant *
nested_av (guint depth)
{
  GVariant *value = g_variant_new_array (G_VARIANT_TYPE_VARIANT, NULL, 0);

  for (guint i = 1; i < depth; i++)
    {
      GVariant *child = g_variant_new_variant (value);

      value = g_variant_new_array (G_VARIANT_TYPE_VARIANT, &child, 1);
    }
  return g_variant_ref_sink (value);
}

static void
test_codec_invalid (void)
{
  static const char * const invalid[] = {
    "", "c1", "92 01", "01 02", "a2 c3 28", "a3 61 00 62", "d9 02 ff fe",
    "db ff ff ff ff", "dd ff ff ff ff", "df ff ff ff ff 01",
    "c6 ff ff ff ff", "92 c1 01", "81 01",
  };
  g_autoptr(SwCodec) codec = SW_CODEC (sw_msgpack_codec_new ());
  g_autoptr(GBytes) deep = nested ("91", SW_MSGPACK_MAX_DEPTH + 1, "c0");
  g_autoptr(GVariant) ok_value = nested_av (SW_MSGPACK_MAX_DEPTH);
  g_autoptr(GVariant) deep_value = nested_av (SW_MSGPACK_MAX_DEPTH + 1);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GVariant) back = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (invalid); i++)
    {
      g_autoptr(GError) bad_error = NULL;
      g_autoptr(GVariant) bad = decode_hex (codec, invalid[i], &bad_error);

      g_test_message ("%s", invalid[i]);
      g_assert_null (bad);
      g_assert_error (bad_error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
    }

  value = sw_codec_decode (codec, deep, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_assert_null (value);
  g_clear_error (&error);

  bytes = sw_codec_encode (codec, ok_value, &error);
  g_assert_no_error (error);
  /* The framing's limit, but deeper than a GVariant holds once decoded
   * (test-codec's /sw/codec/depth-within-gvariant has the limit). */
  back = sw_codec_decode (codec, bytes, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_assert_null (back);
  g_clear_error (&error);
  g_clear_pointer (&bytes, g_bytes_unref);
  bytes = sw_codec_encode (codec, deep_value, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_null (bytes);
}

/* ------------------------------------------------------------------ */
/* Real connections. */

static void
make_pair (SwConnection **a,
           SwConnection **b)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwFraming) framing = SW_FRAMING (sw_msgpack_framing_new ());

  g_assert_true (sw_socketpair (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, framing,
                                a, b, &error));
  g_assert_no_error (error);
}

static void
send_raw (SwConnection *connection,
          const guint8 *data,
          gsize         size)
{
  g_autoptr(GBytes) bytes = g_bytes_new (data, size);
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (sw_connection_send_bytes (connection, bytes, TIMEOUT_US, NULL, &error),
                   ==, (gssize) size);
  g_assert_no_error (error);
}

static const char * const stream_objects[] = {
  "01", "92 a1 61 c0", "c4 03 01 02 03", "80", "db 00 00 00 02 68 69",
  "de 00 01 a0 dc 00 02 c2 c3", "d8 01 00*16", "cb 3f f8 00*6",
};

static GBytes *
concat_objects (void)
{
  g_autoptr(GString) hex = g_string_new (NULL);

  for (guint i = 0; i < G_N_ELEMENTS (stream_objects); i++)
    g_string_append_printf (hex, "%s ", stream_objects[i]);
  return hex_bytes (hex->str);
}

static void
receive_objects (SwConnection *connection)
{
  for (guint i = 0; i < G_N_ELEMENTS (stream_objects); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) expected = hex_bytes (stream_objects[i]);
      g_autoptr(GBytes) message = sw_connection_receive_message (connection, TIMEOUT_US,
                                                                 NULL, &error);

      g_assert_no_error (error);
      g_assert_true (g_bytes_equal (message, expected));
    }
}

/* Many objects in one write, with and without read-ahead; without it the
 * connection reads exactly and nothing is left buffered. */
static void
test_connection_back_to_back (void)
{
  for (guint read_ahead = 0; read_ahead < 2; read_ahead++)
    {
      g_autoptr(SwConnection) a = NULL;
      g_autoptr(SwConnection) b = NULL;
      g_autoptr(GBytes) all = concat_objects ();
      g_autoptr(GBytes) rest = NULL;

      make_pair (&a, &b);
      sw_connection_set_read_ahead (b, read_ahead);
      send_raw (a, g_bytes_get_data (all, NULL), g_bytes_get_size (all));
      send_raw (a, (const guint8 *) "\x07", 1);
      receive_objects (b);
      if (!read_ahead)
        {
          rest = sw_connection_steal_buffered_input (b, NULL);
          g_assert_true (rest == NULL || g_bytes_get_size (rest) == 0);
        }
    }
}

/* A byte per write: every partial receive times out and loses nothing. */
static void
test_connection_split (void)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) all = concat_objects ();
  gsize size;
  const guint8 *data = g_bytes_get_data (all, &size);
  guint received = 0;

  make_pair (&a, &b);
  for (gsize i = 0; i < size; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) message = NULL;

      send_raw (a, data + i, 1);
      message = sw_connection_receive_message (b, 0, NULL, &error);
      if (message == NULL)
        {
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
          continue;
        }
      {
        g_autoptr(GBytes) expected = hex_bytes (stream_objects[received++]);

        g_assert_true (g_bytes_equal (message, expected));
      }
    }
  g_assert_cmpuint (received, ==, G_N_ELEMENTS (stream_objects));
}

static void
test_connection_send (void)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) good = hex_bytes ("92 01 02");
  g_autoptr(GBytes) bad = hex_bytes ("92 01");
  g_autoptr(GBytes) message = NULL;

  make_pair (&a, &b);
  g_assert_false (sw_connection_send_message (a, bad, TIMEOUT_US, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_true (sw_connection_send_message (a, good, TIMEOUT_US, NULL, &error));
  g_assert_no_error (error);
  message = sw_connection_receive_message (b, TIMEOUT_US, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (message, good));
}

/* A declared size over max-message-size is refused from the header, before
 * anything is allocated for it, and invalid data is reported. */
static void
test_connection_refused (void)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) message = NULL;

  make_pair (&a, &b);
  sw_connection_set_max_message_size (b, 1000);
  send_raw (a, (const guint8 *) "\xdb\x7f\xff\xff\xff", 5);
  message = sw_connection_receive_message (b, TIMEOUT_US, NULL, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
  g_assert_null (message);
  g_clear_object (&a);
  g_clear_object (&b);
  g_clear_error (&error);

  /* A large declared length inside a container: the object cannot end
   * before 1 MiB more arrives, so it is refused before that is read. */
  make_pair (&a, &b);
  sw_connection_set_max_message_size (b, 1000);
  send_raw (a, (const guint8 *) "\x92\xdb\x00\x10\x00\x00", 6);
  message = sw_connection_receive_message (b, TIMEOUT_US, NULL, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
  g_assert_null (message);
  g_clear_object (&a);
  g_clear_object (&b);
  g_clear_error (&error);

  make_pair (&a, &b);
  send_raw (a, (const guint8 *) "\x92\x01\xc1", 3);
  message = sw_connection_receive_message (b, TIMEOUT_US, NULL, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_assert_null (message);
}

/* ------------------------------------------------------------------ */
/* A Python msgpack peer. */

static void
send_value (SwConnection *connection,
            SwCodec      *codec,
            GVariant     *value)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = sw_codec_encode (codec, value, &error);

  g_assert_no_error (error);
  g_assert_true (sw_connection_send_message (connection, bytes, TIMEOUT_US, NULL, &error));
  g_assert_no_error (error);
}

static GVariant *
receive_value (SwConnection *connection,
               SwCodec      *codec)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = sw_connection_receive_message (connection, TIMEOUT_US,
                                                           NULL, &error);
  GVariant *value;

  g_assert_no_error (error);
  value = sw_codec_decode (codec, bytes, &error);
  g_assert_no_error (error);
  return value;
}

/* Values Python decodes as the same thing and packs back identically.
 * Python's msgpack.ExtType only takes codes 0..127 (negative ones are
 * reserved, -1 being its Timestamp), so the signed mapping of ext types is
 * checked against the wire bytes in test_codec_decode/encode instead. */
static const char * const echo_values[] = {
  "{'text': <'héllo wörld ✓'>, 'bytes': <[byte 0x00, 0x01, 0xff]>, 'none': <@mv nothing>}",
  "[<int64 1>, <int64 -1>, <int64 127>, <int64 128>, <int64 -33>, <int64 65536>]",
  "[<uint64 18446744073709551615>, <int64 -9223372036854775808>, <uint64 9223372036854775808>]",
  "[<1.5>, <-0.25>, <1e300>, <true>, <false>, <@mv nothing>]",
  "[(<int64 1>, <'one'>), (<'two'>, <int64 2>)]",
  "(byte 5, [byte 0x61, 0x62])",
  "(byte 127, [byte 0x01, 0x02, 0x03, 0x04, 0x05])",
  "{'nested': <[<{'deep': <[<@a{sv} {}>, <@av []>]>}>]>}",
  "'snow ☃'",
};

static void
test_python_echo (void)
{
  g_autoptr(SwFraming) framing = SW_FRAMING (sw_msgpack_framing_new ());
  g_autoptr(SwCodec) codec = SW_CODEC (sw_msgpack_codec_new ());
  g_autofree char *long_text = g_strnfill (100000, 'z');
  g_autoptr(GVariant) long_value = g_variant_ref_sink (g_variant_new_string (long_text));
  SwTestPeer peer = { 0 };

  if (!sw_test_peer_start (&peer, "msgpack_peer.py", "echo", framing))
    return;
  /* All sent before any reply is read: the peer unpacks back to back. */
  for (guint i = 0; i < G_N_ELEMENTS (echo_values); i++)
    {
      g_autoptr(GVariant) value = parse_variant (echo_values[i]);

      send_value (peer.connection, codec, value);
    }
  send_value (peer.connection, codec, long_value);
  for (guint i = 0; i < G_N_ELEMENTS (echo_values); i++)
    {
      g_autoptr(GVariant) expected = parse_variant (echo_values[i]);
      g_autoptr(GVariant) reply = receive_value (peer.connection, codec);

      g_assert_true (g_variant_equal (reply, expected));
    }
  {
    g_autoptr(GVariant) reply = receive_value (peer.connection, codec);

    g_assert_true (g_variant_equal (reply, long_value));
  }
  sw_test_peer_finish (&peer);
}

/* What Python sees in our bytes, as its repr(). */
static void
test_python_repr (void)
{
  static const struct { const char *variant; const char *repr; } cases[] = {
    { "{'a': <[<int64 1>, <2.5>, <@mv nothing>, <true>, <[byte 0x00]>]>}",
      "{'a': [1, 2.5, None, True, b'\\x00']}" },
    { "(byte 5, [byte 0x61, 0x62])", "ExtType(code=5, data=b'ab')" },
    { "uint64 18446744073709551615", "18446744073709551615" },
    { "int16 -300", "-300" },
    { "{1: 'x'}", "{1: 'x'}" },
    { "('é', objectpath '/o', @mi nothing, <<byte 7>>)", "['é', '/o', None, 7]" },
  };
  g_autoptr(SwFraming) framing = SW_FRAMING (sw_msgpack_framing_new ());
  g_autoptr(SwCodec) codec = SW_CODEC (sw_msgpack_codec_new ());
  SwTestPeer peer = { 0 };

  if (!sw_test_peer_start (&peer, "msgpack_peer.py", "repr", framing))
    return;
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GVariant) value = parse_variant (cases[i].variant);
      g_autoptr(GVariant) reply = NULL;

      send_value (peer.connection, codec, value);
      reply = receive_value (peer.connection, codec);
      g_assert_cmpstr (g_variant_get_string (reply, NULL), ==, cases[i].repr);
    }
  sw_test_peer_finish (&peer);
}

/* Python's SAMPLES (msgpack_peer.py), packed by msgpack.packb. */
static void
test_python_send (void)
{
  static const char * const expected[] = {
    "{'text': <'héllo wörld ✓'>, 'bytes': <[byte 0x00, 0x01, 0xff]>, 'none': <@mv nothing>}",
    "[<int64 1>, <int64 -1>, <int64 127>, <int64 128>, <int64 -32>, <int64 -33>,"
    " <int64 255>, <int64 256>, <int64 65535>, <int64 65536>, <int64 4294967296>,"
    " <int64 -2147483649>]",
    "[<uint64 18446744073709551615>, <int64 -9223372036854775808>, <uint64 9223372036854775808>]",
    "[<1.5>, <-0.25>, <true>, <false>, <@mv nothing>]",
    "[(<int64 1>, <'one'>), (<'two'>, <int64 2>)]",
    "(byte 5, [byte 0x61, 0x62, 0x63])",
    "(byte 127, [byte 0x01, 0x02, 0x03, 0x04])",
  };
  g_autoptr(SwFraming) framing = SW_FRAMING (sw_msgpack_framing_new ());
  g_autoptr(SwCodec) codec = SW_CODEC (sw_msgpack_codec_new ());
  g_autofree char *xs = g_strnfill (300, 'x');
  g_autofree guint8 *aa = g_malloc (70000);
  g_autoptr(GVariant) text = g_variant_ref_sink (g_variant_new_string (xs));
  g_autoptr(GVariant) blob = NULL;
  SwTestPeer peer = { 0 };

  memset (aa, 0xaa, 70000);
  blob = g_variant_ref_sink (g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, aa, 70000, 1));
  if (!sw_test_peer_start (&peer, "msgpack_peer.py", "send", framing))
    return;
  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      g_autoptr(GVariant) want = parse_variant (expected[i]);
      g_autoptr(GVariant) value = receive_value (peer.connection, codec);

      g_assert_true (g_variant_equal (value, want));
    }
  {
    g_autoptr(GVariant) value = receive_value (peer.connection, codec);
    g_autoptr(GVariant) value2 = receive_value (peer.connection, codec);

    g_assert_true (g_variant_equal (value, text));
    g_assert_true (g_variant_equal (value2, blob));
  }
  sw_test_peer_finish (&peer);
}

/* ------------------------------------------------------------------ */
/* Fuzz: random and mutated inputs, seeded so failures reproduce. */

static const guint8 interesting[] = {
  0x00, 0x7f, 0x80, 0x81, 0x8f, 0x90, 0x91, 0x9f, 0xa0, 0xa1, 0xbf, 0xc0, 0xc1,
  0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xcb, 0xcc, 0xcf, 0xd0,
  0xd3, 0xd4, 0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xe0, 0xff,
};

static GBytes *
fuzz_input (GRand *rand)
{
  GByteArray *array = g_byte_array_new ();
  guint length = (guint) g_rand_int_range (rand, 0, 48);

  if (g_rand_boolean (rand))
    {
      /* A mutated valid object. */
      g_autoptr(GBytes) seed = hex_bytes (
        type_vectors[g_rand_int_range (rand, 0, G_N_ELEMENTS (type_vectors))].hex);
      guint mutations = (guint) g_rand_int_range (rand, 0, 4);

      g_byte_array_append (array, g_bytes_get_data (seed, NULL), g_bytes_get_size (seed));
      for (guint i = 0; i < mutations && array->len > 0; i++)
        array->data[g_rand_int_range (rand, 0, array->len)] =
          g_rand_boolean (rand) ? (guint8) g_rand_int (rand)
                                : interesting[g_rand_int_range (rand, 0, sizeof interesting)];
      if (g_rand_int_range (rand, 0, 4) == 0)
        g_byte_array_set_size (array, g_rand_int_range (rand, 0, array->len + 1));
      return g_byte_array_free_to_bytes (array);
    }
  for (guint i = 0; i < length; i++)
    {
      guint8 byte = g_rand_int_range (rand, 0, 3) == 0
                    ? interesting[g_rand_int_range (rand, 0, sizeof interesting)]
                    : (guint8) g_rand_int_range (rand, 0, 16) | (g_rand_boolean (rand) ? 0x90 : 0);

      g_byte_array_append (array, &byte, 1);
    }
  return g_byte_array_free_to_bytes (array);
}

static void
fuzz_one (SwCodec   *codec,
          SwFraming *framing,
          GBytes    *input)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GBytes) header = NULL;
  gsize size;
  const guint8 *data = g_bytes_get_data (input, &size);
  guint64 state = 0;
  ScanAnswer whole = scan (data, size, &state, NULL);
  ScanAnswer incremental = scan_incrementally (data, size, NULL);
  gboolean framed;

  assert_same_answer (&whole, &incremental);
  if (whole.result == SW_FRAMING_RESULT_NEED_MORE)
    g_assert_cmpuint (whole.needed, >=, 1);

  framed = sw_framing_encode (framing, input, &header, NULL, &error);
  g_assert_true (framed == (whole.result == SW_FRAMING_RESULT_FRAME
                            && whole.object_length == size));
  g_clear_error (&error);

  value = sw_codec_decode (codec, input, &error);
  if (value == NULL)
    {
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
      return;
    }
  g_assert_true (framed);
  {
    g_autoptr(GBytes) again = sw_codec_encode (codec, value, &error);
    g_autoptr(GVariant) back = NULL;

    g_assert_no_error (error);
    back = sw_codec_decode (codec, again, &error);
    g_assert_no_error (error);
    g_assert_true (g_variant_equal (back, value));
  }
}

static void
test_fuzz (void)
{
  g_autoptr(SwCodec) codec = SW_CODEC (sw_msgpack_codec_new ());
  g_autoptr(SwFraming) framing = SW_FRAMING (sw_msgpack_framing_new ());
  GRand *rand = g_rand_new_with_seed (20240601);
  guint n = g_test_slow () ? 200000 : 10000;

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(GBytes) input = fuzz_input (rand);

      fuzz_one (codec, framing, input);
    }
  g_rand_free (rand);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/sw/msgpack/scan/types", test_scan_types);
  g_test_add_func ("/sw/msgpack/scan/needed", test_scan_needed);
  g_test_add_func ("/sw/msgpack/scan/declared-sizes", test_scan_declared_sizes);
  g_test_add_func ("/sw/msgpack/scan/invalid", test_scan_invalid);
  g_test_add_func ("/sw/msgpack/scan/bad-state", test_scan_bad_state);
  g_test_add_func ("/sw/msgpack/scan/depth", test_scan_depth);
  g_test_add_func ("/sw/msgpack/scan/linear", test_scan_linear);
  g_test_add_func ("/sw/msgpack/framing/decode", test_framing_decode);
  g_test_add_func ("/sw/msgpack/framing/encode", test_framing_encode);
  g_test_add_func ("/sw/msgpack/codec/decode", test_codec_decode);
  g_test_add_func ("/sw/msgpack/codec/encode", test_codec_encode);
  g_test_add_func ("/sw/msgpack/codec/round-trip", test_codec_round_trip);
  g_test_add_func ("/sw/msgpack/codec/invalid", test_codec_invalid);
  g_test_add_func ("/sw/msgpack/connection/back-to-back", test_connection_back_to_back);
  g_test_add_func ("/sw/msgpack/connection/split", test_connection_split);
  g_test_add_func ("/sw/msgpack/connection/send", test_connection_send);
  g_test_add_func ("/sw/msgpack/connection/refused", test_connection_refused);
  g_test_add_func ("/sw/msgpack/python/echo", test_python_echo);
  g_test_add_func ("/sw/msgpack/python/repr", test_python_repr);
  g_test_add_func ("/sw/msgpack/python/send", test_python_send);
  g_test_add_func ("/sw/msgpack/fuzz", test_fuzz);

  return g_test_run ();
}
