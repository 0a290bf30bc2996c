/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* swcat's text side: standard input cut into records that become
 * messages, and received messages printed on standard output.
 *
 * With a codec, a record is a line of JSON text: the JSON codec turns it
 * into a value and the connection's codec into a message, and back for
 * printing, so every codec has the same text form, the mapping the JSON
 * codec documents. Without one, a record's bytes are the message. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <glib/gi18n.h>

#include "swcat.h"

void
swcat_splitter_init (SwcatSplitter *self)
{
  self->pending = g_byte_array_new ();
  self->record = 1;
}

void
swcat_splitter_clear (SwcatSplitter *self)
{
  g_clear_pointer (&self->pending, g_byte_array_unref);
}

static gboolean
is_blank (const guint8 *data,
          gsize         length)
{
  for (gsize i = 0; i < length; i++)
    if (!g_ascii_isspace (data[i]))
      return FALSE;
  return TRUE;
}

/* Turns one record into a message, or into nothing (NULL without an
 * error) for a blank line of JSON text. */
static GBytes *
encode_record (SwcatSplitter      *self,
               const SwcatFormat  *format,
               const guint8       *data,
               gsize               length,
               GError            **error)
{
  g_autoptr(GBytes) text = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GError) local_error = NULL;
  GBytes *message = NULL;
  guint64 record = self->record++;

  if (format->codec == NULL)
    return g_bytes_new (data, length);
  if (is_blank (data, length))
    return NULL;

  text = g_bytes_new (data, length);
  value = sw_codec_decode (format->json, text, &local_error);
  if (value != NULL)
    message = sw_codec_encode (format->codec, value, &local_error);
  if (local_error != NULL)
    {
      g_set_error (error, local_error->domain, local_error->code,
                   _("Standard input, line %" G_GUINT64_FORMAT ": %s"),
                   record, local_error->message);
      return NULL;
    }
  return message;
}

/* Appends the message of one record, if it has one, to @messages. */
static gboolean
add_record (SwcatSplitter      *self,
            const SwcatFormat  *format,
            GPtrArray          *messages,
            const guint8       *data,
            gsize               length,
            GError            **error)
{
  g_autoptr(GError) local_error = NULL;
  GBytes *message = encode_record (self, format, data, length, &local_error);

  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  if (message != NULL)
    g_ptr_array_add (messages, message);
  return TRUE;
}

/* Cuts @chunk (NULL at the end of the input) into records: each complete
 * one, and at the end a last one without its terminator, becomes a
 * message; the start of an incomplete one waits for the next chunk. */
GPtrArray *
swcat_splitter_feed (SwcatSplitter      *self,
                     const SwcatFormat  *format,
                     GBytes             *chunk,
                     GError            **error)
{
  g_autoptr(GPtrArray) messages = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  guint8 terminator = format->nul ? '\0' : '\n';
  const guint8 *data;
  gsize length, start = 0;

  if (chunk == NULL)
    {
      if (self->pending->len > 0 &&
          !add_record (self, format, messages, self->pending->data, self->pending->len, error))
        return NULL;
      g_byte_array_set_size (self->pending, 0);
      return g_steal_pointer (&messages);
    }

  data = g_bytes_get_data (chunk, &length);
  for (gsize i = 0; i < length; i++)
    {
      const guint8 *record = data + start;
      gsize record_length = i - start;

      if (data[i] != terminator)
        continue;
      if (self->pending->len > 0)
        {
          /* The record began in an earlier chunk. */
          g_byte_array_append (self->pending, record, record_length);
          record = self->pending->data;
          record_length = self->pending->len;
        }
      if (!add_record (self, format, messages, record, record_length, error))
        return NULL;
      g_byte_array_set_size (self->pending, 0);
      start = i + 1;
    }
  g_byte_array_append (self->pending, data + start, length - start);
  return g_steal_pointer (&messages);
}

/* C-style escaping that keeps text readable: printable ASCII and valid
 * UTF-8 characters stay as they are; backslash, newline, carriage return
 * and tab become \\, \n, \r and \t; every other byte (other control
 * characters, NUL, bytes that are not UTF-8) becomes \xHH. The result is
 * one line, which Python's codecs.escape_decode() turns back into the
 * bytes. */
char *
swcat_escape (const guint8 *data,
              gsize         length)
{
  GString *out = g_string_sized_new (length + 16);
  gsize i = 0;

  while (i < length)
    {
      const char *at = (const char *) data + i;
      gunichar c = g_utf8_get_char_validated (at, length - i);

      if (data[i] == '\\')
        g_string_append (out, "\\\\");
      else if (data[i] == '\n')
        g_string_append (out, "\\n");
      else if (data[i] == '\r')
        g_string_append (out, "\\r");
      else if (data[i] == '\t')
        g_string_append (out, "\\t");
      else if (c != (gunichar) -1 && c != (gunichar) -2 && c != 0 &&
               c >= 0x20 && c != 0x7f && !(c >= 0x80 && c < 0xa0))
        {
          gsize n = g_utf8_next_char (at) - at;

          g_string_append_len (out, at, n);
          i += n;
          continue;
        }
      else
        g_string_append_printf (out, "\\x%02x", data[i]);
      i++;
    }
  return g_string_free (out, FALSE);
}

static gboolean
output_failed (GError **error)
{
  int saved_errno = errno;

  g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
               _("Cannot write to standard output: %s"), g_strerror (saved_errno));
  return FALSE;
}

/* Writes @length bytes and a terminator to standard output's buffer. */
static gboolean
print_record (const void  *data,
              gsize        length,
              char         terminator,
              GError     **error)
{
  if ((length > 0 && fwrite (data, 1, length, stdout) != length) ||
      fputc (terminator, stdout) == EOF)
    return output_failed (error);
  return TRUE;
}

/* Writes out what was printed, so that a reader at the other end of a
 * pipe sees the messages received so far. */
gboolean
swcat_output_flush (GError **error)
{
  if (fflush (stdout) == EOF)
    return output_failed (error);
  return TRUE;
}

/* Prints @message as the format says, into standard output's buffer
 * (see swcat_output_flush()): a line of JSON text for a value, the escaped
 * or raw bytes otherwise. A message the codecs cannot convert
 * fails with their G_IO_ERROR, standard output with a G_FILE_ERROR. */
gboolean
swcat_format_print (const SwcatFormat  *format,
                    GBytes             *message,
                    GError            **error)
{
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GBytes) text = NULL;
  g_autofree char *escaped = NULL;
  gsize length;
  const guint8 *data = g_bytes_get_data (message, &length);

  if (format->codec != NULL)
    {
      value = sw_codec_decode (format->codec, message, error);
      if (value == NULL)
        return FALSE;
      text = sw_codec_encode (format->json, value, error);
      if (text == NULL)
        return FALSE;
      data = g_bytes_get_data (text, &length);
      return print_record (data, length, '\n', error);
    }
  if (format->raw)
    return print_record (data, length, format->nul ? '\0' : '\n', error);

  escaped = swcat_escape (data, length);
  return print_record (escaped, strlen (escaped), format->nul ? '\0' : '\n', error);
}
