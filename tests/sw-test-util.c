/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "sw-test-util.h"

static guint8
pattern_byte (gsize   i,
              guint32 seed)
{
  guint32 x = (guint32) i * 2654435761u ^ seed;

  return (guint8) (x >> 24);
}

GBytes *
sw_test_pattern_bytes (gsize   size,
                       guint32 seed)
{
  guint8 *data = g_malloc (size ? size : 1);

  for (gsize i = 0; i < size; i++)
    data[i] = pattern_byte (i, seed);
  return g_bytes_new_take (data, size);
}

gboolean
sw_test_pattern_check (GBytes  *bytes,
                       guint32  seed)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (bytes, &size);

  for (gsize i = 0; i < size; i++)
    if (data[i] != pattern_byte (i, seed))
      return FALSE;
  return TRUE;
}
