/* libmm/syspte.c — system PTEs: a bitmap over the configured number of PTEs
 * at the start of the system PTE region, and a second one marking where each
 * allocation starts, so a release that does not match an allocation is
 * caught as Windows' allocator catches it (0xDA 0x303-0x306). */
#include "syspte.h"

#include "machine.h"
#include "process.h"
#include "pte.h"
#include "tlb.h"

bool mmi_syspte_init(mm_machine *m)
{
    return mmi_bitmap_init(m, &m->syspte, m->cfg.system_ptes) &&
           mmi_bitmap_init(m, &m->syspte_start, m->cfg.system_ptes);
}

void mmi_syspte_fini(mm_machine *m)
{
    mmi_bitmap_fini(m, &m->syspte);
    mmi_bitmap_fini(m, &m->syspte_start);
}

static uint64_t index_of(const mm_machine *m, mm_va va) { return (va - m->layout.system_ptes) / MM_PAGE_SIZE; }

mm_va mmi_syspte_reserve(mm_machine *m, uint64_t pages)
{
    uint64_t index = mmi_bitmap_find_set(&m->syspte, pages, 1);
    if (index == MMI_BITMAP_NONE)
        return 0;
    mmi_bitmap_mark(&m->syspte_start, index, true);
    return m->layout.system_ptes + index * MM_PAGE_SIZE;
}

void mmi_syspte_release(mm_machine *m, mm_va va, uint64_t pages)
{
    mmi_bitmap_mark(&m->syspte_start, index_of(m, va), false);
    mmi_bitmap_clear(&m->syspte, index_of(m, va), pages);
}

/* The length of the allocation starting at index: up to the next free PTE
 * or the next allocation's start, a word of each bitmap at a time. */
static uint64_t allocation_length(const mm_machine *m, uint64_t index)
{
    const uint64_t *used = m->syspte.words, *starts = m->syspte_start.words;
    for (uint64_t at = index + 1; at < m->syspte.size;) {
        uint64_t w = at / 64, ends = (~used[w] | starts[w]) >> (at % 64);
        if (ends)
            return (at + (uint64_t)__builtin_ctzll(ends) < m->syspte.size ? at + (uint64_t)__builtin_ctzll(ends)
                                                                          : m->syspte.size) - index;
        at = (w + 1) * 64;
    }
    return m->syspte.size - index;
}

uint32_t mmi_syspte_check_release(const mm_machine *m, mm_va va, uint64_t pages, uint64_t *p3, uint64_t *p4)
{
    *p3 = pages;
    *p4 = 0;
    if (pages == 0 || !mmi_is_syspte_va(m, va) || MM_BYTE_OFFSET(va) || pages > m->syspte.size - index_of(m, va))
        return 0x303;
    uint64_t index = index_of(m, va);
    if (!mmi_bitmap_test(&m->syspte, index)) {
        *p3 = va;
        *p4 = pages;
        return 0x306;
    }
    if (!mmi_bitmap_test(&m->syspte_start, index))
        return 0x304;
    uint64_t length = allocation_length(m, index);
    if (length != pages) {
        *p4 = length;
        return 0x305;
    }
    return 0;
}

bool mmi_is_syspte_va(const mm_machine *m, mm_va va)
{
    return va >= m->layout.system_ptes && index_of(m, va) < m->syspte.size;
}

bool mmi_syspte_in_use(const mm_machine *m, mm_va va)
{
    return mmi_is_syspte_va(m, va) && mmi_bitmap_test(&m->syspte, index_of(m, va));
}

uint64_t mmi_syspte_free(const mm_machine *m) { return m->syspte.size - m->syspte.set; }

/* One page-table lookup per 512 pages and one run of PTE writes in each
 * table; the tables of the system PTE region are created on first use and
 * stay. */
static unsigned in_table(mm_va page, uint64_t left)
{
    uint64_t room = 512 - mmi_va_index(page, 3);
    return (unsigned)(left < room ? left : room);
}

/* With a host view, a short mapping is filled into the TLB (and so mapped
 * for host code) at once: a driver touches what it has just mapped, and one
 * host mapping now costs less than a fault and a mapping later. */
#define EAGER_HOST_PAGES 16u

static void fill_for_host(mm_machine *m, mm_va va, uint64_t count)
{
    if (!m->tlb.host || count > EAGER_HOST_PAGES)
        return;
    for (uint64_t i = 0; i < count;) {
        mm_va page = va + i * MM_PAGE_SIZE;
        mm_pfn table = mmi_leaf_table(m, m->system->pml4, page);
        unsigned n = in_table(page, count - i);
        uint64_t ptes[EAGER_HOST_PAGES];
        if (table == MM_PFN_NONE)
            return;
        for (unsigned k = 0; k < n; k++)
            ptes[k] = mmi_pte_get(m, table, mmi_va_index(page, 3) + k);
        mmi_tlb_fill_run(m, page, m->system->pml4, ptes, n);
        i += n;
    }
}

mm_status mmi_syspte_map(mm_machine *m, mm_va va, const mm_pfn *pfns, uint64_t count, uint64_t pte_bits)
{
    for (uint64_t i = 0; i < count;) {
        mm_va page = va + i * MM_PAGE_SIZE;
        mm_pfn table;
        mm_status st = mmi_pt_ensure(m, m->system->pml4, page, m->system->id, &table);
        if (!MM_SUCCESS(st)) {
            mmi_syspte_unmap(m, va, i);
            return st;
        }
        unsigned n = in_table(page, count - i);
        mmi_pte_map_run(m, table, mmi_va_index(page, 3), page, &pfns[i], n, pte_bits);
        i += n;
    }
    fill_for_host(m, va, count);
    return MM_STATUS_SUCCESS;
}

void mmi_syspte_unmap(mm_machine *m, mm_va va, uint64_t count)
{
    for (uint64_t i = 0; i < count;) {
        mm_va page = va + i * MM_PAGE_SIZE;
        mm_pfn table = mmi_leaf_table(m, m->system->pml4, page);
        unsigned n = in_table(page, count - i);
        if (table != MM_PFN_NONE)
            mmi_pte_clear_run(m, table, mmi_va_index(page, 3), page, n);
        i += n;
    }
}
