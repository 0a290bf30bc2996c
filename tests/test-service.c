/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* SwService and sw_connect() over real listeners: many async clients of an
 * echo service in one main context, over TCP and TLS; UNIX path and
 * abstract addresses; and the clients a service must survive — a wrong
 * certificate authority, garbage, a handshake never finished, a peer that
 * goes away — each reported once while the others are served. */
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <gio/gunixsocketaddress.h>
#include <socketwrapper/socketwrapper.h>

#include "sw-test-util.h"

#define PRIO G_PRIORITY_DEFAULT

#define WAIT_UNTIL SW_TEST_WAIT_UNTIL

/* ---- the echo service ------------------------------------------------- */

typedef struct
{
  SwService    *service;
  GSocketAddress *address;       /* where it listens */
  GTlsDatabase *ca;              /* trusts the service's certificate */
  guint         accepted;        /* ::connection emissions */
  guint         n_errors;        /* ::error emissions */
  GError       *error;           /* the last one */
  guint         n_echo_errors;   /* echo connections that failed */
  GError       *echo_error;      /* the last such failure */
  guint         n_echo_ended;    /* echo connections the peer ended */
} Echo;

static void echo_receive (SwConnection *connection,
                          Echo         *echo);

static void
on_echo_sent (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  Echo *echo = user_data;
  GError *error = NULL;

  if (!sw_connection_send_message_finish (SW_CONNECTION (source), result, &error))
    {
      echo->n_echo_errors++;
      g_clear_error (&echo->echo_error);
      echo->echo_error = error;
      return;
    }
  echo_receive (SW_CONNECTION (source), echo);
}

static void
on_echo_received (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  SwConnection *connection = SW_CONNECTION (source);
  Echo *echo = user_data;
  g_autoptr(GBytes) message = NULL;
  GError *error = NULL;

  message = sw_connection_receive_message_finish (connection, result, &error);
  if (message != NULL)
    {
      sw_connection_send_message_async (connection, message, PRIO, NULL,
                                        on_echo_sent, echo);
      return;
    }
  /* Without a reference left, the connection closes. */
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED))
    {
      echo->n_echo_ended++;
      g_error_free (error);
      return;
    }
  echo->n_echo_errors++;
  g_clear_error (&echo->echo_error);
  echo->echo_error = error;
}

/* The pending call holds the connection. */
static void
echo_receive (SwConnection *connection,
              Echo         *echo)
{
  sw_connection_receive_message_async (connection, PRIO, NULL, on_echo_received, echo);
}

static void
on_connection (SwService    *service,
               SwConnection *connection,
               Echo         *echo)
{
  g_assert_true (SW_IS_CONNECTION (connection));
  echo->accepted++;
  echo_receive (connection, echo);
}

static void
on_error (SwService *service,
          GError    *error,
          Echo      *echo)
{
  g_assert_nonnull (error);
  echo->n_errors++;
  g_clear_error (&echo->error);
  echo->error = g_error_copy (error);
}

static GTlsDatabase *
load_database (const char *name)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, name, NULL);
  g_autoptr(GError) error = NULL;
  GTlsDatabase *database = g_tls_file_database_new (path, &error);

  g_assert_no_error (error);
  return database;
}

static void
echo_init_for (Echo           *echo,
               gboolean        tls,
               GSocketAddress *address)
{
  g_autoptr(GError) error = NULL;

  memset (echo, 0, sizeof *echo);
  echo->service = sw_service_new (sw_framing_get_default ());
  /* Room for every client connecting at once: past the backlog, the
   * kernel drops connection requests and clients retry a second later. */
  g_socket_listener_set_backlog (G_SOCKET_LISTENER (echo->service), 512);
  if (tls)
    {
      g_autoptr(GTlsCertificate) certificate = sw_test_load_server_certificate ();

      sw_service_set_tls_certificate (echo->service, certificate);
      echo->ca = load_database ("tls-ca.pem");
    }
  g_assert_true (g_socket_listener_add_address (G_SOCKET_LISTENER (echo->service), address,
                                                G_SOCKET_TYPE_STREAM,
                                                G_SOCKET_PROTOCOL_DEFAULT, NULL,
                                                &echo->address, &error));
  g_assert_no_error (error);
  g_signal_connect (echo->service, "connection", G_CALLBACK (on_connection), echo);
  g_signal_connect (echo->service, "error", G_CALLBACK (on_error), echo);
}

/* An echo service on 127.0.0.1, on a port the system picks. */
static void
echo_init (Echo     *echo,
           gboolean  tls)
{
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, 0);

  echo_init_for (echo, tls, address);
}

static guint16
echo_port (Echo *echo)
{
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (echo->address));
}

/* "HOST:PORT" of the service, through g_network_address_parse() as a
 * user would. */
static GSocketConnectable *
echo_connectable (Echo       *echo,
                  const char *host)
{
  g_autofree char *text = g_strdup_printf ("%s:%u", host, echo_port (echo));
  g_autoptr(GError) error = NULL;
  GSocketConnectable *connectable = g_network_address_parse (text, 0, &error);

  g_assert_no_error (error);
  return connectable;
}

static void
echo_clear (Echo *echo)
{
  g_socket_service_stop (G_SOCKET_SERVICE (echo->service));
  g_socket_listener_close (G_SOCKET_LISTENER (echo->service));
  g_clear_object (&echo->service);
  g_clear_object (&echo->address);
  g_clear_object (&echo->ca);
  g_clear_error (&echo->error);
  g_clear_error (&echo->echo_error);
  /* Lets the cancelled accept drop its reference on the service. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

/* ---- async clients ---------------------------------------------------- */

/* glib-networking runs each TLS handshake in a GIO worker thread that
 * blocks until the peer answers, and GIO's pool starts with ten threads:
 * with both ends of 200 handshakes in one process, the pool fills with
 * handshakes waiting for handshakes still queued behind them, and grows
 * too slowly to beat the handshake timeout. The clients therefore
 * connect a few at a time; they start exchanging once all are connected,
 * so every connection is busy at once. */
#define MAX_CONNECTING 4

typedef struct
{
  GSocketConnectable *connectable;
  SwConnectFlags      flags;
  GTlsDatabase       *database;
  guint               n_clients;
  guint               n_messages;  /* each client's exchanges */
  guint               started;     /* clients that began connecting */
  guint               connecting;  /* connects under way */
  GPtrArray          *connected;   /* clients waiting for the others */
  guint               done;        /* clients finished */
  guint64             rss_connected;  /* VmRSS once all are connected */
} Clients;

/* The process's resident set now, in KiB. */
static guint64
current_rss_kib (void)
{
  g_autofree char *status = NULL;
  const char *line;

  g_assert_true (g_file_get_contents ("/proc/self/status", &status, NULL, NULL));
  line = strstr (status, "\nVmRSS:");
  g_assert_nonnull (line);
  return g_ascii_strtoull (line + strlen ("\nVmRSS:"), NULL, 10);
}

typedef struct
{
  Clients      *clients;
  SwConnection *connection;
  guint         index;
  guint         round;
} Client;

static GBytes *
client_message (Client *client)
{
  char *text = g_strdup_printf ("client %u message %u", client->index, client->round);

  return g_bytes_new_take (text, strlen (text));
}

static void client_exchange (Client *client);
static void clients_connect_next (Clients *clients);

static void
on_client_closed (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  Client *client = user_data;
  g_autoptr(GError) error = NULL;

  g_assert_true (sw_connection_close_finish (SW_CONNECTION (source), result, &error));
  g_assert_no_error (error);
  client->clients->done++;
  g_clear_object (&client->connection);
  g_free (client);
}

static void
on_client_received (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  Client *client = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) reply = NULL;
  g_autoptr(GBytes) expected = client_message (client);

  reply = sw_connection_receive_message_finish (SW_CONNECTION (source), result, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (reply, expected));

  if (++client->round < client->clients->n_messages)
    client_exchange (client);
  else
    sw_connection_close_async (client->connection, PRIO, NULL, on_client_closed, client);
}

static void
on_client_sent (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  Client *client = user_data;
  g_autoptr(GError) error = NULL;

  g_assert_true (sw_connection_send_message_finish (SW_CONNECTION (source), result, &error));
  g_assert_no_error (error);
  sw_connection_receive_message_async (client->connection, PRIO, NULL,
                                       on_client_received, client);
}

static void
client_exchange (Client *client)
{
  g_autoptr(GBytes) message = client_message (client);

  sw_connection_send_message_async (client->connection, message, PRIO, NULL,
                                    on_client_sent, client);
}

static void
on_client_connected (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  Client *client = user_data;
  Clients *clients = client->clients;
  g_autoptr(GError) error = NULL;

  g_assert_null (source);
  client->connection = sw_connect_finish (result, &error);
  g_assert_no_error (error);
  g_assert_true (SW_IS_CONNECTION (client->connection));

  clients->connecting--;
  g_ptr_array_add (clients->connected, client);
  if (clients->connected->len < clients->n_clients)
    {
      clients_connect_next (clients);
      return;
    }
  clients->rss_connected = current_rss_kib ();
  for (guint i = 0; i < clients->connected->len; i++)
    client_exchange (g_ptr_array_index (clients->connected, i));
}

/* Starts connects until MAX_CONNECTING are under way (over TLS) or every
 * client is started. */
static void
clients_connect_next (Clients *clients)
{
  guint max = (clients->flags & SW_CONNECT_FLAGS_TLS) ? MAX_CONNECTING : G_MAXUINT;

  while (clients->started < clients->n_clients && clients->connecting < max)
    {
      Client *client = g_new0 (Client, 1);

      client->clients = clients;
      client->index = clients->started++;
      clients->connecting++;
      sw_connect_async (clients->connectable, sw_framing_get_default (), clients->flags,
                        clients->database, PRIO, NULL, on_client_connected, client);
    }
}

/* Runs @n_clients async clients of @echo in this thread's main context,
 * each exchanging @n_messages messages, all at once, and reports the wall
 * time and the process's peak RSS. Returns how much the resident set grew
 * per client while they connected, in KiB. */
static guint64
run_clients (Echo           *echo,
             guint           n_clients,
             guint           n_messages,
             SwConnectFlags  flags)
{
  g_autoptr(GSocketConnectable) connectable = NULL;
  g_autoptr(GPtrArray) connected = g_ptr_array_new ();
  Clients clients = { 0 };
  struct rusage usage;
  gint64 start = g_get_monotonic_time ();
  guint64 rss_start = current_rss_kib ();
  guint accepted_before = echo->accepted;
  guint ended_before = echo->n_echo_ended;
  guint echo_errors_before = echo->n_echo_errors;

  if (G_IS_INET_SOCKET_ADDRESS (echo->address))
    connectable = echo_connectable (echo, "127.0.0.1");
  else
    connectable = G_SOCKET_CONNECTABLE (g_object_ref (echo->address));
  clients = (Clients) { connectable, flags, echo->ca, n_clients, n_messages, 0, 0,
                        connected, 0, 0 };
  clients_connect_next (&clients);
  WAIT_UNTIL (clients.done == n_clients && echo->n_echo_ended == ended_before + n_clients);

  g_assert_cmpint (getrusage (RUSAGE_SELF, &usage), ==, 0);
  g_test_message ("%u clients x %u messages%s: %.2f s, peak RSS %ld KiB",
                  n_clients, n_messages, (flags & SW_CONNECT_FLAGS_TLS) ? " over TLS" : "",
                  (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC,
                  usage.ru_maxrss);
  g_assert_cmpuint (echo->accepted - accepted_before, ==, n_clients);
  g_assert_cmpuint (echo->n_echo_errors, ==, echo_errors_before);
  return (clients.rss_connected - MIN (clients.rss_connected, rss_start)) / n_clients;
}

/* 200 clients at once, 100 messages each (fewer under valgrind). */
static void
many_clients (SwConnectFlags flags)
{
  gboolean quick = sw_test_under_valgrind () || g_getenv ("SW_TEST_QUICK") != NULL;
  guint64 rss_per_client;
  Echo echo;

  if ((flags & SW_CONNECT_FLAGS_TLS) && !sw_test_have_tls ())
    return;
  echo_init (&echo, (flags & SW_CONNECT_FLAGS_TLS) != 0);
  rss_per_client = run_clients (&echo, quick ? 10 : 200, quick ? 10 : 100, flags);
  g_assert_cmpuint (echo.n_errors, ==, 0);
  /* Both ends of a connection, TLS included, cost well under 1 MiB
   * (valgrind's own growth, ASan's quarantine of freed memory, and few
   * clients would blur it). */
#ifndef __SANITIZE_ADDRESS__
  if (!quick)
    g_assert_cmpuint (rss_per_client, <, 1024);
#else
  (void) rss_per_client;
#endif
  g_assert_no_error (echo.echo_error);
  echo_clear (&echo);
}

static void
test_tcp_many_clients (void)
{
  many_clients (SW_CONNECT_FLAGS_NONE);
}

static void
test_tls_many_clients (void)
{
  many_clients (SW_CONNECT_FLAGS_TLS);
}

/* ---- UNIX listeners --------------------------------------------------- */

static void
test_unix_path (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("sw-service-XXXXXX", &error);
  g_autofree char *path = NULL;
  g_autoptr(GSocketAddress) address = NULL;
  Echo echo;

  g_assert_no_error (error);
  path = g_build_filename (dir, "socket", NULL);
  address = g_unix_socket_address_new (path);
  echo_init_for (&echo, FALSE, address);
  run_clients (&echo, 3, 5, SW_CONNECT_FLAGS_NONE);
  echo_clear (&echo);
  g_assert_cmpint (g_unlink (path), ==, 0);
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

static void
test_unix_abstract (void)
{
  g_autofree char *name = g_strdup_printf ("sw-test-service-%d-%u", (int) getpid (),
                                           g_random_int ());
  g_autoptr(GSocketAddress) address = NULL;
  Echo echo;

  address = g_unix_socket_address_new_with_type (name, -1, G_UNIX_SOCKET_ADDRESS_ABSTRACT);
  echo_init_for (&echo, FALSE, address);
  run_clients (&echo, 3, 5, SW_CONNECT_FLAGS_NONE);
  echo_clear (&echo);
}

/* ---- clients a service must survive ----------------------------------- */

/* A plain client of @echo carrying raw bytes, as a stranger would. */
static SwConnection *
raw_client_new (Echo *echo)
{
  g_autoptr(GSocketConnectable) connectable = echo_connectable (echo, "127.0.0.1");
  g_autoptr(GError) error = NULL;
  SwConnection *connection = sw_connect (connectable, NULL, SW_CONNECT_FLAGS_NONE, NULL,
                                         NULL, &error);

  g_assert_no_error (error);
  return connection;
}

/* Waits until @echo has reported @n errors, then checks the service still
 * serves others and reports nothing more. */
static void
wait_errors_then_serve (Echo           *echo,
                        guint           n,
                        SwConnectFlags  flags)
{
  WAIT_UNTIL (echo->n_errors >= n);
  run_clients (echo, 2, 3, flags);
  g_assert_cmpuint (echo->n_errors, ==, n);
}

static void
assert_error_names_client (GError *error)
{
  g_assert_nonnull (error);
  if (!g_str_has_prefix (error->message, "TLS handshake with 127.0.0.1:"))
    g_error ("the error does not name the client: %s", error->message);
}

typedef struct
{
  GSocketConnectable *connectable;
  GTlsDatabase       *database;
  SwConnectFlags      flags;       /* besides TLS */
  GBytes             *reply;       /* to "hello", once connected */
  GError             *error;
  gint                done;        /* atomic */
} SyncConnect;

/* Blocking calls only: connects, exchanges a message, closes. */
static gpointer
sync_connect_thread (gpointer data)
{
  SyncConnect *sc = data;
  g_autoptr(SwConnection) connection = NULL;
  g_autoptr(GBytes) message = g_bytes_new_static ("hello", 5);

  connection = sw_connect (sc->connectable, sw_framing_get_default (),
                           SW_CONNECT_FLAGS_TLS | sc->flags, sc->database, NULL, &sc->error);
  if (connection != NULL &&
      sw_connection_send_message (connection, message, -1, NULL, &sc->error))
    sc->reply = sw_connection_receive_message (connection, -1, NULL, &sc->error);
  if (connection != NULL && sc->error == NULL)
    sw_connection_close (connection, NULL, &sc->error);
  g_atomic_int_set (&sc->done, 1);
  g_main_context_wakeup (NULL);
  return NULL;
}

/* sw_connect() to "localhost:PORT" and an exchange, in a thread, while
 * this one runs the service. */
static void
sync_connect (Echo         *echo,
              GTlsDatabase *database,
              SyncConnect  *sc)
{
  GThread *thread;

  sc->connectable = echo_connectable (echo, "localhost");
  sc->database = database;
  thread = g_thread_new ("connect", sync_connect_thread, sc);
  WAIT_UNTIL (g_atomic_int_get (&sc->done));
  g_thread_join (thread);
  g_clear_object (&sc->connectable);
}

/* A TLS client trusting the test's authority (or the system's), with
 * @flags, exchanges a message with the echo service, which sees no
 * error. */
static void
assert_sync_echo (gboolean        use_test_ca,
                  SwConnectFlags  flags)
{
  SyncConnect sc = { 0 };
  g_autoptr(GBytes) message = g_bytes_new_static ("hello", 5);
  Echo echo;

  if (!sw_test_have_tls ())
    return;
  echo_init (&echo, TRUE);
  sc.flags = flags;
  /* The name checked against the certificate is "localhost". */
  sync_connect (&echo, use_test_ca ? echo.ca : NULL, &sc);
  g_assert_no_error (sc.error);
  g_assert_true (g_bytes_equal (sc.reply, message));
  g_clear_pointer (&sc.reply, g_bytes_unref);
  WAIT_UNTIL (echo.n_echo_ended == 1);
  g_assert_cmpuint (echo.accepted, ==, 1);
  g_assert_cmpuint (echo.n_errors, ==, 0);
  echo_clear (&echo);
}

static void
test_tls_sync_connect (void)
{
  assert_sync_echo (TRUE, SW_CONNECT_FLAGS_NONE);
}

static void
test_tls_wrong_ca (void)
{
  g_autoptr(GTlsDatabase) other_ca = NULL;
  SyncConnect sc = { 0 };
  Echo echo;

  if (!sw_test_have_tls ())
    return;
  echo_init (&echo, TRUE);
  other_ca = load_database ("tls-other-ca.pem");
  sync_connect (&echo, other_ca, &sc);
  g_assert_null (sc.reply);
  g_assert_error (sc.error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE);
  g_assert_nonnull (strstr (sc.error->message, "not signed by a trusted authority"));
  g_clear_error (&sc.error);

  /* The service saw the client give up, once, and serves the others. */
  wait_errors_then_serve (&echo, 1, SW_CONNECT_FLAGS_TLS);
  assert_error_names_client (echo.error);
  g_assert_cmpuint (echo.accepted, ==, 2);
  echo_clear (&echo);
}

/* A client that accepts any certificate connects to a service whose
 * certificate no authority it knows signed (the system's do not know the
 * test's), and talks to it. */
static void
test_tls_accept_any (void)
{
  assert_sync_echo (FALSE, SW_CONNECT_FLAGS_TLS_ACCEPT_ANY);
}

static void
test_tls_garbage (void)
{
  static const char request[] = "GET / HTTP/1.0\r\n\r\n";
  g_autoptr(SwConnection) raw = NULL;
  Echo echo;

  if (!sw_test_have_tls ())
    return;
  echo_init (&echo, TRUE);
  raw = raw_client_new (&echo);
  sw_test_send_raw (raw, request, sizeof request - 1);

  wait_errors_then_serve (&echo, 1, SW_CONNECT_FLAGS_TLS);
  /* NOT_TLS or MISC, as GnuTLS sees it. */
  g_assert_true (echo.error->domain == G_TLS_ERROR);
  assert_error_names_client (echo.error);
  g_assert_cmpuint (echo.accepted, ==, 2);
  echo_clear (&echo);
}

static void
on_raw_received (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  GError **error = user_data;
  g_autoptr(GBytes) bytes = NULL;

  bytes = sw_connection_receive_bytes_finish (SW_CONNECTION (source), result, error);
  g_assert_null (bytes);
  g_assert_nonnull (*error);
}

static void
test_tls_handshake_timeout (void)
{
  g_autoptr(SwConnection) raw = NULL;
  g_autoptr(GError) raw_error = NULL;
  Echo echo;

  if (!sw_test_have_tls ())
    return;
  echo_init (&echo, TRUE);
  g_assert_cmpint (sw_service_get_handshake_timeout (echo.service), ==,
                   SW_SERVICE_DEFAULT_HANDSHAKE_TIMEOUT);
  sw_service_set_handshake_timeout (echo.service, 50 * 1000);

  /* Connects and says nothing: the service gives up on it, reports it
   * and closes its socket. */
  raw = raw_client_new (&echo);
  sw_connection_receive_bytes_async (raw, -1, PRIO, NULL, on_raw_received, &raw_error);
  WAIT_UNTIL (echo.n_errors == 1);
  g_assert_error (echo.error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  assert_error_names_client (echo.error);
  g_assert_nonnull (strstr (echo.error->message, "within 50 ms"));
  WAIT_UNTIL (raw_error != NULL);

  /* The others get all the time they need: on a loaded machine a good
   * handshake may well take 50 ms. */
  sw_service_set_handshake_timeout (echo.service, -1);
  wait_errors_then_serve (&echo, 1, SW_CONNECT_FLAGS_TLS);
  g_assert_cmpuint (echo.accepted, ==, 2);
  echo_clear (&echo);
}

/* A TLS client cancelled in the middle of its handshake, as soon as the
 * service accepted it. */
static gboolean
on_incoming_cancel (GSocketService    *service,
                    GSocketConnection *connection,
                    GObject           *source_object,
                    GCancellable      *cancellable)
{
  g_cancellable_cancel (cancellable);
  return FALSE;
}

static void
test_tls_vanish (void)
{
  g_autoptr(GSocketConnectable) connectable = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  SwConnection *raw;
  gulong id;
  Echo echo;

  if (!sw_test_have_tls ())
    return;
  echo_init (&echo, TRUE);

  /* Gone before the handshake began. */
  raw = raw_client_new (&echo);
  g_assert_true (sw_connection_close (raw, NULL, &error));
  g_assert_no_error (error);
  g_object_unref (raw);
  WAIT_UNTIL (echo.n_errors == 1);
  assert_error_names_client (echo.error);

  /* Gone during it. */
  id = g_signal_connect (echo.service, "incoming", G_CALLBACK (on_incoming_cancel),
                         cancellable);
  connectable = echo_connectable (&echo, "127.0.0.1");
  sw_connect_async (connectable, NULL, SW_CONNECT_FLAGS_TLS, echo.ca, PRIO, cancellable,
                    sw_test_on_connect_failed, &error);
  WAIT_UNTIL (error != NULL && echo.n_errors == 2);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  assert_error_names_client (echo.error);
  g_signal_handler_disconnect (echo.service, id);

  wait_errors_then_serve (&echo, 2, SW_CONNECT_FLAGS_TLS);
  g_assert_cmpuint (echo.accepted, ==, 2);
  echo_clear (&echo);
}

/* Without TLS the service hands every client out; what a client sends
 * is its connection's business, and the others go on. */
static void
test_tcp_garbage (void)
{
  /* A varint header announcing 2^64 - 1 bytes. */
  static const guint8 overlong[12] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
  };
  g_autoptr(SwConnection) raw = NULL;
  Echo echo;

  echo_init (&echo, FALSE);
  raw = raw_client_new (&echo);
  sw_test_send_raw (raw, overlong, sizeof overlong);
  WAIT_UNTIL (echo.n_echo_errors == 1);
  g_assert_error (echo.echo_error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);

  run_clients (&echo, 2, 3, SW_CONNECT_FLAGS_NONE);
  g_assert_cmpuint (echo.n_errors, ==, 0);
  g_assert_cmpuint (echo.n_echo_errors, ==, 1);
  echo_clear (&echo);
}

static void
test_tcp_vanish (void)
{
  static const guint8 partial[4] = { 10, 'a', 'b', 'c' };   /* 10 bytes announced */
  g_autoptr(GError) error = NULL;
  SwConnection *raw;
  Echo echo;

  echo_init (&echo, FALSE);
  raw = raw_client_new (&echo);
  sw_test_send_raw (raw, partial, sizeof partial);
  g_assert_true (sw_connection_close (raw, NULL, &error));
  g_assert_no_error (error);
  g_object_unref (raw);
  WAIT_UNTIL (echo.n_echo_errors == 1);
  g_assert_error (echo.echo_error, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT);

  run_clients (&echo, 2, 3, SW_CONNECT_FLAGS_NONE);
  g_assert_cmpuint (echo.n_errors, ==, 0);
  g_assert_cmpuint (echo.n_echo_errors, ==, 1);
  echo_clear (&echo);
}

static void
test_tcp_refused (void)
{
  g_autoptr(GSocketConnectable) connectable = NULL;
  g_autoptr(SwConnection) connection = NULL;
  g_autoptr(GError) error = NULL;
  Echo echo;

  /* A port that was just free. */
  echo_init (&echo, FALSE);
  connectable = echo_connectable (&echo, "127.0.0.1");
  echo_clear (&echo);

  connection = sw_connect (connectable, NULL, SW_CONNECT_FLAGS_NONE, NULL, NULL, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
  g_assert_null (connection);
  g_clear_error (&error);

  sw_connect_async (connectable, NULL, SW_CONNECT_FLAGS_NONE, NULL, PRIO, NULL,
                    sw_test_on_connect_failed, &error);
  WAIT_UNTIL (error != NULL);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
}

/* ---- where ::connection is emitted ------------------------------------ */

typedef struct
{
  GMainContext *context;
  gboolean      incoming;
  SwConnection *connection;
  gboolean      in_context;
} Where;

static gboolean
on_incoming_seen (GSocketService    *service,
                  GSocketConnection *connection,
                  GObject           *source_object,
                  Where             *where)
{
  where->incoming = TRUE;
  return FALSE;
}

static void
on_connection_where (SwService    *service,
                     SwConnection *connection,
                     Where        *where)
{
  where->in_context = g_source_get_context (g_main_current_source ()) == where->context;
  where->connection = g_object_ref (connection);
}

static void
on_connected_where (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  SwConnection **connection = user_data;
  g_autoptr(GError) error = NULL;

  *connection = sw_connect_finish (result, &error);
  g_assert_no_error (error);
}

/* A service made in another context accepts where its listener was
 * added (here the default context) and emits ::connection in its own,
 * with a connection carrying its framing and codec. */
static void
test_context (void)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(SwService) service = NULL;
  g_autoptr(SwCodec) codec = SW_CODEC (sw_json_codec_new ());
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(SwConnection) client = NULL;
  g_autoptr(GError) error = NULL;
  Where where = { context, FALSE, NULL, FALSE };
  guint16 port;

  g_main_context_push_thread_default (context);
  service = sw_service_new (NULL);
  g_main_context_pop_thread_default (context);
  g_assert_null (sw_service_get_framing (service));
  sw_service_set_codec (service, codec);
  g_signal_connect (service, "incoming", G_CALLBACK (on_incoming_seen), &where);
  g_signal_connect (service, "connection", G_CALLBACK (on_connection_where), &where);
  port = g_socket_listener_add_any_inet_port (G_SOCKET_LISTENER (service), NULL, &error);
  g_assert_no_error (error);

  address = g_inet_socket_address_new_from_string ("127.0.0.1", port);
  sw_connect_async (G_SOCKET_CONNECTABLE (address), NULL, SW_CONNECT_FLAGS_NONE, NULL,
                    PRIO, NULL, on_connected_where, &client);
  WAIT_UNTIL (where.incoming && client != NULL);
  g_assert_null (where.connection);
  while (where.connection == NULL)
    g_main_context_iteration (context, TRUE);

  g_assert_true (where.in_context);
  g_assert_null (sw_connection_get_framing (where.connection));
  g_assert_true (sw_connection_get_codec (where.connection) == codec);

  g_socket_service_stop (G_SOCKET_SERVICE (service));
  g_socket_listener_close (G_SOCKET_LISTENER (service));
  g_clear_object (&where.connection);
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/sw/service/tcp/many-clients", test_tcp_many_clients);
  g_test_add_func ("/sw/service/tcp/garbage", test_tcp_garbage);
  g_test_add_func ("/sw/service/tcp/vanish", test_tcp_vanish);
  g_test_add_func ("/sw/service/tcp/refused", test_tcp_refused);
  g_test_add_func ("/sw/service/tls/many-clients", test_tls_many_clients);
  g_test_add_func ("/sw/service/tls/sync-connect", test_tls_sync_connect);
  g_test_add_func ("/sw/service/tls/wrong-ca", test_tls_wrong_ca);
  g_test_add_func ("/sw/service/tls/accept-any", test_tls_accept_any);
  g_test_add_func ("/sw/service/tls/garbage", test_tls_garbage);
  g_test_add_func ("/sw/service/tls/handshake-timeout", test_tls_handshake_timeout);
  g_test_add_func ("/sw/service/tls/vanish", test_tls_vanish);
  g_test_add_func ("/sw/service/unix/path", test_unix_path);
  g_test_add_func ("/sw/service/unix/abstract", test_unix_abstract);
  g_test_add_func ("/sw/service/context", test_context);

  return g_test_run ();
}
