/* libmm/store.c — frame contents: the host memory file where available
 * (libmm/host/memfile.c), else a portable heap store of 2 MiB chunks. Page
 * contents are host memory like the file, outside the bookkeeping
 * allocator: only the chunk table goes through it. */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "host/memfile.h"

#define CHUNK_PAGES 512u

bool mmi_store_init(mm_machine *m, struct mmi_store *s, uint64_t pages)
{
    *s = (struct mmi_store){.pages = pages, .fd = -1};
    if (mmi_memfile_open(pages * MM_PAGE_SIZE, &s->fd, (void **)&s->base))
        return true;
    s->chunks = mmi_alloc(m, (size_t)((pages + CHUNK_PAGES - 1) / CHUNK_PAGES) * sizeof *s->chunks);
    return s->chunks != NULL;
}

void mmi_store_fini(mm_machine *m, struct mmi_store *s)
{
    if (s->base) {
        mmi_memfile_close(s->fd, s->base, s->pages * MM_PAGE_SIZE);
    } else if (s->chunks) {
        for (uint64_t i = 0; i < (s->pages + CHUNK_PAGES - 1) / CHUNK_PAGES; i++)
            free(s->chunks[i]);
        mmi_free(m, s->chunks);
    }
    *s = (struct mmi_store){.fd = -1};
}

unsigned char *mmi_store_page(mm_machine *m, struct mmi_store *s, uint64_t index)
{
    if (s->base)
        return s->base + index * MM_PAGE_SIZE;
    unsigned char **chunk = &s->chunks[index / CHUNK_PAGES];
    if (!*chunk) {
        *chunk = calloc(CHUNK_PAGES, MM_PAGE_SIZE);
        if (!*chunk) {
            fputs("mmsim: the host is out of memory for simulated page contents\n", stderr);
            abort();
        }
    }
    return *chunk + (index % CHUNK_PAGES) * MM_PAGE_SIZE;
}

/* Zeroing in place is far cheaper than returning the storage to the host
 * (a hole punched in the file costs a system call now and a kernel page fault
 * at the next write); host memory stays bounded by the frames ever written. */
void mmi_store_release(struct mmi_store *s, uint64_t index)
{
    if (s->base) {
        memset(s->base + index * MM_PAGE_SIZE, 0, MM_PAGE_SIZE);
        return;
    }
    unsigned char *chunk = s->chunks[index / CHUNK_PAGES];
    if (chunk)
        memset(chunk + (index % CHUNK_PAGES) * MM_PAGE_SIZE, 0, MM_PAGE_SIZE);
}

int mmi_store_fd(const struct mmi_store *s) { return s->fd; }
