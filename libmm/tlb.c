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

static bool pte_writable(uint64_t pte) { return (pte & (PTE_WRITE | PTE_DIRTY)) == (PTE_WRITE | PTE_DIRTY); }

/* One entry, without telling the host. */
static void cache(mm_machine *m, mm_va page, mm_pfn top, uint64_t pte)
{
    struct mmi_tlb_entry *e = slot(m, page);
    if (m->tlb.host && e->generation == m->tlb.generation && e->page != page)
        m->tlb.host->unmap(m->tlb.host_ctx, e->page); /* evicted: the host view follows */
    *e = (struct mmi_tlb_entry){.page = page, .top = top, .pfn = mmi_pte_pfn(pte), .generation = m->tlb.generation,
                                .writable = pte_writable(pte)};
    if (m->tlb.host && e->writable && mmi_pfn_is_ram(m, e->pfn) && e->pfn < m->pfn.untouched)
        mmi_frame_mark_stored(m, e->pfn); /* host code may write it from now on */
}

void mmi_tlb_fill(mm_machine *m, mm_va va, mm_pfn top, uint64_t pte) { mmi_tlb_fill_run(m, va, top, &pte, 1); }

static bool same_run(mm_machine *m, uint64_t a, uint64_t b)
{
    return mmi_pte_pfn(b) == mmi_pte_pfn(a) + 1 && pte_writable(a) == pte_writable(b) &&
           (a & PTE_NO_EXECUTE) == (b & PTE_NO_EXECUTE) &&
           mmi_pfn_is_ram(m, mmi_pte_pfn(a)) == mmi_pfn_is_ram(m, mmi_pte_pfn(b));
}

void mmi_tlb_fill_run(mm_machine *m, mm_va va, mm_pfn top, const uint64_t *ptes, unsigned count)
{
    mm_va first = MM_PAGE_ALIGN(va);
    for (unsigned i = 0; i < count; i++)
        cache(m, first + (mm_va)i * MM_PAGE_SIZE, top, ptes[i]);
    if (!m->tlb.host)
        return;
    for (unsigned i = 0, run; i < count; i += run) {
        for (run = 1; i + run < count && same_run(m, ptes[i + run - 1], ptes[i + run]); run++)
            ;
        m->tlb.host->map(m->tlb.host_ctx, first + (mm_va)i * MM_PAGE_SIZE, mmi_pte_pfn(ptes[i]), run,
                         pte_writable(ptes[i]), !(ptes[i] & PTE_NO_EXECUTE));
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

/* A host view holds only what the TLB holds: its pages go one by one (a
 * few, at most 64), which costs far less than remapping the whole range. */
void mmi_tlb_flush_all(mm_machine *m)
{
    if (m->tlb.host)
        for (unsigned i = 0; i < MMI_TLB_ENTRIES; i++)
            if (m->tlb.entry[i].generation == m->tlb.generation)
                m->tlb.host->unmap(m->tlb.host_ctx, m->tlb.entry[i].page);
    m->tlb.generation++;
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
