/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Streams that misbehave on purpose, within what the GIO contracts allow:
 * short reads and writes, WOULD_BLOCK that an honest source follows,
 * spurious wake-ups and hard errors, each drawn from a seed. They wrap the
 * streams of a real socket, so bytes really cross a kernel buffer and
 * every wait ends when the socket is ready. */
#include <sys/socket.h>

#include "sw-fault-stream.h"
#include "sw-test-util.h"

/* ---- the decisions ---------------------------------------------------- */

typedef enum
{
  FAULT_PASS,
  FAULT_WOULD_BLOCK,
  FAULT_FAIL,
} FaultAction;

/* One direction's faults. A connection moves one direction's bytes from
 * one thread at a time, but is_readable() and create_source() may come
 * from another: the state is locked. */
typedef struct
{
  GMutex         mutex;
  GRand         *rand;        /* protected by @mutex */
  SwFaultConfig  config;      /* read-only after construction */
  guint          n_calls;     /* protected by @mutex */
  guint          burst;       /* protected by @mutex: WOULD_BLOCKs still to come */
  gboolean       spurious;    /* protected by @mutex: the next source fires at once */
  guint          n_faults;    /* protected by @mutex */
} Faults;

static void
faults_init (Faults              *faults,
             const SwFaultConfig *config,
             guint32              seed)
{
  g_mutex_init (&faults->mutex);
  faults->rand = g_rand_new_with_seed (seed);
  faults->config = *config;
}

static void
faults_clear (Faults *faults)
{
  g_rand_free (faults->rand);
  g_mutex_clear (&faults->mutex);
}

static gboolean
chance_unlocked (Faults *faults,
                 guint   percent)
{
  return percent > 0 && (guint) g_rand_int_range (faults->rand, 0, 100) < percent;
}

/* Decides the fate of a call that asks to move *@count bytes, which may
 * shrink. */
static FaultAction
faults_decide (Faults  *faults,
               gsize   *count,
               GError **error)
{
  const SwFaultConfig *config = &faults->config;
  FaultAction action = FAULT_PASS;
  gboolean shortened = FALSE;

  g_mutex_lock (&faults->mutex);
  faults->n_calls++;
  if (config->fail_at != 0 && faults->n_calls >= config->fail_at)
    action = FAULT_FAIL;
  else if (faults->burst > 0)
    {
      faults->burst--;
      action = FAULT_WOULD_BLOCK;
    }
  else if (config->pollable && chance_unlocked (faults, config->block_percent))
    {
      faults->burst = (guint) g_rand_int_range (faults->rand, 0, 8);
      action = FAULT_WOULD_BLOCK;
    }
  else if (config->pollable && chance_unlocked (faults, config->retry_percent))
    {
      faults->spurious = TRUE;
      action = FAULT_WOULD_BLOCK;
    }
  else if (*count > 1 && chance_unlocked (faults, config->short_percent))
    {
      *count = (gsize) g_rand_int_range (faults->rand, 1, (gint32) MIN (*count, 1 << 20));
      shortened = TRUE;
    }
  if (action != FAULT_PASS || shortened)
    faults->n_faults++;
  g_mutex_unlock (&faults->mutex);

  if (action == FAULT_FAIL)
    g_set_error (error, G_IO_ERROR, config->fail_code, "injected fault after %u calls",
                 config->fail_at);
  else if (action == FAULT_WOULD_BLOCK)
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK, "injected would-block");
  return action;
}

/* A source for @stream that fires when @base_source does, or at once after
 * a spurious WOULD_BLOCK. */
static GSource *
faults_source_new (Faults       *faults,
                   GObject      *stream,
                   GSource      *base_source,
                   GCancellable *cancellable)
{
  GSource *source = g_pollable_source_new_full (stream, base_source, cancellable);
  gboolean spurious;

  g_source_unref (base_source);
  g_mutex_lock (&faults->mutex);
  spurious = faults->spurious;
  faults->spurious = FALSE;
  g_mutex_unlock (&faults->mutex);
  if (spurious)
    g_source_set_ready_time (source, 0);
  return source;
}

static guint
faults_get_n_faults (Faults *faults)
{
  guint n;

  g_mutex_lock (&faults->mutex);
  n = faults->n_faults;
  g_mutex_unlock (&faults->mutex);
  return n;
}

/* ---- input ------------------------------------------------------------ */

typedef struct
{
  GInputStream  parent_instance;
  GInputStream *base;
  Faults        faults;
} FaultInput;

typedef struct
{
  GInputStreamClass parent_class;
} FaultInputClass;

static GType fault_input_get_type (void);
G_DEFINE_TYPE (FaultInput, fault_input, G_TYPE_INPUT_STREAM)

static gssize
fault_input_read (GInputStream  *stream,
                  void          *buffer,
                  gsize          count,
                  GCancellable  *cancellable,
                  GError       **error)
{
  FaultInput *self = (FaultInput *) stream;

  if (faults_decide (&self->faults, &count, error) != FAULT_PASS)
    return -1;
  return g_input_stream_read (self->base, buffer, count, cancellable, error);
}

static gboolean
fault_input_close (GInputStream  *stream,
                   GCancellable  *cancellable,
                   GError       **error)
{
  /* The socket closes with the SwFaultStream. */
  return TRUE;
}

static void
fault_input_finalize (GObject *object)
{
  FaultInput *self = (FaultInput *) object;

  g_object_unref (self->base);
  faults_clear (&self->faults);
  G_OBJECT_CLASS (fault_input_parent_class)->finalize (object);
}

static void
fault_input_class_init (FaultInputClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = fault_input_finalize;
  G_INPUT_STREAM_CLASS (klass)->read_fn = fault_input_read;
  G_INPUT_STREAM_CLASS (klass)->close_fn = fault_input_close;
}

static void
fault_input_init (FaultInput *self)
{
}

/* The pollable flavour adds GPollableInputStream. */
typedef FaultInput FaultPollableInput;
typedef FaultInputClass FaultPollableInputClass;

static GType fault_pollable_input_get_type (void);
static void fault_pollable_input_iface_init (GPollableInputStreamInterface *iface);
G_DEFINE_TYPE_WITH_CODE (FaultPollableInput, fault_pollable_input, fault_input_get_type (),
                         G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_INPUT_STREAM,
                                                fault_pollable_input_iface_init))

static gboolean
fault_pollable_input_can_poll (GPollableInputStream *stream)
{
  return TRUE;
}

static gboolean
fault_pollable_input_is_readable (GPollableInputStream *stream)
{
  FaultInput *self = (FaultInput *) stream;

  return g_pollable_input_stream_is_readable (G_POLLABLE_INPUT_STREAM (self->base));
}

static GSource *
fault_pollable_input_create_source (GPollableInputStream *stream,
                                    GCancellable         *cancellable)
{
  FaultInput *self = (FaultInput *) stream;
  GSource *base_source;

  base_source = g_pollable_input_stream_create_source (G_POLLABLE_INPUT_STREAM (self->base),
                                                       NULL);
  return faults_source_new (&self->faults, G_OBJECT (stream), base_source, cancellable);
}

static gssize
fault_pollable_input_read_nonblocking (GPollableInputStream  *stream,
                                       void                  *buffer,
                                       gsize                  count,
                                       GError               **error)
{
  FaultInput *self = (FaultInput *) stream;

  if (faults_decide (&self->faults, &count, error) != FAULT_PASS)
    return -1;
  return g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (self->base),
                                                   buffer, count, NULL, error);
}

static void
fault_pollable_input_iface_init (GPollableInputStreamInterface *iface)
{
  iface->can_poll = fault_pollable_input_can_poll;
  iface->is_readable = fault_pollable_input_is_readable;
  iface->create_source = fault_pollable_input_create_source;
  iface->read_nonblocking = fault_pollable_input_read_nonblocking;
}

static void
fault_pollable_input_class_init (FaultPollableInputClass *klass)
{
}

static void
fault_pollable_input_init (FaultPollableInput *self)
{
}

static GInputStream *
fault_input_new (GInputStream        *base,
                 const SwFaultConfig *config,
                 guint32              seed)
{
  FaultInput *self = g_object_new (config->pollable ? fault_pollable_input_get_type ()
                                                    : fault_input_get_type (),
                                   NULL);

  self->base = g_object_ref (base);
  faults_init (&self->faults, config, seed);
  return G_INPUT_STREAM (self);
}

/* ---- output ----------------------------------------------------------- */

typedef struct
{
  GOutputStream  parent_instance;
  GOutputStream *base;
  Faults         faults;
} FaultOutput;

typedef struct
{
  GOutputStreamClass parent_class;
} FaultOutputClass;

static GType fault_output_get_type (void);
G_DEFINE_TYPE (FaultOutput, fault_output, G_TYPE_OUTPUT_STREAM)

/* GOutputStream's default writev calls this once per vector. */
static gssize
fault_output_write (GOutputStream  *stream,
                    const void     *buffer,
                    gsize           count,
                    GCancellable   *cancellable,
                    GError        **error)
{
  FaultOutput *self = (FaultOutput *) stream;
  GMutex *gate = self->faults.config.gate;

  if (gate != NULL)
    {
      g_mutex_lock (gate);
      g_mutex_unlock (gate);
    }
  if (faults_decide (&self->faults, &count, error) != FAULT_PASS)
    return -1;
  return g_output_stream_write (self->base, buffer, count, cancellable, error);
}

static gboolean
fault_output_close (GOutputStream  *stream,
                    GCancellable   *cancellable,
                    GError        **error)
{
  return TRUE;
}

static void
fault_output_finalize (GObject *object)
{
  FaultOutput *self = (FaultOutput *) object;

  g_object_unref (self->base);
  faults_clear (&self->faults);
  G_OBJECT_CLASS (fault_output_parent_class)->finalize (object);
}

static void
fault_output_class_init (FaultOutputClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = fault_output_finalize;
  G_OUTPUT_STREAM_CLASS (klass)->write_fn = fault_output_write;
  G_OUTPUT_STREAM_CLASS (klass)->close_fn = fault_output_close;
}

static void
fault_output_init (FaultOutput *self)
{
}

typedef FaultOutput FaultPollableOutput;
typedef FaultOutputClass FaultPollableOutputClass;

static GType fault_pollable_output_get_type (void);
static void fault_pollable_output_iface_init (GPollableOutputStreamInterface *iface);
G_DEFINE_TYPE_WITH_CODE (FaultPollableOutput, fault_pollable_output, fault_output_get_type (),
                         G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_OUTPUT_STREAM,
                                                fault_pollable_output_iface_init))

static gboolean
fault_pollable_output_can_poll (GPollableOutputStream *stream)
{
  return TRUE;
}

static gboolean
fault_pollable_output_is_writable (GPollableOutputStream *stream)
{
  FaultOutput *self = (FaultOutput *) stream;

  return g_pollable_output_stream_is_writable (G_POLLABLE_OUTPUT_STREAM (self->base));
}

static GSource *
fault_pollable_output_create_source (GPollableOutputStream *stream,
                                     GCancellable          *cancellable)
{
  FaultOutput *self = (FaultOutput *) stream;
  GSource *base_source;

  base_source = g_pollable_output_stream_create_source (G_POLLABLE_OUTPUT_STREAM (self->base),
                                                        NULL);
  return faults_source_new (&self->faults, G_OBJECT (stream), base_source, cancellable);
}

/* GPollableOutputStream's default writev_nonblocking calls this once per
 * vector. */
static gssize
fault_pollable_output_write_nonblocking (GPollableOutputStream  *stream,
                                         const void             *buffer,
                                         gsize                   count,
                                         GError                **error)
{
  FaultOutput *self = (FaultOutput *) stream;

  if (faults_decide (&self->faults, &count, error) != FAULT_PASS)
    return -1;
  return g_pollable_output_stream_write_nonblocking (G_POLLABLE_OUTPUT_STREAM (self->base),
                                                     buffer, count, NULL, error);
}

static void
fault_pollable_output_iface_init (GPollableOutputStreamInterface *iface)
{
  iface->can_poll = fault_pollable_output_can_poll;
  iface->is_writable = fault_pollable_output_is_writable;
  iface->create_source = fault_pollable_output_create_source;
  iface->write_nonblocking = fault_pollable_output_write_nonblocking;
}

static void
fault_pollable_output_class_init (FaultPollableOutputClass *klass)
{
}

static void
fault_pollable_output_init (FaultPollableOutput *self)
{
}

static GOutputStream *
fault_output_new (GOutputStream       *base,
                  const SwFaultConfig *config,
                  guint32              seed)
{
  FaultOutput *self = g_object_new (config->pollable ? fault_pollable_output_get_type ()
                                                     : fault_output_get_type (),
                                    NULL);

  self->base = g_object_ref (base);
  faults_init (&self->faults, config, seed);
  return G_OUTPUT_STREAM (self);
}

/* ---- the GIOStream ---------------------------------------------------- */

struct _SwFaultStream
{
  GIOStream      parent_instance;
  GIOStream     *base;      /* read-only after construction */
  GInputStream  *input;     /* read-only after construction */
  GOutputStream *output;    /* read-only after construction */
};

G_DEFINE_FINAL_TYPE (SwFaultStream, sw_fault_stream, G_TYPE_IO_STREAM)

static GInputStream *
sw_fault_stream_get_input_stream (GIOStream *stream)
{
  return SW_FAULT_STREAM (stream)->input;
}

static GOutputStream *
sw_fault_stream_get_output_stream (GIOStream *stream)
{
  return SW_FAULT_STREAM (stream)->output;
}

static gboolean
sw_fault_stream_close (GIOStream     *stream,
                       GCancellable  *cancellable,
                       GError       **error)
{
  SwFaultStream *self = SW_FAULT_STREAM (stream);

  g_output_stream_close (self->output, NULL, NULL);
  g_input_stream_close (self->input, NULL, NULL);
  return g_io_stream_close (self->base, cancellable, error);
}

static void
sw_fault_stream_finalize (GObject *object)
{
  SwFaultStream *self = SW_FAULT_STREAM (object);

  g_clear_object (&self->input);
  g_clear_object (&self->output);
  g_clear_object (&self->base);
  G_OBJECT_CLASS (sw_fault_stream_parent_class)->finalize (object);
}

static void
sw_fault_stream_class_init (SwFaultStreamClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = sw_fault_stream_finalize;
  G_IO_STREAM_CLASS (klass)->get_input_stream = sw_fault_stream_get_input_stream;
  G_IO_STREAM_CLASS (klass)->get_output_stream = sw_fault_stream_get_output_stream;
  G_IO_STREAM_CLASS (klass)->close_fn = sw_fault_stream_close;
}

static void
sw_fault_stream_init (SwFaultStream *self)
{
}

SwFaultStream *
sw_fault_stream_new (GIOStream           *base,
                     const SwFaultConfig *input_config,
                     const SwFaultConfig *output_config,
                     guint32              seed)
{
  SwFaultStream *self = g_object_new (SW_TYPE_FAULT_STREAM, NULL);

  self->base = g_object_ref (base);
  /* Distinct but reproducible draws per direction. */
  self->input = fault_input_new (g_io_stream_get_input_stream (base), input_config,
                                 seed * 2654435761u + 1);
  self->output = fault_output_new (g_io_stream_get_output_stream (base), output_config,
                                   seed * 2654435761u + 2);
  return self;
}

static GIOStream *
socket_stream_new (int fd)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = g_socket_new_from_fd (fd, &error);

  g_assert_no_error (error);
  return G_IO_STREAM (g_socket_connection_factory_create_connection (socket));
}

void
sw_fault_stream_pair (const SwFaultConfig  *a_config,
                      const SwFaultConfig  *b_config,
                      guint32               seed,
                      SwFaultStream       **a,
                      SwFaultStream       **b)
{
  g_autoptr(GIOStream) base_a = NULL;
  g_autoptr(GIOStream) base_b = NULL;
  int fds[2];

  sw_test_raw_socketpair (SOCK_STREAM, fds);
  base_a = socket_stream_new (fds[0]);
  base_b = socket_stream_new (fds[1]);
  *a = sw_fault_stream_new (base_a, a_config, a_config, seed);
  *b = sw_fault_stream_new (base_b, b_config, b_config, ~seed);
}

guint
sw_fault_stream_get_n_faults (SwFaultStream *self)
{
  return faults_get_n_faults (&((FaultInput *) self->input)->faults)
         + faults_get_n_faults (&((FaultOutput *) self->output)->faults);
}
