/* libmm/hash.h — uthash, configured to allocate through the machine's
 * allocator (see alloc.h); include this instead of <uthash.h>. */
#ifndef MMI_HASH_H
#define MMI_HASH_H

#include "alloc.h"

#include <uthash.h>

#endif
