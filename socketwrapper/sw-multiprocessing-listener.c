/* SPDX-License-Identifier: LGPL-2.1-or-later */

/**
 * SwMultiprocessingListener:
 *
 * A bound, listening socket that hands out connections to
 * `multiprocessing.connection` peers, as Python's
 * `multiprocessing.connection.Listener(address, authkey=…)` does; its
 * counterpart [func@Sw.multiprocessing_connect] is Python's `Client()`.
 *
 * The address is a UNIX path ([class@Gio.UnixSocketAddress]), an abstract
 * UNIX name (%G_UNIX_SOCKET_ADDRESS_ABSTRACT, which is Python's
 * `"\0name"`) or a TCP address ([class@Gio.InetSocketAddress], IPv4 or
 * IPv6); %NULL picks a fresh path in a private temporary directory, as
 * Python's `arbitrary_address()` does. [method@Sw.MultiprocessingListener.get_address]
 * is the bound address (with the real port when port 0 was asked).
 *
 * Every accepted connection has a [class@Sw.MultiprocessingFraming] and a
 * [class@Sw.PickleCodec], so [method@Sw.Connection.send_value] and
 * [method@Sw.Connection.receive_value] exchange what Python's
 * `Connection.send()` and `recv()` do. With an authkey, accepting runs
 * the handshake as Python's `Listener.accept()` does: first
 * [func@Sw.multiprocessing_deliver_challenge] (the client must know the
 * key), then [func@Sw.multiprocessing_answer_challenge] (we prove we know
 * it). A handshake that fails fails that accept only: the connection is
 * closed and the listener accepts the next client.
 *
 * [method@Sw.MultiprocessingListener.close] closes the socket and, as
 * Python does, removes the socket file of a UNIX path address (and the
 * directory it made for a %NULL address).
 *
 * A listener is used from one thread at a time, but for
 * [method@Sw.MultiprocessingListener.close]: an accept() blocked in
 * another thread waiting for a client, or an accept_async() waiting for
 * one, then fails with %G_IO_ERROR_CLOSED. Cancelling its cancellable
 * stops a blocked accept too.
 *
 * Since: 0.1
 */

#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <gio/gunixsocketaddress.h>

#include "sw-init-private.h"
#include "sw-multiprocessing.h"
#include "sw-multiprocessing-framing.h"
#include "sw-multiprocessing-listener.h"
#include "sw-pickle-codec.h"

/* listen(2)'s queue of clients not accepted yet. Python's Listener
 * defaults to 1; a few clients connecting at once should not be refused. */
#define DEFAULT_BACKLOG 16

struct _SwMultiprocessingListener
{
  GObject         parent_instance;

  GSocket        *socket;       /* kept until finalized: a blocked accept()
                                 * in another thread still uses it */
  GSocketAddress *address;      /* read-only after construction */
  GBytes         *authkey;      /* read-only after construction; NULL: none */
  char           *unlink_path;  /* the socket file close() removes, or NULL */
  char           *temp_dir;     /* the directory made for a NULL address */
  GCancellable   *closing;      /* cancelled by close(): ends accept_async waits */
  int             backlog;
};

G_DEFINE_FINAL_TYPE (SwMultiprocessingListener, sw_multiprocessing_listener, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_ADDRESS,
  PROP_BACKLOG,
  PROP_CLOSED,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* ---- what a connection becomes --------------------------------------------- */

/* A connection on @socket speaking multiprocessing's framing and pickles. */
static SwConnection *
wrap_socket (GSocket *socket)
{
  g_autoptr(SwMultiprocessingFraming) framing = sw_multiprocessing_framing_new ();
  g_autoptr(SwPickleCodec) codec = sw_pickle_codec_new ();
  SwConnection *connection;

  g_socket_set_blocking (socket, TRUE);
  connection = sw_connection_new (socket, SW_FRAMING (framing));
  sw_connection_set_codec (connection, SW_CODEC (codec));
  return connection;
}

static void
close_connection (SwConnection *connection)
{
  sw_connection_close (connection, NULL, NULL);
  g_object_unref (connection);
}

/* The two handshake steps in CPython's order: a Listener delivers first,
 * a Client answers first. This is the only caller of the sync steps. */
static gboolean
sync_handshake (SwConnection  *connection,
                GBytes        *authkey,
                gboolean       deliver_first,
                GCancellable  *cancellable,
                GError       **error)
{
  for (guint step = 0; step < 2; step++)
    {
      gboolean deliver = (step == 0) == deliver_first;

      if (!(deliver ? sw_multiprocessing_deliver_challenge
                    : sw_multiprocessing_answer_challenge) (connection, authkey, -1, cancellable, error))
        return FALSE;
    }
  return TRUE;
}

/* Wraps @socket (taking it) and authenticates when there is a key; a
 * failed handshake closes the connection. */
static SwConnection *
setup_sync (GSocket       *socket,
            GBytes        *authkey,
            gboolean       deliver_first,
            GCancellable  *cancellable,
            GError       **error)
{
  SwConnection *connection = wrap_socket (socket);

  g_object_unref (socket);
  if (authkey != NULL
      && !sync_handshake (connection, authkey, deliver_first, cancellable, error))
    {
      close_connection (connection);
      return NULL;
    }
  return connection;
}

/* ---- the async handshake, shared by accept and connect -------------------- */

typedef struct
{
  GSocket      *socket;       /* connect: connecting; accept: unused */
  SwConnection *connection;   /* owned until returned; closed if never */
  GBytes       *authkey;
  gboolean      deliver_first;
  guint         step;
} Setup;

static void
setup_free (Setup *setup)
{
  g_clear_object (&setup->socket);
  if (setup->connection != NULL)
    close_connection (setup->connection);
  g_clear_pointer (&setup->authkey, g_bytes_unref);
  g_free (setup);
}

/* Ends @task, whose reference the caller holds, with @error. What it was
 * setting up is closed now, not when the task goes: the caller may keep
 * the failed result (a Python traceback does) while a hostile peer
 * would keep the descriptor. */
static void
setup_fail (GTask  *task,
            GError *error)
{
  Setup *setup = g_task_get_task_data (task);

  g_clear_object (&setup->socket);
  g_clear_pointer (&setup->connection, close_connection);
  g_task_return_error (task, error);
  g_object_unref (task);
}

static GTask *
setup_task_new (gpointer             source_object,
                GBytes              *authkey,
                gboolean             deliver_first,
                GCancellable        *cancellable,
                GAsyncReadyCallback  callback,
                gpointer             user_data)
{
  GTask *task = g_task_new (source_object, cancellable, callback, user_data);
  Setup *setup = g_new0 (Setup, 1);

  setup->authkey = authkey != NULL ? g_bytes_ref (authkey) : NULL;
  setup->deliver_first = deliver_first;
  g_task_set_task_data (task, setup, (GDestroyNotify) setup_free);
  return task;
}

static gboolean
step_delivers (Setup *setup)
{
  return (setup->step == 0) == setup->deliver_first;
}

static void setup_next (GTask *task);

static void
on_step_done (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  GTask *task = user_data;
  Setup *setup = g_task_get_task_data (task);
  SwConnection *connection = SW_CONNECTION (source);
  GError *error = NULL;
  gboolean done;

  done = step_delivers (setup)
           ? sw_multiprocessing_deliver_challenge_finish (connection, result, &error)
           : sw_multiprocessing_answer_challenge_finish (connection, result, &error);
  if (!done)
    {
      setup_fail (task, error);
      return;
    }
  setup->step++;
  setup_next (task);
}

/* Runs the next handshake step, or returns the connection after the last
 * one. Takes the caller's reference on @task. */
static void
setup_next (GTask *task)
{
  Setup *setup = g_task_get_task_data (task);
  GCancellable *cancellable = g_task_get_cancellable (task);

  if (setup->authkey == NULL || setup->step == 2)
    {
      g_task_return_pointer (task, g_steal_pointer (&setup->connection), g_object_unref);
      g_object_unref (task);
    }
  else if (step_delivers (setup))
    sw_multiprocessing_deliver_challenge_async (setup->connection, setup->authkey,
                                                cancellable, on_step_done, task);
  else
    sw_multiprocessing_answer_challenge_async (setup->connection, setup->authkey,
                                               cancellable, on_step_done, task);
}

/* Wraps @socket (taking it) and starts the handshake. */
static void
setup_start (GTask   *task,
             GSocket *socket)
{
  Setup *setup = g_task_get_task_data (task);

  setup->connection = wrap_socket (socket);
  g_object_unref (socket);
  setup_next (task);
}

/* Waits for @condition on @socket; @closing (nullable) also ends the
 * wait, as a cancellation would, so @callback runs and finds out why. */
static void
attach_wait (GTask              *task,
             GSocket            *socket,
             GIOCondition        condition,
             GCancellable       *closing,
             GSocketSourceFunc   callback)
{
  g_autoptr(GSource) source = NULL;

  source = g_socket_create_source (socket, condition, g_task_get_cancellable (task));
  if (closing != NULL)
    {
      g_autoptr(GSource) closed = g_cancellable_source_new (closing);

      g_source_set_dummy_callback (closed);
      g_source_add_child_source (source, closed);
    }
  g_task_attach_source (task, source, G_SOURCE_FUNC (callback));
}

/* ---- the listener ------------------------------------------------------------ */

static gboolean
is_open (SwMultiprocessingListener *self)
{
  return self->socket != NULL && !g_socket_is_closed (self->socket);
}

static gboolean
check_open (SwMultiprocessingListener  *self,
            GError                    **error)
{
  if (is_open (self))
    return TRUE;
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CLOSED,
                       _("The listener is closed"));
  return FALSE;
}

/* A fresh path in a new private directory, as CPython's
 * arbitrary_address('AF_UNIX'). */
static GSocketAddress *
arbitrary_address (SwMultiprocessingListener  *self,
                   GError                    **error)
{
  g_autofree char *path = NULL;

  self->temp_dir = g_dir_make_tmp ("sw-listener-XXXXXX", error);
  if (self->temp_dir == NULL)
    return NULL;
  path = g_build_filename (self->temp_dir, "listener", NULL);
  /* GUnixSocketAddress would silently cut a path longer than sun_path. */
  if (strlen (path) >= 108)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FILENAME_TOO_LONG,
                   _("Socket path “%s” is too long"), path);
      return NULL;
    }
  return g_unix_socket_address_new (path);
}

/* CPython unlinks the path of a UNIX (not abstract) address at close. */
static char *
path_to_unlink (GSocketAddress *address)
{
  GUnixSocketAddress *unix_address;

  if (!G_IS_UNIX_SOCKET_ADDRESS (address))
    return NULL;
  unix_address = G_UNIX_SOCKET_ADDRESS (address);
  if (g_unix_socket_address_get_address_type (unix_address) != G_UNIX_SOCKET_ADDRESS_PATH)
    return NULL;
  return g_strdup (g_unix_socket_address_get_path (unix_address));
}

static gboolean
bind_and_listen (SwMultiprocessingListener  *self,
                 GSocketAddress             *address,
                 GError                    **error)
{
  GSocketFamily family = g_socket_address_get_family (address);

  self->socket = g_socket_new (family, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, error);
  if (self->socket == NULL)
    return FALSE;
  /* Accepts wait in our own loops, never in the kernel. */
  g_socket_set_blocking (self->socket, FALSE);
  g_socket_set_listen_backlog (self->socket, self->backlog);
  /* allow_reuse: SO_REUSEADDR on TCP, as CPython sets it. */
  if (!g_socket_bind (self->socket, address, TRUE, error))
    return FALSE;
  self->unlink_path = path_to_unlink (address);
  if (!g_socket_listen (self->socket, error))
    return FALSE;
  self->address = g_socket_get_local_address (self->socket, error);
  return self->address != NULL;
}

/* Closes the socket and removes what the listener made on the file
 * system (also after a failed construction). Returns whether the socket
 * was open. */
static gboolean
release (SwMultiprocessingListener *self)
{
  gboolean was_open = is_open (self);

  if (was_open)
    {
      g_socket_close (self->socket, NULL);
      g_cancellable_cancel (self->closing);
    }
  if (self->unlink_path != NULL)
    g_unlink (self->unlink_path);
  if (self->temp_dir != NULL)
    g_rmdir (self->temp_dir);
  g_clear_pointer (&self->unlink_path, g_free);
  g_clear_pointer (&self->temp_dir, g_free);
  return was_open;
}

static void
sw_multiprocessing_listener_dispose (GObject *object)
{
  SwMultiprocessingListener *self = SW_MULTIPROCESSING_LISTENER (object);

  release (self);
  g_clear_object (&self->socket);
  G_OBJECT_CLASS (sw_multiprocessing_listener_parent_class)->dispose (object);
}

static void
sw_multiprocessing_listener_finalize (GObject *object)
{
  SwMultiprocessingListener *self = SW_MULTIPROCESSING_LISTENER (object);

  g_clear_object (&self->address);
  g_clear_pointer (&self->authkey, g_bytes_unref);
  g_clear_object (&self->closing);
  G_OBJECT_CLASS (sw_multiprocessing_listener_parent_class)->finalize (object);
}

static void
sw_multiprocessing_listener_get_property (GObject    *object,
                                          guint       prop_id,
                                          GValue     *value,
                                          GParamSpec *pspec)
{
  SwMultiprocessingListener *self = SW_MULTIPROCESSING_LISTENER (object);

  switch (prop_id)
    {
    case PROP_ADDRESS:
      g_value_set_object (value, self->address);
      break;
    case PROP_BACKLOG:
      g_value_set_int (value, self->backlog);
      break;
    case PROP_CLOSED:
      g_value_set_boolean (value, !is_open (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
sw_multiprocessing_listener_set_property (GObject      *object,
                                          guint         prop_id,
                                          const GValue *value,
                                          GParamSpec   *pspec)
{
  SwMultiprocessingListener *self = SW_MULTIPROCESSING_LISTENER (object);

  switch (prop_id)
    {
    case PROP_BACKLOG:
      sw_multiprocessing_listener_set_backlog (self, g_value_get_int (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
sw_multiprocessing_listener_class_init (SwMultiprocessingListenerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  sw_init ();
  object_class->dispose = sw_multiprocessing_listener_dispose;
  object_class->finalize = sw_multiprocessing_listener_finalize;
  object_class->get_property = sw_multiprocessing_listener_get_property;
  object_class->set_property = sw_multiprocessing_listener_set_property;

  /**
   * SwMultiprocessingListener:address:
   *
   * The address the listener is bound to: for a TCP address asked with
   * port 0, the port the system chose.
   *
   * Since: 0.1
   */
  properties[PROP_ADDRESS] =
    g_param_spec_object ("address", NULL, NULL, G_TYPE_SOCKET_ADDRESS,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  /**
   * SwMultiprocessingListener:backlog:
   *
   * How many clients may wait to be accepted (the backlog of listen(2)).
   * Python's `Listener` defaults to 1; this defaults to 16. Setting it
   * calls listen(2) again, which Linux applies to a listening socket.
   *
   * Since: 0.1
   */
  properties[PROP_BACKLOG] =
    g_param_spec_int ("backlog", NULL, NULL, 0, G_MAXINT, DEFAULT_BACKLOG,
                      G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * SwMultiprocessingListener:closed:
   *
   * Whether [method@Sw.MultiprocessingListener.close] was called.
   *
   * Since: 0.1
   */
  properties[PROP_CLOSED] =
    g_param_spec_boolean ("closed", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
sw_multiprocessing_listener_init (SwMultiprocessingListener *self)
{
  self->backlog = DEFAULT_BACKLOG;
  self->closing = g_cancellable_new ();
}

/**
 * sw_multiprocessing_listener_new:
 * @address: (nullable): where to listen: a UNIX path, an abstract UNIX
 *   name or a TCP address; %NULL for a new path in a private temporary
 *   directory
 * @authkey: (nullable): the shared secret clients must know, or %NULL to
 *   accept every client without a handshake
 * @error: return location for a #GError
 *
 * Binds a stream socket to @address and listens on it, as
 * `multiprocessing.connection.Listener(address, authkey=authkey)` does,
 * with `SO_REUSEADDR` on TCP. An existing file at a UNIX path makes the
 * bind fail with %G_IO_ERROR_ADDRESS_IN_USE.
 *
 * An empty @authkey still runs the handshake, as Python 3.12 and later
 * do (Python 3.11's `Listener` skips it for `b''`; its `Client` does not).
 *
 * Returns: (transfer full): a new listener, or %NULL with @error set
 *
 * Since: 0.1
 */
SwMultiprocessingListener *
sw_multiprocessing_listener_new (GSocketAddress  *address,
                                 GBytes          *authkey,
                                 GError         **error)
{
  g_autoptr(SwMultiprocessingListener) self = NULL;
  g_autoptr(GSocketAddress) chosen = NULL;

  g_return_val_if_fail (address == NULL || G_IS_SOCKET_ADDRESS (address), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  self = g_object_new (SW_TYPE_MULTIPROCESSING_LISTENER, NULL);
  self->authkey = authkey != NULL ? g_bytes_ref (authkey) : NULL;
  if (address == NULL)
    {
      chosen = arbitrary_address (self, error);
      if (chosen == NULL)
        return NULL;
      address = chosen;
    }
  if (!bind_and_listen (self, address, error))
    return NULL;
  return g_steal_pointer (&self);
}

static void
cancel_wait (GCancellable *cancelled,
             gpointer      user_data)
{
  g_cancellable_cancel (G_CANCELLABLE (user_data));
}

/* Waits until a client is waiting to be accepted. @cancellable and
 * close(), which may come from another thread and closes the socket
 * without waking a poll() on it, end the wait. */
static gboolean
wait_for_client (SwMultiprocessingListener  *self,
                 GCancellable               *cancellable,
                 GError                    **error)
{
  g_autoptr(GCancellable) wait = g_cancellable_new ();
  GError *local_error = NULL;
  gulong on_closing, on_cancelled = 0;
  gboolean ready;

  on_closing = g_cancellable_connect (self->closing, G_CALLBACK (cancel_wait), wait, NULL);
  if (cancellable != NULL)
    on_cancelled = g_cancellable_connect (cancellable, G_CALLBACK (cancel_wait), wait, NULL);
  ready = g_socket_condition_wait (self->socket, G_IO_IN, wait, &local_error);
  g_cancellable_disconnect (self->closing, on_closing);
  if (cancellable != NULL)
    g_cancellable_disconnect (cancellable, on_cancelled);
  if (ready)
    return TRUE;
  if (!g_cancellable_set_error_if_cancelled (cancellable, error) && check_open (self, error))
    g_propagate_error (error, g_steal_pointer (&local_error));
  g_clear_error (&local_error);
  return FALSE;
}

/**
 * sw_multiprocessing_listener_accept:
 * @self: a listener
 * @cancellable: (nullable): a cancellable, or %NULL
 * @error: return location for a #GError
 *
 * Waits for a client and returns a connection to it, with a
 * [class@Sw.MultiprocessingFraming] and a [class@Sw.PickleCodec]. With an
 * authkey, first runs the handshake as Python's `Listener.accept()`:
 * [func@Sw.multiprocessing_deliver_challenge], then
 * [func@Sw.multiprocessing_answer_challenge].
 *
 * A client with a wrong key gives %G_IO_ERROR_PERMISSION_DENIED, a
 * malformed handshake %G_IO_ERROR_INVALID_DATA; the connection to that
 * client is closed and the listener can accept the next one. Neither the
 * wait nor the handshake has a timeout: cancel @cancellable to stop them
 * (%G_IO_ERROR_CANCELLED), for example when a client stalls in the
 * middle of the handshake. A closed listener gives %G_IO_ERROR_CLOSED,
 * also when another thread closes it while this waits for a client.
 *
 * Returns: (transfer full): the connection, or %NULL with @error set
 *
 * Since: 0.1
 */
SwConnection *
sw_multiprocessing_listener_accept (SwMultiprocessingListener  *self,
                                    GCancellable               *cancellable,
                                    GError                    **error)
{
  GSocket *socket = NULL;
  GError *local_error = NULL;

  g_return_val_if_fail (SW_IS_MULTIPROCESSING_LISTENER (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  while (socket == NULL)
    {
      if (!check_open (self, error) || !wait_for_client (self, cancellable, error))
        return NULL;
      socket = g_socket_accept (self->socket, cancellable, &local_error);
      /* Another accepter may have taken the client: wait again. */
      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        g_clear_error (&local_error);
      else if (local_error != NULL)
        {
          g_propagate_error (error, local_error);
          return NULL;
        }
    }
  return setup_sync (socket, self->authkey, TRUE, cancellable, error);
}

static gboolean
on_client_waiting (GSocket      *listening,
                   GIOCondition  condition,
                   gpointer      user_data)
{
  GTask *task = user_data;
  SwMultiprocessingListener *self = g_task_get_source_object (task);
  GError *error = NULL;
  GSocket *socket;

  if (g_task_return_error_if_cancelled (task))
    return G_SOURCE_REMOVE;
  if (!check_open (self, &error))
    {
      g_task_return_error (task, error);
      return G_SOURCE_REMOVE;
    }
  socket = g_socket_accept (listening, NULL, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    {
      g_error_free (error);
      return G_SOURCE_CONTINUE;
    }
  if (socket == NULL)
    g_task_return_error (task, error);
  else
    setup_start (g_object_ref (task), socket);
  return G_SOURCE_REMOVE;
}

/**
 * sw_multiprocessing_listener_accept_async:
 * @self: a listener
 * @cancellable: (nullable): a cancellable, or %NULL
 * @callback: (scope async): called with the connection
 * @user_data: data for @callback
 *
 * Starts [method@Sw.MultiprocessingListener.accept] without blocking: the
 * wait for a client and the handshake run in the thread-default main
 * context of the calling thread, where @callback runs. Closing the
 * listener while this waits for a client ends it with
 * %G_IO_ERROR_CLOSED; a handshake already under way goes on.
 *
 * Since: 0.1
 */
void
sw_multiprocessing_listener_accept_async (SwMultiprocessingListener *self,
                                          GCancellable              *cancellable,
                                          GAsyncReadyCallback        callback,
                                          gpointer                   user_data)
{
  GTask *task;
  GError *error = NULL;

  g_return_if_fail (SW_IS_MULTIPROCESSING_LISTENER (self));

  task = setup_task_new (self, self->authkey, TRUE, cancellable, callback, user_data);
  g_task_set_name (task, "sw_multiprocessing_listener_accept_async");
  g_task_set_source_tag (task, SW_TAG (sw_multiprocessing_listener_accept_async));
  if (!check_open (self, &error))
    {
      setup_fail (task, error);
      return;
    }
  attach_wait (task, self->socket, G_IO_IN, self->closing, on_client_waiting);
  g_object_unref (task);
}

/**
 * sw_multiprocessing_listener_accept_finish:
 * @self: a listener
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Sw.MultiprocessingListener.accept_async].
 *
 * Returns: (transfer full): the connection, or %NULL with @error set
 *
 * Since: 0.1
 */
SwConnection *
sw_multiprocessing_listener_accept_finish (SwMultiprocessingListener  *self,
                                           GAsyncResult               *result,
                                           GError                    **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_async_result_is_tagged (result,
                                                  SW_TAG (sw_multiprocessing_listener_accept_async)),
                        NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * sw_multiprocessing_listener_get_address:
 * @self: a listener
 *
 * Gets the address the listener is bound to, as Python's
 * `Listener.address`: for a TCP address asked with port 0, the port the
 * system chose; for a %NULL address, the path that was made. A listener
 * made with g_object_new() instead of
 * [ctor@Sw.MultiprocessingListener.new] is bound to nothing (and closed).
 *
 * Returns: (transfer none) (nullable): the bound address, or %NULL for a
 *   listener that was never bound
 *
 * Since: 0.1
 */
GSocketAddress *
sw_multiprocessing_listener_get_address (SwMultiprocessingListener *self)
{
  g_return_val_if_fail (SW_IS_MULTIPROCESSING_LISTENER (self), NULL);

  return self->address;
}

/**
 * sw_multiprocessing_listener_get_backlog:
 * @self: a listener
 *
 * Gets [property@Sw.MultiprocessingListener:backlog].
 *
 * Returns: how many clients may wait to be accepted
 *
 * Since: 0.1
 */
int
sw_multiprocessing_listener_get_backlog (SwMultiprocessingListener *self)
{
  g_return_val_if_fail (SW_IS_MULTIPROCESSING_LISTENER (self), 0);

  return self->backlog;
}

/**
 * sw_multiprocessing_listener_set_backlog:
 * @self: a listener
 * @backlog: how many clients may wait to be accepted
 *
 * Sets [property@Sw.MultiprocessingListener:backlog], applied at once.
 *
 * Since: 0.1
 */
void
sw_multiprocessing_listener_set_backlog (SwMultiprocessingListener *self,
                                         int                        backlog)
{
  g_return_if_fail (SW_IS_MULTIPROCESSING_LISTENER (self));
  g_return_if_fail (backlog >= 0);

  if (self->backlog == backlog)
    return;
  self->backlog = backlog;
  /* GSocket refuses a new backlog once listening; listen(2) takes it. */
  if (is_open (self) && listen (g_socket_get_fd (self->socket), backlog) != 0)
    g_warning ("Could not apply the backlog: %s", g_strerror (errno));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BACKLOG]);
}

/**
 * sw_multiprocessing_listener_close:
 * @self: a listener
 *
 * Closes the listening socket, as Python's `Listener.close()`: removes
 * the socket file of a UNIX path address (a file already gone is fine),
 * and the directory made for a %NULL address. Connections already
 * accepted stay open. Closing twice does nothing; the last reference
 * going away closes the listener too, but a pending
 * [method@Sw.MultiprocessingListener.accept_async] holds one (as every
 * GIO async call holds its source object): close the listener to end it.
 *
 * May be called from another thread than the one accepting.
 *
 * Since: 0.1
 */
void
sw_multiprocessing_listener_close (SwMultiprocessingListener *self)
{
  g_return_if_fail (SW_IS_MULTIPROCESSING_LISTENER (self));

  if (release (self))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CLOSED]);
}

/**
 * sw_multiprocessing_listener_get_closed:
 * @self: a listener
 *
 * Gets [property@Sw.MultiprocessingListener:closed].
 *
 * Returns: whether the listener was closed
 *
 * Since: 0.1
 */
gboolean
sw_multiprocessing_listener_get_closed (SwMultiprocessingListener *self)
{
  g_return_val_if_fail (SW_IS_MULTIPROCESSING_LISTENER (self), TRUE);

  return !is_open (self);
}

/* ---- the client -------------------------------------------------------------- */

static GSocket *
new_socket_for (GSocketAddress  *address,
                GError         **error)
{
  return g_socket_new (g_socket_address_get_family (address), G_SOCKET_TYPE_STREAM,
                       G_SOCKET_PROTOCOL_DEFAULT, error);
}

/**
 * sw_multiprocessing_connect:
 * @address: the address of a listener: a UNIX path, an abstract UNIX name
 *   or a TCP address
 * @authkey: (nullable): the shared secret, or %NULL for no handshake
 * @cancellable: (nullable): a cancellable, or %NULL
 * @error: return location for a #GError
 *
 * Connects to a `multiprocessing.connection.Listener` (or a
 * [class@Sw.MultiprocessingListener]), as Python's
 * `Client(address, authkey=authkey)` does, and returns a connection with a
 * [class@Sw.MultiprocessingFraming] and a [class@Sw.PickleCodec]. With an
 * @authkey (an empty one included), runs the handshake in the client's
 * order: [func@Sw.multiprocessing_answer_challenge], then
 * [func@Sw.multiprocessing_deliver_challenge].
 *
 * A wrong key gives %G_IO_ERROR_PERMISSION_DENIED and nothing listening
 * %G_IO_ERROR_CONNECTION_REFUSED (or %G_IO_ERROR_NOT_FOUND for a missing
 * UNIX path). There is no timeout: cancel @cancellable to stop a connect
 * or handshake that does not end. After a failed handshake the
 * connection is closed.
 *
 * Returns: (transfer full): the connection, or %NULL with @error set
 *
 * Since: 0.1
 */
SwConnection *
sw_multiprocessing_connect (GSocketAddress  *address,
                            GBytes          *authkey,
                            GCancellable    *cancellable,
                            GError         **error)
{
  GSocket *socket;

  g_return_val_if_fail (G_IS_SOCKET_ADDRESS (address), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  socket = new_socket_for (address, error);
  if (socket == NULL)
    return NULL;
  if (!g_socket_connect (socket, address, cancellable, error))
    {
      g_object_unref (socket);
      return NULL;
    }
  return setup_sync (socket, authkey, FALSE, cancellable, error);
}

static gboolean
on_connect_ready (GSocket      *socket,
                  GIOCondition  condition,
                  gpointer      user_data)
{
  GTask *task = user_data;
  Setup *setup = g_task_get_task_data (task);
  GError *error = NULL;

  if (g_cancellable_set_error_if_cancelled (g_task_get_cancellable (task), &error)
      || !g_socket_check_connect_result (socket, &error))
    setup_fail (g_object_ref (task), error);
  else
    setup_start (g_object_ref (task), g_steal_pointer (&setup->socket));
  return G_SOURCE_REMOVE;
}

/**
 * sw_multiprocessing_connect_async:
 * @address: the address of a listener
 * @authkey: (nullable): the shared secret, or %NULL for no handshake
 * @cancellable: (nullable): a cancellable, or %NULL
 * @callback: (scope async): called with the connection
 * @user_data: data for @callback
 *
 * Starts [func@Sw.multiprocessing_connect] without blocking: the connect
 * and the handshake run in the thread-default main context of the
 * calling thread, where @callback runs.
 *
 * Since: 0.1
 */
void
sw_multiprocessing_connect_async (GSocketAddress      *address,
                                  GBytes              *authkey,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  GTask *task;
  Setup *setup;
  GError *error = NULL;

  g_return_if_fail (G_IS_SOCKET_ADDRESS (address));

  task = setup_task_new (NULL, authkey, FALSE, cancellable, callback, user_data);
  g_task_set_name (task, "sw_multiprocessing_connect_async");
  g_task_set_source_tag (task, SW_TAG (sw_multiprocessing_connect_async));
  setup = g_task_get_task_data (task);
  setup->socket = new_socket_for (address, &error);
  if (setup->socket == NULL)
    {
      setup_fail (task, error);
      return;
    }
  g_socket_set_blocking (setup->socket, FALSE);
  if (g_socket_connect (setup->socket, address, cancellable, &error))
    setup_start (task, g_steal_pointer (&setup->socket));
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PENDING))
    {
      g_error_free (error);
      attach_wait (task, setup->socket, G_IO_OUT, NULL, on_connect_ready);
      g_object_unref (task);
    }
  else
    setup_fail (task, error);
}

/**
 * sw_multiprocessing_connect_finish:
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes [func@Sw.multiprocessing_connect_async].
 *
 * Returns: (transfer full): the connection, or %NULL with @error set
 *
 * Since: 0.1
 */
SwConnection *
sw_multiprocessing_connect_finish (GAsyncResult  *result,
                                   GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_async_result_is_tagged (result,
                                                  SW_TAG (sw_multiprocessing_connect_async)),
                        NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
