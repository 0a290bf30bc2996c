/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: the pickle codec decodes arbitrary bytes to a value or
 * a GError (INVALID_DATA or MESSAGE_TOO_LARGE), never a crash, hang or
 * leak; a value it decodes encodes again, in the protocol the first input
 * byte picks, and decodes to the same value. */
#include "fuzz-common.h"

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
  codec = g_object_new (SW_TYPE_PICKLE_CODEC, "protocol", 2 + data[0] % 4, NULL);
  bytes = g_bytes_new (data + 1, size - 1);

  value = sw_codec_decode (codec, bytes, &error);
  if (value == NULL)
    {
      g_assert_true (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA)
                     || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE));
      return 0;
    }
  g_assert_no_error (error);

  /* Every decoded value can be written back, and must come back the same.
   * The encoding has no memo, so a value the input shared through the memo
   * is written out in full and may exceed the memory budget when read
   * back; that is the only failure allowed. */
  again = sw_codec_encode (codec, value, &error);
  g_assert_no_error (error);
  /* A pickle that shares through its memo is written out in full: a few
   * bytes may come back as megabytes, whose decode is linear but takes
   * seconds under the sanitizers. Past 256 KiB that is all it tests. */
  if (g_bytes_get_size (again) > 256 * 1024 && g_bytes_get_size (again) > 64 * size)
    return 0;
  value_again = sw_codec_decode (codec, again, &error);
  if (value_again == NULL)
    {
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
      return 0;
    }
  g_assert_true (g_variant_equal (value, value_again));
  return 0;
}
