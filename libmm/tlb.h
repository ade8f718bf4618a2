/* libmm/tlb.h — the simulated TLB: translations cached by kernel accesses,
 * dropped when a PTE that produced them changes, and the only caller of the
 * host-MMU hooks (struct mmi_host_ops), so a host view of simulated memory
 * can never hold a translation the model has dropped. Beside it, what a
 * flush also ends: a paging-structure cache of system leaf tables and the
 * bytes of the page the model wrote last. */
#ifndef MMI_TLB_H
#define MMI_TLB_H

#include "mm/types.h"

struct mm_process;

/* A translation cached by kernel accesses. Overwriting a valid PTE drops its
 * page's entry (INVLPG); overwriting a valid upper-level entry starts a new
 * generation, which drops every entry (a full flush). */
struct mmi_tlb_entry {
    mm_va page;
    mm_pfn top, pfn;
    uint64_t generation;
    uint64_t stamp; /* when it was filled: the oldest of a set goes first */
    bool writable;  /* writes may skip the walk: the PTE is writable and dirty */
    bool executable; /* the PTE allowed execution (a host view maps it so) */
};
#define MMI_TLB_ENTRIES 256u
#define MMI_TLB_WAYS 4u
#define MMI_TLB_SETS (MMI_TLB_ENTRIES / MMI_TLB_WAYS)

/* How the model reaches a host view of simulated memory (libmm/host): a
 * page the TLB caches is mapped there with the translation's rights, and a
 * flush takes it away. Without a host layer the table is absent and the
 * model runs alone. The host maps only pages the TLB holds. */
/* A page the host view stops mapping, and the frame it showed there. */
struct mmi_host_page {
    mm_va page;
    mm_pfn pfn;
};

struct mmi_host_ops {
    /* pages consecutive pages from page, onto consecutive frames from pfn */
    void (*map)(void *ctx, mm_va page, mm_pfn pfn, uint64_t pages, bool writable, bool executable);
    /* pages consecutive pages (run[i].page == run[0].page + i pages), each
     * mapped for the host over run[i].pfn until now */
    void (*unmap)(void *ctx, const struct mmi_host_page *run, uint64_t pages);
    /* At every public call: the host view makes sure its fault handler is
     * still the first (a test framework may have put its own in front). */
    void (*enter)(void *ctx);
};

/* The paging-structure cache: leaf page tables of system space found
 * lately, by 2 MiB region. Overwriting a valid upper-level entry flushes
 * the whole TLB, which starts a new generation and so drops these too. */
#define MMI_PDE_CACHE 4u
struct mmi_pde_cache_entry {
    mm_va region;        /* va >> 21, + 1 (0: empty) */
    mm_pfn table;
    uint64_t generation;
    uint64_t *quads;     /* the table's entries once written through the cache, or NULL */
};

/* The host bytes of the system page the model itself wrote last
 * (mmi_kernel_bytes), while the entry that translated it holds. */
struct mmi_tlb_recent {
    mm_va page;
    unsigned char *bytes;
    const struct mmi_tlb_entry *entry;
    uint64_t stamp;
};

/* User translations dropped while parking (mm_machine_defer_host_unmaps)
 * whose host mappings stay until the next restore; past this many they go
 * at once. */
#define MMI_TLB_PARKED 64u

struct mmi_tlb {
    uint64_t generation; /* bumped by every full flush */
    bool park;           /* drop user pages from the TLB, not from the host view */
    unsigned syspte_live; /* live entries for pages of the system PTE region */
    unsigned private_live; /* live entries made through a process's own tables */
    unsigned user_live;  /* live entries for user pages (through any tables) */
    unsigned parked_count;
    struct mmi_tlb_entry parked[MMI_TLB_PARKED];
    struct mmi_pde_cache_entry pde[MMI_PDE_CACHE];
    struct mmi_tlb_recent recent;
    uint64_t fills;      /* translations cached so far (the stamps) */
    struct mmi_tlb_entry entry[MMI_TLB_ENTRIES];
    const struct mmi_host_ops *host;
    void *host_ctx;
};

/* The live entry caching page (page aligned), or NULL. */
static inline const struct mmi_tlb_entry *mmi_tlb_entry_of(const struct mmi_tlb *tlb, mm_va page)
{
    const struct mmi_tlb_entry *set = &tlb->entry[((page >> MM_PAGE_SHIFT) & (MMI_TLB_SETS - 1)) * MMI_TLB_WAYS];
    for (unsigned w = 0; w < MMI_TLB_WAYS; w++)
        if (set[w].page == page && set[w].generation == tlb->generation)
            return &set[w];
    return NULL;
}
/* Does e still hold the translation it was filled with at `stamp`? A
 * flush, an eviction or a refill ends it. */
static inline bool mmi_tlb_entry_holds(const struct mmi_tlb *tlb, const struct mmi_tlb_entry *e, uint64_t stamp)
{
    return e->stamp == stamp && e->generation == tlb->generation;
}

/* The bytes at va when its page is the one written last and its entry
 * still holds (writable, and its frame holds contents), else NULL. */
static inline unsigned char *mmi_tlb_recent_bytes(const struct mmi_tlb *tlb, mm_va va, size_t len)
{
    const struct mmi_tlb_recent *r = &tlb->recent;
    if ((va & ~(mm_va)(MM_PAGE_SIZE - 1)) != r->page || !r->entry || (va & (MM_PAGE_SIZE - 1)) + len > MM_PAGE_SIZE ||
        !mmi_tlb_entry_holds(tlb, r->entry, r->stamp))
        return NULL;
    return r->bytes + (va & (MM_PAGE_SIZE - 1));
}

/* The cached frame for a kernel access to va through the tables at top, or
 * MM_PFN_NONE (a write needs a writable, dirty translation). */
mm_pfn mmi_tlb_lookup(mm_machine *m, mm_va va, mm_pfn top, bool write);
/* Caches va's translation from its valid PTE: writes may use it when the PTE
 * is writable and dirty, a host view may execute it when it is not NX. */
void mmi_tlb_fill(mm_machine *m, mm_va va, mm_pfn top, uint64_t pte);
/* The same for count consecutive pages from va (their valid PTEs in ptes),
 * with one host mapping per run of consecutive frames of the same rights. */
void mmi_tlb_fill_run(mm_machine *m, mm_va va, mm_pfn top, const uint64_t *ptes, unsigned count);
/* Drop the cached translation of one page / of every page. */
void mmi_tlb_flush_page(mm_machine *m, mm_va va);
/* INVLPG of each of count pages from va (page aligned): the host view
 * loses each run of consecutive pages in one call. */
void mmi_tlb_flush_range(mm_machine *m, mm_va va, uint64_t count);
void mmi_tlb_flush_all(mm_machine *m);
/* Drops every translation made through a process's own tables (user
 * space and the self-map), or through the tables at top. */
void mmi_tlb_flush_private(mm_machine *m);
void mmi_tlb_flush_top(mm_machine *m, mm_pfn top);
/* Drops every user-space translation (a CR3 reload keeps only global,
 * i.e. system, entries). */
void mmi_tlb_flush_user(mm_machine *m);
/* Keeps only the entries the page tables still give (after a restore). */
void mmi_tlb_revalidate(mm_machine *m);
/* Could the TLB hold a translation for a page of [va, va + count pages)?
 * False for a range of system PTEs while no entry caches one (an unmap of
 * a mapping nothing touched skips the sweep). */
bool mmi_tlb_may_hold(const mm_machine *m, mm_va va, uint64_t count);
/* After a restore's revalidation: each parked user page whose translation
 * the restored tables give again is cached again, with its host mapping
 * as it is; the others are unmapped. Parking ends. */
void mmi_tlb_settle_parked(mm_machine *m);
/* Ends the paging-structure cache and the page-written-last shortcut:
 * writes go through the store again (a snapshot keeps what they change;
 * a restore may have freed the tables they point at). */
void mmi_tlb_forget_caches(mm_machine *m);
/* A snapshot keeps the frames live entries let host code write unseen. */
void mmi_tlb_keep_writable(mm_machine *m);
/* The frames live entries let writes reach unseen, into out (room for
 * MMI_TLB_ENTRIES); how many. */
unsigned mmi_tlb_writable_frames(mm_machine *m, mm_pfn *out);
/* Do the TLB's counts of live entries (system PTE region, a process's own
 * tables, user pages) match its entries? For the invariant checker. */
bool mmi_tlb_counts_hold(const mm_machine *m);
/* KiSwapProcess: the current CPU runs in p's address space from now on;
 * the old one's user translations go (from a host view too). */
void mmi_switch_process(mm_machine *m, struct mm_process *p);

#endif
