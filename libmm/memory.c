/* libmm/memory.c — mapping and releasing single pages: the shared steps of
 * demand-zero faults, commits, pool, images, decommit and teardown. */
#include "memory.h"

#include "machine.h"
#include "pagefile.h"
#include "pfn.h"
#include "process.h"
#include "pte.h"
#include "paging.h"
#include "workset.h"

uint32_t mmi_owner_id(mm_machine *m, struct mm_process *p, mm_va va)
{
    if (mmi_is_system_va(m, va) || !p)
        return m->system->id;
    return p->id;
}

struct mmi_working_set *mmi_ws_of_owner(mm_machine *m, uint32_t owner)
{
    if (owner == m->system->id)
        return m->system_ws;
    struct mm_process *p = mmi_process_by_id(m, owner);
    return p ? &p->ws : NULL;
}

struct mmi_working_set *mmi_ws_for(mm_machine *m, struct mm_process *p, mm_va va)
{
    /* The System process has one working set, the system's, for its user
     * pages too: the one mmi_ws_of_owner finds by its id. */
    if (mmi_is_system_va(m, va) || !p || p == m->system)
        return m->system_ws;
    return &p->ws;
}

mm_status mmi_map_new_page(mm_machine *m, struct mm_process *p, mm_va va, unsigned protection, mm_page_use use,
                           bool zeroed, struct mmi_working_set *ws, mm_pfn *out)
{
    mm_pfn top = mmi_top_for(m, p, va);
    uint32_t owner = mmi_owner_id(m, p, va);
    mm_pfn table;
    mm_status st = mmi_pt_ensure(m, top, va, owner, &table);
    if (!MM_SUCCESS(st))
        return st;
    mm_pfn pfn;
    st = mmi_pfn_take(m, zeroed, &pfn);
    if (!MM_SUCCESS(st))
        return st;
    unsigned index = mmi_va_index(va, 3);
    mmi_pfn_init_active(m, pfn, mmi_pte_address(va, 3), table, mmi_pte_make_demand_zero(protection), owner, use);
    mmi_pte_set(m, table, index, va, mmi_pte_make_valid(pfn, protection, mmi_is_user_va(m, va)));
    if (ws)
        mmi_ws_insert(m, ws, va, pfn);
    if (out)
        *out = pfn;
    return MM_STATUS_SUCCESS;
}

mm_status mmi_release_va(mm_machine *m, struct mm_process *p, mm_va va, uint64_t replacement)
{
    struct mmi_walk w;
    mmi_walk(m, mmi_top_for(m, p, va), va, &w);
    if (w.depth < 4)
        return MM_STATUS_SUCCESS; /* no page table: nothing there */
    uint64_t pte = w.entry[3];
    mm_pfn table = w.table[3];
    unsigned index = mmi_va_index(va, 3);
    mmi_pte_set(m, table, index, va, replacement);
    if (mmi_pte_valid(pte)) {
        mm_pfn pfn = mmi_pte_pfn(pte);
        if (!mmi_pfn_is_ram(m, pfn) || (pte & MMI_PTE_MDL_MAPPING))
            return MM_STATUS_SUCCESS; /* device memory, or an MDL mapping: it owned nothing */
        struct mmi_pfn *e = mmi_pfn(m, pfn);
        if (mmi_pfn_use(e) == MM_USE_SECTION) { /* a view's page: its prototype keeps it */
            if (pte & PTE_DIRTY)
                mmi_pfn_mark_modified(m, pfn);
            return mmi_pfn_share_dec(m, pfn);
        }
        struct mmi_working_set *ws = mmi_ws_of_owner(m, e->owner);
        if (ws && e->flink)
            mmi_ws_remove(m, ws, pfn);
        return mmi_pfn_delete(m, pfn, true);
    }
    if (mmi_pte_is_transition(pte))
        return mmi_pfn_delete(m, mmi_pte_pfn(pte), false);
    if (mmi_pte_is_pagefile(pte))
        mmi_pagefile_free(m, mmi_pte_pagefile_slot(pte));
    return MM_STATUS_SUCCESS;
}

void mmi_reprotect_va(mm_machine *m, struct mm_process *p, mm_va va, unsigned protection)
{
    struct mmi_walk w;
    mmi_walk(m, mmi_top_for(m, p, va), va, &w);
    if (w.depth < 4)
        return;
    uint64_t pte = w.entry[3];
    uint64_t next = pte;
    if (mmi_pte_valid(pte) && mmi_pfn_use(mmi_pfn(m, mmi_pte_pfn(pte))) == MM_USE_SECTION) {
        /* A view's shared page: only this PTE changes. */
        mmi_pte_set(m, w.table[3], mmi_va_index(va, 3), va, mmi_pte_make_valid(mmi_pte_pfn(pte), protection, true));
        return;
    }
    if (mmi_pte_valid(pte)) {
        mm_pfn pfn = mmi_pte_pfn(pte);
        struct mmi_pfn *e = mmi_pfn(m, pfn);
        uint64_t slot = mmi_pte_pagefile_slot(e->original_pte);
        e->original_pte = slot ? mmi_pte_make_pagefile(slot, protection) : mmi_pte_make_demand_zero(protection);
        next = mmi_pte_make_valid(pfn, protection, mmi_is_user_va(m, va)) | (pte & PTE_DIRTY);
        mmi_pte_set(m, w.table[3], mmi_va_index(va, 3), va, next);
        /* A resident page made a guard page must fault on its next touch. */
        if ((protection & 0x18u) == MMP_GUARDPAGE)
            mmi_trim_page(m, mmi_ws_of_owner(m, e->owner), va, pfn);
        return;
    } else if (mmi_pte_is_transition(pte)) {
        struct mmi_pfn *e = mmi_pfn(m, mmi_pte_pfn(pte));
        uint64_t slot = mmi_pte_pagefile_slot(e->original_pte);
        e->original_pte = slot ? mmi_pte_make_pagefile(slot, protection) : mmi_pte_make_demand_zero(protection);
        next = mmi_pte_make_transition(mmi_pte_pfn(pte), protection);
    } else if (mmi_pte_is_software(pte)) {
        next = (pte & ~(UINT64_C(0x1F) << 5)) | ((uint64_t)protection << 5);
    }
    mmi_pte_set(m, w.table[3], mmi_va_index(va, 3), va, next);
}
