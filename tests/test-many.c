/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Many connections in one main context: async receives pending on all of
 * them share one epoll-backed source per context and priority. Messages
 * reach the right callbacks in order; a cancellable or close() from
 * another thread wakes a pending wait; a closed connection's fd number
 * reused by a new one is not confused with it; priorities still order the
 * context's sources; callbacks may close, free or start waits, or iterate
 * the context, while the shared source dispatches. */

#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <socketwrapper/socketwrapper.h>

#include "sw-fd-watch-private.h"
#include "sw-test-util.h"

#define BOUND (60 * G_USEC_PER_SEC)

typedef struct _Many Many;

/* One connection with a receive pending, and what it got. */
typedef struct
{
  Many         *many;
  guint         index;
  SwConnection *connection;
  int           fd;             /* the connection's fd */
  int           peer;           /* raw fd of the other end */
  GCancellable *cancellable;
  int           io_priority;
  guint         received;       /* messages, each checked in order */
  GError       *error;          /* the receive that ended the slot */
  GThread      *thread;         /* where the last callback ran */
  gboolean      restart;        /* receive again after a message */
  gboolean      pending;        /* a receive is under way */
} Slot;

struct _Many
{
  GMainContext *context;        /* the thread-default one at creation */
  Slot  *slots;
  guint  n;
  guint  n_received;
  guint  n_ended;
  GArray *order;                /* slot indices, in callback order */
  /* re-entrancy hooks */
  void (*on_message) (Slot *slot);
};

/* RLIMIT_NOFILE raised to its hard limit; how many pairs fit, at most
 * @wanted. */
static guint
pairs_that_fit (guint wanted)
{
  struct rlimit lim;
  guint fit;

  g_assert_cmpint (getrlimit (RLIMIT_NOFILE, &lim), ==, 0);
  lim.rlim_cur = lim.rlim_max;
  g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &lim), ==, 0);
  fit = lim.rlim_cur > 128 ? (guint) MIN ((rlim_t) G_MAXUINT, (lim.rlim_cur - 128) / 2) : 0;
  g_assert_cmpuint (fit, >=, 16);
  return MIN (wanted, fit);
}

static guint
epoll_fds (void)
{
  return sw_test_count_open_fds_of ("anon_inode:[eventpoll]");
}

/* Whether the process's (only) epoll instance has @fd registered: its
 * /proc/self/fdinfo lists one "tfd: <fd> events: ..." line per
 * registration, whatever the file behind the number. */
static gboolean
epoll_has_fd (int fd)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  g_autofree char *info = NULL;
  g_autofree char *needle = g_strdup_printf ("tfd: %8d ", fd);
  const char *name;

  g_assert_cmpuint (epoll_fds (), ==, 1);
  while (info == NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename ("/proc/self/fd", name, NULL);
      g_autofree char *target = g_file_read_link (path, NULL);
      g_autofree char *fdinfo = g_build_filename ("/proc/self/fdinfo", name, NULL);

      if (g_strcmp0 (target, "anon_inode:[eventpoll]") == 0)
        g_assert_true (g_file_get_contents (fdinfo, &info, NULL, NULL));
    }
  g_assert_nonnull (info);
  return strstr (info, needle) != NULL;
}

/* The payload of message @k of slot @index. */
static char *
payload_for (guint index,
             guint k)
{
  return g_strdup_printf ("%u:%u", index, k);
}

/* Writes message @k of @slot as a varint frame on its peer. */
static void
peer_send (Slot *slot,
           guint k)
{
  g_autofree char *payload = payload_for (slot->index, k);
  guint8 frame[64];
  gsize header = sw_test_varint_encode (strlen (payload), frame);

  memcpy (frame + header, payload, strlen (payload));
  sw_test_write_all (slot->peer, frame, header + strlen (payload));
}

static void receive_next (Slot *slot);

/* Iterates @many's context (not necessarily the global default one)
 * until @cond holds. */
#define WAIT_UNTIL(many, cond)                          \
  G_STMT_START {                                        \
    while (!(cond))                                     \
      g_main_context_iteration ((many)->context, TRUE); \
  } G_STMT_END

static void
drain (Many *many)
{
  while (g_main_context_iteration (many->context, FALSE))
    ;
}

static void
on_received (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  Slot *slot = user_data;
  GError *error = NULL;
  g_autoptr(GBytes) message = sw_connection_receive_message_finish (SW_CONNECTION (source),
                                                                    result, &error);

  slot->thread = g_thread_self ();
  slot->pending = FALSE;
  g_array_append_val (slot->many->order, slot->index);
  if (message == NULL)
    {
      g_assert_null (slot->error);
      slot->error = error;
      slot->many->n_ended++;
      return;
    }
  {
    g_autofree char *want = payload_for (slot->index, slot->received);

    g_assert_cmpmem (g_bytes_get_data (message, NULL), g_bytes_get_size (message),
                     want, strlen (want));
  }
  slot->received++;
  slot->many->n_received++;
  if (slot->many->on_message != NULL)
    slot->many->on_message (slot);
  if (slot->restart)
    receive_next (slot);
}

static void
receive_next (Slot *slot)
{
  slot->pending = TRUE;
  sw_connection_receive_message_async (slot->connection, slot->io_priority, slot->cancellable,
                                       on_received, slot);
}

static Many *
many_new (guint n)
{
  Many *many = g_new0 (Many, 1);

  many->context = g_main_context_ref_thread_default ();
  many->n = n;
  many->slots = g_new0 (Slot, n);
  many->order = g_array_new (FALSE, FALSE, sizeof (guint));
  for (guint i = 0; i < n; i++)
    {
      Slot *slot = &many->slots[i];
      int fds[2];

      sw_test_raw_socketpair (SOCK_STREAM, fds);
      *slot = (Slot) { .many = many, .index = i, .fd = fds[0], .peer = fds[1], .restart = TRUE,
                       .io_priority = G_PRIORITY_DEFAULT,
                       .cancellable = g_cancellable_new () };
      slot->connection = sw_test_connection_for_socket_fd (fds[0], sw_framing_get_default ());
    }
  return many;
}

static void
many_start (Many *many)
{
  for (guint i = 0; i < many->n; i++)
    receive_next (&many->slots[i]);
}

/* Closes every connection, lets the pending receives end, frees. Slots
 * that already ended stay as they are. */
static void
many_free (Many *many)
{
  for (guint i = 0; i < many->n; i++)
    {
      many->slots[i].restart = FALSE;
      sw_connection_close (many->slots[i].connection, NULL, NULL);
    }
  for (guint i = 0; i < many->n; i++)
    WAIT_UNTIL (many, !many->slots[i].pending);
  for (guint i = 0; i < many->n; i++)
    {
      Slot *slot = &many->slots[i];

      g_object_unref (slot->connection);
      g_object_unref (slot->cancellable);
      close (slot->peer);
      g_clear_error (&slot->error);
    }
  g_array_unref (many->order);
  g_main_context_unref (many->context);
  g_free (many->slots);
  g_free (many);
}

/* ---- many connections, messages to random ones ------------------------ */

static void
many_random (guint threshold)
{
  guint n = pairs_that_fit (sw_test_under_valgrind () ? 200 : 1000);
  guint n_messages = 4 * n, *sent;
  g_autoptr(GRand) rand = g_rand_new_with_seed (13);
  Many *many;

  if (!sw_test_run_bounded (BOUND))
    return;
  sw_fd_watch_set_threshold (threshold);
  many = many_new (n);
  sent = g_new0 (guint, n);
  many_start (many);
  /* One shared source (and epoll instance) serves every wait. */
  drain (many);
  g_assert_cmpuint (epoll_fds (), ==, 1);

  /* Bursts to random connections, several messages at a time, some to the
   * same connection, so one dispatch serves several ready fds. */
  for (guint m = 0; m < n_messages;)
    {
      guint burst = 1 + g_rand_int_range (rand, 0, 16);

      for (guint b = 0; b < burst && m < n_messages; b++, m++)
        {
          guint i = (guint) g_rand_int_range (rand, 0, (gint32) n);

          peer_send (&many->slots[i], sent[i]++);
        }
      WAIT_UNTIL (many, many->n_received == m);
    }
  for (guint i = 0; i < n; i++)
    {
      g_assert_cmpuint (many->slots[i].received, ==, sent[i]);
      g_assert_null (many->slots[i].error);
    }
  g_free (sent);
  many_free (many);
  sw_fd_watch_set_threshold (0);
}

static void
test_many_random (void)
{
  many_random (0);
}

/* With the library's threshold: the first waits of the context have a
 * source of their own, the others share one, and they move over as they
 * wait again. */
static void
test_many_random_mixed (void)
{
  many_random (16);
}

/* ---- cancel and close from another thread ------------------------------ */

typedef struct
{
  pid_t         main_tid;
  Slot         *slot;
  gboolean      close;
} Waker;

static gpointer
waker_thread (gpointer data)
{
  Waker *w = data;

  /* Acts only once the main thread sleeps in the main loop's poll(). */
  sw_test_wait_thread_polling (w->main_tid);
  if (w->close)
    g_assert_true (sw_connection_close (w->slot->connection, NULL, NULL));
  else
    g_cancellable_cancel (w->slot->cancellable);
  return NULL;
}

static void
wake_from_thread (gboolean close)
{
  Many *many;
  Waker w = { sw_test_thread_id (), NULL, close };
  GThread *thread;

  if (!sw_test_can_observe_threads () || !sw_test_run_bounded (BOUND))
    return;
  many = many_new (pairs_that_fit (64));
  many_start (many);
  drain (many);
  w.slot = &many->slots[many->n / 2];
  thread = g_thread_new ("waker", waker_thread, &w);
  WAIT_UNTIL (many, many->n_ended == 1);
  g_thread_join (thread);
  g_assert_nonnull (w.slot->error);
  g_assert_true (g_error_matches (w.slot->error, G_IO_ERROR,
                                  close ? G_IO_ERROR_CLOSED : G_IO_ERROR_CANCELLED));
  /* The others still wait, and still work. */
  peer_send (&many->slots[0], 0);
  peer_send (&many->slots[many->n - 1], 0);
  WAIT_UNTIL (many, many->n_received == 2);
  g_assert_cmpuint (many->n_ended, ==, 1);
  many_free (many);
}

static void
test_many_cancel_from_thread (void)
{
  wake_from_thread (FALSE);
}

static void
test_many_close_from_thread (void)
{
  wake_from_thread (TRUE);
}

/* ---- fd number reuse ------------------------------------------------ */

/* A connection closed with its wait pending, while its open file lives on
 * in a dup: a new connection given the same fd number must get its own
 * registration, not the old one's, and the old wait ends CLOSED. */
static void
test_many_fd_reuse (void)
{
  Many *many;
  Slot *old;
  int keep, fds[2], number;
  SwConnection *reused;
  g_autoptr(GBytes) got = NULL;
  g_autoptr(GError) error = NULL;
  GAsyncResult *result = NULL;

  if (!sw_test_run_bounded (BOUND))
    return;
  many = many_new (4);
  many_start (many);
  drain (many);
  old = &many->slots[1];
  number = old->fd;
  keep = dup (number);
  g_assert_cmpint (keep, >=, 0);
  old->restart = FALSE;
  g_assert_true (epoll_has_fd (number));
  g_assert_true (sw_connection_close (old->connection, NULL, NULL));
  /* Out of the epoll set before its number was closed: afterwards,
   * EPOLL_CTL_DEL could no longer name it, and with the file alive in
   * @keep the registration would stay. */
  g_assert_false (epoll_has_fd (number));
  WAIT_UNTIL (many, many->n_ended == 1);
  g_assert_true (g_error_matches (old->error, G_IO_ERROR, G_IO_ERROR_CLOSED));
  g_assert_false (sw_test_fd_is_open (number));

  /* A new socket at the old number. */
  sw_test_raw_socketpair (SOCK_STREAM, fds);
  if (fds[0] != number)
    {
      g_assert_cmpint (dup2 (fds[0], number), ==, number);
      close (fds[0]);
    }
  reused = sw_test_connection_for_socket_fd (number, sw_framing_get_default ());
  sw_connection_receive_message_async (reused, G_PRIORITY_DEFAULT, NULL,
                                       sw_test_store_result, &result);
  drain (many);
  g_assert_null (result);
  /* The old file becomes readable: nothing of it may reach the new wait. */
  sw_test_write_all (old->peer, "\003old", 4);
  sw_test_write_all (fds[1], "\003new", 4);
  sw_test_iterate_until (&result);
  got = sw_connection_receive_message_finish (reused, result, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (got, NULL), g_bytes_get_size (got), "new", 3);
  g_clear_object (&result);

  /* And the other waits of the context still work. */
  peer_send (&many->slots[2], 0);
  WAIT_UNTIL (many, many->slots[2].received == 1);
  g_assert_cmpuint (many->n_received, ==, 1);

  g_object_unref (reused);
  close (fds[1]);
  close (keep);
  many_free (many);
}

/* ---- two contexts in two threads --------------------------------------- */

typedef struct
{
  GMutex   mutex;
  GCond    cond;
  guint    n_ready;
  guint    n_per_thread;
  guint    rounds;
  Many    *many[2];
} Pair;

static gpointer
context_thread (gpointer data)
{
  Pair *p = data;
  GMainContext *context = g_main_context_new ();
  Many *many;
  guint index;

  g_main_context_push_thread_default (context);
  many = many_new (p->n_per_thread);
  many_start (many);
  drain (many);
  g_mutex_lock (&p->mutex);
  index = p->n_ready++;
  p->many[index] = many;
  g_cond_broadcast (&p->cond);
  g_mutex_unlock (&p->mutex);

  WAIT_UNTIL (many, many->n_received == p->n_per_thread * p->rounds);
  for (guint i = 0; i < many->n; i++)
    {
      g_assert_cmpuint (many->slots[i].received, ==, p->rounds);
      g_assert_true (many->slots[i].thread == g_thread_self ());
    }
  many_free (many);
  g_main_context_pop_thread_default (context);
  g_main_context_unref (context);
  return NULL;
}

static void
test_many_two_contexts (void)
{
  Pair p = { .n_per_thread = pairs_that_fit (sw_test_under_valgrind () ? 100 : 400) / 2,
             .rounds = 3 };
  GThread *threads[2];

  if (!sw_test_run_bounded (BOUND))
    return;
  g_mutex_init (&p.mutex);
  g_cond_init (&p.cond);
  for (guint t = 0; t < 2; t++)
    threads[t] = g_thread_new ("context", context_thread, &p);
  g_mutex_lock (&p.mutex);
  while (p.n_ready < 2)
    g_cond_wait (&p.cond, &p.mutex);
  g_mutex_unlock (&p.mutex);
  /* Interleaved: the two threads dispatch at the same time. */
  for (guint r = 0; r < p.rounds; r++)
    for (guint i = 0; i < p.n_per_thread; i++)
      for (guint t = 0; t < 2; t++)
        peer_send (&p.many[t]->slots[i], r);
  for (guint t = 0; t < 2; t++)
    g_thread_join (threads[t]);
  g_mutex_clear (&p.mutex);
  g_cond_clear (&p.cond);
}

/* ---- priorities --------------------------------------------------------- */

static gboolean
on_idle_marker (gpointer data)
{
  Many *many = data;
  guint marker = G_MAXUINT;

  g_array_append_val (many->order, marker);
  return G_SOURCE_REMOVE;
}

/* A receive at G_PRIORITY_HIGH, an idle at G_PRIORITY_DEFAULT and a
 * receive at G_PRIORITY_LOW, all ready at once, run in that order, as if
 * each wait had a source of its own (another receive waits at
 * G_PRIORITY_LOW, so the low watch exists before the high one). */
static void
test_many_priorities (void)
{
  Many *many = many_new (3);
  GSource *idle = g_idle_source_new ();

  many->slots[0].io_priority = G_PRIORITY_LOW;
  many->slots[1].io_priority = G_PRIORITY_HIGH;
  many->slots[2].io_priority = G_PRIORITY_LOW;
  many->slots[0].restart = many->slots[1].restart = FALSE;
  many_start (many);
  drain (many);
  peer_send (&many->slots[0], 0);
  peer_send (&many->slots[1], 0);
  g_source_set_priority (idle, G_PRIORITY_DEFAULT);
  g_source_set_callback (idle, on_idle_marker, many, NULL);
  g_source_attach (idle, many->context);
  g_source_unref (idle);

  WAIT_UNTIL (many, many->order->len == 3);
  g_assert_cmpuint (g_array_index (many->order, guint, 0), ==, 1);
  g_assert_cmpuint (g_array_index (many->order, guint, 1), ==, G_MAXUINT);
  g_assert_cmpuint (g_array_index (many->order, guint, 2), ==, 0);
  many_free (many);
}

/* ---- re-entrancy -------------------------------------------------------- */

/* The first of slots 0 and 1 to get its message closes the other (whose
 * fd is ready in the same dispatch), then runs the context in a nested
 * loop until slot 2 (also ready) has its message. */
static void
on_message_reenter (Slot *slot)
{
  Many *many = slot->many;

  if (slot->index > 1 || many->slots[0].received + many->slots[1].received > 1)
    return;
  many->slots[1 - slot->index].restart = FALSE;
  g_assert_true (sw_connection_close (many->slots[1 - slot->index].connection, NULL, NULL));
  WAIT_UNTIL (many, many->slots[2].received == 1);
}

static void
test_many_reentrant (void)
{
  Many *many;
  Slot *first, *second;

  if (!sw_test_run_bounded (BOUND))
    return;
  many = many_new (4);
  many->on_message = on_message_reenter;
  many_start (many);
  drain (many);
  peer_send (&many->slots[0], 0);
  peer_send (&many->slots[1], 0);
  peer_send (&many->slots[2], 0);
  WAIT_UNTIL (many, many->slots[2].received == 1 && many->n_ended == 1);
  first = many->slots[0].received == 1 ? &many->slots[0] : &many->slots[1];
  second = &many->slots[1 - first->index];
  g_assert_cmpuint (first->received, ==, 1);
  g_assert_cmpuint (second->received, ==, 0);
  g_assert_true (g_error_matches (second->error, G_IO_ERROR, G_IO_ERROR_CLOSED));
  /* The waits started from the callbacks work. */
  peer_send (first, 1);
  peer_send (&many->slots[2], 1);
  peer_send (&many->slots[3], 0);
  WAIT_UNTIL (many, many->n_received == 5);
  many_free (many);
}

/* ---- a receive and a send waiting on one fd ---------------------------- */

typedef struct
{
  int   fd;
  gsize size;
} Drain;

static gpointer
drain_thread (gpointer data)
{
  Drain *d = data;
  g_autofree guint8 *buf = g_malloc (d->size);

  sw_test_read_all (d->fd, buf, d->size);
  return NULL;
}

static void
test_many_both_directions (void)
{
  Many *many;
  Slot *slot;
  gsize size = 4 * 1024 * 1024;
  g_autoptr(GBytes) big = sw_test_pattern_bytes (size, 7);
  g_autoptr(GError) error = NULL;
  GAsyncResult *sent = NULL;
  guint8 header[9];
  Drain d;
  GThread *thread;

  if (!sw_test_run_bounded (BOUND))
    return;
  many = many_new (3);
  slot = &many->slots[1];
  many_start (many);
  /* The send fills the socket and waits for room on the fd the receive
   * waits to read. */
  sw_connection_send_message_async (slot->connection, big, G_PRIORITY_DEFAULT, NULL,
                                    sw_test_store_result, &sent);
  drain (many);
  g_assert_null (sent);
  peer_send (slot, 0);
  WAIT_UNTIL (many, slot->received == 1);
  g_assert_null (sent);

  d = (Drain) { slot->peer, sw_test_varint_encode (size, header) + size };
  thread = g_thread_new ("drain", drain_thread, &d);
  sw_test_iterate_until (&sent);
  g_thread_join (thread);
  g_assert_true (sw_connection_send_message_finish (slot->connection, sent, &error));
  g_assert_no_error (error);
  g_clear_object (&sent);
  peer_send (slot, 1);
  WAIT_UNTIL (many, slot->received == 2);
  many_free (many);
}

/* ---- fork ---------------------------------------------------------------- */

/* A forked child shares the parent's epoll instance: a wait it wakes (by
 * cancelling, or closing the connection, as a child cleaning up before
 * exec() might) must not take the parent's registration out of it, or
 * the parent's receive never completes. */
static void
test_many_fork_child_wakes (gconstpointer data)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(SwConnection) connection = NULL;
  g_autoptr(GBytes) got = NULL;
  g_autoptr(GError) error = NULL;
  GAsyncResult *result = NULL;
  int fds[2], status;
  pid_t pid;

  if (!sw_test_run_bounded (BOUND))
    return;
  sw_test_raw_socketpair (SOCK_STREAM, fds);
  connection = sw_test_connection_for_socket_fd (fds[0], sw_framing_get_default ());
  sw_connection_receive_message_async (connection, G_PRIORITY_DEFAULT, cancellable,
                                       sw_test_store_result, &result);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_null (result);
  g_assert_true (epoll_has_fd (fds[0]));

  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      if (GPOINTER_TO_INT (data))
        _exit (sw_connection_close (connection, NULL, NULL) ? 0 : 1);
      g_cancellable_cancel (cancellable);
      _exit (0);
    }
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);

  g_assert_true (epoll_has_fd (fds[0]));
  sw_test_write_all (fds[1], "\003abc", 4);
  sw_test_iterate_until (&result);
  got = sw_connection_receive_message_finish (connection, result, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (got, NULL), g_bytes_get_size (got), "abc", 3);
  g_clear_object (&result);
  close (fds[1]);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  /* Every wait shares the context's source, however few there are. */
  sw_fd_watch_set_threshold (0);

  g_test_add_func ("/sw/many/random", test_many_random);
  g_test_add_func ("/sw/many/random-mixed", test_many_random_mixed);
  g_test_add_func ("/sw/many/cancel-from-thread", test_many_cancel_from_thread);
  g_test_add_func ("/sw/many/close-from-thread", test_many_close_from_thread);
  g_test_add_func ("/sw/many/fd-reuse", test_many_fd_reuse);
  g_test_add_func ("/sw/many/two-contexts", test_many_two_contexts);
  g_test_add_func ("/sw/many/priorities", test_many_priorities);
  g_test_add_func ("/sw/many/reentrant", test_many_reentrant);
  g_test_add_func ("/sw/many/both-directions", test_many_both_directions);
  g_test_add_data_func ("/sw/many/fork-child-wakes/cancel", GINT_TO_POINTER (FALSE),
                        test_many_fork_child_wakes);
  g_test_add_data_func ("/sw/many/fork-child-wakes/close", GINT_TO_POINTER (TRUE),
                        test_many_fork_child_wakes);

  return g_test_run ();
}
