/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* swcat's addresses: parsing `kind:value`, connecting to one with
 * sw_connect_async() (or sw_connection_new_for_fd() and sw_spawn()), and
 * listening on one with an SwService, so that every kind ends as an
 * SwConnection. */
#include "config.h"

#include <unistd.h>
#include <gio/gunixsocketaddress.h>
#include <glib/gi18n.h>

#include "swcat.h"

typedef struct
{
  const char *prefix;
  SwcatAddressKind kind;
  gboolean can_listen;
} Kind;

static const Kind kinds[] = {
  { "unix:", SWCAT_ADDRESS_UNIX, TRUE },
  { "abstract:", SWCAT_ADDRESS_ABSTRACT, TRUE },
  { "tcp:", SWCAT_ADDRESS_TCP, TRUE },
  { "tls:", SWCAT_ADDRESS_TLS, TRUE },
  { "fd:", SWCAT_ADDRESS_FD, FALSE },
  { "exec:", SWCAT_ADDRESS_EXEC, FALSE },
};

#define LISTEN_PREFIX "listen:"

/* A usage error: %G_IO_ERROR_INVALID_ARGUMENT with a one-line message.
 * Returns FALSE. */
gboolean
swcat_usage_error (GError    **error,
                   const char *format,
                   ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, message);
  return FALSE;
}

/* HOST:PORT, HOST possibly an IPv6 address in brackets; a listener may
 * ask for port 0, which the system then picks. */
static gboolean
parse_host_port (const char    *text,
                 const char    *whole,
                 gboolean       listen,
                 SwcatAddress  *address,
                 GError       **error)
{
  const char *colon = strrchr (text, ':');
  g_autofree char *host = NULL;
  guint64 port;

  if (colon == NULL || colon == text)
    return swcat_usage_error (error, _("Address “%s” needs HOST:PORT"), whole);
  host = g_strndup (text, colon - text);
  if (host[0] == '[' && g_str_has_suffix (host, "]"))
    {
      char *inner = g_strndup (host + 1, strlen (host) - 2);

      g_free (host);
      host = inner;
    }
  if (host[0] == '\0' ||
      !g_ascii_string_to_unsigned (colon + 1, 10, listen ? 0 : 1, G_MAXUINT16, &port, NULL))
    return swcat_usage_error (error, _("Address “%s” needs a host and a port from %d to 65535"),
                        whole, listen ? 0 : 1);
  address->name = g_steal_pointer (&host);
  address->port = port;
  return TRUE;
}

/* exec:COMMAND is split as a shell would split it, and the arguments
 * after the address are appended to it. */
static gboolean
parse_command (const char    *text,
               char         **extra_args,
               SwcatAddress  *address,
               GError       **error)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_auto(GStrv) words = NULL;
  g_autoptr(GError) local_error = NULL;

  if (*text != '\0' && !g_shell_parse_argv (text, NULL, &words, &local_error))
    return swcat_usage_error (error, _("Cannot split the command of exec: %s"), local_error->message);
  if (words != NULL)
    g_strv_builder_addv (builder, (const char **) words);
  if (extra_args != NULL)
    g_strv_builder_addv (builder, (const char **) extra_args);
  address->argv = g_strv_builder_end (builder);
  if (address->argv[0] == NULL)
    return swcat_usage_error (error, _("exec: needs a command"));
  return TRUE;
}

static gboolean
parse_value (const char    *value,
             const char    *whole,
             char         **extra_args,
             SwcatAddress  *address,
             GError       **error)
{
  guint64 fd;

  switch (address->kind)
    {
    case SWCAT_ADDRESS_UNIX:
    case SWCAT_ADDRESS_ABSTRACT:
      if (*value == '\0')
        return swcat_usage_error (error, _("Address “%s” needs a name after the colon"), whole);
      address->name = g_strdup (value);
      return TRUE;
    case SWCAT_ADDRESS_TCP:
    case SWCAT_ADDRESS_TLS:
      return parse_host_port (value, whole, address->listen, address, error);
    case SWCAT_ADDRESS_FD:
      /* 0, 1 and 2 carry the text of the messages. */
      if (!g_ascii_string_to_unsigned (value, 10, 3, G_MAXINT, &fd, NULL))
        return swcat_usage_error (error, _("Address “%s” needs a descriptor number of 3 or more"), whole);
      address->fd = fd;
      return TRUE;
    case SWCAT_ADDRESS_EXEC:
      return parse_command (value, extra_args, address, error);
    default:
      g_assert_not_reached ();
    }
}

/**
 * swcat_address_parse:
 * @text: the ADDRESS argument
 * @extra_args: (nullable): the arguments after it; only exec: takes any
 * @address: (out caller-allocates): the address
 * @error: %G_IO_ERROR_INVALID_ARGUMENT with a one-line message
 */
gboolean
swcat_address_parse (const char     *text,
                     char          **extra_args,
                     SwcatAddress   *address,
                     GError        **error)
{
  const char *rest = text;
  const Kind *kind = NULL;

  memset (address, 0, sizeof *address);
  address->text = g_strdup (text);
  address->fd = -1;
  if (g_str_has_prefix (rest, LISTEN_PREFIX))
    {
      address->listen = TRUE;
      rest += strlen (LISTEN_PREFIX);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (kinds) && kind == NULL; i++)
    if (g_str_has_prefix (rest, kinds[i].prefix))
      kind = &kinds[i];
  if (kind == NULL)
    return swcat_usage_error (error, _("Unknown address “%s”: expected unix:, abstract:, tcp:, tls:, fd:, exec: or listen:"),
                        text);
  if (address->listen && !kind->can_listen)
    return swcat_usage_error (error, _("Cannot listen on “%s”: listen: takes unix:, abstract:, tcp: or tls:"), text);
  if (kind->kind != SWCAT_ADDRESS_EXEC && extra_args != NULL && extra_args[0] != NULL)
    return swcat_usage_error (error, _("Unexpected argument “%s” after the address"), extra_args[0]);
  address->kind = kind->kind;
  return parse_value (rest + strlen (kind->prefix), text, extra_args, address, error);
}

void
swcat_address_clear (SwcatAddress *address)
{
  g_clear_pointer (&address->text, g_free);
  g_clear_pointer (&address->name, g_free);
  g_clear_pointer (&address->argv, g_strfreev);
}

/* The TLS options fit the address, or a message saying why not. */
char *
swcat_address_check_tls (const SwcatAddress *address,
                         const SwcatTls     *tls)
{
  gboolean is_tls = address->kind == SWCAT_ADDRESS_TLS;

  if (is_tls && address->listen && tls->certificate_file == NULL)
    return g_strdup (_("listen:tls: needs --certificate"));
  if (tls->certificate_file != NULL && !(is_tls && address->listen))
    return g_strdup (_("--certificate is only for listen:tls:"));
  if ((tls->insecure || tls->ca_file != NULL) && !(is_tls && !address->listen))
    return g_strdup (_("--insecure and --ca-file are only for tls:"));
  if (tls->insecure && tls->ca_file != NULL)
    return g_strdup (_("--insecure and --ca-file exclude each other"));
  return NULL;
}

/* ---- connecting --------------------------------------------------------- */

static GSocketAddress *
unix_address (const SwcatAddress *address)
{
  if (address->kind == SWCAT_ADDRESS_ABSTRACT)
    return g_unix_socket_address_new_with_type (address->name, -1, G_UNIX_SOCKET_ADDRESS_ABSTRACT);
  return g_unix_socket_address_new (address->name);
}

/* The authorities of --ca-file; GTlsFileDatabase takes only absolute
 * paths. */
static GTlsDatabase *
ca_database (const SwcatTls  *tls,
             GError         **error)
{
  g_autofree char *path = g_canonicalize_filename (tls->ca_file, NULL);

  return g_tls_file_database_new (path, error);
}

static void
on_connected (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;
  SwConnection *connection = sw_connect_finish (result, &error);

  if (connection == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, connection, g_object_unref);
}

/* unix:, abstract:, tcp: and tls: go through sw_connect_async(). */
static gboolean
connect_socket (GTask               *task,
                const SwcatAddress  *address,
                const SwcatTls      *tls,
                GError             **error)
{
  g_autoptr(GSocketConnectable) connectable = NULL;
  g_autoptr(GTlsDatabase) database = NULL;
  SwConnectFlags flags = SW_CONNECT_FLAGS_NONE;

  if (address->kind == SWCAT_ADDRESS_UNIX || address->kind == SWCAT_ADDRESS_ABSTRACT)
    connectable = G_SOCKET_CONNECTABLE (unix_address (address));
  else
    connectable = g_network_address_new (address->name, address->port);

  if (address->kind == SWCAT_ADDRESS_TLS)
    {
      flags |= SW_CONNECT_FLAGS_TLS;
      if (tls->insecure)
        flags |= SW_CONNECT_FLAGS_TLS_ACCEPT_ANY;
      if (tls->ca_file != NULL && (database = ca_database (tls, error)) == NULL)
        return FALSE;
    }
  sw_connect_async (connectable, g_task_get_task_data (task), flags, database, G_PRIORITY_DEFAULT,
                    g_task_get_cancellable (task), on_connected, g_object_ref (task));
  return TRUE;
}

/* Connects to @address, which does not listen. fd: and exec: are ready at
 * once. */
void
swcat_connect_async (const SwcatAddress  *address,
                     const SwcatTls      *tls,
                     SwFraming           *framing,
                     GCancellable        *cancellable,
                     GAsyncReadyCallback  callback,
                     gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  g_autoptr(GError) error = NULL;
  SwConnection *connection = NULL;

  g_task_set_task_data (task, g_object_ref (framing), g_object_unref);
  switch (address->kind)
    {
    case SWCAT_ADDRESS_FD:
      connection = sw_connection_new_for_fd (address->fd, framing, &error);
      break;
    case SWCAT_ADDRESS_EXEC:
      connection = sw_spawn ((const char * const *) address->argv, framing,
                             G_SUBPROCESS_FLAGS_NONE, NULL, &error);
      break;
    default:
      if (!connect_socket (task, address, tls, &error))
        break;
      return;
    }
  if (connection == NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_pointer (task, connection, g_object_unref);
}

SwConnection *
swcat_connect_finish (GAsyncResult  *result,
                      GError       **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- listening ---------------------------------------------------------- */

/* The first address of @host, a literal address or a name. */
static GInetAddress *
resolve_host (const char  *host,
              GError     **error)
{
  g_autoptr(GResolver) resolver = NULL;
  GList *found;
  GInetAddress *first;

  first = g_inet_address_new_from_string (host);
  if (first != NULL)
    return first;
  resolver = g_resolver_get_default ();
  found = g_resolver_lookup_by_name (resolver, host, NULL, error);
  if (found == NULL)
    return NULL;
  first = g_object_ref (found->data);
  g_resolver_free_addresses (found);
  return first;
}

/* How the listener is reached, in swcat's own address syntax. */
static char *
describe (const SwcatAddress *address,
          GSocketAddress     *effective)
{
  const char *kind = address->kind == SWCAT_ADDRESS_TLS ? "tls" : "tcp";
  g_autofree char *host = NULL;
  GInetAddress *inet;

  if (!G_IS_INET_SOCKET_ADDRESS (effective))
    return g_strdup_printf ("%s:%s", address->kind == SWCAT_ADDRESS_UNIX ? "unix" : "abstract",
                            address->name);
  inet = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (effective));
  host = g_inet_address_to_string (inet);
  if (g_inet_address_get_family (inet) == G_SOCKET_FAMILY_IPV6)
    return g_strdup_printf ("%s:[%s]:%u", kind, host,
                            g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective)));
  return g_strdup_printf ("%s:%s:%u", kind, host,
                          g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective)));
}

static GSocketAddress *
listen_address (const SwcatAddress  *address,
                GError             **error)
{
  g_autoptr(GInetAddress) inet = NULL;

  if (address->kind == SWCAT_ADDRESS_UNIX || address->kind == SWCAT_ADDRESS_ABSTRACT)
    return unix_address (address);
  inet = resolve_host (address->name, error);
  if (inet == NULL)
    return NULL;
  return g_inet_socket_address_new (inet, address->port);
}

/* An SwService listening on @address (with --certificate's identity for
 * listen:tls:), which says where on standard error:
 * `swcat: listening on tcp:127.0.0.1:40325` gives the port the system
 * picked for port 0. Clients come through its ::connection and ::error
 * signals. */
SwcatListener *
swcat_listener_new (const SwcatAddress  *address,
                    const SwcatTls      *tls,
                    SwFraming           *framing,
                    GError             **error)
{
  g_autoptr(SwcatListener) self = g_new0 (SwcatListener, 1);
  g_autoptr(GSocketAddress) wanted = NULL;
  g_autoptr(GSocketAddress) effective = NULL;
  g_autofree char *where = NULL;

  self->service = sw_service_new (framing);
  if (address->kind == SWCAT_ADDRESS_TLS)
    {
      g_autoptr(GTlsCertificate) certificate = g_tls_certificate_new_from_file (tls->certificate_file, error);

      if (certificate == NULL)
        return NULL;
      sw_service_set_tls_certificate (self->service, certificate);
    }
  wanted = listen_address (address, error);
  if (wanted == NULL ||
      !g_socket_listener_add_address (G_SOCKET_LISTENER (self->service), wanted, G_SOCKET_TYPE_STREAM,
                                      G_SOCKET_PROTOCOL_DEFAULT, NULL, &effective, error))
    return NULL;
  if (address->kind == SWCAT_ADDRESS_UNIX)
    self->path = g_strdup (address->name);

  where = describe (address, effective);
  g_printerr (_("swcat: listening on %s\n"), where);
  return g_steal_pointer (&self);
}

void
swcat_listener_free (SwcatListener *self)
{
  if (self->path != NULL)
    unlink (self->path);
  g_free (self->path);
  if (self->service != NULL)
    {
      g_socket_service_stop (G_SOCKET_SERVICE (self->service));
      g_socket_listener_close (G_SOCKET_LISTENER (self->service));
    }
  g_clear_object (&self->service);
  g_free (self);
}

/* ---- multiprocessing authentication ------------------------------------- */

/* The challenges of multiprocessing.connection: a Listener delivers its
 * challenge and then answers the client's; a Client answers first. */
typedef struct
{
  GBytes *authkey;
  gboolean server;
  gboolean first_done;
} Authentication;

static void
authentication_free (Authentication *auth)
{
  g_bytes_unref (auth->authkey);
  g_free (auth);
}

static void authentication_step (GTask *task);

static void
on_authentication_step (GObject      *source,
                        GAsyncResult *result,
                        gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Authentication *auth = g_task_get_task_data (task);
  gboolean delivered = auth->server != auth->first_done;
  GError *error = NULL;
  gboolean ok;

  if (delivered)
    ok = sw_multiprocessing_deliver_challenge_finish (SW_CONNECTION (source), result, &error);
  else
    ok = sw_multiprocessing_answer_challenge_finish (SW_CONNECTION (source), result, &error);
  if (!ok)
    g_task_return_error (task, error);
  else if (auth->first_done)
    g_task_return_boolean (task, TRUE);
  else
    {
      auth->first_done = TRUE;
      authentication_step (g_steal_pointer (&task));
    }
}

/* Runs the next challenge; takes @task's reference. */
static void
authentication_step (GTask *task)
{
  Authentication *auth = g_task_get_task_data (task);
  SwConnection *connection = g_task_get_source_object (task);

  if (auth->server != auth->first_done)
    sw_multiprocessing_deliver_challenge_async (connection, auth->authkey, g_task_get_cancellable (task),
                                                on_authentication_step, task);
  else
    sw_multiprocessing_answer_challenge_async (connection, auth->authkey, g_task_get_cancellable (task),
                                               on_authentication_step, task);
}

/* Proves to the peer of @connection, a multiprocessing.connection Client
 * (@server) or Listener, that both know @authkey, and checks that it
 * does. */
void
swcat_authenticate_async (SwConnection        *connection,
                          GBytes              *authkey,
                          gboolean             server,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  GTask *task = g_task_new (connection, cancellable, callback, user_data);
  Authentication *auth = g_new0 (Authentication, 1);

  auth->authkey = g_bytes_ref (authkey);
  auth->server = server;
  g_task_set_task_data (task, auth, (GDestroyNotify) authentication_free);
  authentication_step (task);
}

gboolean
swcat_authenticate_finish (GAsyncResult  *result,
                           GError       **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}
