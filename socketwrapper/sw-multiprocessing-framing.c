/* SPDX-License-Identifier: LGPL-2.1-or-later */

/**
 * SwMultiprocessingFraming:
 *
 * The framing of Python's `multiprocessing.connection` for bytes
 * (`Connection.send_bytes()` / `Connection.recv_bytes()`).
 *
 * The header is the payload length as a 4-byte big-endian signed integer.
 * The value -1 announces that an 8-byte big-endian unsigned length follows
 * instead: the encoder writes that 12-byte form only for lengths over
 * 0x7fffffff, as Python does, and the decoder accepts it for any length.
 * Any other negative length is invalid data. There is no trailer.
 *
 * Pickled objects (`Connection.send()`) travel in the same frames; the
 * payload is then a pickle, which this library does not interpret.
 *
 * Since: 0.1
 */

#include <glib/gi18n-lib.h>

#include "sw-bytes-private.h"
#include "sw-framing-private.h"
#include "sw-multiprocessing-framing.h"

/* The header sizes of the two forms. */
#define SHORT_HEADER 4
#define LONG_HEADER  (4 + 8)

struct _SwMultiprocessingFraming
{
  GObject parent_instance;
};

static void sw_multiprocessing_framing_iface_init (SwFramingInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (SwMultiprocessingFraming, sw_multiprocessing_framing, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (SW_TYPE_FRAMING,
                                                      sw_multiprocessing_framing_iface_init))

/* Shared by the public vfunc and the fast path: no allocation, state
 * unused (at most 12 header bytes are looked at). */
static SwFramingResult
sw_multiprocessing_framing_decode (SwFraming     *framing,
                                   const guint8  *data,
                                   gsize          length,
                                   guint64       *state,
                                   gsize         *header_length,
                                   guint64       *payload_length,
                                   gsize         *trailer_length,
                                   gsize         *needed,
                                   GError       **error)
{
  gint32 size;

  if (length < SHORT_HEADER)
    {
      *needed = SHORT_HEADER - length;
      return SW_FRAMING_RESULT_NEED_MORE;
    }

  size = (gint32) (guint32) sw_get_be (data, SHORT_HEADER);

  if (size >= 0)
    {
      *header_length = SHORT_HEADER;
      *payload_length = (guint64) size;
      *trailer_length = 0;
      return SW_FRAMING_RESULT_FRAME;
    }

  if (size != -1)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("Invalid message length %d in a multiprocessing frame header"),
                   (int) size);
      return SW_FRAMING_RESULT_ERROR;
    }

  if (length < LONG_HEADER)
    {
      *needed = LONG_HEADER - length;
      return SW_FRAMING_RESULT_NEED_MORE;
    }

  *header_length = LONG_HEADER;
  *payload_length = sw_get_be (data + SHORT_HEADER, LONG_HEADER - SHORT_HEADER);
  *trailer_length = 0;
  return SW_FRAMING_RESULT_FRAME;
}

static gsize
sw_multiprocessing_framing_encode_header (SwFraming *framing,
                                          guint64    payload_length,
                                          guint8     header[SW_FRAMING_MAX_HEADER])
{
  if (payload_length <= G_MAXINT32)
    {
      sw_put_be (header, payload_length, SHORT_HEADER);
      return SHORT_HEADER;
    }

  /* -1 as a signed 32-bit big-endian value, then the real length. */
  sw_put_be (header, G_MAXUINT32, SHORT_HEADER);
  sw_put_be (header + SHORT_HEADER, payload_length, LONG_HEADER - SHORT_HEADER);
  return LONG_HEADER;
}

static gboolean
sw_multiprocessing_framing_encode (SwFraming  *framing,
                                   GBytes     *payload,
                                   GBytes    **header,
                                   GBytes    **trailer,
                                   GError    **error)
{
  guint8 buffer[SW_FRAMING_MAX_HEADER];
  gsize n;

  n = sw_multiprocessing_framing_encode_header (framing,
                                                g_bytes_get_size (payload),
                                                buffer);
  *header = g_bytes_new (buffer, n);
  *trailer = NULL;
  return TRUE;
}

static const SwFramingFastPath sw_multiprocessing_framing_fast_path = {
  sw_multiprocessing_framing_decode,
  sw_multiprocessing_framing_encode_header,
};

static void
sw_multiprocessing_framing_iface_init (SwFramingInterface *iface)
{
  iface->decode = sw_multiprocessing_framing_decode;
  iface->encode = sw_multiprocessing_framing_encode;
}

static void
sw_multiprocessing_framing_class_init (SwMultiprocessingFramingClass *klass)
{
  sw_framing_set_fast_path (SW_TYPE_MULTIPROCESSING_FRAMING,
                            &sw_multiprocessing_framing_fast_path);
}

static void
sw_multiprocessing_framing_init (SwMultiprocessingFraming *self)
{
}

/**
 * sw_multiprocessing_framing_new:
 *
 * Creates a framing compatible with Python `multiprocessing.connection`
 * peers. Framings are stateless: one instance can serve many connections.
 *
 * Returns: (transfer full): a new [class@Sw.MultiprocessingFraming]
 *
 * Since: 0.1
 */
SwMultiprocessingFraming *
sw_multiprocessing_framing_new (void)
{
  return g_object_new (SW_TYPE_MULTIPROCESSING_FRAMING, NULL);
}
