/* libmm/section.c — page-file-backed section objects and their views.
 *
 * Each page of a section is described by a prototype PTE, an array of which
 * lives in nonpaged pool as in Windows (the PFN's PteAddress points at the
 * prototype, not at any process PTE). A prototype starts demand zero; a view
 * maps every page at once, resolving each prototype (demand zero, page file,
 * transition or already valid). Only valid hardware PTEs hold a share: a page
 * mapped by two views has share 2. When its last view goes, the prototype
 * turns transition and the page goes to the standby or modified list, from
 * where the modified writer and repurposing treat it like any other page.
 * View pages stay out of working sets (see docs/decisions.md). A
 * PAGE_WRITECOPY view maps the shared frames read-only with the copy-on-write
 * bit; the first write (by the CPU or by MmProbeAndLockPages for write) gives
 * the process a private copy and drops the shared frame's share. */
#include "section.h"

#include <assert.h>

#include "alloc.h"
#include "fault.h"
#include "hash.h"
#include "irql.h"
#include "machine.h"
#include "memory.h"
#include "pagefile.h"
#include "pfn.h"
#include "pool.h"
#include "process.h"
#include "pte.h"
#include "trace.h"
#include "vad.h"
#include "virtual.h"

#define SECTION_TAG 0x74536D4Du /* "MmSt" */

struct mm_section {
    UT_hash_handle hh;  /* the machine's sections, by object address */
    void *self;
    uint32_t id;
    uint64_t pages;
    uint32_t protect;
    unsigned protection;
    mm_va prototypes;  /* nonpaged pool: one prototype PTE per page */
    uint32_t views;
    bool closed;
};

static struct mm_section *lookup(mm_machine *m, const mm_section *s)
{
    struct mm_section *found = NULL;
    if (s)
        HASH_FIND_PTR(m->sections, &s, found);
    return found;
}

static bool section_protect_ok(uint32_t protect)
{
    return protect == MM_PAGE_READONLY || protect == MM_PAGE_READWRITE || protect == MM_PAGE_EXECUTE_READ ||
           protect == MM_PAGE_EXECUTE_READWRITE;
}

/* Writes prototype PTE `i` as a kernel access to the pool. */
static mm_status write_prototype(mm_machine *m, struct mm_section *s, uint64_t i, uint64_t value)
{
    struct mm_access_request req = {.va = s->prototypes + i * 8, .buffer = &value, .length = 8,
                                    .kind = MM_ACCESS_WRITE};
    return mmi_access(m, &req);
}

/* The pool pages of the prototype PTEs hold memory-manager state: a write
 * that does not come from the memory manager corrupts it (see fault.c). */
static void mark_prototype_pages(mm_machine *m, struct mm_section *s, bool on)
{
    mm_va first = MM_PAGE_ALIGN(s->prototypes), last = MM_PAGE_ALIGN(s->prototypes + s->pages * 8 - 1);
    for (mm_va va = first; va <= last; va += MM_PAGE_SIZE) {
        struct mmi_walk w;
        mmi_walk(m, m->system->pml4, va, &w);
        if (mmi_walk_valid(&w))
            mmi_pfn_flag(mmi_pfn(m, mmi_pte_pfn(w.entry[3])), MMI_PF_PROTOTYPES, on);
    }
}

static mm_status read_prototype(mm_machine *m, struct mm_section *s, uint64_t i, uint64_t *value)
{
    struct mm_access_request req = {.va = s->prototypes + i * 8, .buffer = value, .length = 8,
                                    .kind = MM_ACCESS_READ};
    return mmi_access(m, &req);
}

/* What a prototype still holds goes: a transition page is freed (at its
 * last unlock if an MDL still holds it), a page-file copy released. */
static mm_status release_prototype(mm_machine *m, struct mm_section *s, uint64_t i)
{
    uint64_t proto;
    mm_status st = read_prototype(m, s, i, &proto);
    if (!MM_SUCCESS(st))
        return st;
    if (mmi_pte_is_transition(proto))
        st = mmi_pfn_delete(m, mmi_pte_pfn(proto), false);
    else if (mmi_pte_is_pagefile(proto))
        mmi_pagefile_free(m, mmi_pte_pagefile_slot(proto));
    return MM_SUCCESS(st) ? write_prototype(m, s, i, 0) : st;
}

static mm_status destroy(mm_machine *m, struct mm_section *s)
{
    for (uint64_t i = 0; s->prototypes && i < s->pages; i++) {
        mm_status st = release_prototype(m, s, i);
        if (!MM_SUCCESS(st))
            return st;
    }
    if (s->prototypes) {
        mark_prototype_pages(m, s, false);
        mmi_pool_release(m, s->prototypes);
    }
    m->commit_charge -= s->pages;
    m->section_commit -= s->pages;
    mm_machine *uthash_m = m;
    HASH_DEL(m->sections, s);
    (void)uthash_m;
    mmi_trace(m, MM_EV_NOTE, 0, MM_PFN_NONE, 0x53454354 /* "SECT" */, s->id);
    mmi_free(m, s);
    return MM_STATUS_SUCCESS;
}

/* Every prototype starts demand zero: frames come with the first view. */
static mm_status init_prototypes(mm_machine *m, struct mm_section *s)
{
    for (uint64_t i = 0; i < s->pages; i++) {
        mm_status st = write_prototype(m, s, i, mmi_pte_make_demand_zero(s->protection));
        if (!MM_SUCCESS(st))
            return st;
    }
    return MM_STATUS_SUCCESS;
}

mm_status mm_section_create(mm_machine *m, uint64_t size, uint32_t protect, mm_section **out)
{
    MMI_ENTER(m, "NtCreateSection");
    if (!out || size == 0 || size > (UINT64_C(1) << 40) || !section_protect_ok(protect))
        return !out || size == 0 || size > (UINT64_C(1) << 40) ? MM_STATUS_INVALID_PARAMETER
                                                                : MM_STATUS_INVALID_PAGE_PROTECTION;
    *out = NULL;
    if (!mmi_irql_allows(m, MM_PASSIVE_LEVEL, 0))
        return MM_STATUS_MACHINE_DEAD;
    uint64_t pages = (size + MM_PAGE_SIZE - 1) / MM_PAGE_SIZE;
    if (m->commit_charge + pages > m->commit_limit)
        return MM_STATUS_COMMITMENT_LIMIT;
    struct mm_section *s = mmi_alloc(m, sizeof *s);
    if (!s)
        return MM_STATUS_INSUFFICIENT_RESOURCES;
    *s = (struct mm_section){.self = s, .id = ++m->section_ids, .pages = pages, .protect = protect,
                             .protection = mmi_protection_from_win32(protect)};
    mm_machine *uthash_m = m;
    bool uthash_failed = false;
    HASH_ADD_PTR(m->sections, self, s);
    if (uthash_failed) {
        mmi_free(m, s);
        return MM_STATUS_INSUFFICIENT_RESOURCES;
    }
    m->commit_charge += pages;
    m->section_commit += pages;
    mm_status st = mmi_pool_alloc_kernel(m, pages * 8, SECTION_TAG, &s->prototypes);
    if (MM_SUCCESS(st))
        mark_prototype_pages(m, s, true);
    if (MM_SUCCESS(st))
        st = init_prototypes(m, s);
    if (!MM_SUCCESS(st)) {
        if (!m->dead)
            destroy(m, s);
        return st;
    }
    mmi_trace(m, MM_EV_NOTE, s->prototypes, MM_PFN_NONE, 0x53454354 /* "SECT" */, s->id);
    *out = s;
    return MM_STATUS_SUCCESS;
}

mm_status mm_section_close(mm_machine *m, mm_section *section)
{
    MMI_ENTER(m, "NtClose");
    struct mm_section *s = lookup(m, section);
    if (!s || s->closed)
        return MM_STATUS_INVALID_HANDLE;
    s->closed = true;
    return s->views ? MM_STATUS_SUCCESS : destroy(m, s);
}

mm_status mm_section_query(mm_machine *m, mm_section *section, struct mm_section_basic_info *out)
{
    if (!m || !out)
        return MM_STATUS_INVALID_PARAMETER;
    struct mm_section *s = lookup(m, section);
    if (!s)
        return MM_STATUS_INVALID_HANDLE;
    *out = (struct mm_section_basic_info){.pages = s->pages, .protect = s->protect, .views = s->views,
                                    .prototype_ptes = s->prototypes, .closed = s->closed};
    return MM_STATUS_SUCCESS;
}

/* ---- views ---- */

/* Plain protections only: no guard, no-cache or write-combine views. */
static bool view_protect_ok(uint32_t protect, unsigned *protection)
{
    *protection = mmi_protection_from_win32(protect);
    return *protection != UINT32_MAX && !(*protection & 0x18u) && (*protection & 7) != MMP_ZERO_ACCESS;
}

/* May a view with this protection be made of a section with that one? */
bool mmi_section_allows(const struct mm_section *s, unsigned view)
{
    unsigned v = view & 7, sec = s->protection & 7;
    bool writes = v == MMP_READWRITE || v == MMP_EXECUTE_READWRITE;
    bool executes = mmi_protection_executable(view);
    if (writes && !(sec == MMP_READWRITE || sec == MMP_EXECUTE_READWRITE))
        return false;
    return !executes || mmi_protection_executable(s->protection);
}

static bool copy_on_write_view(unsigned protection)
{
    return (protection & 7) == MMP_WRITECOPY || (protection & 7) == MMP_EXECUTE_WRITECOPY;
}

unsigned mmi_section_page_protection(const struct mmi_vad *vad, unsigned protection, bool shared)
{
    unsigned base = protection & 7;
    bool cow_view = copy_on_write_view(vad->protection);
    if (shared && cow_view && (base == MMP_READWRITE || base == MMP_EXECUTE_READWRITE))
        return base == MMP_READWRITE ? MMP_WRITECOPY : MMP_EXECUTE_WRITECOPY;
    if (!shared && copy_on_write_view(protection)) /* already a private copy */
        return base == MMP_WRITECOPY ? MMP_READWRITE : MMP_EXECUTE_READWRITE;
    return protection;
}

/* The prototype PTE's own place: its VA and the pool frame holding it. */
static mm_pfn prototype_frame(mm_machine *m, const struct mm_section *s, uint64_t i)
{
    struct mmi_walk w;
    mmi_walk(m, m->system->pml4, s->prototypes + i * 8, &w);
    assert(mmi_walk_valid(&w)); /* nonpaged pool */
    return mmi_pte_pfn(w.entry[3]);
}

/* A fresh frame for a prototype that holds none: demand zero, or read back
 * from the page file. Active with share 1 for the view PTE about to map it. */
static mm_status materialise(mm_machine *m, struct mm_section *s, uint64_t i, uint64_t proto, mm_pfn *out)
{
    bool from_file = mmi_pte_is_pagefile(proto);
    mm_pfn pfn;
    mm_status st = mmi_pfn_take(m, !from_file, &pfn);
    if (!MM_SUCCESS(st))
        return st;
    if (from_file)
        mmi_pagefile_read(m, mmi_pte_pagefile_slot(proto), pfn);
    uint64_t original = from_file ? proto : mmi_pte_make_demand_zero(s->protection);
    mmi_pfn_init_active(m, pfn, s->prototypes + i * 8, prototype_frame(m, s, i), original, m->system->id,
                        MM_USE_SECTION);
    *out = pfn;
    return MM_STATUS_SUCCESS;
}

/* The frame behind prototype i, made active for one more view PTE: a valid
 * prototype gains a share, a transition page is reactivated (a soft fault),
 * anything else gets a frame. The prototype is valid afterwards. */
static mm_status resolve_prototype(mm_machine *m, struct mm_section *s, uint64_t i, mm_pfn *out)
{
    uint64_t proto;
    mm_status st = read_prototype(m, s, i, &proto);
    if (!MM_SUCCESS(st))
        return st;
    if (mmi_pte_valid(proto)) {
        *out = mmi_pte_pfn(proto);
        mmi_pfn_share_inc(m, *out);
        return MM_STATUS_SUCCESS;
    }
    if (mmi_pte_is_transition(proto)) {
        *out = mmi_pte_pfn(proto);
        mmi_pfn_reactivate(m, *out);
    } else if (!MM_SUCCESS(st = materialise(m, s, i, proto, out))) {
        return st;
    }
    return write_prototype(m, s, i, mmi_pte_make_valid(*out, s->protection, true));
}

static mm_status map_pages(mm_machine *m, struct mm_process *p, struct mm_section *s, mm_va base,
                           unsigned protection)
{
    mm_pfn table = MM_PFN_NONE;
    for (uint64_t i = 0; i < s->pages; i++) {
        mm_va va = base + i * MM_PAGE_SIZE;
        if (i == 0 || mmi_va_index(va, 3) == 0) {
            mm_status st = mmi_pt_ensure(m, p->pml4, va, p->id, &table);
            if (!MM_SUCCESS(st))
                return st;
        }
        mm_pfn pfn;
        mm_status st = resolve_prototype(m, s, i, &pfn);
        if (!MM_SUCCESS(st))
            return st;
        mmi_pte_set(m, table, mmi_va_index(va, 3), va, mmi_pte_make_valid(pfn, protection, true));
    }
    return MM_STATUS_SUCCESS;
}

mm_status mm_map_view_of_section(mm_machine *m, mm_section *section, mm_process *process, mm_va *base,
                                 uint32_t protect)
{
    MMI_ENTER(m, "NtMapViewOfSection");
    struct mm_section *s = lookup(m, section);
    if (!s || s->closed)
        return MM_STATUS_INVALID_HANDLE;
    struct mm_process *p;
    mm_status st = mmi_process_resolve(m, process, &p);
    if (!MM_SUCCESS(st))
        return st;
    if (!base)
        return MM_STATUS_INVALID_PARAMETER;
    unsigned protection;
    if (!view_protect_ok(protect, &protection))
        return MM_STATUS_INVALID_PAGE_PROTECTION;
    if (!mmi_section_allows(s, protection))
        return MM_STATUS_SECTION_PROTECTION;
    if (!mmi_irql_allows(m, MM_PASSIVE_LEVEL, *base))
        return MM_STATUS_MACHINE_DEAD;
    uint64_t bytes = s->pages * MM_PAGE_SIZE;
    mm_va start = *base;
    if (start) {
        if (start & 0xFFFF)
            return MM_STATUS_MAPPED_ALIGNMENT;
        if (start < m->layout.lowest_user_address || start > m->layout.highest_user_address ||
            bytes > m->layout.highest_user_address + 1 - start)
            return MM_STATUS_INVALID_ADDRESS;
        if (!mmi_vad_range_free(&p->vads, start, start + bytes))
            return MM_STATUS_CONFLICTING_ADDRESSES;
    } else if (!(start = mmi_vad_find_free(&p->vads, bytes))) {
        return MM_STATUS_NO_MEMORY;
    }
    /* A copy-on-write view is charged for the private copies it may need. */
    uint64_t charge = copy_on_write_view(protection) ? s->pages : 0;
    if (m->commit_charge + charge > m->commit_limit)
        return MM_STATUS_COMMITMENT_LIMIT;
    struct mmi_vad vad = {.start = start, .end = start + bytes, .protect = protect, .protection = protection,
                          .committed_all = true, .section = s, .charge = charge};
    if (!mmi_vad_insert(m, &p->vads, &vad))
        return MM_STATUS_INSUFFICIENT_RESOURCES;
    m->commit_charge += charge;
    p->commit += charge;
    s->views++;
    st = map_pages(m, p, s, start, protection);
    if (!MM_SUCCESS(st)) {
        if (!m->dead)
            mmi_section_unmap_view(m, p, mmi_vad_find(&p->vads, start));
        return st;
    }
    mmi_trace(m, MM_EV_VAD, start, MM_PFN_NONE, bytes, MM_MEM_MAPPED);
    *base = start;
    return MM_STATUS_SUCCESS;
}

mm_status mmi_section_unmap_view(mm_machine *m, struct mm_process *p, struct mmi_vad *vad)
{
    struct mm_section *s = vad->section;
    mm_va start = vad->start, end = vad->end;
    mm_status st = mmi_virtual_release_pages(m, p, vad, start, end, true);
    if (!MM_SUCCESS(st))
        return st;
    m->commit_charge -= vad->charge;
    p->commit -= vad->charge;
    mmi_vad_remove(m, &p->vads, vad);
    mmi_trace(m, MM_EV_VAD, start, MM_PFN_NONE, end - start, MM_MEM_RELEASE);
    s->views--;
    return s->closed && !s->views ? destroy(m, s) : MM_STATUS_SUCCESS;
}

mm_status mm_unmap_view_of_section(mm_machine *m, mm_process *process, mm_va base)
{
    MMI_ENTER(m, "NtUnmapViewOfSection");
    struct mm_process *p;
    mm_status st = mmi_process_resolve(m, process, &p);
    if (!MM_SUCCESS(st))
        return st;
    if (!mmi_irql_allows(m, MM_PASSIVE_LEVEL, base))
        return MM_STATUS_MACHINE_DEAD;
    struct mmi_vad *vad = base <= m->layout.highest_user_address ? mmi_vad_find(&p->vads, base) : NULL;
    if (!vad || !vad->section)
        return MM_STATUS_NOT_MAPPED_VIEW;
    return mmi_section_unmap_view(m, p, vad);
}

void mmi_section_free_all(mm_machine *m)
{
    mm_machine *uthash_m = m;
    struct mm_section *s, *tmp;
    HASH_ITER(hh, m->sections, s, tmp) {
        HASH_DEL(m->sections, s);
        mmi_free(m, s);
    }
    (void)uthash_m;
}

uint64_t mmi_section_count(const mm_machine *m)
{
    uint64_t n = 0;
    for (const struct mm_section *s = m->sections; s; s = s->hh.next)
        n++;
    return n;
}

mm_status mmi_section_for_each_prototype(mm_machine *m, mm_status (*visit)(void *ctx, mm_va at, uint64_t pte),
                                         void *ctx)
{
    for (struct mm_section *s = m->sections; s; s = s->hh.next) {
        for (uint64_t i = 0; s->prototypes && i < s->pages; i++) {
            mm_va at = s->prototypes + i * 8;
            uint64_t pte = mmi_frame_read64(m, prototype_frame(m, s, i), (unsigned)(MM_BYTE_OFFSET(at) / 8));
            mm_status st = visit(ctx, at, pte);
            if (!MM_SUCCESS(st))
                return st;
        }
    }
    return MM_STATUS_SUCCESS;
}
