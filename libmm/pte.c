/* libmm/pte.c — PTE construction, protection conversion, page-table walks
 * (with the paging-structure cache of system leaf tables), runs of leaf PTE
 * writes, creation and pruning of page-table pages. */
#include "pte.h"

#include <assert.h>

#include "machine.h"
#include "pfn.h"
#include "process.h"
#include "syspte.h"
#include "tlb.h"
#include "trace.h"

uint64_t mmi_pte_make_valid(mm_pfn pfn, unsigned protection, bool user)
{
    uint64_t pte = (pfn << 12) | PTE_VALID | PTE_ACCESSED;
    unsigned base = protection & 7;
    if (base == MMP_READWRITE || base == MMP_EXECUTE_READWRITE)
        pte |= PTE_DIRTY1 | PTE_WRITE;
    if (base == MMP_WRITECOPY || base == MMP_EXECUTE_WRITECOPY)
        pte |= PTE_COPY_ON_WRITE;
    if (!mmi_protection_executable(protection))
        pte |= PTE_NO_EXECUTE;
    unsigned mod = protection & 0x18;
    if (mod == MMP_NOCACHE)
        pte |= PTE_CACHE_DISABLE | PTE_WRITE_THROUGH;
    else if (mod == MMP_WRITECOMBINE)
        pte |= PTE_CACHE_DISABLE;
    pte |= user ? PTE_OWNER : PTE_GLOBAL;
    return pte;
}

uint32_t mmi_protection_from_win32(uint32_t page_protect)
{
    static const struct { uint32_t win32; unsigned mm; } base[] = {
        {MM_PAGE_NOACCESS, MMP_NOACCESS},        {MM_PAGE_READONLY, MMP_READONLY},
        {MM_PAGE_READWRITE, MMP_READWRITE},      {MM_PAGE_WRITECOPY, MMP_WRITECOPY},
        {MM_PAGE_EXECUTE, MMP_EXECUTE},          {MM_PAGE_EXECUTE_READ, MMP_EXECUTE_READ},
        {MM_PAGE_EXECUTE_READWRITE, MMP_EXECUTE_READWRITE}, {MM_PAGE_EXECUTE_WRITECOPY, MMP_EXECUTE_WRITECOPY},
    };
    uint32_t mods = page_protect & (MM_PAGE_GUARD | MM_PAGE_NOCACHE | MM_PAGE_WRITECOMBINE);
    uint32_t kind = page_protect & 0xFFu;
    if (page_protect & ~(0xFFu | MM_PAGE_GUARD | MM_PAGE_NOCACHE | MM_PAGE_WRITECOMBINE))
        return UINT32_MAX;
    for (unsigned i = 0; i < sizeof base / sizeof base[0]; i++) {
        if (base[i].win32 != kind)
            continue;
        if (kind == MM_PAGE_NOACCESS)
            return mods ? UINT32_MAX : base[i].mm;
        if (mods == 0)
            return base[i].mm;
        if (mods == MM_PAGE_GUARD)
            return base[i].mm | MMP_GUARDPAGE;
        if (mods == MM_PAGE_NOCACHE)
            return base[i].mm | MMP_NOCACHE;
        if (mods == MM_PAGE_WRITECOMBINE)
            return base[i].mm | MMP_WRITECOMBINE;
        return UINT32_MAX;
    }
    return UINT32_MAX;
}

uint32_t mmi_protection_to_win32(unsigned protection)
{
    static const uint32_t base[8] = {0,
                                     MM_PAGE_READONLY,
                                     MM_PAGE_EXECUTE,
                                     MM_PAGE_EXECUTE_READ,
                                     MM_PAGE_READWRITE,
                                     MM_PAGE_WRITECOPY,
                                     MM_PAGE_EXECUTE_READWRITE,
                                     MM_PAGE_EXECUTE_WRITECOPY};
    if (protection == MMP_NOACCESS)
        return MM_PAGE_NOACCESS;
    if ((protection & 7) == 0)
        return 0;
    uint32_t w = base[protection & 7];
    switch (protection & 0x18) {
    case MMP_NOCACHE: return w | MM_PAGE_NOCACHE;
    case MMP_GUARDPAGE: return w | MM_PAGE_GUARD;
    case MMP_WRITECOMBINE: return w | MM_PAGE_WRITECOMBINE;
    default: return w;
    }
}

mm_va mmi_pte_address(mm_va va, unsigned level)
{
    static const mm_va bases[4] = {MM_PXE_BASE, MM_PPE_BASE, MM_PDE_BASE, MM_PTE_BASE};
    unsigned shift = 39 - 9 * level;
    uint64_t index = (va & UINT64_C(0x0000FFFFFFFFFFFF)) >> shift;
    return bases[level] + index * 8;
}

mm_va mmi_va_from_pte_address(mm_va pte_address)
{
    uint64_t va = ((pte_address - MM_PTE_BASE) >> 3) << 12;
    va &= UINT64_C(0x0000FFFFFFFFFFFF);
    if (va & UINT64_C(0x0000800000000000))
        va |= UINT64_C(0xFFFF000000000000);
    return va;
}

uint64_t mmi_pte_get(mm_machine *m, mm_pfn table, unsigned index) { return mmi_frame_read64(m, table, index); }

bool mmi_pte_holds_share(const mm_machine *m, mm_va va, uint64_t pte, bool leaf)
{
    return mmi_pte_valid(pte) || (leaf && mmi_pte_is_transition(pte) && !mmi_is_syspte_va(m, va));
}

/* What overwriting a valid entry drops from the TLB. */
enum flush { FLUSH_PAGE, FLUSH_BELOW, FLUSH_NONE };

/* Everything below an upper-level entry: for a user address (or the
 * self-map) only translations made through a process's own tables, which
 * system pages never are (their walks start at the system's PML4, as
 * global pages survive a CR3 reload); for a system address everything. */
static void flush_below(mm_machine *m, mm_va va)
{
    if (mmi_is_user_va(m, va) || mmi_va_index(va, 0) == MM_PXE_SELFMAP_INDEX)
        mmi_tlb_flush_private(m);
    else
        mmi_tlb_flush_all(m);
}

/* Only a valid entry can be cached, so only overwriting one needs a flush:
 * of its page for a PTE, of everything below it for an upper-level entry,
 * of nothing for a process's copy of a system PML4 entry (no walk uses it). */
static void pte_write(mm_machine *m, mm_pfn table, unsigned index, mm_va va, uint64_t value, enum flush flush)
{
    bool leaf = flush == FLUSH_PAGE;
    if (mmi_frame_read64(m, table, index) == value)
        return;
    uint64_t *slot = &mmi_frame_quads_for_write(m, table)[index];
    uint64_t old = *slot;
    *slot = value;
    if (mmi_pte_valid(old)) {
        if (flush == FLUSH_PAGE)
            mmi_tlb_flush_page(m, va);
        else if (flush == FLUSH_BELOW)
            flush_below(m, va);
    }
    mmi_trace(m, MM_EV_PTE_WRITE, va, table, old, value);
    bool held = mmi_pte_holds_share(m, va, old, leaf), holds = mmi_pte_holds_share(m, va, value, leaf);
    struct mmi_pfn *e = mmi_pfn(m, table);
    if (held == holds || mmi_pfn_use(e) != MM_USE_PAGE_TABLE)
        return;
    /* A page table's share count is 1 (the entry mapping it) + its valid and
     * transition entries: trimming a page keeps its table's share, which goes
     * when the transition PTE is repurposed or deleted (MiDecrementShareCount
     * on the PteFrame). */
    uint32_t before = e->share_count;
    if (holds) {
        e->share_count++;
    } else {
        assert(before > 1);
        e->share_count--;
    }
    mmi_trace(m, MM_EV_PFN_SHARE, 0, table, before, e->share_count);
}

void mmi_pte_set(mm_machine *m, mm_pfn table, unsigned index, mm_va va, uint64_t value)
{
    pte_write(m, table, index, va, value, FLUSH_PAGE);
}

void mmi_pte_set_upper(mm_machine *m, mm_pfn table, unsigned index, mm_va va, uint64_t value)
{
    pte_write(m, table, index, va, value, FLUSH_BELOW);
}

void mmi_pte_set_system_copy(mm_machine *m, mm_pfn pml4, unsigned index, uint64_t value)
{
    pte_write(m, pml4, index, UINT64_C(0xFFFF000000000000) | ((uint64_t)index << 39), value, FLUSH_NONE);
}

/* The paging-structure cache (tlb.h) for system space, whose page tables
 * every context shares. */
static struct mmi_pde_cache_entry *pde_slot(mm_machine *m, mm_va va)
{
    return &m->tlb.pde[(va >> 21) & (MMI_PDE_CACHE - 1)];
}

static mm_pfn pde_cached(mm_machine *m, mm_pfn top, mm_va va)
{
    const struct mmi_pde_cache_entry *c = pde_slot(m, va);
    if (top != m->system->pml4 || c->region != (va >> 21) + 1 || c->generation != m->tlb.generation)
        return MM_PFN_NONE;
    return c->table;
}

static void pde_remember(mm_machine *m, mm_pfn top, mm_va va, mm_pfn table)
{
    if (top == m->system->pml4 && mmi_is_system_va(m, va) && mmi_va_index(va, 0) != MM_PXE_SELFMAP_INDEX)
        *pde_slot(m, va) = (struct mmi_pde_cache_entry){(va >> 21) + 1, table, m->tlb.generation, NULL};
}

/* A leaf table's entries to write, kept in its paging-structure cache
 * entry: a system page table holds contents as long as it exists. */
static uint64_t *table_for_write(mm_machine *m, mm_pfn table, mm_va va)
{
    struct mmi_pde_cache_entry *c = pde_slot(m, va);
    bool cached = c->region == (va >> 21) + 1 && c->table == table && c->generation == m->tlb.generation;
    if (cached && c->quads)
        return c->quads;
    uint64_t *q = mmi_frame_quads_for_write(m, table);
    if (cached)
        c->quads = q;
    return q;
}

static const uint64_t *table_for_read(mm_machine *m, mm_pfn table, mm_va va)
{
    const struct mmi_pde_cache_entry *c = pde_slot(m, va);
    if (c->quads && c->region == (va >> 21) + 1 && c->table == table && c->generation == m->tlb.generation)
        return c->quads;
    return mmi_frame_quads(m, table);
}

static uint64_t leaf_pte(mm_pfn pfn, uint64_t bits) { return ((pfn << 12) & PTE_PFN_MASK) | bits; }

/* Only a page table's entries hold shares of it (a prototype PTE array does
 * not): runs are for page tables, anything else goes entry by entry. */
static bool runs_apply(mm_machine *m, mm_pfn table)
{
    return mmi_pfn_use(mmi_pfn(m, table)) == MM_USE_PAGE_TABLE;
}

void mmi_pte_map_run(mm_machine *m, mm_pfn table, unsigned index, mm_va va, const mm_pfn *pfns, unsigned count,
                     uint64_t bits)
{
    if (!count)
        return;
    if (!(bits & PTE_VALID) || !runs_apply(m, table)) {
        for (unsigned i = 0; i < count; i++)
            mmi_pte_set(m, table, index + i, va + (mm_va)i * MM_PAGE_SIZE, leaf_pte(pfns[i], bits));
        return;
    }
    struct mmi_pfn *e = mmi_pfn(m, table);
    uint64_t *q = table_for_write(m, table, va) + index;
    for (unsigned i = 0; i < count;) {
        /* Empty entries: a valid PTE each, one share each. */
        mmi_trace_run_begin(m, MMI_RUN_PTE_MAP, va + (mm_va)i * MM_PAGE_SIZE, table, e->share_count);
        struct mmi_run_writer w = mmi_trace_run_writer(&m->trace);
        unsigned first = i;
        for (; i < count && q[i] == 0; i++) {
            uint64_t pte = leaf_pte(pfns[i], bits);
            q[i] = pte;
            mmi_trace_run_put(m, &w, pte);
        }
        e->share_count += i - first;
        mmi_trace_run_done(&m->trace, &w);
        mmi_trace_run_end(m);
        if (i < count) { /* an entry in use: the one-by-one rules */
            mmi_pte_set(m, table, index + i, va + (mm_va)i * MM_PAGE_SIZE, leaf_pte(pfns[i], bits));
            i++;
        }
    }
}

void mmi_pte_clear_run(mm_machine *m, mm_pfn table, unsigned index, mm_va va, unsigned count)
{
    const uint64_t *r = table_for_read(m, table, va) + index;
    if (!runs_apply(m, table)) {
        for (unsigned i = 0; i < count; i++)
            if (r[i])
                mmi_pte_set(m, table, index + i, va + (mm_va)i * MM_PAGE_SIZE, 0);
        return;
    }
    struct mmi_pfn *e = mmi_pfn(m, table);
    uint64_t *q = NULL; /* the same page as r, once an entry is written */
    for (unsigned i = 0; i < count;) {
        /* Valid entries: each gives up its share and its cached translation. */
        mmi_trace_run_begin(m, MMI_RUN_PTE_CLEAR, va + (mm_va)i * MM_PAGE_SIZE, table, e->share_count);
        struct mmi_run_writer w = mmi_trace_run_writer(&m->trace);
        unsigned first = i;
        if (!q && i < count && mmi_pte_valid(r[i]))
            q = table_for_write(m, table, va) + index;
        for (; i < count && mmi_pte_valid(r[i]); i++) {
            uint64_t old = q[i];
            q[i] = 0;
            mmi_trace_run_put(m, &w, old);
        }
        mmi_trace_run_done(&m->trace, &w);
        mmi_tlb_flush_range(m, va + (mm_va)first * MM_PAGE_SIZE, i - first);
        assert(e->share_count > i - first);
        e->share_count -= i - first;
        mmi_trace_run_end(m);
        if (i < count) {
            if (r[i])
                mmi_pte_set(m, table, index + i, va + (mm_va)i * MM_PAGE_SIZE, 0);
            i++;
        }
    }
}

mm_pfn mmi_leaf_table(mm_machine *m, mm_pfn top, mm_va va)
{
    mm_pfn cached = pde_cached(m, top, va);
    if (cached != MM_PFN_NONE)
        return cached;
    mm_pfn table = top;
    for (unsigned level = 0; level < 3; level++) {
        uint64_t e = mmi_pte_get(m, table, mmi_va_index(va, level));
        if (!mmi_pte_valid(e))
            return MM_PFN_NONE;
        table = mmi_pte_pfn(e);
    }
    pde_remember(m, top, va, table);
    return table;
}

void mmi_walk(mm_machine *m, mm_pfn top, mm_va va, struct mmi_walk *w)
{
    mm_pfn table = top;
    w->depth = 0;
    for (unsigned level = 0; level < 4; level++) {
        w->table[level] = table;
        w->entry[level] = mmi_pte_get(m, table, mmi_va_index(va, level));
        w->depth = level + 1;
        if (level == 3 || !mmi_pte_valid(w->entry[level]))
            return;
        table = mmi_pte_pfn(w->entry[level]);
    }
}

/* Every context shares the system half; only the self-map slot differs
 * (it maps the context's own tables, as CR3 does on real hardware). */
mm_pfn mmi_top_for(mm_machine *m, struct mm_process *p, mm_va va)
{
    if (!p || !p->pml4) /* no context, or its tables are gone */
        return m->system->pml4;
    if (mmi_is_system_va(m, va) && mmi_va_index(va, 0) != MM_PXE_SELFMAP_INDEX)
        return m->system->pml4;
    return p->pml4;
}

static mm_status new_table(mm_machine *m, mm_pfn parent, unsigned level, mm_va va, uint32_t owner, mm_pfn *out)
{
    mm_pfn pfn;
    mm_status st = mmi_pfn_take_table(m, &pfn);
    if (!MM_SUCCESS(st))
        return st;
    mmi_pfn_init_active(m, pfn, mmi_pte_address(va, level), parent, 0, owner, MM_USE_PAGE_TABLE);
    uint64_t entry = (pfn << 12) | PTE_VALID | PTE_DIRTY1 | PTE_ACCESSED | PTE_DIRTY;
    if (mmi_is_user_va(m, va))
        entry |= PTE_OWNER;
    mmi_pte_set_upper(m, parent, mmi_va_index(va, level), va, entry);
    *out = pfn;
    return MM_STATUS_SUCCESS;
}

mm_status mmi_pt_ensure(mm_machine *m, mm_pfn top, mm_va va, uint32_t owner, mm_pfn *table)
{
    if ((*table = pde_cached(m, top, va)) != MM_PFN_NONE)
        return MM_STATUS_SUCCESS;
    mm_pfn t = top;
    for (unsigned level = 0; level < 3; level++) {
        uint64_t e = mmi_pte_get(m, t, mmi_va_index(va, level));
        if (mmi_pte_valid(e)) {
            t = mmi_pte_pfn(e);
            continue;
        }
        assert(e == 0);
        mm_status st = new_table(m, t, level, va, owner, &t);
        if (!MM_SUCCESS(st))
            return st;
    }
    pde_remember(m, top, va, t);
    *table = t;
    return MM_STATUS_SUCCESS;
}

mm_va mmi_next_mapped_table(mm_machine *m, mm_pfn top, mm_va va, mm_va end)
{
    while (va < end) {
        mm_pfn table = top;
        unsigned level = 0;
        for (; level < 3; level++) {
            uint64_t e = mmi_pte_get(m, table, mmi_va_index(va, level));
            if (!mmi_pte_valid(e))
                break;
            table = mmi_pte_pfn(e);
        }
        if (level == 3)
            return va;
        mm_va span = (mm_va)1 << (39 - 9 * level);
        mm_va next = (va & ~(span - 1)) + span;
        if (next <= va)
            return end;
        va = next;
    }
    return end;
}

/* No entry in use: 64 entries at a time ORed together (a loop the compiler
 * vectorises), stopping at the first block with one. */
static bool table_empty(mm_machine *m, mm_pfn table)
{
    const uint64_t *q = mmi_frame_quads(m, table);
    for (unsigned block = 0; block < 512; block += 64) {
        uint64_t any = 0;
        for (unsigned i = 0; i < 64; i++)
            any |= q[block + i];
        if (any)
            return false;
    }
    return true;
}

mm_status mmi_pt_prune(mm_machine *m, mm_pfn top, mm_va va)
{
    if (!mmi_is_user_va(m, va))
        return MM_STATUS_SUCCESS; /* system page tables stay */
    struct mmi_walk w;
    mmi_walk(m, top, va, &w);
    /* From the PT up to the PDPT: free a table that is empty, then its parent. */
    for (unsigned level = w.depth - 1; level >= 1; level--) {
        mm_pfn table = w.table[level];
        if (!table_empty(m, table))
            break;
        mmi_pte_set_upper(m, w.table[level - 1], mmi_va_index(va, level - 1), va, 0);
        mm_status st = mmi_pfn_delete(m, table, true);
        if (!MM_SUCCESS(st))
            return st;
    }
    return MM_STATUS_SUCCESS;
}
