/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* What a fault stream does to the calls that reach it. Percentages are the
 * chance per call; every choice comes from the seed, so a run replays. */
typedef struct
{
  /* Pollable flavour: the streams implement GPollableInputStream and
   * GPollableOutputStream; otherwise they are plain blocking streams. */
  gboolean      pollable;
  /* A read or write moves fewer bytes than asked, down to 1. */
  guint         short_percent;
  /* Pollable only: a burst of 1..8 calls fails with WOULD_BLOCK. Each is
   * honest: the source created next is the real socket's, which fires as
   * soon as the socket is ready (at once when it already is). */
  guint         block_percent;
  /* Pollable only: an EINTR-like WOULD_BLOCK whose next source fires at
   * once whatever the socket's state, so the caller retries immediately
   * (and may then meet the socket's real WOULD_BLOCK). */
  guint         retry_percent;
  /* When not 0: the fail_at-th read (on the input) or write (on the
   * output) and every later one fails with fail_code. */
  guint         fail_at;
  GIOErrorEnum  fail_code;
  /* Blocking flavour only, when set: every write waits until it can take
   * this mutex (and releases it at once), so a test holding it keeps a
   * worker thread's write from finishing until it lets go. */
  GMutex       *gate;
} SwFaultConfig;

#define SW_TYPE_FAULT_STREAM (sw_fault_stream_get_type ())
G_DECLARE_FINAL_TYPE (SwFaultStream, sw_fault_stream, SW, FAULT_STREAM, GIOStream)

/* Wraps @base (whose streams must be a socket's: pollable and able to
 * block) with faults drawn from @seed. Closing it closes @base. */
SwFaultStream *sw_fault_stream_new (GIOStream           *base,
                                    const SwFaultConfig *input_config,
                                    const SwFaultConfig *output_config,
                                    guint32              seed);

/* Two fault streams over the ends of a UNIX stream socketpair: @a's
 * output feeds @b's input and back. @a_config applies to @a's output and
 * input alike, as @b_config to @b's. */
void           sw_fault_stream_pair (const SwFaultConfig  *a_config,
                                     const SwFaultConfig  *b_config,
                                     guint32               seed,
                                     SwFaultStream       **a,
                                     SwFaultStream       **b);

/* How many faults (short calls, WOULD_BLOCKs, retries, errors) the
 * stream's two halves have delivered so far. */
guint          sw_fault_stream_get_n_faults (SwFaultStream *self);

G_END_DECLS
