/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The shared fd watch: every async wait for an fd's readiness in one main
 * context, at one priority, goes through ONE GSource that polls an epoll
 * instance. GLib polls every source's fds and runs every source's
 * prepare and check on each iteration, so a source per wait makes a
 * wake-up cost O(number of waits); here it costs O(ready fds).
 *
 * - Only when a (context, priority) has more than a few waits (@threshold,
 *   counting those with a source of their own): a shared wait costs two
 *   system calls (arming the fd, and epoll_wait() when it dispatches) that
 *   a source of its own does not, which a wake-up over a few sources
 *   costs less than. Each new wait decides again, so the busy connections
 *   move over as the count grows.
 * - One watch per (context, priority): a wait's io_priority orders it
 *   against the context's other sources exactly as a source of its own
 *   would.
 * - The registry maps (context, priority) to its watch and holds a
 *   reference. A watch stays attached while its context lives (so a busy
 *   connection does not create an epoll instance per message); when the
 *   context is freed, GLib destroys the watch and its callback's destroy
 *   notify takes it out of the registry. Each prepared wait holds a
 *   reference of its own, so a watch outlives its context while a wait
 *   still points to it.
 * - Fds are registered with EPOLLONESHOT: an event disables the fd until a
 *   wait arms it again, so a ready fd nobody waits for never spins. Waits
 *   on one fd (a receive and a send on a socket, or two connections
 *   wrapping one fd) share its registration: the interest masks are
 *   merged. A wait leaving early (woken by a cancellable or close())
 *   takes its interest out of the epoll set before returning, so close()
 *   never closes an fd that is still registered: a reused fd number is
 *   never confused with the old one. An fd whose wait simply completed
 *   stays registered but disabled; if it is closed and its number reused,
 *   EPOLL_CTL_MOD fails with ENOENT (epoll keys on the open file, not the
 *   number) and the new file is added.
 * - Wake-ups from other threads (cancellables, close()) put the wait on
 *   the ready queue and set the watch's ready time to 0.
 * - Dispatch may recurse (a callback running a nested main loop still gets
 *   the other waits served) and serves at most the waits ready when it
 *   started, so other sources of the same priority get their turn.
 * - After fork() a child must not touch the parent's epoll instance
 *   (shared with the parent): a watch made before the last fork is
 *   retired and the child makes its own; waits the child inherited leave
 *   the old watch without changing its epoll set.
 *
 * Locking: @registry_mutex protects the registry; each watch's @mutex
 * protects its fd table, its ready queue and the state, fd list and
 * queue link of its waits. Order: registry_mutex, then a watch's mutex,
 * then the context's own lock (g_source_set_ready_time()). Callbacks run
 * with no lock held. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "sw-fd-watch-private.h"

enum
{
  WAIT_IDLE,
  WAIT_PREPARED,        /* registered, callback not allowed yet */
  WAIT_EARLY,           /* ready or woken before being armed */
  WAIT_ARMED,           /* registered, callback allowed */
  WAIT_QUEUED,          /* on the ready queue */
};

typedef struct
{
  GMainContext *context;
  int           priority;
} WatchKey;

struct _SwFdWatch
{
  GSource     source;
  WatchKey    key;          /* read-only */
  int         epfd;         /* read-only */
  guint       generation;   /* read-only: the fork generation it was made in */
  guint       n_waits;      /* atomic: waits holding a reference */
  GMutex      mutex;
  GHashTable *fds;          /* fd → first SwFdWait; protected by @mutex */
  GQueue      ready;        /* SwFdWait; protected by @mutex */
};

static GMutex      registry_mutex;
static GHashTable *registry;           /* WatchKey → SwFdWatch (a reference) */
static guint       fork_generation;    /* atomic */
static guint       threshold = 16;     /* atomic */

/* ---- epoll registration ------------------------------------------------- */

/* A watch made before the last fork() shares its epoll instance with the
 * parent, keyed on the same open files: a child changing the set would
 * change the parent's (take out the registration of a receive the parent
 * still waits for). The child's waits on it only leave it. */
static gboolean
watch_owns_epoll (const SwFdWatch *watch)
{
  return watch->generation == (guint) g_atomic_int_get (&fork_generation);
}

static guint32
epoll_events_for (GIOCondition condition)
{
  guint32 events = 0;

  if (condition & G_IO_IN)
    events |= EPOLLIN;
  if (condition & G_IO_OUT)
    events |= EPOLLOUT;
  if (condition & G_IO_PRI)
    events |= EPOLLPRI;
  return events;
}

/* Arms @fd for the merged interest of @first and the waits after it. */
static gboolean
watch_arm_fd_unlocked (SwFdWatch *watch,
                       int        fd,
                       SwFdWait  *first)
{
  struct epoll_event event = { .events = EPOLLONESHOT, .data.fd = fd };

  for (SwFdWait *w = first; w != NULL; w = w->next)
    event.events |= epoll_events_for (w->condition);
  g_hash_table_insert (watch->fds, GINT_TO_POINTER (fd), first);
  if (!watch_owns_epoll (watch))
    return TRUE;
  if (epoll_ctl (watch->epfd, EPOLL_CTL_MOD, fd, &event) == 0)
    return TRUE;
  return errno == ENOENT && epoll_ctl (watch->epfd, EPOLL_CTL_ADD, fd, &event) == 0;
}

/* Unlinks @wait from its fd's list; returns the list's new head. */
static SwFdWait *
watch_unlink_unlocked (SwFdWatch *watch,
                       SwFdWait  *wait)
{
  SwFdWait *first = g_hash_table_lookup (watch->fds, GINT_TO_POINTER (wait->fd));
  SwFdWait **p = &first;

  while (*p != NULL && *p != wait)
    p = &(*p)->next;
  if (*p == wait)
    *p = wait->next;
  wait->next = NULL;
  return first;
}

static void
watch_queue_unlocked (SwFdWatch *watch,
                      SwFdWait  *wait)
{
  wait->state = WAIT_QUEUED;
  g_queue_push_tail_link (&watch->ready, &wait->link);
  g_source_set_ready_time (&watch->source, 0);
}

/* @wait is ready (or woken): out of the fd's list, on to the queue, or
 * left for arm() to queue. */
static void
watch_ready_unlocked (SwFdWatch *watch,
                      SwFdWait  *wait)
{
  if (wait->state == WAIT_PREPARED)
    wait->state = WAIT_EARLY;
  else
    watch_queue_unlocked (watch, wait);
}

/* Re-arms the waits left on @fd after some left it. When that fails
 * they are all made ready: each then waits again from scratch. */
static void
watch_rearm_unlocked (SwFdWatch *watch,
                      int        fd,
                      SwFdWait  *first,
                      gboolean   registered)
{
  if (first == NULL)
    {
      g_hash_table_remove (watch->fds, GINT_TO_POINTER (fd));
      /* The fd may already be closed by its owner: nothing to undo then. */
      if (registered && watch_owns_epoll (watch))
        epoll_ctl (watch->epfd, EPOLL_CTL_DEL, fd, NULL);
      return;
    }
  if (watch_arm_fd_unlocked (watch, fd, first))
    return;
  g_hash_table_remove (watch->fds, GINT_TO_POINTER (fd));
  epoll_ctl (watch->epfd, EPOLL_CTL_DEL, fd, NULL);
  while (first != NULL)
    {
      SwFdWait *next = first->next;

      first->next = NULL;
      watch_ready_unlocked (watch, first);
      first = next;
    }
}

/* epoll reported @revents on @fd, which EPOLLONESHOT has now disabled. */
static void
watch_fire_unlocked (SwFdWatch *watch,
                     int        fd,
                     guint32    revents)
{
  SwFdWait *first = g_hash_table_lookup (watch->fds, GINT_TO_POINTER (fd));
  SwFdWait *left = NULL, **tail = &left;

  while (first != NULL)
    {
      SwFdWait *next = first->next;

      first->next = NULL;
      if ((revents & (EPOLLERR | EPOLLHUP)) || (revents & epoll_events_for (first->condition)))
        watch_ready_unlocked (watch, first);
      else
        {
          *tail = first;
          tail = &first->next;
        }
      first = next;
    }
  watch_rearm_unlocked (watch, fd, left, FALSE);
}

/* ---- the source ------------------------------------------------------- */

static gboolean
watch_dispatch (GSource     *source,
                GSourceFunc  callback,
                gpointer     user_data)
{
  SwFdWatch *watch = (SwFdWatch *) source;
  struct epoll_event events[64];
  guint budget;
  int n;

  if (!watch_owns_epoll (watch))
    return G_SOURCE_REMOVE;

  g_mutex_lock (&watch->mutex);
  g_source_set_ready_time (source, -1);
  n = epoll_wait (watch->epfd, events, G_N_ELEMENTS (events), 0);
  for (int i = 0; i < n; i++)
    watch_fire_unlocked (watch, events[i].data.fd, events[i].events);
  budget = watch->ready.length;
  g_mutex_unlock (&watch->mutex);

  /* One wait at a time, so a callback may wake, free or start other
   * waits, or iterate the context, in between. */
  for (; budget > 0; budget--)
    {
      GList *link;
      SwFdWait *wait = NULL;

      g_mutex_lock (&watch->mutex);
      link = g_queue_pop_head_link (&watch->ready);
      if (link != NULL)
        {
          wait = link->data;
          wait->state = WAIT_IDLE;
        }
      g_mutex_unlock (&watch->mutex);
      if (wait == NULL)
        break;
      /* May free @wait. */
      wait->func (wait->user_data);
    }
  return G_SOURCE_CONTINUE;
}

static void
watch_finalize (GSource *source)
{
  SwFdWatch *watch = (SwFdWatch *) source;

  close (watch->epfd);
  g_hash_table_unref (watch->fds);
  g_mutex_clear (&watch->mutex);
}

static GSourceFuncs watch_funcs = {
  .dispatch = watch_dispatch,
  .finalize = watch_finalize,
};

/* ---- the registry ------------------------------------------------------ */

static guint
watch_key_hash (gconstpointer key)
{
  const WatchKey *k = key;

  return g_direct_hash (k->context) ^ (guint) k->priority;
}

static gboolean
watch_key_equal (gconstpointer a,
                 gconstpointer b)
{
  const WatchKey *ka = a, *kb = b;

  return ka->context == kb->context && ka->priority == kb->priority;
}

static void
on_fork_child (void)
{
  g_atomic_int_inc (&fork_generation);
}

/* The context destroyed the watch (it is being freed, or a forked child
 * retired it): out of the registry, unless a newer watch took its place. */
static void
on_watch_destroyed (gpointer data)
{
  SwFdWatch *watch = data;
  gboolean owned;

  g_mutex_lock (&registry_mutex);
  owned = g_hash_table_lookup (registry, &watch->key) == watch;
  if (owned)
    g_hash_table_remove (registry, &watch->key);
  g_mutex_unlock (&registry_mutex);
  if (owned)
    g_source_unref (&watch->source);
}

static gboolean
watch_never_called (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

static SwFdWatch *
watch_new (const WatchKey *key)
{
  int epfd = epoll_create1 (EPOLL_CLOEXEC);
  SwFdWatch *watch;

  if (epfd < 0)
    return NULL;
  watch = (SwFdWatch *) g_source_new (&watch_funcs, sizeof (SwFdWatch));
  watch->key = *key;
  watch->epfd = epfd;
  watch->generation = (guint) g_atomic_int_get (&fork_generation);
  g_mutex_init (&watch->mutex);
  watch->fds = g_hash_table_new (NULL, NULL);
  g_queue_init (&watch->ready);
  g_source_add_unix_fd (&watch->source, epfd, G_IO_IN);
  g_source_set_priority (&watch->source, key->priority);
  g_source_set_can_recurse (&watch->source, TRUE);
  g_source_set_static_name (&watch->source, "[socketwrapper] fd waits");
  /* Its destroy notify is how the registry learns the context is gone. */
  g_source_set_callback (&watch->source, watch_never_called, watch, on_watch_destroyed);
  return watch;
}

/* The watch of (@context, @priority), made on first use; a new reference,
 * or NULL when no epoll instance can be made. */
static SwFdWatch *
watch_get (GMainContext *context,
           int           priority)
{
  static gsize once;
  WatchKey key = { context, priority };
  SwFdWatch *watch, *retired = NULL;

  if (g_once_init_enter (&once))
    {
      registry = g_hash_table_new (watch_key_hash, watch_key_equal);
      pthread_atfork (NULL, NULL, on_fork_child);
      g_once_init_leave (&once, 1);
    }

  g_mutex_lock (&registry_mutex);
  watch = g_hash_table_lookup (registry, &key);
  if (watch != NULL && !watch_owns_epoll (watch))
    {
      g_hash_table_remove (registry, &key);
      retired = g_steal_pointer (&watch);
    }
  if (watch == NULL && (watch = watch_new (&key)) != NULL)
    {
      g_hash_table_insert (registry, &watch->key, watch);
      g_source_attach (&watch->source, context);
    }
  if (watch != NULL)
    g_source_ref (&watch->source);
  g_mutex_unlock (&registry_mutex);

  if (retired != NULL)
    {
      g_source_destroy (&retired->source);
      g_source_unref (&retired->source);
    }
  return watch;
}

/* ---- waits ------------------------------------------------------------ */

gboolean
sw_fd_wait_prepare (SwFdWait     *wait,
                    GMainContext *context,
                    int           priority,
                    int           fd,
                    GIOCondition  condition,
                    SwFdWaitFunc  func,
                    gpointer      user_data)
{
  SwFdWatch *watch = watch_get (context != NULL ? context : g_main_context_default (), priority);
  gboolean ok;

  g_assert (wait->watch == NULL);
  if (watch == NULL)
    return FALSE;
  wait->watch = watch;
  if ((guint) g_atomic_int_add (&watch->n_waits, 1) < (guint) g_atomic_int_get (&threshold))
    return FALSE;

  wait->fd = fd;
  wait->condition = condition;
  wait->func = func;
  wait->user_data = user_data;
  wait->link = (GList) { wait, NULL, NULL };
  g_mutex_lock (&watch->mutex);
  wait->state = WAIT_PREPARED;
  wait->next = g_hash_table_lookup (watch->fds, GINT_TO_POINTER (fd));
  ok = watch_arm_fd_unlocked (watch, fd, wait);
  if (!ok)
    {
      watch_rearm_unlocked (watch, fd, watch_unlink_unlocked (watch, wait), FALSE);
      wait->state = WAIT_IDLE;
    }
  g_mutex_unlock (&watch->mutex);

  if (!ok)
    sw_fd_wait_clear (wait);
  return ok;
}

void
sw_fd_wait_arm (SwFdWait *wait)
{
  SwFdWatch *watch = wait->watch;

  g_mutex_lock (&watch->mutex);
  if (wait->state == WAIT_PREPARED)
    wait->state = WAIT_ARMED;
  else if (wait->state == WAIT_EARLY)
    watch_queue_unlocked (watch, wait);
  g_mutex_unlock (&watch->mutex);
}

/* Takes @wait off its fd, if still on it. */
static gboolean
wait_leave_fd_unlocked (SwFdWait *wait)
{
  SwFdWatch *watch = wait->watch;

  if (wait->state != WAIT_PREPARED && wait->state != WAIT_ARMED)
    return FALSE;
  watch_rearm_unlocked (watch, wait->fd, watch_unlink_unlocked (watch, wait), TRUE);
  return TRUE;
}

void
sw_fd_wait_discard (SwFdWait *wait)
{
  SwFdWatch *watch = wait->watch;

  g_mutex_lock (&watch->mutex);
  wait_leave_fd_unlocked (wait);
  wait->state = WAIT_IDLE;
  g_mutex_unlock (&watch->mutex);
  sw_fd_wait_clear (wait);
}

void
sw_fd_wait_wake (SwFdWait *wait)
{
  SwFdWatch *watch = wait->watch;

  g_mutex_lock (&watch->mutex);
  if (wait_leave_fd_unlocked (wait))
    watch_ready_unlocked (watch, wait);
  g_mutex_unlock (&watch->mutex);
}

void
sw_fd_wait_clear (SwFdWait *wait)
{
  SwFdWatch *watch = g_steal_pointer (&wait->watch);

  if (watch != NULL)
    {
      g_atomic_int_dec_and_test (&watch->n_waits);
      g_source_unref (&watch->source);
    }
}

void
sw_fd_watch_set_threshold (guint n_waits)
{
  g_atomic_int_set (&threshold, n_waits);
}
