/* examples/drivers/double-unlock/double-unlock.c — the story of a driver
 * that unlocks an MDL twice. It locks the caller's output buffer, fills it
 * through a system mapping, unlocks it, and (the bug) unlocks it again.
 * Without Verifier the second MmUnlockPages drops a reference the pages do
 * not have: PFN_LIST_CORRUPT (0x4E, P1 7). With Verifier it is caught at
 * the call: 0xC4/0x7C. Built with -DSTORY_FIXED it unlocks once. */
#include "../common/skeleton.h"

NTSTATUS StoryControl(PDEVICE_OBJECT DeviceObject, PIRP Irp, PIO_STACK_LOCATION IrpSp, ULONG_PTR *Information)
{
    ULONG length = IrpSp->Parameters.DeviceIoControl.OutputBufferLength;
    PMDL mdl;
    PVOID va;

    UNREFERENCED_PARAMETER(DeviceObject);
    mdl = IoAllocateMdl(Irp->UserBuffer, length, FALSE, FALSE, NULL);
    if (!mdl)
        return STATUS_INSUFFICIENT_RESOURCES;
    __try {
        MmProbeAndLockPages(mdl, UserMode, IoWriteAccess);
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        IoFreeMdl(mdl);
        return GetExceptionCode();
    }
    va = MmGetSystemAddressForMdlSafe(mdl, NormalPagePriority | MdlMappingNoExecute);
    if (va) {
        RtlFillMemory(va, length, 'x');
        *Information = length;
    }
    MmUnlockPages(mdl);
#ifndef STORY_FIXED
    MmUnlockPages(mdl); /* the bug: these pages are no longer locked */
#endif
    IoFreeMdl(mdl);
    return va ? STATUS_SUCCESS : STATUS_INSUFFICIENT_RESOURCES;
}
