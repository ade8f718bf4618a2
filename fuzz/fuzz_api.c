/* fuzz/fuzz_api.c — libFuzzer target for the native API: the input's bytes
 * choose a small machine and up to MAX_OPS calls of the public DDIs, whose
 * operands come from small pools of live handles and addresses (plus some
 * garbage). A simulated bug check is a normal end; a host crash, sanitizer
 * report, assertion, broken invariant or leaked host byte is a bug.
 *
 * Input layout: CONFIG_BYTES bytes of machine configuration, then one
 * opcode byte per operation followed by the operand bytes it reads. Reads
 * past the end give zeros, so every input is valid and runs are
 * deterministic. FUZZ_API_AVOID=<hex mask> in the environment skips known
 * bug patterns (AVOID_* below) so a campaign can look past them. */
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mm/mm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_OPS 200
#define CONFIG_BYTES 8
#define MAX_PROCS 6
#define MAX_ADDRS 48
#define MAX_MDLS 12
#define MAX_IMAGES 3
#define MAX_SECTIONS 4
#define MAX_RESERVED 4
#define MAX_IRPS 4
#define MAX_ATTACH 6
#define MAX_LOCKS 8
#define MAX_PHYS 6
#define MAX_STACKS 3
#define MAX_CPUS 2
#define BUF_SIZE 0x10000

/* Known bug patterns a campaign may skip (FUZZ_API_AVOID). */
#define AVOID_WRONG_UNMAP 0x1u      /* MmUnmapLockedPages at an address the MDL is not mapped at */
#define AVOID_COMMIT_IN_MAP 0x2u    /* MEM_COMMIT inside an MDL's user mapping */
#define AVOID_DECOMMIT 0x4u         /* MEM_DECOMMIT */
#define AVOID_STALE_DMA 0x8u        /* device writes through an MDL that holds no lock */
#define AVOID_DOUBLE_LOCK 0x10u     /* MmProbeAndLockPages on an MDL already locked */
#define AVOID_WILD_WRITES 0x20u     /* kernel writes outside the buffers the driver owns */
#define AVOID_BAD_HANDLE_VADS 0x40u /* mm_process_vads on a handle that is no process */
#define AVOID_SYSTEM_USER_MAP 0x80u /* a user mapping requested at a system-space address */
#define AVOID_FREE_EPROCESS 0x100u  /* ExFreePool of a block that is now an EPROCESS */
#define AVOID_IOSPACE_RAM 0x200u    /* MmMapIoSpace over RAM (maybe free) without Verifier */
#define AVOID_WIDE_PHYSICAL 0x400u  /* a physical address beyond 48 bits */

/* What an address in the pool is. */
enum addr_kind {
    A_USER, A_NONPAGED, A_PAGED, A_IMAGE, A_SYSMAP, A_USERMAP, A_RESMAP, A_VIEW, A_IOSPACE, A_PHYSICAL, A_STACK
};

/* MmMapIoSpace, MmAllocateNonCachedMemory, MmAllocateContiguousMemory. */
enum phys_kind { P_IOSPACE, P_NONCACHED, P_CONTIGUOUS };
struct phys {
    mm_va va;
    uint64_t bytes;
    uint8_t kind;
};

struct addr {
    mm_va va;
    uint64_t size;
    mm_process *proc; /* address space of a user address */
    uint8_t kind;
    uint32_t tag;     /* pool blocks: the allocation's tag */
};

struct mdl_slot {
    mm_va va;
    mm_va sys, user;  /* mappings the fuzzer last got for it */
    mm_process *user_proc;
    bool from_pages;  /* MmAllocatePagesForMdl */
};

struct reserved {
    mm_va base;
    uint32_t tag;
};

struct failing_alloc {
    uint64_t calls, fail_at, fail_every; /* 0: never */
    int64_t live;
    bool paused; /* while the fuzzer itself checks invariants */
};

static struct fuzz {
    const uint8_t *data;
    size_t size, at;
    mm_machine *m;
    jmp_buf jump;
    bool longjmp_hook, bugchecked, corrupt, prelude;
    unsigned op_index;
    const char *op_name;
    uint32_t avoid;
    uint32_t cpus;
    mm_process *procs[MAX_PROCS];
    unsigned nprocs;
    struct addr addrs[MAX_ADDRS];
    unsigned naddrs, addr_next;
    struct mdl_slot mdls[MAX_MDLS];
    unsigned nmdls, mdl_next;
    mm_image *images[MAX_IMAGES];
    unsigned nimages;
    mm_section *sections[MAX_SECTIONS];
    unsigned nsections;
    struct reserved res[MAX_RESERVED];
    unsigned nres;
    mm_va irps[MAX_IRPS];
    unsigned nirps;
    mm_va locks[MAX_LOCKS]; /* MmLockPagableCodeSection handles */
    unsigned nlocks;
    struct phys phys[MAX_PHYS];
    unsigned nphys;
    mm_va stacks[MAX_STACKS]; /* kernel stack bases */
    unsigned nstacks;
    uint64_t physical_pages;
    struct mm_apc_state apc[MAX_CPUS][MAX_ATTACH];
    unsigned depth[MAX_CPUS];
    struct failing_alloc alloc;
    /* Snapshot mode: the machine keeps a snapshot (taken after the
     * prelude, or by the op "snapshot"); a bug check or the op "restore"
     * brings it back and the input goes on. */
    bool snapshots, have_snapshot;
    struct mm_memory_counts snap_counts;
    uint64_t snap_bytes;
} F;

/* The harness's own state as it was at the snapshot: its handles are
 * valid again after a restore, and only those. */
static unsigned char saved_harness[sizeof F];
/* Totals over the run (FUZZ_API_COUNT=1 prints them at exit). */
static uint64_t total_ops, total_restores, total_bugchecks;

static uint8_t buf[BUF_SIZE];

/* ---- input ---- */

static uint8_t u8(void) { return F.at < F.size ? F.data[F.at++] : 0; }
static uint16_t u16(void) { return (uint16_t)(u8() | (unsigned)u8() << 8); }
static uint32_t u32(void) { return u16() | (uint32_t)u16() << 16; }
static uint64_t u64(void) { return u32() | (uint64_t)u32() << 32; }
static unsigned pick(unsigned n) { return n ? u8() % n : 0; }
static bool chance(unsigned in256) { return u8() < in256; }

/* ---- FUZZ_API_VERBOSE=1: each call and what it returned ---- */

static bool verbose;
static mm_va watch; /* FUZZ_API_WATCH=<hex va>: its PTE after every operation */

static uint64_t say(const char *call, uint64_t value)
{
    if (verbose) {
        int32_t st = (int32_t)value;
        fprintf(stderr, "  %s -> 0x%llx", call, (unsigned long long)value);
        if ((uint64_t)(int64_t)st == value || (uint64_t)(uint32_t)st == value)
            fprintf(stderr, " %s", mm_status_name(st));
        fputc('\n', stderr);
    }
    return value;
}
#define SAY(expr) say(#expr, (uint64_t)(expr))
#define VLOG(...) (verbose ? (void)fprintf(stderr, "    . " __VA_ARGS__) : (void)0)

/* ---- host allocator: counts live blocks, fails on request ---- */

static bool should_fail(struct failing_alloc *f)
{
    if (f->paused)
        return false;
    f->calls++;
    if (f->fail_at && f->calls == f->fail_at)
        return true;
    return f->fail_every && f->calls % f->fail_every == 0;
}

static void *f_alloc(void *ctx, size_t size)
{
    struct failing_alloc *f = ctx;
    if (should_fail(f))
        return NULL;
    void *p = malloc(size);
    f->live += p != NULL;
    return p;
}

static void *f_realloc(void *ctx, void *p, size_t size)
{
    struct failing_alloc *f = ctx;
    if (should_fail(f))
        return NULL;
    void *n = realloc(p, size);
    f->live += n != NULL && p == NULL;
    return n;
}

static void f_free(void *ctx, void *p)
{
    struct failing_alloc *f = ctx;
    f->live -= p != NULL;
    free(p);
}

/* ---- findings of the fuzzer itself ---- */

static void fuzz_bug(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_api: %s at op %u (%s): %s\n", what, F.op_index, F.op_name ? F.op_name : "-",
            detail ? detail : "");
    abort();
}

static void bugcheck_hook(void *ctx, mm_machine *m, const struct mm_bugcheck *bc)
{
    (void)ctx;
    (void)m;
    char text[2048];
    mm_bugcheck_format(bc, text, sizeof text); /* the report must format */
    if (verbose)
        fprintf(stderr, "  BUGCHECK 0x%X (0x%llx, 0x%llx, 0x%llx, 0x%llx) in %s: %s\n", bc->code,
                (unsigned long long)bc->p[0], (unsigned long long)bc->p[1], (unsigned long long)bc->p[2],
                (unsigned long long)bc->p[3], bc->operation ? bc->operation : "?", bc->explanation);
    F.bugchecked = true;
    if (F.longjmp_hook)
        longjmp(F.jump, 1);
}

static void trace_hook(void *ctx, const struct mm_trace_event *ev)
{
    (void)ctx;
    char line[256];
    mm_trace_format(ev, line, sizeof line);
    if (verbose)
        fprintf(stderr, "    %s\n", line);
}

/* ---- pools of live objects ---- */

static struct addr *add_addr(mm_va va, uint64_t size, mm_process *proc, enum addr_kind kind)
{
    static struct addr none;
    if (!va)
        return &none;
    struct addr *a = F.naddrs < MAX_ADDRS ? &F.addrs[F.naddrs++] : &F.addrs[F.addr_next++ % MAX_ADDRS];
    *a = (struct addr){va, size ? size : 1, proc, (uint8_t)kind, 0};
    return a;
}

static struct mdl_slot *add_mdl(mm_va va, bool from_pages)
{
    if (!va)
        return NULL;
    struct mdl_slot s = {.va = va, .from_pages = from_pages};
    unsigned i = F.nmdls < MAX_MDLS ? F.nmdls++ : F.mdl_next++ % MAX_MDLS;
    F.mdls[i] = s;
    return &F.mdls[i];
}

static mm_process *pick_proc(void)
{
    unsigned n = pick(F.nprocs + 3);
    if (n < F.nprocs)
        return F.procs[n];
    if (n == F.nprocs)
        return mm_process_system(F.m);
    if (n == F.nprocs + 1)
        return mm_process_current(F.m);
    return (mm_process *)(uintptr_t)0x1234; /* never a process: only looked up */
}

/* A process argument: NULL (the current one) most often. */
static mm_process *pick_proc_arg(void) { return chance(160) ? NULL : pick_proc(); }

static const mm_va garbage_vas[] = {
    0, 1, 0xFFF, MM_LOWEST_USER_ADDRESS, MM_LOWEST_USER_ADDRESS + 0x10000, 0x7FFE0000, MM_HIGHEST_USER_ADDRESS,
    MM_HIGHEST_USER_ADDRESS - 0xFFF, MM_USER_PROBE_ADDRESS, UINT64_C(0x0000800000000000), MM_SYSTEM_RANGE_START,
    MM_PTE_BASE, MM_PDE_BASE, MM_PXE_BASE, MM_DRIVER_IMAGE_START, MM_SYSTEM_PTE_START,
    MM_SYSTEM_PTE_START + 0x3000, MM_PAGED_POOL_START, MM_PAGED_POOL_START + 0x10, MM_PFN_DATABASE,
    MM_PFN_DATABASE + 0x100000, UINT64_C(0xFFFFFA8000400010), UINT64_MAX, UINT64_MAX - 0xFFF,
};
#define GARBAGE_VAS (sizeof garbage_vas / sizeof garbage_vas[0])

/* An address inside a known object (or, now and then, anywhere). */
static mm_va pick_addr_ex(struct addr **from)
{
    unsigned mode = u8();
    *from = NULL;
    if (F.naddrs && mode < 246) {
        struct addr *a = &F.addrs[pick(F.naddrs)];
        *from = a;
        unsigned how = u8();
        if (how < 140)
            return a->va;
        if (how < 210)
            return a->va + (uint64_t)pick(16) * MM_PAGE_SIZE % (a->size + MM_PAGE_SIZE) + (u8() & 0xF) * 0x10;
        if (how < 240)
            return a->va + (a->size ? a->size - 1 : 0);
        return a->va + u16();
    }
    if (mode < 252)
        return garbage_vas[pick(GARBAGE_VAS)];
    return u64();
}

static mm_va pick_addr(void)
{
    struct addr *a;
    return pick_addr_ex(&a);
}

/* An address of that kind, or 0 when there is none. */
static mm_va pick_addr_of(enum addr_kind kind)
{
    unsigned of[MAX_ADDRS], n = 0;
    for (unsigned i = 0; i < F.naddrs; i++)
        if (F.addrs[i].kind == kind)
            of[n++] = i;
    if (!n)
        return 0;
    const struct addr *a = &F.addrs[of[pick(n)]];
    return a->va + (chance(128) ? 0 : u16() % a->size);
}

/* The rare deliberate misuse: about one call in twenty. */
static bool misuse(void) { return chance(12); }

static struct mdl_slot *pick_mdl_slot(void) { return F.nmdls ? &F.mdls[pick(F.nmdls)] : NULL; }

/* An MDL, or 0 (the caller then does nothing) when there is none. */
static mm_va pick_mdl(void)
{
    if (misuse())
        return pick_addr();
    return F.nmdls ? F.mdls[pick(F.nmdls)].va : 0;
}

static uint64_t pick_length(void)
{
    static const uint64_t odd[] = {0, 1, 0xFFF, 0x1000, 0x1001, 0x10000, 0x7FFFFFFF, 0xFFFFFFFF};
    unsigned how = u8();
    if (how < 100)
        return (uint64_t)(u8() % 8 + 1) * MM_PAGE_SIZE;
    if (how < 200)
        return u16() % (6 * MM_PAGE_SIZE) + 1;
    if (how < 240)
        return (uint64_t)(u8() % 64 + 1) * MM_PAGE_SIZE;
    return odd[pick(sizeof odd / sizeof odd[0])];
}

static uint32_t pick_protect(void)
{
    static const uint32_t prot[] = {
        MM_PAGE_READWRITE, MM_PAGE_READWRITE, MM_PAGE_READONLY, MM_PAGE_NOACCESS, MM_PAGE_EXECUTE,
        MM_PAGE_EXECUTE_READ, MM_PAGE_EXECUTE_READWRITE, MM_PAGE_WRITECOPY, MM_PAGE_EXECUTE_WRITECOPY,
        MM_PAGE_READWRITE | MM_PAGE_GUARD, MM_PAGE_READONLY | MM_PAGE_GUARD, MM_PAGE_READWRITE | MM_PAGE_NOCACHE,
        MM_PAGE_READWRITE | MM_PAGE_WRITECOMBINE, 0, 0x3, MM_PAGE_NOACCESS | MM_PAGE_GUARD,
    };
    return prot[pick(sizeof prot / sizeof prot[0])];
}

static bool misuse(void);

static uint32_t pick_tag(void)
{
    static const uint32_t tags[] = {MM_POOL_TAG('F', 'u', 'z', 'z'), MM_POOL_TAG('T', 'e', 's', 't'),
                                    MM_POOL_TAG('M', 'd', 'l', ' '), 0, MM_POOL_TAG('B', 'I', 'G', ' ')};
    return tags[misuse() ? pick(5) : pick(3)];
}

static bool in_user_mapping(mm_va va, uint64_t size)
{
    for (unsigned i = 0; i < F.naddrs; i++) {
        const struct addr *a = &F.addrs[i];
        if (a->kind == A_USERMAP && va < MM_PAGE_ALIGN(a->va) + a->size + MM_PAGE_SIZE && va + size > a->va)
            return true;
    }
    return false;
}

static bool mdl_flags(mm_va mdl, unsigned *flags)
{
    struct mm_mdl h;
    if (mm_mdl_read(F.m, mdl, &h, NULL, 0) != MM_STATUS_SUCCESS)
        return false;
    *flags = (uint16_t)h.MdlFlags;
    return true;
}

/* FUZZ_API_VERBOSE: the MDL header an operation used. */
static void show_mdl(const char *what, mm_va mdl)
{
    struct mm_mdl h;
    if (!verbose || mm_mdl_read(F.m, mdl, &h, NULL, 0) != MM_STATUS_SUCCESS)
        return;
    VLOG("%s mdl %016llx: StartVa %016llx ByteOffset 0x%x ByteCount 0x%x flags 0x%04x MappedSystemVa %016llx "
         "Process %016llx\n", what, (unsigned long long)mdl, (unsigned long long)h.StartVa, h.ByteOffset, h.ByteCount,
         (uint16_t)h.MdlFlags, (unsigned long long)h.MappedSystemVa, (unsigned long long)h.Process);
}

/* ---- operations ---- */

static void op_process_create(void)
{
    static const char *const names[] = {"app.exe", "svc.exe", "", "a-very-long-process-name.exe"};
    mm_process *p = NULL;
    const char *name = names[pick(4)];
    if (SAY(mm_process_create(F.m, name, &p)) == MM_STATUS_SUCCESS && p) {
        if (F.nprocs < MAX_PROCS)
            F.procs[F.nprocs++] = p;
        else
            F.procs[pick(MAX_PROCS)] = p;
    }
}

static void op_process_terminate(void) { mm_process_terminate(F.m, pick_proc()); }
/* Handles stay in F.procs after a close: a stale handle must be refused. */
static void op_process_close(void) { SAY(mm_process_close(F.m, pick_proc())); }

static void op_attach(void)
{
    uint32_t cpu = mm_cpu_current(F.m);
    if (cpu >= MAX_CPUS || F.depth[cpu] >= MAX_ATTACH)
        return;
    if (SAY(mm_process_attach(F.m, pick_proc(), &F.apc[cpu][F.depth[cpu]])) == MM_STATUS_SUCCESS)
        F.depth[cpu]++;
}

static void op_detach(void)
{
    uint32_t cpu = mm_cpu_current(F.m);
    if (cpu >= MAX_CPUS)
        return;
    if (!misuse()) {
        if (F.depth[cpu] && SAY(mm_process_detach(F.m, &F.apc[cpu][F.depth[cpu] - 1])) == MM_STATUS_SUCCESS)
            F.depth[cpu]--;
        return;
    }
    struct mm_apc_state wrong;
    if (chance(128) && F.depth[cpu] > 1) {
        wrong = F.apc[cpu][0]; /* out of order */
    } else {
        memset(&wrong, 0, sizeof wrong);
        wrong.magic = u32();
    }
    SAY(mm_process_detach(F.m, &wrong));
}

static void op_virtual_alloc(void)
{
    static const uint32_t types[] = {MM_MEM_RESERVE | MM_MEM_COMMIT, MM_MEM_RESERVE, MM_MEM_COMMIT,
                                     MM_MEM_RESERVE | MM_MEM_COMMIT, MM_MEM_COMMIT, 0, MM_MEM_DECOMMIT,
                                     MM_MEM_RESERVE | 0x80000};
    mm_process *p = pick_proc_arg();
    uint32_t type = types[pick(sizeof types / sizeof types[0])];
    uint32_t protect = pick_protect();
    mm_va base = chance(100) ? 0 : pick_addr();
    uint64_t size = pick_length();
    if ((F.avoid & AVOID_COMMIT_IN_MAP) && (type & MM_MEM_COMMIT) && base && in_user_mapping(base, size))
        return;
    if ((F.avoid & AVOID_DECOMMIT) && (type & MM_MEM_DECOMMIT))
        return;
    mm_va got = base;
    uint64_t got_size = size;
    VLOG("base %016llx size 0x%llx type 0x%x protect 0x%x process %p\n", (unsigned long long)base,
         (unsigned long long)size, type, protect, (void *)p);
    if (SAY(mm_virtual_alloc(F.m, p, &got, &got_size, type, protect)) == MM_STATUS_SUCCESS)
        add_addr(got, got_size, p ? p : mm_process_current(F.m), A_USER);
}

static void op_virtual_free(void)
{
    static const uint32_t types[] = {MM_MEM_RELEASE, MM_MEM_DECOMMIT, MM_MEM_RELEASE, 0,
                                     MM_MEM_RELEASE | MM_MEM_DECOMMIT};
    mm_process *p = pick_proc_arg();
    uint32_t type = types[pick(sizeof types / sizeof types[0])];
    if ((F.avoid & AVOID_DECOMMIT) && (type & MM_MEM_DECOMMIT))
        return;
    mm_va base = pick_addr();
    uint64_t size = chance(128) ? 0 : pick_length();
    VLOG("base %016llx size 0x%llx type 0x%x\n", (unsigned long long)base, (unsigned long long)size, type);
    SAY(mm_virtual_free(F.m, p, &base, &size, type));
}

static void op_virtual_protect(void)
{
    mm_process *p = pick_proc_arg();
    mm_va base = pick_addr();
    uint64_t size = pick_length();
    uint32_t old = 0;
    SAY(mm_virtual_protect(F.m, p, &base, &size, pick_protect(), chance(240) ? &old : NULL));
}

static void op_virtual_query(void)
{
    struct mm_region_info info;
    mm_process *p = pick_proc_arg();
    mm_va va = pick_addr();
    if (SAY(mm_virtual_query(F.m, p, va, &info)) == MM_STATUS_SUCCESS && info.region_size == 0)
        fuzz_bug("query", "a region of size 0");
}

/* Is va inside an object the driver itself owns (so writing it is fair)? */
static bool owned_buffer(mm_va va, size_t len, const struct addr *from)
{
    if (!from)
        return false;
    if (from->kind == A_NONPAGED || from->kind == A_PAGED) {
        /* pool blocks that hold MDLs or IRPs are the DDIs' own */
        for (unsigned i = 0; i < F.nmdls; i++)
            if (F.mdls[i].va == from->va)
                return false;
    }
    return va >= from->va && va + len <= from->va + from->size;
}

static void op_access(void)
{
    static const size_t lens[] = {1, 8, 16, 0x100, 0x1000, 0x1001, 0x2000, 0x3010, 0};
    struct addr *from;
    struct mm_access_request req = {0};
    req.va = pick_addr_ex(&from);
    req.length = lens[pick(sizeof lens / sizeof lens[0])];
    req.kind = (mm_access)(misuse() ? MM_ACCESS_EXECUTE : pick(2));
    req.mode = from && (from->kind == A_USER || from->kind == A_USERMAP || from->kind == A_VIEW) && chance(128)
                   ? MM_USER_MODE : MM_KERNEL_MODE;
    if (chance(8))
        req.mode = (mm_mode)u8();
    req.buffer = chance(40) ? NULL : buf;
    req.ip = chance(200) ? 0 : pick_addr();
    if (req.kind == MM_ACCESS_WRITE && req.mode == MM_KERNEL_MODE && !owned_buffer(req.va, req.length, from)) {
        if (F.avoid & AVOID_WILD_WRITES)
            req.kind = MM_ACCESS_READ;
        else
            F.corrupt = true; /* the driver scribbles on memory it does not own */
    }
    if (req.buffer && req.kind == MM_ACCESS_WRITE)
        memset(buf, u8(), req.length < BUF_SIZE ? req.length : BUF_SIZE);
    VLOG("va %016llx length 0x%zx kind %u mode %u buffer %s\n", (unsigned long long)req.va, req.length, req.kind,
         req.mode, req.buffer ? "yes" : "NULL");
    SAY(mm_access_memory(F.m, &req));
}

static void op_pool_allocate(void)
{
    static const uint64_t sizes[] = {1, 0x10, 0x30, 0x100, 0xFF0, 0x1000, 0x1001, 0x2000, 0x3800, 0x10000, 0};
    mm_pool_type type = chance(150) ? MM_NONPAGED_POOL : chance(250) ? MM_PAGED_POOL : (mm_pool_type)u8();
    uint64_t bytes = chance(200) ? sizes[pick(sizeof sizes / sizeof sizes[0])] : u16();
    uint32_t tag = pick_tag();
    mm_va block = SAY(mm_pool_allocate(F.m, type, bytes, tag));
    add_addr(block, bytes, NULL, type == MM_PAGED_POOL ? A_PAGED : A_NONPAGED)->tag = tag;
}

static bool is_eprocess(mm_va va)
{
    struct mm_process_info info;
    for (mm_process *p = mm_process_next(F.m, NULL); p; p = mm_process_next(F.m, p))
        if (mm_process_query(F.m, p, &info) == MM_STATUS_SUCCESS && info.eprocess == va && !info.terminated)
            return true;
    return false;
}

/* ExFreePool / IoFreeMdl of va, unless FUZZ_API_AVOID skips freeing an EPROCESS. */
static bool may_free(mm_va va) { return !(F.avoid & AVOID_FREE_EPROCESS) || !is_eprocess(va); }

static void op_pool_free(void)
{
    unsigned blocks[MAX_ADDRS], n = 0;
    for (unsigned i = 0; i < F.naddrs; i++)
        if (F.addrs[i].kind == A_NONPAGED || F.addrs[i].kind == A_PAGED)
            blocks[n++] = i;
    if (!n || chance(20)) {
        mm_va va = pick_addr();
        if (may_free(va))
            SAY(mm_pool_free(F.m, va, chance(128) ? 0 : pick_tag()));
        return;
    }
    unsigned i = blocks[pick(n)];
    if (may_free(F.addrs[i].va))
        SAY(mm_pool_free(F.m, F.addrs[i].va, chance(200) ? F.addrs[i].tag : pick_tag()));
    if (chance(240)) /* usually forget it; a kept one is a use after free */
        F.addrs[i] = F.addrs[--F.naddrs];
}

static void op_image_load(void)
{
    static const struct {
        const char *name;
        uint32_t flags;
    } kinds[] = {{".text", MM_SECTION_CODE}, {".data", MM_SECTION_WRITE}, {"PAGE", MM_SECTION_CODE},
                 {"PAGEDATA", MM_SECTION_WRITE}, {"INIT", MM_SECTION_CODE}, {".rdata", 0},
                 {"PAGEWX", MM_SECTION_CODE | MM_SECTION_WRITE}, {"TOOLONGNAME", 0}};
    static const char payload[] = "driver code and data";
    struct mm_section_desc d[6];
    unsigned count = pick(6) + 1;
    for (unsigned i = 0; i < count; i++) {
        unsigned k = pick(sizeof kinds / sizeof kinds[0]);
        d[i] = (struct mm_section_desc){.name = kinds[k].name, .flags = kinds[k].flags,
                                        .size = (uint32_t)(pick(3 * MM_PAGE_SIZE / 64) * 64 + 1)};
        if (chance(64)) {
            d[i].data = payload;
            d[i].data_size = sizeof payload < d[i].size ? sizeof payload : d[i].size;
        }
    }
    if (F.nimages >= MAX_IMAGES)
        return;
    mm_image *img = NULL;
    if (SAY(mm_image_load(F.m, chance(250) ? "fuzz.sys" : "", d, count, &img)) != MM_STATUS_SUCCESS || !img)
        return;
    F.images[F.nimages++] = img;
    for (unsigned i = 0; i < count; i++) {
        struct mm_section_info s;
        if (mm_image_section(F.m, img, i, &s) == MM_STATUS_SUCCESS)
            add_addr(s.base, s.size, NULL, A_IMAGE);
    }
}

static mm_image *pick_image(void) { return F.nimages ? F.images[pick(F.nimages)] : NULL; }

static void op_image_discard_init(void) { mm_image_discard_init(F.m, pick_image()); }
static void op_image_unload(void) { mm_image_unload(F.m, pick_image()); }

static void op_image_query(void)
{
    mm_image *img = pick_image();
    struct mm_image_info info;
    struct mm_section_info s;
    SAY(mm_image_query(F.m, img, &info));
    mm_image_section(F.m, img, pick(8), &s);
    SAY(mm_image_section_address(F.m, img, chance(128) ? "PAGE" : "INIT"));
    SAY(mm_image_at(F.m, pick_addr()));
}

static void op_lock_pagable(void)
{
    mm_va va = misuse() ? pick_addr() : pick_addr_of(A_IMAGE);
    if (!va)
        return;
    mm_va h = SAY(mm_lock_pagable_section(F.m, va));
    if (h && F.nlocks < MAX_LOCKS)
        F.locks[F.nlocks++] = h;
}

static void op_unlock_pagable(void)
{
    if (F.nlocks && !misuse()) {
        unsigned i = pick(F.nlocks);
        SAY(mm_unlock_pagable_image_section(F.m, F.locks[i]));
        F.locks[i] = F.locks[--F.nlocks];
    } else if (misuse()) {
        SAY(mm_unlock_pagable_image_section(F.m, pick_addr()));
    }
}

static void op_section_create(void)
{
    static const uint32_t prot[] = {MM_PAGE_READWRITE, MM_PAGE_READONLY, MM_PAGE_EXECUTE_READ,
                                    MM_PAGE_EXECUTE_READWRITE, MM_PAGE_WRITECOPY};
    if (F.nsections >= MAX_SECTIONS)
        return;
    mm_section *s = NULL;
    uint64_t size = chance(240) ? (uint64_t)(pick(8) + 1) * MM_PAGE_SIZE - pick(2) * 0x800 : pick_length();
    if (SAY(mm_section_create(F.m, size, prot[pick(5)], &s)) == MM_STATUS_SUCCESS && s)
        F.sections[F.nsections++] = s;
}

static mm_section *pick_section(void)
{
    if (F.nsections && !chance(10))
        return F.sections[pick(F.nsections)];
    return (mm_section *)(uintptr_t)0x4321;
}

static void op_section_map(void)
{
    static const uint32_t prot[] = {MM_PAGE_READWRITE, MM_PAGE_READONLY, MM_PAGE_WRITECOPY,
                                    MM_PAGE_EXECUTE_READ, MM_PAGE_EXECUTE_WRITECOPY, MM_PAGE_NOACCESS};
    mm_section *s = pick_section();
    mm_process *p = pick_proc_arg();
    mm_va base = chance(180) ? 0 : pick_addr();
    if (SAY(mm_map_view_of_section(F.m, s, p, &base, prot[pick(6)])) == MM_STATUS_SUCCESS) {
        struct mm_section_basic_info info;
        uint64_t size = MM_PAGE_SIZE;
        if (mm_section_query(F.m, s, &info) == MM_STATUS_SUCCESS)
            size = info.pages * MM_PAGE_SIZE;
        add_addr(base, size, p ? p : mm_process_current(F.m), A_VIEW);
    }
}

static void op_section_unmap(void) { mm_unmap_view_of_section(F.m, pick_proc_arg(), pick_addr()); }

static void op_section_close(void)
{
    if (!F.nsections)
        return;
    unsigned i = pick(F.nsections);
    SAY(mm_section_close(F.m, F.sections[i]));
    if (chance(200)) /* keep the stale handle sometimes: it must be refused */
        F.sections[i] = F.sections[--F.nsections];
}

static void op_section_query(void)
{
    struct mm_section_basic_info info;
    mm_section_query(F.m, pick_section(), &info);
}

/* IoAllocateMdl over a known buffer (maybe with an IRP). */
static void op_io_allocate_mdl(void)
{
    mm_va va = pick_addr();
    uint32_t length = (uint32_t)pick_length();
    mm_va irp = 0;
    bool secondary = false;
    if (F.nirps && chance(50)) {
        irp = F.irps[pick(F.nirps)];
        secondary = chance(128);
    } else if (chance(4)) {
        secondary = true;
    }
    VLOG("va %016llx length 0x%x secondary %d irp %016llx\n", (unsigned long long)va, length, secondary,
         (unsigned long long)irp);
    add_mdl(SAY(mm_io_allocate_mdl(F.m, va, length, secondary, chance(20), irp)), false);
}

/* MmInitializeMdl on a pool block the driver allocated for it. */
static void op_initialize_mdl(void)
{
    mm_va va = pick_addr();
    uint64_t length = pick_length();
    uint64_t need = mm_size_of_mdl(va, length);
    mm_va mdl;
    if (chance(200)) {
        mdl = SAY(mm_pool_allocate(F.m, MM_NONPAGED_POOL, need > 0x10000 ? 0x10000 : need, MM_POOL_TAG('M', 'y', 'M', 'd')));
        if (!mdl)
            return;
    } else {
        mdl = pick_mdl();
    }
    VLOG("va %016llx length 0x%llx\n", (unsigned long long)va, (unsigned long long)length);
    if (SAY(mm_initialize_mdl(F.m, mdl, va, length)) == MM_STATUS_SUCCESS)
        add_mdl(mdl, false);
}

static void op_build_nonpaged(void)
{
    mm_va mdl = pick_mdl();
    if (mdl)
        SAY(mm_build_mdl_for_nonpaged_pool(F.m, mdl));
}

static void op_build_partial(void)
{
    struct mdl_slot *src = pick_mdl_slot();
    mm_va source = src ? src->va : pick_addr();
    mm_va target;
    if (chance(100)) {
        target = SAY(mm_io_allocate_mdl(F.m, pick_addr(), (uint32_t)pick_length(), false, false, 0));
        add_mdl(target, false);
        if (!target)
            return;
    } else {
        target = pick_mdl();
    }
    struct mm_mdl h;
    mm_va va = pick_addr();
    uint32_t length = chance(64) ? 0 : (uint32_t)pick_length();
    if (chance(200) && mm_mdl_read(F.m, source, &h, NULL, 0) == MM_STATUS_SUCCESS && h.ByteCount) {
        /* a sub-range of the source, as drivers split I/O */
        uint32_t off = u16() % h.ByteCount;
        va = MM_MDL_VIRTUAL_ADDRESS(&h) + off;
        if (length > h.ByteCount - off || chance(128))
            length = h.ByteCount - off;
    }
    SAY(mm_io_build_partial_mdl(F.m, source, target, va, length));
}

static void op_probe_and_lock(void)
{
    mm_va mdl = pick_mdl();
    unsigned f;
    if (!mdl || ((F.avoid & AVOID_DOUBLE_LOCK) && mdl_flags(mdl, &f) && (f & MM_MDL_PAGES_LOCKED)))
        return;
    mm_mode mode = chance(100) ? MM_USER_MODE : MM_KERNEL_MODE;
    mm_lock_operation op = (mm_lock_operation)pick(chance(250) ? 3 : 256);
    if (chance(180))
        SAY(mm_probe_and_lock_pages(F.m, mdl, mode, op));
    else
        SAY(mm_probe_and_lock_process_pages(F.m, mdl, pick_proc(), mode, op));
}

static void op_unlock(void)
{
    mm_va mdl = pick_mdl();
    unsigned f;
    if (!mdl || (mdl_flags(mdl, &f) && !(f & MM_MDL_PAGES_LOCKED) && !misuse()))
        return; /* unlocking an unlocked MDL: now and then */
    SAY(mm_unlock_pages(F.m, mdl));
}

static void op_map_locked(void)
{
    struct mdl_slot *s = pick_mdl_slot();
    mm_va mdl = s && !misuse() ? s->va : pick_addr();
    unsigned f;
    if (!mdl || (mdl_flags(mdl, &f) &&
                 !(f & (MM_MDL_PAGES_LOCKED | MM_MDL_SOURCE_IS_NONPAGED_POOL | MM_MDL_PARTIAL)) && !misuse()))
        return; /* mapping what was never locked: now and then */
    mm_mode mode = chance(100) ? MM_USER_MODE : MM_KERNEL_MODE;
    if (chance(4))
        mode = (mm_mode)u8();
    mm_cache_type cache = (mm_cache_type)(chance(200) ? MM_CACHED : pick(8));
    mm_va requested = 0;
    if (mode == MM_USER_MODE && chance(100))
        requested = chance(128) ? pick_addr() : UINT64_C(0x20000000) + (uint64_t)pick(64) * MM_ALLOCATION_GRANULARITY;
    if ((F.avoid & AVOID_SYSTEM_USER_MAP) && requested > MM_HIGHEST_USER_ADDRESS)
        requested = 0;
    static const uint32_t prio[] = {MM_NORMAL_PAGE_PRIORITY, MM_HIGH_PAGE_PRIORITY, MM_LOW_PAGE_PRIORITY,
                                    MM_NORMAL_PAGE_PRIORITY | MM_MDL_MAPPING_NO_EXECUTE,
                                    MM_NORMAL_PAGE_PRIORITY | MM_MDL_MAPPING_NO_WRITE, 0xFFFFFFFF};
    uint32_t priority = prio[pick(6)];
    mm_status raised = 0;
    mm_va va;
    unsigned how = u8();
    VLOG("mdl %016llx mode %u cache %u requested %016llx priority 0x%x how %u\n", (unsigned long long)mdl, mode,
         cache, (unsigned long long)requested, priority, how);
    if (how < 200)
        va = SAY(mm_map_locked_pages_specify_cache(F.m, mdl, mode, cache, requested, chance(30), priority,
                                                   chance(240) ? &raised : NULL));
    else if (how < 220)
        va = SAY(mm_map_locked_pages(F.m, mdl, mode));
    else
        va = SAY(mm_get_system_address_for_mdl_safe(F.m, mdl, priority)), mode = MM_KERNEL_MODE;
    if (!va)
        return;
    struct mm_mdl h;
    uint64_t size = MM_PAGE_SIZE;
    if (mm_mdl_read(F.m, mdl, &h, NULL, 0) == MM_STATUS_SUCCESS)
        size = h.ByteCount;
    bool user = va <= MM_HIGHEST_USER_ADDRESS;
    add_addr(va, size, user ? mm_process_current(F.m) : NULL, user ? A_USERMAP : A_SYSMAP);
    if (s && s->va == mdl) {
        if (user) {
            s->user = va;
            s->user_proc = mm_process_current(F.m);
        } else {
            s->sys = va;
        }
    }
}

static void op_unmap_locked(void)
{
    struct mdl_slot *s = pick_mdl_slot();
    if (!s)
        return;
    unsigned how = u8();
    mm_va mdl = s->va, base;
    if (s->sys && (how < 120 || (how < 240 && !s->user))) {
        base = s->sys;
    } else if (s->user && how < 240) {
        base = s->user;
    } else if (!misuse()) {
        return; /* nothing mapped: unmapping is the rare bug, not the rule */
    } else {
        if (F.avoid & AVOID_WRONG_UNMAP)
            return;
        /* a real driver bug: the wrong address, or the wrong MDL */
        base = chance(128) ? pick_addr() : (s->sys ? s->sys : s->user);
        if (chance(128))
            mdl = pick_mdl();
    }
    if ((F.avoid & AVOID_WRONG_UNMAP) && !(base && mdl == s->va))
        return;
    VLOG("base %016llx mdl %016llx\n", (unsigned long long)base, (unsigned long long)mdl);
    if (SAY(mm_unmap_locked_pages(F.m, base, mdl)) == MM_STATUS_SUCCESS && mdl == s->va) {
        if (base == s->sys)
            s->sys = 0;
        if (base == s->user)
            s->user = 0;
    }
}

static void op_prepare_reuse(void)
{
    mm_va mdl = pick_mdl();
    if (mdl)
        SAY(mm_prepare_mdl_for_reuse(F.m, mdl));
}

static void op_io_free_mdl(void)
{
    if (!F.nmdls || misuse()) {
        mm_va va = pick_addr();
        if ((F.nmdls || misuse()) && may_free(va))
            SAY(mm_io_free_mdl(F.m, va));
        return;
    }
    unsigned i = pick(F.nmdls);
    if (may_free(F.mdls[i].va))
        SAY(mm_io_free_mdl(F.m, F.mdls[i].va));
    if (chance(220)) /* sometimes keep the stale MDL: use after free */
        F.mdls[i] = F.mdls[--F.nmdls];
}

static void op_allocate_pages_for_mdl(void)
{
    static const uint64_t highs[] = {UINT64_MAX, 0xFFFFF, 0x3FFFFF, 0x7FFFF, 0};
    uint64_t low = chance(220) ? 0 : (uint64_t)u16() << 12;
    uint64_t high = highs[pick(5)];
    uint64_t skip = chance(230) ? 0 : u16();
    uint64_t bytes = pick_length();
    mm_va mdl;
    if (chance(100))
        mdl = SAY(mm_allocate_pages_for_mdl(F.m, low, high, skip, bytes));
    else
        mdl = SAY(mm_allocate_pages_for_mdl_ex(F.m, low, high, skip, bytes, (mm_cache_type)pick(7), u8() & 0x3F));
    add_mdl(mdl, true);
}

static void op_free_pages_from_mdl(void)
{
    struct mdl_slot *s = pick_mdl_slot();
    mm_va mdl = s && (s->from_pages || misuse()) ? s->va : misuse() ? pick_addr() : 0;
    if (!mdl)
        return;
    SAY(mm_free_pages_from_mdl(F.m, mdl));
    if (chance(160) && may_free(mdl)) /* then the MDL itself, as the documentation says */
        SAY(mm_pool_free(F.m, mdl, 0));
}

static void op_reserved_allocate(void)
{
    if (F.nres >= MAX_RESERVED)
        return;
    uint64_t bytes = chance(240) ? (uint64_t)(pick(8) + 1) * MM_PAGE_SIZE : u16();
    uint32_t tag = chance(200) ? MM_POOL_TAG('R', 's', 'v', 'd') : pick_tag();
    mm_va base = SAY(mm_allocate_mapping_address(F.m, bytes, tag));
    if (base) {
        F.res[F.nres++] = (struct reserved){base, tag};
        add_addr(base, bytes, NULL, A_RESMAP);
    }
}

static struct reserved pick_reserved(void)
{
    if (F.nres && !misuse()) {
        struct reserved r = F.res[pick(F.nres)];
        if (misuse())
            r.tag ^= 1;
        return r;
    }
    if (!F.nres && !misuse())
        return (struct reserved){0, 0};
    return (struct reserved){pick_addr(), pick_tag()};
}

static void op_reserved_map(void)
{
    struct reserved r = pick_reserved();
    mm_va mdl = pick_mdl();
    if (r.base && mdl)
        SAY(mm_map_locked_pages_with_reserved_mapping(F.m, r.base, r.tag, mdl,
                                                      (mm_cache_type)(misuse() ? pick(7) : MM_CACHED)));
}

static void op_reserved_unmap(void)
{
    struct reserved r = pick_reserved();
    mm_va mdl = pick_mdl();
    if (r.base && mdl)
        SAY(mm_unmap_reserved_mapping(F.m, r.base, r.tag, mdl));
}

static void op_reserved_free(void)
{
    if (F.nres && !misuse()) {
        unsigned i = pick(F.nres);
        SAY(mm_free_mapping_address(F.m, F.res[i].base, F.res[i].tag));
        F.res[i] = F.res[--F.nres];
        return;
    }
    struct reserved r = pick_reserved();
    if (r.base)
        SAY(mm_free_mapping_address(F.m, r.base, r.tag));
}

static void op_irp_allocate(void)
{
    if (F.nirps >= MAX_IRPS)
        return;
    mm_va irp = SAY(mm_io_allocate_irp(F.m));
    if (irp)
        F.irps[F.nirps++] = irp;
}

/* IoAllocateIrp(StackSize, ChargeQuota) or IoInitializeIrp on pool; IoFreeIrp. */
static void op_irp_other(void)
{
    switch (pick(3)) {
    case 0: {
        int stack = misuse() ? (int)(int8_t)u8() : (int)pick(10) + 1;
        mm_va irp = SAY(mm_io_allocate_irp_ex(F.m, stack, chance(40)));
        if (irp && F.nirps < MAX_IRPS)
            F.irps[F.nirps++] = irp;
        break;
    }
    case 1: {
        uint16_t size = misuse() ? u16() : 0x400;
        mm_va irp = SAY(mm_pool_allocate(F.m, MM_NONPAGED_POOL, size ? size : 1, MM_POOL_TAG('I', 'r', 'p', 'D')));
        int stack = misuse() ? (int)(int8_t)u8() : (int)pick(4) + 1;
        if (irp && SAY(mm_io_initialize_irp(F.m, irp, size, stack)) == MM_STATUS_SUCCESS && F.nirps < MAX_IRPS)
            F.irps[F.nirps++] = irp;
        break;
    }
    default:
        if (F.nirps && !misuse()) {
            unsigned i = pick(F.nirps);
            SAY(mm_io_free_irp(F.m, F.irps[i]));
            if (!misuse()) /* a kept one is freed or completed twice later */
                F.irps[i] = F.irps[--F.nirps];
        } else if (misuse()) {
            SAY(mm_io_free_irp(F.m, pick_addr()));
        }
        break;
    }
}

/* MmCreateKernelStack / MmDeleteKernelStack. */
static void op_kernel_stack(void)
{
    if (chance(150) && F.nstacks < MAX_STACKS) {
        mm_va base = 0, limit = 0;
        if (SAY(mm_kernel_stack_create(F.m, &base, &limit)) == MM_STATUS_SUCCESS) {
            F.stacks[F.nstacks++] = base;
            add_addr(limit, base - limit, NULL, A_STACK);
            add_addr(limit - MM_PAGE_SIZE, MM_PAGE_SIZE, NULL, A_SYSMAP); /* the guard page */
        }
        return;
    }
    if (F.nstacks && !misuse()) {
        unsigned i = pick(F.nstacks);
        SAY(mm_kernel_stack_delete(F.m, F.stacks[i]));
        if (!misuse())
            F.stacks[i] = F.stacks[--F.nstacks];
    } else if (misuse()) {
        SAY(mm_kernel_stack_delete(F.m, pick_addr()));
    }
}

static void op_irp_complete(void)
{
    if (F.nirps && chance(240)) {
        unsigned i = pick(F.nirps);
        SAY(mm_io_complete_request(F.m, F.irps[i]));
        F.irps[i] = F.irps[--F.nirps];
        /* its MDLs are gone too; forget them so later ops pick live ones */
        return;
    }
    SAY(mm_io_complete_request(F.m, pick_addr()));
}

static void op_irql_raise(void)
{
    static const mm_irql levels[] = {MM_APC_LEVEL, MM_DISPATCH_LEVEL, MM_DISPATCH_LEVEL, MM_CLOCK_LEVEL,
                                     MM_HIGH_LEVEL, 16, 255};
    mm_irql old, to = levels[misuse() ? pick(7) : pick(3)];
    if (to < mm_irql_current(F.m) && !misuse())
        return;
    SAY(mm_irql_raise(F.m, to, chance(240) ? &old : NULL));
}

static void op_irql_lower(void)
{
    static const mm_irql levels[] = {MM_PASSIVE_LEVEL, MM_PASSIVE_LEVEL, MM_APC_LEVEL, MM_DISPATCH_LEVEL, 20};
    mm_irql to = levels[pick(5)];
    if (to > mm_irql_current(F.m) && !misuse())
        to = MM_PASSIVE_LEVEL;
    SAY(mm_irql_lower(F.m, to));
}

static void op_cpu_switch(void) { mm_cpu_set_current(F.m, pick(F.cpus + 1)); }

static void op_trim(void)
{
    uint64_t trimmed;
    static const uint64_t counts[] = {1, 4, 64, UINT64_MAX, 0};
    SAY(mm_working_set_trim(F.m, chance(128) ? NULL : pick_proc(), counts[pick(5)], chance(240) ? &trimmed : NULL));
}

static void op_page_writer(void)
{
    uint64_t written;
    SAY(mm_modified_page_writer(F.m, chance(240) ? &written : NULL));
}

/* Low memory: every working set trimmed and written out, and now and then
 * standby pages repurposed at once (what another CPU's demand does). */
static void op_pressure(void)
{
    mm_memory_pressure(F.m);
    static const uint64_t counts[] = {1, 16, UINT64_MAX, 0};
    uint64_t purged;
    if (chance(128))
        SAY(mm_purge_standby_list(F.m, counts[pick(4)], chance(240) ? &purged : NULL));
}

static void op_verifier(void)
{
    static const uint32_t sets[] = {0, MM_VERIFIER_STANDARD, MM_VERIFIER_SPECIAL_POOL, MM_VERIFIER_POOL_TRACKING,
                                    MM_VERIFIER_IO_VERIFICATION | MM_VERIFIER_DMA,
                                    MM_VERIFIER_MISCELLANEOUS | MM_VERIFIER_DDI_COMPLIANCE,
                                    MM_VERIFIER_FORCE_IRQL_CHECKING | MM_VERIFIER_LOW_RESOURCES, 0xFFFFFFFF};
    SAY(mm_machine_set_verifier(F.m, sets[pick(8)]));
}

/* A bus-master device reading or writing the MDL's pages. */
static void op_dma(void)
{
    mm_va mdl = pick_mdl();
    struct mm_mdl h;
    bool known = mm_mdl_read(F.m, mdl, &h, NULL, 0) == MM_STATUS_SUCCESS;
    uint64_t offset = known && h.ByteCount && chance(230) ? u16() % h.ByteCount : u16();
    size_t length = known && h.ByteCount > offset && chance(230) ? (size_t)(h.ByteCount - offset) : u16();
    if (chance(128) && length > 0x100)
        length = 0x100;
    if (length > BUF_SIZE)
        length = BUF_SIZE;
    bool to_memory = chance(128);
    if (to_memory && (F.avoid & AVOID_STALE_DMA) &&
        !(known && ((uint16_t)h.MdlFlags & (MM_MDL_PAGES_LOCKED | MM_MDL_SOURCE_IS_NONPAGED_POOL))))
        return;
    size_t stale = mm_findings_count(F.m);
    if (to_memory)
        memset(buf, u8(), length);
    VLOG("mdl %016llx offset 0x%llx length 0x%zx to_memory %d\n", (unsigned long long)mdl,
         (unsigned long long)offset, length, to_memory);
    SAY(mm_dma_transfer(F.m, mdl, offset, chance(250) ? buf : NULL, length, to_memory));
    if (to_memory && mm_findings_count(F.m) != stale)
        F.corrupt = true; /* the device wrote frames nothing holds for it */
}

/* MmAdvanceMdl: the front of the buffer is done. */
static void op_advance_mdl(void)
{
    mm_va mdl = pick_mdl();
    if (!mdl)
        return;
    static const uint32_t steps[] = {0x1000, 0x10, 0x800, 0x2000, 0xFFF, 0, 0x7FFFFFFF};
    SAY(mm_advance_mdl(F.m, mdl, steps[misuse() ? pick(7) : pick(4)]));
}

static void op_protect_mdl_sysva(void)
{
    mm_va mdl = pick_mdl();
    uint32_t protect = pick_protect();
    VLOG("mdl %016llx protect 0x%x\n", (unsigned long long)mdl, protect);
    if (mdl)
        SAY(mm_protect_mdl_system_address(F.m, mdl, protect));
}

/* MmProbeAndLockSelectedPages: a FILE_SEGMENT_ELEMENT array in nonpaged pool
 * naming one page per page the MDL spans. */
static void op_probe_selected(void)
{
    mm_va mdl = pick_mdl();
    struct mm_mdl h;
    if (!mdl || mm_mdl_read(F.m, mdl, &h, NULL, 0) != MM_STATUS_SUCCESS)
        return;
    uint64_t pages = MM_MDL_PAGES(&h);
    if (pages == 0 || pages > 64)
        pages = misuse() ? 1 : 0;
    if (!pages)
        return;
    uint64_t seg[64];
    for (uint64_t i = 0; i < pages; i++)
        seg[i] = misuse() ? pick_addr() : MM_PAGE_ALIGN(pick_addr());
    mm_va segments = SAY(mm_pool_allocate(F.m, MM_NONPAGED_POOL, pages * 8, MM_POOL_TAG('S', 'e', 'g', 's')));
    if (!segments)
        return;
    SAY(mm_write(F.m, segments, seg, pages * 8));
    SAY(mm_probe_and_lock_selected_pages(F.m, mdl, segments, chance(100) ? MM_USER_MODE : MM_KERNEL_MODE,
                                         (mm_lock_operation)pick(3)));
    if (!mm_machine_is_dead(F.m))
        SAY(mm_pool_free(F.m, segments, MM_POOL_TAG('S', 'e', 'g', 's')));
}

static void add_phys(mm_va va, uint64_t bytes, enum phys_kind kind)
{
    if (!va)
        return;
    add_addr(va, bytes, NULL, kind == P_IOSPACE ? A_IOSPACE : A_PHYSICAL);
    struct phys ph = {va, bytes, (uint8_t)kind};
    if (F.nphys < MAX_PHYS)
        F.phys[F.nphys++] = ph;
}

/* A physical address: RAM (maybe a frame something uses), or device memory. */
static uint64_t pick_physical(void)
{
    uint64_t pfn = chance(200) ? pick(256) % F.physical_pages : F.physical_pages + pick(16);
    if (misuse())
        return F.avoid & AVOID_WIDE_PHYSICAL ? u64() & ((UINT64_C(1) << 40) - 1) : u64();
    if ((F.avoid & AVOID_IOSPACE_RAM) && pfn < F.physical_pages && !mm_machine_verifier(F.m))
        pfn = F.physical_pages + pfn % 16;
    return (pfn << MM_PAGE_SHIFT) + (chance(200) ? 0 : u16() & 0xFFF);
}

static void op_physical_allocate(void)
{
    uint64_t bytes = chance(200) ? (uint64_t)(pick(4) + 1) * MM_PAGE_SIZE : pick_length();
    static const uint64_t highs[] = {UINT64_MAX, 0xFFFFF, 0x3FFFFF, 0x1FFFFF, 0};
    switch (pick(5)) {
    case 0: {
        uint64_t pa = pick_physical();
        VLOG("physical %llx bytes 0x%llx\n", (unsigned long long)pa, (unsigned long long)bytes);
        add_phys(SAY(mm_map_io_space(F.m, pa, bytes, (mm_cache_type)(misuse() ? pick(8) : pick(3)))), bytes,
                 P_IOSPACE);
        break;
    }
    case 1: {
        static const uint32_t prot[] = {MM_PAGE_READWRITE, MM_PAGE_READONLY, MM_PAGE_READWRITE | MM_PAGE_NOCACHE,
                                        MM_PAGE_EXECUTE_READ, MM_PAGE_READWRITE | MM_PAGE_WRITECOMBINE,
                                        MM_PAGE_NOACCESS, MM_PAGE_READWRITE | MM_PAGE_GUARD};
        uint64_t pa = pick_physical();
        VLOG("physical %llx bytes 0x%llx\n", (unsigned long long)pa, (unsigned long long)bytes);
        add_phys(SAY(mm_map_io_space_ex(F.m, pa, bytes, prot[misuse() ? pick(7) : pick(5)])), bytes, P_IOSPACE);
        break;
    }
    case 2: add_phys(SAY(mm_allocate_non_cached_memory(F.m, bytes)), bytes, P_NONCACHED); break;
    case 3: add_phys(SAY(mm_allocate_contiguous_memory(F.m, bytes, highs[pick(5)])), bytes, P_CONTIGUOUS); break;
    default: {
        static const uint64_t bounds[] = {0, 0x10000, 0x2000, 0x1000, 0x3000};
        uint64_t low = chance(200) ? 0 : (uint64_t)pick(64) << MM_PAGE_SHIFT;
        add_phys(SAY(mm_allocate_contiguous_memory_specify_cache(F.m, bytes, low, highs[pick(5)],
                                                                 bounds[misuse() ? pick(5) : pick(3)],
                                                                 (mm_cache_type)pick(misuse() ? 8 : 3))),
                 bytes, P_CONTIGUOUS);
        break;
    }
    }
}

static void op_physical_free(void)
{
    if (!F.nphys || misuse()) {
        if (!misuse())
            return;
        mm_va va = pick_addr();
        uint64_t bytes = pick_length();
        switch (pick(4)) {
        case 0: SAY(mm_unmap_io_space(F.m, va, bytes)); break;
        case 1: SAY(mm_free_non_cached_memory(F.m, va, bytes)); break;
        case 2: SAY(mm_free_contiguous_memory(F.m, va)); break;
        default: SAY(mm_free_contiguous_memory_specify_cache(F.m, va, bytes, MM_CACHED)); break;
        }
        return;
    }
    unsigned i = pick(F.nphys);
    struct phys ph = F.phys[i];
    uint64_t bytes = misuse() ? pick_length() : ph.bytes;
    mm_va va = misuse() ? ph.va + MM_PAGE_SIZE : ph.va;
    VLOG("va %016llx bytes 0x%llx (allocated %016llx 0x%llx)\n", (unsigned long long)va, (unsigned long long)bytes,
         (unsigned long long)ph.va, (unsigned long long)ph.bytes);
    switch (ph.kind) {
    case P_IOSPACE: SAY(mm_unmap_io_space(F.m, va, bytes)); break;
    case P_NONCACHED: SAY(mm_free_non_cached_memory(F.m, va, bytes)); break;
    default:
        if (chance(128))
            SAY(mm_free_contiguous_memory(F.m, va));
        else
            SAY(mm_free_contiguous_memory_specify_cache(F.m, va, bytes, MM_CACHED));
        break;
    }
    if (!misuse()) /* a kept one is freed twice later */
        F.phys[i] = F.phys[--F.nphys];
}

/* The read-only queries: each must answer without changing anything. */
static void op_queries(void)
{
    struct mm_pfn_info pi;
    struct mm_memory_counts mc;
    struct mm_process_info info;
    struct mm_pte_walk w;
    struct mm_mdl h;
    mm_pfn pfns[8];
    static struct mm_mdl_info mdls[64];
    static struct mm_finding findings[16];
    static struct mm_leaked_lock leaks[8];
    static struct mm_vad_info vads[16];
    static struct mm_trace_event events[16];
    struct mm_pool_block_info pb;
    struct mm_pool_usage pu;
    mm_va va = pick_addr();
    switch (pick(12)) {
    case 0: mm_pfn_query(F.m, chance(200) ? pick(1100) : u64(), &pi); break;
    case 1:
        mm_memory_query(F.m, &mc);
        mm_machine_host_bytes(F.m);
        mm_machine_stored_pages(F.m);
        mm_trace_count(F.m);
        mm_machine_step(F.m);
        mm_page_location_name(u8());
        mm_event_name(u8());
        mm_status_meaning((mm_status)u32());
        mm_bugcheck_param_meaning(u8(), u8(), u8());
        break;
    case 2: mm_process_query(F.m, pick_proc(), &info); break;
    case 3:
        if (mm_pte_walk(F.m, pick_proc_arg(), va, &w) == MM_STATUS_SUCCESS)
            mm_pte_format_name(w.level[3].value);
        break;
    case 4: mm_is_address_valid(F.m, va); mm_get_physical_address(F.m, va); break;
    case 5: mm_mdl_read(F.m, pick_mdl(), &h, pfns, pick(9)); break;
    case 6: mm_mdls_read(F.m, mdls, pick(65)); mm_leaked_locks_read(F.m, leaks, pick(9)); break;
    case 7: {
        size_t n = SAY(mm_findings_read(F.m, findings, pick(17)));
        for (size_t i = 0; i < n; i++)
            mm_finding_name(findings[i].kind);
        break;
    }
    case 8: {
        mm_process *p = pick_proc();
        if (!(F.avoid & AVOID_BAD_HANDLE_VADS) || mm_process_query(F.m, p, &info) == MM_STATUS_SUCCESS)
            SAY(mm_process_vads(F.m, p, vads, pick(17)));
        break;
    }
    case 9: mm_pool_query(F.m, va, &pb); mm_pool_usage(F.m, (mm_pool_type)pick(3), &pu); break;
    case 10: {
        size_t n = SAY(mm_trace_read(F.m, events, pick(17)));
        char line[256];
        for (size_t i = 0; i < n && i < 16; i++)
            mm_trace_format(&events[i], line, sizeof line);
        break;
    }
    default: {
        mm_process *p = NULL;
        while ((p = mm_process_next(F.m, p)) != NULL)
            mm_process_query(F.m, p, &info);
        SAY(mm_process_by_id(F.m, pick(16)));
        break;
    }
    }
}

struct op {
    const char *name;
    void (*run)(void);
    unsigned weight;
};

static void print_totals(void)
{
    fprintf(stderr, "fuzz_api: %llu operations, %llu bug checks, %llu restores\n", (unsigned long long)total_ops,
            (unsigned long long)total_bugchecks, (unsigned long long)total_restores);
}

static void take_snapshot(void)
{
    if (!F.snapshots)
        return;
    if (mm_machine_snapshot(F.m) != MM_STATUS_SUCCESS) {
        if (!mm_machine_is_dead(F.m))
            fuzz_bug("snapshot", "mm_machine_snapshot failed on a live machine");
        return;
    }
    F.have_snapshot = true;
    mm_memory_query(F.m, &F.snap_counts);
    F.snap_bytes = mm_machine_host_bytes(F.m);
    memcpy(saved_harness, &F, sizeof F);
}

/* The machine and the harness's handles back at the snapshot; the input
 * goes on from where it is. */
static void restore_snapshot(void)
{
    if (!F.have_snapshot)
        return;
    if (mm_machine_restore(F.m) != MM_STATUS_SUCCESS)
        fuzz_bug("restore", "mm_machine_restore failed");
    const uint8_t *data = F.data;
    size_t size = F.size, at = F.at;
    unsigned op_index = F.op_index;
    const char *op_name = F.op_name;
    memcpy(&F, saved_harness, sizeof F);
    F.data = data;
    F.size = size;
    F.at = at;
    F.op_index = op_index;
    F.op_name = op_name;
    total_restores++;
    struct mm_memory_counts now;
    mm_memory_query(F.m, &now);
    if (memcmp(&now, &F.snap_counts, sizeof now) != 0 || mm_machine_host_bytes(F.m) != F.snap_bytes)
        fuzz_bug("restore", "the restored machine's counts differ from its snapshot's");
}

static void op_snapshot(void) { take_snapshot(); }
static void op_restore(void) { restore_snapshot(); }

static const struct op ops[] = {
    {"process_create", op_process_create, 3},     {"process_terminate", op_process_terminate, 2},
    {"process_close", op_process_close, 1},
    {"attach", op_attach, 3},                     {"detach", op_detach, 3},
    {"virtual_alloc", op_virtual_alloc, 6},       {"virtual_free", op_virtual_free, 3},
    {"virtual_protect", op_virtual_protect, 2},   {"virtual_query", op_virtual_query, 1},
    {"access", op_access, 8},                     {"pool_allocate", op_pool_allocate, 5},
    {"pool_free", op_pool_free, 2},               {"image_load", op_image_load, 2},
    {"image_discard_init", op_image_discard_init, 1}, {"image_unload", op_image_unload, 1},
    {"image_query", op_image_query, 1},           {"lock_pagable", op_lock_pagable, 1},
    {"unlock_pagable", op_unlock_pagable, 1},     {"section_create", op_section_create, 2},
    {"section_map", op_section_map, 2},           {"section_unmap", op_section_unmap, 1},
    {"section_close", op_section_close, 1},       {"section_query", op_section_query, 1},
    {"io_allocate_mdl", op_io_allocate_mdl, 6},   {"initialize_mdl", op_initialize_mdl, 2},
    {"build_nonpaged", op_build_nonpaged, 3},     {"build_partial", op_build_partial, 3},
    {"probe_and_lock", op_probe_and_lock, 7},     {"unlock", op_unlock, 5},
    {"map_locked", op_map_locked, 7},             {"unmap_locked", op_unmap_locked, 5},
    {"prepare_reuse", op_prepare_reuse, 2},       {"io_free_mdl", op_io_free_mdl, 4},
    {"allocate_pages_for_mdl", op_allocate_pages_for_mdl, 3}, {"free_pages_from_mdl", op_free_pages_from_mdl, 2},
    {"reserved_allocate", op_reserved_allocate, 2}, {"reserved_map", op_reserved_map, 2},
    {"reserved_unmap", op_reserved_unmap, 2},     {"reserved_free", op_reserved_free, 1},
    {"irp_allocate", op_irp_allocate, 1},         {"irp_complete", op_irp_complete, 1},
    {"irql_raise", op_irql_raise, 2},             {"irql_lower", op_irql_lower, 3},
    {"cpu_switch", op_cpu_switch, 1},             {"trim", op_trim, 3},
    {"page_writer", op_page_writer, 2},           {"pressure", op_pressure, 1},
    {"verifier", op_verifier, 2},                 {"dma", op_dma, 4},
    {"queries", op_queries, 3},                   {"advance_mdl", op_advance_mdl, 2},
    {"protect_mdl_sysva", op_protect_mdl_sysva, 2}, {"probe_selected", op_probe_selected, 2},
    {"physical_allocate", op_physical_allocate, 3}, {"physical_free", op_physical_free, 2},
    {"irp_other", op_irp_other, 2},               {"kernel_stack", op_kernel_stack, 2},
    {"snapshot", op_snapshot, 1},                 {"restore", op_restore, 2},
};
#define OP_COUNT (sizeof ops / sizeof ops[0])

/* The opcode byte indexes a table where each op has a share of the 256
 * entries in proportion to its weight. */
static const struct op *op_table[256];

static void build_op_table(void)
{
    if (getenv("FUZZ_API_COUNT"))
        atexit(print_totals);
    unsigned total = 0;
    for (unsigned i = 0; i < OP_COUNT; i++)
        total += ops[i].weight;
    unsigned op = 0, below = ops[0].weight; /* cumulative weight through ops[op] */
    for (unsigned b = 0; b < 256; b++) {
        while (b * total / 256 >= below)
            below += ops[++op].weight;
        op_table[b] = &ops[op];
    }
}

/* ---- one input ---- */

static void check_invariants(void)
{
    if (mm_machine_is_dead(F.m)) {
        if (!F.bugchecked)
            fuzz_bug("dead machine", "the machine died without calling the bug-check hook");
        return;
    }
    if (F.bugchecked)
        fuzz_bug("bug check", "the hook ran but the machine is not dead");
    char why[512];
    F.alloc.paused = true; /* the checker's own allocations must not fail */
    mm_status st = mm_machine_check_invariants(F.m, why, sizeof why);
    F.alloc.paused = false;
    if (st != MM_STATUS_SUCCESS) {
        if (F.corrupt) /* still a bug: the model must stop with a bug check, not break */
            strncat(why, " (after the driver wrote memory it does not own)", sizeof why - strlen(why) - 1);
        fuzz_bug("invariant broken", why);
    }
}

static void configure(struct mm_config *cfg)
{
    static const uint64_t pages[] = {256, 384, 512, 1024};
    static const uint32_t ptes[] = {32, 64, 96, 128};
    static const uint64_t pagefile[] = {0, 64, 256, 1024};
    static const uint32_t verifier[] = {0, 0, 0, 0, MM_VERIFIER_STANDARD, MM_VERIFIER_POOL_TRACKING,
                                        MM_VERIFIER_SPECIAL_POOL, MM_VERIFIER_IO_VERIFICATION | MM_VERIFIER_DMA};
    uint8_t a = u8(), b = u8(), c = u8();
    mm_config_default(cfg);
    cfg->physical_pages = pages[a & 3];
    cfg->system_ptes = ptes[(a >> 2) & 3];
    cfg->pagefile_pages = pagefile[(a >> 4) & 3];
    cfg->cpu_count = (a & 0x40) ? 2 : 1;
    cfg->track_locked_pages = b & 1;
    cfg->track_ptes = b & 2;
    cfg->verifier_flags = verifier[(b >> 2) & 7];
    cfg->trace_capacity = (b & 0x20) ? 16 : 4096;
    if ((b & 0x40) || verbose)
        cfg->trace_hook = trace_hook;
    F.longjmp_hook = !(b & 0x80);
    cfg->seed = u8();
    cfg->bugcheck_hook = bugcheck_hook;
    F.alloc = (struct failing_alloc){0};
    uint16_t when = u16();
    if ((c & 0xF0) == 0xF0) /* host allocation failures: one, or one in n */
        F.alloc.fail_at = when % 4096 + 1;
    else if ((c & 0xF0) == 0xE0)
        F.alloc.fail_every = (c & 0xF) + 7;
    F.prelude = !(u8() & 1);
    /* One input in four (all with FUZZ_API_SNAPSHOTS=1) runs on a machine
     * that can restore: its bookkeeping is the snapshot arena, not the
     * failing allocator. */
    F.snapshots = (c & 0xC0) == 0x40 || getenv("FUZZ_API_SNAPSHOTS") != NULL;
    cfg->snapshots = F.snapshots;
    if (F.snapshots)
        F.alloc = (struct failing_alloc){0};
    else
        cfg->allocator = (struct mm_allocator){f_alloc, f_realloc, f_free, &F.alloc};
    F.cpus = cfg->cpu_count;
    F.physical_pages = cfg->physical_pages;
}

/* What most drivers start from: a process to work in, a user buffer and
 * pool, so the first operations already have something to describe. */
static void prelude(void)
{
    mm_process *p = NULL;
    if (mm_process_create(F.m, "app.exe", &p) != MM_STATUS_SUCCESS || !p)
        return;
    F.procs[F.nprocs++] = p;
    if (mm_process_attach(F.m, p, &F.apc[0][0]) != MM_STATUS_SUCCESS)
        return;
    F.depth[0] = 1;
    mm_va base = 0;
    uint64_t size = 16 * MM_PAGE_SIZE;
    if (mm_virtual_alloc(F.m, NULL, &base, &size, MM_MEM_RESERVE | MM_MEM_COMMIT, MM_PAGE_READWRITE) ==
        MM_STATUS_SUCCESS)
        add_addr(base, size, p, A_USER);
    uint32_t tag = MM_POOL_TAG('F', 'u', 'z', 'z');
    add_addr(mm_pool_allocate(F.m, MM_NONPAGED_POOL, 0x3000, tag), 0x3000, NULL, A_NONPAGED)->tag = tag;
    add_addr(mm_pool_allocate(F.m, MM_PAGED_POOL, 0x2000, tag), 0x2000, NULL, A_PAGED)->tag = tag;
}

/* A dead machine refuses everything, quietly. */
static void check_dead(void)
{
    mm_va base = 0;
    uint64_t bytes = MM_PAGE_SIZE;
    if (mm_virtual_alloc(F.m, NULL, &base, &bytes, MM_MEM_COMMIT | MM_MEM_RESERVE, MM_PAGE_READWRITE) !=
            MM_STATUS_MACHINE_DEAD ||
        mm_pool_allocate(F.m, MM_NONPAGED_POOL, 16, 1) != 0)
        fuzz_bug("dead machine", "a call on a dead machine did not fail with MACHINE_DEAD");
    if (!mm_machine_bugcheck(F.m))
        fuzz_bug("dead machine", "no bug-check record");
}

/* After a bug check: the end of the input, or in snapshot mode the
 * restore and on. */
static bool goes_on_after_bugcheck(void)
{
    total_bugchecks++;
    if (!F.have_snapshot)
        return false;
    check_dead();
    restore_snapshot();
    check_invariants();
    return !F.bugchecked;
}

static void run_ops(void)
{
    F.op_name = "prelude";
    if (F.prelude) {
        if (setjmp(F.jump) == 0)
            prelude();
        check_invariants();
        if (F.bugchecked)
            return;
    }
    take_snapshot();
    for (F.op_index = 0; F.op_index < MAX_OPS && F.at < F.size; F.op_index++) {
        const struct op *op = op_table[u8()];
        F.op_name = op->name;
        total_ops++;
        if (verbose)
            fprintf(stderr, "op %u: %s\n", F.op_index, op->name);
        if (setjmp(F.jump) == 0)
            op->run();
        for (unsigned i = 0; verbose && i < F.nmdls && !mm_machine_is_dead(F.m); i++)
            show_mdl("after:", F.mdls[i].va);
        struct mm_pte_walk w;
        if (verbose && watch && mm_pte_walk(F.m, NULL, watch, &w) == MM_STATUS_SUCCESS)
            VLOG("watch %016llx: PTE %016llx (present %d)\n", (unsigned long long)watch,
                 (unsigned long long)w.level[3].value, w.level[3].present);
        check_invariants();
        if (F.bugchecked && !goes_on_after_bugcheck())
            return;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    if (!ready) {
        build_op_table();
        const char *avoid = getenv("FUZZ_API_AVOID");
        verbose = getenv("FUZZ_API_VERBOSE") != NULL;
        const char *w = getenv("FUZZ_API_WATCH");
        watch = w ? (mm_va)strtoull(w, NULL, 16) : 0;
        F.avoid = avoid ? (uint32_t)strtoul(avoid, NULL, 16) : 0;
        ready = true;
    }
    if (size < CONFIG_BYTES || size > 4096)
        return 0;
    uint32_t avoid = F.avoid;
    memset(&F, 0, sizeof F);
    F.avoid = avoid;
    F.data = data;
    F.size = size;
    struct mm_config cfg;
    configure(&cfg);
    F.at = CONFIG_BYTES;
    if (mm_machine_create(&cfg, &F.m) != MM_STATUS_SUCCESS) {
        if (F.m)
            fuzz_bug("create", "a failed create returned a machine");
        if (F.alloc.live)
            fuzz_bug("leak", "a failed mm_machine_create left host memory allocated");
        return 0;
    }
    run_ops();
    if (F.bugchecked)
        check_dead();
    F.op_name = "mm_machine_destroy";
    mm_machine_destroy(F.m);
    F.m = NULL;
    if (F.alloc.live != 0) {
        char detail[64];
        snprintf(detail, sizeof detail, "%lld host blocks still allocated", (long long)F.alloc.live);
        fuzz_bug("leak", detail);
    }
    return 0;
}
