/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Connecting to a service: GSocketClient finds and connects the address
 * (host names, UNIX addresses, proxies), then the TLS handshake is done
 * here rather than by GSocketClient, whose TLS result is a
 * GTcpWrapperConnection: a GSocketConnection whose socket carries the
 * ciphertext, which a connection would drive directly. Wrapping the
 * GTlsClientConnection itself keeps every byte going through TLS, and
 * leaves the certificate errors at hand for the error message. */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "sw-connect.h"
#include "sw-init-private.h"

G_DEFINE_FLAGS_TYPE (SwConnectFlags, sw_connect_flags,
  G_DEFINE_ENUM_VALUE (SW_CONNECT_FLAGS_NONE, "none"),
  G_DEFINE_ENUM_VALUE (SW_CONNECT_FLAGS_TLS, "tls"),
  G_DEFINE_ENUM_VALUE (SW_CONNECT_FLAGS_TLS_ACCEPT_ANY, "tls-accept-any"))

typedef struct
{
  GSocketConnectable *connectable;
  SwFraming          *framing;      /* nullable */
  SwConnectFlags      flags;
  GTlsDatabase       *database;     /* nullable */
  GIOStream          *tls;          /* during the handshake */
} ConnectData;

static ConnectData *
connect_data_new (GSocketConnectable *connectable,
                  SwFraming          *framing,
                  SwConnectFlags      flags,
                  GTlsDatabase       *database)
{
  ConnectData *data = g_new0 (ConnectData, 1);

  data->connectable = g_object_ref (connectable);
  data->framing = framing != NULL ? g_object_ref (framing) : NULL;
  data->flags = flags;
  data->database = database != NULL ? g_object_ref (database) : NULL;
  return data;
}

static void
connect_data_free (ConnectData *data)
{
  g_clear_object (&data->connectable);
  g_clear_object (&data->framing);
  g_clear_object (&data->database);
  g_clear_object (&data->tls);
  g_free (data);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ConnectData, connect_data_free)

static gboolean
accept_any_certificate (GTlsConnection       *connection,
                        GTlsCertificate      *certificate,
                        GTlsCertificateFlags  errors,
                        gpointer              user_data)
{
  return TRUE;
}

/* The client side of TLS over @base, checking the server's certificate
 * against @data's database (or the system's) and identity, unless the
 * caller asked to accept any: GIO then asks ::accept-certificate, which
 * says yes. */
static GIOStream *
tls_client_new (ConnectData       *data,
                GSocketConnection *base,
                GError           **error)
{
  GIOStream *tls;

  tls = G_IO_STREAM (g_tls_client_connection_new (G_IO_STREAM (base), data->connectable,
                                                   error));
  if (tls != NULL && data->database != NULL)
    g_tls_connection_set_database (G_TLS_CONNECTION (tls), data->database);
  if (tls != NULL && (data->flags & SW_CONNECT_FLAGS_TLS_ACCEPT_ANY))
    g_signal_connect (tls, "accept-certificate", G_CALLBACK (accept_any_certificate), NULL);
  return tls;
}

static const struct
{
  GTlsCertificateFlags  flag;
  const char           *reason;
} certificate_reasons[] = {
  { G_TLS_CERTIFICATE_UNKNOWN_CA,
    N_("the server's certificate is not signed by a trusted authority") },
  { G_TLS_CERTIFICATE_BAD_IDENTITY,
    N_("the server's certificate is not for the address connected to") },
  { G_TLS_CERTIFICATE_NOT_ACTIVATED, N_("the server's certificate is not valid yet") },
  { G_TLS_CERTIFICATE_EXPIRED, N_("the server's certificate has expired") },
  { G_TLS_CERTIFICATE_REVOKED, N_("the server's certificate has been revoked") },
  { G_TLS_CERTIFICATE_INSECURE, N_("the server's certificate uses an insecure algorithm") },
};

/* A refused certificate says why: GIO's message alone does not, the
 * reasons are flags on the TLS connection. */
static void
explain_certificate_error (GIOStream  *tls,
                           GError    **error)
{
  GTlsCertificateFlags flags;

  if (!g_error_matches (*error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE))
    return;
  flags = g_tls_connection_get_peer_certificate_errors (G_TLS_CONNECTION (tls));
  for (gsize i = G_N_ELEMENTS (certificate_reasons); i-- > 0;)
    if (flags & certificate_reasons[i].flag)
      g_prefix_error (error, "%s: ", _(certificate_reasons[i].reason));
}

/**
 * sw_connect:
 * @connectable: where to connect: a [class@Gio.NetworkAddress] (see
 *   [func@Gio.NetworkAddress.parse] for `host:port`), a
 *   [class@Gio.InetSocketAddress], a UNIX socket address...
 * @framing: (nullable): the framing of the connection, or %NULL for raw
 *   bytes
 * @flags: how to connect: %SW_CONNECT_FLAGS_TLS for TLS, adding
 *   %SW_CONNECT_FLAGS_TLS_ACCEPT_ANY to accept any certificate
 * @database: (nullable): with TLS, the certificate authorities to trust
 *   instead of the system's, or %NULL
 * @cancellable: (nullable): a cancellable, or %NULL
 * @error: return location for a #GError
 *
 * Connects to a service, such as a [class@Sw.Service], and returns the
 * connection. Connecting goes through a [class@Gio.SocketClient], so host
 * names are resolved, each address is tried in turn and the system's
 * proxy settings apply. With %SW_CONNECT_FLAGS_TLS the TLS handshake is
 * complete when this returns: the server's certificate has been checked
 * against @database (or the system's) and against @connectable's host
 * name (a UNIX socket address has none, so TLS needs a host name or an IP
 * address). A refused certificate is %G_TLS_ERROR_BAD_CERTIFICATE, whose
 * message says why. With %SW_CONNECT_FLAGS_TLS_ACCEPT_ANY no certificate
 * is refused (and @database is not needed).
 *
 * This blocks the calling thread; see [func@Sw.connect_async].
 *
 * Returns: (transfer full): the connected connection, or %NULL on error
 *
 * Since: 0.2
 */
SwConnection *
sw_connect (GSocketConnectable  *connectable,
            SwFraming           *framing,
            SwConnectFlags       flags,
            GTlsDatabase        *database,
            GCancellable        *cancellable,
            GError             **error)
{
  g_autoptr(ConnectData) data = NULL;
  g_autoptr(GSocketClient) client = NULL;
  g_autoptr(GSocketConnection) base = NULL;

  g_return_val_if_fail (G_IS_SOCKET_CONNECTABLE (connectable), NULL);
  g_return_val_if_fail (framing == NULL || SW_IS_FRAMING (framing), NULL);
  g_return_val_if_fail (database == NULL || G_IS_TLS_DATABASE (database), NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  sw_init ();
  data = connect_data_new (connectable, framing, flags, database);
  client = g_socket_client_new ();
  base = g_socket_client_connect (client, connectable, cancellable, error);
  if (base == NULL)
    return NULL;
  if (!(flags & SW_CONNECT_FLAGS_TLS))
    return sw_connection_new_for_stream (G_IO_STREAM (base), framing);

  data->tls = tls_client_new (data, base, error);
  if (data->tls == NULL)
    return NULL;
  if (!g_tls_connection_handshake (G_TLS_CONNECTION (data->tls), cancellable, error))
    {
      explain_certificate_error (data->tls, error);
      return NULL;
    }
  return sw_connection_new_for_stream (data->tls, framing);
}

static void
on_handshake_done (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  ConnectData *data = g_task_get_task_data (task);
  GError *error = NULL;

  if (!g_tls_connection_handshake_finish (G_TLS_CONNECTION (source), result, &error))
    {
      explain_certificate_error (data->tls, &error);
      g_task_return_error (task, error);
      return;
    }
  g_task_return_pointer (task, sw_connection_new_for_stream (data->tls, data->framing),
                         g_object_unref);
}

static void
on_connected (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  ConnectData *data = g_task_get_task_data (task);
  g_autoptr(GSocketConnection) base = NULL;
  GCancellable *cancellable;
  GError *error = NULL;
  int priority;

  base = g_socket_client_connect_finish (G_SOCKET_CLIENT (source), result, &error);
  if (base == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  if (!(data->flags & SW_CONNECT_FLAGS_TLS))
    {
      g_task_return_pointer (task, sw_connection_new_for_stream (G_IO_STREAM (base), data->framing),
                             g_object_unref);
      return;
    }

  data->tls = tls_client_new (data, base, &error);
  if (data->tls == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  priority = g_task_get_priority (task);
  cancellable = g_task_get_cancellable (task);
  g_tls_connection_handshake_async (G_TLS_CONNECTION (data->tls), priority, cancellable,
                                    on_handshake_done, g_steal_pointer (&task));
}

/**
 * sw_connect_async:
 * @connectable: where to connect, as for [func@Sw.connect]
 * @framing: (nullable): the framing of the connection, or %NULL for raw
 *   bytes
 * @flags: how to connect, as for [func@Sw.connect]
 * @database: (nullable): with TLS, the certificate authorities to trust
 *   instead of the system's, or %NULL
 * @io_priority: the I/O priority of the TLS handshake
 * @cancellable: (nullable): a cancellable, or %NULL
 * @callback: (scope async): called when connected or failed
 * @user_data: data for @callback
 *
 * Connects as [func@Sw.connect] does, without blocking. @callback runs
 * in the thread-default main context of the caller at the time of this
 * call; it calls [func@Sw.connect_finish] to get the connection, which is
 * created in that context too.
 *
 * Since: 0.2
 */
void
sw_connect_async (GSocketConnectable  *connectable,
                  SwFraming           *framing,
                  SwConnectFlags       flags,
                  GTlsDatabase        *database,
                  int                  io_priority,
                  GCancellable        *cancellable,
                  GAsyncReadyCallback  callback,
                  gpointer             user_data)
{
  g_autoptr(GSocketClient) client = NULL;
  GTask *task;

  g_return_if_fail (G_IS_SOCKET_CONNECTABLE (connectable));
  g_return_if_fail (framing == NULL || SW_IS_FRAMING (framing));
  g_return_if_fail (database == NULL || G_IS_TLS_DATABASE (database));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  sw_init ();
  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_name (task, G_STRFUNC);
  g_task_set_source_tag (task, SW_TAG (sw_connect_async));
  g_task_set_priority (task, io_priority);
  g_task_set_task_data (task, connect_data_new (connectable, framing, flags, database),
                        (GDestroyNotify) connect_data_free);

  client = g_socket_client_new ();
  g_socket_client_connect_async (client, connectable, cancellable, on_connected, task);
}

/**
 * sw_connect_finish:
 * @result: the result passed to the callback of [func@Sw.connect_async]
 * @error: return location for a #GError
 *
 * Finishes [func@Sw.connect_async].
 *
 * Returns: (transfer full): the connected connection, or %NULL on error
 *
 * Since: 0.2
 */
SwConnection *
sw_connect_finish (GAsyncResult  *result,
                   GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_async_result_is_tagged (result, SW_TAG (sw_connect_async)), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
