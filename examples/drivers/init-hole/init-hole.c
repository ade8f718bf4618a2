/* examples/drivers/init-hole/init-hole.c — the story of copying a driver's
 * own image through an MDL. The driver describes its whole image
 * (DriverStart, DriverSize) and locks it to copy it out. But the INIT
 * section (DriverEntry) was discarded after initialisation, leaving a hole
 * of invalid pages in the middle: the probe touches it and the machine
 * stops with PAGE_FAULT_IN_NONPAGED_AREA (0x50). Built with -DSTORY_FIXED
 * the driver copies page by page, skipping what MmIsAddressValid says is
 * gone. */
#include "../common/skeleton.h"

NTSTATUS StoryControl(PDEVICE_OBJECT DeviceObject, PIRP Irp, PIO_STACK_LOCATION IrpSp, ULONG_PTR *Information)
{
    PDRIVER_OBJECT driver = DeviceObject->DriverObject;
    PUCHAR image = (PUCHAR)driver->DriverStart;
    ULONG size = driver->DriverSize;
    ULONG length = IrpSp->Parameters.DeviceIoControl.OutputBufferLength;
    UNREFERENCED_PARAMETER(Irp);
    if (length < size)
        return STATUS_BUFFER_TOO_SMALL;
#ifdef STORY_FIXED
    ULONG valid = 0;
    for (ULONG offset = 0; offset < size; offset += PAGE_SIZE)
        if (MmIsAddressValid(image + offset))
            valid += PAGE_SIZE;
    *Information = valid;
    return STATUS_SUCCESS;
#else
    PMDL mdl = IoAllocateMdl(image, size, FALSE, FALSE, NULL);
    if (!mdl)
        return STATUS_INSUFFICIENT_RESOURCES;
    MmProbeAndLockPages(mdl, KernelMode, IoReadAccess); /* the bug: INIT is gone */
    *Information = size;
    MmUnlockPages(mdl);
    IoFreeMdl(mdl);
    return STATUS_SUCCESS;
#endif
}
