/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined (SW_INSIDE) && !defined (SW_COMPILATION)
# error "Only <socketwrapper/socketwrapper.h> can be included directly."
#endif

#include <gio/gio.h>
#include <socketwrapper/sw-version-macros.h>

G_BEGIN_DECLS

#define SW_TYPE_CODEC (sw_codec_get_type ())
SW_AVAILABLE_IN_ALL
G_DECLARE_INTERFACE (SwCodec, sw_codec, SW, CODEC, GObject)

/**
 * SwCodecInterface:
 * @g_iface: the parent interface
 * @encode: turns a value (never floating) into the bytes of one message,
 *   or fails with %G_IO_ERROR_INVALID_ARGUMENT for a value the format
 *   cannot represent; see [method@Sw.Codec.encode]
 * @decode: turns the bytes of one message, which come from the peer and
 *   must not be trusted, into a value, or fails with
 *   %G_IO_ERROR_INVALID_DATA; see [method@Sw.Codec.decode]
 *
 * The virtual methods of [iface@Sw.Codec]. Codecs are stateless and may be
 * shared between connections and threads, so both may be called from any
 * thread at the same time.
 *
 * Since: 0.1
 */
struct _SwCodecInterface
{
  GTypeInterface g_iface;

  GBytes   *(*encode) (SwCodec   *self,
                       GVariant  *value,
                       GError   **error);
  GVariant *(*decode) (SwCodec   *self,
                       GBytes    *bytes,
                       GError   **error);

  /*< private >*/
  gpointer padding[8];
};

SW_AVAILABLE_IN_ALL
GBytes   *sw_codec_encode (SwCodec   *self,
                           GVariant  *value,
                           GError   **error) G_GNUC_WARN_UNUSED_RESULT;
SW_AVAILABLE_IN_ALL
GVariant *sw_codec_decode (SwCodec   *self,
                           GBytes    *bytes,
                           GError   **error) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS
