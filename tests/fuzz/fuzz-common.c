/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "fuzz-common.h"

guint8
fuzz_take_byte (FuzzInput *in)
{
  guint8 byte;

  if (in->size == 0)
    return 0;
  byte = in->data[0];
  in->data++;
  in->size--;
  return byte;
}

/* @n bytes, big-endian. */
guint64
fuzz_take_bytes (FuzzInput *in,
                 guint      n)
{
  guint64 value = 0;

  for (guint i = 0; i < n; i++)
    value = value << 8 | fuzz_take_byte (in);
  return value;
}

/* Every built-in framing, the delimiter one with its default delimiter
 * and with one of two bytes (whose scan must handle a delimiter split
 * across reads). */
SwFraming *
fuzz_framing_new (guint selector)
{
  switch (selector % FUZZ_N_FRAMINGS)
    {
    case 0:
      return SW_FRAMING (sw_varint_framing_new ());
    case 1:
      return SW_FRAMING (sw_multiprocessing_framing_new ());
    case 2:
      return SW_FRAMING (sw_msgpack_framing_new ());
    case 3:
      return SW_FRAMING (sw_delimiter_framing_new (NULL));
    default:
      {
        g_autoptr(GBytes) delimiter = g_bytes_new_static ("\r\n", 2);

        return SW_FRAMING (sw_delimiter_framing_new (delimiter));
      }
    }
}

SwCodec *
fuzz_codec_new (guint selector)
{
  switch (selector % FUZZ_N_CODECS)
    {
    case 0:
      return SW_CODEC (sw_gvariant_codec_new ());
    case 1:
      return SW_CODEC (sw_json_codec_new ());
    case 2:
      return SW_CODEC (sw_msgpack_codec_new ());
    default:
      return SW_CODEC (sw_pickle_codec_new ());
    }
}

/* A GLib critical or warning that fuzz input can reach is a bug: a peer
 * or caller got past a check into a precondition. Make it abort, as an
 * assertion does, so that the fuzzer reports it with its input. */
int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
  return 0;
}
