/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What sw-bench.c shares with the sections kept in their own files. */
#pragma once

#include <glib.h>

/* CLOCK_MONOTONIC in seconds. */
double      now              (void);
/* Prints to stderr and _exit()s: safe in a forked child. */
G_GNUC_PRINTF (1, 2) G_GNUC_NORETURN
void        die              (const char *format,
                              ...);
void        write_all        (int         fd,
                              const void *data,
                              gsize       len);
/* A "Vm...:" field of /proc/self/status in KiB, or -1. */
long        proc_status_kib  (const char *field);
/* Sets VmHWM back to VmRSS (/proc/self/clear_refs) where allowed; elsewhere
 * a fresh fork's mark, its RSS at fork time, stands. */
void        reset_peak_rss   (void);
/* Median of the values of @v that are not NaN (reorders @v), or NaN. */
double      median           (double     *v,
                              gsize       n);
/* "64 KiB", "1 MiB": a static buffer, one of a few used in turn. */
const char *size_label       (gsize       size);

/* The codec-decode section: prints its tables, returns FALSE when a
 * measurement failed for a reason other than the codec's own (a refusal,
 * a time or memory limit count as results). */
gboolean    sw_bench_codec_section (gboolean quick);
