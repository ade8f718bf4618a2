/* sim/views.c — formats machine state with WinDbg's own layout and wording
 * (!pfn, !pte, !vad, !process, !memusage, dt _MDL, !verifier, !analyze -v)
 * so a driver developer recognises it; what mmsim adds (what a page maps,
 * Raised by, Why, the history) follows after a blank line under "mmsim:".
 * docs/views.md says field by field what matches WinDbg and what the model
 * cannot show. Also !history, !lockedpages and a command's changes. */
#include "views.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* A line without the spaces a fixed-width last column leaves at its end. */
static void put_trimmed(FILE *out, char *line)
{
    size_t n = strlen(line);
    while (n && line[n - 1] == ' ')
        line[--n] = 0;
    fprintf(out, "%s\n", line);
}

/* Where mmsim's own additions begin: a blank line and this heading. */
static void mmsim_heading(FILE *out) { fputs("\nmmsim:\n", out); }

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

/* Every event the trace ring still holds, oldest first; *complete says
 * whether that is every event since the machine was made. */
static struct mm_trace_event *trace_all(mm_machine *m, size_t *n, bool *complete)
{
    size_t cap = 1u << 16;
    struct mm_trace_event *ev = malloc(cap * sizeof *ev);
    *n = ev ? mm_trace_read(m, ev, cap) : 0;
    if (complete)
        *complete = ev && *n == mm_trace_count(m);
    return ev;
}

/* ---- !pfn ---- */

static bool on_a_list(unsigned location)
{
    return location != MM_ACTIVE_AND_VALID && location != MM_TRANSITION_PAGE;
}

/* WinDbg's one-letter flags after the location, and the words under them.
 * Of WinDbg's letters the model keeps only Modified (M); the others it has
 * no state for (P shared, R/W read or write in progress, E in-page error). */
static void pfn_letters(const struct mm_pfn_info *i, const char **letters, const char **words)
{
    *letters = i->modified ? "M" : "";
    *words = i->modified ? "Modified" : "";
}

void view_pfn(FILE *out, mm_machine *m, mm_pfn pfn)
{
    struct mm_pfn_info i;
    if (mm_pfn_query(m, pfn, &i) != MM_STATUS_SUCCESS) {
        fprintf(out, "0x%" PRIx64 " is not a valid page frame number\n", pfn);
        return;
    }
    static const char *const cache[] = {"NonCached", "Cached", "WriteComb", "NotMapped"};
    char share[24] = "--------";
    if (!on_a_list(i.location))
        snprintf(share, sizeof share, "%08X", i.share_count);
    const char *letters, *words;
    pfn_letters(&i, &letters, &words);
    fprintf(out, "    PFN %08" PRIX64 " at address %016" PRIX64 "\n", pfn, i.entry_address);
    char flink[24] = "--------";
    if (i.flink != MM_PFN_NONE)
        snprintf(flink, sizeof flink, "%08" PRIX64, i.flink);
    if (on_a_list(i.location) && i.blink != MM_PFN_NONE)
        snprintf(share, sizeof share, "%08" PRIX64, i.blink);
    fprintf(out, "    flink       %s  blink / share count %s  pteaddress %016" PRIX64 "\n", flink, share,
            i.pte_address);
    fprintf(out, "    reference count %04X    used entry count  ----      %-9s color -   Priority -\n",
            i.reference_count, cache[i.cache_attribute & 3]);
    char line[128];
    snprintf(line, sizeof line, "    restore pte %08" PRIX64 "  containing page %06" PRIX64 "  %-10s %s", i.original_pte,
             i.pte_frame, mm_page_location_name(i.location), letters);
    put_trimmed(out, line);
    if (words[0])
        fprintf(out, "    %s\n", words);
    mmsim_heading(out);
    if (i.pte_address)
        fprintf(out, "  maps %016" PRIX64 " in process %u (%s page)\n", i.mapped_va, i.owner_process_id,
                use_name(i.use));
    else if (i.use)
        fprintf(out, "  %s page, mapped by no PTE\n", use_name(i.use));
    else
        fprintf(out, "  not in use\n");
    if (i.lock_charged)
        fprintf(out, "  locked: counted in MmSystemLockPagesCount\n");
    if (i.deleted)
        fprintf(out, "  deleted: goes to the free list on its last reference\n");
}

/* ---- !pte ---- */

static void pte_flags(uint64_t e, char out[12])
{
    snprintf(out, 12, "%c%c%c%c%c%c%c%c%c%c%c", e & 0x80 ? 'L' : '-', e & 0x100 ? 'G' : '-',
             e & 0x200 ? 'C' : '-', e & 0x40 ? 'D' : '-', e & 0x20 ? 'A' : '-', e & 0x8 ? 'T' : '-',
             e & 0x10 ? 'N' : '-', e & 0x4 ? 'U' : 'K', e & 0x802 ? 'W' : 'R',
             e & (UINT64_C(1) << 63) ? '-' : 'E', 'V');
}

/* The third row's cell for one level: "pfn 13        ---DA--UW-V",
 * "not valid", or blank where the walk did not reach the level. */
static void describe_entry(char *buf, size_t size, const struct mm_pte_level *l)
{
    if (!l->present) {
        buf[0] = 0;
    } else if (l->value & 1) {
        char f[12];
        pte_flags(l->value, f);
        snprintf(buf, size, "pfn %-9" PRIx64 " %s", (l->value >> 12) & 0xFFFFFFFFF, f);
    } else {
        snprintf(buf, size, "not valid");
    }
}

/* The lines WinDbg prints under an invalid entry, indented to its column. */
static void describe_invalid(FILE *out, int column, uint64_t e)
{
    struct mm_pte_info d;
    mm_pte_decode(e, &d);
    if (d.kind == MM_PTE_ZERO)
        return;
    int pad = column * 27 + 1;
    switch (d.kind) {
    case MM_PTE_TRANSITION:
        fprintf(out, "%*sTransition: %" PRIx64 "\n", pad, "", d.pfn);
        break;
    case MM_PTE_PAGEFILE:
        fprintf(out, "%*sPageFile: %2u\n%*sOffset: %" PRIx64 "\n", pad, "", (unsigned)(e >> 1) & 0xF, pad, "",
                d.pagefile_slot);
        break;
    case MM_PTE_PROTOTYPE:
        fprintf(out, "%*sProto: %" PRIX64 "\n", pad, "", e >> 16);
        break;
    case MM_PTE_DEMAND_ZERO:
        fprintf(out, "%*sDemandZero\n", pad, "");
        break;
    default:
        break;
    }
    fprintf(out, "%*sProtect: %x - %s\n", pad, "", d.protection, view_protection_name(d.protection));
}

void view_pte(FILE *out, mm_machine *m, mm_process *p, mm_va va)
{
    struct mm_pte_walk w;
    if (mm_pte_walk(m, p, va, &w) != MM_STATUS_SUCCESS) {
        fprintf(out, "%016" PRIX64 " is not an address the machine can walk\n", va);
        return;
    }
    static const char *const names[4] = {"PXE", "PPE", "PDE", "PTE"};
    char row[4][3][64];
    int last = 0; /* the deepest level the walk reached */
    for (int l = 0; l < 4; l++) {
        snprintf(row[l][0], sizeof row[l][0], "%s at %016" PRIX64, names[l], w.level[l].entry_address);
        row[l][1][0] = 0;
        if (w.level[l].present) {
            snprintf(row[l][1], sizeof row[l][1], "contains %016" PRIX64, w.level[l].value);
            last = l;
        }
        describe_entry(row[l][2], sizeof row[l][2], &w.level[l]);
    }
    fprintf(out, "%*sVA %016" PRIx64 "\n", 43, "", va);
    for (int r = 0; r < 3; r++) {
        char line[160];
        size_t used = 0;
        for (int l = 0; l < 4; l++)
            used += (size_t)snprintf(line + used, sizeof line - used, l < 3 ? "%-27s" : "%s", row[l][r]);
        put_trimmed(out, line);
    }
    const struct mm_pte_level *l = &w.level[last];
    if (!(l->value & 1))
        describe_invalid(out, last, l->value);
}

/* ---- !memusage ---- */

/* One row of the usage table: pages by state, in the columns WinDbg uses. */
struct usage_row {
    char name[48];
    uint64_t valid, standby, dirty, locked, page_tables;
};

/* The row a frame counts in: its process for private pages and page
 * tables, else what it is used for. Sections, pools and images are one row
 * each: the model keeps no control area or image per frame. */
static void usage_row_name(mm_machine *m, const struct mm_pfn_info *i, char *name, size_t size)
{
    if ((i->use == MM_USE_PRIVATE || i->use == MM_USE_PAGE_TABLE) && i->owner_process_id) {
        struct mm_process_info pi;
        mm_process *p = mm_process_by_id(m, i->owner_process_id);
        if (p && mm_process_query(m, p, &pi) == MM_STATUS_SUCCESS)
            snprintf(name, size, "process ( %s )", pi.name);
        else
            snprintf(name, size, "process ( Cid %04x )", i->owner_process_id);
        return;
    }
    switch (i->use) {
    case MM_USE_SECTION: snprintf(name, size, "pagefile section"); break;
    case MM_USE_NONPAGED_POOL: snprintf(name, size, "NonPagedPool"); break;
    case MM_USE_PAGED_POOL: snprintf(name, size, "PagedPool"); break;
    case MM_USE_IMAGE: snprintf(name, size, "driver images"); break;
    case MM_USE_KERNEL_STACK: snprintf(name, size, "Kernel Stacks"); break;
    case MM_USE_MDL_PAGES: snprintf(name, size, "MDL pages ( MmAllocatePagesForMdl )"); break;
    case MM_USE_CONTIGUOUS: snprintf(name, size, "Contiguous"); break;
    default: snprintf(name, size, "System"); break;
    }
}

static struct usage_row *usage_row_of(struct usage_row *rows, size_t *n, size_t max, const char *name)
{
    for (size_t r = 0; r < *n; r++)
        if (strcmp(rows[r].name, name) == 0)
            return &rows[r];
    if (*n == max)
        return NULL;
    rows[*n] = (struct usage_row){0};
    snprintf(rows[*n].name, sizeof rows[*n].name, "%s", name);
    return &rows[(*n)++];
}

static void usage_count(struct usage_row *r, const struct mm_pfn_info *i)
{
    if (i->use == MM_USE_PAGE_TABLE)
        r->page_tables++;
    else if (i->location == MM_ACTIVE_AND_VALID || i->location == MM_TRANSITION_PAGE)
        r->valid++;
    else if (i->location == MM_STANDBY_PAGE_LIST)
        r->standby++;
    else if (i->location == MM_MODIFIED_PAGE_LIST || i->location == MM_MODIFIED_NO_WRITE_PAGE_LIST)
        r->dirty++;
    if (i->lock_charged)
        r->locked++;
}

static void usage_summary(FILE *out, mm_machine *m, uint64_t pages)
{
    struct usage_row rows[64];
    size_t n = 0;
    for (mm_pfn pfn = 0; pfn < pages; pfn++) {
        struct mm_pfn_info i;
        if (mm_pfn_query(m, pfn, &i) != MM_STATUS_SUCCESS || !i.use)
            continue;
        char name[48];
        usage_row_name(m, &i, name, sizeof name);
        struct usage_row *r = usage_row_of(rows, &n, 64, name);
        if (r)
            usage_count(r, &i);
    }
    fprintf(out, "  Usage Summary (in Kb):\n");
    fprintf(out, "Control Valid Standby Dirty Shared Locked PageTables  name\n");
    for (size_t r = 0; r < n; r++)
        fprintf(out, "--------  %4" PRIu64 " %6" PRIu64 " %5" PRIu64 " ----- %6" PRIu64 " %6" PRIu64 "  %s\n",
                rows[r].valid * 4, rows[r].standby * 4, rows[r].dirty * 4, rows[r].locked * 4,
                rows[r].page_tables * 4, rows[r].name);
}

void view_memusage(FILE *out, mm_machine *m)
{
    struct mm_memory_counts c;
    if (mm_memory_query(m, &c) != MM_STATUS_SUCCESS)
        return;
    static const struct {
        const char *label;
        unsigned list;
    } lists[] = {{"Zeroed", MM_ZEROED_PAGE_LIST},       {"Free", MM_FREE_PAGE_LIST},
                 {"Standby", MM_STANDBY_PAGE_LIST},     {"Modified", MM_MODIFIED_PAGE_LIST},
                 {"ModifiedNoWrite", MM_MODIFIED_NO_WRITE_PAGE_LIST},
                 {"Active/Valid", MM_ACTIVE_AND_VALID}, {"Transition", MM_TRANSITION_PAGE},
                 {"Bad", MM_BAD_PAGE_LIST}};
    uint64_t counted = 0;
    for (size_t l = 0; l < sizeof lists / sizeof lists[0]; l++) {
        uint64_t n = c.list_pages[lists[l].list];
        counted += n;
        fprintf(out, "%19s: %8" PRIu64 " (%10" PRIu64 " kb)\n", lists[l].label, n, n * 4);
    }
    uint64_t unknown = c.physical_pages > counted ? c.physical_pages - counted : 0;
    fprintf(out, "%19s: %8" PRIu64 " (%10" PRIu64 " kb)\n", "Unknown", unknown, unknown * 4);
    fprintf(out, "%19s: %8" PRIu64 " (%10" PRIu64 " kb)\n\n", "TOTAL", c.physical_pages, c.physical_pages * 4);
    usage_summary(out, m, c.physical_pages);
    mmsim_heading(out);
    fprintf(out, "  %-12s %8" PRIu64 " of %" PRIu64 " pages\n", "Commit", c.commit_charge, c.commit_limit);
    fprintf(out, "  %-12s %8" PRIu64 " of %" PRIu64 " pages\n", "Page file", c.pagefile_used, c.pagefile_total);
    fprintf(out, "  %-12s %8" PRIu64 " nonpaged, %" PRIu64 " paged pages\n", "Pool", c.nonpaged_pool_pages,
            c.paged_pool_pages);
    fprintf(out, "  %-12s %8" PRIu64 " of %" PRIu64 " in use\n", "System PTEs", c.system_ptes_used,
            c.system_ptes_total);
    fprintf(out, "  %-12s %8" PRIu64 " pages (MmSystemLockPagesCount)\n", "Locked", c.system_locked_pages);
}

/* ---- !process ---- */

/* Bytes the process's VADs reserve: EPROCESS.VirtualSize. */
static uint64_t virtual_size(mm_machine *m, mm_process *p)
{
    size_t n = mm_process_vads(m, p, NULL, 0);
    struct mm_vad_info *v = n ? malloc(n * sizeof *v) : NULL;
    uint64_t bytes = 0;
    if (v) {
        n = mm_process_vads(m, p, v, n);
        for (size_t i = 0; i < n; i++)
            bytes += v[i].end - v[i].start;
    }
    free(v);
    return bytes;
}

void view_process(FILE *out, mm_machine *m, mm_process *p)
{
    struct mm_process_info i;
    if (mm_process_query(m, p, &i) != MM_STATUS_SUCCESS)
        return;
    /* WinDbg's fields in its order; the ones the model has no value for
     * (SessionId, Peb, ParentCid, ObjectTable, HandleCount, VadRoot, Clone,
     * Private, Modified, the minimum and maximum working set) are left out. */
    fprintf(out, "PROCESS %016" PRIx64 "\n", i.eprocess);
    fprintf(out, "    Cid: %04x\n", i.id);
    fprintf(out, "    DirBase: %08" PRIx64 "\n", i.directory_table_base << 12);
    fprintf(out, "    Image: %s\n", i.name);
    fprintf(out, "    Vads %" PRIu64 " Locked %" PRId64 ".\n", i.vad_count, i.locked_pages);
    fprintf(out, "    Working Set Sizes (now)           (%" PRIu64 ") (%" PRIu64 "KB)\n", i.working_set_pages,
            i.working_set_pages * 4);
    fprintf(out, "    VirtualSize                       %" PRIu64 " Mb\n", virtual_size(m, p) >> 20);
    fprintf(out, "    CommitCharge                      %" PRIu64 "\n", i.commit_charge);
    if (!i.terminated && !i.attach_count)
        return;
    mmsim_heading(out);
    if (i.terminated)
        fprintf(out, "  the process has exited\n");
    if (i.attach_count)
        fprintf(out, "  %u CPU%s in its context\n", i.attach_count, i.attach_count == 1 ? "" : "s");
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

static uint64_t vad_commit(const struct mm_vad_info *v)
{
    return v->committed_all ? (v->end - v->start) / MM_PAGE_SIZE : v->commit_charge;
}

static const char *vad_kind(const struct mm_vad_info *v)
{
    return v->physical                  ? "an MDL's user mapping (MmMapLockedPages UserMode)"
           : v->type == MM_MEM_MAPPED   ? "a view of a section"
           : v->committed_all           ? "committed when reserved"
                                        : "reserved; committed range by range";
}

void view_vad(FILE *out, mm_machine *m, mm_process *p)
{
    size_t n = mm_process_vads(m, p, NULL, 0);
    struct mm_vad_info *v = n ? malloc(n * sizeof *v) : NULL;
    if (n && !v)
        return;
    n = n ? mm_process_vads(m, p, v, n) : 0;
    uint64_t private_commit = 0;
    /* VADs live in host memory, not in simulated pool: no VAD address to show ("-"). */
    fprintf(out, "VAD             Level     Start       End Commit\n");
    for (size_t i = 0; i < n; i++) {
        uint64_t commit = vad_commit(&v[i]);
        if (v[i].type != MM_MEM_MAPPED)
            private_commit += commit;
        fprintf(out, "%-16s %5u %9" PRIx64 " %9" PRIx64 " %6" PRIu64 " %-7s      %s\n", "-", v[i].level, v[i].start >> 12,
                (v[i].end >> 12) - 1, commit, v[i].type == MM_MEM_MAPPED ? "Mapped" : "Private",
                protect_name(v[i].protect));
    }
    fprintf(out, "\nTotal VADs: %zu\n", n);
    fprintf(out, "Total private commit: 0x%" PRIx64 " pages (%" PRIu64 " KB)\n", private_commit, private_commit * 4);
    mmsim_heading(out);
    for (size_t i = 0; i < n; i++)
        fprintf(out, "  %9" PRIx64 "-%" PRIx64 " %s\n", v[i].start >> 12, (v[i].end >> 12) - 1, vad_kind(&v[i]));
    free(v);
}

/* ---- dt _MDL ---- */

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

/* One field as `dt` prints it: offset, name padded to 16, " : ", value. */
static void dt_field(FILE *out, unsigned offset, const char *field, const char *value)
{
    fprintf(out, "   +0x%03x %-16s : %s\n", offset, field, value);
}

/* A pointer as `dt` shows it with an address: "(null)", or the value with a
 * backtick between its halves and the type it points to. */
static void dt_pointer(FILE *out, unsigned offset, const char *field, uint64_t v, const char *type)
{
    char value[64] = "(null)";
    if (v)
        snprintf(value, sizeof value, "0x%08" PRIx64 "`%08" PRIx64 " %s", v >> 32, v & 0xFFFFFFFF, type);
    dt_field(out, offset, field, value);
}

/* dt _MDL with no address: the type itself. */
void view_mdl_type(FILE *out)
{
    static const struct {
        unsigned offset;
        const char *field, *type;
    } f[] = {{0x00, "Next", "Ptr64 _MDL"},       {0x08, "Size", "Int2B"},
             {0x0a, "MdlFlags", "Int2B"},        {0x0c, "AllocationProcessorNumber", "Uint2B"},
             {0x0e, "Reserved", "Uint2B"},       {0x10, "Process", "Ptr64 _EPROCESS"},
             {0x18, "MappedSystemVa", "Ptr64 Void"}, {0x20, "StartVa", "Ptr64 Void"},
             {0x28, "ByteCount", "Uint4B"},      {0x2c, "ByteOffset", "Uint4B"}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        dt_field(out, f[i].offset, f[i].field, f[i].type);
}

static void mdl_pfn_array(FILE *out, const struct mm_mdl *h, const mm_pfn *pfns)
{
    uint64_t pages = MM_MDL_PAGES(h);
    fprintf(out, "  PFN array:");
    for (uint64_t i = 0; i < pages && i < 16; i++) {
        if (pfns[i] == MM_PFN_NONE) {
            fprintf(out, " LIST_HEAD");
            break;
        }
        fprintf(out, " %" PRIx64, pfns[i]);
    }
    fprintf(out, "%s\n", pages > 16 ? " ..." : "");
}

void view_mdl(FILE *out, mm_machine *m, mm_va mdl)
{
    struct mm_mdl h;
    mm_pfn pfns[16];
    if (mm_mdl_read(m, mdl, &h, pfns, 16) != MM_STATUS_SUCCESS) {
        fprintf(out, "cannot read an MDL at %016" PRIx64 "\n", mdl);
        return;
    }
    char v[64];
    dt_pointer(out, 0x00, "Next", h.Next, "_MDL");
    snprintf(v, sizeof v, "0n%d", h.Size);
    dt_field(out, 0x08, "Size", v);
    snprintf(v, sizeof v, "0n%d", h.MdlFlags);
    dt_field(out, 0x0a, "MdlFlags", v);
    snprintf(v, sizeof v, h.AllocationProcessorNumber ? "0x%x" : "%x", h.AllocationProcessorNumber);
    dt_field(out, 0x0c, "AllocationProcessorNumber", v);
    snprintf(v, sizeof v, h.Reserved ? "0x%x" : "%x", h.Reserved);
    dt_field(out, 0x0e, "Reserved", v);
    dt_pointer(out, 0x10, "Process", h.Process, "_EPROCESS");
    dt_pointer(out, 0x18, "MappedSystemVa", h.MappedSystemVa, "Void");
    dt_pointer(out, 0x20, "StartVa", h.StartVa, "Void");
    snprintf(v, sizeof v, "0x%x", h.ByteCount);
    dt_field(out, 0x28, "ByteCount", v);
    snprintf(v, sizeof v, "0x%x", h.ByteOffset);
    dt_field(out, 0x2c, "ByteOffset", v);
    char flags[256];
    view_mdl_flags(flags, sizeof flags, (uint16_t)h.MdlFlags);
    mmsim_heading(out);
    fprintf(out, "  MdlFlags 0x%04x: %s\n", (uint16_t)h.MdlFlags, flags[0] ? flags : "none");
    mdl_pfn_array(out, &h, pfns);
}

/* ---- !verifier ---- */

/* What the trace shows Verifier did, counted the way the debugger's
 * statistics count it; valid only when the ring holds every event. */
struct verifier_counts {
    uint64_t raise_irqls, trims, pool_allocations, no_tag;
};

static struct verifier_counts count_verifier_events(const struct mm_trace_event *ev, size_t n)
{
    struct verifier_counts c = {0};
    uint64_t trim_step = 0;
    for (size_t i = 0; i < n; i++) {
        const struct mm_trace_event *e = &ev[i];
        if (e->type == MM_EV_IRQL && e->b > e->a)
            c.raise_irqls++;
        /* A trim inside an IRQL raise is Force IRQL Checking's: one per raise. */
        if (e->type == MM_EV_TRIM && e->operation && strcmp(e->operation, "KeRaiseIrql") == 0 && e->step != trim_step) {
            c.trims++;
            trim_step = e->step;
        }
        if (e->type == MM_EV_POOL_ALLOC && e->operation && strcmp(e->operation, "ExAllocatePoolWithTag") == 0) {
            c.pool_allocations++;
            c.no_tag += e->b == 0;
        }
    }
    return c;
}

static void verifier_flag_list(FILE *out, uint32_t v, bool standard)
{
    static const struct {
        uint32_t flag;
        bool standard;
        const char *name;
    } flags[] = {{MM_VERIFIER_SPECIAL_POOL, true, "Special pool"},
                 {MM_VERIFIER_FORCE_IRQL_CHECKING, true, "Force IRQL checking"},
                 {MM_VERIFIER_POOL_TRACKING, true, "Pool tracking"},
                 {MM_VERIFIER_IO_VERIFICATION, true, "I/O verification"},
                 {MM_VERIFIER_DEADLOCK_DETECTION, true, "Deadlock detection"},
                 {MM_VERIFIER_DMA, true, "DMA checking"},
                 {MM_VERIFIER_SECURITY, true, "Security checks"},
                 {MM_VERIFIER_MISCELLANEOUS, true, "Miscellaneous checks"},
                 {MM_VERIFIER_DDI_COMPLIANCE, true, "DDI compliance checking"},
                 {MM_VERIFIER_LOW_RESOURCES, false, "Randomized low resources simulation"}};
    fprintf(out, "  %s FLAGS:\n", standard ? "STANDARD" : "ADDITIONAL");
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        if (flags[i].standard == standard)
            fprintf(out, "    [%c] (0x%08X) %s\n", (v & flags[i].flag) ? 'X' : ' ', flags[i].flag, flags[i].name);
    fputc('\n', out);
}

static void verifier_statistics(FILE *out, mm_machine *m)
{
    size_t n;
    bool complete;
    struct mm_trace_event *ev = trace_all(m, &n, &complete);
    fprintf(out, "Summary of All Verifier Statistics\n\n");
    if (ev && complete) {
        struct verifier_counts c = count_verifier_events(ev, n);
        fprintf(out, "  RaiseIrqls           0x%" PRIx64 "\n", c.raise_irqls);
        fprintf(out, "  Trims                0x%" PRIx64 "\n\n", c.trims);
        fprintf(out, "  Pool Allocations Succeeded             0x%" PRIx64 "\n", c.pool_allocations);
        fprintf(out, "  Pool Allocations With NO TAG           0x%" PRIx64 "\n", c.no_tag);
    }
    free(ev);
    if (!complete)
        fprintf(out, "  (the trace ring no longer holds every event: the statistics are left out)\n");
}

/* Pool outstanding now, every caller's: the model's own EPROCESS and MDL
 * blocks too, so not the debugger's per-verified-driver counters. */
static void pool_outstanding(FILE *out, mm_machine *m)
{
    struct mm_pool_usage u[2];
    for (int t = 0; t < 2; t++)
        if (mm_pool_usage(m, t == 0 ? MM_NONPAGED_POOL : MM_PAGED_POOL, &u[t]) != MM_STATUS_SUCCESS)
            return;
    fprintf(out, "  Pool outstanding (every caller): %" PRIu64 " nonpaged allocations (%" PRIu64 " bytes), %" PRIu64
            " paged (%" PRIu64 " bytes)\n", u[0].allocations, u[0].bytes, u[1].allocations, u[1].bytes);
}

void view_verifier(FILE *out, mm_machine *m, bool track_locked_pages, bool track_ptes)
{
    uint32_t v = mm_machine_verifier(m);
    fprintf(out, "Verify Flags Level 0x%08x\n\n", v);
    verifier_flag_list(out, v, true);
    verifier_flag_list(out, v, false);
    fprintf(out, "    [X] Indicates flag is enabled\n\n");
    verifier_statistics(out, m);
    mmsim_heading(out);
    fprintf(out, "  Registry: TrackLockedPages = %d, TrackPtes = %d\n", track_locked_pages, track_ptes);
    pool_outstanding(out, m);
    fprintf(out, "  %s\n", v ? "MDL, locking and mapping misuse stops at the call with 0xC4 (see !analyze -v)."
                             : "Verifier is off: misuse is caught only when the damage shows (0x4E, 0x76, 0x1A, 0x50 …)"
                               " or reported as a finding (!findings).");
    fprintf(out, "  RaiseIrqls counts every KeRaiseIrql of the run, before Verifier was turned on too;\n"
                 "  Trims counts the raises at which Force IRQL Checking trimmed; pool allocations are ExAllocatePool*'s.\n");
}

/* ---- !trace and !history ---- */

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

static const char *irql_name(uint64_t irql)
{
    static const char *const names[] = {"PASSIVE_LEVEL", "APC_LEVEL", "DISPATCH_LEVEL"};
    return irql < 3 ? names[irql] : "a device IRQL";
}

/* A PTE value in a few words: "valid, PFN 0x13", "transition, PFN 0x13". */
static void pte_words(uint64_t pte, char *buf, size_t size)
{
    struct mm_pte_info d;
    mm_pte_decode(pte, &d);
    switch (d.kind) {
    case MM_PTE_ZERO: snprintf(buf, size, "zero"); break;
    case MM_PTE_VALID: snprintf(buf, size, "valid, PFN 0x%" PRIx64 "%s", d.pfn, d.dirty ? ", dirty" : ""); break;
    case MM_PTE_TRANSITION: snprintf(buf, size, "transition, PFN 0x%" PRIx64, d.pfn); break;
    case MM_PTE_PAGEFILE: snprintf(buf, size, "page file, slot 0x%" PRIx64, d.pagefile_slot); break;
    case MM_PTE_DEMAND_ZERO: snprintf(buf, size, "demand zero"); break;
    default: snprintf(buf, size, "%s", mm_pte_format_name(pte)); break;
    }
}

/* The part of mm_trace_format's line after "TYPE ": its words already read well. */
static const char *trace_body(const struct mm_trace_event *e, char *line, size_t size)
{
    mm_trace_format(e, line, size);
    const char *type = strstr(line, mm_event_name(e->type));
    return type ? type + strlen(mm_event_name(e->type)) + 1 : line;
}

/* One event in words, without the raw fields. */
static void event_words(const struct mm_trace_event *e, char *buf, size_t size)
{
    static const char *const process_ops[] = {"created", "exited", "closed"};
    static const char *const image_ops[] = {"loaded", "INIT discarded", "unloaded"};
    char a[48], b[48], line[200];
    switch ((mm_event_type)e->type) {
    case MM_EV_PFN_LIST:
        snprintf(buf, size, "PFN 0x%" PRIx64 " %s -> %s", e->pfn, mm_page_location_name((unsigned)e->a),
                 mm_page_location_name((unsigned)e->b));
        break;
    case MM_EV_PFN_SHARE:
    case MM_EV_PFN_REF:
        snprintf(buf, size, "PFN 0x%" PRIx64 " %s count %" PRIu64 " -> %" PRIu64, e->pfn,
                 e->type == MM_EV_PFN_SHARE ? "share" : "reference", e->a, e->b);
        break;
    case MM_EV_PTE_WRITE:
        pte_words(e->a, a, sizeof a);
        pte_words(e->b, b, sizeof b);
        snprintf(buf, size, "PTE of %016" PRIx64 ": %s -> %s", e->va, a, b);
        break;
    case MM_EV_IRQL:
        snprintf(buf, size, "IRQL %s -> %s", irql_name(e->a), irql_name(e->b));
        break;
    case MM_EV_PROCESS:
        snprintf(buf, size, "process %" PRIu64 " %s (EPROCESS %016" PRIx64 ")", e->b,
                 e->a < 3 ? process_ops[e->a] : "?", e->va);
        break;
    case MM_EV_ATTACH:
        snprintf(buf, size, "%s process %" PRIu64, e->a ? "detach, back from" : "attach to", e->b);
        break;
    case MM_EV_IMAGE:
        snprintf(buf, size, "image at %016" PRIx64 " %s", e->va, e->a < 3 ? image_ops[e->a] : "?");
        break;
    case MM_EV_BUGCHECK:
        snprintf(buf, size, "bug check 0x%" PRIX64 " (P1 0x%" PRIx64 ")", e->a, e->b);
        break;
    default:
        snprintf(buf, size, "%s", trace_body(e, line, sizeof line));
        break;
    }
}

/* "  step 18  MmProbeAndLockPages  PFN 0x13 reference count 1 -> 2";
 * the caller's capture turns "step N" into the script line. */
static void history_line(FILE *out, const struct mm_trace_event *e, bool verbose, const char *indent)
{
    char line[240];
    if (verbose) {
        mm_trace_format(e, line, sizeof line);
    } else {
        char words[200];
        event_words(e, words, sizeof words);
        snprintf(line, sizeof line, "step %" PRIu64 "  %s: %s", e->step, e->operation ? e->operation : "-", words);
    }
    fprintf(out, "%s%s\n", indent, line);
}

static bool pte_maps(uint64_t pte, mm_pfn pfn) { return (pte & 1) && ((pte >> 12) & 0xFFFFFFFFFull) == pfn; }

/* An MDL's history is every event of every call that named it. */
static bool mdl_step(const struct mm_trace_event *ev, size_t n, size_t from, mm_va mdl, uint64_t step)
{
    for (size_t i = from; i < n && ev[i].step == step; i++)
        if (ev[i].va == mdl || (ev[i].type == MM_EV_NOTE && ev[i].a <= 0xFF && ev[i].b == mdl))
            return true;
    return false;
}

static size_t history_of(FILE *out, const struct mm_trace_event *ev, size_t n, enum history_of kind, uint64_t what,
                         bool verbose, const char *indent)
{
    size_t shown = 0;
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
        /* mmsim's own notes (internal bookkeeping) only when asked. */
        if (!hit || (e->type == MM_EV_NOTE && !verbose))
            continue;
        history_line(out, e, verbose, indent);
        shown++;
    }
    return shown;
}

size_t view_history(FILE *out, mm_machine *m, enum history_of kind, uint64_t what, bool verbose)
{
    size_t n;
    struct mm_trace_event *ev = trace_all(m, &n, NULL);
    if (!ev)
        return 0;
    size_t shown = history_of(out, ev, n, kind, what, verbose, "  ");
    if (!shown)
        fprintf(out, "  nothing in the last %zu events\n", n);
    free(ev);
    return shown;
}

/* ---- the STOP line and !analyze -v ---- */

/* The classic blue screen's line: code and parameters, then the name. */
void view_stop(FILE *out, const struct mm_bugcheck *bc, const char *indent)
{
    const char *name = mm_bugcheck_name(bc->code);
    fprintf(out, "%s*** STOP: 0x%08X (0x%016" PRIX64 ",0x%016" PRIX64 ",0x%016" PRIX64 ",0x%016" PRIX64 ")\n", indent,
            bc->code, bc->p[0], bc->p[1], bc->p[2], bc->p[3]);
    fprintf(out, "%s%s\n", indent, name ? name : "UNKNOWN_BUGCHECK");
}

/* What each stop means, in mmsim's words, for the paragraph under the
 * name (WinDbg prints the bug-check reference's own text there). */
static const char *bugcheck_description(uint32_t code)
{
    static const struct {
        uint32_t code;
        const char *text;
    } d[] = {
        {0x05, "A thread tried to attach to a process while already attached to another one."},
        {0x06, "A thread detached from a process it was not attached to, or with APCs still queued."},
        {0x09, "A call was made at an IRQL lower than the one the routine requires."},
        {0x0A, "Kernel-mode code touched a pageable or invalid address at an IRQL too high\n"
               "for a page fault to be served (DISPATCH_LEVEL or above)."},
        {0x19, "A pool header or the pool's free list is corrupt."},
        {0x1A, "The memory manager found its own state inconsistent; the first argument\n"
               "says which check failed."},
        {0x1E, "Kernel-mode code raised an exception no handler took: here, an access\n"
               "violation on a user address touched outside __try (probe user buffers and\n"
               "touch them inside __try/__except)."},
        {0x3F, "No system PTEs were left to satisfy a request."},
        {0x41, "A must-succeed pool request could not be satisfied."},
        {0x35, "A driver passed an IRP down to a driver below it when the IRP had no stack\n"
               "location left for it (IoCallDriver with CurrentLocation at 1)."},
        {0x44, "A driver completed an IRP that was already completed."},
        {0x4E, "The PFN database is corrupt: a page list, or a page's share or reference\n"
               "count, disagrees with what the page is used for. Usually a driver unlocked\n"
               "or freed pages it did not own."},
        {0x50, "An address in the kernel's range that maps nothing was referenced: freed\n"
               "memory, a discarded section, or a stale pointer."},
        {0x76, "A process ended while a driver still had pages of it locked: a driver\n"
               "called MmProbeAndLockPages and never MmUnlockPages."},
        {0x7F, "The processor took a trap the kernel cannot handle (8: a double fault,\n"
               "often a kernel stack overflow)."},
        {0xBE, "A driver wrote to read-only memory."},
        {0xC1, "Special pool found, when a block was freed, that bytes of its page outside\n"
               "the block had changed: a driver wrote in front of its allocation or past its\n"
               "end, into the slack before the page's end."},
        {0xC2, "A driver made a bad pool request: a wrong IRQL, a bad size, or a free of\n"
               "memory that is not an allocated pool block."},
        {0xC4, "Driver Verifier caught a driver breaking a rule at the call that broke it;\n"
               "the first argument says which rule."},
        {0xC9, "The I/O Verifier caught a driver misusing an IRP."},
        {0xCB, "A driver left pages locked in a process that has ended (found through\n"
               "lock tracking, which names the MDL)."},
        {0xCC, "A driver touched special pool that was already freed."},
        {0xCD, "A driver touched memory past the end of its special-pool allocation."},
        {0xCE, "A driver unloaded without cancelling its pending operations."},
        {0xD1, "A driver touched a pageable or invalid address at an IRQL too high for a\n"
               "page fault to be served (DISPATCH_LEVEL or above)."},
        {0xD5, "A driver touched special pool that it had already freed."},
        {0xD6, "A driver touched memory past the end of its pool allocation."},
        {0xD8, "A driver used too many system PTEs."},
        {0xD9, "The locked-pages tracker found an MDL recorded twice or not at all."},
        {0xDA, "A driver misused system PTEs: freed, unmapped or reused a mapping that was\n"
               "not its own, or not in the state it claimed."},
        {0xE2, "The machine was stopped on purpose (the keyboard crash): mmsim stops a\n"
               "machine this way where Windows would hang, a thread that never returns\n"
               "below DISPATCH_LEVEL."},
        {0xFC, "Code tried to execute from memory marked no-execute."},
        {0x133, "The DPC watchdog found a processor at DISPATCH_LEVEL or above for too long:\n"
                "a DPC or ISR that runs on, or a thread spinning on a spin lock nobody\n"
                "releases (here: one the thread itself holds)."},
    };
    for (size_t i = 0; i < sizeof d / sizeof d[0]; i++)
        if (d[i].code == code)
            return d[i].text;
    return "mmsim has no description of this stop code.";
}

static void analysis_banner(FILE *out)
{
    static const char stars[] = "*******************************************************************************";
    fprintf(out, "%s\n*%77s*\n*%48s%29s*\n*%77s*\n%s\n\n", stars, "", "Bugcheck Analysis", "", "", stars);
}

/* The module a stop is pinned on, as !analyze names it. */
struct culprit {
    char module[32], image[40], symbol[96];
};

/* A driver image holding the instruction address among the parameters;
 * else the NT routine that raised it; else unknown. */
static struct culprit find_culprit(mm_machine *m, const struct mm_bugcheck *bc)
{
    struct culprit c = {"Unknown_Module", "Unknown_Image", "Unknown_Module!Unknown_Function"};
    for (unsigned i = 0; i < 4; i++) {
        const char *meaning = mm_bugcheck_param_meaning(bc->code, bc->p[0], i);
        mm_image *img = meaning && strstr(meaning, "instruction address") ? mm_image_at(m, bc->p[i]) : NULL;
        struct mm_image_info ii;
        if (img && mm_image_query(m, img, &ii) == MM_STATUS_SUCCESS) {
            snprintf(c.image, sizeof c.image, "%s", ii.name);
            snprintf(c.module, sizeof c.module, "%.*s", (int)strcspn(ii.name, "."), ii.name);
            snprintf(c.symbol, sizeof c.symbol, "%s+%" PRIx64, c.module, bc->p[i] - ii.base);
            return c;
        }
    }
    static const char *const nt_prefixes[] = {"Mm", "Mi", "Io", "Ex", "Ke", "Ki", "Ps", "Ob", "Nt", "Vf"};
    for (size_t i = 0; bc->operation && i < sizeof nt_prefixes / sizeof nt_prefixes[0]; i++)
        if (strncmp(bc->operation, nt_prefixes[i], 2) == 0) {
            snprintf(c.module, sizeof c.module, "nt");
            snprintf(c.image, sizeof c.image, "ntkrnlmp.exe");
            snprintf(c.symbol, sizeof c.symbol, "nt!%s", bc->operation);
        }
    return c;
}

static void analysis_arguments(FILE *out, const struct mm_bugcheck *bc)
{
    fprintf(out, "Arguments:\n");
    for (unsigned i = 0; i < 4; i++) {
        const char *meaning = mm_bugcheck_param_meaning(bc->code, bc->p[0], i);
        fprintf(out, "Arg%u: %016" PRIx64 ", %s\n", i + 1, bc->p[i], meaning ? meaning : "");
    }
    fputc('\n', out);
}

static void analysis_details(FILE *out, mm_machine *m, const struct mm_bugcheck *bc)
{
    struct culprit c = find_culprit(m, bc);
    char bucket[160];
    if (mm_bugcheck_subcode_meaning(bc->code, bc->p[0]))
        snprintf(bucket, sizeof bucket, "0x%X_%" PRIX64 "_%s", bc->code, bc->p[0], c.symbol);
    else
        snprintf(bucket, sizeof bucket, "0x%X_%s", bc->code, c.symbol);
    fprintf(out, "Debugging Details:\n------------------\n\n");
    fprintf(out, "BUGCHECK_CODE:  %x\n\n", bc->code);
    for (unsigned i = 0; i < 4; i++)
        fprintf(out, "BUGCHECK_P%u: %" PRIx64 "\n\n", i + 1, bc->p[i]);
    struct mm_process_info pi;
    mm_process *p = mm_process_current(m);
    if (p && mm_process_query(m, p, &pi) == MM_STATUS_SUCCESS)
        fprintf(out, "PROCESS_NAME:  %s\n\n", pi.name);
    fprintf(out, "SYMBOL_NAME:  %s\n\n", c.symbol);
    fprintf(out, "MODULE_NAME: %s\n\n", c.module);
    fprintf(out, "IMAGE_NAME:  %s\n\n", c.image);
    fprintf(out, "FAILURE_BUCKET_ID:  %s\n\n", bucket);
    fprintf(out, "Probably caused by : %s ( %s )\n\n", c.image, c.symbol);
    fprintf(out, "Followup:     MachineOwner\n---------\n");
}

/* A history line of the bug-check record, "#seq step N op: ...", shown as
 * the event in words when the trace ring still holds it. */
static void record_history_line(FILE *out, const struct mm_history_line *h, const struct mm_trace_event *ev, size_t n)
{
    uint64_t seq = h->text[0] == '#' ? strtoull(h->text + 1, NULL, 10) : 0;
    for (size_t i = 0; seq && i < n; i++)
        if (ev[i].seq == seq) {
            if (ev[i].type != MM_EV_NOTE)
                history_line(out, &ev[i], false, "    ");
            return;
        }
    const char *text = seq ? strchr(h->text, ' ') : NULL;
    fprintf(out, "    %s\n", text ? text + 1 : h->text);
}

/* The MDLs still holding locked pages of the process a 0x76 or 0xCB
 * names: their history shows the lock that was never undone. */
static size_t locked_mdl_history(FILE *out, mm_machine *m, const struct mm_bugcheck *bc, const struct mm_trace_event *ev,
                                 size_t n)
{
    mm_va eprocess = bc->code == 0x76 && bc->p[0] == 0 ? bc->p[1] : 0;
    mm_va named = bc->code == 0xCB ? bc->p[2] : bc->code == 0x76 && bc->p[0] == 1 ? bc->p[1] : 0;
    uint32_t pid = 0;
    for (mm_process *p = mm_process_next(m, NULL); p && eprocess; p = mm_process_next(m, p)) {
        struct mm_process_info pi;
        if (mm_process_query(m, p, &pi) == MM_STATUS_SUCCESS && pi.eprocess == eprocess)
            pid = pi.id;
    }
    struct mm_mdl_info d[128];
    size_t k = mm_mdls_read(m, d, 128), shown = 0;
    for (size_t i = 0; i < k && i < 128; i++) {
        bool holds = named ? d[i].mdl == named : pid && d[i].locked && d[i].lock_process == pid;
        if (!holds)
            continue;
        fprintf(out, "    MDL %016" PRIx64 " (locked at step %" PRIu64 ", never unlocked):\n", d[i].mdl, d[i].lock_step);
        shown += history_of(out, ev, n, HISTORY_MDL, d[i].mdl, false, "    ");
    }
    return shown;
}

static void analysis_mmsim(FILE *out, mm_machine *m, const struct mm_bugcheck *bc)
{
    mmsim_heading(out);
    fprintf(out, "  Raised by: %s (step %" PRIu64 ") on CPU %u\n", bc->operation ? bc->operation : "?", bc->step, bc->cpu);
    if (bc->explanation[0])
        fprintf(out, "  Why: %s\n", bc->explanation);
    size_t n;
    struct mm_trace_event *ev = trace_all(m, &n, NULL);
    fprintf(out, "  History:\n");
    bool shown = (bc->code == 0x76 || bc->code == 0xCB) && locked_mdl_history(out, m, bc, ev, n) > 0;
    for (unsigned i = 0; !shown && i < bc->history_count && i < MM_BUGCHECK_HISTORY_MAX; i++)
        record_history_line(out, &bc->history[i], ev, n);
    free(ev);
}

void view_analyze(FILE *out, mm_machine *m, const struct mm_bugcheck *bc)
{
    const char *name = mm_bugcheck_name(bc->code);
    analysis_banner(out);
    fprintf(out, "%s (%x)\n", name ? name : "UNKNOWN_BUGCHECK", bc->code);
    fprintf(out, "%s\n", bugcheck_description(bc->code));
    analysis_arguments(out, bc);
    analysis_details(out, m, bc);
    analysis_mmsim(out, m, bc);
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
