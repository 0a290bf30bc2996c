/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Values and JSON nodes over a connection, and its codec property: a codec
 * (or json-glib) turns values into messages and back. Every call here is built on the message
 * calls of sw-connection.c; the async ones chain on them and encode before
 * or decode in their callback, as g_input_stream_read_bytes_async() does,
 * so the core async machinery knows nothing of values. A codec error on
 * receive is G_IO_ERROR_INVALID_DATA (or MESSAGE_TOO_LARGE over the
 * codec's memory budget) and consumes only that message. */

#include "config.h"

#include <glib/gi18n-lib.h>

#include "sw-connection-private.h"
#include "sw-init-private.h"
#include "sw-json-codec-private.h"

/* ---- chained async calls ---------------------------------------------- */

/* A task for a value call that chains on a message call: its callback
 * runs in the caller's thread-default context, like every async call. */
static GTask *
chained_task_new (SwConnection        *self,
                  GCancellable        *cancellable,
                  GAsyncReadyCallback  callback,
                  gpointer             user_data,
                  const char          *name,
                  gpointer             tag)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_name (task, name);
  g_task_set_source_tag (task, tag);
  /* The message call decides cancellation (a committed send succeeds). */
  g_task_set_check_cancellable (task, FALSE);
  return task;
}

static void
on_encoded_sent (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;

  if (sw_connection_send_message_finish (SW_CONNECTION (source), result, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

/* Sends @message (an encoded value), or completes with @error when the
 * encoding failed (@message NULL). */
static void
send_encoded_async (SwConnection        *self,
                    GBytes              *message,
                    GError              *error,
                    int                  io_priority,
                    GCancellable        *cancellable,
                    GAsyncReadyCallback  callback,
                    gpointer             user_data,
                    const char          *name,
                    gpointer             tag)
{
  GTask *task;

  if (message == NULL)
    {
      g_task_report_error (self, callback, user_data, tag, error);
      return;
    }
  task = chained_task_new (self, cancellable, callback, user_data, name, tag);
  sw_connection_send_message_async (self, message, io_priority, cancellable,
                                    on_encoded_sent, task);
}

/* ---- the codec --------------------------------------------------------- */

/**
 * sw_connection_get_codec:
 * @self: a connection
 *
 * Gets [property@Sw.Connection:codec].
 *
 * The codec returned is only safe to use while no other thread can set a
 * new one; otherwise use [method@Sw.Connection.dup_codec].
 *
 * Returns: (transfer none) (nullable): the codec, or %NULL
 *
 * Since: 0.1
 */
SwCodec *
sw_connection_get_codec (SwConnection *self)
{
  SwCodec *codec;

  g_return_val_if_fail (SW_IS_CONNECTION (self), NULL);

  g_mutex_lock (&self->codec_mutex);
  codec = self->codec;
  g_mutex_unlock (&self->codec_mutex);
  return codec;
}

/**
 * sw_connection_set_codec:
 * @self: a connection
 * @codec: (nullable): the codec, or %NULL
 *
 * Sets [property@Sw.Connection:codec]. Calls already running keep the
 * codec they started with.
 *
 * Since: 0.1
 */
void
sw_connection_set_codec (SwConnection *self,
                         SwCodec      *codec)
{
  SwCodec *old;

  g_return_if_fail (SW_IS_CONNECTION (self));
  g_return_if_fail (codec == NULL || SW_IS_CODEC (codec));

  if (codec != NULL)
    g_object_ref (codec);
  g_mutex_lock (&self->codec_mutex);
  old = self->codec;
  self->codec = codec;
  g_mutex_unlock (&self->codec_mutex);

  /* Released outside the mutex: a codec's finalizer is user code. */
  if (old != NULL)
    g_object_unref (old);
  if (old != codec)
    sw_connection_notify_codec (self);
}

/**
 * sw_connection_dup_codec:
 * @self: a connection
 *
 * Gets the codec values are encoded and decoded with, like
 * [method@Sw.Connection.get_codec], but with a reference of its own, so
 * the result stays valid when another thread sets a new codec.
 *
 * Returns: (transfer full) (nullable): the codec, or %NULL
 *
 * Since: 0.2
 */
SwCodec *
sw_connection_dup_codec (SwConnection *self)
{
  SwCodec *codec;

  g_return_val_if_fail (SW_IS_CONNECTION (self), NULL);

  g_mutex_lock (&self->codec_mutex);
  codec = self->codec ? g_object_ref (self->codec) : NULL;
  g_mutex_unlock (&self->codec_mutex);
  return codec;
}


SwCodec *
sw_connection_require_codec (SwConnection  *self,
                             GError       **error)
{
  SwCodec *codec = sw_connection_dup_codec (self);

  if (codec == NULL)
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                         _("Values need a codec; this connection has none"));
  return codec;
}

/* ---- values ----------------------------------------------------------- */

static void
on_value_received (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GBytes) message = NULL;
  GVariant *value;
  GError *error = NULL;

  message = sw_connection_receive_message_finish (SW_CONNECTION (source), result, &error);
  value = message ? sw_codec_decode (g_task_get_task_data (task), message, &error) : NULL;
  if (value != NULL)
    g_task_return_pointer (task, value, (GDestroyNotify) g_variant_unref);
  else
    g_task_return_error (task, error);
}

/* The message for @value, or NULL with @error; sinks a floating @value. */
static GBytes *
encode_value (SwConnection  *self,
              GVariant      *value,
              GError       **error)
{
  g_autoptr(GVariant) owned = g_variant_ref_sink (value);
  g_autoptr(SwCodec) codec = sw_connection_require_codec (self, error);

  if (codec == NULL)
    return NULL;
  return sw_codec_encode (codec, owned, error);
}

/**
 * sw_connection_send_value:
 * @self: a connection
 * @value: the value; a floating reference is sunk
 * @timeout_us: how long the call may take, in microseconds; -1 for ever
 * @cancellable: (nullable): a cancellable, or %NULL
 * @error: return location for a #GError
 *
 * Encodes @value with [property@Sw.Connection:codec] and sends it as one
 * message, like [method@Sw.Connection.send_message]. Without a codec it
 * fails with %G_IO_ERROR_NOT_SUPPORTED; a value the codec cannot encode
 * fails with the codec's error and sends nothing.
 *
 * Returns: %TRUE if the message was sent or committed
 *
 * Since: 0.1
 */
gboolean
sw_connection_send_value (SwConnection  *self,
                          GVariant      *value,
                          gint64         timeout_us,
                          GCancellable  *cancellable,
                          GError       **error)
{
  g_autoptr(GBytes) message = NULL;

  g_return_val_if_fail (SW_IS_CONNECTION (self), FALSE);
  g_return_val_if_fail (value != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  message = encode_value (self, value, error);
  if (message == NULL)
    return FALSE;
  return sw_connection_send_message (self, message, timeout_us, cancellable, error);
}

/**
 * sw_connection_receive_value:
 * @self: a connection
 * @timeout_us: how long the call may take, in microseconds; -1 for ever
 * @cancellable: (nullable): a cancellable, or %NULL
 * @error: return location for a #GError
 *
 * Receives one message, like [method@Sw.Connection.receive_message], and
 * decodes it with [property@Sw.Connection:codec]. A message the codec
 * cannot decode fails with %G_IO_ERROR_INVALID_DATA; it is consumed, and
 * the next receive gets the next message. Without a codec it fails with
 * %G_IO_ERROR_NOT_SUPPORTED before receiving anything.
 *
 * Returns: (transfer full): the value, or %NULL on error
 *
 * Since: 0.1
 */
GVariant *
sw_connection_receive_value (SwConnection  *self,
                             gint64         timeout_us,
                             GCancellable  *cancellable,
                             GError       **error)
{
  g_autoptr(SwCodec) codec = NULL;
  g_autoptr(GBytes) message = NULL;

  g_return_val_if_fail (SW_IS_CONNECTION (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  codec = sw_connection_require_codec (self, error);
  if (codec == NULL)
    return NULL;
  message = sw_connection_receive_message (self, timeout_us, cancellable, error);
  if (message == NULL)
    return NULL;
  return sw_codec_decode (codec, message, error);
}

/**
 * sw_connection_send_value_async:
 * @self: a connection
 * @value: the value; a floating reference is sunk
 * @io_priority: the I/O priority of the call
 * @cancellable: (nullable): a cancellable, or %NULL
 * @callback: (scope async): called when the call completes
 * @user_data: data for @callback
 *
 * Encodes @value with [property@Sw.Connection:codec] and sends it, like
 * [method@Sw.Connection.send_message_async]. @callback runs in the
 * thread-default main context of the thread that made the call; finish
 * with [method@Sw.Connection.send_value_finish].
 *
 * Since: 0.1
 */
void
sw_connection_send_value_async (SwConnection        *self,
                                GVariant            *value,
                                int                  io_priority,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  g_autoptr(GBytes) message = NULL;
  GError *error = NULL;

  g_return_if_fail (SW_IS_CONNECTION (self));
  g_return_if_fail (value != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  message = encode_value (self, value, &error);
  send_encoded_async (self, message, error, io_priority, cancellable, callback, user_data,
                      "sw_connection_send_value_async", SW_TAG (sw_connection_send_value_async));
}

/**
 * sw_connection_send_value_finish:
 * @self: a connection
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Sw.Connection.send_value_async].
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
sw_connection_send_value_finish (SwConnection  *self,
                                 GAsyncResult  *result,
                                 GError       **error)
{
  return sw_connection_finish_boolean (self, result, SW_TAG (sw_connection_send_value_async), error);
}

/**
 * sw_connection_receive_value_async:
 * @self: a connection
 * @io_priority: the I/O priority of the call
 * @cancellable: (nullable): a cancellable, or %NULL
 * @callback: (scope async): called when the call completes
 * @user_data: data for @callback
 *
 * Receives one message and decodes it with
 * [property@Sw.Connection:codec], like
 * [method@Sw.Connection.receive_value] but without blocking. @callback
 * runs in the thread-default main context of the thread that made the
 * call; finish with [method@Sw.Connection.receive_value_finish].
 *
 * Since: 0.1
 */
void
sw_connection_receive_value_async (SwConnection        *self,
                                   int                  io_priority,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  SwCodec *codec;
  GError *error = NULL;
  GTask *task;

  g_return_if_fail (SW_IS_CONNECTION (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  codec = sw_connection_require_codec (self, &error);
  if (codec == NULL)
    {
      g_task_report_error (self, callback, user_data,
                           SW_TAG (sw_connection_receive_value_async), error);
      return;
    }
  task = chained_task_new (self, cancellable, callback, user_data,
                           "sw_connection_receive_value_async",
                           SW_TAG (sw_connection_receive_value_async));
  g_task_set_task_data (task, codec, g_object_unref);
  sw_connection_receive_message_async (self, io_priority, cancellable, on_value_received, task);
}

/**
 * sw_connection_receive_value_finish:
 * @self: a connection
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Sw.Connection.receive_value_async].
 *
 * Returns: (transfer full): the value, or %NULL on error
 *
 * Since: 0.1
 */
GVariant *
sw_connection_receive_value_finish (SwConnection  *self,
                                    GAsyncResult  *result,
                                    GError       **error)
{
  return sw_connection_finish_pointer (self, result, SW_TAG (sw_connection_receive_value_async), error);
}

/* ---- JSON nodes ------------------------------------------------------- */

static GBytes *
encode_json_node (JsonNode  *node,
                  GError   **error)
{
  if (!sw_json_node_check (node, error))
    return NULL;
  return sw_json_node_to_bytes (node);
}

/**
 * sw_connection_send_json_node:
 * @self: a connection
 * @node: the JSON value
 * @timeout_us: how long the call may take, in microseconds; -1 for ever
 * @cancellable: (nullable): a cancellable, or %NULL
 * @error: return location for a #GError
 *
 * Sends @node as one message of compact JSON text (UTF-8), whatever the
 * connection's codec. A number that JSON cannot represent (NaN, infinity)
 * fails with %G_IO_ERROR_INVALID_ARGUMENT and sends nothing. With
 * [class@Sw.DelimiterFraming] this speaks JSON Lines.
 *
 * Returns: %TRUE if the message was sent or committed
 *
 * Since: 0.1
 */
gboolean
sw_connection_send_json_node (SwConnection  *self,
                              JsonNode      *node,
                              gint64         timeout_us,
                              GCancellable  *cancellable,
                              GError       **error)
{
  g_autoptr(GBytes) message = NULL;

  g_return_val_if_fail (SW_IS_CONNECTION (self), FALSE);
  g_return_val_if_fail (node != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  message = encode_json_node (node, error);
  if (message == NULL)
    return FALSE;
  return sw_connection_send_message (self, message, timeout_us, cancellable, error);
}

/**
 * sw_connection_receive_json_node:
 * @self: a connection
 * @timeout_us: how long the call may take, in microseconds; -1 for ever
 * @cancellable: (nullable): a cancellable, or %NULL
 * @error: return location for a #GError
 *
 * Receives one message and parses it as JSON text, whatever the
 * connection's codec. A message that is not valid JSON fails with
 * %G_IO_ERROR_INVALID_DATA (the message says where); it is consumed, and
 * the next receive gets the next message.
 *
 * Returns: (transfer full): the JSON value, or %NULL on error
 *
 * Since: 0.1
 */
JsonNode *
sw_connection_receive_json_node (SwConnection  *self,
                                 gint64         timeout_us,
                                 GCancellable  *cancellable,
                                 GError       **error)
{
  g_autoptr(GBytes) message = NULL;

  g_return_val_if_fail (SW_IS_CONNECTION (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  message = sw_connection_receive_message (self, timeout_us, cancellable, error);
  if (message == NULL)
    return NULL;
  return sw_json_node_from_bytes (message, error);
}

/**
 * sw_connection_send_json_node_async:
 * @self: a connection
 * @node: the JSON value
 * @io_priority: the I/O priority of the call
 * @cancellable: (nullable): a cancellable, or %NULL
 * @callback: (scope async): called when the call completes
 * @user_data: data for @callback
 *
 * Sends @node as JSON text, like [method@Sw.Connection.send_json_node]
 * but without blocking. @callback runs in the thread-default main context
 * of the thread that made the call; finish with
 * [method@Sw.Connection.send_json_node_finish].
 *
 * Since: 0.1
 */
void
sw_connection_send_json_node_async (SwConnection        *self,
                                    JsonNode            *node,
                                    int                  io_priority,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data)
{
  g_autoptr(GBytes) message = NULL;
  GError *error = NULL;

  g_return_if_fail (SW_IS_CONNECTION (self));
  g_return_if_fail (node != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  message = encode_json_node (node, &error);
  send_encoded_async (self, message, error, io_priority, cancellable, callback, user_data,
                      "sw_connection_send_json_node_async",
                      SW_TAG (sw_connection_send_json_node_async));
}

/**
 * sw_connection_send_json_node_finish:
 * @self: a connection
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Sw.Connection.send_json_node_async].
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
sw_connection_send_json_node_finish (SwConnection  *self,
                                     GAsyncResult  *result,
                                     GError       **error)
{
  return sw_connection_finish_boolean (self, result, SW_TAG (sw_connection_send_json_node_async),
                                 error);
}

static void
on_json_node_received (GObject      *source,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GBytes) message = NULL;
  JsonNode *node;
  GError *error = NULL;

  message = sw_connection_receive_message_finish (SW_CONNECTION (source), result, &error);
  node = message ? sw_json_node_from_bytes (message, &error) : NULL;
  if (node != NULL)
    g_task_return_pointer (task, node, (GDestroyNotify) json_node_unref);
  else
    g_task_return_error (task, error);
}

/**
 * sw_connection_receive_json_node_async:
 * @self: a connection
 * @io_priority: the I/O priority of the call
 * @cancellable: (nullable): a cancellable, or %NULL
 * @callback: (scope async): called when the call completes
 * @user_data: data for @callback
 *
 * Receives one message and parses it as JSON text, like
 * [method@Sw.Connection.receive_json_node] but without blocking.
 * @callback runs in the thread-default main context of the thread that
 * made the call; finish with
 * [method@Sw.Connection.receive_json_node_finish].
 *
 * Since: 0.1
 */
void
sw_connection_receive_json_node_async (SwConnection        *self,
                                       int                  io_priority,
                                       GCancellable        *cancellable,
                                       GAsyncReadyCallback  callback,
                                       gpointer             user_data)
{
  GTask *task;

  g_return_if_fail (SW_IS_CONNECTION (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = chained_task_new (self, cancellable, callback, user_data,
                           "sw_connection_receive_json_node_async",
                           SW_TAG (sw_connection_receive_json_node_async));
  sw_connection_receive_message_async (self, io_priority, cancellable,
                                       on_json_node_received, task);
}

/**
 * sw_connection_receive_json_node_finish:
 * @self: a connection
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Sw.Connection.receive_json_node_async].
 *
 * Returns: (transfer full): the JSON value, or %NULL on error
 *
 * Since: 0.1
 */
JsonNode *
sw_connection_receive_json_node_finish (SwConnection  *self,
                                        GAsyncResult  *result,
                                        GError       **error)
{
  return sw_connection_finish_pointer (self, result, SW_TAG (sw_connection_receive_json_node_async),
                                 error);
}
