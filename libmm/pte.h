/* libmm/pte.h — x64 PTE formats (hardware and the software formats: demand
 * zero, transition, page file) and the 4-level tables, which are frames in
 * the PFN database whose share count is 1 + their valid entries. */
#ifndef MMI_PTE_H
#define MMI_PTE_H

#include "mm/pfn.h"

#define PTE_VALID UINT64_C(0x1)
#define PTE_DIRTY1 UINT64_C(0x2)        /* hardware write bit */
#define PTE_OWNER UINT64_C(0x4)
#define PTE_WRITE_THROUGH UINT64_C(0x8)
#define PTE_CACHE_DISABLE UINT64_C(0x10)
#define PTE_ACCESSED UINT64_C(0x20)
#define PTE_DIRTY UINT64_C(0x40)
#define PTE_LARGE_PAGE UINT64_C(0x80)
#define PTE_GLOBAL UINT64_C(0x100)
#define PTE_COPY_ON_WRITE UINT64_C(0x200)
#define PTE_PROTOTYPE UINT64_C(0x400)
#define PTE_WRITE UINT64_C(0x800)         /* software "logically writable" (valid) */
#define PTE_TRANSITION UINT64_C(0x800)    /* same bit, in an invalid PTE */
#define PTE_NO_EXECUTE (UINT64_C(1) << 63)
#define PTE_PFN_MASK UINT64_C(0x0000FFFFFFFFF000)
/* PTE bit 52 (software) marks a PTE written for an MDL mapping: it borrows
 * the MDL's lock and holds no share of the frame. */
#define MMI_PTE_MDL_MAPPING (UINT64_C(1) << 52)

/* 5-bit protections (MM_*) of software PTEs and original PTEs. */
#define MMP_ZERO_ACCESS 0u
#define MMP_READONLY 1u
#define MMP_EXECUTE 2u
#define MMP_EXECUTE_READ 3u
#define MMP_READWRITE 4u
#define MMP_WRITECOPY 5u
#define MMP_EXECUTE_READWRITE 6u
#define MMP_EXECUTE_WRITECOPY 7u
#define MMP_NOCACHE 0x08u
#define MMP_GUARDPAGE 0x10u
#define MMP_WRITECOMBINE 0x18u
#define MMP_DECOMMIT 0x10u
#define MMP_NOACCESS 0x18u

static inline bool mmi_pte_valid(uint64_t pte) { return pte & PTE_VALID; }
static inline mm_pfn mmi_pte_pfn(uint64_t pte) { return (pte & PTE_PFN_MASK) >> 12; }
static inline unsigned mmi_pte_protection(uint64_t pte) { return (unsigned)(pte >> 5) & 0x1Fu; }
static inline bool mmi_pte_is_transition(uint64_t pte)
{
    return !(pte & PTE_VALID) && (pte & PTE_TRANSITION) && !(pte & PTE_PROTOTYPE);
}
static inline bool mmi_pte_is_software(uint64_t pte)
{
    return pte && !(pte & (PTE_VALID | PTE_TRANSITION | PTE_PROTOTYPE));
}
static inline uint64_t mmi_pte_pagefile_slot(uint64_t pte) { return pte >> 32; }
static inline bool mmi_pte_is_pagefile(uint64_t pte) { return mmi_pte_is_software(pte) && (pte >> 32) != 0; }
static inline bool mmi_pte_is_demand_zero(uint64_t pte)
{
    return mmi_pte_is_software(pte) && (pte >> 32) == 0 && (pte & 0x1E) == 0;
}
static inline uint64_t mmi_pte_make_demand_zero(unsigned protection) { return (uint64_t)protection << 5; }
static inline uint64_t mmi_pte_make_pagefile(uint64_t slot, unsigned protection)
{
    return (slot << 32) | ((uint64_t)protection << 5);
}
static inline uint64_t mmi_pte_make_transition(mm_pfn pfn, unsigned protection)
{
    return (pfn << 12) | PTE_TRANSITION | ((uint64_t)protection << 5);
}
/* A valid leaf PTE for the protection (user: Owner; kernel: Global). */
uint64_t mmi_pte_make_valid(mm_pfn pfn, unsigned protection, bool user);
static inline bool mmi_pte_writable(uint64_t pte) { return (pte & PTE_WRITE) != 0; }
static inline bool mmi_protection_writable(unsigned p)
{
    p &= 7;
    return p == MMP_READWRITE || p == MMP_EXECUTE_READWRITE || p == MMP_WRITECOPY || p == MMP_EXECUTE_WRITECOPY;
}
static inline bool mmi_protection_executable(unsigned p) { p &= 7; return p == 2 || p == 3 || p == 6 || p == 7; }
static inline bool mmi_protection_accessible(unsigned p) { return (p & 7) != 0; }

/* Win32 PAGE_* <-> MM_* protections; UINT32_MAX for an invalid combination. */
uint32_t mmi_protection_from_win32(uint32_t page_protect);
uint32_t mmi_protection_to_win32(unsigned protection);

/* Self-map addresses: level 0 = PXE … 3 = PTE. */
mm_va mmi_pte_address(mm_va va, unsigned level);
mm_va mmi_va_from_pte_address(mm_va pte_address);
static inline unsigned mmi_va_index(mm_va va, unsigned level) { return (unsigned)(va >> (39 - 9 * level)) & 511u; }

struct mmi_walk {
    mm_pfn table[4];     /* page-table page at each level */
    uint64_t entry[4];   /* the entry read there */
    unsigned depth;      /* levels read: 4 when the PTE itself was reached */
};
void mmi_walk(mm_machine *m, mm_pfn top, mm_va va, struct mmi_walk *w);
static inline bool mmi_walk_valid(const struct mmi_walk *w) { return w->depth == 4 && mmi_pte_valid(w->entry[3]); }

uint64_t mmi_pte_get(mm_machine *m, mm_pfn table, unsigned index);
/* Writes one entry; keeps the table's share count equal to 1 + its valid
 * entries and records the write in the trace. */
void mmi_pte_set(mm_machine *m, mm_pfn table, unsigned index, mm_va va, uint64_t value);
/* The same for count consecutive leaf PTEs of one table from index (VAs
 * from va): the PTE of pfns[i] with `bits` (map), or zero (clear; zero
 * entries stay). The events are those of one mmi_pte_set per page; the
 * table's share count moves once per run of empty (map) or valid (clear)
 * entries, recorded as a trace run. */
void mmi_pte_map_run(mm_machine *m, mm_pfn table, unsigned index, mm_va va, const mm_pfn *pfns, unsigned count,
                     uint64_t bits);
void mmi_pte_clear_run(mm_machine *m, mm_pfn table, unsigned index, mm_va va, unsigned count);
/* The same for an upper-level entry (PXE, PPE, PDE) covering va. */
void mmi_pte_set_upper(mm_machine *m, mm_pfn table, unsigned index, mm_va va, uint64_t value);
/* A process's PML4 entry `index` (system half), a copy of the system's:
 * walks of system addresses start at the system's PML4, so no cached
 * translation depends on it. */
void mmi_pte_set_system_copy(mm_machine *m, mm_pfn pml4, unsigned index, uint64_t value);
/* Does this entry hold a share of the page table it sits in? Valid entries,
 * and transition leaf PTEs (outside the system PTE region). */
bool mmi_pte_holds_share(const mm_machine *m, mm_va va, uint64_t pte, bool leaf);
/* The page table (level 3) that maps va, or MM_PFN_NONE when an upper
 * level is not valid. */
mm_pfn mmi_leaf_table(mm_machine *m, mm_pfn top, mm_va va);
/* The page table holding va's PTE, creating missing levels (owner: the
 * address space id). MM_STATUS_NO_MEMORY when RAM is exhausted. */
mm_status mmi_pt_ensure(mm_machine *m, mm_pfn top, mm_va va, uint32_t owner, mm_pfn *table);
/* The first VA in [va, end) whose page table exists, or end: every page
 * skipped has a zero PTE because a table above it is absent. Absent tables
 * are skipped whole (2 MiB, 1 GiB, 512 GiB at a time), so a loop over a
 * huge, mostly empty range costs what is mapped in it. User VAs only. */
mm_va mmi_next_mapped_table(mm_machine *m, mm_pfn top, mm_va va, mm_va end);
/* Frees user page tables under va that hold no entries any more. */
mm_status mmi_pt_prune(mm_machine *m, mm_pfn top, mm_va va);
/* The top-level table for va in process context p (system VAs: the system's). */
mm_pfn mmi_top_for(mm_machine *m, struct mm_process *p, mm_va va);

#endif
