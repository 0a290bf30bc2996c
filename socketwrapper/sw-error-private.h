/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Sets the G_IO_ERROR for a failed system call: the code for @errsv, and a
 * message saying what failed (@format, translated by the caller) and why
 * (the system's text for @errsv). A gone peer (EPIPE, ECONNRESET) is
 * described as such, whatever was being done. */
void sw_error_set_from_errno (GError     **error,
                              int          errsv,
                              const char  *format,
                              ...) G_GNUC_PRINTF (3, 4);

G_END_DECLS
