/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined (SW_INSIDE) && !defined (SW_COMPILATION)
# error "Only <socketwrapper/socketwrapper.h> can be included directly."
#endif

#include <gio/gio.h>
#include <socketwrapper/sw-codec.h>
#include <socketwrapper/sw-connection.h>
#include <socketwrapper/sw-framing.h>
#include <socketwrapper/sw-version-macros.h>

G_BEGIN_DECLS

/**
 * SW_SERVICE_DEFAULT_HANDSHAKE_TIMEOUT:
 *
 * The default of [property@Sw.Service:handshake-timeout]: 10 seconds, in
 * microseconds.
 *
 * Since: 0.2
 */
#define SW_SERVICE_DEFAULT_HANDSHAKE_TIMEOUT (10 * G_USEC_PER_SEC)

#define SW_TYPE_SERVICE (sw_service_get_type ())
SW_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (SwService, sw_service, SW, SERVICE, GSocketService)

SW_AVAILABLE_IN_ALL
SwService       *sw_service_new                   (SwFraming       *framing);

SW_AVAILABLE_IN_ALL
SwFraming       *sw_service_get_framing           (SwService       *self);
SW_AVAILABLE_IN_ALL
void             sw_service_set_framing           (SwService       *self,
                                                   SwFraming       *framing);
SW_AVAILABLE_IN_ALL
SwCodec         *sw_service_get_codec             (SwService       *self);
SW_AVAILABLE_IN_ALL
void             sw_service_set_codec             (SwService       *self,
                                                   SwCodec         *codec);
SW_AVAILABLE_IN_ALL
GTlsCertificate *sw_service_get_tls_certificate   (SwService       *self);
SW_AVAILABLE_IN_ALL
void             sw_service_set_tls_certificate   (SwService       *self,
                                                   GTlsCertificate *certificate);
SW_AVAILABLE_IN_ALL
gint64           sw_service_get_handshake_timeout (SwService       *self);
SW_AVAILABLE_IN_ALL
void             sw_service_set_handshake_timeout (SwService       *self,
                                                   gint64           timeout_us);

G_END_DECLS
