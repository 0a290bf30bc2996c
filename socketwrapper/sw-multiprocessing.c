/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The authentication handshake of Python's multiprocessing.connection
 * (deliver_challenge / answer_challenge), both generations:
 *
 *  - Python <= 3.11 sends "#CHALLENGE#" + 20 random bytes and expects the
 *    raw 16-byte HMAC-MD5 of those 20 bytes;
 *  - Python >= 3.12 sends "#CHALLENGE#{sha256}" + 40 random bytes and
 *    expects "{sha256}" + HMAC-SHA256 of "{sha256}" + the 40 bytes. A
 *    response of 16 or 20 bytes is taken as a legacy HMAC-MD5 of the whole
 *    challenge, which is what a <= 3.11 peer answers to it.
 *
 * The verifier replies "#WELCOME#" or "#FAILURE#". Every handshake message
 * is one message of the connection's multiprocessing framing; each one
 * received is refused above 256 bytes, as recv_bytes(256) does, from its
 * header: a peer cannot make us buffer more. */

#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include <glib/gi18n-lib.h>

#include "sw-connection-private.h"
#include "sw-init-private.h"
#include "sw-multiprocessing.h"
#include "sw-multiprocessing-framing.h"

#define CHALLENGE "#CHALLENGE#"
#define WELCOME "#WELCOME#"
#define FAILURE "#FAILURE#"
#define CHALLENGE_LEN (sizeof CHALLENGE - 1)
#define WELCOME_LEN (sizeof WELCOME - 1)
/* recv_bytes(256) in CPython: the cap on every handshake message. */
#define MAX_HANDSHAKE_MESSAGE 256
/* Random bytes in a challenge we deliver (CPython >= 3.12). */
#define NONCE_LEN 40
/* A challenge or response of one of these lengths is the legacy form. */
#define LEGACY_MESSAGE_LEN 20
#define MD5_DIGEST_LEN 16
/* The longest name CPython allows between the braces ("sha3_384"). */
#define MAX_DIGEST_NAME 8
#define DELIVERED_DIGEST "sha256"

typedef struct
{
  const char    *name;
  GChecksumType  type;
  gboolean       supported;
} Digest;

/* CPython's _ALLOWED_DIGESTS; GLib's GHmac has no SHA-3. */
static const Digest digests[] = {
  { "md5", G_CHECKSUM_MD5, TRUE },
  { "sha256", G_CHECKSUM_SHA256, TRUE },
  { "sha384", G_CHECKSUM_SHA384, TRUE },
  { "sha3_256", G_CHECKSUM_MD5, FALSE },
  { "sha3_384", G_CHECKSUM_MD5, FALSE },
};

static const Digest *
legacy_digest (void)
{
  return &digests[0];
}

/* Splits a challenge (after "#CHALLENGE#") or a response into its digest
 * and payload, as CPython's _get_digest_name_and_payload(): @prefixed is
 * FALSE for the legacy unprefixed form. */
static gboolean
split_digest (const guint8  *message,
              gsize          len,
              const Digest **digest,
              gsize         *payload_offset,
              gboolean      *prefixed,
              GError       **error)
{
  const guint8 *curly;

  *prefixed = FALSE;
  *payload_offset = 0;
  *digest = legacy_digest ();
  if (len == LEGACY_MESSAGE_LEN || len == MD5_DIGEST_LEN)
    return TRUE;
  curly = len > 1 ? memchr (message + 1, '}', MIN (len - 1, MAX_DIGEST_NAME + 1)) : NULL;
  if (message[0] == '{' && curly != NULL)
    {
      gsize name_len = curly - message - 1;

      for (gsize i = 0; i < G_N_ELEMENTS (digests); i++)
        if (strlen (digests[i].name) == name_len
            && memcmp (digests[i].name, message + 1, name_len) == 0)
          {
            if (!digests[i].supported)
              {
                g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                             _("Authentication digest “%s” is not supported"),
                             digests[i].name);
                return FALSE;
              }
            *digest = &digests[i];
            *payload_offset = name_len + 2;
            *prefixed = TRUE;
            return TRUE;
          }
    }
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
               _("Authentication message of %" G_GSIZE_FORMAT " bytes has no "
                 "known digest prefix"), len);
  return FALSE;
}

static GBytes *
compute_hmac (const Digest *digest,
              GBytes       *authkey,
              const guint8 *message,
              gsize         len)
{
  g_autoptr(GHmac) hmac = NULL;
  gsize key_len = 0;
  const guint8 *key = g_bytes_get_data (authkey, &key_len);
  guint8 buffer[64];
  gsize digest_len = sizeof buffer;

  hmac = g_hmac_new (digest->type, key != NULL ? key : (const guint8 *) "", key_len);
  g_hmac_update (hmac, message, len);
  g_hmac_get_digest (hmac, buffer, &digest_len);
  return g_bytes_new (buffer, digest_len);
}

/* Compares in time that depends only on @len, not on where they differ. */
static gboolean
digest_equal (const guint8 *a,
              const guint8 *b,
              gsize         len)
{
  volatile guint8 diff = 0;

  for (gsize i = 0; i < len; i++)
    diff |= a[i] ^ b[i];
  return diff == 0;
}

/* A handshake message refused from its header for its size
 * (MESSAGE_TOO_LARGE) becomes INVALID_DATA, as any malformed one. */
static GError *
handshake_error (GError *error)
{
  GError *invalid;

  if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE))
    return error;
  invalid = g_error_new (G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                         _("Authentication message longer than %d bytes: %s"),
                         MAX_HANDSHAKE_MESSAGE, error->message);
  g_error_free (error);
  return invalid;
}

/* Ends receiving a handshake message: @message, or NULL and @error. */
static GBytes *
handshake_received (GBytes  *message,
                    GError  *local_error,
                    GError **error)
{
  if (message == NULL)
    g_propagate_error (error, handshake_error (local_error));
  return message;
}

static gboolean
check_connection (SwConnection  *connection,
                  GError       **error)
{
  if (SW_IS_MULTIPROCESSING_FRAMING (sw_connection_get_framing (connection)))
    return TRUE;
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                       _("The multiprocessing handshake needs a connection "
                         "with the multiprocessing framing"));
  return FALSE;
}

/* "#CHALLENGE#{sha256}" + 40 bytes from the kernel's CSPRNG. */
static GBytes *
new_challenge (GError **error)
{
  GByteArray *array = g_byte_array_new ();
  const char *prefix = CHALLENGE "{" DELIVERED_DIGEST "}";
  gsize offset = strlen (prefix);

  g_byte_array_append (array, (const guint8 *) prefix, offset);
  g_byte_array_set_size (array, offset + NONCE_LEN);
  while (offset < array->len)
    {
      gssize n = getrandom (array->data + offset, array->len - offset, 0);

      if (n < 0 && errno != EINTR)
        {
          int saved = errno;

          g_byte_array_unref (array);
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                       _("Could not get random bytes: %s"), g_strerror (saved));
          return NULL;
        }
      if (n > 0)
        offset += n;
    }
  return g_byte_array_free_to_bytes (array);
}

/* CPython's _verify_challenge(): @challenge is the whole message we sent. */
static gboolean
verify_response (GBytes  *authkey,
                 GBytes  *challenge,
                 GBytes  *response,
                 GError **error)
{
  gsize len, challenge_len, offset;
  const guint8 *data = g_bytes_get_data (response, &len);
  const guint8 *message = g_bytes_get_data (challenge, &challenge_len);
  const Digest *digest;
  gboolean prefixed;
  g_autoptr(GBytes) expected = NULL;

  if (len == 0 || !split_digest (data, len, &digest, &offset, &prefixed, error))
    {
      if (len == 0)
        g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                             _("Empty authentication response"));
      return FALSE;
    }
  expected = compute_hmac (digest, authkey, message + CHALLENGE_LEN,
                           challenge_len - CHALLENGE_LEN);
  if (g_bytes_get_size (expected) == len - offset
      && digest_equal (g_bytes_get_data (expected, NULL), data + offset, len - offset))
    return TRUE;
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                       _("The peer’s authentication digest is wrong"));
  return FALSE;
}

/* CPython's answer_challenge() up to the response it sends. */
static GBytes *
create_response (GBytes  *authkey,
                 GBytes  *challenge,
                 GError **error)
{
  gsize len, offset;
  const guint8 *data = g_bytes_get_data (challenge, &len);
  const Digest *digest;
  gboolean prefixed;
  g_autoptr(GBytes) mac = NULL;
  GByteArray *response;

  if (len < CHALLENGE_LEN || memcmp (data, CHALLENGE, CHALLENGE_LEN) != 0
      || len - CHALLENGE_LEN < LEGACY_MESSAGE_LEN)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           _("Expected an authentication challenge"));
      return NULL;
    }
  data += CHALLENGE_LEN;
  len -= CHALLENGE_LEN;
  if (!split_digest (data, len, &digest, &offset, &prefixed, error))
    return NULL;
  mac = compute_hmac (digest, authkey, data, len);
  if (!prefixed)
    return g_steal_pointer (&mac);
  /* The "{name}" prefix is the challenge's own. */
  response = g_byte_array_new ();
  g_byte_array_append (response, data, offset);
  g_byte_array_append (response, g_bytes_get_data (mac, NULL), g_bytes_get_size (mac));
  return g_byte_array_free_to_bytes (response);
}

static gboolean
check_reply (GBytes  *reply,
             GError **error)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (reply, &len);

  if (len == WELCOME_LEN && memcmp (data, WELCOME, WELCOME_LEN) == 0)
    return TRUE;
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                       _("The peer rejected our authentication digest"));
  return FALSE;
}

static GBytes *
verdict (gboolean welcome)
{
  return welcome ? g_bytes_new_static (WELCOME, WELCOME_LEN)
                 : g_bytes_new_static (FAILURE, sizeof FAILURE - 1);
}

/* Deliver's verdict once receiving the response has ended, with
 * @response or with *@verify_error: FALSE when the handshake ends without
 * one (the peer stalled or left), else TRUE with *@welcome. A malformed or
 * oversized response gets #FAILURE#. */
static gboolean
judge_response (GBytes   *authkey,
                GBytes   *challenge,
                GBytes   *response,
                gboolean *welcome,
                GError  **verify_error)
{
  if (response == NULL
      && !g_error_matches (*verify_error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA))
    return FALSE;
  *welcome = response != NULL && verify_response (authkey, challenge, response,
                                                  verify_error);
  return TRUE;
}

/* ---- sync ---------------------------------------------------------------- */

/* Receives a handshake message, refusing from its header one of more
 * than 256 bytes before its payload is read. */
static GBytes *
receive_handshake (SwConnection  *connection,
                   gint64         timeout_us,
                   GCancellable  *cancellable,
                   GError       **error)
{
  GError *local_error = NULL;
  GBytes *message;

  message = sw_connection_receive_message_limited (connection, MAX_HANDSHAKE_MESSAGE,
                                                   timeout_us, cancellable, &local_error);
  return handshake_received (message, local_error, error);
}

/* The timeout a step of the handshake has left of @deadline: -1 for none,
 * 0 once it has passed (the step then does only what needs no wait). */
static gint64
time_left (gint64 deadline)
{
  if (deadline < 0)
    return -1;
  return MAX (deadline - g_get_monotonic_time (), 0);
}

/**
 * sw_multiprocessing_deliver_challenge:
 * @connection: a connection with the multiprocessing framing
 * @authkey: the shared secret
 * @timeout_us: how long the whole handshake may take, in microseconds; -1
 *   for ever
 * @cancellable: (nullable): a cancellable, or %NULL
 * @error: return location for a #GError
 *
 * Authenticates the peer as `multiprocessing.connection.deliver_challenge()`
 * of Python 3.12 and later does: sends a `{sha256}` challenge of 40 random
 * bytes, checks the peer's HMAC of it with @authkey and replies `#WELCOME#`
 * or `#FAILURE#`. A peer on Python 3.11 or earlier answers with a legacy
 * HMAC-MD5, which is accepted, as CPython accepts it; a peer may also
 * answer with `{sha384}`. `{sha3_256}` and `{sha3_384}` answers are refused
 * (GLib has no SHA-3).
 *
 * A wrong digest gives %G_IO_ERROR_PERMISSION_DENIED, a malformed or
 * longer than 256 bytes response %G_IO_ERROR_INVALID_DATA; both after
 * `#FAILURE#` was sent. The connection must have a
 * [class@Sw.MultiprocessingFraming], or the call fails with
 * %G_IO_ERROR_NOT_SUPPORTED before any I/O.
 *
 * @timeout_us bounds the whole handshake, as it bounds every blocking call
 * of [class@Sw.Connection]: a peer that stalls gives
 * %G_IO_ERROR_TIMED_OUT once it has passed, or %G_IO_ERROR_CANCELLED when
 * @cancellable is cancelled. After any error the connection is in the
 * middle of the handshake: close it.
 *
 * A response whose frame header declares more than 256 bytes is refused
 * from the header, before its payload is read.
 *
 * Returns: %TRUE when the peer knows @authkey
 *
 * Since: 0.1
 */
gboolean
sw_multiprocessing_deliver_challenge (SwConnection  *connection,
                                      GBytes        *authkey,
                                      gint64         timeout_us,
                                      GCancellable  *cancellable,
                                      GError       **error)
{
  gint64 deadline = sw_connection_deadline (timeout_us);
  g_autoptr(GBytes) challenge = NULL;
  g_autoptr(GBytes) response = NULL;
  g_autoptr(GBytes) reply = NULL;
  g_autoptr(GError) verify_error = NULL;
  gboolean welcome;

  g_return_val_if_fail (SW_IS_CONNECTION (connection), FALSE);
  g_return_val_if_fail (authkey != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_connection (connection, error)
      || (challenge = new_challenge (error)) == NULL
      || !sw_connection_send_message (connection, challenge, time_left (deadline),
                                      cancellable, error))
    return FALSE;
  response = receive_handshake (connection, time_left (deadline), cancellable,
                                &verify_error);
  if (!judge_response (authkey, challenge, response, &welcome, &verify_error))
    {
      g_propagate_error (error, g_steal_pointer (&verify_error));
      return FALSE;
    }
  reply = verdict (welcome);
  if (!sw_connection_send_message (connection, reply, time_left (deadline), cancellable,
                                   welcome ? error : NULL))
    {
      if (welcome)
        return FALSE;
    }
  if (!welcome)
    g_propagate_error (error, g_steal_pointer (&verify_error));
  return welcome;
}

/**
 * sw_multiprocessing_answer_challenge:
 * @connection: a connection with the multiprocessing framing
 * @authkey: the shared secret
 * @timeout_us: how long the whole handshake may take, in microseconds; -1
 *   for ever
 * @cancellable: (nullable): a cancellable, or %NULL
 * @error: return location for a #GError
 *
 * Proves to the peer that we know @authkey, as
 * `multiprocessing.connection.answer_challenge()` of Python 3.12 and later
 * does: a legacy challenge (20 bytes, Python 3.11 and earlier) gets the raw
 * HMAC-MD5, a `{md5}`, `{sha256}` or `{sha384}` one that HMAC behind the
 * same prefix. Then waits for the peer's verdict.
 *
 * A `#FAILURE#` (or any other verdict than `#WELCOME#`) gives
 * %G_IO_ERROR_PERMISSION_DENIED; a challenge that is malformed or longer
 * than 256 bytes (refused from its frame header, its payload unread)
 * %G_IO_ERROR_INVALID_DATA and one asking for SHA-3
 * %G_IO_ERROR_NOT_SUPPORTED, without an answer being sent. The connection
 * must have a [class@Sw.MultiprocessingFraming] (else
 * %G_IO_ERROR_NOT_SUPPORTED before any I/O). @timeout_us bounds the whole
 * handshake (%G_IO_ERROR_TIMED_OUT), and cancelling @cancellable stops it
 * (%G_IO_ERROR_CANCELLED). After any error the connection is in the middle
 * of the handshake: close it.
 *
 * Returns: %TRUE when the peer accepted our answer
 *
 * Since: 0.1
 */
gboolean
sw_multiprocessing_answer_challenge (SwConnection  *connection,
                                     GBytes        *authkey,
                                     gint64         timeout_us,
                                     GCancellable  *cancellable,
                                     GError       **error)
{
  gint64 deadline = sw_connection_deadline (timeout_us);
  g_autoptr(GBytes) challenge = NULL;
  g_autoptr(GBytes) response = NULL;
  g_autoptr(GBytes) reply = NULL;

  g_return_val_if_fail (SW_IS_CONNECTION (connection), FALSE);
  g_return_val_if_fail (authkey != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return check_connection (connection, error)
         && (challenge = receive_handshake (connection, time_left (deadline),
                                            cancellable, error)) != NULL
         && (response = create_response (authkey, challenge, error)) != NULL
         && sw_connection_send_message (connection, response, time_left (deadline),
                                        cancellable, error)
         && (reply = receive_handshake (connection, time_left (deadline),
                                        cancellable, error)) != NULL
         && check_reply (reply, error);
}

/* ---- async: chained on the connection's message calls ------------------- */

typedef struct
{
  GBytes *authkey;
  GBytes *challenge;
  GError *verify_error;  /* deliver: why we sent #FAILURE# */
} Handshake;

static void
handshake_free (Handshake *handshake)
{
  g_bytes_unref (handshake->authkey);
  g_clear_pointer (&handshake->challenge, g_bytes_unref);
  g_clear_error (&handshake->verify_error);
  g_free (handshake);
}

static GTask *
handshake_task_new (SwConnection        *connection,
                    GBytes              *authkey,
                    GCancellable        *cancellable,
                    GAsyncReadyCallback  callback,
                    gpointer             user_data,
                    const char          *name,
                    gpointer             tag)
{
  GTask *task = g_task_new (connection, cancellable, callback, user_data);
  Handshake *handshake = g_new0 (Handshake, 1);

  handshake->authkey = g_bytes_ref (authkey);
  g_task_set_source_tag (task, tag);
  g_task_set_name (task, name);
  /* The message calls decide cancellation, as for the value calls. */
  g_task_set_check_cancellable (task, FALSE);
  g_task_set_task_data (task, handshake, (GDestroyNotify) handshake_free);
  return task;
}

/* Ends @task, whose last reference the caller holds, with @error. */
static void
task_fail (GTask  *task,
           GError *error)
{
  g_task_return_error (task, error);
  g_object_unref (task);
}

static SwConnection *
task_connection (GTask *task)
{
  return SW_CONNECTION (g_task_get_source_object (task));
}

static void
send_then (GTask               *task,
           GBytes              *message,
           GAsyncReadyCallback  next)
{
  sw_connection_send_message_async (task_connection (task), message, G_PRIORITY_DEFAULT,
                                    g_task_get_cancellable (task), next, task);
}

static void
receive_then (GTask               *task,
              GAsyncReadyCallback  next)
{
  sw_connection_receive_message_limited_async (task_connection (task), MAX_HANDSHAKE_MESSAGE,
                                               G_PRIORITY_DEFAULT,
                                               g_task_get_cancellable (task), next, task);
}

static GBytes *
receive_finish (GObject       *source,
                GAsyncResult  *result,
                GError       **error)
{
  GError *local_error = NULL;
  GBytes *message;

  message = sw_connection_receive_message_finish (SW_CONNECTION (source), result,
                                                  &local_error);
  return handshake_received (message, local_error, error);
}

static void
on_deliver_verdict_sent (GObject      *source,
                         GAsyncResult *result,
                         gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Handshake *handshake = g_task_get_task_data (task);
  GError *error = NULL;
  gboolean sent = sw_connection_send_message_finish (SW_CONNECTION (source), result, &error);

  if (handshake->verify_error != NULL)
    {
      g_clear_error (&error);
      g_task_return_error (task, g_steal_pointer (&handshake->verify_error));
    }
  else if (!sent)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

static void
on_deliver_response (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  GTask *task = user_data;
  Handshake *handshake = g_task_get_task_data (task);
  g_autoptr(GBytes) response = NULL;
  g_autoptr(GBytes) reply = NULL;
  gboolean welcome;

  response = receive_finish (source, result, &handshake->verify_error);
  if (!judge_response (handshake->authkey, handshake->challenge, response, &welcome,
                       &handshake->verify_error))
    {
      task_fail (task, g_steal_pointer (&handshake->verify_error));
      return;
    }
  reply = verdict (welcome);
  send_then (task, reply, on_deliver_verdict_sent);
}

static void
on_deliver_challenge_sent (GObject      *source,
                           GAsyncResult *result,
                           gpointer      user_data)
{
  GTask *task = user_data;
  GError *error = NULL;

  if (sw_connection_send_message_finish (SW_CONNECTION (source), result, &error))
    receive_then (task, on_deliver_response);
  else
    task_fail (task, error);
}

/**
 * sw_multiprocessing_deliver_challenge_async:
 * @connection: a connection with the multiprocessing framing
 * @authkey: the shared secret
 * @cancellable: (nullable): a cancellable, or %NULL
 * @callback: (scope async): called when the handshake is over
 * @user_data: data for @callback
 *
 * Starts [func@Sw.multiprocessing_deliver_challenge] without blocking,
 * chained on the connection's async message calls; @callback runs in the
 * thread-default main context of the calling thread.
 *
 * Like the connection's other async calls it has no timeout: cancel
 * @cancellable (from a g_timeout_add() source, say) to stop waiting for a
 * peer that stalls, which gives %G_IO_ERROR_CANCELLED.
 *
 * Since: 0.1
 */
void
sw_multiprocessing_deliver_challenge_async (SwConnection        *connection,
                                            GBytes              *authkey,
                                            GCancellable        *cancellable,
                                            GAsyncReadyCallback  callback,
                                            gpointer             user_data)
{
  GTask *task;
  Handshake *handshake;
  GError *error = NULL;

  g_return_if_fail (SW_IS_CONNECTION (connection));
  g_return_if_fail (authkey != NULL);

  task = handshake_task_new (connection, authkey, cancellable, callback, user_data,
                             "sw_multiprocessing_deliver_challenge_async",
                             SW_TAG (sw_multiprocessing_deliver_challenge_async));
  handshake = g_task_get_task_data (task);
  if (!check_connection (connection, &error)
      || (handshake->challenge = new_challenge (&error)) == NULL)
    {
      task_fail (task, error);
      return;
    }
  send_then (task, handshake->challenge, on_deliver_challenge_sent);
}

/**
 * sw_multiprocessing_deliver_challenge_finish:
 * @connection: the connection
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes [func@Sw.multiprocessing_deliver_challenge_async].
 *
 * Returns: %TRUE when the peer knows the key
 *
 * Since: 0.1
 */
gboolean
sw_multiprocessing_deliver_challenge_finish (SwConnection  *connection,
                                             GAsyncResult  *result,
                                             GError       **error)
{
  return sw_connection_finish_boolean (connection, result,
                                       SW_TAG (sw_multiprocessing_deliver_challenge_async),
                                       error);
}

static void
on_answer_verdict (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;
  g_autoptr(GBytes) reply = NULL;

  reply = receive_finish (source, result, &error);
  if (reply != NULL && check_reply (reply, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

static void
on_answer_sent (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  GTask *task = user_data;
  GError *error = NULL;

  if (sw_connection_send_message_finish (SW_CONNECTION (source), result, &error))
    receive_then (task, on_answer_verdict);
  else
    task_fail (task, error);
}

static void
on_answer_challenge (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  GTask *task = user_data;
  Handshake *handshake = g_task_get_task_data (task);
  GError *error = NULL;
  g_autoptr(GBytes) challenge = NULL;
  g_autoptr(GBytes) response = NULL;

  challenge = receive_finish (source, result, &error);
  if (challenge == NULL
      || (response = create_response (handshake->authkey, challenge, &error)) == NULL)
    {
      task_fail (task, error);
      return;
    }
  send_then (task, response, on_answer_sent);
}

/**
 * sw_multiprocessing_answer_challenge_async:
 * @connection: a connection with the multiprocessing framing
 * @authkey: the shared secret
 * @cancellable: (nullable): a cancellable, or %NULL
 * @callback: (scope async): called when the handshake is over
 * @user_data: data for @callback
 *
 * Starts [func@Sw.multiprocessing_answer_challenge] without blocking,
 * chained on the connection's async message calls; @callback runs in the
 * thread-default main context of the calling thread.
 *
 * Like the connection's other async calls it has no timeout: cancel
 * @cancellable (from a g_timeout_add() source, say) to stop waiting for a
 * peer that stalls, which gives %G_IO_ERROR_CANCELLED.
 *
 * Since: 0.1
 */
void
sw_multiprocessing_answer_challenge_async (SwConnection        *connection,
                                           GBytes              *authkey,
                                           GCancellable        *cancellable,
                                           GAsyncReadyCallback  callback,
                                           gpointer             user_data)
{
  GTask *task;
  GError *error = NULL;

  g_return_if_fail (SW_IS_CONNECTION (connection));
  g_return_if_fail (authkey != NULL);

  task = handshake_task_new (connection, authkey, cancellable, callback, user_data,
                             "sw_multiprocessing_answer_challenge_async",
                             SW_TAG (sw_multiprocessing_answer_challenge_async));
  if (!check_connection (connection, &error))
    {
      task_fail (task, error);
      return;
    }
  receive_then (task, on_answer_challenge);
}

/**
 * sw_multiprocessing_answer_challenge_finish:
 * @connection: the connection
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes [func@Sw.multiprocessing_answer_challenge_async].
 *
 * Returns: %TRUE when the peer accepted our answer
 *
 * Since: 0.1
 */
gboolean
sw_multiprocessing_answer_challenge_finish (SwConnection  *connection,
                                            GAsyncResult  *result,
                                            GError       **error)
{
  return sw_connection_finish_boolean (connection, result,
                                       SW_TAG (sw_multiprocessing_answer_challenge_async),
                                       error);
}
