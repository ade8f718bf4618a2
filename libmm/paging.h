/* libmm/paging.h — moving pages out of working sets (trim) and out to the
 * page file (modified page writer), and back in (soft and hard faults). */
#ifndef MMI_PAGING_H
#define MMI_PAGING_H

#include "mm/memory.h"

struct mmi_working_set;

/* Takes one valid, unlocked page out of its working set: its PTE becomes a
 * transition PTE and the page goes to standby (clean) or modified (dirty).
 * Returns false (and does nothing) for a locked page. */
bool mmi_trim_page(mm_machine *m, struct mmi_working_set *ws, mm_va va, mm_pfn pfn);
/* Trims a whole working set (Force IRQL Checking, memory pressure). */
uint64_t mmi_trim_working_set(mm_machine *m, struct mmi_working_set *ws, uint64_t max_pages);

#endif
