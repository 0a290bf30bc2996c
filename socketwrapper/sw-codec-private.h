/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "sw-codec.h"

G_BEGIN_DECLS

/* The memory budget of one decode (see "Memory" in the SwCodec docs):
 * the decoded value, estimated before it is built, may take the larger of
 * SW_CODEC_DECODE_MIN_LIMIT and SW_CODEC_DECODE_FACTOR times the message.
 * The floor is the default max-message-size, so a message of any size the
 * default connection accepts may decode to that much structure; the
 * factor lets a connection whose max-message-size was raised decode
 * proportionally larger messages (long strings cost up to twice their
 * length, once in the parser's tree and once in the value). */
#define SW_CODEC_DECODE_MIN_LIMIT (G_GUINT64_CONSTANT (128) * 1024 * 1024)
#define SW_CODEC_DECODE_FACTOR    4

guint64  sw_codec_decode_limit (gsize         message_size);

/* TRUE when a decoded value estimated at @cost bytes fits the budget of a
 * message of @message_size bytes; otherwise sets
 * G_IO_ERROR_MESSAGE_TOO_LARGE, saying both numbers. */
gboolean sw_codec_check_cost   (guint64       cost,
                                gsize         message_size,
                                GError      **error);

/* The deepest a decoded value may nest, counting every array, tuple, dict
 * entry, variant and maybe on the way down and the leaf: GLib reads a
 * serialised value back only to 128 levels (G_VARIANT_MAX_RECURSION_DEPTH)
 * and silently replaces anything deeper with "()", so a deeper value would
 * lose its inner part as soon as anything serialised it (sending it with
 * SwGVariantCodec, g_variant_equal(), g_variant_get_data()). One level is
 * left for SwGVariantCodec's box. */
#define SW_CODEC_MAX_VARIANT_DEPTH 127

/* Containers of JSON, MessagePack or pickle nested at most this deep
 * always fit: each takes at most three levels (a{sv}: array, dict entry,
 * variant), and so does the innermost value (an empty map; nil is two).
 * A decoder that knows the nesting of its input walks the value with
 * sw_codec_check_depth() only beyond it. */
#define SW_CODEC_SAFE_NESTING 41

/* TRUE when @value nests at most SW_CODEC_MAX_VARIANT_DEPTH deep;
 * otherwise sets G_IO_ERROR_INVALID_DATA. */
gboolean sw_codec_check_depth  (GVariant     *value,
                                GError      **error);

G_END_DECLS
