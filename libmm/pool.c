/* libmm/pool.c — nonpaged and paged pool. A request of up to 0xFE0 bytes is
 * a block packed with others into a pool page, after a 16-byte POOL_HEADER
 * (PreviousSize, BlockSize, PoolType, tag) that the model writes into the
 * page and checks when the block is freed: a neighbour's overrun shows
 * there. Free chunks sit on lists by size (ListHeads), are split to fit and
 * merged with free neighbours; a page left with no block stays mapped for
 * the next allocation, up to MMI_POOL_EMPTY_PAGES a pool. Larger requests
 * and the memory manager's own objects (EPROCESS, prototype PTEs, tracking
 * structures) own whole pages that are unmapped at the free. Under
 * Verifier's Special Pool a request of up to 0xFF0 bytes gets a page of its
 * own, ending at the page's end (Verify End), with an inaccessible page
 * after it and the rest of its page filled with a pattern checked at the
 * free. Nonpaged pages are resident at once (with stale
 * contents, as Windows hands them out); paged-pool pages are demand zero and
 * can be trimmed and paged out. Freed blocks are remembered until their
 * address is reused, to tell a double free from a wild one. */
#include "pool.h"

#include <string.h>

#include "alloc.h"
#include "bugcheck.h"
#include "fault.h"
#include "layout.h"
#include "machine.h"
#include "memory.h"
#include "process.h"
#include "pte.h"
#include "trace.h"

#include "hash.h"

#define UNIT MM_POOL_HEADER_SIZE         /* pool granularity */
#define PAGE_UNITS (MM_PAGE_SIZE / UNIT) /* 256: more than a BlockSize holds */
#define SMALL_MAX 0xFE0u                 /* the largest packed request: 255 units with its header */
#define SPECIAL_MAX (MM_PAGE_SIZE - UNIT) /* the largest Special Pool request: its header in front */
#define SPECIAL_FILL 0x5Au               /* Special Pool's pattern around a block */
/* Pool VA bookkeeping starts at 64 MiB of VA and grows on demand up to the
 * region's size: a 64 GiB machine does not pay for 4 GiB of pool VA up front. */
#define POOL_VA_INITIAL_PAGES 16384u

/* A block, or (packed) a free chunk of a pool page. */
struct mmi_pool_block {
    UT_hash_handle hh;
    UT_hash_handle page_hh; /* a freed Special Pool block: pool->freed_special, by base */
    mm_va block; /* the address the caller holds: base + 16 when there is a header */
    mm_va base;  /* the POOL_HEADER, or the first page */
    uint64_t bytes, pages;
    uint32_t tag;
    mm_pool_type type;
    bool kernel; /* the memory manager's own object: no driver may free it */
    bool packed; /* shares its page, in the chunks below */
    bool free;   /* packed: a free chunk on list[units] */
    bool used;   /* packed: was a caller's block once (its address diagnoses a double free) */
    bool special; /* Special Pool: its page (base), then a guard page; the block ends at the page's end */
    uint16_t units, prev_units; /* packed: BlockSize and PreviousSize, header included */
    struct mmi_pool_block *flink, *blink;
};

mm_status mmi_pool_init(mm_machine *m)
{
    m->pool[MM_NONPAGED_POOL].start = m->layout.nonpaged_pool;
    m->pool[MM_PAGED_POOL].start = m->layout.paged_pool;
    for (int t = 0; t < 2; t++)
        if (!mmi_bitmap_init_growable(m, &m->pool[t].va, POOL_VA_INITIAL_PAGES, mmi_pool_va_pages(&m->cfg)))
            return MM_STATUS_INSUFFICIENT_RESOURCES;
    return MM_STATUS_SUCCESS;
}

static void free_table(mm_machine *m, struct mmi_pool_block **table)
{
    mm_machine *uthash_m = m;
    struct mmi_pool_block *b, *tmp;
    HASH_ITER(hh, *table, b, tmp) {
        HASH_DEL(*table, b);
        mmi_free(m, b);
    }
    (void)uthash_m;
}

void mmi_pool_fini(mm_machine *m)
{
    for (int t = 0; t < 2; t++) {
        mm_machine *uthash_m = m;
        HASH_CLEAR(page_hh, m->pool[t].freed_special);
        (void)uthash_m;
        free_table(m, &m->pool[t].blocks);
        free_table(m, &m->pool[t].freed);
        while (m->pool[t].spare) {
            struct mmi_pool_block *b = m->pool[t].spare;
            m->pool[t].spare = b->flink;
            mmi_free(m, b);
        }
        mmi_bitmap_fini(m, &m->pool[t].va);
    }
}

int mmi_pool_region(const mm_machine *m, mm_va va)
{
    for (int t = 0; t < 2; t++) {
        const struct mmi_pool *p = &m->pool[t];
        if (va >= p->start && va - p->start < p->va.max * MM_PAGE_SIZE)
            return t;
    }
    return -1;
}

/* The pool's table holds blocks and chunks by base (the header, or a big
 * block's first page: no two share one); the freed table, addresses. */
static struct mmi_pool_block *find(struct mmi_pool_block *table, mm_va key)
{
    struct mmi_pool_block *b;
    HASH_FIND(hh, table, &key, sizeof key, b);
    return b;
}

/* Block records come and go with every packed allocation and free: up to
 * 64 are kept for reuse instead of going back to the host. */
#define SPARE_RECORDS 64

static struct mmi_pool_block *record_new(mm_machine *m, struct mmi_pool *pool)
{
    struct mmi_pool_block *b = pool->spare;
    if (!b)
        return mmi_alloc(m, sizeof *b);
    pool->spare = b->flink;
    pool->spare_count--;
    return b;
}

static void record_put(mm_machine *m, struct mmi_pool *pool, struct mmi_pool_block *b)
{
    if (pool->spare_count >= SPARE_RECORDS) {
        mmi_free(m, b);
        return;
    }
    b->flink = pool->spare;
    pool->spare = b;
    pool->spare_count++;
}

/* What the pool has at a caller's address: a block, or a free chunk. The
 * last one found is kept at hand: a driver allocates, uses and frees one
 * block at a time (drop forgets it). */
static struct mmi_pool_block *entry_for(struct mmi_pool *pool, mm_va block)
{
    if (pool->last && pool->last->block == block)
        return pool->last;
    mm_va offset = MM_BYTE_OFFSET(block);
    struct mmi_pool_block *b = offset == 0          ? find(pool->blocks, block)
                               : offset % UNIT == 0 ? find(pool->blocks, block - UNIT)
                                                    : NULL;
    if (!(b && b->block == block)) {
        if (offset % UNIT) /* Special Pool blocks end their page: look the page up */
            return NULL;
        b = find(pool->blocks, MM_PAGE_ALIGN(block));
        if (!(b && b->special && b->block == block))
            return NULL;
    }
    pool->last = b;
    return b;
}

/* The caller's live block at block, not a free chunk. */
static struct mmi_pool_block *find_live(struct mmi_pool *pool, mm_va block)
{
    struct mmi_pool_block *b = entry_for(pool, block);
    return b && !b->free ? b : NULL;
}

static bool put(mm_machine *m, struct mmi_pool_block **table, struct mmi_pool_block *b)
{
    mm_machine *uthash_m = m;
    bool uthash_failed = false;
    HASH_ADD(hh, *table, block, sizeof b->block, b);
    (void)uthash_m;
    return !uthash_failed;
}

static bool put_block(mm_machine *m, struct mmi_pool *pool, struct mmi_pool_block *b)
{
    mm_machine *uthash_m = m;
    bool uthash_failed = false;
    HASH_ADD(hh, pool->blocks, base, sizeof b->base, b);
    (void)uthash_m;
    return !uthash_failed;
}

static void drop(mm_machine *m, struct mmi_pool_block **table, struct mmi_pool_block *b)
{
    for (int t = 0; t < 2; t++)
        if (m->pool[t].last == b)
            m->pool[t].last = NULL;
    mm_machine *uthash_m = m;
    HASH_DEL(*table, b);
    (void)uthash_m;
}

/* A freed block's address is kept to diagnose a second free; without host
 * memory for the record only that diagnosis is lost. */
static void remember_freed(mm_machine *m, struct mmi_pool *pool, struct mmi_pool_block *b)
{
    if (m->dead || !put(m, &pool->freed, b)) {
        record_put(m, pool, b);
        return;
    }
    if (!b->special)
        return;
    mm_machine *uthash_m = m;
    bool uthash_failed = false;
    HASH_ADD(page_hh, pool->freed_special, base, sizeof b->base, b);
    (void)uthash_m;
    if (uthash_failed) /* no host memory: only the touch's diagnosis is lost */
        b->special = false;
}

static struct mmi_pool_block *freed_special_at(const struct mmi_pool *pool, mm_va page)
{
    struct mmi_pool_block *b = NULL;
    if (pool->freed_special)
        HASH_FIND(page_hh, pool->freed_special, &page, sizeof page, b);
    return b;
}

static void forget(mm_machine *m, struct mmi_pool *pool, struct mmi_pool_block *b)
{
    if (b->special) {
        mm_machine *uthash_m = m;
        HASH_DELETE(page_hh, pool->freed_special, b);
        (void)uthash_m;
    }
    drop(m, &pool->freed, b);
    record_put(m, pool, b);
}

static void forget_freed_at(mm_machine *m, struct mmi_pool *pool, mm_va block)
{
    struct mmi_pool_block *b = find(pool->freed, block);
    if (b)
        forget(m, pool, b);
}

/* A page of pool VA is taken again: a freed Special Pool block there, at
 * whatever offset, is forgotten. */
static void forget_special_page(mm_machine *m, struct mmi_pool *pool, mm_va page)
{
    struct mmi_pool_block *b = freed_special_at(pool, page);
    if (b)
        forget(m, pool, b);
}

/* A reused address is no longer a freed block. */
static void forget_freed(mm_machine *m, struct mmi_pool *pool, mm_va base, uint64_t pages, bool every_unit)
{
    for (uint64_t i = 0; i < pages; i++)
        for (mm_va k = 0; k < (every_unit ? MM_PAGE_SIZE : 2 * UNIT); k += UNIT)
            forget_freed_at(m, pool, base + i * MM_PAGE_SIZE + k);
}

/* The freed-block table never empties: an entry at address 0, where no
 * block lives, keeps uthash from freeing and rebuilding the table each
 * time its last freed block is reused. Without host memory for it the
 * table simply empties as before. */
static void keep_freed_table(mm_machine *m, struct mmi_pool *pool)
{
    if (pool->freed)
        return;
    struct mmi_pool_block *anchor = mmi_alloc(m, sizeof *anchor);
    if (!anchor)
        return;
    *anchor = (struct mmi_pool_block){.block = 0};
    if (!put(m, &pool->freed, anchor))
        mmi_free(m, anchor);
}

/* ---- pool pages ---- */

static void unmap_pages(mm_machine *m, mm_va base, uint64_t pages)
{
    for (uint64_t i = 0; i < pages; i++)
        mmi_release_va(m, NULL, base + i * MM_PAGE_SIZE, 0);
}

static mm_status map_pages(mm_machine *m, mm_pool_type type, mm_va base, uint64_t pages)
{
    for (uint64_t i = 0; i < pages; i++) {
        mm_va va = base + i * MM_PAGE_SIZE;
        mm_status st;
        if (type == MM_NONPAGED_POOL) {
            st = mmi_map_new_page(m, NULL, va, MMP_READWRITE, MM_USE_NONPAGED_POOL, false, NULL, NULL);
        } else {
            mm_pfn table;
            st = mmi_pt_ensure(m, m->system->pml4, va, m->system->id, &table);
            if (MM_SUCCESS(st))
                mmi_pte_set(m, table, mmi_va_index(va, 3), va, mmi_pte_make_demand_zero(MMP_READWRITE));
        }
        if (!MM_SUCCESS(st)) {
            unmap_pages(m, base, i);
            return st;
        }
    }
    return MM_STATUS_SUCCESS;
}

/* Pool VA, mapped and charged to commit; `guard` more pages of VA after
 * them stay unmapped (Special Pool's inaccessible page). */
static mm_status new_pages(mm_machine *m, mm_pool_type type, uint64_t pages, unsigned guard, mm_va *base)
{
    struct mmi_pool *pool = &m->pool[type];
    if (pages + guard > pool->va.max)
        return MM_STATUS_NO_MEMORY;
    if (m->commit_charge + pages > m->commit_limit)
        return MM_STATUS_COMMITMENT_LIMIT;
    uint64_t index = mmi_bitmap_find_set(&pool->va, pages + guard, 1);
    if (index == MMI_BITMAP_NONE)
        return MM_STATUS_NO_MEMORY;
    *base = pool->start + index * MM_PAGE_SIZE;
    mm_status st = map_pages(m, type, *base, pages);
    if (!MM_SUCCESS(st)) {
        mmi_bitmap_clear(&pool->va, index, pages + guard);
        return st;
    }
    for (uint64_t i = 0; pool->freed_special && i < pages + guard; i++)
        forget_special_page(m, pool, *base + i * MM_PAGE_SIZE);
    pool->pages += pages;
    m->commit_charge += pages;
    return MM_STATUS_SUCCESS;
}

static void release_pages(mm_machine *m, mm_pool_type type, mm_va base, uint64_t pages, unsigned guard)
{
    struct mmi_pool *pool = &m->pool[type];
    unmap_pages(m, base, pages);
    mmi_bitmap_clear(&pool->va, (base - pool->start) / MM_PAGE_SIZE, pages + guard);
    pool->pages -= pages;
    m->commit_charge -= pages;
}

/* ---- POOL_HEADERs in the pages ---- */

static void write_bytes(mm_machine *m, mm_va va, const void *bytes, uint64_t length)
{
    struct mm_access_request req = {.va = va, .buffer = (void *)bytes, .length = length, .kind = MM_ACCESS_WRITE};
    mmi_access(m, &req);
}

/* PoolType is the pool type + 1 in a block, 0 in a free chunk. */
static void write_header(mm_machine *m, mm_va base, unsigned prev_units, unsigned units, unsigned pool_type,
                         uint32_t tag)
{
    unsigned char h[UNIT] = {0};
    h[0] = (unsigned char)prev_units; /* PreviousSize */
    h[2] = (unsigned char)units;      /* BlockSize */
    h[3] = (unsigned char)pool_type;  /* PoolType */
    memcpy(&h[4], &tag, 4);
    write_bytes(m, base, h, sizeof h);
}

static void write_chunk_header(mm_machine *m, const struct mmi_pool_block *c)
{
    write_header(m, c->base, c->prev_units, c->units, c->free ? 0 : c->type + 1u, c->tag);
}

/* The first 8 bytes of the POOL_HEADER at base; 0 where nothing is mapped. */
static uint64_t read_header(mm_machine *m, mm_va base)
{
    uint64_t h = 0;
    struct mm_access_request req = {.va = base, .buffer = &h, .length = 8};
    const void *bytes = mmi_kernel_bytes(m, base, 8, false);
    if (bytes) /* a translation the TLB holds: valid */
        memcpy(&h, bytes, 8);
    else if (mmi_is_address_valid(m, base))
        mmi_access(m, &req);
    return h;
}

/* The header before a caller's address, if a header could be there. */
static uint64_t header_contents(mm_machine *m, mm_va block)
{
    bool has_header = MM_BYTE_OFFSET(block) >= MM_POOL_HEADER_SIZE && MM_BYTE_OFFSET(block) % UNIT == 0;
    return has_header ? read_header(m, block - MM_POOL_HEADER_SIZE) : 0;
}

/* ---- free chunks of packed pages, on lists by size ---- */

static void list_push(struct mmi_pool *pool, struct mmi_pool_block *c)
{
    struct mmi_pool_block **head = &pool->list[c->units];
    c->free = true;
    c->blink = NULL;
    c->flink = *head;
    if (*head)
        (*head)->blink = c;
    *head = c;
    pool->listed[c->units / 64] |= UINT64_C(1) << (c->units % 64);
}

static void list_remove(struct mmi_pool *pool, struct mmi_pool_block *c)
{
    if (c->blink)
        c->blink->flink = c->flink;
    else
        pool->list[c->units] = c->flink;
    if (c->flink)
        c->flink->blink = c->blink;
    if (!pool->list[c->units])
        pool->listed[c->units / 64] &= ~(UINT64_C(1) << (c->units % 64));
    c->free = false;
}

/* The most recently freed chunk of the smallest size that holds units. */
static struct mmi_pool_block *list_fit(const struct mmi_pool *pool, unsigned units)
{
    for (unsigned w = units / 64; w < 4; w++) {
        uint64_t bits = pool->listed[w];
        if (w == units / 64)
            bits &= ~UINT64_C(0) << (units % 64);
        if (bits)
            return pool->list[w * 64 + (unsigned)__builtin_ctzll(bits)];
    }
    return NULL;
}

/* The chunk after c in its page, or NULL at the page's end. */
static struct mmi_pool_block *next_chunk(const struct mmi_pool *pool, const struct mmi_pool_block *c)
{
    mm_va next = c->base + (mm_va)c->units * UNIT;
    return MM_BYTE_OFFSET(next) ? find(pool->blocks, next) : NULL;
}

/* c's size changed: the chunk after it records it as its PreviousSize. */
static void tell_next(mm_machine *m, const struct mmi_pool *pool, const struct mmi_pool_block *c)
{
    struct mmi_pool_block *n = next_chunk(pool, c);
    if (n) {
        n->prev_units = c->units;
        unsigned char prev = (unsigned char)c->units;
        write_bytes(m, n->base, &prev, 1);
    }
}

/* A page with no block: kept mapped for the next allocation, or given back
 * when MMI_POOL_EMPTY_PAGES are kept already. */
static void page_emptied(mm_machine *m, mm_pool_type type, mm_va page)
{
    struct mmi_pool *pool = &m->pool[type];
    if (pool->empty_count < MMI_POOL_EMPTY_PAGES) {
        pool->empty[pool->empty_count++] = page;
        return;
    }
    forget_freed(m, pool, page, 1, true);
    release_pages(m, type, page, 1, 0);
}

/* A chunk merged into its neighbour leaves the table; a block's address is
 * remembered as freed. */
static void retire(mm_machine *m, struct mmi_pool *pool, struct mmi_pool_block *c)
{
    drop(m, &pool->blocks, c);
    if (c->used)
        remember_freed(m, pool, c);
    else
        record_put(m, pool, c);
}

/* A record with every field clear: copied from here, a reset is a few
 * vector stores where gcc makes a zeroing of this size a slow-starting
 * `rep stos`. */
static const struct mmi_pool_block blank_block;

/* A new chunk of units at base, free or (with tag) the caller's. */
static struct mmi_pool_block *new_chunk(mm_machine *m, struct mmi_pool *pool, mm_pool_type type, mm_va base,
                                        unsigned units, unsigned prev_units)
{
    struct mmi_pool_block *c = record_new(m, pool);
    if (!c)
        return NULL;
    *c = blank_block;
    c->block = base + UNIT;
    c->base = base;
    c->pages = 1;
    c->type = type;
    c->packed = true;
    c->units = (uint16_t)units;
    c->prev_units = (uint16_t)prev_units;
    if (!put_block(m, pool, c)) {
        record_put(m, pool, c);
        return NULL;
    }
    if (units >= 2) /* a chunk of one unit is never a block: its address is the next page's */
        forget_freed_at(m, pool, c->block);
    return c;
}

/* c (taken off its list, or a whole fresh page) keeps its first units; the
 * rest becomes a free chunk. A rest of one unit has no room for a free
 * chunk's list entry and stays with the block, except at the end of a fresh
 * page, where the block could not say its size. */
static void split(mm_machine *m, struct mmi_pool *pool, struct mmi_pool_block *c, unsigned units)
{
    if (c->units - units < 2 && c->units != PAGE_UNITS)
        return;
    struct mmi_pool_block *r = new_chunk(m, pool, c->type, c->base + (mm_va)units * UNIT, c->units - units, units);
    if (!r)
        return; /* no host memory: the block keeps the rest */
    c->units = (uint16_t)units;
    list_push(pool, r);
    write_chunk_header(m, r);
    tell_next(m, pool, r);
}

static mm_status alloc_packed(mm_machine *m, mm_pool_type type, uint64_t bytes, struct mmi_pool_block **out)
{
    struct mmi_pool *pool = &m->pool[type];
    unsigned units = (unsigned)((bytes + UNIT + UNIT - 1) / UNIT);
    struct mmi_pool_block *c = list_fit(pool, units);
    if (c) {
        list_remove(pool, c);
    } else {
        mm_va page;
        bool kept = pool->empty_count > 0;
        if (kept)
            page = pool->empty[--pool->empty_count];
        else {
            mm_status st = new_pages(m, type, 1, 0, &page);
            if (!MM_SUCCESS(st))
                return st;
        }
        c = new_chunk(m, pool, type, page, PAGE_UNITS, 0);
        if (!c) {
            page_emptied(m, type, page);
            return MM_STATUS_INSUFFICIENT_RESOURCES;
        }
    }
    split(m, pool, c, units);
    if (c->units == PAGE_UNITS) { /* no host memory to split a fresh page */
        mm_va page = c->base;
        retire(m, pool, c);
        page_emptied(m, type, page);
        return MM_STATUS_INSUFFICIENT_RESOURCES;
    }
    c->used = true;
    *out = c;
    return MM_STATUS_SUCCESS;
}

static void release_packed(mm_machine *m, struct mmi_pool *pool, struct mmi_pool_block *c)
{
    struct mmi_pool_block *n = next_chunk(pool, c);
    if (n && n->free) {
        list_remove(pool, n);
        c->units = (uint16_t)(c->units + n->units);
        retire(m, pool, n);
    }
    struct mmi_pool_block *p = c->prev_units ? find(pool->blocks, c->base - (mm_va)c->prev_units * UNIT) : NULL;
    if (p && p->free) {
        list_remove(pool, p);
        p->units = (uint16_t)(p->units + c->units);
        retire(m, pool, c);
        c = p;
    }
    if (c->units == PAGE_UNITS) { /* its first header says free; the page stays as it is */
        mm_va page = c->base;
        c->free = true;
        write_chunk_header(m, c);
        retire(m, pool, c);
        page_emptied(m, c->type, page);
        return;
    }
    list_push(pool, c);
    write_chunk_header(m, c);
    tell_next(m, pool, c);
}

/* ---- blocks ---- */

/* Special Pool's page around a block: at its start the size (2 bytes),
 * pool type + 1 and tag, then the pattern up to the block, and the
 * pattern again from the block's end to the page's end. */
static void special_page(mm_machine *m, const struct mmi_pool_block *b, unsigned char *page)
{
    memset(page, SPECIAL_FILL, MM_PAGE_SIZE);
    uint16_t size = (uint16_t)b->bytes;
    memcpy(page, &size, 2);
    page[2] = 0;
    page[3] = (unsigned char)(b->type + 1);
    memcpy(page + 4, &b->tag, 4);
    (void)m;
}

static void fill_special(mm_machine *m, const struct mmi_pool_block *b)
{
    unsigned char page[MM_PAGE_SIZE];
    special_page(m, b, page);
    uint64_t front = b->block - b->base, end = front + b->bytes;
    write_bytes(m, b->base, page, front);
    if (end < MM_PAGE_SIZE)
        write_bytes(m, b->block + b->bytes, page + end, MM_PAGE_SIZE - end);
}

/* What Special Pool checks at the free: the bytes of the block's page that
 * are not the block still hold the pattern. A change in front of the block
 * is 0xC1/0x23, one in the slack after its end (the block ends on a 16-byte
 * boundary, not always at the page's end) is 0xC1/0x24: P1 the block, P2
 * the first changed byte. */
static mm_status check_special(mm_machine *m, const struct mmi_pool_block *b)
{
    unsigned char want[MM_PAGE_SIZE], have[MM_PAGE_SIZE];
    special_page(m, b, want);
    struct mm_access_request req = {.va = b->base, .buffer = have, .length = MM_PAGE_SIZE};
    mm_status st = mmi_access(m, &req);
    if (!MM_SUCCESS(st))
        return st;
    uint64_t front = b->block - b->base, end = front + b->bytes;
    for (uint64_t i = 0; i < MM_PAGE_SIZE; i++) {
        if (i == front) {
            i = end - 1;
            continue;
        }
        if (have[i] != want[i])
            return mmi_bugcheck(m, MM_BUGCHECK_SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION, b->block, b->base + i, 0,
                                i < front ? 0x23 : 0x24, MM_PFN_NONE, b->block,
                                "Special Pool block %016llx (0x%llx bytes) freed, but byte %016llx %s was changed "
                                "(0x%02x, pattern 0x%02x)",
                                (unsigned long long)b->block, (unsigned long long)b->bytes,
                                (unsigned long long)(b->base + i),
                                i < front ? "in front of it" : "after its end", have[i], want[i]);
    }
    return MM_STATUS_SUCCESS;
}

static mm_status alloc_block(mm_machine *m, mm_pool_type type, uint64_t bytes, uint32_t tag, bool kernel, mm_va *out)
{
    struct mmi_pool *pool = &m->pool[type];
    struct mmi_pool_block *b = NULL;
    mm_status st;
    bool special = !kernel && (m->cfg.verifier_flags & MM_VERIFIER_SPECIAL_POOL) && bytes <= SPECIAL_MAX;
    /* The memory manager's own objects keep pages of their own: a page that
     * holds prototype PTEs is watched for writes (fault.c), which a driver's
     * block beside them would set off. */
    if (bytes <= SMALL_MAX && !kernel && !special) {
        st = alloc_packed(m, type, bytes, &b);
        if (!MM_SUCCESS(st))
            return st;
    } else {
        bool small = bytes <= SMALL_MAX || special; /* its own page, after a header */
        uint64_t pages = small ? 1 : (bytes + MM_PAGE_SIZE - 1) / MM_PAGE_SIZE;
        b = record_new(m, pool);
        if (!b)
            return MM_STATUS_INSUFFICIENT_RESOURCES;
        mm_va base;
        st = new_pages(m, type, pages, special, &base);
        if (!MM_SUCCESS(st)) {
            record_put(m, pool, b);
            return st;
        }
        uint64_t rounded = (bytes + UNIT - 1) & ~(uint64_t)(UNIT - 1);
        *b = blank_block;
        b->block = special ? base + MM_PAGE_SIZE - rounded : small ? base + UNIT : base;
        b->base = base;
        b->pages = pages;
        b->units = small && !special ? (uint16_t)((bytes + UNIT + UNIT - 1) / UNIT) : 0;
        b->special = special;
        if (!put_block(m, pool, b)) {
            release_pages(m, type, base, pages, special);
            record_put(m, pool, b);
            return MM_STATUS_INSUFFICIENT_RESOURCES;
        }
        forget_freed(m, pool, base, pages, false);
    }
    b->bytes = bytes;
    b->tag = tag;
    b->type = type;
    b->kernel = kernel;
    pool->allocations++;
    pool->bytes += bytes;
    mmi_trace(m, MM_EV_POOL_ALLOC, b->block, MM_PFN_NONE, bytes, tag);
    if (special)
        fill_special(m, b);
    else if (b->block != b->base)
        write_chunk_header(m, b);
    *out = b->block;
    return MM_STATUS_SUCCESS;
}

mm_status mmi_pool_alloc(mm_machine *m, mm_pool_type type, uint64_t bytes, uint32_t tag, mm_va *out)
{
    return alloc_block(m, type, bytes, tag, false, out);
}

mm_status mmi_pool_alloc_kernel(mm_machine *m, uint64_t bytes, uint32_t tag, mm_va *out)
{
    return alloc_block(m, MM_NONPAGED_POOL, bytes, tag, true, out);
}

mm_status mmi_pool_release(mm_machine *m, mm_va block)
{
    int t = mmi_pool_region(m, block);
    if (t < 0)
        return MM_STATUS_MEMORY_NOT_ALLOCATED;
    struct mmi_pool *pool = &m->pool[t];
    struct mmi_pool_block *b = find_live(pool, block);
    if (!b)
        return MM_STATUS_MEMORY_NOT_ALLOCATED;
    mmi_trace(m, MM_EV_POOL_FREE, block, MM_PFN_NONE, b->bytes, b->tag);
    pool->allocations--;
    pool->bytes -= b->bytes;
    keep_freed_table(m, pool);
    if (b->packed) {
        release_packed(m, pool, b);
    } else {
        drop(m, &pool->blocks, b);
        release_pages(m, (mm_pool_type)t, b->base, b->pages, b->special);
        remember_freed(m, pool, b);
    }
    return m->dead ? MM_STATUS_MACHINE_DEAD : MM_STATUS_SUCCESS;
}

/* ---- the DDIs: ExAllocatePoolWithTag / ExFreePoolWithTag ---- */

static bool irql_ok_for(mm_machine *m, mm_pool_type type)
{
    return mmi_irql(m) <= (type == MM_PAGED_POOL ? MM_APC_LEVEL : MM_DISPATCH_LEVEL);
}

mm_va mm_pool_allocate(mm_machine *m, mm_pool_type type, uint64_t bytes, uint32_t tag)
{
    MMI_ENTER_RET(m, "ExAllocatePoolWithTag", 0);
    if (type != MM_NONPAGED_POOL && type != MM_PAGED_POOL)
        return 0;
    mm_irql irql = mmi_irql(m);
    if (!irql_ok_for(m, type)) {
        if (mmi_verifier(m))
            mmi_bugcheck(m, MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, type == MM_PAGED_POOL ? 0x01 : 0x02,
                         irql, type, bytes, MM_PFN_NONE, 0, "%s pool allocated at IRQL %u",
                         type == MM_PAGED_POOL ? "paged" : "nonpaged", irql);
        else
            mmi_bugcheck(m, MM_BUGCHECK_BAD_POOL_CALLER, 0x08, irql, type, bytes, MM_PFN_NONE, 0,
                         "%s pool allocated at IRQL %u", type == MM_PAGED_POOL ? "paged" : "nonpaged", irql);
        return 0;
    }
    if (bytes == 0 && mmi_verifier(m)) {
        mmi_bugcheck(m, MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0x00, irql, type, 0, MM_PFN_NONE, 0,
                     "a zero-byte pool allocation");
        return 0;
    }
    if (mmi_verifier(m) && (tag == 0 || tag == MM_POOL_TAG('B', 'I', 'G', ' '))) {
        mmi_bugcheck(m, MM_BUGCHECK_BAD_POOL_CALLER, tag == 0 ? 0x9B : 0x9C, type, bytes, mmi_cpu(m)->caller,
                     MM_PFN_NONE, 0, "pool requested with tag %s", tag == 0 ? "0" : "\"BIG\"");
        return 0;
    }
    mm_va block = 0;
    mmi_pool_alloc(m, type, bytes ? bytes : 1, tag, &block);
    return block;
}

static mm_status bad_free(mm_machine *m, mm_va block)
{
    if (!mmi_is_system_va(m, block))
        return mmi_bugcheck(m, MM_BUGCHECK_BAD_POOL_CALLER, 0x40, block, m->layout.system_range_start, 0, MM_PFN_NONE,
                            block, "ExFreePool of a user-mode address %016llx", (unsigned long long)block);
    int t = mmi_pool_region(m, block);
    const struct mmi_pool_block *chunk = t >= 0 ? entry_for(&m->pool[t], block) : NULL;
    if (t >= 0 && (find(m->pool[t].freed, block) || (chunk && chunk->used)))
        return mmi_pool_double_free(m, block);
    if (mmi_verifier(m))
        return mmi_bugcheck(m, MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0x10, block, 0, 0, MM_PFN_NONE,
                            block, "ExFreePool of %016llx, which no allocation returned",
                            (unsigned long long)block);
    if (t == MM_NONPAGED_POOL)
        return mmi_bugcheck(m, MM_BUGCHECK_BAD_POOL_CALLER, 0x44, block, 0, 0, MM_PFN_NONE, block,
                            "ExFreePool of %016llx: not an allocated nonpaged-pool block",
                            (unsigned long long)block);
    if (t == MM_PAGED_POOL)
        return mmi_bugcheck(m, MM_BUGCHECK_BAD_POOL_CALLER, 0x50, block,
                            (block - m->pool[t].start) / MM_PAGE_SIZE, m->pool[t].va.max * MM_PAGE_SIZE, MM_PFN_NONE, block,
                            "ExFreePool of %016llx: not an allocated paged-pool block",
                            (unsigned long long)block);
    return mmi_bugcheck(m, MM_BUGCHECK_BAD_POOL_CALLER, 0x42, block, 0, 0, MM_PFN_NONE, block,
                        "ExFreePool of %016llx, which was never in any pool", (unsigned long long)block);
}

/* A driver's stale pointer now names a block the memory manager owns (an
 * EPROCESS, a prototype PTE array, a tracking structure). Windows would free
 * it and crash later wherever the kernel next used it; mmsim stops at the
 * free, where the mistake is: Verifier's pool tracking knows the driver did
 * not allocate it (0xC4/0x10); without it, BAD_POOL_CALLER 0x99. */
static mm_status free_of_kernel_object(mm_machine *m, const struct mmi_pool_block *b)
{
    char tag[5] = {(char)b->tag, (char)(b->tag >> 8), (char)(b->tag >> 16), (char)(b->tag >> 24), 0};
    if (mmi_verifier(m))
        return mmi_bugcheck(m, MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0x10, b->block, 0, 0, MM_PFN_NONE,
                            b->block, "%s of %016llx, the kernel's own '%s' block, which the driver never allocated",
                            m->op, (unsigned long long)b->block, tag);
    return mmi_bugcheck(m, MM_BUGCHECK_BAD_POOL_CALLER, 0x99, b->block, 0, 0, MM_PFN_NONE, b->block,
                        "%s of %016llx, the kernel's own '%s' block: a stale pointer of the driver's now names it",
                        m->op, (unsigned long long)b->block, tag);
}

/* What ExFreePool reads before it frees: the block's own POOL_HEADER, and
 * the next block's PreviousSize, which an overrun of this block reaches
 * first (0x19/0x20: the entry, the next entry). */
static mm_status check_headers(mm_machine *m, const struct mmi_pool *pool, const struct mmi_pool_block *b)
{
    uint64_t h = header_contents(m, b->block);
    uint8_t prev = (uint8_t)h, size = (uint8_t)(h >> 16), in_use = (uint8_t)(h >> 24);
    uint32_t htag = (uint32_t)(h >> 32);
    if (m->dead)
        return MM_STATUS_MACHINE_DEAD;
    if (prev != (uint8_t)b->prev_units || size != (uint8_t)b->units || in_use != b->type + 1 || htag != b->tag)
        return mmi_bugcheck(m, MM_BUGCHECK_BAD_POOL_HEADER, 0x20, b->base, b->base + size * 16u, 0, MM_PFN_NONE,
                            b->block, "the POOL_HEADER of block %016llx was overwritten (contents %016llx)",
                            (unsigned long long)b->block, (unsigned long long)h);
    const struct mmi_pool_block *n = b->packed ? next_chunk(pool, b) : NULL;
    if (!n)
        return MM_STATUS_SUCCESS;
    uint64_t next = read_header(m, n->base);
    if (m->dead)
        return MM_STATUS_MACHINE_DEAD;
    if ((uint8_t)next != (uint8_t)b->units)
        return mmi_bugcheck(m, MM_BUGCHECK_BAD_POOL_HEADER, 0x20, b->base, n->base, 0, MM_PFN_NONE, b->block,
                            "block %016llx ran over the POOL_HEADER after it: the next block's PreviousSize is "
                            "%u, not %u",
                            (unsigned long long)b->block, (unsigned)(uint8_t)next, (unsigned)b->units);
    return MM_STATUS_SUCCESS;
}

mm_status mm_pool_free(mm_machine *m, mm_va block, uint32_t tag)
{
    MMI_ENTER(m, "ExFreePoolWithTag");
    return mmi_pool_free_checked(m, block, tag);
}

mm_status mmi_pool_free_checked(mm_machine *m, mm_va block, uint32_t tag)
{
    mm_status st = mmi_pool_check_free(m, block, tag);
    return MM_SUCCESS(st) ? mmi_pool_release(m, block) : st;
}

mm_status mmi_pool_check_free(mm_machine *m, mm_va block, uint32_t tag)
{
    int t = mmi_pool_region(m, block);
    struct mmi_pool_block *b = t >= 0 ? find_live(&m->pool[t], block) : NULL;
    if (t >= 0 && !irql_ok_for(m, (mm_pool_type)t)) {
        mm_irql irql = mmi_irql(m);
        if (mmi_verifier(m))
            return mmi_bugcheck(m, MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, t ? 0x11 : 0x12, irql,
                                (uint64_t)t, block, MM_PFN_NONE, block, "pool freed at IRQL %u", irql);
        return mmi_bugcheck(m, MM_BUGCHECK_BAD_POOL_CALLER, 0x09, irql, (uint64_t)t, block, MM_PFN_NONE, block,
                            "pool freed at IRQL %u", irql);
    }
    if (!b)
        return bad_free(m, block);
    if (b->kernel)
        return free_of_kernel_object(m, b);
    if (tag != 0 && tag != b->tag)
        return mmi_bugcheck(m, MM_BUGCHECK_BAD_POOL_CALLER, 0x0A, block, b->tag, tag, MM_PFN_NONE, block,
                            "pool block %016llx freed with a tag other than the one it was allocated with",
                            (unsigned long long)block);
    if (b->special)
        return check_special(m, b);
    return b->block != b->base ? check_headers(m, &m->pool[t], b) : MM_STATUS_SUCCESS;
}

mm_status mmi_pool_double_free(mm_machine *m, mm_va block)
{
    uint64_t h = header_contents(m, block);
    if (mmi_verifier(m))
        return mmi_bugcheck(m, MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0x13, 0, block - MM_POOL_HEADER_SIZE,
                            h, MM_PFN_NONE, block, "pool block %016llx freed twice", (unsigned long long)block);
    return mmi_bugcheck(m, MM_BUGCHECK_BAD_POOL_CALLER, 0x07, 0, h, block, MM_PFN_NONE, block,
                        "pool block %016llx freed twice", (unsigned long long)block);
}

bool mmi_pool_freed_special(const mm_machine *m, mm_va va)
{
    int t = mmi_pool_region(m, va);
    if (t < 0)
        return false;
    return freed_special_at(&m->pool[t], MM_PAGE_ALIGN(va)) != NULL;
}

bool mmi_pool_special_guard(const mm_machine *m, mm_va va)
{
    int t = mmi_pool_region(m, va);
    if (t < 0 || MM_PAGE_ALIGN(va) == m->pool[t].start)
        return false;
    const struct mmi_pool_block *b = find(m->pool[t].blocks, MM_PAGE_ALIGN(va) - MM_PAGE_SIZE);
    return b && b->special;
}

bool mmi_pool_is_allocated(mm_machine *m, mm_va block)
{
    int t = mmi_pool_region(m, block);
    return t >= 0 && find_live(&m->pool[t], block) != NULL;
}

mm_status mm_pool_query(mm_machine *m, mm_va block, struct mm_pool_block_info *out)
{
    if (!m || !out)
        return MM_STATUS_INVALID_PARAMETER;
    int t = mmi_pool_region(m, block);
    struct mmi_pool_block *b = t >= 0 ? find_live(&m->pool[t], block) : NULL;
    if (!b)
        return MM_STATUS_NOT_FOUND;
    mm_pool_layout layout = b->special                ? MM_POOL_SPECIAL
                            : b->packed               ? MM_POOL_PACKED
                            : b->block != b->base     ? MM_POOL_OWN_PAGE
                                                      : MM_POOL_LARGE;
    *out = (struct mm_pool_block_info){block, b->type, b->bytes, b->tag, b->pages, (uint32_t)layout};
    return MM_STATUS_SUCCESS;
}

mm_status mm_pool_usage(mm_machine *m, mm_pool_type type, struct mm_pool_usage *out)
{
    if (!m || !out || (type != MM_NONPAGED_POOL && type != MM_PAGED_POOL))
        return MM_STATUS_INVALID_PARAMETER;
    const struct mmi_pool *p = &m->pool[type];
    *out = (struct mm_pool_usage){p->allocations, p->bytes, p->pages};
    return MM_STATUS_SUCCESS;
}
