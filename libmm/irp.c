/* libmm/irp.c — IRP packets with the x64 layout (sizeof(IRP) 0xD0, one
 * IO_STACK_LOCATION 0x48): IoAllocateIrp (fixed-size lookaside packets for
 * up to 8 stack locations without quota, else exact-size pool), IoInitializeIrp
 * on driver memory, IoFreeIrp. IoFreeIrp never frees the MDL chain. Each
 * packet's state is kept by address: freeing or completing a packet that is
 * not live is 0x44 MULTIPLE_IRP_COMPLETE_REQUESTS, or 0xC9/0x01 under I/O
 * Verification; IoInitializeIrp on an IoAllocateIrp packet is 0xC9/0x20D. */
#include "irp.h"

#include <string.h>

#include "alloc.h"
#include "bugcheck.h"
#include "fault.h"
#include "hash.h"
#include "irql.h"
#include "machine.h"
#include "pool.h"
#include "trace.h"

#define IRP_TAG MM_POOL_TAG('I', 'r', 'p', ' ')
#define LARGE_STACK 8 /* the large lookaside list's packets hold 8 stack locations */

enum irp_state { IRP_FREED, IRP_ALLOCATED, IRP_DRIVER_OWNED };

struct mmi_irp {
    UT_hash_handle hh;
    mm_va irp;
    enum irp_state state;
};

void mmi_irp_fini(mm_machine *m)
{
    mm_machine *uthash_m = m;
    struct mmi_irp *r, *tmp;
    HASH_ITER(hh, m->irps, r, tmp) {
        HASH_DEL(m->irps, r);
        mmi_free(m, r);
    }
    (void)uthash_m;
}

static struct mmi_irp *find(mm_machine *m, mm_va irp)
{
    struct mmi_irp *r = NULL;
    HASH_FIND(hh, m->irps, &irp, sizeof irp, r);
    return r;
}

static mm_status record(mm_machine *m, mm_va irp, enum irp_state state)
{
    struct mmi_irp *r = find(m, irp);
    if (r) {
        r->state = state;
        return MM_STATUS_SUCCESS;
    }
    mm_machine *uthash_m = m;
    bool uthash_failed = false;
    r = mmi_alloc(m, sizeof *r);
    if (!r)
        return MM_STATUS_INSUFFICIENT_RESOURCES;
    *r = (struct mmi_irp){.irp = irp, .state = state};
    HASH_ADD(hh, m->irps, irp, sizeof r->irp, r);
    if (uthash_failed) {
        mmi_free(m, r);
        return MM_STATUS_INSUFFICIENT_RESOURCES;
    }
    return MM_STATUS_SUCCESS;
}

static mm_status kernel_write(mm_machine *m, mm_va va, const void *buf, size_t len)
{
    struct mm_access_request req = {.va = va, .buffer = (void *)(uintptr_t)buf, .length = len,
                                     .kind = MM_ACCESS_WRITE};
    return mmi_access(m, &req);
}

/* IoInitializeIrp's writes: the packet zeroed, then Type, Size, StackCount,
 * CurrentLocation (one past the last), an empty ThreadListEntry and
 * CurrentStackLocation one past the last slot. */
static mm_status initialize(mm_machine *m, mm_va irp, uint16_t packet_size, uint8_t stack_size, uint8_t flags)
{
    unsigned char packet[MM_IO_SIZE_OF_IRP(127)];
    memset(packet, 0, sizeof packet);
    for (uint32_t at = sizeof packet; at < packet_size; at += sizeof packet) { /* the rest of a big packet */
        uint32_t n = packet_size - at < sizeof packet ? packet_size - at : (uint32_t)sizeof packet;
        mm_status st = kernel_write(m, irp + at, packet, n);
        if (!MM_SUCCESS(st))
            return st;
    }
    uint16_t type = MM_IO_TYPE_IRP;
    memcpy(packet + 0x00, &type, 2);
    memcpy(packet + 0x02, &packet_size, 2);
    mm_va list = irp + 0x20;
    memcpy(packet + 0x20, &list, 8);
    memcpy(packet + 0x28, &list, 8);
    packet[0x42] = stack_size;
    packet[0x43] = (uint8_t)(stack_size + 1);
    packet[0x47] = flags;
    mm_va location = irp + MM_IO_SIZE_OF_IRP(stack_size);
    memcpy(packet + 0xB8, &location, 8);
    return kernel_write(m, irp, packet, packet_size < sizeof packet ? packet_size : sizeof packet);
}

static bool stack_size_ok(int stack_size) { return stack_size >= 1 && stack_size <= 127; }

mm_va mm_io_allocate_irp_ex(mm_machine *m, int stack_size, bool charge_quota)
{
    MMI_ENTER_RET(m, "IoAllocateIrp", 0);
    if (!stack_size_ok(stack_size) || !mmi_irql_allows(m, MM_DISPATCH_LEVEL, 0))
        return 0;
    bool lookaside = stack_size <= LARGE_STACK && !charge_quota;
    uint16_t size = (uint16_t)MM_IO_SIZE_OF_IRP(lookaside ? (stack_size == 1 ? 1 : LARGE_STACK) : stack_size);
    uint8_t flags = lookaside ? MM_IRP_ALLOCATED_FIXED_SIZE | MM_IRP_LOOKASIDE_ALLOCATION
                              : charge_quota ? MM_IRP_QUOTA_CHARGED : 0;
    mm_va irp = 0;
    if (!MM_SUCCESS(mmi_pool_alloc(m, MM_NONPAGED_POOL, size, IRP_TAG, &irp)))
        return 0;
    if (!MM_SUCCESS(record(m, irp, IRP_ALLOCATED)) || !MM_SUCCESS(initialize(m, irp, size, (uint8_t)stack_size, flags))) {
        struct mmi_irp *r = find(m, irp);
        if (r)
            r->state = IRP_FREED;
        mmi_pool_release(m, irp);
        return 0;
    }
    mmi_trace(m, MM_EV_NOTE, irp, MM_PFN_NONE, 0x49525041 /* "APRI" */, (uint64_t)stack_size);
    return irp;
}

mm_va mm_io_allocate_irp(mm_machine *m) { return mm_io_allocate_irp_ex(m, 1, false); }

mm_status mm_io_initialize_irp(mm_machine *m, mm_va irp, uint16_t packet_size, int stack_size)
{
    MMI_ENTER(m, "IoInitializeIrp");
    if (!irp || !stack_size_ok(stack_size) || packet_size < MM_IO_SIZE_OF_IRP(stack_size))
        return MM_STATUS_INVALID_PARAMETER;
    if (!mmi_irql_allows(m, MM_DISPATCH_LEVEL, irp))
        return MM_STATUS_MACHINE_DEAD;
    struct mmi_irp *r = find(m, irp);
    if (r && r->state == IRP_ALLOCATED && (m->cfg.verifier_flags & MM_VERIFIER_IO_VERIFICATION))
        return mmi_bugcheck(m, MM_BUGCHECK_DRIVER_VERIFIER_IOMANAGER_VIOLATION, 0x20D, mmi_cpu(m)->caller, irp, 0,
                            MM_PFN_NONE, irp,
                            "IoInitializeIrp on IRP %016llx, which IoAllocateIrp gave: its allocation flags and quota "
                            "are lost (use IoReuseIrp)", (unsigned long long)irp);
    /* Without Verifier the packet's AllocationFlags are zeroed: IoFreeIrp
     * will hand it to ExFreePool. */
    mm_status st = initialize(m, irp, packet_size, (uint8_t)stack_size, 0);
    if (!MM_SUCCESS(st))
        return st;
    return record(m, irp, IRP_DRIVER_OWNED);
}

mm_status mmi_irp_check_live(mm_machine *m, mm_va irp)
{
    struct mmi_irp *r = find(m, irp);
    if (r && r->state == IRP_FREED) {
        if (m->cfg.verifier_flags & MM_VERIFIER_IO_VERIFICATION)
            return mmi_bugcheck(m, MM_BUGCHECK_DRIVER_VERIFIER_IOMANAGER_VIOLATION, 0x01, irp, 0, 0, MM_PFN_NONE, irp,
                                "%s of IRP %016llx, which was already freed", m->op, (unsigned long long)irp);
        return mmi_bugcheck(m, MM_BUGCHECK_MULTIPLE_IRP_COMPLETE_REQUESTS, irp, 0, 0, 0, MM_PFN_NONE, irp,
                            "%s of IRP %016llx, which was already completed or freed", m->op,
                            (unsigned long long)irp);
    }
    return MM_STATUS_SUCCESS;
}

mm_status mmi_irp_free(mm_machine *m, mm_va irp)
{
    mm_status st = mmi_irp_check_live(m, irp);
    if (!MM_SUCCESS(st))
        return st;
    struct mmi_irp *r = find(m, irp);
    if (!r && (m->cfg.verifier_flags & MM_VERIFIER_IO_VERIFICATION))
        return mmi_bugcheck(m, MM_BUGCHECK_DRIVER_VERIFIER_IOMANAGER_VIOLATION, 0x01, irp, 0, 0, MM_PFN_NONE, irp,
                            "IoFreeIrp of %016llx, which is not an IRP", (unsigned long long)irp);
    /* Type goes first, so a stale pointer is seen for what it is. */
    uint16_t type = 0;
    if (!MM_SUCCESS(st = kernel_write(m, irp, &type, sizeof type)))
        return st;
    if (r)
        r->state = IRP_FREED;
    mmi_trace(m, MM_EV_NOTE, irp, MM_PFN_NONE, 0x49524646 /* "FFRI" */, 0);
    /* A packet of the driver's own memory goes to ExFreePool, whose checks
     * decide (the driver's own pool block, or a bad free). */
    return mmi_pool_free_checked(m, irp, 0);
}

mm_status mm_io_free_irp(mm_machine *m, mm_va irp)
{
    MMI_ENTER(m, "IoFreeIrp");
    if (!mmi_irql_allows(m, MM_DISPATCH_LEVEL, irp))
        return MM_STATUS_MACHINE_DEAD;
    return mmi_irp_free(m, irp);
}
