/* SPDX-License-Identifier: LGPL-2.1-or-later */

/**
 * SwJsonCodec:
 *
 * Encodes values as JSON text.
 *
 * Each message is one JSON value in compact UTF-8 text, without a trailing
 * newline or NUL, so any JSON library can read and write it (Python:
 * `json.loads(data)` and `json.dumps(value).encode()`). The conversion is
 * json-glib's (see [func@Json.gvariant_serialize] and
 * [func@Json.gvariant_deserialize]) with no type signature: JSON carries no
 * GVariant types, so decoding picks the natural one for each JSON value.
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
 * Anything else that is not exactly one valid JSON value in UTF-8 (empty
 * text, trailing data, invalid UTF-8, a syntax error) fails with
 * %G_IO_ERROR_INVALID_DATA and a message saying where.
 *
 * Since: 0.1
 */

#include <math.h>
#include <string.h>
#include <glib/gi18n-lib.h>

#include "sw-init-private.h"
#include "sw-json-codec.h"
#include "sw-json-codec-private.h"

struct _SwJsonCodec
{
  GObject parent_instance;
};

/* Where check_json_text() is, so its errors can say where. */
typedef struct
{
  const char *text;
  gsize       length;
  gsize       pos;
  guint       line;        /* 1-based */
  gsize       line_start;  /* offset of the current line's first byte */
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

/* The characters of a number's fraction and exponent. */
static inline gboolean
is_float_char (char c)
{
  return c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-' ||
         g_ascii_isdigit (c);
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

/* Skips a string from its opening quote. An unterminated string is left
 * for the parser to report. */
static gboolean
scan_string (Scanner  *s,
             GError  **error)
{
  s->pos++;
  while (s->pos < s->length)
    {
      char c = s->text[s->pos];

      if (c == '"')
        {
          s->pos++;
          return TRUE;
        }
      if (c != '\\')
        s->pos++;
      else if (!scan_escape (s, error))
        return FALSE;
    }
  return TRUE;
}

/* json-glib reads integers into a gint64 without checking for overflow,
 * so 2^64 would arrive as 0: refuse what does not fit. Numbers with a
 * fraction or an exponent become doubles, which hold any magnitude. */
static gboolean
scan_number (Scanner  *s,
             GError  **error)
{
  gsize start = s->pos;
  gboolean negative = s->text[s->pos] == '-';
  guint64 magnitude = 0;
  gboolean overflow = FALSE;

  for (s->pos += negative;
       s->pos < s->length && g_ascii_isdigit (s->text[s->pos]);
       s->pos++)
    {
      guint digit = (guint) (s->text[s->pos] - '0');

      if (magnitude > (G_MAXUINT64 - digit) / 10)
        overflow = TRUE;
      else
        magnitude = magnitude * 10 + digit;
    }

  if (s->pos < s->length && (s->text[s->pos] == '.' ||
                              g_ascii_tolower (s->text[s->pos]) == 'e'))
    {
      while (s->pos < s->length && is_float_char (s->text[s->pos]))
        s->pos++;
      return TRUE;
    }

  if (overflow || magnitude > (guint64) G_MAXINT64 + negative)
    {
      s->pos = start;
      scanner_error (s, error, _("an integer is outside the 64-bit range"));
      return FALSE;
    }
  return TRUE;
}

/* Advances over one token (or one byte the parser will judge). Returns
 * FALSE with @error set on something the parser would accept but the codec
 * must refuse. */
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
      break;
    case ']': case '}':
      if (*depth > 0)  /* else unbalanced: the parser reports it */
        --*depth;
      break;
    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
      return scan_number (s, error);
    default:
      /* true, false, null and misspellings of them: one token. */
      if (g_ascii_isalpha (c))
        {
          while (s->pos + 1 < s->length &&
                 g_ascii_isalnum (s->text[s->pos + 1]))
            s->pos++;
        }
      break;
    }
  s->pos++;
  return TRUE;
}

/* One linear pass over untrusted text before json-glib parses it, for what
 * json-glib does not check: nesting depth (its parser recurses), integer
 * overflow, U+0000, data after the value (it stops at the first value),
 * and an empty message. Syntax errors are left to the parser, whose
 * messages say more. */
static gboolean
check_json_text (const char  *text,
                 gsize        length,
                 GError     **error)
{
  Scanner s = { text, length, 0, 1, 0 };
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
  return TRUE;
}

/* Walks only the parts whose type can hold a double or a uint64, so
 * typical values (strings, byte arrays) cost one strpbrk(). */
static gboolean
check_value (GVariant  *value,
             GError   **error)
{
  const char *type = g_variant_get_type_string (value);
  GVariantIter iter;
  GVariant *child;

  if (strpbrk (type, "dtv") == NULL)
    return TRUE;

  if (type[0] == 'd' && !isfinite (g_variant_get_double (value)))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("JSON cannot represent the number %g"),
                   g_variant_get_double (value));
      return FALSE;
    }
  if (type[0] == 't' && g_variant_get_uint64 (value) > G_MAXINT64)
    {
      g_autofree char *number = g_variant_print (value, FALSE);

      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("The JSON codec cannot encode the uint64 %s: it is "
                     "larger than the largest int64"), number);
      return FALSE;
    }
  if (!g_variant_is_container (value))
    return TRUE;

  g_variant_iter_init (&iter, value);
  while ((child = g_variant_iter_next_value (&iter)) != NULL)
    {
      gboolean ok = check_value (child, error);

      g_variant_unref (child);
      if (!ok)
        return FALSE;
    }
  return TRUE;
}

static GBytes *
sw_json_codec_encode (SwCodec   *codec,
                      GVariant  *value,
                      GError   **error)
{
  g_autoptr(JsonNode) node = NULL;

  if (!check_value (value, error))
    return NULL;

  node = json_gvariant_serialize (value);
  return sw_json_node_to_bytes (node);
}

static GVariant *
sw_json_codec_decode (SwCodec   *codec,
                      GBytes    *bytes,
                      GError   **error)
{
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(GError) local_error = NULL;
  GVariant *value;

  node = sw_json_node_from_bytes (bytes, error);
  if (node == NULL)
    return NULL;

  value = json_gvariant_deserialize (node, NULL, &local_error);
  if (value == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("JSON value cannot be converted to a GVariant: %s"),
                   local_error->message);
      return NULL;
    }
  return g_variant_take_ref (value);
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
  /* The allocation ends with a NUL the bytes leave out. */
  return g_bytes_new_take (text, length);
}

JsonNode *
sw_json_node_from_bytes (GBytes  *bytes,
                         GError **error)
{
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) local_error = NULL;
  const char *text;
  gsize length;
  JsonNode *root;

  g_return_val_if_fail (bytes != NULL, NULL);

  text = g_bytes_get_data (bytes, &length);
  if (!check_json_text (text, length, error))
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
