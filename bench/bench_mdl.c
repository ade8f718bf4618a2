/* bench/bench_mdl.c — per-page cost of the MDL lifecycle (IoAllocateMdl,
 * MmProbeAndLockPages, MmMapLockedPagesSpecifyCache, MmUnmapLockedPages,
 * MmUnlockPages, IoFreeMdl) on 1-page and 64-page buffers, beside a floor
 * that does the bare work on the same pages: look each frame up and raise
 * and drop its reference count. */
#include "harness.h"

#include <stdlib.h>

#include "mm/mm.h"

static void lifecycle(unsigned pages)
{
    struct mm_config cfg;
    mm_config_default(&cfg);
    cfg.trace_capacity = 1024;
    mm_machine *m = NULL;
    if (mm_machine_create(&cfg, &m) != MM_STATUS_SUCCESS)
        exit(1);
    mm_va buf = mm_pool_allocate(m, MM_NONPAGED_POOL, (uint64_t)pages * MM_PAGE_SIZE, 1);
    uint64_t iters = 200000 / pages;
    double value = BENCH_NS(iters, 5, {
        mm_va mdl = mm_io_allocate_mdl(m, buf, pages * MM_PAGE_SIZE, false, false, 0);
        mm_probe_and_lock_pages(m, mdl, MM_KERNEL_MODE, MM_IO_WRITE_ACCESS);
        mm_va va = mm_map_locked_pages_specify_cache(m, mdl, MM_KERNEL_MODE, MM_CACHED, 0, false,
                                                     MM_NORMAL_PAGE_PRIORITY, NULL);
        mm_unmap_locked_pages(m, va, mdl);
        mm_unlock_pages(m, mdl);
        mm_io_free_mdl(m, mdl);
    }) / pages;
    if (mm_machine_is_dead(m)) {
        fprintf(stderr, "bench: the lifecycle bug-checked\n");
        exit(1);
    }
    /* Floor: per page, find the frame through a 4-level table walk and bump
     * its 40-byte entry's reference count up and down. */
    static uint64_t tables[4][512];
    static struct { uint32_t a, b, share; uint16_t ref, flags; uint64_t c, d; uint32_t e, f; } pfn[64];
    for (int l = 0; l < 3; l++)
        tables[l][1] = 0;
    double floor = BENCH_NS(iters, 5, {
        for (unsigned p = 0; p < pages; p++) {
            uint64_t t = 0;
            for (int l = 0; l < 4; l++)
                t = tables[l][(p + t) & 511];
            pfn[(p + t) & 63].ref++;
        }
        for (unsigned p = 0; p < pages; p++)
            pfn[p & 63].ref--;
        bench_sink += pfn[0].ref;
    }) / pages;
    char name[64];
    snprintf(name, sizeof name, "MDL lifecycle, %u-page buffer (per page)", pages);
    bench_row(name, value, floor, "ns");
    mm_machine_destroy(m);
}

int main(void)
{
    puts("mmsim MDL benchmarks (best of 5; floor = bare PFN lookups and reference counting, same run)");
    bench_header();
    lifecycle(1);
    lifecycle(64);
    return 0;
}
