/* libmm/mdl.h — what the model knows about each MDL beyond its bytes:
 * whether it was locked by a probe (and when, and for whom), the system
 * mapping it holds, its user mappings, and the findings the simulator
 * reports that Windows cannot see. */
#ifndef MMI_MDL_H
#define MMI_MDL_H

#include <string.h>

#include "mm/mdl.h"
#include "mm/pfn.h"

#include "bugcheck.h"
#include "hash.h"
#include "machine.h"


struct mmi_mdl_state;

bool mmi_mdl_init(mm_machine *m);
void mmi_mdl_fini(mm_machine *m);
/* Process exit: a lock-tracking record left for this process, or 0. */
bool mmi_mdl_leaked_lock(mm_machine *m, uint32_t process_id, mm_va *tracker, mm_va *mdl, int64_t *pages);
/* An access through an MDL user mapping whose frame is no longer locked. */
void mmi_mdl_stale_access(mm_machine *m, mm_va va, mm_pfn pfn, uint32_t process_id);
bool mmi_lock_tracking(const mm_machine *m);


/* ---- shared by mdl.c and mdlmap.c ---- */

struct mmi_mdl_rec {
    UT_hash_handle hh;
    struct mmi_mdl_rec *spare_next; /* while kept for reuse */
    struct mmi_mdl_rec *made_prev, *made_next; /* the records in the order they were made */
    bool parked;               /* its MDL sits on the lookaside list: the model has
                                * forgotten it, the record waits for the next IoAllocateMdl */
    mm_va mdl;
    uint32_t id;               /* "mdl 2": the order the model first saw it */
    bool pool_allocated;       /* IoAllocateMdl or MmAllocatePagesForMdl made it */
    bool pages_allocated;      /* MmAllocatePagesForMdl gave it pages */
    bool locked;               /* probe-and-lock succeeded and no unlock since */
    uint32_t lock_process;     /* process charged for the lock (0: none) */
    int64_t charge;            /* pages this MDL's locks charged to it, not yet released */
    uint64_t lock_pages;
    uint64_t lock_step, unlock_step;
    mm_va tracker;             /* lock-tracking structure when tracking is on */
    mm_va sys_va;              /* system mapping held (page aligned), or 0 */
    uint64_t sys_pages;
    mm_pfn sys_first_pfn;      /* the MDL's first PFN and start address when mapped */
    mm_va sys_start;
    mm_va pte_tracker;         /* PTE tracking structure (TrackPtes), or 0 */
};

struct mmi_user_map {
    struct mmi_user_map *next;
    mm_va mdl, va;             /* va: page aligned base of the mapping */
    uint64_t pages;
    uint32_t process;
    bool unlocked;             /* the MDL was unlocked while this stayed */
};

/* A charge left with a process that no locked MDL explains (see
 * struct mm_leaked_lock): one entry per (process, MDL), summed. */
struct mmi_leaked_lock {
    uint32_t process;
    mm_va tracker, mdl;
    int64_t pages;
};

/* Free fixed-size MDLs kept for the next IoAllocateMdl (the I/O manager's
 * MDL lookaside list); a fixed depth where Windows tunes it from 4 to 256. */
#define MMI_MDL_LOOKASIDE_DEPTH 16u

struct mmi_mdl_state {
    struct mmi_mdl_rec *recs;  /* the anchor first, never removed: the hash table is
                                * not freed and rebuilt each time the last MDL goes */
    struct mmi_mdl_rec anchor; /* mdl 0; not an MDL (see mmi_mdl_first) */
    mm_va lookaside[MMI_MDL_LOOKASIDE_DEPTH]; /* top last; each block still allocated pool */
    struct mmi_mdl_rec *lookaside_rec[MMI_MDL_LOOKASIDE_DEPTH]; /* its parked record, or NULL */
    unsigned lookaside_count;
    struct mmi_mdl_rec *made_first, *made_last;
    struct mmi_mdl_rec *last;  /* the record found last (find_rec) */
    struct mmi_mdl_rec *spare; /* freed records kept for reuse */
    unsigned spare_count;
    struct mmi_leaked_lock *leaked;
    size_t leaked_count, leaked_cap;
    uint32_t next_id;
    struct mmi_user_map *user_maps;
    struct mm_finding *findings;
    size_t finding_count, finding_cap;
    mm_pfn *scratch;           /* PFNs of the MDL being mapped: machine-owned, so a
                                * bug check that unwinds leaks nothing */
    size_t scratch_cap;
    struct mmi_io_ref *io_refs; /* locks held on device (non-RAM) frames, by frame */
    bool adjusted;             /* MmAdvanceMdl was ever called (MiMdlsAdjusted): PTE
                                * tracking no longer compares addresses and PFNs */
};

/* The machine-owned PFN scratch array (grown to count entries); it survives
 * a bug check that unwinds, so nothing leaks. One user at a time. */
mm_pfn *mmi_mdl_scratch(mm_machine *m, uint64_t count);
/* Reads the first count PFN-array entries into the scratch array. */
mm_status mmi_mdl_pfns_read(mm_machine *m, mm_va mdl, uint64_t count, mm_pfn **out);
/* Writes count entries starting at entry first. */
mm_status mmi_mdl_pfns_write(mm_machine *m, mm_va mdl, uint64_t first, uint64_t count, const mm_pfn *pfns);
/* An MDL's bytes read or written as a kernel access: inline when the page
 * is the TLB's most recent (so the copy of a header or a field has a
 * constant size), else through the simulated MMU. */
mm_status mmi_mdl_access_slow(mm_machine *m, mm_va va, void *buf, size_t len, mm_access kind);
static inline mm_status mmi_mdl_access(mm_machine *m, mm_va va, void *buf, size_t len, mm_access kind)
{
    unsigned char *bytes = mmi_tlb_recent_bytes(&m->tlb, va, len);
    if (!bytes)
        return mmi_mdl_access_slow(m, va, buf, len, kind);
    if (kind == MM_ACCESS_WRITE)
        memcpy(bytes, buf, len);
    else
        memcpy(buf, bytes, len);
    return MM_STATUS_SUCCESS;
}
static inline mm_status mmi_mdl_load(mm_machine *m, mm_va mdl, struct mm_mdl *h)
{
    return mmi_mdl_access(m, mdl, h, sizeof *h, MM_ACCESS_READ);
}
/* A DDI's first steps: its IRQL limit, then the MDL header. */
mm_status mmi_mdl_begin(mm_machine *m, mm_va mdl, mm_irql max_irql, struct mm_mdl *h);
static inline mm_status mmi_mdl_store(mm_machine *m, mm_va mdl, const struct mm_mdl *h)
{
    return mmi_mdl_access(m, mdl, (void *)(uintptr_t)h, sizeof *h, MM_ACCESS_WRITE);
}
mm_status mmi_mdl_pfn(mm_machine *m, mm_va mdl, uint64_t index, mm_pfn *pfn);
mm_status mmi_mdl_set_pfn(mm_machine *m, mm_va mdl, uint64_t index, mm_pfn pfn);
/* The first MDL record, in the order they were made (then r->made_next). */
static inline struct mmi_mdl_rec *mmi_mdl_first(const struct mmi_mdl_state *s) { return s->made_first; }
/* The record for an MDL address; created on first use (NULL: host OOM).
 * A DDI sequence works on one MDL at a time: the record found last answers
 * at once. */
struct mmi_mdl_rec *mmi_mdl_rec_lookup(mm_machine *m, mm_va mdl);
static inline struct mmi_mdl_rec *mmi_mdl_rec(mm_machine *m, mm_va mdl)
{
    struct mmi_mdl_rec *last = m->mdl->last;
    return last && last->mdl == mdl ? last : mmi_mdl_rec_lookup(m, mdl);
}
/* A NOTE event naming a DDI call on an MDL (its !history): `what` is four
 * characters ("MAP ", "UNMP" …), the event's b the model's MDL id. */
void mmi_mdl_note(mm_machine *m, mm_va mdl, uint32_t what);
/* How many findings of one kind were recorded. */
size_t mmi_mdl_findings_of(const mm_machine *m, mm_finding_kind kind);
void mmi_mdl_finding(mm_machine *m, mm_finding_kind kind, mm_va mdl, mm_va va, mm_pfn pfn, uint32_t other,
                     const char *fmt, ...) MMI_PRINTF(7, 8);
/* The PTE that maps pfn for an MDL mapping: the page's own cache attribute
 * wins over `cache` (see mdlmap.c), Priority's NoWrite/NoExecute apply. */
uint64_t mmi_mdl_mapping_pte(mm_machine *m, mm_pfn pfn, mm_cache_type cache, uint32_t priority, bool user);
/* The extra leading PTEs MmAdvanceMdl left mapped (MDL_FREE_EXTRA_PTES):
 * their count sits in the PFN-array slot after the last page. */
uint64_t mmi_mdl_extra_ptes(mm_machine *m, mm_va mdl, const struct mm_mdl *h);
/* Releases the MDL's system mapping (MmUnmapLockedPages, system half). */
mm_status mmi_mdl_unmap_system(mm_machine *m, mm_va mdl, struct mm_mdl *h);
uint32_t mmi_eprocess_owner(mm_machine *m, uint64_t eprocess); /* process id, 0 if none */
/* The process the header names (its EPROCESS) gives back `pages` of lock
 * charge, recorded against the MDL's ledger. */
void mmi_mdl_uncharge(mm_machine *m, struct mmi_mdl_rec *r, uint64_t eprocess, uint64_t pages);
/* One lock dropped on each of the first `count` PFNs (MmUnlockPages' rule:
 * 0x4E/7 for a frame unlocked more than locked). */
mm_status mmi_mdl_unlock_frames(mm_machine *m, mm_va mdl, const mm_pfn *pfns, uint64_t count,
                                const struct mmi_mdl_rec *r);

#endif
