/* libmm/pfn.c — the PFN database and page lists. Entries are created in
 * chunks of 1024 as frames are first used, so a machine with 64 GiB of RAM
 * costs what it touches. Frames never used sit implicitly at the end of the
 * zeroed list. */
#include "pfn.h"

#include <assert.h>
#include <string.h>

#include "alloc.h"
#include "bugcheck.h"
#include "machine.h"
#include "pagefile.h"
#include "pte.h"

_Static_assert(sizeof(struct mmi_pfn) <= 48, "a PFN entry must not exceed Windows' 48-byte MMPFN");

bool mmi_pfn_init(mm_machine *m, uint64_t pages)
{
    struct mmi_pfndb *db = &m->pfn;
    *db = (struct mmi_pfndb){.pages = pages};
    for (unsigned i = 0; i <= MM_BAD_PAGE_LIST; i++)
        db->list[i] = (struct mmi_list){MMI_LINK_NONE, MMI_LINK_NONE, 0};
    return mmi_grow(m, (void **)&db->chunks, &db->chunk_cap, 1, sizeof *db->chunks, 4);
}

void mmi_pfn_fini(mm_machine *m)
{
    struct mmi_pfndb *db = &m->pfn;
    if (!db->chunks)
        return;
    for (size_t i = 0; i < db->chunk_cap; i++)
        mmi_free(m, db->chunks[i]);
    mmi_free(m, db->chunks);
    db->chunks = NULL;
}

bool mmi_pfn_is_ram(const mm_machine *m, mm_pfn pfn) { return pfn < m->pfn.pages; }

struct mmi_pfn *mmi_pfn(mm_machine *m, mm_pfn pfn)
{
    assert(pfn < m->pfn.untouched);
    return &m->pfn.chunks[pfn >> MMI_CHUNK_SHIFT][pfn & (MMI_CHUNK_PAGES - 1)];
}

uint64_t mmi_pfn_list_count(const mm_machine *m, unsigned location)
{
    if (location == MM_ACTIVE_AND_VALID)
        return m->pfn.active;
    if (location == MM_TRANSITION_PAGE)
        return m->pfn.transition;
    uint64_t n = m->pfn.list[location].count;
    if (location == MM_ZEROED_PAGE_LIST)
        n += m->pfn.pages - m->pfn.untouched;
    return n;
}

/* ---- location bookkeeping ---- */

static void count_location(mm_machine *m, unsigned location, int delta)
{
    if (location == MM_ACTIVE_AND_VALID)
        m->pfn.active += (uint64_t)(int64_t)delta;
    else if (location == MM_TRANSITION_PAGE)
        m->pfn.transition += (uint64_t)(int64_t)delta;
}

void mmi_pfn_set_location(mm_machine *m, mm_pfn pfn, unsigned location)
{
    struct mmi_pfn *e = mmi_pfn(m, pfn);
    unsigned old = mmi_pfn_location(e);
    if (old == location)
        return;
    count_location(m, old, -1);
    count_location(m, location, +1);
    e->flags = (uint16_t)((e->flags & ~MMI_PF_LOCATION) | location);
    mmi_trace(m, MM_EV_PFN_LIST, 0, pfn, old, location);
}

/* Links the frame at the tail of a list (its location already says so). */
static void append(mm_machine *m, struct mmi_list *l, mm_pfn pfn)
{
    struct mmi_pfn *e = mmi_pfn(m, pfn);
    e->flink = MMI_LINK_NONE;
    e->blink = l->tail;
    if (l->tail != MMI_LINK_NONE)
        mmi_pfn(m, l->tail)->flink = (uint32_t)pfn;
    else
        l->head = (uint32_t)pfn;
    l->tail = (uint32_t)pfn;
    l->count++;
}

void mmi_pfn_list_insert(mm_machine *m, mm_pfn pfn, unsigned location)
{
    assert(location <= MM_BAD_PAGE_LIST);
    struct mmi_pfn *e = mmi_pfn(m, pfn);
    assert(e->reference_count == 0);
    unsigned old = mmi_pfn_location(e);
    count_location(m, old, -1);
    e->flags = (uint16_t)((e->flags & ~MMI_PF_LOCATION) | location);
    e->share_count = 0;
    append(m, &m->pfn.list[location], pfn);
    mmi_trace(m, MM_EV_PFN_LIST, 0, pfn, old, location);
}

void mmi_pfn_list_remove(mm_machine *m, mm_pfn pfn)
{
    struct mmi_pfn *e = mmi_pfn(m, pfn);
    unsigned location = mmi_pfn_location(e);
    assert(location <= MM_BAD_PAGE_LIST);
    struct mmi_list *l = &m->pfn.list[location];
    if (e->blink != MMI_LINK_NONE)
        mmi_pfn(m, e->blink)->flink = e->flink;
    else
        l->head = e->flink;
    if (e->flink != MMI_LINK_NONE)
        mmi_pfn(m, e->flink)->blink = e->blink;
    else
        l->tail = e->blink;
    l->count--;
    e->flink = e->blink = 0;
    /* Off every list: the caller gives it a new location at once. */
    e->flags = (uint16_t)((e->flags & ~MMI_PF_LOCATION) | MM_TRANSITION_PAGE);
    count_location(m, MM_TRANSITION_PAGE, +1);
    mmi_trace(m, MM_EV_PFN_LIST, 0, pfn, location, MM_TRANSITION_PAGE);
}

/* ---- frame contents ---- */

void mmi_frame_mark_stored(mm_machine *m, mm_pfn pfn)
{
    struct mmi_pfn *e = mmi_pfn(m, pfn);
    if (!mmi_pfn_has(e, MMI_PF_STORED)) {
        mmi_pfn_flag(e, MMI_PF_STORED, true);
        m->store.stored++;
    }
}

static unsigned char *frame_for_write(mm_machine *m, mm_pfn pfn)
{
    unsigned char *p = mmi_store_page_for_write(m, &m->store, pfn);
    assert(p != NULL);
    mmi_frame_mark_stored(m, pfn);
    return p;
}

void mmi_frame_read(mm_machine *m, mm_pfn pfn, uint32_t offset, void *buf, size_t len)
{
    assert(offset + len <= MM_PAGE_SIZE);
    if (pfn >= m->pfn.untouched || !mmi_pfn_has(mmi_pfn(m, pfn), MMI_PF_STORED)) {
        memset(buf, 0, len);
        return;
    }
    memcpy(buf, mmi_store_page(m, &m->store, pfn) + offset, len);
}

void mmi_frame_write(mm_machine *m, mm_pfn pfn, uint32_t offset, const void *buf, size_t len)
{
    assert(offset + len <= MM_PAGE_SIZE);
    memcpy(frame_for_write(m, pfn) + offset, buf, len);
}

const uint64_t *mmi_frame_quads(mm_machine *m, mm_pfn pfn)
{
    static const uint64_t zero_page[MM_PAGE_SIZE / 8];
    if (pfn >= m->pfn.untouched || !mmi_pfn_has(mmi_pfn(m, pfn), MMI_PF_STORED))
        return zero_page;
    return (const uint64_t *)(const void *)mmi_store_page(m, &m->store, pfn);
}

uint64_t mmi_frame_read64(mm_machine *m, mm_pfn pfn, unsigned index)
{
    assert(index < MM_PAGE_SIZE / 8);
    return mmi_frame_quads(m, pfn)[index];
}

void mmi_frame_write64(mm_machine *m, mm_pfn pfn, unsigned index, uint64_t value)
{
    mmi_frame_quads_for_write(m, pfn)[index] = value;
}

uint64_t *mmi_frame_quads_for_write(mm_machine *m, mm_pfn pfn)
{
    return (uint64_t *)(void *)frame_for_write(m, pfn);
}

void mmi_frame_zero(mm_machine *m, mm_pfn pfn)
{
    struct mmi_pfn *e = mmi_pfn(m, pfn);
    if (!mmi_pfn_has(e, MMI_PF_STORED))
        return;
    mmi_store_release(&m->store, pfn);
    mmi_pfn_flag(e, MMI_PF_STORED, false);
    m->store.stored--;
}

void mmi_frame_copy(mm_machine *m, mm_pfn dst, mm_pfn src)
{
    if (!mmi_pfn_has(mmi_pfn(m, src), MMI_PF_STORED)) {
        mmi_frame_zero(m, dst);
        return;
    }
    memcpy(frame_for_write(m, dst), mmi_store_page(m, &m->store, src), MM_PAGE_SIZE);
}

/* ---- taking frames ---- */

static bool ensure_chunk(mm_machine *m, mm_pfn pfn)
{
    struct mmi_pfndb *db = &m->pfn;
    if (!mmi_grow(m, (void **)&db->chunks, &db->chunk_cap, (size_t)(pfn >> MMI_CHUNK_SHIFT) + 1, sizeof *db->chunks,
                  4))
        return false;
    struct mmi_pfn **chunk = &db->chunks[pfn >> MMI_CHUNK_SHIFT];
    if (!*chunk)
        *chunk = mmi_alloc(m, MMI_CHUNK_PAGES * sizeof **chunk);
    return *chunk != NULL;
}

static mm_status materialise_untouched(mm_machine *m, mm_pfn *out)
{
    struct mmi_pfndb *db = &m->pfn;
    if (db->untouched == db->pages)
        return MM_STATUS_NO_MEMORY;
    mm_pfn pfn = db->untouched;
    if (!ensure_chunk(m, pfn))
        return MM_STATUS_INSUFFICIENT_RESOURCES;
    db->untouched++;
    struct mmi_pfn *e = mmi_pfn(m, pfn);
    *e = (struct mmi_pfn){.flags = MM_TRANSITION_PAGE};
    db->transition++;
    mmi_trace(m, MM_EV_PFN_LIST, 0, pfn, MM_ZEROED_PAGE_LIST, MM_TRANSITION_PAGE);
    *out = pfn;
    return MM_STATUS_SUCCESS;
}

/* The standby page's last PTE still holds it in transition: give that PTE
 * its original (demand-zero or page-file) contents back. */
static void repurpose(mm_machine *m, mm_pfn pfn)
{
    struct mmi_pfn *e = mmi_pfn(m, pfn);
    unsigned index = (unsigned)((e->pte_address >> 3) & 511);
    mmi_pte_set(m, e->pte_frame, index, mmi_va_from_pte_address(e->pte_address), e->original_pte);
    e->original_pte = 0;
}

static bool take_from(mm_machine *m, unsigned location, mm_pfn *pfn)
{
    if (!m->pfn.list[location].count)
        return false;
    *pfn = m->pfn.list[location].head;
    mmi_pfn_list_remove(m, *pfn);
    return true;
}

uint64_t mmi_pfn_purge_standby(mm_machine *m, uint64_t max_pages)
{
    uint64_t n = 0;
    mm_pfn pfn;
    while (n < max_pages && take_from(m, MM_STANDBY_PAGE_LIST, &pfn)) {
        repurpose(m, pfn);
        struct mmi_pfn *e = mmi_pfn(m, pfn);
        e->flags &= MMI_PF_LOCATION | MMI_PF_STORED;
        mmi_pfn_list_insert(m, pfn, MM_FREE_PAGE_LIST);
        n++;
    }
    return n;
}

/* Like MiRemoveAnyPage / MiRemoveZeroPage: a page that will be overwritten
 * comes from the free list first; a page that must read as zeros from the
 * zeroed list first (a free page is zeroed on the way). Standby pages are
 * repurposed last. */
mm_status mmi_pfn_take(mm_machine *m, bool zeroed, mm_pfn *out)
{
    struct mmi_pfndb *db = &m->pfn;
    mm_pfn pfn;
    bool dirty = false;
    /* Frames that were used before come first, so the host memory behind
     * simulated RAM follows what the machine holds, not what it ever held:
     * a freed frame is zeroed rather than a never-used one touched. */
    if (!zeroed && take_from(m, MM_FREE_PAGE_LIST, &pfn)) {
    } else if (take_from(m, MM_ZEROED_PAGE_LIST, &pfn)) {
    } else if (take_from(m, MM_FREE_PAGE_LIST, &pfn)) {
        dirty = true;
    } else if (db->untouched < db->pages) {
        mm_status st = materialise_untouched(m, &pfn);
        if (!MM_SUCCESS(st))
            return st;
    } else if (take_from(m, MM_STANDBY_PAGE_LIST, &pfn)) {
        repurpose(m, pfn);
        dirty = true;
    } else {
        return MM_STATUS_NO_MEMORY;
    }
    if (zeroed && dirty)
        mmi_frame_zero(m, pfn);
    struct mmi_pfn *e = mmi_pfn(m, pfn);
    e->flags &= MMI_PF_LOCATION | MMI_PF_STORED;
    *out = pfn;
    return MM_STATUS_SUCCESS;
}

mm_status mmi_pfn_take_table(mm_machine *m, mm_pfn *out)
{
    mm_status st = mmi_pfn_take(m, true, out);
    if (MM_SUCCESS(st))
        mmi_frame_zero(m, *out); /* nothing to do unless it was written while listed */
    return st;
}

/* Never-used frames keep their place at the end of the zeroed list: they
 * only gain entries, appended in frame order, with no trace event (nothing
 * moved). */
mm_status mmi_pfn_materialise(mm_machine *m, mm_pfn end)
{
    struct mmi_pfndb *db = &m->pfn;
    assert(end <= db->pages);
    while (db->untouched < end) {
        mm_pfn pfn = db->untouched;
        if (!ensure_chunk(m, pfn))
            return MM_STATUS_INSUFFICIENT_RESOURCES;
        db->untouched++;
        *mmi_pfn(m, pfn) = (struct mmi_pfn){.flags = MM_ZEROED_PAGE_LIST};
        append(m, &db->list[MM_ZEROED_PAGE_LIST], pfn);
    }
    return MM_STATUS_SUCCESS;
}

bool mmi_pfn_available(mm_machine *m, mm_pfn pfn)
{
    if (pfn >= m->pfn.untouched)
        return pfn < m->pfn.pages;
    unsigned location = mmi_pfn_location(mmi_pfn(m, pfn));
    return location == MM_ZEROED_PAGE_LIST || location == MM_FREE_PAGE_LIST || location == MM_STANDBY_PAGE_LIST;
}

mm_status mmi_pfn_take_frame(mm_machine *m, mm_pfn pfn, bool zeroed)
{
    assert(mmi_pfn_available(m, pfn));
    mm_status st = mmi_pfn_materialise(m, pfn + 1);
    if (!MM_SUCCESS(st))
        return st;
    struct mmi_pfn *e = mmi_pfn(m, pfn);
    unsigned location = mmi_pfn_location(e);
    mmi_pfn_list_remove(m, pfn);
    if (location == MM_STANDBY_PAGE_LIST)
        repurpose(m, pfn);
    if (zeroed && location != MM_ZEROED_PAGE_LIST)
        mmi_frame_zero(m, pfn);
    e->flags &= MMI_PF_LOCATION | MMI_PF_STORED;
    return MM_STATUS_SUCCESS;
}

void mmi_pfn_init_active(mm_machine *m, mm_pfn pfn, mm_va pte_address, mm_pfn pte_frame, uint64_t original_pte,
                         uint32_t owner, mm_page_use use)
{
    struct mmi_pfn *e = mmi_pfn(m, pfn);
    e->flink = e->blink = 0;
    e->pte_address = pte_address;
    e->pte_frame = (uint32_t)pte_frame;
    e->original_pte = original_pte;
    e->owner = owner;
    e->flags = (uint16_t)((e->flags & MMI_PF_STORED) | ((unsigned)use << MMI_PF_USE_SHIFT) |
                          (MM_PFN_CACHED << MMI_PF_CACHE_SHIFT));
    e->flags |= MM_TRANSITION_PAGE; /* set_location below accounts the move */
    mmi_pfn_set_location(m, pfn, MM_ACTIVE_AND_VALID);
    e->reference_count = 1;
    e->share_count = 1;
    mmi_trace(m, MM_EV_PFN_REF, 0, pfn, 0, 1);
    mmi_trace(m, MM_EV_PFN_SHARE, 0, pfn, 0, 1);
}

/* ---- counts ---- */

void mmi_pfn_reactivate(mm_machine *m, mm_pfn pfn)
{
    struct mmi_pfn *e = mmi_pfn(m, pfn);
    if (mmi_pfn_location(e) != MM_TRANSITION_PAGE)
        mmi_pfn_list_remove(m, pfn);
    mmi_pfn_set_location(m, pfn, MM_ACTIVE_AND_VALID);
    mmi_pfn_ref_inc(m, pfn);
    e->share_count = 1;
    mmi_trace(m, MM_EV_PFN_SHARE, 0, pfn, 0, 1);
}

void mmi_pfn_share_inc(mm_machine *m, mm_pfn pfn)
{
    struct mmi_pfn *e = mmi_pfn(m, pfn);
    e->share_count++;
    mmi_trace(m, MM_EV_PFN_SHARE, 0, pfn, e->share_count - 1, e->share_count);
}

void mmi_pfn_ref_inc(mm_machine *m, mm_pfn pfn)
{
    struct mmi_pfn *e = mmi_pfn(m, pfn);
    assert(e->reference_count < UINT16_MAX);
    e->reference_count++;
    mmi_trace(m, MM_EV_PFN_REF, 0, pfn, e->reference_count - 1u, e->reference_count);
}

static void release_pagefile_copy(mm_machine *m, struct mmi_pfn *e)
{
    if (mmi_pte_is_pagefile(e->original_pte)) {
        mmi_pagefile_free(m, mmi_pte_pagefile_slot(e->original_pte));
        e->original_pte = mmi_pte_make_demand_zero(mmi_pte_protection(e->original_pte));
    }
}

/* Reference count reached zero on a page no PTE maps. */
void mmi_pfn_mark_modified(mm_machine *m, mm_pfn pfn)
{
    struct mmi_pfn *e = mmi_pfn(m, pfn);
    mmi_pfn_flag(e, MMI_PF_MODIFIED, true);
    if (mmi_pte_is_pagefile(e->original_pte)) {
        mmi_pagefile_free(m, mmi_pte_pagefile_slot(e->original_pte));
        e->original_pte = mmi_pte_make_demand_zero(mmi_pte_protection(e->original_pte));
    }
}

/* MiDecrementShareCount for a prototype page: nobody maps it any more, so
 * its prototype PTE becomes a transition PTE naming the frame. The
 * prototype sits in pool, not in a page table: no share moves. */
static void prototype_to_transition(mm_machine *m, mm_pfn pfn, const struct mmi_pfn *e)
{
    unsigned index = (unsigned)((e->pte_address >> 3) & 511);
    uint64_t old = mmi_frame_read64(m, e->pte_frame, index);
    uint64_t now = mmi_pte_make_transition(pfn, mmi_pte_protection(e->original_pte));
    mmi_frame_write64(m, e->pte_frame, index, now);
    mmi_trace(m, MM_EV_PTE_WRITE, e->pte_address, e->pte_frame, old, now);
}

static void page_unreferenced(mm_machine *m, mm_pfn pfn)
{
    struct mmi_pfn *e = mmi_pfn(m, pfn);
    if (mmi_pfn_has(e, MMI_PF_DELETED)) {
        release_pagefile_copy(m, e);
        mmi_pfn_flag(e, MMI_PF_MODIFIED, false);
        mmi_pfn_flag(e, MMI_PF_DELETED, false);
        e->pte_address = 0;
        e->pte_frame = 0;
        e->owner = 0;
        e->original_pte = 0;
        e->flags &= (uint16_t)~MMI_PF_USE;
        mmi_pfn_list_insert(m, pfn, MM_FREE_PAGE_LIST);
    } else if (mmi_pfn_has(e, MMI_PF_MODIFIED)) {
        mmi_pfn_list_insert(m, pfn, MM_MODIFIED_PAGE_LIST);
    } else {
        mmi_pfn_list_insert(m, pfn, MM_STANDBY_PAGE_LIST);
    }
}

mm_status mmi_pfn_ref_dec(mm_machine *m, mm_pfn pfn)
{
    struct mmi_pfn *e = mmi_pfn(m, pfn);
    if (e->reference_count == 0)
        return mmi_bugcheck(m, MM_BUGCHECK_PFN_LIST_CORRUPT, 0x02, pfn, m->pfn.pages - 1, 0, pfn, 0,
                            "the reference count of PFN 0x%llx was dropped below zero: it was released "
                            "more times than it was referenced",
                            (unsigned long long)pfn);
    e->reference_count--;
    mmi_trace(m, MM_EV_PFN_REF, 0, pfn, e->reference_count + 1u, e->reference_count);
    if (e->reference_count > 0)
        return MM_STATUS_SUCCESS;
    if (e->share_count != 0)
        return mmi_bugcheck(m, MM_BUGCHECK_PFN_LIST_CORRUPT, 0x07, pfn, e->share_count, 0, pfn, 0,
                            "the last reference to PFN 0x%llx was dropped while %u PTE(s) still map it: "
                            "the page was unlocked more times than it was locked",
                            (unsigned long long)pfn, e->share_count);
    assert(mmi_pfn_location(e) != MM_ACTIVE_AND_VALID);
    page_unreferenced(m, pfn);
    return MM_STATUS_SUCCESS;
}

mm_status mmi_pfn_share_dec(mm_machine *m, mm_pfn pfn)
{
    struct mmi_pfn *e = mmi_pfn(m, pfn);
    unsigned location = mmi_pfn_location(e);
    if ((location != MM_ACTIVE_AND_VALID && location != MM_STANDBY_PAGE_LIST) || e->share_count == 0)
        return mmi_bugcheck(m, MM_BUGCHECK_PFN_LIST_CORRUPT, 0x99, pfn, location, 0, pfn, 0,
                            "a PTE mapping PFN 0x%llx was removed but the page is %s with share count %u",
                            (unsigned long long)pfn, mm_page_location_name(location), e->share_count);
    e->share_count--;
    mmi_trace(m, MM_EV_PFN_SHARE, 0, pfn, e->share_count + 1u, e->share_count);
    if (e->share_count > 0)
        return MM_STATUS_SUCCESS;
    if (mmi_pfn_use(e) == MM_USE_SECTION && !mmi_pfn_has(e, MMI_PF_DELETED))
        prototype_to_transition(m, pfn, e);
    mmi_pfn_set_location(m, pfn, MM_TRANSITION_PAGE);
    return mmi_pfn_ref_dec(m, pfn);
}

mm_status mmi_pfn_delete(mm_machine *m, mm_pfn pfn, bool valid)
{
    struct mmi_pfn *e = mmi_pfn(m, pfn);
    mmi_pfn_flag(e, MMI_PF_DELETED, true);
    if (valid)
        return mmi_pfn_share_dec(m, pfn);
    unsigned location = mmi_pfn_location(e);
    if (location == MM_STANDBY_PAGE_LIST || location == MM_MODIFIED_PAGE_LIST ||
        location == MM_MODIFIED_NO_WRITE_PAGE_LIST) {
        mmi_pfn_list_remove(m, pfn);
        page_unreferenced(m, pfn);
    }
    /* In transition with references left (locked): freed at the last one. */
    return MM_STATUS_SUCCESS;
}

const char *mm_page_location_name(unsigned location)
{
    static const char *const names[] = {"Zeroed", "Free", "Standby", "Modified",
                                        "ModifiedNoWrite", "Bad", "Active", "Transition"};
    return location < 8 ? names[location] : "?";
}

/* ---- locking and unlocking single frames (MiReferenceProbedPageAndBump-
 * LockCount / MiDereferencePfnAndDropLockCount) ---- */

/* Windows refuses a lock on a page referenced MmReferenceCountCheck
 * (32767) times: the probe raises STATUS_WORKING_SET_QUOTA. */
#define REFERENCE_COUNT_CHECK 32767u

mm_status mmi_lock_frame(mm_machine *m, mm_pfn pfn)
{
    struct mmi_pfn *e = mmi_pfn(m, pfn);
    unsigned location = mmi_pfn_location(e);
    if (location != MM_ACTIVE_AND_VALID && location != MM_TRANSITION_PAGE) /* e.g. RAM an I/O mapping reached */
        return mmi_bugcheck(m, MM_BUGCHECK_PFN_LIST_CORRUPT, 0x99, pfn, location, 0, pfn, 0,
                            "%s locked PFN 0x%llx through a valid PTE, but the page is on the %s list: the PTE "
                            "maps a frame the memory manager does not consider in use", m->op,
                            (unsigned long long)pfn, mm_page_location_name(location));
    if (e->reference_count >= REFERENCE_COUNT_CHECK)
        return MM_STATUS_WORKING_SET_QUOTA;
    if (e->reference_count == 1)
        m->pfn.system_locked++; /* the frame's first lock */
    mmi_pfn_ref_inc(m, pfn);
    return MM_STATUS_SUCCESS;
}

mm_status mmi_unlock_frame(mm_machine *m, mm_pfn pfn)
{
    struct mmi_pfn *e = mmi_pfn(m, pfn);
    uint16_t old = e->reference_count;
    if ((old == 1 && e->share_count == 0) || (old == 2 && e->share_count >= 1))
        if (m->pfn.system_locked)
            m->pfn.system_locked--;
    return mmi_pfn_ref_dec(m, pfn);
}

/* The hot loops read the database's chunk table and bound into locals:
 * their stores (counts, trace payload) cannot then force reloads. */
static bool lock_is_quick(struct mmi_pfn *const *chunks, uint64_t untouched, mm_pfn pfn, struct mmi_pfn **out)
{
    if (pfn >= untouched) /* device memory, or a frame never used */
        return false;
    struct mmi_pfn *e = &chunks[pfn >> MMI_CHUNK_SHIFT][pfn & (MMI_CHUNK_PAGES - 1)];
    unsigned location = mmi_pfn_location(e);
    *out = e;
    return (location == MM_ACTIVE_AND_VALID || location == MM_TRANSITION_PAGE) &&
           e->reference_count < REFERENCE_COUNT_CHECK;
}

uint64_t mmi_lock_frames_quick(mm_machine *m, const mm_pfn *pfns, uint64_t count)
{
    struct mmi_pfn *const *chunks = m->pfn.chunks;
    uint64_t untouched = m->pfn.untouched, i = 0, first_locks = 0;
    mmi_trace_run_begin(m, MMI_RUN_REF_UP, 0, MM_PFN_NONE, 0);
    struct mmi_run_writer w = mmi_trace_run_writer(&m->trace);
    for (struct mmi_pfn *e; i < count && lock_is_quick(chunks, untouched, pfns[i], &e); i++) {
        first_locks += e->reference_count == 1; /* the frame's first lock */
        mmi_trace_run_put(m, &w, mmi_trace_ref_value(pfns[i], e->reference_count));
        e->reference_count++;
    }
    m->pfn.system_locked += first_locks;
    mmi_trace_run_done(&m->trace, &w);
    mmi_trace_run_end(m);
    return i;
}

uint64_t mmi_unlock_frames_quick(mm_machine *m, const mm_pfn *pfns, uint64_t count)
{
    struct mmi_pfn *const *chunks = m->pfn.chunks;
    uint64_t untouched = m->pfn.untouched, i = 0, last_locks = 0;
    mmi_trace_run_begin(m, MMI_RUN_REF_DOWN, 0, MM_PFN_NONE, 0);
    struct mmi_run_writer w = mmi_trace_run_writer(&m->trace);
    for (; i < count && pfns[i] < untouched; i++) {
        struct mmi_pfn *e = &chunks[pfns[i] >> MMI_CHUNK_SHIFT][pfns[i] & (MMI_CHUNK_PAGES - 1)];
        if (e->reference_count < 2)
            break;
        last_locks += e->reference_count == 2 && e->share_count >= 1; /* mmi_unlock_frame's rule */
        mmi_trace_run_put(m, &w, mmi_trace_ref_value(pfns[i], e->reference_count));
        e->reference_count--;
    }
    /* The count of locked frames goes down by one per last lock, not below zero. */
    m->pfn.system_locked = m->pfn.system_locked > last_locks ? m->pfn.system_locked - last_locks : 0;
    mmi_trace_run_done(&m->trace, &w);
    mmi_trace_run_end(m);
    return i;
}
