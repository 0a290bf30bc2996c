/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: every built-in framing decodes arbitrary bytes, fed
 * whole and in pieces, without crashing, and both ways give the same
 * answer. The first input byte picks the framing and the piece size. */
#include <socketwrapper/socketwrapper.h>

int LLVMFuzzerTestOneInput (const guint8 *data,
                            size_t        size);

typedef struct
{
  SwFramingResult result;
  gsize           header;
  guint64         payload;
  gsize           trailer;
} Answer;

static SwFraming *
framing_for (guint8 selector)
{
  switch (selector % 4)
    {
    case 0:
      return SW_FRAMING (sw_varint_framing_new ());
    case 1:
      return SW_FRAMING (sw_multiprocessing_framing_new ());
    case 2:
      return SW_FRAMING (sw_msgpack_framing_new ());
    default:
      {
        g_autoptr(GBytes) delimiter = g_bytes_new_static ("\r\n", 2);

        return SW_FRAMING (sw_delimiter_framing_new (delimiter));
      }
    }
}

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
      offered = MIN (size, offered + MAX (step, 1));
    }
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
  framing = framing_for (data[0]);
  step = 1 + (data[0] >> 2);
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
    }
  return 0;
}
