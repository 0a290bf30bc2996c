/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <sys/resource.h>
#include <sys/types.h>
#include <socketwrapper/socketwrapper.h>

G_BEGIN_DECLS

/* A GBytes of @size bytes whose content is a pattern derived from @seed,
 * so a receiver can check every byte without keeping a copy. */
GBytes  *sw_test_pattern_bytes (gsize   size,
                                guint32 seed);
gboolean sw_test_pattern_check (GBytes *bytes,
                                guint32 seed);
/* The same pattern written into (or checked in) caller memory. */
void     sw_test_pattern_fill  (guint8       *data,
                                gsize         size,
                                guint32       seed);
gboolean sw_test_pattern_check_data (const guint8 *data,
                                     gsize         size,
                                     guint32       seed);

/* The SQLite4 varint of @value, written independently of the library so
 * tests check the wire format rather than the library against itself.
 * Returns the length (1..9). */
gsize    sw_test_varint_encode (guint64 value,
                                guint8  out[9]);

/* The interpreter for the Python peers ($SW_TEST_PYTHON, else
 * /usr/bin/python3), or NULL when it is not there (the caller skips). */
const char *sw_test_get_python (void);
/* Path of a file beside the tests in the source tree (free it). */
char    *sw_test_get_script    (const char *name);

/* fcntl() helpers: flags of an fd (assert the fd is open). */
gboolean sw_test_fd_is_nonblocking (int fd);
gboolean sw_test_fd_is_cloexec     (int fd);
gboolean sw_test_fd_is_open        (int fd);

/* Raw blocking I/O on a peer fd that the library does not own (works on
 * O_NONBLOCK fds too: waits with poll). Both assert on failure, so only
 * call them from the main test thread of the test process. */
void     sw_test_write_all (int           fd,
                            const void   *data,
                            gsize         size);
void     sw_test_read_all  (int           fd,
                            void         *data,
                            gsize         size);

/* A connected AF_UNIX socketpair of @type, blocking, close-on-exec. */
void     sw_test_raw_socketpair (int type,
                                 int fds[2]);
/* A connection owning @fd through a GSocket. */
SwConnection *sw_test_connection_for_socket_fd (int        fd,
                                                SwFraming *framing);

/* Which system call another thread sleeps in, read from
 * /proc/self/task/<tid>/syscall: how a test knows, without any timing
 * assumption, that a thread it started is blocked before it acts. On Linux
 * the file must be readable (the test fails otherwise); elsewhere
 * can_observe skips the test and returns FALSE. */
pid_t    sw_test_thread_id              (void);
gboolean sw_test_can_observe_threads    (void);
/* Returns once thread @tid sleeps in poll() or ppoll(): the sync driver
 * waiting for I/O. Fails the test if the thread ends first. */
void     sw_test_wait_thread_polling    (pid_t    tid);
/* Returns once thread @tid sleeps in futex() on an address of its own
 * stack within 1 MiB below @stack_mark (an address in a frame of the
 * thread that encloses the call). A blocking waiter of a connection's FIFO
 * lock is the only thing in the test threads that waits on a futex of its
 * stack (the waiter's GCond lives in the waiting frame), so this says "the
 * thread is queued on the lock". */
void     sw_test_wait_thread_queued     (pid_t    tid,
                                         guintptr stack_mark);

/* A thread sending @n_messages messages one after the other with timeout
 * -1; join returns whether all were sent (the first error otherwise). */
typedef struct _SwTestSender SwTestSender;
SwTestSender *sw_test_sender_new  (SwConnection  *connection,
                                   GBytes * const *messages,
                                   guint          n_messages);
gboolean      sw_test_sender_join (SwTestSender  *sender,
                                   GError       **error);
/* Returns once the sender waits in poll() for room to write. */
void          sw_test_sender_wait_polling (SwTestSender *sender);

/* A thread blocked in sw_connection_receive_message (timeout -1). new
 * returns once the thread is about to call receive (it may not be blocked
 * yet: wait_polling says when it is); join returns the receive's result. */
typedef struct _SwTestReceiver SwTestReceiver;
SwTestReceiver *sw_test_receiver_new  (SwConnection   *connection,
                                       GCancellable   *cancellable);
GBytes         *sw_test_receiver_join (SwTestReceiver *receiver,
                                       GError        **error);
/* Returns once the receiver holds the receive lock and waits in poll()
 * for data. */
void            sw_test_receiver_wait_polling (SwTestReceiver *receiver);

/* Two connected connections over a UNIX stream socketpair, with
 * @framing; asserts on failure. */
void     sw_test_socketpair     (SwFraming      *framing,
                                 SwConnection  **a,
                                 SwConnection  **b);
/* A GAsyncReadyCallback storing a reference on its result in the
 * GAsyncResult * that @user_data points to (which must be NULL), and
 * the wait for it in the thread-default main context. */
void     sw_test_store_result   (GObject        *source,
                                 GAsyncResult   *result,
                                 gpointer        user_data);
void     sw_test_iterate_until  (GAsyncResult  **result);
/* How many descriptors this process has open (/proc/self/fd). */
guint    sw_test_count_open_fds (void);
/* How many of them are of @kind, the start of their /proc/self/fd link
 * ("pipe:", "socket:"): GLib's threads keep eventfds of their own, which
 * come and go. */
guint    sw_test_count_open_fds_of (const char *kind);
/* Runs the current test case in a subprocess bounded by @bound_us, so a
 * case that hangs fails instead of stalling the suite. Returns TRUE in
 * the subprocess (the caller runs the case), FALSE in the parent (which
 * has recorded the outcome). With SW_TEST_DIRECT set in the environment
 * the case runs in the test process itself, to run it under valgrind:
 * SW_TEST_DIRECT=1 valgrind test-x -p PATH. */
gboolean sw_test_run_bounded    (gint64          bound_us);

/* Sends @size bytes as raw bytes on @connection, blocking; asserts they
 * all went. */
void     sw_test_send_raw (SwConnection *connection,
                           const void   *data,
                           gsize         size);

/* Whether the test runs under valgrind, where a test runs fewer rounds. */
gboolean sw_test_under_valgrind (void);

/* Lowers RLIMIT_NOFILE so that exactly @n descriptor numbers are free
 * below it; *@saved gets the limit to restore. */
void     sw_test_leave_free_fds (guint          n,
                                 struct rlimit *saved);

/* Iterates the thread-default main context until @cond holds. */
#define SW_TEST_WAIT_UNTIL(cond)                      \
  G_STMT_START {                                      \
    while (!(cond))                                   \
      g_main_context_iteration (NULL, TRUE);          \
  } G_STMT_END

/* Whether a TLS backend is there; records a failure when not (the TLS
 * tests need glib-networking). */
gboolean         sw_test_have_tls            (void);
/* The test service's certificate and key, tests/tls-server.pem. */
GTlsCertificate *sw_test_load_server_certificate (void);
/* A sw_connect_async() callback for a connect that must fail: stores the
 * error in the GError ** @user_data. */
void             sw_test_on_connect_failed   (GObject      *source,
                                              GAsyncResult *result,
                                              gpointer      user_data);

/* A framing written in C without a fast path: the default framing's
 * public functions behind the interface's vfuncs. */
#define SW_TEST_TYPE_PLAIN_FRAMING (sw_test_plain_framing_get_type ())
G_DECLARE_FINAL_TYPE (SwTestPlainFraming, sw_test_plain_framing, SW_TEST, PLAIN_FRAMING, GObject)

G_END_DECLS
