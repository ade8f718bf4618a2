/* libmm/arena.c — the snapshot arena (see arena.h). Blocks come from size
 * classes (16-byte steps up to 1 KiB, then four steps per doubling), each
 * with a free list, else from the top of the used prefix; a block is never
 * split or merged, so every operation is O(1). The heap's state (the top
 * and the free lists) sits at the arena's base, inside the prefix a
 * snapshot copies. Under AddressSanitizer the arena poisons what is not a
 * live block's requested bytes, so an overrun of a model structure is still
 * reported. */
#define _GNU_SOURCE
#include "arena.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* Address space is reserved where the host has mmap (whatever the store
 * of frames is); elsewhere the arena is one allocation of its full size. */
#if defined(__unix__) || defined(__APPLE__)
#define ARENA_MMAP 1
#include <sys/mman.h>
#endif

#if defined(__SANITIZE_ADDRESS__)
#define ARENA_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ARENA_ASAN 1
#endif
#endif
#if defined(ARENA_ASAN)
#include <sanitizer/asan_interface.h>
#define UNSANITIZED __attribute__((no_sanitize("address")))
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define UNSANITIZED
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define HEADER 16u
#define SMALL_CLASSES 64u /* 16 .. 1024 bytes */
#define CLASSES (SMALL_CLASSES + 4u * 40u)
#define COMMIT_STEP ((size_t)1 << 20)

/* In front of every block. */
struct block {
    uint32_t cls;
    uint32_t live;
    uint64_t requested;
};

/* At the arena's base, rolled back with it. */
struct heap {
    uint64_t top;           /* offset of the first byte never handed out */
    uint64_t free[CLASSES]; /* offset of each class's first free block, 0: none */
};
#define FIRST_BLOCK ((sizeof(struct heap) + 15u) & ~(size_t)15u)

struct mmi_arena {
    unsigned char *base;
    size_t reserved, committed;
    bool mapped;            /* reserved with mmap (else one calloc) */
    unsigned char *copy;    /* the snapshot of [0, saved_top) */
    size_t copy_cap, saved_top;
    bool saved;
    size_t keep_at, keep_bytes; /* mmi_arena_keep: left alone by a restore */
};

static struct heap *heap_of(struct mmi_arena *a) { return (struct heap *)(void *)a->base; }

static uint64_t capacity(unsigned cls)
{
    if (cls < SMALL_CLASSES)
        return (uint64_t)(cls + 1) * 16u;
    unsigned e = (cls - SMALL_CLASSES) / 4, s = (cls - SMALL_CLASSES) % 4;
    return (UINT64_C(1024) << e) + (uint64_t)(s + 1) * (UINT64_C(256) << e);
}

static unsigned highest_bit(uint64_t x)
{
#if defined(__GNUC__) || defined(__clang__)
    return 63u - (unsigned)__builtin_clzll(x);
#else
    unsigned b = 0;
    while (x >>= 1)
        b++;
    return b;
#endif
}

/* The smallest class holding n bytes, or CLASSES when none does. */
static unsigned class_of(size_t n)
{
    if (n <= 1024)
        return n ? (unsigned)((n + 15) / 16 - 1) : 0;
    uint64_t x = (uint64_t)n - 1;
    unsigned e = highest_bit(x) - 10;
    if (e >= 40)
        return CLASSES;
    unsigned s = (unsigned)((x - (UINT64_C(1024) << e)) >> (8 + e));
    return SMALL_CLASSES + 4 * e + s;
}

/* Headers and free-list links sit in poisoned memory. */
static UNSANITIZED struct block read_block(const unsigned char *at)
{
    const struct block *b = (const void *)at;
    return *b;
}
static UNSANITIZED void write_block(unsigned char *at, struct block b) { *(struct block *)(void *)at = b; }
static UNSANITIZED uint64_t read_link(const unsigned char *payload) { return *(const uint64_t *)(const void *)payload; }
static UNSANITIZED void write_link(unsigned char *payload, uint64_t v) { *(uint64_t *)(void *)payload = v; }

static bool commit(struct mmi_arena *a, size_t end)
{
    if (end <= a->committed)
        return true;
    if (end > a->reserved)
        return false;
    size_t want = a->committed * 2 > end ? a->committed * 2 : end;
    want = (want + COMMIT_STEP - 1) & ~(COMMIT_STEP - 1);
    if (want > a->reserved)
        want = a->reserved;
#if defined(ARENA_MMAP)
    if (a->mapped && mprotect(a->base + a->committed, want - a->committed, PROT_READ | PROT_WRITE) != 0)
        return false;
#endif
    POISON(a->base + a->committed, want - a->committed);
    a->committed = want;
    return true;
}

static void *arena_alloc(void *ctx, size_t n)
{
    struct mmi_arena *a = ctx;
    struct heap *h = heap_of(a);
    unsigned cls = class_of(n);
    if (cls >= CLASSES)
        return NULL;
    unsigned char *at;
    if (h->free[cls]) {
        at = a->base + h->free[cls];
        h->free[cls] = read_link(at + HEADER);
        UNPOISON(at + HEADER, n);
        memset(at + HEADER, 0, n);
    } else {
        size_t end = (size_t)h->top + HEADER + (size_t)capacity(cls);
        if (end < h->top || !commit(a, end))
            return NULL;
        at = a->base + h->top;
        h->top = end;
        UNPOISON(at + HEADER, n); /* fresh memory reads as zeros */
    }
    write_block(at, (struct block){.cls = cls, .live = 1, .requested = n});
    return at + HEADER;
}

static void arena_free(void *ctx, void *p)
{
    if (!p)
        return;
    struct mmi_arena *a = ctx;
    struct heap *h = heap_of(a);
    unsigned char *at = (unsigned char *)p - HEADER;
    struct block b = read_block(at);
    b.live = 0;
    write_block(at, b);
    POISON(at + HEADER, capacity(b.cls));
    write_link(at + HEADER, h->free[b.cls]);
    h->free[b.cls] = (uint64_t)(at - a->base);
}

static void *arena_realloc(void *ctx, void *p, size_t n)
{
    if (!p)
        return arena_alloc(ctx, n);
    unsigned char *at = (unsigned char *)p - HEADER;
    struct block b = read_block(at);
    if (class_of(n) <= b.cls) { /* it still fits */
        POISON(p, capacity(b.cls));
        UNPOISON(p, n);
        b.requested = n;
        write_block(at, b);
        return p;
    }
    void *grown = arena_alloc(ctx, n);
    if (!grown)
        return NULL;
    memcpy(grown, p, (size_t)b.requested);
    arena_free(ctx, p);
    return grown;
}

/* The bookkeeping a machine of cfg's size can need: address space only. */
static size_t reservation(const struct mm_config *cfg)
{
    uint64_t bytes = (UINT64_C(1) << 30) + 256 * (cfg->physical_pages + cfg->pagefile_pages) +
                     256 * (uint64_t)cfg->trace_capacity + 64 * (uint64_t)cfg->system_ptes;
    if (bytes > SIZE_MAX / 2)
        bytes = SIZE_MAX / 2;
    return ((size_t)bytes + COMMIT_STEP - 1) & ~(COMMIT_STEP - 1);
}

struct mmi_arena *mmi_arena_create(const struct mm_config *cfg, struct mm_allocator *out)
{
    struct mmi_arena *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->reserved = reservation(cfg);
#if defined(ARENA_MMAP)
    void *p = mmap(NULL, a->reserved, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p != MAP_FAILED) {
        a->base = p;
        a->mapped = true;
    }
#endif
    if (!a->base) { /* no reservations on this host: one block, committed at once */
        a->base = calloc(1, a->reserved);
        a->committed = a->reserved;
    }
    if (!a->base || !commit(a, FIRST_BLOCK)) {
        mmi_arena_destroy(a);
        return NULL;
    }
    UNPOISON(a->base, FIRST_BLOCK);
    heap_of(a)->top = FIRST_BLOCK;
    *out = (struct mm_allocator){.alloc = arena_alloc, .realloc = arena_realloc, .free = arena_free, .ctx = a};
    return a;
}

void mmi_arena_destroy(struct mmi_arena *a)
{
    if (!a)
        return;
    if (a->base) {
        UNPOISON(a->base, a->committed);
#if defined(ARENA_MMAP)
        if (a->mapped)
            munmap(a->base, a->reserved);
        else
#endif
            free(a->base);
    }
    free(a->copy);
    free(a);
}

struct mmi_arena *mmi_arena_of(const struct mm_allocator *alloc)
{
    return alloc && alloc->alloc == arena_alloc ? alloc->ctx : NULL;
}

/* Under AddressSanitizer: everything but the live blocks' requested bytes
 * poisoned again, by walking the blocks. */
static void repoison(struct mmi_arena *a)
{
#if defined(ARENA_ASAN)
    struct heap *h = heap_of(a);
    POISON(a->base + FIRST_BLOCK, a->committed - FIRST_BLOCK);
    for (size_t at = FIRST_BLOCK; at < h->top;) {
        struct block b = read_block(a->base + at);
        if (b.live)
            UNPOISON(a->base + at + HEADER, b.requested);
        at += HEADER + (size_t)capacity(b.cls);
    }
#else
    (void)a;
#endif
}

bool mmi_arena_save(struct mmi_arena *a)
{
    size_t top = (size_t)heap_of(a)->top;
    if (top > a->copy_cap) {
        unsigned char *grown = realloc(a->copy, top);
        if (!grown)
            return false;
        a->copy = grown;
        a->copy_cap = top;
    }
    UNPOISON(a->base, top);
    memcpy(a->copy, a->base, top);
    repoison(a);
    a->saved_top = top;
    a->saved = true;
    return true;
}

void mmi_arena_restore(struct mmi_arena *a)
{
    size_t top = (size_t)heap_of(a)->top;
    size_t used = top > a->saved_top ? top : a->saved_top;
    UNPOISON(a->base, used);
    size_t keep_end = a->keep_at + a->keep_bytes;
    if (a->keep_bytes && keep_end <= a->saved_top) { /* around the kept range */
        memcpy(a->base, a->copy, a->keep_at);
        memcpy(a->base + keep_end, a->copy + keep_end, a->saved_top - keep_end);
    } else {
        memcpy(a->base, a->copy, a->saved_top);
    }
    if (top > a->saved_top) /* handed out since: fresh again */
        memset(a->base + a->saved_top, 0, top - a->saved_top);
    repoison(a);
}

bool mmi_arena_saved(const struct mmi_arena *a) { return a && a->saved; }

void mmi_arena_keep(struct mmi_arena *a, const void *p, size_t n)
{
    const unsigned char *at = p;
    assert(!n || (at >= a->base && at + n <= a->base + a->committed));
    a->keep_at = n ? (size_t)(at - a->base) : 0;
    a->keep_bytes = n;
}
