/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Errors from failed system calls, made the same way wherever one fails,
 * so each message is written, and translated, once. */
#include "config.h"

#include <errno.h>
#include <glib/gi18n-lib.h>

#include "sw-error-private.h"

void
sw_error_set_from_errno (GError     **error,
                         int          errsv,
                         const char  *format,
                         ...)
{
  g_autofree char *what = NULL;
  va_list args;

  if (errsv == EPIPE)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE,
                           _("Broken pipe: the peer closed the connection"));
      return;
    }
  if (errsv == ECONNRESET)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                           _("The connection was reset by the peer"));
      return;
    }

  va_start (args, format);
  what = g_strdup_vprintf (format, args);
  va_end (args);
  /* Translators: what failed, then the system's reason, e.g. "Cannot
   * create a pipe: Too many open files". */
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv), _("%s: %s"),
               what, g_strerror (errsv));
}
