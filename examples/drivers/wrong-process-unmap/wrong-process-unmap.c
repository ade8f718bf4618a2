/* examples/drivers/wrong-process-unmap/wrong-process-unmap.c — the story of
 * a user mapping unmapped from the wrong process. Request "m" maps a
 * nonpaged buffer into the caller; the wrong driver unmaps it when it
 * unloads, in the System process: MmUnmapLockedPages looks the address up
 * in the current process, finds nothing and unmaps nothing, so the
 * application keeps its mapping. Without Verifier Windows is silent (mmsim
 * records wrong-process-unmap); Verifier stops at the call: 0xC4/0xB9.
 * Built with -DSTORY_FIXED the driver unmaps at IRP_MJ_CLEANUP, in the
 * caller's own context. */
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
    Buffer = ExAllocatePoolWithTag(NonPagedPoolNx, 2 * PAGE_SIZE, STORY_TAG);
    if (!Buffer)
        return STATUS_INSUFFICIENT_RESOURCES;
    Mdl = IoAllocateMdl(Buffer, 2 * PAGE_SIZE, FALSE, FALSE, NULL);
    if (!Mdl) {
        ExFreePoolWithTag(Buffer, STORY_TAG);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    MmBuildMdlForNonPagedPool(Mdl);
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

static void Unshare(void)
{
    if (!Mdl)
        return;
    MmUnmapLockedPages(UserVa, Mdl);
    IoFreeMdl(Mdl);
    ExFreePoolWithTag(Buffer, STORY_TAG);
    Mdl = NULL;
}

NTSTATUS StoryControl(PDEVICE_OBJECT DeviceObject, PIRP Irp, PIO_STACK_LOCATION IrpSp, ULONG_PTR *Information)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    return StoryInputByte(IrpSp) == 'm' ? Share(Irp, IrpSp->Parameters.DeviceIoControl.OutputBufferLength, Information)
                                        : STATUS_INVALID_PARAMETER;
}

void StoryCleanup(PIRP Irp)
{
    UNREFERENCED_PARAMETER(Irp);
#ifdef STORY_FIXED
    Unshare(); /* the caller's context: its mapping goes */
#endif
}

void StoryStop(void) { Unshare(); /* the wrong driver: in the System process */ }
