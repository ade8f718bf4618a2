/* bench/bench_mdl.c — per-page cost of the MDL lifecycle (IoAllocateMdl,
 * MmProbeAndLockPages, MmMapLockedPagesSpecifyCache, MmUnmapLockedPages,
 * MmUnlockPages, IoFreeMdl) on 1 to 512-page buffers, beside a fair floor
 * that does the same bookkeeping in plain C (see fair_floor). */
#include "harness.h"

#include <stdlib.h>

#include "mm/mm.h"

/* The fair floor: the same bookkeeping in plain C. Allocate and free the
 * MDL (header + PFN array), look the leaf table up once per 512 pages, store
 * each PFN and raise its reference count, take a run of system PTEs from a
 * bitmap, write the PTEs, then clear them, release the run and drop the
 * references. Through volatile, so nothing is dropped or hoisted. */
struct floor_pfn { uint32_t flink, blink, share; uint16_t ref, flags; uint64_t pte, orig; uint32_t frame, owner; };

static double fair_floor(unsigned pages, uint64_t iters)
{
    static uint64_t tables[4][512];
    static struct floor_pfn pfn_store[1024];
    static uint64_t pte_store[4096];
    static uint64_t bitmap_store[64];
    static volatile uint64_t start = 7;
    volatile struct floor_pfn *pfns = pfn_store;
    volatile uint64_t *ptes = pte_store;
    volatile uint64_t *bitmap = bitmap_store;
    for (int l = 0; l < 3; l++)
        tables[l][7] = 7;
    return BENCH_NS(iters, 5, {
        volatile uint64_t *mdl = malloc(48 + 8 * (size_t)pages);
        mdl[1] = pages;
        uint64_t leaf = 0;
        for (unsigned p = 0; p < pages; p++) {
            if (p % 512 == 0) {
                uint64_t t = start;
                for (int l = 0; l < 4; l++)
                    t = tables[l][t & 511];
                leaf = t;
            }
            uint64_t frame = (leaf + p) & 1023;
            mdl[6 + p] = frame;
            pfns[frame].ref++;
        }
        uint64_t run = 0; /* first fit: the first word with room */
        while (bitmap[run / 64] == UINT64_MAX)
            run += 64;
        for (unsigned p = 0; p < pages; p++)
            bitmap[(run + p) / 64] |= UINT64_C(1) << ((run + p) % 64);
        for (unsigned p = 0; p < pages; p++)
            ptes[(run + p) & 4095] = (mdl[6 + p] << 12) | 0x103;
        for (unsigned p = 0; p < pages; p++)
            ptes[(run + p) & 4095] = 0;
        for (unsigned p = 0; p < pages; p++)
            bitmap[(run + p) / 64] &= ~(UINT64_C(1) << ((run + p) % 64));
        for (unsigned p = 0; p < pages; p++)
            pfns[mdl[6 + p]].ref--;
        bench_sink += mdl[1];
        free((void *)mdl);
    }) / pages;
}

static void lifecycle(unsigned pages)
{
    struct mm_config cfg;
    mm_config_default(&cfg);
    cfg.trace_capacity = 1024;
    mm_machine *m = bench_machine(&cfg);
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
    double floor = fair_floor(pages, iters);
    char name[64];
    snprintf(name, sizeof name, "MDL lifecycle, %u-page buffer (per page)", pages);
    bench_row(name, value, floor, "ns");
    mm_machine_destroy(m);
}

int main(void)
{
    puts("mmsim MDL benchmarks (best of 5; floor = the same bookkeeping in plain C, same run)");
    bench_header();
    lifecycle(1);
    lifecycle(16);
    lifecycle(64);
    lifecycle(512);
    return 0;
}
