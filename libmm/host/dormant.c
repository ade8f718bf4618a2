/* libmm/host/dormant.c — the table of dormant pages (see dormant.h): an
 * open-addressed hash of page -> frame (linear probing, deletion by
 * backward shift) and a ring of the pages in the order they went dormant,
 * which says which one gives way when the table is full. */
#include "dormant.h"

#include <stdlib.h>

#define SLOTS (2u * MMI_DORMANT_MAX) /* a power of two, never more than half full */

struct slot {
    mm_va page; /* 0: empty */
    mm_pfn pfn;
};

struct mmi_dormant {
    struct slot slot[SLOTS];
    unsigned count;
    mm_va ring[MMI_DORMANT_MAX]; /* oldest at head; may name pages taken since */
    unsigned head, queued;
};

struct mmi_dormant *mmi_dormant_new(void) { return calloc(1, sizeof(struct mmi_dormant)); }

void mmi_dormant_free(struct mmi_dormant *d) { free(d); }

unsigned mmi_dormant_count(const struct mmi_dormant *d) { return d->count; }

static unsigned home(mm_va page) { return (unsigned)(((page >> MM_PAGE_SHIFT) * UINT64_C(0x9E3779B97F4A7C15)) >> 56) & (SLOTS - 1); }

static struct slot *find(struct mmi_dormant *d, mm_va page)
{
    for (unsigned i = home(page);; i = (i + 1) & (SLOTS - 1)) {
        if (d->slot[i].page == page)
            return &d->slot[i];
        if (!d->slot[i].page)
            return NULL;
    }
}

/* Empties slot s, moving back the entries after it that belong before. */
static void remove_slot(struct mmi_dormant *d, struct slot *s)
{
    unsigned hole = (unsigned)(s - d->slot);
    for (unsigned i = (hole + 1) & (SLOTS - 1); d->slot[i].page; i = (i + 1) & (SLOTS - 1)) {
        unsigned want = home(d->slot[i].page);
        /* The entry at i may fill the hole if its home is not in (hole, i]. */
        if (((i - want) & (SLOTS - 1)) >= ((i - hole) & (SLOTS - 1))) {
            d->slot[hole] = d->slot[i];
            hole = i;
        }
    }
    d->slot[hole].page = 0;
    d->count--;
}

mm_va mmi_dormant_put(struct mmi_dormant *d, mm_va page, mm_pfn pfn)
{
    struct slot *s = find(d, page);
    if (s) { /* already dormant (it cannot be, but stay right if it is) */
        s->pfn = pfn;
        return 0;
    }
    mm_va evicted = 0;
    if (d->queued == MMI_DORMANT_MAX) { /* the oldest entry of the ring goes */
        mm_va old = d->ring[d->head];
        d->head = (d->head + 1) % MMI_DORMANT_MAX;
        d->queued--;
        struct slot *o = find(d, old);
        if (o) {
            remove_slot(d, o);
            evicted = old;
        }
    }
    unsigned i = home(page);
    while (d->slot[i].page)
        i = (i + 1) & (SLOTS - 1);
    d->slot[i] = (struct slot){page, pfn};
    d->count++;
    d->ring[(d->head + d->queued++) % MMI_DORMANT_MAX] = page;
    return evicted;
}

bool mmi_dormant_take_run(struct mmi_dormant *d, mm_va page, mm_pfn pfn, uint64_t pages)
{
    if (pages > d->count)
        return false;
    for (uint64_t i = 0; i < pages; i++) {
        const struct slot *s = find(d, page + i * MM_PAGE_SIZE);
        if (!s || s->pfn != pfn + i)
            return false;
    }
    for (uint64_t i = 0; i < pages; i++)
        remove_slot(d, find(d, page + i * MM_PAGE_SIZE));
    return true;
}

void mmi_dormant_forget(struct mmi_dormant *d, mm_va page, uint64_t pages)
{
    if (!d->count)
        return;
    if (pages <= 8) {
        for (uint64_t i = 0; i < pages; i++) {
            struct slot *s = find(d, page + i * MM_PAGE_SIZE);
            if (s)
                remove_slot(d, s);
        }
        return;
    }
    for (unsigned i = 0; i < SLOTS;) { /* a long range: one pass over the table */
        if (d->slot[i].page && d->slot[i].page - page < pages * MM_PAGE_SIZE) {
            remove_slot(d, &d->slot[i]); /* another entry may now sit at i */
            continue;
        }
        i++;
    }
}
