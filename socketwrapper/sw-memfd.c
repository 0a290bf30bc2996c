/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Large messages as sealed memfds (memfd-threshold, docs/memfd.md).
 *
 * A message at least as large as the threshold is copied into a memfd,
 * sealed against every change, and replaced on the wire by a control
 * frame: an ordinary frame of the connection's framing whose payload is
 * SW_MEMFD_HEADER_SIZE bytes (magic, version, length) and which carries
 * the memfd as its one fd, through the fd machinery of sw-fds.c. The
 * receiver maps the memfd read-only and returns the mapping as the
 * message: the bytes never pass through the socket.
 *
 * The receiver trusts nothing in a control frame. The seals are what make
 * the mapping safe to hand out: without F_SEAL_SHRINK the sender could
 * truncate the file and every access past the new end would SIGBUS the
 * receiver; without F_SEAL_WRITE it could change a message already
 * returned. F_GET_SEALS fails on anything that is not a memory file
 * (pipes, sockets, files on disk), so it also checks the fd's kind. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gi18n-lib.h>

#include "sw-error-private.h"
#include "sw-memfd-private.h"

/* Non-ASCII first, like PNG's, so no text message starts with it. */
static const guint8 magic[8] = { 0x89, 'S', 'W', 'M', 'E', 'M', 'F', 'D' };

#define SW_MEMFD_SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

gboolean
sw_memfd_is_header (const guint8 *data,
                    gsize         size)
{
  return size == SW_MEMFD_HEADER_SIZE && memcmp (data, magic, sizeof magic) == 0;
}

/* write() rather than a mapping: tmpfs fills pages written whole without
 * clearing them first, where a mapping faults in zeroed pages one by one
 * and then copies over them (measured in docs/memfd.md). */
static gboolean
write_all (int            fd,
           const guint8  *data,
           gsize          size,
           GError       **error)
{
  while (size > 0)
    {
      ssize_t n = write (fd, data, size);

      int saved_errno = errno;

      if (n < 0 && saved_errno == EINTR)
        continue;
      if (n <= 0)
        {
          /* Saved first: _() may change errno before it is read. */
          sw_error_set_from_errno (error, n < 0 ? saved_errno : ENOSPC,
                                   _("Could not copy a message into a memfd"));
          return FALSE;
        }
      data += n;
      size -= (gsize) n;
    }
  return TRUE;
}

/* Seals to fail with EBUSY, for tests (sw_memfd_fail_seals_for_testing()). */
static guint seals_to_fail;

void
sw_memfd_fail_seals_for_testing (guint n)
{
  g_atomic_int_set (&seals_to_fail, n);
}

static int
seal (int fd)
{
  guint left = g_atomic_int_get (&seals_to_fail);

  if (G_UNLIKELY (left > 0) && g_atomic_int_compare_and_exchange (&seals_to_fail, left, left - 1))
    {
      errno = EBUSY;
      return -1;
    }
  return fcntl (fd, F_ADD_SEALS, SW_MEMFD_SEALS);
}

GBytes *
sw_memfd_pack (GBytes       *message,
               GUnixFDList **fds,
               GError      **error)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (message, &size);
  guint8 header[SW_MEMFD_HEADER_SIZE] = { 0 };
  guint32 version = GUINT32_TO_LE (SW_MEMFD_VERSION);
  guint64 length = GUINT64_TO_LE ((guint64) size);
  int fd, saved_errno;

  fd = memfd_create ("sw-message", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0)
    {
      saved_errno = errno;
      sw_error_set_from_errno (error, saved_errno, _("Could not create a memfd for a message"));
      return NULL;
    }
  if (!write_all (fd, data, size, error))
    {
      close (fd);
      return NULL;
    }
  if (seal (fd) < 0)
    {
      saved_errno = errno;
      sw_error_set_from_errno (error, saved_errno, _("Could not seal the memfd of a message"));
      close (fd);
      return NULL;
    }
  /* The list owns the fd from here on. */
  *fds = g_unix_fd_list_new_from_array (&fd, 1);

  memcpy (header, magic, sizeof magic);
  memcpy (header + 8, &version, sizeof version);
  memcpy (header + 16, &length, sizeof length);
  return g_bytes_new (header, sizeof header);
}

/* ---- receiving -------------------------------------------------------- */

typedef struct
{
  gpointer address;
  gsize    size;
} SwMapping;

static void
mapping_free (gpointer data)
{
  SwMapping *mapping = data;

  munmap (mapping->address, mapping->size);
  g_free (mapping);
}

static gboolean
invalid (GError     **error,
         const char  *message)
{
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, message);
  return FALSE;
}

/* The length a control frame announces, after checking what it says and
 * how many fds came with it. */
static gboolean
check_header (GBytes       *header,
              GUnixFDList  *fds,
              guint64       limit,
              guint64      *length,
              GError      **error)
{
  const guint8 *data = g_bytes_get_data (header, NULL);
  int n_fds = fds != NULL ? g_unix_fd_list_get_length (fds) : 0;
  guint32 version, reserved;

  memcpy (&version, data + 8, sizeof version);
  memcpy (&reserved, data + 12, sizeof reserved);
  memcpy (length, data + 16, sizeof *length);
  version = GUINT32_FROM_LE (version);
  *length = GUINT64_FROM_LE (*length);

  if (n_fds != 1)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("A memfd message came with %d file descriptors instead of one; "
                     "it was dropped"), n_fds);
      return FALSE;
    }
  if (version != SW_MEMFD_VERSION || reserved != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("A memfd message has version %u and flags 0x%x: only version %u "
                     "without flags is understood; it was dropped"),
                   version, reserved, SW_MEMFD_VERSION);
      return FALSE;
    }
  if (*length > limit || *length > G_MAXSIZE)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                   _("A message of %llu bytes exceeds the limit of %llu bytes"),
                   (unsigned long long) *length,
                   (unsigned long long) MIN (limit, (guint64) G_MAXSIZE));
      return FALSE;
    }
  return TRUE;
}

/* Checks that @fd is a memfd sealed against every change, @length long. */
static gboolean
check_memfd (int       fd,
             guint64   length,
             GError  **error)
{
  struct stat info = { 0 };
  int seals = fcntl (fd, F_GET_SEALS);

  if (seals < 0)
    return invalid (error, _("The file descriptor of a memfd message is not a sealable "
                             "memory file; the message was dropped"));
  if ((seals & SW_MEMFD_SEALS) != SW_MEMFD_SEALS)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("The memfd of a message is not sealed against changes (seals 0x%x, "
                     "0x%x needed); the message was dropped"),
                   (guint) seals, (guint) SW_MEMFD_SEALS);
      return FALSE;
    }
  if (fstat (fd, &info) < 0 || !S_ISREG (info.st_mode) || info.st_size < 0
      || (guint64) info.st_size != length)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("The memfd of a message holds %lld bytes where its frame announces "
                     "%llu; the message was dropped"),
                   (long long) info.st_size, (unsigned long long) length);
      return FALSE;
    }
  return TRUE;
}

GBytes *
sw_memfd_unpack (GBytes       *header,
                 GUnixFDList  *fds,
                 guint64       limit,
                 GError      **error)
{
  SwMapping *mapping;
  guint64 length;
  gpointer address;
  int fd;

  if (!check_header (header, fds, limit, &length, error))
    return NULL;
  fd = g_unix_fd_list_peek_fds (fds, NULL)[0];
  if (!check_memfd (fd, length, error))
    return NULL;
  if (length == 0)
    return g_bytes_new (NULL, 0);

  /* Pages are mapped as the caller reads them, not before: a receiver
   * that forwards or drops a message never touches them. */
  address = mmap (NULL, (gsize) length, PROT_READ, MAP_SHARED, fd, 0);
  if (address == MAP_FAILED)
    {
      int saved_errno = errno;

      sw_error_set_from_errno (error, saved_errno, _("Could not map a memfd message"));
      return NULL;
    }
  mapping = g_new (SwMapping, 1);
  mapping->address = address;
  mapping->size = (gsize) length;
  return g_bytes_new_with_free_func (address, (gsize) length, mapping_free, mapping);
}
