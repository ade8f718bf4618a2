/* bench/bench_core.c — core model figures: frame allocate+free, user page
 * commit+touch+release, a 4-level walk, MmIsAddressValid, and machine
 * creation time and host memory for 64 MiB vs 64 GiB of simulated RAM. Each
 * beside a floor loop measured in the same run. */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

#include "fault.h"
#include "machine.h"
#include "mm/mm.h"
#include "pfn.h"
#include "process.h"
#include "pte.h"

static mm_machine *machine(uint64_t pages)
{
    struct mm_config cfg;
    mm_config_default(&cfg);
    cfg.physical_pages = pages;
    cfg.trace_capacity = 1024;
    return bench_machine(&cfg);
}

/* Floor for a frame: pop an index off a free stack, fill a 40-byte entry,
 * push it back. */
struct floor_entry { uint32_t a, b, share; uint16_t ref, flags; uint64_t pte, orig; uint32_t frame, owner; };

static void frame_figures(void)
{
    mm_machine *m = machine(16384);
    mm_pfn table = 0;
    double value = BENCH_NS(200000, 5, {
        mm_pfn pfn;
        mmi_pfn_take(m, false, &pfn);
        mmi_pfn_init_active(m, pfn, 0, table, 0, 4, MM_USE_SYSTEM);
        mmi_pfn_delete(m, pfn, true);
    });
    enum { N = 16384 };
    static struct floor_entry entries_store[N];
    static uint32_t stack_store[N];
    /* Through volatile pointers every load and store happens, each round. */
    volatile struct floor_entry *entries = entries_store;
    volatile uint32_t *stack = stack_store;
    volatile uint32_t top = N;
    for (uint32_t i = 0; i < N; i++)
        stack[i] = i;
    double floor = BENCH_NS(200000, 5, {
        uint32_t pfn = stack[--top];
        entries[pfn].a = entries[pfn].b = 0;
        entries[pfn].share = 1;
        entries[pfn].ref = 1;
        entries[pfn].flags = 0;
        entries[pfn].pte = i_;
        entries[pfn].orig = 0;
        entries[pfn].frame = (uint32_t)table;
        entries[pfn].owner = 4;
        entries[pfn].share--;
        entries[pfn].ref--;
        stack[top++] = pfn;
        bench_sink += entries[pfn].pte;
    });
    bench_row("frame allocate + free", value, floor, "ns");
    mm_machine_destroy(m);
}

static void user_page_figures(void)
{
    mm_machine *m = machine(16384);
    mm_process *p = NULL;
    struct mm_apc_state as;
    mm_process_create(m, "bench.exe", &p);
    mm_process_attach(m, p, &as);
    double value = BENCH_NS(20000, 5, {
        mm_va base = 0x10000000;
        uint64_t size = 0x1000;
        mm_virtual_alloc(m, NULL, &base, &size, MM_MEM_RESERVE | MM_MEM_COMMIT, MM_PAGE_READWRITE);
        mm_write(m, base, "x", 1);
        size = 0;
        mm_virtual_free(m, NULL, &base, &size, MM_MEM_RELEASE);
    });
    /* Floor: take a 4 KiB slot from a same-sized array, write a byte,
     * clear the page (its zeroing) and give it back. */
    static unsigned char pages[64][4096];
    double floor = BENCH_NS(20000, 5, {
        unsigned char *pg = pages[i_ & 63];
        pg[0] = 'x';
        bench_sink += pg[0];
        memset(pg, 0, 4096);
    });
    bench_row("user page commit + touch + release", value, floor, "ns");
    mm_process_detach(m, &as);
    mm_machine_destroy(m);
}

static void walk_figures(void)
{
    mm_machine *m = machine(16384);
    mm_va va = mm_pool_allocate(m, MM_NONPAGED_POOL, 0x1000, 1);
    mm_pfn top = m->system->pml4;
    double value = BENCH_NS(1000000, 5, {
        struct mmi_walk w;
        mmi_walk(m, top, va + (i_ & 0), &w);
        bench_sink += w.entry[3];
    });
    /* Floor: four dependent loads through 512-entry tables, each index read
     * from the level above, starting from a volatile value (nothing can be
     * hoisted out of the loop). */
    static uint64_t tables[4][512];
    for (int l = 0; l < 3; l++)
        tables[l][7] = 7;
    tables[3][7] = 0x1234;
    static volatile uint64_t start = 7;
    double floor = BENCH_NS(1000000, 5, {
        uint64_t t = start;
        for (int l = 0; l < 4; l++)
            t = tables[l][t & 511];
        bench_sink += t;
    });
    bench_row("4-level page-table walk", value, floor, "ns");
    double valid = BENCH_NS(1000000, 5, { bench_sink += mm_is_address_valid(m, va); });
    bench_row("MmIsAddressValid (public call)", valid, floor, "ns");
    mm_machine_destroy(m);
}

static void creation_figures(uint64_t pages, const char *label)
{
    double t0 = bench_now();
    mm_machine *m = machine(pages);
    double create = bench_now() - t0;
    uint64_t bytes = mm_machine_host_bytes(m);
    mm_machine_destroy(m);
    /* Floor: what an eager simulator pays: a zeroed 48-byte MMPFN per page. */
    t0 = bench_now();
    unsigned char *eager = calloc(pages, 48);
    for (uint64_t i = 0; eager && i < pages * 48; i += 4096)
        eager[i] = 1;
    double eager_time = bench_now() - t0;
    free(eager);
    char name[64];
    snprintf(name, sizeof name, "create %s machine (time)", label);
    bench_row(name, create / 1e3, eager_time / 1e3, "us");
    snprintf(name, sizeof name, "create %s machine (host memory)", label);
    bench_row(name, (double)bytes / 1024, (double)pages * 48 / 1024, "KB");
}

int main(void)
{
    puts("mmsim core benchmarks (best of 5; floor = minimal raw loop on a same-sized array, same run)");
    bench_header();
    frame_figures();
    user_page_figures();
    walk_figures();
    creation_figures(UINT64_C(16384), "64 MiB");
    creation_figures(UINT64_C(64) << 18, "64 GiB");
    return 0;
}
