/* libmm/machine.h — the machine object that owns every piece of model state,
 * and the entry/exit discipline of public calls (validate, refuse when dead,
 * count the operation step). */
#ifndef MMI_MACHINE_H
#define MMI_MACHINE_H

#include "mm/mm.h"

#include "bitmap.h"
#include "pagefile.h"
#include "pfn.h"
#include "store.h"
#include "tlb.h"
#include "trace.h"

#define MMI_MAX_CPUS 64u

/* How deep DDIs may call DDIs (IofCompleteRequest -> MmUnlockPages, an
 * IRP dispatch routine -> MmProbeAndLockPages ...). */
#define MMI_OP_DEPTH 8u

struct mmi_cpu {
    mm_irql irql;
    struct mm_process *process;  /* current address-space context */
    uint32_t attach_depth;
    /* The operation context: the public call running on this CPU, then the
     * DDIs it runs inside it. A public call starts a new stack (MMI_ENTER);
     * nothing needs unwinding after a bug check. */
    const char *op[MMI_OP_DEPTH];
    unsigned op_depth;
    mm_va caller;                /* mm_cpu_set_caller: the calling code's address, or 0 */
};


struct mmi_pool_block;
struct mmi_working_set;

/* Pages of packed blocks whose last block was freed stay mapped, up to this
 * many per pool, for the next allocation (docs/decisions.md, "Pool"). */
#define MMI_POOL_EMPTY_PAGES 16u

struct mmi_pool {
    mm_va start;
    struct mmi_bitmap va;             /* one bit per page of pool VA */
    struct mmi_pool_block *blocks;    /* blocks and free chunks, by address */
    struct mmi_pool_block *freed;     /* freed blocks whose address is not reused yet */
    struct mmi_pool_block *freed_special; /* the Special Pool ones among them, by page */
    struct mmi_pool_block *spare;     /* records kept for reuse (linked by flink) */
    struct mmi_pool_block *last;      /* the entry entry_for found last (in blocks) */
    unsigned spare_count;
    struct mmi_pool_block *list[256]; /* free chunks by size in 16-byte units (ListHeads) */
    uint64_t listed[4];               /* bit n: list[n] is not empty */
    mm_va empty[MMI_POOL_EMPTY_PAGES];
    unsigned empty_count;
    uint64_t allocations, bytes, pages;
};

struct mm_machine {
    struct mm_config cfg;
    struct mm_layout layout;
    struct mm_allocator alloc;
    uint64_t host_bytes;

    bool dead;
    struct mm_bugcheck bugcheck;
    uint64_t step;                 /* public operations so far */
    const char *op;                /* the operation running now: the top of the
                                    * current CPU's operation context */
    uint64_t rng;

    struct mmi_cpu cpu[MMI_MAX_CPUS];
    uint32_t cpu_count, current_cpu;

    struct mmi_pfndb pfn;
    struct mmi_store store;
    struct mmi_pagefile pagefile;
    struct mmi_trace trace;

    struct mm_process *processes;     /* hash by object address */
    struct mm_process *process_ids;   /* hash by id */
    struct mm_process *process_eps;   /* hash by EPROCESS address, live blocks only */
    struct mm_process *process_first, *process_last; /* creation order */
    struct mm_process *system;
    uint32_t next_process_id;
    struct mmi_working_set *system_ws;

    struct mmi_pool pool[2];

    struct mmi_bitmap syspte;         /* system PTE pool */
    struct mmi_bitmap syspte_start;   /* first PTE of each allocation in it */
    struct mmi_mdl_state *mdl;        /* MDL tracking (mdl.c) */
    /* Set by the MDL layer, called by the fault path for every access
     * through an MDL user mapping (its staleness check): the fault path
     * below it needs no knowledge of MDLs. */
    void (*mdl_user_access)(mm_machine *m, mm_va va, mm_pfn pfn, uint32_t process_id);
    struct mmi_physical_state *physical; /* I/O-space and contiguous allocations (physical.c) */
    struct mmi_kstack *kstacks;       /* kernel stacks by base (kstack.c) */
    struct mmi_irp *irps;             /* IRP packets by address (irp.c) */

    struct mm_image *images;          /* hash by object address */
    struct mm_image *image_first, *image_last;
    struct mm_section *sections;      /* hash by object address */
    uint32_t section_ids;
    uint64_t section_commit;          /* pages charged by sections */
    struct mmi_bitmap image_va;

    uint64_t commit_charge, commit_limit;

    struct mmi_tlb tlb;
    struct mmi_hostview *hostview;    /* the host view of a hosted machine (libmm/host/hostmmu.c) */
    mm_exception_fn exception_fn;     /* where a kernel access to a bad user address is raised */
    void *exception_ctx;
    void *extension;                  /* a layer on top's state (mm_machine_set_extension) */
    void (*release_extension)(mm_machine *m, void *extension);
    struct mmi_arena *arena;          /* the snapshot arena (cfg.snapshots), else NULL */
};

/* A public call's operation context: a new stack on the current CPU. */
static inline void mmi_op_begin(mm_machine *m, const char *name)
{
    struct mmi_cpu *cpu = &m->cpu[m->current_cpu];
    cpu->op[0] = name;
    cpu->op_depth = 1;
    m->op = name;
    if (m->tlb.host)
        m->tlb.host->enter(m->tlb.host_ctx);
}

/* A DDI run inside the current operation (its bug checks and trace events
 * name it), and the return to the caller's context. */
static inline void mmi_op_enter(mm_machine *m, const char *name)
{
    struct mmi_cpu *cpu = &m->cpu[m->current_cpu];
    if (cpu->op_depth < MMI_OP_DEPTH)
        cpu->op[cpu->op_depth] = name;
    cpu->op_depth++;
    m->op = name;
}

static inline void mmi_op_exit(mm_machine *m)
{
    struct mmi_cpu *cpu = &m->cpu[m->current_cpu];
    if (cpu->op_depth > 1)
        cpu->op_depth--;
    m->op = cpu->op[(cpu->op_depth < MMI_OP_DEPTH ? cpu->op_depth : MMI_OP_DEPTH) - 1];
}

/* Every public call starts with one of these. They refuse NULL and dead
 * machines, number the operation for the trace and begin its context. */
#define MMI_ENTER_RET(m, name, fail)          \
    do {                                      \
        if ((m) == NULL)                      \
            return (fail);                    \
        if ((m)->dead)                        \
            return (fail);                    \
        (m)->step++;                          \
        mmi_op_begin((m), (name));            \
    } while (0)
#define MMI_ENTER(m, name)                                  \
    do {                                                    \
        if ((m) == NULL)                                    \
            return MM_STATUS_INVALID_PARAMETER;             \
        if ((m)->dead)                                      \
            return MM_STATUS_MACHINE_DEAD;                  \
        (m)->step++;                                        \
        mmi_op_begin((m), (name));                          \
    } while (0)

static inline struct mmi_cpu *mmi_cpu(mm_machine *m) { return &m->cpu[m->current_cpu]; }
static inline mm_irql mmi_irql(const mm_machine *m) { return m->cpu[m->current_cpu].irql; }
static inline bool mmi_verifier(const mm_machine *m) { return m->cfg.verifier_flags != 0; }
/* Below MmHighestUserAddress / at or above MmSystemRangeStart. */
static inline bool mmi_is_user_va(const mm_machine *m, mm_va va) { return va <= m->layout.highest_user_address; }
static inline bool mmi_is_system_va(const mm_machine *m, mm_va va) { return va >= m->layout.system_range_start; }
/* x64's rule, whatever the layout: bits 63..47 all equal. */
static inline bool mmi_is_canonical(mm_va va)
{
    return va < UINT64_C(0x0000800000000000) || va >= UINT64_C(0xFFFF800000000000);
}

uint64_t mmi_random(mm_machine *m);
/* splitmix64: the next value of the stream whose state is *state. */
uint64_t mmi_splitmix(uint64_t *state);


#endif
