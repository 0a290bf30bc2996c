/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "sw-framing.h"

G_BEGIN_DECLS

/* Most containers nested inside one another (the outermost counts). The
 * scanner refuses deeper objects, so no consumer (our codec, a recursive
 * decoder on the other side) has to cope with them. */
#define SW_MSGPACK_MAX_DEPTH 512

/* Largest object the scanner handles: 2^58 bytes, far beyond memory. */
#define SW_MSGPACK_MAX_OBJECT (G_GUINT64_CONSTANT (1) << 58)

typedef enum
{
  SW_MSGPACK_NIL,
  SW_MSGPACK_BOOL,
  SW_MSGPACK_INT,     /* int8..int64 and negative fixint: value.i */
  SW_MSGPACK_UINT,    /* uint8..uint64 and positive fixint: value.u */
  SW_MSGPACK_FLOAT,   /* float32 or float64: value.d */
  SW_MSGPACK_STR,
  SW_MSGPACK_BIN,
  SW_MSGPACK_EXT,
  SW_MSGPACK_ARRAY,
  SW_MSGPACK_MAP,
} SwMsgPackKind;

/* One decoded item header: what the type byte and the fields after it say. */
typedef struct
{
  SwMsgPackKind kind;
  guint         header_length;  /* bytes before the data (ext: incl. type) */
  guint32       size;           /* STR/BIN/EXT: data bytes; ARRAY: items;
                                   MAP: pairs */
  gint8         ext_type;       /* EXT: the application type, signed */
  union
  {
    gboolean b;
    gint64   i;
    guint64  u;
    gdouble  d;
  } value;
} SwMsgPackItem;

/* Length of the header an item starting with @first has (1..6, or 9 for
 * 64-bit numbers); 0 for 0xc1, the one byte that starts no item. */
guint   sw_msgpack_header_length (guint8         first);
/* Decodes the header at @data, which holds at least
 * sw_msgpack_header_length (data[0]) (non-zero) bytes. */
void    sw_msgpack_parse_header  (const guint8  *data,
                                  SwMsgPackItem *item);
/* Bytes of data after the header: the declared size for STR/BIN/EXT, 0
 * otherwise. */
guint64 sw_msgpack_item_data_length (const SwMsgPackItem *item);
/* Items nested directly in @item: array items, twice the map pairs. */
guint64 sw_msgpack_item_children    (const SwMsgPackItem *item);

/* Finds the end of the MessagePack object at the start of @data, resuming
 * from @state (0 at the frame start; the scanner's own encoding, see
 * sw-msgpack.c). Answers like [vfunc@Sw.Framing.decode]: FRAME with
 * *object_length set (it may lie beyond @length when the object ends with
 * str/bin/ext data not buffered yet), NEED_MORE with *needed set to a lower
 * bound (the declared data still missing, plus a byte per pending item),
 * or ERROR: %G_IO_ERROR_INVALID_DATA for the byte 0xc1 or nesting deeper
 * than %SW_MSGPACK_MAX_DEPTH, %G_IO_ERROR_MESSAGE_TOO_LARGE for an object
 * that cannot fit in memory. @work, if not NULL, is incremented by the
 * header bytes examined (tests check decoding stays linear). */
SwFramingResult sw_msgpack_scan (const guint8  *data,
                                 gsize          length,
                                 guint64       *state,
                                 guint64       *object_length,
                                 gsize         *needed,
                                 guint64       *work,
                                 GError       **error);

/* TRUE when @data is exactly one well-formed object within the depth
 * limit; otherwise sets @error with @code and says what is wrong. */
gboolean sw_msgpack_check_object (const guint8  *data,
                                  gsize          length,
                                  GIOErrorEnum   code,
                                  GError       **error);

G_END_DECLS
