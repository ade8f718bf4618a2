/* bench/bench_hosted.c — what real pointers cost on a hosted machine: the
 * first touch of a committed page, the fault that brings a trimmed page
 * back, a process-context switch seen by the host, and a 64-page MDL
 * mapped and touched; each beside a floor of bare host calls doing the same
 * work on the same memory file (measured in the same run). */
#define _GNU_SOURCE
#include "harness.h"

#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE 4096u

static mm_machine *hosted(void)
{
    struct mm_config cfg;
    mm_config_default(&cfg);
    cfg.trace_capacity = 1024;
    cfg.layout = MM_LAYOUT_HOSTED;
    mm_machine *m = NULL;
    mm_status st = mm_machine_create(&cfg, &m);
    if (st == MM_STATUS_NOT_SUPPORTED) {
        puts("skipped: no host view on this host");
        exit(77);
    }
    if (st != MM_STATUS_SUCCESS) {
        fprintf(stderr, "bench: cannot create a hosted machine\n");
        exit(1);
    }
    return m;
}

static void touch(mm_va va) { *(volatile uint32_t *)(uintptr_t)va += 1; }

/* A file like the machine's memory file, for the floors. */
static int floor_file(void)
{
    int fd = memfd_create("bench-floor", 0);
    if (fd < 0 || ftruncate(fd, 64 * PAGE) != 0) {
        perror("bench: memfd");
        exit(1);
    }
    return fd;
}

static void first_touch(mm_machine *m, int fd)
{
    double value = BENCH_NS(20000, 5, {
        mm_va base = 0;
        uint64_t size = PAGE;
        mm_virtual_alloc(m, NULL, &base, &size, MM_MEM_RESERVE | MM_MEM_COMMIT, MM_PAGE_READWRITE);
        touch(base);
        size = 0;
        mm_virtual_free(m, NULL, &base, &size, MM_MEM_RELEASE);
    });
    double floor = BENCH_NS(20000, 5, {
        void *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        *(volatile uint32_t *)p += 1;
        munmap(p, PAGE);
    });
    bench_row("commit + first touch + release a page", value, floor, "ns");
}

/* The least any signal-driven host view pays for a fault: the page made
 * inaccessible, touched, and given back its rights by a SIGSEGV handler. */
static void *signal_floor_page;

static void floor_handler(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)si;
    (void)uc;
    mprotect(signal_floor_page, PAGE, PROT_READ | PROT_WRITE);
}

static double signal_round_trip(int fd)
{
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = floor_handler;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &old);
    signal_floor_page = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    double ns = BENCH_NS(20000, 5, {
        mprotect(signal_floor_page, PAGE, PROT_NONE);
        *(volatile uint32_t *)signal_floor_page += 1; /* faults; the handler lets it through */
    });
    munmap(signal_floor_page, PAGE);
    sigaction(SIGSEGV, &old, NULL);
    return ns;
}

static void trimmed_page(mm_machine *m, int fd)
{
    mm_va base = 0;
    uint64_t size = PAGE;
    mm_virtual_alloc(m, NULL, &base, &size, MM_MEM_RESERVE | MM_MEM_COMMIT, MM_PAGE_READWRITE);
    mm_process *p = mm_process_current(m);
    touch(base);
    double value = BENCH_NS(20000, 5, {
        uint64_t n;
        mm_working_set_trim(m, p, UINT64_MAX, &n);
        touch(base); /* a soft fault: the page comes back from transition */
    });
    void *page = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    double floor = BENCH_NS(20000, 5, {
        mprotect(page, PAGE, PROT_NONE);
        mprotect(page, PAGE, PROT_READ | PROT_WRITE);
        *(volatile uint32_t *)page += 1;
    });
    munmap(page, PAGE);
    bench_row("trim a page, touch it back (soft fault)", value, floor, "ns");
    bench_row("  the same, floor: a SIGSEGV round trip", value, signal_round_trip(fd), "ns");
}

static void context_switch(mm_machine *m, int fd)
{
    mm_process *a = mm_process_current(m), *b = NULL;
    mm_process_create(m, "b.exe", &b);
    mm_va va = 0;
    uint64_t size = PAGE;
    mm_virtual_alloc(m, a, &va, &size, MM_MEM_RESERVE | MM_MEM_COMMIT, MM_PAGE_READWRITE);
    mm_virtual_alloc(m, b, &va, &size, MM_MEM_RESERVE | MM_MEM_COMMIT, MM_PAGE_READWRITE);
    touch(va);
    double value = BENCH_NS(20000, 5, {
        struct mm_apc_state s;
        mm_process_attach(m, b, &s);
        touch(va); /* b's page at the same VA */
        mm_process_detach(m, &s);
        touch(va);
    });
    /* The least a switch can do: show another frame at the VA, and back. */
    void *page = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    double floor = BENCH_NS(20000, 5, {
        mmap(page, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, PAGE);
        *(volatile uint32_t *)page += 1;
        mmap(page, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
        *(volatile uint32_t *)page += 1;
    });
    munmap(page, PAGE);
    bench_row("attach, touch, detach, touch", value, floor, "ns");
}

static void mdl_64(mm_machine *m, int fd)
{
    mm_va buf = mm_pool_allocate(m, MM_NONPAGED_POOL, 64 * PAGE, 1);
    double value = BENCH_NS(2000, 5, {
        mm_va mdl = mm_io_allocate_mdl(m, buf, 64 * PAGE, false, false, 0);
        mm_build_mdl_for_nonpaged_pool(m, mdl);
        mm_va s = mm_map_locked_pages_specify_cache(m, mdl, MM_KERNEL_MODE, MM_CACHED, 0, false,
                                                    MM_NORMAL_PAGE_PRIORITY, NULL);
        for (unsigned i = 0; i < 64; i++)
            touch(s + i * PAGE);
        mm_unmap_locked_pages(m, s, mdl);
        mm_io_free_mdl(m, mdl);
    });
    double floor = BENCH_NS(2000, 5, {
        char *p = mmap(NULL, 64 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        for (unsigned i = 0; i < 64; i++)
            *(volatile uint32_t *)(p + i * PAGE) += 1;
        munmap(p, 64 * PAGE);
    });
    bench_row("64-page MDL: map, touch each page, unmap", value, floor, "ns");
}

int main(void)
{
    mm_machine *m = hosted();
    mm_process *app = NULL;
    struct mm_apc_state apc;
    mm_process_create(m, "app.exe", &app);
    mm_process_attach(m, app, &apc);
    int fd = floor_file();
    puts("mmsim hosted-memory benchmarks (best of 5; floor = bare host calls on a memory file, same run)");
    bench_header();
    first_touch(m, fd);
    trimmed_page(m, fd);
    context_switch(m, fd);
    mdl_64(m, fd);
    if (mm_machine_is_dead(m)) {
        fprintf(stderr, "bench: the machine bug-checked\n");
        return 1;
    }
    close(fd);
    mm_machine_destroy(m);
    return 0;
}
