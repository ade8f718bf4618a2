/* libmm/vad.h — virtual address descriptors of a process: sorted, non
 * overlapping reservations, each remembering whether it was committed whole
 * (then a zero PTE inside it means demand zero). */
#ifndef MMI_VAD_H
#define MMI_VAD_H

#include "mm/types.h"

struct mmi_vad {
    mm_va start, end;          /* [start, end), page aligned */
    uint32_t protect;          /* Win32 protection given at allocation */
    unsigned protection;       /* the same as MM_* */
    bool committed_all;        /* MEM_COMMIT at reservation time */
    bool physical;             /* an MDL's user mapping (VadDevicePhysicalMemory) */
    struct mm_section *section; /* a view of this section (a mapped VAD) */
    uint64_t charge;           /* commit charged for a copy-on-write view */
};

struct mmi_vad_table {
    struct mmi_vad *v;
    size_t count, cap;
};

struct mmi_vad *mmi_vad_find(struct mmi_vad_table *t, mm_va va);
/* True if [start, end) overlaps no VAD. */
bool mmi_vad_range_free(const struct mmi_vad_table *t, mm_va start, mm_va end);
/* Lowest free, 64 KiB-aligned range of `bytes` in user space; 0 if none. */
mm_va mmi_vad_find_free(const struct mmi_vad_table *t, uint64_t bytes);
struct mmi_vad *mmi_vad_insert(mm_machine *m, struct mmi_vad_table *t, const struct mmi_vad *vad);
void mmi_vad_remove(struct mmi_vad_table *t, struct mmi_vad *vad);
void mmi_vad_fini(mm_machine *m, struct mmi_vad_table *t);

#endif
