/* libmm/pool.c — nonpaged and paged pool. Every block owns whole pages: a
 * block smaller than a page sits after a 16-byte POOL_HEADER at the start of
 * its own page; larger blocks are page aligned with no header. Nonpaged pages
 * are resident at once (with stale contents, as Windows hands them out);
 * paged-pool pages are demand zero and can be trimmed and paged out. Freed
 * blocks are remembered until their address is reused, to tell a double free
 * from a wild one. */
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

#define SMALL_MAX 0xFE0u
/* Pool VA bookkeeping starts at 64 MiB of VA and grows on demand up to the
 * region's size: a 64 GiB machine does not pay for 4 GiB of pool VA up front. */
#define POOL_VA_INITIAL_PAGES 16384u

struct mmi_pool_block {
    UT_hash_handle hh;
    mm_va block;
    mm_va base;
    uint64_t bytes, pages;
    uint32_t tag;
    mm_pool_type type;
    bool kernel; /* the memory manager's own object: no driver may free it */
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
        free_table(m, &m->pool[t].blocks);
        free_table(m, &m->pool[t].freed);
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

static struct mmi_pool_block *find(struct mmi_pool_block *table, mm_va block)
{
    struct mmi_pool_block *b;
    HASH_FIND(hh, table, &block, sizeof block, b);
    return b;
}

/* A reused address is no longer a freed block. */
static void forget_freed(mm_machine *m, struct mmi_pool *pool, mm_va base, uint64_t pages)
{
    mm_machine *uthash_m = m;
    for (uint64_t i = 0; i < pages; i++) {
        for (mm_va k = 0; k <= MM_POOL_HEADER_SIZE; k += MM_POOL_HEADER_SIZE) {
            struct mmi_pool_block *b = find(pool->freed, base + i * MM_PAGE_SIZE + k);
            if (b) {
                HASH_DEL(pool->freed, b);
                mmi_free(m, b);
            }
        }
    }
    (void)uthash_m;
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
    mm_machine *uthash_m = m;
    bool uthash_failed = false;
    HASH_ADD(hh, pool->freed, block, sizeof anchor->block, anchor);
    if (uthash_failed)
        mmi_free(m, anchor);
}

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

static void write_header(mm_machine *m, const struct mmi_pool_block *b)
{
    unsigned char h[MM_POOL_HEADER_SIZE] = {0};
    h[2] = (unsigned char)((b->bytes + MM_POOL_HEADER_SIZE + 15) / 16); /* BlockSize */
    h[3] = (unsigned char)(b->type + 1);                                  /* PoolType: in use */
    memcpy(&h[4], &b->tag, 4);
    struct mm_access_request req = {.va = b->base, .buffer = h, .length = sizeof h, .kind = MM_ACCESS_WRITE};
    mmi_access(m, &req);
}

mm_status mmi_pool_alloc(mm_machine *m, mm_pool_type type, uint64_t bytes, uint32_t tag, mm_va *out)
{
    struct mmi_pool *pool = &m->pool[type];
    bool small = bytes <= SMALL_MAX;
    uint64_t pages = small ? 1 : (bytes + MM_PAGE_SIZE - 1) / MM_PAGE_SIZE;
    if (pages > pool->va.max)
        return MM_STATUS_NO_MEMORY;
    if (m->commit_charge + pages > m->commit_limit)
        return MM_STATUS_COMMITMENT_LIMIT;
    uint64_t index = mmi_bitmap_find_set(&pool->va, pages, 1);
    if (index == MMI_BITMAP_NONE)
        return MM_STATUS_NO_MEMORY;
    mm_va base = pool->start + index * MM_PAGE_SIZE;
    mm_machine *uthash_m = m;
    bool uthash_failed = false;
    struct mmi_pool_block *b = mmi_alloc(m, sizeof *b);
    mm_status st = MM_STATUS_INSUFFICIENT_RESOURCES;
    if (!b)
        goto fail_va;
    *b = (struct mmi_pool_block){.block = small ? base + MM_POOL_HEADER_SIZE : base, .base = base,
                                 .bytes = bytes, .pages = pages, .tag = tag, .type = type};
    HASH_ADD(hh, pool->blocks, block, sizeof b->block, b);
    if (uthash_failed)
        goto fail_block;
    st = map_pages(m, type, base, pages);
    if (!MM_SUCCESS(st))
        goto fail_hash;
    forget_freed(m, pool, base, pages);
    pool->allocations++;
    pool->bytes += bytes;
    pool->pages += pages;
    m->commit_charge += pages;
    mmi_trace(m, MM_EV_POOL_ALLOC, b->block, MM_PFN_NONE, bytes, tag);
    if (small)
        write_header(m, b);
    *out = b->block;
    return MM_STATUS_SUCCESS;

fail_hash:
    HASH_DEL(pool->blocks, b);
fail_block:
    mmi_free(m, b);
fail_va:
    mmi_bitmap_clear(&pool->va, index, pages);
    return st;
}

mm_status mmi_pool_alloc_kernel(mm_machine *m, uint64_t bytes, uint32_t tag, mm_va *out)
{
    mm_status st = mmi_pool_alloc(m, MM_NONPAGED_POOL, bytes, tag, out);
    if (MM_SUCCESS(st))
        find(m->pool[MM_NONPAGED_POOL].blocks, *out)->kernel = true;
    return st;
}

mm_status mmi_pool_release(mm_machine *m, mm_va block)
{
    int t = mmi_pool_region(m, block);
    if (t < 0)
        return MM_STATUS_MEMORY_NOT_ALLOCATED;
    struct mmi_pool *pool = &m->pool[t];
    struct mmi_pool_block *b = find(pool->blocks, block);
    if (!b)
        return MM_STATUS_MEMORY_NOT_ALLOCATED;
    mm_machine *uthash_m = m;
    bool uthash_failed = false;
    HASH_DEL(pool->blocks, b);
    mmi_trace(m, MM_EV_POOL_FREE, block, MM_PFN_NONE, b->bytes, b->tag);
    unmap_pages(m, b->base, b->pages);
    mmi_bitmap_clear(&pool->va, (b->base - pool->start) / MM_PAGE_SIZE, b->pages);
    pool->allocations--;
    pool->bytes -= b->bytes;
    pool->pages -= b->pages;
    m->commit_charge -= b->pages;
    if (m->dead) {
        mmi_free(m, b);
        return MM_STATUS_MACHINE_DEAD;
    }
    keep_freed_table(m, pool);
    HASH_ADD(hh, pool->freed, block, sizeof b->block, b);
    if (uthash_failed)
        mmi_free(m, b); /* only double-free diagnosis is lost */
    return MM_STATUS_SUCCESS;
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
        mmi_bugcheck(m, MM_BUGCHECK_BAD_POOL_CALLER, tag == 0 ? 0x9B : 0x9C, type, bytes, 0, MM_PFN_NONE, 0,
                     "pool requested with tag %s", tag == 0 ? "0" : "\"BIG\"");
        return 0;
    }
    mm_va block = 0;
    mmi_pool_alloc(m, type, bytes ? bytes : 1, tag, &block);
    return block;
}

static uint64_t header_contents(mm_machine *m, mm_va block)
{
    uint64_t h = 0;
    struct mm_access_request req = {.va = block - MM_POOL_HEADER_SIZE, .buffer = &h, .length = 8};
    const void *bytes = MM_BYTE_OFFSET(block) == MM_POOL_HEADER_SIZE ? mmi_kernel_bytes(m, req.va, 8, false) : NULL;
    if (bytes) /* a translation the TLB holds: valid */
        memcpy(&h, bytes, 8);
    else if (MM_BYTE_OFFSET(block) == MM_POOL_HEADER_SIZE && mmi_is_address_valid(m, req.va))
        mmi_access(m, &req);
    return h;
}

static mm_status bad_free(mm_machine *m, mm_va block)
{
    if (!mmi_is_system_va(m, block))
        return mmi_bugcheck(m, MM_BUGCHECK_BAD_POOL_CALLER, 0x40, block, m->layout.system_range_start, 0, MM_PFN_NONE,
                            block, "ExFreePool of a user-mode address %016llx", (unsigned long long)block);
    int t = mmi_pool_region(m, block);
    if (t >= 0 && find(m->pool[t].freed, block))
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
    struct mmi_pool_block *b = t >= 0 ? find(m->pool[t].blocks, block) : NULL;
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
    if (b->block != b->base) {
        uint64_t h = header_contents(m, block);
        uint8_t size = (uint8_t)(h >> 16), in_use = (uint8_t)(h >> 24);
        uint32_t htag = (uint32_t)(h >> 32);
        if (m->dead)
            return MM_STATUS_MACHINE_DEAD;
        if (size != (b->bytes + MM_POOL_HEADER_SIZE + 15) / 16 || in_use != b->type + 1 || htag != b->tag)
            return mmi_bugcheck(m, MM_BUGCHECK_BAD_POOL_HEADER, 0x20, b->base, b->base + size * 16u, 0,
                                MM_PFN_NONE, block,
                                "the POOL_HEADER of block %016llx was overwritten (contents %016llx)",
                                (unsigned long long)block, (unsigned long long)h);
    }
    return MM_STATUS_SUCCESS;
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

bool mmi_pool_is_allocated(const mm_machine *m, mm_va block)
{
    int t = mmi_pool_region(m, block);
    return t >= 0 && find(m->pool[t].blocks, block) != NULL;
}

mm_status mm_pool_query(mm_machine *m, mm_va block, struct mm_pool_block_info *out)
{
    if (!m || !out)
        return MM_STATUS_INVALID_PARAMETER;
    int t = mmi_pool_region(m, block);
    struct mmi_pool_block *b = t >= 0 ? find(m->pool[t].blocks, block) : NULL;
    if (!b)
        return MM_STATUS_NOT_FOUND;
    *out = (struct mm_pool_block_info){block, b->type, b->bytes, b->tag, b->pages};
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
