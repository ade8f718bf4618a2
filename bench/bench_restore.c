/* bench/bench_restore.c — what mm_machine_restore costs after a fuzzing
 * input's worth of work (a process's pages written, pool blocks, an MDL
 * locked and unlocked), on a 64 MiB and an 8 GiB machine, beside a floor:
 * copying back the same bytes (the bookkeeping the snapshot holds and the
 * pages written since) with memcpy. The restore should cost what changed,
 * not the machine's size. */
#include "harness.h"

#include <string.h>

#define TAG MM_POOL_TAG('B', 'e', 'n', 'c')
#define PAGES_WRITTEN 8u

struct setup {
    mm_machine *m;
    mm_va user;
};

static struct setup make(uint64_t physical_pages)
{
    struct mm_config cfg;
    mm_config_default(&cfg);
    cfg.physical_pages = physical_pages;
    cfg.trace_capacity = 0;
    cfg.snapshots = true;
    struct setup s = {bench_machine(&cfg), 0};
    mm_process *p = NULL;
    struct mm_apc_state apc;
    uint64_t size = 64 * MM_PAGE_SIZE;
    if (!MM_SUCCESS(mm_process_create(s.m, "bench.exe", &p)) || !MM_SUCCESS(mm_process_attach(s.m, p, &apc)) ||
        !MM_SUCCESS(mm_virtual_alloc(s.m, NULL, &s.user, &size, MM_MEM_RESERVE | MM_MEM_COMMIT,
                                     MM_PAGE_READWRITE))) {
        fprintf(stderr, "bench: no process\n");
        exit(1);
    }
    for (uint64_t i = 0; i < 64; i++) { /* resident in the snapshot */
        uint8_t b = 1;
        mm_write(s.m, s.user + i * MM_PAGE_SIZE, &b, 1);
    }
    if (!MM_SUCCESS(mm_machine_snapshot(s.m))) {
        fprintf(stderr, "bench: no snapshot\n");
        exit(1);
    }
    return s;
}

/* An input's worth of changes. */
static void work(struct setup *s, uint64_t round)
{
    uint8_t bytes[64];
    memset(bytes, (int)round, sizeof bytes);
    for (unsigned i = 0; i < PAGES_WRITTEN; i++)
        mm_write(s->m, s->user + i * MM_PAGE_SIZE, bytes, sizeof bytes);
    mm_va blocks[4];
    for (unsigned i = 0; i < 4; i++)
        blocks[i] = mm_pool_allocate(s->m, MM_NONPAGED_POOL, 200 + 900 * i, TAG);
    mm_va mdl = mm_io_allocate_mdl(s->m, s->user, 4 * MM_PAGE_SIZE, false, false, 0);
    mm_probe_and_lock_pages(s->m, mdl, MM_USER_MODE, MM_IO_WRITE_ACCESS);
    mm_unlock_pages(s->m, mdl);
    mm_io_free_mdl(s->m, mdl);
    for (unsigned i = 0; i < 2; i++)
        mm_pool_free(s->m, blocks[i], TAG);
}

static double restore_ns(uint64_t physical_pages, double *floor_ns)
{
    struct setup s = make(physical_pages);
    enum { ROUNDS = 2000 };
    double total = 0, best = 1e300;
    for (int pass = 0; pass < 5; pass++) {
        total = 0;
        for (uint64_t r = 0; r < ROUNDS; r++) {
            work(&s, r);
            double t0 = bench_now();
            mm_machine_restore(s.m);
            total += bench_now() - t0;
        }
        if (total / ROUNDS < best)
            best = total / ROUNDS;
    }
    if (mm_machine_is_dead(s.m)) {
        fprintf(stderr, "bench: the work bug-checked\n");
        exit(1);
    }
    /* The floor: memcpy of the bookkeeping a restore copies back (the
     * machine's host bytes) and of the pages the work writes (the user
     * pages, the pool pages, the page tables they touch: about twice the
     * user pages). */
    size_t book = (size_t)mm_machine_host_bytes(s.m), pages = 2 * PAGES_WRITTEN * MM_PAGE_SIZE;
    unsigned char *from = calloc(1, book + pages), *to = calloc(1, book + pages);
    if (!from || !to)
        exit(1);
    *floor_ns = BENCH_NS(ROUNDS, 5, {
        from[i_ % (book + pages)] = (unsigned char)i_;
        memcpy(to, from, book + pages);
        bench_sink += to[i_ % (book + pages)];
    });
    free(from);
    free(to);
    mm_machine_destroy(s.m);
    return best;
}

int main(void)
{
    puts("mmsim restore benchmark (best of 5; floor = memcpy of the bookkeeping and the pages written)");
    bench_header();
    double floor_small, floor_large;
    double small = restore_ns(16384, &floor_small);
    double large = restore_ns(2097152, &floor_large);
    bench_row("restore after an input, 64 MiB machine", small, floor_small, "ns");
    bench_row("restore after an input, 8 GiB machine", large, floor_large, "ns");
    bench_row("restore, 8 GiB vs 64 MiB (floor: 64 MiB)", large, small, "ns");
    return 0;
}
