/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Progress reports of large frames, shared by the receive and send steps
 * (sw-operation.c, sw-operation-send.c); inline because they run on every
 * read and write of a frame. */
#pragma once

#include "sw-channel-private.h"

G_BEGIN_DECLS

/* A frame whose payload reaches the progress threshold reports its
 * progress through the channel's hook: about every 1 % of its payload, and
 * once at 100 % as it completes. Frames below the threshold cost one
 * comparison (their progress_next stays 0). */

/* The done count of the report after one at @done: the next 1 % step of
 * @total; while the total is unknown (a scanning framing), 1 % more than
 * has arrived, and at least 1 % of @threshold. */
static inline guint64
sw_progress_next (guint64 done,
                  guint64 total,
                  guint64 threshold)
{
  guint64 step;

  if (total != 0)
    {
      step = MAX (total / 100, 1);
      return (done / step + 1) * step;
    }
  step = MAX (MAX (done, threshold) / 100, 1);
  return done + step;
}

static inline void
sw_progress_report (SwChannel *channel,
                    gboolean   sending,
                    guint64    done,
                    guint64    total)
{
  if (channel->progress_func != NULL)
    channel->progress_func (channel->progress_data, sending, done, total);
}

/* Reports @done once it reaches *@next, short of 100 %. */
static inline void
sw_progress_step (SwChannel *channel,
                  gboolean   sending,
                  guint64   *next,
                  guint64    done,
                  guint64    total,
                  guint64    threshold)
{
  if (*next == 0 || done < *next || (total != 0 && done >= total))
    return;
  *next = sw_progress_next (done, total, threshold);
  sw_progress_report (channel, sending, done, total);
}

/* The frame is complete: its report at 100 %, if it reports at all. */
static inline void
sw_progress_finish (SwChannel *channel,
                    gboolean   sending,
                    guint64   *next,
                    guint64    total)
{
  if (*next == 0)
    return;
  *next = 0;
  sw_progress_report (channel, sending, total, total);
}

G_END_DECLS
