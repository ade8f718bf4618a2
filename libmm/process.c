/* libmm/process.c — process objects: creation (a top-level table sharing the
 * system half, a self-map entry, an EPROCESS in nonpaged pool), termination
 * (address-space teardown and the locked-page check), lookup, and
 * KeStackAttachProcess / KeUnstackDetachProcess. */
#include "process.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "bugcheck.h"
#include "fault.h"
#include "irql.h"
#include "machine.h"
#include "mdl.h"
#include "memory.h"
#include "pfn.h"
#include "pool.h"
#include "pte.h"
#include "tlb.h"
#include "trace.h"
#include "virtual.h"

#define EPROCESS_SIZE 0x880u
#define APC_STATE_MAGIC 0x41504353u /* "SCPA" */

static void self_map(mm_machine *m, mm_pfn pml4)
{
    uint64_t entry = (pml4 << 12) | PTE_VALID | PTE_DIRTY1 | PTE_ACCESSED | PTE_DIRTY | PTE_NO_EXECUTE;
    mmi_frame_write64(m, pml4, MM_PXE_SELFMAP_INDEX, entry);
}

static mm_status new_top_table(mm_machine *m, uint32_t id, mm_pfn *out)
{
    mm_pfn pml4;
    mm_status st = mmi_pfn_take_table(m, &pml4);
    if (!MM_SUCCESS(st))
        return st;
    mmi_pfn_init_active(m, pml4, MM_PXE_BASE + MM_PXE_SELFMAP_INDEX * 8, pml4, 0, id, MM_USE_PAGE_TABLE);
    self_map(m, pml4);
    *out = pml4;
    return MM_STATUS_SUCCESS;
}

/* The system half of every top-level table points at the same tables. */
static void share_system_half(mm_machine *m, mm_pfn pml4)
{
    for (unsigned i = 256; i < 512; i++) {
        if (i == MM_PXE_SELFMAP_INDEX)
            continue;
        uint64_t e = mmi_pte_get(m, m->system->pml4, i);
        if (e)
            mmi_pte_set_system_copy(m, pml4, i, e);
    }
}

static mm_status free_top_table(mm_machine *m, mm_pfn pml4)
{
    const uint64_t *q = mmi_frame_quads(m, pml4); /* one lookup, not one a slot */
    for (unsigned i = 256; i < 512; i++)
        if (i != MM_PXE_SELFMAP_INDEX && q[i]) {
            mmi_pte_set_system_copy(m, pml4, i, 0);
            q = mmi_frame_quads(m, pml4); /* a first write gives the frame its own bytes */
        }
    mmi_frame_write64(m, pml4, MM_PXE_SELFMAP_INDEX, 0);
    mmi_tlb_flush_top(m, pml4); /* what was cached through its tables */
    return mmi_pfn_delete(m, pml4, true);
}

static struct mm_process *new_process(mm_machine *m, const char *name, uint32_t id)
{
    mm_machine *uthash_m = m;
    bool uthash_failed = false;
    struct mm_process *p = mmi_alloc(m, sizeof *p);
    if (!p)
        return NULL;
    p->self = p;
    p->machine = m;
    p->id = id;
    p->ws.owner = id;
    mmi_vad_init(&p->vads, m->layout.lowest_user_address, m->layout.highest_vad_address + 1);
    snprintf(p->name, sizeof p->name, "%s", name);
    HASH_ADD_PTR(m->processes, self, p);
    if (uthash_failed) {
        mmi_free(m, p);
        return NULL;
    }
    HASH_ADD(hh_id, m->process_ids, id, sizeof p->id, p);
    if (uthash_failed) {
        HASH_DEL(m->processes, p);
        mmi_free(m, p);
        return NULL;
    }
    return p;
}

/* The EPROCESS block is freed at exit, and its address may then be given
 * to the next process: only a live block names a process. */
static void forget_eprocess(mm_machine *m, struct mm_process *p)
{
    mm_machine *uthash_m = m;
    if (p->eprocess_hashed)
        HASH_DELETE(hh_eprocess, m->process_eps, p);
    p->eprocess_hashed = false;
    (void)uthash_m;
}

static void link_process(mm_machine *m, struct mm_process *p)
{
    p->prev = m->process_last;
    if (m->process_last)
        m->process_last->next = p;
    else
        m->process_first = p;
    m->process_last = p;
}

static void drop_process(mm_machine *m, struct mm_process *p)
{
    mm_machine *uthash_m = m;
    forget_eprocess(m, p);
    HASH_DELETE(hh_id, m->process_ids, p);
    HASH_DEL(m->processes, p);
    mmi_free(m, p);
    (void)uthash_m;
}

mm_status mmi_process_create_system(mm_machine *m)
{
    struct mm_process *p = new_process(m, "System", MM_SYSTEM_PROCESS_ID);
    if (!p)
        return MM_STATUS_INSUFFICIENT_RESOURCES;
    link_process(m, p);
    m->system = p;
    m->cpu[0].process = p; /* the trace names a context from here on */
    mm_status st = new_top_table(m, p->id, &p->pml4);
    if (!MM_SUCCESS(st))
        return st;
    /* The system regions' upper tables exist from boot on, so every process
     * shares them through its copy of the system half. */
    const mm_va regions[] = {m->layout.driver_images, m->layout.system_ptes, m->layout.paged_pool,
                             m->layout.pfn_database};
    for (size_t i = 0; i < sizeof regions / sizeof regions[0]; i++) {
        mm_pfn table;
        st = mmi_pt_ensure(m, p->pml4, regions[i], p->id, &table);
        if (!MM_SUCCESS(st))
            return st;
    }
    m->next_process_id = 0x100;
    return MM_STATUS_SUCCESS;
}

mm_status mmi_process_alloc_eprocess(mm_machine *m, struct mm_process *p)
{
    mm_status st = mmi_pool_alloc_kernel(m, EPROCESS_SIZE, MM_POOL_TAG('P', 'r', 'o', 'c'), &p->eprocess);
    if (!MM_SUCCESS(st))
        return st;
    mm_machine *uthash_m = m;
    bool uthash_failed = false;
    HASH_ADD(hh_eprocess, m->process_eps, eprocess, sizeof p->eprocess, p);
    p->eprocess_hashed = !uthash_failed;
    if (uthash_failed) {
        mmi_pool_release(m, p->eprocess);
        p->eprocess = 0;
        return MM_STATUS_INSUFFICIENT_RESOURCES;
    }
    return MM_STATUS_SUCCESS;
}

void mmi_process_free_all(mm_machine *m)
{
    struct mm_process *p = m->process_first;
    while (p) {
        struct mm_process *next = p->next;
        mmi_vad_fini(m, &p->vads);
        mmi_ws_fini(m, &p->ws);
        drop_process(m, p);
        p = next;
    }
    m->process_first = m->process_last = NULL;
    m->system = NULL;
}

mm_status mm_process_create(mm_machine *m, const char *name, mm_process **out)
{
    MMI_ENTER(m, "PspCreateProcess");
    if (!name || !out)
        return MM_STATUS_INVALID_PARAMETER;
    *out = NULL;
    if (!mmi_irql_allows(m, MM_PASSIVE_LEVEL, 0))
        return MM_STATUS_MACHINE_DEAD;
    if (m->next_process_id > UINT32_MAX - 4)
        return MM_STATUS_INSUFFICIENT_RESOURCES;
    struct mm_process *p = new_process(m, name, m->next_process_id);
    if (!p)
        return MM_STATUS_INSUFFICIENT_RESOURCES;
    mm_status st = new_top_table(m, p->id, &p->pml4);
    if (!MM_SUCCESS(st))
        goto fail;
    share_system_half(m, p->pml4);
    st = mmi_process_alloc_eprocess(m, p);
    if (!MM_SUCCESS(st)) {
        free_top_table(m, p->pml4);
        goto fail;
    }
    m->next_process_id += 4;
    link_process(m, p);
    mmi_trace(m, MM_EV_PROCESS, p->eprocess, p->pml4, 0, p->id);
    *out = p;
    return MM_STATUS_SUCCESS;
fail:
    drop_process(m, p);
    return st;
}

static bool attached_anywhere(const mm_machine *m, const struct mm_process *p)
{
    for (uint32_t i = 0; i < m->cpu_count; i++)
        if (m->cpu[i].process == p)
            return true;
    return p->attach_count > 0;
}

mm_status mm_process_terminate(mm_machine *m, mm_process *process)
{
    MMI_ENTER(m, "PspExitProcess");
    struct mm_process *p = mmi_process_lookup(m, process);
    if (!p)
        return MM_STATUS_INVALID_HANDLE;
    if (p->terminated)
        return MM_STATUS_PROCESS_IS_TERMINATING;
    if (p == m->system)
        return MM_STATUS_ACCESS_DENIED;
    if (attached_anywhere(m, p))
        return MM_STATUS_INVALID_DEVICE_STATE;
    if (!mmi_irql_allows(m, MM_PASSIVE_LEVEL, p->eprocess))
        return MM_STATUS_MACHINE_DEAD;
    p->terminated = true;
    mm_status st = mmi_virtual_release_all(m, p);
    if (!MM_SUCCESS(st))
        return st;
    mmi_trace(m, MM_EV_PROCESS, p->eprocess, p->pml4, 1, p->id);
    /* MmDeleteProcessAddressSpace: pages still locked for this process mean
     * a driver never unlocked them. Lock tracking names the MDL. */
    mm_va tracker, mdl;
    int64_t pages;
    if (p->locked_pages != 0 && mmi_lock_tracking(m) && mmi_mdl_leaked_lock(m, p->id, &tracker, &mdl, &pages))
        return mmi_bugcheck(m, MM_BUGCHECK_DRIVER_LEFT_LOCKED_PAGES_IN_PROCESS, tracker, 0, mdl, pages, MM_PFN_NONE,
                            mdl, "process %s (id %u) exited while MDL %016llx still had %llu of its pages locked",
                            p->name, p->id, (unsigned long long)mdl, (unsigned long long)pages);
    if (p->locked_pages != 0) {
        char culprit[96] = "";
        if (mmi_mdl_leaked_lock(m, p->id, &tracker, &mdl, &pages))
            snprintf(culprit, sizeof culprit, " (MDL %016llx still holds %llu of them)", (unsigned long long)mdl,
                     (unsigned long long)pages);
        return mmi_bugcheck(m, MM_BUGCHECK_PROCESS_HAS_LOCKED_PAGES, 0x00, p->eprocess, (uint64_t)p->locked_pages,
                            0, MM_PFN_NONE, p->eprocess,
                            "process %s (id %u) exited with %lld page(s) still locked%s: a driver locked them "
                            "with MmProbeAndLockPages and never called MmUnlockPages",
                            p->name, p->id, (long long)p->locked_pages, culprit);
    }
    mmi_ws_fini(m, &p->ws);
    mmi_vad_fini(m, &p->vads);
    st = free_top_table(m, p->pml4);
    if (!MM_SUCCESS(st))
        return st;
    p->pml4 = 0;
    forget_eprocess(m, p);
    return mmi_pool_release(m, p->eprocess);
}

static void unlink_process(mm_machine *m, struct mm_process *p)
{
    if (p->prev)
        p->prev->next = p->next;
    else
        m->process_first = p->next;
    if (p->next)
        p->next->prev = p->prev;
    else
        m->process_last = p->prev;
}

mm_status mm_process_close(mm_machine *m, mm_process *process)
{
    MMI_ENTER(m, "ObDereferenceObject");
    struct mm_process *p = mmi_process_lookup(m, process);
    if (!p)
        return MM_STATUS_INVALID_HANDLE;
    if (p == m->system)
        return MM_STATUS_ACCESS_DENIED;
    if (!p->terminated || attached_anywhere(m, p))
        return MM_STATUS_INVALID_DEVICE_STATE; /* only an exited process can go */
    mmi_trace(m, MM_EV_PROCESS, p->eprocess, MM_PFN_NONE, 2, p->id);
    unlink_process(m, p);
    mmi_vad_fini(m, &p->vads);
    mmi_ws_fini(m, &p->ws);
    drop_process(m, p);
    return MM_STATUS_SUCCESS;
}

mm_status mm_process_query(mm_machine *m, mm_process *process, struct mm_process_info *out)
{
    if (!m || !out)
        return MM_STATUS_INVALID_PARAMETER;
    struct mm_process *p = mmi_process_lookup(m, process);
    if (!p)
        return MM_STATUS_INVALID_HANDLE;
    *out = (struct mm_process_info){.id = p->id, .eprocess = p->eprocess, .directory_table_base = p->pml4,
                                    .terminated = p->terminated, .locked_pages = p->locked_pages,
                                    .working_set_pages = p == m->system ? m->system_ws->count : p->ws.count,
                                    .commit_charge = p->commit, .vad_count = p->vads.count,
                                    .attach_count = p->attach_count};
    memcpy(out->name, p->name, sizeof out->name);
    return MM_STATUS_SUCCESS;
}

mm_process *mm_process_system(mm_machine *m) { return m ? m->system : NULL; }
mm_process *mm_process_current(mm_machine *m) { return m ? mmi_cpu(m)->process : NULL; }

mm_process *mm_process_by_id(mm_machine *m, uint32_t id) { return m ? mmi_process_by_id(m, id) : NULL; }

mm_process *mm_process_next(mm_machine *m, mm_process *prev)
{
    if (!m)
        return NULL;
    if (!prev)
        return m->process_first;
    struct mm_process *p = mmi_process_lookup(m, prev);
    return p ? p->next : NULL;
}

mm_status mm_process_attach(mm_machine *m, mm_process *process, struct mm_apc_state *state)
{
    MMI_ENTER(m, "KeStackAttachProcess");
    if (!state)
        return MM_STATUS_INVALID_PARAMETER;
    struct mm_process *p = mmi_process_lookup(m, process);
    if (!p)
        return MM_STATUS_INVALID_HANDLE;
    struct mmi_cpu *cpu = mmi_cpu(m);
    if (p->terminated)
        return MM_STATUS_PROCESS_IS_TERMINATING;
    /* P3 the thread's ApcStateIndex (1 while attached), P4 "a DPC is
     * running": mmsim has no DPCs and takes DISPATCH_LEVEL or above for
     * one (docs/decisions.md). */
    if (cpu->irql >= MM_DISPATCH_LEVEL)
        return mmi_bugcheck(m, MM_BUGCHECK_INVALID_PROCESS_ATTACH_ATTEMPT, p->eprocess, cpu->process->eprocess,
                            cpu->attach_depth ? 1 : 0, 1, MM_PFN_NONE, p->eprocess,
                            "KeStackAttachProcess at IRQL %u: it requires IRQL below DISPATCH_LEVEL", cpu->irql);
    *state = (struct mm_apc_state){.saved = cpu->process, .target = p, .cpu = m->current_cpu,
                                   .magic = APC_STATE_MAGIC};
    mmi_switch_process(m, p);
    cpu->attach_depth++;
    p->attach_count++;
    mmi_trace(m, MM_EV_ATTACH, p->eprocess, MM_PFN_NONE, 0, p->id);
    return MM_STATUS_SUCCESS;
}

mm_status mm_process_detach(mm_machine *m, struct mm_apc_state *state)
{
    MMI_ENTER(m, "KeUnstackDetachProcess");
    if (!state)
        return MM_STATUS_INVALID_PARAMETER;
    struct mmi_cpu *cpu = mmi_cpu(m);
    struct mm_process *target = mmi_process_lookup(m, state->target);
    struct mm_process *saved = mmi_process_lookup(m, state->saved);
    if (state->magic != APC_STATE_MAGIC || !target || !saved || target != cpu->process ||
        state->cpu != m->current_cpu || cpu->attach_depth == 0)
        return mmi_bugcheck(m, MM_BUGCHECK_INVALID_PROCESS_DETACH_ATTEMPT, target ? target->eprocess : 0,
                            cpu->process->eprocess, cpu->irql, 0, MM_PFN_NONE, 0,
                            "KeUnstackDetachProcess with an APC state that does not match the current attach");
    mmi_switch_process(m, saved);
    cpu->attach_depth--;
    target->attach_count--;
    state->magic = 0;
    mmi_trace(m, MM_EV_ATTACH, saved->eprocess, MM_PFN_NONE, 1, saved->id);
    return MM_STATUS_SUCCESS;
}

size_t mm_process_vads(mm_machine *m, mm_process *process, struct mm_vad_info *out, size_t max)
{
    if (!m || (max && !out))
        return 0;
    struct mm_process *p = mmi_process_lookup(m, process); /* never a stale or foreign handle */
    if (!p)
        return 0;
    const struct mmi_vad_table *t = &p->vads;
    size_t i = 0;
    for (const struct mmi_vad *v = mmi_vad_first(t); v && i < max; v = v->next, i++) {
        out[i] = (struct mm_vad_info){.start = v->start, .end = v->end, .protect = v->protect,
                                      .type = v->section || v->physical ? MM_MEM_MAPPED : MM_MEM_PRIVATE,
                                      .committed_all = v->committed_all, .physical = v->physical,
                                      .commit_charge = v->charge, .level = mmi_vad_level(t, v)};
    }
    return t->count;
}
