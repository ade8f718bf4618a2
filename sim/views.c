/* sim/views.c — formats machine state the way WinDbg shows it, so a driver
 * developer recognises !pfn, !pte, !memusage, !process, !vad, !lockedpages,
 * !verifier and !history output; and a command's changes, for the REPL. */
#include "views.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static const char *const protection_names[8] = {"NoAccess", "ReadOnly", "Execute", "ExecuteRead",
                                                "ReadWrite", "WriteCopy", "ExecuteReadWrite", "ExecuteWriteCopy"};

const char *view_protection_name(unsigned protection)
{
    if (protection == 0x18)
        return "NoAccess";
    if (protection == 0x10)
        return "Decommitted";
    return protection_names[protection & 7];
}

static const char *use_name(unsigned use)
{
    static const char *const names[] = {"", "Private", "PageTable", "NonPagedPool", "PagedPool", "Image",
                                        "MdlPages", "System", "Section", "KernelStack", "Contiguous"};
    return use < sizeof names / sizeof names[0] ? names[use] : "?";
}

void view_pfn(FILE *out, mm_machine *m, mm_pfn pfn)
{
    struct mm_pfn_info i;
    if (mm_pfn_query(m, pfn, &i) != MM_STATUS_SUCCESS) {
        fprintf(out, "0x%" PRIx64 " is not a valid page frame number\n", pfn);
        return;
    }
    static const char *const cache[] = {"NonCached", "Cached", "WriteComb", "NotMapped"};
    fprintf(out, "    PFN %08" PRIX64 " at address %016" PRIX64 "\n", pfn, i.entry_address);
    fprintf(out, "    share count %08X  pteaddress %016" PRIX64 "  reference count %04X  %s\n", i.share_count,
            i.pte_address, i.reference_count, cache[i.cache_attribute & 3]);
    fprintf(out, "    restore pte %016" PRIX64 "  containing page %06" PRIX64 "  %-10s %s%s%s\n", i.original_pte,
            i.pte_frame, mm_page_location_name(i.location), i.modified ? "M" : "", i.deleted ? " Deleted" : "",
            i.lock_charged ? " LockCharged" : "");
    if (i.pte_address)
        fprintf(out, "    maps %016" PRIX64 " in process %u (%s)\n", i.mapped_va, i.owner_process_id, use_name(i.use));
}

static void pte_flags(uint64_t e, char out[12])
{
    snprintf(out, 12, "%c%c%c%c%c%c%c%c%c%c%c", e & 0x80 ? 'L' : '-', e & 0x100 ? 'G' : '-',
             e & 0x200 ? 'C' : '-', e & 0x40 ? 'D' : '-', e & 0x20 ? 'A' : '-', e & 0x8 ? 'T' : '-',
             e & 0x10 ? 'N' : '-', e & 0x4 ? 'U' : 'K', e & 0x802 ? 'W' : 'R',
             e & (UINT64_C(1) << 63) ? '-' : 'E', 'V');
}

static void describe_entry(char *buf, size_t size, uint64_t e, bool present)
{
    if (!present) {
        snprintf(buf, size, "%-26s", "");
    } else if (e & 1) {
        char f[12];
        pte_flags(e, f);
        snprintf(buf, size, "pfn %-8" PRIx64 "%-14s", (e >> 12) & 0xFFFFFFFFF, f);
    } else if (e == 0) {
        snprintf(buf, size, "%-26s", "not valid");
    } else {
        snprintf(buf, size, "%-26s", mm_pte_format_name(e));
    }
}

void view_pte(FILE *out, mm_machine *m, mm_process *p, mm_va va)
{
    struct mm_pte_walk w;
    if (mm_pte_walk(m, p, va, &w) != MM_STATUS_SUCCESS) {
        fprintf(out, "%016" PRIX64 " is not an address the machine can walk\n", va);
        return;
    }
    static const char *const names[4] = {"PXE", "PPE", "PDE", "PTE"};
    fprintf(out, "%48s VA %016" PRIx64 "\n", "", va);
    for (int l = 0; l < 4; l++)
        fprintf(out, "%s at %016" PRIX64 "    ", names[l], w.level[l].entry_address);
    fputc('\n', out);
    for (int l = 0; l < 4; l++) {
        if (w.level[l].present)
            fprintf(out, "contains %016" PRIX64 "  ", w.level[l].value);
        else
            fprintf(out, "%-27s", "");
    }
    fputc('\n', out);
    for (int l = 0; l < 4; l++) {
        char d[64];
        describe_entry(d, sizeof d, w.level[l].value, w.level[l].present);
        fprintf(out, "%-27s", d);
    }
    fputc('\n', out);
    uint64_t e = w.level[3].value;
    if (!w.level[3].present || (e & 1) || e == 0)
        return;
    unsigned prot = (unsigned)(e >> 5) & 0x1F;
    if ((e & 0x800) && !(e & 0x400))
        fprintf(out, "Transition: %" PRIx64 "  Protect: %x - %s\n", (e >> 12) & 0xFFFFFFFFF, prot,
                view_protection_name(prot));
    else if (e >> 32)
        fprintf(out, "PageFile: 0  Offset: %" PRIx64 "  Protect: %x - %s\n", (e >> 32) * 0x1000, prot,
                view_protection_name(prot));
    else
        fprintf(out, "%s  Protect: %x - %s\n", mm_pte_format_name(e), prot, view_protection_name(prot));
}

void view_memusage(FILE *out, mm_machine *m)
{
    struct mm_memory_counts c;
    if (mm_memory_query(m, &c) != MM_STATUS_SUCCESS)
        return;
    for (unsigned l = 0; l < 8; l++)
        fprintf(out, "  %16s: %8" PRIu64 " (%10" PRIu64 " Kb)\n", mm_page_location_name(l), c.list_pages[l],
                c.list_pages[l] * 4);
    fprintf(out, "  %16s: %8" PRIu64 " of %" PRIu64 " pages\n", "Commit", c.commit_charge, c.commit_limit);
    fprintf(out, "  %16s: %8" PRIu64 " of %" PRIu64 " pages\n", "Page file", c.pagefile_used, c.pagefile_total);
    fprintf(out, "  %16s: %8" PRIu64 " nonpaged, %" PRIu64 " paged pages\n", "Pool", c.nonpaged_pool_pages,
            c.paged_pool_pages);
    fprintf(out, "  %16s: %8" PRIu64 " of %" PRIu64 " in use\n", "System PTEs", c.system_ptes_used,
            c.system_ptes_total);
    fprintf(out, "  %16s: %8" PRIu64 " pages\n", "Locked", c.system_locked_pages);
}

void view_process(FILE *out, mm_machine *m, mm_process *p)
{
    struct mm_process_info i;
    if (mm_process_query(m, p, &i) != MM_STATUS_SUCCESS)
        return;
    fprintf(out, "PROCESS %016" PRIx64 "\n    Cid: %04x    DirBase: %09" PRIx64 "    Image: %s%s\n", i.eprocess, i.id,
            i.directory_table_base << 12, i.name, i.terminated ? " (exited)" : "");
    fprintf(out, "    VadCount %" PRIu64 "  WorkingSet %" PRIu64 " pages  Commit %" PRIu64
            " pages  LockedPages %" PRId64 "\n", i.vad_count, i.working_set_pages, i.commit_charge, i.locked_pages);
}

void view_trace(FILE *out, mm_machine *m, size_t last)
{
    struct mm_trace_event ev[64];
    if (last > 64)
        last = 64;
    size_t n = mm_trace_read(m, ev, last);
    for (size_t i = 0; i < n; i++) {
        char line[200];
        mm_trace_format(&ev[i], line, sizeof line);
        fprintf(out, "  %s\n", line);
    }
}

void view_bugcheck(FILE *out, const struct mm_bugcheck *bc)
{
    char report[4096];
    mm_bugcheck_format(bc, report, sizeof report);
    fputs(report, out);
}

void view_mdl_flags(char *buf, size_t size, unsigned flags)
{
    static const char *const names[16] = {
        "MAPPED_TO_SYSTEM_VA", "PAGES_LOCKED", "SOURCE_IS_NONPAGED_POOL", "ALLOCATED_FIXED_SIZE", "PARTIAL",
        "PARTIAL_HAS_BEEN_MAPPED", "IO_PAGE_READ", "WRITE_OPERATION", "PARENT_MAPPED_SYSTEM_VA", "FREE_EXTRA_PTES",
        "DESCRIBES_AWE", "IO_SPACE", "NETWORK_HEADER", "MAPPING_CAN_FAIL", "PAGE_CONTENTS_INVARIANT", "INTERNAL"};
    size_t used = 0;
    buf[0] = 0;
    for (unsigned i = 0; i < 16; i++) {
        if (!(flags & (1u << i)))
            continue;
        int n = snprintf(buf + used, size - used, "%s%s", used ? "|" : "", names[i]);
        if (n < 0 || (size_t)n >= size - used)
            break;
        used += (size_t)n;
    }
}

static void print_va(FILE *out, const char *field, unsigned offset, uint64_t v)
{
    if (v)
        fprintf(out, "   +0x%03x %-16s: 0x%08" PRIx64 "`%08" PRIx64 "\n", offset, field, v >> 32, v & 0xFFFFFFFF);
    else
        fprintf(out, "   +0x%03x %-16s: (null)\n", offset, field);
}

void view_mdl(FILE *out, mm_machine *m, mm_va mdl)
{
    struct mm_mdl h;
    mm_pfn pfns[16];
    if (mm_mdl_read(m, mdl, &h, pfns, 16) != MM_STATUS_SUCCESS) {
        fprintf(out, "cannot read an MDL at %016" PRIx64 "\n", mdl);
        return;
    }
    char flags[256];
    view_mdl_flags(flags, sizeof flags, (uint16_t)h.MdlFlags);
    fprintf(out, "dt _MDL %016" PRIx64 "\n", mdl);
    print_va(out, "Next", 0x00, h.Next);
    fprintf(out, "   +0x008 %-16s: 0n%d\n", "Size", h.Size);
    fprintf(out, "   +0x00a %-16s: 0x%04x (%s)\n", "MdlFlags", (uint16_t)h.MdlFlags, flags[0] ? flags : "none");
    print_va(out, "Process", 0x10, h.Process);
    print_va(out, "MappedSystemVa", 0x18, h.MappedSystemVa);
    print_va(out, "StartVa", 0x20, h.StartVa);
    fprintf(out, "   +0x028 %-16s: 0x%x\n", "ByteCount", h.ByteCount);
    fprintf(out, "   +0x02c %-16s: 0x%x\n", "ByteOffset", h.ByteOffset);
    uint64_t pages = MM_MDL_PAGES(&h);
    fprintf(out, "   PFN array       :");
    for (uint64_t i = 0; i < pages && i < 16; i++) {
        if (pfns[i] == MM_PFN_NONE) {
            fprintf(out, " LIST_HEAD");
            break;
        }
        fprintf(out, " %" PRIx64, pfns[i]);
    }
    fprintf(out, "%s\n", pages > 16 ? " ..." : "");
}

/* ---- !vad ---- */

static const char *protect_name(uint32_t protect)
{
    switch (protect & 0xFF) {
    case MM_PAGE_NOACCESS: return "NO_ACCESS";
    case MM_PAGE_READONLY: return "READONLY";
    case MM_PAGE_READWRITE: return "READWRITE";
    case MM_PAGE_WRITECOPY: return "WRITECOPY";
    case MM_PAGE_EXECUTE: return "EXECUTE";
    case MM_PAGE_EXECUTE_READ: return "EXECUTE_READ";
    case MM_PAGE_EXECUTE_READWRITE: return "EXECUTE_READWRITE";
    case MM_PAGE_EXECUTE_WRITECOPY: return "EXECUTE_WRITECOPY";
    default: return "?";
    }
}

void view_vad(FILE *out, mm_machine *m, mm_process *p)
{
    struct mm_vad_info v[64];
    size_t n = mm_process_vads(m, p, v, 64);
    struct mm_process_info pi;
    if (mm_process_query(m, p, &pi) != MM_STATUS_SUCCESS)
        return;
    fprintf(out, "VADs of %s (Cid %04x): %zu\n", pi.name, pi.id, n);
    fprintf(out, "%12s %12s %8s %-8s %-18s %s\n", "Start", "End", "Commit", "Type", "Protection", "");
    for (size_t i = 0; i < n && i < 64; i++) {
        uint64_t pages = (v[i].end - v[i].start) / MM_PAGE_SIZE;
        const char *what = v[i].physical ? "MDL user mapping (VadDevicePhysicalMemory)"
                           : v[i].type == MM_MEM_MAPPED ? "section view"
                           : v[i].committed_all ? "committed at reservation" : "reserved, committed by range";
        fprintf(out, "%12" PRIx64 " %12" PRIx64 " %8" PRIu64 " %-8s %-18s %s\n", v[i].start >> 12,
                (v[i].end >> 12) - 1, v[i].committed_all ? pages : v[i].commit_charge,
                v[i].type == MM_MEM_MAPPED ? "Mapped" : "Private", protect_name(v[i].protect), what);
    }
    if (n > 64)
        fprintf(out, "… %zu more\n", n - 64);
}

/* ---- !lockedpages ---- */

void view_lockedpages(FILE *out, mm_machine *m)
{
    struct mm_mdl_info d[128];
    size_t n = mm_mdls_read(m, d, 128), shown = 0;
    fprintf(out, "Locked MDLs (MmProbeAndLockPages without MmUnlockPages yet):\n");
    fprintf(out, "  %-16s %-6s %-8s %-7s %-16s %s\n", "MDL", "id", "process", "pages", "tracker", "locked at");
    for (size_t i = 0; i < n && i < 128; i++) {
        if (!d[i].locked)
            continue;
        shown++;
        fprintf(out, "  %016" PRIx64 " %-6u %-8u %-7" PRIu64 " %016" PRIx64 " step %" PRIu64 "\n", d[i].mdl, d[i].id,
                d[i].lock_process, d[i].lock_pages, d[i].tracker, d[i].lock_step);
    }
    if (!shown)
        fprintf(out, "  none\n");
    struct mm_leaked_lock l[32];
    size_t k = mm_leaked_locks_read(m, l, 32);
    if (k) {
        fprintf(out, "Charges no locked MDL explains (freed, rebuilt or locked twice while locked; process exit will "
                     "stop with 0x76 or 0xCB):\n");
        for (size_t i = 0; i < k && i < 32; i++)
            fprintf(out, "  MDL %016" PRIx64 " process %u pages %" PRId64 " tracker %016" PRIx64 "\n", l[i].mdl,
                    l[i].process_id, l[i].pages, l[i].tracker);
    }
    fprintf(out, "Per process NumberOfLockedPages:\n");
    for (mm_process *p = mm_process_next(m, NULL); p; p = mm_process_next(m, p)) {
        struct mm_process_info pi;
        if (mm_process_query(m, p, &pi) == MM_STATUS_SUCCESS && (pi.locked_pages || pi.id > 4))
            fprintf(out, "  %-16s Cid %04x  %" PRId64 "%s\n", pi.name, pi.id, pi.locked_pages,
                    pi.terminated ? " (exited)" : "");
    }
    struct mm_memory_counts c;
    if (mm_memory_query(m, &c) == MM_STATUS_SUCCESS)
        fprintf(out, "System-wide locked pages (MmSystemLockPagesCount): %" PRIu64 "\n", c.system_locked_pages);
}

/* ---- !verifier ---- */

void view_verifier(FILE *out, mm_machine *m, bool track_locked_pages, bool track_ptes)
{
    static const struct {
        uint32_t flag;
        const char *name;
    } flags[] = {{MM_VERIFIER_SPECIAL_POOL, "Special pool"},
                 {MM_VERIFIER_FORCE_IRQL_CHECKING, "Force IRQL checking"},
                 {MM_VERIFIER_LOW_RESOURCES, "Low resources simulation"},
                 {MM_VERIFIER_POOL_TRACKING, "Pool tracking"},
                 {MM_VERIFIER_IO_VERIFICATION, "I/O verification"},
                 {MM_VERIFIER_DEADLOCK_DETECTION, "Deadlock detection"},
                 {MM_VERIFIER_DMA, "DMA checking"},
                 {MM_VERIFIER_SECURITY, "Security checks"},
                 {MM_VERIFIER_MISCELLANEOUS, "Miscellaneous checks"},
                 {MM_VERIFIER_DDI_COMPLIANCE, "DDI compliance checking"}};
    uint32_t v = mm_machine_verifier(m);
    fprintf(out, "Verify Flags Level 0x%08X%s\n", v, v ? "" : " (Driver Verifier is off)");
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        fprintf(out, "  [%c] 0x%05X %s\n", (v & flags[i].flag) ? 'X' : ' ', flags[i].flag, flags[i].name);
    fprintf(out, "Registry: TrackLockedPages = %d, TrackPtes = %d\n", track_locked_pages, track_ptes);
    fprintf(out, "%s\n", v ? "MDL, locking and mapping misuse stops at the call with 0xC4 (see !analyze -v)."
                           : "Without Verifier, misuse is caught only when the damage shows (0x4E, 0x76, 0x1A, 0x50 …)"
                             " or reported as a finding (!findings).");
    struct mm_pool_usage u[2];
    for (int t = 0; t < 2; t++)
        if (mm_pool_usage(m, t == 0 ? MM_NONPAGED_POOL : MM_PAGED_POOL, &u[t]) != MM_STATUS_SUCCESS)
            return;
    fprintf(out, "Pool: %" PRIu64 " nonpaged allocations (%" PRIu64 " bytes), %" PRIu64 " paged (%" PRIu64
            " bytes) outstanding\n", u[0].allocations, u[0].bytes, u[1].allocations, u[1].bytes);
}

/* ---- !history ---- */

static bool pte_maps(uint64_t pte, mm_pfn pfn) { return (pte & 1) && ((pte >> 12) & 0xFFFFFFFFFull) == pfn; }

/* An MDL's history is every event of every call that named it. */
static bool mdl_step(const struct mm_trace_event *ev, size_t n, size_t from, mm_va mdl, uint64_t step)
{
    for (size_t i = from; i < n && ev[i].step == step; i++)
        if (ev[i].va == mdl || (ev[i].type == MM_EV_NOTE && ev[i].a <= 0xFF && ev[i].b == mdl))
            return true;
    return false;
}

size_t view_history(FILE *out, mm_machine *m, enum history_of kind, uint64_t what)
{
    size_t cap = 1u << 16;
    struct mm_trace_event *ev = malloc(cap * sizeof *ev);
    if (!ev)
        return 0;
    size_t n = mm_trace_read(m, ev, cap), shown = 0;
    bool in_step = false;
    for (size_t i = 0; i < n; i++) {
        const struct mm_trace_event *e = &ev[i];
        bool hit;
        if (kind == HISTORY_PFN) {
            hit = e->type == MM_EV_PTE_WRITE ? pte_maps(e->a, what) || pte_maps(e->b, what) : e->pfn == what;
        } else if (kind == HISTORY_MDL) {
            if (i == 0 || ev[i - 1].step != e->step)
                in_step = mdl_step(ev, n, i, what, e->step);
            hit = in_step && e->type != MM_EV_POOL_ALLOC && !(e->type == MM_EV_PTE_WRITE && e->va == MM_PAGE_ALIGN(what));
        } else {
            hit = MM_PAGE_ALIGN(e->va) == MM_PAGE_ALIGN(what);
        }
        if (!hit)
            continue;
        char line[200];
        mm_trace_format(e, line, sizeof line);
        fprintf(out, "  %s\n", line);
        shown++;
    }
    if (!shown)
        fprintf(out, "  nothing in the last %zu events\n", n);
    free(ev);
    return shown;
}

/* ---- what a command changed (the REPL echoes it) ---- */

struct frame_change {
    mm_pfn pfn;
    uint64_t share[2], ref[2], list[2];
    bool has_share, has_ref, has_list;
};

static struct frame_change *change_of(struct frame_change *c, size_t *n, size_t max, mm_pfn pfn)
{
    for (size_t i = 0; i < *n; i++)
        if (c[i].pfn == pfn)
            return &c[i];
    if (*n == max)
        return NULL;
    c[*n] = (struct frame_change){.pfn = pfn};
    return &c[(*n)++];
}

static void note_change(uint64_t v[2], bool *has, uint64_t old, uint64_t now)
{
    if (!*has)
        v[0] = old;
    v[1] = now;
    *has = true;
}

void view_changes(FILE *out, mm_machine *m, uint64_t first_event)
{
    uint64_t total = mm_trace_count(m) - first_event;
    size_t want = total > 4096 ? 4096 : (size_t)total;
    struct mm_trace_event *ev = want ? malloc(want * sizeof *ev) : NULL;
    if (!ev)
        return;
    size_t n = mm_trace_read(m, ev, want), frames = 0, ptes = 0, others = 0;
    struct frame_change c[8];
    for (size_t i = 0; i < n; i++) {
        const struct mm_trace_event *e = &ev[i];
        struct frame_change *f = NULL;
        if (e->type == MM_EV_PFN_LIST || e->type == MM_EV_PFN_SHARE || e->type == MM_EV_PFN_REF)
            f = change_of(c, &frames, 8, e->pfn);
        if (f && e->type == MM_EV_PFN_LIST)
            note_change(f->list, &f->has_list, e->a, e->b);
        else if (f && e->type == MM_EV_PFN_SHARE)
            note_change(f->share, &f->has_share, e->a, e->b);
        else if (f && e->type == MM_EV_PFN_REF)
            note_change(f->ref, &f->has_ref, e->a, e->b);
        else if (e->type == MM_EV_PTE_WRITE)
            ptes++;
        else if (e->type != MM_EV_FAULT && e->type != MM_EV_PFN_LIST && e->type != MM_EV_PFN_SHARE &&
                 e->type != MM_EV_PFN_REF && others++ < 6) {
            char line[200];
            mm_trace_format(e, line, sizeof line);
            const char *body = strchr(line, ':');
            fprintf(out, "   ~ %s\n", body ? body + 2 : line);
        }
    }
    for (size_t i = 0; i < frames; i++) {
        const struct frame_change *f = &c[i];
        fprintf(out, "   ~ PFN 0x%" PRIx64 ":", f->pfn);
        if (f->has_list && f->list[0] != f->list[1])
            fprintf(out, " %s -> %s", mm_page_location_name((unsigned)f->list[0]),
                    mm_page_location_name((unsigned)f->list[1]));
        if (f->has_share && f->share[0] != f->share[1])
            fprintf(out, " share %" PRIu64 " -> %" PRIu64, f->share[0], f->share[1]);
        if (f->has_ref && f->ref[0] != f->ref[1])
            fprintf(out, " ref %" PRIu64 " -> %" PRIu64, f->ref[0], f->ref[1]);
        fputc('\n', out);
    }
    if (frames == 8)
        fprintf(out, "   ~ (more frames changed: !trace shows them)\n");
    if (others > 6)
        fprintf(out, "   ~ … and %zu more events\n", others - 6);
    if (ptes)
        fprintf(out, "   ~ %zu PTE%s written\n", ptes, ptes == 1 ? "" : "s");
    free(ev);
}
