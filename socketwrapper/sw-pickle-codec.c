/* SPDX-License-Identifier: LGPL-2.1-or-later */

/**
 * SwPickleCodec:
 *
 * Encodes values as Python pickles of plain data, the format
 * `multiprocessing.connection` peers exchange (`pickle.dumps()` and
 * `pickle.loads()`), without ever executing anything: decoding is a
 * small stack machine that knows only the opcodes of plain data.
 *
 * ## Decoding
 *
 * | Python (any protocol 0–5)        | GVariant                           |
 * |----------------------------------|------------------------------------|
 * | `None`                           | `mv` holding nothing               |
 * | `True`, `False`                  | `b`                                |
 * | `int`                            | `x`; `t` above %G_MAXINT64; larger is invalid data |
 * | `float`                          | `d`                                |
 * | `str`                            | `s`                                |
 * | `bytes`, `bytearray`             | `ay`                               |
 * | `list`, `tuple`, `set`, `frozenset` | `av`                            |
 * | `dict` whose keys are all `str`  | `a{sv}` (also the empty dict)      |
 * | any other `dict`                 | `a(vv)`, one (key, value) per item |
 *
 * This is the mapping of [class@Sw.MsgPackCodec]. Which of the four
 * sequence types a value was is lost; dict and set items keep the order
 * of the pickle. An object the memo shares becomes one GVariant that
 * each place it appears refers to (identity is lost: mutating is not a
 * GVariant notion), and the memory budget counts it once per place. A
 * `str` holding NUL or a lone surrogate (which GVariant strings
 * cannot hold) is invalid data.
 *
 * Accepted opcodes: PROTO, FRAME, STOP, MARK, POP, POP_MARK, DUP, NONE,
 * NEWTRUE, NEWFALSE, INT, LONG, BININT, BININT1, BININT2, LONG1, LONG4,
 * FLOAT, BINFLOAT, UNICODE, BINUNICODE, SHORT_BINUNICODE, BINUNICODE8,
 * BINBYTES, SHORT_BINBYTES, BINBYTES8, BYTEARRAY8, EMPTY_LIST, APPEND,
 * APPENDS, LIST, EMPTY_TUPLE, TUPLE, TUPLE1, TUPLE2, TUPLE3, EMPTY_DICT,
 * DICT, SETITEM, SETITEMS, EMPTY_SET, ADDITEMS, FROZENSET, PUT, BINPUT,
 * LONG_BINPUT, MEMOIZE, GET, BINGET, LONG_BINGET; GLOBAL and STACK_GLOBAL
 * naming only `_codecs.encode` and `bytes`, `bytearray`, `set` or
 * `frozenset` of `builtins` (or `__builtin__`), and REDUCE applying those
 * to the arguments protocols 0–3 give them. Every other opcode (STRING,
 * BINSTRING and SHORT_BINSTRING, Python 2 `str`, included), global or
 * REDUCE, trailing bytes, a value containing itself, nesting deeper than
 * 512 containers or deeper than a `GVariant` can be read back once
 * serialised (127 levels: a list or tuple is two, `av`, a dict three,
 * `None` two, so 63 lists around a number or 41 dicts around `None`), a declared length past the end of the message and a
 * GET of an empty memo slot fail with %G_IO_ERROR_INVALID_DATA naming the
 * opcode and its offset. Nothing the input merely declares is allocated;
 * a value that would take more memory than the decode budget of
 * [iface@Sw.Codec] allows fails with %G_IO_ERROR_MESSAGE_TOO_LARGE.
 *
 * ## Encoding
 *
 * | GVariant                         | Python                             |
 * |----------------------------------|------------------------------------|
 * | `b`                              | `bool`                             |
 * | `y`, `n`, `q`, `i`, `u`, `x`, `t`, `h` | `int`                        |
 * | `d`                              | `float`                            |
 * | `s`, `o`, `g`                    | `str`                              |
 * | `ay`                             | `bytes`                            |
 * | array of dict entries (`a{..}`), `a(vv)`, a lone dict entry | `dict` |
 * | other arrays, tuples, `()`       | `list`; `tuple` inside a dict key  |
 * | maybe                            | `None` when empty, else its value  |
 * | `v`                              | its content                        |
 *
 * The pickle is written in [property@Sw.PickleCodec:protocol], without
 * FRAME opcodes (which are optional) and without memo. The lists of a
 * dict key are written as tuples, so that Python can hash them. Encoding fails
 * with %G_IO_ERROR_INVALID_ARGUMENT on nesting deeper than 512 or a
 * string or byte string over 4 GiB in protocols 2 and 3.
 *
 * Since: 0.1
 */

#include <glib/gi18n-lib.h>

#include "sw-bytes-private.h"
#include "sw-init-private.h"
#include "sw-pickle-codec.h"
#include "sw-pickle-private.h"

#define MAX_DEPTH SW_PICKLE_MAX_DEPTH
#define DEFAULT_PROTOCOL 4

struct _SwPickleCodec
{
  GObject parent_instance;
  guint   protocol;
};

enum { PROP_0, PROP_PROTOCOL, N_PROPS };
static GParamSpec *properties[N_PROPS];

static void sw_pickle_codec_iface_init (SwCodecInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (SwPickleCodec, sw_pickle_codec, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (SW_TYPE_CODEC,
                                                      sw_pickle_codec_iface_init))

/* ---- encoding --------------------------------------------------------- */

static void
put_le (GString *out,
        guint8   code,
        guint64  value,
        guint    n)
{
  g_string_append_c (out, (char) code);
  for (guint i = 0; i < n; i++)
    g_string_append_c (out, (char) (guint8) (value >> (8 * i)));
}

/* LONG1: the shortest little-endian two's complement of @value; nine
 * bytes when @is_unsigned and above G_MAXINT64. */
static void
put_long1 (GString  *out,
           guint64   value,
           gboolean  is_unsigned)
{
  guint8 le[9];
  guint n = 8;

  for (guint i = 0; i < 8; i++)
    le[i] = (guint8) (value >> (8 * i));
  le[8] = 0;
  if (is_unsigned && value > G_MAXINT64)
    n = 9;
  else
    while (n > 1 && ((le[n - 1] == 0 && !(le[n - 2] & 0x80))
                     || (le[n - 1] == 0xff && (le[n - 2] & 0x80))))
      n--;
  put_le (out, OP_LONG1, n, 1);
  g_string_append_len (out, (const char *) le, n);
}

static void
put_int (GString *out,
         gint64   value)
{
  if (value >= 0 && value <= G_MAXUINT8)
    put_le (out, OP_BININT1, (guint64) value, 1);
  else if (value >= 0 && value <= G_MAXUINT16)
    put_le (out, OP_BININT2, (guint64) value, 2);
  else if (value >= G_MININT32 && value <= G_MAXINT32)
    put_le (out, OP_BININT, (guint64) value, 4);
  else
    put_long1 (out, (guint64) value, FALSE);
}

/* Numbers and booleans; FALSE when @value is neither. */
static gboolean
put_number (GString  *out,
            GVariant *value)
{
  union { gdouble d; guint64 u; } bits;
  guint8 be[8];

  switch (g_variant_classify (value))
    {
    case G_VARIANT_CLASS_BOOLEAN:
      g_string_append_c (out, (char) (g_variant_get_boolean (value) ? OP_NEWTRUE : OP_NEWFALSE));
      return TRUE;
    case G_VARIANT_CLASS_BYTE: put_int (out, g_variant_get_byte (value)); return TRUE;
    case G_VARIANT_CLASS_INT16: put_int (out, g_variant_get_int16 (value)); return TRUE;
    case G_VARIANT_CLASS_UINT16: put_int (out, g_variant_get_uint16 (value)); return TRUE;
    case G_VARIANT_CLASS_INT32: put_int (out, g_variant_get_int32 (value)); return TRUE;
    case G_VARIANT_CLASS_HANDLE: put_int (out, g_variant_get_handle (value)); return TRUE;
    case G_VARIANT_CLASS_UINT32: put_int (out, g_variant_get_uint32 (value)); return TRUE;
    case G_VARIANT_CLASS_INT64: put_int (out, g_variant_get_int64 (value)); return TRUE;
    case G_VARIANT_CLASS_UINT64:
      if (g_variant_get_uint64 (value) <= G_MAXINT64)
        put_int (out, (gint64) g_variant_get_uint64 (value));
      else
        put_long1 (out, g_variant_get_uint64 (value), TRUE);
      return TRUE;
    case G_VARIANT_CLASS_DOUBLE:
      bits.d = g_variant_get_double (value);
      sw_put_be (be, bits.u, 8);
      g_string_append_c (out, (char) OP_BINFLOAT);
      g_string_append_len (out, (const char *) be, 8);
      return TRUE;
    default:
      return FALSE;
    }
}

/* A str or bytes with its length: the 1-byte form from protocol 4 (str)
 * or 3 (bytes), the 8-byte form from protocol 4. */
static gboolean
put_sized (GString      *out,
           guint         protocol,
           const guint8  codes[3],
           const void   *data,
           gsize         size,
           GError      **error)
{
  if (size <= G_MAXUINT8 && codes[0] != 0)
    put_le (out, codes[0], size, 1);
  else if ((guint64) size <= G_MAXUINT32)
    put_le (out, codes[1], size, 4);
  else if (protocol >= 4)
    put_le (out, codes[2], size, 8);
  else
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("String too large for pickle protocol %u"), protocol);
      return FALSE;
    }
  g_string_append_len (out, data, (gssize) size);
  return TRUE;
}

static gboolean
put_str (GString      *out,
         guint         protocol,
         const char   *text,
         gsize         size,
         GError      **error)
{
  const guint8 codes[3] = { protocol >= 4 ? OP_SHORT_BINUNICODE : 0,
                            OP_BINUNICODE, OP_BINUNICODE8 };

  return put_sized (out, protocol, codes, text, size, error);
}

/* Protocol 2 has no bytes opcode: `_codecs.encode (latin1_text, "latin1")`,
 * as CPython writes it. */
static gboolean
put_bytes (GString   *out,
           guint      protocol,
           GVariant  *ay,
           GError   **error)
{
  const guint8 codes[3] = { OP_SHORT_BINBYTES, OP_BINBYTES, OP_BINBYTES8 };
  gsize size;
  const guint8 *data = g_variant_get_fixed_array (ay, &size, 1);
  g_autoptr (GString) text = NULL;

  if (protocol >= 3)
    return put_sized (out, protocol, codes, data, size, error);
  text = g_string_sized_new (size);
  for (gsize i = 0; i < size; i++)
    g_string_append_unichar (text, data[i]);
  g_string_append (out, "c_codecs\nencode\n");
  if (!put_str (out, protocol, text->str, text->len, error))
    return FALSE;
  put_str (out, protocol, "latin1", 6, NULL);
  g_string_append_c (out, (char) OP_TUPLE2);
  g_string_append_c (out, (char) OP_REDUCE);
  return TRUE;
}

/* Strips variants and maybes: returns the value to write (a new
 * reference), or NULL for an empty maybe (None). */
static GVariant *
strip (GVariant *value)
{
  g_autoptr (GVariant) inner = NULL;

  if (g_variant_is_of_type (value, G_VARIANT_TYPE_VARIANT))
    inner = g_variant_get_variant (value);
  else if (g_variant_is_of_type (value, G_VARIANT_TYPE_MAYBE))
    inner = g_variant_get_maybe (value);
  else
    return g_variant_ref (value);
  return inner != NULL ? strip (inner) : NULL;
}

static gboolean encode_value (GString *out, guint protocol, GVariant *value,
                              gboolean as_tuple, guint depth, GError **error);

/* A dict item: a dict entry or a `(vv)`. Keys must be hashable in
 * Python, so the lists of a key are written as tuples. */
static gboolean
encode_pair (GString   *out,
             guint      protocol,
             GVariant  *pair,
             guint      depth,
             GError   **error)
{
  g_autoptr (GVariant) key = g_variant_get_child_value (pair, 0);
  g_autoptr (GVariant) value = g_variant_get_child_value (pair, 1);

  return encode_value (out, protocol, key, TRUE, depth, error)
         && encode_value (out, protocol, value, FALSE, depth, error);
}

static gboolean
encode_items (GString   *out,
              guint      protocol,
              GVariant  *container,
              gboolean   pairs,
              gboolean   as_tuple,
              guint      depth,
              GError   **error)
{
  gsize n = g_variant_n_children (container);

  for (gsize i = 0; i < n; i++)
    {
      g_autoptr (GVariant) child = g_variant_get_child_value (container, i);
      gboolean ok;

      if (pairs)
        ok = encode_pair (out, protocol, child, depth, error);
      else
        ok = encode_value (out, protocol, child, as_tuple, depth, error);
      if (!ok)
        return FALSE;
    }
  return TRUE;
}

/* A dict (from an array of dict entries, an `a(vv)` or a lone dict entry)
 * or a list (any other container; a tuple when @as_tuple). */
static gboolean
encode_container (GString   *out,
                  guint      protocol,
                  GVariant  *value,
                  gboolean   as_tuple,
                  guint      depth,
                  GError   **error)
{
  const GVariantType *type = g_variant_get_type (value);
  gboolean entry = g_variant_type_is_dict_entry (type);
  gboolean dict = entry || (g_variant_type_is_array (type)
                            && (g_variant_type_is_dict_entry (g_variant_type_element (type))
                                || g_variant_type_equal (type, G_VARIANT_TYPE ("a(vv)"))));

  if (depth >= MAX_DEPTH)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("Value nested deeper than %d containers"), MAX_DEPTH);
      return FALSE;
    }
  if (!dict && as_tuple)
    {
      g_string_append_c (out, (char) OP_MARK);
      if (!encode_items (out, protocol, value, FALSE, TRUE, depth + 1, error))
        return FALSE;
      g_string_append_c (out, (char) OP_TUPLE);
      return TRUE;
    }
  g_string_append_c (out, (char) (dict ? OP_EMPTY_DICT : OP_EMPTY_LIST));
  if (g_variant_n_children (value) == 0)
    return TRUE;
  g_string_append_c (out, (char) OP_MARK);
  if (entry)
    {
      if (!encode_pair (out, protocol, value, depth + 1, error))
        return FALSE;
    }
  else if (!encode_items (out, protocol, value, dict, FALSE, depth + 1, error))
    return FALSE;
  g_string_append_c (out, (char) (dict ? OP_SETITEMS : OP_APPENDS));
  return TRUE;
}

static gboolean
encode_value (GString   *out,
              guint      protocol,
              GVariant  *value,
              gboolean   as_tuple,
              guint      depth,
              GError   **error)
{
  g_autoptr (GVariant) inner = strip (value);
  gsize size;
  const char *text;

  if (inner == NULL)
    g_string_append_c (out, (char) OP_NONE);
  else if (put_number (out, inner))
    ;
  else if (g_variant_is_of_type (inner, G_VARIANT_TYPE_STRING)
           || g_variant_is_of_type (inner, G_VARIANT_TYPE_OBJECT_PATH)
           || g_variant_is_of_type (inner, G_VARIANT_TYPE_SIGNATURE))
    {
      text = g_variant_get_string (inner, &size);
      return put_str (out, protocol, text, size, error);
    }
  else if (g_variant_is_of_type (inner, G_VARIANT_TYPE_BYTESTRING))
    return put_bytes (out, protocol, inner, error);
  else
    return encode_container (out, protocol, inner, as_tuple, depth, error);
  return TRUE;
}

static GBytes *
sw_pickle_codec_encode (SwCodec   *codec,
                        GVariant  *value,
                        GError   **error)
{
  guint protocol = SW_PICKLE_CODEC (codec)->protocol;
  g_autoptr (GString) out = g_string_new (NULL);

  put_le (out, OP_PROTO, protocol, 1);
  if (!encode_value (out, protocol, value, FALSE, 0, error))
    return NULL;
  g_string_append_c (out, (char) OP_STOP);
  return g_string_free_to_bytes (g_steal_pointer (&out));
}

/* ---- the object ------------------------------------------------------- */

static GVariant *
sw_pickle_codec_decode (SwCodec  *codec,
                        GBytes   *bytes,
                        GError  **error)
{
  return sw_pickle_decode (bytes, error);
}

static void
sw_pickle_codec_iface_init (SwCodecInterface *iface)
{
  iface->encode = sw_pickle_codec_encode;
  iface->decode = sw_pickle_codec_decode;
}

static void
sw_pickle_codec_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  SwPickleCodec *self = SW_PICKLE_CODEC (object);

  switch (prop_id)
    {
    case PROP_PROTOCOL:
      g_value_set_uint (value, self->protocol);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
sw_pickle_codec_set_property (GObject      *object,
                              guint         prop_id,
                              const GValue *value,
                              GParamSpec   *pspec)
{
  SwPickleCodec *self = SW_PICKLE_CODEC (object);

  switch (prop_id)
    {
    case PROP_PROTOCOL:
      self->protocol = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
sw_pickle_codec_class_init (SwPickleCodecClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  sw_init ();
  object_class->get_property = sw_pickle_codec_get_property;
  object_class->set_property = sw_pickle_codec_set_property;

  /**
   * SwPickleCodec:protocol:
   *
   * The pickle protocol encoding writes, 2 to 5 (4 is what
   * `pickle.dumps()` writes by default since Python 3.8). Fixed at
   * construction, so one codec can serve many threads. Decoding reads
   * every protocol, 0 to 5, whatever this is.
   *
   * Since: 0.1
   */
  properties[PROP_PROTOCOL] =
    g_param_spec_uint ("protocol", NULL, NULL, 2, 5, DEFAULT_PROTOCOL,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY
                       | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
sw_pickle_codec_init (SwPickleCodec *self)
{
  self->protocol = DEFAULT_PROTOCOL;
}

/**
 * sw_pickle_codec_new:
 *
 * Creates a pickle codec writing protocol 4. For another protocol, set
 * [property@Sw.PickleCodec:protocol] at construction:
 * `g_object_new (SW_TYPE_PICKLE_CODEC, "protocol", 5, NULL)`.
 *
 * Returns: (transfer full): a new [class@Sw.PickleCodec]
 *
 * Since: 0.1
 */
SwPickleCodec *
sw_pickle_codec_new (void)
{
  return g_object_new (SW_TYPE_PICKLE_CODEC, NULL);
}

/**
 * sw_pickle_codec_get_protocol:
 * @self: a [class@Sw.PickleCodec]
 *
 * Gets the pickle protocol encoding writes, the value of
 * [property@Sw.PickleCodec:protocol].
 *
 * Returns: the protocol, 2 to 5
 *
 * Since: 0.1
 */
guint
sw_pickle_codec_get_protocol (SwPickleCodec *self)
{
  g_return_val_if_fail (SW_IS_PICKLE_CODEC (self), 0);
  return self->protocol;
}
