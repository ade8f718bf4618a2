/* libmm/resmap.c — reserved mappings: MmAllocateMappingAddress reserves
 * system PTEs behind two hidden header PTEs, encoded as Windows does:
 * PTE[-2] = total PTEs (headers included) << 1, PTE[-1] = the pool tag with
 * bit 0 (valid) clear, so neither is ever a valid PTE;
 * MmMapLockedPagesWithReservedMapping / MmUnmapReservedMapping fill and
 * empty them; MmFreeMappingAddress gives them back. Misuse is 0xDA. */
#include "mdl.h"

#include "irql.h"
#include "machine.h"
#include "pfn.h"
#include "process.h"
#include "pte.h"
#include "syspte.h"
#include "trace.h"

#define HEADERS 2u

static uint64_t pte_at(mm_machine *m, mm_va va)
{
    struct mmi_walk w;
    mmi_walk(m, m->system->pml4, va, &w);
    return w.depth == 4 ? w.entry[3] : 0;
}

static void set_pte_at(mm_machine *m, mm_va va, uint64_t value)
{
    mm_pfn table;
    if (MM_SUCCESS(mmi_pt_ensure(m, m->system->pml4, va, m->system->id, &table)))
        mmi_pte_set(m, table, mmi_va_index(va, 3), va, value);
}

static uint32_t header_tag(uint32_t tag) { return tag & ~1u; }
static uint64_t stored_tag(mm_machine *m, mm_va base) { return pte_at(m, base - MM_PAGE_SIZE) & 0xFFFFFFFF; }
static uint64_t stored_count(mm_machine *m, mm_va base) { return pte_at(m, base - 2 * MM_PAGE_SIZE) >> 1; }

static uint64_t mapped_in_range(mm_machine *m, mm_va base, uint64_t pages, mm_va *first, mm_va *last)
{
    uint64_t n = 0;
    for (uint64_t i = 0; i < pages; i++) {
        if (mmi_pte_valid(pte_at(m, base + i * MM_PAGE_SIZE))) {
            if (!n && first)
                *first = base + i * MM_PAGE_SIZE;
            if (last)
                *last = base + i * MM_PAGE_SIZE;
            n++;
        }
    }
    return n;
}

mm_va mm_allocate_mapping_address(mm_machine *m, uint64_t bytes, uint32_t tag)
{
    MMI_ENTER_RET(m, "MmAllocateMappingAddress", 0);
    if (!mmi_irql_allows(m, MM_APC_LEVEL, 0))
        return 0;
    uint64_t pages = (bytes + MM_PAGE_SIZE - 1) / MM_PAGE_SIZE;
    if (pages == 0) {
        mmi_bugcheck(m, MM_BUGCHECK_SYSTEM_PTE_MISUSE, 0x100, 0, tag, 0, MM_PFN_NONE, 0,
                     "MmAllocateMappingAddress of zero bytes");
        return 0;
    }
    if (tag == 0 || pages > m->syspte.size)
        return 0; /* callers must identify themselves */
    mm_va va = mmi_syspte_reserve(m, pages + HEADERS);
    if (!va)
        return 0;
    mm_va base = va + HEADERS * MM_PAGE_SIZE;
    set_pte_at(m, va, (pages + HEADERS) << 1);
    set_pte_at(m, va + MM_PAGE_SIZE, header_tag(tag));
    mmi_trace(m, MM_EV_NOTE, base, MM_PFN_NONE, 0x524D4150 /* "PAMR" */, pages);
    return base;
}

static mm_status check_owner(mm_machine *m, mm_va base, uint32_t tag, uint64_t mismatch, uint64_t empty)
{
    uint64_t p3, p4;
    if (!mmi_syspte_in_use(m, base - 2 * MM_PAGE_SIZE) || stored_tag(m, base) != header_tag(tag) ||
        mmi_syspte_check_release(m, base - 2 * MM_PAGE_SIZE, stored_count(m, base), &p3, &p4))
        return mmi_bugcheck(m, MM_BUGCHECK_SYSTEM_PTE_MISUSE, mismatch, base, tag, stored_tag(m, base), MM_PFN_NONE,
                            base, "%s(%016llx) with tag 0x%08x: the range is not owned by that tag", m->op,
                            (unsigned long long)base, tag);
    if (stored_count(m, base) < HEADERS + 1)
        return mmi_bugcheck(m, MM_BUGCHECK_SYSTEM_PTE_MISUSE, empty, base, tag, 0, MM_PFN_NONE, base,
                            "%s(%016llx): the reserved range is empty", m->op, (unsigned long long)base);
    return MM_STATUS_SUCCESS;
}

mm_status mm_free_mapping_address(mm_machine *m, mm_va base, uint32_t tag)
{
    MMI_ENTER(m, "MmFreeMappingAddress");
    if (!mmi_irql_allows(m, MM_APC_LEVEL, base))
        return MM_STATUS_MACHINE_DEAD;
    if (!mmi_is_syspte_va(m, base) || base < m->layout.system_ptes + HEADERS * MM_PAGE_SIZE)
        return mmi_bugcheck(m, MM_BUGCHECK_SYSTEM_PTE_MISUSE, 0x101, base, tag, 0, MM_PFN_NONE, base,
                            "MmFreeMappingAddress(%016llx) is not a reserved range", (unsigned long long)base);
    mm_status st = check_owner(m, base, tag, 0x101, 0x102);
    if (!MM_SUCCESS(st))
        return st;
    uint64_t pages = stored_count(m, base) - HEADERS;
    uint64_t mapped = mapped_in_range(m, base, pages, NULL, NULL);
    if (mapped)
        return mmi_bugcheck(m, MM_BUGCHECK_SYSTEM_PTE_MISUSE, 0x103, base, tag, mapped, MM_PFN_NONE, base,
                            "MmFreeMappingAddress(%016llx) while %llu page(s) are still mapped: call "
                            "MmUnmapReservedMapping first", (unsigned long long)base, (unsigned long long)mapped);
    mm_va va = base - HEADERS * MM_PAGE_SIZE;
    set_pte_at(m, va, 0);
    set_pte_at(m, va + MM_PAGE_SIZE, 0);
    mmi_syspte_release(m, va, pages + HEADERS);
    return MM_STATUS_SUCCESS;
}

mm_va mm_map_locked_pages_with_reserved_mapping(mm_machine *m, mm_va base, uint32_t tag, mm_va mdl,
                                                mm_cache_type cache)
{
    MMI_ENTER_RET(m, "MmMapLockedPagesWithReservedMapping", 0);
    if (!mmi_irql_allows(m, MM_DISPATCH_LEVEL, base) || cache >= MM_MAXIMUM_CACHE_TYPE)
        return 0;
    if (!mmi_is_syspte_va(m, base) || base < m->layout.system_ptes + HEADERS * MM_PAGE_SIZE) {
        mmi_bugcheck(m, MM_BUGCHECK_SYSTEM_PTE_MISUSE, 0x105, base, tag, 0, MM_PFN_NONE, base,
                     "MmMapLockedPagesWithReservedMapping(%016llx) is not a reserved range", (unsigned long long)base);
        return 0;
    }
    if (!MM_SUCCESS(check_owner(m, base, tag, 0x104, 0x105)))
        return 0;
    struct mm_mdl h;
    if (!MM_SUCCESS(mmi_mdl_load(m, mdl, &h)))
        return 0;
    uint64_t range = stored_count(m, base) - HEADERS;
    uint64_t pages = MM_MDL_PAGES(&h);
    if (pages > range)
        return 0; /* documented: NULL for a range too small */
    mm_va first = 0, last = 0;
    if (mapped_in_range(m, base, range, &first, &last)) {
        /* P3 and P4 are PTE addresses: the first non-empty one, the range's last. */
        mmi_bugcheck(m, MM_BUGCHECK_SYSTEM_PTE_MISUSE, 0x107, base, mmi_pte_address(first, 3),
                     mmi_pte_address(base + (range - 1) * MM_PAGE_SIZE, 3), MM_PFN_NONE, base,
                     "MmMapLockedPagesWithReservedMapping into %016llx, which still maps %016llx: unmap first",
                     (unsigned long long)base, (unsigned long long)first);
        return 0;
    }
    for (uint64_t i = 0; i < pages; i++) {
        mm_pfn pfn;
        if (!MM_SUCCESS(mmi_mdl_pfn(m, mdl, i, &pfn)))
            return 0;
        if (pfn == MM_PFN_NONE)
            break;
        set_pte_at(m, base + i * MM_PAGE_SIZE, mmi_mdl_mapping_pte(m, pfn, cache, MM_HIGH_PAGE_PRIORITY, false));
    }
    h.MappedSystemVa = base; /* without the byte offset, unlike SpecifyCache */
    unsigned f = (uint16_t)h.MdlFlags | MM_MDL_MAPPED_TO_SYSTEM_VA;
    if (f & MM_MDL_PARTIAL)
        f |= MM_MDL_PARTIAL_HAS_BEEN_MAPPED;
    h.MdlFlags = (int16_t)(uint16_t)f;
    if (!MM_SUCCESS(mmi_mdl_store(m, mdl, &h)))
        return 0;
    return base + h.ByteOffset;
}

/* What Windows checks before it clears the range: the MDL fits in it
 * (0x10A), its pages are all mapped (0x10B), nothing is mapped past them
 * (0x10C). Clearing only then never touches PTEs outside the reservation. */
static mm_status unmap_checks(mm_machine *m, mm_va base, uint32_t tag, uint64_t pages)
{
    uint64_t range = stored_count(m, base) - HEADERS;
    if (pages > range)
        return mmi_bugcheck(m, MM_BUGCHECK_SYSTEM_PTE_MISUSE, 0x10A, base, range, pages, MM_PFN_NONE, base,
                            "MmUnmapReservedMapping(%016llx) of an MDL of %llu pages from a range of %llu",
                            (unsigned long long)base, (unsigned long long)pages, (unsigned long long)range);
    for (uint64_t i = 0; i < range; i++) {
        bool valid = mmi_pte_valid(pte_at(m, base + i * MM_PAGE_SIZE));
        if (i < pages && !valid)
            return mmi_bugcheck(m, MM_BUGCHECK_SYSTEM_PTE_MISUSE, 0x10B, base, tag, pages, MM_PFN_NONE, base,
                                "MmUnmapReservedMapping(%016llx): page %llu of the MDL is not mapped there",
                                (unsigned long long)base, (unsigned long long)i);
        if (i >= pages && pte_at(m, base + i * MM_PAGE_SIZE))
            return mmi_bugcheck(m, MM_BUGCHECK_SYSTEM_PTE_MISUSE, 0x10C, base, tag, pages, MM_PFN_NONE, base,
                                "MmUnmapReservedMapping(%016llx) with an MDL of %llu pages leaves page %llu of the "
                                "range mapped", (unsigned long long)base, (unsigned long long)pages,
                                (unsigned long long)i);
    }
    return MM_STATUS_SUCCESS;
}

mm_status mm_unmap_reserved_mapping(mm_machine *m, mm_va base, uint32_t tag, mm_va mdl)
{
    MMI_ENTER(m, "MmUnmapReservedMapping");
    if (!mmi_irql_allows(m, MM_DISPATCH_LEVEL, base))
        return MM_STATUS_MACHINE_DEAD;
    if (!mmi_is_syspte_va(m, base) || base < m->layout.system_ptes + HEADERS * MM_PAGE_SIZE)
        return mmi_bugcheck(m, MM_BUGCHECK_SYSTEM_PTE_MISUSE, 0x108, base, tag, 0, MM_PFN_NONE, base,
                            "MmUnmapReservedMapping(%016llx) is not a reserved range", (unsigned long long)base);
    mm_status st = check_owner(m, base, tag, 0x108, 0x109);
    if (!MM_SUCCESS(st))
        return st;
    struct mm_mdl h;
    if (!MM_SUCCESS(st = mmi_mdl_load(m, mdl, &h)))
        return st;
    uint64_t pages = MM_MDL_PAGES(&h);
    if (!MM_SUCCESS(st = unmap_checks(m, base, tag, pages)))
        return st;
    for (uint64_t i = 0; i < pages; i++)
        set_pte_at(m, base + i * MM_PAGE_SIZE, 0);
    h.MdlFlags = (int16_t)((uint16_t)h.MdlFlags &
                           ~(MM_MDL_MAPPED_TO_SYSTEM_VA | MM_MDL_PARTIAL_HAS_BEEN_MAPPED | MM_MDL_FREE_EXTRA_PTES));
    return mmi_mdl_store(m, mdl, &h);
}
