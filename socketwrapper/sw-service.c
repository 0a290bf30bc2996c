/* SPDX-License-Identifier: LGPL-2.1-or-later */

/**
 * SwService:
 *
 * A [class@Gio.SocketService] that hands out message connections.
 *
 * Add listening sockets with the [class@Gio.SocketListener] API — a UNIX
 * path or abstract address with [method@Gio.SocketListener.add_address], a
 * TCP port with [method@Gio.SocketListener.add_inet_port] — and connect to
 * [signal@Sw.Service::connection]: each client arrives as a
 * [class@Sw.Connection] with the service's
 * [property@Sw.Service:framing] and [property@Sw.Service:codec].
 *
 * ```c
 * g_autoptr(SwService) service = sw_service_new (sw_framing_get_default ());
 *
 * if (!g_socket_listener_add_inet_port (G_SOCKET_LISTENER (service), 4242,
 *                                       NULL, &error))
 *   return FALSE;
 * g_signal_connect (service, "connection", G_CALLBACK (on_connection), app);
 * ```
 *
 * With a [property@Sw.Service:tls-certificate] the service speaks TLS:
 * it completes the server side of the handshake before it emits
 * [signal@Sw.Service::connection], so a handler only ever sees clients
 * whose handshake succeeded. A handshake that fails — a client that sends
 * something else than TLS, one that goes away, one that does not finish
 * within [property@Sw.Service:handshake-timeout] — is reported once
 * through [signal@Sw.Service::error], and the service goes on serving
 * the others.
 *
 * ## Where signals are emitted
 *
 * Both signals are emitted in the thread-default main context of the
 * thread that created the service, as [class@Gio.DBusConnection] does;
 * the connections are created there too, so their own signals go to that
 * context (see [Threads and main contexts](threads.html)). Accepting
 * itself is [class@Gio.SocketService]'s: it runs in the thread-default
 * context of the thread that added the first listener or called
 * [method@Gio.SocketService.start], usually the same one. A connection
 * accepted in another context reaches the service's context through an
 * idle source, so that context must be iterated.
 *
 * A TLS handshake in progress holds a reference on the service; it ends
 * with the handshake, successful or not, at the latest after
 * [property@Sw.Service:handshake-timeout]. A handshake starts when the
 * client's first bytes arrive: clients that connect and say nothing take
 * none of the worker threads GIO's TLS backend runs handshakes in.
 *
 * The service takes each client in the class handler of
 * [signal@Gio.SocketService::incoming]: a handler of that signal that
 * returns %TRUE keeps the client for itself, and the service neither
 * handshakes nor emits [signal@Sw.Service::connection] for it.
 *
 * [class@Gio.SocketService] itself handles accepting: it logs a failed
 * accept (for example when the process runs out of file descriptors)
 * with `g_warning()` and tries again; such failures do not reach
 * [signal@Sw.Service::error].
 *
 * Since: 0.2
 */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "sw-service.h"
#include "sw-init-private.h"

struct _SwService
{
  GSocketService   parent_instance;

  GMainContext    *context;            /* read-only after construction */

  /* Read when a client arrives, in @context: set them from the thread
   * that runs @context, as other GSocketService settings. */
  SwFraming       *framing;
  SwCodec         *codec;
  GTlsCertificate *certificate;
  gint64           handshake_timeout;
};

G_DEFINE_FINAL_TYPE (SwService, sw_service, G_TYPE_SOCKET_SERVICE)

enum
{
  PROP_0,
  PROP_FRAMING,
  PROP_CODEC,
  PROP_TLS_CERTIFICATE,
  PROP_HANDSHAKE_TIMEOUT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum
{
  SIGNAL_CONNECTION,
  SIGNAL_ERROR,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

/* ---- TLS -------------------------------------------------------------- */

/* The server side of TLS over @connection, with the service's
 * certificate. The service asks clients for no certificate, so it needs
 * no authority: the database is set to none. Left unset, it is the
 * system's, and glib-networking's GnuTLS backend copies that whole trust
 * list into every connection — about 3.8 MB each, 760 MB for 200
 * clients, against some 20 KB without. */
static GIOStream *
tls_server_new (SwService          *self,
                GSocketConnection  *connection,
                GError            **error)
{
  GTlsBackend *backend = g_tls_backend_get_default ();

  return g_initable_new (g_tls_backend_get_server_connection_type (backend), NULL, error,
                         "base-io-stream", connection,
                         "certificate", self->certificate,
                         "database", NULL,
                         NULL);
}

/* ---- one client, from accept to ::connection or ::error ---------------- */

typedef struct
{
  SwService         *service;      /* a reference */
  GSocketConnection *connection;   /* as accepted */
  char              *name;         /* its address, or NULL */
  GIOStream         *tls;          /* the server side of TLS, or NULL */
  GCancellable      *cancellable;  /* stops the handshake on timeout */
  GSource           *timeout;      /* the handshake's deadline, or NULL */
  GSource           *hello;        /* waits for the client's first bytes */
  guint              timeout_ms;   /* the deadline's length */
  gboolean           timed_out;
} Client;

/* The client's address, read at once: once the peer is gone, the socket
 * has no peer name any more. */
static char *
describe_peer (GSocketConnection *connection)
{
  g_autoptr(GSocketAddress) address = NULL;
  char *name;

  address = g_socket_connection_get_remote_address (connection, NULL);
  if (address == NULL)
    return NULL;
  name = g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (address));
  if (name != NULL && *name == '\0')
    g_clear_pointer (&name, g_free);   /* an unnamed UNIX socket */
  return name;
}

static Client *
client_new (SwService         *service,
            GSocketConnection *connection)
{
  Client *client = g_new0 (Client, 1);

  client->service = g_object_ref (service);
  client->connection = g_object_ref (connection);
  return client;
}

static void
client_free (Client *client)
{
  if (client->timeout != NULL)
    g_source_destroy (client->timeout);
  g_clear_pointer (&client->timeout, g_source_unref);
  if (client->hello != NULL)
    g_source_destroy (client->hello);
  g_clear_pointer (&client->hello, g_source_unref);
  g_clear_object (&client->cancellable);
  g_clear_object (&client->tls);
  g_clear_pointer (&client->name, g_free);
  g_clear_object (&client->connection);
  g_clear_object (&client->service);
  g_free (client);
}

/* Closes the client's socket, reports @error through ::error and forgets
 * the client. Every caller comes after the handshake finished or before
 * it started, so no worker thread is in the socket: closing it here hangs
 * up at once, rather than whenever glib-networking drops its last
 * reference on the TLS connection. */
static void
client_fail (Client *client,
             GError *error)
{
  SwService *self = client->service;

  g_io_stream_close (G_IO_STREAM (client->connection), NULL, NULL);

  if (client->name != NULL)
    g_prefix_error (&error, _("TLS handshake with %s failed: "), client->name);
  else
    g_prefix_error (&error, _("TLS handshake with a client failed: "));
  g_signal_emit (self, signals[SIGNAL_ERROR], 0, error);
  g_error_free (error);
  client_free (client);
}

/* Wraps @stream in a connection made in the service's context, so that
 * the connection's own signals are emitted there, and hands it out. */
static void
client_deliver (Client    *client,
                GIOStream *stream)
{
  SwService *self = client->service;
  g_autoptr(SwConnection) connection = NULL;

  g_main_context_push_thread_default (self->context);
  connection = g_object_new (SW_TYPE_CONNECTION,
                             "stream", stream,
                             "framing", self->framing,
                             "codec", self->codec,
                             NULL);
  g_main_context_pop_thread_default (self->context);

  g_signal_emit (self, signals[SIGNAL_CONNECTION], 0, connection);
  client_free (client);
}

/* Fails the client with @error, or with TIMED_OUT when its deadline
 * cancelled what it waited for (@error NULL or CANCELLED). */
static void
client_fail_or_time_out (Client *client,
                         GError *error)
{
  if (client->timed_out
      && (error == NULL || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)))
    {
      g_clear_error (&error);
      g_set_error (&error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                   _("The client did not complete it within %u ms"),
                   client->timeout_ms);
    }
  client_fail (client, error);
}

static void
on_handshake_done (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  Client *client = user_data;
  GError *error = NULL;

  if (g_tls_connection_handshake_finish (G_TLS_CONNECTION (source), result, &error))
    client_deliver (client, client->tls);
  else
    client_fail_or_time_out (client, error);
}

/* The client's first bytes came (or it went, or its time ran out): only
 * now does the handshake take one of GIO's worker threads, where
 * glib-networking runs it, blocking until the client answers. Clients
 * that connect and say nothing thus hold no thread: they cannot fill the
 * pool and keep every other client's handshake waiting until they time
 * out. */
static gboolean
on_client_hello (GSocket      *socket,
                 GIOCondition  condition,
                 gpointer      user_data)
{
  Client *client = user_data;
  SwService *self = client->service;

  g_clear_pointer (&client->hello, g_source_unref);
  /* Only the deadline cancels it. */
  if (g_cancellable_is_cancelled (client->cancellable))
    {
      client_fail_or_time_out (client, NULL);
      return G_SOURCE_REMOVE;
    }
  /* The handshake's callback comes in the service's context. */
  g_main_context_push_thread_default (self->context);
  g_tls_connection_handshake_async (G_TLS_CONNECTION (client->tls), G_PRIORITY_DEFAULT,
                                    client->cancellable, on_handshake_done, client);
  g_main_context_pop_thread_default (self->context);
  return G_SOURCE_REMOVE;
}

static gboolean
on_handshake_timeout (gpointer user_data)
{
  Client *client = user_data;

  client->timed_out = TRUE;
  g_cancellable_cancel (client->cancellable);
  return G_SOURCE_REMOVE;
}

/* Arms the handshake's deadline in the service's context. */
static void
client_start_timeout (Client *client)
{
  SwService *self = client->service;
  gint64 ms;

  if (self->handshake_timeout < 0)
    return;
  /* Rounded up, so the client has at least the time it was given. */
  ms = MIN ((self->handshake_timeout + 999) / 1000, (gint64) G_MAXUINT);
  client->timeout_ms = (guint) ms;
  client->timeout = g_timeout_source_new (client->timeout_ms);
  g_source_set_static_name (client->timeout, "[sw] SwService handshake timeout");
  g_source_set_callback (client->timeout, on_handshake_timeout, client, NULL);
  g_source_attach (client->timeout, self->context);
}

static void
client_start_handshake (Client *client)
{
  SwService *self = client->service;
  GError *error = NULL;

  client->name = describe_peer (client->connection);
  client->tls = tls_server_new (self, client->connection, &error);
  if (client->tls == NULL)
    {
      client_fail (client, error);
      return;
    }

  client->cancellable = g_cancellable_new ();
  client_start_timeout (client);
  client->hello = g_socket_create_source (g_socket_connection_get_socket (client->connection),
                                          G_IO_IN | G_IO_HUP | G_IO_ERR, client->cancellable);
  g_source_set_static_name (client->hello, "[sw] SwService client hello");
  g_source_set_callback (client->hello, G_SOURCE_FUNC (on_client_hello), client, NULL);
  g_source_attach (client->hello, self->context);
}

static void
client_start (Client *client)
{
  if (client->service->certificate != NULL)
    client_start_handshake (client);
  else
    client_deliver (client, G_IO_STREAM (client->connection));
}

static gboolean
client_start_in_idle (gpointer user_data)
{
  client_start (user_data);
  return G_SOURCE_REMOVE;
}

/* ---- GSocketService --------------------------------------------------- */

/* Runs where GSocketService accepted: in the service's context as a
 * rule, elsewhere if listeners were added from another thread. */
static gboolean
sw_service_incoming (GSocketService    *service,
                     GSocketConnection *connection,
                     GObject           *source_object)
{
  SwService *self = SW_SERVICE (service);
  Client *client = client_new (self, connection);
  GSource *idle;

  if (g_main_context_is_owner (self->context))
    {
      client_start (client);
      return TRUE;
    }

  idle = g_idle_source_new ();
  g_source_set_priority (idle, G_PRIORITY_DEFAULT);
  g_source_set_static_name (idle, "[sw] SwService client");
  g_source_set_callback (idle, client_start_in_idle, client, NULL);
  g_source_attach (idle, self->context);
  g_source_unref (idle);
  return TRUE;
}

/* ---- GObject ---------------------------------------------------------- */

static void
sw_service_finalize (GObject *object)
{
  SwService *self = SW_SERVICE (object);

  g_clear_object (&self->framing);
  g_clear_object (&self->codec);
  g_clear_object (&self->certificate);
  g_main_context_unref (self->context);

  G_OBJECT_CLASS (sw_service_parent_class)->finalize (object);
}

static void
sw_service_get_property (GObject    *object,
                         guint       prop_id,
                         GValue     *value,
                         GParamSpec *pspec)
{
  SwService *self = SW_SERVICE (object);

  switch (prop_id)
    {
    case PROP_FRAMING:
      g_value_set_object (value, self->framing);
      break;
    case PROP_CODEC:
      g_value_set_object (value, self->codec);
      break;
    case PROP_TLS_CERTIFICATE:
      g_value_set_object (value, self->certificate);
      break;
    case PROP_HANDSHAKE_TIMEOUT:
      g_value_set_int64 (value, self->handshake_timeout);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
sw_service_set_property (GObject      *object,
                         guint         prop_id,
                         const GValue *value,
                         GParamSpec   *pspec)
{
  SwService *self = SW_SERVICE (object);

  switch (prop_id)
    {
    case PROP_FRAMING:
      sw_service_set_framing (self, g_value_get_object (value));
      break;
    case PROP_CODEC:
      sw_service_set_codec (self, g_value_get_object (value));
      break;
    case PROP_TLS_CERTIFICATE:
      sw_service_set_tls_certificate (self, g_value_get_object (value));
      break;
    case PROP_HANDSHAKE_TIMEOUT:
      sw_service_set_handshake_timeout (self, g_value_get_int64 (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
sw_service_class_init (SwServiceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GSocketServiceClass *service_class = G_SOCKET_SERVICE_CLASS (klass);
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  sw_init ();

  object_class->finalize = sw_service_finalize;
  object_class->get_property = sw_service_get_property;
  object_class->set_property = sw_service_set_property;
  service_class->incoming = sw_service_incoming;

  /**
   * SwService:framing: (getter get_framing) (setter set_framing)
   *
   * The framing of the connections the service hands out, or %NULL for
   * raw bytes. A service made with `g_object_new()` without it uses the
   * default one, [func@Sw.Framing.get_default]. A change applies to the
   * clients that arrive afterwards.
   *
   * Since: 0.2
   */
  properties[PROP_FRAMING] =
    g_param_spec_object ("framing", NULL, NULL, SW_TYPE_FRAMING, rw);

  /**
   * SwService:codec: (getter get_codec) (setter set_codec)
   *
   * The codec of the connections the service hands out, or %NULL for
   * none (see [property@Sw.Connection:codec]).
   *
   * Since: 0.2
   */
  properties[PROP_CODEC] =
    g_param_spec_object ("codec", NULL, NULL, SW_TYPE_CODEC, rw);

  /**
   * SwService:tls-certificate: (getter get_tls_certificate) (setter set_tls_certificate)
   *
   * The certificate, with its private key, the service presents to its
   * clients; %NULL (the default) for no TLS. With a certificate, each
   * client is handed out once its TLS handshake succeeded, as a
   * connection over a [iface@Gio.TlsServerConnection]. The service does
   * not ask clients for certificates. Needs a TLS backend:
   * glib-networking.
   *
   * Since: 0.2
   */
  properties[PROP_TLS_CERTIFICATE] =
    g_param_spec_object ("tls-certificate", NULL, NULL, G_TYPE_TLS_CERTIFICATE, rw);

  /**
   * SwService:handshake-timeout: (getter get_handshake_timeout) (setter set_handshake_timeout)
   *
   * How long, in microseconds, a client may take to complete its TLS
   * handshake before the service gives up on it and reports
   * %G_IO_ERROR_TIMED_OUT through [signal@Sw.Service::error]; -1 waits
   * forever.
   *
   * The default, [const@Sw.SERVICE_DEFAULT_HANDSHAKE_TIMEOUT] (10 s), is
   * many round trips even on a slow link — a handshake takes one or two —
   * yet short enough that clients which connect and never finish cannot
   * hold a socket and a handshake for long.
   *
   * Since: 0.2
   */
  properties[PROP_HANDSHAKE_TIMEOUT] =
    g_param_spec_int64 ("handshake-timeout", NULL, NULL, -1, G_MAXINT64,
                        SW_SERVICE_DEFAULT_HANDSHAKE_TIMEOUT, rw);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * SwService::connection:
   * @self: the service
   * @connection: the client's connection
   *
   * Emitted for each client, once its TLS handshake (if any) succeeded,
   * in the thread-default main context of the thread that created the
   * service. Keep a reference on @connection to use it: the connection
   * closes when the last one goes.
   *
   * Since: 0.2
   */
  signals[SIGNAL_CONNECTION] =
    g_signal_new ("connection", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, SW_TYPE_CONNECTION);

  /**
   * SwService::error:
   * @self: the service
   * @error: what went wrong, naming the client's address
   *
   * Emitted once for each client the service had to give up on before
   * handing it out: its TLS handshake failed (%G_TLS_ERROR_NOT_TLS for a
   * client that sent something else, %G_TLS_ERROR_EOF or an I/O error for
   * one that went away, ...) or did not complete within
   * [property@Sw.Service:handshake-timeout] (%G_IO_ERROR_TIMED_OUT). The
   * client's socket is closed and the service goes on serving the others.
   * Emitted where [signal@Sw.Service::connection] is.
   *
   * Since: 0.2
   */
  signals[SIGNAL_ERROR] =
    g_signal_new ("error", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);
}

static void
sw_service_init (SwService *self)
{
  self->context = g_main_context_ref_thread_default ();
  self->framing = g_object_ref (sw_framing_get_default ());
  self->handshake_timeout = SW_SERVICE_DEFAULT_HANDSHAKE_TIMEOUT;
}

/* ---- public API ------------------------------------------------------- */

/**
 * sw_service_new:
 * @framing: (nullable): the framing of the connections, or %NULL for raw
 *   bytes
 *
 * Makes a service with no listening socket yet: add them with
 * [method@Gio.SocketListener.add_address],
 * [method@Gio.SocketListener.add_inet_port] and the like. Like every
 * [class@Gio.SocketService] it is active from the start.
 *
 * Returns: (transfer full): a new service
 *
 * Since: 0.2
 */
SwService *
sw_service_new (SwFraming *framing)
{
  g_return_val_if_fail (framing == NULL || SW_IS_FRAMING (framing), NULL);

  return g_object_new (SW_TYPE_SERVICE, "framing", framing, NULL);
}

/**
 * sw_service_get_framing:
 * @self: a service
 *
 * Gets [property@Sw.Service:framing].
 *
 * Returns: (transfer none) (nullable): the framing, or %NULL for raw bytes
 *
 * Since: 0.2
 */
SwFraming *
sw_service_get_framing (SwService *self)
{
  g_return_val_if_fail (SW_IS_SERVICE (self), NULL);

  return self->framing;
}

/**
 * sw_service_set_framing:
 * @self: a service
 * @framing: (nullable): the framing, or %NULL for raw bytes
 *
 * Sets [property@Sw.Service:framing] for the clients to come.
 *
 * Since: 0.2
 */
void
sw_service_set_framing (SwService *self,
                        SwFraming *framing)
{
  g_return_if_fail (SW_IS_SERVICE (self));
  g_return_if_fail (framing == NULL || SW_IS_FRAMING (framing));

  if (g_set_object (&self->framing, framing))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FRAMING]);
}

/**
 * sw_service_get_codec:
 * @self: a service
 *
 * Gets [property@Sw.Service:codec].
 *
 * Returns: (transfer none) (nullable): the codec, or %NULL
 *
 * Since: 0.2
 */
SwCodec *
sw_service_get_codec (SwService *self)
{
  g_return_val_if_fail (SW_IS_SERVICE (self), NULL);

  return self->codec;
}

/**
 * sw_service_set_codec:
 * @self: a service
 * @codec: (nullable): the codec, or %NULL for none
 *
 * Sets [property@Sw.Service:codec] for the clients to come.
 *
 * Since: 0.2
 */
void
sw_service_set_codec (SwService *self,
                      SwCodec   *codec)
{
  g_return_if_fail (SW_IS_SERVICE (self));
  g_return_if_fail (codec == NULL || SW_IS_CODEC (codec));

  if (g_set_object (&self->codec, codec))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CODEC]);
}

/**
 * sw_service_get_tls_certificate:
 * @self: a service
 *
 * Gets [property@Sw.Service:tls-certificate].
 *
 * Returns: (transfer none) (nullable): the certificate, or %NULL without
 *   TLS
 *
 * Since: 0.2
 */
GTlsCertificate *
sw_service_get_tls_certificate (SwService *self)
{
  g_return_val_if_fail (SW_IS_SERVICE (self), NULL);

  return self->certificate;
}

/**
 * sw_service_set_tls_certificate:
 * @self: a service
 * @certificate: (nullable): a certificate with its private key, or %NULL
 *   for no TLS
 *
 * Sets [property@Sw.Service:tls-certificate] for the clients to come.
 *
 * Since: 0.2
 */
void
sw_service_set_tls_certificate (SwService       *self,
                                GTlsCertificate *certificate)
{
  g_return_if_fail (SW_IS_SERVICE (self));
  g_return_if_fail (certificate == NULL || G_IS_TLS_CERTIFICATE (certificate));

  if (g_set_object (&self->certificate, certificate))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TLS_CERTIFICATE]);
}

/**
 * sw_service_get_handshake_timeout:
 * @self: a service
 *
 * Gets [property@Sw.Service:handshake-timeout].
 *
 * Returns: the timeout in microseconds, or -1 for none
 *
 * Since: 0.2
 */
gint64
sw_service_get_handshake_timeout (SwService *self)
{
  g_return_val_if_fail (SW_IS_SERVICE (self), -1);

  return self->handshake_timeout;
}

/**
 * sw_service_set_handshake_timeout:
 * @self: a service
 * @timeout_us: the time a client has to complete its TLS handshake, in
 *   microseconds, or -1 for no limit
 *
 * Sets [property@Sw.Service:handshake-timeout] for the handshakes to
 * come.
 *
 * Since: 0.2
 */
void
sw_service_set_handshake_timeout (SwService *self,
                                  gint64     timeout_us)
{
  g_return_if_fail (SW_IS_SERVICE (self));
  g_return_if_fail (timeout_us >= -1);

  if (self->handshake_timeout == timeout_us)
    return;
  self->handshake_timeout = timeout_us;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HANDSHAKE_TIMEOUT]);
}
