/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined (SW_INSIDE) && !defined (SW_COMPILATION)
# error "Only <socketwrapper/socketwrapper.h> can be included directly."
#endif

#include <glib.h>

#ifndef _SW_EXTERN
# define _SW_EXTERN __attribute__((visibility ("default"))) extern
#endif

/* Every public symbol carries this: the library is built with hidden
 * visibility, so only what is marked here is exported. */
#define SW_AVAILABLE_IN_ALL _SW_EXTERN
