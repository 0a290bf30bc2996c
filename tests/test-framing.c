/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The framings on their own: the wire vectors of DESIGN §5 through the
 * public API and the private fast path, incremental decoding, the checks
 * the public wrappers apply to a misbehaving implementation, and a framing
 * written outside the library driving a real connection. */

#include <string.h>

#include <socketwrapper/socketwrapper.h>

#include "sw-framing-private.h"
#include "sw-test-util.h"

/* Long enough never to fire on a loaded machine, short enough that a
 * broken test fails instead of hanging. */
#define TIMEOUT_US (10 * G_USEC_PER_SEC)

/* ------------------------------------------------------------------ */
/* A framing as an application would write it: only the public vfuncs. A
 * 2-byte big-endian length, then the payload. */

#define TEST_TYPE_TWO_BYTE_FRAMING (test_two_byte_framing_get_type ())
G_DECLARE_FINAL_TYPE (TestTwoByteFraming, test_two_byte_framing, TEST, TWO_BYTE_FRAMING, GObject)

struct _TestTwoByteFraming
{
  GObject parent_instance;
};

static void test_two_byte_framing_iface_init (SwFramingInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (TestTwoByteFraming, test_two_byte_framing, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (SW_TYPE_FRAMING,
                                                      test_two_byte_framing_iface_init))

static SwFramingResult
test_two_byte_framing_decode (SwFraming     *framing,
                              const guint8  *data,
                              gsize          length,
                              guint64       *state,
                              gsize         *header_length,
                              guint64       *payload_length,
                              gsize         *trailer_length,
                              gsize         *needed,
                              GError       **error)
{
  if (length < 2)
    {
      *needed = 2 - length;
      return SW_FRAMING_RESULT_NEED_MORE;
    }
  *header_length = 2;
  *payload_length = (guint64) data[0] << 8 | data[1];
  *trailer_length = 0;
  return SW_FRAMING_RESULT_FRAME;
}

static gboolean
test_two_byte_framing_encode (SwFraming  *framing,
                              GBytes     *payload,
                              GBytes    **header,
                              GBytes    **trailer,
                              GError    **error)
{
  gsize size = g_bytes_get_size (payload);
  guint8 buffer[2];

  if (size > G_MAXUINT16)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                           "too long for a 2-byte header");
      return FALSE;
    }
  buffer[0] = (guint8) (size >> 8);
  buffer[1] = (guint8) size;
  *header = g_bytes_new (buffer, sizeof buffer);
  return TRUE;
}

static void
test_two_byte_framing_iface_init (SwFramingInterface *iface)
{
  iface->decode = test_two_byte_framing_decode;
  iface->encode = test_two_byte_framing_encode;
}

static void
test_two_byte_framing_class_init (TestTwoByteFramingClass *klass)
{
}

static void
test_two_byte_framing_init (TestTwoByteFraming *self)
{
}

/* ------------------------------------------------------------------ */
/* A framing that breaks the contract in the way @mode says, to check that
 * the public wrappers turn each breach into a clean error. */

typedef enum {
  BAD_NEED_MORE_ZERO,
  BAD_ERROR_WITHOUT_GERROR,
  BAD_EMPTY_FRAME,
  BAD_HEADER_BEYOND_DATA,
  BAD_INVALID_RESULT,
  BAD_FRAME_WITH_GERROR,
  BAD_TRAILER_WRAPS,
  BAD_FRAME_WRAPS,
  BAD_NEEDED_WRAPS,
  BAD_ENCODE_NO_HEADER,
  BAD_ENCODE_FALSE_WITHOUT_GERROR,
  BAD_ENCODE_TRAILER,
  BAD_ENCODE_EMPTY_TRAILER,
} BadMode;

#define TEST_TYPE_BAD_FRAMING (test_bad_framing_get_type ())
G_DECLARE_FINAL_TYPE (TestBadFraming, test_bad_framing, TEST, BAD_FRAMING, GObject)

struct _TestBadFraming
{
  GObject parent_instance;
  BadMode mode;
};

static void test_bad_framing_iface_init (SwFramingInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (TestBadFraming, test_bad_framing, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (SW_TYPE_FRAMING,
                                                      test_bad_framing_iface_init))

static SwFramingResult
test_bad_framing_decode (SwFraming     *framing,
                         const guint8  *data,
                         gsize          length,
                         guint64       *state,
                         gsize         *header_length,
                         guint64       *payload_length,
                         gsize         *trailer_length,
                         gsize         *needed,
                         GError       **error)
{
  switch (TEST_BAD_FRAMING (framing)->mode)
    {
    case BAD_NEED_MORE_ZERO:
      *needed = 0;
      return SW_FRAMING_RESULT_NEED_MORE;
    case BAD_ERROR_WITHOUT_GERROR:
      return SW_FRAMING_RESULT_ERROR;
    case BAD_EMPTY_FRAME:
      return SW_FRAMING_RESULT_FRAME;
    case BAD_HEADER_BEYOND_DATA:
      *header_length = length + 1;
      return SW_FRAMING_RESULT_FRAME;
    case BAD_INVALID_RESULT:
      return (SwFramingResult) 42;
    case BAD_FRAME_WITH_GERROR:
      *header_length = 1;
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                           "set but not reported");
      return SW_FRAMING_RESULT_FRAME;
    case BAD_TRAILER_WRAPS:
      /* header + trailer wraps to 0: an endless run of empty messages */
      *header_length = 1;
      *trailer_length = G_MAXSIZE;
      return SW_FRAMING_RESULT_FRAME;
    case BAD_FRAME_WRAPS:
      /* header + trailer fits, adding the payload wraps to 0 */
      *header_length = 1;
      *payload_length = 16;
      *trailer_length = G_MAXSIZE - 16;
      return SW_FRAMING_RESULT_FRAME;
    case BAD_NEEDED_WRAPS:
      *needed = G_MAXSIZE - length + 1;
      return SW_FRAMING_RESULT_NEED_MORE;
    default:
      g_assert_not_reached ();
    }
}

static gboolean
test_bad_framing_encode (SwFraming  *framing,
                         GBytes     *payload,
                         GBytes    **header,
                         GBytes    **trailer,
                         GError    **error)
{
  switch (TEST_BAD_FRAMING (framing)->mode)
    {
    case BAD_ENCODE_NO_HEADER:
      return TRUE;
    case BAD_ENCODE_FALSE_WITHOUT_GERROR:
      *header = g_bytes_new ("x", 1);  /* must not leak */
      return FALSE;
    case BAD_ENCODE_TRAILER:
      *header = g_bytes_new ("h", 1);
      *trailer = g_bytes_new ("\n", 1);
      return TRUE;
    case BAD_ENCODE_EMPTY_TRAILER:
      *header = g_bytes_new (NULL, 0);
      *trailer = g_bytes_new (NULL, 0);
      return TRUE;
    default:
      g_assert_not_reached ();
    }
}

static void
test_bad_framing_iface_init (SwFramingInterface *iface)
{
  iface->decode = test_bad_framing_decode;
  iface->encode = test_bad_framing_encode;
}

static void
test_bad_framing_class_init (TestBadFramingClass *klass)
{
}

static void
test_bad_framing_init (TestBadFraming *self)
{
}

static SwFraming *
bad_framing_new (BadMode mode)
{
  TestBadFraming *self = g_object_new (TEST_TYPE_BAD_FRAMING, NULL);

  self->mode = mode;
  return SW_FRAMING (self);
}

/* Implements the interface and sets no vfunc, as a binding might. */
#define TEST_TYPE_EMPTY_FRAMING (test_empty_framing_get_type ())
G_DECLARE_FINAL_TYPE (TestEmptyFraming, test_empty_framing, TEST, EMPTY_FRAMING, GObject)

struct _TestEmptyFraming
{
  GObject parent_instance;
};

static void
test_empty_framing_iface_init (SwFramingInterface *iface)
{
}

G_DEFINE_FINAL_TYPE_WITH_CODE (TestEmptyFraming, test_empty_framing, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (SW_TYPE_FRAMING,
                                                      test_empty_framing_iface_init))

static void
test_empty_framing_class_init (TestEmptyFramingClass *klass)
{
}

static void
test_empty_framing_init (TestEmptyFraming *self)
{
}

/* ------------------------------------------------------------------ */
/* A framing whose answer the test dictates: NEED_MORE (asking for exactly
 * the missing bytes) until @min_length bytes are buffered, then @answer
 * with the given lengths, whatever the bytes are. */

#define TEST_TYPE_SCRIPTED_FRAMING (test_scripted_framing_get_type ())
G_DECLARE_FINAL_TYPE (TestScriptedFraming, test_scripted_framing, TEST, SCRIPTED_FRAMING,
                      GObject)

struct _TestScriptedFraming
{
  GObject          parent_instance;
  gsize            min_length;
  SwFramingResult  answer;
  gsize            header_length;
  guint64          payload_length;
  gsize            trailer_length;
  gsize            needed;
};

static void test_scripted_framing_iface_init (SwFramingInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (TestScriptedFraming, test_scripted_framing, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (SW_TYPE_FRAMING,
                                                      test_scripted_framing_iface_init))

static SwFramingResult
test_scripted_framing_decode (SwFraming     *framing,
                              const guint8  *data,
                              gsize          length,
                              guint64       *state,
                              gsize         *header_length,
                              guint64       *payload_length,
                              gsize         *trailer_length,
                              gsize         *needed,
                              GError       **error)
{
  TestScriptedFraming *self = TEST_SCRIPTED_FRAMING (framing);

  if (length < self->min_length)
    {
      *needed = self->min_length - length;
      return SW_FRAMING_RESULT_NEED_MORE;
    }
  *header_length = self->header_length;
  *payload_length = self->payload_length;
  *trailer_length = self->trailer_length;
  *needed = self->needed;
  return self->answer;
}

static gboolean
test_scripted_framing_encode (SwFraming  *framing,
                              GBytes     *payload,
                              GBytes    **header,
                              GBytes    **trailer,
                              GError    **error)
{
  *header = g_bytes_new (NULL, 0);
  return TRUE;
}

static void
test_scripted_framing_iface_init (SwFramingInterface *iface)
{
  iface->decode = test_scripted_framing_decode;
  iface->encode = test_scripted_framing_encode;
}

static void
test_scripted_framing_class_init (TestScriptedFramingClass *klass)
{
}

static void
test_scripted_framing_init (TestScriptedFraming *self)
{
}

/* ------------------------------------------------------------------ */
/* Helpers */

typedef struct
{
  guint64  value;
  GBytes  *encoding;
} Vector;

static void
vector_clear (gpointer data)
{
  Vector *vector = data;

  g_clear_pointer (&vector->encoding, g_bytes_unref);
}

static GBytes *
bytes_from_hex (const char *hex)
{
  gsize n = strlen (hex);
  guint8 *data;

  g_assert_cmpuint (n % 2, ==, 0);
  data = g_malloc (n / 2 + 1);
  for (gsize i = 0; i < n / 2; i++)
    {
      int hi = g_ascii_xdigit_value (hex[2 * i]);
      int lo = g_ascii_xdigit_value (hex[2 * i + 1]);

      g_assert_cmpint (hi, >=, 0);
      g_assert_cmpint (lo, >=, 0);
      data[i] = (guint8) (hi << 4 | lo);
    }
  return g_bytes_new_take (data, n / 2);
}

/* The vectors of @name: "<decimal value> <hex encoding>" per line, '#'
 * starts a comment line. */
static GArray *
load_vectors (const char *name)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = NULL;
  g_autofree char *contents = NULL;
  g_auto (GStrv) lines = NULL;
  const char *dir = g_getenv ("SW_TEST_VECTORS");
  GArray *vectors = g_array_new (FALSE, TRUE, sizeof (Vector));

  g_array_set_clear_func (vectors, vector_clear);
  path = g_build_filename (dir ? dir : SW_TEST_SRCDIR "/vectors", name, NULL);
  g_file_get_contents (path, &contents, NULL, &error);
  g_assert_no_error (error);

  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_auto (GStrv) fields = NULL;
      Vector vector;

      g_strstrip (lines[i]);
      if (lines[i][0] == '\0' || lines[i][0] == '#')
        continue;
      fields = g_strsplit_set (lines[i], " \t", -1);
      g_assert_cmpuint (g_strv_length (fields), ==, 2);
      g_ascii_string_to_unsigned (fields[0], 10, 0, G_MAXUINT64,
                                  &vector.value, &error);
      g_assert_no_error (error);
      vector.encoding = bytes_from_hex (fields[1]);
      g_array_append_val (vectors, vector);
    }
  g_assert_cmpuint (vectors->len, >, 0);
  return vectors;
}

/* A payload whose size is @size. Encoders read only the size, so sizes
 * far beyond memory (the wire format allows 2^64 - 1) are described by a
 * GBytes whose data is never read. */
static GBytes *
payload_of_size (guint64 size)
{
  static const guint8 never_read[1];

  return g_bytes_new_static (never_read, (gsize) size);
}

static void
assert_bytes_equal (GBytes       *bytes,
                    const guint8 *expected,
                    gsize         expected_length)
{
  gsize length;
  const guint8 *data = g_bytes_get_data (bytes, &length);

  g_assert_cmpmem (data, length, expected, expected_length);
}

/* Checks that @framing, through the public API and (when it has one) the
 * fast path, encodes a payload of @size as exactly @expected. */
static void
assert_encodes (SwFraming    *framing,
                guint64       size,
                const guint8 *expected,
                gsize         expected_length)
{
  const SwFramingFastPath *fast = sw_framing_get_fast_path (framing);
  guint8 buffer[SW_FRAMING_MAX_HEADER];
  gsize n;

  /* A GBytes cannot describe more than G_MAXSIZE bytes (32-bit hosts). */
  if (size <= G_MAXSIZE)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GBytes) payload = payload_of_size (size);
      g_autoptr (GBytes) header = NULL;
      g_autoptr (GBytes) trailer = NULL;

      g_assert_true (sw_framing_encode (framing, payload, &header, &trailer,
                                        &error));
      g_assert_no_error (error);
      assert_bytes_equal (header, expected, expected_length);
      g_assert_null (trailer);
    }

  if (fast != NULL)
    {
      n = fast->encode_header (framing, size, buffer);
      g_assert_cmpmem (buffer, n, expected, expected_length);
    }
}

/* Checks that @framing decodes @data (which ends right after the header)
 * as a frame of @payload_length, through the public API and the fast
 * path. */
static void
assert_decodes (SwFraming    *framing,
                const guint8 *data,
                gsize         length,
                guint64       payload_length)
{
  const SwFramingFastPath *fast = sw_framing_get_fast_path (framing);

  for (guint way = 0; way < 2; way++)
    {
      g_autoptr (GError) error = NULL;
      guint64 state = 0, payload = 0;
      gsize header = 0, trailer = 99, needed = 0;
      SwFramingResult result;

      if (way == 0)
        result = sw_framing_decode (framing, data, length, &state, &header,
                                    &payload, &trailer, &needed, &error);
      else if (fast != NULL)
        result = fast->decode (framing, data, length, &state, &header,
                               &payload, &trailer, &needed, &error);
      else
        continue;

      g_assert_no_error (error);
      g_assert_cmpint (result, ==, SW_FRAMING_RESULT_FRAME);
      g_assert_cmpuint (header, ==, length);
      g_assert_cmpuint (payload, ==, payload_length);
      g_assert_cmpuint (trailer, ==, 0);
    }
}

/* Feeds @data (a header) one more byte at a time, keeping the state as a
 * connection does: every proper prefix must answer NEED_MORE with a lower
 * bound that does not reach past the header, the whole header a frame. */
static void
assert_decodes_incrementally (SwFraming    *framing,
                              const guint8 *data,
                              gsize         length,
                              guint64       payload_length)
{
  const SwFramingFastPath *fast = sw_framing_get_fast_path (framing);

  for (guint way = 0; way < 2; way++)
    {
      guint64 state = 0;

      if (way == 1 && fast == NULL)
        continue;

      for (gsize k = 0; k <= length; k++)
        {
          g_autoptr (GError) error = NULL;
          guint64 payload = 0;
          gsize header = 0, trailer = 0, needed = 0;
          SwFramingResult result;

          if (way == 0)
            result = sw_framing_decode (framing, data, k, &state, &header,
                                        &payload, &trailer, &needed, &error);
          else
            result = fast->decode (framing, data, k, &state, &header,
                                   &payload, &trailer, &needed, &error);
          g_assert_no_error (error);

          if (k < length)
            {
              g_assert_cmpint (result, ==, SW_FRAMING_RESULT_NEED_MORE);
              g_assert_cmpuint (needed, >=, 1);
              g_assert_cmpuint (k + needed, <=, length);
            }
          else
            {
              g_assert_cmpint (result, ==, SW_FRAMING_RESULT_FRAME);
              g_assert_cmpuint (header, ==, length);
              g_assert_cmpuint (payload, ==, payload_length);
            }
        }
    }
}

/* Decodes @data with @framing through the public API, expecting an
 * error. */
static void
assert_decode_fails (SwFraming    *framing,
                     const guint8 *data,
                     gsize         length,
                     GQuark        domain,
                     gint          code)
{
  g_autoptr (GError) error = NULL;
  guint64 state = 0, payload;
  gsize header, trailer, needed;

  g_assert_cmpint (sw_framing_decode (framing, data, length, &state, &header,
                                      &payload, &trailer, &needed, &error),
                   ==, SW_FRAMING_RESULT_ERROR);
  g_assert_error (error, domain, code);
}

/* ------------------------------------------------------------------ */
/* SQLite4 varint */

static void
test_varint_vectors (void)
{
  g_autoptr (GArray) vectors = load_vectors ("varint.txt");
  g_autoptr (SwVarIntFraming) framing = sw_varint_framing_new ();

  g_assert_nonnull (sw_framing_get_fast_path (SW_FRAMING (framing)));

  for (guint i = 0; i < vectors->len; i++)
    {
      Vector *v = &g_array_index (vectors, Vector, i);
      gsize length;
      const guint8 *encoding = g_bytes_get_data (v->encoding, &length);
      guint8 out[9];
      guint64 value = 0;
      gsize needed = 0;

      g_test_message ("%" G_GUINT64_FORMAT, v->value);

      /* The helpers */
      g_assert_cmpmem (out, sw_varint_encode (v->value, out),
                       encoding, length);
      g_assert_cmpuint (sw_varint_decode (encoding, length, &value, &needed),
                        ==, length);
      g_assert_cmpuint (value, ==, v->value);

      /* The framing, both ways */
      assert_encodes (SW_FRAMING (framing), v->value, encoding, length);
      assert_decodes (SW_FRAMING (framing), encoding, length, v->value);
    }
}

static void
test_varint_noncanonical (void)
{
  g_autoptr (GArray) vectors = load_vectors ("varint-noncanonical.txt");
  g_autoptr (SwVarIntFraming) framing = sw_varint_framing_new ();

  for (guint i = 0; i < vectors->len; i++)
    {
      Vector *v = &g_array_index (vectors, Vector, i);
      gsize length;
      const guint8 *encoding = g_bytes_get_data (v->encoding, &length);
      guint8 canonical[9];
      guint64 value = 0;
      gsize needed = 0;

      g_test_message ("%" G_GUINT64_FORMAT, v->value);
      g_assert_cmpuint (sw_varint_decode (encoding, length, &value, &needed),
                        ==, length);
      g_assert_cmpuint (value, ==, v->value);
      assert_decodes (SW_FRAMING (framing), encoding, length, v->value);

      /* Accepted, never produced */
      g_assert_cmpuint (sw_varint_encode (v->value, canonical), <, length);
    }
}

static void
test_varint_incremental (void)
{
  g_autoptr (GArray) vectors = load_vectors ("varint.txt");
  g_autoptr (GArray) noncanonical = load_vectors ("varint-noncanonical.txt");
  g_autoptr (SwVarIntFraming) framing = sw_varint_framing_new ();

  g_array_append_vals (vectors, noncanonical->data, noncanonical->len);
  /* The appended vectors now belong to @vectors. */
  g_array_set_clear_func (noncanonical, NULL);

  for (guint i = 0; i < vectors->len; i++)
    {
      Vector *v = &g_array_index (vectors, Vector, i);
      gsize length;
      const guint8 *encoding = g_bytes_get_data (v->encoding, &length);

      assert_decodes_incrementally (SW_FRAMING (framing), encoding, length,
                                    v->value);

      /* The first byte gives the header length, so from then on the lower
       * bound is exact. */
      for (gsize k = 0; k < length; k++)
        {
          guint64 value;
          gsize needed = 0;

          g_assert_cmpuint (sw_varint_decode (encoding, k, &value, &needed), ==, 0);
          g_assert_cmpuint (needed, ==, k == 0 ? 1 : length - k);
        }
    }
}

/* The payload following the header is none of decode's business: the
 * answer comes from the header alone, whatever else is buffered. */
static void
test_varint_payload_buffered (void)
{
  static const guint8 data[] = { 0x03, 'a', 'b', 'c', 0x01, 'd' };
  g_autoptr (SwVarIntFraming) framing = sw_varint_framing_new ();
  g_autoptr (GError) error = NULL;
  guint64 state = 0, payload;
  gsize header, trailer, needed;

  g_assert_cmpint (sw_framing_decode (SW_FRAMING (framing), data, sizeof data,
                                      &state, &header, &payload, &trailer,
                                      &needed, &error),
                   ==, SW_FRAMING_RESULT_FRAME);
  g_assert_no_error (error);
  g_assert_cmpuint (header, ==, 1);
  g_assert_cmpuint (payload, ==, 3);
  g_assert_cmpuint (trailer, ==, 0);
}

static void
test_varint_real_payload (void)
{
  g_autoptr (SwVarIntFraming) framing = sw_varint_framing_new ();
  g_autoptr (GBytes) payload = sw_test_pattern_bytes (1000, 7);
  g_autoptr (GBytes) header = NULL;
  g_autoptr (GBytes) trailer = NULL;
  g_autoptr (GError) error = NULL;
  static const guint8 expected[] = { 0xf3, 0xf8 };

  g_assert_true (sw_framing_encode (SW_FRAMING (framing), payload, &header,
                                    &trailer, &error));
  g_assert_no_error (error);
  assert_bytes_equal (header, expected, sizeof expected);
  g_assert_null (trailer);
}

/* ------------------------------------------------------------------ */
/* multiprocessing.connection */

static void
test_multiprocessing_sizes (void)
{
  static const struct {
    guint64 size;
    guint8  header[12];
    gsize   header_length;
  } cases[] = {
    { 0, { 0, 0, 0, 0 }, 4 },
    { 1, { 0, 0, 0, 1 }, 4 },
    { 0x12345, { 0, 0x01, 0x23, 0x45 }, 4 },
    { 0x7fffffff, { 0x7f, 0xff, 0xff, 0xff }, 4 },
    /* Python switches to the 8-byte form above 0x7fffffff */
    { 0x80000000, { 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0x80, 0, 0, 0 }, 12 },
    { G_GUINT64_CONSTANT (0x0123456789abcdef),
      { 0xff, 0xff, 0xff, 0xff, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef }, 12 },
  };
  g_autoptr (SwMultiprocessingFraming) framing = sw_multiprocessing_framing_new ();

  g_assert_nonnull (sw_framing_get_fast_path (SW_FRAMING (framing)));

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_test_message ("%" G_GUINT64_FORMAT, cases[i].size);
      assert_encodes (SW_FRAMING (framing), cases[i].size, cases[i].header,
                      cases[i].header_length);
      assert_decodes (SW_FRAMING (framing), cases[i].header,
                      cases[i].header_length, cases[i].size);
      assert_decodes_incrementally (SW_FRAMING (framing), cases[i].header,
                                    cases[i].header_length, cases[i].size);
    }
}

/* Python never writes the 8-byte form for small lengths, but reads it. */
static void
test_multiprocessing_long_form_small (void)
{
  static const guint8 zero[] = { 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0 };
  static const guint8 five[] = { 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 5 };
  g_autoptr (SwMultiprocessingFraming) framing = sw_multiprocessing_framing_new ();

  assert_decodes (SW_FRAMING (framing), zero, sizeof zero, 0);
  assert_decodes (SW_FRAMING (framing), five, sizeof five, 5);
  assert_decodes_incrementally (SW_FRAMING (framing), five, sizeof five, 5);
}

static void
test_multiprocessing_negative (void)
{
  static const guint8 cases[][4] = {
    { 0xff, 0xff, 0xff, 0xfe },  /* -2 */
    { 0x80, 0x00, 0x00, 0x00 },  /* G_MININT32 */
    { 0xf0, 0x00, 0x00, 0x01 },
  };
  g_autoptr (SwMultiprocessingFraming) framing = sw_multiprocessing_framing_new ();
  const SwFramingFastPath *fast = sw_framing_get_fast_path (SW_FRAMING (framing));

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      guint64 state = 0, payload;
      gsize header, trailer, needed;

      assert_decode_fails (SW_FRAMING (framing), cases[i], 4,
                           G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
      g_assert_cmpint (fast->decode (SW_FRAMING (framing), cases[i], 4, &state,
                                     &header, &payload, &trailer, &needed,
                                     &error),
                       ==, SW_FRAMING_RESULT_ERROR);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
    }
}

static void
test_multiprocessing_real_payload (void)
{
  g_autoptr (SwMultiprocessingFraming) framing = sw_multiprocessing_framing_new ();
  g_autoptr (GBytes) payload = g_bytes_new_static ("hello", 5);
  g_autoptr (GBytes) header = NULL;
  g_autoptr (GError) error = NULL;
  static const guint8 expected[] = { 0, 0, 0, 5 };

  /* No trailer wanted: fine, this framing has none. */
  g_assert_true (sw_framing_encode (SW_FRAMING (framing), payload, &header,
                                    NULL, &error));
  g_assert_no_error (error);
  assert_bytes_equal (header, expected, sizeof expected);
}

/* ------------------------------------------------------------------ */
/* The interface */

static gpointer
get_default_thread (gpointer data)
{
  return sw_framing_get_default ();
}

static void
test_default (void)
{
  SwFraming *framing = sw_framing_get_default ();
  GThread *threads[4];

  g_assert_true (SW_IS_VARINT_FRAMING (framing));
  g_assert_true (sw_framing_get_default () == framing);

  for (gsize i = 0; i < G_N_ELEMENTS (threads); i++)
    threads[i] = g_thread_new ("get-default", get_default_thread, NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (threads); i++)
    g_assert_true (g_thread_join (threads[i]) == framing);
}

static void
test_result_enum (void)
{
  g_autoptr (GEnumClass) klass = g_type_class_ref (SW_TYPE_FRAMING_RESULT);

  g_assert_cmpstr (g_enum_get_value (klass, SW_FRAMING_RESULT_ERROR)->value_nick,
                   ==, "error");
  g_assert_cmpstr (g_enum_get_value (klass, SW_FRAMING_RESULT_FRAME)->value_nick,
                   ==, "frame");
  g_assert_cmpstr (g_enum_get_value (klass, SW_FRAMING_RESULT_NEED_MORE)->value_nick,
                   ==, "need-more");
}

static void
test_fast_path (void)
{
  g_autoptr (SwVarIntFraming) varint1 = sw_varint_framing_new ();
  g_autoptr (SwVarIntFraming) varint2 = sw_varint_framing_new ();
  g_autoptr (SwMultiprocessingFraming) mp = sw_multiprocessing_framing_new ();
  g_autoptr (TestTwoByteFraming) custom = g_object_new (TEST_TYPE_TWO_BYTE_FRAMING, NULL);
  const SwFramingFastPath *fast = sw_framing_get_fast_path (SW_FRAMING (varint1));

  g_assert_nonnull (fast);
  g_assert_true (sw_framing_get_fast_path (SW_FRAMING (varint2)) == fast);
  g_assert_true (sw_framing_get_fast_path (sw_framing_get_default ()) == fast);
  g_assert_nonnull (sw_framing_get_fast_path (SW_FRAMING (mp)));
  g_assert_true (sw_framing_get_fast_path (SW_FRAMING (mp)) != fast);
  g_assert_null (sw_framing_get_fast_path (SW_FRAMING (custom)));
}

/* Every built-in framing asks for at least one byte of an empty buffer,
 * which a connection that does not read ahead relies on. */
static void
test_empty_buffer (void)
{
  g_autoptr (SwFraming) varint = SW_FRAMING (sw_varint_framing_new ());
  g_autoptr (SwFraming) mp = SW_FRAMING (sw_multiprocessing_framing_new ());
  SwFraming *framings[] = { varint, mp };

  for (gsize i = 0; i < G_N_ELEMENTS (framings); i++)
    {
      g_autoptr (GError) error = NULL;
      guint64 state = 0, payload;
      gsize header, trailer, needed = 0;

      g_assert_cmpint (sw_framing_decode (framings[i], NULL, 0, &state,
                                          &header, &payload, &trailer,
                                          &needed, &error),
                       ==, SW_FRAMING_RESULT_NEED_MORE);
      g_assert_no_error (error);
      g_assert_cmpuint (needed, >=, 1);
    }
}

static void
test_custom_decode_encode (void)
{
  g_autoptr (SwFraming) framing = g_object_new (TEST_TYPE_TWO_BYTE_FRAMING, NULL);
  g_autoptr (GBytes) payload = g_bytes_new_static ("hello", 5);
  g_autoptr (GBytes) too_long = payload_of_size (G_MAXUINT16 + 1);
  g_autoptr (GBytes) header = NULL;
  g_autoptr (GBytes) trailer = NULL;
  g_autoptr (GError) error = NULL;
  static const guint8 frame[] = { 0, 5, 'h', 'e', 'l', 'l', 'o' };

  g_assert_true (sw_framing_encode (framing, payload, &header, &trailer, &error));
  g_assert_no_error (error);
  assert_bytes_equal (header, frame, 2);
  g_assert_null (trailer);
  g_clear_pointer (&header, g_bytes_unref);

  /* An error of the implementation reaches the caller as it is. */
  g_assert_false (sw_framing_encode (framing, too_long, &header, &trailer, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
  g_assert_null (header);

  assert_decodes (framing, frame, 2, 5);
  assert_decodes_incrementally (framing, frame, 2, 5);
}

typedef struct
{
  const char *name;
  BadMode     mode;
  gint        code;
} BadCase;

static const BadCase bad_decode_cases[] = {
  { "need-more-zero", BAD_NEED_MORE_ZERO, G_IO_ERROR_INVALID_DATA },
  { "error-without-gerror", BAD_ERROR_WITHOUT_GERROR, G_IO_ERROR_INVALID_DATA },
  { "empty-frame", BAD_EMPTY_FRAME, G_IO_ERROR_INVALID_DATA },
  { "header-beyond-data", BAD_HEADER_BEYOND_DATA, G_IO_ERROR_INVALID_DATA },
  { "invalid-result", BAD_INVALID_RESULT, G_IO_ERROR_INVALID_DATA },
  /* The error the implementation set wins over its answer. */
  { "frame-with-gerror", BAD_FRAME_WITH_GERROR, G_IO_ERROR_PERMISSION_DENIED },
  /* Lengths whose sum does not fit in 64 bits are a framing bug. */
  { "trailer-wraps", BAD_TRAILER_WRAPS, G_IO_ERROR_INVALID_DATA },
  { "frame-wraps", BAD_FRAME_WRAPS, G_IO_ERROR_INVALID_DATA },
  { "needed-wraps", BAD_NEEDED_WRAPS, G_IO_ERROR_INVALID_DATA },
};

static const BadCase bad_encode_cases[] = {
  { "no-header", BAD_ENCODE_NO_HEADER, G_IO_ERROR_FAILED },
  { "false-without-gerror", BAD_ENCODE_FALSE_WITHOUT_GERROR, G_IO_ERROR_FAILED },
};

static void
test_contract_decode (gconstpointer data)
{
  const BadCase *bad = data;
  g_autoptr (SwFraming) framing = bad_framing_new (bad->mode);
  static const guint8 buffer[] = { 1, 2, 3 };
  guint64 state = 0, payload;
  gsize header, trailer, needed;

  assert_decode_fails (framing, buffer, sizeof buffer, G_IO_ERROR, bad->code);

  /* The same without a GError: the answer is still an error. */
  g_assert_cmpint (sw_framing_decode (framing, buffer, sizeof buffer, &state,
                                      &header, &payload, &trailer, &needed,
                                      NULL),
                   ==, SW_FRAMING_RESULT_ERROR);
}

static void
test_contract_encode (gconstpointer data)
{
  const BadCase *bad = data;
  g_autoptr (SwFraming) framing = bad_framing_new (bad->mode);
  g_autoptr (GBytes) payload = g_bytes_new_static ("x", 1);
  g_autoptr (GBytes) header = NULL;
  g_autoptr (GBytes) trailer = NULL;
  g_autoptr (GError) error = NULL;

  g_assert_false (sw_framing_encode (framing, payload, &header, &trailer, &error));
  g_assert_error (error, G_IO_ERROR, bad->code);
  g_assert_null (header);
  g_assert_null (trailer);
}

static void
test_contract_trailer (void)
{
  g_autoptr (SwFraming) framing = bad_framing_new (BAD_ENCODE_TRAILER);
  g_autoptr (SwFraming) empty = bad_framing_new (BAD_ENCODE_EMPTY_TRAILER);
  g_autoptr (GBytes) payload = g_bytes_new_static ("x", 1);
  g_autoptr (GBytes) header = NULL;
  g_autoptr (GBytes) trailer = NULL;
  g_autoptr (GError) error = NULL;

  g_assert_true (sw_framing_encode (framing, payload, &header, &trailer, &error));
  g_assert_no_error (error);
  assert_bytes_equal (trailer, (const guint8 *) "\n", 1);
  g_clear_pointer (&header, g_bytes_unref);
  g_clear_pointer (&trailer, g_bytes_unref);

  /* A caller that cannot write a trailer must not get a torn frame. */
  g_assert_false (sw_framing_encode (framing, payload, &header, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  g_assert_null (header);
  g_clear_error (&error);

  /* An empty trailer is no trailer, and an empty header is allowed. */
  g_assert_true (sw_framing_encode (empty, payload, &header, &trailer, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (header), ==, 0);
  g_assert_null (trailer);
  g_clear_pointer (&header, g_bytes_unref);
  g_assert_true (sw_framing_encode (empty, payload, &header, NULL, &error));
  g_assert_no_error (error);
}

static void
test_contract_unimplemented (void)
{
  g_autoptr (SwFraming) framing = g_object_new (TEST_TYPE_EMPTY_FRAMING, NULL);
  g_autoptr (GBytes) payload = g_bytes_new_static ("x", 1);
  g_autoptr (GBytes) header = NULL;
  g_autoptr (GError) error = NULL;
  static const guint8 buffer[] = { 1 };

  assert_decode_fails (framing, buffer, sizeof buffer,
                       G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  g_assert_false (sw_framing_encode (framing, payload, &header, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
}

/* ------------------------------------------------------------------ */
/* A custom framing through a real connection */

static void
test_custom_connection (void)
{
  g_autoptr (SwFraming) framing = g_object_new (TEST_TYPE_TWO_BYTE_FRAMING, NULL);
  g_autoptr (SwConnection) a = NULL;
  g_autoptr (SwConnection) b = NULL;
  g_autoptr (GError) error = NULL;
  static const gsize sizes[] = { 5, 0, 1, 300, G_MAXUINT16 };

  g_assert_true (sw_socketpair (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
                                framing, &a, &b, &error));
  g_assert_no_error (error);

  for (gsize i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      g_autoptr (GBytes) message = sw_test_pattern_bytes (sizes[i], (guint32) i);
      g_autoptr (GBytes) received = NULL;

      g_assert_true (sw_connection_send_message (a, message, TIMEOUT_US,
                                                 NULL, &error));
      g_assert_no_error (error);
      received = sw_connection_receive_message (b, TIMEOUT_US, NULL, &error);
      g_assert_no_error (error);
      g_assert_true (g_bytes_equal (received, message));
    }
}

/* The frame arrives in pieces: the first receive sees a partial header
 * (decode answers NEED_MORE) and times out keeping what it read; the next
 * one completes the message. */
static void
test_custom_connection_split (void)
{
  g_autoptr (SwFraming) framing = g_object_new (TEST_TYPE_TWO_BYTE_FRAMING, NULL);
  g_autoptr (SwConnection) a = NULL;
  g_autoptr (SwConnection) b = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) first = g_bytes_new_static ("\0", 1);
  g_autoptr (GBytes) rest = g_bytes_new_static ("\5hello", 6);
  g_autoptr (GBytes) received = NULL;

  g_assert_true (sw_socketpair (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
                                framing, &a, &b, &error));
  g_assert_no_error (error);

  g_assert_cmpint (sw_connection_send_bytes (a, first, TIMEOUT_US, NULL, &error),
                   ==, 1);
  g_assert_no_error (error);
  received = sw_connection_receive_message (b, 0, NULL, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_null (received);
  g_clear_error (&error);

  g_assert_cmpint (sw_connection_send_bytes (a, rest, TIMEOUT_US, NULL, &error),
                   ==, 6);
  g_assert_no_error (error);
  received = sw_connection_receive_message (b, TIMEOUT_US, NULL, &error);
  g_assert_no_error (error);
  assert_bytes_equal (received, (const guint8 *) "hello", 5);
}

/* A framing error surfaces as the receive's error. */
static void
test_custom_connection_error (void)
{
  g_autoptr (SwFraming) framing = bad_framing_new (BAD_NEED_MORE_ZERO);
  g_autoptr (SwConnection) a = NULL;
  g_autoptr (SwConnection) b = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) junk = g_bytes_new_static ("junk", 4);
  g_autoptr (GBytes) received = NULL;

  g_assert_true (sw_socketpair (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
                                framing, &a, &b, &error));
  g_assert_no_error (error);
  g_assert_cmpint (sw_connection_send_bytes (a, junk, TIMEOUT_US, NULL, &error),
                   ==, 4);
  g_assert_no_error (error);
  received = sw_connection_receive_message (b, TIMEOUT_US, NULL, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_assert_null (received);
}

/* ------------------------------------------------------------------ */
/* Answers whose lengths add up past 64 bits, or past the limit, through a
 * real connection: each is a clean error, never an empty message, a read
 * past the buffer or a message over max-message-size. */

typedef struct
{
  const char      *name;
  gsize            min_length;
  SwFramingResult  answer;
  gsize            header_length;
  guint64          payload_length;
  gsize            trailer_length;
  gsize            needed;
  gsize            wire;              /* bytes the peer sends first */
  guint64          max_message_size;  /* 0: the default */
  gint             code;
} LieCase;

static const LieCase lie_cases[] = {
  /* header + trailer wraps to 0 */
  { "trailer-wraps", 2, SW_FRAMING_RESULT_FRAME, 2, 0, G_MAXSIZE - 1, 0, 4, 0,
    G_IO_ERROR_INVALID_DATA },
  /* header + trailer wraps to 0 while the buffer is full: the 16-byte
   * payload would be read from past its end */
  { "overhead-wraps", 65536, SW_FRAMING_RESULT_FRAME, 65528, 16, G_MAXSIZE - 65527, 0,
    65536, 0, G_IO_ERROR_INVALID_DATA },
  /* header + trailer fits, adding the payload wraps */
  { "frame-wraps", 65536, SW_FRAMING_RESULT_FRAME, 65528, 16, G_MAXSIZE - 65536, 0,
    65536, 0, G_IO_ERROR_INVALID_DATA },
  { "needed-wraps", 1, SW_FRAMING_RESULT_NEED_MORE, 0, 0, 0, G_MAXSIZE, 4, 0,
    G_IO_ERROR_INVALID_DATA },
  { "needed-huge", 1, SW_FRAMING_RESULT_NEED_MORE, 0, 0, 0, G_MAXSIZE - 4, 4, 0,
    G_IO_ERROR_MESSAGE_TOO_LARGE },
  { "header-past-buffer", 4, SW_FRAMING_RESULT_FRAME, 100, 0, 0, 0, 4, 0,
    G_IO_ERROR_INVALID_DATA },
  /* The limit counts the whole frame, not only the payload. */
  { "huge-trailer", 2, SW_FRAMING_RESULT_FRAME, 2, 0, G_MAXSIZE / 2, 0, 4, 0,
    G_IO_ERROR_MESSAGE_TOO_LARGE },
  { "trailer-over-limit", 2, SW_FRAMING_RESULT_FRAME, 2, 10, 6000, 0, 6012, 1000,
    G_IO_ERROR_MESSAGE_TOO_LARGE },
  /* (a header the size limit let in while it was being read) */
  { "header-over-limit", 5000, SW_FRAMING_RESULT_FRAME, 5000, 1000, 0, 0, 6000, 1000,
    G_IO_ERROR_MESSAGE_TOO_LARGE },
  /* A length prefix may announce any 64-bit payload: too large, not
   * invalid, with or without a limit. */
  { "payload-max", 2, SW_FRAMING_RESULT_FRAME, 2, G_MAXUINT64, 0, 0, 4, 0,
    G_IO_ERROR_MESSAGE_TOO_LARGE },
  { "payload-max-no-limit", 2, SW_FRAMING_RESULT_FRAME, 2, G_MAXUINT64, 0, 0, 4,
    G_MAXUINT64, G_IO_ERROR_MESSAGE_TOO_LARGE },
};

typedef struct
{
  const LieCase *lie;
  gboolean       read_ahead;
} LieTest;

static SwFraming *
scripted_framing_new (const LieCase *lie)
{
  TestScriptedFraming *self = g_object_new (TEST_TYPE_SCRIPTED_FRAMING, NULL);

  self->min_length = lie->min_length;
  self->answer = lie->answer;
  self->header_length = lie->header_length;
  self->payload_length = lie->payload_length;
  self->trailer_length = lie->trailer_length;
  self->needed = lie->needed;
  return SW_FRAMING (self);
}

static void
send_pattern (SwConnection *sender,
              gsize         size,
              guint32       seed)
{
  g_autoptr (GBytes) bytes = sw_test_pattern_bytes (size, seed);
  g_autoptr (GError) error = NULL;

  g_assert_cmpint (sw_connection_send_bytes (sender, bytes, TIMEOUT_US, NULL, &error),
                   ==, (gssize) size);
  g_assert_no_error (error);
}

/* The two ends of a socketpair whose receiving end @b uses @test's
 * framing and settings. */
static void
lie_pair (const LieTest  *test,
          SwConnection  **a,
          SwConnection  **b)
{
  g_autoptr (SwFraming) framing = scripted_framing_new (test->lie);
  g_autoptr (GError) error = NULL;

  g_assert_true (sw_socketpair (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
                                framing, a, b, &error));
  g_assert_no_error (error);
  sw_connection_set_read_ahead (*b, test->read_ahead);
  if (test->lie->max_message_size != 0)
    sw_connection_set_max_message_size (*b, test->lie->max_message_size);
}

/* A receive at timeout 0 fails with @code (any code if -1). */
static void
assert_receive_fails (SwConnection *connection,
                      gint          code)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) received = sw_connection_receive_message (connection, 0,
                                                               NULL, &error);

  g_assert_null (received);
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  if (code >= 0)
    g_assert_error (error, G_IO_ERROR, code);
}

static void
assert_receive_pattern (SwConnection *connection,
                        GBytes       *wire,
                        gsize         offset,
                        gsize         size)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) received = sw_connection_receive_message (connection, TIMEOUT_US,
                                                               NULL, &error);
  g_autoptr (GBytes) expected = g_bytes_new_from_bytes (wire, offset, size);

  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (received, expected));
}

static void
test_lie (gconstpointer data)
{
  const LieTest *test = data;
  g_autoptr (SwConnection) a = NULL;
  g_autoptr (SwConnection) b = NULL;

  lie_pair (test, &a, &b);
  /* Everything is in the socket: no wait needed to see the answer. */
  send_pattern (a, test->lie->wire, 1);
  assert_receive_fails (b, test->lie->code);
  /* The connection does not go on to return empty messages either. */
  assert_receive_fails (b, -1);
}

/* A trailer longer than what is buffered is waited for, after a payload
 * assembled in the read buffer and after one read straight into its own
 * buffer. */
static void
test_lie_trailer_pending (gconstpointer data)
{
  const LieTest *test = data;
  const LieCase *lie = test->lie;
  g_autoptr (SwConnection) a = NULL;
  g_autoptr (SwConnection) b = NULL;
  g_autoptr (GBytes) wire = sw_test_pattern_bytes (lie->wire, 2);

  lie_pair (test, &a, &b);
  send_pattern (a, lie->wire, 2);
  assert_receive_fails (b, G_IO_ERROR_TIMED_OUT);
  send_pattern (a, lie->trailer_length, 3);
  assert_receive_pattern (b, wire, lie->header_length, (gsize) lie->payload_length);
}

static const LieCase trailer_pending_cases[] = {
  { "trailer-pending", 2, SW_FRAMING_RESULT_FRAME, 2, 2, 8, 0, 4, 0, 0 },
  { "trailer-pending-direct", 2, SW_FRAMING_RESULT_FRAME, 2, 70000, 10, 0, 70002, 0, 0 },
};

/* A frame known before its first byte arrives (fixed-size messages, no
 * header) is read straight into its payload from an empty buffer. */
#define HEADERLESS_PART 40000

static void
test_lie_headerless (gconstpointer data)
{
  const LieTest *test = data;
  gsize size = (gsize) test->lie->payload_length;
  g_autoptr (SwConnection) a = NULL;
  g_autoptr (SwConnection) b = NULL;
  g_autoptr (GBytes) part = sw_test_pattern_bytes (HEADERLESS_PART, 4);
  g_autoptr (GBytes) wire = sw_test_pattern_bytes (size, 5);
  g_autoptr (GBytes) stolen = NULL;

  lie_pair (test, &a, &b);
  assert_receive_fails (b, G_IO_ERROR_TIMED_OUT);

  /* Part of the payload, then the bytes taken back as they are. */
  send_pattern (a, HEADERLESS_PART, 4);
  assert_receive_fails (b, G_IO_ERROR_TIMED_OUT);
  stolen = sw_connection_steal_buffered_input (b, NULL);
  g_assert_true (g_bytes_equal (stolen, part));

  send_pattern (a, size, 5);
  assert_receive_pattern (b, wire, 0, size);
}

static const LieCase headerless_cases[] = {
  { "headerless-direct", 0, SW_FRAMING_RESULT_FRAME, 0, 70000, 0, 0, 0, 0, 0 },
};

static void
add_lie_tests (const LieCase  *cases,
               gsize           n_cases,
               GTestDataFunc   func)
{
  for (gsize i = 0; i < n_cases; i++)
    for (int read_ahead = 0; read_ahead < 2; read_ahead++)
      {
        LieTest *test = g_new (LieTest, 1);
        g_autofree char *path = NULL;

        test->lie = &cases[i];
        test->read_ahead = read_ahead;
        path = g_strdup_printf ("/sw/framing/lies/%s/%s", cases[i].name,
                                read_ahead ? "read-ahead" : "no-read-ahead");
        g_test_add_data_func_full (path, test, func, g_free);
      }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/sw/framing/varint/vectors", test_varint_vectors);
  g_test_add_func ("/sw/framing/varint/noncanonical", test_varint_noncanonical);
  g_test_add_func ("/sw/framing/varint/incremental", test_varint_incremental);
  g_test_add_func ("/sw/framing/varint/payload-buffered", test_varint_payload_buffered);
  g_test_add_func ("/sw/framing/varint/real-payload", test_varint_real_payload);
  g_test_add_func ("/sw/framing/multiprocessing/sizes", test_multiprocessing_sizes);
  g_test_add_func ("/sw/framing/multiprocessing/long-form-small",
                   test_multiprocessing_long_form_small);
  g_test_add_func ("/sw/framing/multiprocessing/negative", test_multiprocessing_negative);
  g_test_add_func ("/sw/framing/multiprocessing/real-payload",
                   test_multiprocessing_real_payload);
  g_test_add_func ("/sw/framing/default", test_default);
  g_test_add_func ("/sw/framing/result-enum", test_result_enum);
  g_test_add_func ("/sw/framing/fast-path", test_fast_path);
  g_test_add_func ("/sw/framing/empty-buffer", test_empty_buffer);
  g_test_add_func ("/sw/framing/custom/decode-encode", test_custom_decode_encode);

  for (gsize i = 0; i < G_N_ELEMENTS (bad_decode_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/sw/framing/contract/decode/%s",
                                               bad_decode_cases[i].name);

      g_test_add_data_func (path, &bad_decode_cases[i], test_contract_decode);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (bad_encode_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/sw/framing/contract/encode/%s",
                                               bad_encode_cases[i].name);

      g_test_add_data_func (path, &bad_encode_cases[i], test_contract_encode);
    }
  g_test_add_func ("/sw/framing/contract/encode/trailer", test_contract_trailer);
  g_test_add_func ("/sw/framing/contract/unimplemented", test_contract_unimplemented);

  g_test_add_func ("/sw/framing/custom/connection", test_custom_connection);
  g_test_add_func ("/sw/framing/custom/connection-split", test_custom_connection_split);
  g_test_add_func ("/sw/framing/custom/connection-error", test_custom_connection_error);
  add_lie_tests (lie_cases, G_N_ELEMENTS (lie_cases), test_lie);
  add_lie_tests (trailer_pending_cases, G_N_ELEMENTS (trailer_pending_cases),
                 test_lie_trailer_pending);
  add_lie_tests (headerless_cases, G_N_ELEMENTS (headerless_cases), test_lie_headerless);

  return g_test_run ();
}
