/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* A D-Bus hand-off, the pattern desktop portals use: a service exports a
 * method, OpenChannel, that creates a socketpair, keeps one end and returns
 * the other as a file descriptor (D-Bus type 'h', the fd itself travelling
 * in a GUnixFDList). The client wraps the fd it receives with
 * sw_connection_new_for_fd() and from then on the two talk directly, with
 * whole messages, without going through the bus.
 *
 * Both halves run in this one program, each with its own bus connection,
 * so that it runs on its own; in a desktop they live in two processes.
 * It needs a session bus:
 *
 *   $ dbus-run-session -- sw-example-dbus-channel
 *   Service received 'Hello service!'
 *   Client received 'Hello client!'
 */

#include <sys/socket.h>
#include <unistd.h>

#include <gio/gunixfdlist.h>
#include <socketwrapper/socketwrapper.h>

#define BUS_NAME    "org.socketwrapper.Example"
#define OBJECT_PATH "/org/socketwrapper/Example"
#define INTERFACE   "org.socketwrapper.Example.Channels"

static const char introspection_xml[] =
  "<node>"
  "  <interface name='" INTERFACE "'>"
  "    <method name='OpenChannel'>"
  "      <arg type='h' name='channel' direction='out'/>"
  "    </method>"
  "  </interface>"
  "</node>";

typedef struct
{
  GMainLoop       *loop;
  GDBusConnection *client_bus;
  int              pending;  /* the service's exchange and the client's */
  int              status;   /* the exit status */
} App;

static void
done (App          *app,
      const GError *error)
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
print_message (const char *who,
               GBytes     *message)
{
  g_print ("%s received '%.*s'\n", who, (int) g_bytes_get_size (message),
           (const char *) g_bytes_get_data (message, NULL));
}

/* --- The service ------------------------------------------------------- */

static void
on_service_sent (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  sw_connection_send_message_finish (SW_CONNECTION (source), result, &error);
  done (user_data, error);
}

static void
on_service_received (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  SwConnection *service_end = SW_CONNECTION (source);
  g_autoptr(GBytes) message = NULL;
  g_autoptr(GBytes) reply = g_bytes_new_static ("Hello client!", 13);
  g_autoptr(GError) error = NULL;

  message = sw_connection_receive_message_finish (service_end, result, &error);
  if (message == NULL)
    {
      done (user_data, error);
      return;
    }
  print_message ("Service", message);
  sw_connection_send_message_async (service_end, reply, G_PRIORITY_DEFAULT, NULL,
                                    on_service_sent, user_data);
}

/* OpenChannel: a fresh socketpair; one end stays here, the other one is
 * the reply. The fds are close-on-exec so that no child inherits them. */
static void
open_channel (GDBusMethodInvocation *invocation,
              App                   *app)
{
  g_autoptr(SwConnection) service_end = NULL;
  g_autoptr(GUnixFDList) fds = NULL;
  g_autoptr(GError) error = NULL;
  int pair[2];

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0)
    {
      g_dbus_method_invocation_return_error (invocation, G_IO_ERROR,
                                             g_io_error_from_errno (errno),
                                             "socketpair: %s", g_strerror (errno));
      return;
    }
  /* The connection owns pair[0]; the list owns pair[1] and closes it once
   * the reply is sent. */
  service_end = sw_connection_new_for_fd (pair[0], sw_framing_get_default (), &error);
  fds = g_unix_fd_list_new_from_array (&pair[1], 1);
  if (service_end == NULL)
    {
      close (pair[0]);
      g_dbus_method_invocation_return_gerror (invocation, error);
      return;
    }
  g_dbus_method_invocation_return_value_with_unix_fd_list (invocation,
                                                           g_variant_new ("(h)", 0),
                                                           fds);
  /* The call holds service_end until on_service_received(). */
  sw_connection_receive_message_async (service_end, G_PRIORITY_DEFAULT, NULL,
                                       on_service_received, app);
}

static void
on_method_call (GDBusConnection       *bus,
                const char            *sender,
                const char            *object_path,
                const char            *interface_name,
                const char            *method_name,
                GVariant              *parameters,
                GDBusMethodInvocation *invocation,
                gpointer               user_data)
{
  if (g_strcmp0 (method_name, "OpenChannel") == 0)
    open_channel (invocation, user_data);
  else
    g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR,
                                           G_DBUS_ERROR_UNKNOWN_METHOD,
                                           "No method %s", method_name);
}

static const GDBusInterfaceVTable vtable = { on_method_call, NULL, NULL, { NULL } };

/* --- The client -------------------------------------------------------- */

static void
on_client_received (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(GBytes) message = NULL;
  g_autoptr(GError) error = NULL;

  message = sw_connection_receive_message_finish (SW_CONNECTION (source), result, &error);
  if (message != NULL)
    print_message ("Client", message);
  done (user_data, error);
}

static void
on_client_sent (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  SwConnection *client_end = SW_CONNECTION (source);
  g_autoptr(GError) error = NULL;

  if (!sw_connection_send_message_finish (client_end, result, &error))
    {
      done (user_data, error);
      return;
    }
  sw_connection_receive_message_async (client_end, G_PRIORITY_DEFAULT, NULL,
                                       on_client_received, user_data);
}

static void
on_channel_opened (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GUnixFDList) fds = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(SwConnection) client_end = NULL;
  g_autoptr(GBytes) hello = g_bytes_new_static ("Hello service!", 14);
  g_autoptr(GError) error = NULL;
  gint32 handle;
  int fd;

  reply = g_dbus_connection_call_with_unix_fd_list_finish (G_DBUS_CONNECTION (source), &fds,
                                                           result, &error);
  if (reply == NULL)
    {
      done (user_data, error);
      return;
    }
  /* 'h' is an index into the fd list; g_unix_fd_list_get() returns a
   * duplicate the caller owns, and checks the index. */
  g_variant_get (reply, "(h)", &handle);
  fd = fds != NULL ? g_unix_fd_list_get (fds, handle, &error) : -1;
  if (fd < 0)
    {
      if (error == NULL)
        g_set_error_literal (&error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                             "The reply carries no file descriptor");
      done (user_data, error);
      return;
    }
  client_end = sw_connection_new_for_fd (fd, sw_framing_get_default (), &error);
  if (client_end == NULL)
    {
      close (fd);
      done (user_data, error);
      return;
    }
  sw_connection_send_message_async (client_end, hello, G_PRIORITY_DEFAULT, NULL,
                                    on_client_sent, user_data);
}

static void
on_name_acquired (GDBusConnection *bus,
                  const char      *name,
                  gpointer         user_data)
{
  App *app = user_data;

  g_dbus_connection_call_with_unix_fd_list (app->client_bus, BUS_NAME, OBJECT_PATH, INTERFACE,
                                            "OpenChannel", NULL, G_VARIANT_TYPE ("(h)"),
                                            G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL,
                                            on_channel_opened, app);
}

static void
on_name_lost (GDBusConnection *bus,
              const char      *name,
              gpointer         user_data)
{
  App *app = user_data;

  g_printerr ("Cannot own %s\n", name);
  app->status = 1;
  g_main_loop_quit (app->loop);
}

int
main (void)
{
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(GDBusNodeInfo) node = g_dbus_node_info_new_for_xml (introspection_xml, NULL);
  g_autoptr(GDBusConnection) service_bus = NULL;
  g_autoptr(GDBusConnection) client_bus = NULL;
  guint owner_id;
  g_autofree char *address = NULL;
  g_autoptr(GError) error = NULL;
  App app = { loop, NULL, 2, 0 };

  /* Two connections to the session bus: the service's and the client's. */
  address = g_dbus_address_get_for_bus_sync (G_BUS_TYPE_SESSION, NULL, &error);
  if (address != NULL)
    service_bus = g_dbus_connection_new_for_address_sync (address,
        G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
        G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION, NULL, NULL, &error);
  if (service_bus != NULL)
    client_bus = g_dbus_connection_new_for_address_sync (address,
        G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
        G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION, NULL, NULL, &error);
  if (client_bus == NULL)
    {
      g_printerr ("No session bus: %s\n", error->message);
      return 1;
    }

  if (g_dbus_connection_register_object (service_bus, OBJECT_PATH, node->interfaces[0],
                                         &vtable, &app, NULL, &error) == 0)
    {
      g_printerr ("Cannot export the service: %s\n", error->message);
      return 1;
    }
  /* The client calls once the name is the service's. */
  app.client_bus = client_bus;
  owner_id = g_bus_own_name_on_connection (service_bus, BUS_NAME, G_BUS_NAME_OWNER_FLAGS_NONE,
                                           on_name_acquired, on_name_lost, &app, NULL);
  g_main_loop_run (loop);
  g_bus_unown_name (owner_id);
  return app.status;
}
