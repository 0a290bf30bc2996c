/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined (SW_INSIDE) && !defined (SW_COMPILATION)
# error "Only <socketwrapper/socketwrapper.h> can be included directly."
#endif

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <socketwrapper/sw-codec.h>
#include <socketwrapper/sw-framing.h>
#include <socketwrapper/sw-version-macros.h>

G_BEGIN_DECLS

/**
 * SW_DEFAULT_MAX_MESSAGE_SIZE:
 *
 * The default of [property@Sw.Connection:max-message-size]: 128 MiB, the
 * D-Bus message limit.
 *
 * Since: 0.1
 */
#define SW_DEFAULT_MAX_MESSAGE_SIZE (G_GUINT64_CONSTANT (128) * 1024 * 1024)

#define SW_TYPE_CONNECTION (sw_connection_get_type ())
SW_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (SwConnection, sw_connection, SW, CONNECTION, GObject)

SW_AVAILABLE_IN_ALL
SwConnection *sw_connection_new             (GSocket        *socket,
                                             SwFraming      *framing) G_GNUC_WARN_UNUSED_RESULT;
SW_AVAILABLE_IN_ALL
SwConnection *sw_connection_new_for_stream  (GIOStream      *stream,
                                             SwFraming      *framing) G_GNUC_WARN_UNUSED_RESULT;
SW_AVAILABLE_IN_ALL
SwConnection *sw_connection_new_for_streams (GInputStream   *input,
                                             GOutputStream  *output,
                                             SwFraming      *framing) G_GNUC_WARN_UNUSED_RESULT;
SW_AVAILABLE_IN_ALL
SwConnection *sw_connection_new_for_fd      (int             fd,
                                             SwFraming      *framing,
                                             GError        **error) G_GNUC_WARN_UNUSED_RESULT;

SW_AVAILABLE_IN_ALL
gboolean      sw_connection_send_message    (SwConnection   *self,
                                             GBytes         *message,
                                             gint64          timeout_us,
                                             GCancellable   *cancellable,
                                             GError        **error);
SW_AVAILABLE_IN_ALL
GBytes       *sw_connection_receive_message (SwConnection   *self,
                                             gint64          timeout_us,
                                             GCancellable   *cancellable,
                                             GError        **error) G_GNUC_WARN_UNUSED_RESULT;
SW_AVAILABLE_IN_ALL
gboolean      sw_connection_send_messages   (SwConnection   *self,
                                             GBytes * const *messages,
                                             guint           n_messages,
                                             gint64          timeout_us,
                                             GCancellable   *cancellable,
                                             GError        **error);
SW_AVAILABLE_IN_ALL
GPtrArray    *sw_connection_receive_messages (SwConnection  *self,
                                              guint          max_messages,
                                              gint64         timeout_us,
                                              GCancellable  *cancellable,
                                              GError       **error) G_GNUC_WARN_UNUSED_RESULT;
SW_AVAILABLE_IN_ALL
gssize        sw_connection_send_bytes      (SwConnection   *self,
                                             GBytes         *data,
                                             gint64          timeout_us,
                                             GCancellable   *cancellable,
                                             GError        **error);
SW_AVAILABLE_IN_ALL
GBytes       *sw_connection_receive_bytes   (SwConnection   *self,
                                             gssize          size,
                                             gint64          timeout_us,
                                             GCancellable   *cancellable,
                                             GError        **error) G_GNUC_WARN_UNUSED_RESULT;
SW_AVAILABLE_IN_ALL
gboolean      sw_connection_flush           (SwConnection   *self,
                                             gint64          timeout_us,
                                             GCancellable   *cancellable,
                                             GError        **error);
SW_AVAILABLE_IN_ALL
gboolean      sw_connection_shutdown_write  (SwConnection   *self,
                                             gint64          timeout_us,
                                             GCancellable   *cancellable,
                                             GError        **error);
SW_AVAILABLE_IN_ALL
void          sw_connection_shutdown_write_async  (SwConnection        *self,
                                                   int                  io_priority,
                                                   GCancellable        *cancellable,
                                                   GAsyncReadyCallback  callback,
                                                   gpointer             user_data);
SW_AVAILABLE_IN_ALL
gboolean      sw_connection_shutdown_write_finish (SwConnection        *self,
                                                   GAsyncResult        *result,
                                                   GError             **error);
SW_AVAILABLE_IN_ALL
gboolean      sw_connection_close           (SwConnection   *self,
                                             GCancellable   *cancellable,
                                             GError        **error);
SW_AVAILABLE_IN_ALL
GBytes       *sw_connection_steal_buffered_input (SwConnection  *self,
                                                 GError       **error) G_GNUC_WARN_UNUSED_RESULT;
SW_AVAILABLE_IN_ALL
int           sw_connection_get_fd          (SwConnection   *self);
SW_AVAILABLE_IN_ALL
GCredentials *sw_connection_get_peer_credentials (SwConnection  *self,
                                                  GError       **error) G_GNUC_WARN_UNUSED_RESULT;

SW_AVAILABLE_IN_ALL
void          sw_connection_send_message_async     (SwConnection        *self,
                                                    GBytes              *message,
                                                    int                  io_priority,
                                                    GCancellable        *cancellable,
                                                    GAsyncReadyCallback  callback,
                                                    gpointer             user_data);
SW_AVAILABLE_IN_ALL
gboolean      sw_connection_send_message_finish    (SwConnection        *self,
                                                    GAsyncResult        *result,
                                                    GError             **error);
SW_AVAILABLE_IN_ALL
void          sw_connection_send_messages_async    (SwConnection        *self,
                                                    GBytes * const      *messages,
                                                    guint                n_messages,
                                                    int                  io_priority,
                                                    GCancellable        *cancellable,
                                                    GAsyncReadyCallback  callback,
                                                    gpointer             user_data);
SW_AVAILABLE_IN_ALL
gboolean      sw_connection_send_messages_finish   (SwConnection        *self,
                                                    GAsyncResult        *result,
                                                    GError             **error);
SW_AVAILABLE_IN_ALL
void          sw_connection_receive_messages_async  (SwConnection        *self,
                                                     guint                max_messages,
                                                     int                  io_priority,
                                                     GCancellable        *cancellable,
                                                     GAsyncReadyCallback  callback,
                                                     gpointer             user_data);
SW_AVAILABLE_IN_ALL
GPtrArray    *sw_connection_receive_messages_finish (SwConnection        *self,
                                                     GAsyncResult        *result,
                                                     GError             **error) G_GNUC_WARN_UNUSED_RESULT;
SW_AVAILABLE_IN_ALL
void          sw_connection_receive_message_async  (SwConnection        *self,
                                                    int                  io_priority,
                                                    GCancellable        *cancellable,
                                                    GAsyncReadyCallback  callback,
                                                    gpointer             user_data);
SW_AVAILABLE_IN_ALL
GBytes       *sw_connection_receive_message_finish (SwConnection        *self,
                                                    GAsyncResult        *result,
                                                    GError             **error) G_GNUC_WARN_UNUSED_RESULT;
SW_AVAILABLE_IN_ALL
void          sw_connection_send_bytes_async       (SwConnection        *self,
                                                    GBytes              *data,
                                                    int                  io_priority,
                                                    GCancellable        *cancellable,
                                                    GAsyncReadyCallback  callback,
                                                    gpointer             user_data);
SW_AVAILABLE_IN_ALL
gssize        sw_connection_send_bytes_finish      (SwConnection        *self,
                                                    GAsyncResult        *result,
                                                    GError             **error);
SW_AVAILABLE_IN_ALL
void          sw_connection_receive_bytes_async    (SwConnection        *self,
                                                    gssize               size,
                                                    int                  io_priority,
                                                    GCancellable        *cancellable,
                                                    GAsyncReadyCallback  callback,
                                                    gpointer             user_data);
SW_AVAILABLE_IN_ALL
GBytes       *sw_connection_receive_bytes_finish   (SwConnection        *self,
                                                    GAsyncResult        *result,
                                                    GError             **error) G_GNUC_WARN_UNUSED_RESULT;
SW_AVAILABLE_IN_ALL
void          sw_connection_flush_async            (SwConnection        *self,
                                                    int                  io_priority,
                                                    GCancellable        *cancellable,
                                                    GAsyncReadyCallback  callback,
                                                    gpointer             user_data);
SW_AVAILABLE_IN_ALL
gboolean      sw_connection_flush_finish           (SwConnection        *self,
                                                    GAsyncResult        *result,
                                                    GError             **error);
SW_AVAILABLE_IN_ALL
void          sw_connection_close_async            (SwConnection        *self,
                                                    int                  io_priority,
                                                    GCancellable        *cancellable,
                                                    GAsyncReadyCallback  callback,
                                                    gpointer             user_data);
SW_AVAILABLE_IN_ALL
gboolean      sw_connection_close_finish           (SwConnection        *self,
                                                    GAsyncResult        *result,
                                                    GError             **error);

SW_AVAILABLE_IN_ALL
SwCodec      *sw_connection_get_codec       (SwConnection   *self);
SW_AVAILABLE_IN_ALL
void          sw_connection_start_receiving (SwConnection  *self);
SW_AVAILABLE_IN_ALL
void          sw_connection_stop_receiving  (SwConnection  *self);
SW_AVAILABLE_IN_ALL
gboolean      sw_connection_get_receiving   (SwConnection  *self);
SW_AVAILABLE_IN_ALL
SwCodec      *sw_connection_dup_codec       (SwConnection   *self) G_GNUC_WARN_UNUSED_RESULT;
SW_AVAILABLE_IN_ALL
void          sw_connection_set_codec       (SwConnection   *self,
                                             SwCodec        *codec);
SW_AVAILABLE_IN_ALL
gboolean      sw_connection_send_value      (SwConnection   *self,
                                             GVariant       *value,
                                             gint64          timeout_us,
                                             GCancellable   *cancellable,
                                             GError        **error);
SW_AVAILABLE_IN_ALL
GVariant     *sw_connection_receive_value   (SwConnection   *self,
                                             gint64          timeout_us,
                                             GCancellable   *cancellable,
                                             GError        **error) G_GNUC_WARN_UNUSED_RESULT;
SW_AVAILABLE_IN_ALL
void          sw_connection_send_value_async     (SwConnection        *self,
                                                  GVariant            *value,
                                                  int                  io_priority,
                                                  GCancellable        *cancellable,
                                                  GAsyncReadyCallback  callback,
                                                  gpointer             user_data);
SW_AVAILABLE_IN_ALL
gboolean      sw_connection_send_value_finish    (SwConnection        *self,
                                                  GAsyncResult        *result,
                                                  GError             **error);
SW_AVAILABLE_IN_ALL
void          sw_connection_receive_value_async  (SwConnection        *self,
                                                  int                  io_priority,
                                                  GCancellable        *cancellable,
                                                  GAsyncReadyCallback  callback,
                                                  gpointer             user_data);
SW_AVAILABLE_IN_ALL
GVariant     *sw_connection_receive_value_finish (SwConnection        *self,
                                                  GAsyncResult        *result,
                                                  GError             **error) G_GNUC_WARN_UNUSED_RESULT;
SW_AVAILABLE_IN_ALL
gboolean      sw_connection_send_json_node      (SwConnection   *self,
                                                 JsonNode       *node,
                                                 gint64          timeout_us,
                                                 GCancellable   *cancellable,
                                                 GError        **error);
SW_AVAILABLE_IN_ALL
JsonNode     *sw_connection_receive_json_node   (SwConnection   *self,
                                                 gint64          timeout_us,
                                                 GCancellable   *cancellable,
                                                 GError        **error) G_GNUC_WARN_UNUSED_RESULT;
SW_AVAILABLE_IN_ALL
void          sw_connection_send_json_node_async     (SwConnection        *self,
                                                      JsonNode            *node,
                                                      int                  io_priority,
                                                      GCancellable        *cancellable,
                                                      GAsyncReadyCallback  callback,
                                                      gpointer             user_data);
SW_AVAILABLE_IN_ALL
gboolean      sw_connection_send_json_node_finish    (SwConnection        *self,
                                                      GAsyncResult        *result,
                                                      GError             **error);
SW_AVAILABLE_IN_ALL
void          sw_connection_receive_json_node_async  (SwConnection        *self,
                                                      int                  io_priority,
                                                      GCancellable        *cancellable,
                                                      GAsyncReadyCallback  callback,
                                                      gpointer             user_data);
SW_AVAILABLE_IN_ALL
JsonNode     *sw_connection_receive_json_node_finish (SwConnection        *self,
                                                      GAsyncResult        *result,
                                                      GError             **error) G_GNUC_WARN_UNUSED_RESULT;

SW_AVAILABLE_IN_ALL
SwFraming    *sw_connection_get_framing     (SwConnection   *self);
SW_AVAILABLE_IN_ALL
SwFraming    *sw_connection_dup_framing     (SwConnection   *self) G_GNUC_WARN_UNUSED_RESULT;
SW_AVAILABLE_IN_ALL
void          sw_connection_set_framing     (SwConnection   *self,
                                             SwFraming      *framing);
SW_AVAILABLE_IN_ALL
GSocket      *sw_connection_get_socket      (SwConnection   *self);
SW_AVAILABLE_IN_ALL
GInputStream *sw_connection_get_input_stream  (SwConnection *self);
SW_AVAILABLE_IN_ALL
GOutputStream *sw_connection_get_output_stream (SwConnection *self);
SW_AVAILABLE_IN_ALL
gboolean      sw_connection_get_readable    (SwConnection   *self);
SW_AVAILABLE_IN_ALL
gboolean      sw_connection_get_writable    (SwConnection   *self);
SW_AVAILABLE_IN_ALL
gboolean      sw_connection_get_closed      (SwConnection   *self);
SW_AVAILABLE_IN_ALL
gboolean      sw_connection_get_inheritable (SwConnection   *self);
SW_AVAILABLE_IN_ALL
void          sw_connection_set_inheritable (SwConnection   *self,
                                             gboolean        inheritable);
SW_AVAILABLE_IN_ALL
gboolean      sw_connection_get_close_wrapped (SwConnection *self);
SW_AVAILABLE_IN_ALL
guint64       sw_connection_get_max_message_size (SwConnection *self);
SW_AVAILABLE_IN_ALL
void          sw_connection_set_max_message_size (SwConnection *self,
                                                  guint64       max_message_size);
SW_AVAILABLE_IN_ALL
gboolean      sw_connection_get_read_ahead  (SwConnection   *self);
SW_AVAILABLE_IN_ALL
void          sw_connection_set_read_ahead  (SwConnection   *self,
                                             gboolean        read_ahead);
SW_AVAILABLE_IN_ALL
guint64       sw_connection_get_progress_threshold (SwConnection *self);
SW_AVAILABLE_IN_ALL
void          sw_connection_set_progress_threshold (SwConnection *self,
                                                    guint64       threshold);
SW_AVAILABLE_IN_ALL
guint64       sw_connection_get_memfd_threshold (SwConnection *self);
SW_AVAILABLE_IN_ALL
void          sw_connection_set_memfd_threshold (SwConnection *self,
                                                 guint64       threshold);

/* File descriptors with messages (sw-connection-fds.c). */
SW_AVAILABLE_IN_ALL
gboolean      sw_connection_send_message_with_fds         (SwConnection        *self,
                                                           GBytes              *message,
                                                           GUnixFDList         *fds,
                                                           gint64               timeout_us,
                                                           GCancellable        *cancellable,
                                                           GError             **error);
SW_AVAILABLE_IN_ALL
void          sw_connection_send_message_with_fds_async   (SwConnection        *self,
                                                           GBytes              *message,
                                                           GUnixFDList         *fds,
                                                           int                  io_priority,
                                                           GCancellable        *cancellable,
                                                           GAsyncReadyCallback  callback,
                                                           gpointer             user_data);
SW_AVAILABLE_IN_ALL
gboolean      sw_connection_send_message_with_fds_finish  (SwConnection        *self,
                                                           GAsyncResult        *result,
                                                           GError             **error);
SW_AVAILABLE_IN_ALL
GBytes       *sw_connection_receive_message_with_fds      (SwConnection        *self,
                                                           GUnixFDList        **fds,
                                                           gint64               timeout_us,
                                                           GCancellable        *cancellable,
                                                           GError             **error) G_GNUC_WARN_UNUSED_RESULT;
SW_AVAILABLE_IN_ALL
void          sw_connection_receive_message_with_fds_async  (SwConnection        *self,
                                                             int                  io_priority,
                                                             GCancellable        *cancellable,
                                                             GAsyncReadyCallback  callback,
                                                             gpointer             user_data);
SW_AVAILABLE_IN_ALL
GBytes       *sw_connection_receive_message_with_fds_finish (SwConnection        *self,
                                                             GAsyncResult        *result,
                                                             GUnixFDList        **fds,
                                                             GError             **error) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS
