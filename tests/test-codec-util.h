/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Helpers shared by test-codec.c and test-codec-connection.c: the two
 * built-in codecs, bytes from text, nested JSON documents, value
 * comparison and the refusal of bad bytes. */
#pragma once

#include "sw-test-util.h"

G_BEGIN_DECLS

SwCodec *
gvariant_codec (void);

SwCodec *
json_codec (void);

GBytes *
bytes_from_string (const char *text);

void
assert_variant_equal (GVariant *actual,
                      GVariant *expected);

/* Asserts that decoding @bytes fails with INVALID_DATA; returns the
 * message so callers can check it says where. */
char *
assert_decode_invalid (SwCodec *codec,
                       GBytes  *bytes);

/* A balanced document @depth deep: @open, "1", @close, each @depth
 * times, inside @prefix and @suffix. */
GBytes *
nested_json (const char *prefix,
             const char *open,
             guint       depth,
             const char *close,
             const char *suffix);

G_END_DECLS
