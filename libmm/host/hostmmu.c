/* libmm/host/hostmmu.c — the host view of a hosted machine (see
 * hostmmu.h). The simulated TLB drives it through struct mmi_host_ops: a
 * cached translation is a 4 KiB host mapping of the frame's page of the
 * memory file, with the translation's rights; a dropped one goes back to
 * PROT_NONE. An access the host refuses raises SIGSEGV; the handler finds
 * the machine whose range holds the address, asks the model to resolve the
 * access (which maps the page, so the instruction is retried and goes
 * through) or to raise what Windows raises. Addresses of no machine go to
 * the handler installed before ours (AddressSanitizer's, a debugger's, the
 * default). */
#define _GNU_SOURCE
#include "hostmmu.h"

#include "mm/image.h"  /* mm_image_at */
#include "mm/memory.h" /* mm_call_on_kernel_stack */

#if defined(MMSIM_HAVE_MEMFILE) && defined(__linux__)

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "../alloc.h"
#include "../bugcheck.h"
#include "../fault.h"
#include "../layout.h"
#include "../machine.h"
#include "../mdl.h"
#include "../pfn.h"
#include "../pte.h"
#include "../syspte.h"
#include "../tlb.h"
#include "dormant.h"

#define MAX_MACHINES 64u
#define MAX_RANGES 16u /* driver images placed by the host's loader */

/* The machines with a host view, for the signal handler: the only global
 * state of the library. A slot is written before its range can fault and
 * cleared after the range is gone; an extra range is written before the
 * count that publishes it. */
static struct {
    atomic_int claimed;
    _Atomic(mm_machine *) m; /* published after lo and hi */
    mm_va lo, hi;
    atomic_uint ranges;
    mm_va range_lo[MAX_RANGES], range_hi[MAX_RANGES];
} machines[MAX_MACHINES];

static struct sigaction previous;

#define WATCH_READS 64u

struct mmi_hostview {
    void *reserved; /* the whole reservation, as mmap returned it */
    size_t reserved_bytes;
    mm_va base, end; /* the layout's range inside it */
    int fd;
    unsigned slot;   /* in machines[] */
    /* mm_machine_watch_user_reads: part of the machine's state (it lives in
     * the machine's memory, so a restore brings it back). */
    bool watch, flip;
    uint64_t rng;
    unsigned reads;
    struct {
        mm_va va, ip;
    } read[WATCH_READS];     /* the user reads of the current request */
    struct mmi_dormant *dormant; /* host memory: a restore keeps it as it is */
};

/* The end of the range of the slot's machine that holds va, or 0. */
static mm_va range_end(unsigned slot, mm_va va)
{
    if (va >= machines[slot].lo && va < machines[slot].hi)
        return machines[slot].hi;
    unsigned n = atomic_load(&machines[slot].ranges);
    for (unsigned i = 0; i < n; i++)
        if (va >= machines[slot].range_lo[i] && va < machines[slot].range_hi[i])
            return machines[slot].range_hi[i];
    return 0;
}

static bool slot_holds(unsigned slot, mm_va va) { return range_end(slot, va) != 0; }

static bool four_kib_pages(void) { return sysconf(_SC_PAGESIZE) == MM_PAGE_SIZE; }

/* Fixed places first, so a hosted machine gets the same addresses run after
 * run (its trace, its bug-check parameters and a replay match): the first
 * free of a few hints 2 TiB apart, above AddressSanitizer's shadow. */
#define HINT_FIRST UINT64_C(0x200000000000)
#define HINT_STEP UINT64_C(0x20000000000)
#define HINTS 16u

static bool reserve_at_hint(size_t bytes, mm_va *base)
{
    for (unsigned i = 0; i < HINTS; i++) {
        void *want = (void *)(uintptr_t)(HINT_FIRST + i * HINT_STEP);
        void *p = mmap(want, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == want) {
            *base = (mm_va)(uintptr_t)p;
            return true;
        }
        if (p != MAP_FAILED)
            munmap(p, bytes);
    }
    return false;
}

mm_status mmi_host_reserve(const struct mm_config *cfg, mm_va *base)
{
    if (!four_kib_pages())
        return MM_STATUS_NOT_SUPPORTED;
    if (reserve_at_hint((size_t)mmi_layout_hosted_bytes(cfg), base))
        return MM_STATUS_SUCCESS;
    size_t bytes = (size_t)(mmi_layout_hosted_bytes(cfg) + MMI_HOSTED_ALIGN);
    void *p = mmap(NULL, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return MM_STATUS_INSUFFICIENT_RESOURCES;
    mm_va aligned = ((mm_va)(uintptr_t)p + MMI_HOSTED_ALIGN - 1) & ~(mm_va)(MMI_HOSTED_ALIGN - 1);
    /* The slack before and after the aligned range goes back at once. */
    size_t head = (size_t)(aligned - (mm_va)(uintptr_t)p);
    size_t used = (size_t)mmi_layout_hosted_bytes(cfg);
    if (head)
        munmap(p, head);
    if (bytes - head - used)
        munmap((void *)(uintptr_t)(aligned + used), bytes - head - used);
    *base = aligned;
    return MM_STATUS_SUCCESS;
}

/* ---- the host MMU hooks ---- */

static void *page_ptr(mm_va page) { return (void *)(uintptr_t)page; }

static void host_empty(mm_va page, uint64_t pages)
{
    mmap(page_ptr(page), (size_t)(pages * MM_PAGE_SIZE), PROT_NONE,
         MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
}

/* May run's pages stay dormant (docs/hosted.md)? Pages of system PTE space
 * over RAM frames, which host_map mapped from the memory file. */
static bool may_sleep(mm_machine *m, const struct mmi_host_page *run, uint64_t pages)
{
    if (!m->hostview->dormant || pages > MMI_DORMANT_MAX / 4)
        return false;
    for (uint64_t i = 0; i < pages; i++)
        if (!mmi_is_syspte_va(m, run[i].page) || !mmi_pfn_is_ram(m, run[i].pfn))
            return false;
    return true;
}

/* Pages of one of the machine's ranges. */
static void unmap_in_range(mm_machine *m, const struct mmi_host_page *run, uint64_t pages)
{
    struct mmi_hostview *h = m->hostview;
    mm_va page = run[0].page;
    if (!may_sleep(m, run, pages)) {
        host_empty(page, pages);
        return;
    }
    /* The mapping stays, without rights: any access faults as before. */
    mprotect(page_ptr(page), (size_t)(pages * MM_PAGE_SIZE), PROT_NONE);
    for (uint64_t i = 0; i < pages; i++) {
        mm_va evicted = mmi_dormant_put(h->dormant, run[i].page, run[i].pfn);
        if (evicted)
            host_empty(evicted, 1);
    }
}

static void host_unmap(void *ctx, const struct mmi_host_page *run, uint64_t pages)
{
    mm_machine *m = ctx;
    unsigned slot = m->hostview->slot;
    for (uint64_t i = 0, n; i < pages; i += n) {
        /* Each part of the run inside one range goes in one call; a page of
         * none was never mapped for the host (the self-map). */
        mm_va end = range_end(slot, run[i].page);
        for (n = 1; end && i + n < pages && run[i + n].page < end; n++)
            ;
        if (end)
            unmap_in_range(m, &run[i], n);
    }
}

/* Runs up to this many pages get their host page-table entries at once. */
#define POPULATE_PAGES 16u

static void host_map(void *ctx, mm_va page, mm_pfn pfn, uint64_t pages, bool writable, bool executable)
{
    mm_machine *m = ctx;
    struct mmi_hostview *h = m->hostview;
    if (!slot_holds(h->slot, page) || !slot_holds(h->slot, page + (pages - 1) * MM_PAGE_SIZE))
        return; /* outside the host's ranges (the self-map): the model's alone */
    if (h->watch && mmi_is_user_va(m, page))
        return; /* watched: each access maps its page for one instruction (watch_step) */
    int prot = PROT_READ | (writable ? PROT_WRITE : 0) | (executable ? PROT_EXEC : 0);
    size_t bytes = (size_t)(pages * MM_PAGE_SIZE);
    if (h->dormant && mmi_dormant_count(h->dormant)) {
        if (mmi_pfn_is_ram(m, pfn) && mmi_dormant_take_run(h->dormant, page, pfn, pages) &&
            mprotect(page_ptr(page), bytes, prot) == 0)
            return; /* the same frames, woken: their rights back */
        mmi_dormant_forget(h->dormant, page, pages); /* mapped anew below */
    }
    void *at;
    if (mmi_pfn_is_ram(m, pfn)) {
        /* A short run is filled in now: the code that asked for it is about
         * to touch it, and a host fault per page costs more than the fill. */
        int populate = pages <= POPULATE_PAGES ? MAP_POPULATE : 0;
        at = mmap(page_ptr(page), bytes, prot, MAP_SHARED | MAP_FIXED | populate, h->fd, (off_t)(pfn * MM_PAGE_SIZE));
    } else { /* device memory: reads see all ones, writes go nowhere */
        at = mmap(page_ptr(page), bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        if (at != MAP_FAILED)
            memset(at, 0xFF, bytes);
    }
    if (at == MAP_FAILED) { /* the host refused a mapping inside our own reservation */
        fputs("mmsim: the host refused to map a page of simulated memory\n", stderr);
        abort();
    }
}

static bool install_handler(void);

/* The hosted machine this thread last worked with: a fault at an address
 * no machine owns (NULL, a wild pointer) belongs to it when driver code
 * made it (see stray_fault). */
static _Thread_local mm_machine *thread_machine;

/* mm_machine_pin_fault_handler: while above 0, calls skip the check. */
static _Thread_local unsigned pinned;

static void host_enter(void *ctx)
{
    thread_machine = ctx;
    if (!pinned)
        install_handler();
}

void mm_machine_pin_fault_handler(mm_machine *m, bool pin)
{
    if (!m || !m->hostview)
        return;
    if (pin) {
        install_handler();
        pinned++;
    } else if (pinned) {
        pinned--;
    }
}

void mmi_host_enter(mm_machine *m)
{
    if (m->hostview) {
        thread_machine = m;
        if (!pinned)
            install_handler();
    }
}

static const struct mmi_host_ops ops = {.map = host_map, .unmap = host_unmap, .enter = host_enter};

/* ---- the fault handler ---- */

static mm_machine *machine_for(mm_va va)
{
    for (unsigned i = 0; i < MAX_MACHINES; i++) {
        mm_machine *m = atomic_load(&machines[i].m);
        if (m && slot_holds(i, va))
            return m;
    }
    return NULL;
}

mm_machine *mmi_host_owner(mm_va va) { return machine_for(va); }

bool mmi_host_add_range(mm_machine *m, mm_va lo, mm_va hi)
{
    unsigned slot = m->hostview->slot, n = atomic_load(&machines[slot].ranges);
    if (n == MAX_RANGES)
        return false;
    machines[slot].range_lo[n] = lo;
    machines[slot].range_hi[n] = hi;
    atomic_store(&machines[slot].ranges, n + 1);
    return true;
}

void mmi_host_remove_range(mm_machine *m, mm_va lo)
{
    unsigned slot = m->hostview->slot, n = atomic_load(&machines[slot].ranges);
    for (unsigned i = 0; i < n; i++) {
        if (machines[slot].range_lo[i] != lo)
            continue;
        /* The last range takes its place; the count shrinks after. */
        machines[slot].range_lo[i] = machines[slot].range_lo[n - 1];
        machines[slot].range_hi[i] = machines[slot].range_hi[n - 1];
        atomic_store(&machines[slot].ranges, n - 1);
        return;
    }
}

/* What the faulting instruction tried: the page-fault error code where the
 * host reports it (x86-64: bit 1 write, bit 4 instruction fetch); elsewhere
 * a refused access to a page the TLB already maps readable is a write. */
static mm_access access_kind(mm_machine *m, mm_va va, const void *context)
{
#if defined(__x86_64__)
    const ucontext_t *uc = context;
    uint64_t err = (uint64_t)uc->uc_mcontext.gregs[REG_ERR];
    if (err & 0x10)
        return MM_ACCESS_EXECUTE;
    return (err & 0x2) ? MM_ACCESS_WRITE : MM_ACCESS_READ;
#else
    (void)context;
    mm_pfn top = mmi_top_for(m, mmi_cpu(m)->process, va);
    return mmi_tlb_lookup(m, va, top, false) != MM_PFN_NONE ? MM_ACCESS_WRITE : MM_ACCESS_READ;
#endif
}

static mm_va instruction_address(const void *context)
{
#if defined(__x86_64__)
    return (mm_va)((const ucontext_t *)context)->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
    return (mm_va)((const ucontext_t *)context)->uc_mcontext.pc;
#else
    (void)context;
    return 0;
#endif
}

static void chain(int sig, siginfo_t *si, void *context)
{
    if (previous.sa_flags & SA_SIGINFO) {
        if (previous.sa_sigaction) {
            previous.sa_sigaction(sig, si, context);
            return;
        }
    } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
        previous.sa_handler(sig);
        return;
    }
    /* The default action: let the access fault again with no handler. */
    signal(sig, SIG_DFL);
}

/* ---- watching user reads (x86-64) ---- */

/* The pages mapped for the instruction being single-stepped on this
 * thread, unmapped again at its SIGTRAP. */
static _Thread_local struct {
    mm_va page[4];
    unsigned count;
} stepping;
static struct sigaction previous_trap;

/* A read of a user address: a second one in the request is a finding, and
 * with flip the bytes change first (a user thread racing the reader). */
static void watch_read(mm_machine *m, mm_va va, mm_va ip, mm_pfn pfn)
{
    struct mmi_hostview *h = m->hostview;
    for (unsigned i = 0; i < h->reads; i++) {
        if (h->read[i].va != va)
            continue;
        mmi_mdl_finding(m, MM_FINDING_DOUBLE_FETCH, 0, va, pfn, 0,
                        "user address %016llx read at %016llx and again at %016llx in one request: a user thread "
                        "can change it in between",
                        (unsigned long long)va, (unsigned long long)h->read[i].ip, (unsigned long long)ip);
        if (h->flip) {
            unsigned offset = (unsigned)(va & (MM_PAGE_SIZE - 1)), len = MM_PAGE_SIZE - offset < 8 ? MM_PAGE_SIZE - offset : 8;
            uint8_t bytes[8];
            uint64_t pattern = mmi_splitmix(&h->rng) | UINT64_C(0x8080808080808080);
            mmi_frame_read(m, pfn, offset, bytes, len);
            for (unsigned b = 0; b < len; b++)
                bytes[b] ^= (uint8_t)(pattern >> (8 * b));
            mmi_frame_write(m, pfn, offset, bytes, len);
        }
        return;
    }
    if (h->reads < WATCH_READS) {
        h->read[h->reads].va = va;
        h->read[h->reads++].ip = ip;
    }
}

/* The model has resolved an access to a watched user page: the page is
 * mapped for this one instruction, which then traps (TF) to unmap it. */
static bool watch_step(mm_machine *m, mm_va va, mm_access kind, mm_va ip, void *context)
{
#if defined(__x86_64__)
    struct mmi_walk w;
    mmi_walk(m, mmi_top_for(m, mmi_cpu(m)->process, va), va, &w);
    if (!mmi_walk_valid(&w) || stepping.count == 4)
        return false;
    mm_pfn pfn = mmi_pte_pfn(w.entry[3]);
    if (kind == MM_ACCESS_READ)
        watch_read(m, va, ip, pfn);
    bool writable = (w.entry[3] & (PTE_WRITE | PTE_DIRTY)) == (PTE_WRITE | PTE_DIRTY);
    if (writable && m->store.kept)
        mmi_store_keep(&m->store, pfn); /* the host may write it during the step */
    mm_va page = MM_PAGE_ALIGN(va);
    if (mmap((void *)(uintptr_t)page, MM_PAGE_SIZE, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED | MAP_FIXED,
             m->hostview->fd, (off_t)(pfn * MM_PAGE_SIZE)) == MAP_FAILED)
        return false;
    stepping.page[stepping.count++] = page;
    ((ucontext_t *)context)->uc_mcontext.gregs[REG_EFL] |= 0x100; /* trap after the instruction */
    return true;
#else
    (void)m, (void)va, (void)kind, (void)ip, (void)context;
    return false;
#endif
}

static void on_trap(int sig, siginfo_t *si, void *context)
{
#if defined(__x86_64__)
    if (stepping.count) {
        for (unsigned i = 0; i < stepping.count; i++)
            mmap((void *)(uintptr_t)stepping.page[i], MM_PAGE_SIZE, PROT_NONE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
        stepping.count = 0;
        ((ucontext_t *)context)->uc_mcontext.gregs[REG_EFL] &= ~(greg_t)0x100;
        return;
    }
#endif
    if (previous_trap.sa_flags & SA_SIGINFO) {
        if (previous_trap.sa_sigaction)
            previous_trap.sa_sigaction(sig, si, context);
    } else if (previous_trap.sa_handler != SIG_DFL && previous_trap.sa_handler != SIG_IGN) {
        previous_trap.sa_handler(sig);
    } else {
        signal(sig, SIG_DFL);
        raise(sig);
    }
}

mm_status mm_machine_watch_user_reads(mm_machine *m, const struct mm_watch_config *cfg)
{
    if (!m)
        return MM_STATUS_INVALID_PARAMETER;
#if !defined(__x86_64__)
    (void)cfg;
    return MM_STATUS_NOT_SUPPORTED;
#else
    struct mmi_hostview *h = m->hostview;
    if (!h)
        return MM_STATUS_NOT_SUPPORTED;
    if (cfg) {
        struct sigaction now;
        if (sigaction(SIGTRAP, NULL, &now) != 0 || !(now.sa_flags & SA_SIGINFO) || now.sa_sigaction != on_trap) {
            struct sigaction sa;
            memset(&sa, 0, sizeof sa);
            sa.sa_sigaction = on_trap;
            sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
            sigemptyset(&sa.sa_mask);
            if (sigaction(SIGTRAP, &sa, &previous_trap) != 0)
                return MM_STATUS_INSUFFICIENT_RESOURCES;
        }
    }
    h->watch = cfg != NULL;
    h->flip = cfg && cfg->flip;
    h->rng = cfg ? cfg->seed : 0;
    h->reads = 0;
    mmi_tlb_flush_user(m); /* no user page stays in the host view */
    return MM_STATUS_SUCCESS;
#endif
}

void mm_machine_watch_reset(mm_machine *m)
{
    if (m && m->hostview)
        m->hostview->reads = 0;
}

/* A bug check whose hook returned leaves the faulting instruction with
 * nothing it can do: the host process stops, as Windows does. */
static void stop_after(mm_machine *m)
{
    fprintf(stderr, "mmsim: bugcheck 0x%X/0x%llX in %s: driver code cannot continue past it\n", m->bugcheck.code,
            (unsigned long long)m->bugcheck.p[0], m->bugcheck.operation ? m->bugcheck.operation : "?");
    fflush(NULL);
    abort();
}

/* A fault at an address no machine owns: the thread's machine takes it
 * when driver code made it (the instruction lies in a loaded driver
 * image) or the WDK layer runs drivers on it (an exception dispatcher is
 * installed). To the model it is then an address like any other: a user
 * address no VAD covers (NULL) is an access violation, an unmapped system
 * address 0x50, either at raised IRQL 0xD1/0x0A. Anything else is not
 * ours. */
static mm_machine *stray_fault(mm_va ip)
{
    mm_machine *m = thread_machine;
    if (!m || m->dead || !m->hostview)
        return NULL;
    return m->exception_fn || mm_image_at(m, ip) ? m : NULL;
}

static void on_fault(int sig, siginfo_t *si, void *context)
{
    mm_va va = (mm_va)(uintptr_t)si->si_addr;
    mm_va ip = instruction_address(context);
    mm_machine *m = machine_for(va);
    bool stray = false;
    if (!m && (m = stray_fault(ip)) != NULL)
        stray = true;
    if (!m) {
        chain(sig, si, context);
        return;
    }
    if (m->dead) {
        /* After a bug check the driver's code is abandoned; what still
         * reads its image (the loader at exit, an unwinder, a leak
         * checker) gets ordinary memory. */
        if (mmi_host_image_give_back_at(m, va))
            return;
        stop_after(m);
    }
    mm_access kind = access_kind(m, va, context);
    mmi_op_begin(m, "CpuAccess");
    mm_status st = mmi_host_access(m, va, kind, ip);
    if (MM_SUCCESS(st) && stray && !m->dead) /* the model has it, the host view cannot show it */
        st = mmi_bugcheck(m, MM_BUGCHECK_PAGE_FAULT_IN_NONPAGED_AREA, va, mmi_fault_access_code(kind), ip, 0,
                          MM_PFN_NONE, va, "a touch of %016llx, outside the machine's host ranges",
                          (unsigned long long)va);
    if (MM_SUCCESS(st) && m->hostview->watch && mmi_is_user_va(m, va) && !m->dead &&
        watch_step(m, va, kind, ip, context))
        return; /* mapped for one instruction */
    if (MM_SUCCESS(st))
        return; /* mapped: the instruction runs again */
    if (st == MM_STATUS_ACCESS_VIOLATION && !m->dead && m->exception_fn)
        /* A kernel-mode access to a bad user address raises an exception:
         * the dispatcher (the WDK layer's __try/__except) may leave for a
         * handler with siglongjmp. */
        m->exception_fn(m->exception_ctx, m, st, va, kind == MM_ACCESS_WRITE, ip);
    if (st == MM_STATUS_ACCESS_VIOLATION && !m->dead)
        /* Nobody handled it: the kernel stops with KMODE_EXCEPTION_NOT_HANDLED. */
        mmi_bugcheck(m, MM_BUGCHECK_KMODE_EXCEPTION_NOT_HANDLED, (uint64_t)(uint32_t)MM_STATUS_ACCESS_VIOLATION,
                     ip, kind == MM_ACCESS_WRITE, va, MM_PFN_NONE, va,
                     "%s of user address %016llx by kernel-mode code with no exception handler: the access "
                     "violation it raised was not handled",
                     kind == MM_ACCESS_WRITE ? "a write" : "a read", (unsigned long long)va);
    stop_after(m);
}

/* Ours goes in front of whatever handles SIGSEGV now, at each machine's
 * start: a test framework that installed its own since (CMocka does, per
 * test) is then behind ours, and gets every fault that is not ours. */
static bool install_handler(void)
{
    struct sigaction now;
    if (sigaction(SIGSEGV, NULL, &now) == 0 && (now.sa_flags & SA_SIGINFO) && now.sa_sigaction == on_fault)
        return true;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    /* SA_NODEFER: a bug-check hook may leave the handler with longjmp, and
     * SIGSEGV must not stay blocked after it. */
    sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    return sigaction(SIGSEGV, &sa, &previous) == 0;
}

mm_status mmi_host_attach(mm_machine *m)
{
    if (m->store.fd < 0 || !m->store.base)
        return MM_STATUS_NOT_SUPPORTED; /* frames must live in the memory file */
    struct mmi_hostview *h = mmi_alloc(m, sizeof *h);
    if (!h)
        return MM_STATUS_INSUFFICIENT_RESOURCES;
    h->base = m->layout.lowest_user_address & ~(mm_va)(MMI_HOSTED_ALIGN - 1);
    h->end = m->layout.system_end;
    h->fd = m->store.fd;
    h->dormant = mmi_dormant_new(); /* without it, every drop unmaps */
    unsigned slot = MAX_MACHINES;
    for (unsigned i = 0; i < MAX_MACHINES && slot == MAX_MACHINES; i++) {
        int free_slot = 0;
        if (atomic_compare_exchange_strong(&machines[i].claimed, &free_slot, 1))
            slot = i;
    }
    if (slot == MAX_MACHINES || !install_handler()) {
        if (slot != MAX_MACHINES)
            atomic_store(&machines[slot].claimed, 0);
        mmi_dormant_free(h->dormant);
        mmi_free(m, h);
        return MM_STATUS_INSUFFICIENT_RESOURCES;
    }
    machines[slot].lo = h->base;
    machines[slot].hi = h->end;
    atomic_store(&machines[slot].ranges, 0);
    h->slot = slot;
    atomic_store(&machines[slot].m, m);
    m->hostview = h;
    mmi_tlb_flush_all(m); /* what the TLB cached before has no host mapping */
    m->tlb.host = &ops;
    m->tlb.host_ctx = m;
    return MM_STATUS_SUCCESS;
}

void mmi_host_detach(mm_machine *m)
{
    struct mmi_hostview *h = m->hostview;
    m->tlb.host = NULL;
    if (thread_machine == m)
        thread_machine = NULL;
    if (h)
        mmi_host_images_release(m); /* the loader's objects back in host memory */
    if (h) {
        for (unsigned i = 0; i < MAX_MACHINES; i++) {
            mm_machine *mine = m;
            if (atomic_compare_exchange_strong(&machines[i].m, &mine, NULL))
                atomic_store(&machines[i].claimed, 0);
        }
        mmi_dormant_free(h->dormant);
        mmi_free(m, h);
        m->hostview = NULL;
    }
    if (m->layout.kind == MM_LAYOUT_HOSTED) {
        mm_va base = m->layout.lowest_user_address & ~(mm_va)(MMI_HOSTED_ALIGN - 1);
        munmap(page_ptr(base), (size_t)(m->layout.system_end - base));
    }
}

/* ---- code under test on a simulated kernel stack ---- */

/* The signal handler needs a stack of its own: the fault it handles may be
 * the first touch of the kernel stack the code runs on, or its guard page.
 * One per thread, allocated once (model code runs in the handler). */
#define ALT_STACK_BYTES (256u * 1024u)

static bool ensure_alt_stack(void)
{
    stack_t now;
    if (sigaltstack(NULL, &now) == 0 && !(now.ss_flags & SS_DISABLE) && now.ss_size >= ALT_STACK_BYTES)
        return true;
    static _Thread_local void *mine;
    if (!mine && !(mine = malloc(ALT_STACK_BYTES)))
        return false;
    stack_t ss = {.ss_sp = mine, .ss_size = ALT_STACK_BYTES, .ss_flags = 0};
    return sigaltstack(&ss, NULL) == 0;
}

struct callout {
    void (*fn)(void *);
    void *ctx;
};
static _Thread_local struct callout *running;

static void trampoline(void) { running->fn(running->ctx); }

bool mmi_host_on_kernel_stack(void) { return running != NULL; }

bool mmi_host_watching(const mm_machine *m) { return m->hostview && m->hostview->watch; }

mm_status mm_call_on_kernel_stack(mm_machine *m, void (*fn)(void *ctx), void *ctx)
{
    if (!m || !fn)
        return MM_STATUS_INVALID_PARAMETER;
    if (m->dead)
        return MM_STATUS_MACHINE_DEAD;
    if (!m->hostview)
        return MM_STATUS_NOT_SUPPORTED;
    if (!ensure_alt_stack())
        return MM_STATUS_INSUFFICIENT_RESOURCES;
    mm_va base, limit;
    mm_status st = mm_kernel_stack_create(m, &base, &limit);
    if (!MM_SUCCESS(st))
        return st;
    mmi_op_begin(m, "KeExpandKernelStackAndCallout");
    ucontext_t caller, callee;
    struct callout call = {fn, ctx}, *outer = running;
    if (getcontext(&callee) != 0) {
        mm_kernel_stack_delete(m, base);
        return MM_STATUS_INSUFFICIENT_RESOURCES;
    }
    callee.uc_stack.ss_sp = page_ptr(limit);
    callee.uc_stack.ss_size = (size_t)(base - limit);
    callee.uc_link = &caller;
    makecontext(&callee, trampoline, 0);
    running = &call;
    swapcontext(&caller, &callee); /* back here when fn returns */
    running = outer;
    return m->dead ? MM_STATUS_MACHINE_DEAD : mm_kernel_stack_delete(m, base);
}

#else /* no host view on this host */

mm_status mmi_host_reserve(const struct mm_config *cfg, mm_va *base)
{
    (void)cfg;
    (void)base;
    return MM_STATUS_NOT_SUPPORTED;
}

mm_status mmi_host_attach(mm_machine *m)
{
    (void)m;
    return MM_STATUS_NOT_SUPPORTED;
}

void mmi_host_detach(mm_machine *m) { (void)m; }

bool mmi_host_on_kernel_stack(void) { return false; }

bool mmi_host_watching(const mm_machine *m)
{
    (void)m;
    return false;
}

void mmi_host_enter(mm_machine *m) { (void)m; }

void mm_machine_pin_fault_handler(mm_machine *m, bool pinned)
{
    (void)m;
    (void)pinned;
}

mm_status mm_machine_watch_user_reads(mm_machine *m, const struct mm_watch_config *cfg)
{
    (void)cfg;
    return m ? MM_STATUS_NOT_SUPPORTED : MM_STATUS_INVALID_PARAMETER;
}

void mm_machine_watch_reset(mm_machine *m) { (void)m; }

mm_status mm_call_on_kernel_stack(mm_machine *m, void (*fn)(void *ctx), void *ctx)
{
    (void)fn;
    (void)ctx;
    return m ? MM_STATUS_NOT_SUPPORTED : MM_STATUS_INVALID_PARAMETER;
}

#endif
