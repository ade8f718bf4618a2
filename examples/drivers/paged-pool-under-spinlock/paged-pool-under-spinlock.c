/* examples/drivers/paged-pool-under-spinlock/paged-pool-under-spinlock.c —
 * the story of paged memory touched under a spin lock. The driver keeps
 * its counters in paged pool and updates them while holding a spin lock,
 * at DISPATCH_LEVEL. On a machine with plenty of memory the page is
 * resident and nothing happens; Verifier's Force IRQL Checking trims all
 * pageable memory when the IRQL rises, so the touch is a page fault at
 * DISPATCH_LEVEL by the driver's code: DRIVER_IRQL_NOT_LESS_OR_EQUAL (0xD1)
 * with the driver's instruction. Built with -DSTORY_FIXED the counters are
 * in nonpaged pool. */
#include "../common/skeleton.h"

#define STORY_TAG 0x79727453 /* "Stry" */

static KSPIN_LOCK Lock;
static volatile ULONG *Counters;

NTSTATUS StoryStart(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
    KeInitializeSpinLock(&Lock);
#ifdef STORY_FIXED
    Counters = (volatile ULONG *)ExAllocatePoolZero(NonPagedPoolNx, PAGE_SIZE, STORY_TAG);
#else
    Counters = (volatile ULONG *)ExAllocatePoolZero(PagedPool, PAGE_SIZE, STORY_TAG); /* the bug */
#endif
    return Counters ? STATUS_SUCCESS : STATUS_INSUFFICIENT_RESOURCES;
}

NTSTATUS StoryControl(PDEVICE_OBJECT DeviceObject, PIRP Irp, PIO_STACK_LOCATION IrpSp, ULONG_PTR *Information)
{
    KIRQL irql;
    UNREFERENCED_PARAMETER(DeviceObject);
    UNREFERENCED_PARAMETER(Irp);
    UNREFERENCED_PARAMETER(IrpSp);
    KeAcquireSpinLock(&Lock, &irql);
    *Information = ++Counters[0];
    KeReleaseSpinLock(&Lock, irql);
    return STATUS_SUCCESS;
}

void StoryStop(void)
{
    if (Counters)
        ExFreePoolWithTag((PVOID)Counters, STORY_TAG);
    Counters = NULL;
}
