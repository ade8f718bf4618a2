/* libmm/kstack.c — kernel stacks (MmCreateKernelStack / MmDeleteKernelStack):
 * KERNEL_STACK_SIZE (24 KiB on x64) of resident, nonpaged pages in system
 * PTEs, with one invalid guard PTE below the limit. Code under test can put
 * buffers there; MmBuildMdlForNonPagedPool must not be used on them (0xC4/
 * 0x140 under Verifier), and running into the guard page is a double fault
 * (0x7F). The stacks live in a hash by base, so nothing slows down as they
 * accumulate. */
#include "kstack.h"

#include "alloc.h"
#include "bugcheck.h"
#include "hash.h"
#include "irql.h"
#include "machine.h"
#include "memory.h"
#include "pte.h"
#include "syspte.h"
#include "trace.h"

#define STACK_PAGES (MM_KERNEL_STACK_SIZE / MM_PAGE_SIZE)

struct mmi_kstack {
    UT_hash_handle hh;
    mm_va base;   /* one past the highest byte: where the stack starts */
    mm_va guard;  /* the guard page, just below the limit */
};

void mmi_kstack_fini(mm_machine *m)
{
    mm_machine *uthash_m = m;
    struct mmi_kstack *s, *tmp;
    HASH_ITER(hh, m->kstacks, s, tmp) {
        HASH_DEL(m->kstacks, s);
        mmi_free(m, s);
    }
    (void)uthash_m;
}

static struct mmi_kstack *find(mm_machine *m, mm_va base)
{
    struct mmi_kstack *s = NULL;
    HASH_FIND(hh, m->kstacks, &base, sizeof base, s);
    return s;
}

bool mmi_kstack_guard(mm_machine *m, mm_va va, mm_va *stack_base)
{
    if (!m->kstacks || !mmi_is_syspte_va(m, va))
        return false;
    /* The guard page is the stack's lowest PTE: its base is STACK_PAGES + 1 pages above. */
    struct mmi_kstack *s = find(m, MM_PAGE_ALIGN(va) + (STACK_PAGES + 1) * MM_PAGE_SIZE);
    if (!s)
        return false;
    *stack_base = s->base;
    return true;
}

static mm_status release_pages(mm_machine *m, mm_va guard, uint64_t mapped)
{
    for (uint64_t i = 1; i <= mapped; i++) {
        mm_status st = mmi_release_va(m, m->system, guard + i * MM_PAGE_SIZE, 0);
        if (!MM_SUCCESS(st))
            return st;
    }
    mmi_syspte_release(m, guard, STACK_PAGES + 1);
    return MM_STATUS_SUCCESS;
}

mm_status mm_kernel_stack_create(mm_machine *m, mm_va *base, mm_va *limit)
{
    MMI_ENTER(m, "MmCreateKernelStack");
    if (!base || !limit)
        return MM_STATUS_INVALID_PARAMETER;
    *base = *limit = 0;
    if (!mmi_irql_allows(m, MM_APC_LEVEL, 0))
        return MM_STATUS_MACHINE_DEAD;
    mm_va guard = mmi_syspte_reserve(m, STACK_PAGES + 1);
    if (!guard)
        return MM_STATUS_INSUFFICIENT_RESOURCES;
    struct mmi_kstack *s = mmi_alloc(m, sizeof *s);
    mm_status st = s ? MM_STATUS_SUCCESS : MM_STATUS_INSUFFICIENT_RESOURCES;
    uint64_t mapped = 0;
    while (MM_SUCCESS(st) && mapped < STACK_PAGES) {
        st = mmi_map_new_page(m, m->system, guard + (mapped + 1) * MM_PAGE_SIZE, MMP_READWRITE, MM_USE_KERNEL_STACK,
                              true, NULL, NULL);
        mapped += MM_SUCCESS(st);
    }
    if (MM_SUCCESS(st)) {
        mm_machine *uthash_m = m;
        bool uthash_failed = false;
        *s = (struct mmi_kstack){.base = guard + (STACK_PAGES + 1) * MM_PAGE_SIZE, .guard = guard};
        HASH_ADD(hh, m->kstacks, base, sizeof s->base, s);
        if (uthash_failed)
            st = MM_STATUS_INSUFFICIENT_RESOURCES;
    }
    if (!MM_SUCCESS(st)) {
        mmi_free(m, s);
        release_pages(m, guard, mapped);
        return st;
    }
    mmi_trace(m, MM_EV_NOTE, s->base, MM_PFN_NONE, 0x4B535443 /* "KSTC" */, STACK_PAGES);
    *base = s->base;
    *limit = guard + MM_PAGE_SIZE;
    return MM_STATUS_SUCCESS;
}

mm_status mm_kernel_stack_delete(mm_machine *m, mm_va base)
{
    MMI_ENTER(m, "MmDeleteKernelStack");
    struct mmi_kstack *s = find(m, base);
    if (!s)
        return MM_STATUS_INVALID_PARAMETER;
    if (!mmi_irql_allows(m, MM_APC_LEVEL, base))
        return MM_STATUS_MACHINE_DEAD;
    mm_va guard = s->guard;
    mm_machine *uthash_m = m;
    HASH_DEL(m->kstacks, s);
    mmi_free(m, s);
    (void)uthash_m;
    return release_pages(m, guard, STACK_PAGES);
}
