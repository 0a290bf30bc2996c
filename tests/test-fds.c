/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* File descriptors passed with messages on UNIX sockets: each fd arrives
 * with exactly the message it was sent with, whatever the reads bring in
 * together; fds nobody asked for are closed; other transports refuse;
 * and multiprocessing.reduction's send_handle/recv_handle wire, against
 * a real Python peer. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <gio/gunixfdlist.h>

#include "sw-test-peer.h"
#include "sw-test-util.h"

/* ---- helpers ---------------------------------------------------------- */

static ino_t
fd_inode (int fd)
{
  struct stat st;

  g_assert_cmpint (fstat (fd, &st), ==, 0);
  return st.st_ino;
}

/* A list of @n duplicates of @fd. */
static GUnixFDList *
fd_list_of (int   fd,
            guint n)
{
  GUnixFDList *list = g_unix_fd_list_new ();

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(GError) error = NULL;

      g_assert_cmpint (g_unix_fd_list_append (list, fd, &error), >=, 0);
      g_assert_no_error (error);
    }
  return list;
}

static GBytes *
bytes_of (const char *text)
{
  return g_bytes_new (text, strlen (text));
}

static void
assert_message (GBytes     *message,
                const char *text)
{
  g_assert_nonnull (message);
  g_assert_cmpmem (g_bytes_get_data (message, NULL), g_bytes_get_size (message),
                   text, strlen (text));
}

/* The message plan: message i carries plan[i] fds (0 = none), each a
 * duplicate of the write end of pipe i, so the receiver can tell by inode
 * which message an fd was sent with. */
static const guint plan[] = { 0, 1, 0, 0, 2, 3, 0, 1 };
#define N_PLAN G_N_ELEMENTS (plan)

typedef struct
{
  int      pipes[N_PLAN][2];
  GBytes  *messages[N_PLAN];
  gsize    big_size;   /* message 4's payload size (large: many reads) */
} Plan;

static void
plan_init (Plan  *p,
           gsize  big_size)
{
  p->big_size = big_size;
  for (guint i = 0; i < N_PLAN; i++)
    {
      g_assert_cmpint (pipe2 (p->pipes[i], O_CLOEXEC), ==, 0);
      if (i == 4 && big_size > 0)
        p->messages[i] = sw_test_pattern_bytes (big_size, i);
      else
        p->messages[i] = g_bytes_new_take (g_strdup_printf ("message %u", i),
                                           strlen ("message 0"));
    }
}

static void
plan_clear (Plan *p)
{
  for (guint i = 0; i < N_PLAN; i++)
    {
      close (p->pipes[i][0]);
      close (p->pipes[i][1]);
      g_bytes_unref (p->messages[i]);
    }
}

static GUnixFDList *
plan_fds (Plan  *p,
          guint  i)
{
  return plan[i] > 0 ? fd_list_of (p->pipes[i][1], plan[i]) : NULL;
}

/* Checks message @i as received, with its fds: the right count, each the
 * write end of pipe i, close-on-exec, and usable. */
static void
plan_check (Plan        *p,
            guint        i,
            GBytes      *message,
            GUnixFDList *fds)
{
  g_assert_nonnull (message);
  g_assert_true (g_bytes_equal (message, p->messages[i]));
  g_assert_nonnull (fds);
  g_assert_cmpint (g_unix_fd_list_get_length (fds), ==, (int) plan[i]);
  for (guint k = 0; k < plan[i]; k++)
    {
      int fd = g_unix_fd_list_get (fds, (int) k, NULL);
      char byte = 0;

      g_assert_cmpuint (fd_inode (fd), ==, fd_inode (p->pipes[i][1]));
      g_assert_true (sw_test_fd_is_cloexec (fd));
      /* The same pipe: a byte written through it comes out of pipe i. */
      g_assert_cmpint (write (fd, "x", 1), ==, 1);
      g_assert_cmpint (read (p->pipes[i][0], &byte, 1), ==, 1);
      g_assert_cmpint (byte, ==, 'x');
      close (fd);
    }
}

/* ---- sync, back to back ----------------------------------------------- */

typedef struct
{
  SwConnection *sender;
  Plan         *plan;
} SendAll;

static gpointer
send_all_thread (gpointer data)
{
  SendAll *s = data;

  for (guint i = 0; i < N_PLAN; i++)
    {
      g_autoptr(GUnixFDList) fds = plan_fds (s->plan, i);
      g_autoptr(GError) error = NULL;

      g_assert_true (sw_connection_send_message_with_fds (s->sender, s->plan->messages[i],
                                                          fds, -1, NULL, &error));
      g_assert_no_error (error);
    }
  return NULL;
}

/* Every message is sent before the first receive (small messages) or by
 * a thread while the receiver reads (a large one in the middle), so reads
 * bring in several messages with fds among them. */
static void
run_back_to_back (gboolean read_ahead,
                  gsize    big_size)
{
  g_autoptr(SwFraming) framing = SW_FRAMING (sw_varint_framing_new ());
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  GThread *thread = NULL;
  SendAll s;
  Plan p;

  plan_init (&p, big_size);
  sw_test_socketpair (framing, &a, &b);
  sw_connection_set_read_ahead (b, read_ahead);
  s.sender = a;
  s.plan = &p;
  if (big_size > 0)
    thread = g_thread_new ("sender", send_all_thread, &s);
  else
    send_all_thread (&s);

  for (guint i = 0; i < N_PLAN; i++)
    {
      g_autoptr(GUnixFDList) fds = NULL;
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) message = sw_connection_receive_message_with_fds (b, &fds, -1,
                                                                          NULL, &error);

      g_assert_no_error (error);
      plan_check (&p, i, message, fds);
    }
  if (thread != NULL)
    g_thread_join (thread);
  plan_clear (&p);
}

static void
test_sync_read_ahead (void)
{
  run_back_to_back (TRUE, 0);
}

static void
test_sync_exact (void)
{
  run_back_to_back (FALSE, 0);
}

static void
test_sync_large_read_ahead (void)
{
  run_back_to_back (TRUE, 3 * 1024 * 1024 + 17);
}

static void
test_sync_large_exact (void)
{
  run_back_to_back (FALSE, 3 * 1024 * 1024 + 17);
}

/* ---- async ------------------------------------------------------------ */

#define FILLER_SIZE (4 * 1024 * 1024)

typedef struct
{
  Plan        *plan;
  guint        sent;
  guint        received;
  gboolean     filler;   /* a large plain message comes first */
  GMainLoop   *loop;
} AsyncState;

static void
on_sent (GObject      *source,
         GAsyncResult *result,
         gpointer      data)
{
  AsyncState *state = data;
  g_autoptr(GError) error = NULL;

  g_assert_true (sw_connection_send_message_with_fds_finish (SW_CONNECTION (source),
                                                             result, &error));
  g_assert_no_error (error);
  state->sent++;
}

static void
on_received (GObject      *source,
             GAsyncResult *result,
             gpointer      data)
{
  AsyncState *state = data;
  g_autoptr(GUnixFDList) fds = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) message = NULL;

  message = sw_connection_receive_message_with_fds_finish (SW_CONNECTION (source), result,
                                                           &fds, &error);
  g_assert_no_error (error);
  if (state->filler)
    {
      g_assert_cmpuint (g_bytes_get_size (message), ==, FILLER_SIZE);
      g_assert_cmpint (g_unix_fd_list_get_length (fds), ==, 0);
      state->filler = FALSE;
    }
  else
    plan_check (state->plan, state->received++, message, fds);
  if (state->received < N_PLAN)
    sw_connection_receive_message_with_fds_async (SW_CONNECTION (source), G_PRIORITY_DEFAULT,
                                                  NULL, on_received, state);
  else
    g_main_loop_quit (state->loop);
}

/* The async sends queue behind each other without a cancellable. With
 * @filler, a large message first fills the socket, so the plan's sends
 * queue behind it and each one granted the lock corks the plain sends
 * queued right behind it into its write (and a send with fds carries
 * the plain ones after it): a frame with fds must still start a write of
 * its own, and that write must carry nothing else. */
static void
run_async (gboolean read_ahead,
           gboolean filler)
{
  g_autoptr(SwFraming) framing = SW_FRAMING (sw_varint_framing_new ());
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  AsyncState state = { 0 };
  Plan p;

  plan_init (&p, 0);
  state.plan = &p;
  state.loop = g_main_loop_new (NULL, FALSE);
  sw_test_socketpair (framing, &a, &b);
  sw_connection_set_read_ahead (b, read_ahead);
  state.filler = filler;
  if (filler)
    {
      g_autoptr(GBytes) big = sw_test_pattern_bytes (FILLER_SIZE, 7);

      sw_connection_send_message_async (a, big, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
    }
  for (guint i = 0; i < N_PLAN; i++)
    {
      g_autoptr(GUnixFDList) fds = plan_fds (&p, i);

      sw_connection_send_message_with_fds_async (a, p.messages[i], fds, G_PRIORITY_DEFAULT,
                                                 NULL, on_sent, &state);
    }
  sw_connection_receive_message_with_fds_async (b, G_PRIORITY_DEFAULT, NULL, on_received,
                                                &state);
  g_main_loop_run (state.loop);
  while (state.sent < N_PLAN)
    g_main_context_iteration (NULL, TRUE);
  g_main_loop_unref (state.loop);
  plan_clear (&p);
}

static void
test_async_read_ahead (void)
{
  run_async (TRUE, FALSE);
}

static void
test_async_exact (void)
{
  run_async (FALSE, FALSE);
}

static void
test_async_corked (void)
{
  run_async (TRUE, TRUE);
}

static void
test_async_corked_exact (void)
{
  run_async (FALSE, TRUE);
}

/* The caller's list changes while its send waits behind a large one:
 * emptied (steal_fds), or grown past the 253 one message may carry, as
 * a caller reusing one list for several sends would. The send passes
 * exactly the fd the list held at the call, and nothing aborts. */
typedef struct
{
  AsyncState   async;    /* on_sent() counts the send in it */
  GBytes      *message;
  GUnixFDList *fds;
} ChangedState;

static void
on_changed_received (GObject      *source,
                     GAsyncResult *result,
                     gpointer      data)
{
  ChangedState *state = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) message = NULL;
  g_autoptr(GUnixFDList) fds = NULL;

  message = sw_connection_receive_message_with_fds_finish (SW_CONNECTION (source), result,
                                                           &fds, &error);
  g_assert_no_error (error);
  if (state->async.filler)
    {
      g_assert_cmpuint (g_bytes_get_size (message), ==, FILLER_SIZE);
      state->async.filler = FALSE;
      sw_connection_receive_message_with_fds_async (SW_CONNECTION (source),
                                                    G_PRIORITY_DEFAULT, NULL,
                                                    on_changed_received, state);
      return;
    }
  state->message = g_steal_pointer (&message);
  state->fds = g_steal_pointer (&fds);
}

static void
run_list_changed (gboolean grow)
{
  g_autoptr(SwFraming) framing = SW_FRAMING (sw_varint_framing_new ());
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GBytes) big = sw_test_pattern_bytes (FILLER_SIZE, 7);
  g_autoptr(GBytes) message = bytes_of ("with fds");
  g_autoptr(GUnixFDList) list = NULL;
  g_autoptr(GError) error = NULL;
  ChangedState state = { 0 };
  int pipe_fds[2];

  g_assert_no_errno (pipe (pipe_fds));
  list = fd_list_of (pipe_fds[0], 1);
  sw_test_socketpair (framing, &a, &b);
  sw_connection_send_message_async (a, big, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
  sw_connection_send_message_with_fds_async (a, message, list, G_PRIORITY_DEFAULT, NULL,
                                             on_sent, &state.async);
  /* The large message fills the socket (nobody reads yet): the send with
   * fds waits behind it while the caller changes the list. */
  if (grow)
    {
      for (guint i = 0; i < 300; i++)
        g_assert_cmpint (g_unix_fd_list_append (list, 0, &error), >=, 0);
      g_assert_no_error (error);
    }
  else
    {
      int n = 0;
      g_autofree int *stolen = g_unix_fd_list_steal_fds (list, &n);

      g_assert_cmpint (n, ==, 1);
      g_assert_no_errno (close (stolen[0]));
    }

  state.async.filler = TRUE;
  sw_connection_receive_message_with_fds_async (b, G_PRIORITY_DEFAULT, NULL,
                                                on_changed_received, &state);
  while (state.async.sent == 0 || state.message == NULL)
    g_main_context_iteration (NULL, TRUE);

  assert_message (state.message, "with fds");
  g_assert_cmpint (g_unix_fd_list_get_length (state.fds), ==, 1);
  g_assert_cmpuint (fd_inode (g_unix_fd_list_peek_fds (state.fds, NULL)[0]), ==,
                    fd_inode (pipe_fds[0]));
  g_bytes_unref (state.message);
  g_object_unref (state.fds);
  close (pipe_fds[0]);
  close (pipe_fds[1]);
}

static void
test_async_list_emptied (void)
{
  run_list_changed (FALSE);
}

static void
test_async_list_grown (void)
{
  run_list_changed (TRUE);
}

/* ---- datagrams -------------------------------------------------------- */

/* Each datagram's fds belong to it. */
static void
run_datagrams (GSocketType type)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GError) error = NULL;
  Plan p;

  plan_init (&p, 0);
  g_assert_true (sw_socketpair (G_SOCKET_FAMILY_UNIX, type, NULL, &a, &b, &error));
  g_assert_no_error (error);
  send_all_thread (&(SendAll) { a, &p });
  for (guint i = 0; i < N_PLAN; i++)
    {
      g_autoptr(GUnixFDList) fds = NULL;
      g_autoptr(GBytes) message = sw_connection_receive_message_with_fds (b, &fds, -1,
                                                                          NULL, &error);

      g_assert_no_error (error);
      plan_check (&p, i, message, fds);
    }
  plan_clear (&p);
}

static void
test_seqpacket (void)
{
  run_datagrams (G_SOCKET_TYPE_SEQPACKET);
}

static void
test_datagram (void)
{
  run_datagrams (G_SOCKET_TYPE_DATAGRAM);
}

/* ---- fds nobody asked for --------------------------------------------- */

static void
receive_expect (SwConnection *connection,
                gboolean      with_fds,
                const char   *text)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GUnixFDList) fds = NULL;
  g_autoptr(GBytes) message = NULL;

  if (with_fds)
    message = sw_connection_receive_message_with_fds (connection, &fds, -1, NULL, &error);
  else
    message = sw_connection_receive_message (connection, -1, NULL, &error);
  g_assert_no_error (error);
  assert_message (message, text);
  if (with_fds)
    g_assert_cmpint (g_unix_fd_list_get_length (fds), ==, 0);
}

/* A socketpair *@a → *@b carrying "lead", "plain", then "with fds" with @n
 * duplicates of a pipe end; *@b has received "lead", asking for fds if
 * @ask. Returns the count of open fds without the @n. With read-ahead,
 * the read that brought "lead" reached the fds: they are queued for their
 * message whether or not "lead" was asked for with fds. */
static guint
three_messages (SwConnection **a,
                SwConnection **b,
                guint          n,
                gboolean       ask)
{
  g_autoptr(SwFraming) framing = SW_FRAMING (sw_varint_framing_new ());
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) lead = bytes_of ("lead");
  g_autoptr(GBytes) plain = bytes_of ("plain");
  g_autoptr(GBytes) with = bytes_of ("with fds");
  guint baseline;
  int fds[2];

  sw_test_socketpair (framing, a, b);
  g_assert_cmpint (pipe2 (fds, O_CLOEXEC), ==, 0);
  g_assert_true (sw_connection_send_message (*a, lead, -1, NULL, &error));
  g_assert_true (sw_connection_send_message (*a, plain, -1, NULL, &error));
  {
    g_autoptr(GUnixFDList) list = fd_list_of (fds[1], n);

    g_assert_true (sw_connection_send_message_with_fds (*a, with, list, -1, NULL, &error));
    g_assert_no_error (error);
  }
  close (fds[0]);
  close (fds[1]);
  baseline = sw_test_count_open_fds ();
  receive_expect (*b, ask, "lead");
  g_assert_cmpuint (sw_test_count_open_fds (), ==, baseline + n);
  return baseline;
}

/* Never asked for fds: they stay queued until a plain receive of their
 * message closes them. */
static void
test_plain_receive_closes (void)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  guint baseline = three_messages (&a, &b, 3, FALSE);

  receive_expect (b, FALSE, "plain");
  g_assert_cmpuint (sw_test_count_open_fds (), ==, baseline + 3);
  receive_expect (b, FALSE, "with fds");
  g_assert_cmpuint (sw_test_count_open_fds (), ==, baseline);
}

/* Plain receives that read ahead into a message with fds leave its fds
 * for it: the first receive that asks for fds gets them all. */
static void
test_plain_receives_then_ask (void)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GUnixFDList) fds = NULL;
  g_autoptr(GBytes) message = NULL;
  g_autoptr(GError) error = NULL;
  guint baseline = three_messages (&a, &b, 3, FALSE);

  receive_expect (b, FALSE, "plain");
  message = sw_connection_receive_message_with_fds (b, &fds, -1, NULL, &error);
  g_assert_no_error (error);
  assert_message (message, "with fds");
  g_assert_cmpint (g_unix_fd_list_get_length (fds), ==, 3);
  g_clear_object (&fds);
  g_assert_cmpuint (sw_test_count_open_fds (), ==, baseline);
}

static void
test_close_with_queued_fds (void)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GError) error = NULL;
  guint baseline = three_messages (&a, &b, 2, TRUE);

  /* Closing b closes its socket and the two queued fds. */
  g_assert_true (sw_connection_close (b, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (sw_test_count_open_fds (), ==, baseline - 1);
}

static void
test_steal_closes_fds (void)
{
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) stolen = NULL;
  guint baseline = three_messages (&a, &b, 2, TRUE);

  stolen = sw_connection_steal_buffered_input (b, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (stolen), ==, 2 + strlen ("plain") + strlen ("with fds"));
  g_assert_cmpuint (sw_test_count_open_fds (), ==, baseline);
}

/* ---- lost fds (MSG_CTRUNC) -------------------------------------------- */

/* The lowest descriptor number free: the next one the kernel gives. */
static int
lowest_free_fd (void)
{
  int fd = dup (0);

  g_assert_cmpint (fd, >=, 0);
  close (fd);
  return fd;
}

/* The receiving process has room for one more descriptor only: the kernel
 * installs what fits and reports MSG_CTRUNC. The message that lost fds
 * fails, the ones that came are closed, the next message is fine. */
static void
test_lost_fds (void)
{
  g_autoptr(SwFraming) framing = SW_FRAMING (sw_varint_framing_new ());
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) message = bytes_of ("lost");
  g_autoptr(GBytes) next = bytes_of ("next");
  g_autoptr(GBytes) got = NULL;
  g_autoptr(GUnixFDList) fds = NULL;
  struct rlimit saved, tight;
  guint baseline;

  sw_test_socketpair (framing, &a, &b);
  /* The thread's wake fd and buffers exist before the limit drops. */
  g_assert_true (sw_connection_send_message (a, next, -1, NULL, &error));
  got = sw_connection_receive_message (b, -1, NULL, &error);
  g_assert_no_error (error);
  g_clear_pointer (&got, g_bytes_unref);
  {
    g_autoptr(GUnixFDList) many = fd_list_of (0, 10);

    g_assert_true (sw_connection_send_message_with_fds (a, message, many, -1, NULL, &error));
    g_assert_no_error (error);
  }
  g_assert_true (sw_connection_send_message (a, next, -1, NULL, &error));
  baseline = sw_test_count_open_fds ();

  g_assert_cmpint (getrlimit (RLIMIT_NOFILE, &saved), ==, 0);
  tight = saved;
  /* Every number below the limit but the lowest free one is taken. */
  tight.rlim_cur = (rlim_t) lowest_free_fd () + 1;
  /* Valgrind emulates the limit: the kernel never sees it lowered. */
  if (g_strrstr (g_getenv ("LD_PRELOAD") ? g_getenv ("LD_PRELOAD") : "", "vgpreload") != NULL)
    {
      g_test_skip ("valgrind does not lower the kernel's descriptor limit");
      return;
    }
  g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &tight), ==, 0);
  got = sw_connection_receive_message_with_fds (b, &fds, -1, NULL, &error);
  g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &saved), ==, 0);

  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_assert_null (got);
  g_assert_null (fds);
  g_assert_cmpuint (sw_test_count_open_fds (), ==, baseline);
  g_clear_error (&error);
  got = sw_connection_receive_message_with_fds (b, &fds, -1, NULL, &error);
  g_assert_no_error (error);
  assert_message (got, "next");
  g_assert_cmpint (g_unix_fd_list_get_length (fds), ==, 0);
}

/* ---- refused ---------------------------------------------------------- */

static void
test_too_many_fds (void)
{
  g_autoptr(SwFraming) framing = SW_FRAMING (sw_varint_framing_new ());
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) message = bytes_of ("many");
  g_autoptr(GUnixFDList) list = fd_list_of (0, 254);
  g_autoptr(GUnixFDList) most = fd_list_of (0, 253);
  g_autoptr(GUnixFDList) got = NULL;
  g_autoptr(GBytes) received = NULL;

  sw_test_socketpair (framing, &a, &b);
  g_assert_false (sw_connection_send_message_with_fds (a, message, list, -1, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  /* Nothing was written. */
  g_assert_null (sw_connection_receive_message (b, 0, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);

  /* 253 go. */
  g_assert_true (sw_connection_send_message_with_fds (a, message, most, -1, NULL, &error));
  g_assert_no_error (error);
  received = sw_connection_receive_message_with_fds (b, &got, -1, NULL, &error);
  g_assert_no_error (error);
  assert_message (received, "many");
  g_assert_cmpint (g_unix_fd_list_get_length (got), ==, 253);
}

/* A send with fds duplicates them at the call: with no descriptor to
 * spare, sync and async calls fail with TOO_MANY_OPEN_FILES before
 * anything is queued or written, and with one to spare the same send
 * goes through and is the only message the peer gets. */
static void
test_out_of_fds (void)
{
  g_autoptr(SwFraming) framing = SW_FRAMING (sw_varint_framing_new ());
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) message = bytes_of ("fd");
  g_autoptr(GUnixFDList) list = fd_list_of (0, 1);
  g_autoptr(GUnixFDList) got = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GBytes) received = NULL;
  struct rlimit saved;

  if (sw_test_under_valgrind ())
    {
      g_test_skip ("valgrind does not lower the kernel's descriptor limit");
      return;
    }
  sw_test_socketpair (framing, &a, &b);
  /* GLib aborts when it cannot make a main context's wake-up fd: the
   * default context and GTask's worker context (which an application has
   * long made) are made while there are descriptors left. */
  g_main_context_iteration (NULL, FALSE);
  g_type_ensure (G_TYPE_TASK);

  sw_test_leave_free_fds (0, &saved);
  g_assert_false (sw_connection_send_message_with_fds (a, message, list, -1, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TOO_MANY_OPEN_FILES);
  g_clear_error (&error);
  sw_connection_send_message_with_fds_async (a, message, list, G_PRIORITY_DEFAULT, NULL,
                                             sw_test_store_result, &result);
  sw_test_iterate_until (&result);
  g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &saved), ==, 0);
  g_assert_false (sw_connection_send_message_with_fds_finish (a, result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TOO_MANY_OPEN_FILES);
  g_clear_error (&error);

  g_assert_true (sw_connection_send_message_with_fds (a, message, list, -1, NULL, &error));
  g_assert_no_error (error);
  received = sw_connection_receive_message_with_fds (b, &got, -1, NULL, &error);
  g_assert_no_error (error);
  assert_message (received, "fd");
  g_assert_cmpint (g_unix_fd_list_get_length (got), ==, 1);
  g_assert_cmpuint (fd_inode (g_unix_fd_list_peek_fds (got, NULL)[0]), ==,
                    fd_inode (g_unix_fd_list_peek_fds (list, NULL)[0]));
  g_clear_pointer (&received, g_bytes_unref);
  received = sw_connection_receive_message (b, 0, NULL, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_null (received);
}

static void
test_not_supported (void)
{
  g_autoptr(SwFraming) framing = SW_FRAMING (sw_varint_framing_new ());
  g_autoptr(SwConnection) reader = NULL;
  g_autoptr(SwConnection) writer = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) message = bytes_of ("pipe");
  g_autoptr(GUnixFDList) list = fd_list_of (0, 1);
  g_autoptr(GUnixFDList) empty = g_unix_fd_list_new ();
  g_autoptr(GUnixFDList) got = NULL;
  g_autoptr(GBytes) received = NULL;

  g_assert_true (sw_pipe (framing, &reader, &writer, &error));
  g_assert_no_error (error);
  g_assert_false (sw_connection_send_message_with_fds (writer, message, list, -1, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  g_clear_error (&error);
  g_assert_null (sw_connection_receive_message_with_fds (reader, &got, -1, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  g_assert_null (got);
  g_clear_error (&error);
  g_assert_cmpint (sw_multiprocessing_send_handle (writer, 0, NULL, &error), ==, FALSE);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  g_clear_error (&error);

  /* No fds given nor asked for: a plain message, on any connection. */
  g_assert_true (sw_connection_send_message_with_fds (writer, message, empty, -1, NULL, &error));
  g_assert_no_error (error);
  received = sw_connection_receive_message_with_fds (reader, NULL, -1, NULL, &error);
  g_assert_no_error (error);
  assert_message (received, "pipe");
}

/* ---- multiprocessing handles: bad input ------------------------------- */

static void
raw_sendmsg (int          fd,
             guint8       byte,
             const int   *fds,
             guint        n_fds)
{
  union { struct cmsghdr align; char buffer[CMSG_SPACE (sizeof (int) * 4)]; } control;
  struct iovec vector = { &byte, 1 };
  struct msghdr msg = { .msg_iov = &vector, .msg_iovlen = 1 };

  if (n_fds > 0)
    {
      struct cmsghdr *cmsg;

      memset (&control, 0, sizeof control);
      msg.msg_control = control.buffer;
      msg.msg_controllen = CMSG_SPACE (sizeof (int) * n_fds);
      cmsg = CMSG_FIRSTHDR (&msg);
      cmsg->cmsg_level = SOL_SOCKET;
      cmsg->cmsg_type = SCM_RIGHTS;
      cmsg->cmsg_len = CMSG_LEN (sizeof (int) * n_fds);
      memcpy (CMSG_DATA (cmsg), fds, sizeof (int) * n_fds);
    }
  g_assert_cmpint (sendmsg (fd, &msg, 0), ==, 1);
}

static void
check_bad_handle (guint8 byte,
                  guint  n_fds)
{
  g_autoptr(SwConnection) conn = NULL;
  g_autoptr(GError) error = NULL;
  int pair[2], fds[4] = { 0, 0, 0, 0 };
  guint baseline;

  sw_test_raw_socketpair (SOCK_STREAM, pair);
  conn = sw_test_connection_for_socket_fd (pair[0], NULL);
  raw_sendmsg (pair[1], byte, fds, n_fds);
  baseline = sw_test_count_open_fds ();
  g_assert_cmpint (sw_multiprocessing_receive_handle (conn, NULL, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_assert_cmpuint (sw_test_count_open_fds (), ==, baseline);
  close (pair[1]);
}

static void
test_handle_bad_input (void)
{
  check_bad_handle (1, 0);   /* the marker without an fd */
  check_bad_handle (2, 1);   /* a count that does not match */
  check_bad_handle (1, 2);   /* two fds where one was expected */
  check_bad_handle (0, 1);   /* an fd with some other byte */
}

/* ---- multiprocessing handles: between ourselves, async ---------------- */

static void
on_handle_sent (GObject      *source,
                GAsyncResult *result,
                gpointer      data)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (sw_multiprocessing_send_handle_finish (SW_CONNECTION (source), result, &error));
  g_assert_no_error (error);
  (*(guint *) data)++;
}

static void
on_handle_received (GObject      *source,
                    GAsyncResult *result,
                    gpointer      data)
{
  g_autoptr(GError) error = NULL;

  *(int *) data = sw_multiprocessing_receive_handle_finish (SW_CONNECTION (source), result,
                                                            &error);
  g_assert_no_error (error);
}

static void
test_handle_async (void)
{
  g_autoptr(SwFraming) framing = SW_FRAMING (sw_multiprocessing_framing_new ());
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) before = bytes_of ("before");
  g_autoptr(GBytes) after = bytes_of ("after");
  g_autoptr(GBytes) got = NULL;
  guint sent = 0;
  int fds[2], received = -2;
  char byte = 0;

  g_assert_cmpint (pipe2 (fds, O_CLOEXEC), ==, 0);
  sw_test_socketpair (framing, &a, &b);
  /* A plain receive comes first, exact: it never reads into the handle's
   * byte (test_plain_receives_then_ask covers read-ahead). */
  sw_connection_set_read_ahead (b, FALSE);
  g_assert_true (sw_connection_send_message (a, before, -1, NULL, &error));
  sw_multiprocessing_send_handle_async (a, fds[1], NULL, on_handle_sent, &sent);
  while (sent == 0)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (sw_connection_send_message (a, after, -1, NULL, &error));
  g_assert_no_error (error);

  got = sw_connection_receive_message (b, -1, NULL, &error);
  assert_message (got, "before");
  g_clear_pointer (&got, g_bytes_unref);
  sw_multiprocessing_receive_handle_async (b, NULL, on_handle_received, &received);
  while (received == -2)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpint (received, >=, 0);
  g_assert_true (sw_test_fd_is_cloexec (received));
  g_assert_cmpuint (fd_inode (received), ==, fd_inode (fds[1]));
  g_assert_cmpint (write (received, "y", 1), ==, 1);
  g_assert_cmpint (read (fds[0], &byte, 1), ==, 1);
  g_assert_cmpint (byte, ==, 'y');
  close (received);
  got = sw_connection_receive_message (b, -1, NULL, &error);
  g_assert_no_error (error);
  assert_message (got, "after");
  close (fds[0]);
  close (fds[1]);
}

/* ---- multiprocessing handles: a Python peer --------------------------- */

static void
test_python_receives_handle (void)
{
  g_autoptr(SwFraming) framing = SW_FRAMING (sw_multiprocessing_framing_new ());
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) text = bytes_of ("written by python");
  g_autoptr(GBytes) reply = NULL;
  SwTestPeer peer;
  char buffer[64];
  int fds[2];

  if (!sw_test_peer_start (&peer, "mp_handle_peer.py", "recv", framing))
    return;
  g_assert_cmpint (pipe2 (fds, O_CLOEXEC), ==, 0);
  g_assert_true (sw_multiprocessing_send_handle (peer.connection, fds[1], NULL, &error));
  g_assert_no_error (error);
  close (fds[1]);
  g_assert_true (sw_connection_send_message (peer.connection, text, -1, NULL, &error));
  g_assert_no_error (error);
  reply = sw_connection_receive_message (peer.connection, -1, NULL, &error);
  g_assert_no_error (error);
  assert_message (reply, "done");
  /* Python wrote through the fd it received and closed it: the pipe's
   * only write end left is gone, so the data is followed by EOF. */
  sw_test_read_all (fds[0], buffer, strlen ("written by python"));
  g_assert_cmpmem (buffer, strlen ("written by python"), "written by python",
                   strlen ("written by python"));
  g_assert_cmpint (read (fds[0], buffer, sizeof buffer), ==, 0);
  close (fds[0]);
  sw_test_peer_finish (&peer);
}

static void
run_python_sends_handle (gboolean read_ahead)
{
  g_autoptr(SwFraming) framing = SW_FRAMING (sw_multiprocessing_framing_new ());
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) after = NULL;
  g_autoptr(GBytes) echo = NULL;
  SwTestPeer peer;
  int fd;

  if (!sw_test_peer_start (&peer, "mp_handle_peer.py", "send", framing))
    return;
  sw_connection_set_read_ahead (peer.connection, read_ahead);
  fd = sw_multiprocessing_receive_handle (peer.connection, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (fd, >=, 0);
  g_assert_true (sw_test_fd_is_cloexec (fd));
  after = sw_connection_receive_message (peer.connection, -1, NULL, &error);
  g_assert_no_error (error);
  assert_message (after, "after-handle");
  sw_test_write_all (fd, "to python", strlen ("to python"));
  close (fd);
  echo = sw_connection_receive_message (peer.connection, -1, NULL, &error);
  g_assert_no_error (error);
  assert_message (echo, "to python");
  sw_test_peer_finish (&peer);
}

static void
test_python_sends_handle (void)
{
  run_python_sends_handle (TRUE);
}

static void
test_python_sends_handle_exact (void)
{
  run_python_sends_handle (FALSE);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/sw/fds/sync/read-ahead", test_sync_read_ahead);
  g_test_add_func ("/sw/fds/sync/exact", test_sync_exact);
  g_test_add_func ("/sw/fds/sync/large-read-ahead", test_sync_large_read_ahead);
  g_test_add_func ("/sw/fds/sync/large-exact", test_sync_large_exact);
  g_test_add_func ("/sw/fds/async/read-ahead", test_async_read_ahead);
  g_test_add_func ("/sw/fds/async/exact", test_async_exact);
  g_test_add_func ("/sw/fds/async/corked", test_async_corked);
  g_test_add_func ("/sw/fds/async/corked-exact", test_async_corked_exact);
  g_test_add_func ("/sw/fds/async/list-emptied", test_async_list_emptied);
  g_test_add_func ("/sw/fds/async/list-grown", test_async_list_grown);
  g_test_add_func ("/sw/fds/seqpacket", test_seqpacket);
  g_test_add_func ("/sw/fds/datagram", test_datagram);
  g_test_add_func ("/sw/fds/plain-receive-closes", test_plain_receive_closes);
  g_test_add_func ("/sw/fds/plain-receives-then-ask", test_plain_receives_then_ask);
  g_test_add_func ("/sw/fds/close-with-queued-fds", test_close_with_queued_fds);
  g_test_add_func ("/sw/fds/steal-closes-fds", test_steal_closes_fds);
  g_test_add_func ("/sw/fds/too-many", test_too_many_fds);
  g_test_add_func ("/sw/fds/lost", test_lost_fds);
  g_test_add_func ("/sw/fds/out-of-fds", test_out_of_fds);
  g_test_add_func ("/sw/fds/not-supported", test_not_supported);
  g_test_add_func ("/sw/fds/handle/bad-input", test_handle_bad_input);
  g_test_add_func ("/sw/fds/handle/async", test_handle_async);
  g_test_add_func ("/sw/fds/handle/python-receives", test_python_receives_handle);
  g_test_add_func ("/sw/fds/handle/python-sends", test_python_sends_handle);
  g_test_add_func ("/sw/fds/handle/python-sends-exact", test_python_sends_handle_exact);

  return g_test_run ();
}
