/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The D-Bus hand-off on a real, private dbus-daemon (GTestDBus): a service
 * exports OpenChannel, which returns one end of a fresh socketpair as a
 * handle in a GUnixFDList and serves the other end with an SwConnection
 * that echoes every message. Clients wrap the handle with
 * sw_connection_new_for_fd(): one in a thread of this process, one a
 * Python process that speaks the VarInt framing over a plain socket. A
 * client that vanishes ends its channel with CONNECTION_CLOSED, reported
 * once, while the service keeps serving the others. */

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gio/gunixfdlist.h>
#include <socketwrapper/socketwrapper.h>

#include "sw-test-util.h"

#define BUS_NAME    "org.socketwrapper.Test"
#define OBJECT_PATH "/org/socketwrapper/Test"
#define INTERFACE   "org.socketwrapper.Test.Channels"

static const char introspection_xml[] =
  "<node>"
  "  <interface name='" INTERFACE "'>"
  "    <method name='OpenChannel'>"
  "      <arg type='h' name='channel' direction='out'/>"
  "    </method>"
  "  </interface>"
  "</node>";

/* The service: its bus connection, and what its channels saw. Everything
 * here runs in the main thread's context. */
typedef struct
{
  GTestDBus       *dbus;
  GDBusConnection *bus;
  guint            registration;
  guint            channels_opened;
  guint            messages_echoed;
  GPtrArray       *channel_errors;  /* GError *, one per ended channel */
  GMainLoop       *loop;
} Service;

static void echo_next (SwConnection *channel, Service *service);

static void
on_echoed (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  Service *service = user_data;
  SwConnection *channel = SW_CONNECTION (source);
  g_autoptr(GError) error = NULL;

  if (!sw_connection_send_message_finish (channel, result, &error))
    {
      g_ptr_array_add (service->channel_errors, g_steal_pointer (&error));
      g_main_loop_quit (service->loop);
      return;
    }
  service->messages_echoed++;
  echo_next (channel, service);
}

static void
on_channel_message (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  Service *service = user_data;
  SwConnection *channel = SW_CONNECTION (source);
  g_autoptr(GBytes) message = NULL;
  g_autoptr(GError) error = NULL;

  message = sw_connection_receive_message_finish (channel, result, &error);
  if (message == NULL)
    {
      /* The end of this channel: the loop learns it through the array. */
      g_ptr_array_add (service->channel_errors, g_steal_pointer (&error));
      g_main_loop_quit (service->loop);
      return;
    }
  sw_connection_send_message_async (channel, message, G_PRIORITY_DEFAULT, NULL,
                                    on_echoed, service);
}

/* Each pending call holds the channel, so it lives until its peer ends. */
static void
echo_next (SwConnection *channel,
           Service      *service)
{
  sw_connection_receive_message_async (channel, G_PRIORITY_DEFAULT, NULL,
                                       on_channel_message, service);
}

static void
open_channel (GDBusMethodInvocation *invocation,
              Service               *service)
{
  g_autoptr(SwConnection) channel = NULL;
  g_autoptr(GUnixFDList) fds = NULL;
  g_autoptr(GError) error = NULL;
  int pair[2];

  g_assert_no_errno (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair));
  channel = sw_connection_new_for_fd (pair[0], sw_framing_get_default (), &error);
  g_assert_no_error (error);
  /* The list owns pair[1]; GDBus closes it once the reply is sent. */
  fds = g_unix_fd_list_new_from_array (&pair[1], 1);
  g_dbus_method_invocation_return_value_with_unix_fd_list (invocation,
                                                           g_variant_new ("(h)", 0),
                                                           fds);
  service->channels_opened++;
  echo_next (channel, service);
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
  g_assert_cmpstr (method_name, ==, "OpenChannel");
  open_channel (invocation, user_data);
}

static const GDBusInterfaceVTable vtable = { on_method_call, NULL, NULL, { NULL } };

static void
service_start (Service *service)
{
  g_autoptr(GDBusNodeInfo) node = g_dbus_node_info_new_for_xml (introspection_xml, NULL);
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  guint32 owned;

  service->dbus = g_test_dbus_new (G_TEST_DBUS_NONE);
  g_test_dbus_up (service->dbus);
  service->bus = g_dbus_connection_new_for_address_sync (g_test_dbus_get_bus_address (service->dbus),
      G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
      G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION, NULL, NULL, &error);
  g_assert_no_error (error);
  service->registration = g_dbus_connection_register_object (service->bus, OBJECT_PATH,
                                                             node->interfaces[0], &vtable,
                                                             service, NULL, &error);
  g_assert_no_error (error);
  /* DO_NOT_QUEUE (4): the name is ours (1) when this returns. */
  reply = g_dbus_connection_call_sync (service->bus, "org.freedesktop.DBus",
                                       "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                       "RequestName", g_variant_new ("(su)", BUS_NAME, 4),
                                       G_VARIANT_TYPE ("(u)"), G_DBUS_CALL_FLAGS_NONE, -1,
                                       NULL, &error);
  g_assert_no_error (error);
  g_variant_get (reply, "(u)", &owned);
  g_assert_cmpuint (owned, ==, 1);
  service->channel_errors = g_ptr_array_new_with_free_func ((GDestroyNotify) g_error_free);
  service->loop = g_main_loop_new (NULL, FALSE);
}

static void
service_stop (Service *service)
{
  g_dbus_connection_unregister_object (service->bus, service->registration);
  g_dbus_connection_close_sync (service->bus, NULL, NULL);
  g_clear_object (&service->bus);
  g_test_dbus_down (service->dbus);
  g_clear_object (&service->dbus);
  g_ptr_array_unref (service->channel_errors);
  g_main_loop_unref (service->loop);
}

/* Runs the loop until @n channels have ended. */
static void
service_run_until_ended (Service *service,
                         guint    n)
{
  while (service->channel_errors->len < n)
    g_main_loop_run (service->loop);
}

static void
assert_all_ended_by_peer (Service *service)
{
  for (guint i = 0; i < service->channel_errors->len; i++)
    {
      const GError *error = g_ptr_array_index (service->channel_errors, i);

      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
    }
}

/* --- A client in a thread of this process ---------------------------- */

/* OpenChannel on a bus connection of its own, as another process would. */
static SwConnection *
client_open_channel (const char *address)
{
  g_autoptr(GDBusConnection) bus = NULL;
  g_autoptr(GUnixFDList) fds = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  SwConnection *channel;
  gint32 handle;
  int fd;

  bus = g_dbus_connection_new_for_address_sync (address,
      G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
      G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION, NULL, NULL, &error);
  g_assert_no_error (error);
  reply = g_dbus_connection_call_with_unix_fd_list_sync (bus, BUS_NAME, OBJECT_PATH, INTERFACE,
                                                         "OpenChannel", NULL,
                                                         G_VARIANT_TYPE ("(h)"),
                                                         G_DBUS_CALL_FLAGS_NONE, -1, NULL,
                                                         &fds, NULL, &error);
  g_assert_no_error (error);
  g_variant_get (reply, "(h)", &handle);
  fd = g_unix_fd_list_get (fds, handle, &error);
  g_assert_no_error (error);
  channel = sw_connection_new_for_fd (fd, sw_framing_get_default (), &error);
  g_assert_no_error (error);
  g_dbus_connection_close_sync (bus, NULL, NULL);
  return channel;
}

typedef struct
{
  const char *address;
  guint       n_messages;
  gboolean    vanish;   /* close the channel without a word */
  guint       echoed;   /* messages that came back intact */
} Client;

static gpointer
client_thread (gpointer data)
{
  Client *client = data;
  g_autoptr(SwConnection) channel = client_open_channel (client->address);
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < client->n_messages; i++)
    {
      g_autofree char *text = g_strdup_printf ("message %u through the hand-off", i);
      g_autoptr(GBytes) message = g_bytes_new (text, strlen (text));
      g_autoptr(GBytes) echo = NULL;

      g_assert_true (sw_connection_send_message (channel, message, -1, NULL, &error));
      g_assert_no_error (error);
      echo = sw_connection_receive_message (channel, -1, NULL, &error);
      g_assert_no_error (error);
      if (g_bytes_equal (echo, message))
        client->echoed++;
    }
  /* Either way the service sees the end of the channel: a clean close
   * after the last message, or a client that just drops it. */
  if (!client->vanish)
    g_assert_true (sw_connection_close (channel, NULL, &error));
  g_assert_no_error (error);
  return NULL;
}

static void
test_in_process_client (void)
{
  Service service = { 0 };
  Client client = { NULL, 50, FALSE, 0 };
  GThread *thread;

  service_start (&service);
  client.address = g_test_dbus_get_bus_address (service.dbus);
  thread = g_thread_new ("client", client_thread, &client);
  service_run_until_ended (&service, 1);
  g_thread_join (thread);

  g_assert_cmpuint (client.echoed, ==, 50);
  g_assert_cmpuint (service.channels_opened, ==, 1);
  g_assert_cmpuint (service.messages_echoed, ==, 50);
  /* The service saw the end of the channel only because no copy of the
   * client's end stayed open anywhere: not in the reply's fd list, not in
   * GDBus. A copy left open makes the loop above wait forever. */
  assert_all_ended_by_peer (&service);
  service_stop (&service);
}

/* Three clients, one of which drops its channel after one message: each
 * ending is reported once, and the others are served to the end. */
static void
test_vanishing_client (void)
{
  Service service = { 0 };
  Client clients[3] = {
    { NULL, 20, FALSE, 0 }, { NULL, 1, TRUE, 0 }, { NULL, 20, FALSE, 0 },
  };
  GThread *threads[3];

  service_start (&service);
  for (guint i = 0; i < 3; i++)
    {
      clients[i].address = g_test_dbus_get_bus_address (service.dbus);
      threads[i] = g_thread_new ("client", client_thread, &clients[i]);
    }
  service_run_until_ended (&service, 3);
  for (guint i = 0; i < 3; i++)
    g_thread_join (threads[i]);

  g_assert_cmpuint (clients[0].echoed, ==, 20);
  g_assert_cmpuint (clients[1].echoed, ==, 1);
  g_assert_cmpuint (clients[2].echoed, ==, 20);
  g_assert_cmpuint (service.messages_echoed, ==, 41);
  g_assert_cmpuint (service.channel_errors->len, ==, 3);
  assert_all_ended_by_peer (&service);
  service_stop (&service);
}

/* --- A Python process as the client ----------------------------------- */

static void
on_python_exited (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  gboolean *exited = user_data;
  g_autoptr(GError) error = NULL;

  g_assert_true (g_subprocess_wait_finish (G_SUBPROCESS (source), result, &error));
  g_assert_no_error (error);
  *exited = TRUE;
}

static void
test_python_client (void)
{
  const char *python = sw_test_get_python ();
  g_autofree char *script = sw_test_get_script ("dbus_client.py");
  Service service = { 0 };
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) child = NULL;
  g_autoptr(GError) error = NULL;
  gboolean exited = FALSE;

  if (python == NULL)
    {
      g_test_skip ("no /usr/bin/python3");
      return;
    }
  service_start (&service);
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_subprocess_launcher_setenv (launcher, "DBUS_SESSION_BUS_ADDRESS",
                                g_test_dbus_get_bus_address (service.dbus), TRUE);
  child = g_subprocess_launcher_spawn (launcher, &error, python, script, NULL);
  g_assert_no_error (error);
  g_subprocess_wait_check_async (child, NULL, on_python_exited, &exited);

  /* The script exits 0 only when every echo came back whole. */
  service_run_until_ended (&service, 1);
  while (!exited)
    g_main_context_iteration (NULL, TRUE);

  g_assert_cmpuint (service.messages_echoed, ==, 3);
  assert_all_ended_by_peer (&service);
  service_stop (&service);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/sw/dbus/open-channel/in-process", test_in_process_client);
  g_test_add_func ("/sw/dbus/open-channel/vanishing-client", test_vanishing_client);
  g_test_add_func ("/sw/dbus/open-channel/python-client", test_python_client);
  return g_test_run ();
}
