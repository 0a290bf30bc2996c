/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* swcat: standard input and output to a message connection.
 *
 * One main loop runs both directions at once: standard input is read
 * asynchronously, cut into records and sent; a receive is always pending
 * and prints each message as it arrives. The end of standard input shuts
 * the connection down for writing, and swcat goes on printing until the
 * peer ends the stream. The manual is docs/swcat.md. */
#include "config.h"

#include <fcntl.h>
#include <locale.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <gio/gunixinputstream.h>
#include <glib-unix.h>
#include <glib/gi18n.h>

#include "swcat.h"

/* Messages at least this long draw a progress bar with --progress. */
#define PROGRESS_THRESHOLD (G_GUINT64_CONSTANT (1) << 20)
#define INPUT_CHUNK 65536
/* Messages taken at most from the read-ahead buffer between two trips
 * through the main loop, which standard input also needs. */
#define DRAIN_MAX 1024

typedef enum
{
  WRITE_OPEN,
  WRITE_SHUTTING_DOWN,
  WRITE_DONE,               /* shut down, or the peer stopped reading */
} WriteState;

typedef struct
{
  /* What the command line asked for. */
  SwcatFormat format;
  SwFraming *framing;
  SwcatAddress address;
  SwcatTls tls;
  gint64 count;             /* messages to receive; -1 without a limit */
  double timeout;           /* seconds; 0 for none */
  gboolean progress;
  gboolean keep_listening;
  GBytes *authkey;          /* multiprocessing authentication, or NULL */

  GMainLoop *loop;
  int status;
  gboolean done;
  guint timeout_id;
  SwcatListener *listener;
  GQueue waiting;           /* clients connected while another is served */
  gboolean authenticating;  /* a client's authentication is under way */

  /* The current connection, and how far its sending has come. */
  SwConnection *connection;
  WriteState write_state;
  gboolean peer_ended;      /* it ended the stream; ours is ending */

  /* Standard input, shared by the connections one after another. */
  GInputStream *input;
  SwcatSplitter splitter;
  GPtrArray *outgoing;      /* messages read and not yet sent */
  gboolean input_busy;      /* a read or a send of input is under way */
  gboolean input_ended;
  guint64 received;
} Swcat;

typedef struct
{
  Swcat *self;
  GPtrArray *messages;
} Batch;

static void
batch_free (Batch *batch)
{
  g_ptr_array_unref (batch->messages);
  g_free (batch);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Batch, batch_free)

static void pump_input (Swcat *self);
static void accept_next (Swcat *self);

/* Ends the program with @status once the main loop returns; the first
 * reason wins. */
static void
finish (Swcat        *self,
        int           status,
        const GError *error)
{
  if (self->done)
    return;
  self->done = TRUE;
  self->status = status;
  if (error != NULL)
    g_printerr ("swcat: %s\n", error->message);
  g_main_loop_quit (self->loop);
}

static gboolean
on_timeout (gpointer user_data)
{
  Swcat *self = user_data;
  g_autoptr(GError) error = NULL;

  self->timeout_id = 0;
  g_set_error (&error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
               _("Timed out: nothing happened for %g seconds"), self->timeout);
  finish (self, SWCAT_EXIT_TIMEOUT, error);
  return G_SOURCE_REMOVE;
}

/* Something happened: a connection, a message in or out. */
static void
restart_timeout (Swcat *self)
{
  if (self->timeout <= 0)
    return;
  g_clear_handle_id (&self->timeout_id, g_source_remove);
  self->timeout_id = g_timeout_add ((guint) ceil (self->timeout * 1000), on_timeout, self);
}

/* The current connection is over: the program with it, or with
 * --keep-listening the next client's turn. */
static void
end_connection (Swcat        *self,
                int           status,
                const GError *error)
{
  if (!self->keep_listening)
    {
      finish (self, status, error);
      return;
    }
  if (error != NULL)
    g_printerr ("swcat: %s\n", error->message);
  sw_connection_close (self->connection, NULL, NULL);
  g_clear_object (&self->connection);
  accept_next (self);
}

/* ---- progress ------------------------------------------------------------ */

static void
on_progress (SwConnection *connection,
             guint64       done,
             guint64       total,
             const char   *what)
{
  g_autofree char *done_text = g_format_size (done);
  g_autofree char *total_text = NULL;
  char bar[31];
  guint filled;

  if (total > 0 && done >= total)
    {
      /* Leave the line clean for what comes next. */
      g_printerr ("\r\033[K");
      return;
    }
  if (total == 0)
    {
      g_printerr ("\r\033[Kswcat: %s %s", what, done_text);
      return;
    }
  total_text = g_format_size (total);
  filled = (guint) (done * (sizeof bar - 1) / total);
  memset (bar, '#', filled);
  memset (bar + filled, '.', sizeof bar - 1 - filled);
  bar[sizeof bar - 1] = '\0';
  g_printerr ("\r\033[Kswcat: %s %3u%% [%s] %s / %s", what,
              (guint) (done * 100 / total), bar, done_text, total_text);
}

static void
on_send_progress (SwConnection *connection,
                  guint64       done,
                  guint64       total,
                  gpointer      user_data)
{
  on_progress (connection, done, total, _("sending"));
}

static void
on_receive_progress (SwConnection *connection,
                     guint64       done,
                     guint64       total,
                     gpointer      user_data)
{
  on_progress (connection, done, total, _("receiving"));
}

/* ---- receiving ----------------------------------------------------------- */

static void shut_down (Swcat *self);

/* The peer ended its stream cleanly. The connection is over once ours
 * has ended too: standard input is sent to its end, so nothing is lost
 * when a peer has nothing to say, except when it is a terminal, whose
 * user would otherwise have to end it by hand. The stream then ends at
 * once, so that a TLS peer gets its close_notify rather than a torn
 * connection. */
static void
end_stream (Swcat *self)
{
  self->peer_ended = TRUE;
  if (self->write_state == WRITE_DONE)
    end_connection (self, SWCAT_EXIT_OK, NULL);
  else if (self->write_state == WRITE_OPEN && isatty (STDIN_FILENO))
    shut_down (self);
}

/* Prints one message and counts it. Returns FALSE when that ended the
 * connection or the program. */
static gboolean
take_message (Swcat  *self,
              GBytes *message)
{
  g_autoptr(GError) error = NULL;

  if (!swcat_format_print (&self->format, message, &error))
    {
      /* A message that does not decode ends only this connection; a
       * standard output that takes no more ends everything. */
      if (error->domain == G_FILE_ERROR)
        finish (self, SWCAT_EXIT_ERROR, error);
      else
        end_connection (self, SWCAT_EXIT_ERROR, error);
      return FALSE;
    }
  self->received++;
  if (self->count >= 0 && self->received >= (guint64) self->count)
    {
      finish (self, SWCAT_EXIT_OK, NULL);
      return FALSE;
    }
  return TRUE;
}

/* Ends the connection on a failed receive; FALSE, like take_message(). */
static gboolean
receive_failed (Swcat        *self,
                const GError *error)
{
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED))
    end_stream (self);
  else
    end_connection (self, SWCAT_EXIT_ERROR, error);
  return FALSE;
}

/* Takes the messages that need no wait, the connection having read them
 * ahead: one trip through the main loop, and one write to standard
 * output, serve many small messages. */
static gboolean
take_buffered_messages (Swcat *self)
{
  for (guint i = 0; i < DRAIN_MAX; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) message = sw_connection_receive_message (self->connection, 0, NULL, &error);

      if (message == NULL && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
        return TRUE;
      if (message == NULL)
        return receive_failed (self, error);
      if (!take_message (self, message))
        return FALSE;
    }
  return TRUE;
}

static void
on_received (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  Swcat *self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) message = sw_connection_receive_message_finish (SW_CONNECTION (source), result, &error);
  gboolean go_on;

  if (self->done || source != (GObject *) self->connection)
    return;
  if (message == NULL)
    go_on = receive_failed (self, error);
  else
    go_on = take_message (self, message) && take_buffered_messages (self);

  g_clear_error (&error);
  if (!swcat_output_flush (&error))
    finish (self, SWCAT_EXIT_ERROR, error);
  if (!go_on || self->done)
    return;
  restart_timeout (self);
  sw_connection_receive_message_async (self->connection, G_PRIORITY_DEFAULT, NULL, on_received, self);
}

/* ---- sending standard input ---------------------------------------------- */

/* A send that fails because the peer is gone or no longer reads loses
 * what was left to send, which is said; whether that is an error is
 * up to the receiving side, which sees how the peer ended. */
static gboolean
peer_stopped_reading (const GError *error)
{
  return g_error_matches (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE) ||
         g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED) ||
         g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED);
}

static void
on_sent (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(Batch) batch = user_data;
  Swcat *self = batch->self;
  g_autoptr(GError) error = NULL;
  gboolean sent = sw_connection_send_messages_finish (SW_CONNECTION (source), result, &error);

  self->input_busy = FALSE;
  if (self->done)
    return;
  if (source != (GObject *) self->connection)
    {
      /* Its client left: the next one gets the input that follows. */
      pump_input (self);
      return;
    }
  if (!sent && peer_stopped_reading (error))
    {
      g_printerr (_("swcat: the peer stopped reading; the rest of standard input is not sent: %s\n"),
                  error->message);
      self->write_state = WRITE_DONE;
      if (self->peer_ended)
        end_connection (self, SWCAT_EXIT_OK, NULL);
      return;
    }
  if (!sent)
    {
      end_connection (self, SWCAT_EXIT_ERROR, error);
      return;
    }
  restart_timeout (self);
  pump_input (self);
}

static void
on_shut_down (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  Swcat *self = user_data;
  g_autoptr(GError) error = NULL;
  gboolean ok = sw_connection_shutdown_write_finish (SW_CONNECTION (source), result, &error);

  if (self->done || source != (GObject *) self->connection)
    return;
  self->write_state = WRITE_DONE;
  if (!ok && !peer_stopped_reading (error))
    end_connection (self, SWCAT_EXIT_ERROR, error);
  else if (self->peer_ended)
    end_connection (self, SWCAT_EXIT_OK, NULL);
}

static void
shut_down (Swcat *self)
{
  self->write_state = WRITE_SHUTTING_DOWN;
  sw_connection_shutdown_write_async (self->connection, G_PRIORITY_DEFAULT, NULL, on_shut_down, self);
}

static void
on_read (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  Swcat *self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) chunk = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result, &error);
  g_autoptr(GPtrArray) messages = NULL;

  self->input_busy = FALSE;
  if (self->done)
    return;
  if (chunk == NULL)
    {
      g_prefix_error (&error, _("Cannot read standard input: "));
      finish (self, SWCAT_EXIT_ERROR, error);
      return;
    }
  if (g_bytes_get_size (chunk) == 0)
    {
      self->input_ended = TRUE;
      g_clear_pointer (&chunk, g_bytes_unref);
    }
  messages = swcat_splitter_feed (&self->splitter, &self->format, chunk, &error);
  if (messages == NULL)
    {
      finish (self, SWCAT_EXIT_ERROR, error);
      return;
    }
  g_ptr_array_extend_and_steal (self->outgoing, g_steal_pointer (&messages));
  pump_input (self);
}

/* Moves standard input on by one step: sends what was read, shuts the
 * connection down for writing after the last of it, or reads more. */
static void
pump_input (Swcat *self)
{
  SwConnection *connection = self->connection;
  Batch *batch;

  if (self->done || self->input_busy || connection == NULL || self->write_state != WRITE_OPEN)
    return;
  if (self->outgoing->len > 0)
    {
      batch = g_new0 (Batch, 1);
      batch->self = self;
      batch->messages = g_steal_pointer (&self->outgoing);
      self->outgoing = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
      self->input_busy = TRUE;
      sw_connection_send_messages_async (connection, (GBytes * const *) batch->messages->pdata,
                                         batch->messages->len, G_PRIORITY_DEFAULT, NULL, on_sent, batch);
      return;
    }
  if (self->input_ended)
    {
      shut_down (self);
      return;
    }
  self->input_busy = TRUE;
  g_input_stream_read_bytes_async (self->input, INPUT_CHUNK, G_PRIORITY_DEFAULT, NULL, on_read, self);
}

/* ---- connections ---------------------------------------------------------- */

static void
start_connection (Swcat        *self,
                  SwConnection *connection)
{
  self->connection = connection;
  self->write_state = WRITE_OPEN;
  self->peer_ended = FALSE;
  if (self->progress && isatty (STDERR_FILENO))
    {
      sw_connection_set_progress_threshold (connection, PROGRESS_THRESHOLD);
      g_signal_connect (connection, "send-progress", G_CALLBACK (on_send_progress), NULL);
      g_signal_connect (connection, "receive-progress", G_CALLBACK (on_receive_progress), NULL);
    }
  restart_timeout (self);
  sw_connection_receive_message_async (connection, G_PRIORITY_DEFAULT, NULL, on_received, self);
  pump_input (self);
}

static void
on_authenticated (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  Swcat *self = user_data;
  g_autoptr(GError) error = NULL;

  self->authenticating = FALSE;
  if (self->done)
    return;
  if (swcat_authenticate_finish (result, &error))
    {
      start_connection (self, g_object_ref (SW_CONNECTION (source)));
      return;
    }
  if (!self->address.listen)
    {
      g_prefix_error (&error, _("Cannot connect to %s: "), self->address.text);
      finish (self, SWCAT_EXIT_ERROR, error);
      return;
    }
  g_prefix_error (&error, _("A client did not authenticate: "));
  if (!self->keep_listening)
    {
      finish (self, SWCAT_EXIT_ERROR, error);
      return;
    }
  g_printerr ("swcat: %s\n", error->message);
  accept_next (self);
}

/* Serves @connection (taking it), after the multiprocessing handshake
 * of --authkey: as a Listener does for a client of a listen: address, as
 * a Client does otherwise. */
static void
begin_connection (Swcat        *self,
                  SwConnection *connection)
{
  if (self->authkey == NULL)
    {
      start_connection (self, connection);
      return;
    }
  self->authenticating = TRUE;
  swcat_authenticate_async (connection, self->authkey, self->address.listen, NULL, on_authenticated, self);
  g_object_unref (connection);
}

static void
on_connected (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  Swcat *self = user_data;
  g_autoptr(GError) error = NULL;
  SwConnection *connection = swcat_connect_finish (result, &error);

  if (connection == NULL)
    {
      g_prefix_error (&error, _("Cannot connect to %s: "), self->address.text);
      finish (self, SWCAT_EXIT_ERROR, error);
    }
  else
    begin_connection (self, connection);
}

/* A client of the listening service, handshake done. Clients are served
 * one at a time: the service stops accepting while one is served, and
 * one whose handshake was under way then waits its turn. */
static void
on_service_connection (SwService    *service,
                       SwConnection *connection,
                       gpointer      user_data)
{
  Swcat *self = user_data;

  if (self->done)
    return;
  g_socket_service_stop (G_SOCKET_SERVICE (service));
  if (self->connection != NULL || self->authenticating)
    g_queue_push_tail (&self->waiting, g_object_ref (connection));
  else
    begin_connection (self, g_object_ref (connection));
}

/* A client whose TLS handshake failed or timed out: with
 * --keep-listening the next one may do better. */
static void
on_service_error (SwService    *service,
                  const GError *error,
                  gpointer      user_data)
{
  Swcat *self = user_data;

  if (self->done)
    return;
  if (self->keep_listening || self->connection != NULL || self->authenticating)
    g_printerr ("swcat: %s\n", error->message);
  else
    finish (self, SWCAT_EXIT_ERROR, error);
}

static void
accept_next (Swcat *self)
{
  SwConnection *waiting = g_queue_pop_head (&self->waiting);

  if (waiting != NULL)
    begin_connection (self, waiting);
  else
    g_socket_service_start (G_SOCKET_SERVICE (self->listener->service));
}

static void
start_listening (Swcat *self)
{
  g_autoptr(GError) error = NULL;

  self->listener = swcat_listener_new (&self->address, &self->tls, self->framing, &error);
  if (self->listener == NULL)
    {
      finish (self, SWCAT_EXIT_ERROR, error);
      return;
    }
  g_signal_connect (self->listener->service, "connection", G_CALLBACK (on_service_connection), self);
  g_signal_connect (self->listener->service, "error", G_CALLBACK (on_service_error), self);
}

/* ---- the command line ---------------------------------------------------- */

static SwFraming *
framing_for_name (const char  *name,
                  GError     **error)
{
  static const guint8 newline = '\n', nul = '\0';

  if (name == NULL || g_str_equal (name, "varint"))
    return SW_FRAMING (sw_varint_framing_new ());
  if (g_str_equal (name, "multiprocessing"))
    return SW_FRAMING (sw_multiprocessing_framing_new ());
  if (g_str_equal (name, "msgpack"))
    return SW_FRAMING (sw_msgpack_framing_new ());
  if (g_str_equal (name, "lines") || g_str_equal (name, "nul"))
    {
      g_autoptr(GBytes) delimiter = g_bytes_new_static (g_str_equal (name, "nul") ? &nul : &newline, 1);

      return SW_FRAMING (sw_delimiter_framing_new (delimiter));
    }
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
               _("Unknown framing “%s”: expected varint, multiprocessing, msgpack, lines or nul"), name);
  return NULL;
}

/* Returns FALSE with @error set for an unknown name; @codec stays NULL
 * for none. */
static gboolean
codec_for_name (const char  *name,
                SwCodec    **codec,
                GError     **error)
{
  *codec = NULL;
  if (name == NULL || g_str_equal (name, "none"))
    return TRUE;
  if (g_str_equal (name, "json"))
    *codec = SW_CODEC (sw_json_codec_new ());
  else if (g_str_equal (name, "gvariant"))
    *codec = SW_CODEC (sw_gvariant_codec_new ());
  else if (g_str_equal (name, "msgpack"))
    *codec = SW_CODEC (sw_msgpack_codec_new ());
  else if (g_str_equal (name, "pickle"))
    *codec = SW_CODEC (sw_pickle_codec_new ());
  else
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 _("Unknown codec “%s”: expected none, json, gvariant, msgpack or pickle"), name);
  return *codec != NULL;
}

static gboolean
parse_count (const char  *text,
             gint64      *count,
             GError     **error)
{
  guint64 n;

  if (!g_ascii_string_to_unsigned (text, 10, 1, G_MAXINT64, &n, NULL))
    return swcat_usage_error (error, _("--count needs a whole number of 1 or more, not “%s”"), text);
  *count = n;
  return TRUE;
}

/* A number of seconds above 0 that a GLib timeout in milliseconds holds. */
static gboolean
parse_timeout (const char  *text,
               double      *timeout,
               GError     **error)
{
  char *end;
  double seconds = g_ascii_strtod (text, &end);

  if (end == text || *end != '\0' || !(seconds > 0) || seconds > G_MAXUINT / 1000)
    return swcat_usage_error (error, _("--timeout needs a number of seconds above 0, not “%s”"), text);
  *timeout = seconds;
  return TRUE;
}

/* --authkey's KEY, or the contents of --authkey-file without the newline
 * an editor or echo leaves at its end; @authkey stays NULL without
 * either. */
static gboolean
read_authkey (const char  *key,
              const char  *file,
              GBytes     **authkey,
              GError     **error)
{
  g_autoptr(GError) local_error = NULL;
  char *contents;
  gsize length;

  if (key != NULL && file != NULL)
    return swcat_usage_error (error, _("--authkey and --authkey-file exclude each other"));
  if (key != NULL)
    *authkey = g_bytes_new (key, strlen (key));
  if (file == NULL)
    return TRUE;
  if (!g_file_get_contents (file, &contents, &length, &local_error))
    return swcat_usage_error (error, _("Cannot read --authkey-file: %s"), local_error->message);
  if (length > 0 && contents[length - 1] == '\n')
    length--;
  *authkey = g_bytes_new_take (contents, length);
  return TRUE;
}

/* Combinations of options that make no sense, as one line, or NULL. */
static char *
check_options (Swcat *self)
{
  if ((self->format.raw || self->format.nul) && self->format.codec != NULL)
    return g_strdup (_("--raw and --null print and read records of bytes: they need --codec none"));
  if (self->keep_listening && !self->address.listen)
    return g_strdup (_("--keep-listening needs a listen: address"));
  if (self->authkey != NULL && !SW_IS_MULTIPROCESSING_FRAMING (self->framing))
    return g_strdup (_("--authkey and --authkey-file need --framing multiprocessing"));
  if (self->authkey != NULL && g_bytes_get_size (self->authkey) == 0)
    return g_strdup (_("The authentication key is empty"));
  return swcat_address_check_tls (&self->address, &self->tls);
}

#define DESCRIPTION \
  N_("Addresses:\n" \
     "  unix:PATH, abstract:NAME   a Unix stream socket\n" \
     "  tcp:HOST:PORT, tls:HOST:PORT  TCP, or TCP with TLS\n" \
     "  fd:N                       an inherited descriptor (3 or more)\n" \
     "  exec:COMMAND [ARG…]        a child process, with the connection on its fd 3\n" \
     "  listen:unix:PATH, listen:abstract:NAME, listen:tcp:HOST:PORT,\n" \
     "  listen:tls:HOST:PORT       wait for a client; the address is printed\n" \
     "                             on standard error as “swcat: listening on …”\n" \
     "\n" \
     "Exit status: 0 when the peer ends the stream (or --count is reached),\n" \
     "1 on an error, 2 on a bad option or address, 3 on --timeout.\n" \
     "See swcat(1) for the text formats and examples.")

/* Parses the command line into @self; returns FALSE with a one-line
 * message in @error for any usage error. */
static gboolean
parse_command_line (Swcat     *self,
                    int        argc,
                    char     **argv,
                    GError   **error)
{
  g_autofree char *framing = NULL, *codec = NULL, *count = NULL, *timeout = NULL, *problem = NULL;
  g_autofree char *authkey = NULL, *authkey_file = NULL;
  g_autoptr(GOptionContext) context = NULL;
  const char *address = NULL;
  g_autofree char **head = NULL;
  char **extra = NULL, **rest;
  int command, n_head;
  const GOptionEntry entries[] = {
    { "framing", 'f', 0, G_OPTION_ARG_STRING, &framing,
      N_("Where messages end: varint (default), multiprocessing, msgpack, lines or nul"), N_("FRAMING") },
    { "codec", 'c', 0, G_OPTION_ARG_STRING, &codec,
      N_("What messages mean: none (default), json, gvariant, msgpack or pickle; values are JSON lines"), N_("CODEC") },
    { "null", '0', 0, G_OPTION_ARG_NONE, &self->format.nul,
      N_("Records end with NUL, not newline, on input and output (--codec none)"), NULL },
    { "raw", 'r', 0, G_OPTION_ARG_NONE, &self->format.raw,
      N_("Print received messages as they are, not escaped (--codec none)"), NULL },
    { "count", 'n', 0, G_OPTION_ARG_STRING, &count,
      N_("Exit after receiving N messages"), N_("N") },
    { "timeout", 't', 0, G_OPTION_ARG_STRING, &timeout,
      N_("Exit with status 3 after SECONDS with nothing connected, received or sent"), N_("SECONDS") },
    { "progress", 'p', 0, G_OPTION_ARG_NONE, &self->progress,
      N_("Show the progress of messages of 1 MiB or more when standard error is a terminal"), NULL },
    { "keep-listening", 'k', 0, G_OPTION_ARG_NONE, &self->keep_listening,
      N_("With listen:, serve one client after another"), NULL },
    { "certificate", 0, 0, G_OPTION_ARG_FILENAME, &self->tls.certificate_file,
      N_("PEM file with the certificate and private key of listen:tls:"), N_("FILE") },
    { "ca-file", 0, 0, G_OPTION_ARG_FILENAME, &self->tls.ca_file,
      N_("Trust the CA certificates in FILE (PEM) for tls: instead of the system's"), N_("FILE") },
    { "insecure", 0, 0, G_OPTION_ARG_NONE, &self->tls.insecure,
      N_("Accept any certificate from a tls: server"), NULL },
    { "authkey", 0, 0, G_OPTION_ARG_STRING, &authkey,
      N_("Authenticate with KEY as multiprocessing.connection does (--framing multiprocessing)"), N_("KEY") },
    { "authkey-file", 0, 0, G_OPTION_ARG_FILENAME, &authkey_file,
      N_("Like --authkey, with the key read from FILE (one trailing newline dropped)"), N_("FILE") },
    G_OPTION_ENTRY_NULL
  };

  context = g_option_context_new (_("ADDRESS [ARGUMENT…] — send standard input as messages and print those received"));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  g_option_context_set_description (context, _(DESCRIPTION));

  /* An exec: address ends swcat's options: what follows is the command's,
   * so only what comes before it is parsed. */
  for (command = 1; command < argc && !g_str_has_prefix (argv[command], "exec:"); command++)
    ;
  head = g_new0 (char *, command + 1);
  memcpy (head, argv, command * sizeof (char *));
  n_head = command;
  if (!g_option_context_parse (context, &n_head, &head, error))
    return FALSE;
  head[n_head] = NULL;
  rest = head + 1;
  if (rest[0] != NULL && g_str_equal (rest[0], "--"))
    rest++;
  if (command < argc)
    {
      if (rest[0] != NULL)
        return swcat_usage_error (error, _("Unexpected argument “%s” before the address"), rest[0]);
      address = argv[command];
      extra = argv + command + 1;
    }
  else if (rest[0] != NULL)
    {
      address = rest[0];
      extra = rest + 1;
    }
  if (address == NULL)
    return swcat_usage_error (error, _("Missing ADDRESS (see swcat --help)"));
  if (!swcat_address_parse (address, extra, &self->address, error) ||
      !(self->framing = framing_for_name (framing, error)) ||
      !codec_for_name (codec, &self->format.codec, error) ||
      (count != NULL && !parse_count (count, &self->count, error)) ||
      (timeout != NULL && !parse_timeout (timeout, &self->timeout, error)) ||
      !read_authkey (authkey, authkey_file, &self->authkey, error))
    return FALSE;
  problem = check_options (self);
  if (problem != NULL)
    return swcat_usage_error (error, "%s", problem);
  return TRUE;
}

static void
swcat_clear (Swcat *self)
{
  g_clear_handle_id (&self->timeout_id, g_source_remove);
  g_queue_clear_full (&self->waiting, g_object_unref);
  g_clear_pointer (&self->authkey, g_bytes_unref);
  g_clear_pointer (&self->listener, swcat_listener_free);
  g_clear_pointer (&self->outgoing, g_ptr_array_unref);
  g_clear_object (&self->input);
  swcat_splitter_clear (&self->splitter);
  swcat_address_clear (&self->address);
  g_clear_object (&self->framing);
  g_clear_object (&self->format.codec);
  g_clear_object (&self->format.json);
  g_clear_pointer (&self->tls.ca_file, g_free);
  g_clear_pointer (&self->tls.certificate_file, g_free);
  g_clear_pointer (&self->loop, g_main_loop_unref);
}

/* SIGINT and SIGTERM end swcat through the main loop, so that the socket
 * file of listen:unix: goes too; the status is the shell's 128 + signal. */
static void
end_by_signal (Swcat *self,
               int    signal_number)
{
  finish (self, 128 + signal_number, NULL);
}

static gboolean
on_sigint (gpointer user_data)
{
  end_by_signal (user_data, SIGINT);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_sigterm (gpointer user_data)
{
  end_by_signal (user_data, SIGTERM);
  return G_SOURCE_CONTINUE;
}

/* A descriptor 0, 1 or 2 that is closed would be taken by the first
 * socket swcat opens, which would then read its own connection as its
 * input: they are opened on /dev/null first. */
static void
open_standard_descriptors (void)
{
  for (int fd = 0; fd <= 2; fd++)
    if (fcntl (fd, F_GETFD) < 0 && open ("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) < 0)
      exit (SWCAT_EXIT_ERROR);
}

int
main (int    argc,
      char **argv)
{
  Swcat self = { 0, };
  g_autoptr(GError) error = NULL;
  guint signal_ids[2];

  open_standard_descriptors ();
  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  self.count = -1;
  if (!parse_command_line (&self, argc, argv, &error))
    {
      g_printerr ("swcat: %s\n", error->message);
      swcat_clear (&self);
      return SWCAT_EXIT_USAGE;
    }

  self.loop = g_main_loop_new (NULL, FALSE);
  self.format.json = SW_CODEC (sw_json_codec_new ());
  self.input = g_unix_input_stream_new (STDIN_FILENO, FALSE);
  self.outgoing = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  swcat_splitter_init (&self.splitter);

  signal_ids[0] = g_unix_signal_add (SIGINT, on_sigint, &self);
  signal_ids[1] = g_unix_signal_add (SIGTERM, on_sigterm, &self);
  restart_timeout (&self);
  if (self.address.listen)
    start_listening (&self);
  else
    swcat_connect_async (&self.address, &self.tls, self.framing, NULL, on_connected, &self);

  if (!self.done)
    g_main_loop_run (self.loop);

  /* The connection is left to the end of the process, which closes its
   * descriptors: a close here would wait to finish a message the peer may
   * never read. */
  g_source_remove (signal_ids[0]);
  g_source_remove (signal_ids[1]);
  swcat_clear (&self);
  return self.status;
}
