/* libmm/virtual.h — user address-space teardown shared with process exit. */
#ifndef MMI_VIRTUAL_H
#define MMI_VIRTUAL_H

#include "mm/memory.h"

/* Releases every VAD of p and the pages behind them. */
mm_status mmi_virtual_release_all(mm_machine *m, struct mm_process *p);
struct mmi_vad;
/* Decommits (or, releasing, clears) [start, end) of vad page by page and
 * frees page tables left empty. */
mm_status mmi_virtual_release_pages(mm_machine *m, struct mm_process *p, struct mmi_vad *vad, mm_va start,
                                    mm_va end, bool releasing);

#endif
