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
    struct mmi_store_kept *kept; /* a snapshot's copies of pages written since */
};

bool mmi_store_init(mm_machine *m, struct mmi_store *s, uint64_t pages);
void mmi_store_fini(mm_machine *m, struct mmi_store *s);
/* Host address of page `index` for reading; marks nothing (the PFN entry
 * keeps the stored bit). */
unsigned char *mmi_store_page(mm_machine *m, struct mmi_store *s, uint64_t index);
/* The same for writing: under a snapshot the page's contents are kept
 * first. */
unsigned char *mmi_store_page_for_write(mm_machine *m, struct mmi_store *s, uint64_t index);
/* Zeroes page `index`; the caller marks it as holding no contents. */
void mmi_store_release(struct mmi_store *s, uint64_t index);
int mmi_store_fd(const struct mmi_store *s);

/* ---- a snapshot's page contents (snapshot.c drives these) ----
 * From mmi_store_track on, the first write to a page (through the calls
 * above, or mmi_store_keep before the host may write it unseen) copies
 * its contents aside; mmi_store_rollback puts every copy back, so a restore
 * costs the pages written since, whatever the store's size. */
bool mmi_store_track(struct mmi_store *s);     /* false: no host memory */
void mmi_store_keep(struct mmi_store *s, uint64_t index);
/* Every kept page back as it was; heap-store chunks made since are freed
 * (the chunk table is already the snapshot's). */
void mmi_store_rollback(struct mmi_store *s);
/* Forgets the kept pages for which still(ctx, index) is false; the others
 * stay kept (the host may still write them unseen). */
void mmi_store_prune(struct mmi_store *s, bool (*still)(void *ctx, uint64_t index), void *ctx);

#endif
