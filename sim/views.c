/* sim/views.c — formats machine state the way WinDbg shows it, so a driver
 * developer recognises !pfn, !pte, !memusage and !process output. */
#include "views.h"

#include <inttypes.h>

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
    static const char *const names[] = {"", "Private", "PageTable", "NonPagedPool", "PagedPool",
                                        "Image", "MdlPages", "System", "Section"};
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
