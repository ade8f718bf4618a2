/* libmm/virtual.c — user virtual memory with NtAllocateVirtualMemory /
 * NtFreeVirtualMemory / NtProtectVirtualMemory / NtQueryVirtualMemory
 * semantics: 64 KiB reservation granularity, page commit granularity,
 * commit charge against the commit limit, and demand-zero pages. A VAD
 * committed at reservation keeps zero PTEs (the VAD answers the fault);
 * decommitting inside it writes decommit PTEs, as Windows does. */
#include "virtual.h"

#include "irql.h"
#include "machine.h"
#include "memory.h"
#include "pfn.h"
#include "process.h"
#include "section.h"
#include "pte.h"
#include "trace.h"
#include "vad.h"

#define PAGE_MASK ((mm_va)MM_PAGE_SIZE - 1)
#define GRANULE_MASK ((mm_va)MM_ALLOCATION_GRANULARITY - 1)

static uint64_t pte_of(mm_machine *m, struct mm_process *p, mm_va va)
{
    struct mmi_walk w;
    mmi_walk(m, p->pml4, va, &w);
    return w.depth == 4 ? w.entry[3] : 0;
}

static bool page_committed(mm_machine *m, struct mm_process *p, const struct mmi_vad *vad, mm_va va)
{
    uint64_t pte = pte_of(m, p, va);
    if (pte == 0)
        return vad->committed_all;
    return !(mmi_pte_is_software(pte) && mmi_pte_protection(pte) == MMP_DECOMMIT && !mmi_pte_is_pagefile(pte));
}

/* A view's shared page: the view's protection, as its PTE now allows. */
static unsigned view_protection(uint64_t pte, const struct mmi_vad *vad)
{
    unsigned base = vad->protection & 7;
    bool executes = mmi_protection_executable(vad->protection);
    if (pte & PTE_COPY_ON_WRITE)
        return executes ? MMP_EXECUTE_WRITECOPY : MMP_WRITECOPY;
    if (pte & PTE_WRITE)
        return executes ? MMP_EXECUTE_READWRITE : MMP_READWRITE;
    return base == MMP_EXECUTE ? MMP_EXECUTE : executes ? MMP_EXECUTE_READ : MMP_READONLY;
}

static unsigned page_protection(mm_machine *m, struct mm_process *p, const struct mmi_vad *vad, mm_va va)
{
    uint64_t pte = pte_of(m, p, va);
    if (pte == 0)
        return vad->protection;
    if (mmi_pte_valid(pte)) {
        const struct mmi_pfn *e = mmi_pfn(m, mmi_pte_pfn(pte));
        return mmi_pfn_use(e) == MM_USE_SECTION ? view_protection(pte, vad) : mmi_pte_protection(e->original_pte);
    }
    return mmi_pte_protection(pte);
}

/* Checks the range lies in user space and resolves the process. */
static mm_status prologue(mm_machine *m, mm_process *process, mm_va *base, uint64_t *size, struct mm_process **p)
{
    if (!base || !size)
        return MM_STATUS_INVALID_PARAMETER;
    mm_status st = mmi_process_resolve(m, process, p);
    if (!MM_SUCCESS(st))
        return st;
    if (*base > m->layout.highest_user_address || *size > m->layout.highest_user_address + 1 - *base)
        return MM_STATUS_INVALID_ADDRESS;
    if (!mmi_irql_allows(m, MM_PASSIVE_LEVEL, *base))
        return MM_STATUS_MACHINE_DEAD;
    return MM_STATUS_SUCCESS;
}

/* The pages spanned by [base, base + size), which must lie in one VAD. */
static struct mmi_vad *vad_pages(struct mm_process *p, mm_va base, uint64_t size, mm_va *start, mm_va *end)
{
    *start = base & ~PAGE_MASK;
    *end = (base + size + PAGE_MASK) & ~PAGE_MASK;
    struct mmi_vad *vad = mmi_vad_find(&p->vads, *start);
    return vad && *end <= vad->end ? vad : NULL;
}

#define TABLE_SPAN UINT64_C(0x200000) /* the pages one page table maps */

/* At a page table's first page (or the range's start): the end of the run
 * of pages from va with no page table, whose PTEs all read as zero; va when
 * a table is there. */
static mm_va absent_run(mm_machine *m, struct mm_process *p, mm_va va, mm_va start, mm_va end)
{
    if (va != start && (va & (TABLE_SPAN - 1)))
        return va;
    return mmi_next_mapped_table(m, p->pml4, va, end);
}

/* Pages in [start, end) that are not committed yet. */
static uint64_t uncommitted_pages(mm_machine *m, struct mm_process *p, struct mmi_vad *vad, mm_va start, mm_va end)
{
    uint64_t needed = 0;
    for (mm_va va = start; va < end;) {
        mm_va run = absent_run(m, p, va, start, end);
        if (run > va) {
            needed += vad->committed_all ? 0 : (run - va) / MM_PAGE_SIZE;
            va = run;
            continue;
        }
        needed += !page_committed(m, p, vad, va);
        va += MM_PAGE_SIZE;
    }
    return needed;
}

static mm_status commit_range(mm_machine *m, struct mm_process *p, struct mmi_vad *vad, mm_va start, mm_va end,
                              unsigned protection)
{
    uint64_t needed = uncommitted_pages(m, p, vad, start, end);
    if (m->commit_charge + needed > m->commit_limit)
        return MM_STATUS_COMMITMENT_LIMIT;
    for (mm_va va = start; va < end; va += MM_PAGE_SIZE) {
        if (page_committed(m, p, vad, va)) {
            mmi_reprotect_va(m, p, va, protection);
            continue;
        }
        mm_pfn table;
        mm_status st = mmi_pt_ensure(m, p->pml4, va, p->id, &table);
        if (!MM_SUCCESS(st))
            return st;
        mmi_pte_set(m, table, mmi_va_index(va, 3), va, mmi_pte_make_demand_zero(protection));
        m->commit_charge++;
        p->commit++;
    }
    return MM_STATUS_SUCCESS;
}

static mm_status reserve(mm_machine *m, struct mm_process *p, mm_va *base, uint64_t *size, uint32_t type,
                         unsigned protection, uint32_t protect)
{
    mm_va start, end;
    if (*base) {
        start = *base & ~GRANULE_MASK;
        end = (*base + *size + PAGE_MASK) & ~PAGE_MASK;
        if (start < m->layout.lowest_user_address || end - 1 > m->layout.highest_user_address)
            return MM_STATUS_INVALID_ADDRESS;
        if (!mmi_vad_range_free(&p->vads, start, end))
            return MM_STATUS_CONFLICTING_ADDRESSES;
    } else {
        uint64_t bytes = (*size + PAGE_MASK) & ~PAGE_MASK;
        start = mmi_vad_find_free(&p->vads, bytes);
        if (!start)
            return MM_STATUS_NO_MEMORY;
        end = start + bytes;
    }
    bool commit = type & MM_MEM_COMMIT;
    uint64_t pages = (end - start) / MM_PAGE_SIZE;
    if (commit && m->commit_charge + pages > m->commit_limit)
        return MM_STATUS_COMMITMENT_LIMIT;
    struct mmi_vad vad = {.start = start, .end = end, .protect = protect, .protection = protection,
                          .committed_all = commit};
    if (!mmi_vad_insert(m, &p->vads, &vad))
        return MM_STATUS_INSUFFICIENT_RESOURCES;
    if (commit) {
        m->commit_charge += pages;
        p->commit += pages;
    }
    mmi_trace(m, MM_EV_VAD, start, MM_PFN_NONE, end - start, type);
    *base = start;
    *size = end - start;
    return MM_STATUS_SUCCESS;
}

mm_status mm_virtual_alloc(mm_machine *m, mm_process *process, mm_va *base, uint64_t *size, uint32_t type,
                           uint32_t protect)
{
    MMI_ENTER(m, "NtAllocateVirtualMemory");
    struct mm_process *p;
    mm_status st = prologue(m, process, base, size, &p);
    if (!MM_SUCCESS(st))
        return st;
    if (*size == 0 || !(type & (MM_MEM_COMMIT | MM_MEM_RESERVE)) || (type & ~(MM_MEM_COMMIT | MM_MEM_RESERVE)))
        return MM_STATUS_INVALID_PARAMETER;
    uint32_t protection = mmi_protection_from_win32(protect);
    if (protection == UINT32_MAX || (protection & 7) == MMP_WRITECOPY || (protection & 7) == MMP_EXECUTE_WRITECOPY)
        return MM_STATUS_INVALID_PAGE_PROTECTION;
    if ((type & MM_MEM_RESERVE) || *base == 0)
        return reserve(m, p, base, size, type | MM_MEM_COMMIT * !(type & MM_MEM_RESERVE), protection, protect);
    mm_va start, end;
    struct mmi_vad *vad = vad_pages(p, *base, *size, &start, &end);
    if (!vad || vad->physical) /* an MDL's user mapping has no private pages to commit */
        return MM_STATUS_CONFLICTING_ADDRESSES;
    if (vad->section) { /* a view is committed whole: nothing to do */
        *base = start;
        *size = end - start;
        return MM_STATUS_SUCCESS;
    }
    st = commit_range(m, p, vad, start, end, protection);
    if (!MM_SUCCESS(st))
        return st;
    mmi_trace(m, MM_EV_VAD, start, MM_PFN_NONE, end - start, MM_MEM_COMMIT);
    *base = start;
    *size = end - start;
    return MM_STATUS_SUCCESS;
}

static mm_status decommit_page(mm_machine *m, struct mm_process *p, struct mmi_vad *vad, mm_va va, bool releasing)
{
    if (vad->physical || vad->section) /* an MDL's user mapping or a view: no private commit per page */
        return mmi_release_va(m, p, va, 0);
    if (page_committed(m, p, vad, va)) {
        m->commit_charge--;
        p->commit--;
    }
    /* Inside a VAD committed whole, a zero PTE would read as committed. */
    uint64_t replacement = vad->committed_all && !releasing ? mmi_pte_make_demand_zero(MMP_DECOMMIT) : 0;
    if (pte_of(m, p, va) != 0)
        return mmi_release_va(m, p, va, replacement);
    if (!replacement)
        return MM_STATUS_SUCCESS;
    mm_pfn table;
    mm_status st = mmi_pt_ensure(m, p->pml4, va, p->id, &table);
    if (MM_SUCCESS(st))
        mmi_pte_set(m, table, mmi_va_index(va, 3), va, replacement);
    return st;
}

/* Pages with no page table: only their commit goes, unless decommitting
 * inside a VAD committed whole, where each needs a decommit PTE. */
static bool release_absent(mm_machine *m, struct mm_process *p, struct mmi_vad *vad, mm_va va, mm_va run,
                           bool releasing)
{
    bool private = !vad->physical && !vad->section;
    if (private && vad->committed_all && !releasing)
        return false;
    if (private && vad->committed_all) {
        m->commit_charge -= (run - va) / MM_PAGE_SIZE;
        p->commit -= (run - va) / MM_PAGE_SIZE;
    }
    return true;
}

mm_status mmi_virtual_release_pages(mm_machine *m, struct mm_process *p, struct mmi_vad *vad, mm_va start,
                                    mm_va end, bool releasing)
{
    for (mm_va va = start; va < end; va += MM_PAGE_SIZE) {
        mm_va run = absent_run(m, p, va, start, end);
        if (run > va && release_absent(m, p, vad, va, run, releasing)) {
            va = run - MM_PAGE_SIZE;
            continue;
        }
        mm_status st = decommit_page(m, p, vad, va, releasing);
        /* Once per page table: at its last page or at the range's end. */
        bool table_done = ((va + MM_PAGE_SIZE) & 0x1FFFFF) == 0 || va + MM_PAGE_SIZE == end;
        if (MM_SUCCESS(st) && table_done)
            st = mmi_pt_prune(m, p->pml4, va);
        if (!MM_SUCCESS(st))
            return st;
    }
    return MM_STATUS_SUCCESS;
}

static mm_status release_vad(mm_machine *m, struct mm_process *p, struct mmi_vad *vad)
{
    if (vad->section)
        return mmi_section_unmap_view(m, p, vad);
    mm_va start = vad->start, end = vad->end;
    mm_status st = mmi_virtual_release_pages(m, p, vad, start, end, true);
    if (!MM_SUCCESS(st))
        return st;
    mmi_vad_remove(m, &p->vads, vad);
    mmi_trace(m, MM_EV_VAD, start, MM_PFN_NONE, end - start, MM_MEM_RELEASE);
    return MM_STATUS_SUCCESS;
}

mm_status mmi_virtual_release_all(mm_machine *m, struct mm_process *p)
{
    while (p->vads.root) {
        mm_status st = release_vad(m, p, mmi_vad_first(&p->vads));
        if (!MM_SUCCESS(st))
            return st;
    }
    return MM_STATUS_SUCCESS;
}

mm_status mm_virtual_free(mm_machine *m, mm_process *process, mm_va *base, uint64_t *size, uint32_t type)
{
    MMI_ENTER(m, "NtFreeVirtualMemory");
    struct mm_process *p;
    mm_status st = prologue(m, process, base, size, &p);
    if (!MM_SUCCESS(st))
        return st;
    if (type != MM_MEM_DECOMMIT && type != MM_MEM_RELEASE)
        return MM_STATUS_INVALID_PARAMETER;
    struct mmi_vad *vad = mmi_vad_find(&p->vads, *base);
    if (!vad)
        return MM_STATUS_MEMORY_NOT_ALLOCATED;
    /* Only NtUnmapViewOfSection removes a view, and only MmUnmapLockedPages
     * an MDL's user mapping (VadDevicePhysicalMemory): Windows refuses both
     * with the same status, for release and decommit alike. */
    if (vad->physical || vad->section)
        return MM_STATUS_UNABLE_TO_DELETE_SECTION;
    if (type == MM_MEM_RELEASE) {
        if (*base != vad->start)
            return MM_STATUS_FREE_VM_NOT_AT_BASE;
        if (*size != 0 && *size != vad->end - vad->start)
            return MM_STATUS_UNABLE_TO_FREE_VM;
        *size = vad->end - vad->start;
        return release_vad(m, p, vad);
    }
    mm_va start = *base & ~PAGE_MASK;
    mm_va end = *size ? (*base + *size + PAGE_MASK) & ~PAGE_MASK : vad->end;
    if (*size == 0 && *base != vad->start)
        return MM_STATUS_FREE_VM_NOT_AT_BASE;
    if (end > vad->end)
        return MM_STATUS_UNABLE_TO_FREE_VM;
    st = mmi_virtual_release_pages(m, p, vad, start, end, false);
    if (!MM_SUCCESS(st))
        return st;
    mmi_trace(m, MM_EV_VAD, start, MM_PFN_NONE, end - start, MM_MEM_DECOMMIT);
    *base = start;
    *size = end - start;
    return MM_STATUS_SUCCESS;
}

mm_status mm_virtual_protect(mm_machine *m, mm_process *process, mm_va *base, uint64_t *size, uint32_t new_protect,
                             uint32_t *old_protect)
{
    MMI_ENTER(m, "NtProtectVirtualMemory");
    struct mm_process *p;
    mm_status st = prologue(m, process, base, size, &p);
    if (!MM_SUCCESS(st))
        return st;
    if (!old_protect || *size == 0)
        return MM_STATUS_INVALID_PARAMETER;
    uint32_t protection = mmi_protection_from_win32(new_protect);
    if (protection == UINT32_MAX)
        return MM_STATUS_INVALID_PAGE_PROTECTION;
    mm_va start, end;
    struct mmi_vad *vad = vad_pages(p, *base, *size, &start, &end);
    if (!vad)
        return MM_STATUS_CONFLICTING_ADDRESSES;
    if (vad->physical)
        return MM_STATUS_CONFLICTING_ADDRESSES; /* an MDL's user mapping keeps its protection */
    if (vad->section && (protection & 0x18u))
        return MM_STATUS_INVALID_PAGE_PROTECTION;
    /* Copy on write needs a section to copy from: private memory refuses it,
     * as NtAllocateVirtualMemory does (a private page "copied" left its old
     * frame on standby naming the PTE its copy now used). */
    if (!vad->section && ((protection & 7) == MMP_WRITECOPY || (protection & 7) == MMP_EXECUTE_WRITECOPY))
        return MM_STATUS_INVALID_PAGE_PROTECTION;
    if (vad->section && !mmi_section_allows(vad->section, protection))
        return MM_STATUS_SECTION_PROTECTION;
    for (mm_va va = start; va < end; va += MM_PAGE_SIZE)
        if (!page_committed(m, p, vad, va))
            return MM_STATUS_NOT_COMMITTED;
    *old_protect = mmi_protection_to_win32(page_protection(m, p, vad, start));
    for (mm_va va = start; va < end; va += MM_PAGE_SIZE) {
        if (pte_of(m, p, va) == 0) {
            mm_pfn table;
            st = mmi_pt_ensure(m, p->pml4, va, p->id, &table);
            if (!MM_SUCCESS(st))
                return st;
            mmi_pte_set(m, table, mmi_va_index(va, 3), va, mmi_pte_make_demand_zero(protection));
        } else if (vad->section) {
            uint64_t pte = pte_of(m, p, va);
            bool shared = mmi_pte_valid(pte) && mmi_pfn_use(mmi_pfn(m, mmi_pte_pfn(pte))) == MM_USE_SECTION;
            mmi_reprotect_va(m, p, va, mmi_section_page_protection(vad, protection, shared));
        } else {
            mmi_reprotect_va(m, p, va, protection);
        }
    }
    *base = start;
    *size = end - start;
    return MM_STATUS_SUCCESS;
}

/* The run of pages from va with the same state and protection. */
mm_status mm_virtual_query(mm_machine *m, mm_process *process, mm_va va, struct mm_region_info *out)
{
    MMI_ENTER(m, "NtQueryVirtualMemory");
    if (!out)
        return MM_STATUS_INVALID_PARAMETER;
    struct mm_process *p;
    mm_status st = mmi_process_resolve(m, process, &p);
    if (!MM_SUCCESS(st))
        return st;
    if (va > m->layout.highest_user_address)
        return MM_STATUS_INVALID_PARAMETER;
    mm_va page = va & ~PAGE_MASK;
    struct mmi_vad *vad = mmi_vad_find(&p->vads, page);
    *out = (struct mm_region_info){.base_address = page};
    if (!vad) {
        const struct mmi_vad *above = mmi_vad_above(&p->vads, page);
        mm_va next = above ? above->start : m->layout.highest_user_address + 1;
        out->state = MM_MEM_FREE;
        out->protect = MM_PAGE_NOACCESS;
        out->region_size = next - page;
        return MM_STATUS_SUCCESS;
    }
    bool committed = page_committed(m, p, vad, page);
    unsigned protection = committed ? page_protection(m, p, vad, page) : 0;
    mm_va end = page + MM_PAGE_SIZE;
    while (end < vad->end) {
        mm_va run = absent_run(m, p, end, page, vad->end);
        if (run > end) { /* no page table: the VAD's own state and protection */
            if (vad->committed_all != committed || (committed && vad->protection != protection))
                break;
            end = run;
            continue;
        }
        if (page_committed(m, p, vad, end) != committed ||
            (committed && page_protection(m, p, vad, end) != protection))
            break;
        end += MM_PAGE_SIZE;
    }
    out->allocation_base = vad->start;
    out->allocation_protect = vad->protect;
    out->region_size = end - page;
    out->state = committed ? MM_MEM_COMMIT : MM_MEM_RESERVE;
    out->protect = committed ? mmi_protection_to_win32(protection) : 0;
    out->type = vad->section ? MM_MEM_MAPPED : MM_MEM_PRIVATE;
    return MM_STATUS_SUCCESS;
}
