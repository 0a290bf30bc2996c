/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The settings of SwConnection — framing, max-message-size, read-ahead,
 * progress-threshold, memfd-threshold — and their accessors. Settings never wait for a
 * call in progress: they live in the channel's settings record (its own
 * leaf mutex), and each direction's owner picks them up at its next frame
 * boundary (sw-channel.c). Setters notify in the calling thread. */

#include "config.h"

#include "sw-connection-private.h"

/**
 * sw_connection_get_framing:
 * @self: a connection
 *
 * Gets [property@Sw.Connection:framing].
 *
 * The framing returned is only safe to use while no other thread can set
 * a new one; otherwise use [method@Sw.Connection.dup_framing].
 *
 * Returns: (transfer none) (nullable): the framing, or %NULL for raw bytes
 *
 * Since: 0.1
 */
SwFraming *
sw_connection_get_framing (SwConnection *self)
{
  SwFraming *framing;

  g_return_val_if_fail (SW_IS_CONNECTION (self), NULL);

  g_mutex_lock (&self->channel.settings.mutex);
  framing = self->channel.settings.framing;
  g_mutex_unlock (&self->channel.settings.mutex);
  return framing;
}

/**
 * sw_connection_dup_framing:
 * @self: a connection
 *
 * Gets the framing messages are read and written with, like
 * [method@Sw.Connection.get_framing], but with a reference of its own, so
 * the result stays valid when another thread sets a new framing.
 *
 * Returns: (transfer full) (nullable): the framing, or %NULL for raw bytes
 *
 * Since: 0.2
 */
SwFraming *
sw_connection_dup_framing (SwConnection *self)
{
  g_return_val_if_fail (SW_IS_CONNECTION (self), NULL);

  return sw_channel_dup_framing (&self->channel);
}

/**
 * sw_connection_set_framing:
 * @self: a connection
 * @framing: (nullable): the framing, or %NULL for raw bytes
 *
 * Sets [property@Sw.Connection:framing]. It never waits: a receive or a
 * send in progress keeps the framing of the frame it is reading or writing,
 * and the new framing applies from the next frame on. Getters return the
 * new framing at once.
 *
 * Since: 0.1
 */
void
sw_connection_set_framing (SwConnection *self,
                           SwFraming    *framing)
{

  g_return_if_fail (SW_IS_CONNECTION (self));
  g_return_if_fail (framing == NULL || SW_IS_FRAMING (framing));

  if (sw_channel_set_framing (&self->channel, framing))
    g_object_notify (G_OBJECT (self), "framing");
}

/**
 * sw_connection_get_max_message_size:
 * @self: a connection
 *
 * Gets [property@Sw.Connection:max-message-size].
 *
 * Returns: the largest message a receive accepts, in bytes
 *
 * Since: 0.1
 */
guint64
sw_connection_get_max_message_size (SwConnection *self)
{
  g_return_val_if_fail (SW_IS_CONNECTION (self), 0);

  return sw_channel_get_max_message_size (&self->channel);
}

/**
 * sw_connection_set_max_message_size:
 * @self: a connection
 * @max_message_size: the largest message a receive accepts, in bytes;
 *   0 or %G_MAXUINT64 for no limit
 *
 * Sets [property@Sw.Connection:max-message-size]. 0 and %G_MAXUINT64 both
 * mean no limit (0 is the one JavaScript can write); the getter returns the
 * value set. It applies from the next frame a receive starts.
 *
 * Since: 0.1
 */
void
sw_connection_set_max_message_size (SwConnection *self,
                                    guint64       max_message_size)
{

  g_return_if_fail (SW_IS_CONNECTION (self));

  if (sw_channel_set_max_message_size (&self->channel, max_message_size))
    g_object_notify (G_OBJECT (self), "max-message-size");
}

/**
 * sw_connection_get_read_ahead:
 * @self: a connection
 *
 * Gets [property@Sw.Connection:read-ahead].
 *
 * Returns: whether receives read ahead
 *
 * Since: 0.1
 */
gboolean
sw_connection_get_read_ahead (SwConnection *self)
{
  g_return_val_if_fail (SW_IS_CONNECTION (self), FALSE);

  return sw_channel_get_read_ahead (&self->channel);
}

/**
 * sw_connection_set_read_ahead:
 * @self: a connection
 * @read_ahead: whether receives read ahead
 *
 * Sets [property@Sw.Connection:read-ahead]. It never waits: a receive in
 * progress picks the new value up at its next frame. Turning it off does not give back what was already read: see
 * [method@Sw.Connection.steal_buffered_input].
 *
 * Since: 0.1
 */
void
sw_connection_set_read_ahead (SwConnection *self,
                              gboolean      read_ahead)
{

  g_return_if_fail (SW_IS_CONNECTION (self));

  if (sw_channel_set_read_ahead (&self->channel, !!read_ahead))
    g_object_notify (G_OBJECT (self), "read-ahead");
}

/**
 * sw_connection_get_progress_threshold:
 * @self: a connection
 *
 * Gets [property@Sw.Connection:progress-threshold].
 *
 * Returns: the smallest message that reports progress, in bytes; 0 when
 *   none does
 *
 * Since: 0.2
 */
guint64
sw_connection_get_progress_threshold (SwConnection *self)
{
  g_return_val_if_fail (SW_IS_CONNECTION (self), 0);

  return sw_channel_get_progress_threshold (&self->channel);
}

/**
 * sw_connection_set_progress_threshold:
 * @self: a connection
 * @threshold: the smallest message that reports progress, in bytes; 0 for
 *   none
 *
 * Sets [property@Sw.Connection:progress-threshold]. It never waits: a call
 * in progress applies it from its next frame.
 *
 * Since: 0.2
 */
void
sw_connection_set_progress_threshold (SwConnection *self,
                                      guint64       threshold)
{
  g_return_if_fail (SW_IS_CONNECTION (self));

  if (sw_channel_set_progress_threshold (&self->channel, threshold))
    g_object_notify (G_OBJECT (self), "progress-threshold");
}

/**
 * sw_connection_get_memfd_threshold:
 * @self: a connection
 *
 * Gets [property@Sw.Connection:memfd-threshold].
 *
 * Returns: the smallest message sent as a memfd, in bytes; 0 when none is
 *
 * Since: 0.2
 */
guint64
sw_connection_get_memfd_threshold (SwConnection *self)
{
  g_return_val_if_fail (SW_IS_CONNECTION (self), 0);

  return sw_channel_get_memfd_threshold (&self->channel);
}

/**
 * sw_connection_set_memfd_threshold:
 * @self: a connection
 * @threshold: the smallest message sent as a memfd, in bytes; 0 for none
 *
 * Sets [property@Sw.Connection:memfd-threshold]. Messages at least
 * @threshold bytes long are sent as sealed memfds, and memfd messages from
 * the peer are received, as a mapping, instead of refused. Both ends must
 * set it: see [memfd messages](memfd.html) for the wire format, the
 * checks made on what arrives and how a peer that has not set it is
 * detected.
 *
 * It takes effect on UNIX stream sockets only; on other connections
 * (pipes, TCP, datagram sockets, wrapped streams) the value is kept and
 * ignored: every message goes inline, and a frame received there is
 * never taken for a memfd message. It never waits: a call in progress applies it from its
 * next frame.
 *
 * Since: 0.2
 */
void
sw_connection_set_memfd_threshold (SwConnection *self,
                                   guint64       threshold)
{
  g_return_if_fail (SW_IS_CONNECTION (self));

  if (sw_channel_set_memfd_threshold (&self->channel, threshold))
    g_object_notify (G_OBJECT (self), "memfd-threshold");
}
