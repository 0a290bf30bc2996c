/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Simple IPC with a pipe using MessagePack: a forked child sends a
 * dictionary, the parent receives it as a GVariant. On the wire it is
 * what Python socketwrapper's framing.MsgPack() sends for
 * {'data': b'Hello world!'}: one MessagePack map, no header.
 *
 *   $ sw-example-msgpack-ipc
 *   Message {'data': b'Hello world!'} received
 */

#include <sys/wait.h>
#include <unistd.h>

#include <socketwrapper/socketwrapper.h>

static int
run_child (SwConnection *child_writer)
{
  g_autoptr(GVariantDict) dict = g_variant_dict_new (NULL);
  g_autoptr(GError) error = NULL;

  /* An `ay` is MessagePack's bin, Python's bytes; an `s` would be a str. */
  g_variant_dict_insert_value (dict, "data",
                               g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE,
                                                          "Hello world!", 12, 1));
  if (!sw_connection_send_value (child_writer, g_variant_dict_end (dict), -1, NULL, &error))
    {
      g_printerr ("child: %s\n", error->message);
      return 1;
    }
  return 0;
}

static int
run_parent (SwConnection *parent_reader,
            pid_t         child_pid)
{
  g_autoptr(GVariant) message = NULL;
  g_autoptr(GVariant) data = NULL;
  g_autoptr(GError) error = NULL;
  int status;

  message = sw_connection_receive_value (parent_reader, -1, NULL, &error);
  if (message == NULL)
    {
      g_printerr ("parent: %s\n", error->message);
      return 1;
    }

  /* A map with string keys arrives as `a{sv}`, a bin as `ay`. */
  if (g_variant_is_of_type (message, G_VARIANT_TYPE_VARDICT))
    data = g_variant_lookup_value (message, "data", G_VARIANT_TYPE_BYTESTRING);
  if (data == NULL)
    {
      g_autofree char *text = g_variant_print (message, TRUE);

      g_printerr ("parent: unexpected message %s\n", text);
      return 1;
    }
  g_print ("Message {'data': b'%.*s'} received\n",
           (int) g_variant_get_size (data), (const char *) g_variant_get_data (data));

  if (waitpid (child_pid, &status, 0) < 0 || !WIFEXITED (status) || WEXITSTATUS (status) != 0)
    return 1;
  return 0;
}

int
main (void)
{
  g_autoptr(SwMsgPackFraming) framing = sw_msgpack_framing_new ();
  g_autoptr(SwMsgPackCodec) codec = sw_msgpack_codec_new ();
  g_autoptr(SwConnection) parent_reader = NULL;
  g_autoptr(SwConnection) child_writer = NULL;
  g_autoptr(GError) error = NULL;
  pid_t child_pid;

  /* The framing finds where each MessagePack object ends; the codec turns
   * it into a GVariant and back. */
  if (!sw_pipe (SW_FRAMING (framing), &parent_reader, &child_writer, &error))
    {
      g_printerr ("sw_pipe: %s\n", error->message);
      return 1;
    }
  sw_connection_set_codec (parent_reader, SW_CODEC (codec));
  sw_connection_set_codec (child_writer, SW_CODEC (codec));

  /* Inheritable only around the spawn: see pipe-ipc.c. */
  sw_connection_set_inheritable (child_writer, TRUE);
  child_pid = fork ();  /* replace with your own process fork/spawn logic */
  sw_connection_set_inheritable (child_writer, FALSE);

  if (child_pid < 0)
    {
      g_printerr ("fork failed\n");
      return 1;
    }
  if (child_pid == 0)
    {
      g_clear_object (&parent_reader);
      return run_child (child_writer);
    }
  g_clear_object (&child_writer);
  return run_parent (parent_reader, child_pid);
}
