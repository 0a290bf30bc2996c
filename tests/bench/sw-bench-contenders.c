/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sw-bench's contenders: the child processes that send, receive, ping and
 * pong, for socketwrapper (sync, exact, async, batch) and for the
 * references it is measured against (plain syscalls, GDBus peer-to-peer,
 * Python multiprocessing, ZeroMQ).  sw-bench.c forks them, starts them
 * together and reads their reports. */
#include <socketwrapper/socketwrapper.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#ifdef SW_BENCH_HAVE_ZMQ
#include <zmq.h>
#endif

#include "sw-bench.h"

#define LATENCY_WARMUP     100
#define LATENCY_MAX        200000
#define ASYNC_IN_FLIGHT    64
#define BATCH_SIZE         64
#define RAW_BUFFER         (64 * 1024)

/* ------------------------------------------------------------------ */
/* Child-side helpers                                                  */

G_GNUC_PRINTF (2, 3) static void
report (const Job  *job,
        const char *format,
        ...)
{
  va_list args;
  char *line;

  va_start (args, format);
  line = g_strdup_vprintf (format, args);
  va_end (args);
  write_all (job->report_fd, line, strlen (line));
  g_free (line);
}

/* Set-up is done: tell the parent, then wait for everybody else. */
static void
ready_and_wait (const Job *job)
{
  char c;

  report (job, "R\n");
  while (read (job->go_fd, &c, 1) < 0 && errno == EINTR)
    ;
}

void
read_exact (int     fd,
            guint8 *p,
            gsize   len)
{
  while (len > 0)
    {
      ssize_t n = read (fd, p, len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        die ("read: %s", g_strerror (errno));
      if (n == 0)
        die ("read: unexpected EOF");
      p += n;
      len -= n;
    }
}

/* The same rank rule as sw_bench_mp.py, so the rows compare. */
static double
percentile (double *sorted,
            gsize   n,
            double  q)
{
  return sorted[(gsize) ((n - 1) * q)];
}

/* Latency clients record round trips into a growing array, then report
 * p50 and p99 in microseconds, skipping the warm-up. */
typedef struct
{
  GArray *samples;
  double  end;
  double  t;
} Latencies;

static void
latencies_init (Latencies *l,
                double     budget)
{
  l->samples = g_array_sized_new (FALSE, FALSE, sizeof (double), 1024);
  l->end = now () + budget;
}

static gboolean
latencies_more (Latencies *l)
{
  guint n = l->samples->len;

  return n < LATENCY_MAX && (n < 2 * LATENCY_WARMUP || now () < l->end);
}

static void
latencies_add (Latencies *l,
               double     seconds)
{
  g_array_append_val (l->samples, seconds);
}

static void
latencies_report (Latencies *l,
                  const Job *job)
{
  double *v = (double *) (gpointer) l->samples->data + LATENCY_WARMUP;
  gsize n = l->samples->len - LATENCY_WARMUP;

  qsort (v, n, sizeof (double), compare_double);
  report (job, "L %.3f %.3f\n", percentile (v, n, 0.50) * 1e6, percentile (v, n, 0.99) * 1e6);
  g_array_unref (l->samples);
}

/* Receivers that take part in the memory test reset the high-water mark
 * (or, when clear_refs is not allowed, rely on a fresh fork's mark being
 * its RSS at fork time) and report how far the peak rose. */
static long
memory_begin (const Job *job)
{
  if (!job->memory)
    return 0;
  reset_peak_rss ();
  return proc_status_kib ("VmRSS:");
}

static long
memory_end (const Job *job,
            long       rss_before_kib)
{
  if (!job->memory)
    return -1;
  return (proc_status_kib ("VmHWM:") - rss_before_kib) * 1024;
}


/* ------------------------------------------------------------------ */
/* Socketwrapper contenders                                            */

static SwConnection *
sw_open (const Job *job,
         gboolean   read_ahead)
{
  GError *error = NULL;
  SwConnection *c = sw_connection_new_for_fd (job->fd, sw_framing_get_default (), &error);

  if (c == NULL)
    die ("sw_connection_new_for_fd: %s", error->message);
  sw_connection_set_read_ahead (c, read_ahead);
  return c;
}

static void
sw_close (SwConnection *c)
{
  GError *error = NULL;

  if (!sw_connection_close (c, NULL, &error))
    die ("close: %s", error->message);
  g_object_unref (c);
}

/* sw-memfd: messages from this size on travel as memfds (both ends). */
#define MEMFD_THRESHOLD (64 * 1024)

static void
sw_sender_common (const Job *job,
                  guint64    memfd_threshold)
{
  SwConnection *c = sw_open (job, TRUE);
  GBytes *message = make_payload (job->size);
  GError *error = NULL;
  double t0;

  sw_connection_set_memfd_threshold (c, memfd_threshold);
  ready_and_wait (job);
  t0 = now ();
  for (guint64 i = 0; i < job->count; i++)
    if (!sw_connection_send_message (c, message, -1, NULL, &error))
      die ("send_message: %s", error->message);
  report (job, "T %.9f -1\n", t0);
  g_bytes_unref (message);
  sw_close (c);
}

void
sw_sync_sender (const Job *job)
{
  sw_sender_common (job, 0);
}

void
sw_memfd_sender (const Job *job)
{
  sw_sender_common (job, MEMFD_THRESHOLD);
}

static void
sw_sync_receiver_common (const Job *job,
                         gboolean   read_ahead,
                         guint64    memfd_threshold)
{
  SwConnection *c = sw_open (job, read_ahead);
  GError *error = NULL;
  long rss = memory_begin (job);
  double t1;

  sw_connection_set_memfd_threshold (c, memfd_threshold);

  ready_and_wait (job);
  for (guint64 i = 0; i < job->count; i++)
    {
      GBytes *message = sw_connection_receive_message (c, -1, NULL, &error);

      if (message == NULL)
        die ("receive_message: %s", error->message);
      if (g_bytes_get_size (message) != job->size)
        die ("receive_message: wrong size");
      g_bytes_unref (message);
    }
  t1 = now ();
  report (job, "T %.9f %ld\n", t1, memory_end (job, rss));
  sw_close (c);
}

void
sw_sync_receiver (const Job *job)
{
  sw_sync_receiver_common (job, TRUE, 0);
}

void
sw_memfd_receiver (const Job *job)
{
  sw_sync_receiver_common (job, TRUE, MEMFD_THRESHOLD);
}

void
sw_exact_receiver (const Job *job)
{
  sw_sync_receiver_common (job, FALSE, 0);
}

void
sw_batch_sender (const Job *job)
{
  SwConnection *c = sw_open (job, TRUE);
  GBytes *message = make_payload (job->size);
  GBytes *batch[BATCH_SIZE];
  GError *error = NULL;
  double t0;

  for (guint i = 0; i < BATCH_SIZE; i++)
    batch[i] = message;
  ready_and_wait (job);
  t0 = now ();
  for (guint64 sent = 0; sent < job->count;)
    {
      guint n = (guint) MIN ((guint64) BATCH_SIZE, job->count - sent);

      if (!sw_connection_send_messages (c, batch, n, -1, NULL, &error))
        die ("send_messages: %s", error->message);
      sent += n;
    }
  report (job, "T %.9f -1\n", t0);
  g_bytes_unref (message);
  sw_close (c);
}

/* Batches as large as the sender's: what one read of a busy stream
 * holds, each message still its own GBytes. */
void
sw_batch_receiver (const Job *job)
{
  SwConnection *c = sw_open (job, TRUE);
  GError *error = NULL;
  long rss = memory_begin (job);
  double t1;

  ready_and_wait (job);
  for (guint64 received = 0; received < job->count;)
    {
      guint max = (guint) MIN ((guint64) BATCH_SIZE, job->count - received);
      GPtrArray *batch = sw_connection_receive_messages (c, max, -1, NULL, &error);

      if (batch == NULL)
        die ("receive_messages: %s", error->message);
      for (guint i = 0; i < batch->len; i++)
        if (g_bytes_get_size (g_ptr_array_index (batch, i)) != job->size)
          die ("receive_messages: wrong size");
      received += batch->len;
      g_ptr_array_unref (batch);
    }
  t1 = now ();
  report (job, "T %.9f %ld\n", t1, memory_end (job, rss));
  sw_close (c);
}

static gboolean
is_eof (const GError *error)
{
  return g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
}

static void
sw_sync_server_common (const Job *job,
                       gboolean   read_ahead)
{
  SwConnection *c = sw_open (job, read_ahead);
  GError *error = NULL;

  ready_and_wait (job);
  for (;;)
    {
      GBytes *message = sw_connection_receive_message (c, -1, NULL, &error);

      if (message == NULL)
        {
          if (!is_eof (error))
            die ("server receive: %s", error->message);
          g_clear_error (&error);
          break;
        }
      if (!sw_connection_send_message (c, message, -1, NULL, &error))
        die ("server send: %s", error->message);
      g_bytes_unref (message);
    }
  sw_close (c);
}

void
sw_sync_server (const Job *job)
{
  sw_sync_server_common (job, TRUE);
}

void
sw_exact_server (const Job *job)
{
  sw_sync_server_common (job, FALSE);
}

static void
sw_sync_client_common (const Job *job,
                       gboolean   read_ahead)
{
  SwConnection *c = sw_open (job, read_ahead);
  GBytes *ping = make_payload (LATENCY_SIZE);
  GError *error = NULL;
  Latencies l;

  ready_and_wait (job);
  latencies_init (&l, job->budget);
  while (latencies_more (&l))
    {
      double t = now ();
      GBytes *pong;

      if (!sw_connection_send_message (c, ping, -1, NULL, &error))
        die ("client send: %s", error->message);
      pong = sw_connection_receive_message (c, -1, NULL, &error);
      if (pong == NULL)
        die ("client receive: %s", error->message);
      latencies_add (&l, now () - t);
      g_bytes_unref (pong);
    }
  latencies_report (&l, job);
  g_bytes_unref (ping);
  sw_close (c);
}

void
sw_sync_client (const Job *job)
{
  sw_sync_client_common (job, TRUE);
}

void
sw_exact_client (const Job *job)
{
  sw_sync_client_common (job, FALSE);
}

/* Async: each end runs its own GMainContext, pushed as thread default so
 * the callbacks land there. */
typedef struct
{
  const Job    *job;
  SwConnection *c;
  GBytes       *message;
  GMainLoop    *loop;
  guint64       started;
  guint64       done;
  guint         sends_pending;
  gboolean      stopping;
  Latencies     latencies;
  double        t;
  long          rss;
} AsyncState;

static AsyncState *
async_state_new (const Job *job,
                 gsize      payload)
{
  AsyncState *s = g_new0 (AsyncState, 1);
  GMainContext *context = g_main_context_new ();

  g_main_context_push_thread_default (context);
  s->job = job;
  s->c = sw_open (job, TRUE);
  s->message = payload > 0 ? make_payload (payload) : NULL;
  s->loop = g_main_loop_new (context, FALSE);
  g_main_context_unref (context);
  return s;
}

static void
async_state_free (AsyncState *s)
{
  GMainContext *context = g_main_loop_get_context (s->loop);

  sw_close (s->c);
  /* Let any completion the close scheduled run before the context goes. */
  while (g_main_context_iteration (context, FALSE))
    ;
  g_main_context_pop_thread_default (context);
  g_main_loop_unref (s->loop);
  g_clear_pointer (&s->message, g_bytes_unref);
  g_free (s);
}

static void
async_sent_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  AsyncState *s = user_data;
  GError *error = NULL;

  if (!sw_connection_send_message_finish (SW_CONNECTION (source), result, &error))
    die ("send_message_async: %s", error->message);
  s->done++;
  if (s->started < s->job->count)
    {
      s->started++;
      sw_connection_send_message_async (s->c, s->message, G_PRIORITY_DEFAULT, NULL,
                                        async_sent_cb, s);
    }
  else if (s->done == s->job->count)
    g_main_loop_quit (s->loop);
}

void
sw_async_sender (const Job *job)
{
  AsyncState *s = async_state_new (job, job->size);
  double t0;

  ready_and_wait (job);
  t0 = now ();
  /* A bounded window: enough to keep the socket busy, never an unbounded
   * queue of pending tasks. */
  while (s->started < job->count && s->started < ASYNC_IN_FLIGHT)
    {
      s->started++;
      sw_connection_send_message_async (s->c, s->message, G_PRIORITY_DEFAULT, NULL,
                                        async_sent_cb, s);
    }
  if (job->count > 0)
    g_main_loop_run (s->loop);
  report (job, "T %.9f -1\n", t0);
  async_state_free (s);
}

static void
async_received_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  AsyncState *s = user_data;
  GError *error = NULL;
  GBytes *message = sw_connection_receive_message_finish (SW_CONNECTION (source), result, &error);

  if (message == NULL)
    die ("receive_message_async: %s", error->message);
  if (g_bytes_get_size (message) != s->job->size)
    die ("receive_message_async: wrong size");
  g_bytes_unref (message);
  if (++s->done < s->job->count)
    sw_connection_receive_message_async (s->c, G_PRIORITY_DEFAULT, NULL,
                                         async_received_cb, s);
  else
    g_main_loop_quit (s->loop);
}

void
sw_async_receiver (const Job *job)
{
  AsyncState *s = async_state_new (job, 0);
  long rss = memory_begin (job);
  double t1;

  ready_and_wait (job);
  if (job->count > 0)
    {
      sw_connection_receive_message_async (s->c, G_PRIORITY_DEFAULT, NULL,
                                           async_received_cb, s);
      g_main_loop_run (s->loop);
    }
  t1 = now ();
  report (job, "T %.9f %ld\n", t1, memory_end (job, rss));
  async_state_free (s);
}

static void
signal_message_cb (SwConnection *connection,
                   GBytes       *message,
                   gpointer      user_data)
{
  AsyncState *s = user_data;

  if (g_bytes_get_size (message) != s->job->size)
    die ("::message: wrong size");
  if (++s->done == s->job->count)
    {
      sw_connection_stop_receiving (connection);
      g_main_loop_quit (s->loop);
    }
}

/* The receive loop: ::message for each message, no call per message. */
void
sw_signal_receiver (const Job *job)
{
  AsyncState *s = async_state_new (job, 0);
  long rss = memory_begin (job);
  double t1;

  g_signal_connect (s->c, "message", G_CALLBACK (signal_message_cb), s);
  ready_and_wait (job);
  if (job->count > 0)
    {
      sw_connection_start_receiving (s->c);
      g_main_loop_run (s->loop);
    }
  t1 = now ();
  report (job, "T %.9f %ld\n", t1, memory_end (job, rss));
  async_state_free (s);
}

static void
async_echo_sent_cb (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  AsyncState *s = user_data;
  GError *error = NULL;

  /* The client may be gone by the time the last echo completes. */
  if (!sw_connection_send_message_finish (SW_CONNECTION (source), result, &error)
      && !s->stopping)
    die ("server send_message_async: %s", error->message);
  g_clear_error (&error);
  if (--s->sends_pending == 0 && s->stopping)
    g_main_loop_quit (s->loop);
}

static void
async_server_received_cb (GObject      *source,
                          GAsyncResult *result,
                          gpointer      user_data)
{
  AsyncState *s = user_data;
  GError *error = NULL;
  GBytes *message = sw_connection_receive_message_finish (SW_CONNECTION (source), result, &error);

  if (message == NULL)
    {
      if (!is_eof (error))
        die ("server receive_message_async: %s", error->message);
      g_clear_error (&error);
      s->stopping = TRUE;
      if (s->sends_pending == 0)
        g_main_loop_quit (s->loop);
      return;
    }
  s->sends_pending++;
  sw_connection_send_message_async (s->c, message, G_PRIORITY_DEFAULT, NULL,
                                    async_echo_sent_cb, s);
  g_bytes_unref (message);
  sw_connection_receive_message_async (s->c, G_PRIORITY_DEFAULT, NULL,
                                       async_server_received_cb, s);
}

void
sw_async_server (const Job *job)
{
  AsyncState *s = async_state_new (job, 0);

  ready_and_wait (job);
  sw_connection_receive_message_async (s->c, G_PRIORITY_DEFAULT, NULL,
                                       async_server_received_cb, s);
  g_main_loop_run (s->loop);
  async_state_free (s);
}

static void async_client_received_cb (GObject *, GAsyncResult *, gpointer);

static void
async_client_sent_cb (GObject      *source,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  AsyncState *s = user_data;
  GError *error = NULL;

  if (!sw_connection_send_message_finish (SW_CONNECTION (source), result, &error))
    die ("client send_message_async: %s", error->message);
  if (--s->sends_pending == 0 && s->stopping)
    g_main_loop_quit (s->loop);
}

static void
async_client_ping (AsyncState *s)
{
  s->t = now ();
  s->sends_pending++;
  sw_connection_send_message_async (s->c, s->message, G_PRIORITY_DEFAULT, NULL,
                                    async_client_sent_cb, s);
  sw_connection_receive_message_async (s->c, G_PRIORITY_DEFAULT, NULL,
                                       async_client_received_cb, s);
}

static void
async_client_received_cb (GObject      *source,
                          GAsyncResult *result,
                          gpointer      user_data)
{
  AsyncState *s = user_data;
  GError *error = NULL;
  GBytes *pong = sw_connection_receive_message_finish (SW_CONNECTION (source), result, &error);

  if (pong == NULL)
    die ("client receive_message_async: %s", error->message);
  latencies_add (&s->latencies, now () - s->t);
  g_bytes_unref (pong);
  if (latencies_more (&s->latencies))
    async_client_ping (s);
  else
    {
      s->stopping = TRUE;
      if (s->sends_pending == 0)
        g_main_loop_quit (s->loop);
    }
}

void
sw_async_client (const Job *job)
{
  AsyncState *s = async_state_new (job, LATENCY_SIZE);

  ready_and_wait (job);
  latencies_init (&s->latencies, job->budget);
  async_client_ping (s);
  g_main_loop_run (s->loop);
  latencies_report (&s->latencies, job);
  async_state_free (s);
}

/* ------------------------------------------------------------------ */
/* Hand-written references: the same wire format with plain syscalls   */

static gsize
varint_encode (guint64 v,
               guint8 *out)
{
  if (v <= 240)
    {
      out[0] = (guint8) v;
      return 1;
    }
  if (v <= 2287)
    {
      out[0] = (guint8) ((v - 240) / 256 + 241);
      out[1] = (guint8) ((v - 240) % 256);
      return 2;
    }
  if (v <= 67823)
    {
      out[0] = 249;
      out[1] = (guint8) ((v - 2288) >> 8);
      out[2] = (guint8) (v - 2288);
      return 3;
    }
  else
    {
      guint n = 3;

      while (n < 8 && (v >> (8 * n)) != 0)
        n++;
      out[0] = (guint8) (247 + n);
      for (guint i = 0; i < n; i++)
        out[1 + i] = (guint8) (v >> (8 * (n - 1 - i)));
      return 1 + n;
    }
}

/* How many header bytes follow the first one. */
static gsize
varint_extra (guint8 first)
{
  if (first <= 240)
    return 0;
  if (first <= 248)
    return 1;
  if (first == 249)
    return 2;
  return first - 247;
}

static guint64
varint_decode (const guint8 *h)
{
  guint64 v = 0;

  if (h[0] <= 240)
    return h[0];
  if (h[0] <= 248)
    return 240 + 256 * (guint64) (h[0] - 241) + h[1];
  if (h[0] == 249)
    return 2288 + 256 * (guint64) h[1] + h[2];
  for (gsize i = 0; i < varint_extra (h[0]); i++)
    v = (v << 8) | h[1 + i];
  return v;
}

static void
raw_send (int           fd,
          const guint8 *payload,
          gsize         size)
{
  guint8 header[9];
  struct iovec iov[2];
  int iovcnt = 2;
  struct iovec *v = iov;

  iov[0].iov_base = header;
  iov[0].iov_len = varint_encode (size, header);
  iov[1].iov_base = (void *) payload;
  iov[1].iov_len = size;
  /* One writev per message; a blocking socket only returns short on a
   * signal or for frames larger than the socket buffer. */
  while (iovcnt > 0)
    {
      ssize_t n = writev (fd, v, iovcnt);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        die ("writev: %s", g_strerror (errno));
      while (iovcnt > 0 && (gsize) n >= v->iov_len)
        {
          n -= v->iov_len;
          v++;
          iovcnt--;
        }
      if (iovcnt > 0)
        {
          v->iov_base = (guint8 *) v->iov_base + n;
          v->iov_len -= n;
        }
    }
}

typedef struct
{
  int      fd;
  gboolean buffered;
  guint8  *buf;
  gsize    start;
  gsize    end;
} RawReader;

static void
raw_reader_init (RawReader *r,
                 int        fd,
                 gboolean   buffered)
{
  r->fd = fd;
  r->buffered = buffered;
  r->buf = buffered ? g_malloc (RAW_BUFFER) : NULL;
  r->start = r->end = 0;
}

/* Appends whatever one read(2) gives to the buffer; 0 at EOF. */
static gsize
raw_refill (RawReader *r)
{
  ssize_t n;

  if (r->start > 0)
    {
      memmove (r->buf, r->buf + r->start, r->end - r->start);
      r->end -= r->start;
      r->start = 0;
    }
  do
    n = read (r->fd, r->buf + r->end, RAW_BUFFER - r->end);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    die ("read: %s", g_strerror (errno));
  r->end += n;
  return n;
}

/* One message into its own g_malloc()ed buffer, as an application that
 * keeps messages needs (and as SwConnection returns a GBytes): the raw rows
 * pay for the same allocation.  FALSE at EOF on a message boundary. */
static gboolean
raw_read_message (RawReader *r,
                  guint8   **out,
                  gsize     *out_len)
{
  guint8 h[9];
  guint8 *p;
  gsize len, extra, have;

  if (!r->buffered)
    {
      ssize_t n;

      do
        n = read (r->fd, h, 1);
      while (n < 0 && errno == EINTR);
      if (n == 0)
        return FALSE;
      if (n < 0)
        die ("read: %s", g_strerror (errno));
      read_exact (r->fd, h + 1, varint_extra (h[0]));
      len = varint_decode (h);
      p = g_malloc (len);
      read_exact (r->fd, p, len);
      *out = p;
      *out_len = len;
      return TRUE;
    }

  while (r->end - r->start < 1 || r->end - r->start < 1 + varint_extra (r->buf[r->start]))
    if (raw_refill (r) == 0)
      {
        if (r->end == r->start)
          return FALSE;
        die ("read: EOF inside a header");
      }
  extra = varint_extra (r->buf[r->start]);
  len = varint_decode (r->buf + r->start);
  r->start += 1 + extra;
  p = g_malloc (len);
  have = MIN (len, r->end - r->start);
  memcpy (p, r->buf + r->start, have);
  r->start += have;
  while (have < len)
    {
      gsize need = len - have, take;

      /* A big remainder goes straight into the message, as SwConnection
       * does; a small one comes through the buffer with what follows. */
      if (need >= RAW_BUFFER)
        {
          read_exact (r->fd, p + have, need);
          break;
        }
      r->start = r->end = 0;
      if (raw_refill (r) == 0)
        die ("read: EOF inside a payload");
      take = MIN (need, r->end);
      memcpy (p + have, r->buf, take);
      r->start = take;
      have += take;
    }
  *out = p;
  *out_len = len;
  return TRUE;
}

void
raw_sender (const Job *job)
{
  GBytes *message = make_payload (job->size);
  gsize size;
  const guint8 *data = g_bytes_get_data (message, &size);
  double t0;

  ready_and_wait (job);
  t0 = now ();
  for (guint64 i = 0; i < job->count; i++)
    raw_send (job->fd, data, size);
  report (job, "T %.9f -1\n", t0);
  g_bytes_unref (message);
  close (job->fd);
}

static void
raw_receiver_common (const Job *job,
                     gboolean   buffered)
{
  RawReader r;
  long rss;
  double t1;

  raw_reader_init (&r, job->fd, buffered);
  rss = memory_begin (job);
  ready_and_wait (job);
  for (guint64 i = 0; i < job->count; i++)
    {
      guint8 *p;
      gsize len;

      if (!raw_read_message (&r, &p, &len))
        die ("raw receive: EOF");
      if (len != job->size)
        die ("raw receive: wrong size");
      g_free (p);
    }
  t1 = now ();
  report (job, "T %.9f %ld\n", t1, memory_end (job, rss));
  g_free (r.buf);
  close (job->fd);
}

void
raw_exact_receiver (const Job *job)
{
  raw_receiver_common (job, FALSE);
}

void
raw_buffered_receiver (const Job *job)
{
  raw_receiver_common (job, TRUE);
}

static void
raw_server_common (const Job *job,
                   gboolean   buffered)
{
  RawReader r;
  guint8 *p;
  gsize len;

  raw_reader_init (&r, job->fd, buffered);
  ready_and_wait (job);
  while (raw_read_message (&r, &p, &len))
    {
      raw_send (job->fd, p, len);
      g_free (p);
    }
  g_free (r.buf);
  close (job->fd);
}

static void
raw_client_common (const Job *job,
                   gboolean   buffered)
{
  RawReader r;
  guint8 ping[LATENCY_SIZE] = { 0 };
  Latencies l;

  raw_reader_init (&r, job->fd, buffered);
  ready_and_wait (job);
  latencies_init (&l, job->budget);
  while (latencies_more (&l))
    {
      double t = now ();
      guint8 *p;
      gsize len;

      raw_send (job->fd, ping, sizeof ping);
      if (!raw_read_message (&r, &p, &len))
        die ("raw client: EOF");
      latencies_add (&l, now () - t);
      g_free (p);
    }
  latencies_report (&l, job);
  g_free (r.buf);
  close (job->fd);
}

void
raw_exact_server (const Job *job)
{
  raw_server_common (job, FALSE);
}

void
raw_buffered_server (const Job *job)
{
  raw_server_common (job, TRUE);
}

void
raw_exact_client (const Job *job)
{
  raw_client_common (job, FALSE);
}

void
raw_buffered_client (const Job *job)
{
  raw_client_common (job, TRUE);
}

/* ------------------------------------------------------------------ */
/* GDBus peer-to-peer: one signal with an (ay) body per message         */

#define BENCH_PATH  "/org/gtk/SwBench"
#define BENCH_IFACE "org.gtk.SwBench"

typedef struct
{
  const Job       *job;
  GDBusConnection *connection;
  GMainLoop       *loop;
  guint64          received;
  gboolean         got_pong;
} GDBusState;

static GDBusConnection *
gdbus_open (const Job *job,
            gboolean   server)
{
  GError *error = NULL;
  GSocket *socket = g_socket_new_from_fd (job->fd, &error);
  GSocketConnection *stream;
  GDBusConnection *connection;
  char *guid = server ? g_dbus_generate_guid () : NULL;

  if (socket == NULL)
    die ("g_socket_new_from_fd: %s", error->message);
  stream = g_socket_connection_factory_create_connection (socket);
  /* Both processes run this at once, so the SASL handshake completes. */
  connection = g_dbus_connection_new_sync (G_IO_STREAM (stream), guid,
                                           server ? G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_SERVER
                                                  : G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT,
                                           NULL, NULL, &error);
  if (connection == NULL)
    die ("g_dbus_connection_new_sync: %s", error->message);
  g_free (guid);
  g_object_unref (stream);
  g_object_unref (socket);
  return connection;
}

static GVariant *
gdbus_body (const guint8 *data,
            gsize         size)
{
  return g_variant_new ("(@ay)", g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, data, size, 1));
}

void
gdbus_sender (const Job *job)
{
  GDBusConnection *connection = gdbus_open (job, FALSE);
  GBytes *message = make_payload (job->size);
  const guint8 *data = g_bytes_get_data (message, NULL);
  GError *error = NULL;
  gsize unflushed = 0;
  double t0;

  ready_and_wait (job);
  t0 = now ();
  for (guint64 i = 0; i < job->count; i++)
    {
      if (!g_dbus_connection_emit_signal (connection, NULL, BENCH_PATH, BENCH_IFACE, "Message",
                                          gdbus_body (data, job->size), &error))
        die ("emit_signal: %s", error->message);
      /* emit_signal only queues for GDBus's worker thread: flush now and
       * then so the queue (and memory) stays bounded like a socket buffer. */
      unflushed += job->size + 64;
      if ((unflushed >= 4 * 1024 * 1024 || (i + 1) % 256 == 0) && i + 1 < job->count)
        {
          if (!g_dbus_connection_flush_sync (connection, NULL, &error))
            die ("flush: %s", error->message);
          unflushed = 0;
        }
    }
  report (job, "T %.9f -1\n", t0);
  /* The receiver hangs up once it has everything, which may beat this
   * flush's reply: the error then says nothing about the messages. */
  g_dbus_connection_flush_sync (connection, NULL, NULL);
  g_dbus_connection_close_sync (connection, NULL, NULL);
  g_object_unref (connection);
  g_bytes_unref (message);
}

static void
gdbus_message_cb (GDBusConnection *connection,
                  const char      *sender_name,
                  const char      *object_path,
                  const char      *interface_name,
                  const char      *signal_name,
                  GVariant        *parameters,
                  gpointer         user_data)
{
  GDBusState *s = user_data;
  GVariant *body = g_variant_get_child_value (parameters, 0);

  if (g_variant_get_size (body) != s->job->size)
    die ("gdbus receive: wrong size");
  g_variant_unref (body);
  if (++s->received == s->job->count)
    g_main_loop_quit (s->loop);
}

void
gdbus_receiver (const Job *job)
{
  GDBusState s = { job, gdbus_open (job, TRUE), g_main_loop_new (NULL, FALSE), 0, FALSE };
  long rss = memory_begin (job);
  guint id;
  double t1;

  id = g_dbus_connection_signal_subscribe (s.connection, NULL, BENCH_IFACE, "Message", BENCH_PATH,
                                           NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                                           gdbus_message_cb, &s, NULL);
  ready_and_wait (job);
  if (job->count > 0)
    g_main_loop_run (s.loop);
  t1 = now ();
  report (job, "T %.9f %ld\n", t1, memory_end (job, rss));
  g_dbus_connection_signal_unsubscribe (s.connection, id);
  g_dbus_connection_close_sync (s.connection, NULL, NULL);
  g_object_unref (s.connection);
  g_main_loop_unref (s.loop);
}

static void
gdbus_ping_cb (GDBusConnection *connection,
               const char      *sender_name,
               const char      *object_path,
               const char      *interface_name,
               const char      *signal_name,
               GVariant        *parameters,
               gpointer         user_data)
{
  GError *error = NULL;

  /* Echo the body back as a Pong; after the client closes this may fail. */
  if (!g_dbus_connection_emit_signal (connection, NULL, BENCH_PATH, BENCH_IFACE, "Pong",
                                      parameters, &error))
    g_clear_error (&error);
}

static void
gdbus_pong_cb (GDBusConnection *connection,
               const char      *sender_name,
               const char      *object_path,
               const char      *interface_name,
               const char      *signal_name,
               GVariant        *parameters,
               gpointer         user_data)
{
  GDBusState *s = user_data;

  s->got_pong = TRUE;
}

static void
gdbus_closed_cb (GDBusConnection *connection,
                 gboolean         remote_peer_vanished,
                 GError          *error,
                 gpointer         user_data)
{
  GDBusState *s = user_data;

  g_main_loop_quit (s->loop);
}

void
gdbus_server (const Job *job)
{
  GDBusState s = { job, gdbus_open (job, TRUE), g_main_loop_new (NULL, FALSE), 0, FALSE };

  g_dbus_connection_signal_subscribe (s.connection, NULL, BENCH_IFACE, "Ping", BENCH_PATH,
                                      NULL, G_DBUS_SIGNAL_FLAGS_NONE, gdbus_ping_cb, &s, NULL);
  g_signal_connect (s.connection, "closed", G_CALLBACK (gdbus_closed_cb), &s);
  ready_and_wait (job);
  if (!g_dbus_connection_is_closed (s.connection))
    g_main_loop_run (s.loop);
  g_object_unref (s.connection);
  g_main_loop_unref (s.loop);
}

void
gdbus_client (const Job *job)
{
  GDBusState s = { job, gdbus_open (job, FALSE), NULL, 0, FALSE };
  guint8 ping[LATENCY_SIZE] = { 0 };
  GError *error = NULL;
  Latencies l;

  g_dbus_connection_signal_subscribe (s.connection, NULL, BENCH_IFACE, "Pong", BENCH_PATH,
                                      NULL, G_DBUS_SIGNAL_FLAGS_NONE, gdbus_pong_cb, &s, NULL);
  ready_and_wait (job);
  latencies_init (&l, job->budget);
  while (latencies_more (&l))
    {
      double t = now ();

      s.got_pong = FALSE;
      if (!g_dbus_connection_emit_signal (s.connection, NULL, BENCH_PATH, BENCH_IFACE, "Ping",
                                          gdbus_body (ping, sizeof ping), &error))
        die ("emit_signal: %s", error->message);
      while (!s.got_pong)
        g_main_context_iteration (NULL, TRUE);
      latencies_add (&l, now () - t);
    }
  latencies_report (&l, job);
  g_dbus_connection_close_sync (s.connection, NULL, NULL);
  g_object_unref (s.connection);
}

/* ------------------------------------------------------------------ */
/* Python multiprocessing.connection, both ends in /usr/bin/python3    */

static void
python_exec (const Job  *job,
             const char *role)
{
  char fd[16], report_fd[16], go_fd[16], size[32], count[32], budget[32];
  int keep[] = { job->fd, job->report_fd, job->go_fd };

  /* The pipes and the socket are close-on-exec; these three cross over. */
  for (gsize i = 0; i < G_N_ELEMENTS (keep); i++)
    if (fcntl (keep[i], F_SETFD, 0) < 0)
      die ("fcntl: %s", g_strerror (errno));
  g_snprintf (fd, sizeof fd, "%d", job->fd);
  g_snprintf (report_fd, sizeof report_fd, "%d", job->report_fd);
  g_snprintf (go_fd, sizeof go_fd, "%d", job->go_fd);
  g_snprintf (size, sizeof size, "%" G_GSIZE_FORMAT, job->size);
  g_snprintf (count, sizeof count, "%" G_GUINT64_FORMAT, job->count);
  g_ascii_dtostr (budget, sizeof budget, job->budget);
  execl (PYTHON, PYTHON, opt_python_script, role, fd, report_fd, go_fd, size, count, budget,
         (char *) NULL);
  die ("exec %s: %s", PYTHON, g_strerror (errno));
}

void
python_sender (const Job *job)
{
  python_exec (job, "send");
}

void
python_receiver (const Job *job)
{
  python_exec (job, "recv");
}

void
python_client (const Job *job)
{
  python_exec (job, "ping");
}

void
python_server (const Job *job)
{
  python_exec (job, "pong");
}

/* ------------------------------------------------------------------ */
/* ZeroMQ PAIR over ipc:// (ZeroMQ cannot adopt a socketpair fd)        */

#ifdef SW_BENCH_HAVE_ZMQ
static void *
zmq_open (const Job *job,
          void     **context,
          gboolean   bind)
{
  void *socket;

  close (job->fd);
  *context = zmq_ctx_new ();
  socket = zmq_socket (*context, ZMQ_PAIR);
  if (socket == NULL)
    die ("zmq_socket: %s", zmq_strerror (zmq_errno ()));
  if ((bind ? zmq_bind (socket, job->endpoint) : zmq_connect (socket, job->endpoint)) != 0)
    die ("zmq bind/connect %s: %s", job->endpoint, zmq_strerror (zmq_errno ()));
  return socket;
}

static void
zmq_finish (void *context,
            void *socket)
{
  /* Default linger: terminating waits until every queued message is out. */
  zmq_close (socket);
  zmq_ctx_term (context);
}

void
zmq_sender (const Job *job)
{
  void *context;
  void *socket = zmq_open (job, &context, FALSE);
  GBytes *message = make_payload (job->size);
  const guint8 *data = g_bytes_get_data (message, NULL);
  double t0;

  ready_and_wait (job);
  t0 = now ();
  for (guint64 i = 0; i < job->count; i++)
    if (zmq_send (socket, data, job->size, 0) < 0)
      die ("zmq_send: %s", zmq_strerror (zmq_errno ()));
  report (job, "T %.9f -1\n", t0);
  /* Closing a PAIR whose peer has not read everything can lose the tail
   * (seen here with 16-byte messages): wait for the receiver's word. */
  if (zmq_recv (socket, NULL, 0, 0) < 0)
    die ("zmq_recv (ack): %s", zmq_strerror (zmq_errno ()));
  zmq_finish (context, socket);
  g_bytes_unref (message);
}

void
zmq_receiver (const Job *job)
{
  void *context;
  void *socket = zmq_open (job, &context, TRUE);
  long rss = memory_begin (job);
  double t1;

  ready_and_wait (job);
  for (guint64 i = 0; i < job->count; i++)
    {
      zmq_msg_t message;

      zmq_msg_init (&message);
      if (zmq_msg_recv (&message, socket, 0) < 0)
        die ("zmq_msg_recv: %s", zmq_strerror (zmq_errno ()));
      if (zmq_msg_size (&message) != job->size)
        die ("zmq receive: wrong size");
      zmq_msg_close (&message);
    }
  t1 = now ();
  report (job, "T %.9f %ld\n", t1, memory_end (job, rss));
  if (zmq_send (socket, "", 0, 0) < 0)
    die ("zmq_send (ack): %s", zmq_strerror (zmq_errno ()));
  zmq_finish (context, socket);
}

void
zmq_server (const Job *job)
{
  void *context;
  void *socket = zmq_open (job, &context, TRUE);

  ready_and_wait (job);
  for (;;)
    {
      zmq_msg_t message;

      zmq_msg_init (&message);
      if (zmq_msg_recv (&message, socket, 0) < 0)
        die ("zmq_msg_recv: %s", zmq_strerror (zmq_errno ()));
      /* PAIR has no EOF: the client ends with an empty message. */
      if (zmq_msg_size (&message) == 0)
        {
          zmq_msg_close (&message);
          break;
        }
      if (zmq_msg_send (&message, socket, 0) < 0)
        die ("zmq_msg_send: %s", zmq_strerror (zmq_errno ()));
    }
  zmq_finish (context, socket);
}

void
zmq_client (const Job *job)
{
  void *context;
  void *socket = zmq_open (job, &context, FALSE);
  guint8 ping[LATENCY_SIZE] = { 0 };
  Latencies l;

  ready_and_wait (job);
  latencies_init (&l, job->budget);
  while (latencies_more (&l))
    {
      double t = now ();
      zmq_msg_t pong;

      if (zmq_send (socket, ping, sizeof ping, 0) < 0)
        die ("zmq_send: %s", zmq_strerror (zmq_errno ()));
      zmq_msg_init (&pong);
      if (zmq_msg_recv (&pong, socket, 0) < 0)
        die ("zmq_msg_recv: %s", zmq_strerror (zmq_errno ()));
      zmq_msg_close (&pong);
      latencies_add (&l, now () - t);
    }
  latencies_report (&l, job);
  if (zmq_send (socket, "", 0, 0) < 0)
    die ("zmq_send: %s", zmq_strerror (zmq_errno ()));
  zmq_finish (context, socket);
}
#endif

