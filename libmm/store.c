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

/* A snapshot's copies (store.h). Host memory outside the bookkeeping
 * allocator: a restore must not roll them back. */
struct mmi_store_kept {
    uint8_t *bits;           /* one per page: its contents are kept */
    uint64_t *index;         /* the kept pages, in the order they were kept */
    unsigned char **copy;    /* their contents then; NULL: zeros (no chunk yet) */
    size_t count, cap;
    unsigned char **spare;   /* copy buffers to use again */
    size_t spares, spare_cap;
    unsigned char **made;    /* heap store: chunks made since the snapshot */
    size_t made_count, made_cap;
};

static void free_kept(struct mmi_store_kept *k)
{
    if (!k)
        return;
    for (size_t i = 0; i < k->count; i++)
        free(k->copy[i]);
    for (size_t i = 0; i < k->spares; i++)
        free(k->spare[i]);
    free(k->bits);
    free(k->index);
    free(k->copy);
    free(k->spare);
    free(k->made);
    free(k);
}

void mmi_store_fini(mm_machine *m, struct mmi_store *s)
{
    free_kept(s->kept);
    if (s->base) {
        mmi_memfile_close(s->fd, s->base, s->pages * MM_PAGE_SIZE);
    } else if (s->chunks) {
        for (uint64_t i = 0; i < (s->pages + CHUNK_PAGES - 1) / CHUNK_PAGES; i++)
            free(s->chunks[i]);
        mmi_free(m, s->chunks);
    }
    *s = (struct mmi_store){.fd = -1};
}

static void *must(void *p)
{
    if (!p) {
        fputs("mmsim: the host is out of memory for simulated page contents\n", stderr);
        abort();
    }
    return p;
}

/* Makes room for one more element in a growing host array. */
static void grow(void **array, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return;
    size_t n = *cap ? *cap * 2 : 64;
    *array = must(realloc(*array, n * elem));
    *cap = n;
}

unsigned char *mmi_store_page(mm_machine *m, struct mmi_store *s, uint64_t index)
{
    (void)m;
    if (s->base)
        return s->base + index * MM_PAGE_SIZE;
    unsigned char **chunk = &s->chunks[index / CHUNK_PAGES];
    if (!*chunk) {
        *chunk = must(calloc(CHUNK_PAGES, MM_PAGE_SIZE));
        struct mmi_store_kept *k = s->kept;
        if (k) {
            grow((void **)&k->made, &k->made_cap, k->made_count + 1, sizeof *k->made);
            k->made[k->made_count++] = *chunk;
        }
    }
    return *chunk + (index % CHUNK_PAGES) * MM_PAGE_SIZE;
}

/* The page's bytes where they are now, or NULL for a heap-store page with
 * no chunk (zeros). */
static unsigned char *page_now(struct mmi_store *s, uint64_t index)
{
    if (s->base)
        return s->base + index * MM_PAGE_SIZE;
    unsigned char *chunk = s->chunks[index / CHUNK_PAGES];
    return chunk ? chunk + (index % CHUNK_PAGES) * MM_PAGE_SIZE : NULL;
}

void mmi_store_keep(struct mmi_store *s, uint64_t index)
{
    struct mmi_store_kept *k = s->kept;
    if (!k || index >= s->pages || (k->bits[index / 8] & (1u << (index % 8))))
        return;
    k->bits[index / 8] |= (uint8_t)(1u << (index % 8));
    if (k->count == k->cap) { /* index and copy grow together */
        size_t cap = k->cap;
        grow((void **)&k->index, &cap, k->count + 1, sizeof *k->index);
        k->copy = must(realloc(k->copy, cap * sizeof *k->copy));
        k->cap = cap;
    }
    const unsigned char *now = page_now(s, index);
    unsigned char *copy = NULL;
    if (now) {
        copy = k->spares ? k->spare[--k->spares] : must(malloc(MM_PAGE_SIZE));
        memcpy(copy, now, MM_PAGE_SIZE);
    }
    k->index[k->count] = index;
    k->copy[k->count++] = copy;
}

unsigned char *mmi_store_page_for_write(mm_machine *m, struct mmi_store *s, uint64_t index)
{
    if (s->kept)
        mmi_store_keep(s, index);
    return mmi_store_page(m, s, index);
}

bool mmi_store_track(struct mmi_store *s)
{
    struct mmi_store_kept *k = s->kept;
    if (!s->pages)
        return true; /* no page file */
    if (!k) {
        k = calloc(1, sizeof *k);
        if (!k || !(k->bits = calloc((size_t)(s->pages + 7) / 8, 1))) {
            free(k);
            return false;
        }
        s->kept = k;
        return true;
    }
    mmi_store_prune(s, NULL, NULL); /* a new snapshot: nothing is written since */
    k->made_count = 0;
    return true;
}

void mmi_store_rollback(struct mmi_store *s)
{
    struct mmi_store_kept *k = s->kept;
    if (!k)
        return;
    for (size_t i = 0; i < k->count; i++) {
        unsigned char *now = page_now(s, k->index[i]);
        if (now && k->copy[i])
            memcpy(now, k->copy[i], MM_PAGE_SIZE);
        else if (now)
            memset(now, 0, MM_PAGE_SIZE);
    }
    for (size_t i = 0; i < k->made_count; i++)
        free(k->made[i]);
    k->made_count = 0;
}

void mmi_store_prune(struct mmi_store *s, bool (*still)(void *ctx, uint64_t index), void *ctx)
{
    struct mmi_store_kept *k = s->kept;
    if (!k)
        return;
    size_t kept = 0;
    for (size_t i = 0; i < k->count; i++) {
        if (still && still(ctx, k->index[i])) {
            k->index[kept] = k->index[i];
            k->copy[kept++] = k->copy[i];
            continue;
        }
        k->bits[k->index[i] / 8] &= (uint8_t)~(1u << (k->index[i] % 8));
        if (k->copy[i]) {
            grow((void **)&k->spare, &k->spare_cap, k->spares + 1, sizeof *k->spare);
            k->spare[k->spares++] = k->copy[i];
        }
    }
    k->count = kept;
}


/* Zeroing in place is far cheaper than returning the storage to the host
 * (a hole punched in the file costs a system call now and a kernel page fault
 * at the next write); host memory stays bounded by the frames ever written. */
void mmi_store_release(struct mmi_store *s, uint64_t index)
{
    if (s->kept)
        mmi_store_keep(s, index);
    if (s->base) {
        memset(s->base + index * MM_PAGE_SIZE, 0, MM_PAGE_SIZE);
        return;
    }
    unsigned char *chunk = s->chunks[index / CHUNK_PAGES];
    if (chunk)
        memset(chunk + (index % CHUNK_PAGES) * MM_PAGE_SIZE, 0, MM_PAGE_SIZE);
}

int mmi_store_fd(const struct mmi_store *s) { return s->fd; }
