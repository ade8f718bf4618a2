/* libmm/paging.c — working-set trimming (valid PTE -> transition, page to
 * standby or modified), the modified page writer (modified -> page file ->
 * standby), and memory pressure. Locked pages are never trimmed. */
#include "paging.h"

#include "machine.h"
#include "memory.h"
#include "pagefile.h"
#include "pfn.h"
#include "process.h"
#include "pte.h"
#include "trace.h"
#include "workset.h"

bool mmi_trim_page(mm_machine *m, struct mmi_working_set *ws, mm_va va, mm_pfn pfn)
{
    struct mmi_pfn *e = mmi_pfn(m, pfn);
    if (e->reference_count > 1 || e->share_count != 1)
        return false;
    unsigned index = (unsigned)((e->pte_address >> 3) & 511);
    uint64_t pte = mmi_pte_get(m, e->pte_frame, index);
    if (pte & PTE_DIRTY)
        mmi_pfn_mark_modified(m, pfn);
    if (ws && e->flink)
        mmi_ws_remove(m, ws, pfn);
    mmi_trace(m, MM_EV_TRIM, va, pfn, ws ? ws->owner : 0, 0);
    mmi_pte_set(m, e->pte_frame, index, va, mmi_pte_make_transition(pfn, mmi_pte_protection(e->original_pte)));
    mmi_pfn_share_dec(m, pfn);
    return true;
}

uint64_t mmi_trim_working_set(mm_machine *m, struct mmi_working_set *ws, uint64_t max_pages)
{
    uint64_t trimmed = 0, i = 0;
    while (i < ws->count && trimmed < max_pages && !m->dead) {
        struct mmi_wsle entry = ws->e[i];
        if (mmi_trim_page(m, ws, entry.va, entry.pfn))
            trimmed++; /* the last entry moved into slot i */
        else
            i++;
    }
    return trimmed;
}

mm_status mm_working_set_trim(mm_machine *m, mm_process *process, uint64_t max_pages, uint64_t *trimmed)
{
    MMI_ENTER(m, "MmTrimWorkingSet");
    struct mmi_working_set *ws = m->system_ws;
    if (process) {
        struct mm_process *p;
        mm_status st = mmi_process_resolve(m, process, &p);
        if (!MM_SUCCESS(st))
            return st;
        ws = p == m->system ? m->system_ws : &p->ws;
    }
    uint64_t n = mmi_trim_working_set(m, ws, max_pages);
    if (trimmed)
        *trimmed = n;
    return m->dead ? MM_STATUS_MACHINE_DEAD : MM_STATUS_SUCCESS;
}

static uint64_t write_modified(mm_machine *m)
{
    uint64_t written = 0;
    while (m->pfn.list[MM_MODIFIED_PAGE_LIST].count) {
        mm_pfn pfn = m->pfn.list[MM_MODIFIED_PAGE_LIST].head;
        uint64_t slot = mmi_pagefile_write(m, pfn);
        if (!slot)
            break; /* no page file, or it is full: the page stays modified */
        struct mmi_pfn *e = mmi_pfn(m, pfn);
        e->original_pte = mmi_pte_make_pagefile(slot, mmi_pte_protection(e->original_pte));
        mmi_pfn_flag(e, MMI_PF_MODIFIED, false);
        mmi_pfn_list_remove(m, pfn);
        mmi_pfn_list_insert(m, pfn, MM_STANDBY_PAGE_LIST);
        written++;
    }
    return written;
}

mm_status mm_modified_page_writer(mm_machine *m, uint64_t *written)
{
    MMI_ENTER(m, "MiModifiedPageWriter");
    uint64_t n = write_modified(m);
    if (written)
        *written = n;
    return MM_STATUS_SUCCESS;
}

mm_status mm_purge_standby_list(mm_machine *m, uint64_t max_pages, uint64_t *purged)
{
    MMI_ENTER(m, "MiPurgeStandbyList");
    uint64_t n = mmi_pfn_purge_standby(m, max_pages);
    if (purged)
        *purged = n;
    return m->dead ? MM_STATUS_MACHINE_DEAD : MM_STATUS_SUCCESS;
}

mm_status mm_memory_pressure(mm_machine *m)
{
    MMI_ENTER(m, "MiTrimAllSystemPagableMemory");
    for (struct mm_process *p = m->process_first; p && !m->dead; p = p->next)
        if (!p->terminated)
            mmi_trim_working_set(m, p == m->system ? m->system_ws : &p->ws, UINT64_MAX);
    if (!m->dead)
        write_modified(m);
    return m->dead ? MM_STATUS_MACHINE_DEAD : MM_STATUS_SUCCESS;
}
