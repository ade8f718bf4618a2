/* libmm/hash.h — uthash, configured to allocate through the machine's
 * allocator (see alloc.h); include this instead of <uthash.h>. */
#ifndef MMI_HASH_H
#define MMI_HASH_H

#include "alloc.h"

#include <uthash.h>

/* uthash's Jenkins hash falls through switch cases without annotations;
 * clang warns at every expansion in the files that use it. */
#ifdef __clang__
#pragma clang diagnostic ignored "-Wimplicit-fallthrough"
#endif

#endif
