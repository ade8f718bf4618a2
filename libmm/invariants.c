/* libmm/invariants.c — mm_machine_check_invariants: every structural rule of
 * the model, checked from scratch (lists against locations and counts, page
 * tables against share counts, PTE back-pointers, working sets, commit and
 * page-file accounting). Tests and fuzzers call it after every step. */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "alloc.h"
#include "bugcheck.h"
#include "machine.h"
#include "mdl.h"
#include "pfn.h"
#include "physical.h"
#include "process.h"
#include "section.h"
#include "pte.h"
#include "tlb.h"
#include "syspte.h"
#include "vad.h"
#include "workset.h"

/* The checker is no part of the model: a fuzzer built with the model
 * instrumented would spend most of its time tracing the checker's
 * comparisons, and they would crowd the model's out of its table. */
#ifdef __clang__
#pragma clang attribute push(__attribute__((no_sanitize("coverage"))), apply_to = function)
#endif

/* The checker's reads, inline (uninstrumented, see above). */
static const struct mmi_pfn *pfn_entry(const mm_machine *m, mm_pfn pfn)
{
    assert(pfn < m->pfn.untouched);
    return mmi_pfn_in(&m->pfn, pfn);
}

struct check {
    mm_machine *m;
    char *why;
    size_t size;
    uint32_t *mapped;     /* valid leaf PTEs per frame */
    uint8_t *is_table;    /* frame reached as a page table */
    uint64_t *slots;      /* page-file slots referenced, in the order found */
    size_t slot_count, slot_cap;
};

static mm_status fail(struct check *c, const char *fmt, ...) MMI_PRINTF(2, 3);
static mm_status fail(struct check *c, const char *fmt, ...)
{
    if (c->why && c->size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->why, c->size, fmt, ap);
        va_end(ap);
    }
    return MM_STATUS_UNSUCCESSFUL;
}

#define CHECK(cond, ...)                    \
    do {                                    \
        if (!(cond))                        \
            return fail(c, __VA_ARGS__);    \
    } while (0)
#define TRY(expr)                           \
    do {                                    \
        mm_status st_ = (expr);             \
        if (!MM_SUCCESS(st_))               \
            return st_;                     \
    } while (0)

static mm_status check_lists(struct check *c)
{
    mm_machine *m = c->m;
    for (unsigned l = 0; l <= MM_BAD_PAGE_LIST; l++) {
        const struct mmi_list *list = &m->pfn.list[l];
        uint64_t n = 0;
        uint32_t prev = MMI_LINK_NONE;
        for (uint32_t pfn = list->head; pfn != MMI_LINK_NONE; pfn = pfn_entry(m, pfn)->flink) {
            CHECK(pfn < m->pfn.untouched, "%s list holds PFN 0x%x beyond the materialised range",
                  mm_page_location_name(l), pfn);
            const struct mmi_pfn *e = pfn_entry(m, pfn);
            CHECK(mmi_pfn_location(e) == l, "PFN 0x%x is on the %s list but its location is %s", pfn,
                  mm_page_location_name(l), mm_page_location_name(mmi_pfn_location(e)));
            CHECK(e->reference_count == 0, "PFN 0x%x on the %s list has reference count %u", pfn,
                  mm_page_location_name(l), e->reference_count);
            CHECK(e->blink == prev, "PFN 0x%x on the %s list has a broken back link", pfn, mm_page_location_name(l));
            CHECK(++n <= list->count, "the %s list is longer than its count %llu", mm_page_location_name(l),
                  (unsigned long long)list->count);
            prev = pfn;
        }
        CHECK(n == list->count, "the %s list holds %llu pages but counts %llu", mm_page_location_name(l),
              (unsigned long long)n, (unsigned long long)list->count);
        CHECK(list->tail == prev, "the %s list tail is wrong", mm_page_location_name(l));
    }
    return MM_STATUS_SUCCESS;
}

static mm_status note_slot(struct check *c, uint64_t slot, const char *where)
{
    mm_machine *m = c->m;
    CHECK(slot < m->pagefile.slots && mmi_bitmap_test(&m->pagefile.used, slot),
          "%s refers to page-file slot %llu, which is not in use", where, (unsigned long long)slot);
    CHECK(mmi_grow(m, (void **)&c->slots, &c->slot_cap, c->slot_count + 1, sizeof *c->slots, 64),
          "no host memory to check page-file slots");
    c->slots[c->slot_count++] = slot;
    return MM_STATUS_SUCCESS;
}

static mm_status check_leaf(struct check *c, mm_pfn table, unsigned index, mm_va va, uint64_t pte)
{
    mm_machine *m = c->m;
    if (mmi_pte_valid(pte) && (pte & MMI_PTE_MDL_MAPPING))
        return MM_STATUS_SUCCESS; /* borrows the MDL's lock; may be stale (a finding, not corruption) */
    if (!mmi_pte_valid(pte) && mmi_is_syspte_va(m, va))
        return MM_STATUS_SUCCESS; /* reserved-mapping headers: size and tag, not a PTE format */
    if (mmi_pte_valid(pte) || mmi_pte_is_transition(pte)) {
        mm_pfn pfn = mmi_pte_pfn(pte);
        if (!mmi_pfn_is_ram(m, pfn))
            return MM_STATUS_SUCCESS;
        CHECK(pfn < m->pfn.untouched, "PTE for %016llx maps untouched PFN 0x%llx", (unsigned long long)va,
              (unsigned long long)pfn);
        const struct mmi_pfn *e = pfn_entry(m, pfn);
        unsigned loc = mmi_pfn_location(e);
        if (mmi_pte_valid(pte)) {
            CHECK(loc == MM_ACTIVE_AND_VALID, "valid PTE for %016llx maps PFN 0x%llx, which is %s",
                  (unsigned long long)va, (unsigned long long)pfn, mm_page_location_name(loc));
            c->mapped[pfn]++;
        } else {
            CHECK(loc == MM_STANDBY_PAGE_LIST || loc == MM_MODIFIED_PAGE_LIST || loc == MM_TRANSITION_PAGE,
                  "transition PTE for %016llx names PFN 0x%llx, which is %s", (unsigned long long)va,
                  (unsigned long long)pfn, mm_page_location_name(loc));
        }
        /* A section page points back at its prototype PTE instead. */
        CHECK(mmi_pfn_use(e) == MM_USE_SECTION || (e->pte_address == mmi_pte_address(va, 3) && e->pte_frame == table),
              "PFN 0x%llx does not point back at the PTE for %016llx", (unsigned long long)pfn,
              (unsigned long long)va);
        /* A section page's slot is counted once, at its prototype. */
        if (mmi_pfn_use(e) != MM_USE_SECTION && mmi_pte_is_pagefile(e->original_pte))
            TRY(note_slot(c, mmi_pte_pagefile_slot(e->original_pte), "an original PTE"));
    } else if (mmi_pte_is_pagefile(pte)) {
        TRY(note_slot(c, mmi_pte_pagefile_slot(pte), "a page-file PTE"));
    }
    return MM_STATUS_SUCCESS;
}

static mm_va level_va(mm_va base, unsigned level, unsigned index)
{
    mm_va va = base | ((mm_va)index << (39 - 9 * level));
    if (level == 0 && index >= 256)
        va |= UINT64_C(0xFFFF000000000000);
    return va;
}

/* Walks one table and what hangs below it; lo..hi bounds the PML4 slots. */
static mm_status check_table(struct check *c, mm_pfn table, unsigned level, mm_va base, unsigned lo, unsigned hi)
{
    mm_machine *m = c->m;
    CHECK(table < m->pfn.untouched, "page table PFN 0x%llx was never allocated", (unsigned long long)table);
    const struct mmi_pfn *e = pfn_entry(m, table);
    CHECK(mmi_pfn_location(e) == MM_ACTIVE_AND_VALID && mmi_pfn_use(e) == MM_USE_PAGE_TABLE,
          "page table PFN 0x%llx is not an active page-table page", (unsigned long long)table);
    uint32_t valid = 0;
    const uint64_t *q = mmi_frame_quads(m, table); /* nothing writes while the check runs */
    for (unsigned i = 0; i < 512; i++) {
        if (level == 0 && i == MM_PXE_SELFMAP_INDEX)
            continue;
        uint64_t entry = q[i];
        valid += mmi_pte_holds_share(m, level_va(base, level, i), entry, level == 3);
        if (i < lo || i >= hi)
            continue;
        mm_va va = level_va(base, level, i);
        if (level == 3) {
            TRY(check_leaf(c, table, i, va, entry));
        } else if (mmi_pte_valid(entry)) {
            mm_pfn child = mmi_pte_pfn(entry);
            CHECK(!c->is_table[child], "page table PFN 0x%llx is linked twice", (unsigned long long)child);
            c->is_table[child] = 1;
            TRY(check_table(c, child, level + 1, va, 0, 512));
        } else {
            CHECK(entry == 0, "invalid non-leaf entry %016llx in table PFN 0x%llx", (unsigned long long)entry,
                  (unsigned long long)table);
        }
    }
    CHECK(e->share_count == 1 + valid, "page table PFN 0x%llx has share count %u but %u valid or transition entries",
          (unsigned long long)table, e->share_count, valid);
    return MM_STATUS_SUCCESS;
}

static mm_status check_address_spaces(struct check *c)
{
    mm_machine *m = c->m;
    mm_pfn sys = m->system->pml4;
    c->is_table[sys] = 1;
    TRY(check_table(c, sys, 0, 0, 0, 512));
    for (struct mm_process *p = m->process_first; p; p = p->next) {
        if (p == m->system || p->terminated)
            continue;
        CHECK(!c->is_table[p->pml4], "top-level table of process %u is shared", p->id);
        CHECK(mmi_vad_check(&p->vads), "the VAD tree of process %u is out of order, unbalanced or mis-summarised",
              p->id);
        c->is_table[p->pml4] = 1;
        const uint64_t *mine = mmi_frame_quads(m, p->pml4), *system = mmi_frame_quads(m, sys);
        for (unsigned i = 256; i < 512; i++)
            CHECK(i == MM_PXE_SELFMAP_INDEX || mine[i] == system[i], "process %u does not share system PML4 entry %u",
                  p->id, i);
        TRY(check_table(c, p->pml4, 0, 0, 0, 256));
    }
    return MM_STATUS_SUCCESS;
}

/* Share = the valid view PTEs (the prototype holds none); the prototype
 * maps the frame. */
static mm_status check_section_page(struct check *c, mm_pfn pfn, const struct mmi_pfn *e)
{
    mm_machine *m = c->m;
    CHECK(e->share_count == c->mapped[pfn], "section PFN 0x%llx has share count %u but %u views map it",
          (unsigned long long)pfn, e->share_count, c->mapped[pfn]);
    uint64_t proto = mmi_frame_read64(m, e->pte_frame, (unsigned)(MM_BYTE_OFFSET(e->pte_address) / 8));
    CHECK(mmi_pte_valid(proto) && mmi_pte_pfn(proto) == pfn, "the prototype PTE of section PFN 0x%llx does not map it",
          (unsigned long long)pfn);
    return MM_STATUS_SUCCESS;
}

static mm_status check_frames(struct check *c)
{
    mm_machine *m = c->m;
    uint64_t active = 0, transition = 0, stored = 0;
    for (mm_pfn pfn = 0; pfn < m->pfn.untouched; pfn++) {
        const struct mmi_pfn *e = pfn_entry(m, pfn);
        unsigned loc = mmi_pfn_location(e);
        stored += mmi_pfn_has(e, MMI_PF_STORED);
        if (loc == MM_ACTIVE_AND_VALID) {
            active++;
            CHECK(e->share_count >= 1 && e->reference_count >= 1,
                  "active PFN 0x%llx has share %u, reference %u", (unsigned long long)pfn, e->share_count,
                  e->reference_count);
            if (mmi_pfn_use(e) == MM_USE_PAGE_TABLE)
                CHECK(c->is_table[pfn], "page-table PFN 0x%llx is not linked into any table",
                      (unsigned long long)pfn);
            else if (mmi_pfn_use(e) == MM_USE_SECTION)
                TRY(check_section_page(c, pfn, e));
            else if (mmi_pfn_use(e) != MM_USE_MDL_PAGES &&
                     !(c->mapped[pfn] == 0 && mmi_pfn_use(e) == MM_USE_CONTIGUOUS && mmi_physical_orphaned_frame(m, pfn)))
                CHECK(e->share_count == c->mapped[pfn], "PFN 0x%llx has share count %u but %u valid PTEs map it",
                      (unsigned long long)pfn, e->share_count, c->mapped[pfn]);
        } else if (loc == MM_TRANSITION_PAGE) {
            transition++;
            if (mmi_pfn_has(e, MMI_PF_DELETED) && mmi_pte_is_pagefile(e->original_pte))
                TRY(note_slot(c, mmi_pte_pagefile_slot(e->original_pte), "a deleted page"));
            CHECK(e->share_count == 0 && e->reference_count >= 1,
                  "transition PFN 0x%llx has share %u, reference %u", (unsigned long long)pfn, e->share_count,
                  e->reference_count);
        }
    }
    CHECK(active == m->pfn.active, "%llu active pages but the count says %llu", (unsigned long long)active,
          (unsigned long long)m->pfn.active);
    CHECK(transition == m->pfn.transition, "%llu transition pages but the count says %llu",
          (unsigned long long)transition, (unsigned long long)m->pfn.transition);
    CHECK(stored == m->store.stored, "%llu frames hold contents but the store counts %llu",
          (unsigned long long)stored, (unsigned long long)m->store.stored);
    uint64_t total = active + transition;
    for (unsigned l = 0; l <= MM_BAD_PAGE_LIST; l++)
        total += mmi_pfn_list_count(m, l);
    CHECK(total == m->pfn.pages, "page locations add up to %llu of %llu pages", (unsigned long long)total,
          (unsigned long long)m->pfn.pages);
    return MM_STATUS_SUCCESS;
}

static mm_status check_working_set(struct check *c, const struct mmi_working_set *ws)
{
    mm_machine *m = c->m;
    for (uint64_t i = 0; i < ws->count; i++) {
        mm_pfn pfn = ws->e[i].pfn;
        CHECK(pfn < m->pfn.untouched, "working set %u names an untouched frame", ws->owner);
        const struct mmi_pfn *e = pfn_entry(m, pfn);
        CHECK(mmi_pfn_location(e) == MM_ACTIVE_AND_VALID && e->flink == i + 1 &&
                  e->pte_address == mmi_pte_address(ws->e[i].va, 3),
              "working-set entry %llu of %u (PFN 0x%llx at %016llx) does not match its page",
              (unsigned long long)i, ws->owner, (unsigned long long)pfn, (unsigned long long)ws->e[i].va);
    }
    return MM_STATUS_SUCCESS;
}

static int compare_slots(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static mm_status check_accounting(struct check *c)
{
    mm_machine *m = c->m;
    uint64_t commit = m->pool[0].pages + m->pool[1].pages + m->section_commit;
    TRY(check_working_set(c, m->system_ws));
    for (struct mm_process *p = m->process_first; p; p = p->next) {
        commit += p->commit;
        if (!p->terminated && p != m->system)
            TRY(check_working_set(c, &p->ws));
    }
    CHECK(commit == m->commit_charge, "commit charge is %llu but its parts add to %llu",
          (unsigned long long)m->commit_charge, (unsigned long long)commit);
    CHECK(m->commit_charge <= m->commit_limit, "commit charge exceeds the commit limit");
    if (m->pagefile.slots) {
        /* Sorted, each referenced slot appears once; together they are
         * every used slot (slot 0 is never handed out). The cost follows
         * the slots in use, not the page file's size. */
        if (c->slot_count > 1)
            qsort(c->slots, c->slot_count, sizeof *c->slots, compare_slots);
        for (size_t i = 1; i < c->slot_count; i++)
            CHECK(c->slots[i] != c->slots[i - 1], "page-file slot %llu is referenced twice",
                  (unsigned long long)c->slots[i]);
        CHECK(c->slot_count + 1 == m->pagefile.used.set, "%llu page-file slots are used but %llu are referenced",
              (unsigned long long)(m->pagefile.used.set - 1), (unsigned long long)c->slot_count);
    }
    return MM_STATUS_SUCCESS;
}

/* A process's lock charge equals the pages of the MDLs locked for it, and
 * an MDL's system mapping is held in the system PTE pool. */
static mm_status check_mdls(struct check *c)
{
    mm_machine *m = c->m;
    const struct mmi_mdl_state *s = m->mdl;
    for (struct mm_process *p = m->process_first; p; p = p->next) {
        int64_t locked = 0;
        for (const struct mmi_mdl_rec *r = mmi_mdl_first(s); r; r = r->made_next)
            if (r->lock_process == p->id)
                locked += r->charge;
        for (size_t i = 0; i < s->leaked_count; i++)
            if (s->leaked[i].process == p->id)
                locked += (int64_t)s->leaked[i].pages;
        CHECK(p->terminated || locked == p->locked_pages,
              "process %u is charged %lld locked pages but its locked MDLs hold %lld", p->id,
              (long long)p->locked_pages, (long long)locked);
    }
    for (const struct mmi_mdl_rec *r = mmi_mdl_first(s); r; r = r->made_next)
        CHECK(!r->sys_va || mmi_syspte_in_use(m, r->sys_va),
              "MDL %016llx records a system mapping at %016llx whose PTEs are not reserved",
              (unsigned long long)r->mdl, (unsigned long long)r->sys_va);
    return MM_STATUS_SUCCESS;
}

/* A prototype PTE: valid for an active section page, transition for one
 * no view maps (standby, modified, or held by a lock), else demand zero or
 * a page-file slot. */
static mm_status check_prototype(void *ctx, mm_va at, uint64_t pte)
{
    struct check *c = ctx;
    mm_machine *m = c->m;
    if (mmi_pte_is_pagefile(pte))
        return note_slot(c, mmi_pte_pagefile_slot(pte), "a prototype PTE");
    if (!mmi_pte_valid(pte) && !mmi_pte_is_transition(pte))
        return MM_STATUS_SUCCESS;
    mm_pfn pfn = mmi_pte_pfn(pte);
    CHECK(pfn < m->pfn.untouched, "prototype PTE at %016llx names PFN 0x%llx, which was never used",
          (unsigned long long)at, (unsigned long long)pfn);
    const struct mmi_pfn *e = pfn_entry(m, pfn);
    unsigned loc = mmi_pfn_location(e);
    CHECK(mmi_pfn_use(e) == MM_USE_SECTION && e->pte_address == at,
          "prototype PTE at %016llx names PFN 0x%llx, which does not point back at it", (unsigned long long)at,
          (unsigned long long)pfn);
    CHECK(mmi_pte_valid(pte) ? loc == MM_ACTIVE_AND_VALID : loc != MM_ACTIVE_AND_VALID,
          "prototype PTE at %016llx is %s but PFN 0x%llx is %s", (unsigned long long)at,
          mmi_pte_valid(pte) ? "valid" : "in transition", (unsigned long long)pfn, mm_page_location_name(loc));
    if (mmi_pte_is_pagefile(e->original_pte))
        return note_slot(c, mmi_pte_pagefile_slot(e->original_pte), "a section page's original PTE");
    return MM_STATUS_SUCCESS;
}

/* Frames on lists whose original PTE still names a page-file slot. */
static mm_status note_listed_slots(struct check *c)
{
    mm_machine *m = c->m;
    for (mm_pfn pfn = 0; pfn < m->pfn.untouched; pfn++) {
        const struct mmi_pfn *e = pfn_entry(m, pfn);
        unsigned loc = mmi_pfn_location(e);
        if ((loc == MM_FREE_PAGE_LIST || loc == MM_ZEROED_PAGE_LIST) && mmi_pte_is_pagefile(e->original_pte))
            return fail(c, "free PFN 0x%llx still holds a page-file slot", (unsigned long long)pfn);
    }
    return MM_STATUS_SUCCESS;
}

mm_status mm_machine_check_invariants(mm_machine *m, char *why, size_t why_size)
{
    if (!m)
        return MM_STATUS_INVALID_PARAMETER;
    if (why && why_size)
        why[0] = 0;
    struct check c = {.m = m, .why = why, .size = why_size};
    uint64_t frames = m->pfn.untouched ? m->pfn.untouched : 1;
    c.mapped = mmi_alloc(m, (size_t)frames * sizeof *c.mapped);
    c.is_table = mmi_alloc(m, (size_t)frames);
    mm_status st = MM_STATUS_INSUFFICIENT_RESOURCES;
    if (c.mapped && c.is_table) {
        st = check_lists(&c);
        if (MM_SUCCESS(st))
            st = check_address_spaces(&c);
        if (MM_SUCCESS(st))
            st = check_frames(&c);
        if (MM_SUCCESS(st))
            st = note_listed_slots(&c);
        if (MM_SUCCESS(st))
            st = mmi_section_for_each_prototype(m, check_prototype, &c);
        if (MM_SUCCESS(st))
            st = check_accounting(&c);
        if (MM_SUCCESS(st))
            st = check_mdls(&c);
        if (MM_SUCCESS(st))
            st = mmi_physical_check(m, why, why_size);
        if (MM_SUCCESS(st) && !mmi_tlb_counts_hold(m))
            st = fail(&c, "the TLB's counts of live entries do not match its entries");
    }
    mmi_free(m, c.mapped);
    mmi_free(m, c.is_table);
    mmi_free(m, c.slots);
    return st;
}

#ifdef __clang__
#pragma clang attribute pop
#endif
