/* libmm/snapshot.c — a machine's snapshot and its restore. The state is
 * three parts, each restored at the cost of what changed since: the
 * bookkeeping arena's used prefix (arena.c), the pages written since
 * (store.c), and the host's side — the host view keeps what the restored
 * page tables still give (tlb.c), shared-object images loaded since are
 * unloaded and images given back after a bug check are taken back
 * (host/hostimage.c). */
#include <stdlib.h>

#include "arena.h"
#include "host/hostmmu.h"
#include "machine.h"
#include "store.h"
#include "tlb.h"

static mm_status usable(const mm_machine *m)
{
    if (!m)
        return MM_STATUS_INVALID_PARAMETER;
    if (!m->arena)
        return MM_STATUS_NOT_SUPPORTED;
    if (mmi_host_on_kernel_stack())
        return MM_STATUS_INVALID_DEVICE_STATE; /* its frames are the code's own stack */
    return MM_STATUS_SUCCESS;
}

mm_status mm_machine_snapshot(mm_machine *m)
{
    mm_status st = usable(m);
    if (!MM_SUCCESS(st))
        return st;
    if (m->dead)
        return MM_STATUS_MACHINE_DEAD;
    if (!mmi_store_track(&m->store) || !mmi_store_track(&m->pagefile.store))
        return MM_STATUS_INSUFFICIENT_RESOURCES;
    mmi_tlb_settle_parked(m); /* parked pages the tables give are cached again */
    /* Host code may already write these frames without a fault, and the
     * model through the pointers its caches hold. */
    mmi_tlb_keep_writable(m);
    mmi_tlb_forget_caches(m);
    mmi_host_images_snapshot(m);
    /* The TLB is the host view's map: a restore leaves it as it is, then
     * drops what the snapshot's tables do not give. */
    mmi_arena_keep(m->arena, &m->tlb, sizeof m->tlb);
    return mmi_arena_save(m->arena) ? MM_STATUS_SUCCESS : MM_STATUS_INSUFFICIENT_RESOURCES;
}

/* The frames the host view maps writable (none without a host view),
 * sorted, for the prune after a restore. */
struct writable_frames {
    mm_pfn pfn[MMI_TLB_ENTRIES];
    unsigned count;
};

static int by_pfn(const void *a, const void *b)
{
    mm_pfn x = *(const mm_pfn *)a, y = *(const mm_pfn *)b;
    return x < y ? -1 : x > y;
}

static bool host_may_write(void *ctx, uint64_t pfn)
{
    const struct writable_frames *w = ctx;
    return w->count && bsearch(&pfn, w->pfn, w->count, sizeof w->pfn[0], by_pfn);
}

/* usable(), with a snapshot taken. */
static mm_status has_snapshot(const mm_machine *m)
{
    mm_status st = usable(m);
    return !MM_SUCCESS(st) ? st : mmi_arena_saved(m->arena) ? MM_STATUS_SUCCESS : MM_STATUS_NOT_FOUND;
}

mm_status mm_machine_defer_host_unmaps(mm_machine *m)
{
    mm_status st = has_snapshot(m);
    if (!MM_SUCCESS(st))
        return st;
    m->tlb.park = true;
    return MM_STATUS_SUCCESS;
}

mm_status mm_machine_restore(mm_machine *m)
{
    mm_status st = has_snapshot(m);
    if (!MM_SUCCESS(st))
        return st;
    mmi_host_images_drop_since(m);
    bool watching = mmi_host_watching(m);
    mmi_arena_restore(m->arena); /* all but the TLB (mmi_arena_keep) */
    mmi_tlb_forget_caches(m);
    mmi_store_rollback(&m->store);
    mmi_store_rollback(&m->pagefile.store);
    mmi_host_images_retake(m);
    mmi_tlb_revalidate(m);
    mmi_tlb_settle_parked(m);
    if (mmi_host_watching(m) != watching)
        /* Watching user reads came or went with the restore: the host view's
         * user pages (none while watching) start again from none. */
        mmi_tlb_flush_user(m);
    /* Pages the host view still maps writable stay kept: they may change
     * unseen before the next restore. */
    struct writable_frames w;
    w.count = m->tlb.host ? mmi_tlb_writable_frames(m, w.pfn) : 0;
    qsort(w.pfn, w.count, sizeof w.pfn[0], by_pfn);
    mmi_store_prune(&m->store, host_may_write, &w);
    mmi_store_prune(&m->pagefile.store, NULL, NULL);
    mmi_host_enter(m);
    return MM_STATUS_SUCCESS;
}
