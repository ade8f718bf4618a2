/* libmm/workset.c — working-set lists with O(1) removal through the index
 * kept in each PFN entry. */
#include "workset.h"

#include <assert.h>

#include "alloc.h"
#include "pfn.h"

bool mmi_ws_insert(mm_machine *m, struct mmi_working_set *ws, mm_va va, mm_pfn pfn)
{
    if (!mmi_grow(m, (void **)&ws->e, &ws->cap, (size_t)ws->count + 1, sizeof *ws->e, 64))
        return false;
    ws->e[ws->count] = (struct mmi_wsle){va, pfn};
    mmi_pfn(m, pfn)->flink = (uint32_t)++ws->count;
    return true;
}

void mmi_ws_remove(mm_machine *m, struct mmi_working_set *ws, mm_pfn pfn)
{
    struct mmi_pfn *e = mmi_pfn(m, pfn);
    if (e->flink == 0)
        return;
    uint64_t i = e->flink - 1;
    assert(i < ws->count && ws->e[i].pfn == pfn);
    ws->e[i] = ws->e[--ws->count];
    if (i < ws->count)
        mmi_pfn(m, ws->e[i].pfn)->flink = (uint32_t)(i + 1);
    e->flink = 0;
}

void mmi_ws_fini(mm_machine *m, struct mmi_working_set *ws)
{
    mmi_free(m, ws->e);
    *ws = (struct mmi_working_set){.owner = ws->owner};
}
