/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The decode memory budget of every codec (see "Memory" in the SwCodec
 * docs): the shapes that cost the most memory per message byte are
 * refused before anything is built, counted in-process and proven in a
 * forked child whose address space has room for the budget only. */

#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <socketwrapper/socketwrapper.h>

#include "sw-codec-private.h"
#include "sw-json-codec-private.h"
#include "sw-test-util.h"

#define TIMEOUT_US (10 * G_USEC_PER_SEC)

/* @head (@head_len bytes), @unit @n times, then @tail. */
static GBytes *
repeat_unit (const char *head,
             gsize       head_len,
             const char *unit,
             gsize       n,
             const char *tail)
{
  GString *text = g_string_new_len (head, (gssize) head_len);

  for (gsize i = 0; i < n; i++)
    g_string_append (text, unit);
  g_string_append (text, tail);
  return g_string_free_to_bytes (text);
}

/* A MessagePack array of @unit repeated to about @size bytes. */
static GBytes *
msgpack_array (const char *unit,
               gsize       size)
{
  guint32 n = (guint32) (size / strlen (unit));
  const char head[5] = { (char) 0xdd, (char) (n >> 24), (char) (n >> 16),
                         (char) (n >> 8), (char) n };

  return repeat_unit (head, sizeof head, unit, n, "");
}

/* A JSON array of @unit ("x,") repeated to about @size bytes, ending "0]". */
static GBytes *
json_array (const char *unit,
            gsize       size)
{
  return repeat_unit ("[", 1, unit, size / strlen (unit), "0]");
}

#define NESTED_MSGPACK \
  "\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\xc0"
#define NESTED_JSON "[[[[[[[[[[[[[[[[0]]]]]]]]]]]]]]]],"

/* The shapes that cost the most memory per message byte: arrays of nil
 * (1 byte each in MessagePack), of empty maps and objects, of nested
 * singletons, and of zeros. */
typedef enum { DECODE_MSGPACK, DECODE_JSON, DECODE_JSON_NODE } DecodeKind;

static const struct
{
  DecodeKind  kind;
  const char *unit;
} hostile_shapes[] = {
  { DECODE_MSGPACK, "\xc0" }, { DECODE_MSGPACK, "\x80" },
  { DECODE_MSGPACK, NESTED_MSGPACK },
  { DECODE_JSON, "0," }, { DECODE_JSON, "{}," }, { DECODE_JSON, NESTED_JSON },
  { DECODE_JSON_NODE, "0," }, { DECODE_JSON_NODE, "{}," },
  { DECODE_JSON_NODE, NESTED_JSON },
};

static GBytes *
hostile_message (gsize shape,
                 gsize size)
{
  if (hostile_shapes[shape].kind == DECODE_MSGPACK)
    return msgpack_array (hostile_shapes[shape].unit, size);
  return json_array (hostile_shapes[shape].unit, size);
}

/* Decodes @bytes as @kind; returns the error code, or -1 on success. */
static int
decode_as (DecodeKind  kind,
           GBytes     *bytes)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SwCodec) codec = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(JsonNode) node = NULL;

  if (kind == DECODE_JSON_NODE)
    node = sw_json_node_from_bytes (bytes, &error);
  else
    {
      codec = kind == DECODE_MSGPACK ? SW_CODEC (sw_msgpack_codec_new ())
                                     : SW_CODEC (sw_json_codec_new ());
      value = sw_codec_decode (codec, bytes, &error);
    }
  g_assert_true ((error == NULL) != (value == NULL && node == NULL));
  return error != NULL ? error->code : -1;
}

/* Counted: each hostile shape decodes when small, and fails with
 * MESSAGE_TOO_LARGE, before anything is built, at a size whose value
 * would need more than the budget. A connection that received such a
 * message goes on with the next one. */
static void
test_memory_budget (void)
{
  g_autoptr(SwCodec) msgpack = SW_CODEC (sw_msgpack_codec_new ());
  g_autoptr(SwConnection) a = NULL;
  g_autoptr(SwConnection) b = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GVariant) next = NULL;
  GBytes *messages[2];
  SwTestSender *sender;

  g_assert_cmpuint (sw_codec_decode_limit (0), ==, SW_CODEC_DECODE_MIN_LIMIT);
  g_assert_cmpuint (sw_codec_decode_limit (G_MAXSIZE), ==, G_MAXUINT64);
  g_assert_cmpuint (sw_codec_decode_limit (1024 * 1024 * 1024),
                    ==, (guint64) 4 * 1024 * 1024 * 1024);

  for (gsize i = 0; i < G_N_ELEMENTS (hostile_shapes); i++)
    {
      g_autoptr(GBytes) small = hostile_message (i, 64 * 1024);
      g_autoptr(GBytes) large = hostile_message (i, 4 * 1024 * 1024);

      g_test_message ("shape %" G_GSIZE_FORMAT, i);
      g_assert_cmpint (decode_as (hostile_shapes[i].kind, small), ==, -1);
      g_assert_cmpint (decode_as (hostile_shapes[i].kind, large), ==,
                       G_IO_ERROR_MESSAGE_TOO_LARGE);
    }

  g_assert_true (sw_socketpair (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
                                sw_framing_get_default (), &a, &b, &error));
  g_assert_no_error (error);
  sw_connection_set_codec (b, msgpack);
  messages[0] = msgpack_array ("\xc0", 1024 * 1024);
  messages[1] = g_bytes_new_static ("\xa4next", 5);
  sender = sw_test_sender_new (a, messages, G_N_ELEMENTS (messages));
  value = sw_connection_receive_value (b, TIMEOUT_US, NULL, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
  g_assert_null (value);
  g_clear_error (&error);
  next = sw_connection_receive_value (b, TIMEOUT_US, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_string (next, NULL), ==, "next");
  g_assert_true (sw_test_sender_join (sender, &error));
  g_assert_no_error (error);
  g_bytes_unref (messages[0]);
  g_bytes_unref (messages[1]);
}

/* Checks each hostile shape at 16 MiB (refused), then values just within
 * the budget (decoded), in an address space with room for the budget
 * and little more: an unbounded decode (16 MiB of nils took 2.95 GB)
 * aborts in g_malloc(). Returns 0, or 1 + the index of the case that went
 * wrong. */
static int
memory_budget_child (GBytes **hostile,
                     GBytes **within,
                     gsize    n_within)
{
  g_autofree char *statm = NULL;
  struct rlimit limit;

  if (!g_file_get_contents ("/proc/self/statm", &statm, NULL, NULL))
    return 100;
  limit.rlim_cur = limit.rlim_max =
    g_ascii_strtoull (statm, NULL, 10) * (guint64) sysconf (_SC_PAGESIZE) +
    2 * SW_CODEC_DECODE_MIN_LIMIT;
  if (setrlimit (RLIMIT_AS, &limit) != 0)
    return 101;

  for (gsize i = 0; i < G_N_ELEMENTS (hostile_shapes); i++)
    if (decode_as (hostile_shapes[i].kind, hostile[i]) != G_IO_ERROR_MESSAGE_TOO_LARGE)
      return (int) (1 + i);
  for (gsize i = 0; i < n_within; i++)
    if (decode_as (i == 0 ? DECODE_MSGPACK : DECODE_JSON, within[i]) != -1)
      return (int) (1 + G_N_ELEMENTS (hostile_shapes) + i);
  return 0;
}

static void
test_memory_budget_rlimit (void)
{
  GBytes *hostile[G_N_ELEMENTS (hostile_shapes)];
  GBytes *within[2];
  int status;
  pid_t pid;

#if defined (__SANITIZE_ADDRESS__)
  g_test_skip ("ASan needs the address space");
  return;
#endif
  if (g_getenv ("LD_PRELOAD") != NULL && strstr (g_getenv ("LD_PRELOAD"), "vgpreload") != NULL)
    {
      g_test_skip ("valgrind needs the address space");
      return;
    }

  for (gsize i = 0; i < G_N_ELEMENTS (hostile_shapes); i++)
    hostile[i] = hostile_message (i, 16 * 1024 * 1024);
  /* Estimated just under the budget: 400 000 nils, 300 000 zeros. */
  within[0] = msgpack_array ("\xc0", 400000);
  within[1] = json_array ("0,", 600000);
  pid = fork ();
  g_assert_cmpint (pid, !=, -1);
  if (pid == 0)
    _exit (memory_budget_child (hostile, within, G_N_ELEMENTS (within)));
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  if (!WIFEXITED (status))
    g_error ("the child died of signal %d", WTERMSIG (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);

  for (gsize i = 0; i < G_N_ELEMENTS (hostile_shapes); i++)
    g_bytes_unref (hostile[i]);
  for (gsize i = 0; i < G_N_ELEMENTS (within); i++)
    g_bytes_unref (within[i]);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/sw/codec/memory/budget", test_memory_budget);
  g_test_add_func ("/sw/codec/memory/budget-rlimit", test_memory_budget_rlimit);

  return g_test_run ();
}
