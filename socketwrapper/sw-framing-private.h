/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "sw-framing.h"

G_BEGIN_DECLS

/* Longest header a built-in framing writes (multiprocessing: 4 + 8). */
#define SW_FRAMING_MAX_HEADER 16

/* The fast path built-in framings offer the connection: the same decoding
 * as the public vfunc, and an encoder that writes the header into a
 * caller-provided array instead of allocating a GBytes. Built-in framings
 * have no trailer. */
typedef struct
{
  SwFramingResult (*decode)        (SwFraming     *self,
                                    const guint8  *data,
                                    gsize          length,
                                    guint64       *state,
                                    gsize         *header_length,
                                    guint64       *payload_length,
                                    gsize         *trailer_length,
                                    gsize         *needed,
                                    GError       **error);
  gsize           (*encode_header) (SwFraming     *self,
                                    guint64        payload_length,
                                    guint8         header[SW_FRAMING_MAX_HEADER]);
} SwFramingFastPath;

/* Registers @fast_path (static storage) for instances of @type. */
void                     sw_framing_set_fast_path (GType                    type,
                                                   const SwFramingFastPath *fast_path);
/* The fast path of @framing's exact type, or NULL for other framings. */
const SwFramingFastPath *sw_framing_get_fast_path (SwFraming               *framing);

/* Whether @framing's functions may run only in one thread: its class was
 * defined in JavaScript, and GJS runs JS code in its own thread only (a
 * call from another thread is refused with a critical). Framings written
 * in C or Python may be called from any thread. */
gboolean                 sw_framing_is_thread_bound (SwFraming             *framing);

/* SQLite4 varint helpers shared by the varint framing and its tests. */
gsize sw_varint_encode (guint64       value,
                        guint8        out[9]);
/* Returns the encoded length (1..9) and stores the value, 0 when more bytes
 * are needed (*needed set to the missing count). Never fails: every first
 * byte starts a well-formed varint. */
gsize sw_varint_decode (const guint8 *data,
                        gsize         length,
                        guint64      *value,
                        gsize        *needed);

G_END_DECLS
