/* SPDX-License-Identifier: LGPL-2.1-or-later */

/**
 * SwDelimiterFraming:
 *
 * Ends each message with a delimiter byte sequence, "\n" unless told
 * otherwise: line-based protocols, and JSON Lines (one JSON document per
 * line, as Python's `json.dumps()` writes them by default).
 *
 * A frame is the payload followed by the delimiter; there is no header.
 * The received message is the bytes before the first occurrence of the
 * delimiter, which is not part of it. Empty messages are allowed.
 *
 * Sending a message that contains the delimiter fails with
 * %G_IO_ERROR_INVALID_ARGUMENT (the peer would see two messages), and so
 * does one ending with bytes that, followed by the delimiter, form an
 * earlier occurrence of it (the payload "xa" with the delimiter "aa").
 *
 * Decoding searches the buffered bytes once: when more bytes arrive the
 * search resumes where it stopped, less the `delimiter-length − 1` bytes
 * a delimiter split between two reads may start in, so receiving stays
 * linear in the message size. Since the length of a message is only known
 * once its delimiter has arrived, the connection applies
 * [property@Sw.Connection:max-message-size] to the bytes it buffers while
 * looking for it.
 *
 * Since: 0.1
 */

#include <string.h>

#include <glib/gi18n-lib.h>

#include "sw-delimiter-framing.h"
#include "sw-init-private.h"

struct _SwDelimiterFraming
{
  GObject parent_instance;

  GBytes *delimiter;  /* read-only after construction, never empty */
};

enum
{
  PROP_0,
  PROP_DELIMITER,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void sw_delimiter_framing_iface_init (SwFramingInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (SwDelimiterFraming, sw_delimiter_framing, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (SW_TYPE_FRAMING,
                                                      sw_delimiter_framing_iface_init))

static const guint8 *
find (const guint8 *data,
      gsize         length,
      const guint8 *delimiter,
      gsize         delimiter_length)
{
  /* An empty payload's data may be NULL, which memchr() must not get. */
  if (length < delimiter_length)
    return NULL;
  if (delimiter_length == 1)
    return memchr (data, delimiter[0], length);
  return memmem (data, length, delimiter, delimiter_length);
}

/* The state is the offset the next search starts at: no delimiter starts
 * before it. */
static SwFramingResult
sw_delimiter_framing_decode (SwFraming     *framing,
                             const guint8  *data,
                             gsize          length,
                             guint64       *state,
                             gsize         *header_length,
                             guint64       *payload_length,
                             gsize         *trailer_length,
                             gsize         *needed,
                             GError       **error)
{
  SwDelimiterFraming *self = SW_DELIMITER_FRAMING (framing);
  gsize delimiter_length;
  const guint8 *delimiter = g_bytes_get_data (self->delimiter, &delimiter_length);
  gsize from = (gsize) MIN (*state, (guint64) length);
  const guint8 *found;

  found = find (data + from, length - from, delimiter, delimiter_length);
  if (found == NULL)
    {
      /* A delimiter may begin in the last delimiter_length - 1 bytes and
       * end in bytes not read yet. */
      *state = length >= delimiter_length - 1 ? length - (delimiter_length - 1) : 0;
      *needed = length < delimiter_length ? delimiter_length - length : 1;
      return SW_FRAMING_RESULT_NEED_MORE;
    }

  *header_length = 0;
  *payload_length = (guint64) (found - data);
  *trailer_length = delimiter_length;
  return SW_FRAMING_RESULT_FRAME;
}

/* Whether @data followed by the delimiter holds the delimiter anywhere but
 * at its end. */
static gboolean
occurs_early (const guint8 *data,
              gsize         size,
              const guint8 *delimiter,
              gsize         delimiter_length)
{
  if (find (data, size, delimiter, delimiter_length) != NULL)
    return TRUE;

  /* Starting k bytes before the end: the payload ends with the first k
   * bytes of the delimiter, and the delimiter overlaps itself by L - k. */
  for (gsize k = MIN (size, delimiter_length - 1); k > 0; k--)
    if (memcmp (data + size - k, delimiter, k) == 0
        && memcmp (delimiter + k, delimiter, delimiter_length - k) == 0)
      return TRUE;
  return FALSE;
}

static gboolean
sw_delimiter_framing_encode (SwFraming  *framing,
                             GBytes     *payload,
                             GBytes    **header,
                             GBytes    **trailer,
                             GError    **error)
{
  SwDelimiterFraming *self = SW_DELIMITER_FRAMING (framing);
  gsize size, delimiter_length;
  const guint8 *data = g_bytes_get_data (payload, &size);
  const guint8 *delimiter = g_bytes_get_data (self->delimiter, &delimiter_length);

  if (occurs_early (data, size, delimiter, delimiter_length))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           _("The message contains the framing delimiter"));
      return FALSE;
    }
  *header = g_bytes_new_static ("", 0);
  *trailer = g_bytes_ref (self->delimiter);
  return TRUE;
}

static void
sw_delimiter_framing_iface_init (SwFramingInterface *iface)
{
  iface->decode = sw_delimiter_framing_decode;
  iface->encode = sw_delimiter_framing_encode;
}

static void
sw_delimiter_framing_get_property (GObject    *object,
                                   guint       prop_id,
                                   GValue     *value,
                                   GParamSpec *pspec)
{
  SwDelimiterFraming *self = SW_DELIMITER_FRAMING (object);

  switch (prop_id)
    {
    case PROP_DELIMITER:
      g_value_set_boxed (value, self->delimiter);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
sw_delimiter_framing_set_property (GObject      *object,
                                   guint         prop_id,
                                   const GValue *value,
                                   GParamSpec   *pspec)
{
  SwDelimiterFraming *self = SW_DELIMITER_FRAMING (object);
  GBytes *delimiter;

  switch (prop_id)
    {
    case PROP_DELIMITER:
      delimiter = g_value_get_boxed (value);
      /* An empty delimiter would end a frame before every byte. */
      if (delimiter != NULL && g_bytes_get_size (delimiter) == 0)
        {
          g_critical ("%s: the delimiter of a SwDelimiterFraming must not be empty",
                      G_STRFUNC);
          delimiter = NULL;
        }
      self->delimiter = delimiter != NULL ? g_bytes_ref (delimiter)
                                          : g_bytes_new_static ("\n", 1);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
sw_delimiter_framing_finalize (GObject *object)
{
  SwDelimiterFraming *self = SW_DELIMITER_FRAMING (object);

  g_clear_pointer (&self->delimiter, g_bytes_unref);
  G_OBJECT_CLASS (sw_delimiter_framing_parent_class)->finalize (object);
}

static void
sw_delimiter_framing_class_init (SwDelimiterFramingClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  sw_init ();
  object_class->get_property = sw_delimiter_framing_get_property;
  object_class->set_property = sw_delimiter_framing_set_property;
  object_class->finalize = sw_delimiter_framing_finalize;

  /**
   * SwDelimiterFraming:delimiter:
   *
   * The byte sequence that ends each message. %NULL at construction
   * means "\n"; reading the property always gives the delimiter in use.
   * An empty delimiter is a programming error: it is refused with a
   * critical warning and "\n" is used instead.
   *
   * Since: 0.1
   */
  properties[PROP_DELIMITER] =
    g_param_spec_boxed ("delimiter", NULL, NULL, G_TYPE_BYTES,
                        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY
                        | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
sw_delimiter_framing_init (SwDelimiterFraming *self)
{
}

/**
 * sw_delimiter_framing_new:
 * @delimiter: (nullable): the non-empty byte sequence that ends each
 *   message, or %NULL for "\n"
 *
 * Creates a framing that ends each message with @delimiter. Framings are
 * stateless: one instance can serve many connections.
 *
 * Returns: (transfer full): a new [class@Sw.DelimiterFraming]
 *
 * Since: 0.1
 */
SwDelimiterFraming *
sw_delimiter_framing_new (GBytes *delimiter)
{
  g_return_val_if_fail (delimiter == NULL || g_bytes_get_size (delimiter) > 0, NULL);

  return g_object_new (SW_TYPE_DELIMITER_FRAMING, "delimiter", delimiter, NULL);
}

/**
 * sw_delimiter_framing_get_delimiter:
 * @self: a delimiter framing
 *
 * Gets the byte sequence that ends each message.
 *
 * Returns: (transfer none): the delimiter, never empty
 *
 * Since: 0.1
 */
GBytes *
sw_delimiter_framing_get_delimiter (SwDelimiterFraming *self)
{
  g_return_val_if_fail (SW_IS_DELIMITER_FRAMING (self), NULL);

  return self->delimiter;
}
