/* libmm/mdlmap.c — mapping locked MDLs: MmMapLockedPagesSpecifyCache into
 * system PTEs (kernel) or a new VAD of the current process (user), its
 * Verifier checks and the failures Windows shows without Verifier (0x1A/0x1233,
 * 0x3F / 0xD8), MmUnmapLockedPages in both halves, MmGetSystemAddressForMdlSafe
 * and MmPrepareMdlForReuse; what a device reaches through the PFN array
 * (DMA); and accesses through stale mappings. An MDL mapping changes no PFN count: it borrows
 * the MDL's lock. */
#include "mdl.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "fault.h"
#include "irql.h"
#include "machine.h"
#include "memory.h"
#include "pfn.h"
#include "physical.h"
#include "pool.h"
#include "process.h"
#include "pte.h"
#include "syspte.h"
#include "trace.h"
#include "vad.h"

static inline uint64_t mdl_pages(const struct mm_mdl *h) { return MM_MDL_PAGES(h); }
static inline unsigned flags_of(const struct mm_mdl *h) { return (uint16_t)h->MdlFlags; }
static inline void set_flags(struct mm_mdl *h, unsigned f) { h->MdlFlags = (int16_t)(uint16_t)f; }

/* frame_locked for a RAM frame's entry. */
static bool entry_locked(const struct mmi_pfn *e)
{
    unsigned loc = mmi_pfn_location(e);
    if (mmi_pfn_use(e) == MM_USE_MDL_PAGES)
        return loc == MM_ACTIVE_AND_VALID;
    if (loc == MM_TRANSITION_PAGE)
        return e->reference_count >= 1;
    return loc == MM_ACTIVE_AND_VALID && e->reference_count >= 2;
}

/* Is the frame held by a lock (or owned by an MmAllocatePagesForMdl MDL)? */
static bool frame_locked(mm_machine *m, mm_pfn pfn)
{
    if (pfn >= m->pfn.pages)
        return true; /* device memory: not reference counted */
    if (pfn >= m->pfn.untouched)
        return false;
    return entry_locked(mmi_pfn_in(&m->pfn, pfn));
}

/* The usual kernel mapping, in one pass over the PFN entries: every frame
 * RAM in use and locked, all with the same cache attribute already fixed
 * (*attr), which every PTE then takes. The pass stops at the first empty
 * entry (MM_PFN_NONE), which ends the MDL's frames: *count says where, when
 * the frames are uniform. */
static bool frames_uniform(mm_machine *m, const mm_pfn *pfns, uint64_t pages, uint64_t *count, unsigned *attr)
{
    struct mmi_pfn *const *chunks = m->pfn.chunks;
    uint64_t untouched = m->pfn.untouched, i = 0;
    const uint16_t fields = MMI_PF_LOCATION | MMI_PF_CACHE;
    uint16_t usual = 0; /* active with the first frame's attribute: locked when referenced twice */
    *attr = MM_PFN_NOT_MAPPED;
    for (; i < pages && pfns[i] != MM_PFN_NONE; i++) {
        if (pfns[i] >= untouched)
            return false;
        const struct mmi_pfn *e = &chunks[pfns[i] >> MMI_CHUNK_SHIFT][pfns[i] & (MMI_CHUNK_PAGES - 1)];
        if (i && (e->flags & fields) == usual && e->reference_count >= 2)
            continue;
        unsigned a = (e->flags & MMI_PF_CACHE) >> MMI_PF_CACHE_SHIFT;
        if (!entry_locked(e) || a == MM_PFN_NOT_MAPPED || (i && a != *attr))
            return false;
        *attr = a;
        usual = (uint16_t)(MM_ACTIVE_AND_VALID | (a << MMI_PF_CACHE_SHIFT));
    }
    *count = i;
    return i != 0;
}

/* How many of the MDL's entries hold frames: up to the first empty one. */
static uint64_t frames_in(const mm_pfn *pfns, uint64_t pages)
{
    uint64_t n = 0;
    while (n < pages && pfns[n] != MM_PFN_NONE)
        n++;
    return n;
}

static uint64_t cache_bits(mm_cache_type cache)
{
    switch (cache) {
    case MM_NON_CACHED:
    case MM_NON_CACHED_UNORDERED: return PTE_CACHE_DISABLE | PTE_WRITE_THROUGH;
    case MM_WRITE_COMBINED:
    case MM_USWC_CACHED: return PTE_CACHE_DISABLE;
    default: return 0;
    }
}

static uint64_t mapping_bits(mm_cache_type cache, uint32_t priority, bool user)
{
    uint64_t bits = PTE_VALID | PTE_ACCESSED | PTE_DIRTY | MMI_PTE_MDL_MAPPING | cache_bits(cache);
    if (!(priority & MM_MDL_MAPPING_NO_WRITE))
        bits |= PTE_DIRTY1 | PTE_WRITE;
    if (user || (priority & MM_MDL_MAPPING_NO_EXECUTE))
        bits |= PTE_NO_EXECUTE; /* user mappings are always no-execute */
    return bits | (user ? PTE_OWNER : PTE_GLOBAL);
}

/* The cache type a frame is mapped with. The page's own attribute wins over
 * the request, so no frame gets aliases of different types; only a page that
 * has none yet (MmAllocatePagesForMdl's) takes the request, and keeps it for
 * later mappings. Device memory has no PFN entry: the request decides. */
static mm_cache_type frame_cache(mm_machine *m, mm_pfn pfn, mm_cache_type requested)
{
    if (pfn >= m->pfn.untouched) /* device memory, or never used */
        return requested;
    struct mmi_pfn *e = mmi_pfn_in(&m->pfn, pfn);
    switch ((e->flags & MMI_PF_CACHE) >> MMI_PF_CACHE_SHIFT) {
    case MM_PFN_NON_CACHED: return MM_NON_CACHED;
    case MM_PFN_WRITE_COMBINED: return MM_WRITE_COMBINED;
    case MM_PFN_CACHED: return MM_CACHED;
    default:
        e->flags = (uint16_t)((e->flags & ~MMI_PF_CACHE) | (mmi_pfn_cache_of(requested) << MMI_PF_CACHE_SHIFT));
        return requested;
    }
}

static inline uint64_t mapping_pte(mm_machine *m, mm_pfn pfn, mm_cache_type cache, uint32_t priority, bool user)
{
    /* A frame number beyond what a PTE holds (a driver's garbage) is cut to
     * its 36 bits, as the hardware would read the entry. */
    return ((pfn << 12) & PTE_PFN_MASK) | mapping_bits(frame_cache(m, pfn, cache), priority, user);
}

uint64_t mmi_mdl_mapping_pte(mm_machine *m, mm_pfn pfn, mm_cache_type cache, uint32_t priority, bool user)
{
    return mapping_pte(m, pfn, cache, priority, user);
}

/* Writes the system PTEs of a kernel mapping: one run when every frame
 * gets the same bits (the usual case; attr, when not NULL, is the cache
 * attribute frames_uniform found them all to have), else page by page. */
static mm_status map_system_ptes(mm_machine *m, mm_va va, const mm_pfn *pfns, uint64_t count, mm_cache_type cache,
                                 uint32_t priority, const unsigned *attr)
{
    static const mm_cache_type of_attr[] = {MM_NON_CACHED, MM_CACHED, MM_WRITE_COMBINED};
    if (attr)
        return mmi_syspte_map(m, va, pfns, count, mapping_bits(of_attr[*attr], priority, false));
    bool uniform = true;
    uint64_t first = count ? mapping_pte(m, pfns[0], cache, priority, false) & ~PTE_PFN_MASK : 0;
    for (uint64_t i = 1; i < count && uniform; i++)
        uniform = (mapping_pte(m, pfns[i], cache, priority, false) & ~PTE_PFN_MASK) == first;
    if (uniform)
        return mmi_syspte_map(m, va, pfns, count, first);
    for (uint64_t i = 0; i < count; i++) {
        uint64_t bits = mapping_pte(m, pfns[i], cache, priority, false) & ~PTE_PFN_MASK;
        mm_status st = mmi_syspte_map(m, va + i * MM_PAGE_SIZE, &pfns[i], 1, bits);
        if (!MM_SUCCESS(st)) {
            mmi_syspte_unmap(m, va, i);
            return st;
        }
    }
    return MM_STATUS_SUCCESS;
}

/* ---- checks ---- */

static mm_status verifier_map_checks(mm_machine *m, mm_va mdl, const struct mm_mdl *h, mm_mode mode,
                                     bool bug_check_on_failure, bool legacy, const mm_pfn *pfns, uint64_t count)
{
    unsigned f = flags_of(h);
    mm_irql irql = mmi_irql(m);
    if (mode == MM_KERNEL_MODE ? irql > MM_DISPATCH_LEVEL : irql > MM_APC_LEVEL)
        return mmi_bugcheck(m, MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION,
                            (legacy ? 0x74 : 0x76) + (mode == MM_USER_MODE), irql, mdl, mode, MM_PFN_NONE, mdl,
                            "%s (%s mode) at IRQL %u", m->op, mode ? "user" : "kernel", irql);
    if (legacy)
        return mmi_bugcheck(m, MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0x81, mdl, f, 0, MM_PFN_NONE, mdl,
                            "the driver called MmMapLockedPages, which bug-checks on failure; use "
                            "MmMapLockedPagesSpecifyCache with BugCheckOnFailure = FALSE");
    if (bug_check_on_failure && mode == MM_KERNEL_MODE)
        return mmi_bugcheck(m, MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0x82, mdl, f, 0, MM_PFN_NONE, mdl,
                            "MmMapLockedPagesSpecifyCache with BugCheckOnFailure = TRUE");
    unsigned mapped = f & (MM_MDL_MAPPED_TO_SYSTEM_VA | MM_MDL_SOURCE_IS_NONPAGED_POOL | MM_MDL_PARTIAL_HAS_BEEN_MAPPED);
    if (mode == MM_KERNEL_MODE && mapped)
        return mmi_bugcheck(m, MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0xB2, mdl, f, mapped, MM_PFN_NONE, mdl,
                            "%s on MDL %016llx, which is already mapped to system space (flags 0x%04x)", m->op,
                            (unsigned long long)mdl, f);
    if (!(f & (MM_MDL_PAGES_LOCKED | MM_MDL_PARTIAL | MM_MDL_SOURCE_IS_NONPAGED_POOL)))
        return mmi_bugcheck(m, MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0xB3, mdl, f, MM_MDL_PAGES_LOCKED,
                            MM_PFN_NONE, mdl, "%s on MDL %016llx, whose pages are not locked", m->op,
                            (unsigned long long)mdl);
    for (uint64_t i = 0; i < count && !(f & MM_MDL_IO_SPACE); i++)
        if (!mmi_pfn_is_ram(m, pfns[i]))
            return mmi_bugcheck(m, MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0x89, mdl,
                                MM_MDL_PFN_ARRAY(mdl) + i * 8, pfns[i], pfns[i], mdl,
                                "%s on MDL %016llx, which lists device frame 0x%llx but is not marked MDL_IO_SPACE",
                                m->op, (unsigned long long)mdl, (unsigned long long)pfns[i]);
    for (uint64_t i = 0; i < count && !(f & MM_MDL_SOURCE_IS_NONPAGED_POOL); i++)
        if (!frame_locked(m, pfns[i]))
            return mmi_bugcheck(m, MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0x85, mdl, mdl_pages(h), pfns[i],
                                pfns[i], mdl, "%s on MDL %016llx: PFN 0x%llx is not locked", m->op,
                                (unsigned long long)mdl, (unsigned long long)pfns[i]);
    return MM_STATUS_SUCCESS;
}

/* Without Verifier Windows still refuses to map a frame nobody locked. */
static mm_status unlocked_frame_check(mm_machine *m, mm_va mdl, const struct mm_mdl *h, const mm_pfn *pfns,
                                      uint64_t count)
{
    if (flags_of(h) & MM_MDL_SOURCE_IS_NONPAGED_POOL)
        return MM_STATUS_SUCCESS;
    for (uint64_t i = 0; i < count; i++) {
        if (frame_locked(m, pfns[i]))
            continue;
        const struct mmi_mdl_rec *r = mmi_mdl_rec(m, mdl);
        char why[96] = "";
        if (r && !r->locked && r->unlock_step)
            snprintf(why, sizeof why, " (the MDL was unlocked at step %llu)", (unsigned long long)r->unlock_step);
        else if (!(flags_of(h) & MM_MDL_PAGES_LOCKED))
            snprintf(why, sizeof why, " (the MDL was never locked)");
        return mmi_bugcheck(m, MM_BUGCHECK_MEMORY_MANAGEMENT, 0x1233, pfns[i], 0, 0, pfns[i], mdl,
                            "%s on MDL %016llx tried to map PFN 0x%llx, which is not locked%s", m->op,
                            (unsigned long long)mdl, (unsigned long long)pfns[i], why);
    }
    return MM_STATUS_SUCCESS;
}

/* ---- kernel mappings ---- */

static mm_va map_system(mm_machine *m, mm_va mdl, struct mm_mdl *h, const mm_pfn *pfns, uint64_t count,
                        mm_cache_type cache, bool bug_check_on_failure, uint32_t priority, const unsigned *attr)
{
    uint64_t pages = mdl_pages(h);
    mm_va va = mmi_syspte_reserve(m, pages);
    if (!va) {
        if ((flags_of(h) & MM_MDL_MAPPING_CAN_FAIL) || !bug_check_on_failure)
            return 0;
        size_t leaked = mmi_mdl_findings_of(m, MM_FINDING_LEAKED_SYSTEM_MAPPING);
        uint32_t code = m->cfg.track_ptes ? MM_BUGCHECK_DRIVER_USED_EXCESSIVE_PTES : MM_BUGCHECK_NO_MORE_SYSTEM_PTES;
        char why[160] = "";
        if (leaked)
            snprintf(why, sizeof why, ": %zu mappings were leaked by freeing or reusing MDLs still mapped (see the "
                                      "leaked-system-mapping findings)", leaked);
        mmi_bugcheck(m, code, 0, m->cfg.track_ptes ? 0 : pages, mmi_syspte_free(m), m->syspte.size, MM_PFN_NONE, mdl,
                     "no system PTEs are left for %llu pages (%llu of %llu in use)%s", (unsigned long long)pages,
                     (unsigned long long)(m->syspte.size - mmi_syspte_free(m)), (unsigned long long)m->syspte.size,
                     why);
        return 0;
    }
    if (!MM_SUCCESS(map_system_ptes(m, va, pfns, count, cache, priority, attr))) {
        mmi_syspte_release(m, va, pages);
        return 0;
    }
    struct mmi_mdl_rec *r = mmi_mdl_rec(m, mdl);
    if (r) {
        r->sys_va = va;
        r->sys_pages = pages;
        r->sys_first_pfn = count ? pfns[0] : MM_PFN_NONE;
        r->sys_start = MM_MDL_VIRTUAL_ADDRESS(h);
        if (m->cfg.track_ptes && !r->pte_tracker)
            mmi_pool_alloc_kernel(m, 0x40, MM_POOL_TAG('P', 't', 'e', 'T'), &r->pte_tracker);
    }
    h->MappedSystemVa = va + h->ByteOffset;
    unsigned f = flags_of(h) | MM_MDL_MAPPED_TO_SYSTEM_VA;
    if (f & MM_MDL_PARTIAL)
        f |= MM_MDL_PARTIAL_HAS_BEEN_MAPPED;
    set_flags(h, f);
    if (!MM_SUCCESS(mmi_mdl_store(m, mdl, h)))
        return 0;
    return va + h->ByteOffset;
}

/* The MDL record holding the system mapping at va (a walk over every MDL:
 * only on a misuse path). */
static struct mmi_mdl_rec *mapping_holder(mm_machine *m, mm_va va)
{
    for (struct mmi_mdl_rec *r = mmi_mdl_first(m->mdl); r; r = r->made_next)
        if (r->sys_va == va)
            return r;
    return NULL;
}

static void drop_mapping(mm_machine *m, struct mmi_mdl_rec *r)
{
    r->sys_va = 0;
    if (r->pte_tracker)
        mmi_pool_release(m, r->pte_tracker);
    r->pte_tracker = 0;
}

/* Windows releases the PTEs at the header's MappedSystemVa, whoever holds
 * them; its allocator stops a release that matches no allocation. */
uint64_t mmi_mdl_extra_ptes(mm_machine *m, mm_va mdl, const struct mm_mdl *h)
{
    mm_pfn extra = 0;
    if (!(flags_of(h) & MM_MDL_FREE_EXTRA_PTES) || !MM_SUCCESS(mmi_mdl_pfn(m, mdl, mdl_pages(h), &extra)))
        return 0;
    return extra;
}

mm_status mmi_mdl_unmap_system(mm_machine *m, mm_va mdl, struct mm_mdl *h)
{
    uint64_t extra = mmi_mdl_extra_ptes(m, mdl, h);
    if (m->dead)
        return MM_STATUS_MACHINE_DEAD;
    mm_va va = MM_PAGE_ALIGN(h->MappedSystemVa) - extra * MM_PAGE_SIZE;
    uint64_t pages = mdl_pages(h) + extra;
    uint64_t p3, p4;
    uint32_t code = mmi_syspte_check_release(m, va, pages, &p3, &p4);
    if (code)
        return mmi_bugcheck(m, MM_BUGCHECK_SYSTEM_PTE_MISUSE, code, va, p3, p4, MM_PFN_NONE, mdl,
                            "%s released %llu system PTEs at %016llx for MDL %016llx, but %s", m->op,
                            (unsigned long long)pages, (unsigned long long)va, (unsigned long long)mdl,
                            code == 0x303   ? "that range was never reserved from the system PTE pool"
                            : code == 0x304 ? "that address lies inside another mapping"
                            : code == 0x305 ? "the mapping there has a different size"
                                            : "those PTEs are already free (unmapped twice, or never mapped)");
    struct mmi_mdl_rec *r = mmi_mdl_rec(m, mdl);
    if (!r || r->sys_va != va) {
        struct mmi_mdl_rec *holder = mapping_holder(m, va);
        const char *lost = holder ? NULL : mmi_physical_released(m, va);
        if (holder)
            drop_mapping(m, holder);
        mmi_mdl_finding(m, MM_FINDING_FOREIGN_UNMAP, mdl, va, MM_PFN_NONE, 0,
                        "%s for MDL %016llx released the %llu system PTEs at %016llx, which %s%s", m->op,
                        (unsigned long long)mdl, (unsigned long long)pages, (unsigned long long)va,
                        holder ? "mapped another MDL, whose driver still uses them"
                        : lost ? "held " : "this MDL did not map",
                        lost ? lost : "");
    }
    mmi_syspte_unmap(m, va, pages);
    mmi_syspte_release(m, va, pages);
    if (r && r->sys_va == va)
        drop_mapping(m, r);
    set_flags(h, flags_of(h) & ~(MM_MDL_MAPPED_TO_SYSTEM_VA | MM_MDL_PARTIAL_HAS_BEEN_MAPPED | MM_MDL_FREE_EXTRA_PTES));
    return mmi_mdl_store(m, mdl, h);
}

/* ---- user mappings ---- */

static mm_va map_user(mm_machine *m, mm_va mdl, const struct mm_mdl *h, const mm_pfn *pfns, uint64_t count,
                      mm_cache_type cache, mm_va requested, uint32_t priority, mm_status *raised)
{
    struct mm_process *p = mmi_cpu(m)->process;
    uint64_t bytes = mdl_pages(h) * MM_PAGE_SIZE;
    mm_va base;
    if (requested) {
        /* Any page-aligned address is taken as it is (no rounding); the
         * mapping must end at or below the highest VAD address. */
        base = requested;
        if (MM_BYTE_OFFSET(base) || base < m->layout.lowest_user_address || base > m->layout.highest_vad_address ||
            bytes > m->layout.highest_vad_address + 1 - base) {
            *raised = MM_STATUS_INVALID_ADDRESS;
            return 0;
        }
        if (!mmi_vad_range_free(&p->vads, base, base + bytes)) {
            *raised = MM_STATUS_CONFLICTING_ADDRESSES;
            return 0;
        }
    } else if (!(base = mmi_vad_find_free(&p->vads, bytes))) {
        *raised = MM_STATUS_NO_MEMORY;
        return 0;
    }
    struct mmi_user_map *u = mmi_alloc(m, sizeof *u);
    struct mmi_vad vad = {.start = base, .end = base + bytes, .protect = MM_PAGE_READWRITE,
                          .protection = MMP_READWRITE, .physical = true};
    if (!u || !mmi_vad_insert(m, &p->vads, &vad)) {
        mmi_free(m, u);
        *raised = MM_STATUS_INSUFFICIENT_RESOURCES;
        return 0;
    }
    for (uint64_t i = 0; i < count; i++) {
        mm_va va = base + i * MM_PAGE_SIZE;
        mm_pfn table;
        mm_status st = mmi_pt_ensure(m, p->pml4, va, p->id, &table);
        if (!MM_SUCCESS(st)) {
            /* the VAD stays with the pages mapped so far; teardown removes it */
            mmi_free(m, u);
            *raised = st;
            return 0;
        }
        mmi_pte_set(m, table, mmi_va_index(va, 3), va, mmi_mdl_mapping_pte(m, pfns[i], cache, priority, true));
    }
    *u = (struct mmi_user_map){.next = m->mdl->user_maps, .mdl = mdl, .va = base, .pages = mdl_pages(h),
                               .process = p->id};
    m->mdl->user_maps = u;
    mmi_trace(m, MM_EV_VAD, base, MM_PFN_NONE, bytes, 0x4D41 /* user MDL mapping */);
    return base + h->ByteOffset;
}

static struct mmi_user_map **find_user_map(mm_machine *m, uint32_t process, mm_va base)
{
    for (struct mmi_user_map **u = &m->mdl->user_maps; *u; u = &(*u)->next)
        if ((*u)->va == base && (process == 0 || (*u)->process == process))
            return u;
    return NULL;
}

static mm_status unmap_user(mm_machine *m, mm_va base, mm_va mdl)
{
    struct mm_process *p = mmi_cpu(m)->process;
    mm_va page = MM_PAGE_ALIGN(base);
    struct mmi_vad *vad = mmi_vad_find(&p->vads, page);
    struct mmi_user_map **mine = find_user_map(m, p->id, page);
    if (!vad || !vad->physical || vad->start != page) {
        struct mmi_user_map **theirs = find_user_map(m, 0, page);
        if (mmi_verifier(m))
            return mmi_bugcheck(m, MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0xB9, base, mdl, 0, MM_PFN_NONE,
                                mdl, "MmUnmapLockedPages of user address %016llx, which is not a mapping in the "
                                "current process %s", (unsigned long long)base, p->name);
        if (theirs)
            mmi_mdl_finding(m, MM_FINDING_WRONG_PROCESS_UNMAP, mdl, base, MM_PFN_NONE, (*theirs)->process,
                            "MmUnmapLockedPages(%016llx) ran in process %u, but the mapping belongs to process "
                            "%u: nothing was unmapped there and the mapping leaks",
                            (unsigned long long)base, p->id, (*theirs)->process);
        return MM_STATUS_SUCCESS; /* Windows returns silently */
    }
    if (!mine)
        mmi_mdl_finding(m, MM_FINDING_WRONG_PROCESS_UNMAP, mdl, base, MM_PFN_NONE, p->id,
                        "MmUnmapLockedPages(%016llx) from the wrong context deleted another mapping of process "
                        "%u at that address", (unsigned long long)base, p->id);
    mm_va start = vad->start, end = vad->end;
    mmi_vad_remove(m, &p->vads, vad);
    for (mm_va va = start; va < end; va += MM_PAGE_SIZE) {
        mm_status st = mmi_release_va(m, p, va, 0);
        if (MM_SUCCESS(st) && (((va + MM_PAGE_SIZE) & 0x1FFFFF) == 0 || va + MM_PAGE_SIZE == end))
            st = mmi_pt_prune(m, p->pml4, va);
        if (!MM_SUCCESS(st))
            return st;
    }
    if (mine) {
        struct mmi_user_map *u = *mine;
        *mine = u->next;
        mmi_free(m, u);
    }
    mmi_trace(m, MM_EV_VAD, start, MM_PFN_NONE, end - start, MM_MEM_RELEASE);
    return MM_STATUS_SUCCESS;
}

/* ---- the DDIs ---- */

static mm_va map_locked(mm_machine *m, mm_va mdl, mm_mode mode, mm_cache_type cache, mm_va requested,
                        bool bug_check_on_failure, bool legacy, uint32_t priority, mm_status *raised)
{
    mm_status ignored;
    if (!raised)
        raised = &ignored;
    mmi_mdl_note(m, mdl, 0x4D415020 /* "MAP " */);
    *raised = MM_STATUS_SUCCESS;
    if (mode > MM_USER_MODE || cache >= MM_MAXIMUM_CACHE_TYPE) {
        *raised = MM_STATUS_INVALID_PARAMETER;
        return 0;
    }
    struct mm_mdl h;
    mm_pfn *pfns = NULL;
    uint64_t count = 0;
    mm_status st = mmi_mdl_load(m, mdl, &h);
    if (MM_SUCCESS(st) && mdl_pages(&h) == 0)
        st = MM_STATUS_INVALID_PARAMETER; /* ByteCount 0: the MDL describes no page to map */
    if (MM_SUCCESS(st))
        st = mmi_mdl_pfns_read(m, mdl, mdl_pages(&h), &pfns);
    if (!MM_SUCCESS(st)) {
        *raised = st;
        return 0;
    }
    mm_va va = 0;
    unsigned attr;
    bool uniform = frames_uniform(m, pfns, mdl_pages(&h), &count, &attr); /* then every frame is locked too */
    if (!uniform)
        count = frames_in(pfns, mdl_pages(&h));
    if (mmi_verifier(m))
        st = verifier_map_checks(m, mdl, &h, mode, bug_check_on_failure, legacy, pfns, count);
    if (MM_SUCCESS(st) && mmi_irql_allows(m, mode == MM_KERNEL_MODE ? MM_DISPATCH_LEVEL : MM_APC_LEVEL, mdl))
        st = uniform ? MM_STATUS_SUCCESS : unlocked_frame_check(m, mdl, &h, pfns, count);
    if (MM_SUCCESS(st) && !m->dead) {
        if (mode == MM_KERNEL_MODE)
            va = map_system(m, mdl, &h, pfns, count, cache, bug_check_on_failure, priority, uniform ? &attr : NULL);
        else
            va = map_user(m, mdl, &h, pfns, count, cache, requested, priority, raised);
    }
    if (m->dead)
        *raised = MM_STATUS_MACHINE_DEAD;
    return m->dead ? 0 : va;
}

mm_va mm_map_locked_pages_specify_cache(mm_machine *m, mm_va mdl, mm_mode mode, mm_cache_type cache,
                                        mm_va requested, bool bug_check_on_failure, uint32_t priority,
                                        mm_status *raised)
{
    MMI_ENTER_RET(m, "MmMapLockedPagesSpecifyCache", 0);
    return map_locked(m, mdl, mode, cache, requested, bug_check_on_failure, false, priority, raised);
}

mm_va mm_map_locked_pages(mm_machine *m, mm_va mdl, mm_mode mode)
{
    MMI_ENTER_RET(m, "MmMapLockedPages", 0);
    return map_locked(m, mdl, mode, MM_CACHED, 0, true, true, MM_HIGH_PAGE_PRIORITY, NULL);
}

mm_va mm_get_system_address_for_mdl_safe(mm_machine *m, mm_va mdl, uint32_t priority)
{
    MMI_ENTER_RET(m, "MmGetSystemAddressForMdlSafe", 0);
    struct mm_mdl h;
    if (!MM_SUCCESS(mmi_mdl_load(m, mdl, &h)))
        return 0;
    if (flags_of(&h) & (MM_MDL_MAPPED_TO_SYSTEM_VA | MM_MDL_SOURCE_IS_NONPAGED_POOL))
        return h.MappedSystemVa;
    mmi_op_enter(m, "MmMapLockedPagesSpecifyCache");
    mm_va va = map_locked(m, mdl, MM_KERNEL_MODE, MM_CACHED, 0, false, false, priority, NULL);
    mmi_op_exit(m);
    return va;
}

/* PTE tracking (TrackPtes) remembers each mapping: the address, the MDL's
 * first PFN and start address when it was made (0xDA 0x03-0x06). */
static mm_status tracked_unmap_checks(mm_machine *m, mm_va mdl, const struct mm_mdl *h, mm_va base)
{
    struct mmi_mdl_rec *r = mmi_mdl_rec(m, mdl);
    if (!(flags_of(h) & MM_MDL_MAPPED_TO_SYSTEM_VA) || !r || !r->sys_va)
        return mmi_bugcheck(m, MM_BUGCHECK_SYSTEM_PTE_MISUSE, 0x06, mdl, base, mdl_pages(h), MM_PFN_NONE, mdl,
                            "MmUnmapLockedPages(%016llx) of MDL %016llx, which is not mapped",
                            (unsigned long long)base, (unsigned long long)mdl);
    if (m->mdl->adjusted || (flags_of(h) & MM_MDL_FREE_EXTRA_PTES))
        return MM_STATUS_SUCCESS; /* Windows stops comparing once any MDL was advanced */
    if (MM_PAGE_ALIGN(base) != r->sys_va)
        return mmi_bugcheck(m, MM_BUGCHECK_SYSTEM_PTE_MISUSE, 0x03, r->pte_tracker, r->sys_va, base, MM_PFN_NONE,
                            mdl, "MmUnmapLockedPages(%016llx) of MDL %016llx, which is mapped at %016llx",
                            (unsigned long long)base, (unsigned long long)mdl, (unsigned long long)r->sys_va);
    mm_pfn first = MM_PFN_NONE;
    mm_status st = mmi_mdl_pfn(m, mdl, 0, &first);
    if (!MM_SUCCESS(st))
        return st;
    if (first != r->sys_first_pfn)
        return mmi_bugcheck(m, MM_BUGCHECK_SYSTEM_PTE_MISUSE, 0x04, r->pte_tracker, r->sys_first_pfn, first, first,
                            mdl, "MDL %016llx's first page changed from PFN 0x%llx to 0x%llx while it was mapped",
                            (unsigned long long)mdl, (unsigned long long)r->sys_first_pfn, (unsigned long long)first);
    mm_va start = MM_MDL_VIRTUAL_ADDRESS(h);
    if (start != r->sys_start)
        return mmi_bugcheck(m, MM_BUGCHECK_SYSTEM_PTE_MISUSE, 0x05, r->pte_tracker, r->sys_start, start, MM_PFN_NONE,
                            mdl, "MDL %016llx's start address changed from %016llx to %016llx while it was mapped",
                            (unsigned long long)mdl, (unsigned long long)r->sys_start, (unsigned long long)start);
    return MM_STATUS_SUCCESS;
}

mm_status mm_unmap_locked_pages(mm_machine *m, mm_va base, mm_va mdl)
{
    MMI_ENTER(m, "MmUnmapLockedPages");
    mmi_mdl_note(m, mdl, 0x554E4D50 /* "UNMP" */);
    struct mm_mdl h;
    mm_status st = mmi_mdl_load(m, mdl, &h);
    if (!MM_SUCCESS(st))
        return st;
    unsigned f = flags_of(&h);
    mm_irql irql = mmi_irql(m);
    bool user = base <= m->layout.highest_user_address;
    if (mmi_verifier(m)) {
        if (user ? irql > MM_APC_LEVEL : irql > MM_DISPATCH_LEVEL)
            return mmi_bugcheck(m, MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, user ? 0x7A : 0x79, irql, base,
                                mdl, MM_PFN_NONE, mdl, "MmUnmapLockedPages at IRQL %u", irql);
        if (f & MM_MDL_PARTIAL)
            return mmi_bugcheck(m, MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0xB5, mdl, f, MM_MDL_PARTIAL,
                                MM_PFN_NONE, mdl,
                                "MmUnmapLockedPages on partial MDL %016llx: use MmPrepareMdlForReuse or IoFreeMdl",
                                (unsigned long long)mdl);
        if (!user && !(f & MM_MDL_MAPPED_TO_SYSTEM_VA))
            return mmi_bugcheck(m, MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0xB6, mdl, f,
                                MM_MDL_MAPPED_TO_SYSTEM_VA, MM_PFN_NONE, mdl,
                                "MmUnmapLockedPages on MDL %016llx, which is not mapped to system space",
                                (unsigned long long)mdl);
    }
    if (!mmi_irql_allows(m, user ? MM_APC_LEVEL : MM_DISPATCH_LEVEL, base))
        return MM_STATUS_MACHINE_DEAD;
    if (user)
        return unmap_user(m, base, mdl);
    if (m->cfg.track_ptes && !MM_SUCCESS(st = tracked_unmap_checks(m, mdl, &h, base)))
        return st;
    /* Without tracking the PTEs at `base` are released whoever owns them. */
    h.MappedSystemVa = base;
    return mmi_mdl_unmap_system(m, mdl, &h);
}

mm_status mm_prepare_mdl_for_reuse(mm_machine *m, mm_va mdl)
{
    MMI_ENTER(m, "MmPrepareMdlForReuse");
    mmi_mdl_note(m, mdl, 0x50524550 /* "PREP" */);
    struct mm_mdl h;
    mm_status st = mmi_mdl_begin(m, mdl, MM_DISPATCH_LEVEL, &h);
    if (!MM_SUCCESS(st))
        return st;
    if (flags_of(&h) & MM_MDL_PARTIAL_HAS_BEEN_MAPPED)
        return mmi_mdl_unmap_system(m, mdl, &h);
    return MM_STATUS_SUCCESS; /* never unmaps a non-partial MDL */
}

/* ---- accesses through stale user mappings ---- */

/* A frame an unlocked mapping may still rightly reach: nonpaged pool or
 * MmAllocatePagesForMdl pages that are still allocated. */
static bool frame_allocated(mm_machine *m, mm_pfn pfn)
{
    if (!mmi_pfn_is_ram(m, pfn) || pfn >= m->pfn.untouched)
        return !mmi_pfn_is_ram(m, pfn);
    const struct mmi_pfn *e = mmi_pfn(m, pfn);
    mm_page_use use = mmi_pfn_use(e);
    return mmi_pfn_location(e) == MM_ACTIVE_AND_VALID &&
           (use == MM_USE_NONPAGED_POOL || use == MM_USE_MDL_PAGES || use == MM_USE_CONTIGUOUS);
}

static bool already_found(const mm_machine *m, mm_va page, mm_pfn pfn, uint32_t process_id)
{
    const struct mmi_mdl_state *s = m->mdl;
    for (size_t i = 0; i < s->finding_count; i++) {
        const struct mm_finding *f = &s->findings[i];
        if (f->kind == MM_FINDING_STALE_MAPPING_ACCESS && f->process_id == process_id && f->pfn == pfn &&
            MM_PAGE_ALIGN(f->va) == page)
            return true;
    }
    return false;
}

/* Where the frame is now, in words: "on the Free list", "process 4's
 * NonPagedPool page". */
static void frame_now(mm_machine *m, mm_pfn pfn, char *buf, size_t size)
{
    static const char *const uses[] = {"unused", "private", "page-table", "nonpaged pool", "paged pool", "image",
                                       "MDL", "system", "section", "kernel-stack", "contiguous"};
    const struct mmi_pfn *e = pfn < m->pfn.untouched ? mmi_pfn(m, pfn) : NULL;
    unsigned loc = e ? mmi_pfn_location(e) : MM_ZEROED_PAGE_LIST;
    if (loc != MM_ACTIVE_AND_VALID) {
        snprintf(buf, size, "it is on the %s list", mm_page_location_name(loc));
        return;
    }
    unsigned use = mmi_pfn_use(e);
    snprintf(buf, size, "it is now a %s page of process %u", use < sizeof uses / sizeof uses[0] ? uses[use] : "?", e->owner);
}

void mmi_mdl_stale_access(mm_machine *m, mm_va va, mm_pfn pfn, uint32_t process_id)
{
    const struct mmi_user_map *map = NULL;
    for (const struct mmi_user_map *u = m->mdl->user_maps; u; u = u->next)
        if (u->process == process_id && va >= u->va && va < u->va + u->pages * MM_PAGE_SIZE)
            map = u;
    /* A mapping of a locked MDL needs the lock; one of an MDL that was never
     * locked (nonpaged pool, allocated pages) needs the frame allocated. */
    bool stale = map && !map->unlocked ? !frame_locked(m, pfn) && !frame_allocated(m, pfn) : !frame_locked(m, pfn);
    if (!stale || already_found(m, MM_PAGE_ALIGN(va), pfn, process_id))
        return;
    char now[64];
    frame_now(m, pfn, now, sizeof now);
    uint32_t owner = pfn < m->pfn.untouched ? mmi_pfn(m, pfn)->owner : 0;
    mmi_mdl_finding(m, MM_FINDING_STALE_MAPPING_ACCESS, map ? map->mdl : 0, va, pfn, owner,
                    "process %u touched %016llx through a stale MDL user mapping: PFN 0x%llx is no longer held "
                    "for it (%s)", process_id, (unsigned long long)va, (unsigned long long)pfn, now);
}

/* ---- a device's view: the PFN array ---- */

/* A device programmed from an MDL that was never built, locked or given
 * pages reads whatever the pool block held as PFNs. */
static void describes_pages_check(mm_machine *m, mm_va mdl, const struct mm_mdl *h)
{
    unsigned f = flags_of(h);
    struct mmi_mdl_rec *r = mmi_mdl_rec(m, mdl);
    if ((f & (MM_MDL_PAGES_LOCKED | MM_MDL_SOURCE_IS_NONPAGED_POOL | MM_MDL_PARTIAL)) || (r && r->pages_allocated))
        return;
    mmi_mdl_finding(m, MM_FINDING_STALE_DMA, mdl, MM_MDL_VIRTUAL_ADDRESS(h), MM_PFN_NONE, 0,
                    "a device was programmed from MDL %016llx, which was never built, locked or given pages (flags "
                    "0x%04x): its PFN array is whatever the pool block held", (unsigned long long)mdl, f);
}

mm_status mm_dma_transfer(mm_machine *m, mm_va mdl, uint64_t offset, void *buffer, size_t length, bool to_memory)
{
    MMI_ENTER(m, "DmaTransfer");
    mmi_mdl_note(m, mdl, 0x444D4120 /* "DMA " */);
    struct mm_mdl h;
    mm_status st = mmi_mdl_load(m, mdl, &h);
    if (!MM_SUCCESS(st))
        return st;
    if (!buffer || offset > h.ByteCount || length > h.ByteCount - offset)
        return MM_STATUS_INVALID_PARAMETER;
    describes_pages_check(m, mdl, &h);
    uint64_t at = h.ByteOffset + offset;
    for (size_t done = 0; done < length;) {
        mm_pfn pfn;
        if (!MM_SUCCESS(st = mmi_mdl_pfn(m, mdl, at / MM_PAGE_SIZE, &pfn)))
            return st;
        uint32_t in_page = (uint32_t)(at % MM_PAGE_SIZE);
        size_t chunk = MM_PAGE_SIZE - in_page < length - done ? MM_PAGE_SIZE - in_page : length - done;
        /* A RAM frame never used yet reads as zeros; a device write there
         * gives it a PFN entry first. */
        if (mmi_pfn_is_ram(m, pfn) && pfn >= m->pfn.untouched && to_memory &&
            !MM_SUCCESS(st = mmi_pfn_materialise(m, pfn + 1)))
            return st;
        if (mmi_pfn_is_ram(m, pfn) && pfn >= m->pfn.untouched) {
            memset((char *)buffer + done, 0, chunk);
        } else if (!mmi_pfn_is_ram(m, pfn)) {
            if (!to_memory)
                memset((char *)buffer + done, 0xFF, chunk); /* nothing answers: the bus reads all ones */
        } else {
            if (!frame_locked(m, pfn) && !frame_allocated(m, pfn)) {
                char now[64];
                frame_now(m, pfn, now, sizeof now);
                mmi_mdl_finding(m, MM_FINDING_STALE_DMA, mdl, h.StartVa + at, pfn, mmi_pfn(m, pfn)->owner,
                                "a device %s PFN 0x%llx through MDL %016llx, but the frame is not held for it "
                                "(%s)", to_memory ? "wrote" : "read", (unsigned long long)pfn,
                                (unsigned long long)mdl, now);
            }
            if (to_memory && !MM_SUCCESS(st = mmi_check_structure_write(m, pfn, in_page, (const char *)buffer + done,
                                                                         chunk, "a device (DMA)")))
                return st;
            if (to_memory)
                mmi_frame_write(m, pfn, in_page, (const char *)buffer + done, chunk);
            else
                mmi_frame_read(m, pfn, in_page, (char *)buffer + done, chunk);
        }
        done += chunk;
        at += chunk;
    }
    return MM_STATUS_SUCCESS;
}
