/* tests/headers/wdk_layout.c — the WDK headers' x64 layouts, field by field
 * (offsets as Windows x64 has them), checked at compile time, in C and C++;
 * and a driver-shaped use of the headers that must compile warning-free. */
#include <ntifs.h>

#define AT(type, field, offset) C_ASSERT(offsetof(type, field) == (offset))

AT(MDL, Next, 0x00);
AT(MDL, Size, 0x08);
AT(MDL, MdlFlags, 0x0A);
AT(MDL, Process, 0x10);
AT(MDL, MappedSystemVa, 0x18);
AT(MDL, StartVa, 0x20);
AT(MDL, ByteCount, 0x28);
AT(MDL, ByteOffset, 0x2C);

AT(IRP, MdlAddress, 0x08);
AT(IRP, Flags, 0x10);
AT(IRP, AssociatedIrp, 0x18);
AT(IRP, ThreadListEntry, 0x20);
AT(IRP, IoStatus, 0x30);
AT(IRP, IoStatus.Information, 0x38);
AT(IRP, RequestorMode, 0x40);
AT(IRP, StackCount, 0x42);
AT(IRP, CurrentLocation, 0x43);
AT(IRP, Cancel, 0x44);
AT(IRP, AllocationFlags, 0x47);
AT(IRP, UserIosb, 0x48);
AT(IRP, UserEvent, 0x50);
AT(IRP, Overlay, 0x58);
AT(IRP, CancelRoutine, 0x68);
AT(IRP, UserBuffer, 0x70);
AT(IRP, Tail.Overlay.DriverContext, 0x78);
AT(IRP, Tail.Overlay.Thread, 0x98);
AT(IRP, Tail.Overlay.ListEntry, 0xA8);
AT(IRP, Tail.Overlay.CurrentStackLocation, 0xB8);
AT(IRP, Tail.Overlay.OriginalFileObject, 0xC0);
C_ASSERT(sizeof(IRP) == 0xD0);

AT(IO_STACK_LOCATION, Parameters, 0x08);
AT(IO_STACK_LOCATION, Parameters.Create.Options, 0x10);
AT(IO_STACK_LOCATION, Parameters.Create.FileAttributes, 0x18);
AT(IO_STACK_LOCATION, Parameters.Create.EaLength, 0x20);
AT(IO_STACK_LOCATION, Parameters.Read.Key, 0x10);
AT(IO_STACK_LOCATION, Parameters.Read.ByteOffset, 0x18);
AT(IO_STACK_LOCATION, Parameters.DeviceIoControl.OutputBufferLength, 0x08);
AT(IO_STACK_LOCATION, Parameters.DeviceIoControl.InputBufferLength, 0x10);
AT(IO_STACK_LOCATION, Parameters.DeviceIoControl.IoControlCode, 0x18);
AT(IO_STACK_LOCATION, Parameters.DeviceIoControl.Type3InputBuffer, 0x20);
AT(IO_STACK_LOCATION, DeviceObject, 0x28);
AT(IO_STACK_LOCATION, FileObject, 0x30);
AT(IO_STACK_LOCATION, CompletionRoutine, 0x38);
AT(IO_STACK_LOCATION, Context, 0x40);
C_ASSERT(sizeof(IO_STACK_LOCATION) == 0x48);

AT(DEVICE_OBJECT, DriverObject, 0x08);
AT(DEVICE_OBJECT, AttachedDevice, 0x18);
AT(DEVICE_OBJECT, Flags, 0x30);
AT(DEVICE_OBJECT, DeviceExtension, 0x40);
AT(DEVICE_OBJECT, DeviceType, 0x48);
AT(DEVICE_OBJECT, StackSize, 0x4C);
AT(DEVICE_OBJECT, Queue, 0x50);
AT(DEVICE_OBJECT, AlignmentRequirement, 0x98);
AT(DEVICE_OBJECT, DeviceQueue, 0xA0);
AT(DEVICE_OBJECT, Dpc, 0xC8);
AT(DEVICE_OBJECT, ActiveThreadCount, 0x108);
AT(DEVICE_OBJECT, DeviceLock, 0x118);
AT(DEVICE_OBJECT, SectorSize, 0x130);
AT(DEVICE_OBJECT, DeviceObjectExtension, 0x138);
C_ASSERT(sizeof(DEVICE_OBJECT) == 0x150);

AT(DRIVER_OBJECT, DeviceObject, 0x08);
AT(DRIVER_OBJECT, DriverStart, 0x18);
AT(DRIVER_OBJECT, DriverSize, 0x20);
AT(DRIVER_OBJECT, DriverExtension, 0x30);
AT(DRIVER_OBJECT, DriverName, 0x38);
AT(DRIVER_OBJECT, FastIoDispatch, 0x50);
AT(DRIVER_OBJECT, DriverUnload, 0x68);
AT(DRIVER_OBJECT, MajorFunction, 0x70);
C_ASSERT(sizeof(DRIVER_OBJECT) == 0x150);

AT(FILE_OBJECT, DeviceObject, 0x08);
AT(FILE_OBJECT, FsContext, 0x18);
AT(FILE_OBJECT, FinalStatus, 0x38);
AT(FILE_OBJECT, Flags, 0x50);
AT(FILE_OBJECT, FileName, 0x58);
AT(FILE_OBJECT, CurrentByteOffset, 0x68);
AT(FILE_OBJECT, Lock, 0x80);
AT(FILE_OBJECT, Event, 0x98);
AT(FILE_OBJECT, IrpList, 0xC0);
AT(FILE_OBJECT, FileObjectExtension, 0xD0);
C_ASSERT(sizeof(FILE_OBJECT) == 0xD8);

AT(UNICODE_STRING, Buffer, 0x08);
AT(IO_STATUS_BLOCK, Information, 0x08);
C_ASSERT(sizeof(KAPC_STATE) == 0x30);
C_ASSERT(CTL_CODE(0x8000, 0xFFF, METHOD_NEITHER, FILE_READ_ACCESS | FILE_WRITE_ACCESS) == 0x8000FFFFu);
C_ASSERT(sizeof(WCHAR) == 2 && sizeof(ULONG) == 4 && sizeof(LONG) == 4 && sizeof(ULONG_PTR) == 8);
C_ASSERT(PAGE_NOACCESS == 0x01 && PAGE_READONLY == 0x02 && PAGE_READWRITE == 0x04 && PAGE_WRITECOPY == 0x08);
C_ASSERT(PAGE_EXECUTE == 0x10 && PAGE_EXECUTE_READ == 0x20 && PAGE_EXECUTE_READWRITE == 0x40 &&
         PAGE_EXECUTE_WRITECOPY == 0x80);
C_ASSERT(PAGE_GUARD == 0x100 && PAGE_NOCACHE == 0x200 && PAGE_WRITECOMBINE == 0x400);
C_ASSERT(MEM_COMMIT == 0x1000 && MEM_RESERVE == 0x2000 && MEM_DECOMMIT == 0x4000 && MEM_RELEASE == 0x8000 &&
         MEM_RESET == 0x80000 && MEM_TOP_DOWN == 0x100000);
C_ASSERT(LowPoolPriority == 0 && LowPoolPrioritySpecialPoolOverrun == 8 && LowPoolPrioritySpecialPoolUnderrun == 9 &&
         NormalPoolPriority == 16 && NormalPoolPrioritySpecialPoolUnderrun == 25 && HighPoolPriority == 32 &&
         HighPoolPrioritySpecialPoolUnderrun == 41);

/* A driver-shaped use: every construct here must compile warning-free. */
DRIVER_DISPATCH mmsim_header_dispatch;
NTSTATUS mmsim_header_dispatch(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PIO_STACK_LOCATION sp = IoGetCurrentIrpStackLocation(Irp);
    volatile NTSTATUS status = STATUS_SUCCESS;
    UNREFERENCED_PARAMETER(DeviceObject);
    PAGED_CODE();
    __try {
        ProbeForRead(sp->Parameters.DeviceIoControl.Type3InputBuffer,
                     sp->Parameters.DeviceIoControl.InputBufferLength, sizeof(UCHAR));
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        status = GetExceptionCode();
    }
    __try {
        __try {
            status = STATUS_PENDING;
            __leave;
        } __finally {
            if (AbnormalTermination())
                status = STATUS_UNSUCCESSFUL;
        }
    } __except (EXCEPTION_EXECUTE_HANDLER) {
    }
    LIST_ENTRY head;
    InitializeListHead(&head);
    KdPrint(("status %08X\n", status));
    Irp->IoStatus.Status = status;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return status;
}
