/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined (SW_INSIDE) && !defined (SW_COMPILATION)
# error "Only <socketwrapper/socketwrapper.h> can be included directly."
#endif

#include <gio/gio.h>
#include <socketwrapper/sw-connection.h>
#include <socketwrapper/sw-version-macros.h>

G_BEGIN_DECLS

/**
 * SW_SPAWN_FD_VARIABLE:
 *
 * The environment variable through which [func@Sw.spawn] tells a child
 * which file descriptor is its end of the connection: `SOCKETWRAPPER_FD`.
 *
 * Since: 0.2
 */
#define SW_SPAWN_FD_VARIABLE "SOCKETWRAPPER_FD"

/**
 * SW_SPAWN_CHILD_FD:
 *
 * The file descriptor number a child started by [func@Sw.spawn] finds its
 * end of the connection on: 3, the first after standard error.
 *
 * Since: 0.2
 */
#define SW_SPAWN_CHILD_FD 3

SW_AVAILABLE_IN_ALL
SwConnection *sw_spawn                            (const char * const  *argv,
                                                   SwFraming           *framing,
                                                   GSubprocessFlags     flags,
                                                   GSubprocess        **subprocess,
                                                   GError             **error) G_GNUC_WARN_UNUSED_RESULT;
SW_AVAILABLE_IN_ALL
SwConnection *sw_connection_new_from_environment  (SwFraming           *framing,
                                                   GError             **error) G_GNUC_WARN_UNUSED_RESULT;
SW_AVAILABLE_IN_ALL
SwConnection *sw_connection_new_for_borrowed_fd   (int                  fd,
                                                   SwFraming           *framing,
                                                   GError             **error) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS
