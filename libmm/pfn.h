/* libmm/pfn.h — the PFN database: one 40-byte entry per page frame (NT's
 * MMPFN is 48), created lazily, the page lists, and the share/reference
 * count transitions of MiDecrementShareCount / MiDecrementReferenceCount. */
#ifndef MMI_PFN_H
#define MMI_PFN_H

#include "mm/mdl.h" /* mm_cache_type */
#include "mm/pfn.h"

#define MMI_LINK_NONE UINT32_MAX
#define MMI_CHUNK_SHIFT 10u
#define MMI_CHUNK_PAGES (1u << MMI_CHUNK_SHIFT)

struct mmi_pfn {
    uint32_t flink;            /* list link; working-set index + 1 while active */
    uint32_t blink;            /* list link */
    uint32_t share_count;      /* valid PTEs mapping the frame */
    uint16_t reference_count;
    uint16_t flags;            /* MMI_PF_* */
    uint64_t pte_address;      /* self-map address of the PTE mapping it */
    uint64_t original_pte;     /* software PTE to restore when it leaves memory */
    uint32_t pte_frame;        /* page-table page holding that PTE */
    uint32_t owner;            /* process id of the address space of that PTE */
};

#define MMI_PF_LOCATION 0x0007u
#define MMI_PF_MODIFIED 0x0008u
#define MMI_PF_DELETED 0x0010u
#define MMI_PF_CACHE_SHIFT 5
#define MMI_PF_CACHE 0x0060u
#define MMI_PF_LOCK_CHARGED 0x0080u
#define MMI_PF_STORED 0x0100u
#define MMI_PF_USE_SHIFT 9
#define MMI_PF_USE 0x1E00u
#define MMI_PF_PROTOTYPES 0x2000u  /* a nonpaged-pool page holding a section's prototype PTEs */

struct mmi_list {
    uint32_t head, tail;
    uint64_t count;
};

struct mmi_pfndb {
    uint64_t pages;
    uint64_t untouched;         /* frames >= this were never used: implicitly zeroed */
    struct mmi_pfn **chunks;    /* grown as frames are first used: creation costs no more for more RAM */
    size_t chunk_cap;
    struct mmi_list list[MM_BAD_PAGE_LIST + 1];
    uint64_t active, transition;
    uint64_t system_locked;     /* MmSystemLockPagesCount */
};

bool mmi_pfn_init(mm_machine *m, uint64_t pages);
void mmi_pfn_fini(mm_machine *m);

struct mmi_pfn *mmi_pfn(mm_machine *m, mm_pfn pfn); /* pfn < untouched */
/* The same for hot loops that hold &m->pfn. */
static inline struct mmi_pfn *mmi_pfn_in(const struct mmi_pfndb *db, mm_pfn pfn)
{
    return &db->chunks[pfn >> MMI_CHUNK_SHIFT][pfn & (MMI_CHUNK_PAGES - 1)];
}
bool mmi_pfn_is_ram(const mm_machine *m, mm_pfn pfn);
static inline unsigned mmi_pfn_location(const struct mmi_pfn *e) { return e->flags & MMI_PF_LOCATION; }
static inline unsigned mmi_pfn_use(const struct mmi_pfn *e) { return (e->flags & MMI_PF_USE) >> MMI_PF_USE_SHIFT; }
static inline bool mmi_pfn_has(const struct mmi_pfn *e, uint16_t flag) { return (e->flags & flag) != 0; }
static inline void mmi_pfn_flag(struct mmi_pfn *e, uint16_t flag, bool on)
{
    e->flags = (uint16_t)(on ? e->flags | flag : e->flags & ~flag);
}
uint64_t mmi_pfn_list_count(const mm_machine *m, unsigned location);

/* Takes a frame off the lists: frames used before first (zeroed, then free;
 * free first when contents do not matter), then never-used ones, then
 * standby, which is repurposed (its PTE gets its original PTE back), so host
 * memory follows what the machine holds. With `zeroed` the frame reads as
 * zeros. MM_STATUS_NO_MEMORY when none is available. */
mm_status mmi_pfn_take(mm_machine *m, bool zeroed, mm_pfn *out);
/* A zero page for a page table. A page on the zeroed list can have been
 * written since it was zeroed (a driver wrote RAM nobody held through
 * MmMapIoSpace, or a device through a stale MDL): Windows trusts the list
 * and hands those bytes on, which a user page may well get (docs/physical.md),
 * but the model's own tables must start empty, so this one is zeroed. */
mm_status mmi_pfn_take_table(mm_machine *m, mm_pfn *out);
/* Up to max_pages standby pages, oldest first, repurposed (their PTEs get
 * their page-file or demand-zero contents back) onto the free list. */
uint64_t mmi_pfn_purge_standby(mm_machine *m, uint64_t max_pages);
/* Gives every frame below `end` a real entry (frames never used join the
 * tail of the zeroed list, where they were already counted), so a specific
 * frame can be taken. MM_STATUS_INSUFFICIENT_RESOURCES when the host
 * refuses; the frames done so far stay. */
mm_status mmi_pfn_materialise(mm_machine *m, mm_pfn end);
/* Can this RAM frame be taken: zeroed, free or standby, or never used? */
bool mmi_pfn_available(mm_machine *m, mm_pfn pfn);
/* Takes that one frame (mmi_pfn_available must hold) off its list, as
 * mmi_pfn_take does with a list head: a standby frame is repurposed, and
 * with `zeroed` a frame not from the zeroed list is zeroed. */
mm_status mmi_pfn_take_frame(mm_machine *m, mm_pfn pfn, bool zeroed);
/* MiInitializePfn: active, share 1, reference 1, PTE back-pointer recorded. */
void mmi_pfn_init_active(mm_machine *m, mm_pfn pfn, mm_va pte_address, mm_pfn pte_frame, uint64_t original_pte,
                         uint32_t owner, mm_page_use use);

/* The page was written through a PTE that goes now: it goes to the
 * modified list, and a page-file copy it had is stale and released. */
void mmi_pfn_mark_modified(mm_machine *m, mm_pfn pfn);

/* A soft fault: a standby / modified (or lock-held transition) frame is
 * mapped again by its old PTE: active, share 1, one more reference. */
void mmi_pfn_reactivate(mm_machine *m, mm_pfn pfn);

void mmi_pfn_share_inc(mm_machine *m, mm_pfn pfn);
/* MiDecrementShareCount; may raise 0x4E/0x99 or, via the reference, 0x4E/0x07. */
mm_status mmi_pfn_share_dec(mm_machine *m, mm_pfn pfn);
void mmi_pfn_ref_inc(mm_machine *m, mm_pfn pfn);
/* MiDecrementReferenceCount: to free / modified / standby at zero; 0x4E/0x07
 * when the page is still mapped. */
mm_status mmi_pfn_ref_dec(mm_machine *m, mm_pfn pfn);

/* The page's mapping is gone for good (decommit, free, teardown): it goes to
 * the free list as soon as nothing references it. Valid = it was mapped by a
 * valid PTE (drops that share); else it was in transition. */
mm_status mmi_pfn_delete(mm_machine *m, mm_pfn pfn, bool valid);

void mmi_pfn_list_insert(mm_machine *m, mm_pfn pfn, unsigned location);
void mmi_pfn_list_remove(mm_machine *m, mm_pfn pfn);
void mmi_pfn_set_location(mm_machine *m, mm_pfn pfn, unsigned location);

/* Frame contents. */
void mmi_frame_read(mm_machine *m, mm_pfn pfn, uint32_t offset, void *buf, size_t len);
void mmi_frame_write(mm_machine *m, mm_pfn pfn, uint32_t offset, const void *buf, size_t len);
void mmi_frame_zero(mm_machine *m, mm_pfn pfn);
/* The frame's contents may change outside the model (a host view maps it
 * writable): from now on it is read, copied and zeroed like a written one. */
void mmi_frame_mark_stored(mm_machine *m, mm_pfn pfn);
void mmi_frame_copy(mm_machine *m, mm_pfn dst, mm_pfn src);
uint64_t mmi_frame_read64(mm_machine *m, mm_pfn pfn, unsigned index);
/* The frame's 512 quadwords for reading (a shared zero page when it holds
 * no contents): the fast path for page-table reads. */
const uint64_t *mmi_frame_quads(mm_machine *m, mm_pfn pfn);
void mmi_frame_write64(mm_machine *m, mm_pfn pfn, unsigned index, uint64_t value);
/* The frame as 512 quadwords to read and write in place (marks it stored). */
uint64_t *mmi_frame_quads_for_write(mm_machine *m, mm_pfn pfn);

/* One lock on a frame (MiReferenceProbedPageAndBumpLockCount) and its
 * release (MiDereferencePfnAndDropLockCount): STATUS_WORKING_SET_QUOTA when
 * its reference count is at the limit; a frame a valid PTE maps while it
 * sits on a page list is 0x4E/0x99. */
mm_status mmi_lock_frame(mm_machine *m, mm_pfn pfn);
mm_status mmi_unlock_frame(mm_machine *m, mm_pfn pfn);
/* The common case of each for a run of frames, with their reference-count
 * events as one trace run: a lock on an in-use RAM frame below the limit,
 * an unlock of a frame referenced at least twice. Returns the index of the
 * first frame that needs the one-by-one function (or count). */
uint64_t mmi_lock_frames_quick(mm_machine *m, const mm_pfn *pfns, uint64_t count);
uint64_t mmi_unlock_frames_quick(mm_machine *m, const mm_pfn *pfns, uint64_t count);

/* The PFN cache attribute a cache type gives a page. */
static inline mm_pfn_cache mmi_pfn_cache_of(mm_cache_type cache)
{
    switch (cache) {
    case MM_NON_CACHED:
    case MM_NON_CACHED_UNORDERED: return MM_PFN_NON_CACHED;
    case MM_WRITE_COMBINED:
    case MM_USWC_CACHED: return MM_PFN_WRITE_COMBINED;
    case MM_CACHED:
    case MM_HARDWARE_COHERENT_CACHED: return MM_PFN_CACHED;
    default: return MM_PFN_NOT_MAPPED;
    }
}

#endif
