/* libmm/mdladjust.c — changing an MDL after it was locked or mapped:
 * MmAdvanceMdl (the front pages are unlocked at once, the system mapping
 * keeps its leading PTEs until the unmap, counted after the PFN array with
 * MDL_FREE_EXTRA_PTES) and MmProtectMdlSystemAddress (the protection of the
 * MDL's system mapping; a no-access page keeps its frame in an invalid PTE). */
#include "mdl.h"

#include <string.h>

#include "machine.h"
#include "pfn.h"
#include "process.h"
#include "pte.h"
#include "syspte.h"
#include "trace.h"

static inline uint64_t mdl_pages(const struct mm_mdl *h) { return MM_MDL_PAGES(h); }
static inline unsigned flags_of(const struct mm_mdl *h) { return (uint16_t)h->MdlFlags; }

/* ---- MmAdvanceMdl ---- */

/* The skipped pages' locks go at once; a locked user buffer's process gets
 * their charge back, so the final MmUnlockPages (of the shorter span)
 * balances. Nonpaged-pool and partial MDLs hold no locks. */
static mm_status drop_front_locks(mm_machine *m, mm_va mdl, const struct mm_mdl *h, const mm_pfn *pfns, uint64_t skip)
{
    unsigned f = flags_of(h);
    struct mmi_mdl_rec *r = mmi_mdl_rec(m, mdl);
    if (!(f & MM_MDL_PAGES_LOCKED) || (f & (MM_MDL_SOURCE_IS_NONPAGED_POOL | MM_MDL_PARTIAL)) ||
        (r && r->pages_allocated))
        return MM_STATUS_SUCCESS;
    mm_status st = mmi_mdl_unlock_frames(m, mdl, pfns, skip, r);
    if (MM_SUCCESS(st))
        mmi_mdl_uncharge(m, r, h->Process, skip);
    if (MM_SUCCESS(st) && r)
        r->lock_pages = r->lock_pages > skip ? r->lock_pages - skip : 0;
    return st;
}

mm_status mm_advance_mdl(mm_machine *m, mm_va mdl, uint32_t bytes)
{
    MMI_ENTER(m, "MmAdvanceMdl");
    mmi_mdl_note(m, mdl, 0x41445643 /* "CVDA" */);
    struct mm_mdl h;
    mm_status st = mmi_mdl_begin(m, mdl, MM_DISPATCH_LEVEL, &h);
    if (!MM_SUCCESS(st))
        return st;
    if (bytes == 0)
        return MM_STATUS_SUCCESS;
    if (bytes >= h.ByteCount) /* an MDL may not become empty */
        return MM_STATUS_INVALID_PARAMETER_2;
    uint64_t old_pages = mdl_pages(&h);
    uint64_t skip = (h.ByteOffset + (uint64_t)bytes) / MM_PAGE_SIZE;
    if (h.ByteOffset >= MM_PAGE_SIZE || MM_BYTE_OFFSET(h.StartVa) || skip >= old_pages)
        return MM_STATUS_INVALID_PARAMETER; /* no MDL's header: as MmProbeAndLockPages refuses one */
    m->mdl->adjusted = true;
    if (skip) {
        mm_pfn *pfns;
        if (!MM_SUCCESS(st = mmi_mdl_pfns_read(m, mdl, old_pages, &pfns)) ||
            !MM_SUCCESS(st = drop_front_locks(m, mdl, &h, pfns, skip)))
            return st;
        if (!MM_SUCCESS(st = mmi_mdl_pfns_write(m, mdl, 0, old_pages - skip, pfns + skip)))
            return st;
    }
    bool mapped = flags_of(&h) & (MM_MDL_MAPPED_TO_SYSTEM_VA | MM_MDL_SOURCE_IS_NONPAGED_POOL);
    uint64_t extra_before = mmi_mdl_extra_ptes(m, mdl, &h);
    h.StartVa += skip * MM_PAGE_SIZE;
    h.ByteOffset = (uint32_t)((h.ByteOffset + bytes) % MM_PAGE_SIZE);
    h.ByteCount -= bytes;
    if (mapped)
        h.MappedSystemVa += bytes;
    if (skip && (flags_of(&h) & MM_MDL_MAPPED_TO_SYSTEM_VA)) {
        h.MdlFlags = (int16_t)(uint16_t)(flags_of(&h) | MM_MDL_FREE_EXTRA_PTES);
        if (!MM_SUCCESS(st = mmi_mdl_set_pfn(m, mdl, mdl_pages(&h), extra_before + skip)))
            return st;
    }
    mmi_trace(m, MM_EV_NOTE, mdl, MM_PFN_NONE, 0x41445643, bytes);
    return mmi_mdl_store(m, mdl, &h);
}

/* ---- MmProtectMdlSystemAddress ---- */

static bool protect_allowed(uint32_t p)
{
    return p == MM_PAGE_NOACCESS || p == MM_PAGE_READONLY || p == MM_PAGE_READWRITE || p == MM_PAGE_EXECUTE ||
           p == MM_PAGE_EXECUTE_READ || p == MM_PAGE_EXECUTE_READWRITE;
}

/* A no-access page of an MDL mapping: invalid, but it still names its frame
 * (and cache bits), so a later protection or the unmap finds it. */
static uint64_t no_access_pte(uint64_t pte)
{
    return (pte & (PTE_PFN_MASK | PTE_CACHE_DISABLE | PTE_WRITE_THROUGH | MMI_PTE_MDL_MAPPING)) |
           ((uint64_t)MMP_NOACCESS << 5);
}

static bool is_mapping_pte(uint64_t pte)
{
    return (pte & MMI_PTE_MDL_MAPPING) && (mmi_pte_valid(pte) || mmi_pte_protection(pte) == MMP_NOACCESS);
}

static uint64_t protected_pte(uint64_t pte, uint32_t protect)
{
    if (protect == MM_PAGE_NOACCESS)
        return no_access_pte(pte);
    uint64_t next = (pte & (PTE_PFN_MASK | PTE_CACHE_DISABLE | PTE_WRITE_THROUGH | MMI_PTE_MDL_MAPPING)) |
                    PTE_VALID | PTE_ACCESSED | PTE_DIRTY | PTE_GLOBAL;
    if (protect == MM_PAGE_READWRITE || protect == MM_PAGE_EXECUTE_READWRITE)
        next |= PTE_DIRTY1 | PTE_WRITE;
    if (protect == MM_PAGE_READONLY || protect == MM_PAGE_READWRITE)
        next |= PTE_NO_EXECUTE;
    return next;
}

static mm_status invalid_mapping(mm_machine *m, mm_va mdl, const struct mm_mdl *h, mm_va va)
{
    return mmi_bugcheck(m, MM_BUGCHECK_MEMORY_MANAGEMENT, 0x1235, mdl, h->MappedSystemVa, mmi_pte_address(va, 3),
                        MM_PFN_NONE, mdl,
                        "MmProtectMdlSystemAddress on MDL %016llx, whose MappedSystemVa %016llx is not a system PTE "
                        "mapping of it (PTE for %016llx)", (unsigned long long)mdl,
                        (unsigned long long)h->MappedSystemVa, (unsigned long long)va);
}

mm_status mm_protect_mdl_system_address(mm_machine *m, mm_va mdl, uint32_t new_protect)
{
    MMI_ENTER(m, "MmProtectMdlSystemAddress");
    mmi_mdl_note(m, mdl, 0x544F5250 /* "PROT" */);
    struct mm_mdl h;
    mm_status st = mmi_mdl_begin(m, mdl, MM_DISPATCH_LEVEL, &h);
    if (!MM_SUCCESS(st))
        return st;
    if (!protect_allowed(new_protect))
        return MM_STATUS_INVALID_PAGE_PROTECTION;
    if (!(flags_of(&h) & MM_MDL_MAPPED_TO_SYSTEM_VA))
        return MM_STATUS_NOT_MAPPED_VIEW;
    mm_va va = MM_PAGE_ALIGN(h.MappedSystemVa);
    uint64_t pages = mdl_pages(&h), p3, p4;
    uint64_t extra = mmi_mdl_extra_ptes(m, mdl, &h);
    if (mmi_syspte_check_release(m, va - extra * MM_PAGE_SIZE, pages + extra, &p3, &p4))
        return invalid_mapping(m, mdl, &h, va);
    for (uint64_t i = 0; i < pages; i++) {
        mm_va page = va + i * MM_PAGE_SIZE;
        mm_pfn table = mmi_leaf_table(m, m->system->pml4, page);
        uint64_t pte = table == MM_PFN_NONE ? 0 : mmi_pte_get(m, table, mmi_va_index(page, 3));
        if (!is_mapping_pte(pte))
            return invalid_mapping(m, mdl, &h, page);
        mmi_pte_set(m, table, mmi_va_index(page, 3), page, protected_pte(pte, new_protect));
    }
    return MM_STATUS_SUCCESS;
}
