/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* SwService and sw_connect() against hostile and careless peers: TLS
 * clients that stop half-way or reset the connection mid-handshake,
 * hundreds of idle clients, a service stopped and dropped with
 * handshakes in flight, ::connection handlers that drop or close what
 * they get, connects cancelled at each stage, and a server name whose
 * first address refuses. Every case ends with no descriptor left open. */
#include <errno.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <socketwrapper/socketwrapper.h>

#include "sw-test-util.h"

#define PRIO G_PRIORITY_DEFAULT

#define WAIT_UNTIL SW_TEST_WAIT_UNTIL

/* ---- a service -------------------------------------------------------- */

typedef enum
{
  KEEP,      /* the handler keeps the connection */
  DROP,      /* takes no reference */
  CLOSE,     /* closes it at once */
} Keep;

typedef struct
{
  SwService      *service;
  GSocketAddress *address;
  GTlsDatabase   *ca;
  Keep            keep;
  GPtrArray      *kept;
  guint           accepted;
  guint           incoming;
  guint           n_errors;
  GError         *error;
} Service;

static void
on_connection (SwService    *service,
               SwConnection *connection,
               Service      *s)
{
  g_autoptr(GError) error = NULL;

  s->accepted++;
  if (s->keep == KEEP)
    g_ptr_array_add (s->kept, g_object_ref (connection));
  else if (s->keep == CLOSE)
    {
      g_assert_true (sw_connection_close (connection, NULL, &error));
      g_assert_no_error (error);
    }
}

static void
on_error (SwService *service,
          GError    *error,
          Service   *s)
{
  s->n_errors++;
  g_clear_error (&s->error);
  s->error = g_error_copy (error);
}

static gboolean
on_incoming (GSocketService    *service,
             GSocketConnection *connection,
             GObject           *source,
             Service           *s)
{
  s->incoming++;
  return FALSE;
}

static void
service_init (Service  *s,
              gboolean  tls,
              Keep      keep)
{
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GError) error = NULL;

  memset (s, 0, sizeof *s);
  s->keep = keep;
  s->kept = g_ptr_array_new_with_free_func (g_object_unref);
  s->service = sw_service_new (sw_framing_get_default ());
  g_socket_listener_set_backlog (G_SOCKET_LISTENER (s->service), 1024);
  if (tls)
    {
      g_autoptr(GTlsCertificate) certificate = sw_test_load_server_certificate ();
      g_autofree char *ca = g_test_build_filename (G_TEST_DIST, "tls-ca.pem", NULL);

      sw_service_set_tls_certificate (s->service, certificate);
      s->ca = g_tls_file_database_new (ca, &error);
      g_assert_no_error (error);
    }
  g_assert_true (g_socket_listener_add_address (G_SOCKET_LISTENER (s->service), address,
                                                G_SOCKET_TYPE_STREAM,
                                                G_SOCKET_PROTOCOL_DEFAULT, NULL,
                                                &s->address, &error));
  g_assert_no_error (error);
  g_signal_connect (s->service, "connection", G_CALLBACK (on_connection), s);
  g_signal_connect (s->service, "error", G_CALLBACK (on_error), s);
  g_signal_connect (s->service, "incoming", G_CALLBACK (on_incoming), s);
}

static void
service_stop (Service *s)
{
  g_socket_service_stop (G_SOCKET_SERVICE (s->service));
  g_socket_listener_close (G_SOCKET_LISTENER (s->service));
}

static void
service_clear (Service *s)
{
  if (s->service != NULL)
    service_stop (s);
  g_clear_object (&s->service);
  g_clear_object (&s->address);
  g_clear_object (&s->ca);
  g_clear_error (&s->error);
  g_clear_pointer (&s->kept, g_ptr_array_unref);
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static GSocketConnectable *
service_connectable (Service *s)
{
  guint16 port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (s->address));
  g_autofree char *text = g_strdup_printf ("127.0.0.1:%u", port);

  return g_network_address_parse (text, 0, NULL);
}

/* A blocking TCP socket connected to @s (the kernel completes it from
 * the backlog, accepted or not). */
static int
raw_client (Service *s)
{
  struct sockaddr_in sin;
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  g_assert_cmpint (fd, >=, 0);
  g_assert_true (g_socket_address_to_native (s->address, &sin, sizeof sin, NULL));
  g_assert_cmpint (connect (fd, (struct sockaddr *) &sin, sizeof sin), ==, 0);
  return fd;
}

/* Resets the connection: close with SO_LINGER 0 sends RST. */
static void
reset_close (int fd)
{
  struct linger linger = { 1, 0 };

  g_assert_cmpint (setsockopt (fd, SOL_SOCKET, SO_LINGER, &linger, sizeof linger), ==, 0);
  close (fd);
}

/* Reads until end of stream or reset: the service closed its side. */
static void
wait_closed (int fd)
{
  char buffer[4096];
  ssize_t n;

  do
    n = read (fd, buffer, sizeof buffer);
  while (n > 0 || (n < 0 && errno == EINTR));
}

/* The start of a TLS ClientHello record, cut short. */
static const guint8 half_hello[] = { 0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc };

/* ---- stopped and dropped with handshakes in flight -------------------- */

#define N_IDLE 50

/* Clients that connect and say nothing, or half a handshake; the service
 * is stopped and its last reference dropped while their handshakes are
 * under way: each is reported once, every socket is closed, and the
 * service goes once the last handshake ended. */
static void
test_unref_with_handshakes (void)
{
  Service s;
  int clients[N_IDLE];
  GWeakRef weak;
  guint baseline = sw_test_count_open_fds_of ("socket:");

  if (!sw_test_have_tls ())
    return;
  service_init (&s, TRUE, KEEP);
  sw_service_set_handshake_timeout (s.service, 100 * 1000);
  for (guint i = 0; i < N_IDLE; i++)
    {
      clients[i] = raw_client (&s);
      if (i % 2)
        sw_test_write_all (clients[i], half_hello, sizeof half_hello);
    }
  WAIT_UNTIL (s.incoming == N_IDLE);
  g_weak_ref_init (&weak, s.service);
  service_stop (&s);
  g_clear_object (&s.service);

  WAIT_UNTIL (s.n_errors == N_IDLE);
  g_assert_error (s.error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_cmpuint (s.accepted, ==, 0);
  for (guint i = 0; i < N_IDLE; i++)
    {
      wait_closed (clients[i]);
      close (clients[i]);
    }
  WAIT_UNTIL (g_weak_ref_get (&weak) == NULL);
  g_weak_ref_clear (&weak);
  service_clear (&s);
  g_assert_cmpuint (sw_test_count_open_fds_of ("socket:"), ==, baseline);
}

/* Clients that reset the connection in the middle of their handshake. */
static void
test_reset_mid_handshake (void)
{
  Service s;
  guint baseline = sw_test_count_open_fds_of ("socket:");

  if (!sw_test_have_tls ())
    return;
  service_init (&s, TRUE, KEEP);
  sw_service_set_handshake_timeout (s.service, -1);
  for (guint i = 0; i < 20; i++)
    {
      int fd = raw_client (&s);

      sw_test_write_all (fd, half_hello, sizeof half_hello);
      if (i % 2)
        WAIT_UNTIL (s.incoming == i + 1);
      reset_close (fd);
    }
  WAIT_UNTIL (s.n_errors == 20);
  g_assert_cmpuint (s.accepted, ==, 0);
  service_clear (&s);
  g_assert_cmpuint (sw_test_count_open_fds_of ("socket:"), ==, baseline);
}

/* ---- ::connection handlers that drop or close ------------------------- */

static void
on_connected (GObject      *source,
              GAsyncResult *result,
              gpointer      data)
{
  SwConnection **connection = data;
  g_autoptr(GError) error = NULL;

  *connection = sw_connect_finish (result, &error);
  g_assert_no_error (error);
}

static void
check_handler (gboolean tls,
               Keep     keep)
{
  g_autoptr(GSocketConnectable) connectable = NULL;
  guint baseline = sw_test_count_open_fds_of ("socket:");
  Service s;

  if (tls && !sw_test_have_tls ())
    return;
  service_init (&s, tls, keep);
  connectable = service_connectable (&s);
  for (guint i = 0; i < 5; i++)
    {
      g_autoptr(SwConnection) connection = NULL;
      g_autoptr(GBytes) message = g_bytes_new_static ("hi", 2);
      g_autoptr(GBytes) reply = NULL;
      g_autoptr(GError) error = NULL;

      sw_connect_async (connectable, sw_framing_get_default (),
                        tls ? SW_CONNECT_FLAGS_TLS : SW_CONNECT_FLAGS_NONE, s.ca, PRIO, NULL,
                        on_connected, &connection);
      WAIT_UNTIL (connection != NULL && s.accepted == i + 1);
      /* The service's end is gone: the send may still go out, the
       * receive sees the end. */
      sw_connection_send_message (connection, message, -1, NULL, NULL);
      reply = sw_connection_receive_message (connection, -1, NULL, &error);
      g_assert_null (reply);
      g_assert_nonnull (error);
    }
  g_assert_cmpuint (s.n_errors, ==, 0);
  service_clear (&s);
  g_assert_cmpuint (sw_test_count_open_fds_of ("socket:"), ==, baseline);
}

static void
test_handler_drops_tcp (void)
{
  check_handler (FALSE, DROP);
}

static void
test_handler_closes_tcp (void)
{
  check_handler (FALSE, CLOSE);
}

static void
test_handler_drops_tls (void)
{
  check_handler (TRUE, DROP);
}

static void
test_handler_closes_tls (void)
{
  check_handler (TRUE, CLOSE);
}

/* ---- sw_connect_async cancelled --------------------------------------- */

/* Cancelled before it starts. */
static void
test_connect_cancelled_at_once (void)
{
  g_autoptr(GSocketConnectable) connectable = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  Service s;

  service_init (&s, FALSE, KEEP);
  connectable = service_connectable (&s);
  g_cancellable_cancel (cancellable);
  sw_connect_async (connectable, NULL, SW_CONNECT_FLAGS_TLS, NULL, PRIO, cancellable,
                    sw_test_on_connect_failed, &error);
  WAIT_UNTIL (error != NULL);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  service_clear (&s);
}

static gboolean
on_readable (GSocket      *socket,
             GIOCondition  condition,
             gpointer      data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Runs the main context until @socket is readable. */
static void
wait_readable (GSocket *socket)
{
  g_autoptr(GSource) source = g_socket_create_source (socket, G_IO_IN, NULL);
  gboolean readable = FALSE;

  g_source_set_callback (source, G_SOURCE_FUNC (on_readable), &readable, NULL);
  g_source_attach (source, NULL);
  WAIT_UNTIL (readable);
  g_source_destroy (source);
}

/* Cancelled once its ClientHello reached a server that never answers. */
static void
test_connect_cancelled_in_handshake (void)
{
  g_autoptr(GSocket) listener = NULL;
  g_autoptr(GSocket) accepted = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) connect_error = NULL;
  char byte;
  guint baseline;

  if (!sw_test_have_tls ())
    return;
  listener = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                           G_SOCKET_PROTOCOL_DEFAULT, &error);
  g_assert_no_error (error);
  g_assert_true (g_socket_bind (listener, any, TRUE, &error));
  g_assert_true (g_socket_listen (listener, &error));
  bound = g_socket_get_local_address (listener, &error);
  g_assert_no_error (error);
  baseline = sw_test_count_open_fds_of ("socket:");
  {
    g_autoptr(GSocketConnectable) connectable = G_SOCKET_CONNECTABLE (g_object_ref (bound));

    sw_connect_async (connectable, NULL, SW_CONNECT_FLAGS_TLS, NULL, PRIO, cancellable,
                      sw_test_on_connect_failed, &connect_error);
  }
  /* The client connects (from the backlog) and sends its ClientHello. */
  wait_readable (listener);
  accepted = g_socket_accept (listener, NULL, &error);
  g_assert_no_error (error);
  wait_readable (accepted);
  g_cancellable_cancel (cancellable);
  WAIT_UNTIL (connect_error != NULL);
  g_assert_error (connect_error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  /* The client's socket is closed: after the hello, end of stream. */
  g_socket_set_blocking (accepted, TRUE);
  while (g_socket_receive (accepted, &byte, 1, NULL, &error) > 0)
    ;
  g_assert_no_error (error);
  g_clear_object (&accepted);
  g_assert_cmpuint (sw_test_count_open_fds_of ("socket:"), ==, baseline);
}

/* More clients than GIO has worker threads (at most 330) connect and say
 * nothing, with no handshake deadline: a good client that comes after
 * them is still served, as waiting for a client's first bytes takes no
 * thread. Bounded: if it is not served, the case fails instead of
 * hanging. */
#define N_SILENT 400

static void
test_silent_clients (void)
{
  g_autoptr(GSocketConnectable) connectable = NULL;
  g_autoptr(SwConnection) connection = NULL;
  int clients[N_SILENT];
  gint64 start;
  Service s;

  if (!sw_test_have_tls () || !sw_test_run_bounded (60 * G_USEC_PER_SEC))
    return;
  service_init (&s, TRUE, KEEP);
  sw_service_set_handshake_timeout (s.service, -1);
  for (guint i = 0; i < N_SILENT; i++)
    clients[i] = raw_client (&s);
  WAIT_UNTIL (s.incoming == N_SILENT);
  start = g_get_monotonic_time ();
  connectable = service_connectable (&s);
  sw_connect_async (connectable, sw_framing_get_default (), SW_CONNECT_FLAGS_TLS, s.ca, PRIO,
                    NULL, on_connected, &connection);
  WAIT_UNTIL (connection != NULL && s.accepted == 1);
  g_test_message ("a good client after %u silent ones: served in %.3f s", N_SILENT,
                  (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC);
  g_assert_cmpuint (s.n_errors, ==, 0);
  /* Those that go are reported. */
  for (guint i = 0; i < N_SILENT; i++)
    close (clients[i]);
  WAIT_UNTIL (s.n_errors == N_SILENT);
  service_clear (&s);
}

/* ---- a name with several addresses, the first refusing --------------- */

/* A GSocketConnectable giving a fixed list of addresses, in order. */
G_DECLARE_FINAL_TYPE (ListEnumerator, list_enumerator, TEST, LIST_ENUMERATOR,
                      GSocketAddressEnumerator)

struct _ListEnumerator
{
  GSocketAddressEnumerator parent_instance;
  GQueue                   addresses;
};

G_DEFINE_TYPE (ListEnumerator, list_enumerator, G_TYPE_SOCKET_ADDRESS_ENUMERATOR)

static GSocketAddress *
list_enumerator_next (GSocketAddressEnumerator  *enumerator,
                      GCancellable              *cancellable,
                      GError                   **error)
{
  return g_queue_pop_head (&((ListEnumerator *) enumerator)->addresses);
}

static void
list_enumerator_finalize (GObject *object)
{
  g_queue_clear_full (&((ListEnumerator *) object)->addresses, g_object_unref);
  G_OBJECT_CLASS (list_enumerator_parent_class)->finalize (object);
}

static void
list_enumerator_class_init (ListEnumeratorClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = list_enumerator_finalize;
  G_SOCKET_ADDRESS_ENUMERATOR_CLASS (klass)->next = list_enumerator_next;
}

static void
list_enumerator_init (ListEnumerator *self)
{
}

G_DECLARE_FINAL_TYPE (TwoAddresses, two_addresses, TEST, TWO_ADDRESSES, GObject)

struct _TwoAddresses
{
  GObject         parent_instance;
  GSocketAddress *addresses[2];
};

static void two_addresses_connectable_init (GSocketConnectableIface *iface);

G_DEFINE_TYPE_WITH_CODE (TwoAddresses, two_addresses, G_TYPE_OBJECT,
                         G_IMPLEMENT_INTERFACE (G_TYPE_SOCKET_CONNECTABLE,
                                                two_addresses_connectable_init))

static GSocketAddressEnumerator *
two_addresses_enumerate (GSocketConnectable *connectable)
{
  TwoAddresses *self = (TwoAddresses *) connectable;
  ListEnumerator *enumerator = g_object_new (list_enumerator_get_type (), NULL);

  for (guint i = 0; i < 2; i++)
    g_queue_push_tail (&enumerator->addresses, g_object_ref (self->addresses[i]));
  return G_SOCKET_ADDRESS_ENUMERATOR (enumerator);
}

static void
two_addresses_connectable_init (GSocketConnectableIface *iface)
{
  iface->enumerate = two_addresses_enumerate;
}

static void
two_addresses_finalize (GObject *object)
{
  TwoAddresses *self = (TwoAddresses *) object;

  g_clear_object (&self->addresses[0]);
  g_clear_object (&self->addresses[1]);
  G_OBJECT_CLASS (two_addresses_parent_class)->finalize (object);
}

static void
two_addresses_class_init (TwoAddressesClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = two_addresses_finalize;
}

static void
two_addresses_init (TwoAddresses *self)
{
}

/* The first address refuses (a port bound but not listening), the
 * second is the service: sw_connect() and sw_connect_async() go on to
 * the second. */
static void
test_first_address_refuses (void)
{
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocket) closed = NULL;
  g_autoptr(TwoAddresses) connectable = g_object_new (two_addresses_get_type (), NULL);
  g_autoptr(SwConnection) connection = NULL;
  g_autoptr(SwConnection) async_connection = NULL;
  g_autoptr(GError) error = NULL;
  Service s;

  closed = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                         G_SOCKET_PROTOCOL_DEFAULT, &error);
  g_assert_no_error (error);
  g_assert_true (g_socket_bind (closed, any, TRUE, &error));
  service_init (&s, FALSE, KEEP);
  connectable->addresses[0] = g_socket_get_local_address (closed, &error);
  g_assert_no_error (error);
  connectable->addresses[1] = g_object_ref (s.address);

  connection = sw_connect (G_SOCKET_CONNECTABLE (connectable), NULL, SW_CONNECT_FLAGS_NONE,
                           NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (connection);
  sw_connect_async (G_SOCKET_CONNECTABLE (connectable), NULL, SW_CONNECT_FLAGS_NONE, NULL,
                    PRIO, NULL, on_connected, &async_connection);
  WAIT_UNTIL (async_connection != NULL && s.accepted == 2);
  service_clear (&s);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/sw/service-attack/tls/unref-with-handshakes", test_unref_with_handshakes);
  g_test_add_func ("/sw/service-attack/tls/reset-mid-handshake", test_reset_mid_handshake);
  g_test_add_func ("/sw/service-attack/tls/silent-clients", test_silent_clients);
  g_test_add_func ("/sw/service-attack/tcp/handler-drops", test_handler_drops_tcp);
  g_test_add_func ("/sw/service-attack/tcp/handler-closes", test_handler_closes_tcp);
  g_test_add_func ("/sw/service-attack/tls/handler-drops", test_handler_drops_tls);
  g_test_add_func ("/sw/service-attack/tls/handler-closes", test_handler_closes_tls);
  g_test_add_func ("/sw/service-attack/connect/first-address-refuses",
                   test_first_address_refuses);
  g_test_add_func ("/sw/service-attack/connect/cancelled-at-once",
                   test_connect_cancelled_at_once);
  g_test_add_func ("/sw/service-attack/connect/cancelled-in-handshake",
                   test_connect_cancelled_in_handshake);

  return g_test_run ();
}
