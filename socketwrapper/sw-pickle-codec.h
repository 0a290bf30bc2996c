/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined (SW_INSIDE) && !defined (SW_COMPILATION)
# error "Only <socketwrapper/socketwrapper.h> can be included directly."
#endif

#include <socketwrapper/sw-codec.h>
#include <socketwrapper/sw-version-macros.h>

G_BEGIN_DECLS

#define SW_TYPE_PICKLE_CODEC (sw_pickle_codec_get_type ())
SW_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (SwPickleCodec, sw_pickle_codec, SW, PICKLE_CODEC, GObject)

SW_AVAILABLE_IN_ALL
SwPickleCodec *sw_pickle_codec_new          (void) G_GNUC_WARN_UNUSED_RESULT;

SW_AVAILABLE_IN_ALL
guint          sw_pickle_codec_get_protocol (SwPickleCodec *self);

G_END_DECLS
