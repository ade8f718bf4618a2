/* tests/drivers/overread_driver.c — a driver linked into tests/test_wdk.c
 * with the classic METHOD_BUFFERED bug: it trusts a length that arrives in
 * the input and reads that many bytes of the system buffer. It also
 * answers reads and writes, buffered or direct. Also built as a driver
 * image of its own (-DOVERREAD_IMAGE gives it its DriverEntry). */
#include <ntddk.h>

#define IOCTL_OVERREAD CTL_CODE(0x9000, 0x820, METHOD_BUFFERED, FILE_ANY_ACCESS)

DRIVER_INITIALIZE OverreadDriverEntry;
static DRIVER_DISPATCH OverreadCreateClose, OverreadControl;
static DRIVER_UNLOAD OverreadUnload;

static NTSTATUS OverreadCreateClose(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    Irp->IoStatus.Status = STATUS_SUCCESS;
    Irp->IoStatus.Information = 0;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return STATUS_SUCCESS;
}

static NTSTATUS OverreadControl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PUCHAR in = (PUCHAR)Irp->AssociatedIrp.SystemBuffer;
    ULONG claimed = in[0], sum = 0; /* the bug: the caller's length, unchecked */
    UNREFERENCED_PARAMETER(DeviceObject);
    for (ULONG i = 0; i < claimed; i++)
        sum += ((volatile UCHAR *)in)[i];
    Irp->IoStatus.Status = STATUS_SUCCESS;
    Irp->IoStatus.Information = 0;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return sum ? STATUS_SUCCESS : STATUS_SUCCESS;
}

/* Reads and writes by the device's I/O method (OverreadDirect: direct,
 * else buffered): a read fills the caller's buffer with 'r', a write
 * counts the bytes and keeps the first in OverreadLastByte. */
BOOLEAN OverreadDirect;
UCHAR OverreadLastByte;

static NTSTATUS OverreadReadWrite(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PIO_STACK_LOCATION sp = IoGetCurrentIrpStackLocation(Irp);
    ULONG length = sp->Parameters.Read.Length;
    PUCHAR buffer = (DeviceObject->Flags & DO_DIRECT_IO)
                        ? (PUCHAR)MmGetSystemAddressForMdlSafe(Irp->MdlAddress, NormalPagePriority)
                        : (PUCHAR)Irp->AssociatedIrp.SystemBuffer;
    if (!buffer)
        length = 0;
    else if (sp->MajorFunction == IRP_MJ_READ)
        RtlFillMemory(buffer, length, 'r');
    else if (length)
        OverreadLastByte = buffer[0];
    Irp->IoStatus.Status = STATUS_SUCCESS;
    Irp->IoStatus.Information = length;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return STATUS_SUCCESS;
}

static void OverreadUnload(PDRIVER_OBJECT DriverObject)
{
    UNICODE_STRING link;
    RtlInitUnicodeString(&link, L"\\DosDevices\\MmsimOverread");
    IoDeleteSymbolicLink(&link);
    IoDeleteDevice(DriverObject->DeviceObject);
}

NTSTATUS OverreadDriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNICODE_STRING name, link;
    PDEVICE_OBJECT device;
    UNREFERENCED_PARAMETER(RegistryPath);
    RtlInitUnicodeString(&name, L"\\Device\\MmsimOverread");
    RtlInitUnicodeString(&link, L"\\DosDevices\\MmsimOverread");
    NTSTATUS status = IoCreateDevice(DriverObject, 0, &name, FILE_DEVICE_UNKNOWN, 0, FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    IoCreateSymbolicLink(&link, &name);
    DriverObject->MajorFunction[IRP_MJ_CREATE] = OverreadCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = OverreadCreateClose;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = OverreadControl;
    DriverObject->MajorFunction[IRP_MJ_READ] = OverreadReadWrite;
    DriverObject->MajorFunction[IRP_MJ_WRITE] = OverreadReadWrite;
    device->Flags |= OverreadDirect ? DO_DIRECT_IO : DO_BUFFERED_IO;
    DriverObject->DriverUnload = OverreadUnload;
    return STATUS_SUCCESS;
}

#ifdef OVERREAD_IMAGE
/* Built as an image of its own (tests/meson.build), it is loaded by name. */
DRIVER_INITIALIZE DriverEntry;
NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    return OverreadDriverEntry(DriverObject, RegistryPath);
}
#endif
