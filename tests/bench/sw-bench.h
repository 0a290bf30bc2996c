/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What sw-bench.c shares with the contenders and the codec section, which
 * live in their own files. */
#pragma once

#include <glib.h>

#define PYTHON       "/usr/bin/python3"
#define LATENCY_SIZE 64

typedef enum
{
  ROLE_SEND,
  ROLE_RECV,
  ROLE_PING,
  ROLE_PONG,
} Role;

/* What one child process is asked to do. */
typedef struct
{
  Role        role;
  int         fd;          /* this child's end of the socketpair */
  int         report_fd;   /* child -> parent lines */
  int         go_fd;       /* parent -> child start byte */
  gsize       size;
  guint64     count;
  double      budget;      /* latency client: seconds to run */
  gboolean    memory;      /* receiver: report its peak RSS growth */
  const char *endpoint;    /* ZeroMQ */
} Job;

typedef void (*ChildFunc) (const Job *job);

/* The peer script of python-mp (--python-script). */
extern char *opt_python_script;

/* CLOCK_MONOTONIC in seconds. */
double      now              (void);
/* Prints to stderr and _exit()s: safe in a forked child. */
G_GNUC_PRINTF (1, 2) G_GNUC_NORETURN
void        die              (const char *format,
                              ...);
void        write_all        (int         fd,
                              const void *data,
                              gsize       len);
/* Reads exactly @len bytes or die()s (at EOF too). */
void        read_exact       (int         fd,
                              guint8     *p,
                              gsize       len);
/* One line from a child; FALSE on EOF, error or timeout. */
gboolean    read_line        (int         fd,
                              char       *buf,
                              gsize       size);
/* Forks a child that runs @func (its report fd, @data) and _exit(0)s;
 * returns its pid and the read end of its report pipe in @report_fd. */
pid_t       fork_reporting   (void      (*func) (int      report_fd,
                                                 gpointer data),
                              gpointer    data,
                              int        *report_fd);
/* A "Vm...:" field of /proc/self/status in KiB, or -1. */
long        proc_status_kib  (const char *field);
/* Sets VmHWM back to VmRSS (/proc/self/clear_refs) where allowed; elsewhere
 * a fresh fork's mark, its RSS at fork time, stands. */
void        reset_peak_rss   (void);
/* @size bytes that are not zeros, in a new GBytes. */
GBytes     *make_payload     (gsize       size);
/* For qsort() of doubles. */
int         compare_double   (gconstpointer a,
                              gconstpointer b);
/* Median of the values of @v that are not NaN (reorders @v), or NaN. */
double      median           (double     *v,
                              gsize       n);
/* "64 KiB", "1 MiB": a static buffer, one of a few used in turn. */
const char *size_label       (gsize       size);

/* The contenders' child processes (sw-bench-contenders.c). */
#define SW_BENCH_CHILD(name) void name (const Job *job)
SW_BENCH_CHILD (sw_sync_sender);
SW_BENCH_CHILD (sw_sync_receiver);
SW_BENCH_CHILD (sw_sync_client);
SW_BENCH_CHILD (sw_sync_server);
SW_BENCH_CHILD (sw_exact_receiver);
SW_BENCH_CHILD (sw_exact_client);
SW_BENCH_CHILD (sw_exact_server);
SW_BENCH_CHILD (sw_async_sender);
SW_BENCH_CHILD (sw_async_receiver);
SW_BENCH_CHILD (sw_async_client);
SW_BENCH_CHILD (sw_async_server);
SW_BENCH_CHILD (sw_signal_receiver);
SW_BENCH_CHILD (sw_batch_sender);
SW_BENCH_CHILD (sw_batch_receiver);
SW_BENCH_CHILD (sw_memfd_sender);
SW_BENCH_CHILD (sw_memfd_receiver);
SW_BENCH_CHILD (raw_sender);
SW_BENCH_CHILD (raw_exact_receiver);
SW_BENCH_CHILD (raw_exact_client);
SW_BENCH_CHILD (raw_exact_server);
SW_BENCH_CHILD (raw_buffered_receiver);
SW_BENCH_CHILD (raw_buffered_client);
SW_BENCH_CHILD (raw_buffered_server);
SW_BENCH_CHILD (gdbus_sender);
SW_BENCH_CHILD (gdbus_receiver);
SW_BENCH_CHILD (gdbus_client);
SW_BENCH_CHILD (gdbus_server);
SW_BENCH_CHILD (python_sender);
SW_BENCH_CHILD (python_receiver);
SW_BENCH_CHILD (python_client);
SW_BENCH_CHILD (python_server);
#ifdef SW_BENCH_HAVE_ZMQ
SW_BENCH_CHILD (zmq_sender);
SW_BENCH_CHILD (zmq_receiver);
SW_BENCH_CHILD (zmq_client);
SW_BENCH_CHILD (zmq_server);
#endif

/* The codec-decode section: prints its tables, returns FALSE when a
 * measurement failed for a reason other than the codec's own (a refusal,
 * a time or memory limit count as results). */
gboolean    sw_bench_codec_section (gboolean quick);
/* The scale section (sw-bench-scale.c): one busy connection among N in
 * one main context; @rows: "sw", "glib" or both (NULL), @ns: which of
 * N = 1,100,1000,10000 (NULL: all), comma-separated. FALSE when a cell
 * failed. */
gboolean    sw_bench_scale_section (gboolean    quick,
                                    const char *rows,
                                    const char *ns);
