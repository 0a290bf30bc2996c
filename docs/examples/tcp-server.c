/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* A TCP server: a GSocketService listens on 127.0.0.1, port 0 (the system
 * picks a free one), wraps each connection it accepts with
 * sw_connection_new_for_stream() and sends it a greeting. A client in the
 * same main loop connects to the chosen port and receives it. Without a
 * framing (NULL) a connection carries raw bytes, like Python
 * socketwrapper's SocketDuplex(sock).
 *
 *   $ sw-example-tcp-server
 *   Listening on 127.0.0.1:41237
 *   Server sent 'message'
 *   Client received 'message'
 *
 * The last two lines may come in either order.
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

  /* Done with this client, as at the end of Python's `with` block; a
   * connection that failed is closed when its last reference goes. */
  if (sw_connection_send_bytes_finish (server_end, result, &error) >= 0 &&
      sw_connection_close (server_end, NULL, &error))
    g_print ("Server sent '%s'\n", GREETING);
  done (user_data, error);
}

/* The server: called in the main loop for each connection accepted. */
static gboolean
on_incoming (GSocketService    *service,
             GSocketConnection *connection,
             GObject           *source_object,
             gpointer           user_data)
{
  g_autoptr(SwConnection) server_end = NULL;
  g_autoptr(GBytes) greeting = g_bytes_new_static (GREETING, strlen (GREETING));

  server_end = sw_connection_new_for_stream (G_IO_STREAM (connection), NULL);
  /* The call holds server_end until on_sent(). */
  sw_connection_send_bytes_async (server_end, greeting, G_PRIORITY_DEFAULT, NULL,
                                  on_sent, user_data);
  return TRUE;
}

static void
on_received (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(GBytes) message = NULL;
  g_autoptr(GError) error = NULL;

  message = sw_connection_receive_bytes_finish (SW_CONNECTION (source), result, &error);
  if (message != NULL)
    g_print ("Client received '%.*s'\n",
             (int) g_bytes_get_size (message), (const char *) g_bytes_get_data (message, NULL));
  done (user_data, error);
}

int
main (void)
{
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(GSocketService) service = g_socket_service_new ();
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new_from_string ("127.0.0.1", 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketConnection) client_socket = NULL;
  g_autoptr(SwConnection) client_end = NULL;
  g_autoptr(GError) error = NULL;
  App app = { loop, 2, 0 };

  g_signal_connect (service, "incoming", G_CALLBACK (on_incoming), &app);
  if (!g_socket_listener_add_address (G_SOCKET_LISTENER (service), address,
                                      G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                      NULL, &bound, &error))
    {
      g_printerr ("Cannot listen: %s\n", error->message);
      return 1;
    }
  g_print ("Listening on 127.0.0.1:%u\n",
           g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));

  /* The kernel completes the connection before the service accepts it, so
   * a blocking connect is fine here; a GUI would use the _async variant. */
  g_socket_client_set_enable_proxy (client, FALSE);  /* a local address: no proxy */
  client_socket = g_socket_client_connect (client, G_SOCKET_CONNECTABLE (bound), NULL, &error);
  if (client_socket == NULL)
    {
      g_printerr ("Cannot connect: %s\n", error->message);
      return 1;
    }
  client_end = sw_connection_new_for_stream (G_IO_STREAM (client_socket), NULL);
  /* Raw bytes have no message boundaries: ask for as many as expected. */
  sw_connection_receive_bytes_async (client_end, strlen (GREETING), G_PRIORITY_DEFAULT, NULL,
                                     on_received, &app);

  g_main_loop_run (loop);
  g_socket_service_stop (service);
  g_socket_listener_close (G_SOCKET_LISTENER (service));
  return app.status;
}
