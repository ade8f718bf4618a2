/* examples/drivers/exit-with-locked-pages/exit-with-locked-pages.c — the
 * story of a driver that keeps a user buffer locked. The control code
 * locks the caller's output buffer and keeps the MDL, to fill it later;
 * the bug is that nothing unlocks it when the caller goes away. When the
 * process exits with its pages still locked Windows stops with
 * PROCESS_HAS_LOCKED_PAGES (0x76); with TrackLockedPages
 * (--track-locked-pages) the stop names the MDL:
 * DRIVER_LEFT_LOCKED_PAGES_IN_PROCESS (0xCB). Built with -DSTORY_FIXED the
 * driver unlocks in IRP_MJ_CLEANUP, which the handle's closing sends when
 * the process exits. */
#include "../common/skeleton.h"

static PMDL Held;

NTSTATUS StoryControl(PDEVICE_OBJECT DeviceObject, PIRP Irp, PIO_STACK_LOCATION IrpSp, ULONG_PTR *Information)
{
    ULONG length = IrpSp->Parameters.DeviceIoControl.OutputBufferLength;
    UNREFERENCED_PARAMETER(DeviceObject);
    UNREFERENCED_PARAMETER(Information);
    if (Held)
        return STATUS_DEVICE_BUSY;
    PMDL mdl = IoAllocateMdl(Irp->UserBuffer, length, FALSE, FALSE, NULL);
    if (!mdl)
        return STATUS_INSUFFICIENT_RESOURCES;
    __try {
        MmProbeAndLockPages(mdl, UserMode, IoWriteAccess);
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        IoFreeMdl(mdl);
        return GetExceptionCode();
    }
    Held = mdl; /* filled later, when data arrives */
    return STATUS_SUCCESS;
}

static void Release(void)
{
    if (Held) {
        MmUnlockPages(Held);
        IoFreeMdl(Held);
        Held = NULL;
    }
}

void StoryCleanup(PIRP Irp)
{
    UNREFERENCED_PARAMETER(Irp);
#ifdef STORY_FIXED
    Release(); /* the caller's handle is closing: its buffer goes back */
#endif
}

void StoryStop(void) { Release(); }
