/* examples/drivers/build-nonpaged-on-paged/build-nonpaged-on-paged.c — the
 * story of MmBuildMdlForNonPagedPool on paged pool. The driver describes a
 * pool buffer with an MDL and builds it as if it were nonpaged. Without
 * Verifier nothing happens at once: the MDL points at frames that paging
 * may take away later, a silent bug. Verifier checks the address at the
 * call: 0xC4/0x7F. Built with -DSTORY_FIXED the buffer is nonpaged. */
#include "../common/skeleton.h"

#define STORY_TAG 0x79727453 /* "Stry" */

NTSTATUS StoryControl(PDEVICE_OBJECT DeviceObject, PIRP Irp, PIO_STACK_LOCATION IrpSp, ULONG_PTR *Information)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    UNREFERENCED_PARAMETER(Irp);
    UNREFERENCED_PARAMETER(IrpSp);
#ifdef STORY_FIXED
    PVOID buffer = ExAllocatePoolWithTag(NonPagedPoolNx, PAGE_SIZE, STORY_TAG);
#else
    PVOID buffer = ExAllocatePoolWithTag(PagedPool, PAGE_SIZE, STORY_TAG); /* the bug */
#endif
    if (!buffer)
        return STATUS_INSUFFICIENT_RESOURCES;
    RtlZeroMemory(buffer, PAGE_SIZE); /* resident now (untouched, the build would stop with 0x1A/0x1240) */
    PMDL mdl = IoAllocateMdl(buffer, PAGE_SIZE, FALSE, FALSE, NULL);
    if (!mdl) {
        ExFreePoolWithTag(buffer, STORY_TAG);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    MmBuildMdlForNonPagedPool(mdl);
    *Information = MmGetMdlByteCount(mdl);
    IoFreeMdl(mdl);
    ExFreePoolWithTag(buffer, STORY_TAG);
    return STATUS_SUCCESS;
}
