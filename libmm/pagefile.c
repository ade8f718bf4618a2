/* libmm/pagefile.c — page-file slots: a bitmap of used slots and a store for
 * their contents. */
#include "pagefile.h"

#include "machine.h"
#include "pfn.h"
#include "trace.h"

bool mmi_pagefile_init(mm_machine *m, uint64_t pages)
{
    struct mmi_pagefile *pf = &m->pagefile;
    pf->slots = pages ? pages + 1 : 0;
    if (!pf->slots)
        return true;
    if (!mmi_bitmap_init(m, &pf->used, pf->slots))
        return false;
    mmi_bitmap_find_set(&pf->used, 1, 1); /* slot 0: never used */
    return mmi_store_init(m, &pf->store, pf->slots);
}

void mmi_pagefile_fini(mm_machine *m)
{
    struct mmi_pagefile *pf = &m->pagefile;
    if (!pf->slots)
        return;
    mmi_bitmap_fini(m, &pf->used);
    mmi_store_fini(m, &pf->store);
    pf->slots = 0;
}

uint64_t mmi_pagefile_write(mm_machine *m, mm_pfn pfn)
{
    struct mmi_pagefile *pf = &m->pagefile;
    if (!pf->slots)
        return 0;
    uint64_t slot = mmi_bitmap_find_set(&pf->used, 1, 1);
    if (slot == MMI_BITMAP_NONE)
        return 0;
    unsigned char *dst = mmi_store_page_for_write(m, &pf->store, slot);
    if (!dst) {
        mmi_bitmap_clear(&pf->used, slot, 1);
        return 0;
    }
    mmi_frame_read(m, pfn, 0, dst, MM_PAGE_SIZE);
    pf->store.stored++;
    mmi_trace(m, MM_EV_PAGEFILE, 0, pfn, slot, 0);
    return slot;
}

void mmi_pagefile_read(mm_machine *m, uint64_t slot, mm_pfn pfn)
{
    unsigned char *src = mmi_store_page(m, &m->pagefile.store, slot);
    mmi_frame_write(m, pfn, 0, src, MM_PAGE_SIZE);
    mmi_trace(m, MM_EV_PAGEFILE, 0, pfn, slot, 1);
}

void mmi_pagefile_free(mm_machine *m, uint64_t slot)
{
    struct mmi_pagefile *pf = &m->pagefile;
    mmi_bitmap_clear(&pf->used, slot, 1);
    mmi_store_release(&pf->store, slot);
    pf->store.stored--;
}
