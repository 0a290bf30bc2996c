/* SPDX-License-Identifier: LGPL-2.1-or-later */

/**
 * SwJsonCodec:
 *
 * Encodes values as JSON text.
 *
 * Each message is one JSON value in compact UTF-8 text, without a trailing
 * newline or NUL, so any JSON library can read and write it (Python:
 * `json.loads(data)` and `json.dumps(value).encode()`). The mapping is
 * json-glib's (see [func@Json.gvariant_serialize] and
 * [func@Json.gvariant_deserialize]) with no type signature: JSON carries no
 * GVariant types, so decoding picks the natural one for each JSON value.
 * The codec converts in one pass of its own, in time linear in the size
 * of the value.
 *
 * Decoding (JSON to GVariant):
 *
 * | JSON                   | GVariant                                   |
 * |------------------------|--------------------------------------------|
 * | object                 | `a{sv}` (a repeated key keeps its last value) |
 * | array                  | `av`                                       |
 * | string                 | `s`                                        |
 * | integer (no `.`, `e`)  | `x`; outside the int64 range: an error     |
 * | other number           | `d` (beyond the double range: infinity)    |
 * | `true`, `false`        | `b`                                        |
 * | `null`                 | `mv` with no value (Nothing)               |
 *
 * Encoding (GVariant to JSON): booleans, numbers and strings (also object
 * paths and signatures) become their JSON equivalent; arrays and tuples
 * become arrays; dictionaries become objects (non-string keys are written
 * as strings); a variant becomes its value; a maybe becomes `null` when it
 * holds nothing, its value otherwise; a bytestring `ay` is an array of
 * numbers.
 *
 * So only the types of the decoding table round-trip exactly; other values
 * come back in their natural form, e.g. `(is)` as `av`, `u` as `x`, `ms`
 * holding a string as `s`. Further limits:
 *
 * - encoding fails with %G_IO_ERROR_INVALID_ARGUMENT for a NaN or infinite
 *   double and for a `t` above %G_MAXINT64, which JSON text (or json-glib)
 *   cannot carry;
 * - GVariant strings cannot hold U+0000, so a JSON string with `\u0000` is
 *   refused, as are unpaired UTF-16 surrogates (`\ud800`) and escapes
 *   JSON does not define;
 * - arrays and objects may nest at most 42 deep (deeper text is refused
 *   as invalid data), so no peer can exhaust the stack of the parser, and
 *   a decoded value can be passed on through [class@Sw.GVariantCodec]
 *   within GLib's limit of 128 nested containers.
 *
 * - received text must be JSON as RFC 8259 defines it: what json-glib's
 *   parser reads beyond it (comments, single-quoted strings, hex, octal and
 *   binary numbers, numbers with a leading zero or `+`, names other than
 *   `true`, `false` and `null`, control characters unescaped in strings,
 *   `var name =`) is refused;
 * - a message whose value would take more memory than the decode budget
 *   of [iface@Sw.Codec] fails with %G_IO_ERROR_MESSAGE_TOO_LARGE.
 *
 * Anything else that is not exactly one valid JSON value in UTF-8 (empty
 * text, trailing data, invalid UTF-8, a syntax error) fails with
 * %G_IO_ERROR_INVALID_DATA and a message saying where.
 *
 * Since: 0.1
 */

#include <math.h>
#include <string.h>
#include <glib/gi18n-lib.h>

#include "sw-codec-private.h"
#include "sw-init-private.h"
#include "sw-json-codec.h"
#include "sw-json-codec-private.h"

struct _SwJsonCodec
{
  GObject parent_instance;
};

/* What a JSON text costs in memory once parsed, per item, on a 64-bit
 * host with glibc's malloc: peak RSS measured on large arrays of each kind
 * (zeros, empty and nested arrays, empty and one-member objects), then
 * rounded up with a margin. */
typedef struct
{
  guint scalar;        /* a number, literal or string (object keys too) */
  guint array;
  guint object;
  guint member;        /* an object member, beyond its key and value */
  guint string_copies; /* copies made of each string's bytes */
} JsonCost;

/* The JsonNode tree alone (sw_json_node_from_bytes). */
static const JsonCost sw_json_cost_node = { 96, 192, 384, 160, 1 };
/* The tree and the GVariant converted from it, both alive at the end. */
static const JsonCost sw_json_cost_value = { 400, 448, 640, 320, 2 };

/* Where check_json_text() is, so its errors can say where, and what it
 * has seen, for the memory estimate. */
typedef struct
{
  const char *text;
  gsize       length;
  gsize       pos;
  guint       line;        /* 1-based */
  gsize       line_start;  /* offset of the current line's first byte */
  guint64     n_scalars;
  guint64     n_arrays;
  guint64     n_objects;
  guint64     n_members;
  guint64     string_bytes;
} Scanner;

static void sw_json_codec_iface_init (SwCodecInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (SwJsonCodec, sw_json_codec, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (SW_TYPE_CODEC,
                                                      sw_json_codec_iface_init))

/* Explicit tests rather than strchr(), which also matches the NUL. */
static inline gboolean
is_json_space (char c)
{
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The characters json-glib's scanner reads as part of a name. */
static inline gboolean
is_name_char (char c)
{
  return g_ascii_isalnum (c) || c == '_';
}

/* The text has been validated as UTF-8, so the column counts characters
 * like json-glib's own messages do. */
static void G_GNUC_PRINTF (3, 4)
scanner_error (Scanner     *s,
               GError     **error,
               const char  *format,
               ...)
{
  g_autofree char *what = NULL;
  glong column;
  va_list args;

  va_start (args, format);
  what = g_strdup_vprintf (format, args);
  va_end (args);

  column = g_utf8_strlen (s->text + s->line_start,
                          (gssize) (s->pos - s->line_start)) + 1;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
               _("Invalid JSON at line %u, column %ld: %s"),
               s->line, column, what);
}

/* The code unit of a \uXXXX escape at @pos (the backslash), or -1. */
static gint
read_escape_unit (Scanner *s,
                  gsize    pos)
{
  gint unit = 0;

  if (s->length - pos < 6 || s->text[pos] != '\\' || s->text[pos + 1] != 'u')
    return -1;
  for (gsize i = pos + 2; i < pos + 6; i++)
    {
      gint digit = g_ascii_xdigit_value (s->text[i]);

      if (digit < 0)
        return -1;
      unit = unit * 16 + digit;
    }
  return unit;
}

/* Checks the escape at s->pos (the backslash) and skips it. json-glib is
 * lax here, and some of what it lets through would become a string that
 * is not UTF-8 ("\ud83d\Ude00", a lone surrogate) or is cut short
 * (U+0000): GVariant strings can hold neither. */
static gboolean
scan_escape (Scanner  *s,
             GError  **error)
{
  gint unit, low;

  if (s->pos + 1 >= s->length)
    {
      s->pos++;  /* unterminated: the parser reports it */
      return TRUE;
    }
  if (strchr ("\"\\/bfnrt", s->text[s->pos + 1]) != NULL &&
      s->text[s->pos + 1] != '\0')
    {
      s->pos += 2;
      return TRUE;
    }

  unit = read_escape_unit (s, s->pos);
  if (unit < 0)
    {
      scanner_error (s, error, _("invalid escape sequence in a string"));
      return FALSE;
    }
  if (unit == 0)
    {
      scanner_error (s, error, _("a string contains U+0000, which "
                                 "GVariant strings cannot hold"));
      return FALSE;
    }
  if (unit < 0xd800 || unit > 0xdfff)
    {
      s->pos += 6;
      return TRUE;
    }

  low = read_escape_unit (s, s->pos + 6);
  if (unit > 0xdbff || low < 0xdc00 || low > 0xdfff)
    {
      scanner_error (s, error, _("a string contains an unpaired UTF-16 "
                                 "surrogate"));
      return FALSE;
    }
  s->pos += 12;
  return TRUE;
}

/* Skips a string from its opening quote. An unterminated string runs to
 * the end of the text for json-glib too, which reports it. */
static gboolean
scan_string (Scanner  *s,
             GError  **error)
{
  gsize start = s->pos++;

  while (s->pos < s->length)
    {
      char c = s->text[s->pos];

      if (c == '"')
        {
          s->pos++;
          break;
        }
      if ((guchar) c < 0x20)
        {
          scanner_error (s, error, _("a string contains a control character "
                                     "that is not escaped"));
          return FALSE;
        }
      if (c != '\\')
        s->pos++;
      else if (!scan_escape (s, error))
        return FALSE;
    }
  s->n_scalars++;
  s->string_bytes += s->pos - start;
  return TRUE;
}

/* Skips digits; FALSE if there are none. */
static gboolean
scan_digits (Scanner *s)
{
  gsize start = s->pos;

  while (s->pos < s->length && g_ascii_isdigit (s->text[s->pos]))
    s->pos++;
  return s->pos > start;
}

/* json-glib reads integers into a gint64 without checking for overflow,
 * so 2^64 would arrive as 0: refuse what does not fit. */
static gboolean
integer_fits (const char *digits,
              gsize       n_digits,
              gboolean    negative)
{
  guint64 magnitude = 0;

  for (gsize i = 0; i < n_digits; i++)
    {
      guint digit = (guint) (digits[i] - '0');

      if (magnitude > (G_MAXUINT64 - digit) / 10)
        return FALSE;
      magnitude = magnitude * 10 + digit;
    }
  return magnitude <= (guint64) G_MAXINT64 + negative;
}

/* A number exactly as RFC 8259 writes it: json-glib's scanner would also
 * read hex, octal, "1." and a lone "-", none of which is JSON. Numbers with
 * a fraction or an exponent become doubles, which hold any magnitude. */
static gboolean
scan_number (Scanner  *s,
             GError  **error)
{
  gsize start = s->pos, int_start;
  gboolean negative = s->text[s->pos] == '-';
  gboolean is_float = FALSE;

  s->pos += negative;
  int_start = s->pos;
  if (!scan_digits (s) ||
      (s->text[int_start] == '0' && s->pos - int_start > 1))
    goto invalid;
  if (s->pos < s->length && s->text[s->pos] == '.')
    {
      s->pos++;
      is_float = TRUE;
      if (!scan_digits (s))
        goto invalid;
    }
  if (s->pos < s->length && g_ascii_tolower (s->text[s->pos]) == 'e')
    {
      s->pos++;
      is_float = TRUE;
      if (s->pos < s->length && (s->text[s->pos] == '+' || s->text[s->pos] == '-'))
        s->pos++;
      if (!scan_digits (s))
        goto invalid;
    }
  if (s->pos < s->length && is_name_char (s->text[s->pos]))
    goto invalid;  /* "0x1f", "1e5f": json-glib would read on */

  s->n_scalars++;
  if (is_float || integer_fits (s->text + int_start, s->pos - int_start, negative))
    return TRUE;
  s->pos = start;
  scanner_error (s, error, _("an integer is outside the 64-bit range"));
  return FALSE;

invalid:
  s->pos = start;
  scanner_error (s, error, _("invalid number"));
  return FALSE;
}

/* true, false or null, not followed by more of a name. */
static gboolean
scan_literal (Scanner  *s,
              GError  **error)
{
  static const char * const literals[] = { "true", "false", "null" };

  for (gsize i = 0; i < G_N_ELEMENTS (literals); i++)
    {
      gsize n = strlen (literals[i]);
      gsize end = s->pos + n;

      if (s->length - s->pos >= n &&
          memcmp (s->text + s->pos, literals[i], n) == 0 &&
          (end == s->length || !is_name_char (s->text[end])))
        {
          s->pos = end;
          s->n_scalars++;
          return TRUE;
        }
    }
  scanner_error (s, error, _("a name other than true, false and null"));
  return FALSE;
}

/* Refuses a byte that starts no JSON token. json-glib would skip comments
 * (from a slash to the next slash, or a C comment), read single-quoted
 * strings and "$ff" hex numbers: text that agrees with no other JSON
 * parser, and in which a quote hides brackets from a scanner that only
 * knows JSON. */
static void
refuse_character (Scanner  *s,
                  GError  **error)
{
  char c = s->text[s->pos];

  if (c == '/')
    scanner_error (s, error, _("JSON has no comments"));
  else if (c == '\'')
    scanner_error (s, error, _("JSON strings use double quotes"));
  else
    scanner_error (s, error, _("unexpected character U+%04X"),
                   (guint) g_utf8_get_char (s->text + s->pos));
}

/* Advances over one token. Returns FALSE with @error set on anything that
 * is not a JSON token, or that json-glib would accept but the codec must
 * refuse. Every byte outside strings is checked here, so the brackets
 * counted are exactly those json-glib's parser will recurse on. */
static gboolean
scan_token (Scanner  *s,
            guint    *depth,
            GError  **error)
{
  char c = s->text[s->pos];

  switch (c)
    {
    case '"':
      return scan_string (s, error);
    case '[': case '{':
      if (++*depth > SW_JSON_MAX_DEPTH)
        {
          scanner_error (s, error,
                         _("arrays and objects nest deeper than %d levels"),
                         SW_JSON_MAX_DEPTH);
          return FALSE;
        }
      if (c == '[')
        s->n_arrays++;
      else
        s->n_objects++;
      break;
    case ']': case '}':
      if (*depth > 0)  /* else unbalanced: the parser reports it */
        --*depth;
      break;
    case ':':
      s->n_members++;
      break;
    case ',':
      break;
    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
      return scan_number (s, error);
    default:
      if (g_ascii_isalpha (c) || c == '_')
        return scan_literal (s, error);
      refuse_character (s, error);
      return FALSE;
    }
  s->pos++;
  return TRUE;
}

/* The memory the parsed text will take, by @cost. Counts are at most the
 * text length and costs small, so the sum cannot wrap. */
static guint64
scanner_cost (const Scanner  *s,
              const JsonCost *cost)
{
  return s->n_scalars * cost->scalar + s->n_arrays * cost->array +
         s->n_objects * cost->object + s->n_members * cost->member +
         s->string_bytes * cost->string_copies;
}

/* One linear pass over untrusted text before json-glib parses it. It
 * accepts only the tokens of RFC 8259, so it reads the text as any
 * parser does, and checks what json-glib does not: nesting depth (its
 * parser recurses), integer overflow, U+0000, data after the value (it
 * stops at the first value), an empty message, and the memory the parsed
 * value will take (@cost; see the SwCodec docs). Syntax errors are left
 * to the parser, whose messages say more. */
static gboolean
check_json_text (const char      *text,
                 gsize            length,
                 const JsonCost  *cost,
                 GError         **error)
{
  Scanner s = { text, length, 0, 1, 0, 0, 0, 0, 0, 0 };
  guint depth = 0;
  gboolean value_seen = FALSE;
  const char *end;

  if (!g_utf8_validate_len (text, length, &end))
    {
      /* Formatted apart: xgettext cannot read a translatable string
       * through G_GSIZE_FORMAT. */
      g_autofree char *offset = g_strdup_printf ("%" G_GSIZE_FORMAT,
                                                 (gsize) (end - text));

      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("Invalid JSON: not valid UTF-8 at byte %s"), offset);
      return FALSE;
    }

  while (s.pos < length)
    {
      if (is_json_space (text[s.pos]))
        {
          if (text[s.pos++] == '\n')
            {
              s.line++;
              s.line_start = s.pos;
            }
          continue;
        }
      if (depth == 0 && value_seen)
        {
          scanner_error (&s, error, _("unexpected data after the JSON value"));
          return FALSE;
        }
      if (!scan_token (&s, &depth, error))
        return FALSE;
      value_seen |= depth == 0;
    }

  if (length == 0 || (depth == 0 && !value_seen))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           _("Invalid JSON: the message holds no value"));
      return FALSE;
    }
  return sw_codec_check_cost (scanner_cost (&s, cost), length, error);
}

/* ---- GVariant to JsonNode ------------------------------------------- */

/* Refuses the basic values JSON text (through json-glib) cannot carry. */
static gboolean
check_basic (GVariant  *value,
             GError   **error)
{
  GVariantClass class = g_variant_classify (value);

  if (class == G_VARIANT_CLASS_DOUBLE && !isfinite (g_variant_get_double (value)))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("JSON cannot represent the number %g"),
                   g_variant_get_double (value));
      return FALSE;
    }
  if (class == G_VARIANT_CLASS_UINT64 && g_variant_get_uint64 (value) > G_MAXINT64)
    {
      g_autofree char *number = g_variant_print (value, FALSE);

      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("The JSON codec cannot encode the uint64 %s: it is "
                     "larger than the largest int64"), number);
      return FALSE;
    }
  return TRUE;
}

/* Any integer class, checked by check_basic(). */
static gint64
integer_value (GVariant *value)
{
  switch (g_variant_classify (value))
    {
    case G_VARIANT_CLASS_BYTE:
      return g_variant_get_byte (value);
    case G_VARIANT_CLASS_INT16:
      return g_variant_get_int16 (value);
    case G_VARIANT_CLASS_UINT16:
      return g_variant_get_uint16 (value);
    case G_VARIANT_CLASS_INT32:
      return g_variant_get_int32 (value);
    case G_VARIANT_CLASS_UINT32:
      return g_variant_get_uint32 (value);
    case G_VARIANT_CLASS_UINT64:
      return (gint64) g_variant_get_uint64 (value);
    case G_VARIANT_CLASS_HANDLE:
      return g_variant_get_handle (value);
    case G_VARIANT_CLASS_INT64:
    default:
      return g_variant_get_int64 (value);
    }
}

static gboolean
is_string_class (GVariantClass class)
{
  return class == G_VARIANT_CLASS_STRING || class == G_VARIANT_CLASS_OBJECT_PATH ||
         class == G_VARIANT_CLASS_SIGNATURE;
}

static JsonNode *
basic_to_node (GVariant *value)
{
  JsonNode *node = json_node_new (JSON_NODE_VALUE);
  GVariantClass class = g_variant_classify (value);

  if (class == G_VARIANT_CLASS_BOOLEAN)
    json_node_set_boolean (node, g_variant_get_boolean (value));
  else if (class == G_VARIANT_CLASS_DOUBLE)
    json_node_set_double (node, g_variant_get_double (value));
  else if (is_string_class (class))
    json_node_set_string (node, g_variant_get_string (value, NULL));
  else
    json_node_set_int (node, integer_value (value));
  return node;
}

/* A dictionary key as an object member name, written as json-glib
 * writes it ("%f" for doubles). */
static char *
basic_to_name (GVariant *key)
{
  GVariantClass class = g_variant_classify (key);

  if (class == G_VARIANT_CLASS_BOOLEAN)
    return g_strdup (g_variant_get_boolean (key) ? "true" : "false");
  if (class == G_VARIANT_CLASS_DOUBLE)
    {
      char buffer[G_ASCII_DTOSTR_BUF_SIZE];

      return g_strdup (g_ascii_formatd (buffer, sizeof buffer, "%f",
                                        g_variant_get_double (key)));
    }
  if (is_string_class (class))
    return g_strdup (g_variant_get_string (key, NULL));
  return g_strdup_printf ("%" G_GINT64_FORMAT, integer_value (key));
}

static JsonNode *variant_to_node (GVariant  *value,
                                  GError   **error);

/* Adds a dict entry to @object; a repeated key keeps its first place and
 * its last value, as json_object_set_member() does. */
static gboolean
add_entry (JsonObject  *object,
           GVariant    *entry,
           GError     **error)
{
  g_autoptr(GVariant) key = g_variant_get_child_value (entry, 0);
  g_autoptr(GVariant) member = g_variant_get_child_value (entry, 1);
  g_autofree char *name = NULL;
  JsonNode *node;

  if (!check_basic (key, error) || (node = variant_to_node (member, error)) == NULL)
    return FALSE;
  name = basic_to_name (key);
  json_object_set_member (object, name, node);
  return TRUE;
}

/* An array of dict entries (or, @entries FALSE, any other container) as
 * an object (an array). */
static JsonNode *
children_to_node (GVariant  *value,
                  gboolean   entries,
                  GError   **error)
{
  g_autoptr(JsonArray) array = entries ? NULL : json_array_sized_new ((guint) g_variant_n_children (value));
  g_autoptr(JsonObject) object = entries ? json_object_new () : NULL;
  GVariantIter iter;
  GVariant *child;

  g_variant_iter_init (&iter, value);
  while ((child = g_variant_iter_next_value (&iter)) != NULL)
    {
      JsonNode *node = NULL;
      gboolean ok;

      if (entries)
        ok = add_entry (object, child, error);
      else if ((ok = (node = variant_to_node (child, error)) != NULL))
        json_array_add_element (array, node);
      g_variant_unref (child);
      if (!ok)
        return NULL;
    }
  if (entries)
    return json_node_init_object (json_node_alloc (), object);
  return json_node_init_array (json_node_alloc (), array);
}

/* The mapping of json_gvariant_serialize() (documented above), in one
 * walk that also refuses what JSON cannot carry. */
static JsonNode *
variant_to_node (GVariant  *value,
                 GError   **error)
{
  g_autoptr(GVariant) child = NULL;

  switch (g_variant_classify (value))
    {
    case G_VARIANT_CLASS_MAYBE:
      child = g_variant_get_maybe (value);
      if (child == NULL)
        return json_node_new (JSON_NODE_NULL);
      return variant_to_node (child, error);
    case G_VARIANT_CLASS_VARIANT:
      child = g_variant_get_variant (value);
      return variant_to_node (child, error);
    case G_VARIANT_CLASS_ARRAY:
      return children_to_node (value, g_variant_get_type_string (value)[1] == '{',
                               error);
    case G_VARIANT_CLASS_TUPLE:
      return children_to_node (value, FALSE, error);
    case G_VARIANT_CLASS_DICT_ENTRY:
      {
        g_autoptr(JsonObject) object = json_object_new ();

        if (!add_entry (object, value, error))
          return NULL;
        return json_node_init_object (json_node_alloc (), object);
      }
    default:
      if (!check_basic (value, error))
        return NULL;
      return basic_to_node (value);
    }
}

/* ---- JsonNode to GVariant ------------------------------------------- */

static GVariant *
scalar_to_variant (JsonNode *node)
{
  switch (json_node_get_value_type (node))
    {
    case G_TYPE_INT64:
      return g_variant_new_int64 (json_node_get_int (node));
    case G_TYPE_DOUBLE:
      return g_variant_new_double (json_node_get_double (node));
    case G_TYPE_BOOLEAN:
      return g_variant_new_boolean (json_node_get_boolean (node));
    case G_TYPE_STRING:
    default:
      /* The parser makes no other value type; its strings are UTF-8 without
       * U+0000, as check_json_text() made sure. */
      return g_variant_new_string (json_node_get_string (node));
    }
}

static GVariant *
array_to_variant (JsonArray *array,
                  guint64   *work)
{
  guint n = json_array_get_length (array);
  g_autofree GVariant **children = g_new (GVariant *, n);

  for (guint i = 0; i < n; i++)
    children[i] = g_variant_new_variant (
        sw_json_node_to_variant (json_array_get_element (array, i), work));
  return g_variant_new_array (G_VARIANT_TYPE_VARIANT, children, n);
}

static GVariant *
object_to_variant (JsonObject *object,
                   guint64    *work)
{
  g_autofree GVariant **entries = g_new (GVariant *, json_object_get_size (object));
  JsonObjectIter iter;
  const char *name;
  JsonNode *member;
  gsize n = 0;

  /* In the order of the text; a repeated name was kept once, with its
   * last value, by the parser. */
  json_object_iter_init_ordered (&iter, object);
  while (json_object_iter_next_ordered (&iter, &name, &member))
    entries[n++] = g_variant_new_dict_entry (
        g_variant_new_string (name),
        g_variant_new_variant (sw_json_node_to_variant (member, work)));
  return g_variant_new_array (G_VARIANT_TYPE ("{sv}"), entries, n);
}

GVariant *
sw_json_node_to_variant (JsonNode *node,
                         guint64  *work)
{
  if (work != NULL)
    ++*work;
  switch (JSON_NODE_TYPE (node))
    {
    case JSON_NODE_OBJECT:
      return object_to_variant (json_node_get_object (node), work);
    case JSON_NODE_ARRAY:
      return array_to_variant (json_node_get_array (node), work);
    case JSON_NODE_NULL:
      return g_variant_new_maybe (G_VARIANT_TYPE_VARIANT, NULL);
    case JSON_NODE_VALUE:
    default:
      return scalar_to_variant (node);
    }
}

/* ---- the codec ------------------------------------------------------ */

static GBytes *
sw_json_codec_encode (SwCodec   *codec,
                      GVariant  *value,
                      GError   **error)
{
  g_autoptr(JsonNode) node = variant_to_node (value, error);

  if (node == NULL)
    return NULL;
  return sw_json_node_to_bytes (node);
}

static JsonNode *parse_text (GBytes          *bytes,
                             const JsonCost  *cost,
                             GError         **error);

GVariant *
sw_json_decode (GBytes   *bytes,
                guint64  *work,
                GError  **error)
{
  g_autoptr(JsonNode) node = parse_text (bytes, &sw_json_cost_value, error);
  g_autoptr(GVariant) value = NULL;

  if (node == NULL)
    return NULL;
  /* 42 objects around null, {} or [] take 128 levels or more. */
  value = g_variant_ref_sink (sw_json_node_to_variant (node, work));
  if (!sw_codec_check_depth (value, error))
    return NULL;
  return g_steal_pointer (&value);
}

static GVariant *
sw_json_codec_decode (SwCodec   *codec,
                      GBytes    *bytes,
                      GError   **error)
{
  return sw_json_decode (bytes, NULL, error);
}

static void
sw_json_codec_iface_init (SwCodecInterface *iface)
{
  iface->encode = sw_json_codec_encode;
  iface->decode = sw_json_codec_decode;
}

static void
sw_json_codec_class_init (SwJsonCodecClass *klass)
{
  sw_init ();
}

static void
sw_json_codec_init (SwJsonCodec *self)
{
}

/* json-glib 1.6 writes a double whose shortest form has an exponent and
 * no decimal point as, say, "1e+19.0": it appends ".0" to any number
 * without a '.', which makes invalid JSON. Outside strings, drop such a
 * ".0" after an exponent, in place, in one pass. */
static gsize
fix_exponent_numbers (char  *text,
                      gsize  length)
{
  gboolean in_string = FALSE, escaped = FALSE, in_exponent = FALSE;
  gsize in, out = 0;

  for (in = 0; in < length; in++)
    {
      char c = text[in];

      if (in_string)
        {
          if (escaped)
            escaped = FALSE;
          else if (c == '\\')
            escaped = TRUE;
          else if (c == '"')
            in_string = FALSE;
        }
      else if (c == '"')
        in_string = TRUE;
      else if (c == 'e' || c == 'E')
        in_exponent = TRUE;
      else if (in_exponent && c == '.' && in + 1 < length && text[in + 1] == '0'
               && (in + 2 == length || !g_ascii_isdigit (text[in + 2])))
        {
          in++;  /* skip ".0" */
          continue;
        }
      else if (!g_ascii_isdigit (c) && c != '+' && c != '-')
        in_exponent = FALSE;
      text[out++] = c;
    }
  text[out] = '\0';
  return out;
}

/* json-glib 1.6 escapes the control characters below U+001F but writes
 * U+001F itself raw, which JSON forbids in a string. The byte 0x1f occurs
 * nowhere else in the text (not outside strings, not inside a UTF-8
 * sequence), so every one is escaped. Takes @text; returns the text to
 * keep, with its length in @length. */
static char *
escape_unit_separators (char  *text,
                        gsize *length)
{
  GString *escaped;

  if (memchr (text, 0x1f, *length) == NULL)
    return text;
  escaped = g_string_sized_new (*length + 16);
  for (gsize i = 0; i < *length; i++)
    {
      if (text[i] == 0x1f)
        g_string_append (escaped, "\\u001f");
      else
        g_string_append_c (escaped, text[i]);
    }
  g_free (text);
  *length = escaped->len;
  return g_string_free (escaped, FALSE);
}

GBytes *
sw_json_node_to_bytes (JsonNode *node)
{
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  char *text;
  gsize length;

  g_return_val_if_fail (node != NULL, NULL);

  json_generator_set_root (generator, node);
  text = json_generator_to_data (generator, &length);
  length = fix_exponent_numbers (text, length);
  text = escape_unit_separators (text, &length);
  /* The allocation ends with a NUL the bytes leave out. */
  return g_bytes_new_take (text, length);
}

/* Checks @bytes with @cost, then parses them. */
static JsonNode *
parse_text (GBytes          *bytes,
            const JsonCost  *cost,
            GError         **error)
{
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) local_error = NULL;
  const char *text;
  gsize length;
  JsonNode *root;

  text = g_bytes_get_data (bytes, &length);
  if (!check_json_text (text, length, cost, error))
    return NULL;

  /* Mutable nodes: the caller of receive_json_node may edit the value. */
  parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, text, (gssize) length,
                                   &local_error))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("Invalid JSON: %s"), local_error->message);
      return NULL;
    }

  root = json_parser_steal_root (parser);
  if (root == NULL)  /* json-glib's view of an empty text; checked above */
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                         _("Invalid JSON: the message holds no value"));
  return root;
}

JsonNode *
sw_json_node_from_bytes (GBytes  *bytes,
                         GError **error)
{
  g_return_val_if_fail (bytes != NULL, NULL);

  return parse_text (bytes, &sw_json_cost_node, error);
}

gboolean
sw_json_node_check (JsonNode  *node,
                    GError   **error)
{
  g_return_val_if_fail (node != NULL, FALSE);

  switch (JSON_NODE_TYPE (node))
    {
    case JSON_NODE_OBJECT:
      {
        JsonObjectIter iter;
        JsonNode *member;

        json_object_iter_init (&iter, json_node_get_object (node));
        while (json_object_iter_next (&iter, NULL, &member))
          if (!sw_json_node_check (member, error))
            return FALSE;
        return TRUE;
      }
    case JSON_NODE_ARRAY:
      {
        JsonArray *array = json_node_get_array (node);

        for (guint i = 0; i < json_array_get_length (array); i++)
          if (!sw_json_node_check (json_array_get_element (array, i), error))
            return FALSE;
        return TRUE;
      }
    case JSON_NODE_VALUE:
      if (json_node_get_value_type (node) == G_TYPE_DOUBLE &&
          !isfinite (json_node_get_double (node)))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       _("JSON cannot represent the number %g"),
                       json_node_get_double (node));
          return FALSE;
        }
      return TRUE;
    case JSON_NODE_NULL:
    default:
      return TRUE;
    }
}

/**
 * sw_json_codec_new:
 *
 * Creates a codec using JSON text. Codecs are stateless: one instance can
 * serve any number of connections.
 *
 * Returns: (transfer full): a new [class@Sw.JsonCodec]
 *
 * Since: 0.1
 */
SwJsonCodec *
sw_json_codec_new (void)
{
  return g_object_new (SW_TYPE_JSON_CODEC, NULL);
}
