/* libmm/vad.h — virtual address descriptors of a process: non-overlapping
 * reservations in a balanced tree (Windows keeps an AVL tree too), each
 * remembering whether it was committed whole (then a zero PTE inside it
 * means demand zero). Every operation is O(log n) in the number of VADs,
 * the search for free space included; a VAD's address stays put while it
 * lives. */
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
    /* the tree (vad.c only) */
    struct mmi_vad *left, *right, *parent;
    struct mmi_vad *prev, *next; /* the VADs before and after it, in address order */
    int height;
    uint64_t gap;              /* the 64 KiB-aligned hole between the VAD before and this one */
    uint64_t max_gap;          /* the largest gap in the subtree */
};

struct mmi_vad_table {
    struct mmi_vad *root;
    struct mmi_vad *hint; /* VadHint: the VAD last found, asked first */
    struct mmi_vad *last; /* the highest VAD: new reservations usually go after it */
    size_t count;
    mm_va lowest, top;    /* where VADs may lie: [lowest, top) */
};

/* An empty table whose VADs lie in [lowest, top). */
void mmi_vad_init(struct mmi_vad_table *t, mm_va lowest, mm_va top);

struct mmi_vad *mmi_vad_find(struct mmi_vad_table *t, mm_va va);
/* True if [start, end) overlaps no VAD. */
bool mmi_vad_range_free(const struct mmi_vad_table *t, mm_va start, mm_va end);
/* Lowest free, 64 KiB-aligned range of `bytes` in user space; 0 if none. */
mm_va mmi_vad_find_free(const struct mmi_vad_table *t, uint64_t bytes);
/* Inserts a copy of *vad (which must fit: see mmi_vad_range_free); NULL
 * when the host is out of memory. */
struct mmi_vad *mmi_vad_insert(mm_machine *m, struct mmi_vad_table *t, const struct mmi_vad *vad);
void mmi_vad_remove(mm_machine *m, struct mmi_vad_table *t, struct mmi_vad *vad);
/* In address order: the lowest VAD, and the first that starts above va. */
struct mmi_vad *mmi_vad_first(const struct mmi_vad_table *t);
/* The tree's invariants: order, parent links, the address-order threading
 * (prev, next), AVL balance and heights, each node's hole and its subtree's
 * largest, the highest VAD, the count. */
bool mmi_vad_check(const struct mmi_vad_table *t);
/* The depth of vad in the tree (the root is 0). */
uint32_t mmi_vad_level(const struct mmi_vad_table *t, const struct mmi_vad *vad);
struct mmi_vad *mmi_vad_above(const struct mmi_vad_table *t, mm_va va);
void mmi_vad_fini(mm_machine *m, struct mmi_vad_table *t);

#endif
