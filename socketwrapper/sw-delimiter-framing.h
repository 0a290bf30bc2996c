/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined (SW_INSIDE) && !defined (SW_COMPILATION)
# error "Only <socketwrapper/socketwrapper.h> can be included directly."
#endif

#include <socketwrapper/sw-framing.h>
#include <socketwrapper/sw-version-macros.h>

G_BEGIN_DECLS

#define SW_TYPE_DELIMITER_FRAMING (sw_delimiter_framing_get_type ())
SW_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (SwDelimiterFraming, sw_delimiter_framing, SW, DELIMITER_FRAMING, GObject)

SW_AVAILABLE_IN_ALL
SwDelimiterFraming *sw_delimiter_framing_new           (GBytes             *delimiter) G_GNUC_WARN_UNUSED_RESULT;
SW_AVAILABLE_IN_ALL
GBytes             *sw_delimiter_framing_get_delimiter (SwDelimiterFraming *self);

G_END_DECLS
