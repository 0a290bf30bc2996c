/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Helpers shared by test-codec.c and test-codec-connection.c. */
#include <string.h>

#include <socketwrapper/socketwrapper.h>

#include "sw-json-codec-private.h"
#include "sw-test-util.h"
#include "test-codec-util.h"

SwCodec *
gvariant_codec (void)
{
  return SW_CODEC (sw_gvariant_codec_new ());
}

SwCodec *
json_codec (void)
{
  return SW_CODEC (sw_json_codec_new ());
}

GBytes *
bytes_from_string (const char *text)
{
  return g_bytes_new (text, strlen (text));
}

void
assert_variant_equal (GVariant *actual,
                      GVariant *expected)
{
  if (!g_variant_equal (actual, expected))
    {
      g_autofree char *a = g_variant_print (actual, TRUE);
      g_autofree char *e = g_variant_print (expected, TRUE);

      g_error ("expected %s, got %s", e, a);
    }
}

char *
assert_decode_invalid (SwCodec *codec,
                       GBytes  *bytes)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) value = NULL;

  value = sw_codec_decode (codec, bytes, &error);
  if (value != NULL)
    {
      g_autofree char *text = g_variant_print (value, TRUE);

      g_error ("decoding %" G_GSIZE_FORMAT " bytes should fail, got %s",
               g_bytes_get_size (bytes), text);
    }
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  return g_strdup (error->message);
}

GBytes *
nested_json (const char *prefix,
             const char *open,
             guint       depth,
             const char *close,
             const char *suffix)
{
  GString *text = g_string_new (prefix);

  for (guint i = 0; i < depth; i++)
    g_string_append (text, open);
  g_string_append (text, "1");
  for (guint i = 0; i < depth; i++)
    g_string_append (text, close);
  g_string_append (text, suffix);
  return g_string_free_to_bytes (text);
}
