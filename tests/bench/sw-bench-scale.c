/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The scale section of sw-bench: the cost of one busy connection among N
 * connections that all have an async receive pending in ONE GMainContext.
 *
 * Each cell runs in a fresh forked process (the "server"), which raises
 * RLIMIT_NOFILE to its hard limit and forks a peer.  The server makes N
 * UNIX stream socketpairs and hands the peer ends to the peer process over
 * SCM_RIGHTS, so each connection costs the server one fd (N = 10 000 fits
 * in a hard limit of 20 000).  Connection 0 is the busy one, the other N-1
 * stay idle with their receive pending the whole time.
 *
 * The busy connection runs a ping-pong: the peer writes one 16-byte
 * message, waits for the echo, and so on for the cell's time, then closes.
 * Every message therefore costs the server one main-loop wake-up (a
 * streaming sender would let the server read many messages per wake-up
 * and hide the per-wake cost).  Counted, in the server only: messages
 * echoed, wall time from "go" to the peer's close, and getrusage
 * (RUSAGE_SELF) user + system time over the same interval: the receive,
 * the main loop and the blocking echo send; the peer's CPU is not
 * counted.  Memory: VmRSS growth ÷ (N - 1) across creating the idle
 * connections with their receive pending (user space only).
 *
 * Rows: sw (SwConnection, sw_connection_receive_message_async on every
 * connection) and glib (the same fds, one g_unix_fd_source_new per fd, the
 * busy one read and echoed with read()/write() in its callback): the glib
 * row shows what the main loop costs without the library. */
#include <socketwrapper/socketwrapper.h>

#include "sw-bench.h"

#include <errno.h>
#include <glib-unix.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define SCALE_SIZE    16
#define FRAME_SIZE    (SCALE_SIZE + 1)   /* varint header: one byte */
#define FDS_PER_SEND  250                 /* below SCM_MAX_FD (253) */

static const guint scale_ns[] = { 1, 100, 1000, 10000 };
#define N_SCALE G_N_ELEMENTS (scale_ns)
#define FOR_KINDS(k) for (gsize k = 0; k < N_KINDS; k++) if (kind_on[k])
#define FOR_NS(i) for (gsize i = 0; i < N_SCALE; i++) if (n_on[i])
static gboolean n_on[N_SCALE];

typedef enum
{
  SCALE_SW,
  SCALE_GLIB,
  N_KINDS
} ScaleKind;

static const char * const kind_names[N_KINDS] = { "sw (receive_message_async)",
                                                   "glib (g_unix_fd_source_new)" };
static const char * const kind_keys[N_KINDS] = { "sw", "glib" };
static gboolean kind_on[N_KINDS];

typedef struct
{
  double rate;      /* messages/s */
  double cpu_us;    /* server CPU µs per message */
  double bytes;     /* RSS growth per idle connection, NAN for N = 1 */
} ScaleOutcome;

/* ---- the peer process -------------------------------------------------- */

/* Receives one record of the control socket: its first byte, and the fds
 * it carries appended to @fds. */
static char
peer_receive (int     ctl,
              GArray *fds,
              double *budget)
{
  char data[1 + sizeof (double)] = { 0 };
  union {
    char buf[CMSG_SPACE (FDS_PER_SEND * sizeof (int))];
    struct cmsghdr align;
  } control;
  struct iovec iov = { data, sizeof data };
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
                        .msg_control = control.buf, .msg_controllen = sizeof control.buf };
  ssize_t n = recvmsg (ctl, &msg, MSG_CMSG_CLOEXEC);

  if (n <= 0)
    die ("peer recvmsg: %s", n < 0 ? g_strerror (errno) : "end of stream");
  for (struct cmsghdr *c = CMSG_FIRSTHDR (&msg); c != NULL; c = CMSG_NXTHDR (&msg, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
      g_array_append_vals (fds, CMSG_DATA (c), (c->cmsg_len - CMSG_LEN (0)) / sizeof (int));
  if (data[0] == 'G')
    memcpy (budget, data + 1, sizeof (double));
  return data[0];
}

/* Holds every peer end; on 'G' runs the ping-pong on the first one for
 * the given time, then closes it. */
static void
peer_main (int ctl)
{
  GArray *fds = g_array_new (FALSE, FALSE, sizeof (int));
  guint8 frame[FRAME_SIZE], reply[FRAME_SIZE];
  double budget = 0, t0;
  int busy;
  char c;

  while ((c = peer_receive (ctl, fds, &budget)) == 'F')
    ;
  if (c != 'G' || fds->len == 0)
    die ("peer: bad control record");
  busy = g_array_index (fds, int, 0);
  frame[0] = SCALE_SIZE;
  memset (frame + 1, 'x', SCALE_SIZE);
  t0 = now ();
  do
    {
      write_all (busy, frame, sizeof frame);
      read_exact (busy, reply, sizeof reply);
    }
  while (now () - t0 < budget);
  close (busy);
  /* Keep the idle peers open until the server has measured. */
  while (read (ctl, &c, 1) > 0)
    ;
  _exit (0);
}

/* Sends @n_fds fds in one record tagged @tag. */
static void
send_fds (int        ctl,
          char       tag,
          const int *fds,
          guint      n_fds,
          double     budget)
{
  char data[1 + sizeof (double)];
  union {
    char buf[CMSG_SPACE (FDS_PER_SEND * sizeof (int))];
    struct cmsghdr align;
  } control;
  struct iovec iov = { data, sizeof data };
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

  data[0] = tag;
  memcpy (data + 1, &budget, sizeof budget);
  if (n_fds > 0)
    {
      struct cmsghdr *c;

      msg.msg_control = control.buf;
      msg.msg_controllen = CMSG_SPACE (n_fds * sizeof (int));
      c = CMSG_FIRSTHDR (&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN (n_fds * sizeof (int));
      memcpy (CMSG_DATA (c), fds, n_fds * sizeof (int));
    }
  if (sendmsg (ctl, &msg, 0) < 0)
    die ("sendmsg: %s", g_strerror (errno));
}

/* ---- the server ------------------------------------------------------- */

typedef struct
{
  GMainLoop    *loop;
  SwConnection *busy;
  GBytes       *reply;
  guint64       messages;
} Server;

static void
idle_received (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  die ("an idle connection completed its receive");
}

static void
busy_received (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  Server *s = user_data;
  GError *error = NULL;
  GBytes *message = sw_connection_receive_message_finish (s->busy, result, &error);

  if (message == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED))
        die ("busy receive: %s", error->message);
      g_error_free (error);
      g_main_loop_quit (s->loop);
      return;
    }
  g_bytes_unref (message);
  if (!sw_connection_send_message (s->busy, s->reply, -1, NULL, &error))
    die ("busy send: %s", error->message);
  s->messages++;
  sw_connection_receive_message_async (s->busy, G_PRIORITY_DEFAULT, NULL, busy_received, s);
}

static gboolean
idle_fd_ready (int          fd,
               GIOCondition condition,
               gpointer     user_data)
{
  die ("an idle fd became ready");
}

static gboolean
busy_fd_ready (int          fd,
               GIOCondition condition,
               gpointer     user_data)
{
  Server *s = user_data;
  guint8 frame[FRAME_SIZE];
  ssize_t n = read (fd, frame, sizeof frame);

  if (n == 0)
    {
      g_main_loop_quit (s->loop);
      return G_SOURCE_REMOVE;
    }
  /* The peer writes a frame in one write() and waits for the echo. */
  if (n != FRAME_SIZE)
    die ("busy read: %s", n < 0 ? g_strerror (errno) : "short frame");
  write_all (fd, frame, sizeof frame);
  s->messages++;
  return G_SOURCE_CONTINUE;
}

/* Wraps @fd as @kind prescribes, with its receive (or source) pending. */
static void
watch_fd (ScaleKind  kind,
          int        fd,
          Server    *s,
          gboolean   busy)
{
  GError *error = NULL;

  if (kind == SCALE_SW)
    {
      SwConnection *c = sw_connection_new_for_fd (fd, sw_framing_get_default (), &error);

      if (c == NULL)
        die ("sw_connection_new_for_fd: %s", error->message);
      if (busy)
        s->busy = c;
      sw_connection_receive_message_async (c, G_PRIORITY_DEFAULT, NULL,
                                           busy ? busy_received : idle_received, s);
    }
  else
    {
      GSource *source = g_unix_fd_source_new (fd, G_IO_IN);

      g_source_set_callback (source, G_SOURCE_FUNC (busy ? busy_fd_ready : idle_fd_ready), s,
                             NULL);
      g_source_attach (source, NULL);
      g_source_unref (source);
    }
}

/* Makes one socketpair: keeps one end, queues the other for the peer. */
static int
new_pair (int   ctl,
          int  *batch,
          guint *n_batch)
{
  int sv[2];

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    die ("socketpair: %s (RLIMIT_NOFILE too low?)", g_strerror (errno));
  batch[(*n_batch)++] = sv[1];
  if (*n_batch == FDS_PER_SEND)
    {
      send_fds (ctl, 'F', batch, *n_batch, 0);
      for (guint i = 0; i < *n_batch; i++)
        close (batch[i]);
      *n_batch = 0;
    }
  return sv[0];
}

static double
cpu_seconds (void)
{
  struct rusage ru;

  getrusage (RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6
         + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

typedef struct
{
  ScaleKind kind;
  guint     n;
  double    budget;
} Cell;

static void
server_main (int      report_fd,
             gpointer data)
{
  const Cell *cell = data;
  ScaleKind kind = cell->kind;
  guint n = cell->n;
  double budget = cell->budget;
  Server s = { g_main_loop_new (NULL, FALSE), NULL, make_payload (SCALE_SIZE), 0 };
  int ctl[2], batch[FDS_PER_SEND];
  guint n_batch = 0;
  long rss_before, rss_after;
  double t0, cpu0, seconds, cpu;
  char line[160];
  pid_t peer;

  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl) < 0)
    die ("socketpair: %s", g_strerror (errno));
  peer = fork ();
  if (peer == 0)
    {
      close (ctl[0]);
      peer_main (ctl[1]);
    }
  close (ctl[1]);

  watch_fd (kind, new_pair (ctl[0], batch, &n_batch), &s, TRUE);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  rss_before = proc_status_kib ("VmRSS:");
  for (guint i = 1; i < n; i++)
    watch_fd (kind, new_pair (ctl[0], batch, &n_batch), &s, FALSE);
  send_fds (ctl[0], 'F', batch, n_batch, 0);
  for (guint i = 0; i < n_batch; i++)
    close (batch[i]);
  /* Lets every receive reach its wait before the baseline is taken. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  rss_after = proc_status_kib ("VmRSS:");

  send_fds (ctl[0], 'G', NULL, 0, budget);
  t0 = now ();
  cpu0 = cpu_seconds ();
  g_main_loop_run (s.loop);
  seconds = now () - t0;
  cpu = cpu_seconds () - cpu0;

  g_snprintf (line, sizeof line, "%" G_GUINT64_FORMAT " %.9f %.9f %ld\n", s.messages, seconds,
              cpu, (rss_after - rss_before) * 1024);
  write_all (report_fd, line, strlen (line));
  close (ctl[0]);
  waitpid (peer, NULL, 0);
  /* Nothing to tear down: the process ends here. */
  _exit (0);
}

/* Runs one cell in a fresh process. */
static gboolean
run_cell (ScaleKind     kind,
          guint         n,
          double        budget,
          ScaleOutcome *out)
{
  Cell cell = { kind, n, budget };
  int report_fd, status;
  char line[160];
  guint64 messages;
  double seconds, cpu;
  long bytes;
  pid_t pid = fork_reporting (server_main, &cell, &report_fd);
  gboolean got = read_line (report_fd, line, sizeof line);

  close (report_fd);
  waitpid (pid, &status, 0);
  if (!got || !WIFEXITED (status) || WEXITSTATUS (status) != 0
      || sscanf (line, "%" G_GUINT64_FORMAT " %lf %lf %ld", &messages, &seconds, &cpu,
                 &bytes) != 4 || messages == 0)
    return FALSE;
  out->rate = messages / seconds;
  out->cpu_us = cpu * 1e6 / messages;
  out->bytes = n > 1 ? (double) bytes / (n - 1) : NAN;
  return TRUE;
}

/* The largest N the fd limit allows: one fd per connection in the
 * server, plus a margin for GLib, the control socket and the batch of
 * peer ends not yet handed over. */
static guint
max_connections (void)
{
  struct rlimit lim;

  getrlimit (RLIMIT_NOFILE, &lim);
  lim.rlim_cur = lim.rlim_max;
  setrlimit (RLIMIT_NOFILE, &lim);
  return lim.rlim_cur > 2 * FDS_PER_SEND + 64 ? (guint) (lim.rlim_cur - 2 * FDS_PER_SEND - 64) : 0;
}

static void
print_row (ScaleKind          kind,
           guint              n,
           const ScaleOutcome *o,
           const ScaleOutcome *one)
{
  if (isnan (o->rate))
    {
      printf ("| %s | %u | fail | | | |\n", kind_names[kind], n);
      return;
    }
  printf ("| %s | %u | %.0f | %.2f | %.2f× |", kind_names[kind], n, o->rate, o->cpu_us,
          isnan (one->cpu_us) ? NAN : o->cpu_us / one->cpu_us);
  if (isnan (o->bytes))
    printf (" – |\n");
  else
    printf (" %.0f |\n", o->bytes);
}

/* Median of @runs outcomes, field by field. */
static ScaleOutcome
median_outcome (ScaleOutcome *runs,
                int           n_runs)
{
  double rate[16], cpu[16], bytes[16];
  ScaleOutcome m;

  for (int r = 0; r < n_runs; r++)
    {
      rate[r] = runs[r].rate;
      cpu[r] = runs[r].cpu_us;
      bytes[r] = runs[r].bytes;
    }
  m.rate = median (rate, n_runs);
  m.cpu_us = median (cpu, n_runs);
  m.bytes = median (bytes, n_runs);
  return m;
}

gboolean
sw_bench_scale_section (gboolean    quick,
                        const char *rows,
                        const char *ns)
{
  double budget = quick ? 0.25 : 1.0;
  int n_runs = 3;
  guint limit = max_connections ();
  ScaleOutcome med[N_KINDS][N_SCALE];
  gboolean ok = TRUE;

  for (gsize k = 0; k < N_KINDS; k++)
    {
      g_auto(GStrv) names = g_strsplit (rows != NULL ? rows : "sw,glib", ",", -1);

      kind_on[k] = g_strv_contains ((const char * const *) names, kind_keys[k]);
    }
  for (gsize i = 0; i < N_SCALE; i++)
    {
      g_auto(GStrv) list = g_strsplit (ns != NULL ? ns : "1,100,1000,10000", ",", -1);
      char label[16];

      g_snprintf (label, sizeof label, "%u", scale_ns[i]);
      n_on[i] = g_strv_contains ((const char * const *) list, label);
    }
  fprintf (stderr, "sw-bench: scale");
  FOR_KINDS (k)
    FOR_NS (i)
      {
        ScaleOutcome runs[16];

        for (int r = 0; r < n_runs; r++)
          {
            runs[r] = (ScaleOutcome) { NAN, NAN, NAN };
            if (scale_ns[i] > limit || !run_cell ((ScaleKind) k, scale_ns[i], budget, &runs[r]))
              ok = FALSE;
            fputc ('.', stderr);
          }
        med[k][i] = median_outcome (runs, n_runs);
      }
  fprintf (stderr, "\n");

  printf ("## Scale: one busy connection among N with a receive pending, one main context\n\n");
  printf ("- N connections in one GMainContext, each with an async receive pending; one of "
          "them runs a %d-byte ping-pong with a peer process (one main-loop wake-up per "
          "message), the N - 1 others stay idle. msgs/s = echoed messages ÷ wall time; "
          "CPU = the receiving process's getrusage user + system time ÷ messages (main "
          "loop, receive and the blocking echo send; the peer is not counted); bytes = "
          "VmRSS growth ÷ (N - 1) while creating the idle connections with their receive "
          "pending. Median of %d runs of %.2f s, each in a fresh process; RLIMIT_NOFILE "
          "hard limit allows N ≤ %u (one fd per connection: the peer ends live in the peer "
          "process).\n\n", SCALE_SIZE, n_runs, budget, limit);
  printf ("| row | N | msgs/s | µs CPU/msg | CPU ÷ N = 1 | bytes/connection |\n"
          "|---|---:|---:|---:|---:|---:|\n");
  FOR_KINDS (k)
    FOR_NS (i)
      print_row ((ScaleKind) k, scale_ns[i], &med[k][i], &med[k][0]);
  printf ("\n## Scale target\n\n");
  if (kind_on[SCALE_SW] && n_on[0] && n_on[N_SCALE - 1])
    {
      double ratio = med[SCALE_SW][N_SCALE - 1].cpu_us / med[SCALE_SW][0].cpu_us;

      printf ("- %s sw at N = %u: %.2f× the CPU per message at N = 1 (≤ 2)\n\n",
              ratio <= 2.0 ? "ok  " : "MISS", scale_ns[N_SCALE - 1], ratio);
    }
  return ok;
}
