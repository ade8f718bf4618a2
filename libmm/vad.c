/* libmm/vad.c — the VAD table: a sorted array (processes hold few VADs; a
 * binary search finds the one covering an address). */
#include "vad.h"

#include <string.h>

#include "alloc.h"

static size_t lower_bound(const struct mmi_vad_table *t, mm_va va)
{
    size_t lo = 0, hi = t->count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (t->v[mid].end <= va)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo; /* first VAD whose end is above va */
}

struct mmi_vad *mmi_vad_find(struct mmi_vad_table *t, mm_va va)
{
    size_t i = lower_bound(t, va);
    return i < t->count && t->v[i].start <= va ? &t->v[i] : NULL;
}

bool mmi_vad_range_free(const struct mmi_vad_table *t, mm_va start, mm_va end)
{
    size_t i = lower_bound(t, start);
    return i == t->count || t->v[i].start >= end;
}

mm_va mmi_vad_find_free(const struct mmi_vad_table *t, uint64_t bytes)
{
    mm_va candidate = MM_LOWEST_USER_ADDRESS;
    for (size_t i = 0; i <= t->count; i++) {
        mm_va limit = i < t->count ? t->v[i].start : MM_HIGHEST_USER_ADDRESS + 1 - MM_ALLOCATION_GRANULARITY;
        if (candidate < limit && limit - candidate >= bytes)
            return candidate;
        if (i < t->count) {
            mm_va end = t->v[i].end;
            candidate = (end + MM_ALLOCATION_GRANULARITY - 1) & ~(mm_va)(MM_ALLOCATION_GRANULARITY - 1);
        }
    }
    return 0;
}

struct mmi_vad *mmi_vad_insert(mm_machine *m, struct mmi_vad_table *t, const struct mmi_vad *vad)
{
    if (!mmi_grow(m, (void **)&t->v, &t->cap, t->count + 1, sizeof *t->v, 8))
        return NULL;
    size_t i = lower_bound(t, vad->start);
    memmove(&t->v[i + 1], &t->v[i], (t->count - i) * sizeof *t->v);
    t->v[i] = *vad;
    t->count++;
    return &t->v[i];
}

void mmi_vad_remove(struct mmi_vad_table *t, struct mmi_vad *vad)
{
    size_t i = (size_t)(vad - t->v);
    memmove(&t->v[i], &t->v[i + 1], (t->count - i - 1) * sizeof *t->v);
    t->count--;
}

void mmi_vad_fini(mm_machine *m, struct mmi_vad_table *t)
{
    mmi_free(m, t->v);
    *t = (struct mmi_vad_table){0};
}
