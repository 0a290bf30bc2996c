/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined (SW_INSIDE) && !defined (SW_COMPILATION)
# error "Only <socketwrapper/socketwrapper.h> can be included directly."
#endif

#include <socketwrapper/sw-codec.h>
#include <socketwrapper/sw-version-macros.h>

G_BEGIN_DECLS

#define SW_TYPE_GVARIANT_CODEC (sw_gvariant_codec_get_type ())
SW_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (SwGVariantCodec, sw_gvariant_codec, SW, GVARIANT_CODEC, GObject)

SW_AVAILABLE_IN_ALL
SwGVariantCodec *sw_gvariant_codec_new (void) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS
