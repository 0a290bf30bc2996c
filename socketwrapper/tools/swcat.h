/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <socketwrapper/socketwrapper.h>

G_BEGIN_DECLS

/* The exit statuses of swcat(1), as its manual documents them. */
typedef enum
{
  SWCAT_EXIT_OK = 0,        /* the peer ended the stream at a message boundary */
  SWCAT_EXIT_ERROR = 1,     /* anything else that went wrong */
  SWCAT_EXIT_USAGE = 2,     /* a bad option or address */
  SWCAT_EXIT_TIMEOUT = 3,   /* --timeout seconds passed with nothing happening */
} SwcatExit;

/* ---- addresses (swcat-address.c) ---------------------------------------- */

typedef enum
{
  SWCAT_ADDRESS_UNIX,
  SWCAT_ADDRESS_ABSTRACT,
  SWCAT_ADDRESS_TCP,
  SWCAT_ADDRESS_TLS,
  SWCAT_ADDRESS_FD,
  SWCAT_ADDRESS_EXEC,
} SwcatAddressKind;

typedef struct
{
  char *text;      /* as it was written */
  SwcatAddressKind kind;
  gboolean listen;
  char *name;      /* unix path, abstract name, or host for tcp/tls */
  guint16 port;    /* tcp/tls */
  int fd;          /* fd */
  char **argv;     /* exec */
} SwcatAddress;

/* How TLS peers are checked and how a TLS listener identifies itself. */
typedef struct
{
  gboolean insecure;
  char *ca_file;
  char *certificate_file;
} SwcatTls;

gboolean swcat_usage_error   (GError        **error,
                              const char     *format,
                              ...) G_GNUC_PRINTF (2, 3);
gboolean swcat_address_parse (const char     *text,
                              char          **extra_args,
                              SwcatAddress   *address,
                              GError        **error);
void     swcat_address_clear (SwcatAddress   *address);
char    *swcat_address_check_tls (const SwcatAddress *address,
                                  const SwcatTls     *tls);

void          swcat_connect_async  (const SwcatAddress  *address,
                                    const SwcatTls      *tls,
                                    SwFraming           *framing,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data);
SwConnection *swcat_connect_finish (GAsyncResult        *result,
                                    GError             **error);

/* A listening address: its service, and the socket file it made. */
typedef struct
{
  SwService *service;
  char *path;      /* listen:unix:, removed when done */
} SwcatListener;

SwcatListener *swcat_listener_new  (const SwcatAddress  *address,
                                    const SwcatTls      *tls,
                                    SwFraming           *framing,
                                    GError             **error);
void           swcat_listener_free (SwcatListener       *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SwcatListener, swcat_listener_free)

void     swcat_authenticate_async  (SwConnection         *connection,
                                    GBytes               *authkey,
                                    gboolean              server,
                                    GCancellable         *cancellable,
                                    GAsyncReadyCallback   callback,
                                    gpointer              user_data);
gboolean swcat_authenticate_finish (GAsyncResult         *result,
                                    GError              **error);

/* ---- standard input and output (swcat-io.c) ----------------------------- */

/* How messages are written as text and read from it. */
typedef struct
{
  SwCodec *codec;   /* NULL: messages are the bytes of records */
  SwCodec *json;    /* the text form of values */
  gboolean nul;     /* records end with NUL rather than newline */
  gboolean raw;     /* print received messages unescaped */
} SwcatFormat;

/* Splits standard input into records as it arrives. */
typedef struct
{
  GByteArray *pending;   /* the start of a record whose end is still to come */
  guint64 record;        /* 1-based number of the next record, for errors */
} SwcatSplitter;

void       swcat_splitter_init  (SwcatSplitter      *self);
void       swcat_splitter_clear (SwcatSplitter      *self);
GPtrArray *swcat_splitter_feed  (SwcatSplitter      *self,
                                 const SwcatFormat  *format,
                                 GBytes             *chunk,
                                 GError            **error);

gboolean swcat_format_print (const SwcatFormat  *format,
                             GBytes             *message,
                             GError            **error);
gboolean swcat_output_flush (GError            **error);
char    *swcat_escape       (const guint8       *data,
                             gsize               length);

G_END_DECLS
