/* libmm/bitmap.h — a run allocator over a bitmap (RtlFindClearBitsAndSet):
 * pool VA, image VA, system PTEs and page-file slots are all carved from one. */
#ifndef MMI_BITMAP_H
#define MMI_BITMAP_H

#include "mm/types.h"

#define MMI_BITMAP_NONE UINT64_MAX

struct mmi_bitmap {
    uint64_t *words;
    uint64_t *full;     /* bit w: words[w] has no clear bit */
    uint64_t size;      /* bits */
    uint64_t set;       /* bits set */
    uint64_t hint;      /* no clear bit below this */
    uint64_t max;       /* bits it may grow to (a search that fails grows it) */
    mm_machine *owner;  /* whose allocator grows it */
};

bool mmi_bitmap_init(mm_machine *m, struct mmi_bitmap *b, uint64_t size);
/* A bitmap of `max` bits that starts with storage for `initial` and grows
 * when a search finds no room: a big, mostly unused range (the pools' VA on
 * a large machine) costs what it uses. Bits past `size` are clear. */
bool mmi_bitmap_init_growable(mm_machine *m, struct mmi_bitmap *b, uint64_t initial, uint64_t max);
void mmi_bitmap_fini(mm_machine *m, struct mmi_bitmap *b);
/* Lowest run of `count` clear bits starting at a multiple of `align`; set it. */
uint64_t mmi_bitmap_find_set(struct mmi_bitmap *b, uint64_t count, uint64_t align);
void mmi_bitmap_clear(struct mmi_bitmap *b, uint64_t index, uint64_t count);
static inline bool mmi_bitmap_test(const struct mmi_bitmap *b, uint64_t i)
{
    return i < b->size && (b->words[i / 64] >> (i % 64)) & 1;
}
/* Sets or clears one bit (no run bookkeeping beyond the count). */
void mmi_bitmap_mark(struct mmi_bitmap *b, uint64_t index, bool on);

#endif
