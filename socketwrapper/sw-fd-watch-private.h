/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _SwFdWatch SwFdWatch;
typedef struct _SwFdWait  SwFdWait;

typedef void (*SwFdWaitFunc) (gpointer user_data);

/* One wait for an fd's readiness in a main context, served by the
 * context's shared epoll source (sw-fd-watch.c) rather than a source of its
 * own. Embedded in its owner; all zeros when unused. */
struct _SwFdWait
{
  SwFdWatch    *watch;      /* a reference, from prepare() to clear(); read
                             * by other threads only while the owner waits */
  /* protected by @watch's mutex */
  int           state;
  int           fd;
  GIOCondition  condition;
  SwFdWait     *next;       /* the other waits on @fd */
  GList         link;       /* in @watch's ready queue */
  /* read-only while waiting */
  SwFdWaitFunc  func;
  gpointer      user_data;
};

/* Registers @wait for @condition on @fd with the shared source of
 * (@context, @priority); @func runs in @context once @fd is ready or
 * sw_fd_wait_wake() was called, but never before sw_fd_wait_arm(). FALSE
 * when the context has few waits (see sw_fd_watch_set_threshold()) or
 * that source cannot watch @fd (no fd left for the epoll instance, an fd
 * epoll refuses...): wait with a source of your own, and call
 * sw_fd_wait_clear() after it if @wait->watch is set (it counted the
 * wait). */
gboolean sw_fd_wait_prepare (SwFdWait     *wait,
                             GMainContext *context,
                             int           priority,
                             int           fd,
                             GIOCondition  condition,
                             SwFdWaitFunc  func,
                             gpointer      user_data);
/* From now on @func may run, at once, in whichever thread runs the
 * context; the caller must not touch @wait's owner after this. */
void     sw_fd_wait_arm     (SwFdWait     *wait);
/* Undoes a prepare() that was never armed. */
void     sw_fd_wait_discard (SwFdWait     *wait);
/* From any thread: makes @func run soon in the context, unless it has
 * already been queued. @fd is out of the epoll set when this returns, so
 * the caller may close it. */
void     sw_fd_wait_wake    (SwFdWait     *wait);
/* After @func ran (or the caller's own source ended): lets the shared
 * source go. */
void     sw_fd_wait_clear   (SwFdWait     *wait);

/* How many fd waits a (context, priority) has before they share its epoll
 * source; the default suits the library, tests use 0 (always share). */
void     sw_fd_watch_set_threshold (guint n_waits);

G_END_DECLS
