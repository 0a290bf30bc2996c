/* SPDX-License-Identifier: LGPL-2.1-or-later */

/**
 * SwVarIntFraming:
 *
 * Frames each message with its length as an SQLite4 varint.
 *
 * This is the default framing (see [func@Sw.Framing.get_default]) and is
 * byte-compatible with `framing.VarIntBytes` of the Python `socketwrapper`
 * package. The header encodes a length v in 1 to 9 bytes:
 *
 * - v <= 240: one byte, v;
 * - v <= 2287: two bytes, (v - 240) / 256 + 241 and (v - 240) % 256;
 * - v <= 67823: three bytes, 249 then v - 2288 as two big-endian bytes;
 * - otherwise a first byte 250 to 255 announces 3 to 8 big-endian bytes
 *   of v, the fewest that hold it.
 *
 * The payload follows the header; there is no trailer. Encoding writes the
 * shortest form; decoding accepts any well-formed form, so every byte
 * sequence starts a valid header and decoding never fails.
 *
 * Since: 0.1
 */

#include "sw-bytes-private.h"
#include "sw-framing-private.h"
#include "sw-varint-framing.h"

struct _SwVarIntFraming
{
  GObject parent_instance;
};

static void sw_varint_framing_iface_init (SwFramingInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (SwVarIntFraming, sw_varint_framing, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (SW_TYPE_FRAMING,
                                                      sw_varint_framing_iface_init))

gsize
sw_varint_encode (guint64 value,
                  guint8  out[9])
{
  guint n;

  if (value <= 240)
    {
      out[0] = (guint8) value;
      return 1;
    }
  if (value <= 2287)
    {
      out[0] = (guint8) ((value - 240) / 256 + 241);
      out[1] = (guint8) ((value - 240) % 256);
      return 2;
    }
  if (value <= 67823)
    {
      out[0] = 249;
      sw_put_be (out + 1, value - 2288, 2);
      return 3;
    }

  /* At least 3 bytes here (67824 > 0xffff); count the rest. */
  for (n = 3; n < 8 && (value >> (8 * n)) != 0; n++)
    ;
  out[0] = (guint8) (250 + n - 3);
  sw_put_be (out + 1, value, n);
  return 1 + n;
}

gsize
sw_varint_decode (const guint8 *data,
                  gsize         length,
                  guint64      *value,
                  gsize        *needed)
{
  guint8 first;
  gsize total;

  if (length == 0)
    {
      *needed = 1;
      return 0;
    }

  first = data[0];
  if (first <= 240)
    total = 1;
  else if (first <= 248)
    total = 2;
  else if (first == 249)
    total = 3;
  else
    total = 1 + (first - 250 + 3);

  if (length < total)
    {
      *needed = total - length;
      return 0;
    }

  if (first <= 240)
    *value = first;
  else if (first <= 248)
    *value = 240 + 256 * (guint64) (first - 241) + data[1];
  else if (first == 249)
    *value = 2288 + sw_get_be (data + 1, 2);
  else
    *value = sw_get_be (data + 1, (guint) total - 1);
  return total;
}

/* Shared by the public vfunc and the fast path: no allocation, state
 * unused (the header is at most 9 bytes, rescanning it is free). */
static SwFramingResult
sw_varint_framing_decode (SwFraming     *framing,
                          const guint8  *data,
                          gsize          length,
                          guint64       *state,
                          gsize         *header_length,
                          guint64       *payload_length,
                          gsize         *trailer_length,
                          gsize         *needed,
                          GError       **error)
{
  gsize header;

  header = sw_varint_decode (data, length, payload_length, needed);
  if (header == 0)
    return SW_FRAMING_RESULT_NEED_MORE;

  *header_length = header;
  *trailer_length = 0;
  return SW_FRAMING_RESULT_FRAME;
}

static gsize
sw_varint_framing_encode_header (SwFraming *framing,
                                 guint64    payload_length,
                                 guint8     header[SW_FRAMING_MAX_HEADER])
{
  return sw_varint_encode (payload_length, header);
}

static gboolean
sw_varint_framing_encode (SwFraming  *framing,
                          GBytes     *payload,
                          GBytes    **header,
                          GBytes    **trailer,
                          GError    **error)
{
  guint8 buffer[SW_FRAMING_MAX_HEADER];
  gsize n;

  n = sw_varint_encode (g_bytes_get_size (payload), buffer);
  *header = g_bytes_new (buffer, n);
  *trailer = NULL;
  return TRUE;
}

static const SwFramingFastPath sw_varint_framing_fast_path = {
  sw_varint_framing_decode,
  sw_varint_framing_encode_header,
};

static void
sw_varint_framing_iface_init (SwFramingInterface *iface)
{
  iface->decode = sw_varint_framing_decode;
  iface->encode = sw_varint_framing_encode;
}

static void
sw_varint_framing_class_init (SwVarIntFramingClass *klass)
{
  sw_framing_set_fast_path (SW_TYPE_VARINT_FRAMING,
                            &sw_varint_framing_fast_path);
}

static void
sw_varint_framing_init (SwVarIntFraming *self)
{
}

/**
 * sw_varint_framing_new:
 *
 * Creates a varint framing. Framings are stateless: the shared instance
 * returned by [func@Sw.Framing.get_default] serves just as well.
 *
 * Returns: (transfer full): a new [class@Sw.VarIntFraming]
 *
 * Since: 0.1
 */
SwVarIntFraming *
sw_varint_framing_new (void)
{
  return g_object_new (SW_TYPE_VARINT_FRAMING, NULL);
}
