/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: encoding arbitrary GVariants. The input gives a codec,
 * a type string and the serialised data of a value of that type (GLib
 * takes it in normal form, defaults replacing what is malformed). Every
 * codec either refuses the value with INVALID_ARGUMENT, or its encoding
 * decodes, and encoding what it decodes gives the very same bytes: encode
 * is idempotent after one round trip. */
#include "fuzz-common.h"

static GVariant *
take_value (FuzzInput *in)
{
  guint8 length = fuzz_take_byte (in) % 48;
  g_autofree char *type_string = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GBytes) bytes = NULL;
  const char *end = NULL;

  if (length == 0 || in->size < length)
    return NULL;
  type_string = g_strndup ((const char *) in->data, length);
  in->data += length;
  in->size -= length;
  if (!g_variant_type_string_scan (type_string, NULL, &end) || *end != '\0'
      || !g_variant_type_is_definite (G_VARIANT_TYPE (type_string)))
    return NULL;

  bytes = g_bytes_new (in->data, in->size);
  value = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE (type_string),
                                                        bytes, FALSE));
  return g_variant_get_normal_form (value);
}

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  FuzzInput in = { data, size };
  g_autoptr(SwCodec) codec = fuzz_codec_new (fuzz_take_byte (&in));
  g_autoptr(GVariant) value = take_value (&in);
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GVariant) decoded = NULL;
  g_autoptr(GBytes) again = NULL;
  g_autoptr(GVariant) decoded_again = NULL;
  g_autoptr(GError) error = NULL;

  if (value == NULL)
    return 0;

  bytes = sw_codec_encode (codec, value, &error);
  if (bytes == NULL)
    {
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
      return 0;
    }
  decoded = sw_codec_decode (codec, bytes, &error);
  if (decoded == NULL)
    {
      g_autofree char *text = g_variant_print (value, TRUE);

      g_error ("%s encodes to what %s does not decode: %s", text,
               G_OBJECT_TYPE_NAME (codec), error->message);
    }
  /* The GVariant codec keeps types: the value itself comes back. */
  if (SW_IS_GVARIANT_CODEC (codec))
    g_assert_true (g_variant_equal (value, decoded));

  again = sw_codec_encode (codec, decoded, &error);
  g_assert_no_error (error);
  if (!g_bytes_equal (bytes, again))
    {
      g_autofree char *text = g_variant_print (value, TRUE);

      g_error ("%s: %s encodes a second time to other bytes", text,
               G_OBJECT_TYPE_NAME (codec));
    }
  decoded_again = sw_codec_decode (codec, again, &error);
  g_assert_no_error (error);
  g_assert_true (g_variant_equal (decoded, decoded_again));
  return 0;
}
