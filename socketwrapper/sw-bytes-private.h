/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Big-endian unsigned integers of 1 to 8 bytes, as the framing headers and
 * MessagePack carry them. Byte by byte, so @data needs no alignment. */

/* Writes the @n low bytes of @value into @out, most significant first. */
static inline void
sw_put_be (guint8  *out,
           guint64  value,
           guint    n)
{
  for (guint i = n; i > 0; i--)
    {
      out[i - 1] = (guint8) value;
      value >>= 8;
    }
}

/* Reads @n bytes at @data as one big-endian value. */
static inline guint64
sw_get_be (const guint8 *data,
           guint         n)
{
  guint64 value = 0;

  for (guint i = 0; i < n; i++)
    value = (value << 8) | data[i];
  return value;
}

G_END_DECLS
