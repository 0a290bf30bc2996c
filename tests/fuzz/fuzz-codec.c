/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: every built-in codec decodes arbitrary bytes to a value
 * or a GError, never a crash; a value it decodes encodes again and decodes
 * to the same value. The first input byte picks the codec. */
#include <socketwrapper/socketwrapper.h>

int LLVMFuzzerTestOneInput (const guint8 *data,
                            size_t        size);

static SwCodec *
codec_for (guint8 selector)
{
  switch (selector % 3)
    {
    case 0:
      return SW_CODEC (sw_gvariant_codec_new ());
    case 1:
      return SW_CODEC (sw_json_codec_new ());
    default:
      return SW_CODEC (sw_msgpack_codec_new ());
    }
}

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  g_autoptr(SwCodec) codec = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) again = NULL;
  g_autoptr(GVariant) value_again = NULL;

  if (size < 1)
    return 0;
  codec = codec_for (data[0]);
  bytes = g_bytes_new (data + 1, size - 1);

  value = sw_codec_decode (codec, bytes, &error);
  if (value == NULL)
    {
      /* Bad bytes, or a value over the codec's memory budget. */
      g_assert_true (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA)
                     || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE));
      return 0;
    }
  g_assert_no_error (error);

  /* Some decoded values cannot be written back (JSON has no NaN, for
   * one); those that can must come back the same. */
  again = sw_codec_encode (codec, value, &error);
  if (again == NULL)
    return 0;
  value_again = sw_codec_decode (codec, again, &error);
  g_assert_no_error (error);
  g_assert_true (g_variant_equal (value, value_again));
  return 0;
}
