/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Process-wide set-up done once, from the class_init of every public type:
 * binds the gettext domain and ignores SIGPIPE (see sw-init.c). */
void sw_init (void);

/* Cast a function pointer to a source tag without -Wpedantic complaining. */
#define SW_TAG(fn) ((gpointer) (guintptr) (fn))

G_END_DECLS
