/* SPDX-License-Identifier: LGPL-2.1-or-later */

/**
 * SwFraming:
 *
 * Where a message ends on a byte stream.
 *
 * A framing turns a payload into a frame (header + payload + trailer) and
 * recognises the frame at the start of the bytes a connection has buffered.
 * Framings are stateless and can be shared between connections and threads;
 * the per-connection decoding state is the `state` word the connection keeps
 * for them (see [method@Sw.Framing.decode]).
 *
 * Built-in framings are [class@Sw.VarIntFraming] (the default, see
 * [func@Sw.Framing.get_default]) and [class@Sw.MultiprocessingFraming].
 *
 * ## Writing a framing
 *
 * Implement [vfunc@Sw.Framing.decode] and [vfunc@Sw.Framing.encode]. Both
 * are binding-friendly, so a framing can be written in Python or
 * JavaScript as well as in C. The connection calls them through
 * [method@Sw.Framing.decode] and [method@Sw.Framing.encode], which check
 * the answers: a framing that breaks the contract makes the receive or the
 * send fail with an error instead of hanging or corrupting the stream.
 *
 * Since: 0.1
 */

#include <glib/gi18n-lib.h>

#include "sw-framing-private.h"
#include "sw-varint-framing.h"

G_DEFINE_ENUM_TYPE (SwFramingResult, sw_framing_result,
  G_DEFINE_ENUM_VALUE (SW_FRAMING_RESULT_ERROR, "error"),
  G_DEFINE_ENUM_VALUE (SW_FRAMING_RESULT_FRAME, "frame"),
  G_DEFINE_ENUM_VALUE (SW_FRAMING_RESULT_NEED_MORE, "need-more"))

G_DEFINE_INTERFACE (SwFraming, sw_framing, G_TYPE_OBJECT)

/* The fast path registry. The connection looks a framing up per message,
 * so readers take no lock: an entry is written before @n_fast_paths
 * publishes it (atomic store, full barrier) and never changes afterwards.
 * Writers (class_init of the built-in framings) are serialised by
 * @fast_paths_lock. A handful of built-in types fits in the array. */
#define MAX_FAST_PATHS 8

static struct
{
  GType                    type;
  const SwFramingFastPath *fast_path;
} fast_paths[MAX_FAST_PATHS];     /* entries below n_fast_paths: read-only */
static gint n_fast_paths;         /* atomic */
static GMutex fast_paths_lock;    /* serialises writers */

/* The defaults make an implementation that forgot a vfunc fail cleanly
 * (a binding that leaves one out gets these, too). */
static SwFramingResult
sw_framing_real_decode (SwFraming     *self,
                        const guint8  *data,
                        gsize          length,
                        guint64       *state,
                        gsize         *header_length,
                        guint64       *payload_length,
                        gsize         *trailer_length,
                        gsize         *needed,
                        GError       **error)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
               _("Framing %s does not implement decoding"),
               G_OBJECT_TYPE_NAME (self));
  return SW_FRAMING_RESULT_ERROR;
}

static gboolean
sw_framing_real_encode (SwFraming  *self,
                        GBytes     *payload,
                        GBytes    **header,
                        GBytes    **trailer,
                        GError    **error)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
               _("Framing %s does not implement encoding"),
               G_OBJECT_TYPE_NAME (self));
  return FALSE;
}

static void
sw_framing_default_init (SwFramingInterface *iface)
{
  iface->decode = sw_framing_real_decode;
  iface->encode = sw_framing_real_encode;
}

/* Checks a FRAME answer. A frame of zero bytes would let the connection
 * return empty messages forever without consuming input; a header longer
 * than the bytes seen cannot have been decoded. Huge lengths are not an
 * error here: the wire formats allow them, and the caller's size limit
 * (max-message-size) turns them into G_IO_ERROR_MESSAGE_TOO_LARGE. Lengths
 * whose sum overflows (header and trailer are gsize, a payload guint64)
 * are: callers add them up, and a sum that wraps would make them return
 * empty messages or read past the buffer. The one exception is a length prefix announcing a payload of up
 * to G_MAXUINT64 with no trailer, which the wire formats allow (a VarInt
 * header can say 2^64 - 1): its header is buffered and its payload is
 * refused as too large before anything adds them. */
static gboolean
check_frame (SwFraming  *self,
             gsize       length,
             gsize       header_length,
             guint64     payload_length,
             gsize       trailer_length,
             GError    **error)
{
  gsize overhead;
  guint64 total;

  if (header_length > length)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("Framing %s reported a header longer than the data it decoded"),
                   G_OBJECT_TYPE_NAME (self));
      return FALSE;
    }

  if (header_length == 0 && payload_length == 0 && trailer_length == 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("Framing %s reported an empty frame"),
                   G_OBJECT_TYPE_NAME (self));
      return FALSE;
    }

  if (!g_size_checked_add (&overhead, header_length, trailer_length)
      || (trailer_length > 0
          && !g_uint64_checked_add (&total, overhead, payload_length)))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("Framing %s reported frame lengths that overflow when added "
                     "(header %" G_GSIZE_FORMAT ", payload %" G_GUINT64_FORMAT
                     ", trailer %" G_GSIZE_FORMAT " bytes)"),
                   G_OBJECT_TYPE_NAME (self), header_length, payload_length,
                   trailer_length);
      return FALSE;
    }

  return TRUE;
}

/* Checks a NEED_MORE answer: @needed counts bytes that will follow the
 * @length already buffered, so their sum must be a buffer size. */
static gboolean
check_need_more (SwFraming  *self,
                 gsize       length,
                 gsize       needed,
                 GError    **error)
{
  gsize total;

  if (needed == 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("Framing %s asked for more data without saying how much"),
                   G_OBJECT_TYPE_NAME (self));
      return FALSE;
    }

  if (!g_size_checked_add (&total, length, needed))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("Framing %s asked for %" G_GSIZE_FORMAT " more bytes after %"
                     G_GSIZE_FORMAT ", more than any buffer can hold"),
                   G_OBJECT_TYPE_NAME (self), needed, length);
      return FALSE;
    }

  return TRUE;
}

/* Turns whatever the implementation answered into a valid answer: a
 * broken framing must make the receive fail, never loop or crash. */
static SwFramingResult
check_decode_result (SwFraming        *self,
                     SwFramingResult   result,
                     gsize             length,
                     gsize             header_length,
                     guint64           payload_length,
                     gsize             trailer_length,
                     gsize             needed,
                     GError          **error)
{
  switch (result)
    {
    case SW_FRAMING_RESULT_FRAME:
      if (!check_frame (self, length, header_length, payload_length,
                        trailer_length, error))
        return SW_FRAMING_RESULT_ERROR;
      return SW_FRAMING_RESULT_FRAME;

    case SW_FRAMING_RESULT_NEED_MORE:
      if (!check_need_more (self, length, needed, error))
        return SW_FRAMING_RESULT_ERROR;
      return SW_FRAMING_RESULT_NEED_MORE;

    case SW_FRAMING_RESULT_ERROR:
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("Framing %s failed to decode the data"),
                   G_OBJECT_TYPE_NAME (self));
      return SW_FRAMING_RESULT_ERROR;

    default:
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("Framing %s returned an invalid result %d"),
                   G_OBJECT_TYPE_NAME (self), (int) result);
      return SW_FRAMING_RESULT_ERROR;
    }
}

/**
 * sw_framing_decode:
 * @self: a framing
 * @data: (array length=length): the bytes buffered so far, starting at the
 *   first byte of a frame (%NULL is allowed when @length is 0)
 * @length: the number of bytes in @data
 * @state: (inout): opaque per-connection scratch word, zeroed by the caller
 *   at each frame start; a scanning framing stores where it stopped so
 *   decoding stays linear
 * @header_length: (out): on [enum@Sw.FramingResult.FRAME], the length of
 *   the frame header
 * @payload_length: (out): on [enum@Sw.FramingResult.FRAME], the length of
 *   the payload, which may exceed what fits in memory (up to %G_MAXUINT64:
 *   compare it with a limit before adding the header or trailer length)
 * @trailer_length: (out): on [enum@Sw.FramingResult.FRAME], the length of
 *   the trailer (0 for framings without one)
 * @needed: (out): on [enum@Sw.FramingResult.NEED_MORE], a lower bound
 *   (at least 1) of the bytes that must follow @data before the frame can
 *   be recognised
 * @error: return location for a #GError
 *
 * Recognises the frame at the start of @data.
 *
 * The answer is [enum@Sw.FramingResult.FRAME] as soon as the lengths of
 * the frame's header, payload and trailer are known. The header lies within
 * @data; the payload and trailer may extend beyond it, the connection reads
 * the rest. Length-prefixed framings therefore answer as soon as the header
 * is complete. A frame has at least one byte.
 *
 * [enum@Sw.FramingResult.NEED_MORE] asks for at least @needed more bytes.
 * The connection calls again, with the same @state, once more bytes are
 * buffered; @needed must never overshoot, so that a connection that does
 * not read ahead never reads past the frame.
 *
 * [enum@Sw.FramingResult.ERROR] means the bytes cannot start a valid frame,
 * usually with %G_IO_ERROR_INVALID_DATA.
 *
 * An implementation that answers inconsistently (for example
 * [enum@Sw.FramingResult.NEED_MORE] with @needed 0, or an error without a
 * #GError) makes this function return [enum@Sw.FramingResult.ERROR] with
 * %G_IO_ERROR_INVALID_DATA. So do lengths whose sum overflows: header and
 * trailer (as a #gsize), header, payload and a non-zero trailer (as a
 * #guint64), or @length and @needed (as a #gsize). A payload of up to %G_MAXUINT64 without a trailer is a valid
 * answer (a length prefix may announce it); the connection refuses it as
 * too large.
 *
 * Returns: what was found at the start of @data
 *
 * Since: 0.1
 */
SwFramingResult
sw_framing_decode (SwFraming     *self,
                   const guint8  *data,
                   gsize          length,
                   guint64       *state,
                   gsize         *header_length,
                   guint64       *payload_length,
                   gsize         *trailer_length,
                   gsize         *needed,
                   GError       **error)
{
  g_autoptr (GError) local_error = NULL;
  SwFramingInterface *iface;
  SwFramingResult result;

  g_return_val_if_fail (SW_IS_FRAMING (self), SW_FRAMING_RESULT_ERROR);
  g_return_val_if_fail (data != NULL || length == 0, SW_FRAMING_RESULT_ERROR);
  g_return_val_if_fail (state != NULL, SW_FRAMING_RESULT_ERROR);
  g_return_val_if_fail (header_length != NULL, SW_FRAMING_RESULT_ERROR);
  g_return_val_if_fail (payload_length != NULL, SW_FRAMING_RESULT_ERROR);
  g_return_val_if_fail (trailer_length != NULL, SW_FRAMING_RESULT_ERROR);
  g_return_val_if_fail (needed != NULL, SW_FRAMING_RESULT_ERROR);
  g_return_val_if_fail (error == NULL || *error == NULL, SW_FRAMING_RESULT_ERROR);

  *header_length = 0;
  *payload_length = 0;
  *trailer_length = 0;
  *needed = 0;

  /* Implementations always get a readable buffer, even an empty one. */
  if (data == NULL)
    data = (const guint8 *) "";

  /* Our own GError, so we can tell whether the implementation set one
   * even when the caller passed NULL. */
  iface = SW_FRAMING_GET_IFACE (self);
  result = iface->decode (self, data, length, state, header_length,
                          payload_length, trailer_length, needed,
                          &local_error);

  if (local_error != NULL)
    {
      /* An error wins over whatever else was answered. */
      g_propagate_error (error, g_steal_pointer (&local_error));
      return SW_FRAMING_RESULT_ERROR;
    }

  return check_decode_result (self, result, length, *header_length,
                              *payload_length, *trailer_length, *needed,
                              error);
}

/**
 * sw_framing_encode:
 * @self: a framing
 * @payload: the payload to frame
 * @header: (out) (transfer full): return location for the frame header,
 *   possibly empty
 * @trailer: (out) (transfer full) (nullable) (optional): return location
 *   for the frame trailer; %NULL is stored when the framing writes none
 * @error: return location for a #GError
 *
 * Makes the header and trailer that frame @payload. The payload itself is
 * not copied: the connection writes header, payload and trailer as one
 * vector.
 *
 * Passing %NULL for @trailer says the caller cannot write a trailer; if the
 * framing has one, the call fails with %G_IO_ERROR_NOT_SUPPORTED rather
 * than produce a torn frame.
 *
 * An implementation that returns %TRUE without a header, or %FALSE without
 * a #GError, makes this function fail with %G_IO_ERROR_FAILED.
 *
 * Returns: %TRUE on success, %FALSE with @error set otherwise
 *
 * Since: 0.1
 */
gboolean
sw_framing_encode (SwFraming  *self,
                   GBytes     *payload,
                   GBytes    **header,
                   GBytes    **trailer,
                   GError    **error)
{
  g_autoptr (GError) local_error = NULL;
  g_autoptr (GBytes) local_header = NULL;
  g_autoptr (GBytes) local_trailer = NULL;
  SwFramingInterface *iface;
  gboolean ok;

  g_return_val_if_fail (SW_IS_FRAMING (self), FALSE);
  g_return_val_if_fail (payload != NULL, FALSE);
  g_return_val_if_fail (header != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  iface = SW_FRAMING_GET_IFACE (self);
  ok = iface->encode (self, payload, &local_header, &local_trailer,
                      &local_error);

  if (!ok || local_error != NULL)
    {
      if (local_error == NULL)
        g_set_error (&local_error, G_IO_ERROR, G_IO_ERROR_FAILED,
                     _("Framing %s failed to encode the message"),
                     G_OBJECT_TYPE_NAME (self));
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }

  if (local_header == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   _("Framing %s returned no frame header"),
                   G_OBJECT_TYPE_NAME (self));
      return FALSE;
    }

  /* An empty trailer is no trailer: callers test for NULL only. */
  if (local_trailer != NULL && g_bytes_get_size (local_trailer) == 0)
    g_clear_pointer (&local_trailer, g_bytes_unref);

  if (trailer == NULL && local_trailer != NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   _("Framing %s writes a frame trailer the caller cannot send"),
                   G_OBJECT_TYPE_NAME (self));
      return FALSE;
    }

  *header = g_steal_pointer (&local_header);
  if (trailer != NULL)
    *trailer = g_steal_pointer (&local_trailer);
  return TRUE;
}

/**
 * sw_framing_get_default:
 *
 * Gets the framing connections use when none is given: a shared
 * [class@Sw.VarIntFraming], the same instance on every call and in every
 * thread.
 *
 * Returns: (transfer none): the default framing
 *
 * Since: 0.1
 */
SwFraming *
sw_framing_get_default (void)
{
  static gsize default_framing = 0;

  /* Created once and kept for the life of the process: framings are
   * stateless, so one instance serves every connection. */
  if (g_once_init_enter (&default_framing))
    g_once_init_leave (&default_framing,
                       (gsize) SW_FRAMING (sw_varint_framing_new ()));
  return (SwFraming *) default_framing;
}

void
sw_framing_set_fast_path (GType                    type,
                          const SwFramingFastPath *fast_path)
{
  gint n;

  g_return_if_fail (g_type_is_a (type, SW_TYPE_FRAMING));
  g_return_if_fail (fast_path != NULL);
  g_return_if_fail (fast_path->decode != NULL);
  g_return_if_fail (fast_path->encode_header != NULL);

  g_mutex_lock (&fast_paths_lock);
  n = g_atomic_int_get (&n_fast_paths);
  for (gint i = 0; i < n; i++)
    if (fast_paths[i].type == type)
      {
        g_critical ("%s: %s already has a fast path", G_STRFUNC,
                    g_type_name (type));
        g_mutex_unlock (&fast_paths_lock);
        return;
      }
  if (n == MAX_FAST_PATHS)
    g_error ("%s: too many framing fast paths, raise MAX_FAST_PATHS",
             G_STRFUNC);
  fast_paths[n].type = type;
  fast_paths[n].fast_path = fast_path;
  g_atomic_int_set (&n_fast_paths, n + 1);
  g_mutex_unlock (&fast_paths_lock);
}

const SwFramingFastPath *
sw_framing_get_fast_path (SwFraming *framing)
{
  GType type;
  gint n;

  g_return_val_if_fail (SW_IS_FRAMING (framing), NULL);

  /* The exact type only: a subclass may override what the fast path
   * would bypass. */
  type = G_OBJECT_TYPE (framing);
  n = g_atomic_int_get (&n_fast_paths);
  for (gint i = 0; i < n; i++)
    if (fast_paths[i].type == type)
      return fast_paths[i].fast_path;
  return NULL;
}

gboolean
sw_framing_is_thread_bound (SwFraming *framing)
{
  /* GJS marks every GType it registers for a JS class with this type
   * data, and exists only if GJS is loaded. A JS subclass of a JS class
   * is marked too; a C type derived from a JS one cannot exist. */
  GQuark gjs_custom_type = g_quark_try_string ("gjs::custom-type");

  g_return_val_if_fail (SW_IS_FRAMING (framing), FALSE);

  return gjs_custom_type != 0
         && g_type_get_qdata (G_OBJECT_TYPE (framing), gjs_custom_type) != NULL;
}
