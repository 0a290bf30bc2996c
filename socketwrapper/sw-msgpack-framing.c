/* SPDX-License-Identifier: LGPL-2.1-or-later */

/**
 * SwMsgPackFraming:
 *
 * Frames each message as exactly one MessagePack object, with no header
 * and no trailer.
 *
 * This is the wire format of `framing.MsgPack` in the Python
 * `socketwrapper` package ("unheadered msgpack data"), and what a Python
 * peer gets by writing `msgpack.packb(obj)` objects back to back and
 * reading them with `msgpack.Unpacker`. A message is the bytes of one
 * object, whatever it holds; pair the framing with [class@Sw.MsgPackCodec]
 * to send and receive values.
 *
 * Since the length of an object is only known once it has been read,
 * decoding scans the object's headers (never its str, bin or ext data,
 * which is skipped by length). The scan resumes where it stopped when more
 * bytes arrive, so receiving stays linear in the message size however the
 * bytes are split. While scanning, [method@Sw.Framing.decode] asks for a
 * lower bound of the bytes still missing: the declared data of a long str,
 * bin or ext not yet buffered plus one byte per item still due, so a
 * connection that does not read ahead reads exactly, and one that checks
 * `max-message-size` can refuse a huge declared size before reading it.
 * An object that ends with such data is reported as a frame as soon as
 * its header is read, so its size is checked before its data arrives.
 *
 * Decoding fails with %G_IO_ERROR_INVALID_DATA on the byte 0xc1 (which
 * starts no MessagePack item) and on containers nested more than 512
 * deep. [method@Sw.Framing.encode] checks that the payload is exactly one
 * well-formed object within that depth and fails with
 * %G_IO_ERROR_INVALID_ARGUMENT otherwise; it adds nothing to the payload.
 *
 * Since: 0.1
 */

#include <glib/gi18n-lib.h>

#include "sw-init-private.h"
#include "sw-msgpack-framing.h"
#include "sw-msgpack-private.h"

struct _SwMsgPackFraming
{
  GObject parent_instance;

  GBytes *empty;  /* read-only after construction: every frame's header */
};

static void sw_msgpack_framing_iface_init (SwFramingInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (SwMsgPackFraming, sw_msgpack_framing, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (SW_TYPE_FRAMING,
                                                      sw_msgpack_framing_iface_init))

/* No fast path: its encode_header sees only the payload length, and the
 * payload must be checked. Decoding through the public vfunc allocates
 * nothing either. */
static SwFramingResult
sw_msgpack_framing_decode (SwFraming     *framing,
                           const guint8  *data,
                           gsize          length,
                           guint64       *state,
                           gsize         *header_length,
                           guint64       *payload_length,
                           gsize         *trailer_length,
                           gsize         *needed,
                           GError       **error)
{
  SwFramingResult result;

  result = sw_msgpack_scan (data, length, state, payload_length, needed,
                            NULL, error);
  *header_length = 0;
  *trailer_length = 0;
  return result;
}

static gboolean
sw_msgpack_framing_encode (SwFraming  *framing,
                           GBytes     *payload,
                           GBytes    **header,
                           GBytes    **trailer,
                           GError    **error)
{
  SwMsgPackFraming *self = SW_MSGPACK_FRAMING (framing);
  gsize size;
  const guint8 *data = g_bytes_get_data (payload, &size);

  /* Refused here, or the peer would lose track of every later frame. */
  if (!sw_msgpack_check_object (data, size, G_IO_ERROR_INVALID_ARGUMENT,
                                error))
    return FALSE;
  *header = g_bytes_ref (self->empty);
  *trailer = NULL;
  return TRUE;
}

static void
sw_msgpack_framing_iface_init (SwFramingInterface *iface)
{
  iface->decode = sw_msgpack_framing_decode;
  iface->encode = sw_msgpack_framing_encode;
}

static void
sw_msgpack_framing_finalize (GObject *object)
{
  SwMsgPackFraming *self = SW_MSGPACK_FRAMING (object);

  g_clear_pointer (&self->empty, g_bytes_unref);
  G_OBJECT_CLASS (sw_msgpack_framing_parent_class)->finalize (object);
}

static void
sw_msgpack_framing_class_init (SwMsgPackFramingClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  sw_init ();
  object_class->finalize = sw_msgpack_framing_finalize;
}

static void
sw_msgpack_framing_init (SwMsgPackFraming *self)
{
  self->empty = g_bytes_new_static ("", 0);
}

/**
 * sw_msgpack_framing_new:
 *
 * Creates a MessagePack framing. Framings are stateless: one instance can
 * serve many connections.
 *
 * Returns: (transfer full): a new [class@Sw.MsgPackFraming]
 *
 * Since: 0.1
 */
SwMsgPackFraming *
sw_msgpack_framing_new (void)
{
  return g_object_new (SW_TYPE_MSGPACK_FRAMING, NULL);
}
