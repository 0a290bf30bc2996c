/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>
#include <gio/gunixfdlist.h>

G_BEGIN_DECLS

/* The payload of a control frame: 8 bytes of magic, a 32-bit version, 32
 * reserved bits (zero), the message length in 64 bits, little-endian
 * (docs/memfd.md). */
#define SW_MEMFD_HEADER_SIZE 24
#define SW_MEMFD_VERSION     1

/* Whether @data (@size bytes) reads as a control frame's payload: the
 * size and the magic, whatever the rest says. */
gboolean  sw_memfd_is_header (const guint8  *data,
                              gsize          size);
/* Copies @message into a new sealed memfd: returns the control frame's
 * payload and sets *@fds to a list holding the memfd. G_IO_ERROR_BUSY
 * when the kernel refuses F_SEAL_WRITE because something still holds
 * references to the new pages (it waits ~150 ms for them first): the
 * caller may send the message inline instead. */
GBytes   *sw_memfd_pack      (GBytes        *message,
                              GUnixFDList  **fds,
                              GError       **error);
/* The message a control frame (@header, with the fds that came with it)
 * stands for, mapped read-only; NULL with INVALID_DATA or
 * MESSAGE_TOO_LARGE (over @limit) when anything is not as
 * sw_memfd_pack() makes it. Closes no fd: the caller drops @fds. */
GBytes   *sw_memfd_unpack    (GBytes        *header,
                              GUnixFDList   *fds,
                              guint64        limit,
                              GError       **error);

/* Tests only: the next @n seals fail as the kernel's EBUSY does. */
void      sw_memfd_fail_seals_for_testing (guint n);

G_END_DECLS
