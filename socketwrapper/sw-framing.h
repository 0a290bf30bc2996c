/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined (SW_INSIDE) && !defined (SW_COMPILATION)
# error "Only <socketwrapper/socketwrapper.h> can be included directly."
#endif

#include <gio/gio.h>
#include <socketwrapper/sw-version-macros.h>

G_BEGIN_DECLS

/**
 * SwFramingResult:
 * @SW_FRAMING_RESULT_ERROR: the buffered bytes cannot start a valid frame;
 *   the error says why
 * @SW_FRAMING_RESULT_FRAME: a frame starts at the beginning of the buffer;
 *   its header, payload and trailer lengths are known (the frame may extend
 *   beyond the bytes buffered so far)
 * @SW_FRAMING_RESULT_NEED_MORE: at least `needed` more bytes must be
 *   buffered before the frame can be recognised; `needed` holds that
 *   lower bound, so a reader that never reads ahead knows how far to read
 *
 * What [method@Sw.Framing.decode] found in the buffered bytes.
 *
 * Since: 0.1
 */
typedef enum {
  SW_FRAMING_RESULT_ERROR,
  SW_FRAMING_RESULT_FRAME,
  SW_FRAMING_RESULT_NEED_MORE,
} SwFramingResult;

SW_AVAILABLE_IN_ALL
GType sw_framing_result_get_type (void);
#define SW_TYPE_FRAMING_RESULT (sw_framing_result_get_type ())

#define SW_TYPE_FRAMING (sw_framing_get_type ())
SW_AVAILABLE_IN_ALL
G_DECLARE_INTERFACE (SwFraming, sw_framing, SW, FRAMING, GObject)

/**
 * SwFramingInterface:
 * @g_iface: the parent interface
 * @decode: recognises the frame at the start of the buffered bytes; see
 *   [method@Sw.Framing.decode]
 * @encode: makes the header and trailer for a payload; see
 *   [method@Sw.Framing.encode]
 *
 * The virtual methods of [iface@Sw.Framing]. Both are binding-friendly, so
 * a framing can be implemented in C, Python or JavaScript.
 *
 * Since: 0.1
 */
struct _SwFramingInterface
{
  GTypeInterface g_iface;

  SwFramingResult (*decode) (SwFraming     *self,
                             const guint8  *data,
                             gsize          length,
                             guint64       *state,
                             gsize         *header_length,
                             guint64       *payload_length,
                             gsize         *trailer_length,
                             gsize         *needed,
                             GError       **error);
  gboolean        (*encode) (SwFraming     *self,
                             GBytes        *payload,
                             GBytes       **header,
                             GBytes       **trailer,
                             GError       **error);

  /*< private >*/
  gpointer padding[8];
};

SW_AVAILABLE_IN_ALL
SwFramingResult sw_framing_decode      (SwFraming     *self,
                                        const guint8  *data,
                                        gsize          length,
                                        guint64       *state,
                                        gsize         *header_length,
                                        guint64       *payload_length,
                                        gsize         *trailer_length,
                                        gsize         *needed,
                                        GError       **error);
SW_AVAILABLE_IN_ALL
gboolean        sw_framing_encode      (SwFraming     *self,
                                        GBytes        *payload,
                                        GBytes       **header,
                                        GBytes       **trailer,
                                        GError       **error);
SW_AVAILABLE_IN_ALL
SwFraming      *sw_framing_get_default (void);

G_END_DECLS
