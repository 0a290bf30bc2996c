/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* A TLS service and its client in one main loop: the TCP+TLS version of
 * the socket.accept example. An SwService listens on 127.0.0.1 (port 0:
 * the system picks one) with a certificate, completes each client's
 * handshake and hands it out as a message connection; the server sends it
 * a message and closes. The client connects to "localhost:PORT" with
 * sw_connect_async(), checking the server's certificate against a
 * certificate authority, and receives the message.
 *
 *   $ sw-example-tls-service [CERTIFICATE-AND-KEY.pem [CA.pem]]
 *   Listening on 127.0.0.1:41237
 *   Server sent 'message'
 *   Client received 'message'
 *
 * The files default to the test certificates of the source tree
 * (tests/make-tls-certs.sh makes them): run it from there. The last two
 * lines may come in either order.
 */

#include <string.h>

#include <socketwrapper/socketwrapper.h>

#define GREETING "message"

typedef struct
{
  GMainLoop *loop;
  int        pending;  /* the server's send and the client's receive */
  int        status;   /* the exit status */
} App;

static void
done (App    *app,
      GError *error)
{
  if (error != NULL)
    {
      g_printerr ("%s\n", error->message);
      app->status = 1;
    }
  if (--app->pending == 0)
    g_main_loop_quit (app->loop);
}

static void
on_sent (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  SwConnection *server_end = SW_CONNECTION (source);
  g_autoptr(GError) error = NULL;

  /* Done with this client, as at the end of Python's `with` block. */
  if (sw_connection_send_message_finish (server_end, result, &error) &&
      sw_connection_close (server_end, NULL, &error))
    g_print ("Server sent '%s'\n", GREETING);
  done (user_data, error);
}

/* The server: each client, once its TLS handshake succeeded. */
static void
on_connection (SwService    *service,
               SwConnection *server_end,
               gpointer      user_data)
{
  g_autoptr(GBytes) greeting = g_bytes_new_static (GREETING, strlen (GREETING));

  /* The call holds server_end until on_sent(). */
  sw_connection_send_message_async (server_end, greeting, G_PRIORITY_DEFAULT, NULL,
                                    on_sent, user_data);
}

/* A client that failed its handshake never reaches on_connection(). */
static void
on_error (SwService *service,
          GError    *error,
          gpointer   user_data)
{
  g_printerr ("%s\n", error->message);
}

static void
on_received (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  SwConnection *client_end = SW_CONNECTION (source);
  g_autoptr(GBytes) message = NULL;
  g_autoptr(GError) error = NULL;

  message = sw_connection_receive_message_finish (client_end, result, &error);
  if (message != NULL)
    g_print ("Client received '%.*s'\n",
             (int) g_bytes_get_size (message), (const char *) g_bytes_get_data (message, NULL));
  done (user_data, error);
}

/* The client: connected, handshake done, certificate checked. */
static void
on_connected (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(SwConnection) client_end = NULL;
  g_autoptr(GError) error = NULL;
  App *app = user_data;

  client_end = sw_connect_finish (result, &error);
  if (client_end == NULL)
    {
      app->pending = 1;   /* nothing will be sent either */
      done (app, error);
      return;
    }
  sw_connection_receive_message_async (client_end, G_PRIORITY_DEFAULT, NULL,
                                       on_received, app);
}

int
main (int   argc,
      char *argv[])
{
  const char *certificate_file = argc > 1 ? argv[1] : "tests/tls-server.pem";
  /* GTlsFileDatabase takes an absolute path only. */
  g_autofree char *ca_file = g_canonicalize_filename (argc > 2 ? argv[2] : "tests/tls-ca.pem",
                                                      NULL);
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(GTlsCertificate) certificate = NULL;
  g_autoptr(GTlsDatabase) ca = NULL;
  g_autoptr(SwService) service = NULL;
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new_from_string ("127.0.0.1", 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GSocketConnectable) server = NULL;
  g_autofree char *host_and_port = NULL;
  g_autoptr(GError) error = NULL;
  App app = { loop, 2, 0 };

  certificate = g_tls_certificate_new_from_file (certificate_file, &error);
  if (certificate != NULL)
    ca = g_tls_file_database_new (ca_file, &error);
  if (ca == NULL)
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }

  /* The server. */
  service = sw_service_new (sw_framing_get_default ());
  sw_service_set_tls_certificate (service, certificate);
  g_signal_connect (service, "connection", G_CALLBACK (on_connection), &app);
  g_signal_connect (service, "error", G_CALLBACK (on_error), &app);
  if (!g_socket_listener_add_address (G_SOCKET_LISTENER (service), address,
                                      G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                      NULL, &bound, &error))
    {
      g_printerr ("Cannot listen: %s\n", error->message);
      return 1;
    }
  g_print ("Listening on 127.0.0.1:%u\n",
           g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));

  /* The client, by name: the certificate is for "localhost". */
  host_and_port = g_strdup_printf ("localhost:%u",
                                   g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
  server = g_network_address_parse (host_and_port, 0, &error);
  g_assert_no_error (error);
  sw_connect_async (server, sw_framing_get_default (), SW_CONNECT_FLAGS_TLS, ca,
                    G_PRIORITY_DEFAULT, NULL, on_connected, &app);

  g_main_loop_run (loop);
  g_socket_service_stop (G_SOCKET_SERVICE (service));
  g_socket_listener_close (G_SOCKET_LISTENER (service));
  return app.status;
}
