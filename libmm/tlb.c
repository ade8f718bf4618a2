/* libmm/tlb.c — the simulated TLB (see tlb.h): a direct-mapped cache of 64
 * translations, and the host-MMU hooks it drives. */
#include "tlb.h"

#include "machine.h"
#include "pfn.h"
#include "pte.h"

static struct mmi_tlb_entry *slot(mm_machine *m, mm_va va)
{
    return &m->tlb.entry[(va >> MM_PAGE_SHIFT) & (MMI_TLB_ENTRIES - 1)];
}

mm_pfn mmi_tlb_lookup(mm_machine *m, mm_va va, mm_pfn top, bool write)
{
    const struct mmi_tlb_entry *e = slot(m, va);
    if (e->generation != m->tlb.generation || e->page != MM_PAGE_ALIGN(va) || e->top != top ||
        (write && !e->writable))
        return MM_PFN_NONE;
    return e->pfn;
}

void mmi_tlb_fill(mm_machine *m, mm_va va, mm_pfn top, uint64_t pte)
{
    mm_pfn pfn = mmi_pte_pfn(pte);
    bool writable = (pte & (PTE_WRITE | PTE_DIRTY)) == (PTE_WRITE | PTE_DIRTY);
    struct mmi_tlb_entry *e = slot(m, va);
    mm_va page = MM_PAGE_ALIGN(va);
    if (m->tlb.host && e->generation == m->tlb.generation && e->page != page)
        m->tlb.host->unmap(m->tlb.host_ctx, e->page); /* evicted: the host view follows */
    *e = (struct mmi_tlb_entry){.page = page, .top = top, .pfn = pfn, .generation = m->tlb.generation,
                                .writable = writable};
    if (m->tlb.host) {
        if (writable && mmi_pfn_is_ram(m, pfn) && pfn < m->pfn.untouched)
            mmi_frame_mark_stored(m, pfn); /* host code may write it from now on */
        m->tlb.host->map(m->tlb.host_ctx, page, pfn, writable, !(pte & PTE_NO_EXECUTE));
    }
}

void mmi_tlb_flush_page(mm_machine *m, mm_va va)
{
    struct mmi_tlb_entry *e = slot(m, va);
    if (e->page != MM_PAGE_ALIGN(va) || e->generation != m->tlb.generation)
        return;
    e->generation = m->tlb.generation - 1;
    if (m->tlb.host)
        m->tlb.host->unmap(m->tlb.host_ctx, e->page);
}

void mmi_tlb_flush_all(mm_machine *m)
{
    m->tlb.generation++;
    if (m->tlb.host)
        m->tlb.host->unmap_all(m->tlb.host_ctx);
}

void mmi_tlb_flush_user(mm_machine *m)
{
    for (unsigned i = 0; i < MMI_TLB_ENTRIES; i++) {
        struct mmi_tlb_entry *e = &m->tlb.entry[i];
        if (e->generation == m->tlb.generation && mmi_is_user_va(m, e->page))
            mmi_tlb_flush_page(m, e->page);
    }
}

void mmi_switch_process(mm_machine *m, struct mm_process *p)
{
    struct mmi_cpu *cpu = mmi_cpu(m);
    if (cpu->process != p)
        mmi_tlb_flush_user(m);
    cpu->process = p;
}
