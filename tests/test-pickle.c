/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* SwPickleCodec against CPython's own pickle module: vectors pickled by
 * /usr/bin/python3 in every protocol decode to the expected values; what
 * the codec writes in protocols 2–5 unpickles in Python to the same
 * values; hostile pickles are refused with INVALID_DATA naming the opcode
 * and its offset, and nothing in them is executed. */
#include <string.h>
#include <socketwrapper/socketwrapper.h>

#include "sw-test-util.h"

/* The values, and how Python spells each as GVariant text. */
static const char *python_common =
  "import pickle, sys\n"
  "def gv(v):\n"
  "    if v is None: return '@mv nothing'\n"
  "    if isinstance(v, bool): return 'true' if v else 'false'\n"
  "    if isinstance(v, int):\n"
  "        return ('int64 %d' if -2**63 <= v < 2**63 else 'uint64 %d') % v\n"
  "    if isinstance(v, float): return 'double ' + repr(v)\n"
  "    if isinstance(v, str):\n"
  "        return \"'\" + ''.join(c if 32 <= ord(c) < 127 and c not in \"'\\\\\"\n"
  "                              else '\\\\U%08x' % ord(c) for c in v) + \"'\"\n"
  "    if isinstance(v, (bytes, bytearray)):\n"
  "        return '@ay [' + ', '.join('byte 0x%02x' % b for b in v) + ']'\n"
  "    if isinstance(v, (list, tuple, set, frozenset)):\n"
  "        return '@av [' + ', '.join('<%s>' % gv(x) for x in v) + ']'\n"
  "    if all(isinstance(k, str) for k in v):\n"
  "        return '@a{sv} {' + ', '.join('%s: <%s>' % (gv(k), gv(x)) for k, x in v.items()) + '}'\n"
  "    return '@a(vv) [' + ', '.join('(<%s>, <%s>)' % (gv(k), gv(x)) for k, x in v.items()) + ']'\n";

static const char *python_vectors =
  "shared = [1]\n"
  "values = [None, True, False, 0, 1, -1, 255, 256, 65535, 65536, -129,\n"
  "  2**31 - 1, -2**31, 2**31, 2**63 - 1, -2**63, 2**63, 2**64 - 1,\n"
  "  0.0, 1.5, -2.25, 1e100, 1e-300, '', 'a', 'hello world', 'x' * 300,\n"
  "  '\\u00e9', '\\u20ac', '\\U0001f600', 'back\\\\slash\\nnew\\rline\\x1a',\n"
  "  \"quote'\", 'y' * 70000, b'', b'\\x00\\xff', b'abc' * 100, bytearray(b''),\n"
  "  bytearray(b'xy\\x80'), [], [1, 2, 3], (), (1,), (1, 2), (1, 2, 3),\n"
  "  (1, 2, 3, 4), {}, {'a': 1}, {'a': {'b': [1, 'c']}}, {1: 'one', 2: 'two'},\n"
  "  set(), {1, 2}, frozenset(), frozenset({'x'}), [[[]]], [shared, shared],\n"
  "  {'k': shared, 'l': shared}, [b'x' * 300, b'x' * 300], list(range(1500)),\n"
  "  {str(i): i for i in range(1200)}, [None] * 3, [True, 1.0, 'mix', b'b'],\n"
  "  ({1}, frozenset([2])), set(range(1100)), {None: None, 1.5: b''},\n"
  "  {(1, 2): 3}, {(1, (2, 'x')): [4]}]\n"
  "for v in values:\n"
  "    for p in range(6):\n"
  "        print(p, pickle.dumps(v, p).hex(), gv(v), sep='\\t')\n";

/* Reads hex pickles, one a line, and prints each unpickled value. */
static const char *python_loads =
  "for line in sys.stdin:\n"
  "    print(gv(pickle.loads(bytes.fromhex(line.strip()))))\n";

static char *
run_python (const char  *script,
            const char  *input)
{
  const char *python = sw_test_get_python ();
  g_autofree char *source = g_strconcat (python_common, script, NULL);
  g_autoptr (GSubprocess) process = NULL;
  g_autoptr (GError) error = NULL;
  char *out = NULL;

  process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE
                              | G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error,
                              python, "-c", source, NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, input, NULL, &out, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_wait_check (process, NULL, &error));
  g_assert_no_error (error);
  return out;
}

static GVariant *
parse_text (const char *text)
{
  g_autoptr (GError) error = NULL;
  GVariant *value = g_variant_parse (NULL, text, NULL, NULL, &error);

  /* g_variant_parse() returns a non-floating reference. */
  g_assert_no_error (error);
  return value;
}

static GBytes *
from_hex (const char *hex)
{
  gsize n = strlen (hex) / 2;
  guint8 *data = g_malloc (n);

  for (gsize i = 0; i < n; i++)
    data[i] = (guint8) (g_ascii_xdigit_value (hex[2 * i]) * 16
                        + g_ascii_xdigit_value (hex[2 * i + 1]));
  return g_bytes_new_take (data, n);
}

static char *
to_hex (GBytes *bytes)
{
  gsize n;
  const guint8 *data = g_bytes_get_data (bytes, &n);
  GString *out = g_string_sized_new (2 * n);

  for (gsize i = 0; i < n; i++)
    g_string_append_printf (out, "%02x", data[i]);
  return g_string_free (out, FALSE);
}

static char **
python_vector_lines (void)
{
  g_autofree char *out = NULL;

  if (sw_test_get_python () == NULL)
    return NULL;
  out = run_python (python_vectors, "");
  return g_strsplit (g_strstrip (out), "\n", -1);
}

static void
test_decode_vectors (void)
{
  g_auto (GStrv) lines = python_vector_lines ();
  g_autoptr (SwCodec) codec = SW_CODEC (sw_pickle_codec_new ());
  guint count = 0;

  if (lines == NULL)
    {
      g_test_skip ("no /usr/bin/python3");
      return;
    }
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_auto (GStrv) fields = g_strsplit (lines[i], "\t", 3);
      g_autoptr (GBytes) bytes = from_hex (fields[1]);
      g_autoptr (GVariant) expected = parse_text (fields[2]);
      g_autoptr (GError) error = NULL;
      g_autoptr (GVariant) value = sw_codec_decode (codec, bytes, &error);

      g_assert_no_error (error);
      if (!g_variant_equal (value, expected))
        g_error ("protocol %s: got %s, want %s", fields[0],
                 g_variant_print (value, TRUE), fields[2]);
      count++;
    }
  g_assert_cmpuint (count, >=, 6 * 50);
}

static void
test_encode_round_trip (void)
{
  g_auto (GStrv) lines = python_vector_lines ();
  g_autoptr (GPtrArray) expected = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
  g_autoptr (GString) input = g_string_new (NULL);
  g_autofree char *out = NULL;
  g_auto (GStrv) results = NULL;

  if (lines == NULL)
    {
      g_test_skip ("no /usr/bin/python3");
      return;
    }
  for (guint protocol = 2; protocol <= 5; protocol++)
    {
      g_autoptr (SwCodec) codec = g_object_new (SW_TYPE_PICKLE_CODEC,
                                                "protocol", protocol, NULL);

      for (guint i = 0; lines[i] != NULL; i++)
        {
          g_auto (GStrv) fields = g_strsplit (lines[i], "\t", 3);
          g_autoptr (GVariant) value = NULL;
          g_autoptr (GBytes) bytes = NULL;
          g_autoptr (GError) error = NULL;
          g_autofree char *hex = NULL;

          if (!g_str_equal (fields[0], "0"))
            continue;  /* one line per value */
          value = parse_text (fields[2]);
          bytes = sw_codec_encode (codec, value, &error);
          g_assert_no_error (error);
          g_assert_cmpuint (((const guint8 *) g_bytes_get_data (bytes, NULL))[1], ==, protocol);
          hex = to_hex (bytes);
          g_string_append_printf (input, "%s\n", hex);
          g_ptr_array_add (expected, g_steal_pointer (&value));
        }
    }
  out = run_python (python_loads, input->str);
  results = g_strsplit (g_strstrip (out), "\n", -1);
  g_assert_cmpuint (g_strv_length (results), ==, expected->len);
  for (guint i = 0; i < expected->len; i++)
    {
      g_autoptr (GVariant) loaded = parse_text (results[i]);

      if (!g_variant_equal (loaded, expected->pdata[i]))
        g_error ("Python loaded %s, want %s", results[i],
                 g_variant_print (expected->pdata[i], TRUE));
    }
}

/* Decodes @len bytes of @data expecting @code, whose message holds each
 * of @needles (NULL-terminated). */
static void
assert_refused (const char  *data,
                gsize        len,
                gint         code,
                ...)
{
  g_autoptr (SwCodec) codec = SW_CODEC (sw_pickle_codec_new ());
  g_autoptr (GBytes) bytes = g_bytes_new (data, len);
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) value = sw_codec_decode (codec, bytes, &error);
  const char *needle;
  va_list args;

  g_assert_null (value);
  g_assert_error (error, G_IO_ERROR, code);
  va_start (args, code);
  while ((needle = va_arg (args, const char *)) != NULL)
    if (strstr (error->message, needle) == NULL)
      g_error ("“%s” does not mention “%s”", error->message, needle);
  va_end (args);
}

#define REFUSED(lit, ...) \
  assert_refused (lit, sizeof (lit) - 1, G_IO_ERROR_INVALID_DATA, __VA_ARGS__, NULL)

static void
test_hostile_globals (void)
{
  /* pickle.dumps of a __reduce__ returning (os.system, ('echo',)), in the
   * forms of protocols 0 and 4. */
  REFUSED ("cposix\nsystem\n(Vecho\ntR.", "GLOBAL", "offset 0");
  REFUSED ("\x80\x04\x8c\x05posix\x8c\x06system\x93\x8c\004echo\x85R.",
           "STACK_GLOBAL", "offset 17");
  REFUSED ("\x80\x02""cbuiltins\neval\nX\x01\x00\x00\x00""1\x85R.", "GLOBAL");
  REFUSED ("\x80\x02""c__builtin__\nbytes\n)\x85R.", "REDUCE", "offset");
  /* REDUCE of something other than an allowed global. */
  REFUSED ("\x80\x04))R.", "REDUCE", "offset 4");
  /* _codecs.encode with another encoding than Latin-1. */
  REFUSED ("\x80\x02""c_codecs\nencode\nX\x01\x00\x00\x00xX\x05\x00\x00\x00utf_8\x86R.",
           "REDUCE");
  /* A callable left as the value. */
  REFUSED ("\x80\x02""c__builtin__\nset\n.", "STOP");
}

static void
test_refused_opcodes (void)
{
  static const struct { guint8 op; const char *name; } refused[] = {
    { 'b', "BUILD" }, { 'i', "INST" }, { 'o', "OBJ" }, { 0x81, "NEWOBJ" },
    { 0x92, "NEWOBJ_EX" }, { 'P', "PERSID" }, { 'Q', "BINPERSID" },
    { 0x82, "EXT1" }, { 0x83, "EXT2" }, { 0x84, "EXT4" },
    { 0x97, "NEXT_BUFFER" }, { 0x98, "READONLY_BUFFER" }, { 'S', "STRING" },
    { 'T', "BINSTRING" }, { 'U', "SHORT_BINSTRING" }, { 0xff, "unknown" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (refused); i++)
    {
      char data[] = "\x80\x05NN?\x01\x00\x00\x00x\nx\n.";

      data[4] = (char) refused[i].op;
      assert_refused (data, sizeof data - 1, G_IO_ERROR_INVALID_DATA,
                      refused[i].name, "offset 4", NULL);
    }
}

static void
test_hostile_lengths (void)
{
  REFUSED ("\x80\x04\x8d\xff\xff\xff\xff\xff\xff\xff\x7fx.", "BINUNICODE8", "past the end");
  REFUSED ("\x80\x04\x8e\xff\xff\xff\xff\xff\xff\xff\xffx.", "BINBYTES8", "past the end");
  REFUSED ("\x80\x04\x96\x00\x00\x00\x00\x01\x00\x00\x00x.", "BYTEARRAY8");
  REFUSED ("\x80\x03""B\xff\xff\xff\xffx.", "BINBYTES", "offset 2");
  REFUSED ("\x80\x04X\xff\xff\xff\x7fx.", "BINUNICODE");
  REFUSED ("\x80\x04\x95\x00\x00\x00\x00\x00\x00\x01\x00N.", "FRAME");
  REFUSED ("\x80\x04\x8b\xff\xff\xff\x7f\x01.", "LONG4");
  /* Ten bytes of integer cannot fit 64 bits; nine must end in zero. */
  REFUSED ("\x80\x04\x8a\x0a\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01.", "LONG1", "64 bits");
  REFUSED ("\x80\x04\x8a\x09\x01\x01\x01\x01\x01\x01\x01\x01\x01.", "LONG1");
  REFUSED ("L123456789012345678901234567890L\n.", "LONG", "64 bits");
  REFUSED ("\x80\x04\x8c\x02\xc3(.", "SHORT_BINUNICODE", "UTF-8");
  REFUSED ("\x80\x04\x8c\x03""a\x00""b.", "STOP", "NUL");
  REFUSED ("Vx\\ud800\n.", "UNICODE", "surrogate");
  REFUSED ("I12", "INT", "newline");
}

static void
test_hostile_structure (void)
{
  g_autoptr (GString) deep = g_string_new ("\x80\x04");
  g_autoptr (GString) wide = g_string_new ("\x80\x04)");

  /* A GET of an empty memo slot. */
  REFUSED ("\x80\x04h\x05.", "BINGET", "offset 2", "empty");
  REFUSED ("\x80\x04j\x00\x00\x00\x01.", "LONG_BINGET");
  /* A list and a dict containing themselves. */
  REFUSED ("\x80\x04]\x94h\x00""a.", "STOP", "contains itself");
  REFUSED ("\x80\x04}\x94K\x01h\x00s.", "STOP", "contains itself");
  /* A list as a dict key. */
  REFUSED ("\x80\x04}]K\x01s.", "SETITEM", "unhashable");
  /* Stack and mark mistakes. */
  REFUSED ("\x80\x04""a.", "APPEND", "underflow");
  REFUSED ("\x80\x04K\x01""e.", "APPENDS", "MARK");
  REFUSED ("\x80\x04K\x01]a.", "APPEND");
  REFUSED ("\x80\x04K\x01K\x02.", "STOP", "exactly one");
  REFUSED ("\x80\x04N.N", "STOP", "after the end");
  REFUSED ("\x80\x04N", "without STOP");
  REFUSED ("", "without STOP");
  REFUSED ("\x80\x06N.", "PROTO");
  /* As in CPython, MARK starts a new stack: nothing under it can be
   * popped, duplicated, memoized or filled until the MARK is gone. */
  REFUSED ("\x80\x04K\x01(0t.", "TUPLE", "MARK");
  REFUSED ("\x80\x04K\x01(\x85.", "TUPLE1", "underflow");
  REFUSED ("\x80\x04](K\x01""a.", "APPEND", "underflow");
  REFUSED ("\x80\x04K\x01(2.", "DUP", "underflow");
  REFUSED ("\x80\x04K\x01(\x94.", "MEMOIZE", "underflow");
  REFUSED ("\x80\x04(e.", "APPENDS", "underflow");

  /* 600 lists, each appended into the one before. */
  for (guint i = 0; i < 600; i++)
    g_string_append_c (deep, ']');
  for (guint i = 0; i < 599; i++)
    g_string_append_c (deep, 'a');
  g_string_append_c (deep, '.');
  assert_refused (deep->str, deep->len, G_IO_ERROR_INVALID_DATA, "too deep", NULL);

  /* A list 300 deep, memoized, then met again 300 lists deeper. */
  g_string_assign (deep, "\x80\x04");
  for (guint i = 0; i < 300; i++)
    g_string_append_c (deep, ']');
  for (guint i = 0; i < 299; i++)
    g_string_append_c (deep, 'a');
  g_string_append_c (deep, (char) 0x94);
  for (guint i = 0; i < 300; i++)
    g_string_append_c (deep, ']');
  g_string_append (deep, "h");
  g_string_append_c (deep, '\0');
  for (guint i = 0; i < 300; i++)
    g_string_append_c (deep, 'a');
  g_string_append (deep, "\x86.");
  assert_refused (deep->str, deep->len, G_IO_ERROR_INVALID_DATA, "too deep", NULL);

  /* A tuple of two of the previous one, 60 times: 2^60 leaves through the
   * memo, refused by the memory budget before anything is built. */
  for (guint i = 0; i < 60; i++)
    g_string_append_printf (wide, "\x94h%c\x86", (char) i);
  g_string_append_c (wide, '.');
  assert_refused (wide->str, wide->len, G_IO_ERROR_MESSAGE_TOO_LARGE, NULL);
}

/* On a connection: each hostile pickle fails its receive_value with
 * INVALID_DATA, and the value after it still arrives; no descriptor or
 * memory is kept for a refused message (valgrind checks the memory). */
static void
test_hostile_on_connection (void)
{
  static const char *const hostile[] = {
    "cposix\nsystem\n(Vecho\ntR.",
    "\x80\x04\x8c\x05posix\x8c\x06system\x93\x8c\004echo\x85R.",
    /* BINUNICODE8 declaring 2^62 bytes, BINBYTES8 2^63. */
    "\x80\x04\x8d\x00\x00\x00\x00\x00\x00\x00\x40.",
    "\x80\x04\x8e\x00\x00\x00\x00\x00\x00\x00\x80.",
    /* MARKs never closed. */
    "\x80\x04(((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((.",
  };
  g_autoptr(SwMultiprocessingFraming) framing = sw_multiprocessing_framing_new ();
  g_autoptr(SwCodec) codec = SW_CODEC (sw_pickle_codec_new ());
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GVariant) after = g_variant_ref_sink (g_variant_new_string ("after"));
  guint fds = 0;

  sw_test_socketpair (SW_FRAMING (framing), &a, &b);
  sw_connection_set_codec (a, codec);
  sw_connection_set_codec (b, codec);
  for (guint round = 0; round < 2; round++)
    {
      /* The first round creates the thread's wake fd; the second must
       * leave the count as it found it. */
      if (round == 1)
        fds = sw_test_count_open_fds ();
      for (gsize i = 0; i < G_N_ELEMENTS (hostile); i++)
        {
          g_autoptr(GBytes) message = g_bytes_new_static (hostile[i], strlen (hostile[i]));
          g_autoptr(GVariant) value = NULL;
          g_autoptr(GError) error = NULL;

          g_assert_true (sw_connection_send_message (a, message, -1, NULL, &error));
          g_assert_true (sw_connection_send_value (a, after, -1, NULL, &error));
          g_assert_no_error (error);
          value = sw_connection_receive_value (b, -1, NULL, &error);
          g_assert_null (value);
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
          g_clear_error (&error);
          value = sw_connection_receive_value (b, -1, NULL, &error);
          g_assert_no_error (error);
          g_assert_true (g_variant_equal (value, after));
        }
    }
  g_assert_cmpuint (sw_test_count_open_fds (), ==, fds);
}

static void
test_memo_fill_after_put (void)
{
  /* [l, l] with l = [1, 2] filled only after it was memoized. */
  static const char data[] = "\x80\x02]q\x00(]q\x01h\x01""eh\x01K\x01""a0h\x01K\x02""a0.";
  g_autoptr (SwCodec) codec = SW_CODEC (sw_pickle_codec_new ());
  g_autoptr (GBytes) bytes = g_bytes_new_static (data, sizeof data - 1);
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) value = sw_codec_decode (codec, bytes, &error);
  g_autoptr (GVariant) expected = parse_text ("@av [<@av [<int64 1>, <int64 2>]>, "
                                              "<@av [<int64 1>, <int64 2>]>]");

  g_assert_no_error (error);
  g_assert_true (g_variant_equal (value, expected));
}

static void
test_protocol_property (void)
{
  g_autoptr (SwPickleCodec) codec = sw_pickle_codec_new ();
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (GError) error = NULL;
  guint protocol;

  g_assert_cmpuint (sw_pickle_codec_get_protocol (codec), ==, 4);
  g_object_get (codec, "protocol", &protocol, NULL);
  g_assert_cmpuint (protocol, ==, 4);
  bytes = sw_codec_encode (SW_CODEC (codec), g_variant_new_boolean (TRUE), &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes),
                   "\x80\x04\x88.", 4);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/sw/pickle/decode-vectors", test_decode_vectors);
  g_test_add_func ("/sw/pickle/encode-round-trip", test_encode_round_trip);
  g_test_add_func ("/sw/pickle/hostile-globals", test_hostile_globals);
  g_test_add_func ("/sw/pickle/refused-opcodes", test_refused_opcodes);
  g_test_add_func ("/sw/pickle/hostile-lengths", test_hostile_lengths);
  g_test_add_func ("/sw/pickle/hostile-structure", test_hostile_structure);
  g_test_add_func ("/sw/pickle/hostile-on-connection", test_hostile_on_connection);
  g_test_add_func ("/sw/pickle/memo-fill-after-put", test_memo_fill_after_put);
  g_test_add_func ("/sw/pickle/protocol-property", test_protocol_property);
  return g_test_run ();
}
