/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined (SW_INSIDE) && !defined (SW_COMPILATION)
# error "Only <socketwrapper/socketwrapper.h> can be included directly."
#endif

#include <gio/gio.h>
#include <socketwrapper/sw-connection.h>
#include <socketwrapper/sw-framing.h>
#include <socketwrapper/sw-version-macros.h>

G_BEGIN_DECLS

/**
 * SwConnectFlags:
 * @SW_CONNECT_FLAGS_NONE: a plain connection
 * @SW_CONNECT_FLAGS_TLS: wrap the connection in TLS and complete the
 *   handshake, checking the server's certificate, before returning it
 * @SW_CONNECT_FLAGS_TLS_ACCEPT_ANY: with %SW_CONNECT_FLAGS_TLS, accept
 *   whatever certificate the server presents, whatever its errors (self-signed,
 *   for another name, expired...): the connection is encrypted but the
 *   server is not authenticated, so use it only for testing or debugging.
 *
 * How [func@Sw.connect] connects.
 *
 * Since: 0.2
 */
typedef enum /*< flags >*/
{
  SW_CONNECT_FLAGS_NONE = 0,
  SW_CONNECT_FLAGS_TLS  = 1 << 0,
  SW_CONNECT_FLAGS_TLS_ACCEPT_ANY = 1 << 1,
} SwConnectFlags;

#define SW_TYPE_CONNECT_FLAGS (sw_connect_flags_get_type ())
SW_AVAILABLE_IN_ALL
GType         sw_connect_flags_get_type (void) G_GNUC_CONST;

SW_AVAILABLE_IN_ALL
SwConnection *sw_connect                (GSocketConnectable   *connectable,
                                         SwFraming            *framing,
                                         SwConnectFlags        flags,
                                         GTlsDatabase         *database,
                                         GCancellable         *cancellable,
                                         GError              **error);
SW_AVAILABLE_IN_ALL
void          sw_connect_async          (GSocketConnectable   *connectable,
                                         SwFraming            *framing,
                                         SwConnectFlags        flags,
                                         GTlsDatabase         *database,
                                         int                   io_priority,
                                         GCancellable         *cancellable,
                                         GAsyncReadyCallback   callback,
                                         gpointer              user_data);
SW_AVAILABLE_IN_ALL
SwConnection *sw_connect_finish         (GAsyncResult         *result,
                                         GError              **error);

G_END_DECLS
