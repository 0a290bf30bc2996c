/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sw-bench: throughput, latency and memory of SwConnection against
 * hand-written syscall loops, GDBus peer-to-peer, Python multiprocessing and
 * (when built with it) ZeroMQ.  One run prints one Markdown report.
 *
 * Every measurement runs the two ends in two forked processes over a UNIX
 * stream socketpair(2) (ZeroMQ: an ipc:// endpoint, it cannot adopt an fd).
 * Each child sets itself up, says "R" on its report pipe and waits for a
 * byte on its go pipe, so connection set-up, handshakes and interpreter
 * start-up are never timed.  Throughput is (receiver's CLOCK_MONOTONIC after
 * the last message) - (sender's CLOCK_MONOTONIC before the first one); the
 * clock is system-wide, so the two processes' readings subtract.  Python
 * reads the same clock (time.monotonic), so its numbers mean the same. */
#include <socketwrapper/socketwrapper.h>

#include "sw-bench.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef SW_BENCH_HAVE_ZMQ
#include <zmq.h>
#endif

#define BIG_MESSAGE        (64 * 1024 * 1024)
#define CHILD_TIMEOUT_MS   120000

static const gsize sizes[] = { 16, 256, 4096, 65536, 1048576 };
#define N_SIZES G_N_ELEMENTS (sizes)

/* --sizes can narrow the run (for profiling one cell, say). */
static gboolean size_on[N_SIZES] = { TRUE, TRUE, TRUE, TRUE, TRUE };
#define FOR_SIZES(s) for (gsize s = 0; s < N_SIZES; s++) if (size_on[s])

typedef enum
{
  PLACE_FREE,
  PLACE_SAME,
  PLACE_TWO,
} Placement;

typedef struct
{
  const char *name;
  gboolean    sw;
  ChildFunc   sender;
  ChildFunc   receiver;
  ChildFunc   client;      /* NULL: no latency row */
  ChildFunc   server;
  const char *latency_note;
  gboolean    receiver_first;  /* the sender may only start once the receiver is set up */
} Contender;

static gboolean  opt_quick;
static char     *opt_cpus;
static int       opt_runs;
static double    opt_cell_time;
static char     *opt_only;
static char     *opt_sizes;
static gboolean  opt_no_memory;
char            *opt_python_script;
static char     *opt_section;
static char     *opt_scale_rows;
static char     *opt_connections;

static Placement placement = PLACE_FREE;

/* ------------------------------------------------------------------ */
/* Child-side helpers                                                  */

double
now (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

void
die (const char *format,
     ...)
{
  va_list args;

  va_start (args, format);
  fprintf (stderr, "sw-bench[%d]: ", (int) getpid ());
  vfprintf (stderr, format, args);
  fputc ('\n', stderr);
  va_end (args);
  /* _exit: a child must not run the parent's atexit handlers or flush its
   * stdio buffers a second time. */
  _exit (1);
}

void
write_all (int         fd,
           const void *data,
           gsize       len)
{
  const guint8 *p = data;

  while (len > 0)
    {
      ssize_t n = write (fd, p, len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        die ("write: %s", g_strerror (errno));
      p += n;
      len -= n;
    }
}

long
proc_status_kib (const char *field)
{
  g_autofree char *contents = NULL;
  const char *line;

  if (!g_file_get_contents ("/proc/self/status", &contents, NULL, NULL))
    return -1;
  line = strstr (contents, field);
  if (line == NULL)
    return -1;
  return strtol (line + strlen (field) + 1, NULL, 10);
}

GBytes *
make_payload (gsize size)
{
  guint8 *data = g_malloc (size);

  /* Not zeros: a zero page could be shared, and nobody sends zeros. */
  for (gsize i = 0; i < size; i++)
    data[i] = (guint8) (i * 31 + 7);
  return g_bytes_new_take (data, size);
}

int
compare_double (gconstpointer a,
                gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return (x > y) - (x < y);
}

void
reset_peak_rss (void)
{
  int fd = open ("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);

  if (fd >= 0)
    {
      if (write (fd, "5", 1) < 0)
        { /* not allowed: the fork-time mark stands */ }
      close (fd);
    }
}

/* ------------------------------------------------------------------ */
/* The contenders                                                      */

static const Contender contenders[] = {
  { "sw-sync", TRUE, sw_sync_sender, sw_sync_receiver, sw_sync_client, sw_sync_server, NULL },
  { "sw-sync-exact", TRUE, sw_sync_sender, sw_exact_receiver, sw_exact_client, sw_exact_server,
    "both ends read-ahead off" },
  { "sw-async", TRUE, sw_async_sender, sw_async_receiver, sw_async_client, sw_async_server, NULL },
  { "sw-signal", TRUE, sw_sync_sender, sw_signal_receiver, NULL, NULL,
    "receive loop (::message); a ping-pong is sw-async" },
  { "sw-batch", TRUE, sw_batch_sender, sw_sync_receiver, NULL, NULL,
    "batching needs a queue; a ping-pong is sw-sync" },
  { "sw-batch-recv", TRUE, sw_batch_sender, sw_batch_receiver, NULL, NULL,
    "send_messages + receive_messages; a ping-pong is sw-sync" },
  { "sw-memfd", TRUE, sw_memfd_sender, sw_memfd_receiver, NULL, NULL,
    "messages of 64 KiB and more as memfds; a 64 B ping-pong is sw-sync" },
  { "raw-exact", FALSE, raw_sender, raw_exact_receiver, raw_exact_client, raw_exact_server, NULL },
  { "raw-buffered", FALSE, raw_sender, raw_buffered_receiver, raw_buffered_client,
    raw_buffered_server, NULL },
  { "gdbus-p2p", FALSE, gdbus_sender, gdbus_receiver, gdbus_client, gdbus_server,
    "Ping signal, Pong signal back" },
  { "python-mp", FALSE, python_sender, python_receiver, python_client, python_server,
    "both ends Python" },
#ifdef SW_BENCH_HAVE_ZMQ
  { "zmq-pair", FALSE, zmq_sender, zmq_receiver, zmq_client, zmq_server, "ipc:// endpoint", TRUE },
#endif
};
#define N_CONTENDERS G_N_ELEMENTS (contenders)

static gboolean enabled[N_CONTENDERS];

static int
contender_index (const char *name)
{
  for (gsize i = 0; i < N_CONTENDERS; i++)
    if (strcmp (contenders[i].name, name) == 0)
      return (int) i;
  return -1;
}

/* ------------------------------------------------------------------ */
/* Parent: forking, pinning, collecting                                */

static void
pin_to (int cpu)
{
  cpu_set_t set;

  CPU_ZERO (&set);
  CPU_SET (cpu, &set);
  if (sched_setaffinity (0, sizeof set, &set) < 0)
    die ("sched_setaffinity(%d): %s", cpu, g_strerror (errno));
}

typedef struct
{
  pid_t pid;
  int   report_fd;
  int   go_fd;
} Child;

static Child
spawn (ChildFunc  func,
       Job       *job,
       int        cpu,
       const int  close_fds[2])
{
  int report_pipe[2], go_pipe[2];
  Child child = { -1, -1, -1 };

  if (pipe2 (report_pipe, O_CLOEXEC) < 0 || pipe2 (go_pipe, O_CLOEXEC) < 0)
    die ("pipe2: %s", g_strerror (errno));
  fflush (stdout);
  fflush (stderr);
  child.pid = fork ();
  if (child.pid < 0)
    die ("fork: %s", g_strerror (errno));
  if (child.pid == 0)
    {
      close (report_pipe[0]);
      close (go_pipe[1]);
      /* The other end of the socketpair belongs to the peer process:
       * keeping a copy would hide its EOF. */
      close (close_fds[0] == job->fd ? close_fds[1] : close_fds[0]);
      if (cpu >= 0)
        pin_to (cpu);
      /* Raw writers get EPIPE instead of dying silently when a peer fails. */
      signal (SIGPIPE, SIG_IGN);
      job->report_fd = report_pipe[1];
      job->go_fd = go_pipe[0];
      func (job);
      _exit (0);
    }
  close (report_pipe[1]);
  close (go_pipe[0]);
  child.report_fd = report_pipe[0];
  child.go_fd = go_pipe[1];
  return child;
}

gboolean
read_line (int   fd,
           char *buf,
           gsize size)
{
  gsize n = 0;

  while (n + 1 < size)
    {
      struct pollfd pfd = { fd, POLLIN, 0 };
      ssize_t r;

      if (poll (&pfd, 1, CHILD_TIMEOUT_MS) <= 0)
        return FALSE;
      r = read (fd, buf + n, 1);
      if (r < 0 && errno == EINTR)
        continue;
      if (r <= 0)
        return FALSE;
      if (buf[n] == '\n')
        break;
      n++;
    }
  buf[n] = '\0';
  return TRUE;
}

static gboolean
reap (Child *child,
      gboolean kill_it)
{
  int status;

  if (child->pid <= 0)
    return TRUE;
  if (kill_it)
    kill (child->pid, SIGKILL);
  while (waitpid (child->pid, &status, 0) < 0 && errno == EINTR)
    ;
  close (child->report_fd);
  close (child->go_fd);
  child->pid = -1;
  return WIFEXITED (status) && WEXITSTATUS (status) == 0;
}

typedef struct
{
  double seconds;     /* throughput: elapsed */
  double p50, p99;    /* latency: microseconds */
  long   peak;        /* memory: bytes of peak RSS growth */
} Outcome;

/* Runs one pair of children: `a` is the sender/client, `b` the receiver or
 * server.  Fills *out and returns TRUE when both succeeded. */
static gboolean
run_pair (const Contender *c,
          gboolean         latency,
          gsize            size,
          guint64          count,
          double           budget,
          gboolean         memory,
          Outcome         *out)
{
  static guint serial;
  int fds[2];
  Job ja = { 0 }, jb = { 0 };
  Child a = { -1, -1, -1 }, b;
  char line[256], endpoint[128];
  int cpu_a = -1, cpu_b = -1;
  gboolean ok = FALSE;

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0)
    die ("socketpair: %s", g_strerror (errno));
  g_snprintf (endpoint, sizeof endpoint, "ipc:///tmp/sw-bench-%d-%u", (int) getpid (), serial++);
  if (placement == PLACE_SAME)
    cpu_a = cpu_b = 0;
  else if (placement == PLACE_TWO)
    {
      cpu_a = 0;
      cpu_b = 1;
    }

  ja.role = latency ? ROLE_PING : ROLE_SEND;
  jb.role = latency ? ROLE_PONG : ROLE_RECV;
  ja.fd = fds[0];
  jb.fd = fds[1];
  ja.size = jb.size = latency ? LATENCY_SIZE : size;
  ja.count = jb.count = count;
  ja.budget = jb.budget = budget;
  jb.memory = memory;
  ja.endpoint = jb.endpoint = endpoint;

  /* Usually both set up at once (a GDBus handshake needs both ends); a
   * ZeroMQ PAIR does not reconnect, so there the receiver binds first. */
  b = spawn (latency ? c->server : c->receiver, &jb, cpu_b, fds);
  if (!c->receiver_first
      || (read_line (b.report_fd, line, sizeof line) && line[0] == 'R'))
    a = spawn (latency ? c->client : c->sender, &ja, cpu_a, fds);
  close (fds[0]);
  close (fds[1]);

  if (a.pid > 0
      && (c->receiver_first
          || (read_line (b.report_fd, line, sizeof line) && line[0] == 'R'))
      && read_line (a.report_fd, line, sizeof line) && line[0] == 'R')
    {
      write_all (b.go_fd, "g", 1);
      write_all (a.go_fd, "g", 1);
      if (latency)
        ok = read_line (a.report_fd, line, sizeof line)
             && sscanf (line, "L %lf %lf", &out->p50, &out->p99) == 2;
      else
        {
          double t0, t1;
          long dummy;

          ok = read_line (a.report_fd, line, sizeof line)
               && sscanf (line, "T %lf %ld", &t0, &dummy) == 2
               && read_line (b.report_fd, line, sizeof line)
               && sscanf (line, "T %lf %ld", &t1, &out->peak) == 2;
          if (ok)
            out->seconds = t1 - t0;
        }
    }
  /* A latency server only ends when its client is gone. */
  ok = reap (&a, !ok) && ok;
  ok = reap (&b, !ok) && ok;
#ifdef SW_BENCH_HAVE_ZMQ
  unlink (endpoint + strlen ("ipc://"));
#endif
  if (!ok)
    fprintf (stderr, "sw-bench: %s %s %" G_GSIZE_FORMAT " B failed\n",
             c->name, latency ? "latency" : "throughput", size);
  return ok;
}

/* ------------------------------------------------------------------ */
/* Memory per idle connection (in a fresh child, so the parent's heap  */
/* and the GLib type system's one-time set-up do not count)            */

static int
count_open_fds (void)
{
  GDir *dir = g_dir_open ("/proc/self/fd", 0, NULL);
  int n = 0;

  if (dir == NULL)
    return 0;
  while (g_dir_read_name (dir) != NULL)
    n++;
  g_dir_close (dir);
  return n;
}

/* One message each way, so both ends have done what a used connection has. */
static void
exchange (SwConnection **pair,
          GBytes        *message)
{
  GError *error = NULL;

  for (int dir = 0; dir < 2; dir++)
    {
      GBytes *got;

      if (!sw_connection_send_message (pair[dir], message, -1, NULL, &error))
        die ("idle send: %s", error->message);
      got = sw_connection_receive_message (pair[1 - dir], -1, NULL, &error);
      if (got == NULL)
        die ("idle receive: %s", error->message);
      g_bytes_unref (got);
    }
}

static void
idle_memory_child (int      report_fd,
                   gboolean exchange_messages)
{
  struct rlimit lim;
  GError *error = NULL;
  SwConnection **ends;
  GBytes *ping = make_payload (16);
  SwConnection *probe[2];
  long before = 0, after, data_before = 0, data_after;
  int fds_before, fds_per_pair;
  gsize n;

  getrlimit (RLIMIT_NOFILE, &lim);
  lim.rlim_cur = lim.rlim_max;
  setrlimit (RLIMIT_NOFILE, &lim);
  /* A pair needs two fds, plus whatever the library opens per connection
   * (its close cancellable's eventfd, once a sync call has run): count
   * them on a probe pair, or running out of fds aborts inside GLib. */
  fds_before = count_open_fds ();
  if (!sw_socketpair (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, sw_framing_get_default (),
                      &probe[0], &probe[1], &error))
    die ("sw_socketpair: %s", error->message);
  exchange (probe, ping);
  fds_per_pair = MAX (2, count_open_fds () - fds_before);
  g_object_unref (probe[0]);
  g_object_unref (probe[1]);
  n = (gsize) MIN ((rlim_t) 10000, (lim.rlim_cur - 64) / fds_per_pair);
  ends = g_new0 (SwConnection *, 2 * n + 2);

  /* One pair first, so class initialisation and the first GBytes, mutex
   * and error-quark allocations happen before the baseline. */
  for (gsize i = 0; i <= n; i++)
    {
      SwConnection **pair = &ends[2 * i];

      if (i == 1)
        {
          before = proc_status_kib ("VmRSS:");
          data_before = proc_status_kib ("VmData:");
        }
      if (!sw_socketpair (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, sw_framing_get_default (),
                          &pair[0], &pair[1], &error))
        die ("sw_socketpair #%" G_GSIZE_FORMAT ": %s", i, error->message);
      if (exchange_messages)
        exchange (pair, ping);
    }
  after = proc_status_kib ("VmRSS:");
  data_after = proc_status_kib ("VmData:");
  {
    char line[128];

    g_snprintf (line, sizeof line, "%" G_GSIZE_FORMAT " %ld %lu %d %ld\n", n,
                (after - before) * 1024, (unsigned long) lim.rlim_cur, fds_per_pair,
                (data_after - data_before) * 1024);
    write_all (report_fd, line, strlen (line));
  }
  for (gsize i = 0; i < 2 * n + 2; i++)
    g_object_unref (ends[i]);
  g_free (ends);
  g_bytes_unref (ping);
}

pid_t
fork_reporting (void    (*func) (int      report_fd,
                                 gpointer data),
                gpointer  data,
                int      *report_fd)
{
  int p[2];
  pid_t pid;

  if (pipe2 (p, O_CLOEXEC) < 0)
    die ("pipe2: %s", g_strerror (errno));
  fflush (stdout);
  pid = fork ();
  if (pid < 0)
    die ("fork: %s", g_strerror (errno));
  if (pid == 0)
    {
      close (p[0]);
      func (p[1], data);
      _exit (0);
    }
  close (p[1]);
  *report_fd = p[0];
  return pid;
}

static void
idle_memory_exchanging (int      report_fd,
                        gpointer data)
{
  idle_memory_child (report_fd, TRUE);
}

static void
idle_memory_unused (int      report_fd,
                    gpointer data)
{
  idle_memory_child (report_fd, FALSE);
}

static gboolean
measure_idle (gboolean       exchange_messages,
              gsize         *n,
              long          *bytes,
              unsigned long *limit,
              int           *fds_per_pair,
              long          *data_bytes)
{
  int report_fd;
  pid_t pid = fork_reporting (exchange_messages ? idle_memory_exchanging : idle_memory_unused,
                              NULL, &report_fd);
  char line[128];
  int status;
  gboolean ok;

  ok = read_line (report_fd, line, sizeof line)
       && sscanf (line, "%" G_GSIZE_FORMAT " %ld %lu %d %ld", n, bytes, limit, fds_per_pair,
                  data_bytes) == 5;
  close (report_fd);
  waitpid (pid, &status, 0);
  return ok && WIFEXITED (status) && WEXITSTATUS (status) == 0;
}

/* ------------------------------------------------------------------ */
/* Reporting                                                           */

double
median (double *v,
        gsize   n)
{
  gsize m = 0;

  /* Failed runs are NaN and left out. */
  for (gsize i = 0; i < n; i++)
    if (!isnan (v[i]))
      v[m++] = v[i];
  if (m == 0)
    return NAN;
  qsort (v, m, sizeof (double), compare_double);
  return m % 2 ? v[m / 2] : (v[m / 2 - 1] + v[m / 2]) / 2;
}

const char *
size_label (gsize size)
{
  static char buf[N_SIZES][16];
  static guint next;
  char *s = buf[next++ % N_SIZES];

  if (size >= 1024 * 1024 && size % (1024 * 1024) == 0)
    g_snprintf (s, 16, "%" G_GSIZE_FORMAT " MiB", size / (1024 * 1024));
  else if (size >= 1024 && size % 1024 == 0)
    g_snprintf (s, 16, "%" G_GSIZE_FORMAT " KiB", size / 1024);
  else
    g_snprintf (s, 16, "%" G_GSIZE_FORMAT " B", size);
  return s;
}

static const char *
fmt_rate (double v)
{
  static char buf[8][32];
  static guint next;
  char *s = buf[next++ % 8];

  if (isnan (v))
    return "fail";
  if (v >= 1e6)
    g_snprintf (s, 32, "%.2f M", v / 1e6);
  else if (v >= 1e3)
    g_snprintf (s, 32, "%.1f k", v / 1e3);
  else
    g_snprintf (s, 32, "%.0f", v);
  return s;
}

#define SHMEM_ENABLED_PATH "/sys/kernel/mm/transparent_hugepage/shmem_enabled"

/* The selected word of a sysfs choice file ("always [never] ..."), or
 * "?" when the file cannot be read or names no choice. */
static char *
read_sysfs_choice (const char *path)
{
  g_autofree char *text = NULL;
  const char *open_bracket;
  const char *close_bracket;

  if (!g_file_get_contents (path, &text, NULL, NULL)
      || (open_bracket = strchr (text, '[')) == NULL
      || (close_bracket = strchr (open_bracket, ']')) == NULL)
    return g_strdup ("?");
  return g_strndup (open_bracket + 1, close_bracket - open_bracket - 1);
}

static void
print_header (void)
{
  struct utsname u;
  g_autofree char *cpuinfo = NULL;
  char *model = NULL;
  g_autofree char *shmem_enabled = NULL;

  uname (&u);
  if (g_file_get_contents ("/proc/cpuinfo", &cpuinfo, NULL, NULL))
    {
      char *line = strstr (cpuinfo, "model name");

      if (line != NULL && strchr (line, ':') != NULL)
        {
          model = g_strstrip (g_strndup (strchr (line, ':') + 1,
                                         strcspn (strchr (line, ':') + 1, "\n")));
        }
    }
  printf ("# sw-bench\n\n");
  printf ("- socketwrapper %s, GLib %u.%u.%u, %s %s, %d CPUs online, %s\n",
          SW_VERSION_S, glib_major_version, glib_minor_version, glib_micro_version,
          u.sysname, u.release, (int) sysconf (_SC_NPROCESSORS_ONLN), model ? model : "?");
  printf ("- mode: %s; CPU placement: %s; median of %d interleaved runs, ~%.2f s per cell\n",
          opt_quick ? "--quick" : "full",
          placement == PLACE_SAME ? "same (sender and receiver pinned to CPU 0)"
          : placement == PLACE_TWO ? "two (sender on CPU 0, receiver on CPU 1)"
          : "unpinned (scheduler's choice)",
          opt_runs, opt_cell_time);
  printf ("- two processes (fork) over a UNIX stream socketpair; time = receiver's "
          "CLOCK_MONOTONIC after the last message - sender's before the first "
          "(set-up, handshakes and Python start-up excluded; python-mp reads the same "
          "clock inside Python). Every receiver, raw ones included, delivers each "
          "message in its own heap buffer. MB = 10^6 bytes.\n");
  /* sw-memfd's speed depends on it: with never, the kernel's internal
   * shmem mount (and so every memfd) allocates 4 KiB pages one at a time. */
  shmem_enabled = read_sysfs_choice (SHMEM_ENABLED_PATH);
  printf ("- memfd large pages (" SHMEM_ENABLED_PATH "): %s\n\n", shmem_enabled);
  g_free (model);
}

static void
print_throughput (double rates[N_CONTENDERS][N_SIZES])
{
  printf ("## Throughput: messages/s · MB/s\n\n| contender |");
  FOR_SIZES (s)
    printf (" %s |", size_label (sizes[s]));
  printf ("\n|---|");
  FOR_SIZES (s)
    printf ("---:|");
  printf ("\n");
  for (gsize i = 0; i < N_CONTENDERS; i++)
    {
      if (!enabled[i])
        continue;
      printf ("| %s |", contenders[i].name);
      FOR_SIZES (s)
        {
          if (isnan (rates[i][s]))
            printf (" fail |");
          else
            printf (" %s · %.1f |", fmt_rate (rates[i][s]), rates[i][s] * sizes[s] / 1e6);
        }
      printf ("\n");
    }
  printf ("\n");
}

static void
print_ratio_row (const char *label,
                 double      num[N_SIZES],
                 double      den[N_SIZES])
{
  printf ("| %s |", label);
  FOR_SIZES (s)
    {
      if (isnan (num[s]) || isnan (den[s]) || den[s] <= 0)
        printf (" – |");
      else
        printf (" %.2f× |", num[s] / den[s]);
    }
  printf ("\n");
}

static void
print_ratios (double rates[N_CONTENDERS][N_SIZES])
{
  int ref = contender_index ("raw-buffered");

  if (!enabled[ref])
    return;
  printf ("## Sw rows ÷ raw-buffered (ratio of median messages/s)\n\n| contender |");
  FOR_SIZES (s)
    printf (" %s |", size_label (sizes[s]));
  printf ("\n|---|");
  FOR_SIZES (s)
    printf ("---:|");
  printf ("\n");
  for (gsize i = 0; i < N_CONTENDERS; i++)
    if (enabled[i] && contenders[i].sw)
      print_ratio_row (contenders[i].name, rates[i], rates[ref]);
  {
    int exact = contender_index ("sw-sync-exact"), raw_exact = contender_index ("raw-exact");

    if (enabled[exact] && enabled[raw_exact])
      print_ratio_row ("sw-sync-exact ÷ raw-exact", rates[exact], rates[raw_exact]);
  }
  printf ("\n");
}

/* The performance targets, checked from the medians above. */
static void
print_targets (double        rates[N_CONTENDERS][N_SIZES],
               double        p50_same[N_CONTENDERS],
               gboolean      have_same,
               long          idle_bytes,
               const double  big_rates[2],
               long          memfd_peak)
{
  int memfd = contender_index ("sw-memfd");
  int sync = contender_index ("sw-sync"), exact = contender_index ("sw-sync-exact");
  int async = contender_index ("sw-async"), batch = contender_index ("sw-batch");
  int batch_recv = contender_index ("sw-batch-recv");
  int rb = contender_index ("raw-buffered"), re = contender_index ("raw-exact");
  int gd = contender_index ("gdbus-p2p"), py = contender_index ("python-mp");
  GString *out = g_string_new (NULL);
  guint misses = 0;

#define CHECK(cond, ...) G_STMT_START {                                   \
    char *what_ = g_strdup_printf (__VA_ARGS__);                          \
    if (!(cond)) misses++;                                                \
    g_string_append_printf (out, "- %s %s\n", (cond) ? "ok  " : "MISS", what_); \
    g_free (what_);                                                       \
  } G_STMT_END

  FOR_SIZES (s)
    {
      double want = sizes[s] >= 1024 * 1024 ? 0.95 : 0.9;

      if (enabled[sync] && enabled[rb])
        CHECK (rates[sync][s] >= want * rates[rb][s], "sw-sync %s: %.2f× raw-buffered (≥ %.2f)",
               size_label (sizes[s]), rates[sync][s] / rates[rb][s], want);
      if (enabled[exact] && enabled[re])
        CHECK (rates[exact][s] >= 0.9 * rates[re][s], "sw-sync-exact %s: %.2f× raw-exact (≥ 0.9)",
               size_label (sizes[s]), rates[exact][s] / rates[re][s]);
      if (enabled[async] && enabled[rb])
        CHECK (rates[async][s] >= 0.5 * rates[rb][s], "sw-async %s: %.2f× raw-buffered (≥ 0.5)",
               size_label (sizes[s]), rates[async][s] / rates[rb][s]);
    }
  if (enabled[batch] && enabled[rb] && size_on[0])
    CHECK (rates[batch][0] >= 5 * rates[rb][0], "sw-batch 16 B: %.2f× raw-buffered (≥ 5)",
           rates[batch][0] / rates[rb][0]);
  if (enabled[batch_recv] && enabled[rb] && size_on[0])
    CHECK (rates[batch_recv][0] >= 5 * rates[rb][0],
           "sw-batch-recv 16 B: %.2f× raw-buffered (≥ 5)",
           rates[batch_recv][0] / rates[rb][0]);
  for (gsize i = 0; i < N_CONTENDERS; i++)
    {
      if (!enabled[i] || !contenders[i].sw)
        continue;
      FOR_SIZES (s)
        {
          if (enabled[gd] && sizes[s] <= 4096)
            CHECK (rates[i][s] >= 10 * rates[gd][s], "%s %s: %.1f× gdbus-p2p (≥ 10)",
                   contenders[i].name, size_label (sizes[s]), rates[i][s] / rates[gd][s]);
          if (enabled[py])
            CHECK (rates[i][s] >= 2 * rates[py][s], "%s %s: %.1f× python-mp (≥ 2)",
                   contenders[i].name, size_label (sizes[s]), rates[i][s] / rates[py][s]);
        }
    }
  if (have_same && enabled[sync] && enabled[rb])
    CHECK (p50_same[sync] <= 1.2 * p50_same[rb],
           "sw-sync 64 B round trip p50 on one CPU: %.2f× raw-buffered (≤ 1.2)",
           p50_same[sync] / p50_same[rb]);
  if (idle_bytes >= 0)
    CHECK (idle_bytes <= 2048, "idle connection: %ld B (≤ 2048)", idle_bytes);
  FOR_SIZES (s)
    if (sizes[s] == 1024 * 1024 && enabled[memfd] && enabled[rb])
      CHECK (rates[memfd][s] >= 2 * rates[rb][s], "sw-memfd 1 MiB: %.2f× raw-buffered (≥ 2)",
             rates[memfd][s] / rates[rb][s]);
  if (!isnan (big_rates[0]) && !isnan (big_rates[1]))
    CHECK (big_rates[0] >= 2 * big_rates[1], "sw-memfd %d MiB: %.2f× raw-buffered (≥ 2)",
           BIG_MESSAGE / (1024 * 1024), big_rates[0] / big_rates[1]);
  if (memfd_peak >= 0)
    CHECK (memfd_peak <= BIG_MESSAGE, "sw-memfd receiving %d MiB: peak %.2f× the message (≤ 1.0)",
           BIG_MESSAGE / (1024 * 1024), (double) memfd_peak / BIG_MESSAGE);
#undef CHECK

  printf ("## Targets (%u missed)\n\n%s\n", misses, out->str);
  g_string_free (out, TRUE);
}

/* ------------------------------------------------------------------ */

/* Messages of BIG_MESSAGE bytes per second for sw-memfd and raw-buffered
 * (NAN when disabled or failed): median of opt_runs interleaved runs of
 * @count messages each. */
static gboolean
measure_big_rates (guint64 count,
                   double  big_rates[2])
{
  static const char * const names[2] = { "sw-memfd", "raw-buffered" };
  double samples[2][64];
  gboolean ok = TRUE;

  for (int r = 0; r < opt_runs; r++)
    for (int k = 0; k < 2; k++)
      {
        int i = contender_index (names[k]);
        Outcome o;

        samples[k][r] = NAN;
        if (!enabled[i])
          continue;
        if (run_pair (&contenders[i], FALSE, BIG_MESSAGE, count, 0, FALSE, &o) && o.seconds > 0)
          samples[k][r] = count / o.seconds;
        else
          ok = FALSE;
      }
  printf ("## %d MiB messages: messages/s · MB/s (median of %d runs of %" G_GUINT64_FORMAT
          " messages)\n\n| contender | %d MiB |\n|---|---:|\n",
          BIG_MESSAGE / (1024 * 1024), opt_runs, count, BIG_MESSAGE / (1024 * 1024));
  for (int k = 0; k < 2; k++)
    {
      big_rates[k] = median (samples[k], opt_runs);
      if (!isnan (big_rates[k]))
        printf ("| %s | %.1f · %.1f |\n", names[k], big_rates[k],
                big_rates[k] * BIG_MESSAGE / 1e6);
    }
  printf ("\n");
  return ok;
}

static guint64
initial_count (gsize size)
{
  /* Small enough for the slowest contender (GDBus, Python) to finish a
   * calibration run in tens of milliseconds. */
  return CLAMP ((guint64) (16 * 1024 * 1024) / size, 8, 4000);
}

int
main (int   argc,
      char *argv[])
{
  GOptionEntry entries[] = {
    { "quick", 0, 0, G_OPTION_ARG_NONE, &opt_quick, "Short cells (under a minute in all)", NULL },
    { "cpus", 0, 0, G_OPTION_ARG_STRING, &opt_cpus,
      "CPU placement: same (both on CPU 0) or two (sender 0, receiver 1); default unpinned",
      "same|two" },
    { "runs", 0, 0, G_OPTION_ARG_INT, &opt_runs, "Runs per cell (median; at least 3)", "N" },
    { "cell-time", 0, 0, G_OPTION_ARG_DOUBLE, &opt_cell_time, "Seconds per cell", "S" },
    { "sizes", 0, 0, G_OPTION_ARG_STRING, &opt_sizes,
      "Comma-separated payload sizes in bytes to run (of 16,256,4096,65536,1048576)", "LIST" },
    { "only", 0, 0, G_OPTION_ARG_STRING, &opt_only, "Comma-separated contenders to run", "LIST" },
    { "no-memory", 0, 0, G_OPTION_ARG_NONE, &opt_no_memory, "Skip the memory section", NULL },
    { "section", 0, 0, G_OPTION_ARG_STRING, &opt_section,
      "Comma-separated sections to run: transport (throughput, round trip, memory), "
      "codec (decode speed and memory per codec), scale (one busy connection among "
      "1 to 10 000 in one main context); default all three", "LIST" },
    { "scale-rows", 0, 0, G_OPTION_ARG_STRING, &opt_scale_rows,
      "Rows of the scale section: sw, glib (the pure-GLib baseline) or both", "LIST" },
    { "connections", 0, 0, G_OPTION_ARG_STRING, &opt_connections,
      "Numbers of connections the scale section runs (of 1,100,1000,10000)", "LIST" },
    { "python-script", 0, 0, G_OPTION_ARG_FILENAME, &opt_python_script,
      "The multiprocessing peer script", "PATH" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("- socketwrapper benchmark");
  GError *error = NULL;
  static double rates[N_CONTENDERS][N_SIZES];
  static double samples[N_CONTENDERS][N_SIZES][64];
  static double lat[2][N_CONTENDERS][2][64];
  double lat_med[2][N_CONTENDERS][2];
  guint64 counts[N_CONTENDERS][N_SIZES];
  gboolean failed = FALSE, two_placements, run_transport = TRUE, run_codec = TRUE;
  gboolean run_scale = TRUE;
  Placement chosen;
  long idle_bytes = -1;
  /* sw-memfd at BIG_MESSAGE: the rates of it and raw-buffered, and the
   * receiver's peak memory (-1: not measured). */
  double big_rates[2] = { NAN, NAN };
  long memfd_peak = -1;

  /* meson test exports MALLOC_PERTURB_ (glibc then fills every block on
   * malloc and free) and the test setups set G_DEBUG=gc-friendly and
   * G_SLICE=always-malloc: right for catching bugs, wrong for timing, and
   * only read at start-up, so start again without them. */
  if ((g_getenv ("MALLOC_PERTURB_") != NULL && strcmp (g_getenv ("MALLOC_PERTURB_"), "0") != 0)
      || g_getenv ("G_DEBUG") != NULL || g_getenv ("G_SLICE") != NULL)
    {
      g_unsetenv ("MALLOC_PERTURB_");
      g_unsetenv ("G_DEBUG");
      g_unsetenv ("G_SLICE");
      execv ("/proc/self/exe", argv);
      fprintf (stderr, "sw-bench: re-exec failed (%s); timings include debug settings\n",
               g_strerror (errno));
    }

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      fprintf (stderr, "sw-bench: %s\n", error->message);
      return 2;
    }
  if (opt_section != NULL)
    {
      g_auto(GStrv) names = g_strsplit (opt_section, ",", -1);

      run_transport = g_strv_contains ((const char * const *) names, "transport");
      run_codec = g_strv_contains ((const char * const *) names, "codec");
      run_scale = g_strv_contains ((const char * const *) names, "scale");
      if (g_strv_length (names) != (guint) run_transport + (guint) run_codec + (guint) run_scale)
        {
          fprintf (stderr, "sw-bench: --section takes transport, codec and scale\n");
          return 2;
        }
    }
  if (opt_cpus == NULL)
    placement = PLACE_FREE;
  else if (strcmp (opt_cpus, "same") == 0)
    placement = PLACE_SAME;
  else if (strcmp (opt_cpus, "two") == 0)
    placement = PLACE_TWO;
  else
    {
      fprintf (stderr, "sw-bench: --cpus must be same or two\n");
      return 2;
    }
  if (placement == PLACE_TWO && sysconf (_SC_NPROCESSORS_ONLN) < 2)
    {
      fprintf (stderr, "sw-bench: --cpus=two needs two CPUs\n");
      return 2;
    }
  if (opt_runs == 0)
    opt_runs = opt_quick ? 3 : 5;
  opt_runs = CLAMP (opt_runs, 3, 64);
  if (opt_cell_time <= 0)
    opt_cell_time = opt_quick ? 0.08 : 0.4;
  if (opt_python_script == NULL)
    opt_python_script = g_strdup (g_getenv ("SW_BENCH_PYTHON_SCRIPT"));
  if (opt_python_script == NULL)
    opt_python_script = g_build_filename (SW_BENCH_SRCDIR, "sw_bench_mp.py", NULL);

  if (opt_sizes != NULL)
    {
      g_auto(GStrv) list = g_strsplit (opt_sizes, ",", -1);

      for (gsize k = 0; k < N_SIZES; k++)
        {
          char label[32];

          g_snprintf (label, sizeof label, "%" G_GSIZE_FORMAT, sizes[k]);
          size_on[k] = g_strv_contains ((const char * const *) list, label);
        }
    }
  for (gsize i = 0; i < N_CONTENDERS; i++)
    {
      enabled[i] = TRUE;
      if (opt_only != NULL)
        {
          g_auto(GStrv) names = g_strsplit (opt_only, ",", -1);

          enabled[i] = g_strv_contains ((const char * const *) names, contenders[i].name);
        }
    }
  if (!g_file_test (PYTHON, G_FILE_TEST_IS_EXECUTABLE)
      || !g_file_test (opt_python_script, G_FILE_TEST_EXISTS))
    {
      fprintf (stderr, "sw-bench: no %s or %s: python-mp skipped\n", PYTHON, opt_python_script);
      enabled[contender_index ("python-mp")] = FALSE;
    }

  /* Let the library do its one-time set-up (SIGPIPE, types) in the parent
   * so no child pays for it inside a timed region. */
  g_type_ensure (SW_TYPE_CONNECTION);
  (void) sw_framing_get_default ();

  print_header ();
  fflush (stdout);
  if (!run_transport)
    goto codec;

  /* Calibration, which doubles as warm-up: one short run per cell gives a
   * rate, and every measured run then sends rate × cell-time messages. */
  fprintf (stderr, "sw-bench: calibrating");
  FOR_SIZES (s)
    for (gsize i = 0; i < N_CONTENDERS; i++)
      {
        Outcome o;
        guint64 n = initial_count (sizes[s]);

        counts[i][s] = n;
        if (!enabled[i])
          continue;
        if (run_pair (&contenders[i], FALSE, sizes[s], n, 0, FALSE, &o) && o.seconds > 0)
          counts[i][s] = CLAMP ((guint64) (n / o.seconds * opt_cell_time), 4, 50000000);
        fputc ('.', stderr);
      }
  fprintf (stderr, "\nsw-bench: measuring");

  /* Interleaved: each run visits every contender at every size, so drift
   * (thermal, other load) spreads over all rows instead of one. */
  chosen = placement;
  two_placements = placement != PLACE_SAME;
  for (int r = 0; r < opt_runs; r++)
    {
      FOR_SIZES (s)
        for (gsize i = 0; i < N_CONTENDERS; i++)
          {
            Outcome o;

            samples[i][s][r] = NAN;
            if (!enabled[i])
              continue;
            if (run_pair (&contenders[i], FALSE, sizes[s], counts[i][s], 0, FALSE, &o)
                && o.seconds > 0)
              samples[i][s][r] = counts[i][s] / o.seconds;
            else
              failed = TRUE;
          }
      /* Round trips at the chosen placement and, as the latency target is
       * about one CPU, pinned to CPU 0 as well. */
      for (int p = 0; p < (two_placements ? 2 : 1); p++)
        {
          placement = p == 0 ? chosen : PLACE_SAME;
          for (gsize i = 0; i < N_CONTENDERS; i++)
            {
              Outcome o;

              lat[p][i][0][r] = lat[p][i][1][r] = NAN;
              if (!enabled[i] || contenders[i].client == NULL)
                continue;
              if (run_pair (&contenders[i], TRUE, LATENCY_SIZE, 0, opt_cell_time, FALSE, &o))
                {
                  lat[p][i][0][r] = o.p50;
                  lat[p][i][1][r] = o.p99;
                }
              else
                failed = TRUE;
            }
        }
      placement = chosen;
      fputc ('.', stderr);
    }
  fprintf (stderr, "\n");

  for (gsize i = 0; i < N_CONTENDERS; i++)
    {
      for (gsize s = 0; s < N_SIZES; s++)
        rates[i][s] = median (samples[i][s], opt_runs);
      for (int p = 0; p < 2; p++)
        for (int q = 0; q < 2; q++)
          lat_med[p][i][q] = median (lat[p][i][q], opt_runs);
    }

  print_throughput (rates);
  print_ratios (rates);

  printf ("## Round trip, %d-byte ping-pong (µs)\n\n", LATENCY_SIZE);
  if (two_placements)
    printf ("| contender | p50 | p99 | p50 one CPU | p99 one CPU | note |\n"
            "|---|---:|---:|---:|---:|---|\n");
  else
    printf ("| contender | p50 one CPU | p99 one CPU | note |\n|---|---:|---:|---|\n");
  for (gsize i = 0; i < N_CONTENDERS; i++)
    {
      const char *note = contenders[i].latency_note ? contenders[i].latency_note : "";

      if (!enabled[i])
        continue;
      printf ("| %s |", contenders[i].name);
      for (int p = 0; p < (two_placements ? 2 : 1); p++)
        {
          if (contenders[i].client == NULL)
            printf (" – | – |");
          else
            printf (" %.1f | %.1f |", lat_med[p][i][0], lat_med[p][i][1]);
        }
      printf (" %s |\n", note);
    }
  printf ("\n");

  if (!opt_no_memory)
    {
      gsize n = 0;
      long bytes = 0;
      unsigned long limit = 0;
      int fds_per_pair = 0, fds_unused = 0;
      gsize n_unused = 0;
      long bytes_unused = 0, data = 0, data_unused = 0;
      static const char * const big[] = { "sw-sync", "sw-sync-exact", "sw-async", "sw-memfd",
                                          "raw-buffered" };

      printf ("## Memory\n\n");
      if (measure_idle (TRUE, &n, &bytes, &limit, &fds_per_pair, &data))
        {
          idle_bytes = bytes / (long) (2 * n);
          printf ("- idle connections: N = %" G_GSIZE_FORMAT " connected sw_socketpair pairs "
                  "(RLIMIT_NOFILE raised to %lu; N = min(10000, (limit - 64) / fds per pair), "
                  "%d fds per pair after one sync message each way), one message each way: "
                  "VmRSS +%.1f MiB = **%ld B per connection** (%ld B per pair; user space "
                  "only, kernel socket buffers not counted)\n",
                  n, limit, fds_per_pair, bytes / 1048576.0, idle_bytes, bytes / (long) n);
          printf ("  - VmData (address space, touched or not) grew %ld B per connection\n",
                  data / (long) (2 * n));
          /* For the breakdown: the same without any message. */
          if (measure_idle (FALSE, &n_unused, &bytes_unused, &limit, &fds_unused, &data_unused))
            printf ("  - for comparison, %" G_GSIZE_FORMAT " pairs never used: %ld B RSS, "
                    "%ld B VmData per connection\n", n_unused,
                    bytes_unused / (long) (2 * n_unused), data_unused / (long) (2 * n_unused));
        }
      else
        {
          printf ("- idle connections: failed\n");
          failed = TRUE;
        }
      printf ("- receiving one %d MiB message (peak VmHWM growth in the receiving process, "
              "fresh fork, high-water mark reset via /proc/self/clear_refs when allowed):\n\n"
              "| receiver | peak growth | peak ÷ message size |\n|---|---:|---:|\n",
              BIG_MESSAGE / (1024 * 1024));
      for (gsize k = 0; k < G_N_ELEMENTS (big); k++)
        {
          Outcome o;
          int i = contender_index (big[k]);

          if (run_pair (&contenders[i], FALSE, BIG_MESSAGE, 1, 0, TRUE, &o) && o.peak >= 0)
            {
              printf ("| %s | %.1f MiB | %.2f |\n", big[k], o.peak / 1048576.0,
                      (double) o.peak / BIG_MESSAGE);
              if (g_str_equal (big[k], "sw-memfd"))
                memfd_peak = o.peak;
            }
          else
            {
              printf ("| %s | fail | |\n", big[k]);
              failed = TRUE;
            }
        }
      printf ("\n");
    }

  if (enabled[contender_index ("sw-memfd")] && !measure_big_rates (opt_quick ? 2 : 8, big_rates))
    failed = TRUE;

  {
    double p50_one_cpu[N_CONTENDERS];

    for (gsize i = 0; i < N_CONTENDERS; i++)
      p50_one_cpu[i] = lat_med[two_placements ? 1 : 0][i][0];
    print_targets (rates, p50_one_cpu, TRUE, idle_bytes, big_rates, memfd_peak);
  }
  printf ("Targets are reported, not enforced: the exit status only reflects failures.\n\n");

codec:
  if (run_codec && !sw_bench_codec_section (opt_quick))
    failed = TRUE;
  if (run_scale && !sw_bench_scale_section (opt_quick, opt_scale_rows, opt_connections))
    failed = TRUE;

  g_free (opt_cpus);
  g_free (opt_only);
  g_free (opt_sizes);
  g_free (opt_python_script);
  g_free (opt_section);
  g_free (opt_scale_rows);
  g_free (opt_connections);
  return failed ? 1 : 0;
}
