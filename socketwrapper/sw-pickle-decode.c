/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Decoding pickles of plain data: a stack machine that knows only the
 * opcodes of plain data and never executes anything. */

#include <string.h>
#include <glib/gi18n-lib.h>

#include "sw-bytes-private.h"
#include "sw-codec-private.h"
#include "sw-pickle-private.h"

#define MAX_DEPTH SW_PICKLE_MAX_DEPTH

static const struct { guint8 code; const char *name; } opcode_names[] = {
  { OP_MARK, "MARK" }, { OP_STOP, "STOP" }, { OP_POP, "POP" },
  { OP_POP_MARK, "POP_MARK" }, { OP_DUP, "DUP" }, { OP_FLOAT, "FLOAT" },
  { OP_INT, "INT" }, { OP_BININT, "BININT" }, { OP_BININT1, "BININT1" },
  { OP_LONG, "LONG" }, { OP_BININT2, "BININT2" }, { OP_NONE, "NONE" },
  { OP_PERSID, "PERSID" }, { OP_BINPERSID, "BINPERSID" },
  { OP_REDUCE, "REDUCE" }, { OP_STRING, "STRING" },
  { OP_BINSTRING, "BINSTRING" }, { OP_SHORT_BINSTRING, "SHORT_BINSTRING" },
  { OP_UNICODE, "UNICODE" }, { OP_BINUNICODE, "BINUNICODE" },
  { OP_APPEND, "APPEND" }, { OP_BUILD, "BUILD" }, { OP_GLOBAL, "GLOBAL" },
  { OP_DICT, "DICT" }, { OP_EMPTY_DICT, "EMPTY_DICT" },
  { OP_APPENDS, "APPENDS" }, { OP_GET, "GET" }, { OP_BINGET, "BINGET" },
  { OP_INST, "INST" }, { OP_LONG_BINGET, "LONG_BINGET" },
  { OP_LIST, "LIST" }, { OP_EMPTY_LIST, "EMPTY_LIST" }, { OP_OBJ, "OBJ" },
  { OP_PUT, "PUT" }, { OP_BINPUT, "BINPUT" },
  { OP_LONG_BINPUT, "LONG_BINPUT" }, { OP_SETITEM, "SETITEM" },
  { OP_TUPLE, "TUPLE" }, { OP_EMPTY_TUPLE, "EMPTY_TUPLE" },
  { OP_SETITEMS, "SETITEMS" }, { OP_BINFLOAT, "BINFLOAT" },
  { OP_BINBYTES, "BINBYTES" }, { OP_SHORT_BINBYTES, "SHORT_BINBYTES" },
  { OP_PROTO, "PROTO" }, { OP_NEWOBJ, "NEWOBJ" }, { OP_EXT1, "EXT1" },
  { OP_EXT2, "EXT2" }, { OP_EXT4, "EXT4" }, { OP_TUPLE1, "TUPLE1" },
  { OP_TUPLE2, "TUPLE2" }, { OP_TUPLE3, "TUPLE3" },
  { OP_NEWTRUE, "NEWTRUE" }, { OP_NEWFALSE, "NEWFALSE" },
  { OP_LONG1, "LONG1" }, { OP_LONG4, "LONG4" },
  { OP_SHORT_BINUNICODE, "SHORT_BINUNICODE" },
  { OP_BINUNICODE8, "BINUNICODE8" }, { OP_BINBYTES8, "BINBYTES8" },
  { OP_EMPTY_SET, "EMPTY_SET" }, { OP_ADDITEMS, "ADDITEMS" },
  { OP_FROZENSET, "FROZENSET" }, { OP_NEWOBJ_EX, "NEWOBJ_EX" },
  { OP_STACK_GLOBAL, "STACK_GLOBAL" }, { OP_MEMOIZE, "MEMOIZE" },
  { OP_FRAME, "FRAME" }, { OP_BYTEARRAY8, "BYTEARRAY8" },
  { OP_NEXT_BUFFER, "NEXT_BUFFER" },
  { OP_READONLY_BUFFER, "READONLY_BUFFER" },
};

static const char *
opcode_name (guint8 code)
{
  for (gsize i = 0; i < G_N_ELEMENTS (opcode_names); i++)
    if (opcode_names[i].code == code)
      return opcode_names[i].name;
  return "unknown";
}

/* ---- decoding: the object tree ---------------------------------------- */

/* Objects are built in a tree of nodes first: a list or dict the memo
 * holds may still be filled after it was memoized, and the memo refers
 * to the same object, so values only become GVariants at STOP. */
typedef enum
{
  NODE_VALUE,        /* a scalar, bytes or str: @value */
  NODE_LIST,
  NODE_TUPLE,
  NODE_SET,
  NODE_FROZENSET,
  NODE_DICT,         /* @items: key, value, key, value… */
  NODE_GLOBAL,       /* one of the few callables REDUCE may apply */
} NodeKind;

typedef enum
{
  GLOBAL_CODECS_ENCODE,
  GLOBAL_BYTES,
  GLOBAL_BYTEARRAY,
  GLOBAL_SET,
  GLOBAL_FROZENSET,
} GlobalKind;

typedef struct _Node Node;
struct _Node
{
  NodeKind    kind;
  GlobalKind  global;
  GVariant   *value;      /* NODE_VALUE, sunk */
  gboolean    nul_text;   /* @value is the UTF-8 `ay` of a str holding NUL */
  GPtrArray  *items;      /* containers: Node pointers, not owned */
  GVariant   *converted;  /* the GVariant, once built */
  guint64     cost;       /* once computed, else 0 */
  guint       height;     /* containers on its longest path, itself included */
  gboolean    visiting;   /* on the path being measured: a cycle if met */
};

static void
node_free (gpointer data)
{
  Node *node = data;

  g_clear_pointer (&node->value, g_variant_unref);
  g_clear_pointer (&node->items, g_ptr_array_unref);
  g_clear_pointer (&node->converted, g_variant_unref);
  g_free (node);
}

/* What decoding costs in memory, in bytes, on a 64-bit host with glibc's
 * malloc: NODE_COST per node parsed (the node, its slot, its scalar
 * GVariant), ITEM_COST per place a node takes in the value (the GVariant
 * boxed in its container) and PAIR_COST more per dict item (the dict
 * entry or tuple). Peak RSS measured on 60000-item lists of ints, strs and
 * one-item lists and on dicts was 270 to 330 bytes per item, below these
 * sums with a margin. Strings add their length. */
#define NODE_COST 192
#define ITEM_COST 192
#define PAIR_COST 192
#define COST_CAP  (G_MAXUINT64 / 4)

typedef struct
{
  GBytes        *bytes;
  const guint8  *data;
  gsize          size;
  gsize          pos;
  guint8         op;
  gsize          op_offset;
  GPtrArray     *nodes;   /* owns every node: containers may form cycles */
  GPtrArray     *stack;   /* Node pointers */
  GArray        *marks;   /* stack lengths at each MARK */
  GHashTable    *memo;    /* index -> Node pointer */
  guint64        cost;    /* memory taken so far */
} Parser;

static gboolean
fail (Parser      *p,
      const char  *reason,
      GError     **error)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
               _("Pickle opcode %s (0x%02x) at offset %" G_GSIZE_FORMAT ": %s"),
               opcode_name (p->op), p->op, p->op_offset, reason);
  return FALSE;
}

static Node *
node_new (Parser   *p,
          NodeKind  kind,
          guint64   extra,
          GError  **error)
{
  Node *node;

  p->cost = MIN (p->cost + NODE_COST + extra, COST_CAP);
  if (!sw_codec_check_cost (p->cost, p->size, error))
    return NULL;
  node = g_new0 (Node, 1);
  node->kind = kind;
  if (kind != NODE_VALUE && kind != NODE_GLOBAL)
    node->items = g_ptr_array_new ();
  g_ptr_array_add (p->nodes, node);
  return node;
}

static gboolean
push_value (Parser    *p,
            GVariant  *value,
            guint64    extra,
            GError   **error)
{
  Node *node;

  g_variant_ref_sink (value);
  node = node_new (p, NODE_VALUE, extra, error);
  if (node == NULL)
    {
      g_variant_unref (value);
      return FALSE;
    }
  node->value = value;
  g_ptr_array_add (p->stack, node);
  return TRUE;
}

static Node *
push_container (Parser    *p,
                NodeKind   kind,
                GError   **error)
{
  Node *node = node_new (p, kind, 0, error);

  if (node != NULL)
    g_ptr_array_add (p->stack, node);
  return node;
}

/* ---- decoding: reading arguments -------------------------------------- */

/* The next @n bytes, or NULL when fewer are left: a declared length is
 * checked against the message before anything is allocated for it. */
static const guint8 *
take (Parser   *p,
      guint64   n,
      GError  **error)
{
  const guint8 *at = p->data + p->pos;

  if (n > p->size - p->pos)
    {
      fail (p, _("argument runs past the end of the message"), error);
      return NULL;
    }
  p->pos += (gsize) n;
  return at;
}

static gboolean
take_le (Parser   *p,
         guint     n,
         guint64  *out,
         GError  **error)
{
  const guint8 *at = take (p, n, error);

  if (at == NULL)
    return FALSE;
  *out = 0;
  for (guint i = 0; i < n; i++)
    *out |= (guint64) at[i] << (8 * i);
  return TRUE;
}

/* A text argument of protocol 0, up to its newline, NUL-terminated. */
static char *
take_line (Parser   *p,
           GError  **error)
{
  const guint8 *at = p->data + p->pos;
  const guint8 *nl = memchr (at, '\n', p->size - p->pos);

  if (nl == NULL)
    {
      fail (p, _("line argument without a newline"), error);
      return NULL;
    }
  p->pos += (gsize) (nl - at) + 1;
  return g_strndup ((const char *) at, (gsize) (nl - at));
}

static gboolean
parse_decimal (Parser      *p,
               const char  *text,
               GVariant   **out,
               GError     **error)
{
  gint64 i;
  guint64 u;

  if (g_ascii_string_to_signed (text, 10, G_MININT64, G_MAXINT64, &i, NULL))
    *out = g_variant_new_int64 (i);
  else if (g_ascii_string_to_unsigned (text, 10, 0, G_MAXUINT64, &u, NULL))
    *out = g_variant_new_uint64 (u);
  else
    return fail (p, _("not an integer that fits 64 bits"), error);
  return TRUE;
}

/* INT (also protocol 0's booleans, "01" and "00") and LONG ("123L"). */
static gboolean
op_text_int (Parser   *p,
             GError  **error)
{
  g_autofree char *line = take_line (p, error);
  GVariant *value = NULL;
  gsize len;

  if (line == NULL)
    return FALSE;
  len = strlen (line);
  if (p->op == OP_INT && (strcmp (line, "00") == 0 || strcmp (line, "01") == 0))
    return push_value (p, g_variant_new_boolean (line[1] == '1'), 0, error);
  if (p->op == OP_LONG && len > 0 && line[len - 1] == 'L')
    line[len - 1] = '\0';
  if (!parse_decimal (p, line, &value, error))
    return FALSE;
  return push_value (p, value, 0, error);
}

/* LONG1 and LONG4: little-endian two's complement. Nine bytes hold the
 * uint64 values above G_MAXINT64; more than that cannot fit. */
static gboolean
op_long_bin (Parser   *p,
             GError  **error)
{
  guint64 n, u = 0;
  const guint8 *at;

  if (!take_le (p, p->op == OP_LONG1 ? 1 : 4, &n, error))
    return FALSE;
  if ((at = take (p, n, error)) == NULL)
    return FALSE;
  if (n > 9 || (n == 9 && at[8] != 0))
    return fail (p, _("integer does not fit 64 bits"), error);
  for (guint i = 0; i < MIN (n, 8); i++)
    u |= (guint64) at[i] << (8 * i);
  if (n == 9)
    return push_value (p, u > G_MAXINT64 ? g_variant_new_uint64 (u)
                                          : g_variant_new_int64 ((gint64) u),
                       0, error);
  if (n > 0 && n < 8 && (at[n - 1] & 0x80))
    u |= G_MAXUINT64 << (8 * n);
  return push_value (p, g_variant_new_int64 ((gint64) u), 0, error);
}

static gboolean
op_bin_int (Parser   *p,
            GError  **error)
{
  guint n = p->op == OP_BININT ? 4 : p->op == OP_BININT2 ? 2 : 1;
  guint64 u;

  if (!take_le (p, n, &u, error))
    return FALSE;
  if (p->op == OP_BININT)
    return push_value (p, g_variant_new_int64 ((gint32) (guint32) u), 0, error);
  return push_value (p, g_variant_new_int64 ((gint64) u), 0, error);
}

static gboolean
op_float (Parser   *p,
          GError  **error)
{
  g_autofree char *line = NULL;
  const guint8 *at;
  char *end;
  gdouble d;

  if (p->op == OP_BINFLOAT)
    {
      union { guint64 u; gdouble d; } bits;

      if ((at = take (p, 8, error)) == NULL)
        return FALSE;
      bits.u = sw_get_be (at, 8);
      return push_value (p, g_variant_new_double (bits.d), 0, error);
    }
  if ((line = take_line (p, error)) == NULL)
    return FALSE;
  d = g_ascii_strtod (line, &end);
  if (end == line || *end != '\0')
    return fail (p, _("not a float"), error);
  return push_value (p, g_variant_new_double (d), 0, error);
}

/* ---- decoding: strings and bytes -------------------------------------- */

/* A str holding NUL cannot be an `s`, but protocols 0–2 write bytes as
 * `_codecs.encode (text, "latin1")` where the text may hold any byte: it
 * is kept as its UTF-8 bytes, and fails only if it is part of the value. */
static gboolean
push_utf8 (Parser      *p,
           const char  *text,
           gsize        len,
           GError     **error)
{
  const char *nul = memchr (text, '\0', len);

  /* Surrogates (which 'surrogatepass' lets Python write) are not valid
   * UTF-8; with a length, g_utf8_validate() stops at NUL bytes. */
  for (const char *at = text, *end; at < text + len; at = end + 1)
    if (!g_utf8_validate (at, (gssize) (text + len - at), &end) && *end != '\0')
      return fail (p, _("string is not valid UTF-8"), error);
  if (nul == NULL)
    return push_value (p, g_variant_new_take_string (g_strndup (text, len)),
                       len, error);
  if (!push_value (p, g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, text, len, 1),
                   len, error))
    return FALSE;
  ((Node *) p->stack->pdata[p->stack->len - 1])->nul_text = TRUE;
  return TRUE;
}

/* UNICODE: raw-unicode-escape, that is Latin-1 bytes with \uXXXX and
 * \UXXXXXXXX escapes (pickle writes backslashes as \u005c). */
static gboolean
op_unicode (Parser   *p,
            GError  **error)
{
  g_autofree char *line = take_line (p, error);
  g_autoptr (GString) out = NULL;

  if (line == NULL)
    return FALSE;
  out = g_string_sized_new (strlen (line));
  for (const char *c = line; *c != '\0'; c++)
    {
      guint digits = c[0] == '\\' ? (c[1] == 'u' ? 4 : c[1] == 'U' ? 8 : 0) : 0;
      gunichar ch = (guchar) *c;

      if (digits > 0)
        {
          ch = 0;
          for (guint i = 0; i < digits; i++)
            {
              gint v = g_ascii_xdigit_value (c[2 + i]);

              if (v < 0)
                return fail (p, _("bad \\u escape"), error);
              ch = ch * 16 + (gunichar) v;
            }
          c += 1 + digits;
        }
      if (!g_unichar_validate (ch))
        return fail (p, _("string holds a surrogate"), error);
      g_string_append_unichar (out, ch);
    }
  return push_utf8 (p, out->str, out->len, error);
}

static gboolean
op_bin_text (Parser   *p,
             guint     len_bytes,
             gboolean  is_str,
             GError  **error)
{
  guint64 n;
  const guint8 *at;
  g_autoptr (GBytes) slice = NULL;

  if (!take_le (p, len_bytes, &n, error) || (at = take (p, n, error)) == NULL)
    return FALSE;
  if (is_str)
    return push_utf8 (p, (const char *) at, (gsize) n, error);
  /* Zero-copy: the `ay` shares the message. */
  slice = g_bytes_new_from_bytes (p->bytes, (gsize) (at - p->data), (gsize) n);
  return push_value (p, g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING,
                                                  slice, TRUE), 0, error);
}

/* ---- decoding: containers --------------------------------------------- */

/* How many stack items are above the last MARK (or in all, without one):
 * as in CPython, where MARK starts a new stack, nothing under a MARK can
 * be reached before the MARK is popped. */
static guint
available (Parser *p)
{
  guint floor = 0;

  if (p->marks->len > 0)
    floor = g_array_index (p->marks, guint, p->marks->len - 1);
  return p->stack->len - floor;
}

static Node *
pop (Parser *p)
{
  if (available (p) == 0)
    return NULL;
  return g_ptr_array_steal_index (p->stack, p->stack->len - 1);
}

/* The index in the stack of the first item above the last MARK. */
static gboolean
pop_mark (Parser  *p,
          guint   *start,
          GError **error)
{
  if (p->marks->len == 0)
    return fail (p, _("no MARK on the stack"), error);
  *start = g_array_index (p->marks, guint, p->marks->len - 1);
  g_array_set_size (p->marks, p->marks->len - 1);
  return TRUE;
}

static gboolean
hashable (Node *node)
{
  return node->kind == NODE_VALUE || node->kind == NODE_TUPLE
         || node->kind == NODE_FROZENSET;
}

/* Moves the stack items from @start into @target (a list, tuple, set or
 * dict; a dict takes them as pairs). */
static gboolean
move_items (Parser  *p,
            guint    start,
            Node    *target,
            GError **error)
{
  guint n = p->stack->len - start;

  if (target->kind == NODE_DICT && n % 2 != 0)
    return fail (p, _("odd number of dict items"), error);
  for (guint i = start; i < p->stack->len; i++)
    {
      Node *item = p->stack->pdata[i];
      gboolean is_key = target->kind == NODE_DICT && (i - start) % 2 == 0;

      if ((is_key || target->kind == NODE_SET || target->kind == NODE_FROZENSET)
          && !hashable (item))
        return fail (p, _("unhashable dict key or set item"), error);
      g_ptr_array_add (target->items, item);
    }
  g_ptr_array_set_size (p->stack, start);
  return TRUE;
}

/* LIST, TUPLE, DICT, FROZENSET: a new container of the items above MARK;
 * TUPLE1..3: of the top one to three items. */
static gboolean
op_build_container (Parser    *p,
                    NodeKind   kind,
                    guint      count,
                    GError   **error)
{
  guint start;
  Node *node;

  if (count == G_MAXUINT)
    {
      if (!pop_mark (p, &start, error))
        return FALSE;
    }
  else if (available (p) < count)
    return fail (p, _("stack underflow"), error);
  else
    start = p->stack->len - count;
  node = node_new (p, kind, 0, error);
  if (node == NULL || !move_items (p, start, node, error))
    return FALSE;
  g_ptr_array_add (p->stack, node);
  return TRUE;
}

/* APPEND, SETITEM: the top one or two items go into the container under
 * them; APPENDS, SETITEMS, ADDITEMS: the items above MARK into the one
 * under MARK. */
static gboolean
op_fill (Parser    *p,
         NodeKind   kind,
         gboolean   batch,
         GError   **error)
{
  guint start, n = kind == NODE_DICT ? 2 : 1;
  Node *target;

  if (batch && !pop_mark (p, &start, error))
    return FALSE;
  if (!batch && available (p) < n)
    return fail (p, _("stack underflow"), error);
  if (!batch)
    start = p->stack->len - n;
  if (start == p->stack->len - available (p))  /* nothing under it to fill */
    return fail (p, _("stack underflow"), error);
  target = p->stack->pdata[start - 1];
  if (target->kind != kind)
    return fail (p, _("target is not a container of the right type"), error);
  return move_items (p, start, target, error);
}

/* ---- decoding: memo --------------------------------------------------- */

/* The memo index argument of PUT and GET (text), BINPUT and BINGET (one
 * byte), LONG_BINPUT and LONG_BINGET (four bytes). */
static gboolean
take_memo_index (Parser   *p,
                 guint64  *index,
                 GError  **error)
{
  g_autofree char *line = NULL;

  if (p->op == OP_BINPUT || p->op == OP_BINGET)
    return take_le (p, 1, index, error);
  if (p->op == OP_LONG_BINPUT || p->op == OP_LONG_BINGET)
    return take_le (p, 4, index, error);
  if ((line = take_line (p, error)) == NULL)
    return FALSE;
  if (!g_ascii_string_to_unsigned (line, 10, 0, G_MAXUINT32, index, NULL))
    return fail (p, _("bad memo index"), error);
  return TRUE;
}

static gboolean
op_put (Parser   *p,
        GError  **error)
{
  guint64 index;

  if (available (p) == 0)
    return fail (p, _("stack underflow"), error);
  if (p->op == OP_MEMOIZE)
    index = g_hash_table_size (p->memo);
  else if (!take_memo_index (p, &index, error))
    return FALSE;
  if (!g_hash_table_contains (p->memo, GUINT_TO_POINTER ((guint) index)))
    {
      p->cost = MIN (p->cost + NODE_COST, COST_CAP);
      if (!sw_codec_check_cost (p->cost, p->size, error))
        return FALSE;
    }
  g_hash_table_insert (p->memo, GUINT_TO_POINTER ((guint) index),
                       p->stack->pdata[p->stack->len - 1]);
  return TRUE;
}

static gboolean
op_get (Parser   *p,
        GError  **error)
{
  guint64 index;
  Node *node;

  if (!take_memo_index (p, &index, error))
    return FALSE;
  node = g_hash_table_lookup (p->memo, GUINT_TO_POINTER ((guint) index));
  if (node == NULL)
    return fail (p, _("memo slot is empty"), error);
  g_ptr_array_add (p->stack, node);
  return TRUE;
}

/* ---- decoding: the few globals ---------------------------------------- */

static gboolean
push_global (Parser      *p,
             const char  *module,
             const char  *name,
             GError     **error)
{
  static const struct { const char *name; GlobalKind kind; } builtins[] = {
    { "bytes", GLOBAL_BYTES }, { "bytearray", GLOBAL_BYTEARRAY },
    { "set", GLOBAL_SET }, { "frozenset", GLOBAL_FROZENSET },
  };
  Node *node;

  if (g_str_equal (module, "_codecs") && g_str_equal (name, "encode"))
    {
      if ((node = push_container (p, NODE_GLOBAL, error)) == NULL)
        return FALSE;
      node->global = GLOBAL_CODECS_ENCODE;
      return TRUE;
    }
  if (g_str_equal (module, "builtins") || g_str_equal (module, "__builtin__"))
    for (gsize i = 0; i < G_N_ELEMENTS (builtins); i++)
      if (g_str_equal (name, builtins[i].name))
        {
          if ((node = push_container (p, NODE_GLOBAL, error)) == NULL)
            return FALSE;
          node->global = builtins[i].kind;
          return TRUE;
        }
  return fail (p, _("global refused: only plain data is decoded"), error);
}

static gboolean
op_global (Parser   *p,
           GError  **error)
{
  g_autofree char *module = NULL;
  g_autofree char *name = NULL;
  Node *name_node, *module_node;

  if (p->op == OP_GLOBAL)
    {
      if ((module = take_line (p, error)) == NULL
          || (name = take_line (p, error)) == NULL)
        return FALSE;
      return push_global (p, module, name, error);
    }
  name_node = pop (p);
  module_node = pop (p);
  if (module_node == NULL || name_node->kind != NODE_VALUE
      || module_node->kind != NODE_VALUE
      || !g_variant_is_of_type (name_node->value, G_VARIANT_TYPE_STRING)
      || !g_variant_is_of_type (module_node->value, G_VARIANT_TYPE_STRING))
    return fail (p, _("module and name are not two strings"), error);
  return push_global (p, g_variant_get_string (module_node->value, NULL),
                      g_variant_get_string (name_node->value, NULL), error);
}

static gboolean
is_str (Node *node)
{
  return node->kind == NODE_VALUE
         && g_variant_is_of_type (node->value, G_VARIANT_TYPE_STRING);
}

/* The UTF-8 of a str node, NUL or not; NULL for other nodes. */
static const char *
text_of (Node  *node,
         gsize *len)
{
  if (is_str (node))
    return g_variant_get_string (node->value, len);
  if (node->kind == NODE_VALUE && node->nul_text)
    return g_variant_get_fixed_array (node->value, len, 1);
  return NULL;
}

/* `_codecs.encode (text, "latin1")`: how protocols 0–2 write bytes. */
static gboolean
push_latin1 (Parser    *p,
             GPtrArray *args,
             GError   **error)
{
  g_autoptr (GByteArray) out = g_byte_array_new ();
  const char *text, *encoding;
  gsize len;

  if (args->len != 2 || !is_str (args->pdata[1])
      || (text = text_of (args->pdata[0], &len)) == NULL)
    return fail (p, _("arguments are not (str, encoding)"), error);
  encoding = g_variant_get_string (((Node *) args->pdata[1])->value, NULL);
  if (!g_str_equal (encoding, "latin1") && !g_str_equal (encoding, "latin-1"))
    return fail (p, _("encoding is not Latin-1"), error);
  for (const char *c = text; c < text + len; c = g_utf8_next_char (c))
    {
      gunichar ch = g_utf8_get_char (c);
      guint8 byte = (guint8) ch;

      if (ch > 0xff)
        return fail (p, _("character outside Latin-1"), error);
      g_byte_array_append (out, &byte, 1);
    }
  return push_value (p, g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE,
                                                   out->data, out->len, 1),
                     out->len, error);
}

static gboolean
reduce_set (Parser    *p,
            NodeKind   kind,
            GPtrArray *args,
            GError   **error)
{
  Node *node, *list = args->len == 1 ? args->pdata[0] : NULL;

  if (args->len > 1 || (list != NULL && list->kind != NODE_LIST))
    return fail (p, _("set arguments are not one list"), error);
  if ((node = node_new (p, kind, 0, error)) == NULL)
    return FALSE;
  for (guint i = 0; list != NULL && i < list->items->len; i++)
    {
      if (!hashable (list->items->pdata[i]))
        return fail (p, _("unhashable dict key or set item"), error);
      g_ptr_array_add (node->items, list->items->pdata[i]);
    }
  g_ptr_array_add (p->stack, node);
  return TRUE;
}

static gboolean
op_reduce (Parser   *p,
           GError  **error)
{
  Node *args = pop (p), *callable = pop (p);
  Node *arg0;

  if (callable == NULL || callable->kind != NODE_GLOBAL)
    return fail (p, _("only bytes, bytearray, set and frozenset are built"), error);
  if (args->kind != NODE_TUPLE)
    return fail (p, _("arguments are not a tuple"), error);
  arg0 = args->items->len > 0 ? args->items->pdata[0] : NULL;
  switch (callable->global)
    {
    case GLOBAL_CODECS_ENCODE:
      return push_latin1 (p, args->items, error);
    case GLOBAL_BYTEARRAY:
      if (args->items->len == 1 && arg0->kind == NODE_VALUE
          && g_variant_is_of_type (arg0->value, G_VARIANT_TYPE_BYTESTRING))
        return push_value (p, arg0->value, 0, error);
      if (args->items->len == 2)
        return push_latin1 (p, args->items, error);
      G_GNUC_FALLTHROUGH;
    case GLOBAL_BYTES:
      if (args->items->len != 0)
        return fail (p, _("unexpected arguments"), error);
      return push_value (p, g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE,
                                                       NULL, 0, 1), 0, error);
    case GLOBAL_SET:
      return reduce_set (p, NODE_SET, args->items, error);
    case GLOBAL_FROZENSET:
    default:
      return reduce_set (p, NODE_FROZENSET, args->items, error);
    }
}

/* ---- decoding: the machine -------------------------------------------- */

static gboolean
op_stack (Parser   *p,
          GError  **error)
{
  guint start;

  switch (p->op)
    {
    case OP_MARK:
      g_array_append_val (p->marks, p->stack->len);
      return TRUE;
    case OP_POP:
      if (pop (p) != NULL)
        return TRUE;
      return pop_mark (p, &start, error);
    case OP_POP_MARK:
      if (!pop_mark (p, &start, error))
        return FALSE;
      g_ptr_array_set_size (p->stack, start);
      return TRUE;
    case OP_DUP:
    default:
      if (available (p) == 0)
        return fail (p, _("stack underflow"), error);
      g_ptr_array_add (p->stack, p->stack->pdata[p->stack->len - 1]);
      return TRUE;
    }
}

static gboolean
op_frame (Parser   *p,
          GError  **error)
{
  guint64 value;

  if (p->op == OP_PROTO)
    {
      if (!take_le (p, 1, &value, error))
        return FALSE;
      if (value > 5)
        return fail (p, _("unknown protocol"), error);
      return TRUE;
    }
  /* A frame only groups the opcodes that follow; its length must still
   * be backed by the message. */
  if (!take_le (p, 8, &value, error))
    return FALSE;
  if (value > p->size - p->pos)
    return fail (p, _("argument runs past the end of the message"), error);
  return TRUE;
}

static gboolean
op_container (Parser   *p,
              GError  **error)
{
  switch (p->op)
    {
    case OP_EMPTY_LIST:
      return push_container (p, NODE_LIST, error) != NULL;
    case OP_EMPTY_TUPLE:
      return push_container (p, NODE_TUPLE, error) != NULL;
    case OP_EMPTY_DICT:
      return push_container (p, NODE_DICT, error) != NULL;
    case OP_EMPTY_SET:
      return push_container (p, NODE_SET, error) != NULL;
    case OP_LIST:
      return op_build_container (p, NODE_LIST, G_MAXUINT, error);
    case OP_TUPLE:
      return op_build_container (p, NODE_TUPLE, G_MAXUINT, error);
    case OP_TUPLE1:
    case OP_TUPLE2:
    case OP_TUPLE3:
      return op_build_container (p, NODE_TUPLE, p->op - OP_TUPLE1 + 1, error);
    case OP_DICT:
      return op_build_container (p, NODE_DICT, G_MAXUINT, error);
    case OP_FROZENSET:
      return op_build_container (p, NODE_FROZENSET, G_MAXUINT, error);
    case OP_APPEND:
    case OP_APPENDS:
      return op_fill (p, NODE_LIST, p->op == OP_APPENDS, error);
    case OP_SETITEM:
    case OP_SETITEMS:
      return op_fill (p, NODE_DICT, p->op == OP_SETITEMS, error);
    case OP_ADDITEMS:
    default:
      return op_fill (p, NODE_SET, TRUE, error);
    }
}

/* Runs one opcode other than STOP. */
static gboolean
step (Parser   *p,
      GError  **error)
{
  switch (p->op)
    {
    case OP_PROTO: case OP_FRAME:
      return op_frame (p, error);
    case OP_MARK: case OP_POP: case OP_POP_MARK: case OP_DUP:
      return op_stack (p, error);
    case OP_NONE:
      return push_value (p, g_variant_new_maybe (G_VARIANT_TYPE_VARIANT, NULL), 0, error);
    case OP_NEWTRUE: case OP_NEWFALSE:
      return push_value (p, g_variant_new_boolean (p->op == OP_NEWTRUE), 0, error);
    case OP_INT: case OP_LONG:
      return op_text_int (p, error);
    case OP_BININT: case OP_BININT1: case OP_BININT2:
      return op_bin_int (p, error);
    case OP_LONG1: case OP_LONG4:
      return op_long_bin (p, error);
    case OP_FLOAT: case OP_BINFLOAT:
      return op_float (p, error);
    case OP_UNICODE:
      return op_unicode (p, error);
    case OP_SHORT_BINUNICODE: return op_bin_text (p, 1, TRUE, error);
    case OP_BINUNICODE: return op_bin_text (p, 4, TRUE, error);
    case OP_BINUNICODE8: return op_bin_text (p, 8, TRUE, error);
    case OP_SHORT_BINBYTES: return op_bin_text (p, 1, FALSE, error);
    case OP_BINBYTES: return op_bin_text (p, 4, FALSE, error);
    case OP_BINBYTES8: case OP_BYTEARRAY8: return op_bin_text (p, 8, FALSE, error);
    case OP_EMPTY_LIST: case OP_EMPTY_TUPLE: case OP_EMPTY_DICT:
    case OP_EMPTY_SET: case OP_LIST: case OP_TUPLE: case OP_TUPLE1:
    case OP_TUPLE2: case OP_TUPLE3: case OP_DICT: case OP_FROZENSET:
    case OP_APPEND: case OP_APPENDS: case OP_SETITEM: case OP_SETITEMS:
    case OP_ADDITEMS:
      return op_container (p, error);
    case OP_PUT: case OP_BINPUT: case OP_LONG_BINPUT: case OP_MEMOIZE:
      return op_put (p, error);
    case OP_GET: case OP_BINGET: case OP_LONG_BINGET:
      return op_get (p, error);
    case OP_GLOBAL: case OP_STACK_GLOBAL:
      return op_global (p, error);
    case OP_REDUCE:
      return op_reduce (p, error);
    default:
      return fail (p, _("opcode refused: only plain data is decoded"), error);
    }
}

/* What @node takes once converted, counting a shared node once per place
 * it appears; fails on a node that contains itself and on nesting deeper
 * than MAX_DEPTH. Recursion is bounded by MAX_DEPTH. */
static gboolean
measure (Parser   *p,
         Node     *node,
         guint     depth,
         GError  **error)
{
  guint64 cost = ITEM_COST;

  /* A node the memo shares may be met again deeper than where it was
   * measured. */
  if (node->cost != 0 && depth + node->height > MAX_DEPTH)
    return fail (p, _("containers nested too deep"), error);
  if (node->cost != 0)
    return TRUE;
  if (node->kind == NODE_GLOBAL)
    return fail (p, _("a callable is not a value"), error);
  if (node->nul_text)
    return fail (p, _("string holds NUL"), error);
  if (node->kind == NODE_VALUE)
    {
      node->cost = cost;
      return TRUE;
    }
  if (node->visiting)
    return fail (p, _("a container contains itself"), error);
  if (depth >= MAX_DEPTH)
    return fail (p, _("containers nested too deep"), error);
  node->visiting = TRUE;
  for (guint i = 0; i < node->items->len; i++)
    {
      Node *item = node->items->pdata[i];

      if (!measure (p, item, depth + 1, error))
        return FALSE;
      node->height = MAX (node->height, item->height);
      /* A dict's items come in (key, value) pairs: half a pair each. */
      cost = MIN (cost + item->cost + (node->kind == NODE_DICT ? PAIR_COST / 2 : 0),
                  COST_CAP);
    }
  node->visiting = FALSE;
  node->height++;
  node->cost = cost;
  return TRUE;
}

static gboolean
keys_are_strings (GPtrArray *items)
{
  for (guint i = 0; i < items->len; i += 2)
    if (!is_str (items->pdata[i]))
      return FALSE;
  return TRUE;
}

/* Builds the GVariant of @node, which measure() accepted; a shared node
 * is built once and its GVariant shared. */
static GVariant *
convert (Node *node)
{
  GVariantBuilder builder;
  gboolean string_keys;

  if (node->kind == NODE_VALUE)
    return node->value;
  if (node->converted != NULL)
    return node->converted;
  if (node->kind != NODE_DICT)
    {
      g_variant_builder_init (&builder, G_VARIANT_TYPE ("av"));
      for (guint i = 0; i < node->items->len; i++)
        g_variant_builder_add (&builder, "v", convert (node->items->pdata[i]));
      node->converted = g_variant_ref_sink (g_variant_builder_end (&builder));
      return node->converted;
    }
  string_keys = keys_are_strings (node->items);
  g_variant_builder_init (&builder, string_keys ? G_VARIANT_TYPE_VARDICT
                                                : G_VARIANT_TYPE ("a(vv)"));
  for (guint i = 0; i < node->items->len; i += 2)
    {
      GVariant *key = convert (node->items->pdata[i]);
      GVariant *value = convert (node->items->pdata[i + 1]);

      if (string_keys)
        g_variant_builder_add (&builder, "{sv}", g_variant_get_string (key, NULL), value);
      else
        g_variant_builder_add (&builder, "(vv)", key, value);
    }
  node->converted = g_variant_ref_sink (g_variant_builder_end (&builder));
  return node->converted;
}

static GVariant *
finish (Parser   *p,
        GError  **error)
{
  Node *top;
  GVariant *value;

  if (p->stack->len != 1 || p->marks->len != 0)
    {
      fail (p, _("stack does not hold exactly one value"), error);
      return NULL;
    }
  if (p->pos != p->size)
    {
      fail (p, _("bytes after the end of the pickle"), error);
      return NULL;
    }
  top = p->stack->pdata[0];
  if (!measure (p, top, 0, error)
      || !sw_codec_check_cost (MIN (p->cost + top->cost, COST_CAP), p->size, error))
    return NULL;
  /* Shallow input needs no walk (which would visit every place a shared
   * node appears). */
  value = g_variant_ref (convert (top));
  if (top->height > SW_CODEC_SAFE_NESTING && !sw_codec_check_depth (value, error))
    {
      g_variant_unref (value);
      return NULL;
    }
  return value;
}

GVariant *
sw_pickle_decode (GBytes  *bytes,
                  GError **error)
{
  g_autoptr (GPtrArray) nodes = g_ptr_array_new_with_free_func (node_free);
  g_autoptr (GPtrArray) stack = g_ptr_array_new ();
  g_autoptr (GArray) marks = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autoptr (GHashTable) memo = g_hash_table_new (NULL, NULL);
  Parser p = { bytes, NULL, 0, 0, 0, 0, nodes, stack, marks, memo, 0 };

  p.data = g_bytes_get_data (bytes, &p.size);
  while (p.pos < p.size)
    {
      p.op_offset = p.pos;
      p.op = p.data[p.pos++];
      if (p.op == OP_STOP)
        return finish (&p, error);
      if (!step (&p, error))
        return NULL;
    }
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       _("Pickle ends without STOP"));
  return NULL;
}

