/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined (SW_INSIDE) && !defined (SW_COMPILATION)
# error "Only <socketwrapper/socketwrapper.h> can be included directly."
#endif

#include <socketwrapper/sw-framing.h>
#include <socketwrapper/sw-version-macros.h>

G_BEGIN_DECLS

#define SW_TYPE_MSGPACK_FRAMING (sw_msgpack_framing_get_type ())
SW_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (SwMsgPackFraming, sw_msgpack_framing, SW, MSGPACK_FRAMING, GObject)

SW_AVAILABLE_IN_ALL
SwMsgPackFraming *sw_msgpack_framing_new (void) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS
