/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined (SW_INSIDE) && !defined (SW_COMPILATION)
# error "Only <socketwrapper/socketwrapper.h> can be included directly."
#endif

#include <gio/gio.h>
#include <socketwrapper/sw-connection.h>
#include <socketwrapper/sw-version-macros.h>

G_BEGIN_DECLS

#define SW_TYPE_MULTIPROCESSING_LISTENER (sw_multiprocessing_listener_get_type ())
SW_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (SwMultiprocessingListener, sw_multiprocessing_listener, SW, MULTIPROCESSING_LISTENER, GObject)

SW_AVAILABLE_IN_ALL
SwMultiprocessingListener *sw_multiprocessing_listener_new (GSocketAddress  *address,
                                                            GBytes          *authkey,
                                                            GError         **error) G_GNUC_WARN_UNUSED_RESULT;
SW_AVAILABLE_IN_ALL
SwConnection   *sw_multiprocessing_listener_accept        (SwMultiprocessingListener  *self,
                                                           GCancellable               *cancellable,
                                                           GError                    **error) G_GNUC_WARN_UNUSED_RESULT;
SW_AVAILABLE_IN_ALL
void            sw_multiprocessing_listener_accept_async  (SwMultiprocessingListener  *self,
                                                           GCancellable               *cancellable,
                                                           GAsyncReadyCallback         callback,
                                                           gpointer                    user_data);
SW_AVAILABLE_IN_ALL
SwConnection   *sw_multiprocessing_listener_accept_finish (SwMultiprocessingListener  *self,
                                                           GAsyncResult               *result,
                                                           GError                    **error) G_GNUC_WARN_UNUSED_RESULT;
SW_AVAILABLE_IN_ALL
GSocketAddress *sw_multiprocessing_listener_get_address   (SwMultiprocessingListener  *self);
SW_AVAILABLE_IN_ALL
int             sw_multiprocessing_listener_get_backlog   (SwMultiprocessingListener  *self);
SW_AVAILABLE_IN_ALL
void            sw_multiprocessing_listener_set_backlog   (SwMultiprocessingListener  *self,
                                                           int                         backlog);
SW_AVAILABLE_IN_ALL
void            sw_multiprocessing_listener_close         (SwMultiprocessingListener  *self);
SW_AVAILABLE_IN_ALL
gboolean        sw_multiprocessing_listener_get_closed    (SwMultiprocessingListener  *self);

SW_AVAILABLE_IN_ALL
SwConnection   *sw_multiprocessing_connect                (GSocketAddress             *address,
                                                           GBytes                     *authkey,
                                                           GCancellable               *cancellable,
                                                           GError                    **error) G_GNUC_WARN_UNUSED_RESULT;
SW_AVAILABLE_IN_ALL
void            sw_multiprocessing_connect_async          (GSocketAddress             *address,
                                                           GBytes                     *authkey,
                                                           GCancellable               *cancellable,
                                                           GAsyncReadyCallback         callback,
                                                           gpointer                    user_data);
SW_AVAILABLE_IN_ALL
SwConnection   *sw_multiprocessing_connect_finish         (GAsyncResult               *result,
                                                           GError                    **error) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS
