/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* JSON text of @node, compact, UTF-8, without a trailing NUL in the bytes
 * (the allocation has one). Used by sw_connection_send_json_node(). The
 * generator writes what the node holds: a non-finite double becomes text
 * no JSON parser accepts ("nan.0"), so callers that take nodes from users
 * should check them (sw_json_node_check()). */
GBytes   *sw_json_node_to_bytes   (JsonNode  *node);

/* The JSON value in @bytes (untrusted). Fails with G_IO_ERROR_INVALID_DATA
 * on invalid UTF-8, invalid JSON (json-glib's message, with line and
 * column), empty text, data after the value, nesting deeper than
 * SW_JSON_MAX_DEPTH, or an integer outside the int64 range, and with
 * G_IO_ERROR_MESSAGE_TOO_LARGE when the tree would take more memory than
 * sw_codec_check_cost() allows. Used by
 * sw_connection_receive_json_node(). */
JsonNode *sw_json_node_from_bytes (GBytes    *bytes,
                                   GError   **error);

/* The value of @node in the mapping of SwJsonCodec (a floating
 * reference), in one walk; @work, if not NULL, is incremented once per
 * node (tests check decoding stays linear). */
GVariant *sw_json_node_to_variant (JsonNode  *node,
                                   guint64   *work);

/* What SwJsonCodec's decode does, counting @work as above. */
GVariant *sw_json_decode          (GBytes    *bytes,
                                   guint64   *work,
                                   GError   **error);

/* Checks that @node can be written as valid JSON: no NaN or infinite
 * number (G_IO_ERROR_INVALID_ARGUMENT otherwise). */
gboolean  sw_json_node_check      (JsonNode  *node,
                                   GError   **error);

/* Deepest nesting of arrays and objects accepted from the wire. It bounds
 * the recursion of json-glib's parser (which has no limit of its own and
 * overflows the stack on a few hundred thousand brackets), and a decoded
 * value, boxed again by SwGVariantCodec, stays within GLib's nesting limit
 * of 128 for untrusted data: a JSON object is three GVariant levels (a{sv}:
 * array, dict entry, variant), an array two (av), plus one for the box, so
 * 42 objects deep around a number or string make 127. Around null, {} or
 * [] they make more, which sw_codec_check_depth() refuses. */
#define SW_JSON_MAX_DEPTH 42

G_END_DECLS
