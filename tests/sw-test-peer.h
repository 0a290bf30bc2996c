/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <socketwrapper/socketwrapper.h>

G_BEGIN_DECLS

/* A Python peer script at the other end of a stream socketpair. */
typedef struct
{
  SwConnection *connection;  /* our end */
  GSubprocess  *process;
} SwTestPeer;

/* Spawns `python SCRIPT 3 MODE` with its end of the socketpair as fd 3.
 * Returns FALSE (and marks the test skipped) when there is no python. */
gboolean sw_test_peer_start  (SwTestPeer *peer,
                              const char *script,
                              const char *mode,
                              SwFraming  *framing);
/* Closes our end; the peer sees EOF and must exit 0. */
void     sw_test_peer_finish (SwTestPeer *peer);

G_END_DECLS
