/* libmm/workset.h — working sets: the pageable pages resident for a process
 * (or for the system: paged pool, pageable image sections). While a page is
 * in one, its PFN flink holds its index + 1, as NT keeps WsIndex. */
#ifndef MMI_WORKSET_H
#define MMI_WORKSET_H

#include "mm/types.h"

struct mmi_wsle {
    mm_va va;
    mm_pfn pfn;
};

struct mmi_working_set {
    struct mmi_wsle *e;
    uint64_t count;
    size_t cap;
    uint32_t owner;     /* process id (4 = system) */
};

/* False when the host cannot grow the list (the page simply stays out of
 * the working set: resident but never trimmed). */
bool mmi_ws_insert(mm_machine *m, struct mmi_working_set *ws, mm_va va, mm_pfn pfn);
void mmi_ws_remove(mm_machine *m, struct mmi_working_set *ws, mm_pfn pfn);
void mmi_ws_fini(mm_machine *m, struct mmi_working_set *ws);

#endif
