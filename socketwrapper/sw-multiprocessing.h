/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined (SW_INSIDE) && !defined (SW_COMPILATION)
# error "Only <socketwrapper/socketwrapper.h> can be included directly."
#endif

#include <gio/gio.h>
#include <socketwrapper/sw-connection.h>
#include <socketwrapper/sw-version-macros.h>

G_BEGIN_DECLS

SW_AVAILABLE_IN_ALL
gboolean sw_multiprocessing_deliver_challenge        (SwConnection        *connection,
                                                      GBytes              *authkey,
                                                      gint64               timeout_us,
                                                      GCancellable        *cancellable,
                                                      GError             **error);
SW_AVAILABLE_IN_ALL
void     sw_multiprocessing_deliver_challenge_async  (SwConnection        *connection,
                                                      GBytes              *authkey,
                                                      GCancellable        *cancellable,
                                                      GAsyncReadyCallback  callback,
                                                      gpointer             user_data);
SW_AVAILABLE_IN_ALL
gboolean sw_multiprocessing_deliver_challenge_finish (SwConnection        *connection,
                                                      GAsyncResult        *result,
                                                      GError             **error);

SW_AVAILABLE_IN_ALL
gboolean sw_multiprocessing_answer_challenge         (SwConnection        *connection,
                                                      GBytes              *authkey,
                                                      gint64               timeout_us,
                                                      GCancellable        *cancellable,
                                                      GError             **error);
SW_AVAILABLE_IN_ALL
void     sw_multiprocessing_answer_challenge_async   (SwConnection        *connection,
                                                      GBytes              *authkey,
                                                      GCancellable        *cancellable,
                                                      GAsyncReadyCallback  callback,
                                                      gpointer             user_data);
SW_AVAILABLE_IN_ALL
gboolean sw_multiprocessing_answer_challenge_finish  (SwConnection        *connection,
                                                      GAsyncResult        *result,
                                                      GError             **error);

/* Passing one fd as multiprocessing.reduction's send_handle() and
 * recv_handle() do (sw-multiprocessing-handle.c). */
SW_AVAILABLE_IN_ALL
gboolean sw_multiprocessing_send_handle              (SwConnection        *connection,
                                                      int                  fd,
                                                      GCancellable        *cancellable,
                                                      GError             **error);
SW_AVAILABLE_IN_ALL
void     sw_multiprocessing_send_handle_async        (SwConnection        *connection,
                                                      int                  fd,
                                                      GCancellable        *cancellable,
                                                      GAsyncReadyCallback  callback,
                                                      gpointer             user_data);
SW_AVAILABLE_IN_ALL
gboolean sw_multiprocessing_send_handle_finish       (SwConnection        *connection,
                                                      GAsyncResult        *result,
                                                      GError             **error);
SW_AVAILABLE_IN_ALL
int      sw_multiprocessing_receive_handle           (SwConnection        *connection,
                                                      GCancellable        *cancellable,
                                                      GError             **error);
SW_AVAILABLE_IN_ALL
void     sw_multiprocessing_receive_handle_async     (SwConnection        *connection,
                                                      GCancellable        *cancellable,
                                                      GAsyncReadyCallback  callback,
                                                      gpointer             user_data);
SW_AVAILABLE_IN_ALL
int      sw_multiprocessing_receive_handle_finish    (SwConnection        *connection,
                                                      GAsyncResult        *result,
                                                      GError             **error);

G_END_DECLS
