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
gboolean sw_pipe       (SwFraming      *framing,
                        SwConnection  **reader,
                        SwConnection  **writer,
                        GError        **error);
SW_AVAILABLE_IN_ALL
gboolean sw_socketpair (GSocketFamily   family,
                        GSocketType     type,
                        SwFraming      *framing,
                        SwConnection  **a,
                        SwConnection  **b,
                        GError        **error);

G_END_DECLS
