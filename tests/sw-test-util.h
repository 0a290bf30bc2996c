/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <socketwrapper/socketwrapper.h>

G_BEGIN_DECLS

/* A GBytes of @size bytes whose content is a pattern derived from @seed,
 * so a receiver can check every byte without keeping a copy. */
GBytes  *sw_test_pattern_bytes (gsize   size,
                                guint32 seed);
gboolean sw_test_pattern_check (GBytes *bytes,
                                guint32 seed);

G_END_DECLS
