/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Helpers shared by test-async.c and test-async-cancel.c: the results of
 * async calls, message helpers, and threads that block in a sync call, run
 * their own main context or signal one-shot events. */
#pragma once

#include "sw-test-util.h"

G_BEGIN_DECLS

/* Bigger than any default socket buffer, so a send of it cannot finish
 * without the peer reading. */
#define BIG_SIZE (4 * 1024 * 1024)

#define PRIO G_PRIORITY_DEFAULT

/* Iterates @ctx (NULL: the global default context) until @cond holds. */
#define WAIT_UNTIL(ctx, cond)                         \
  G_STMT_START {                                      \
    while (!(cond))                                   \
      g_main_context_iteration ((ctx), TRUE);         \
  } G_STMT_END

/* ---- results of async calls ------------------------------------------- */

typedef struct
{
  int           done;           /* atomic */
  gboolean      ok;
  GBytes       *bytes;          /* receive_* */
  gssize        count;          /* send_bytes */
  GError       *error;
  GThread      *thread;         /* where the callback ran */
  GMainContext *thread_default; /* the thread-default context then */
  gboolean      owned_default;  /* it owned the global default context */
  guint         order;          /* 1-based completion order */
  guint        *counter;        /* shared completion counter, or NULL */
} Result;

void
result_clear (Result *r);

gboolean
result_done (Result *r);

/* One callback for every call: the source tag says which _finish to use,
 * which also checks that each call tags its task. */
void
on_done (GObject      *source,
         GAsyncResult *res,
         gpointer      user_data);

void
assert_message (Result *r,
                GBytes *expected);

void
assert_error (Result *r,
              int     code);

void
receive_async (SwConnection *c,
               GCancellable *cancellable,
               Result       *r);

void
send_async (SwConnection *c,
            GBytes       *message,
            GCancellable *cancellable,
            Result       *r);

/* ---- helpers ---------------------------------------------------------- */

void
make_pair (SwConnection **a,
           SwConnection **b);

GBytes *
text (const char *s);

/* Short distinct messages "m<i>" in @m[@start .. @n-1]. */
void
numbered_messages (GBytes **m,
                   guint    start,
                   guint    n);

void
messages_free (GBytes **m,
               guint    n);

/* Bytes queued in the kernel for @c to read. */
int
pending_input (SwConnection *c);

void
send_sync (SwConnection *c,
           GBytes       *message);

GBytes *
receive_sync (SwConnection *c);

void
assert_receive_sync (SwConnection *c,
                     GBytes       *expected);

/* A one-shot event between threads. */
typedef struct
{
  GMutex   mutex;
  GCond    cond;
  gboolean set;
} Flag;

/* A thread receiving @n messages synchronously (timeout -1). */
typedef struct _Collector Collector;

Collector *
collector_new (SwConnection *connection,
               guint         n);

/* Joins; asserts the messages are @expected, in order. */
void
collector_join (Collector      *c,
                GBytes * const *expected,
                guint           n_expected);

/* ---- a thread blocked in a sync call, known to be queued -------------- */

typedef struct
{
  GThread      *thread;
  SwConnection *connection;
  GBytes       *message;      /* to send; NULL: receive */
  GCancellable *cancellable;
  GBytes       *received;
  GError       *error;
  gboolean      ok;
  pid_t         tid;          /* set before @started */
  guintptr      stack_mark;   /* set before @started */
  Flag          started;
} Blocker;

/* Starts a thread making a blocking receive (@message NULL) or send on
 * @connection and returns once it is queued on the lock. */
Blocker *
blocker_new_full (SwConnection *connection,
                  GBytes       *message,
                  GCancellable *cancellable);

Blocker *
blocker_new (SwConnection *connection,
             GBytes       *message);

void
blocker_join (Blocker *bl);

void
blocker_free (Blocker *bl);

/* ---- a worker thread running its own main context --------------------- */

typedef enum
{
  WORKER_RECEIVE,
  WORKER_SEND,
} WorkerCall;

/* Makes one async call from a thread whose own context is thread-default,
 * signals @queued once the call returned, and runs the context until the
 * call completes. */
typedef struct
{
  GThread      *thread;
  SwConnection *connection;
  WorkerCall    call;
  GBytes       *message;
  gboolean      push_context;
  GMainContext *context;
  GThread      *self;
  Result        result;
  Flag          queued;
} Worker;

Worker *
worker_new (SwConnection *connection,
            WorkerCall    call,
            GBytes       *message,
            gboolean      push_context);

void
worker_join (Worker *w);

void
worker_free (Worker *w);

G_END_DECLS
