/* libmm/mdl.c — MDLs: allocation and initialisation, MmProbeAndLockPages and
 * MmUnlockPages with the per-process lock charge, MmBuildMdlForNonPagedPool,
 * IoBuildPartialMdl, lock tracking (0x76 P1 1, 0xCB), and findings. Each DDI
 * is validate (Verifier's 0xC4 checks when on) -> walk -> change PFN state ->
 * record in the MDL -> trace; without Verifier the state change happens and
 * the consistency checks fire when Windows' would. */
#include "mdl.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "fault.h"
#include "image.h"
#include "irp.h"
#include "irql.h"
#include "machine.h"
#include "pfn.h"
#include "pool.h"
#include "process.h"
#include "pte.h"
#include "syspte.h"
#include "tlb.h"
#include "trace.h"

#define MDL_FIXED_PAGES 23u      /* lookaside MDLs hold up to 23 PFNs */
#define MDL_TAG MM_POOL_TAG('M', 'd', 'l', ' ')
#define TRACKER_TAG MM_POOL_TAG('L', 'c', 'k', 'T')

/* ---- state ---- */

bool mmi_mdl_init(mm_machine *m)
{
    struct mmi_mdl_state *s = m->mdl = mmi_alloc(m, sizeof *m->mdl);
    if (!s)
        return false;
    m->mdl_user_access = mmi_mdl_stale_access;
    mm_machine *uthash_m = m;
    bool uthash_failed = false;
    HASH_ADD(hh, s->recs, mdl, sizeof s->anchor.mdl, &s->anchor);
    (void)uthash_m;
    return !uthash_failed;
}

/* Windows 8 and later count the locks on device frames (they have no PFN
 * entry): an unlock with no lock to drop is 0x1A/0x61948. */
struct mmi_io_ref {
    UT_hash_handle hh;
    mm_pfn pfn;
    uint64_t locks;
};

static void free_io_refs(mm_machine *m)
{
    mm_machine *uthash_m = m;
    struct mmi_io_ref *r, *tmp;
    HASH_ITER(hh, m->mdl->io_refs, r, tmp) {
        HASH_DEL(m->mdl->io_refs, r);
        mmi_free(m, r);
    }
    (void)uthash_m;
}

static void io_frame_lock(mm_machine *m, mm_pfn pfn)
{
    struct mmi_io_ref *r = NULL;
    HASH_FIND(hh, m->mdl->io_refs, &pfn, sizeof pfn, r);
    if (!r) {
        mm_machine *uthash_m = m;
        bool uthash_failed = false;
        if (!(r = mmi_alloc(m, sizeof *r)))
            return; /* host out of memory: the lock goes uncounted */
        r->pfn = pfn;
        HASH_ADD(hh, m->mdl->io_refs, pfn, sizeof r->pfn, r);
        if (uthash_failed) {
            mmi_free(m, r);
            return;
        }
    }
    r->locks++;
}

static mm_status io_frame_unlock(mm_machine *m, mm_va mdl, const mm_pfn *pfns, uint64_t count, mm_pfn pfn)
{
    struct mmi_io_ref *r = NULL;
    HASH_FIND(hh, m->mdl->io_refs, &pfn, sizeof pfn, r);
    if (r && --r->locks == 0) {
        mm_machine *uthash_m = m;
        HASH_DEL(m->mdl->io_refs, r);
        mmi_free(m, r);
        (void)uthash_m;
    }
    if (r)
        return MM_STATUS_SUCCESS;
    mm_pfn base = pfn;
    uint64_t io_pages = 0;
    for (uint64_t i = 0; i < count && pfns[i] != MM_PFN_NONE; i++) {
        if (mmi_pfn_is_ram(m, pfns[i]))
            continue;
        if (!io_pages++)
            base = pfns[i];
    }
    return mmi_bugcheck(m, MM_BUGCHECK_MEMORY_MANAGEMENT, 0x61948, base, io_pages, pfn, MM_PFN_NONE, mdl,
                        "%s of MDL %016llx drops a lock on device frame 0x%llx that nobody holds (unlocked twice, "
                        "or never locked)", m->op, (unsigned long long)mdl, (unsigned long long)pfn);
}

void mmi_mdl_fini(mm_machine *m)
{
    struct mmi_mdl_state *s = m->mdl;
    if (!s)
        return;
    free_io_refs(m);
    mm_machine *uthash_m = m;
    struct mmi_mdl_rec *r, *tmp;
    HASH_ITER(hh, s->recs, r, tmp) {
        HASH_DEL(s->recs, r);
        if (r != &s->anchor)
            mmi_free(m, r);
    }
    (void)uthash_m;
    while (s->spare) {
        r = s->spare;
        s->spare = r->spare_next;
        mmi_free(m, r);
    }
    while (s->user_maps) {
        struct mmi_user_map *u = s->user_maps;
        s->user_maps = u->next;
        mmi_free(m, u);
    }
    mmi_free(m, s->findings);
    mmi_free(m, s->leaked);
    mmi_free(m, s->scratch);
    mmi_free(m, s);
    m->mdl = NULL;
}

/* ---- records ----
 * A record is in the hash by MDL address and, unless parked, in the list
 * of records in the order they were made. A record whose MDL went to the
 * lookaside list is parked: forgotten for every purpose, but left in the
 * hash for the next IoAllocateMdl of that MDL to revive without hashing. */

static void link_made(struct mmi_mdl_state *s, struct mmi_mdl_rec *r)
{
    r->made_prev = s->made_last;
    r->made_next = NULL;
    if (s->made_last)
        s->made_last->made_next = r;
    else
        s->made_first = r;
    s->made_last = r;
}

static void unlink_made(struct mmi_mdl_state *s, struct mmi_mdl_rec *r)
{
    if (r->made_prev)
        r->made_prev->made_next = r->made_next;
    else
        s->made_first = r->made_next;
    if (r->made_next)
        r->made_next->made_prev = r->made_prev;
    else
        s->made_last = r->made_prev;
    r->made_prev = r->made_next = NULL;
}

/* A record with every field clear. Copied from here, a reset is a few
 * vector stores; gcc makes memset of this size a `rep stos`, whose start-up
 * alone was 5% of an MDL lifecycle (docs/benchmarks.md). */
static const struct mmi_mdl_rec blank_rec;

/* A record made anew for an MDL: its old self's fields go, its place in
 * the hash stays. */
static void make_rec(struct mmi_mdl_state *s, struct mmi_mdl_rec *r, mm_va mdl)
{
    UT_hash_handle hh = r->hh;
    *r = blank_rec;
    r->hh = hh;
    r->mdl = mdl;
    r->id = ++s->next_id;
    link_made(s, r);
    s->last = r;
}

static struct mmi_mdl_rec *hashed_rec(struct mmi_mdl_state *s, mm_va mdl)
{
    struct mmi_mdl_rec *r;
    HASH_FIND(hh, s->recs, &mdl, sizeof mdl, r);
    return r;
}

/* The record of an MDL, if the model has one. A DDI sequence works on one
 * MDL at a time, so the last record found is kept at hand. */
static struct mmi_mdl_rec *find_rec(mm_machine *m, mm_va mdl)
{
    struct mmi_mdl_state *s = m->mdl;
    if (s->last && s->last->mdl == mdl)
        return s->last;
    if (!mdl) /* the anchor's key: no MDL lives at address 0 */
        return NULL;
    struct mmi_mdl_rec *r = hashed_rec(s, mdl);
    if (!r || r->parked)
        return NULL;
    s->last = r;
    return r;
}

/* A record leaves the hash for good. */
static void drop_rec(mm_machine *m, struct mmi_mdl_rec *r)
{
    struct mmi_mdl_state *s = m->mdl;
    mm_machine *uthash_m = m;
    if (s->last == r)
        s->last = NULL;
    if (!r->parked)
        unlink_made(s, r);
    HASH_DEL(s->recs, r);
    if (s->spare_count < 64) {
        r->spare_next = s->spare;
        s->spare = r;
        s->spare_count++;
    } else {
        mmi_free(m, r);
    }
    (void)uthash_m;
}

/* A parked record is revived where its lookaside entry can no longer
 * reach it. */
static void unpark(struct mmi_mdl_state *s, struct mmi_mdl_rec *r)
{
    for (unsigned i = 0; i < s->lookaside_count; i++)
        if (s->lookaside_rec[i] == r)
            s->lookaside_rec[i] = NULL;
    make_rec(s, r, r->mdl);
}

struct mmi_mdl_rec *mmi_mdl_rec_lookup(mm_machine *m, mm_va mdl)
{
    struct mmi_mdl_state *s = m->mdl;
    struct mmi_mdl_rec *r = find_rec(m, mdl);
    if (r || !mdl)
        return r;
    if ((r = hashed_rec(s, mdl)) != NULL) { /* parked: a freed MDL used again */
        unpark(s, r);
        return r;
    }
    mm_machine *uthash_m = m;
    bool uthash_failed = false;
    if ((r = s->spare) != NULL) { /* an MDL lifecycle frees one and makes one: no host allocation */
        s->spare = r->spare_next;
        s->spare_count--;
    } else if (!(r = mmi_alloc(m, sizeof *r))) {
        return NULL;
    }
    *r = blank_rec;
    r->mdl = mdl;
    HASH_ADD(hh, s->recs, mdl, sizeof r->mdl, r);
    if (uthash_failed) {
        mmi_free(m, r);
        return NULL;
    }
    make_rec(s, r, mdl);
    return r;
}

bool mmi_lock_tracking(const mm_machine *m)
{
    return m->cfg.track_locked_pages || (m->cfg.verifier_flags & MM_VERIFIER_POOL_TRACKING);
}

uint32_t mmi_eprocess_owner(mm_machine *m, uint64_t eprocess)
{
    struct mm_process *p = mmi_process_by_eprocess(m, eprocess);
    return p ? p->id : 0;
}

/* ---- the MDL's bytes, read and written as kernel accesses ---- */

mm_status mmi_mdl_access_slow(mm_machine *m, mm_va va, void *buf, size_t len, mm_access kind)
{
    bool write = kind == MM_ACCESS_WRITE;
    unsigned char *bytes = mmi_kernel_bytes(m, va, len, write);
    if (bytes) { /* a resident page the TLB holds */
        memcpy(write ? bytes : buf, write ? buf : bytes, len);
        return MM_STATUS_SUCCESS;
    }
    struct mm_access_request req = {.va = va, .buffer = buf, .length = len, .kind = kind};
    return write ? mmi_access_for_driver(m, &req) : mmi_access(m, &req);
}

mm_status mmi_mdl_begin(mm_machine *m, mm_va mdl, mm_irql max_irql, struct mm_mdl *h)
{
    if (!mmi_irql_allows(m, max_irql, mdl))
        return MM_STATUS_MACHINE_DEAD;
    return mmi_mdl_load(m, mdl, h);
}

mm_status mmi_mdl_pfn(mm_machine *m, mm_va mdl, uint64_t index, mm_pfn *pfn)
{
    return mmi_mdl_access(m, MM_MDL_PFN_ARRAY(mdl) + index * 8, pfn, 8, MM_ACCESS_READ);
}

mm_status mmi_mdl_set_pfn(mm_machine *m, mm_va mdl, uint64_t index, mm_pfn pfn)
{
    return mmi_mdl_access(m, MM_MDL_PFN_ARRAY(mdl) + index * 8, &pfn, 8, MM_ACCESS_WRITE);
}

mm_pfn *mmi_mdl_scratch(mm_machine *m, uint64_t count)
{
    struct mmi_mdl_state *s = m->mdl;
    if (s->scratch && count <= s->scratch_cap)
        return s->scratch;
    if (!mmi_grow(m, (void **)&s->scratch, &s->scratch_cap, (size_t)count, sizeof *s->scratch, 64))
        return NULL;
    return s->scratch;
}

/* The whole run of entries is one kernel access: one translation per page
 * of the array, not one per entry. */
mm_status mmi_mdl_pfns_read(mm_machine *m, mm_va mdl, uint64_t count, mm_pfn **out)
{
    mm_pfn *pfns = mmi_mdl_scratch(m, count);
    if (!pfns)
        return MM_STATUS_INSUFFICIENT_RESOURCES;
    *out = pfns;
    return count ? mmi_mdl_access(m, MM_MDL_PFN_ARRAY(mdl), pfns, count * 8, MM_ACCESS_READ) : MM_STATUS_SUCCESS;
}

mm_status mmi_mdl_pfns_write(mm_machine *m, mm_va mdl, uint64_t first, uint64_t count, const mm_pfn *pfns)
{
    if (!count)
        return MM_STATUS_SUCCESS;
    return mmi_mdl_access(m, MM_MDL_PFN_ARRAY(mdl) + first * 8, (void *)(uintptr_t)pfns, count * 8,
                         MM_ACCESS_WRITE);
}

static inline uint64_t mdl_pages(const struct mm_mdl *h) { return MM_MDL_PAGES(h); }
static inline uint16_t flags_of(const struct mm_mdl *h) { return (uint16_t)h->MdlFlags; }
static inline void set_flags(struct mm_mdl *h, unsigned f) { h->MdlFlags = (int16_t)(uint16_t)f; }

/* ---- findings ---- */

const char *mm_finding_name(uint32_t kind)
{
    switch (kind) {
    case MM_FINDING_STALE_USER_MAPPING: return "stale-user-mapping";
    case MM_FINDING_STALE_MAPPING_ACCESS: return "stale-mapping-access";
    case MM_FINDING_WRONG_PROCESS_UNMAP: return "wrong-process-unmap";
    case MM_FINDING_LEAKED_SYSTEM_MAPPING: return "leaked-system-mapping";
    case MM_FINDING_STALE_DMA: return "stale-dma";
    case MM_FINDING_FOREIGN_UNMAP: return "foreign-unmap";
    case MM_FINDING_DOUBLE_FETCH: return "double-fetch";
    default: return "unknown";
    }
}

void mmi_mdl_finding(mm_machine *m, mm_finding_kind kind, mm_va mdl, mm_va va, mm_pfn pfn, uint32_t other,
                     const char *fmt, ...)
{
    struct mmi_mdl_state *s = m->mdl;
    mmi_trace(m, MM_EV_NOTE, va, pfn, kind, mdl);
    if (!mmi_grow(m, (void **)&s->findings, &s->finding_cap, s->finding_count + 1, sizeof *s->findings, 8))
        return; /* the trace event above still records it */
    struct mm_finding *f = &s->findings[s->finding_count++];
    struct mm_process *cur = mmi_cpu(m)->process;
    *f = (struct mm_finding){.kind = kind, .process_id = cur ? cur->id : 0, .other_process_id = other,
                             .step = m->step, .mdl = mdl, .va = va, .pfn = pfn};
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->text, sizeof f->text, fmt, ap);
    va_end(ap);
}

size_t mm_findings_read(const mm_machine *m, struct mm_finding *out, size_t max)
{
    if (!m || !out)
        return 0;
    size_t n = m->mdl->finding_count < max ? m->mdl->finding_count : max;
    if (n) /* no findings yet: the array may not exist */
        memcpy(out, m->mdl->findings, n * sizeof *out);
    return n;
}

size_t mm_findings_count(const mm_machine *m) { return m ? m->mdl->finding_count : 0; }

void mmi_mdl_note(mm_machine *m, mm_va mdl, uint32_t what)
{
    const struct mmi_mdl_rec *r = find_rec(m, mdl);
    mmi_trace(m, MM_EV_NOTE, mdl, MM_PFN_NONE, what, r ? r->id : 0);
}

size_t mm_mdls_read(const mm_machine *m, struct mm_mdl_info *out, size_t max)
{
    if (!m || (max && !out))
        return 0;
    size_t n = 0;
    for (const struct mmi_mdl_rec *r = mmi_mdl_first(m->mdl); r; r = r->made_next, n++) {
        if (n < max)
            out[n] = (struct mm_mdl_info){.mdl = r->mdl, .id = r->id, .lock_process = r->lock_process,
                                          .locked = r->locked, .pool_allocated = r->pool_allocated,
                                          .pages_allocated = r->pages_allocated, .lock_pages = r->lock_pages,
                                          .lock_step = r->lock_step, .tracker = r->tracker, .system_va = r->sys_va,
                                          .system_pages = r->sys_pages};
    }
    return n;
}

size_t mm_leaked_locks_read(const mm_machine *m, struct mm_leaked_lock *out, size_t max)
{
    if (!m || (max && !out))
        return 0;
    const struct mmi_mdl_state *s = m->mdl;
    for (size_t i = 0; i < s->leaked_count && i < max; i++)
        out[i] = (struct mm_leaked_lock){.process_id = s->leaked[i].process, .tracker = s->leaked[i].tracker,
                                         .mdl = s->leaked[i].mdl, .pages = s->leaked[i].pages};
    return s->leaked_count;
}

size_t mmi_mdl_findings_of(const mm_machine *m, mm_finding_kind kind)
{
    size_t n = 0;
    for (size_t i = 0; i < m->mdl->finding_count; i++)
        n += m->mdl->findings[i].kind == (uint32_t)kind;
    return n;
}

/* ---- MmSizeOfMdl, MmInitializeMdl, IoAllocateMdl, IoFreeMdl ---- */

uint64_t mm_size_of_mdl(mm_va base, uint64_t length)
{
    return MM_MDL_HEADER_SIZE + MM_SPAN_PAGES(base, length) * 8;
}

static mm_status forget(mm_machine *m, mm_va mdl);
static mm_status forget_to_lookaside(mm_machine *m, mm_va mdl, unsigned slot);

static mm_status initialize(mm_machine *m, mm_va mdl, mm_va base, uint64_t length, unsigned extra_flags)
{
    struct mm_mdl h;
    mm_status st = mmi_mdl_load(m, mdl, &h); /* Process and MappedSystemVa keep whatever was there */
    if (!MM_SUCCESS(st))
        return st;
    h.Next = 0;
    h.Size = (int16_t)(uint16_t)mm_size_of_mdl(base, length); /* a CSHORT: wraps above ~32 MiB, as in Windows */
    set_flags(&h, extra_flags);
    h.StartVa = MM_PAGE_ALIGN(base);
    h.ByteOffset = MM_BYTE_OFFSET(base);
    h.ByteCount = (uint32_t)length;
    return mmi_mdl_store(m, mdl, &h);
}

mm_status mm_initialize_mdl(mm_machine *m, mm_va mdl, mm_va base, uint64_t length)
{
    MMI_ENTER(m, "MmInitializeMdl");
    if (length > UINT32_MAX)
        return MM_STATUS_INVALID_PARAMETER;
    if (!mmi_irql_allows(m, MM_DISPATCH_LEVEL, mdl))
        return MM_STATUS_MACHINE_DEAD;
    return initialize(m, mdl, base, length, 0);
}

/* The IRP's chain loops (an MDL on it twice, or one whose Next was
 * overwritten): Windows' walk to its end never returns. A thread at
 * DISPATCH_LEVEL or above is stopped by the DPC watchdog (0x133); below, it
 * hangs, and mmsim stops the machine as a developer breaks into a hung one,
 * with the keyboard crash (0xE2; docs/decisions.md). */
static mm_status chain_loops(mm_machine *m, mm_va irp, mm_va at)
{
    const char *why = "IoAllocateMdl(SecondaryBuffer) walks the IRP's MDL chain to its end, and the chain loops";
    if (mmi_irql(m) >= MM_DISPATCH_LEVEL)
        return mmi_bugcheck(m, MM_BUGCHECK_DPC_WATCHDOG_VIOLATION, 1, 0x1E00, 0, 0, MM_PFN_NONE, irp,
                            "%s (MDL %016llx is on it twice): the thread spins at DISPATCH_LEVEL until the DPC "
                            "watchdog stops the machine", why, (unsigned long long)at);
    return mmi_bugcheck(m, MM_BUGCHECK_MANUALLY_INITIATED_CRASH, 0, 0, 0, 0, MM_PFN_NONE, irp,
                        "%s (MDL %016llx is on it twice): the thread would never return; mmsim stops the machine "
                        "as one breaks into a hung machine", why, (unsigned long long)at);
}

static mm_status chain_on_irp(mm_machine *m, mm_va irp, mm_va mdl, bool secondary)
{
    mm_va head = irp + 8; /* IRP.MdlAddress */
    if (!secondary)
        return mmi_mdl_access(m, head, &mdl, 8, MM_ACCESS_WRITE);
    /* Brent's cycle detection: `mark` moves to the link reached after 1, 2,
     * 4 … steps; a loop brings the walk back to it. */
    mm_va link = head, next = 0, mark = head;
    for (uint64_t steps = 0, power = 1;;) {
        mm_status st = mmi_mdl_access(m, link, &next, 8, MM_ACCESS_READ);
        if (!MM_SUCCESS(st))
            return st;
        if (next == 0)
            return mmi_mdl_access(m, link, &mdl, 8, MM_ACCESS_WRITE);
        link = next; /* MDL.Next is at offset 0 */
        if (link == mark)
            return chain_loops(m, irp, link);
        if (++steps == power) {
            mark = link;
            power <<= 1;
            steps = 0;
        }
    }
}

/* ---- the MDL lookaside list ----
 * IoAllocateMdl takes MDLs of up to 23 pages from a lookaside list of
 * fixed-size blocks and IoFreeMdl gives them back: the block stays allocated
 * pool, and the list's link overwrites the MDL's Next field, as the SList
 * entry at the start of the block does on Windows. Verifier's Special Pool
 * and Pool Tracking see MDL allocations (Windows 7 and later), so with them
 * every MDL comes from pool and goes back to it. */

static bool lookaside_enabled(const mm_machine *m)
{
    return !(m->cfg.verifier_flags & (MM_VERIFIER_SPECIAL_POOL | MM_VERIFIER_POOL_TRACKING));
}

/* A block ExFreePool'd by the driver while it sat on the list is dropped,
 * with its parked record. *parked: the popped MDL's parked record, if any. */
static mm_va lookaside_pop(mm_machine *m, struct mmi_mdl_rec **parked)
{
    struct mmi_mdl_state *s = m->mdl;
    while (lookaside_enabled(m) && s->lookaside_count) {
        unsigned top = --s->lookaside_count;
        mm_va mdl = s->lookaside[top];
        *parked = s->lookaside_rec[top];
        s->lookaside_rec[top] = NULL;
        if (mmi_pool_is_allocated(m, mdl))
            return mdl;
        if (*parked)
            drop_rec(m, *parked);
    }
    *parked = NULL;
    return 0;
}

/* *slot: the list entry the MDL went to, or -1 when it went back to pool. */
static mm_status free_to_lookaside(mm_machine *m, mm_va mdl, int *slot)
{
    struct mmi_mdl_state *s = m->mdl;
    mm_status st = mmi_pool_check_free(m, mdl, 0);
    if (!MM_SUCCESS(st))
        return st;
    for (unsigned i = 0; i < s->lookaside_count; i++)
        if (s->lookaside[i] == mdl) /* Windows would hand this MDL out twice */
            return mmi_pool_double_free(m, mdl);
    if (s->lookaside_count == MMI_MDL_LOOKASIDE_DEPTH)
        return mmi_pool_release(m, mdl);
    mm_va next = s->lookaside_count ? s->lookaside[s->lookaside_count - 1] : 0;
    st = mmi_mdl_access(m, mdl, &next, sizeof next, MM_ACCESS_WRITE);
    if (MM_SUCCESS(st)) {
        *slot = (int)s->lookaside_count;
        s->lookaside_rec[s->lookaside_count] = NULL;
        s->lookaside[s->lookaside_count++] = mdl;
    }
    return st;
}

/* IoFreeMdl's release of the MDL's memory: to the lookaside list when it
 * came from there, else to pool; then the model forgets it. */
static mm_status free_mdl_memory(mm_machine *m, mm_va mdl)
{
    uint16_t flags = 0;
    mm_status st = mmi_mdl_access(m, mdl + offsetof(struct mm_mdl, MdlFlags), &flags, sizeof flags, MM_ACCESS_READ);
    int slot = -1;
    if (MM_SUCCESS(st))
        st = (flags & MM_MDL_ALLOCATED_FIXED_SIZE) && lookaside_enabled(m) ? free_to_lookaside(m, mdl, &slot)
                                                                          : mmi_pool_free_checked(m, mdl, 0);
    if (!MM_SUCCESS(st))
        return st;
    return slot >= 0 ? forget_to_lookaside(m, mdl, (unsigned)slot) : forget(m, mdl);
}

mm_va mm_io_allocate_mdl(mm_machine *m, mm_va va, uint32_t length, bool secondary_buffer, bool charge_quota,
                         mm_va irp)
{
    MMI_ENTER_RET(m, "IoAllocateMdl", 0);
    (void)charge_quota; /* reserved: ignored, as Windows does */
    /* Windows 7 and later: up to 4 GiB - PAGE_SIZE. */
    if (length == 0 || length > UINT32_C(0xFFFFFFFF) - MM_PAGE_SIZE + 1 || (secondary_buffer && !irp))
        return 0;
    if (!mmi_irql_allows(m, MM_DISPATCH_LEVEL, va))
        return 0;
    uint64_t pages = MM_SPAN_PAGES(va, length);
    bool fixed = pages <= MDL_FIXED_PAGES;
    uint64_t size = MM_MDL_HEADER_SIZE + (fixed ? MDL_FIXED_PAGES : pages) * 8;
    struct mmi_mdl_rec *r = NULL;
    mm_va mdl = fixed ? lookaside_pop(m, &r) : 0;
    if (!mdl && !MM_SUCCESS(mmi_pool_alloc(m, MM_NONPAGED_POOL, size, MDL_TAG, &mdl)))
        return 0;
    if (r) { /* its record, parked when it was freed to the list */
        make_rec(m->mdl, r, mdl);
    } else {
        forget(m, mdl); /* an MDL once at this address, freed as plain pool */
        r = mmi_mdl_rec(m, mdl);
    }
    if (!r) {
        mmi_pool_release(m, mdl);
        return 0;
    }
    r->pool_allocated = true; /* forget() above left no older record at this address */
    if (!MM_SUCCESS(initialize(m, mdl, va, length, fixed ? MM_MDL_ALLOCATED_FIXED_SIZE : 0)))
        return 0;
    if (irp && !MM_SUCCESS(chain_on_irp(m, irp, mdl, secondary_buffer)))
        return 0;
    mmi_trace(m, MM_EV_NOTE, mdl, MM_PFN_NONE, 0x4D444C41 /* "MDLA" */, r->id);
    return mdl;
}

/* ---- the lock-charge ledger ----
 * Windows charges NumberOfLockedPages of the process a probe runs in and
 * uncharges the process the MDL header names at unlock. Each MDL record
 * keeps what its locks charged; a charge it can no longer release (the MDL
 * freed or rebuilt while locked, locked twice, unlocked through a header
 * naming someone else) moves to the leaked list, so the counts always
 * explain each other and process exit reports what is left. */

static mm_status ledger_add(mm_machine *m, uint32_t process, mm_va tracker, mm_va mdl, int64_t pages)
{
    struct mmi_mdl_state *s = m->mdl;
    if (!process || !pages)
        return MM_STATUS_SUCCESS;
    for (size_t i = 0; i < s->leaked_count; i++) {
        struct mmi_leaked_lock *l = &s->leaked[i];
        if (l->process == process && l->mdl == mdl) {
            l->pages += pages;
            if (tracker)
                l->tracker = tracker;
            return MM_STATUS_SUCCESS;
        }
    }
    if (!mmi_grow(m, (void **)&s->leaked, &s->leaked_cap, s->leaked_count + 1, sizeof *s->leaked, 4))
        return MM_STATUS_INSUFFICIENT_RESOURCES;
    s->leaked[s->leaked_count++] = (struct mmi_leaked_lock){process, tracker, mdl, pages};
    return MM_STATUS_SUCCESS;
}

static mm_status orphan_charge(mm_machine *m, struct mmi_mdl_rec *r)
{
    mm_status st = ledger_add(m, r->lock_process, r->tracker, r->mdl, r->charge);
    if (MM_SUCCESS(st))
        r->charge = 0;
    return st;
}

static void charge_lock(mm_machine *m, struct mmi_mdl_rec *r, struct mm_process *p, uint64_t pages)
{
    if (r->charge && r->lock_process != p->id)
        orphan_charge(m, r);
    p->locked_pages += (int64_t)pages;
    r->lock_process = p->id;
    r->charge += (int64_t)pages;
}

void mmi_mdl_uncharge(mm_machine *m, struct mmi_mdl_rec *r, uint64_t eprocess, uint64_t pages)
{
    struct mm_process *owner = eprocess ? mmi_process_by_eprocess(m, eprocess) : NULL;
    if (!owner)
        return;
    owner->locked_pages -= (int64_t)pages;
    if (r && r->lock_process == owner->id)
        r->charge -= (int64_t)pages;
    else
        ledger_add(m, owner->id, 0, r ? r->mdl : 0, -(int64_t)pages);
}

/* MmUnlockPages: the process the header names gives the pages back. */
static void uncharge_unlock(mm_machine *m, struct mmi_mdl_rec *r, uint64_t eprocess, uint64_t pages)
{
    mmi_mdl_uncharge(m, r, eprocess, pages);
    if (r && r->charge)
        orphan_charge(m, r); /* locked twice, or the header named another process */
}

/* The MDL's memory is gone; a lock it still held is remembered against the
 * process (that is what 0x76 / 0xCB report at its exit). */
static mm_status forget(mm_machine *m, mm_va mdl)
{
    struct mmi_mdl_rec *r = find_rec(m, mdl);
    if (!r)
        return MM_STATUS_SUCCESS;
    mm_status st = orphan_charge(m, r);
    if (MM_SUCCESS(st))
        drop_rec(m, r);
    return st;
}

/* The same for an MDL that went to the lookaside list (entry `slot`): its
 * record is parked there for the next IoAllocateMdl. */
static mm_status forget_to_lookaside(mm_machine *m, mm_va mdl, unsigned slot)
{
    struct mmi_mdl_state *s = m->mdl;
    struct mmi_mdl_rec *r = find_rec(m, mdl);
    if (!r)
        return MM_STATUS_SUCCESS;
    mm_status st = orphan_charge(m, r);
    if (!MM_SUCCESS(st))
        return st;
    if (s->last == r)
        s->last = NULL;
    unlink_made(s, r);
    r->parked = true;
    s->lookaside_rec[slot] = r;
    return MM_STATUS_SUCCESS;
}

mm_status mm_io_free_mdl(mm_machine *m, mm_va mdl)
{
    MMI_ENTER(m, "IoFreeMdl");
    mmi_mdl_note(m, mdl, 0x46524545 /* "FREE" */);
    struct mm_mdl h;
    mm_status st = mmi_mdl_begin(m, mdl, MM_DISPATCH_LEVEL, &h);
    if (!MM_SUCCESS(st))
        return st;
    unsigned f = flags_of(&h);
    if (mmi_verifier(m) && (f & MM_MDL_MAPPED_TO_SYSTEM_VA) && !(f & MM_MDL_PARTIAL))
        return mmi_bugcheck(m, MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0xB8, mdl, f, 0, MM_PFN_NONE, mdl,
                            "IoFreeMdl of MDL %016llx while its pages are still mapped at %016llx",
                            (unsigned long long)mdl, (unsigned long long)h.MappedSystemVa);
    if (f & MM_MDL_PARTIAL_HAS_BEEN_MAPPED) {
        st = mmi_mdl_unmap_system(m, mdl, &h);
        if (!MM_SUCCESS(st))
            return st;
    }
    /* A mapped non-partial MDL keeps its system PTEs: they leak. */
    if ((f & MM_MDL_MAPPED_TO_SYSTEM_VA) && !(f & MM_MDL_PARTIAL) && mmi_syspte_in_use(m, h.MappedSystemVa))
        mmi_mdl_finding(m, MM_FINDING_LEAKED_SYSTEM_MAPPING, mdl, h.MappedSystemVa, MM_PFN_NONE, 0,
                        "IoFreeMdl freed MDL %016llx while it still maps %llu pages at %016llx: those system PTEs "
                        "are never released", (unsigned long long)mdl, (unsigned long long)mdl_pages(&h),
                        (unsigned long long)MM_PAGE_ALIGN(h.MappedSystemVa));
    return free_mdl_memory(m, mdl);
}

mm_status mm_mdl_read(mm_machine *m, mm_va mdl, struct mm_mdl *header, mm_pfn *pfns, size_t max_pfns)
{
    if (!m || !header || (max_pfns && !pfns))
        return MM_STATUS_INVALID_PARAMETER;
    if (!mmi_is_address_valid(m, mdl) || !mmi_is_address_valid(m, mdl + sizeof *header - 1))
        return MM_STATUS_ACCESS_VIOLATION;
    mm_status st = mmi_mdl_load(m, mdl, header);
    uint64_t pages = mdl_pages(header);
    for (uint64_t i = 0; MM_SUCCESS(st) && i < pages && i < max_pfns; i++) {
        mm_va slot = MM_MDL_PFN_ARRAY(mdl) + i * 8;
        if (!mmi_is_address_valid(m, slot))
            return MM_STATUS_ACCESS_VIOLATION;
        st = mmi_mdl_pfn(m, mdl, i, &pfns[i]);
    }
    return st;
}

/* ---- MmProbeAndLockPages ---- */

/* Entry 0 is emptied first, so an MDL whose probe fails holds no page to
 * unlock. *resident: every page was resident, and the scratch array holds
 * their frames. */
static mm_status probe_pages(mm_machine *m, mm_va mdl, mm_va address, uint64_t pages, bool write, bool *resident)
{
    mm_status st = mmi_mdl_set_pfn(m, mdl, 0, MM_PFN_NONE);
    mm_pfn *pfns = mmi_mdl_scratch(m, pages);
    if (!MM_SUCCESS(st) || !pfns)
        return MM_SUCCESS(st) ? MM_STATUS_INSUFFICIENT_RESOURCES : st;
    *resident = true;
    for (uint64_t i = 0; i < pages; i++) {
        /* Resident pages need nothing from the touch; the others fault in. */
        i += mmi_resident_run(m, MM_PAGE_ALIGN(address) + i * MM_PAGE_SIZE, pages - i, write, &pfns[i]);
        if (i == pages)
            break;
        *resident = false;
        mm_va va = i == 0 ? address : MM_PAGE_ALIGN(address) + i * MM_PAGE_SIZE;
        struct mm_access_request req = {.va = va, .kind = write ? MM_ACCESS_WRITE : MM_ACCESS_READ};
        st = mmi_access(m, &req);
        if (st != MM_STATUS_SUCCESS)
            return st;
    }
    return MM_STATUS_SUCCESS;
}

/* The frames behind the probed pages, reading each page table once; a
 * page trimmed between probe and lock ends them there. */
static uint64_t probed_frames(mm_machine *m, const struct mm_mdl *h, mm_pfn *pfns)
{
    struct mm_process *cur = mmi_cpu(m)->process;
    uint64_t pages = mdl_pages(h);
    const uint64_t *ptes = NULL;
    for (uint64_t i = 0; i < pages; i++) {
        mm_va va = h->StartVa + i * MM_PAGE_SIZE;
        unsigned index = mmi_va_index(va, 3);
        if (i == 0 || index == 0) {
            mm_pfn table = mmi_leaf_table(m, mmi_top_for(m, cur, va), va);
            ptes = table == MM_PFN_NONE ? NULL : mmi_frame_quads(m, table);
        }
        if (!ptes || !mmi_pte_valid(ptes[index]))
            return i;
        pfns[i] = mmi_pte_pfn(ptes[index]);
    }
    return pages;
}

/* One lock on a frame the quick path leaves: device memory is counted per
 * frame, RAM by mmi_lock_frame. */
static mm_status lock_one(mm_machine *m, mm_pfn pfn, bool *io_space)
{
    if (mmi_pfn_is_ram(m, pfn))
        return mmi_lock_frame(m, pfn);
    io_frame_lock(m, pfn);
    *io_space = true;
    return MM_STATUS_SUCCESS;
}

/* Locks the probed pages and stores the PFN array in one write. A page
 * trimmed between probe and lock ends the array there (an empty entry), so
 * the caller's unlock undoes only what was locked. */
static mm_status lock_pages(mm_machine *m, mm_va mdl, const struct mm_mdl *h, bool resident, bool *io_space)
{
    uint64_t pages = mdl_pages(h);
    mm_pfn *pfns = mmi_mdl_scratch(m, pages);
    if (!pfns)
        return MM_STATUS_INSUFFICIENT_RESOURCES;
    uint64_t n = resident ? pages : probed_frames(m, h, pfns); /* no fault since the probe read them */
    mm_status result = n < pages ? MM_STATUS_IN_PAGE_ERROR : MM_STATUS_SUCCESS;
    uint64_t i = 0;
    while (i < n) {
        i += mmi_lock_frames_quick(m, &pfns[i], n - i);
        if (i == n)
            break;
        mm_status locked = lock_one(m, pfns[i], io_space);
        if (m->dead)
            return MM_STATUS_MACHINE_DEAD;
        if (!MM_SUCCESS(locked)) {
            result = locked;
            break;
        }
        i++;
    }
    if (i < pages)
        pfns[i++] = MM_PFN_NONE;
    mm_status st = mmi_mdl_pfns_write(m, mdl, 0, i, pfns);
    return MM_SUCCESS(st) ? result : st;
}

static mm_status unlock_internal(mm_machine *m, mm_va mdl, struct mm_mdl *h);

/* The last steps of a probe-and-lock (st: how locking the pages went): the
 * header stored with its flags, the record updated, and on a failure the
 * pages already stored unlocked again. */
static mm_status finish_lock(mm_machine *m, mm_va mdl, struct mm_mdl *h, struct mmi_mdl_rec *r, mm_status st,
                             bool io_space)
{
    if (m->dead)
        return MM_STATUS_MACHINE_DEAD;
    if (io_space)
        set_flags(h, flags_of(h) | MM_MDL_IO_SPACE);
    mm_status stored = mmi_mdl_store(m, mdl, h);
    if (!MM_SUCCESS(stored))
        return stored;
    r->locked = true;
    r->lock_pages = mdl_pages(h);
    r->lock_step = m->step;
    if (!MM_SUCCESS(st)) {
        unlock_internal(m, mdl, h);
        return st;
    }
    mmi_trace(m, MM_EV_NOTE, mdl, MM_PFN_NONE, 0x4C4F434B /* "LOCK" */, r->id);
    return MM_STATUS_SUCCESS;
}

static mm_status probe_checks(mm_machine *m, mm_va mdl, const struct mm_mdl *h, mm_mode mode, uint32_t code)
{
    unsigned bad = flags_of(h) & (MM_MDL_PAGES_LOCKED | MM_MDL_MAPPED_TO_SYSTEM_VA | MM_MDL_SOURCE_IS_NONPAGED_POOL |
                                  MM_MDL_PARTIAL | MM_MDL_IO_SPACE);
    mm_irql irql = mmi_irql(m);
    if (irql > MM_DISPATCH_LEVEL)
        return mmi_bugcheck(m, MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, code == 0xB0 ? 0x70 : 0x71, irql, mdl,
                            mode, MM_PFN_NONE, mdl, "%s at IRQL %u", m->op, irql);
    if (bad)
        return mmi_bugcheck(m, MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, code, mdl, flags_of(h), bad,
                            MM_PFN_NONE, mdl,
                            "%s on MDL %016llx whose flags 0x%04x say it is already locked, mapped, built for "
                            "nonpaged pool or partial (offending 0x%04x)",
                            m->op, (unsigned long long)mdl, flags_of(h), bad);
    return MM_STATUS_SUCCESS;
}

static mm_status probe_and_lock(mm_machine *m, mm_va mdl, mm_mode mode, mm_lock_operation op, uint32_t code)
{
    struct mm_mdl h;
    mm_status st = mmi_mdl_load(m, mdl, &h);
    if (!MM_SUCCESS(st))
        return st;
    if (mmi_verifier(m) && !MM_SUCCESS(st = probe_checks(m, mdl, &h, mode, code)))
        return st;
    if (h.ByteCount == 0 || h.ByteOffset >= MM_PAGE_SIZE || MM_BYTE_OFFSET(h.StartVa))
        return MM_STATUS_INVALID_PARAMETER;
    mm_va address = MM_MDL_VIRTUAL_ADDRESS(&h);
    mm_va end = address + h.ByteCount;
    if (mode != MM_KERNEL_MODE && (end > m->layout.user_probe_address || end <= address)) {
        mmi_mdl_set_pfn(m, mdl, 0, MM_PFN_NONE);
        return MM_STATUS_ACCESS_VIOLATION;
    }
    bool user = address <= m->layout.highest_user_address;
    bool write = op != MM_IO_READ_ACCESS;
    struct mm_process *cur = mmi_cpu(m)->process;
    bool resident = false;
    st = probe_pages(m, mdl, address, mdl_pages(&h), write && user, &resident);
    if (st != MM_STATUS_SUCCESS) {
        if (!m->dead) { /* the exception path clears Process, as ReactOS's handler does */
            h.Process = 0;
            mmi_mdl_store(m, mdl, &h);
        }
        return st;
    }
    unsigned f = flags_of(&h) & ~MM_MDL_WRITE_OPERATION;
    if (write)
        f |= MM_MDL_WRITE_OPERATION;
    set_flags(&h, f | MM_MDL_PAGES_LOCKED);
    h.Process = user ? cur->eprocess : 0;
    struct mmi_mdl_rec *r = mmi_mdl_rec(m, mdl);
    if (!r)
        return MM_STATUS_INSUFFICIENT_RESOURCES;
    if (user) {
        charge_lock(m, r, cur, mdl_pages(&h));
        if (mmi_lock_tracking(m) && !r->tracker &&
            !MM_SUCCESS(mmi_pool_alloc_kernel(m, 0x40, TRACKER_TAG, &r->tracker)))
            r->tracker = 0;
    }
    bool io_space = false;
    st = lock_pages(m, mdl, &h, resident, &io_space);
    return finish_lock(m, mdl, &h, r, st, io_space);
}

mm_status mm_probe_and_lock_pages(mm_machine *m, mm_va mdl, mm_mode mode, mm_lock_operation op)
{
    MMI_ENTER(m, "MmProbeAndLockPages");
    if (mode > MM_USER_MODE || op > MM_IO_MODIFY_ACCESS)
        return MM_STATUS_INVALID_PARAMETER;
    return probe_and_lock(m, mdl, mode, op, 0xB0);
}

mm_status mm_probe_and_lock_process_pages(mm_machine *m, mm_va mdl, mm_process *process, mm_mode mode,
                                          mm_lock_operation op)
{
    MMI_ENTER(m, "MmProbeAndLockProcessPages");
    if (mode > MM_USER_MODE || op > MM_IO_MODIFY_ACCESS)
        return MM_STATUS_INVALID_PARAMETER;
    struct mm_process *p;
    mm_status st = mmi_process_resolve(m, process, &p);
    if (!MM_SUCCESS(st))
        return st;
    struct mmi_cpu *cpu = mmi_cpu(m);
    struct mm_process *saved = cpu->process;
    if (mmi_verifier(m) && cpu->irql > MM_DISPATCH_LEVEL)
        return mmi_bugcheck(m, MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0x71, cpu->irql, mdl, p->eprocess,
                            MM_PFN_NONE, mdl, "MmProbeAndLockProcessPages at IRQL %u", cpu->irql);
    mmi_switch_process(m, p); /* KeStackAttachProcess … try/finally … detach */
    p->attach_count++;
    st = probe_and_lock(m, mdl, mode, op, 0xB1);
    if (!m->dead) {
        p->attach_count--;
        mmi_switch_process(m, saved);
    }
    return st;
}

/* ---- MmProbeAndLockSelectedPages ---- */

/* One page-aligned page per FILE_SEGMENT_ELEMENT (8 bytes) of the array at
 * `segments`; the MDL's own address only gives the page count. */
static mm_status segment(mm_machine *m, mm_va segments, uint64_t i, mm_va *va)
{
    return mmi_mdl_access(m, segments + i * 8, va, 8, MM_ACCESS_READ);
}

static mm_status probe_segments(mm_machine *m, mm_va mdl, mm_va segments, uint64_t pages, mm_mode mode, bool write)
{
    mm_status st = mmi_mdl_set_pfn(m, mdl, 0, MM_PFN_NONE);
    for (uint64_t i = 0; MM_SUCCESS(st) && i < pages; i++) {
        mm_va va;
        if (!MM_SUCCESS(st = segment(m, segments, i, &va)))
            return st;
        if (MM_BYTE_OFFSET(va) || (mode == MM_USER_MODE && va > m->layout.highest_user_address))
            return MM_STATUS_ACCESS_VIOLATION;
        struct mm_access_request req = {.va = va, .kind = write && mmi_is_user_va(m, va) ? MM_ACCESS_WRITE : MM_ACCESS_READ};
        st = mmi_access(m, &req);
    }
    return st;
}

/* Locks each segment's frame and stores the PFN; a page gone since the
 * probe ends the array there (the caller's unlock undoes the rest). */
static mm_status lock_segments(mm_machine *m, mm_va mdl, mm_va segments, uint64_t pages, bool *io_space)
{
    struct mm_process *cur = mmi_cpu(m)->process;
    for (uint64_t i = 0; i < pages; i++) {
        mm_va va;
        mm_status st = segment(m, segments, i, &va);
        if (!MM_SUCCESS(st))
            return st;
        struct mmi_walk w;
        mmi_walk(m, mmi_top_for(m, cur, va), va, &w);
        if (!mmi_walk_valid(&w)) {
            mmi_mdl_set_pfn(m, mdl, i, MM_PFN_NONE);
            return MM_STATUS_IN_PAGE_ERROR;
        }
        mm_pfn pfn = mmi_pte_pfn(w.entry[3]);
        mm_status locked = mmi_pfn_is_ram(m, pfn) ? mmi_lock_frame(m, pfn) : MM_STATUS_SUCCESS;
        if (!MM_SUCCESS(locked)) {
            if (!m->dead)
                mmi_mdl_set_pfn(m, mdl, i, MM_PFN_NONE);
            return locked;
        }
        if (!mmi_pfn_is_ram(m, pfn)) {
            io_frame_lock(m, pfn);
            *io_space = true;
        }
        if (!MM_SUCCESS(st = mmi_mdl_set_pfn(m, mdl, i, pfn)))
            return st;
    }
    return MM_STATUS_SUCCESS;
}

mm_status mm_probe_and_lock_selected_pages(mm_machine *m, mm_va mdl, mm_va segments, mm_mode mode,
                                           mm_lock_operation op)
{
    MMI_ENTER(m, "MmProbeAndLockSelectedPages");
    if (mode > MM_USER_MODE || op > MM_IO_MODIFY_ACCESS)
        return MM_STATUS_INVALID_PARAMETER;
    struct mm_mdl h;
    mm_status st = mmi_mdl_load(m, mdl, &h);
    if (!MM_SUCCESS(st))
        return st;
    struct mm_process *cur = mmi_cpu(m)->process;
    if (mmi_verifier(m) && mmi_irql(m) > MM_DISPATCH_LEVEL)
        return mmi_bugcheck(m, MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0x72, mmi_irql(m), mdl,
                            cur ? cur->eprocess : 0, MM_PFN_NONE, mdl, "MmProbeAndLockSelectedPages at IRQL %u",
                            mmi_irql(m));
    if (mmi_verifier(m) && !MM_SUCCESS(st = probe_checks(m, mdl, &h, mode, 0xB0)))
        return st;
    if (!mmi_irql_allows(m, MM_APC_LEVEL, mdl))
        return MM_STATUS_MACHINE_DEAD;
    if (h.ByteCount == 0 || h.ByteOffset >= MM_PAGE_SIZE || MM_BYTE_OFFSET(h.StartVa))
        return MM_STATUS_INVALID_PARAMETER;
    uint64_t pages = mdl_pages(&h);
    bool write = op != MM_IO_READ_ACCESS;
    mm_va first = 0;
    if (!MM_SUCCESS(st = segment(m, segments, 0, &first)))
        return st;
    if ((st = probe_segments(m, mdl, segments, pages, mode, write)) != MM_STATUS_SUCCESS) {
        if (!m->dead) {
            h.Process = 0;
            mmi_mdl_store(m, mdl, &h);
        }
        return st;
    }
    bool user = mmi_is_user_va(m, first);
    struct mmi_mdl_rec *r = mmi_mdl_rec(m, mdl);
    if (!r)
        return MM_STATUS_INSUFFICIENT_RESOURCES;
    set_flags(&h, (flags_of(&h) & ~MM_MDL_WRITE_OPERATION) | (write ? MM_MDL_WRITE_OPERATION : 0) |
                      MM_MDL_PAGES_LOCKED);
    h.Process = user ? cur->eprocess : 0;
    if (user)
        charge_lock(m, r, cur, pages);
    bool io_space = false;
    st = lock_segments(m, mdl, segments, pages, &io_space);
    return finish_lock(m, mdl, &h, r, st, io_space);
}

/* ---- MmUnlockPages ---- */

static mm_status unlock_checks(mm_machine *m, mm_va mdl, const struct mm_mdl *h)
{
    unsigned f = flags_of(h);
    mm_irql irql = mmi_irql(m);
    if (irql > MM_DISPATCH_LEVEL)
        return mmi_bugcheck(m, MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0x78, irql, mdl, 0, MM_PFN_NONE, mdl,
                            "MmUnlockPages at IRQL %u", irql);
    if (f & MM_MDL_SOURCE_IS_NONPAGED_POOL)
        return mmi_bugcheck(m, MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0x7D, mdl, f, 0, MM_PFN_NONE, mdl,
                            "MmUnlockPages on MDL %016llx, built by MmBuildMdlForNonPagedPool: its pages were "
                            "never locked", (unsigned long long)mdl);
    if (f & MM_MDL_PARTIAL)
        return mmi_bugcheck(m, MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0xB4, mdl, f, MM_MDL_PARTIAL,
                            MM_PFN_NONE, mdl,
                            "MmUnlockPages on partial MDL %016llx: a partial MDL borrows its parent's locks",
                            (unsigned long long)mdl);
    if (!(f & MM_MDL_PAGES_LOCKED)) {
        struct mmi_mdl_rec *r = mmi_mdl_rec(m, mdl);
        return mmi_bugcheck(m, MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0x7C, mdl, f, 0, MM_PFN_NONE, mdl,
                            "MmUnlockPages on MDL %016llx (mdl %u) whose pages are not locked%s", (unsigned long long)mdl,
                            r ? r->id : 0, r && r->unlock_step ? ": it was already unlocked" : "");
    }
    return MM_STATUS_SUCCESS;
}

static void note_stale_user_mappings(mm_machine *m, mm_va mdl)
{
    for (struct mmi_user_map *u = m->mdl->user_maps; u; u = u->next) {
        if (u->mdl != mdl || u->unlocked)
            continue;
        u->unlocked = true;
        /* Its PTEs stay, but every later touch must reach the staleness
         * check: the cached translations (and a host view's pages) go. */
        for (uint64_t i = 0; i < u->pages; i++)
            mmi_tlb_flush_page(m, u->va + i * MM_PAGE_SIZE);
        mmi_mdl_finding(m, MM_FINDING_STALE_USER_MAPPING, mdl, u->va, MM_PFN_NONE, u->process,
                        "MDL %016llx was unlocked while its user mapping at %016llx in process %u is still in "
                        "place: those PTEs now map frames nothing keeps locked",
                        (unsigned long long)mdl, (unsigned long long)u->va, u->process);
    }
}

/* The one-by-one rules for a frame the quick path leaves: device frames,
 * frames never used, and a frame's last reference (0x4E/7 while mapped). */
static mm_status unlock_one(mm_machine *m, mm_va mdl, const mm_pfn *pfns, uint64_t count, mm_pfn pfn,
                            const struct mmi_mdl_rec *r)
{
    if (!mmi_pfn_is_ram(m, pfn))
        return io_frame_unlock(m, mdl, pfns, count, pfn);
    if (pfn >= m->pfn.untouched)
        return MM_STATUS_SUCCESS;
    struct mmi_pfn *e = mmi_pfn(m, pfn);
    if (e->reference_count == 1 && e->share_count != 0) {
        char when[96] = "";
        if (r && r->lock_step && r->unlock_step)
            snprintf(when, sizeof when, " after being locked at step %llu and unlocked at step %llu",
                     (unsigned long long)r->lock_step, (unsigned long long)r->unlock_step);
        else if (r && r->lock_step)
            snprintf(when, sizeof when, " after being locked at step %llu", (unsigned long long)r->lock_step);
        else
            snprintf(when, sizeof when, ", but this MDL never locked it");
        return mmi_bugcheck(m, MM_BUGCHECK_PFN_LIST_CORRUPT, 0x07, pfn, e->share_count, 0, pfn, mdl,
                            "PFN 0x%llx was unlocked by %s(mdl %u) at step %llu%s: the page was "
                            "unlocked more times than it was locked", (unsigned long long)pfn, m->op,
                            r ? r->id : 0, (unsigned long long)m->step, when);
    }
    return mmi_unlock_frame(m, pfn);
}

mm_status mmi_mdl_unlock_frames(mm_machine *m, mm_va mdl, const mm_pfn *pfns, uint64_t count,
                                const struct mmi_mdl_rec *r)
{
    for (uint64_t i = 0; i < count; i++) {
        i += mmi_unlock_frames_quick(m, &pfns[i], count - i);
        if (i == count || pfns[i] == MM_PFN_NONE)
            break;
        mm_status st = unlock_one(m, mdl, pfns, count, pfns[i], r);
        if (!MM_SUCCESS(st))
            return st;
    }
    return MM_STATUS_SUCCESS;
}

static mm_status deref_pages(mm_machine *m, mm_va mdl, const struct mm_mdl *h, struct mmi_mdl_rec *r)
{
    uint64_t pages = mdl_pages(h);
    mm_pfn *pfns;
    mm_status st = mmi_mdl_pfns_read(m, mdl, pages, &pfns);
    if (!MM_SUCCESS(st))
        return st;
    return mmi_mdl_unlock_frames(m, mdl, pfns, pages, r);
}

static mm_status unlock_internal(mm_machine *m, mm_va mdl, struct mm_mdl *h)
{
    struct mmi_mdl_rec *r = mmi_mdl_rec(m, mdl);
    if (flags_of(h) & MM_MDL_MAPPED_TO_SYSTEM_VA) {
        mm_status st = mmi_mdl_unmap_system(m, mdl, h);
        if (!MM_SUCCESS(st))
            return st;
    }
    uncharge_unlock(m, r, h->Process, mdl_pages(h));
    mm_status st = deref_pages(m, mdl, h, r);
    if (!MM_SUCCESS(st))
        return st;
    set_flags(h, flags_of(h) & ~(MM_MDL_PAGES_LOCKED | MM_MDL_IO_SPACE));
    st = mmi_mdl_store(m, mdl, h);
    if (r) {
        r->locked = false;
        r->unlock_step = m->step;
        if (r->tracker) {
            mmi_pool_release(m, r->tracker);
            r->tracker = 0;
        }
    }
    note_stale_user_mappings(m, mdl);
    mmi_trace(m, MM_EV_NOTE, mdl, MM_PFN_NONE, 0x554E4C4B /* "UNLK" */, r ? r->id : 0);
    return st;
}

static mm_status unlock_checked(mm_machine *m, mm_va mdl)
{
    struct mm_mdl h;
    mm_status st = mmi_mdl_load(m, mdl, &h);
    if (!MM_SUCCESS(st))
        return st;
    if (mmi_verifier(m) && !MM_SUCCESS(st = unlock_checks(m, mdl, &h)))
        return st;
    if (!mmi_irql_allows(m, MM_DISPATCH_LEVEL, mdl))
        return MM_STATUS_MACHINE_DEAD;
    /* Locked-page tracking knows which process pages are locked. */
    struct mmi_mdl_rec *r = mmi_mdl_rec(m, mdl);
    uint32_t owner = mmi_lock_tracking(m) ? mmi_eprocess_owner(m, h.Process) : 0;
    if (owner && !(r && r->locked)) {
        struct mm_process *p = mmi_process_by_id(m, owner);
        return mmi_bugcheck(m, MM_BUGCHECK_PROCESS_HAS_LOCKED_PAGES, 0x01, mdl, (uint64_t)p->locked_pages, 0,
                            MM_PFN_NONE, mdl,
                            "MmUnlockPages(mdl %u) unlocks pages of process %s that are not locked%s",
                            r ? r->id : 0, p->name, r && r->unlock_step ? ": the MDL was already unlocked" : "");
    }
    return unlock_internal(m, mdl, &h);
}

mm_status mm_unlock_pages(mm_machine *m, mm_va mdl)
{
    MMI_ENTER(m, "MmUnlockPages");
    return unlock_checked(m, mdl);
}

/* ---- IRP completion ---- */

/* The I/O manager unlocks every MDL still on the IRP and frees it: a driver
 * that already did so itself unlocks or frees twice. */
mm_status mm_io_complete_request(mm_machine *m, mm_va irp)
{
    MMI_ENTER(m, "IofCompleteRequest");
    if (!mmi_irql_allows(m, MM_DISPATCH_LEVEL, irp))
        return MM_STATUS_MACHINE_DEAD;
    mm_status live = mmi_irp_check_live(m, irp);
    if (!MM_SUCCESS(live))
        return live;
    mm_va mdl = 0;
    mm_status st = mmi_mdl_access(m, irp + MM_IRP_MDL_ADDRESS, &mdl, 8, MM_ACCESS_READ);
    for (mm_va next; MM_SUCCESS(st) && mdl; mdl = next) {
        st = mmi_mdl_access(m, mdl, &next, 8, MM_ACCESS_READ); /* MDL.Next */
        if (MM_SUCCESS(st)) {
            mmi_op_enter(m, "MmUnlockPages");
            st = unlock_checked(m, mdl);
            mmi_op_exit(m);
        }
        if (MM_SUCCESS(st)) {
            mmi_op_enter(m, "IoFreeMdl");
            st = free_mdl_memory(m, mdl);
            mmi_op_exit(m);
        }
    }
    if (!MM_SUCCESS(st))
        return st;
    if (MM_SUCCESS(st = mmi_mdl_access(m, irp + MM_IRP_MDL_ADDRESS, &(mm_va){0}, 8, MM_ACCESS_WRITE)))
        st = mmi_irp_free(m, irp);
    return st;
}

/* ---- MmBuildMdlForNonPagedPool ---- */

/* 0x1A/0x1240, saying why the page is not there. */
static mm_status not_resident(mm_machine *m, mm_va mdl, mm_va va)
{
    char where[96];
    mmi_image_describe(m, va, where, sizeof where);
    bool discarded = strstr(where, "discarded") != NULL;
    bool pageable = mmi_use_for_va(m, va) != MM_USE_NONPAGED_POOL && !discarded;
    return mmi_bugcheck(m, MM_BUGCHECK_MEMORY_MANAGEMENT, 0x1240, mdl, mmi_pte_address(va, 3), 0, MM_PFN_NONE, va,
                        "MmBuildMdlForNonPagedPool on MDL %016llx: %016llx%s is not resident (%s)",
                        (unsigned long long)mdl, (unsigned long long)va, where,
                        discarded ? "its section was discarded" : pageable ? "it is pageable, not nonpaged pool"
                                                                            : "it was freed");
}

mm_status mm_build_mdl_for_nonpaged_pool(mm_machine *m, mm_va mdl)
{
    MMI_ENTER(m, "MmBuildMdlForNonPagedPool");
    mmi_mdl_note(m, mdl, 0x424C444E /* "BLDN" */);
    struct mm_mdl h;
    mm_status st = mmi_mdl_begin(m, mdl, MM_DISPATCH_LEVEL, &h);
    if (!MM_SUCCESS(st))
        return st;
    if (h.ByteCount == 0)
        return MM_STATUS_INVALID_PARAMETER;
    mm_va address = MM_MDL_VIRTUAL_ADDRESS(&h);
    uint64_t pages = mdl_pages(&h);
    if (mmi_verifier(m)) {
        mm_page_use use = mmi_use_for_va(m, address);
        if (use == MM_USE_PAGED_POOL)
            return mmi_bugcheck(m, MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0x7F, mmi_irql(m), mdl,
                                flags_of(&h), MM_PFN_NONE, mdl,
                                "MmBuildMdlForNonPagedPool on MDL %016llx over paged pool at %016llx",
                                (unsigned long long)mdl, (unsigned long long)address);
        if (use == MM_USE_PRIVATE || use == MM_USE_IMAGE)
            return mmi_bugcheck(m, MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0x140, mmi_irql(m), mdl,
                                address, MM_PFN_NONE, mdl,
                                "MmBuildMdlForNonPagedPool on MDL %016llx over pageable memory at %016llx",
                                (unsigned long long)mdl, (unsigned long long)address);
    }
    struct mm_process *cur = mmi_cpu(m)->process;
    mm_pfn pfn = 0;
    for (uint64_t i = 0; i < pages; i++) {
        mm_va va = h.StartVa + i * MM_PAGE_SIZE;
        struct mmi_walk w;
        mmi_walk(m, mmi_top_for(m, cur, va), va, &w);
        if (!mmi_walk_valid(&w))
            return not_resident(m, mdl, va);
        pfn = mmi_pte_pfn(w.entry[3]);
        /* Kernel stack pages can be traded unless probe-and-locked. */
        if (mmi_verifier(m) && mmi_pfn_is_ram(m, pfn) && mmi_pfn_use(mmi_pfn(m, pfn)) == MM_USE_KERNEL_STACK)
            return mmi_bugcheck(m, MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0x140, mmi_irql(m), mdl, address,
                                pfn, mdl, "MmBuildMdlForNonPagedPool on MDL %016llx over a kernel stack buffer at "
                                "%016llx: stack pages must be locked with MmProbeAndLockPages",
                                (unsigned long long)mdl, (unsigned long long)address);
        if (!MM_SUCCESS(st = mmi_mdl_set_pfn(m, mdl, i, pfn)))
            return st;
    }
    h.Process = 0;
    h.MappedSystemVa = address;
    unsigned f = flags_of(&h) | MM_MDL_SOURCE_IS_NONPAGED_POOL;
    if (!mmi_pfn_is_ram(m, pfn))
        f |= MM_MDL_IO_SPACE;
    set_flags(&h, f);
    return mmi_mdl_store(m, mdl, &h);
}

/* ---- IoBuildPartialMdl ---- */

mm_status mm_io_build_partial_mdl(mm_machine *m, mm_va source, mm_va target, mm_va va, uint32_t length)
{
    MMI_ENTER(m, "IoBuildPartialMdl");
    mmi_mdl_note(m, target, 0x50415254 /* "PART" */);
    if (!mmi_irql_allows(m, MM_DISPATCH_LEVEL, target))
        return MM_STATUS_MACHINE_DEAD;
    struct mm_mdl s, t;
    mm_status st = mmi_mdl_load(m, source, &s);
    if (MM_SUCCESS(st))
        st = mmi_mdl_load(m, target, &t);
    if (!MM_SUCCESS(st))
        return st;
    uint64_t offset = va - MM_MDL_VIRTUAL_ADDRESS(&s);
    if (flags_of(&t) & MM_MDL_PARTIAL_HAS_BEEN_MAPPED)
        mmi_mdl_finding(m, MM_FINDING_LEAKED_SYSTEM_MAPPING, target, t.MappedSystemVa, MM_PFN_NONE, 0,
                        "IoBuildPartialMdl reused MDL %016llx without MmPrepareMdlForReuse: its mapping of %llu "
                        "pages at %016llx is never released", (unsigned long long)target,
                        (unsigned long long)mdl_pages(&t), (unsigned long long)MM_PAGE_ALIGN(t.MappedSystemVa));
    if (length == 0)
        length = (uint32_t)(s.ByteCount - offset);
    t.StartVa = MM_PAGE_ALIGN(va);
    t.Process = s.Process;
    t.ByteCount = length;
    t.ByteOffset = MM_BYTE_OFFSET(va);
    unsigned keep = flags_of(&t) & (MM_MDL_ALLOCATED_FIXED_SIZE | MM_MDL_PAGE_CONTENTS_INVARIANT);
    unsigned copy = flags_of(&s) & (MM_MDL_IO_PAGE_READ | MM_MDL_SOURCE_IS_NONPAGED_POOL |
                                    MM_MDL_MAPPED_TO_SYSTEM_VA | MM_MDL_IO_SPACE);
    set_flags(&t, keep | copy | MM_MDL_PARTIAL);
    t.MappedSystemVa = s.MappedSystemVa + offset;
    uint64_t first = (MM_PAGE_ALIGN(va) - s.StartVa) / MM_PAGE_SIZE;
    for (uint64_t i = 0; i < MM_SPAN_PAGES(va, length); i++) {
        mm_pfn pfn;
        if (!MM_SUCCESS(st = mmi_mdl_pfn(m, source, first + i, &pfn)) ||
            !MM_SUCCESS(st = mmi_mdl_set_pfn(m, target, i, pfn)))
            return st;
    }
    return mmi_mdl_store(m, target, &t);
}

/* ---- process exit ---- */

bool mmi_mdl_leaked_lock(mm_machine *m, uint32_t process_id, mm_va *tracker, mm_va *mdl, int64_t *pages)
{
    const struct mmi_mdl_state *s = m->mdl;
    for (size_t i = 0; i < s->leaked_count; i++) {
        if (s->leaked[i].process == process_id && s->leaked[i].pages > 0) {
            *tracker = s->leaked[i].tracker;
            *mdl = s->leaked[i].mdl;
            *pages = s->leaked[i].pages;
            return true;
        }
    }
    for (struct mmi_mdl_rec *r = mmi_mdl_first(m->mdl); r; r = r->made_next) {
        if (r->charge > 0 && r->lock_process == process_id) {
            *tracker = r->tracker;
            *mdl = r->mdl;
            *pages = r->charge;
            return true;
        }
    }
    return false;
}
