/* libmm/alloc.c — the allocation hook: a size header in front of every block
 * keeps the machine's count of host bytes exact. */
#include "alloc.h"

#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "machine.h"

#define HEADER 16u

static void *libc_alloc(void *ctx, size_t size) { (void)ctx; return malloc(size); }
static void *libc_realloc(void *ctx, void *p, size_t size) { (void)ctx; return realloc(p, size); }
static void libc_free(void *ctx, void *p) { (void)ctx; free(p); }

void mmi_allocator_resolve(struct mm_allocator *out, const struct mm_allocator *in)
{
    if (in && in->alloc && in->realloc && in->free) {
        *out = *in;
        return;
    }
    out->alloc = libc_alloc;
    out->realloc = libc_realloc;
    out->free = libc_free;
    out->ctx = NULL;
}

/* The C library's zeroed allocation leaves large blocks to the kernel's
 * zero pages, so a big, mostly unused table (the PFN chunk index of a
 * 64 GiB machine, the trace ring) costs nothing until it is written. */
void *mmi_alloc_with(const struct mm_allocator *a, size_t size)
{
    if (size > SIZE_MAX - HEADER)
        return NULL;
    unsigned char *p;
    if (a->alloc == libc_alloc) {
        p = calloc(1, size + HEADER);
    } else if (mmi_arena_of(a)) {
        p = a->alloc(a->ctx, size + HEADER); /* zeroed already */
    } else {
        p = a->alloc(a->ctx, size + HEADER);
        if (p)
            memset(p, 0, size + HEADER);
    }
    if (!p)
        return NULL;
    memcpy(p, &size, sizeof size);
    return p + HEADER;
}

void mmi_free_with(const struct mm_allocator *a, void *p)
{
    if (p)
        a->free(a->ctx, (unsigned char *)p - HEADER);
}

static size_t block_size(void *p)
{
    size_t size;
    memcpy(&size, (unsigned char *)p - HEADER, sizeof size);
    return size;
}

void *mmi_alloc(mm_machine *m, size_t size)
{
    void *p = mmi_alloc_with(&m->alloc, size);
    if (p)
        m->host_bytes += size;
    return p;
}

void *mmi_realloc(mm_machine *m, void *p, size_t size)
{
    if (!p)
        return mmi_alloc(m, size);
    if (size > SIZE_MAX - HEADER)
        return NULL;
    size_t old = block_size(p);
    unsigned char *n = m->alloc.realloc(m->alloc.ctx, (unsigned char *)p - HEADER, size + HEADER);
    if (!n)
        return NULL;
    if (size > old)
        memset(n + HEADER + old, 0, size - old);
    memcpy(n, &size, sizeof size);
    m->host_bytes += size;
    m->host_bytes -= old;
    return n + HEADER;
}

bool mmi_grow(mm_machine *m, void **array, size_t *cap, size_t need, size_t elem, size_t initial)
{
    if (need <= *cap)
        return true;
    size_t n = *cap ? *cap : initial;
    while (n < need)
        n *= 2;
    void *grown = mmi_realloc(m, *array, n * elem);
    if (!grown)
        return false;
    *array = grown;
    *cap = n;
    return true;
}

void mmi_free(mm_machine *m, void *p)
{
    if (!p)
        return;
    m->host_bytes -= block_size(p);
    mmi_free_with(&m->alloc, p);
}
