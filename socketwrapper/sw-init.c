/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <signal.h>
#include <glib/gi18n-lib.h>

#include "sw-init-private.h"

void
sw_init (void)
{
  static gsize initialized = 0;

  if (g_once_init_enter (&initialized))
    {
      bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
      bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");

      /* Writing to a pipe whose reader is gone raises SIGPIPE, and unlike
       * send() a write() has no MSG_NOSIGNAL. There is no portable,
       * thread-safe way to suppress it per call, so, like GSocket, the
       * signal is ignored process-wide: the write then fails with EPIPE,
       * which the library reports as G_IO_ERROR_BROKEN_PIPE. */
      signal (SIGPIPE, SIG_IGN);

      g_once_init_leave (&initialized, 1);
    }
}
