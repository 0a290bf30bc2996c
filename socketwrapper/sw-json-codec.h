/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined (SW_INSIDE) && !defined (SW_COMPILATION)
# error "Only <socketwrapper/socketwrapper.h> can be included directly."
#endif

/* Not needed by this header itself, but SwConnection's JsonNode calls
 * are public: every user of <socketwrapper/socketwrapper.h> gets json-glib. */
#include <json-glib/json-glib.h>
#include <socketwrapper/sw-codec.h>
#include <socketwrapper/sw-version-macros.h>

G_BEGIN_DECLS

#define SW_TYPE_JSON_CODEC (sw_json_codec_get_type ())
SW_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (SwJsonCodec, sw_json_codec, SW, JSON_CODEC, GObject)

SW_AVAILABLE_IN_ALL
SwJsonCodec *sw_json_codec_new (void) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS
