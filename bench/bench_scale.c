/* bench/bench_scale.c — does any operation slow down as the machine fills
 * up? Each figure is the cost of one operation with 10, 1k, 10k and 100k
 * objects of its kind alive (--quick: up to 10k), printed as a ratio to
 * the 10-object cost measured in the same run; the layouts are the ones that
 * defeat naive searches (a freed block in the middle reused, a mapping torn
 * down and its range reused). Then host memory under churn, and machine
 * creation at 64 MiB against 64 GiB and, at the fuzzing size, against a bare
 * memory file. Uses the public API only. */
#define _GNU_SOURCE /* memfd_create */
#include "harness.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mm/mm.h"

#define TAG MM_POOL_TAG('S', 'c', 'a', 'l')
#define ITERS 2000
#define ROUNDS 5

static mm_machine *machine(uint64_t pages, uint32_t system_ptes)
{
    struct mm_config cfg;
    mm_config_default(&cfg);
    cfg.physical_pages = pages;
    cfg.system_ptes = system_ptes;
    cfg.pagefile_pages = 4096;
    cfg.trace_capacity = 1024;
    return bench_machine(&cfg);
}

static void must(mm_status st, const char *what)
{
    if (st != MM_STATUS_SUCCESS) {
        fprintf(stderr, "bench: %s: %s\n", what, mm_status_name(st));
        exit(1);
    }
}

static void row(const char *what, size_t n, double ns, double base)
{
    printf("%-52s %7zu live %10.1f ns %8.2fx\n", what, n, ns, ns / base);
}

/* Pool: n blocks of `bytes`, one in the middle freed and its address
 * reused, then allocate + free pairs. */
static double pool_pairs_of(size_t n, uint64_t bytes)
{
    mm_machine *m = machine(UINT64_C(1) << 18, 2048);
    mm_va *blocks = calloc(n, sizeof *blocks);
    for (size_t i = 0; i < n; i++)
        if (!(blocks[i] = mm_pool_allocate(m, MM_NONPAGED_POOL, bytes, TAG)))
            must(MM_STATUS_NO_MEMORY, "pool");
    must(mm_pool_free(m, blocks[n / 2], 0), "free");
    blocks[n / 2] = mm_pool_allocate(m, MM_NONPAGED_POOL, bytes, TAG);
    double ns = BENCH_NS(ITERS, ROUNDS, {
        mm_va b = mm_pool_allocate(m, MM_NONPAGED_POOL, bytes, TAG);
        bench_sink += b;
        mm_pool_free(m, b, 0);
    });
    free(blocks);
    mm_machine_destroy(m);
    return ns;
}

static double pool_pairs(size_t n) { return pool_pairs_of(n, 0x1000); }

/* Small blocks share pages: the pairs go through the lists by size and
 * the chunk table, whatever the number of blocks alive. */
static double small_pool_pairs(size_t n) { return pool_pairs_of(n, 0x70); }

/* A 1-page MDL lifecycle (allocate, lock, map, unmap, unlock, free) with n
 * other MDL mappings alive, one in the middle torn down and its range
 * reused. */
static double mdl_lifecycle(size_t n)
{
    mm_machine *m = machine(UINT64_C(1) << 18, (uint32_t)(n + 4096));
    mm_va buf = mm_pool_allocate(m, MM_NONPAGED_POOL, 0x1000, TAG);
    mm_va *mdls = calloc(n, sizeof *mdls);
    mm_va *maps = calloc(n, sizeof *maps);
    for (size_t i = 0; i < n; i++) {
        mdls[i] = mm_io_allocate_mdl(m, buf, 0x1000, false, false, 0);
        must(mm_build_mdl_for_nonpaged_pool(m, mdls[i]), "build"); /* no lock: a page takes 32767 at most */
        maps[i] = mm_map_locked_pages_specify_cache(m, mdls[i], MM_KERNEL_MODE, MM_CACHED, 0, false, 0, NULL);
    }
    must(mm_unmap_locked_pages(m, maps[n / 2], mdls[n / 2]), "unmap"); /* the lifecycle reuses its PTEs */
    double ns = BENCH_NS(ITERS, ROUNDS, {
        mm_va mdl = mm_io_allocate_mdl(m, buf, 0x1000, false, false, 0);
        mm_probe_and_lock_pages(m, mdl, MM_KERNEL_MODE, MM_IO_READ_ACCESS);
        mm_va va = mm_map_locked_pages_specify_cache(m, mdl, MM_KERNEL_MODE, MM_CACHED, 0, false, 0, NULL);
        mm_unmap_locked_pages(m, va, mdl);
        mm_unlock_pages(m, mdl);
        mm_io_free_mdl(m, mdl);
    });
    free(mdls);
    free(maps);
    mm_machine_destroy(m);
    return ns;
}

/* n processes created first (half of them exited), then in the last one:
 * a user-buffer MDL lifecycle, and commit + touch + release of a page. */
static void process_figures(size_t n, double *mdl_ns, double *page_ns)
{
    mm_machine *m = machine(UINT64_C(1) << 18, 4096);
    mm_process *p = NULL;
    for (size_t i = 0; i < n; i++) {
        must(mm_process_create(m, "p.exe", &p), "process");
        if (i % 2 == 0 && i + 1 < n)
            must(mm_process_terminate(m, p), "terminate");
    }
    struct mm_apc_state st;
    must(mm_process_attach(m, p, &st), "attach");
    mm_va base = 0;
    uint64_t size = 0x1000;
    must(mm_virtual_alloc(m, NULL, &base, &size, MM_MEM_RESERVE | MM_MEM_COMMIT, MM_PAGE_READWRITE), "alloc");
    *mdl_ns = BENCH_NS(ITERS, ROUNDS, {
        mm_va mdl = mm_io_allocate_mdl(m, base, 0x1000, false, false, 0);
        mm_probe_and_lock_pages(m, mdl, MM_USER_MODE, MM_IO_WRITE_ACCESS);
        mm_unlock_pages(m, mdl);
        mm_io_free_mdl(m, mdl);
    });
    *page_ns = BENCH_NS(ITERS, ROUNDS, {
        mm_va b = 0;
        uint64_t s = 0x1000;
        mm_virtual_alloc(m, NULL, &b, &s, MM_MEM_RESERVE | MM_MEM_COMMIT, MM_PAGE_READWRITE);
        mm_write(m, b, "x", 1);
        s = 0;
        mm_virtual_free(m, NULL, &b, &s, MM_MEM_RELEASE);
    });
    must(mm_process_detach(m, &st), "detach");
    mm_machine_destroy(m);
}

/* NtAllocateVirtualMemory with no base address (and its release) with n
 * VADs in the process, one in the middle released and its range reused. */
static double vad_pairs(size_t n)
{
    mm_machine *m = machine(16384, 2048);
    mm_process *p = NULL;
    must(mm_process_create(m, "vads.exe", &p), "process");
    struct mm_apc_state st;
    must(mm_process_attach(m, p, &st), "attach");
    mm_va *vads = calloc(n, sizeof *vads);
    for (size_t i = 0; i < n; i++) {
        uint64_t size = 0x1000;
        must(mm_virtual_alloc(m, NULL, &vads[i], &size, MM_MEM_RESERVE, MM_PAGE_READWRITE), "reserve");
    }
    uint64_t size = 0;
    must(mm_virtual_free(m, NULL, &vads[n / 2], &size, MM_MEM_RELEASE), "release");
    size = 0x1000;
    vads[n / 2] = 0;
    must(mm_virtual_alloc(m, NULL, &vads[n / 2], &size, MM_MEM_RESERVE, MM_PAGE_READWRITE), "reserve");
    double ns = BENCH_NS(ITERS, ROUNDS, {
        mm_va b = 0;
        uint64_t s = 0x1000;
        mm_virtual_alloc(m, NULL, &b, &s, MM_MEM_RESERVE, MM_PAGE_READWRITE);
        s = 0;
        mm_virtual_free(m, NULL, &b, &s, MM_MEM_RELEASE);
    });
    free(vads);
    must(mm_process_detach(m, &st), "detach");
    mm_machine_destroy(m);
    return ns;
}

static void scale(const char *what, double (*measure)(size_t), const size_t *sizes, size_t count)
{
    double base = 0;
    for (size_t i = 0; i < count; i++) {
        double ns = measure(sizes[i]);
        if (i == 0)
            base = ns;
        row(what, sizes[i], ns, base);
    }
}

/* Host memory: commit, write and free 1 MiB 256 times on a 1 GiB machine;
 * the pages holding contents stay near the 256 in use at a time. */
static void churn(void)
{
    mm_machine *m = machine(UINT64_C(1) << 18, 2048);
    uint64_t most = 0;
    for (int round = 0; round < 256; round++) {
        mm_va base = 0;
        uint64_t size = 1u << 20;
        must(mm_virtual_alloc(m, NULL, &base, &size, MM_MEM_RESERVE | MM_MEM_COMMIT, MM_PAGE_READWRITE), "alloc");
        for (uint64_t off = 0; off < size; off += MM_PAGE_SIZE)
            mm_write(m, base + off, "x", 1);
        uint64_t stored = mm_machine_stored_pages(m);
        if (stored > most)
            most = stored;
        size = 0;
        must(mm_virtual_free(m, NULL, &base, &size, MM_MEM_RELEASE), "free");
    }
    printf("%-52s %7d pages %10llu stored (at most) %6.2fx\n", "host memory under churn (1 MiB working set)", 256,
           (unsigned long long)most, (double)most / 256);
    mm_machine_destroy(m);
}

static double create_destroy(uint64_t pages)
{
    return BENCH_NS(50, ROUNDS, {
        mm_machine *m = machine(pages, 2048);
        mm_machine_destroy(m);
    });
}

/* The floor for a fuzzing-sized machine: a bare memory file of the same
 * RAM size created, mapped, written once in as many pages as a new machine
 * stores (its page tables and boot structures), unmapped and closed. */
static double bare_memfile(uint64_t pages, uint64_t touched)
{
    return BENCH_NS(50, ROUNDS, {
        int fd = -1;
#if defined(__linux__) && defined(MFD_CLOEXEC)
        fd = memfd_create("bench-ram", MFD_CLOEXEC);
#else
        char path[] = "/tmp/bench-ram-XXXXXX";
        fd = mkstemp(path);
        if (fd >= 0)
            unlink(path);
#endif
        if (fd < 0 || ftruncate(fd, (off_t)(pages * 4096)) != 0) {
            fprintf(stderr, "bench: no memory file\n");
            exit(1);
        }
        volatile uint8_t *ram = mmap(NULL, pages * 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
        if (ram == MAP_FAILED) {
            fprintf(stderr, "bench: cannot map the memory file\n");
            exit(1);
        }
        for (uint64_t pg = 0; pg < touched; pg++)
            ram[pg * 4096 + (pg & 511) * 8] = (uint8_t)pg;
        munmap((void *)ram, pages * 4096);
        close(fd);
    });
}

/* The fuzzing configuration (fuzz/fuzz_script.c): 1024 pages, a 256-page
 * page file, a 4096-event trace. */
static void small_machine(void)
{
    struct mm_config cfg;
    mm_config_default(&cfg);
    cfg.physical_pages = 1024;
    cfg.pagefile_pages = 256;
    cfg.trace_capacity = 4096;
    mm_machine *probe = bench_machine(&cfg);
    uint64_t touched = mm_machine_stored_pages(probe);
    mm_machine_destroy(probe);
    double ns = BENCH_NS(50, ROUNDS, {
        mm_machine *m = NULL;
        mm_machine_create(&cfg, &m);
        mm_machine_destroy(m);
    });
    double floor = bare_memfile(cfg.physical_pages, touched);
    printf("%-52s %10.1f us %10.1f us %6.2fx  (floor: bare memory file, %llu pages written)\n",
           "create + destroy: fuzzing size vs floor", ns / 1000, floor / 1000, ns / floor,
           (unsigned long long)touched);
}

int main(int argc, char **argv)
{
    bool quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    static const size_t big[] = {10, 1000, 10000, 100000};
    size_t nbig = quick ? 3 : 4;
    printf("%-52s %12s %13s %9s\n", "operation", "objects", "cost", "vs 10");
    scale("pool allocate + free (middle block reused)", pool_pairs, big, nbig);
    scale("small pool block allocate + free (packed pages)", small_pool_pairs, big, nbig);
    scale("1-page MDL lifecycle (middle mapping reused)", mdl_lifecycle, big, nbig);
    scale("NtAllocateVirtualMemory + release, no base", vad_pairs, big, nbig);
    double mdl_base = 0, page_base = 0;
    for (size_t i = 0; i < nbig; i++) {
        double mdl_ns, page_ns;
        process_figures(big[i], &mdl_ns, &page_ns);
        if (i == 0) {
            mdl_base = mdl_ns;
            page_base = page_ns;
        }
        row("user-buffer MDL lock + unlock (processes)", big[i], mdl_ns, mdl_base);
        row("commit + touch + release a page (processes)", big[i], page_ns, page_base);
    }
    churn();
    double small = create_destroy(16384), large = create_destroy(UINT64_C(64) << 18);
    printf("%-52s %10.1f us %10.1f us %6.2fx\n", "create + destroy: 64 MiB, 64 GiB", small / 1000, large / 1000,
           large / small);
    small_machine();
    return 0;
}
