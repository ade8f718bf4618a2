/* examples/drivers/pool-overrun/pool-overrun.c — the story of a pool
 * buffer one byte too small. The driver copies the caller's name into pool
 * and ends it with a NUL, but allocates only the name's length: the NUL
 * lands one byte past the block. Pool blocks are 16-byte granules, so a
 * 15-byte name hides the bug in the block's slack; a 16-byte name writes
 * the NUL over the next block's POOL_HEADER, and the free that checks it
 * stops the machine with BAD_POOL_HEADER (0x19/0x20), far from the write on
 * a real machine. Under Verifier's Special Pool each block ends its own
 * page: the 16-byte name's NUL is a write to the inaccessible page after it,
 * 0xD6 at the driver's instruction, and the 15-byte name's NUL changes the
 * pattern in the slack, which the free finds (0xC1/0x24). Built with
 * -DSTORY_FIXED the buffer has room for the NUL. */
#include "../common/skeleton.h"

#define STORY_TAG 0x79727453 /* "Stry" */

NTSTATUS StoryControl(PDEVICE_OBJECT DeviceObject, PIRP Irp, PIO_STACK_LOCATION IrpSp, ULONG_PTR *Information)
{
    const CHAR *in = (const CHAR *)IrpSp->Parameters.DeviceIoControl.Type3InputBuffer;
    ULONG length = IrpSp->Parameters.DeviceIoControl.InputBufferLength;
    volatile PCHAR name = NULL;
    NTSTATUS status = STATUS_SUCCESS;
    UNREFERENCED_PARAMETER(DeviceObject);
    UNREFERENCED_PARAMETER(Irp);
    if (length == 0 || length > 256)
        return STATUS_INVALID_PARAMETER;
#ifdef STORY_FIXED
    name = (PCHAR)ExAllocatePoolWithTag(NonPagedPoolNx, length + 1, STORY_TAG);
#else
    name = (PCHAR)ExAllocatePoolWithTag(NonPagedPoolNx, length, STORY_TAG); /* the bug: no room for the NUL */
#endif
    if (!name)
        return STATUS_INSUFFICIENT_RESOURCES;
    __try {
        ProbeForRead((PVOID)in, length, 1);
        RtlCopyMemory(name, in, length);
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        status = GetExceptionCode();
    }
    if (NT_SUCCESS(status)) {
        name[length] = '\0';
        DbgPrint("pool-overrun: hello, %s\n", name);
        *Information = length;
    }
    ExFreePoolWithTag(name, STORY_TAG);
    return status;
}
