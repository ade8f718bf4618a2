/* libmm/physical.c — physical-memory DDIs: MmMapIoSpace(Ex) / MmUnmapIoSpace
 * over device (non-RAM) frames and locked RAM, MmAllocateNonCachedMemory and
 * MmAllocateContiguousMemory(SpecifyCache) with their frees and checks. Every
 * mapping and allocation is recorded by its first VA (a hash), so a free that
 * names something else is caught as Windows catches it. */
#include "physical.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>

#include "alloc.h"
#include "bugcheck.h"
#include "hash.h"
#include "irql.h"
#include "machine.h"
#include "pfn.h"
#include "pool.h"
#include "process.h"
#include "pte.h"
#include "syspte.h"
#include "trace.h"

enum range_kind { RANGE_IO_SPACE = 1, RANGE_NON_CACHED, RANGE_CONTIGUOUS };

/* One I/O mapping or allocation. */
struct range {
    UT_hash_handle hh;
    mm_va va;                /* first mapped page (the key) */
    uint64_t pages;
    enum range_kind kind;
    mm_pfn first;            /* I/O space and contiguous: frame of the first page */
    mm_pfn *frames;          /* non-cached: each page's frame */
    mm_pfn_cache attribute;  /* requested (I/O space), or given to the frames */
};

struct mmi_physical_state {
    struct range *ranges;
    /* Contiguous allocations whose system PTEs a driver released with
     * MmUnmapLockedPages: their frames stay allocated and unmapped (leaked,
     * as on Windows), linked through hh.next. */
    struct range *orphans;
};

/* Kernel PTEs written here: valid, accessed, dirty, global; the allocations'
 * PTEs hold their frame's share, I/O mappings carry the MDL-mapping bit
 * (they borrow the frame, as an MDL mapping borrows the MDL's lock). */
#define KERNEL_VALID (PTE_VALID | PTE_ACCESSED | PTE_DIRTY | PTE_GLOBAL)
#define KERNEL_WRITABLE (PTE_DIRTY1 | PTE_WRITE)

#define NOTE_IO_MAP 0x494F4D50u     /* "IOMP" */
#define NOTE_IO_UNMAP 0x494F554Du   /* "IOUM" */
#define NOTE_NC_ALLOC 0x4E43414Cu   /* "NCAL" */
#define NOTE_NC_FREE 0x4E434652u    /* "NCFR" */
#define NOTE_CT_ALLOC 0x4354414Cu   /* "CTAL" */
#define NOTE_CT_FREE 0x43544652u    /* "CTFR" */

#define MAX_PHYSICAL_ADDRESS ((UINT64_C(1) << 48) - 1) /* what a PTE's frame number holds (bits 12-47) */

bool mmi_physical_init(mm_machine *m)
{
    m->physical = mmi_alloc(m, sizeof *m->physical);
    return m->physical != NULL;
}

static void range_free(mm_machine *m, struct range *r)
{
    mmi_free(m, r->frames);
    mmi_free(m, r);
}

void mmi_physical_fini(mm_machine *m)
{
    struct mmi_physical_state *s = m->physical;
    if (!s)
        return;
    mm_machine *uthash_m = m;
    struct range *r, *tmp;
    HASH_ITER(hh, s->ranges, r, tmp) {
        HASH_DEL(s->ranges, r);
        range_free(m, r);
    }
    (void)uthash_m;
    for (r = s->orphans; r; r = tmp) {
        tmp = r->hh.next;
        range_free(m, r);
    }
    mmi_free(m, s);
    m->physical = NULL;
}

/* ---- the registry ---- */

static struct range *range_at(mm_machine *m, mm_va va)
{
    struct range *r;
    HASH_FIND(hh, m->physical->ranges, &va, sizeof va, r);
    return r;
}

/* Records a range; false (nothing recorded) when the host refuses. */
static bool range_add(mm_machine *m, struct range *r)
{
    mm_machine *uthash_m = m;
    bool uthash_failed = false;
    HASH_ADD(hh, m->physical->ranges, va, sizeof r->va, r);
    (void)uthash_m;
    return !uthash_failed;
}

static void range_remove(mm_machine *m, struct range *r)
{
    mm_machine *uthash_m = m;
    HASH_DEL(m->physical->ranges, r);
    (void)uthash_m;
    range_free(m, r);
}

const char *mmi_physical_released(mm_machine *m, mm_va va)
{
    struct range *r = range_at(m, va);
    if (!r)
        return NULL;
    mm_machine *uthash_m = m;
    HASH_DEL(m->physical->ranges, r);
    (void)uthash_m;
    if (r->kind == RANGE_IO_SPACE) {
        range_free(m, r);
        return "the I/O-space mapping made there by MmMapIoSpace: its MmUnmapIoSpace will find no mapping";
    }
    assert(r->kind == RANGE_CONTIGUOUS); /* a non-cached allocation's guard PTE makes a release there misfit */
    r->hh.next = m->physical->orphans;
    m->physical->orphans = r;
    return "the contiguous allocation made there: its frames stay allocated and unmapped, and "
           "MmFreeContiguousMemory will not know the address";
}

static const struct range *orphan_at(mm_machine *m, mm_va va)
{
    for (const struct range *r = m->physical->orphans; r; r = r->hh.next)
        if (r->va == va)
            return r;
    return NULL;
}

bool mmi_physical_orphaned_frame(mm_machine *m, mm_pfn pfn)
{
    for (const struct range *r = m->physical->orphans; r; r = r->hh.next)
        if (pfn >= r->first && pfn - r->first < r->pages)
            return true;
    return false;
}

/* ---- cache attributes (mmi_pfn_cache_of: MiPlatformCacheAttributes, x64) ---- */

static uint64_t attribute_bits(mm_pfn_cache attribute)
{
    switch (attribute) {
    case MM_PFN_NON_CACHED: return PTE_CACHE_DISABLE | PTE_WRITE_THROUGH;
    case MM_PFN_WRITE_COMBINED: return PTE_CACHE_DISABLE;
    default: return 0;
    }
}

static unsigned attribute_protection(mm_pfn_cache attribute)
{
    return attribute == MM_PFN_NON_CACHED ? MMP_NOCACHE : attribute == MM_PFN_WRITE_COMBINED ? MMP_WRITECOMBINE : 0;
}

static mm_pfn_cache frame_attribute(const struct mmi_pfn *e)
{
    return (mm_pfn_cache)((e->flags & MMI_PF_CACHE) >> MMI_PF_CACHE_SHIFT);
}

static void set_frame_attribute(struct mmi_pfn *e, mm_pfn_cache attribute)
{
    e->flags = (uint16_t)((e->flags & ~MMI_PF_CACHE) | ((unsigned)attribute << MMI_PF_CACHE_SHIFT));
}

/* ---- RAM frames under an I/O mapping ---- */

/* Held for the caller, so that mapping it is safe: locked by an MDL (a
 * reference beyond its mapping's; a locked frame trimmed from its working
 * set is in transition), or nonpageable memory the system hands out. */
static bool frame_held(mm_machine *m, mm_pfn pfn)
{
    if (pfn >= m->pfn.untouched)
        return false;
    const struct mmi_pfn *e = mmi_pfn(m, pfn);
    unsigned location = mmi_pfn_location(e);
    if (location == MM_TRANSITION_PAGE)
        return e->reference_count >= 1;
    if (location != MM_ACTIVE_AND_VALID)
        return false;
    switch (mmi_pfn_use(e)) {
    case MM_USE_NONPAGED_POOL:
    case MM_USE_MDL_PAGES:
    case MM_USE_CONTIGUOUS:
    case MM_USE_PAGE_TABLE:
    case MM_USE_KERNEL_STACK: return true;
    default: return e->reference_count >= 2;
    }
}

/* A page-table page of system space (Windows 10 1803 refuses to map these). */
static bool system_page_table(mm_machine *m, mm_pfn pfn)
{
    if (pfn >= m->pfn.untouched)
        return false;
    const struct mmi_pfn *e = mmi_pfn(m, pfn);
    return mmi_pfn_location(e) == MM_ACTIVE_AND_VALID && mmi_pfn_use(e) == MM_USE_PAGE_TABLE &&
           e->owner == m->system->id;
}

/* The attribute a RAM frame is mapped with: a held frame keeps the one it
 * has (MmMapLockedPagesSpecifyCache's rule: the TB must stay coherent), and
 * one that has none yet takes the request. */
static mm_pfn_cache ram_attribute(mm_machine *m, mm_pfn pfn, mm_pfn_cache requested)
{
    if (!frame_held(m, pfn))
        return requested;
    struct mmi_pfn *e = mmi_pfn(m, pfn);
    if (frame_attribute(e) == MM_PFN_NOT_MAPPED)
        set_frame_attribute(e, requested);
    return frame_attribute(e);
}

/* ---- system PTE helpers ---- */

/* The page tables of [va, va + pages) exist before any frame is chosen
 * (making one takes a frame). */
static mm_status ensure_tables(mm_machine *m, mm_va va, uint64_t pages)
{
    for (uint64_t i = 0; i < pages; i++) {
        mm_va page = va + i * MM_PAGE_SIZE;
        if (i && mmi_va_index(page, 3) != 0)
            continue;
        mm_pfn table;
        mm_status st = mmi_pt_ensure(m, m->system->pml4, page, m->system->id, &table);
        if (!MM_SUCCESS(st))
            return st;
    }
    return MM_STATUS_SUCCESS;
}

static mm_pfn table_of(mm_machine *m, mm_va va)
{
    mm_pfn table = mmi_leaf_table(m, m->system->pml4, va);
    assert(table != MM_PFN_NONE);
    return table;
}

/* A frame owned by its one system PTE: active, share and reference 1. */
static void map_owned_frame(mm_machine *m, mm_va va, mm_pfn pfn, uint64_t pte_bits, unsigned protection,
                            mm_page_use use, mm_pfn_cache attribute)
{
    mm_pfn table = table_of(m, va);
    mmi_pfn_init_active(m, pfn, mmi_pte_address(va, 3), table, mmi_pte_make_demand_zero(protection), m->system->id,
                        use);
    set_frame_attribute(mmi_pfn(m, pfn), attribute);
    mmi_pte_set(m, table, mmi_va_index(va, 3), va, (pfn << MM_PAGE_SHIFT) | pte_bits);
}

/* Zeroes the PTE of an owned frame and lets the frame go: it returns to the
 * free list at its last reference (a lock may still hold it). */
static mm_status release_owned_frame(mm_machine *m, mm_va va, mm_pfn pfn)
{
    mmi_pte_set(m, table_of(m, va), mmi_va_index(va, 3), va, 0);
    return mmi_pfn_delete(m, pfn, true);
}

/* The system PTE allocator's check of a release, as a bug check. */
static mm_status check_release(mm_machine *m, mm_va va, uint64_t pages)
{
    uint64_t p3, p4;
    uint32_t code = mmi_syspte_check_release(m, va, pages, &p3, &p4);
    if (!code)
        return MM_STATUS_SUCCESS;
    return mmi_bugcheck(m, MM_BUGCHECK_SYSTEM_PTE_MISUSE, code, va, p3, p4, MM_PFN_NONE, va,
                        "%s released %llu system PTEs at %016llx, but %s", m->op, (unsigned long long)pages,
                        (unsigned long long)va,
                        code == 0x303   ? "that range was never reserved from the system PTE pool"
                        : code == 0x304 ? "that address lies inside another mapping"
                        : code == 0x305 ? "the mapping there has a different size"
                                        : "those PTEs are already free (freed twice, or never allocated)");
}

/* ---- MmMapIoSpace / MmMapIoSpaceEx / MmUnmapIoSpace ---- */

/* MmMapIoSpaceEx's Protect: one base protection, at most one cache
 * modifier. */
static bool io_protection(uint32_t protect, uint64_t *bits, mm_cache_type *cache)
{
    switch (protect & 0xFFu) {
    case MM_PAGE_READONLY: *bits = PTE_NO_EXECUTE; break;
    case MM_PAGE_READWRITE: *bits = KERNEL_WRITABLE | PTE_NO_EXECUTE; break;
    case MM_PAGE_EXECUTE:
    case MM_PAGE_EXECUTE_READ: *bits = 0; break;
    case MM_PAGE_EXECUTE_READWRITE: *bits = KERNEL_WRITABLE; break;
    default: return false;
    }
    switch (protect & ~0xFFu) {
    case 0: *cache = MM_CACHED; return true;
    case MM_PAGE_NOCACHE: *cache = MM_NON_CACHED; return true;
    case MM_PAGE_WRITECOMBINE: *cache = MM_WRITE_COMBINED; return true;
    default: return false;
    }
}

/* Verifier's checks of the range: IRQL, then RAM that nobody locked. */
static mm_status verifier_map_checks(mm_machine *m, uint64_t physical_address, uint64_t bytes, mm_pfn first,
                                     uint64_t pages)
{
    mm_irql irql = mmi_irql(m);
    if (irql > MM_DISPATCH_LEVEL)
        return mmi_bugcheck(m, MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0x73, irql, physical_address, bytes,
                            MM_PFN_NONE, 0, "%s of physical address %llx at IRQL %u", m->op,
                            (unsigned long long)physical_address, irql);
    for (uint64_t i = 0; i < pages && mmi_pfn_is_ram(m, first + i); i++)
        if (!frame_held(m, first + i))
            return mmi_bugcheck(m, MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0x83, physical_address, bytes,
                                first + i, first + i, 0,
                                "%s of physical address %llx: PFN 0x%llx is RAM that is not locked, so its owner "
                                "may free it while the mapping lives",
                                m->op, (unsigned long long)physical_address, (unsigned long long)(first + i));
    return MM_STATUS_SUCCESS;
}

/* Writes the mapping's PTEs: device frames with the requested attribute,
 * RAM frames with their own. No PFN count changes. */
static mm_status write_io_ptes(mm_machine *m, mm_va va, mm_pfn first, uint64_t pages, uint64_t bits,
                               mm_pfn_cache requested)
{
    for (uint64_t i = 0; i < pages; i++) {
        mm_pfn pfn = first + i;
        mm_pfn_cache attribute = mmi_pfn_is_ram(m, pfn) ? ram_attribute(m, pfn, requested) : requested;
        uint64_t pte_bits = KERNEL_VALID | MMI_PTE_MDL_MAPPING | bits | attribute_bits(attribute);
        mm_status st = mmi_syspte_map(m, va + i * MM_PAGE_SIZE, &pfn, 1, pte_bits);
        if (!MM_SUCCESS(st)) {
            mmi_syspte_unmap(m, va, i);
            return st;
        }
    }
    return MM_STATUS_SUCCESS;
}

static mm_va map_io_space(mm_machine *m, uint64_t physical_address, uint64_t bytes, mm_cache_type cache,
                          uint64_t bits)
{
    if ((unsigned)cache >= MM_MAXIMUM_CACHE_TYPE || bytes == 0 || bytes - 1 > MAX_PHYSICAL_ADDRESS ||
        physical_address > MAX_PHYSICAL_ADDRESS - (bytes - 1))
        return 0;
    mm_pfn first = physical_address >> MM_PAGE_SHIFT;
    uint64_t pages = MM_SPAN_PAGES(physical_address, bytes);
    if (mmi_verifier(m) && !MM_SUCCESS(verifier_map_checks(m, physical_address, bytes, first, pages)))
        return 0;
    if (pages > m->syspte.size)
        return 0;
    mm_pfn ram_end = first; /* one past the last RAM frame of the range */
    for (; ram_end < first + pages && mmi_pfn_is_ram(m, ram_end); ram_end++)
        if (system_page_table(m, ram_end))
            return 0; /* Windows 10 1803 and later: paging structures are not for drivers */
    /* A free RAM frame mapped by mistake (without Verifier nothing stops it)
     * needs an entry to keep what is written through the mapping. */
    if (ram_end > first && ram_end > m->pfn.untouched && !MM_SUCCESS(mmi_pfn_materialise(m, ram_end)))
        return 0;
    mm_va va = mmi_syspte_reserve(m, pages);
    if (!va)
        return 0;
    struct range *r = mmi_alloc(m, sizeof *r);
    if (!r)
        goto fail_ptes;
    *r = (struct range){.va = va, .pages = pages, .kind = RANGE_IO_SPACE, .first = first,
                        .attribute = mmi_pfn_cache_of(cache)};
    if (!MM_SUCCESS(write_io_ptes(m, va, first, pages, bits, r->attribute)))
        goto fail_range;
    if (!range_add(m, r))
        goto fail_map;
    mmi_trace(m, MM_EV_NOTE, va, first, NOTE_IO_MAP, pages);
    return va + MM_BYTE_OFFSET(physical_address);
fail_map:
    mmi_syspte_unmap(m, va, pages);
fail_range:
    mmi_free(m, r);
fail_ptes:
    mmi_syspte_release(m, va, pages);
    return 0;
}

mm_va mm_map_io_space(mm_machine *m, uint64_t physical_address, uint64_t bytes, mm_cache_type cache)
{
    MMI_ENTER_RET(m, "MmMapIoSpace", 0);
    /* The legacy routine's PTEs are writable and executable. */
    return map_io_space(m, physical_address, bytes, cache, KERNEL_WRITABLE);
}

mm_va mm_map_io_space_ex(mm_machine *m, uint64_t physical_address, uint64_t bytes, uint32_t protect)
{
    MMI_ENTER_RET(m, "MmMapIoSpaceEx", 0);
    uint64_t bits;
    mm_cache_type cache;
    if (!io_protection(protect, &bits, &cache))
        return 0;
    return map_io_space(m, physical_address, bytes, cache, bits);
}

mm_status mm_unmap_io_space(mm_machine *m, mm_va base, uint64_t bytes)
{
    MMI_ENTER(m, "MmUnmapIoSpace");
    mm_irql irql = mmi_irql(m);
    if (mmi_verifier(m) && irql > MM_APC_LEVEL)
        return mmi_bugcheck(m, MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0x7B, irql, base, bytes, MM_PFN_NONE,
                            base, "MmUnmapIoSpace(%016llx) at IRQL %u", (unsigned long long)base, irql);
    mm_va va = MM_PAGE_ALIGN(base);
    uint64_t pages = bytes > UINT64_MAX - 2 * MM_PAGE_SIZE ? UINT64_MAX >> MM_PAGE_SHIFT : MM_SPAN_PAGES(base, bytes);
    struct range *r = range_at(m, va);
    if (!r || r->kind != RANGE_IO_SPACE)
        return mmi_bugcheck(m, MM_BUGCHECK_SYSTEM_PTE_MISUSE, 0x400, va, pages, 0, MM_PFN_NONE, base,
                            "MmUnmapIoSpace(%016llx, 0x%llx): %s", (unsigned long long)base,
                            (unsigned long long)bytes,
                            !r ? "no I/O-space mapping starts there (never mapped, already unmapped, or not its "
                                 "first page)"
                               : r->kind == RANGE_NON_CACHED ? "that is non-cached memory: free it with "
                                                               "MmFreeNonCachedMemory"
                                                             : "that is contiguous memory: free it with "
                                                               "MmFreeContiguousMemory");
    if (pages != r->pages)
        return mmi_bugcheck(m, MM_BUGCHECK_SYSTEM_PTE_MISUSE, 0x305, va, pages, r->pages, MM_PFN_NONE, base,
                            "MmUnmapIoSpace(%016llx, 0x%llx) releases %llu system PTEs, but the I/O mapping there "
                            "has %llu: the size must be the one passed to MmMapIoSpace",
                            (unsigned long long)base, (unsigned long long)bytes, (unsigned long long)pages,
                            (unsigned long long)r->pages);
    mm_status st = check_release(m, va, pages);
    if (!MM_SUCCESS(st))
        return st;
    mmi_trace(m, MM_EV_NOTE, va, r->first, NOTE_IO_UNMAP, pages);
    mmi_syspte_unmap(m, va, pages);
    mmi_syspte_release(m, va, pages);
    range_remove(m, r);
    return MM_STATUS_SUCCESS;
}

/* ---- MmAllocateNonCachedMemory / MmFreeNonCachedMemory ---- */

static uint64_t bytes_to_pages(uint64_t bytes)
{
    return (bytes >> MM_PAGE_SHIFT) + ((bytes & (MM_PAGE_SIZE - 1)) != 0);
}

#define NON_CACHED_BITS (KERNEL_VALID | KERNEL_WRITABLE | PTE_NO_EXECUTE | PTE_CACHE_DISABLE | PTE_WRITE_THROUGH)

/* Takes and maps one fresh frame per page; on failure releases them all. */
static mm_status map_non_cached(mm_machine *m, struct range *r)
{
    mm_status st = ensure_tables(m, r->va, r->pages);
    for (uint64_t i = 0; MM_SUCCESS(st) && i < r->pages; i++) {
        mm_pfn pfn;
        st = mmi_pfn_take(m, false, &pfn);
        if (!MM_SUCCESS(st))
            break;
        /* The pages of MmAllocatePagesForMdl, as Windows takes them. */
        map_owned_frame(m, r->va + i * MM_PAGE_SIZE, pfn, NON_CACHED_BITS, MMP_READWRITE | MMP_NOCACHE,
                        MM_USE_MDL_PAGES, MM_PFN_NON_CACHED);
        mmi_pfn_flag(mmi_pfn(m, pfn), MMI_PF_DELETED, true);
        r->frames[i] = pfn;
    }
    if (MM_SUCCESS(st))
        return st;
    for (uint64_t i = 0; i < r->pages && r->frames[i] != MM_PFN_NONE; i++)
        release_owned_frame(m, r->va + i * MM_PAGE_SIZE, r->frames[i]);
    return st;
}

mm_va mm_allocate_non_cached_memory(mm_machine *m, uint64_t bytes)
{
    MMI_ENTER_RET(m, "MmAllocateNonCachedMemory", 0);
    if (!mmi_irql_apc_lte(m))
        return 0;
    uint64_t pages = bytes_to_pages(bytes);
    if (pages == 0 || pages >= m->syspte.size || pages > m->pfn.pages)
        return 0;
    /* One more PTE in front, where Windows keeps the hidden MDL. */
    mm_va header = mmi_syspte_reserve(m, pages + 1);
    if (!header)
        return 0;
    struct range *r = mmi_alloc(m, sizeof *r);
    mm_pfn *frames = mmi_alloc(m, pages * sizeof *frames);
    if (!r || !frames)
        goto fail;
    for (uint64_t i = 0; i < pages; i++)
        frames[i] = MM_PFN_NONE;
    *r = (struct range){.va = header + MM_PAGE_SIZE, .pages = pages, .kind = RANGE_NON_CACHED, .frames = frames,
                        .attribute = MM_PFN_NON_CACHED};
    if (!MM_SUCCESS(map_non_cached(m, r)))
        goto fail;
    if (!range_add(m, r)) {
        for (uint64_t i = 0; i < pages; i++)
            release_owned_frame(m, r->va + i * MM_PAGE_SIZE, frames[i]);
        goto fail;
    }
    mmi_trace(m, MM_EV_NOTE, r->va, frames[0], NOTE_NC_ALLOC, pages);
    return r->va;
fail:
    mmi_free(m, frames);
    mmi_free(m, r);
    mmi_syspte_release(m, header, pages + 1);
    return 0;
}

mm_status mm_free_non_cached_memory(mm_machine *m, mm_va base, uint64_t bytes)
{
    MMI_ENTER(m, "MmFreeNonCachedMemory");
    if (!mmi_irql_apc_lte(m))
        return MM_STATUS_MACHINE_DEAD;
    /* Windows releases pages + 1 PTEs from the one before base; its
     * allocator checks that release (0x303-0x306). */
    mm_va va = MM_PAGE_ALIGN(base);
    uint64_t pages = bytes > UINT64_MAX - 2 * MM_PAGE_SIZE ? UINT64_MAX >> MM_PAGE_SHIFT : bytes_to_pages(bytes);
    struct range *r = range_at(m, va);
    mm_status st = check_release(m, va - MM_PAGE_SIZE, pages + 1);
    if (!MM_SUCCESS(st))
        return st;
    if (!r || r->kind != RANGE_NON_CACHED)
        return mmi_bugcheck(m, MM_BUGCHECK_SYSTEM_PTE_MISUSE, 0x303, va - MM_PAGE_SIZE, pages + 1, 0, MM_PFN_NONE,
                            base, "MmFreeNonCachedMemory(%016llx): no non-cached allocation starts there, so the "
                            "%llu system PTEs from the one before it were not reserved for one",
                            (unsigned long long)base, (unsigned long long)(pages + 1));
    mmi_trace(m, MM_EV_NOTE, va, r->frames[0], NOTE_NC_FREE, pages);
    for (uint64_t i = 0; i < pages; i++)
        if (!MM_SUCCESS(st = release_owned_frame(m, va + i * MM_PAGE_SIZE, r->frames[i])))
            return st;
    mmi_syspte_release(m, va - MM_PAGE_SIZE, pages + 1);
    range_remove(m, r);
    return MM_STATUS_SUCCESS;
}

/* ---- MmAllocateContiguousMemory(SpecifyCache) / MmFreeContiguousMemory ---- */

/* The lowest run of n available frames in [lo, hi] that does not cross a
 * multiple of `boundary` frames (0: none); MM_PFN_NONE if there is none.
 * Frames never used are all available, so only the used part is read. */
static mm_pfn find_run(mm_machine *m, mm_pfn lo, mm_pfn hi, uint64_t n, uint64_t boundary)
{
    mm_pfn end = hi < m->pfn.untouched ? hi + 1 : m->pfn.untouched;
    uint64_t run = 0;
    for (mm_pfn f = lo; f < end; f++) {
        if (boundary && (f & (boundary - 1)) == 0)
            run = 0;
        if (!mmi_pfn_available(m, f)) {
            run = 0;
            continue;
        }
        if (++run == n)
            return f + 1 - n;
    }
    if (hi < m->pfn.untouched)
        return MM_PFN_NONE;
    /* The run so far continues into the frames never used. */
    mm_pfn start = run ? end - run : (lo > end ? lo : end);
    if (boundary && ((start ^ (start + n - 1)) & ~(boundary - 1)))
        start = (start | (boundary - 1)) + 1;
    if (start > hi || n - 1 > hi - start)
        return MM_PFN_NONE;
    return start;
}

static mm_status map_contiguous(mm_machine *m, mm_va va, mm_pfn first, uint64_t pages, mm_pfn_cache attribute)
{
    mm_status st = mmi_pfn_materialise(m, first + pages);
    if (!MM_SUCCESS(st))
        return st;
    /* Contiguous memory is executable (MmAllocateContiguousMemory's page). */
    uint64_t bits = KERNEL_VALID | KERNEL_WRITABLE | attribute_bits(attribute);
    for (uint64_t i = 0; i < pages; i++) {
        st = mmi_pfn_take_frame(m, first + i, false);
        assert(MM_SUCCESS(st)); /* materialised above: it cannot fail */
        map_owned_frame(m, va + i * MM_PAGE_SIZE, first + i, bits,
                        MMP_EXECUTE_READWRITE | attribute_protection(attribute), MM_USE_CONTIGUOUS, attribute);
    }
    return MM_STATUS_SUCCESS;
}

static mm_va allocate_contiguous(mm_machine *m, uint64_t bytes, uint64_t lowest, uint64_t highest,
                                 uint64_t boundary, mm_cache_type cache)
{
    if (mmi_irql(m) > MM_DISPATCH_LEVEL)
        return 0; /* no documented check: it simply cannot be had */
    if ((unsigned)cache >= MM_MAXIMUM_CACHE_TYPE || bytes == 0 || (boundary & (MM_PAGE_SIZE - 1)) ||
        (boundary & (boundary - 1)))
        return 0;
    uint64_t pages = bytes_to_pages(bytes);
    uint64_t boundary_pages = boundary >> MM_PAGE_SHIFT;
    mm_pfn lo = bytes_to_pages(lowest);
    mm_pfn hi = highest >> MM_PAGE_SHIFT;
    if (hi >= m->pfn.pages)
        hi = m->pfn.pages - 1;
    if (lo > hi || pages > hi - lo + 1 || pages >= m->syspte.size || (boundary_pages && pages > boundary_pages))
        return 0;
    mm_va va = mmi_syspte_reserve(m, pages);
    if (!va)
        return 0;
    struct range *r = mmi_alloc(m, sizeof *r);
    mm_pfn first = MM_PFN_NONE;
    if (!r || !MM_SUCCESS(ensure_tables(m, va, pages)) ||
        (first = find_run(m, lo, hi, pages, boundary_pages)) == MM_PFN_NONE)
        goto fail;
    mm_pfn_cache attribute = mmi_pfn_cache_of(cache);
    *r = (struct range){.va = va, .pages = pages, .kind = RANGE_CONTIGUOUS, .first = first, .attribute = attribute};
    if (!MM_SUCCESS(map_contiguous(m, va, first, pages, attribute)))
        goto fail;
    if (!range_add(m, r)) {
        for (uint64_t i = 0; i < pages; i++)
            release_owned_frame(m, va + i * MM_PAGE_SIZE, first + i);
        goto fail;
    }
    mmi_trace(m, MM_EV_NOTE, va, first, NOTE_CT_ALLOC, pages);
    return va;
fail:
    mmi_free(m, r);
    mmi_syspte_release(m, va, pages);
    return 0;
}

mm_va mm_allocate_contiguous_memory(mm_machine *m, uint64_t bytes, uint64_t highest)
{
    MMI_ENTER_RET(m, "MmAllocateContiguousMemory", 0);
    return allocate_contiguous(m, bytes, 0, highest, 0, MM_CACHED);
}

mm_va mm_allocate_contiguous_memory_specify_cache(mm_machine *m, uint64_t bytes, uint64_t lowest, uint64_t highest,
                                                  uint64_t boundary, mm_cache_type cache)
{
    MMI_ENTER_RET(m, "MmAllocateContiguousMemorySpecifyCache", 0);
    return allocate_contiguous(m, bytes, lowest, highest, boundary, cache);
}

static mm_status free_contiguous(mm_machine *m, mm_va base)
{
    struct range *r = range_at(m, base);
    if (!r || r->kind != RANGE_CONTIGUOUS) {
        /* Windows' own pool fast path: a nonpaged pool address goes to
         * ExFreePool, with the pool's checks. */
        if (mmi_pool_region(m, base) == MM_NONPAGED_POOL)
            return mmi_pool_free_checked(m, base, 0);
        return mmi_bugcheck(m, MM_BUGCHECK_BAD_POOL_CALLER, 0x60, base, 0, 0, MM_PFN_NONE, base,
                            "%s(%016llx): %s", m->op, (unsigned long long)base,
                            r                    ? "that address is not contiguous memory"
                            : orphan_at(m, base) ? "MmUnmapLockedPages released the system PTEs of the contiguous "
                                                   "allocation there, so its PTE names no allocation"
                                                 : "no contiguous allocation starts there (freed already, or an "
                                                   "address inside one)");
    }
    mm_status st = check_release(m, base, r->pages);
    if (!MM_SUCCESS(st))
        return st;
    mmi_trace(m, MM_EV_NOTE, base, r->first, NOTE_CT_FREE, r->pages);
    for (uint64_t i = 0; i < r->pages; i++)
        if (!MM_SUCCESS(st = release_owned_frame(m, base + i * MM_PAGE_SIZE, r->first + i)))
            return st;
    mmi_syspte_release(m, base, r->pages);
    range_remove(m, r);
    return MM_STATUS_SUCCESS;
}

mm_status mm_free_contiguous_memory(mm_machine *m, mm_va base)
{
    MMI_ENTER(m, "MmFreeContiguousMemory");
    if (!mmi_irql_allows(m, MM_DISPATCH_LEVEL, base))
        return MM_STATUS_MACHINE_DEAD;
    return free_contiguous(m, base);
}

mm_status mm_free_contiguous_memory_specify_cache(mm_machine *m, mm_va base, uint64_t bytes, mm_cache_type cache)
{
    MMI_ENTER(m, "MmFreeContiguousMemorySpecifyCache");
    (void)bytes; /* Windows frees the whole allocation whatever these say */
    (void)cache;
    if (!mmi_irql_allows(m, MM_DISPATCH_LEVEL, base))
        return MM_STATUS_MACHINE_DEAD;
    return free_contiguous(m, base);
}

/* ---- invariants ---- */

static mm_status check_fail(char *why, size_t size, const char *fmt, ...) MMI_PRINTF(3, 4);
static mm_status check_fail(char *why, size_t size, const char *fmt, ...)
{
    if (why && size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, size, fmt, ap);
        va_end(ap);
    }
    return MM_STATUS_UNSUCCESSFUL;
}

static const char *kind_name(enum range_kind kind)
{
    return kind == RANGE_IO_SPACE ? "I/O mapping" : kind == RANGE_NON_CACHED ? "non-cached allocation"
                                                                             : "contiguous allocation";
}

static uint64_t pte_at(mm_machine *m, mm_va va)
{
    struct mmi_walk w;
    mmi_walk(m, m->system->pml4, va, &w);
    return w.depth == 4 ? w.entry[3] : 0;
}

/* One page of an allocation: its frame is owned through this PTE. */
static mm_status check_owned_page(mm_machine *m, const struct range *r, mm_va va, mm_pfn pfn, uint64_t pte,
                                  char *why, size_t size)
{
    if (pte & MMI_PTE_MDL_MAPPING)
        return check_fail(why, size, "the PTE of %s page %016llx is marked as a borrowed mapping",
                          kind_name(r->kind), (unsigned long long)va);
    if (!mmi_pfn_is_ram(m, pfn) || pfn >= m->pfn.untouched)
        return check_fail(why, size, "%s page %016llx maps PFN 0x%llx, which is not a used RAM frame",
                          kind_name(r->kind), (unsigned long long)va, (unsigned long long)pfn);
    const struct mmi_pfn *e = mmi_pfn(m, pfn);
    mm_page_use use = r->kind == RANGE_CONTIGUOUS ? MM_USE_CONTIGUOUS : MM_USE_MDL_PAGES;
    if (mmi_pfn_location(e) != MM_ACTIVE_AND_VALID || mmi_pfn_use(e) != use || e->share_count != 1 ||
        e->reference_count < 1 || frame_attribute(e) != r->attribute)
        return check_fail(why, size,
                          "PFN 0x%llx of %s page %016llx is %s, use %u, share %u, reference %u, cache attribute %u",
                          (unsigned long long)pfn, kind_name(r->kind), (unsigned long long)va,
                          mm_page_location_name(mmi_pfn_location(e)), mmi_pfn_use(e), e->share_count,
                          e->reference_count, frame_attribute(e));
    return MM_STATUS_SUCCESS;
}

static mm_status check_range(mm_machine *m, const struct range *r, char *why, size_t size)
{
    mm_va first = r->kind == RANGE_NON_CACHED ? r->va - MM_PAGE_SIZE : r->va;
    uint64_t count = r->pages + (r->kind == RANGE_NON_CACHED);
    uint64_t p3, p4;
    if (mmi_syspte_check_release(m, first, count, &p3, &p4))
        return check_fail(why, size, "the %s at %016llx is not one allocation of %llu system PTEs",
                          kind_name(r->kind), (unsigned long long)r->va, (unsigned long long)count);
    if (r->kind == RANGE_NON_CACHED && mmi_pte_valid(pte_at(m, first)))
        return check_fail(why, size, "the PTE in front of non-cached allocation %016llx is valid",
                          (unsigned long long)r->va);
    for (uint64_t i = 0; i < r->pages; i++) {
        mm_va va = r->va + i * MM_PAGE_SIZE;
        mm_pfn pfn = r->kind == RANGE_NON_CACHED ? r->frames[i] : r->first + i;
        uint64_t pte = pte_at(m, va);
        if (!mmi_pte_valid(pte) || mmi_pte_pfn(pte) != pfn)
            return check_fail(why, size, "%s page %016llx should map PFN 0x%llx, but its PTE is %016llx",
                              kind_name(r->kind), (unsigned long long)va, (unsigned long long)pfn,
                              (unsigned long long)pte);
        if (r->kind == RANGE_IO_SPACE && !(pte & MMI_PTE_MDL_MAPPING))
            return check_fail(why, size, "I/O mapping page %016llx holds a share of PFN 0x%llx",
                              (unsigned long long)va, (unsigned long long)pfn);
        mm_status st = r->kind == RANGE_IO_SPACE ? MM_STATUS_SUCCESS : check_owned_page(m, r, va, pfn, pte, why, size);
        if (!MM_SUCCESS(st))
            return st;
    }
    return MM_STATUS_SUCCESS;
}

mm_status mmi_physical_check(mm_machine *m, char *why, size_t why_size)
{
    uint64_t contiguous = 0;
    for (const struct range *r = m->physical->ranges; r; r = r->hh.next) {
        mm_status st = check_range(m, r, why, why_size);
        if (!MM_SUCCESS(st))
            return st;
        if (r->kind == RANGE_CONTIGUOUS)
            contiguous += r->pages;
    }
    for (const struct range *r = m->physical->orphans; r; r = r->hh.next) {
        for (uint64_t i = 0; i < r->pages; i++) {
            const struct mmi_pfn *e = mmi_pfn(m, r->first + i);
            if (mmi_pfn_location(e) != MM_ACTIVE_AND_VALID || mmi_pfn_use(e) != MM_USE_CONTIGUOUS ||
                e->share_count != 1)
                return check_fail(why, why_size, "leaked contiguous PFN 0x%llx is %s, use %u, share %u",
                                  (unsigned long long)(r->first + i), mm_page_location_name(mmi_pfn_location(e)),
                                  mmi_pfn_use(e), e->share_count);
        }
        contiguous += r->pages;
    }
    uint64_t frames = 0;
    for (mm_pfn pfn = 0; pfn < m->pfn.untouched; pfn++) {
        const struct mmi_pfn *e = mmi_pfn(m, pfn);
        frames += mmi_pfn_location(e) == MM_ACTIVE_AND_VALID && mmi_pfn_use(e) == MM_USE_CONTIGUOUS;
    }
    if (frames != contiguous)
        return check_fail(why, why_size, "%llu active frames are contiguous memory but the allocations hold %llu",
                          (unsigned long long)frames, (unsigned long long)contiguous);
    return MM_STATUS_SUCCESS;
}
