/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: nesting depth. The input picks a format and a depth
 * (0 to 699) and, for every level, how that level is written; the target
 * builds the nested value and asserts the documented limits
 * (docs/framings.md):
 *
 * - JSON: at most 42 arrays or objects deep, else INVALID_DATA, however
 *   the brackets hide in strings (escaped quotes, backslashes, brackets
 *   in keys) or white space; comments and single-quoted strings are
 *   INVALID_DATA at any depth. A value the JSON codec accepts also goes
 *   through the GVariant codec (it stays within GLib's nesting limit).
 * - MessagePack: at most 512 containers deep, else INVALID_DATA, from
 *   both the framing and the codec, whatever the container encodings;
 *   the codec also refuses a value deeper than GLib reads a serialised
 *   GVariant back (127 levels: 63 arrays, 41 maps around nil), and one
 *   it accepts survives serialisation whole.
 * - GVariant: nested variants, arrays and tuples either round-trip or
 *   are INVALID_DATA (GLib's own limit), never a crash.
 * - Pickle: at most 512 deep (lists, dicts, tuples, with and without
 *   memo entries) and 127 GVariant levels, else INVALID_DATA, as for
 *   MessagePack. */
#include <string.h>

#include "fuzz-common.h"

#define MAX_LEVELS 700
#define JSON_MAX_DEPTH 42
#define MSGPACK_MAX_DEPTH 512
#define PICKLE_MAX_DEPTH 512
/* Containers that always fit in 127 GVariant levels: maps take three,
 * nil two. */
#define VARIANT_SAFE_DEPTH 41

/* A decoded value reads back whole once serialised: encoding it again
 * from its serialised form gives what encoding the tree gave. */
static void
check_survives_serialising (SwCodec  *codec,
                            GVariant *value)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) tree = sw_codec_encode (codec, value, &error);
  g_autoptr(GBytes) again = NULL;

  g_assert_no_error (error);
  /* Serialises the value in place: from now on GLib reads it from there. */
  if (g_variant_get_data (value) == NULL)
    g_assert_cmpuint (g_variant_get_size (value), ==, 0);
  again = sw_codec_encode (codec, value, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (tree, again));
}

typedef struct
{
  GString  *head;    /* written before the inner value */
  GString  *tail;    /* after it, innermost level first */
  gboolean  invalid; /* a construct the format refuses at any depth */
} Nest;

/* Prepends to the tail: levels close in reverse. */
static void
close_with (Nest       *nest,
            const char *text,
            gsize       length)
{
  g_string_prepend_len (nest->tail, text, (gssize) length);
}

/* ---- JSON -------------------------------------------------------------- */

/* Strings that look like brackets to a scanner that does not know JSON's
 * quoting: an escaped quote, an escaped backslash before the closing
 * quote, brackets and a unicode escape. */
static const char *const json_tricks[] = {
  "\"[\"", "\"\\\"[\"", "\"\\\\\"", "\"]]}}\"", "\"\\u005b\"", "\"\\\\\\\"[{\"",
  "\"/*\"", "\"//\"",
};

static void
json_level (Nest   *nest,
            guint8  how)
{
  const char *trick = json_tricks[(how >> 5) % G_N_ELEMENTS (json_tricks)];

  if (how & 0x02)
    g_string_append (nest->head, " \n\t");
  if (how & 0x01)
    {
      /* An object, its key a trick string. */
      g_string_append_printf (nest->head, "{%s:", trick);
      close_with (nest, "}", 1);
    }
  else
    {
      g_string_append_c (nest->head, '[');
      if (how & 0x04)
        g_string_append_printf (nest->head, "%s,", trick);
      close_with (nest, "]", 1);
    }
  if (how & 0x08)
    {
      /* Comments are not JSON, nor is a single-quoted string. */
      static const char *const refused[] = { "/*[*/", "//[\n", "'['", "[/*]*/]" };

      g_string_append (nest->head, refused[(how >> 4) & 3]);
      if ((how >> 4 & 3) == 3)
        g_string_append_c (nest->head, ',');
      nest->invalid = TRUE;
    }
}

/* The innermost value: a number, or null, {} or [] which take more
 * GVariant levels (the last two are one more JSON level too). */
static const char *const json_leaves[] = { "0", "null", "{}", "[]" };

static void
check_json (Nest   *nest,
            guint   depth,
            guint8  leaf)
{
  g_autoptr(SwCodec) codec = SW_CODEC (sw_json_codec_new ());
  g_autoptr(SwCodec) gvariant = SW_CODEC (sw_gvariant_codec_new ());
  g_autoptr(GString) text = g_string_new (nest->head->str);
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GBytes) boxed = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GVariant) again = NULL;
  g_autoptr(GError) error = NULL;

  leaf %= G_N_ELEMENTS (json_leaves);
  g_string_append (text, json_leaves[leaf]);
  g_string_append (text, nest->tail->str);
  depth += leaf >= 2;
  bytes = g_bytes_new (text->str, text->len);
  value = sw_codec_decode (codec, bytes, &error);
  if (nest->invalid || depth > JSON_MAX_DEPTH)
    {
      if (value != NULL)
        g_error ("JSON %u deep accepted: %s", depth, text->str);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
      return;
    }
  /* 42 objects around null take 128 GVariant levels: refused. */
  if (value == NULL && depth == JSON_MAX_DEPTH && leaf != 0)
    {
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
      return;
    }
  if (value == NULL)
    g_error ("JSON %u deep refused: %s: %s", depth, error->message, text->str);

  /* Every JSON value the codec gives can be sent with the GVariant codec. */
  boxed = sw_codec_encode (gvariant, value, &error);
  g_assert_no_error (error);
  again = sw_codec_decode (gvariant, boxed, &error);
  g_assert_no_error (error);
  g_assert_true (g_variant_equal (value, again));
}

/* ---- MessagePack ------------------------------------------------------- */

static void
msgpack_level (Nest   *nest,
               guint8  how)
{
  static const guint8 array_headers[][6] = {
    { 1, 0x91 }, { 3, 0xdc, 0x00, 0x01 }, { 5, 0xdd, 0x00, 0x00, 0x00, 0x01 },
  };
  static const guint8 map_headers[][6] = {
    { 1, 0x81 }, { 3, 0xde, 0x00, 0x01 }, { 5, 0xdf, 0x00, 0x00, 0x00, 0x01 },
  };
  const guint8 *header;
  gboolean sibling = (how & 0x10) != 0;

  if (how & 0x01)
    {
      header = map_headers[(how >> 1) % 3];
      g_string_append_len (nest->head, (const char *) header + 1, header[0]);
      /* A key that is itself nested one level: a str, or bin. */
      g_string_append_len (nest->head, (how & 0x08) ? "\xc4\x01[" : "\xa1[", (how & 0x08) ? 3 : 2);
      return;
    }
  header = array_headers[(how >> 1) % 3];
  if (sibling)
    {
      /* Two items: a nil before the nested one. */
      g_string_append_len (nest->head, "\x92\xc0", 2);
      return;
    }
  g_string_append_len (nest->head, (const char *) header + 1, header[0]);
}

static void
check_msgpack (Nest  *nest,
               guint  depth)
{
  g_autoptr(SwCodec) codec = SW_CODEC (sw_msgpack_codec_new ());
  g_autoptr(SwFraming) framing = SW_FRAMING (sw_msgpack_framing_new ());
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) framing_error = NULL;
  gsize header = 0, trailer = 0, needed = 0, length;
  guint64 payload = 0, state = 0;
  SwFramingResult result;

  g_string_append_c (nest->head, (char) 0xc0);
  length = nest->head->len;
  bytes = g_bytes_new (nest->head->str, length);
  result = sw_framing_decode (framing, (const guint8 *) nest->head->str, length, &state,
                              &header, &payload, &trailer, &needed, &framing_error);
  value = sw_codec_decode (codec, bytes, &error);
  if (depth > MSGPACK_MAX_DEPTH)
    {
      g_assert_cmpint (result, ==, SW_FRAMING_RESULT_ERROR);
      g_assert_error (framing_error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
      g_assert_null (value);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
      return;
    }
  if (result != SW_FRAMING_RESULT_FRAME)
    g_error ("MessagePack %u deep: framing answers %d: %s", depth, result,
             framing_error ? framing_error->message : "");
  g_assert_cmpuint (header + payload + trailer, ==, length);
  if (value == NULL && depth > VARIANT_SAFE_DEPTH)
    {
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
      return;
    }
  if (value == NULL)
    g_error ("MessagePack %u deep refused: %s", depth, error->message);
  check_survives_serialising (codec, value);
}

/* ---- GVariant ---------------------------------------------------------- */

static GVariant *
gvariant_nest (const guint8 *how,
               guint         depth)
{
  GVariant *value = g_variant_new_int32 (7);

  for (guint i = depth; i-- > 0;)
    {
      switch (how[i] % 4)
        {
        case 0:
          value = g_variant_new_variant (value);
          break;
        case 1:
          value = g_variant_new_array (NULL, &value, 1);
          break;
        case 2:
          value = g_variant_new_tuple (&value, 1);
          break;
        default:
          value = g_variant_new_maybe (NULL, value);
          break;
        }
    }
  return g_variant_ref_sink (value);
}

static void
check_gvariant (const guint8 *how,
                guint         depth)
{
  g_autoptr(SwCodec) codec = SW_CODEC (sw_gvariant_codec_new ());
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GVariant) again = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;

  /* A type string deeper than 255 is not a GVariant type at all. */
  value = gvariant_nest (how, MIN (depth, 200));
  bytes = sw_codec_encode (codec, value, &error);
  if (bytes == NULL)
    {
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
      return;
    }
  again = sw_codec_decode (codec, bytes, &error);
  if (again == NULL)
    {
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
      /* Shallow values always come back. */
      g_assert_cmpuint (depth, >, 60);
      return;
    }
  g_assert_true (g_variant_equal (value, again));
}

/* ---- pickle ------------------------------------------------------------ */

static void
pickle_level (Nest   *nest,
              guint8  how)
{
  switch (how % 4)
    {
    case 0:  /* [x] */
      g_string_append_c (nest->head, ']');
      close_with (nest, "a", 1);
      break;
    case 1:  /* {'k': x} */
      g_string_append_len (nest->head, "}\x8c\x01k", 4);
      close_with (nest, "s", 1);
      break;
    case 2:  /* (x,) with a mark */
      g_string_append_c (nest->head, '(');
      close_with (nest, "t", 1);
      break;
    default: /* (x,) with TUPLE1 */
      close_with (nest, "\x85", 1);
      break;
    }
  /* A memo entry for the container just opened. */
  if ((how & 0x04) && how % 4 < 2)
    g_string_append_c (nest->head, '\x94');
}

static void
check_pickle (Nest  *nest,
              guint  depth)
{
  g_autoptr(SwCodec) codec = SW_CODEC (sw_pickle_codec_new ());
  g_autoptr(GString) pickle = g_string_new_len ("\x80\x04", 2);
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GError) error = NULL;

  g_string_append (pickle, nest->head->str);
  g_string_append_c (pickle, 'N');
  g_string_append_len (pickle, nest->tail->str, (gssize) nest->tail->len);
  g_string_append_c (pickle, '.');
  bytes = g_bytes_new (pickle->str, pickle->len);
  value = sw_codec_decode (codec, bytes, &error);
  if (depth > PICKLE_MAX_DEPTH)
    {
      g_assert_null (value);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
      return;
    }
  if (value == NULL && depth > VARIANT_SAFE_DEPTH)
    {
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
      return;
    }
  if (value == NULL)
    g_error ("pickle %u deep refused: %s", depth, error->message);
  check_survives_serialising (codec, value);
}

/* ---- the target -------------------------------------------------------- */

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  FuzzInput in = { data, size };
  guint8 format = fuzz_take_byte (&in);
  guint depth = (guint) fuzz_take_bytes (&in, 2) % MAX_LEVELS;
  g_autofree guint8 *how = g_new0 (guint8, MAX (depth, 1));
  Nest nest = { g_string_new (NULL), g_string_new (NULL), FALSE };

  /* The levels' choices repeat when the input is shorter than the depth. */
  for (guint i = 0; i < depth; i++)
    how[i] = in.size > 0 ? in.data[i % in.size] : 0;

  switch (format % 4)
    {
    case 0:
      for (guint i = 0; i < depth; i++)
        json_level (&nest, how[i]);
      check_json (&nest, depth, in.size > 0 ? in.data[0] >> 6 : 0);
      break;
    case 1:
      for (guint i = 0; i < depth; i++)
        msgpack_level (&nest, how[i]);
      check_msgpack (&nest, depth);
      break;
    case 2:
      check_gvariant (how, depth);
      break;
    default:
      for (guint i = 0; i < depth; i++)
        pickle_level (&nest, how[i]);
      check_pickle (&nest, depth);
      break;
    }
  g_string_free (nest.head, TRUE);
  g_string_free (nest.tail, TRUE);
  return 0;
}
