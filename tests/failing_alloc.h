/* tests/failing_alloc.h — a host allocator for mm_config.allocator that
 * fails its Nth call and counts the blocks still live, so a test can fail
 * each allocation of an operation in turn and check nothing leaks. */
#ifndef MMSIM_TESTS_FAILING_ALLOC_H
#define MMSIM_TESTS_FAILING_ALLOC_H

#include <stdint.h>
#include <stdlib.h>

#include "mm/mm.h"

struct failing {
    uint64_t calls, fail_at; /* fail_at 0: never */
    int64_t live;
};

static inline void *f_alloc(void *ctx, size_t size)
{
    struct failing *f = ctx;
    if (f->fail_at && ++f->calls == f->fail_at)
        return NULL;
    void *p = malloc(size);
    f->live += p != NULL;
    return p;
}

static inline void *f_realloc(void *ctx, void *p, size_t size)
{
    struct failing *f = ctx;
    if (f->fail_at && ++f->calls == f->fail_at)
        return NULL;
    void *n = realloc(p, size);
    f->live += n != NULL && p == NULL;
    return n;
}

static inline void f_free(void *ctx, void *p)
{
    struct failing *f = ctx;
    f->live -= p != NULL;
    free(p);
}

static inline struct mm_allocator failing_allocator(struct failing *f)
{
    return (struct mm_allocator){f_alloc, f_realloc, f_free, f};
}

#endif
