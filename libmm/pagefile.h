/* libmm/pagefile.h — the simulated page file: slots with their own store.
 * Slot 0 is never used, so a page-file PTE is never all zero. */
#ifndef MMI_PAGEFILE_H
#define MMI_PAGEFILE_H

#include "bitmap.h"
#include "store.h"

struct mmi_pagefile {
    uint64_t slots;          /* including the unused slot 0 */
    struct mmi_bitmap used;
    struct mmi_store store;
};

bool mmi_pagefile_init(mm_machine *m, uint64_t pages);
void mmi_pagefile_fini(mm_machine *m);
/* Writes the frame's contents to a new slot; 0 when the file is full. */
uint64_t mmi_pagefile_write(mm_machine *m, mm_pfn pfn);
/* Copies a slot's contents into a frame (the slot stays allocated). */
void mmi_pagefile_read(mm_machine *m, uint64_t slot, mm_pfn pfn);
void mmi_pagefile_free(mm_machine *m, uint64_t slot);

#endif
