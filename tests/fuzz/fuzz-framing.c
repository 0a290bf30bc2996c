/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: every built-in framing decodes arbitrary bytes, fed
 * whole and in pieces, without crashing, and both ways give the same
 * answer. Every frame found is encoded again from its payload, and the
 * re-encoded frame decodes to the same payload. The first input byte
 * picks the framing and the piece size. */
#include <string.h>

#include "fuzz-common.h"

typedef struct
{
  SwFramingResult result;
  gsize           header;
  guint64         payload;
  gsize           trailer;
} Answer;

/* Decodes @data as a connection would: from the start with a zeroed state,
 * offering @step more bytes each time the framing asks for more. */
static Answer
decode (SwFraming    *framing,
        const guint8 *data,
        gsize         size,
        gsize         step)
{
  Answer answer = { SW_FRAMING_RESULT_NEED_MORE, 0, 0, 0 };
  guint64 state = 0;
  gsize offered = MIN (step, size);

  for (;;)
    {
      g_autoptr(GError) error = NULL;
      gsize needed = 0;

      answer.result = sw_framing_decode (framing, data, offered, &state, &answer.header,
                                         &answer.payload, &answer.trailer, &needed, &error);
      if (answer.result == SW_FRAMING_RESULT_ERROR)
        g_assert_nonnull (error);
      if (answer.result != SW_FRAMING_RESULT_NEED_MORE)
        return answer;
      g_assert_cmpuint (needed, >=, 1);
      if (offered == size)
        return answer;
      /* A scanning framing's needed is a lower bound: offering just that
       * must be enough to make progress, never skip past the frame. */
      offered = MIN (size, offered + MAX (step, 1));
    }
}

/* A frame wholly inside @data: its payload, framed again, decodes to the
 * same lengths. */
static void
check_reencode (SwFraming    *framing,
                const guint8 *data,
                Answer        frame)
{
  g_autoptr(GBytes) payload = g_bytes_new (data + frame.header, (gsize) frame.payload);
  g_autoptr(GBytes) header = NULL;
  g_autoptr(GBytes) trailer = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GByteArray) wire = g_byte_array_new ();
  Answer again;

  if (!sw_framing_encode (framing, payload, &header, &trailer, &error))
    g_error ("a decoded payload does not encode: %s", error->message);
  if (header != NULL)
    g_byte_array_append (wire, g_bytes_get_data (header, NULL), g_bytes_get_size (header));
  g_byte_array_append (wire, data + frame.header, (guint) frame.payload);
  if (trailer != NULL)
    g_byte_array_append (wire, g_bytes_get_data (trailer, NULL), g_bytes_get_size (trailer));

  again = decode (framing, wire->data, wire->len, wire->len);
  g_assert_cmpint (again.result, ==, SW_FRAMING_RESULT_FRAME);
  g_assert_cmpuint (again.payload, ==, frame.payload);
  g_assert_cmpuint (again.header + again.payload + again.trailer, ==, wire->len);
  g_assert_true (memcmp (wire->data + again.header, data + frame.header,
                         (gsize) frame.payload) == 0);
}

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  g_autoptr(SwFraming) framing = NULL;
  Answer whole, pieces;
  gsize step;

  if (size < 1)
    return 0;
  framing = fuzz_framing_new (data[0]);
  step = 1 + data[0] / FUZZ_N_FRAMINGS;
  data++;
  size--;

  whole = decode (framing, data, size, size);
  pieces = decode (framing, data, size, step);

  /* Resuming from the state word must not change the answer. */
  g_assert_cmpint (whole.result, ==, pieces.result);
  if (whole.result == SW_FRAMING_RESULT_FRAME)
    {
      g_assert_cmpuint (whole.header, ==, pieces.header);
      g_assert_cmpuint (whole.payload, ==, pieces.payload);
      g_assert_cmpuint (whole.trailer, ==, pieces.trailer);
      if (whole.header <= size && whole.payload <= size - whole.header
          && whole.trailer <= size - whole.header - whole.payload)
        check_reencode (framing, data, whole);
    }
  return 0;
}
