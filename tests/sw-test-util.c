/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "sw-test-util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static guint8
pattern_byte (gsize   i,
              guint32 seed)
{
  guint32 x = (guint32) i * 2654435761u ^ seed;

  return (guint8) (x >> 24);
}

GBytes *
sw_test_pattern_bytes (gsize   size,
                       guint32 seed)
{
  guint8 *data = g_malloc (size ? size : 1);

  for (gsize i = 0; i < size; i++)
    data[i] = pattern_byte (i, seed);
  return g_bytes_new_take (data, size);
}

gboolean
sw_test_pattern_check (GBytes  *bytes,
                       guint32  seed)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (bytes, &size);

  for (gsize i = 0; i < size; i++)
    if (data[i] != pattern_byte (i, seed))
      return FALSE;
  return TRUE;
}

void
sw_test_pattern_fill (guint8  *data,
                      gsize    size,
                      guint32  seed)
{
  for (gsize i = 0; i < size; i++)
    data[i] = pattern_byte (i, seed);
}

gboolean
sw_test_pattern_check_data (const guint8 *data,
                            gsize         size,
                            guint32       seed)
{
  for (gsize i = 0; i < size; i++)
    if (data[i] != pattern_byte (i, seed))
      return FALSE;
  return TRUE;
}

gsize
sw_test_varint_encode (guint64 value,
                       guint8  out[9])
{
  gsize n = 3;

  if (value <= 240)
    {
      out[0] = (guint8) value;
      return 1;
    }
  if (value <= 2287)
    {
      out[0] = (guint8) ((value - 240) / 256 + 241);
      out[1] = (guint8) ((value - 240) % 256);
      return 2;
    }
  if (value <= 67823)
    {
      out[0] = 249;
      out[1] = (guint8) ((value - 2288) >> 8);
      out[2] = (guint8) ((value - 2288) & 0xff);
      return 3;
    }
  while (n < 8 && (value >> (8 * n)) != 0)
    n++;
  out[0] = (guint8) (247 + n);
  for (gsize i = 0; i < n; i++)
    out[1 + i] = (guint8) (value >> (8 * (n - 1 - i)));
  return n + 1;
}

const char *
sw_test_get_python (void)
{
  const char *python = g_getenv ("SW_TEST_PYTHON");

  if (python == NULL || *python == '\0')
    python = "/usr/bin/python3";
  if (!g_file_test (python, G_FILE_TEST_IS_EXECUTABLE))
    return NULL;
  return python;
}

char *
sw_test_get_script (const char *name)
{
  if (g_getenv ("G_TEST_SRCDIR") != NULL)
    return g_test_build_filename (G_TEST_DIST, name, NULL);
  return g_build_filename (SW_TEST_SRCDIR, name, NULL);
}

gboolean
sw_test_fd_is_nonblocking (int fd)
{
  int flags = fcntl (fd, F_GETFL);

  g_assert_cmpint (flags, !=, -1);
  return (flags & O_NONBLOCK) != 0;
}

gboolean
sw_test_fd_is_cloexec (int fd)
{
  int flags = fcntl (fd, F_GETFD);

  g_assert_cmpint (flags, !=, -1);
  return (flags & FD_CLOEXEC) != 0;
}

gboolean
sw_test_fd_is_open (int fd)
{
  return fcntl (fd, F_GETFD) != -1;
}

static void
wait_fd (int   fd,
         short events)
{
  struct pollfd pfd = { .fd = fd, .events = events };
  int ret;

  do
    ret = poll (&pfd, 1, -1);
  while (ret == -1 && errno == EINTR);
  g_assert_cmpint (ret, ==, 1);
}

void
sw_test_write_all (int         fd,
                   const void *data,
                   gsize       size)
{
  const guint8 *p = data;

  while (size > 0)
    {
      gssize n = write (fd, p, size);

      if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
        {
          wait_fd (fd, POLLOUT);
          continue;
        }
      if (n == -1 && errno == EINTR)
        continue;
      g_assert_cmpint (n, >, 0);
      p += n;
      size -= (gsize) n;
    }
}

void
sw_test_read_all (int   fd,
                  void *data,
                  gsize size)
{
  guint8 *p = data;

  while (size > 0)
    {
      gssize n = read (fd, p, size);

      if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
        {
          wait_fd (fd, POLLIN);
          continue;
        }
      if (n == -1 && errno == EINTR)
        continue;
      g_assert_cmpint (n, >, 0);
      p += n;
      size -= (gsize) n;
    }
}

void
sw_test_raw_socketpair (int type,
                        int fds[2])
{
  g_assert_cmpint (socketpair (AF_UNIX, type | SOCK_CLOEXEC, 0, fds), ==, 0);
}

SwConnection *
sw_test_connection_for_socket_fd (int        fd,
                                  SwFraming *framing)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = g_socket_new_from_fd (fd, &error);

  g_assert_no_error (error);
  return sw_connection_new (socket, framing);
}

/* Observing threads */

pid_t
sw_test_thread_id (void)
{
  return (pid_t) syscall (SYS_gettid);
}

/* The number of the system call thread @tid sleeps in and its first
 * argument; FALSE when the thread runs or has ended. */
static gboolean
thread_syscall (pid_t    tid,
                long    *nr,
                guint64 *arg0)
{
  char path[64];
  g_autofree char *contents = NULL;
  char *end;

  g_snprintf (path, sizeof path, "/proc/self/task/%d/syscall", (int) tid);
  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return FALSE;
  *nr = strtol (contents, &end, 10);
  if (end == contents || *end != ' ')
    return FALSE;
  *arg0 = g_ascii_strtoull (end + 1, NULL, 16);
  return TRUE;
}

gboolean
sw_test_can_observe_threads (void)
{
#ifdef __linux__
  char path[64];
  g_autofree char *contents = NULL;
  g_autoptr(GError) error = NULL;

  g_snprintf (path, sizeof path, "/proc/self/task/%d/syscall",
              (int) sw_test_thread_id ());
  g_assert_true (g_file_get_contents (path, &contents, NULL, &error));
  g_assert_no_error (error);
  /* The reading thread itself is running: "running", or a number when the
   * kernel reports the read in progress. Either proves the file works. */
  g_assert_true (g_ascii_isdigit (contents[0]) || g_str_has_prefix (contents, "running"));
  return TRUE;
#else
  g_test_skip ("needs /proc/self/task/*/syscall (Linux)");
  return FALSE;
#endif
}

/* The thread's directory disappears when it ends: then it can never block
 * and waiting for it would hang. */
static void
assert_thread_alive (pid_t tid)
{
  char path[64];

  g_snprintf (path, sizeof path, "/proc/self/task/%d", (int) tid);
  if (!g_file_test (path, G_FILE_TEST_IS_DIR))
    g_error ("thread %d ended before it blocked", (int) tid);
}

void
sw_test_wait_thread_polling (pid_t tid)
{
  long nr;
  guint64 arg0;

  g_assert_true (sw_test_can_observe_threads ());
  while (!thread_syscall (tid, &nr, &arg0) || (nr != SYS_poll && nr != SYS_ppoll))
    {
      assert_thread_alive (tid);
      g_thread_yield ();
    }
}

void
sw_test_wait_thread_queued (pid_t    tid,
                            guintptr stack_mark)
{
  long nr;
  guint64 uaddr;

  g_assert_true (sw_test_can_observe_threads ());
  while (!thread_syscall (tid, &nr, &uaddr) || nr != SYS_futex
         || uaddr >= stack_mark || stack_mark - uaddr >= 1024 * 1024)
    {
      assert_thread_alive (tid);
      g_thread_yield ();
    }
}

/* A thread start handshake: the new thread publishes its id. */
typedef struct
{
  GMutex mutex;
  GCond  cond;
  pid_t  tid;       /* 0 until the thread runs */
} ThreadStart;

static void
thread_start_init (ThreadStart *start)
{
  g_mutex_init (&start->mutex);
  g_cond_init (&start->cond);
  start->tid = 0;
}

static void
thread_start_publish (ThreadStart *start)
{
  g_mutex_lock (&start->mutex);
  start->tid = sw_test_thread_id ();
  g_cond_signal (&start->cond);
  g_mutex_unlock (&start->mutex);
}

static void
thread_start_wait (ThreadStart *start)
{
  g_mutex_lock (&start->mutex);
  while (start->tid == 0)
    g_cond_wait (&start->cond, &start->mutex);
  g_mutex_unlock (&start->mutex);
}

static void
thread_start_clear (ThreadStart *start)
{
  g_mutex_clear (&start->mutex);
  g_cond_clear (&start->cond);
}

/* Sender thread */

struct _SwTestSender
{
  GThread *thread;
  SwConnection *connection;
  GPtrArray *messages;
  ThreadStart start;
  GError *error;
};

static gpointer
sender_thread (gpointer data)
{
  SwTestSender *sender = data;

  thread_start_publish (&sender->start);
  for (guint i = 0; i < sender->messages->len; i++)
    if (!sw_connection_send_message (sender->connection,
                                     g_ptr_array_index (sender->messages, i),
                                     -1, NULL, &sender->error))
      break;
  return NULL;
}

SwTestSender *
sw_test_sender_new (SwConnection   *connection,
                    GBytes * const *messages,
                    guint           n_messages)
{
  SwTestSender *sender = g_new0 (SwTestSender, 1);

  sender->connection = g_object_ref (connection);
  sender->messages = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  for (guint i = 0; i < n_messages; i++)
    g_ptr_array_add (sender->messages, g_bytes_ref (messages[i]));
  thread_start_init (&sender->start);
  sender->thread = g_thread_new ("sw-test-sender", sender_thread, sender);
  thread_start_wait (&sender->start);
  return sender;
}

void
sw_test_sender_wait_polling (SwTestSender *sender)
{
  sw_test_wait_thread_polling (sender->start.tid);
}

gboolean
sw_test_sender_join (SwTestSender  *sender,
                     GError       **error)
{
  gboolean ok;

  g_thread_join (sender->thread);
  ok = sender->error == NULL;
  if (!ok)
    g_propagate_error (error, sender->error);
  g_ptr_array_unref (sender->messages);
  g_object_unref (sender->connection);
  thread_start_clear (&sender->start);
  g_free (sender);
  return ok;
}

/* Receiver thread */

struct _SwTestReceiver
{
  GThread *thread;
  SwConnection *connection;
  GCancellable *cancellable;
  ThreadStart start;
  GBytes *result;
  GError *error;
};

static gpointer
receiver_thread (gpointer data)
{
  SwTestReceiver *receiver = data;

  thread_start_publish (&receiver->start);
  receiver->result = sw_connection_receive_message (receiver->connection, -1,
                                                    receiver->cancellable,
                                                    &receiver->error);
  return NULL;
}

SwTestReceiver *
sw_test_receiver_new (SwConnection *connection,
                      GCancellable *cancellable)
{
  SwTestReceiver *receiver = g_new0 (SwTestReceiver, 1);

  receiver->connection = g_object_ref (connection);
  receiver->cancellable = cancellable ? g_object_ref (cancellable) : NULL;
  thread_start_init (&receiver->start);
  receiver->thread = g_thread_new ("sw-test-receiver", receiver_thread, receiver);
  thread_start_wait (&receiver->start);
  return receiver;
}

void
sw_test_receiver_wait_polling (SwTestReceiver *receiver)
{
  sw_test_wait_thread_polling (receiver->start.tid);
}

GBytes *
sw_test_receiver_join (SwTestReceiver  *receiver,
                       GError         **error)
{
  GBytes *result;

  g_thread_join (receiver->thread);
  result = receiver->result;
  if (receiver->error != NULL)
    g_propagate_error (error, receiver->error);
  g_clear_object (&receiver->cancellable);
  g_object_unref (receiver->connection);
  thread_start_clear (&receiver->start);
  g_free (receiver);
  return result;
}

void
sw_test_socketpair (SwFraming     *framing,
                    SwConnection **a,
                    SwConnection **b)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (sw_socketpair (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, framing,
                                a, b, &error));
  g_assert_no_error (error);
}

guint
sw_test_count_open_fds (void)
{
  return sw_test_count_open_fds_of (NULL);
}

guint
sw_test_count_open_fds_of (const char *kind)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  const char *name;
  guint n = 0;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = NULL;
      g_autofree char *target = NULL;

      if (kind == NULL)
        {
          n++;
          continue;
        }
      path = g_build_filename ("/proc/self/fd", name, NULL);
      target = g_file_read_link (path, NULL);
      if (target != NULL && g_str_has_prefix (target, kind))
        n++;
    }
  return n;
}

gboolean
sw_test_run_bounded (gint64 bound_us)
{
  if (g_test_subprocess () || g_getenv ("SW_TEST_DIRECT") != NULL)
    return TRUE;
  g_test_trap_subprocess (NULL, (guint64) bound_us, G_TEST_SUBPROCESS_INHERIT_STDOUT
                                                    | G_TEST_SUBPROCESS_INHERIT_STDERR);
  if (!g_test_trap_has_passed ())
    g_test_fail_printf ("the case failed or hung (bound %d s)",
                        (int) (bound_us / G_USEC_PER_SEC));
  return FALSE;
}

gboolean
sw_test_under_valgrind (void)
{
  const char *preload = g_getenv ("LD_PRELOAD");

  return preload != NULL && strstr (preload, "vgpreload") != NULL;
}

void
sw_test_send_raw (SwConnection *connection,
                  const void   *data,
                  gsize         size)
{
  g_autoptr(GBytes) bytes = g_bytes_new (data, size);
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (sw_connection_send_bytes (connection, bytes, -1, NULL, &error), ==, size);
  g_assert_no_error (error);
}

gboolean
sw_test_have_tls (void)
{
  if (g_tls_backend_supports_tls (g_tls_backend_get_default ()))
    return TRUE;
  g_test_fail_printf ("No TLS backend: install glib-networking (GnuTLS)");
  return FALSE;
}

GTlsCertificate *
sw_test_load_server_certificate (void)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "tls-server.pem", NULL);
  g_autoptr(GError) error = NULL;
  GTlsCertificate *certificate = g_tls_certificate_new_from_file (path, &error);

  g_assert_no_error (error);
  return certificate;
}

void
sw_test_on_connect_failed (GObject      *source,
                           GAsyncResult *result,
                           gpointer      user_data)
{
  GError **error = user_data;
  g_autoptr(SwConnection) connection = sw_connect_finish (result, error);

  g_assert_null (connection);
  g_assert_nonnull (*error);
}

void
sw_test_store_result (GObject      *source,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  GAsyncResult **out = user_data;

  g_assert_null (*out);
  *out = g_object_ref (result);
}

void
sw_test_iterate_until (GAsyncResult **result)
{
  while (*result == NULL)
    g_main_context_iteration (g_main_context_get_thread_default (), TRUE);
}

/* ---- a framing written in C ------------------------------------------- */

/* A framing written in C without a fast path: the default framing's
 * public functions behind the interface's vfuncs. */

struct _SwTestPlainFraming
{
  GObject parent_instance;
};

static SwFramingResult
plain_framing_decode (SwFraming     *framing,
                      const guint8  *data,
                      gsize          length,
                      guint64       *state,
                      gsize         *header_length,
                      guint64       *payload_length,
                      gsize         *trailer_length,
                      gsize         *needed,
                      GError       **error)
{
  return sw_framing_decode (sw_framing_get_default (), data, length, state, header_length,
                            payload_length, trailer_length, needed, error);
}

static gboolean
plain_framing_encode (SwFraming  *framing,
                      GBytes     *payload,
                      GBytes    **header,
                      GBytes    **trailer,
                      GError    **error)
{
  return sw_framing_encode (sw_framing_get_default (), payload, header, trailer, error);
}

static void
sw_test_plain_framing_iface_init (SwFramingInterface *iface)
{
  iface->decode = plain_framing_decode;
  iface->encode = plain_framing_encode;
}

G_DEFINE_FINAL_TYPE_WITH_CODE (SwTestPlainFraming, sw_test_plain_framing, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (SW_TYPE_FRAMING,
                                                      sw_test_plain_framing_iface_init))

static void
sw_test_plain_framing_class_init (SwTestPlainFramingClass *klass)
{
}

static void
sw_test_plain_framing_init (SwTestPlainFraming *self)
{
}

void
sw_test_leave_free_fds (guint          n,
                        struct rlimit *saved)
{
  struct rlimit tight;
  int fd = 0;

  g_assert_cmpint (getrlimit (RLIMIT_NOFILE, saved), ==, 0);
  for (guint free = 0; free < n || fcntl (fd, F_GETFD) >= 0; fd++)
    if (fcntl (fd, F_GETFD) < 0)
      free++;
  tight = *saved;
  tight.rlim_cur = (rlim_t) fd;
  g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &tight), ==, 0);
}
