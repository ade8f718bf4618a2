/* libmm/mdlpages.c — MmAllocatePagesForMdl(Ex) and MmFreePagesFromMdl:
 * physical pages handed out in an MDL with no mapping. Each page is active
 * with share and reference 1, owned by the MDL and marked deleted, so it
 * returns to the free list when the last reference goes. */
#include "mdl.h"

#include "irql.h"
#include "machine.h"
#include "pfn.h"
#include "pool.h"
#include "pte.h"
#include "trace.h"

#define MDL_TAG MM_POOL_TAG('M', 'd', 'l', ' ')
#define MAX_MDL_PAGES ((0xFFFFu - MM_MDL_HEADER_SIZE) / 8) /* Size is a 16-bit CSHORT */
#define KNOWN_FLAGS                                                                                      \
    (MM_DONT_ZERO_ALLOCATION | MM_ALLOCATE_FROM_LOCAL_NODE_ONLY | MM_ALLOCATE_FULLY_REQUIRED |           \
     MM_ALLOCATE_NO_WAIT | MM_ALLOCATE_PREFER_CONTIGUOUS | MM_ALLOCATE_REQUIRE_CONTIGUOUS_CHUNKS)


static bool irql_ok(mm_machine *m)
{
    mm_irql irql = mmi_irql(m);
    if (mmi_verifier(m) && irql > MM_DISPATCH_LEVEL) {
        mmi_bugcheck(m, MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0x7E, irql, MM_DISPATCH_LEVEL, 0, MM_PFN_NONE,
                     0, "%s at IRQL %u", m->op, irql);
        return false;
    }
    return mmi_irql_allows(m, MM_DISPATCH_LEVEL, 0);
}

/* Takes one frame in [low, high], putting aside frames outside the range. */
static mm_status take_in_range(mm_machine *m, mm_pfn low, mm_pfn high, bool zeroed, mm_pfn *out)
{
    for (;;) {
        mm_pfn pfn;
        mm_status st = mmi_pfn_take(m, zeroed, &pfn);
        if (!MM_SUCCESS(st))
            return st;
        if (pfn >= low && pfn <= high) {
            *out = pfn;
            return MM_STATUS_SUCCESS;
        }
        mmi_pfn_list_insert(m, pfn, MM_BAD_PAGE_LIST); /* parked until the scan ends */
    }
}

static void unpark(mm_machine *m)
{
    while (m->pfn.list[MM_BAD_PAGE_LIST].count) {
        mm_pfn pfn = m->pfn.list[MM_BAD_PAGE_LIST].head;
        mmi_pfn_list_remove(m, pfn);
        mmi_pfn_list_insert(m, pfn, MM_FREE_PAGE_LIST);
    }
}

/* A frame MmAllocatePagesForMdl handed out: MDL pages, marked deleted and
 * tied to no PTE (Windows marks them with a PteFrame of its own; a frame
 * of MmAllocateNonCachedMemory, also MDL pages, has its PTE). */
static bool from_allocate_pages(mm_machine *m, mm_pfn pfn)
{
    if (!mmi_pfn_is_ram(m, pfn) || pfn >= m->pfn.untouched)
        return false;
    const struct mmi_pfn *e = mmi_pfn(m, pfn);
    return mmi_pfn_use(e) == MM_USE_MDL_PAGES && mmi_pfn_has(e, MMI_PF_DELETED) && e->pte_frame == 0;
}

static mm_status release_pages(mm_machine *m, mm_va mdl, uint64_t count)
{
    for (uint64_t i = 0; i < count; i++) {
        mm_pfn pfn;
        mm_status st = mmi_mdl_pfn(m, mdl, i, &pfn);
        if (!MM_SUCCESS(st))
            return st;
        if (pfn == MM_PFN_NONE)
            break;
        if (!from_allocate_pages(m, pfn))
            return mmi_bugcheck(m, MM_BUGCHECK_MEMORY_MANAGEMENT, 0x1236, mdl, MM_MDL_PFN_ARRAY(mdl) + i * 8, pfn, pfn,
                                mdl, "MmFreePagesFromMdl on MDL %016llx: PFN 0x%llx was not allocated by "
                                "MmAllocatePagesForMdl", (unsigned long long)mdl, (unsigned long long)pfn);
        struct mmi_pfn *e = mmi_pfn(m, pfn);
        e->share_count = 0;
        mmi_trace(m, MM_EV_PFN_SHARE, 0, pfn, 1, 0);
        mmi_pfn_set_location(m, pfn, MM_TRANSITION_PAGE);
        if (!MM_SUCCESS(st = mmi_pfn_ref_dec(m, pfn)) || !MM_SUCCESS(st = mmi_mdl_set_pfn(m, mdl, i, MM_PFN_NONE)))
            return st;
    }
    return MM_STATUS_SUCCESS;
}

mm_va mm_allocate_pages_for_mdl_ex(mm_machine *m, uint64_t low, uint64_t high, uint64_t skip, uint64_t total_bytes,
                                   mm_cache_type cache, uint32_t flags)
{
    MMI_ENTER_RET(m, "MmAllocatePagesForMdlEx", 0);
    if (!irql_ok(m))
        return 0;
    if ((skip & (MM_PAGE_SIZE - 1)) || (flags & ~KNOWN_FLAGS) || total_bytes == 0 ||
        total_bytes > UINT64_C(0xFFFFF000) || high < low || cache >= MM_MAXIMUM_CACHE_TYPE)
        return 0;
    uint64_t want = (total_bytes + MM_PAGE_SIZE - 1) / MM_PAGE_SIZE;
    uint64_t pages = want < MAX_MDL_PAGES ? want : MAX_MDL_PAGES;
    if (pages < want && (flags & MM_ALLOCATE_FULLY_REQUIRED))
        return 0;
    mm_va mdl;
    if (!MM_SUCCESS(mmi_pool_alloc(m, MM_NONPAGED_POOL, MM_MDL_HEADER_SIZE + pages * 8, MDL_TAG, &mdl)))
        return 0;
    struct mmi_mdl_rec *r = mmi_mdl_rec(m, mdl);
    struct mm_mdl h = {.Size = (int16_t)(MM_MDL_HEADER_SIZE + pages * 8)};
    if (!r || !MM_SUCCESS(mmi_mdl_store(m, mdl, &h))) {
        mmi_pool_release(m, mdl);
        return 0;
    }
    r->pool_allocated = r->pages_allocated = true;
    uint64_t found = 0;
    mm_pfn pfn;
    mm_pfn hi = high >> MM_PAGE_SHIFT, lo = low >> MM_PAGE_SHIFT;
    bool zeroed = !(flags & MM_DONT_ZERO_ALLOCATION);
    while (found < pages && MM_SUCCESS(take_in_range(m, lo, hi, zeroed, &pfn))) {
        mmi_pfn_init_active(m, pfn, 0, 0, 0, 0, MM_USE_MDL_PAGES);
        struct mmi_pfn *e = mmi_pfn(m, pfn);
        mmi_pfn_flag(e, MMI_PF_DELETED, true);
        /* No cache type yet (MiNotMapped): the first mapping gives it one. */
        e->flags = (uint16_t)((e->flags & ~MMI_PF_CACHE) | (MM_PFN_NOT_MAPPED << MMI_PF_CACHE_SHIFT));
        mmi_mdl_set_pfn(m, mdl, found++, pfn);
    }
    unpark(m);
    h.ByteCount = (uint32_t)(found * MM_PAGE_SIZE);
    h.MdlFlags = MM_MDL_PAGES_LOCKED;
    if (found < pages)
        mmi_mdl_set_pfn(m, mdl, found, MM_PFN_NONE);
    mmi_mdl_store(m, mdl, &h);
    if (found == 0 || (found < pages && (flags & MM_ALLOCATE_FULLY_REQUIRED))) {
        release_pages(m, mdl, found);
        mmi_pool_release(m, mdl);
        return 0;
    }
    mmi_trace(m, MM_EV_NOTE, mdl, MM_PFN_NONE, 0x41504D44 /* "DMPA" */, found);
    return mdl;
}

mm_va mm_allocate_pages_for_mdl(mm_machine *m, uint64_t low, uint64_t high, uint64_t skip, uint64_t total_bytes)
{
    return mm_allocate_pages_for_mdl_ex(m, low, high, skip, total_bytes, MM_CACHED, 0);
}

mm_status mm_free_pages_from_mdl(mm_machine *m, mm_va mdl)
{
    MMI_ENTER(m, "MmFreePagesFromMdl");
    mmi_mdl_note(m, mdl, 0x46525047 /* "FRPG" */);
    if (!irql_ok(m))
        return MM_STATUS_MACHINE_DEAD;
    struct mm_mdl h;
    mm_status st = mmi_mdl_load(m, mdl, &h);
    if (!MM_SUCCESS(st))
        return st;
    /* Windows 7 and later release a system mapping made for the MDL. */
    if ((uint16_t)h.MdlFlags & MM_MDL_MAPPED_TO_SYSTEM_VA) {
        if (!MM_SUCCESS(st = mmi_mdl_unmap_system(m, mdl, &h)))
            return st;
    }
    st = release_pages(m, mdl, MM_MDL_PAGES(&h));
    if (!MM_SUCCESS(st))
        return st;
    h.MdlFlags = (int16_t)((uint16_t)h.MdlFlags & ~MM_MDL_PAGES_LOCKED);
    return mmi_mdl_store(m, mdl, &h);
}
