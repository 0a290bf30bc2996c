/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Helpers the libFuzzer targets share: reading the input as a sequence of
 * choices, and the built-in framings and codecs by number. */
#pragma once

#include <socketwrapper/socketwrapper.h>

G_BEGIN_DECLS

int LLVMFuzzerInitialize   (int           *argc,
                            char        ***argv);
int LLVMFuzzerTestOneInput (const guint8  *data,
                            size_t         size);

/* The unread rest of a fuzz input. Reading past its end gives zeros, so
 * every input is a complete program. */
typedef struct
{
  const guint8 *data;
  gsize         size;
} FuzzInput;

guint8   fuzz_take_byte  (FuzzInput *in);
guint64  fuzz_take_bytes (FuzzInput *in,
                          guint      n);

#define FUZZ_N_FRAMINGS 5

SwFraming *fuzz_framing_new (guint selector);

#define FUZZ_N_CODECS 4

SwCodec   *fuzz_codec_new   (guint selector);

G_END_DECLS
