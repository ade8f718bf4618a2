/* sim/demo.c — the default demo lab: a user process faults pages in, a driver
 * loads and drops its INIT section, pages are trimmed to standby and written
 * to the page file and come back, and finally a driver touches paged pool at
 * DISPATCH_LEVEL under Force IRQL Checking: the bug check Windows would
 * raise, with its !analyze-style report. Each step says what to look for. */
#include "demo.h"

#include <inttypes.h>
#include <string.h>

#include "mm/mm.h"
#include "views.h"

static int failures;
static struct mm_bugcheck last_bugcheck;
static bool bugchecked;

static void record_bugcheck(void *ctx, mm_machine *m, const struct mm_bugcheck *bc)
{
    (void)ctx;
    (void)m;
    last_bugcheck = *bc;
    bugchecked = true;
}

static void step(FILE *out, int n, const char *title, const char *look)
{
    fprintf(out, "\n== step %d: %s\n", n, title);
    if (look)
        fprintf(out, "   (%s)\n\n", look);
}

static void check(FILE *out, bool ok, const char *what)
{
    if (!ok) {
        fprintf(out, "!! expected: %s\n", what);
        failures++;
    }
}

static mm_pfn frame_of(mm_machine *m, mm_va va)
{
    struct mm_pte_walk w;
    if (mm_pte_walk(m, NULL, va, &w) != MM_STATUS_SUCCESS || !(w.level[3].value & 1))
        return MM_PFN_NONE;
    return (w.level[3].value >> 12) & 0xFFFFFFFFF;
}

int demo_run(FILE *out)
{
    struct mm_config cfg;
    mm_config_default(&cfg);
    cfg.bugcheck_hook = record_bugcheck;
    mm_machine *m = NULL;
    if (mm_machine_create(&cfg, &m) != MM_STATUS_SUCCESS) {
        fprintf(out, "mmsim: cannot create the demo machine\n");
        return 1;
    }
    fprintf(out, "mmsim demo lab: a 64 MiB machine with %u CPUs and a %" PRIu64 "-page page file\n",
            cfg.cpu_count, cfg.pagefile_pages);

    step(out, 1, "the machine at boot (!memusage)",
         "nearly every page is on the zeroed list; page tables and the System EPROCESS are active");
    view_memusage(out, m);

    step(out, 2, "a process commits 64 KiB and writes to its second page",
         "committing takes no page; the first touch is a demand-zero fault that builds the page tables");
    mm_process *app = NULL;
    struct mm_apc_state as;
    mm_process_create(m, "notepad.exe", &app);
    mm_process_attach(m, app, &as);
    mm_va va = 0;
    uint64_t size = 0x10000;
    mm_virtual_alloc(m, NULL, &va, &size, MM_MEM_RESERVE | MM_MEM_COMMIT, MM_PAGE_READWRITE);
    mm_va page = va + 0x1000;
    fprintf(out, "before the touch:\n");
    view_pte(out, m, NULL, page);
    mm_write(m, page + 0x10, "hello, NT", 10);
    fprintf(out, "after the touch:\n");
    view_pte(out, m, NULL, page);
    mm_pfn pfn = frame_of(m, page);
    check(out, pfn != MM_PFN_NONE, "the page is valid after the write");
    view_pfn(out, m, pfn);
    view_process(out, m, app);

    step(out, 3, "the working set is trimmed",
         "the PTE becomes a transition PTE; the dirty page goes to the modified list, still holding its bytes");
    uint64_t n = 0;
    mm_working_set_trim(m, app, UINT64_MAX, &n);
    view_pte(out, m, NULL, page);
    view_pfn(out, m, pfn);
    struct mm_pfn_info info;
    mm_pfn_query(m, pfn, &info);
    check(out, info.location == MM_MODIFIED_PAGE_LIST, "the trimmed dirty page is on the modified list");

    step(out, 4, "the modified page writer runs",
         "the page is written to the page file and moves to standby; its restore PTE now names the slot");
    mm_modified_page_writer(m, &n);
    view_pfn(out, m, pfn);

    step(out, 5, "the process reads the page again", "a soft fault: the same frame comes back, no I/O");
    char text[10] = {0};
    mm_read(m, page + 0x10, text, sizeof text - 1);
    fprintf(out, "read back \"%s\" from frame 0x%" PRIx64 "\n", text, frame_of(m, page));
    check(out, strcmp(text, "hello, NT") == 0 && frame_of(m, page) == pfn, "the same bytes in the same frame");

    step(out, 6, "a driver does direct I/O on that buffer: IoAllocateMdl, MmProbeAndLockPages, map",
         "flags go 0x0008 -> 0x008A (locked for write) -> 0x008B (mapped); the frame's reference count 1 -> 2; "
         "the process is charged one locked page");
    mm_va mdl = mm_io_allocate_mdl(m, page + 0x10, 10, false, false, 0);
    view_mdl(out, m, mdl);
    mm_probe_and_lock_pages(m, mdl, MM_USER_MODE, MM_IO_WRITE_ACCESS);
    mm_va sys = mm_get_system_address_for_mdl_safe(m, mdl, MM_NORMAL_PAGE_PRIORITY);
    view_mdl(out, m, mdl);
    view_pfn(out, m, pfn);
    view_process(out, m, app);
    char through[10] = {0};
    mm_read(m, sys, through, sizeof through - 1);
    fprintf(out, "the driver reads \"%s\" through its system address %016" PRIx64 "\n", through, sys);
    mm_pfn_query(m, pfn, &info);
    check(out, info.reference_count == 2 && strcmp(through, "hello, NT") == 0,
          "the locked frame has reference count 2 and the mapping shows the user's bytes");

    step(out, 7, "MmUnlockPages (which also unmaps) and IoFreeMdl", "everything is back where it was");
    mm_unlock_pages(m, mdl);
    mm_io_free_mdl(m, mdl);
    view_pfn(out, m, pfn);
    mm_pfn_query(m, pfn, &info);
    check(out, info.reference_count == 1 && !mm_is_address_valid(m, sys), "unlocked and unmapped");
    mm_process_detach(m, &as);

    step(out, 8, "a driver loads, runs DriverEntry, and its INIT section is discarded",
         "INIT's frames go back to the free list and its PTEs are zero: touching it now would be 0x50");
    static const char code[] = "\x48\x83\xec\x28\xc3";
    struct mm_section_desc sections[] = {
        {".text", 0x2000, MM_SECTION_CODE, code, sizeof code - 1},
        {"PAGE", 0x1000, MM_SECTION_CODE, NULL, 0},
        {"INIT", 0x1000, MM_SECTION_CODE, code, sizeof code - 1},
    };
    mm_image *drv = NULL;
    mm_image_load(m, "demo.sys", sections, 3, &drv);
    mm_va init = mm_image_section_address(m, drv, "INIT");
    mm_va text_va = mm_image_section_address(m, drv, ".text");
    mm_image_discard_init(m, drv);
    view_pte(out, m, NULL, init);
    check(out, !mm_is_address_valid(m, init), "MmIsAddressValid(INIT) is FALSE after discard");

    step(out, 9, "the driver allocates paged pool and fills it", NULL);
    mm_va buffer = mm_pool_allocate(m, MM_PAGED_POOL, 0x2000, MM_POOL_TAG('D', 'e', 'm', 'o'));
    mm_write(m, buffer, "paged data", 10);
    fprintf(out, "paged pool block at %016" PRIx64 ", first page resident: %s\n", buffer,
            mm_is_address_valid(m, buffer) ? "yes" : "no");

    step(out, 10, "Driver Verifier's Force IRQL Checking is on; the driver raises to DISPATCH_LEVEL",
         "every raise to DISPATCH trims all pageable system memory, so the latent bug cannot hide");
    mm_machine_set_verifier(m, MM_VERIFIER_FORCE_IRQL_CHECKING);
    mm_irql old;
    mm_irql_raise(m, MM_DISPATCH_LEVEL, &old);
    fprintf(out, "paged pool block resident after the raise: %s\n", mm_is_address_valid(m, buffer) ? "yes" : "no");

    step(out, 11, "the driver's DPC reads its paged buffer at DISPATCH_LEVEL",
         "a page fault at DISPATCH_LEVEL from driver code: DRIVER_IRQL_NOT_LESS_OR_EQUAL");
    char byte;
    struct mm_access_request req = {.va = buffer, .buffer = &byte, .length = 1, .ip = text_va + 0x1c};
    mm_access_memory(m, &req);
    check(out, bugchecked && last_bugcheck.code == MM_BUGCHECK_DRIVER_IRQL_NOT_LESS_OR_EQUAL && last_bugcheck.p[0] == buffer,
          "bug check 0xD1 with P1 = the buffer");
    if (bugchecked)
        view_bugcheck(out, &last_bugcheck);

    fprintf(out, "\nThe machine is dead now: every further call returns %s.\n",
            mm_status_name(mm_irql_lower(m, old)));
    mm_machine_destroy(m);
    fprintf(out, "\n%s\n", failures ? "demo: some steps did not behave as described" : "demo: every step behaved as described");
    return failures ? 1 : 0;
}
