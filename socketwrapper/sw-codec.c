/* SPDX-License-Identifier: LGPL-2.1-or-later */

/**
 * SwCodec:
 *
 * What the bytes of a message mean as a value.
 *
 * A codec turns a [struct@GLib.Variant] into the bytes of one message and
 * back. A connection with a codec (see the `codec` property of
 * [class@Sw.Connection]) sends and receives values instead of bytes; the
 * framing still decides where each message ends.
 *
 * Codecs are stateless and can be shared between connections and threads.
 *
 * Built-in codecs:
 *
 * - [class@Sw.GVariantCodec]: the GVariant serialisation format, readable
 *   by any GLib peer (C, PyGObject, GJS, GDBus);
 * - [class@Sw.JsonCodec]: JSON text, readable by any JSON library.
 *
 * ## Writing a codec
 *
 * Implement [vfunc@Sw.Codec.encode] and [vfunc@Sw.Codec.decode]; both are
 * binding-friendly, so a codec can be written in Python or JavaScript as
 * well as in C. Callers go through [method@Sw.Codec.encode] and
 * [method@Sw.Codec.decode], which check the answers: an implementation that
 * fails without saying why still yields a #GError, and a floating value it
 * returns is sunk.
 *
 * Bytes given to `decode` come from the peer: an implementation must treat
 * them as untrusted and fail with %G_IO_ERROR_INVALID_DATA, never crash, on
 * anything it cannot read.
 *
 * ## Memory
 *
 * A few bytes of a message can stand for a value that takes far more
 * memory: a [struct@GLib.Variant] in tree form costs 150 to 500 bytes per
 * item, and a MessagePack nil is one byte. So the built-in codecs bound
 * what one decode may take, with one rule:
 *
 * - the decoded value (and, for JSON, the parser's tree alive beside it)
 *   may take the larger of 128 MiB (the default
 *   [property@Sw.Connection:max-message-size]) and four times the
 *   message;
 * - the codec estimates that memory from the message before it builds
 *   anything (a fixed cost per item, measured on 64-bit glibc and rounded
 *   up, plus the bytes of strings), and a message over the limit fails
 *   with %G_IO_ERROR_MESSAGE_TOO_LARGE. Like any message that does not
 *   decode, it is consumed, and the next receive gets the next message.
 *
 * So decoding a message of n bytes never needs more than about
 * n + max (128 MiB, 4 n) bytes, whatever a peer puts in it: 16 MiB of
 * MessagePack nils, which would take some 3 GB as a value, fail at once.
 * Typical messages are far below the limit: 300 000 JSON numbers, or
 * 400 000 MessagePack nils, in one array still decode.
 * [method@Sw.Connection.receive_json_node] follows the same rule for its
 * `JsonNode` tree, and the [class@Sw.GVariantCodec] needs no estimate: its
 * values point into the message.
 *
 * The limit does not depend on the connection, so [method@Sw.Codec.decode]
 * answers the same everywhere; to accept larger values, receive the
 * message with [method@Sw.Connection.receive_message] and decode it with
 * a parser of your own.
 *
 * Since: 0.1
 */

#include <glib/gi18n-lib.h>

#include "sw-codec.h"
#include "sw-codec-private.h"
#include "sw-init-private.h"

G_DEFINE_INTERFACE (SwCodec, sw_codec, G_TYPE_OBJECT)

/* The defaults make an implementation that forgot a vfunc fail cleanly
 * (a binding that leaves one out gets these, too). */
static GBytes *
sw_codec_real_encode (SwCodec   *self,
                      GVariant  *value,
                      GError   **error)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
               _("Codec %s does not implement encoding"),
               G_OBJECT_TYPE_NAME (self));
  return NULL;
}

static GVariant *
sw_codec_real_decode (SwCodec   *self,
                      GBytes    *bytes,
                      GError   **error)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
               _("Codec %s does not implement decoding"),
               G_OBJECT_TYPE_NAME (self));
  return NULL;
}

static void
sw_codec_default_init (SwCodecInterface *iface)
{
  sw_init ();

  iface->encode = sw_codec_real_encode;
  iface->decode = sw_codec_real_decode;
}

/* An implementation must either return a result or set an error. A
 * binding vfunc that raised a non-GError exception returns NULL and sets
 * nothing; a result with an error set is a bug we report and drop, so the
 * caller always sees exactly one of the two. */
static gboolean
check_result (SwCodec     *self,
              gboolean     have_result,
              GError      *local_error,
              GIOErrorEnum code,
              const char  *what,
              GError     **error)
{
  if (have_result && local_error == NULL)
    return TRUE;

  if (local_error != NULL)
    {
      if (have_result)
        g_critical ("Codec %s returned a result and set an error while %s",
                    G_OBJECT_TYPE_NAME (self), what);
      g_propagate_error (error, local_error);
      return FALSE;
    }

  if (code == G_IO_ERROR_INVALID_DATA)
    g_set_error (error, G_IO_ERROR, code,
                 _("Codec %s failed to decode the message without saying why"),
                 G_OBJECT_TYPE_NAME (self));
  else
    g_set_error (error, G_IO_ERROR, code,
                 _("Codec %s failed to encode the value without saying why"),
                 G_OBJECT_TYPE_NAME (self));
  return FALSE;
}

guint64
sw_codec_decode_limit (gsize message_size)
{
  guint64 scaled;

  if ((guint64) message_size > G_MAXUINT64 / SW_CODEC_DECODE_FACTOR)
    return G_MAXUINT64;
  scaled = (guint64) message_size * SW_CODEC_DECODE_FACTOR;
  return MAX (scaled, SW_CODEC_DECODE_MIN_LIMIT);
}

gboolean
sw_codec_check_cost (guint64   cost,
                     gsize     message_size,
                     GError  **error)
{
  guint64 limit = sw_codec_decode_limit (message_size);
  g_autofree char *need = NULL;
  g_autofree char *allowed = NULL;

  if (cost <= limit)
    return TRUE;

  /* Formatted apart: xgettext cannot read a translatable string through
   * G_GUINT64_FORMAT. */
  need = g_strdup_printf ("%" G_GUINT64_FORMAT, cost);
  allowed = g_strdup_printf ("%" G_GUINT64_FORMAT, limit);
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
               _("Decoding the message would take about %s bytes of memory, "
                 "more than the limit of %s bytes"), need, allowed);
  return FALSE;
}

/* The levels a value of @type takes without looking inside its variants:
 * what GLib counts for an empty container. */
static guint
type_depth (const GVariantType *type)
{
  const GVariantType *item;
  guint deepest = 0;

  if (g_variant_type_is_array (type) || g_variant_type_is_maybe (type))
    return 1 + type_depth (g_variant_type_element (type));
  if (!g_variant_type_is_tuple (type) && !g_variant_type_is_dict_entry (type))
    return 1;
  for (item = g_variant_type_first (type); item != NULL; item = g_variant_type_next (item))
    deepest = MAX (deepest, type_depth (item));
  return 1 + deepest;
}

/* TRUE when @value fits in @levels. The recursion stops at @levels, which
 * bounds the stack; arrays of basic values are not walked. @fitted maps a
 * container already walked to the fewest levels it fitted in: a pickle's
 * memo shares containers, which are then walked at most once per depth
 * they appear at, not once per place. */
static gboolean
fits_depth (GVariant   *value,
            guint       levels,
            GHashTable *fitted)
{
  const GVariantType *type = g_variant_get_type (value);
  guint known;
  gsize n;

  if (!g_variant_is_container (value)
      || (g_variant_type_is_array (type)
          && g_variant_type_is_basic (g_variant_type_element (type))))
    return type_depth (type) <= levels;
  n = g_variant_n_children (value);
  if (n == 0)
    return type_depth (type) <= levels;
  known = GPOINTER_TO_UINT (g_hash_table_lookup (fitted, value));
  if (known != 0 && known <= levels)
    return TRUE;
  if (levels <= 1)
    return FALSE;
  for (gsize i = 0; i < n; i++)
    {
      g_autoptr(GVariant) child = g_variant_get_child_value (value, i);

      if (!fits_depth (child, levels - 1, fitted))
        return FALSE;
    }
  /* Held by the table: no other value can take its address meanwhile. */
  g_hash_table_insert (fitted, g_variant_ref (value), GUINT_TO_POINTER (levels));
  return TRUE;
}

gboolean
sw_codec_check_depth (GVariant  *value,
                      GError   **error)
{
  g_autoptr(GHashTable) fitted = g_hash_table_new_full (NULL, NULL,
                                                        (GDestroyNotify) g_variant_unref,
                                                        NULL);

  if (fits_depth (value, SW_CODEC_MAX_VARIANT_DEPTH, fitted))
    return TRUE;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
               _("The value nests deeper than the %d levels a GVariant can hold"),
               SW_CODEC_MAX_VARIANT_DEPTH);
  return FALSE;
}

/**
 * sw_codec_encode:
 * @self: a codec
 * @value: (transfer none): the value to encode; a floating reference is
 *   sunk and released before the call returns, so
 *   `sw_codec_encode (codec, g_variant_new ("(su)", "a", 1), &error)`
 *   does not leak
 * @error: return location for a #GError
 *
 * Turns @value into the bytes of one message.
 *
 * An implementation that fails without setting an error is reported as
 * %G_IO_ERROR_FAILED. The built-in codecs fail with
 * %G_IO_ERROR_INVALID_ARGUMENT on a value their format cannot represent
 * (see [class@Sw.JsonCodec]).
 *
 * Returns: (transfer full): the encoded message, or %NULL with @error set
 *
 * Since: 0.1
 */
GBytes *
sw_codec_encode (SwCodec   *self,
                 GVariant  *value,
                 GError   **error)
{
  g_autoptr(GVariant) sunk = NULL;
  g_autoptr(GBytes) bytes = NULL;
  GError *local_error = NULL;

  g_return_val_if_fail (SW_IS_CODEC (self), NULL);
  g_return_val_if_fail (value != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  /* Sinking here, not in each implementation, means a C caller can pass
   * g_variant_new (...) inline whatever the codec does with it. */
  sunk = g_variant_ref_sink (value);
  bytes = SW_CODEC_GET_IFACE (self)->encode (self, sunk, &local_error);

  if (!check_result (self, bytes != NULL, local_error, G_IO_ERROR_FAILED,
                     "encoding", error))
    return NULL;
  return g_steal_pointer (&bytes);
}

/**
 * sw_codec_decode:
 * @self: a codec
 * @bytes: the bytes of one message, as received from the peer (untrusted)
 * @error: return location for a #GError
 *
 * Turns the bytes of one message into a value.
 *
 * Bytes the codec cannot read fail with %G_IO_ERROR_INVALID_DATA, also when
 * an implementation fails without setting an error. A message whose value
 * would take more memory than the built-in codecs allow (see "Memory"
 * above) fails with %G_IO_ERROR_MESSAGE_TOO_LARGE. The returned value is
 * never floating, whatever the implementation returned.
 *
 * Returns: (transfer full): the decoded value, or %NULL with @error set
 *
 * Since: 0.1
 */
GVariant *
sw_codec_decode (SwCodec   *self,
                 GBytes    *bytes,
                 GError   **error)
{
  g_autoptr(GVariant) value = NULL;
  GError *local_error = NULL;

  g_return_val_if_fail (SW_IS_CODEC (self), NULL);
  g_return_val_if_fail (bytes != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  value = SW_CODEC_GET_IFACE (self)->decode (self, bytes, &local_error);
  /* (transfer full) may still hand over a floating reference, e.g. a C
   * implementation returning g_variant_new (...); own it either way. */
  if (value != NULL && g_variant_is_floating (value))
    g_variant_take_ref (value);

  if (!check_result (self, value != NULL, local_error,
                     G_IO_ERROR_INVALID_DATA, "decoding", error))
    return NULL;
  return g_steal_pointer (&value);
}
