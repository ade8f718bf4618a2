/* libmm/store.h — where the 4 KiB contents of frames (and page-file slots)
 * live. A page that was never written has no storage and reads as zeros.
 * With the host memory file, page N sits at offset N * 4096 of one shared
 * file, so a hosted machine's host view (host/hostmmu.c) maps a frame at
 * several host addresses. */
#ifndef MMI_STORE_H
#define MMI_STORE_H

#include "mm/types.h"

struct mmi_store {
    uint64_t pages;
    uint64_t stored;        /* pages holding contents */
    unsigned char *base;    /* memory file mapping, or NULL for the heap store */
    int fd;
    unsigned char **chunks; /* heap store: 512 pages per chunk */
};

bool mmi_store_init(mm_machine *m, struct mmi_store *s, uint64_t pages);
void mmi_store_fini(mm_machine *m, struct mmi_store *s);
/* Host address of page `index` for writing; marks nothing (the PFN entry
 * keeps the stored bit). */
unsigned char *mmi_store_page(mm_machine *m, struct mmi_store *s, uint64_t index);
/* Zeroes page `index`; the caller marks it as holding no contents. */
void mmi_store_release(struct mmi_store *s, uint64_t index);
int mmi_store_fd(const struct mmi_store *s);

#endif
