/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: every built-in codec decodes arbitrary bytes to a value
 * or a GError, never a crash. A value it decodes encodes again, and that
 * encoding is a fixed point: it decodes to the same value, which encodes
 * to the same bytes. The first input byte picks the codec, and where in
 * its buffer the message starts: a caller may decode a slice of anything,
 * so decoding must not depend on alignment. */
#include <string.h>

#include "fuzz-common.h"

/* The message, @offset bytes (0 to 7) into a buffer of its own. */
static GBytes *
bytes_at_offset (const guint8 *data,
                 gsize         size,
                 gsize         offset)
{
  guint8 *buffer = g_malloc (offset + size + 1);
  g_autoptr(GBytes) whole = NULL;

  memcpy (buffer + offset, data, size);
  whole = g_bytes_new_take (buffer, offset + size);
  return g_bytes_new_from_bytes (whole, offset, size);
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
  g_autoptr(GBytes) third = NULL;

  if (size < 1)
    return 0;
  codec = fuzz_codec_new (data[0]);
  bytes = bytes_at_offset (data + 1, size - 1, (data[0] / FUZZ_N_CODECS) % 8);

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
    {
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
      return 0;
    }
  /* A pickle that shares through its memo is written out in full: a few
   * bytes may come back as megabytes, whose decode is linear but takes
   * seconds under the sanitizers. Past 256 KiB that is all it tests. */
  if (g_bytes_get_size (again) > 256 * 1024 && g_bytes_get_size (again) > 64 * size)
    return 0;
  value_again = sw_codec_decode (codec, again, &error);
  if (value_again == NULL)
    {
      /* Pickle's memo shares a value the encoding writes out in full,
       * which may exceed the memory budget when read back. */
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
      return 0;
    }
  g_assert_true (g_variant_equal (value, value_again));

  third = sw_codec_encode (codec, value_again, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (again, third));
  return 0;
}
