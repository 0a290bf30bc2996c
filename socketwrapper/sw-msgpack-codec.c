/* SPDX-License-Identifier: LGPL-2.1-or-later */

/**
 * SwMsgPackCodec:
 *
 * Encodes values as MessagePack, the format of `msgpack.packb()` and
 * `msgpack.Unpacker` in Python and of Python socketwrapper's
 * `framing.MsgPack`. A message is exactly one MessagePack object; pair the
 * codec with [class@Sw.MsgPackFraming] on a stream.
 *
 * ## Decoding
 *
 * | MessagePack                      | GVariant                           |
 * |----------------------------------|------------------------------------|
 * | nil                              | `mv` holding nothing               |
 * | true, false                      | `b`                                |
 * | int (any width), fixint          | `x`; `t` for uint64 above %G_MAXINT64 |
 * | float32, float64                 | `d`                                |
 * | str                              | `s`                                |
 * | bin                              | `ay`                               |
 * | array                            | `av`                               |
 * | map whose keys are all str       | `a{sv}` (also the empty map)       |
 * | any other map                    | `a(vv)`, one (key, value) per pair |
 * | ext (type, data)                 | `(yay)`                            |
 *
 * Map pairs keep their order; duplicate keys are kept. The ext type is a
 * signed byte on the wire (-128..127, -1 being the timestamp type) and an
 * unsigned `y` here: the same bits, so -1 is 255 and -128 is 128. A str that
 * is not valid UTF-8 or holds a NUL byte (which GVariant strings cannot) is
 * invalid data. Decoded `ay` values share the message's memory.
 *
 * ## Encoding
 *
 * | GVariant                         | MessagePack                        |
 * |----------------------------------|------------------------------------|
 * | `b`                              | true, false                        |
 * | `y`, `n`, `q`, `i`, `u`, `x`, `t`, `h` | int, the shortest form (fixint, int8..64, uint8..64) |
 * | `d`                              | float64                            |
 * | `s`, `o`, `g`                    | str                                |
 * | `ay`                             | bin                                |
 * | `(yay)`                          | ext (fixext1..16 when the size fits) |
 * | array of dict entries (`a{..}`)  | map                                |
 * | `a(vv)`                          | map (what non-str-keyed maps decode to) |
 * | other arrays                     | array                              |
 * | other tuples, `()`               | array                              |
 * | a lone dict entry                | map with one pair                  |
 * | maybe                            | nil when empty, else its value     |
 * | `v`                              | its content                        |
 *
 * Decoding then encoding gives back the same MessagePack bytes, except
 * that floats come back as float64 and ints in their shortest form. Note
 * the two encoding rules that take precedence over "tuples are arrays":
 * a `(yay)` is always an ext and an `a(vv)` always a map; wrap such values
 * in `av` to send them as arrays.
 *
 * Containers may nest 512 deep on the wire, and a decoded value at most
 * as deep as a `GVariant` can be read back once serialised: 127 levels,
 * each array two (`av`), each map three (`a{sv}`, `a(vv)`), nil two, so
 * 63 arrays around a number or 41 maps around nil (GLib would silently
 * replace anything deeper with `()`). Decoding fails with
 * %G_IO_ERROR_INVALID_DATA on anything but exactly one well-formed object
 * within those limits (truncated input, trailing bytes, the byte 0xc1,
 * deeper nesting, bad strings); encoding fails with
 * %G_IO_ERROR_INVALID_ARGUMENT on deeper nesting or a string, binary or container too large for MessagePack
 * (more than 2^32 − 1 bytes or items). A message whose value would take
 * more memory than the decode budget of [iface@Sw.Codec] allows (each
 * item, even a one-byte nil, becomes a GVariant of a few hundred bytes)
 * fails with %G_IO_ERROR_MESSAGE_TOO_LARGE before anything is built.
 *
 * Since: 0.1
 */

#include <glib/gi18n-lib.h>

#include "sw-bytes-private.h"
#include "sw-codec-private.h"
#include "sw-init-private.h"
#include "sw-msgpack-codec.h"
#include "sw-msgpack-private.h"

struct _SwMsgPackCodec
{
  GObject parent_instance;
};

static void sw_msgpack_codec_iface_init (SwCodecInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (SwMsgPackCodec, sw_msgpack_codec, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (SW_TYPE_CODEC,
                                                      sw_msgpack_codec_iface_init))

/* ---- decoding --------------------------------------------------------- */

/* A container being decoded: its children so far, sunk. */
typedef struct
{
  gboolean   is_map;
  guint64    due;       /* children still to decode */
  GPtrArray *children;
} DecodeLevel;

static void
decode_level_clear (gpointer data)
{
  DecodeLevel *level = data;

  g_clear_pointer (&level->children, g_ptr_array_unref);
}

static GVariant *
decode_str (const guint8  *data,
            gsize          size,
            GError       **error)
{
  /* With a length, g_utf8_validate() also refuses NUL bytes. */
  if (!g_utf8_validate ((const char *) data, (gssize) size, NULL))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           _("MessagePack string is not valid UTF-8"));
      return NULL;
    }
  return g_variant_new_take_string (g_strndup ((const char *) data, size));
}

/* Zero-copy: the `ay` shares @bytes. */
static GVariant *
decode_bin (GBytes *bytes,
            gsize   offset,
            gsize   size)
{
  g_autoptr (GBytes) slice = g_bytes_new_from_bytes (bytes, offset, size);

  return g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, slice, TRUE);
}

static GVariant *
decode_scalar (GBytes               *bytes,
               gsize                 offset,
               const SwMsgPackItem  *item,
               GError              **error)
{
  const guint8 *data = (const guint8 *) g_bytes_get_data (bytes, NULL) + offset;

  switch (item->kind)
    {
    case SW_MSGPACK_NIL:
      return g_variant_new_maybe (G_VARIANT_TYPE_VARIANT, NULL);
    case SW_MSGPACK_BOOL:
      return g_variant_new_boolean (item->value.b);
    case SW_MSGPACK_INT:
      return g_variant_new_int64 (item->value.i);
    case SW_MSGPACK_UINT:
      if (item->value.u > G_MAXINT64)
        return g_variant_new_uint64 (item->value.u);
      return g_variant_new_int64 ((gint64) item->value.u);
    case SW_MSGPACK_FLOAT:
      return g_variant_new_double (item->value.d);
    case SW_MSGPACK_STR:
      return decode_str (data, item->size, error);
    case SW_MSGPACK_BIN:
      return decode_bin (bytes, offset, item->size);
    case SW_MSGPACK_EXT:
      return g_variant_new ("(y@ay)", (guint8) item->ext_type,
                            decode_bin (bytes, offset, item->size));
    case SW_MSGPACK_ARRAY:
    case SW_MSGPACK_MAP:
    default:
      g_assert_not_reached ();
    }
}

static gboolean
keys_are_strings (GPtrArray *children)
{
  for (guint i = 0; i < children->len; i += 2)
    if (!g_variant_is_of_type (children->pdata[i], G_VARIANT_TYPE_STRING))
      return FALSE;
  return TRUE;
}

static GVariant *
finish_map (GPtrArray *children)
{
  gboolean string_keys = keys_are_strings (children);
  GVariantBuilder builder;

  g_variant_builder_init (&builder, string_keys ? G_VARIANT_TYPE_VARDICT
                                                : G_VARIANT_TYPE ("a(vv)"));
  for (guint i = 0; i < children->len; i += 2)
    {
      GVariant *key = children->pdata[i];
      GVariant *value = g_variant_new_variant (children->pdata[i + 1]);

      if (string_keys)
        g_variant_builder_add_value (&builder, g_variant_new_dict_entry (key, value));
      else
        g_variant_builder_add (&builder, "(v@v)", key, value);
    }
  return g_variant_builder_end (&builder);
}

/* Maps are built last: whether all keys are strings is only known then. */
static GVariant *
finish_level (DecodeLevel *level)
{
  GVariantBuilder builder;

  if (level->is_map)
    return finish_map (level->children);

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("av"));
  for (guint i = 0; i < level->children->len; i++)
    g_variant_builder_add (&builder, "v", level->children->pdata[i]);
  return g_variant_builder_end (&builder);
}

static GVariant *
empty_container (SwMsgPackKind kind)
{
  return g_variant_new_array (kind == SW_MSGPACK_MAP ? G_VARIANT_TYPE ("{sv}")
                                                     : G_VARIANT_TYPE_VARIANT,
                              NULL, 0);
}

/* Hands @value to the open containers, closing those it completes.
 * Returns the whole object once the outermost one is complete. */
static GVariant *
attach (GArray   *stack,
        GVariant *value)
{
  while (stack->len > 0)
    {
      DecodeLevel *top = &g_array_index (stack, DecodeLevel, stack->len - 1);

      g_ptr_array_add (top->children, g_variant_ref_sink (value));
      if (--top->due > 0)
        return NULL;
      value = finish_level (top);
      g_array_set_size (stack, stack->len - 1);
    }
  return g_variant_ref_sink (value);
}

/* Opens a level for a container with @children (> 0) items due. */
static gboolean
open_level (GArray               *stack,
            const SwMsgPackItem  *item,
            guint64               children,
            GError              **error)
{
  DecodeLevel level = { item->kind == SW_MSGPACK_MAP, children, NULL };

  if (children > G_MAXUINT)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           _("MessagePack map too large"));
      return FALSE;
    }
  /* Sized for small containers; large ones grow as they fill. */
  level.children = g_ptr_array_new_full ((guint) MIN (children, 64),
                                         (GDestroyNotify) g_variant_unref);
  g_array_append_val (stack, level);
  return TRUE;
}

/* Builds the object of @bytes, which sw_msgpack_check_object() accepted:
 * every header is complete and every declared size is backed by bytes,
 * so sizes can be trusted. An explicit stack, no recursion. */
static GVariant *
decode_object (GBytes  *bytes,
               guint   *deepest,
               GError **error)
{
  g_autoptr (GArray) stack = g_array_new (FALSE, FALSE, sizeof (DecodeLevel));
  const guint8 *data = g_bytes_get_data (bytes, NULL);
  gsize offset = 0;

  g_array_set_clear_func (stack, decode_level_clear);
  for (;;)
    {
      SwMsgPackItem item;
      guint64 children;
      GVariant *value, *done;

      sw_msgpack_parse_header (data + offset, &item);
      offset += item.header_length;
      children = sw_msgpack_item_children (&item);
      if (children > 0)
        {
          if (!open_level (stack, &item, children, error))
            return NULL;
          *deepest = MAX (*deepest, stack->len);
          continue;
        }
      if (item.kind == SW_MSGPACK_ARRAY || item.kind == SW_MSGPACK_MAP)
        value = empty_container (item.kind);
      else if ((value = decode_scalar (bytes, offset, &item, error)) == NULL)
        return NULL;
      offset += (gsize) sw_msgpack_item_data_length (&item);
      if ((done = attach (stack, value)) != NULL)
        return done;
    }
}

/* What each decoded item costs in memory, in bytes, on a 64-bit host with
 * glibc's malloc: peak RSS measured on large arrays of nils, ints, strs,
 * bins, exts, empty maps, maps of pairs and nested singletons, then
 * rounded up with a margin. A value is a GVariant in tree form, boxed in
 * a variant inside its container; a map pair adds a dict entry (or a
 * tuple) and a second box; an ext is a tuple of two values; a str adds a
 * copy of its bytes. */
#define ITEM_COST 320
#define PAIR_COST 256
#define EXT_COST  384

/* The memory the value of @data (an object sw_msgpack_check_object()
 * accepted, so every header can be trusted) will take once decoded: one
 * pass over the headers, before anything is built. */
static guint64
decode_cost (const guint8 *data)
{
  guint64 cost = 0, pending = 1;
  gsize offset = 0;

  while (pending > 0)
    {
      SwMsgPackItem item;

      sw_msgpack_parse_header (data + offset, &item);
      offset += item.header_length + (gsize) sw_msgpack_item_data_length (&item);
      pending += sw_msgpack_item_children (&item) - 1;
      cost += ITEM_COST;
      if (item.kind == SW_MSGPACK_STR)
        cost += item.size;
      else if (item.kind == SW_MSGPACK_MAP)
        cost += (guint64) item.size * PAIR_COST;
      else if (item.kind == SW_MSGPACK_EXT)
        cost += EXT_COST;
    }
  return cost;
}

static GVariant *
sw_msgpack_codec_decode (SwCodec  *codec,
                         GBytes   *bytes,
                         GError  **error)
{
  g_autoptr(GVariant) value = NULL;
  guint deepest = 0;
  gsize size;
  const guint8 *data = g_bytes_get_data (bytes, &size);

  if (!sw_msgpack_check_object (data, size, G_IO_ERROR_INVALID_DATA, error) ||
      !sw_codec_check_cost (decode_cost (data), size, error))
    return NULL;
  value = decode_object (bytes, &deepest, error);
  if (value == NULL
      || (deepest > SW_CODEC_SAFE_NESTING && !sw_codec_check_depth (value, error)))
    return NULL;
  return g_steal_pointer (&value);
}

/* ---- encoding --------------------------------------------------------- */

/* A container being encoded. */
typedef struct
{
  GVariant *container;
  gsize     next;
  gsize     n;
  guint     depth;    /* MessagePack containers it is nested in, itself included */
  gboolean  entries;  /* a map: children are dict entries, written flat */
} EncodeLevel;

static void
encode_level_clear (gpointer data)
{
  EncodeLevel *level = data;

  g_clear_pointer (&level->container, g_variant_unref);
}

static void
put_code (GString *out,
          guint8   code,
          guint64  value,
          guint    n)
{
  guint8 bytes[8];

  sw_put_be (bytes, value, n);
  g_string_append_c (out, (char) code);
  g_string_append_len (out, (const char *) bytes, n);
}

static void
put_uint (GString *out,
          guint64  value)
{
  if (value <= 0x7f)
    g_string_append_c (out, (char) value);
  else if (value <= G_MAXUINT8)
    put_code (out, 0xcc, value, 1);
  else if (value <= G_MAXUINT16)
    put_code (out, 0xcd, value, 2);
  else if (value <= G_MAXUINT32)
    put_code (out, 0xce, value, 4);
  else
    put_code (out, 0xcf, value, 8);
}

static void
put_int (GString *out,
         gint64   value)
{
  if (value >= 0)
    put_uint (out, (guint64) value);
  else if (value >= -32)
    g_string_append_c (out, (char) (guint8) value);
  else if (value >= G_MININT8)
    put_code (out, 0xd0, (guint64) value, 1);
  else if (value >= G_MININT16)
    put_code (out, 0xd1, (guint64) value, 2);
  else if (value >= G_MININT32)
    put_code (out, 0xd2, (guint64) value, 4);
  else
    put_code (out, 0xd3, (guint64) value, 8);
}

/* A str, bin, array or map header: @fix (0: none) holds sizes up to
 * @fix_max in its low bits; @codes are the 8-bit (0: none), 16-bit and
 * 32-bit forms. */
static gboolean
put_sized (GString       *out,
           guint8         fix,
           guint          fix_max,
           const guint8   codes[3],
           gsize          size,
           GError       **error)
{
  if ((guint64) size > G_MAXUINT32)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           _("Value too large for MessagePack"));
      return FALSE;
    }
  if (fix != 0 && size <= fix_max)
    g_string_append_c (out, (char) (fix | size));
  else if (codes[0] != 0 && size <= G_MAXUINT8)
    put_code (out, codes[0], size, 1);
  else if (size <= G_MAXUINT16)
    put_code (out, codes[1], size, 2);
  else
    put_code (out, codes[2], size, 4);
  return TRUE;
}

static const guint8 str_codes[3] = { 0xd9, 0xda, 0xdb };
static const guint8 bin_codes[3] = { 0xc4, 0xc5, 0xc6 };
static const guint8 ext_codes[3] = { 0xc7, 0xc8, 0xc9 };
static const guint8 array_codes[3] = { 0, 0xdc, 0xdd };
static const guint8 map_codes[3] = { 0, 0xde, 0xdf };

static gboolean
put_bytes (GString        *out,
           const guint8    codes[3],
           GVariant       *ay,
           GError        **error)
{
  gsize size;
  const guint8 *data = g_variant_get_fixed_array (ay, &size, 1);

  if (!put_sized (out, 0, 0, codes, size, error))
    return FALSE;
  g_string_append_len (out, (const char *) data, (gssize) size);
  return TRUE;
}

static gboolean
put_ext (GString   *out,
         GVariant  *value,
         GError   **error)
{
  g_autoptr (GVariant) ay = g_variant_get_child_value (value, 1);
  guint8 type;
  gsize size;
  const guint8 *data = g_variant_get_fixed_array (ay, &size, 1);

  g_variant_get_child (value, 0, "y", &type);
  if (size == 1 || size == 2 || size == 4 || size == 8 || size == 16)
    g_string_append_c (out, (char) (0xd4 + g_bit_nth_lsf (size, -1)));
  else if (!put_sized (out, 0, 0, ext_codes, size, error))
    return FALSE;
  /* The type byte follows the size in every ext form. */
  g_string_append_c (out, (char) type);
  g_string_append_len (out, (const char *) data, (gssize) size);
  return TRUE;
}

static gboolean
put_string (GString   *out,
            GVariant  *value,
            GError   **error)
{
  gsize size;
  const char *str = g_variant_get_string (value, &size);

  if (!put_sized (out, 0xa0, 31, str_codes, size, error))
    return FALSE;
  g_string_append_len (out, str, (gssize) size);
  return TRUE;
}

/* Numbers, booleans and strings; FALSE when @value is none of those. */
static gboolean
put_basic (GString  *out,
           GVariant *value)
{
  switch (g_variant_classify (value))
    {
    case G_VARIANT_CLASS_BOOLEAN:
      g_string_append_c (out, (char) (g_variant_get_boolean (value) ? 0xc3 : 0xc2));
      return TRUE;
    case G_VARIANT_CLASS_BYTE:
      put_uint (out, g_variant_get_byte (value));
      return TRUE;
    case G_VARIANT_CLASS_INT16:
      put_int (out, g_variant_get_int16 (value));
      return TRUE;
    case G_VARIANT_CLASS_UINT16:
      put_uint (out, g_variant_get_uint16 (value));
      return TRUE;
    case G_VARIANT_CLASS_INT32:
      put_int (out, g_variant_get_int32 (value));
      return TRUE;
    case G_VARIANT_CLASS_HANDLE:
      put_int (out, g_variant_get_handle (value));
      return TRUE;
    case G_VARIANT_CLASS_UINT32:
      put_uint (out, g_variant_get_uint32 (value));
      return TRUE;
    case G_VARIANT_CLASS_INT64:
      put_int (out, g_variant_get_int64 (value));
      return TRUE;
    case G_VARIANT_CLASS_UINT64:
      put_uint (out, g_variant_get_uint64 (value));
      return TRUE;
    default:
      return FALSE;
    }
}

static void
put_double (GString *out,
            gdouble  value)
{
  union { gdouble d; guint64 u; } bits = { .d = value };

  put_code (out, 0xcb, bits.u, 8);
}

/* Strips variants and maybes: returns the value to write (a new
 * reference), or NULL for an empty maybe (nil). */
static GVariant *
unwrap (GVariant *value)
{
  GVariant *current = g_variant_ref (value);

  for (;;)
    {
      GVariant *inner;

      if (g_variant_is_of_type (current, G_VARIANT_TYPE_VARIANT))
        inner = g_variant_get_variant (current);
      else if (g_variant_is_of_type (current, G_VARIANT_TYPE_MAYBE))
        inner = g_variant_get_maybe (current);
      else
        return current;
      g_variant_unref (current);
      if (inner == NULL)
        return NULL;
      current = inner;
    }
}

static gboolean
is_map (GVariant *value)
{
  const GVariantType *type = g_variant_get_type (value);

  return g_variant_type_is_array (type)
         && (g_variant_type_is_dict_entry (g_variant_type_element (type))
             || g_variant_type_equal (type, G_VARIANT_TYPE ("a(vv)")));
}

/* Writes the header of a container and opens it on @stack. */
static gboolean
open_container (GString      *out,
                GArray       *stack,
                GVariant     *value,
                guint         depth,
                GError      **error)
{
  EncodeLevel level = { NULL, 0, g_variant_n_children (value), depth + 1,
                        is_map (value) };
  gboolean ok;

  if (depth + 1 > SW_MSGPACK_MAX_DEPTH)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("Value nested deeper than %d containers"),
                   SW_MSGPACK_MAX_DEPTH);
      return FALSE;
    }
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_DICT_ENTRY))
    ok = put_sized (out, 0x80, 15, map_codes, 1, error);  /* one pair */
  else if (level.entries)
    ok = put_sized (out, 0x80, 15, map_codes, level.n, error);
  else
    ok = put_sized (out, 0x90, 15, array_codes, level.n, error);
  if (!ok || level.n == 0)
    return ok;
  level.container = g_variant_ref (value);
  g_array_append_val (stack, level);
  return TRUE;
}

/* Writes @value; a container is opened on @stack for its children. */
static gboolean
encode_one (GString   *out,
            GArray    *stack,
            GVariant  *value,
            guint      depth,
            GError   **error)
{
  g_autoptr (GVariant) inner = unwrap (value);

  if (inner == NULL)
    g_string_append_c (out, (char) 0xc0);
  else if (put_basic (out, inner))
    ;
  else if (g_variant_is_of_type (inner, G_VARIANT_TYPE_DOUBLE))
    put_double (out, g_variant_get_double (inner));
  else if (g_variant_is_of_type (inner, G_VARIANT_TYPE_STRING)
           || g_variant_is_of_type (inner, G_VARIANT_TYPE_OBJECT_PATH)
           || g_variant_is_of_type (inner, G_VARIANT_TYPE_SIGNATURE))
    return put_string (out, inner, error);
  else if (g_variant_is_of_type (inner, G_VARIANT_TYPE_BYTESTRING))
    return put_bytes (out, bin_codes, inner, error);
  else if (g_variant_is_of_type (inner, G_VARIANT_TYPE ("(yay)")))
    return put_ext (out, inner, error);
  else
    return open_container (out, stack, inner, depth, error);
  return TRUE;
}

static GBytes *
sw_msgpack_codec_encode (SwCodec   *codec,
                         GVariant  *value,
                         GError   **error)
{
  g_autoptr (GArray) stack = g_array_new (FALSE, FALSE, sizeof (EncodeLevel));
  g_autoptr (GString) out = g_string_new (NULL);

  g_array_set_clear_func (stack, encode_level_clear);
  if (!encode_one (out, stack, value, 0, error))
    return NULL;
  while (stack->len > 0)
    {
      EncodeLevel *top = &g_array_index (stack, EncodeLevel, stack->len - 1);
      g_autoptr (GVariant) child = NULL;
      guint depth = top->depth;

      if (top->next == top->n)
        {
          g_array_set_size (stack, stack->len - 1);
          continue;
        }
      child = g_variant_get_child_value (top->container, top->next++);
      if (top->entries)
        {
          /* A map's entry: its key and value, no header of its own. */
          EncodeLevel entry = { g_steal_pointer (&child), 0, 2, depth, FALSE };

          g_array_append_val (stack, entry);
        }
      else if (!encode_one (out, stack, child, depth, error))
        return NULL;
    }
  return g_string_free_to_bytes (g_steal_pointer (&out));
}

static void
sw_msgpack_codec_iface_init (SwCodecInterface *iface)
{
  iface->encode = sw_msgpack_codec_encode;
  iface->decode = sw_msgpack_codec_decode;
}

static void
sw_msgpack_codec_class_init (SwMsgPackCodecClass *klass)
{
  sw_init ();
}

static void
sw_msgpack_codec_init (SwMsgPackCodec *self)
{
}

/**
 * sw_msgpack_codec_new:
 *
 * Creates a MessagePack codec. Codecs are stateless: one instance can
 * serve many connections.
 *
 * Returns: (transfer full): a new [class@Sw.MsgPackCodec]
 *
 * Since: 0.1
 */
SwMsgPackCodec *
sw_msgpack_codec_new (void)
{
  return g_object_new (SW_TYPE_MSGPACK_CODEC, NULL);
}
