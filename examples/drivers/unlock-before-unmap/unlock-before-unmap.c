/* examples/drivers/unlock-before-unmap/unlock-before-unmap.c — the story of
 * a driver that shares a buffer with an application and cleans up in the
 * wrong order. Request "m" locks a nonpaged buffer and maps it into the
 * caller (MmMapLockedPagesSpecifyCache, UserMode), returning the address;
 * request "r" releases it: the wrong driver unlocks and frees without
 * MmUnmapLockedPages. Windows says nothing: the application keeps a mapping
 * of a frame the next allocation gets (an information leak). mmsim reports
 * the finding stale-user-mapping at the unlock. Built with -DSTORY_FIXED
 * the driver unmaps first. */
#include "../common/input.h"
#include "../common/skeleton.h"

#define STORY_TAG 0x79727453 /* "Stry" */

static PVOID Buffer;
static PMDL Mdl;
static PVOID UserVa;

static NTSTATUS Share(PIRP Irp, ULONG OutLength, ULONG_PTR *Information)
{
    if (Mdl || OutLength < sizeof(PVOID))
        return STATUS_INVALID_DEVICE_REQUEST;
    Buffer = ExAllocatePoolWithTag(NonPagedPoolNx, PAGE_SIZE, STORY_TAG);
    if (!Buffer)
        return STATUS_INSUFFICIENT_RESOURCES;
    RtlFillMemory(Buffer, PAGE_SIZE, 'd');
    Mdl = IoAllocateMdl(Buffer, PAGE_SIZE, FALSE, FALSE, NULL);
    if (!Mdl) {
        ExFreePoolWithTag(Buffer, STORY_TAG);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    MmProbeAndLockPages(Mdl, KernelMode, IoWriteAccess);
    __try {
        UserVa = MmMapLockedPagesSpecifyCache(Mdl, UserMode, MmCached, NULL, FALSE, NormalPagePriority);
        ProbeForWrite(Irp->UserBuffer, sizeof(PVOID), 1);
        *(PVOID *)Irp->UserBuffer = UserVa;
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        return GetExceptionCode();
    }
    *Information = sizeof(PVOID);
    return STATUS_SUCCESS;
}

static void Release(void)
{
    if (!Mdl)
        return;
#ifdef STORY_FIXED
    MmUnmapLockedPages(UserVa, Mdl);
#endif
    MmUnlockPages(Mdl); /* the wrong driver: the user mapping is still there */
    IoFreeMdl(Mdl);
    ExFreePoolWithTag(Buffer, STORY_TAG);
    Mdl = NULL;
}

NTSTATUS StoryControl(PDEVICE_OBJECT DeviceObject, PIRP Irp, PIO_STACK_LOCATION IrpSp, ULONG_PTR *Information)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    switch (StoryInputByte(IrpSp)) {
    case 'm': return Share(Irp, IrpSp->Parameters.DeviceIoControl.OutputBufferLength, Information);
    case 'r': Release(); return STATUS_SUCCESS;
    default: return STATUS_INVALID_PARAMETER;
    }
}
