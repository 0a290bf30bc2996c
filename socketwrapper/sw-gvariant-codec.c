/* SPDX-License-Identifier: LGPL-2.1-or-later */

/**
 * SwGVariantCodec:
 *
 * Encodes values in the GVariant serialisation format.
 *
 * Each message is the value boxed in a variant (type `v`, so the message
 * carries its own type string), serialised in normal form and in
 * little-endian byte order whatever the host. Any GLib peer reads it with
 * [ctor@GLib.Variant.new_from_bytes] and [method@GLib.Variant.get_variant];
 * in C:
 *
 * ```c
 * GVariant *boxed = g_variant_new_from_bytes (G_VARIANT_TYPE_VARIANT,
 *                                             bytes, FALSE);
 * // On a big-endian host, swap it first: g_variant_byteswap (boxed).
 * GVariant *value = g_variant_get_variant (boxed);
 * ```
 *
 * and in Python (PyGObject):
 *
 * ```python
 * value = GLib.Variant.new_from_bytes(GLib.VariantType('v'),
 *                                     GLib.Bytes(data), False).get_variant()
 * ```
 *
 * Every GVariant type round-trips unchanged. Decoding accepts only
 * messages in normal form (the single canonical serialisation of a value,
 * see [method@GLib.Variant.is_normal_form]) holding a variant of a definite
 * type; anything else, including messages nested deeper than GLib's limit
 * of 128 containers, fails with %G_IO_ERROR_INVALID_DATA. Decoding does not
 * copy: the value points into the received bytes (unless they do not start
 * on an 8-byte boundary, as a slice of a larger buffer may not: GVariant
 * needs its data aligned, so such bytes are copied once), and the normal-form
 * check walks them without building anything, so a decode takes no memory
 * beyond the message whatever it holds (the decode budget of
 * [iface@Sw.Codec] cannot be reached).
 *
 * Since: 0.1
 */

#include <glib/gi18n-lib.h>

#include "sw-gvariant-codec.h"
#include "sw-init-private.h"

struct _SwGVariantCodec
{
  GObject parent_instance;
};

static void sw_gvariant_codec_iface_init (SwCodecInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (SwGVariantCodec, sw_gvariant_codec, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (SW_TYPE_CODEC,
                                                      sw_gvariant_codec_iface_init))

/* The wire is little-endian; GVariant serialises in host order. */
static GVariant *
to_wire_order (GVariant *value)
{
#if G_BYTE_ORDER == G_BIG_ENDIAN
  return g_variant_byteswap (value);
#else
  return g_variant_ref (value);
#endif
}

static GBytes *
sw_gvariant_codec_encode (SwCodec   *codec,
                          GVariant  *value,
                          GError   **error)
{
  g_autoptr(GVariant) boxed = NULL;
  g_autoptr(GVariant) normal = NULL;
  g_autoptr(GVariant) wire = NULL;

  boxed = g_variant_ref_sink (g_variant_new_variant (value));
  /* A value built with g_variant_new_*() is trusted and already normal (no
   * cost here). One loaded from untrusted bytes may not be, and the peer
   * would refuse it: send its normal form instead. */
  normal = g_variant_get_normal_form (boxed);
  wire = to_wire_order (normal);
  return g_variant_get_data_as_bytes (wire);
}

/* The largest alignment any GVariant type asks for (that of `t`, `x`
 * and `d`). */
#define GVARIANT_MAX_ALIGNMENT 8

/* GLib reads serialised data in place and asserts, aborting the process,
 * when a child it reaches is not aligned for its type; it does not copy
 * misaligned input for us. Messages this library receives start on a
 * malloc() boundary, but a caller may decode any slice of a larger
 * buffer, so a misaligned one is copied (malloc() aligns for every type). */
static GBytes *
aligned_bytes (GBytes *bytes)
{
  gsize size = 0;
  gconstpointer data = g_bytes_get_data (bytes, &size);

  if (((guintptr) data % GVARIANT_MAX_ALIGNMENT) == 0)
    return g_bytes_ref (bytes);
  return g_bytes_new (data, size);
}

static GVariant *
sw_gvariant_codec_decode (SwCodec   *codec,
                          GBytes    *bytes,
                          GError   **error)
{
  g_autoptr(GBytes) aligned = aligned_bytes (bytes);
  g_autoptr(GVariant) boxed = NULL;
  g_autoptr(GVariant) host = NULL;

  boxed = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE_VARIANT,
                                                        aligned, FALSE));
  /* The check covers everything a peer can get wrong: framing offsets,
   * padding, the boxed type string (valid and definite), nesting depth.
   * Without it GLib would quietly read default values out of bad input;
   * with it the accessors below cannot fail. */
  if (!g_variant_is_normal_form (boxed))
    {
      /* Formatted apart: xgettext cannot read a translatable string
       * through G_GSIZE_FORMAT. */
      g_autofree char *size = g_strdup_printf ("%" G_GSIZE_FORMAT,
                                               g_bytes_get_size (bytes));

      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("Message of %s bytes is not a serialised GVariant of "
                     "type “v” in normal form"), size);
      return NULL;
    }

  /* Byte-swapping is its own inverse: wire to host as host to wire. */
  host = to_wire_order (boxed);
  return g_variant_get_variant (host);
}

static void
sw_gvariant_codec_iface_init (SwCodecInterface *iface)
{
  iface->encode = sw_gvariant_codec_encode;
  iface->decode = sw_gvariant_codec_decode;
}

static void
sw_gvariant_codec_class_init (SwGVariantCodecClass *klass)
{
  sw_init ();
}

static void
sw_gvariant_codec_init (SwGVariantCodec *self)
{
}

/**
 * sw_gvariant_codec_new:
 *
 * Creates a codec using the GVariant serialisation format. Codecs are
 * stateless: one instance can serve any number of connections.
 *
 * Returns: (transfer full): a new [class@Sw.GVariantCodec]
 *
 * Since: 0.1
 */
SwGVariantCodec *
sw_gvariant_codec_new (void)
{
  return g_object_new (SW_TYPE_GVARIANT_CODEC, NULL);
}
