/* libmm/query.c — read-only views: a PFN entry (!pfn), list counts
 * (!memusage), PTE walks (!pte), MmIsAddressValid, MmGetPhysicalAddress. */
#include <string.h>

#include "fault.h"
#include "machine.h"
#include "pfn.h"
#include "process.h"
#include "pte.h"
#include "syspte.h"

mm_status mm_pfn_query(mm_machine *m, mm_pfn pfn, struct mm_pfn_info *out)
{
    if (!m || !out)
        return MM_STATUS_INVALID_PARAMETER;
    if (!mmi_pfn_is_ram(m, pfn))
        return MM_STATUS_INVALID_PARAMETER;
    *out = (struct mm_pfn_info){.pfn = pfn, .entry_address = m->layout.pfn_database + pfn * 0x30};
    out->flink = out->blink = MM_PFN_NONE;
    if (pfn >= m->pfn.untouched) {
        out->location = MM_ZEROED_PAGE_LIST;
        out->cache_attribute = MM_PFN_NOT_MAPPED;
        return MM_STATUS_SUCCESS;
    }
    const struct mmi_pfn *e = mmi_pfn(m, pfn);
    unsigned location = mmi_pfn_location(e);
    out->location = (uint8_t)location;
    out->reference_count = e->reference_count;
    out->share_count = location == MM_ACTIVE_AND_VALID || location == MM_TRANSITION_PAGE ? e->share_count : 0;
    out->cache_attribute = (uint8_t)((e->flags & MMI_PF_CACHE) >> MMI_PF_CACHE_SHIFT);
    out->modified = mmi_pfn_has(e, MMI_PF_MODIFIED);
    out->deleted = mmi_pfn_has(e, MMI_PF_DELETED);
    out->lock_charged = mmi_pfn_has(e, MMI_PF_LOCK_CHARGED);
    out->stored = mmi_pfn_has(e, MMI_PF_STORED);
    out->use = (uint8_t)mmi_pfn_use(e);
    out->pte_address = e->pte_address;
    out->pte_frame = e->pte_address ? e->pte_frame : 0;
    out->original_pte = e->original_pte;
    out->mapped_va = e->pte_address ? mmi_va_from_pte_address(e->pte_address) : 0;
    out->owner_process_id = e->owner;
    if (location == MM_ACTIVE_AND_VALID || location == MM_TRANSITION_PAGE) {
        out->flink = location == MM_ACTIVE_AND_VALID && e->flink != MMI_LINK_NONE ? e->flink : 0;
        out->blink = 0;
    } else {
        out->flink = e->flink == MMI_LINK_NONE ? MM_PFN_NONE : e->flink;
        out->blink = e->blink == MMI_LINK_NONE ? MM_PFN_NONE : e->blink;
    }
    return MM_STATUS_SUCCESS;
}

mm_status mm_memory_query(mm_machine *m, struct mm_memory_counts *out)
{
    if (!m || !out)
        return MM_STATUS_INVALID_PARAMETER;
    *out = (struct mm_memory_counts){.physical_pages = m->pfn.pages};
    for (unsigned i = 0; i < 8; i++)
        out->list_pages[i] = mmi_pfn_list_count(m, i);
    out->available_pages = out->list_pages[0] + out->list_pages[1] + out->list_pages[2];
    out->commit_charge = m->commit_charge;
    out->commit_limit = m->commit_limit;
    out->system_locked_pages = m->pfn.system_locked;
    out->pagefile_total = m->pagefile.slots ? m->pagefile.slots - 1 : 0;
    out->pagefile_used = m->pagefile.slots ? m->pagefile.used.set - 1 : 0;
    out->nonpaged_pool_pages = m->pool[0].pages;
    out->paged_pool_pages = m->pool[1].pages;
    out->system_ptes_total = m->syspte.size;
    out->system_ptes_used = m->syspte.size - mmi_syspte_free(m);
    return MM_STATUS_SUCCESS;
}

bool mm_is_address_valid(mm_machine *m, mm_va va)
{
    MMI_ENTER_RET(m, "MmIsAddressValid", false);
    return mmi_is_address_valid(m, va);
}

uint64_t mm_get_physical_address(mm_machine *m, mm_va va)
{
    MMI_ENTER_RET(m, "MmGetPhysicalAddress", 0);
    if (!mmi_is_address_valid(m, va))
        return 0;
    struct mmi_walk w;
    mmi_walk(m, mmi_top_for(m, mmi_cpu(m)->process, va), va, &w);
    return (mmi_pte_pfn(w.entry[3]) << MM_PAGE_SHIFT) | MM_BYTE_OFFSET(va);
}

mm_status mm_pte_walk(mm_machine *m, mm_process *process, mm_va va, struct mm_pte_walk *out)
{
    if (!m || !out)
        return MM_STATUS_INVALID_PARAMETER;
    if (!mmi_is_canonical(va))
        return MM_STATUS_INVALID_ADDRESS;
    struct mm_process *p = process ? mmi_process_lookup(m, process) : mmi_cpu(m)->process;
    if (!p)
        return MM_STATUS_INVALID_HANDLE;
    if (p->terminated && mmi_is_user_va(m, va))
        return MM_STATUS_PROCESS_IS_TERMINATING;
    memset(out, 0, sizeof *out);
    out->va = va;
    struct mmi_walk w;
    mmi_walk(m, mmi_top_for(m, p, va), va, &w);
    for (unsigned level = 0; level < w.depth; level++) {
        out->level[level].entry_address = mmi_pte_address(va, level);
        out->level[level].value = w.entry[level];
        out->level[level].table_pfn = w.table[level];
        out->level[level].present = true;
    }
    for (unsigned level = w.depth; level < 4; level++)
        out->level[level].entry_address = mmi_pte_address(va, level);
    return MM_STATUS_SUCCESS;
}

const char *mm_pte_format_name(uint64_t pte)
{
    if (pte == 0)
        return "zero";
    if (mmi_pte_valid(pte))
        return "valid";
    if (pte & PTE_PROTOTYPE)
        return "prototype";
    if (mmi_pte_is_transition(pte))
        return "transition";
    if (mmi_pte_is_pagefile(pte))
        return "pagefile";
    if (mmi_pte_protection(pte) == MMP_DECOMMIT)
        return "decommitted";
    if (mmi_pte_protection(pte) == MMP_NOACCESS)
        return "no-access";
    return "demand-zero";
}

void mm_pte_decode(uint64_t pte, struct mm_pte_info *out)
{
    if (!out)
        return;
    *out = (struct mm_pte_info){.pfn = MM_PFN_NONE, .mdl_mapping = (pte & MMI_PTE_MDL_MAPPING) != 0};
    if (pte == 0)
        return;
    if (mmi_pte_valid(pte)) {
        out->kind = MM_PTE_VALID;
        out->pfn = mmi_pte_pfn(pte);
        out->writable = (pte & PTE_DIRTY1) != 0;
        out->no_execute = (pte & PTE_NO_EXECUTE) != 0;
        out->user = (pte & PTE_OWNER) != 0;
        out->dirty = (pte & PTE_DIRTY) != 0;
        out->accessed = (pte & PTE_ACCESSED) != 0;
        out->global = (pte & PTE_GLOBAL) != 0;
        out->cache_disable = (pte & PTE_CACHE_DISABLE) != 0;
        out->write_through = (pte & PTE_WRITE_THROUGH) != 0;
        out->copy_on_write = (pte & PTE_COPY_ON_WRITE) != 0;
        return;
    }
    out->protection = mmi_pte_protection(pte);
    if (pte & PTE_PROTOTYPE) {
        out->kind = MM_PTE_PROTOTYPE;
    } else if (mmi_pte_is_transition(pte)) {
        out->kind = MM_PTE_TRANSITION;
        out->pfn = mmi_pte_pfn(pte);
    } else if (mmi_pte_is_pagefile(pte)) {
        out->kind = MM_PTE_PAGEFILE;
        out->pagefile_slot = mmi_pte_pagefile_slot(pte);
    } else if (out->protection == MMP_DECOMMIT) {
        out->kind = MM_PTE_DECOMMITTED;
    } else if (out->protection == MMP_NOACCESS) {
        out->kind = MM_PTE_NO_ACCESS;
    } else {
        out->kind = MM_PTE_DEMAND_ZERO;
    }
}

/* The leaf PTE for va in process p's view, without any side effect. */
static bool debug_pte(mm_machine *m, mm_process *process, mm_va va, uint64_t *pte)
{
    struct mm_process *p = process ? mmi_process_lookup(m, process) : mmi_cpu(m)->process;
    if (!p || !mmi_is_canonical(va) || (mmi_is_user_va(m, va) && (p->terminated || !p->pml4)))
        return false;
    struct mmi_walk w;
    mmi_walk(m, mmi_top_for(m, p, va), va, &w);
    *pte = w.depth == 4 ? w.entry[3] : 0;
    return w.depth == 4;
}

mm_pfn mm_va_to_pfn(mm_machine *m, mm_process *p, mm_va va)
{
    uint64_t pte;
    if (!m || !debug_pte(m, p, va, &pte) || !mmi_pte_valid(pte))
        return MM_PFN_NONE;
    return mmi_pte_pfn(pte);
}

mm_status mm_debug_read(mm_machine *m, mm_process *p, mm_va va, void *buffer, size_t length, size_t *done)
{
    if (done)
        *done = 0;
    if (!m || (!buffer && length) || length > UINT64_MAX - va)
        return MM_STATUS_INVALID_PARAMETER;
    size_t got = 0;
    while (got < length) {
        mm_va at = va + got;
        uint64_t pte;
        if (!debug_pte(m, p, at, &pte) || !(mmi_pte_valid(pte) || mmi_pte_is_transition(pte)))
            return MM_STATUS_ACCESS_VIOLATION;
        size_t n = MM_PAGE_SIZE - MM_BYTE_OFFSET(at);
        if (n > length - got)
            n = length - got;
        mm_pfn pfn = mmi_pte_pfn(pte);
        if (mmi_pfn_is_ram(m, pfn))
            mmi_frame_read(m, pfn, MM_BYTE_OFFSET(at), (unsigned char *)buffer + got, n);
        else
            memset((unsigned char *)buffer + got, 0xFF, n); /* device memory: nothing answers */
        got += n;
        if (done)
            *done = got;
    }
    return MM_STATUS_SUCCESS;
}
