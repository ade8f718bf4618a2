/* examples/drivers/filter-neither/filter-neither.c — the story of a filter
 * that turns a METHOD_NEITHER request into a direct one for the driver
 * below it. On the way down it locks the caller's output buffer in an MDL
 * and hangs it on Irp->MdlAddress; the driver below writes through the
 * MDL's system mapping. On the way back its completion routine unlocks and
 * frees that MDL, but (the bug) leaves Irp->MdlAddress pointing at it, so
 * the I/O manager's own completion unlocks and frees it again: the second
 * unlock is PFN_LIST_CORRUPT (0x4E) without Verifier, 0xC4 with it. Built
 * with -DSTORY_FIXED the completion routine clears Irp->MdlAddress. Both
 * devices belong to this one driver: the story's device, and a filter
 * device attached above it. */
#include "../common/skeleton.h"

static PDEVICE_OBJECT Filter, Lower;
static const char Reply[] = "from below";

static IO_COMPLETION_ROUTINE FilterDone;

NTSTATUS StoryStart(PDRIVER_OBJECT DriverObject)
{
    Lower = DriverObject->DeviceObject;
    NTSTATUS status = IoCreateDevice(DriverObject, 0, NULL, FILE_DEVICE_UNKNOWN, 0, FALSE, &Filter);
    if (!NT_SUCCESS(status))
        return status;
    IoAttachDeviceToDeviceStack(Filter, Lower);
    Filter->Flags &= ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}

void StoryStop(void)
{
    IoDetachDevice(Lower);
    IoDeleteDevice(Filter);
}

static NTSTATUS FilterDone(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    PMDL mdl = (PMDL)Context;
    UNREFERENCED_PARAMETER(DeviceObject);
    MmUnlockPages(mdl);
    IoFreeMdl(mdl);
#ifdef STORY_FIXED
    Irp->MdlAddress = NULL; /* it is gone: the I/O manager must not free it again */
#endif
    if (Irp->PendingReturned)
        IoMarkIrpPending(Irp);
    return STATUS_CONTINUE_COMPLETION;
}

/* The filter's half: lock the caller's buffer on the way down. */
NTSTATUS StoryDispatch(PDEVICE_OBJECT DeviceObject, PIRP Irp, BOOLEAN *Handled)
{
    PIO_STACK_LOCATION irpSp = IoGetCurrentIrpStackLocation(Irp);
    ULONG length = irpSp->Parameters.DeviceIoControl.OutputBufferLength;
    PMDL mdl;
    *Handled = DeviceObject == Filter;
    if (!*Handled)
        return STATUS_SUCCESS;
    mdl = IoAllocateMdl(Irp->UserBuffer, length, FALSE, FALSE, NULL);
    NTSTATUS status = mdl ? STATUS_SUCCESS : STATUS_INSUFFICIENT_RESOURCES;
    if (mdl) {
        __try {
            MmProbeAndLockPages(mdl, UserMode, IoWriteAccess);
        } __except (EXCEPTION_EXECUTE_HANDLER) {
            status = GetExceptionCode();
            IoFreeMdl(mdl);
        }
    }
    if (!NT_SUCCESS(status)) {
        Irp->IoStatus.Status = status;
        Irp->IoStatus.Information = 0;
        IoCompleteRequest(Irp, IO_NO_INCREMENT);
        return status;
    }
    Irp->MdlAddress = mdl;
    IoCopyCurrentIrpStackLocationToNext(Irp);
    IoSetCompletionRoutine(Irp, FilterDone, mdl, TRUE, TRUE, TRUE);
    return IoCallDriver(Lower, Irp);
}

/* The driver below: write through the MDL the filter made. */
NTSTATUS StoryControl(PDEVICE_OBJECT DeviceObject, PIRP Irp, PIO_STACK_LOCATION IrpSp, ULONG_PTR *Information)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    UNREFERENCED_PARAMETER(IrpSp);
    if (!Irp->MdlAddress)
        return STATUS_INVALID_PARAMETER;
    PVOID va = MmGetSystemAddressForMdlSafe(Irp->MdlAddress, NormalPagePriority | MdlMappingNoExecute);
    if (!va)
        return STATUS_INSUFFICIENT_RESOURCES;
    ULONG n = MmGetMdlByteCount(Irp->MdlAddress) < sizeof(Reply) ? MmGetMdlByteCount(Irp->MdlAddress)
                                                                   : (ULONG)sizeof(Reply);
    RtlCopyMemory(va, Reply, n);
    *Information = n;
    return STATUS_SUCCESS;
}
