/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* An iterative MessagePack scanner: it finds where one object ends without
 * building it, for SwMsgPackFraming and SwMsgPackCodec.
 *
 * The object's end is found by counting: one item is pending at the start;
 * each item header read takes one pending item and adds its children (array
 * items, twice the map pairs); str/bin/ext data is skipped by arithmetic,
 * so a declared 4 GiB string costs nothing until its bytes arrive. The
 * object ends when nothing is pending.
 *
 * Resuming. The framing gets one guint64 of state per connection, zeroed at
 * each frame start, and the connection calls again with more bytes. The
 * count above needs exactly two numbers at an item boundary: the offset of
 * the next header and the items pending. Both can exceed 32 bits (a 5 GiB
 * object; an array32 of 2^32 nils), so a fixed split would either cap
 * objects at a few GiB or cap pending items at a few million. The split is
 * therefore variable:
 *
 *   bits 58..63  w, the bit length of the offset (0..58)
 *   bits  0..w-1 the offset
 *   bits  w..57  pending - 1
 *
 * so the state 0 means "offset 0, one item pending": the start. Any
 * position whose offset and pending count need 58 bits together fits:
 * every object up to 2^29 bytes (offset + pending <= object size), and
 * larger ones unless a huge offset meets a huge pending count (e.g. 16 GiB
 * scanned with 2^26 items still due). Beyond that the scanner fails with
 * G_IO_ERROR_MESSAGE_TOO_LARGE rather than lose its place. The offset may
 * lie beyond the bytes buffered when it stopped inside str/bin/ext data.
 *
 * Depth. The nesting depth cannot be kept in the state: deciding whether a
 * container closes needs the pending count of every open level, a stack no
 * fixed number of bits can hold. So the resumable pass only counts, and
 * once it has found the end, a second pass over the (now complete) headers
 * walks them with an explicit stack of SW_MSGPACK_MAX_DEPTH counts. Each
 * pass reads every header once, so decoding stays linear however the bytes
 * arrive: a call examines only the headers after its resume point, plus
 * at most one partial header again.
 */

#include <string.h>

#include <glib/gi18n-lib.h>

#include "sw-bytes-private.h"
#include "sw-msgpack-private.h"

#define STATE_BITS 58

guint
sw_msgpack_header_length (guint8 first)
{
  if (first <= 0xbf || first >= 0xe0)
    return 1;  /* fixint, fixmap, fixarray, fixstr, negative fixint */

  switch (first)
    {
    case 0xc0: case 0xc2: case 0xc3:
      return 1;
    case 0xc4: case 0xcc: case 0xd0: case 0xd9:
    case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
      return 2;
    case 0xc5: case 0xc7: case 0xcd: case 0xd1: case 0xda: case 0xdc:
    case 0xde:
      return 3;
    case 0xc8:
      return 4;
    case 0xc6: case 0xca: case 0xce: case 0xd2: case 0xdb: case 0xdd:
    case 0xdf:
      return 5;
    case 0xc9:
      return 6;
    case 0xcb: case 0xcf: case 0xd3:
      return 9;
    case 0xc1:
    default:
      return 0;
    }
}

static void
parse_fixed (const guint8  *data,
             SwMsgPackItem *item)
{
  guint8 first = data[0];

  if (first <= 0x7f)
    {
      item->kind = SW_MSGPACK_UINT;
      item->value.u = first;
    }
  else if (first <= 0x8f)
    {
      item->kind = SW_MSGPACK_MAP;
      item->size = first & 0x0f;
    }
  else if (first <= 0x9f)
    {
      item->kind = SW_MSGPACK_ARRAY;
      item->size = first & 0x0f;
    }
  else if (first <= 0xbf)
    {
      item->kind = SW_MSGPACK_STR;
      item->size = first & 0x1f;
    }
  else
    {
      item->kind = SW_MSGPACK_INT;
      item->value.i = (gint8) first;
    }
}

static void
parse_number (const guint8  *data,
              guint          n,
              SwMsgPackItem *item)
{
  guint64 raw = sw_get_be (data + 1, n);
  guint8 first = data[0];

  if (first == 0xca)
    {
      union { guint32 u; gfloat f; } f32 = { .u = (guint32) raw };

      item->kind = SW_MSGPACK_FLOAT;
      item->value.d = f32.f;
    }
  else if (first == 0xcb)
    {
      union { guint64 u; gdouble d; } f64 = { .u = raw };

      item->kind = SW_MSGPACK_FLOAT;
      item->value.d = f64.d;
    }
  else if (first <= 0xcf)
    {
      item->kind = SW_MSGPACK_UINT;
      item->value.u = raw;
    }
  else
    {
      /* Sign-extend the n-byte two's complement value. */
      guint shift = 64 - 8 * n;

      item->kind = SW_MSGPACK_INT;
      item->value.i = (gint64) (raw << shift) >> shift;
    }
}

/* bin, ext, str, array and map with an explicit length field. */
static void
parse_sized (const guint8  *data,
             SwMsgPackItem *item)
{
  guint8 first = data[0];
  guint n;

  if (first <= 0xc9)
    {
      /* bin8/16/32 at c4..c6, ext8/16/32 at c7..c9 */
      n = 1u << ((first - 0xc4) % 3);
      item->kind = first <= 0xc6 ? SW_MSGPACK_BIN : SW_MSGPACK_EXT;
    }
  else
    {
      n = first == 0xd9 ? 1 : (first == 0xda || first == 0xdc || first == 0xde) ? 2 : 4;
      item->kind = first <= 0xdb ? SW_MSGPACK_STR
                   : first <= 0xdd ? SW_MSGPACK_ARRAY : SW_MSGPACK_MAP;
    }
  item->size = (guint32) sw_get_be (data + 1, n);
  if (item->kind == SW_MSGPACK_EXT)
    item->ext_type = (gint8) data[1 + n];
}

void
sw_msgpack_parse_header (const guint8  *data,
                         SwMsgPackItem *item)
{
  guint8 first = data[0];

  memset (item, 0, sizeof *item);
  item->header_length = sw_msgpack_header_length (first);
  g_return_if_fail (item->header_length != 0);

  if (first <= 0xbf || first >= 0xe0)
    parse_fixed (data, item);
  else if (first == 0xc0)
    item->kind = SW_MSGPACK_NIL;
  else if (first == 0xc2 || first == 0xc3)
    {
      item->kind = SW_MSGPACK_BOOL;
      item->value.b = first == 0xc3;
    }
  else if (first >= 0xca && first <= 0xd3)
    parse_number (data, item->header_length - 1, item);
  else if (first >= 0xd4 && first <= 0xd8)
    {
      item->kind = SW_MSGPACK_EXT;
      item->size = 1u << (first - 0xd4);
      item->ext_type = (gint8) data[1];
    }
  else
    parse_sized (data, item);
}

guint64
sw_msgpack_item_data_length (const SwMsgPackItem *item)
{
  switch (item->kind)
    {
    case SW_MSGPACK_STR:
    case SW_MSGPACK_BIN:
    case SW_MSGPACK_EXT:
      return item->size;
    default:
      return 0;
    }
}

guint64
sw_msgpack_item_children (const SwMsgPackItem *item)
{
  if (item->kind == SW_MSGPACK_ARRAY)
    return item->size;
  if (item->kind == SW_MSGPACK_MAP)
    return 2 * (guint64) item->size;
  return 0;
}

static guint
bit_length (guint64 value)
{
  guint n = 0;

  while (value != 0)
    {
      n++;
      value >>= 1;
    }
  return n;
}

/* See the top of the file for the layout. */
static gboolean
state_pack (guint64  offset,
            guint64  pending,
            guint64 *state)
{
  guint w = bit_length (offset);

  if (w > STATE_BITS || bit_length (pending - 1) > STATE_BITS - w)
    return FALSE;
  *state = (guint64) w << STATE_BITS | (pending - 1) << w | offset;
  return TRUE;
}

static gboolean
state_unpack (guint64  state,
              guint64 *offset,
              guint64 *pending)
{
  guint w = (guint) (state >> STATE_BITS);
  guint64 low = state & ((G_GUINT64_CONSTANT (1) << STATE_BITS) - 1);

  if (w > STATE_BITS)
    return FALSE;
  *offset = low & ((G_GUINT64_CONSTANT (1) << w) - 1);
  *pending = (low >> w) + 1;
  return TRUE;
}

static SwFramingResult
fail (GError     **error,
      GIOErrorEnum code,
      const char  *message)
{
  g_set_error_literal (error, G_IO_ERROR, code, message);
  return SW_FRAMING_RESULT_ERROR;
}

static SwFramingResult
need_more (guint64  offset,
           guint64  pending,
           guint64  needed,
           guint64 *state,
           gsize   *needed_out,
           GError **error)
{
  if (!state_pack (offset, pending, state))
    return fail (error, G_IO_ERROR_MESSAGE_TOO_LARGE,
                 _("MessagePack object too large to scan"));
  /* Clamping keeps it a lower bound on 32-bit systems. */
  *needed_out = (gsize) MIN (needed, (guint64) G_MAXSIZE);
  return SW_FRAMING_RESULT_NEED_MORE;
}

static gboolean
bad_state (GError **error)
{
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       _("Invalid MessagePack scanner state"));
  return FALSE;
}

/* Second pass, over the headers the first pass found complete, the object
 * ending at @end: enforces the depth limit with an explicit stack of the
 * children still due at each level. Bounds are checked anyway: a caller
 * may hand the first pass a state that does not belong to @data. */
static gboolean
check_depth (const guint8  *data,
             gsize          length,
             guint64        end,
             guint64       *work,
             GError       **error)
{
  guint64 due[SW_MSGPACK_MAX_DEPTH];
  guint depth = 0;
  guint64 offset = 0;

  for (;;)
    {
      SwMsgPackItem item;
      guint header;

      if (offset >= length || (header = sw_msgpack_header_length (data[offset])) == 0
          || header > length - offset)
        return bad_state (error);
      sw_msgpack_parse_header (data + offset, &item);
      if (work != NULL)
        *work += header;
      offset += header + sw_msgpack_item_data_length (&item);
      if ((item.kind == SW_MSGPACK_ARRAY || item.kind == SW_MSGPACK_MAP)
          && depth == SW_MSGPACK_MAX_DEPTH)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       _("MessagePack containers nested deeper than %d"),
                       SW_MSGPACK_MAX_DEPTH);
          return FALSE;
        }
      if (sw_msgpack_item_children (&item) > 0)
        {
          due[depth++] = sw_msgpack_item_children (&item);
          continue;
        }
      /* An item is complete: so is every level it was the last child of. */
      while (depth > 0 && --due[depth - 1] == 0)
        depth--;
      if (depth > 0)
        continue;
      if (offset != end)
        return bad_state (error);
      return TRUE;
    }
}

SwFramingResult
sw_msgpack_scan (const guint8  *data,
                 gsize          length,
                 guint64       *state,
                 guint64       *object_length,
                 gsize         *needed,
                 guint64       *work,
                 GError       **error)
{
  guint64 offset, pending;

  if (!state_unpack (*state, &offset, &pending))
    {
      bad_state (error);
      return SW_FRAMING_RESULT_ERROR;
    }

  while (pending > 0)
    {
      SwMsgPackItem item;
      guint header;

      if (offset >= length)
        return need_more (offset, pending, offset - length + pending,
                          state, needed, error);
      header = sw_msgpack_header_length (data[offset]);
      if (header == 0)
        return fail (error, G_IO_ERROR_INVALID_DATA,
                     _("Invalid MessagePack type byte 0xc1"));
      if (header > length - offset)
        return need_more (offset, pending,
                          header - (length - offset) + pending - 1,
                          state, needed, error);

      sw_msgpack_parse_header (data + offset, &item);
      if (work != NULL)
        *work += header;
      offset += header + sw_msgpack_item_data_length (&item);
      pending += sw_msgpack_item_children (&item) - 1;
      /* Each pending item takes a byte at least: a lower bound of the
       * object size. Checked here so the sums above never overflow. */
      if (offset + pending > SW_MSGPACK_MAX_OBJECT)
        return fail (error, G_IO_ERROR_MESSAGE_TOO_LARGE,
                     _("MessagePack object too large to scan"));
    }

  if (!check_depth (data, length, offset, work, error))
    return SW_FRAMING_RESULT_ERROR;
  *object_length = offset;
  return SW_FRAMING_RESULT_FRAME;
}

gboolean
sw_msgpack_check_object (const guint8  *data,
                         gsize          length,
                         GIOErrorEnum   code,
                         GError       **error)
{
  g_autoptr (GError) local_error = NULL;
  guint64 state = 0, object_length = 0;
  gsize needed = 0;

  switch (sw_msgpack_scan (data, length, &state, &object_length, &needed,
                           NULL, &local_error))
    {
    case SW_FRAMING_RESULT_FRAME:
      if (object_length > length)
        break;
      if (object_length < length)
        {
          g_set_error (error, G_IO_ERROR, code,
                       _("%zu bytes follow the MessagePack object"),
                       length - (gsize) object_length);
          return FALSE;
        }
      return TRUE;
    case SW_FRAMING_RESULT_ERROR:
      g_set_error_literal (error, G_IO_ERROR, code, local_error->message);
      return FALSE;
    case SW_FRAMING_RESULT_NEED_MORE:
    default:
      break;
    }
  g_set_error_literal (error, G_IO_ERROR, code,
                       _("Truncated MessagePack object"));
  return FALSE;
}
