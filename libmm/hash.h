/* libmm/hash.h — uthash, configured to allocate through the machine's
 * allocator (see alloc.h); include this instead of <uthash.h>. */
#ifndef MMI_HASH_H
#define MMI_HASH_H

#include "alloc.h"

#include <stdint.h>
#include <string.h>

/* The model's keys are addresses, frame numbers and ids: a multiplicative
 * mix of the 4- or 8-byte key is enough and costs a few instructions where
 * uthash's default byte-wise hash costs dozens; other keys use FNV-1a. */
static inline unsigned mmi_hash_key(const void *key, size_t len)
{
    uint64_t v = 0;
    if (len == 8 || len == 4) {
        memcpy(&v, key, len);
        return (unsigned)((v * UINT64_C(0x9E3779B97F4A7C15)) >> 32);
    }
    unsigned h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ ((const unsigned char *)key)[i]) * 16777619u;
    return h;
}
#define HASH_FUNCTION(keyptr, keylen, hashv) ((hashv) = mmi_hash_key((keyptr), (size_t)(keylen)))

#include <uthash.h>

/* uthash's Jenkins hash falls through switch cases without annotations;
 * clang warns at every expansion in the files that use it. */
#ifdef __clang__
#pragma clang diagnostic ignored "-Wimplicit-fallthrough"
#endif

#endif
