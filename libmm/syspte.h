/* libmm/syspte.h — the system PTE pool: a finite run of PTEs in the system
 * PTE region, reserved for MDL mappings and reserved mappings and released
 * with them. Leaked mappings exhaust it (0x3F / 0xD8). */
#ifndef MMI_SYSPTE_H
#define MMI_SYSPTE_H

#include "mm/types.h"

bool mmi_syspte_init(mm_machine *m);
void mmi_syspte_fini(mm_machine *m);
/* The first VA of `pages` free PTEs, or 0 when none is left. */
mm_va mmi_syspte_reserve(mm_machine *m, uint64_t pages);
/* Releases one whole allocation (the caller checked it). */
void mmi_syspte_release(mm_machine *m, mm_va va, uint64_t pages);
/* The system PTE allocator's own check of a release: [va, va + pages) must
 * be exactly one allocation. 0 if it is, else the 0xDA sub-code
 * (0x303 not reserved, 0x304 starts inside another allocation, 0x305 wrong
 * count, 0x306 already free) with its P3 and P4. */
uint32_t mmi_syspte_check_release(const mm_machine *m, mm_va va, uint64_t pages, uint64_t *p3, uint64_t *p4);
bool mmi_syspte_in_use(const mm_machine *m, mm_va va);
bool mmi_is_syspte_va(const mm_machine *m, mm_va va);
uint64_t mmi_syspte_free(const mm_machine *m);
/* Writes valid kernel PTEs for the frames (no PFN counts change: an MDL
 * mapping borrows the MDL's lock), or zeroes them. */
mm_status mmi_syspte_map(mm_machine *m, mm_va va, const mm_pfn *pfns, uint64_t count, uint64_t pte_bits);
void mmi_syspte_unmap(mm_machine *m, mm_va va, uint64_t count);

#endif
