/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sw-bench's codec-decode section: how fast each codec turns one large
 * message into a value and how much memory it needs meanwhile, at sizes
 * 16 and 64 times apart, so a reader sees whether time and memory per
 * byte stay flat as messages grow.  The shapes are plain ones (small
 * ints, an object, one long string) and the ones that are cheap on the
 * wire but dear in memory: arrays of nil, of empty maps, and of
 * 1-element arrays nested 32 deep (a depth every codec accepts).
 *
 * Every decode runs in a forked child under a CPU-time limit and an
 * RLIMIT_AS cap, so a quadratic codec reads "> N s" and a greedy one "out
 * of memory" instead of hanging the bench or making the machine swap.
 * The parent builds each input before forking, and the child first
 * decodes a small message of the same shape (faulting in code, setting up
 * types): the peak growth (VmHWM after the first real decode minus VmRSS
 * before it) is that decode's own, the decoded value included. */
#include <socketwrapper/socketwrapper.h>

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sw-bench.h"

#define NEST_DEPTH   32
#define KEY_FORMAT   "k%07u"    /* 8 bytes: a MessagePack fixstr (0xa8) */
#define KEY_LENGTH   8
#define MAX_REPS     32
#define MEMORY_CAP   (G_GUINT64_CONSTANT (2) << 30)
#define KILL_SLACK_S 30
#define WARMUP_SIZE  4096

typedef enum
{
  FORMAT_GVARIANT,
  FORMAT_JSON,
  FORMAT_MSGPACK,
  N_FORMATS
} Format;

typedef enum
{
  LAYOUT_ARRAY,
  LAYOUT_OBJECT,
  LAYOUT_STRING,
} Layout;

/* An array or object repeats one element: a scalar inside @depth
 * 1-element arrays.  For an object, the keys are KEY_FORMAT of the index. */
typedef struct
{
  const char *name;
  Layout      layout;
  const char *json;               /* the scalar as JSON text */
  guint8      msgpack;            /* the scalar as one MessagePack byte */
  GVariant *(*gvariant) (void);   /* the scalar as the other codecs decode it */
  guint       depth;
} Shape;

static GVariant *
gvariant_zero (void)
{
  return g_variant_new_int64 (0);
}

static GVariant *
gvariant_nil (void)
{
  return g_variant_new_maybe (G_VARIANT_TYPE_VARIANT, NULL);
}

static GVariant *
gvariant_empty_map (void)
{
  return g_variant_new_array (G_VARIANT_TYPE ("{sv}"), NULL, 0);
}

static const Shape shapes[] = {
  { "array of small ints", LAYOUT_ARRAY, "0", 0x00, gvariant_zero, 0 },
  { "array of nil", LAYOUT_ARRAY, "null", 0xc0, gvariant_nil, 0 },
  { "array of empty maps", LAYOUT_ARRAY, "{}", 0x80, gvariant_empty_map, 0 },
  { "array of [[…[0]…]] 32 deep", LAYOUT_ARRAY, "0", 0x00, gvariant_zero, NEST_DEPTH },
  { "object of small ints", LAYOUT_OBJECT, "0", 0x00, gvariant_zero, 0 },
  { "string", LAYOUT_STRING, NULL, 0, NULL, 0 },
};
#define N_SHAPES G_N_ELEMENTS (shapes)

typedef struct
{
  const char *name;
  Format      format;
  GType     (*codec_type) (void);  /* NULL: sw_connection_receive_json_node() */
} Decoder;

static const Decoder decoders[] = {
  { "SwGVariantCodec", FORMAT_GVARIANT, sw_gvariant_codec_get_type },
  { "SwJsonCodec", FORMAT_JSON, sw_json_codec_get_type },
  { "SwMsgPackCodec", FORMAT_MSGPACK, sw_msgpack_codec_get_type },
  { "receive_json_node", FORMAT_JSON, NULL },
};
#define N_DECODERS G_N_ELEMENTS (decoders)

static const gsize codec_sizes[] = { 64 * 1024, 1024 * 1024, 4 * 1024 * 1024 };
#define N_CODEC_SIZES G_N_ELEMENTS (codec_sizes)

/* ------------------------------------------------------------------ */
/* Inputs                                                              */

static void
append_element (GString     *out,
                Format       format,
                const Shape *shape)
{
  gboolean json = format == FORMAT_JSON;

  for (guint i = 0; i < shape->depth; i++)
    g_string_append_c (out, json ? '[' : (char) 0x91);
  if (json)
    g_string_append (out, shape->json);
  else
    g_string_append_c (out, (char) shape->msgpack);
  for (guint i = 0; json && i < shape->depth; i++)
    g_string_append_c (out, ']');
}

/* A 32-bit MessagePack header: str32, array32 or map32 and its count. */
static void
append_msgpack_header (GString *out,
                       guint8   code,
                       gsize    count)
{
  guint32 be = GUINT32_TO_BE ((guint32) count);

  g_string_append_c (out, (char) code);
  g_string_append_len (out, (const char *) &be, sizeof be);
}

static void
append_string (GString *out,
               Format   format,
               gsize    length)
{
  gsize start;

  if (format == FORMAT_JSON)
    g_string_append_c (out, '"');
  else
    append_msgpack_header (out, 0xdb, length);
  start = out->len;
  g_string_set_size (out, start + length);
  memset (out->str + start, 'a', length);
  if (format == FORMAT_JSON)
    g_string_append_c (out, '"');
}

/* JSON text or MessagePack bytes of @shape, as close to @target bytes as
 * whole elements allow. */
static GBytes *
make_text (Format       format,
           const Shape *shape,
           gsize        target)
{
  gboolean json = format == FORMAT_JSON, object = shape->layout == LAYOUT_OBJECT;
  gsize frame = json ? 2 : 5;   /* [] or {}; array32 or map32 header */
  g_autoptr(GString) element = g_string_new (NULL);
  GString *out = g_string_sized_new (target + 16);
  gsize per, n;

  if (shape->layout == LAYOUT_STRING)
    {
      append_string (out, format, target - frame);
      return g_string_free_to_bytes (out);
    }
  append_element (element, format, shape);
  /* JSON: a comma between elements, quotes and a colon around a key;
   * MessagePack: a fixstr byte before it. */
  per = element->len + (json ? 1 : 0) + (object ? KEY_LENGTH + (json ? 3 : 1) : 0);
  n = (target - frame + (json ? 1 : 0)) / per;
  if (json)
    g_string_append_c (out, object ? '{' : '[');
  else
    append_msgpack_header (out, object ? 0xdf : 0xdd, n);
  for (gsize i = 0; i < n; i++)
    {
      if (json && i > 0)
        g_string_append_c (out, ',');
      if (object && json)
        g_string_append_printf (out, "\"" KEY_FORMAT "\":", (guint) i);
      else if (object)
        g_string_append_printf (out, "%c" KEY_FORMAT, (char) 0xa8, (guint) i);
      g_string_append_len (out, element->str, element->len);
    }
  if (json)
    g_string_append_c (out, object ? '}' : ']');
  return g_string_free_to_bytes (out);
}

static GVariant *
gvariant_element (const Shape *shape)
{
  GVariant *value = g_variant_ref_sink (shape->gvariant ());

  for (guint i = 0; i < shape->depth; i++)
    {
      GVariant *box = g_variant_new_variant (value);
      GVariant *array = g_variant_ref_sink (g_variant_new_array (G_VARIANT_TYPE_VARIANT,
                                                                 &box, 1));

      g_variant_unref (value);
      value = array;
    }
  return value;
}

/* The value the other codecs decode @shape to, with @n elements (or
 * characters): av, a{sv} or s. */
static GVariant *
gvariant_value (const Shape *shape,
                GVariant    *element,
                gsize        n)
{
  GVariantBuilder builder;

  if (shape->layout == LAYOUT_STRING)
    {
      char *text = g_malloc (n + 1);

      memset (text, 'a', n);
      text[n] = '\0';
      return g_variant_ref_sink (g_variant_new_take_string (text));
    }
  g_variant_builder_init (&builder, shape->layout == LAYOUT_OBJECT
                                    ? G_VARIANT_TYPE ("a{sv}") : G_VARIANT_TYPE ("av"));
  for (gsize i = 0; i < n; i++)
    {
      char key[16];

      g_snprintf (key, sizeof key, KEY_FORMAT, (guint) i);
      if (shape->layout == LAYOUT_OBJECT)
        g_variant_builder_add (&builder, "{sv}", key, element);
      else
        g_variant_builder_add (&builder, "v", element);
    }
  return g_variant_ref_sink (g_variant_builder_end (&builder));
}

/* @shape as SwGVariantCodec writes it.  GVariant's offsets widen as a
 * container grows, so the count is scaled twice: from a small sample,
 * then from the first full-size try. */
static GBytes *
make_gvariant (const Shape *shape,
               gsize        target)
{
  g_autoptr(SwCodec) codec = SW_CODEC (sw_gvariant_codec_new ());
  g_autoptr(GVariant) element = shape->gvariant ? gvariant_element (shape) : NULL;
  GBytes *bytes = NULL;
  gsize n = 256;

  for (int round = 0; round < 3; round++)
    {
      g_autoptr(GVariant) value = gvariant_value (shape, element, n);
      GError *error = NULL;

      g_clear_pointer (&bytes, g_bytes_unref);
      bytes = sw_codec_encode (codec, value, &error);
      if (bytes == NULL)
        die ("encoding %s: %s", shape->name, error->message);
      n = MAX (1, (gsize) ((double) n * target / g_bytes_get_size (bytes)));
    }
  return bytes;
}

static GBytes *
make_input (Format       format,
            const Shape *shape,
            gsize        target)
{
  if (format == FORMAT_GVARIANT)
    return make_gvariant (shape, target);
  return make_text (format, shape, target);
}

/* @message in the default framing, as sw_connection_receive_json_node()
 * reads it from the wire. */
static GBytes *
frame (GBytes *message)
{
  g_autoptr(GOutputStream) out = g_memory_output_stream_new_resizable ();
  SwConnection *connection = sw_connection_new_for_streams (NULL, out, sw_framing_get_default ());
  GError *error = NULL;

  if (!sw_connection_send_message (connection, message, -1, NULL, &error))
    die ("framing: %s", error->message);
  g_object_unref (connection);
  if (!g_output_stream_is_closed (out))
    g_output_stream_close (out, NULL, NULL);
  return g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (out));
}

/* ------------------------------------------------------------------ */
/* Child: one decoder, one input                                       */

typedef struct
{
  const Decoder *decoder;
  GBytes        *input;   /* the message or, for receive_json_node, its frame */
  gsize          size;    /* of the message */
  GBytes        *warmup;  /* the same shape, small, in the same form as input */
  int            report_fd;
} Case;

/* The untimed set-up of one decode: a codec, or a connection whose
 * stream holds the frame. */
static gpointer
prepare (const Case *c)
{
  g_autoptr(GInputStream) in = NULL;

  if (c->decoder->codec_type != NULL)
    return g_object_new (c->decoder->codec_type (), NULL);
  in = g_memory_input_stream_new_from_bytes (c->input);
  return sw_connection_new_for_streams (in, NULL, sw_framing_get_default ());
}

static gpointer
decode (const Case *c,
        gpointer    prepared,
        GError    **error)
{
  if (c->decoder->codec_type != NULL)
    return sw_codec_decode (prepared, c->input, error);
  return sw_connection_receive_json_node (prepared, -1, NULL, error);
}

static void
release (const Case *c,
         gpointer    prepared,
         gpointer    result)
{
  if (result != NULL && c->decoder->codec_type != NULL)
    g_variant_unref (result);
  else if (result != NULL)
    json_node_unref (result);
  g_object_unref (prepared);
}

/* A decode of a small message of the same shape faults in the code and
 * initialises the types that the real one needs: the peak is then the
 * decode's memory, not the libraries' pages.  What it freed goes back to
 * the system, or the real decode would reuse it unseen. */
static void
warm_up (const Case *c)
{
  Case warm = *c;
  gpointer prepared;

  warm.input = c->warmup;
  prepared = prepare (&warm);
  release (&warm, prepared, decode (&warm, prepared, NULL));
  malloc_trim (0);
}

/* Decoding is one thread's work: its CPU time, unlike the wall clock,
 * does not depend on what else the machine runs.  The thread's clock, as
 * the process's only advances at scheduler ticks while ITIMER_PROF runs. */
static double
cpu_now (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* SIGPROF, whose default action ends the process, after @seconds of CPU
 * time. */
static void
start_cpu_timer (double seconds)
{
  struct itimerval timer = { { 0, 0 }, { (time_t) seconds,
                                         (suseconds_t) ((seconds - (time_t) seconds) * 1e6) } };

  if (setitimer (ITIMER_PROF, &timer, NULL) < 0)
    die ("setitimer: %s", g_strerror (errno));
}

static void
report_refusal (const Case   *c,
                const GError *error)
{
  GEnumClass *codes = g_type_class_ref (G_TYPE_IO_ERROR_ENUM);
  GEnumValue *code = g_enum_get_value (codes, error->code);
  g_autofree char *line = NULL;

  if (error->domain == G_IO_ERROR && code != NULL)
    line = g_strdup_printf ("E %s\n", code->value_name + strlen ("G_IO_ERROR_"));
  else
    line = g_strdup_printf ("E %s:%d\n", g_quark_to_string (error->domain), error->code);
  write_all (c->report_fd, line, strlen (line));
  fprintf (stderr, "sw-bench: %s refused %" G_GSIZE_FORMAT " B: %s\n", c->decoder->name,
           c->size, error->message);
  g_type_class_unref (codes);
}

static void
report_time (const Case *c,
             double     *times,
             guint       reps,
             long        peak)
{
  double sorted[MAX_REPS];
  char line[96];

  memcpy (sorted, times, reps * sizeof (double));
  g_snprintf (line, sizeof line, "T %.9f %ld\n", median (sorted, reps), peak);
  write_all (c->report_fd, line, strlen (line));
}

/* Decodes once for the peak, then again until @min_time has passed
 * (small messages), and reports the median time of a decode. */
static void
decode_child (const Case *c,
              double      budget_s,
              double      min_time)
{
  struct rlimit cap;
  double times[MAX_REPS], total = 0;
  guint reps = 0;
  long peak = 0;
  gboolean more;

  /* GLib's allocators say "failed to allocate" on stderr before they
   * abort: the parent reads it there to tell memory from a crash. */
  if (dup2 (c->report_fd, STDERR_FILENO) < 0)
    die ("dup2: %s", g_strerror (errno));
  cap.rlim_cur = cap.rlim_max = (rlim_t) proc_status_kib ("VmSize:") * 1024 + MEMORY_CAP;
  if (setrlimit (RLIMIT_AS, &cap) < 0)
    die ("setrlimit: %s", g_strerror (errno));
  start_cpu_timer (budget_s);
  warm_up (c);
  do
    {
      gpointer prepared = prepare (c), result;
      GError *error = NULL;
      long rss = 0;
      double start;

      if (reps == 0)
        {
          reset_peak_rss ();
          rss = proc_status_kib ("VmRSS:");
        }
      start = cpu_now ();
      result = decode (c, prepared, &error);
      times[reps] = cpu_now () - start;
      if (result == NULL)
        {
          report_refusal (c, error);
          return;
        }
      if (reps == 0)
        {
          peak = (proc_status_kib ("VmHWM:") - rss) * 1024;
          report_time (c, times, 1, peak);
        }
      total += times[reps++];
      more = reps < MAX_REPS && total + times[0] < min_time;
      /* The last value is left to _exit(): freeing a large tree takes
       * a while and tells nothing. */
      if (more)
        release (c, prepared, result);
    }
  while (more);
  report_time (c, times, reps, peak);
}

/* ------------------------------------------------------------------ */
/* Parent                                                              */

typedef enum
{
  CELL_OK,
  CELL_REFUSED,
  CELL_SLOW,
  CELL_OOM,
  CELL_CRASHED,
  CELL_NOT_RUN,
} CellState;

typedef struct
{
  CellState state;
  double    seconds;   /* median of one decode; not run: at least this, or 0 for memory */
  long      peak;      /* bytes of peak RSS growth */
  gsize     size;      /* of the message */
  char      detail[48];
} Cell;

/* Decoding cannot take less time per byte as messages grow: a larger
 * message is not worth decoding when the smaller one's time, scaled
 * linearly, already exceeds the budget (and a result at the budget's end
 * would say less than this lower bound), nor after out of memory. */
static gboolean
not_worth_running (const Cell *smaller,
                   gsize       s,
                   double      budget_s,
                   Cell       *cell)
{
  double ratio = (double) codec_sizes[s] / codec_sizes[s - 1];

  cell->state = CELL_NOT_RUN;
  switch (smaller->state)
    {
    case CELL_OK:
      cell->seconds = smaller->seconds * ratio;
      return cell->seconds > budget_s;
    case CELL_SLOW:
      cell->seconds = budget_s * ratio;
      return TRUE;
    case CELL_NOT_RUN:
      cell->seconds = smaller->seconds * ratio;
      return TRUE;
    case CELL_OOM:
      cell->seconds = 0;
      return TRUE;
    case CELL_REFUSED:
    case CELL_CRASHED:
    default:
      return FALSE;
    }
}

/* Everything the child writes, until it exits or, should its timer not
 * stop it, long after its budget (of CPU time: on a busy machine it takes
 * longer on the wall clock). */
static GString *
collect (int    fd,
         pid_t  pid,
         double budget_s)
{
  GString *out = g_string_new (NULL);
  double deadline = now () + 10 * budget_s + KILL_SLACK_S;

  for (;;)
    {
      struct pollfd pfd = { fd, POLLIN, 0 };
      char buf[256];
      ssize_t n;

      if (poll (&pfd, 1, (int) MAX (0, (deadline - now ()) * 1000)) == 0)
        {
          kill (pid, SIGKILL);
          break;
        }
      n = read (fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      g_string_append_len (out, buf, n);
    }
  return out;
}

/* The child's lines: "T seconds peak" after a decode, "E CODE" for a
 * refusal; anything else is its stderr, passed on unless it is GLib
 * running out of memory. */
static void
classify (Cell          *cell,
          const GString *out,
          int            status)
{
  g_auto(GStrv) lines = g_strsplit (out->str, "\n", -1);
  gboolean timed = FALSE, refused = FALSE, oom = FALSE;

  for (char **line = lines; *line != NULL; line++)
    {
      if (g_str_has_prefix (*line, "T ")
          && sscanf (*line, "T %lf %ld", &cell->seconds, &cell->peak) == 2)
        timed = TRUE;
      else if (g_str_has_prefix (*line, "E ") && sscanf (*line, "E %47s", cell->detail) == 1)
        refused = TRUE;
      else if (strstr (*line, "failed to allocate") != NULL)
        oom = TRUE;
      else if (**line != '\0')
        fprintf (stderr, "%s\n", *line);
    }
  if (refused)
    cell->state = CELL_REFUSED;
  else if (timed)
    cell->state = CELL_OK;
  else if (oom)
    cell->state = CELL_OOM;
  else if (WIFSIGNALED (status) && WTERMSIG (status) == SIGPROF)
    cell->state = CELL_SLOW;
  else
    {
      cell->state = CELL_CRASHED;
      if (WIFSIGNALED (status))
        g_snprintf (cell->detail, sizeof cell->detail, "%s", sigabbrev_np (WTERMSIG (status)));
      else
        g_snprintf (cell->detail, sizeof cell->detail, "exit %d", WEXITSTATUS (status));
    }
}

static void
run_case (Case   *c,
          double  budget_s,
          double  min_time,
          Cell   *cell)
{
  g_autoptr(GString) out = NULL;
  int p[2], status;
  pid_t pid;

  if (pipe2 (p, O_CLOEXEC) < 0)
    die ("pipe2: %s", g_strerror (errno));
  fflush (stdout);
  fflush (stderr);
  pid = fork ();
  if (pid < 0)
    die ("fork: %s", g_strerror (errno));
  if (pid == 0)
    {
      close (p[0]);
      c->report_fd = p[1];
      decode_child (c, budget_s, min_time);
      _exit (0);
    }
  close (p[1]);
  out = collect (p[0], pid, budget_s);
  close (p[0]);
  while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
    ;
  cell->size = c->size;
  classify (cell, out, status);
  if (cell->state == CELL_CRASHED)
    fprintf (stderr, "sw-bench: %s on %" G_GSIZE_FORMAT " B crashed (%s)\n", c->decoder->name,
             c->size, cell->detail);
}

/* Every decoder on one shape at one size. */
static void
run_shape_size (const Shape *shape,
                gsize        s,
                double       budget_s,
                double       min_time,
                Cell         cells[N_DECODERS][N_SHAPES][N_CODEC_SIZES])
{
  GBytes *inputs[N_FORMATS] = { NULL }, *warmups[N_FORMATS] = { NULL };
  gsize sh = shape - shapes;

  for (gsize d = 0; d < N_DECODERS; d++)
    {
      const Decoder *decoder = &decoders[d];
      Cell *cell = &cells[d][sh][s];
      g_autoptr(GBytes) framed = NULL, framed_warmup = NULL;
      Case c = { decoder, NULL, 0, NULL, -1 };

      if (s > 0 && not_worth_running (&cell[-1], s, budget_s, cell))
        continue;
      if (inputs[decoder->format] == NULL)
        {
          inputs[decoder->format] = make_input (decoder->format, shape, codec_sizes[s]);
          warmups[decoder->format] = make_input (decoder->format, shape, WARMUP_SIZE);
        }
      c.input = inputs[decoder->format];
      c.warmup = warmups[decoder->format];
      c.size = g_bytes_get_size (c.input);
      if (decoder->codec_type == NULL)
        {
          c.input = framed = frame (c.input);
          c.warmup = framed_warmup = frame (c.warmup);
        }
      run_case (&c, budget_s, min_time, cell);
      fputc ('.', stderr);
    }
  for (gsize f = 0; f < N_FORMATS; f++)
    {
      g_clear_pointer (&inputs[f], g_bytes_unref);
      g_clear_pointer (&warmups[f], g_bytes_unref);
    }
}

/* ------------------------------------------------------------------ */
/* Report                                                              */

static const char *
format_cell (const Cell *cell,
             double      budget_s)
{
  static char buf[64];

  switch (cell->state)
    {
    case CELL_OK:
      g_snprintf (buf, sizeof buf, "%.1f · %.1f×", cell->size / cell->seconds / 1e6,
                  (double) cell->peak / cell->size);
      break;
    case CELL_REFUSED:
      g_snprintf (buf, sizeof buf, "refused (%s)", cell->detail);
      break;
    case CELL_SLOW:
      g_snprintf (buf, sizeof buf, "> %g s", budget_s);
      break;
    case CELL_OOM:
      g_snprintf (buf, sizeof buf, "out of memory");
      break;
    case CELL_CRASHED:
      g_snprintf (buf, sizeof buf, "crashed (%s)", cell->detail);
      break;
    case CELL_NOT_RUN:
    default:
      if (cell->seconds > 0)
        g_snprintf (buf, sizeof buf, "not run (≥ %.0f s)", cell->seconds);
      else
        g_snprintf (buf, sizeof buf, "not run (out of memory)");
      break;
    }
  return buf;
}

/* Throughput at the largest size that decoded over that at the smallest:
 * about 1 when time per byte stays flat, far below when it grows. */
static void
print_growth (const Cell *row,
              gsize       n_sizes)
{
  const Cell *first = NULL, *last = NULL;

  for (gsize s = 0; s < n_sizes; s++)
    if (row[s].state == CELL_OK)
      {
        first = first ? first : &row[s];
        last = &row[s];
      }
  if (first == NULL || first == last)
    printf (" – |\n");
  else
    printf (" %.2f |\n", (last->size / last->seconds) / (first->size / first->seconds));
}

/* The highest peak ÷ size per decoder, and where it ran out of memory. */
static void
print_worst (Cell  cells[N_DECODERS][N_SHAPES][N_CODEC_SIZES],
             gsize n_sizes)
{
  printf ("Worst peak memory ÷ message size:\n\n");
  for (gsize d = 0; d < N_DECODERS; d++)
    {
      const Cell *worst = NULL, *oom = NULL;
      gsize worst_shape = 0, worst_size = 0, oom_shape = 0, oom_size = 0;

      for (gsize sh = 0; sh < N_SHAPES; sh++)
        for (gsize s = 0; s < n_sizes; s++)
          {
            const Cell *cell = &cells[d][sh][s];

            if (cell->state == CELL_OOM && oom == NULL)
              oom = cell, oom_shape = sh, oom_size = s;
            if (cell->state == CELL_OK
                && (worst == NULL || (double) cell->peak / cell->size
                                     > (double) worst->peak / worst->size))
              worst = cell, worst_shape = sh, worst_size = s;
          }
      printf ("- %s:", decoders[d].name);
      if (worst != NULL)
        printf (" %.1f× (%s, %s)", (double) worst->peak / worst->size, shapes[worst_shape].name,
                size_label (codec_sizes[worst_size]));
      if (oom != NULL)
        printf ("; out of memory (> %" G_GUINT64_FORMAT " MiB) on %s, %s", MEMORY_CAP >> 20,
                shapes[oom_shape].name, size_label (codec_sizes[oom_size]));
      if (worst == NULL && oom == NULL)
        printf (" no decode finished");
      printf ("\n");
    }
  printf ("\n");
}

static void
print_codec_table (Cell  cells[N_DECODERS][N_SHAPES][N_CODEC_SIZES],
                   gsize n_sizes,
                   double budget_s)
{
  printf ("## Codec decode: MB/s · peak memory ÷ message size\n\n"
          "One message of about the column's size, decoded in a forked child "
          "(`sw_codec_decode`; receive_json_node: `sw_connection_receive_json_node` "
          "reading the framed message from a memory stream) after a warm-up decode of a "
          "4 KiB one; MB/s from the median CPU time of up to %d decodes, "
          "peak = VmHWM growth during the first, decoded value included. Limits per cell: "
          "%g s of CPU time (ITIMER_PROF), %" G_GUINT64_FORMAT " MiB of address space (RLIMIT_AS); "
          "\"not run (≥ T s)\": the smaller size's time, scaled linearly, exceeds the "
          "limit (T is that lower bound). "
          "Last column: MB/s at the largest size ÷ MB/s at the smallest "
          "(1 = time per byte stays flat).\n\n| codec | shape |",
          MAX_REPS, budget_s, MEMORY_CAP >> 20);
  for (gsize s = 0; s < n_sizes; s++)
    printf (" %s |", size_label (codec_sizes[s]));
  printf (" largest ÷ smallest |\n|---|---|");
  for (gsize s = 0; s < n_sizes; s++)
    printf ("---:|");
  printf ("---:|\n");
  for (gsize d = 0; d < N_DECODERS; d++)
    for (gsize sh = 0; sh < N_SHAPES; sh++)
      {
        printf ("| %s | %s |", decoders[d].name, shapes[sh].name);
        for (gsize s = 0; s < n_sizes; s++)
          printf (" %s |", format_cell (&cells[d][sh][s], budget_s));
        print_growth (cells[d][sh], n_sizes);
      }
  printf ("\n");
}

gboolean
sw_bench_codec_section (gboolean quick)
{
  static Cell cells[N_DECODERS][N_SHAPES][N_CODEC_SIZES];
  gsize n_sizes = quick ? 2 : N_CODEC_SIZES;
  double budget_s = quick ? 0.5 : 2;
  double min_time = quick ? 0.02 : 0.1;
  gboolean ok = TRUE;

  fprintf (stderr, "sw-bench: codecs");
  for (gsize s = 0; s < n_sizes; s++)
    for (gsize sh = 0; sh < N_SHAPES; sh++)
      run_shape_size (&shapes[sh], s, budget_s, min_time, cells);
  fprintf (stderr, "\n");
  print_codec_table (cells, n_sizes, budget_s);
  print_worst (cells, n_sizes);
  for (gsize d = 0; d < N_DECODERS; d++)
    for (gsize sh = 0; sh < N_SHAPES; sh++)
      for (gsize s = 0; s < n_sizes; s++)
        ok = ok && cells[d][sh][s].state != CELL_CRASHED;
  return ok;
}
