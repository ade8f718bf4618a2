/* libmm/memory.h — mapping primitives shared by faults, virtual memory,
 * pools and images: put a new frame behind a VA, and release whatever a PTE
 * holds (valid page, transition page, page-file slot). */
#ifndef MMI_MEMORY_H
#define MMI_MEMORY_H

#include "mm/memory.h"
#include "mm/pfn.h"

struct mmi_working_set;

/* The working set a page mapped at va in process p belongs to. */
struct mmi_working_set *mmi_ws_for(mm_machine *m, struct mm_process *p, mm_va va);
struct mmi_working_set *mmi_ws_of_owner(mm_machine *m, uint32_t owner);

/* Maps a fresh frame at va (which must have an empty or software PTE):
 * zeroed (demand zero) or not (pool: stale contents, as Windows gives). The
 * PFN's original PTE is a demand-zero PTE with `protection`. ws may be NULL
 * (resident, never trimmed). */
mm_status mmi_map_new_page(mm_machine *m, struct mm_process *p, mm_va va, unsigned protection, mm_page_use use,
                           bool zeroed, struct mmi_working_set *ws, mm_pfn *out);
/* Releases what va's PTE holds and writes `replacement` (0, or a decommit
 * PTE). Frames become free once no lock holds them. */
mm_status mmi_release_va(mm_machine *m, struct mm_process *p, mm_va va, uint64_t replacement);
/* Rewrites the protection of whatever va's PTE holds. */
void mmi_reprotect_va(mm_machine *m, struct mm_process *p, mm_va va, unsigned protection);
/* Owner id recorded in PFN entries for an address space. */
uint32_t mmi_owner_id(mm_machine *m, struct mm_process *p, mm_va va);

#endif
