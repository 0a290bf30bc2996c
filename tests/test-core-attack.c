/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The codecs' depth limit from every side: maps, arrays, nil, ext and
 * empty containers innermost, pickle's memo-shared containers, JSON's
 * nested empty objects, deep variants built in C; and the JSON codec's
 * control characters and invalid UTF-8. A decoded value is either refused
 * with INVALID_DATA or survives GLib's serialisation whole. */

#include <string.h>

#include <socketwrapper/socketwrapper.h>

/* @value serialised and read back from its bytes as untrusted data is
 * equal to itself: GLib lost nothing of it. */
static void
assert_survives_serialisation (GVariant *value)
{
  g_autoptr(GBytes) data = g_variant_get_data_as_bytes (value);
  g_autoptr(GVariant) back = g_variant_new_from_bytes (g_variant_get_type (value), data, FALSE);

  g_assert_true (g_variant_equal (back, value));
}

/* Decodes @bytes: refused with INVALID_DATA when @accepted is FALSE, else a
 * value that survives serialisation. */
static void
check_decode (SwCodec  *codec,
              GBytes   *bytes,
              gboolean  accepted)
{
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GError) error = NULL;

  value = sw_codec_decode (codec, bytes, &error);
  if (!accepted)
    {
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
      g_assert_null (value);
      return;
    }
  g_assert_no_error (error);
  assert_survives_serialisation (value);
}

/* @depth MessagePack maps (with int keys, so a(vv): three levels each)
 * around @inner. */
static GBytes *
msgpack_maps_around (guint       depth,
                     const char *inner,
                     gsize       inner_len)
{
  GString *out = g_string_new (NULL);

  for (guint i = 0; i < depth; i++)
    g_string_append_len (out, "\x81\x01", 2);
  g_string_append_len (out, inner, inner_len);
  return g_string_free_to_bytes (out);
}

/* Innermost values and the GVariant levels each takes: maps of three
 * levels each around them fit when 3 * maps + levels <= 127. */
static const struct
{
  const char *bytes;
  gsize       len;
  guint       levels;
} msgpack_inner[] = {
  { "\x01", 1, 1 },                 /* int: x */
  { "\xc0", 1, 2 },                 /* nil: mv */
  { "\x80", 1, 3 },                 /* empty map: a{sv} */
  { "\x90", 1, 2 },                 /* empty array: av */
  { "\xc4\x01\x07", 3, 2 },         /* bin: ay */
  { "\xd4\x05\x07", 3, 3 },         /* fixext1: (yay) */
  { "\x81\xa1k\x01", 4, 4 },        /* {"k": 1}: a{sv} holding x */
  { "\x91\x01", 2, 3 },             /* [1]: av holding x */
};

/* Maps of three levels exactly at the limit and one past it, for each
 * innermost value. */
static void
test_msgpack_maps_at_limit (void)
{
  g_autoptr(SwCodec) codec = SW_CODEC (sw_msgpack_codec_new ());

  for (gsize i = 0; i < G_N_ELEMENTS (msgpack_inner); i++)
    {
      guint fit = (127 - msgpack_inner[i].levels) / 3;

      for (guint maps = fit - 1; maps <= fit + 1; maps++)
        {
          g_autoptr(GBytes) bytes = msgpack_maps_around (maps, msgpack_inner[i].bytes,
                                                         msgpack_inner[i].len);

          g_test_message ("inner %zu, %u maps", i, maps);
          check_decode (codec, bytes, 3 * maps + msgpack_inner[i].levels <= 127);
        }
    }
}

/* @depth pickled dicts with int keys around @inner, each memoized, and
 * the innermost value put once more in a list by memo GET next to the
 * outermost dict: a shared container met at two depths. */
static GBytes *
pickle_shared_dicts (guint       depth,
                     const char *inner)
{
  GString *out = g_string_new ("\x80\x04");

  g_string_append (out, "(");          /* MARK for the outer list */
  for (guint i = 0; i < depth; i++)
    g_string_append (out, "}\x94K\x01");  /* EMPTY_DICT MEMOIZE BININT1 1 */
  g_string_append (out, inner);
  for (guint i = 0; i < depth; i++)
    g_string_append (out, "s");          /* SETITEM */
  /* Memo 0 is the outermost dict, memo depth-1 the innermost. */
  g_string_append_printf (out, "h%c", (char) (depth - 1));  /* BINGET */
  g_string_append (out, "l.");         /* LIST STOP */
  return g_string_free_to_bytes (out);
}

/* The pickle codec with dicts of three levels, the innermost shared by
 * the memo at a shallower depth too. A list is two levels more. */
static void
test_pickle_shared_at_limit (void)
{
  g_autoptr(SwCodec) codec = SW_CODEC (sw_pickle_codec_new ());

  /* av + a(vv)*n + x: 2 + 3n + 1 <= 127: n <= 41. */
  for (guint maps = 39; maps <= 42; maps++)
    {
      g_autoptr(GBytes) with_int = pickle_shared_dicts (maps, "K\x05");
      g_autoptr(GBytes) with_none = pickle_shared_dicts (maps, "N");

      g_test_message ("%u dicts", maps);
      check_decode (codec, with_int, 3 + 3 * maps <= 127);
      check_decode (codec, with_none, 4 + 3 * maps <= 127);
    }
}

/* JSON objects around empty objects, arrays and null, at and past both
 * limits (42 JSON levels, 127 GVariant levels). */
static void
test_json_empty_objects_at_limit (void)
{
  g_autoptr(SwCodec) codec = SW_CODEC (sw_json_codec_new ());
  static const struct
  {
    const char *inner;
    guint       json_levels;
    guint       levels;
  } inner[] = {
    { "{}", 1, 3 }, { "[]", 1, 2 }, { "null", 0, 2 }, { "1", 0, 1 }, { "{\"a\":{}}", 2, 6 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (inner); i++)
    for (guint objects = 38; objects <= 43; objects++)
      {
        GString *text = g_string_new (NULL);
        g_autoptr(GBytes) bytes = NULL;

        for (guint o = 0; o < objects; o++)
          g_string_append (text, "{\"k\":");
        g_string_append (text, inner[i].inner);
        for (guint o = 0; o < objects; o++)
          g_string_append_c (text, '}');
        bytes = g_string_free_to_bytes (text);
        g_test_message ("%s in %u objects", inner[i].inner, objects);
        check_decode (codec, bytes,
                      objects + inner[i].json_levels <= 42
                      && 3 * objects + inner[i].levels <= 127);
      }
}

/* A chain of @depth variants around an int, built in C; each in a
 * one-item `av` when @in_arrays. */
static GVariant *
variant_chain (guint    depth,
               gboolean in_arrays)
{
  GVariant *value = g_variant_new_int64 (1);

  for (guint i = 0; i < depth; i++)
    {
      value = g_variant_new_variant (value);
      if (in_arrays)
        value = g_variant_new_array (G_VARIANT_TYPE_VARIANT, &value, 1);
    }
  return g_variant_ref_sink (value);
}

/* Encoding deep variants built in C: each codec gives a value or an
 * error, never a crash; whatever it gives decodes again. */
static void
test_encode_deep_variants (void)
{
  SwCodec *codecs[] = {
    SW_CODEC (sw_msgpack_codec_new ()), SW_CODEC (sw_pickle_codec_new ()),
    SW_CODEC (sw_json_codec_new ()), SW_CODEC (sw_gvariant_codec_new ()),
  };
  const guint depths[] = { 126, 127, 128, 129, 600, 10000 };

  for (gsize c = 0; c < G_N_ELEMENTS (codecs); c++)
    {
      for (gsize d = 0; d < 2 * G_N_ELEMENTS (depths); d++)
        {
          g_autoptr(GVariant) value = variant_chain (depths[d / 2], d % 2);
          g_autoptr(GBytes) bytes = NULL;
          g_autoptr(GVariant) back = NULL;
          g_autoptr(GError) error = NULL;

          g_test_message ("%s, %u variants%s", G_OBJECT_TYPE_NAME (codecs[c]), depths[d / 2],
                          d % 2 ? " in arrays" : "");
          bytes = sw_codec_encode (codecs[c], value, &error);
          if (bytes == NULL)
            {
              g_test_message ("%s", error->message);
              g_assert_nonnull (error);
              g_assert_true (error->domain == G_IO_ERROR);
              continue;
            }
          g_assert_no_error (error);
          back = sw_codec_decode (codecs[c], bytes, &error);
          if (back == NULL)
            g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
          else
            assert_survives_serialisation (back);
        }
      g_object_unref (codecs[c]);
    }
}

/* Every control character and DEL round-trips through the JSON codec, as
 * escapes or as themselves; a text with a raw control character in a
 * string is refused. */
static void
test_json_control_characters (void)
{
  g_autoptr(SwCodec) codec = SW_CODEC (sw_json_codec_new ());

  for (guint c = 1; c < 0x80; c++)
    {
      char text[] = { 'a', (char) c, 'b', 0 };
      g_autoptr(GVariant) value = g_variant_ref_sink (g_variant_new_string (text));
      g_autoptr(GBytes) bytes = NULL;
      g_autoptr(GVariant) back = NULL;
      g_autoptr(GError) error = NULL;
      const char *raw;
      gsize size;

      bytes = sw_codec_encode (codec, value, &error);
      g_assert_no_error (error);
      raw = g_bytes_get_data (bytes, &size);
      for (gsize i = 0; i < size; i++)
        g_assert_cmpint ((guchar) raw[i], >=, 0x20);
      back = sw_codec_decode (codec, bytes, &error);
      g_assert_no_error (error);
      g_assert_true (g_variant_equal (back, value));
    }
  for (guint c = 1; c < 0x20; c++)
    {
      char text[] = { '"', 'a', (char) c, '"' };
      g_autoptr(GBytes) bytes = g_bytes_new (text, sizeof text);

      check_decode (codec, bytes, FALSE);
    }
}

/* Invalid UTF-8 in received text is refused, whether in a string, a key
 * or between values; overlong forms, surrogates and code points past
 * U+10FFFF too, and escaped lone surrogates. */
static void
test_json_invalid_utf8 (void)
{
  g_autoptr(SwCodec) codec = SW_CODEC (sw_json_codec_new ());
  static const char *texts[] = {
    "\"\xff\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"",
    "{\"\xe2\x82\":1}", "[1]\xc3", "\"\xe2\x82\"", "\"\\ud800\"", "\"\\udc00x\"",
    "\"\\u0000\"",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (texts); i++)
    {
      g_autoptr(GBytes) bytes = g_bytes_new (texts[i], strlen (texts[i]));
      /* TAP output must stay UTF-8. */
      g_autofree char *escaped = g_strescape (texts[i], NULL);

      g_test_message ("%s", escaped);
      check_decode (codec, bytes, FALSE);
    }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/sw/codec/attack/msgpack-maps-at-limit", test_msgpack_maps_at_limit);
  g_test_add_func ("/sw/codec/attack/pickle-shared-at-limit", test_pickle_shared_at_limit);
  g_test_add_func ("/sw/codec/attack/json-empty-objects-at-limit",
                   test_json_empty_objects_at_limit);
  g_test_add_func ("/sw/codec/attack/encode-deep-variants", test_encode_deep_variants);
  g_test_add_func ("/sw/codec/attack/json-control-characters", test_json_control_characters);
  g_test_add_func ("/sw/codec/attack/json-invalid-utf8", test_json_invalid_utf8);

  return g_test_run ();
}
