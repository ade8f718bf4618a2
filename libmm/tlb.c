/* libmm/tlb.c — the simulated TLB (see tlb.h): 64 translations, 4-way set
 * associative, each set refilled oldest-first, and the host-MMU hooks it
 * drives. Associativity is what lets one host instruction finish: its code
 * page and its data pages may fall in one set, and a fill never evicts the
 * three translations filled last in it (a direct-mapped TLB could evict the
 * code page to map the data and the other way round, forever). */
#include "tlb.h"

#include <stdlib.h>
#include <string.h>

#include "machine.h"
#include "pfn.h"
#include "process.h"
#include "pte.h"

static struct mmi_tlb_entry *set_of(mm_machine *m, mm_va va)
{
    return &m->tlb.entry[((va >> MM_PAGE_SHIFT) & (MMI_TLB_SETS - 1)) * MMI_TLB_WAYS];
}

static bool live(const mm_machine *m, const struct mmi_tlb_entry *e) { return e->generation == m->tlb.generation; }

/* The live entry for page, or NULL. */
static struct mmi_tlb_entry *find(mm_machine *m, mm_va page)
{
    return (struct mmi_tlb_entry *)(uintptr_t)mmi_tlb_entry_of(&m->tlb, page);
}

mm_pfn mmi_tlb_lookup(mm_machine *m, mm_va va, mm_pfn top, bool write)
{
    const struct mmi_tlb_entry *e = find(m, MM_PAGE_ALIGN(va));
    if (!e || e->top != top || (write && !e->writable))
        return MM_PFN_NONE;
    return e->pfn;
}

/* Where page's translation goes: its own entry, a dead one, or the one
 * filled longest ago. */
static struct mmi_tlb_entry *victim(mm_machine *m, mm_va page)
{
    struct mmi_tlb_entry *set = set_of(m, page), *oldest = &set[0];
    for (unsigned w = 0; w < MMI_TLB_WAYS; w++) {
        if (set[w].page == page || !live(m, &set[w]))
            return &set[w];
        if (set[w].stamp < oldest->stamp)
            oldest = &set[w];
    }
    return oldest;
}

static bool pte_writable(uint64_t pte) { return (pte & (PTE_WRITE | PTE_DIRTY)) == (PTE_WRITE | PTE_DIRTY); }

/* The host view is to stop mapping e's page: 1, with the page in *gone
 * for the caller to unmap (alone or with its neighbours), or 0 when there
 * is no host view or the page is parked (a user page kept mapped until the
 * restore settles it). */
static unsigned host_release(mm_machine *m, const struct mmi_tlb_entry *e, struct mmi_host_page *gone)
{
    struct mmi_tlb *t = &m->tlb;
    if (!t->host)
        return 0;
    if (t->park && mmi_is_user_va(m, e->page) && t->parked_count < MMI_TLB_PARKED) {
        t->parked[t->parked_count++] = *e;
        return 0;
    }
    *gone = (struct mmi_host_page){e->page, e->pfn};
    return 1;
}

/* The host view stops mapping e's page (or parks it) at once. */
static void host_drop(mm_machine *m, const struct mmi_tlb_entry *e)
{
    struct mmi_host_page gone;
    if (host_release(m, e, &gone))
        m->tlb.host->unmap(m->tlb.host_ctx, &gone, 1);
}

/* A new host mapping over parked pages replaces theirs. */
static void unpark(mm_machine *m, mm_va page, unsigned count)
{
    struct mmi_tlb *t = &m->tlb;
    for (unsigned i = 0; i < t->parked_count;)
        if (t->parked[i].page - page < (mm_va)count * MM_PAGE_SIZE)
            t->parked[i] = t->parked[--t->parked_count];
        else
            i++;
}

static bool in_syspte(const mm_machine *m, mm_va page)
{
    return page - m->layout.system_ptes < (mm_va)m->cfg.system_ptes * MM_PAGE_SIZE;
}

/* Made through a process's own tables (user space, the self-map)? */
static bool private_entry(const mm_machine *m, const struct mmi_tlb_entry *e)
{
    return !m->system || e->top != m->system->pml4;
}

/* A live entry comes (+1) or goes (-1): the counts that let a flush with
 * nothing to drop skip its sweep. */
static void count_entry(mm_machine *m, const struct mmi_tlb_entry *e, int delta)
{
    if (in_syspte(m, e->page))
        m->tlb.syspte_live = (unsigned)((int)m->tlb.syspte_live + delta);
    if (private_entry(m, e))
        m->tlb.private_live = (unsigned)((int)m->tlb.private_live + delta);
    if (mmi_is_user_va(m, e->page))
        m->tlb.user_live = (unsigned)((int)m->tlb.user_live + delta);
}

/* Live entry e is live no longer. */
static void end_entry(mm_machine *m, struct mmi_tlb_entry *e)
{
    e->generation = m->tlb.generation - 1;
    count_entry(m, e, -1);
}

bool mmi_tlb_may_hold(const mm_machine *m, mm_va va, uint64_t count)
{
    return m->tlb.syspte_live || !in_syspte(m, va) || !in_syspte(m, va + (count - 1) * MM_PAGE_SIZE);
}

/* One entry, without telling the host. */
static void cache(mm_machine *m, mm_va page, mm_pfn top, uint64_t pte)
{
    struct mmi_tlb_entry *e = victim(m, page);
    if (live(m, e)) {
        count_entry(m, e, -1);
        if (e->page != page)
            host_drop(m, e); /* evicted: the host view follows */
    }
    *e = (struct mmi_tlb_entry){.page = page, .top = top, .pfn = mmi_pte_pfn(pte), .generation = m->tlb.generation,
                                .stamp = ++m->tlb.fills, .writable = pte_writable(pte),
                                .executable = !(pte & PTE_NO_EXECUTE)};
    count_entry(m, e, +1);
    if (m->tlb.host && e->writable && mmi_pfn_is_ram(m, e->pfn) && e->pfn < m->pfn.untouched)
        mmi_frame_mark_stored(m, e->pfn); /* host code may write it from now on */
}

void mmi_tlb_fill(mm_machine *m, mm_va va, mm_pfn top, uint64_t pte) { mmi_tlb_fill_run(m, va, top, &pte, 1); }

static bool same_run(mm_machine *m, uint64_t a, uint64_t b)
{
    return mmi_pte_pfn(b) == mmi_pte_pfn(a) + 1 && pte_writable(a) == pte_writable(b) &&
           (a & PTE_NO_EXECUTE) == (b & PTE_NO_EXECUTE) &&
           mmi_pfn_is_ram(m, mmi_pte_pfn(a)) == mmi_pfn_is_ram(m, mmi_pte_pfn(b));
}

/* A live entry that already gives page this translation (the host view
 * maps it so): filling it again would only cost a host mapping. */
static bool cached_as(mm_machine *m, mm_va page, mm_pfn top, uint64_t pte)
{
    const struct mmi_tlb_entry *e = find(m, page);
    return e && e->top == top && e->pfn == mmi_pte_pfn(pte) && e->writable == pte_writable(pte) &&
           e->executable == !(pte & PTE_NO_EXECUTE);
}

void mmi_tlb_fill_run(mm_machine *m, mm_va va, mm_pfn top, const uint64_t *ptes, unsigned count)
{
    mm_va first = MM_PAGE_ALIGN(va);
    for (unsigned i = 0, run; i < count; i += run) {
        mm_va page = first + (mm_va)i * MM_PAGE_SIZE;
        if (cached_as(m, page, top, ptes[i])) {
            run = 1;
            continue;
        }
        for (run = 1; i + run < count && same_run(m, ptes[i + run - 1], ptes[i + run]) &&
                      !cached_as(m, page + (mm_va)run * MM_PAGE_SIZE, top, ptes[i + run]);
             run++)
            ;
        for (unsigned k = 0; k < run; k++)
            cache(m, page + (mm_va)k * MM_PAGE_SIZE, top, ptes[i + k]);
        if (!m->tlb.host)
            continue;
        if (pte_writable(ptes[i]) && m->store.kept && mmi_pfn_is_ram(m, mmi_pte_pfn(ptes[i])))
            for (unsigned k = 0; k < run; k++) /* a snapshot keeps what host code may write unseen */
                mmi_store_keep(&m->store, mmi_pte_pfn(ptes[i + k]));
        if (m->tlb.parked_count)
            unpark(m, page, run);
        m->tlb.host->map(m->tlb.host_ctx, page, mmi_pte_pfn(ptes[i]), run, pte_writable(ptes[i]),
                         !(ptes[i] & PTE_NO_EXECUTE));
    }
}

void mmi_tlb_flush_page(mm_machine *m, mm_va va)
{
    struct mmi_tlb_entry *e = find(m, MM_PAGE_ALIGN(va));
    if (!e)
        return;
    end_entry(m, e);
    host_drop(m, e);
}

static int by_page(const void *a, const void *b)
{
    mm_va x = ((const struct mmi_host_page *)a)->page, y = ((const struct mmi_host_page *)b)->page;
    return x < y ? -1 : x > y;
}

/* Ends live entry e like mmi_tlb_flush_page, except that a page the host
 * view must stop mapping is written to *gone (1 returned) for the caller
 * to unmap with its neighbours. */
static unsigned drop_deferred(mm_machine *m, struct mmi_tlb_entry *e, struct mmi_host_page *gone)
{
    end_entry(m, e);
    return host_release(m, e, gone);
}

/* The host view stops mapping the n pages in gone: each run of
 * consecutive pages in one call. */
static void host_unmap_runs(mm_machine *m, struct mmi_host_page *gone, unsigned n, bool sorted)
{
    if (!sorted)
        qsort(gone, n, sizeof gone[0], by_page);
    for (unsigned i = 0, run; i < n; i += run) {
        for (run = 1; i + run < n && gone[i + run].page == gone[i].page + (mm_va)run * MM_PAGE_SIZE; run++)
            ;
        m->tlb.host->unmap(m->tlb.host_ctx, &gone[i], run);
    }
}

/* What a sweep of the whole TLB drops. */
enum sweep { SWEEP_RANGE, SWEEP_PRIVATE, SWEEP_TOP, SWEEP_USER, SWEEP_STALE };
struct sweep_what {
    enum sweep kind;
    mm_va va;
    uint64_t count;
    mm_pfn top;
};

static bool still_gives(mm_machine *m, const struct mmi_tlb_entry *e);

static bool swept(mm_machine *m, const struct mmi_tlb_entry *e, const struct sweep_what *w)
{
    switch (w->kind) {
    case SWEEP_RANGE:
        return e->page - w->va < w->count * MM_PAGE_SIZE;
    case SWEEP_PRIVATE:
        return private_entry(m, e);
    case SWEEP_TOP:
        return e->top == w->top;
    case SWEEP_USER:
        return mmi_is_user_va(m, e->page);
    case SWEEP_STALE:
        return !still_gives(m, e);
    }
    return false;
}

/* Drops every live entry the sweep names, the host view's pages in runs. */
static void sweep(mm_machine *m, const struct sweep_what *w)
{
    struct mmi_host_page gone[MMI_TLB_ENTRIES];
    unsigned n = 0;
    for (unsigned k = 0; k < MMI_TLB_ENTRIES; k++) {
        struct mmi_tlb_entry *e = &m->tlb.entry[k];
        if (live(m, e) && swept(m, e, w))
            n += drop_deferred(m, e, &gone[n]);
    }
    host_unmap_runs(m, gone, n, false);
}

void mmi_tlb_flush_range(mm_machine *m, mm_va va, uint64_t count)
{
    if (!count || !mmi_tlb_may_hold(m, va, count))
        return;
    if (count >= MMI_TLB_SETS) { /* a long range goes over the entries once */
        sweep(m, &(struct sweep_what){.kind = SWEEP_RANGE, .va = va, .count = count});
        return;
    }
    struct mmi_host_page gone[MMI_TLB_SETS]; /* a short one looks its pages up */
    unsigned n = 0;
    for (uint64_t i = 0; i < count; i++) {
        struct mmi_tlb_entry *e = find(m, va + i * MM_PAGE_SIZE);
        if (e)
            n += drop_deferred(m, e, &gone[n]);
    }
    host_unmap_runs(m, gone, n, true);
}

/* A host view holds only what the TLB holds: its pages go in runs (a few
 * calls), which costs far less than remapping the whole range. */
void mmi_tlb_flush_all(mm_machine *m)
{
    struct mmi_host_page gone[MMI_TLB_ENTRIES];
    unsigned n = 0;
    for (unsigned i = 0; i < MMI_TLB_ENTRIES; i++)
        if (live(m, &m->tlb.entry[i]))
            n += drop_deferred(m, &m->tlb.entry[i], &gone[n]);
    host_unmap_runs(m, gone, n, false);
    m->tlb.generation++;
    m->tlb.syspte_live = 0;
    m->tlb.private_live = 0;
    m->tlb.user_live = 0;
}

void mmi_tlb_flush_private(mm_machine *m)
{
    if (m->tlb.private_live)
        sweep(m, &(struct sweep_what){.kind = SWEEP_PRIVATE});
}

void mmi_tlb_flush_top(mm_machine *m, mm_pfn top)
{
    if (!m->tlb.private_live && m->system && top != m->system->pml4)
        return; /* nothing is cached through a process's tables */
    sweep(m, &(struct sweep_what){.kind = SWEEP_TOP, .top = top});
}

void mmi_tlb_flush_user(mm_machine *m)
{
    if (m->tlb.user_live) /* (System's tables translate user pages too) */
        sweep(m, &(struct sweep_what){.kind = SWEEP_USER});
}

void mmi_switch_process(mm_machine *m, struct mm_process *p)
{
    struct mmi_cpu *cpu = mmi_cpu(m);
    if (cpu->process != p)
        mmi_tlb_flush_user(m);
    cpu->process = p;
}

/* After a restore the tables are the snapshot's, the TLB the one the run
 * left: an entry stays only where the tables give the same frame with at
 * least its rights, in the address space the current CPU runs in. A TLB
 * holds no state of its own (a walk of a valid PTE changes nothing), so
 * what it keeps changes no outcome, only how many host faults come. */
/* Do the tables the current CPU runs on still give e's translation, with
 * at least its rights? */
static bool still_gives(mm_machine *m, const struct mmi_tlb_entry *e)
{
    mm_pfn top = mmi_top_for(m, mmi_cpu(m)->process, e->page);
    if (top != e->top)
        return false;
    struct mmi_walk w;
    mmi_walk(m, top, e->page, &w);
    return mmi_walk_valid(&w) && mmi_pte_pfn(w.entry[3]) == e->pfn && (!e->writable || pte_writable(w.entry[3])) &&
           (!e->executable || !(w.entry[3] & PTE_NO_EXECUTE)) && !(w.entry[3] & MMI_PTE_MDL_MAPPING);
}

void mmi_tlb_revalidate(mm_machine *m)
{
    m->tlb.park = false;
    sweep(m, &(struct sweep_what){.kind = SWEEP_STALE});
}

void mmi_tlb_settle_parked(mm_machine *m)
{
    struct mmi_tlb *t = &m->tlb;
    t->park = false;
    for (unsigned i = 0; i < t->parked_count; i++) {
        const struct mmi_tlb_entry *r = &t->parked[i];
        if (!t->host || mmi_tlb_entry_of(t, r->page) || !still_gives(m, r)) {
            if (t->host && !mmi_tlb_entry_of(t, r->page))
                t->host->unmap(t->host_ctx, &(struct mmi_host_page){r->page, r->pfn}, 1);
            continue;
        }
        struct mmi_tlb_entry *e = victim(m, r->page);
        if (live(m, e)) {
            count_entry(m, e, -1);
            host_drop(m, e);
        }
        *e = *r;
        e->generation = t->generation;
        e->stamp = ++t->fills;
        count_entry(m, e, +1);
        if (e->writable && m->store.kept && mmi_pfn_is_ram(m, e->pfn))
            mmi_store_keep(&m->store, e->pfn); /* host code may write it unseen again */
    }
    t->parked_count = 0;
}

unsigned mmi_tlb_writable_frames(mm_machine *m, mm_pfn *out)
{
    unsigned n = 0;
    for (unsigned i = 0; i < MMI_TLB_ENTRIES; i++)
        if (live(m, &m->tlb.entry[i]) && m->tlb.entry[i].writable)
            out[n++] = m->tlb.entry[i].pfn;
    return n;
}

void mmi_tlb_keep_writable(mm_machine *m)
{
    for (unsigned i = 0; i < MMI_TLB_ENTRIES; i++) {
        const struct mmi_tlb_entry *e = &m->tlb.entry[i];
        if (live(m, e) && e->writable && mmi_pfn_is_ram(m, e->pfn))
            mmi_store_keep(&m->store, e->pfn);
    }
}

void mmi_tlb_forget_caches(mm_machine *m)
{
    memset(m->tlb.pde, 0, sizeof m->tlb.pde);
    m->tlb.recent = (struct mmi_tlb_recent){0};
}

bool mmi_tlb_counts_hold(const mm_machine *m)
{
    unsigned syspte = 0, private = 0, user = 0;
    for (unsigned i = 0; i < MMI_TLB_ENTRIES; i++) {
        const struct mmi_tlb_entry *e = &m->tlb.entry[i];
        if (!live(m, e))
            continue;
        syspte += in_syspte(m, e->page);
        private += private_entry(m, e);
        user += mmi_is_user_va(m, e->page);
    }
    return syspte == m->tlb.syspte_live && private == m->tlb.private_live && user == m->tlb.user_live;
}
