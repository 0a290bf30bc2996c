/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* JSON Lines with a Python peer: a child Python process, spawned with
 * GSubprocess, reads one JSON document per line on its stdin and answers
 * each on its stdout with the document it got plus fields of its own. It
 * needs nothing but Python's standard json module. The parent wraps the
 * child's pipes in one connection with the newline-delimited framing and
 * exchanges JsonNode values with it.
 *
 *   $ sw-example-jsonl-peer
 *   Sent {"id":1,"method":"greet","params":{"name":"world"}}
 *   Received {"echo":{"id":1,"method":"greet","params":{"name":"world"}},"n":1,"peer":"python"}
 *   ...
 *   The peer answered 3 lines and exited
 */

#include <socketwrapper/socketwrapper.h>

/* The whole peer. json.dumps() escapes newlines inside strings, so every
 * document fits on one line; flushing after each line answers at once. */
static const char PEER_SCRIPT[] =
  "import json, sys\n"
  "for n, line in enumerate(sys.stdin.buffer, start=1):\n"
  "    document = json.loads(line)\n"
  "    reply = {'n': n, 'peer': 'python', 'echo': document}\n"
  "    sys.stdout.write(json.dumps(reply, sort_keys=True) + '\\n')\n"
  "    sys.stdout.flush()\n";

/* The documents to send, built with JsonBuilder. */
static JsonNode *
build_request (int         id,
               const char *method,
               const char *name)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "id");
  json_builder_add_int_value (builder, id);
  json_builder_set_member_name (builder, "method");
  json_builder_add_string_value (builder, method);
  json_builder_set_member_name (builder, "params");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "name");
  json_builder_add_string_value (builder, name);
  json_builder_end_object (builder);
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

static JsonNode *
build_list (void)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();

  json_builder_begin_array (builder);
  json_builder_add_int_value (builder, 1);
  json_builder_add_double_value (builder, 2.5);
  json_builder_add_boolean_value (builder, TRUE);
  json_builder_add_null_value (builder);
  json_builder_end_array (builder);
  return json_builder_get_root (builder);
}

static gboolean
exchange (SwConnection  *connection,
          JsonNode      *request,
          GError       **error)
{
  g_autoptr(JsonNode) reply = NULL;
  g_autofree char *sent = json_to_string (request, FALSE);
  g_autofree char *received = NULL;

  /* -1: no timeout. A real program would bound the wait for a peer it
   * does not trust. */
  if (!sw_connection_send_json_node (connection, request, -1, NULL, error))
    return FALSE;
  g_print ("Sent %s\n", sent);

  reply = sw_connection_receive_json_node (connection, -1, NULL, error);
  if (reply == NULL)
    return FALSE;
  received = json_to_string (reply, FALSE);
  g_print ("Received %s\n", received);
  return TRUE;
}

int
main (void)
{
  g_autoptr(GSubprocess) peer = NULL;
  g_autoptr(SwDelimiterFraming) framing = NULL;
  g_autoptr(SwConnection) connection = NULL;
  g_autoptr(GError) error = NULL;
  JsonNode *requests[3];
  gboolean ok = TRUE;
  gsize i;

  peer = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE |
                           G_SUBPROCESS_FLAGS_STDOUT_PIPE,
                           &error,
                           "/usr/bin/python3", "-c", PEER_SCRIPT, NULL);
  if (peer == NULL)
    {
      g_printerr ("Cannot start the peer: %s\n", error->message);
      return 1;
    }

  /* NULL: the default delimiter, "\n", i.e. JSON Lines. We receive from
   * the child's stdout and send to its stdin. */
  framing = sw_delimiter_framing_new (NULL);
  connection = sw_connection_new_for_streams (g_subprocess_get_stdout_pipe (peer),
                                              g_subprocess_get_stdin_pipe (peer),
                                              SW_FRAMING (framing));

  requests[0] = build_request (1, "greet", "world");
  requests[1] = build_request (2, "greet", "socketwrapper");
  requests[2] = build_list ();
  for (i = 0; i < G_N_ELEMENTS (requests); i++)
    {
      if (ok && !exchange (connection, requests[i], &error))
        ok = FALSE;
      json_node_unref (requests[i]);
    }

  /* Closing the child's stdin ends its loop; then it exits. */
  if (ok &&
      (!sw_connection_shutdown_write (connection, -1, NULL, &error) ||
       !g_subprocess_wait_check (peer, NULL, &error) ||
       !sw_connection_close (connection, NULL, &error)))
    ok = FALSE;

  if (!ok)
    {
      g_printerr ("%s\n", error->message);
      g_subprocess_force_exit (peer);
      return 1;
    }

  g_print ("The peer answered %u lines and exited\n",
           (unsigned) G_N_ELEMENTS (requests));
  return 0;
}
