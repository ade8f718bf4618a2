/* examples/drivers/ioctl/ioctl.c — a classic WDM control-code driver, as
 * written for Windows: DriverEntry creates a device and a symbolic link;
 * create and close succeed; device control answers one code per transfer
 * method (METHOD_BUFFERED, METHOD_IN_DIRECT, METHOD_OUT_DIRECT,
 * METHOD_NEITHER), printing what it got and writing a reply. The
 * METHOD_NEITHER path probes the caller's buffers and locks and maps the
 * output inside try/except, as such drivers must. Nothing in it knows
 * about mmsim: it compiles against include/wdk and runs as it would on
 * Windows. */
#include <ntddk.h>

#include "ioctl_codes.h"

DRIVER_INITIALIZE DriverEntry;
DRIVER_UNLOAD SampleUnload;
_Dispatch_type_(IRP_MJ_CREATE) _Dispatch_type_(IRP_MJ_CLOSE) DRIVER_DISPATCH SampleCreateClose;
_Dispatch_type_(IRP_MJ_DEVICE_CONTROL) DRIVER_DISPATCH SampleDeviceControl;

#ifdef ALLOC_PRAGMA
#pragma alloc_text(INIT, DriverEntry)
#pragma alloc_text(PAGE, SampleCreateClose)
#pragma alloc_text(PAGE, SampleDeviceControl)
#pragma alloc_text(PAGE, SampleUnload)
#endif

static const char Reply[] = "a reply from the driver";

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNICODE_STRING deviceName, linkName;
    PDEVICE_OBJECT deviceObject = NULL;
    NTSTATUS status;

    UNREFERENCED_PARAMETER(RegistryPath);
    RtlInitUnicodeString(&deviceName, L"\\Device\\MmsimSample");
    status = IoCreateDevice(DriverObject, 0, &deviceName, FILE_DEVICE_UNKNOWN, FILE_DEVICE_SECURE_OPEN, FALSE,
                            &deviceObject);
    if (!NT_SUCCESS(status)) {
        DbgPrint("sample: IoCreateDevice failed with 0x%08X\n", status);
        return status;
    }
    DriverObject->MajorFunction[IRP_MJ_CREATE] = SampleCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = SampleCreateClose;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = SampleDeviceControl;
    DriverObject->DriverUnload = SampleUnload;

    RtlInitUnicodeString(&linkName, L"\\DosDevices\\MmsimSample");
    status = IoCreateSymbolicLink(&linkName, &deviceName);
    if (!NT_SUCCESS(status)) {
        DbgPrint("sample: IoCreateSymbolicLink failed with 0x%08X\n", status);
        IoDeleteDevice(deviceObject);
        return status;
    }
    DbgPrint("sample: loaded, device %wZ\n", &deviceName);
    return STATUS_SUCCESS;
}

NTSTATUS SampleCreateClose(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    PAGED_CODE();
    Irp->IoStatus.Status = STATUS_SUCCESS;
    Irp->IoStatus.Information = 0;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return STATUS_SUCCESS;
}

/* Prints up to the first 32 bytes it was given. */
static void PrintInput(const char *method, const char *buffer, ULONG length)
{
    char text[33];
    ULONG n = buffer ? (length < 32 ? length : 32) : 0; /* no input: no system buffer */
    if (n)
        RtlCopyMemory(text, buffer, n);
    text[n] = 0;
    DbgPrint("sample: %s: %lu bytes in: \"%s\"\n", method, length, text);
}

/* The reply, cut to what fits; the number of bytes written. */
static ULONG WriteReply(char *buffer, ULONG length)
{
    ULONG n = length < sizeof(Reply) ? length : (ULONG)sizeof(Reply);
    if (!buffer || !n)
        return 0; /* no output buffer at all */
    RtlCopyMemory(buffer, Reply, n);
    return n;
}

NTSTATUS SampleDeviceControl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PIO_STACK_LOCATION irpSp = IoGetCurrentIrpStackLocation(Irp);
    ULONG inLength = irpSp->Parameters.DeviceIoControl.InputBufferLength;
    ULONG outLength = irpSp->Parameters.DeviceIoControl.OutputBufferLength;
    NTSTATUS status = STATUS_SUCCESS;
    ULONG_PTR information = 0;
    char *buffer;
    PMDL mdl = NULL;

    UNREFERENCED_PARAMETER(DeviceObject);
    PAGED_CODE();

    switch (irpSp->Parameters.DeviceIoControl.IoControlCode) {
    case IOCTL_SAMPLE_BUFFERED:
        /* One system buffer: the input is there, the reply goes there. */
        buffer = (char *)Irp->AssociatedIrp.SystemBuffer;
        PrintInput("METHOD_BUFFERED", buffer, inLength);
        information = WriteReply(buffer, outLength);
        break;

    case IOCTL_SAMPLE_IN_DIRECT:
    case IOCTL_SAMPLE_OUT_DIRECT:
        /* The input in the system buffer, the output locked in an MDL. */
        PrintInput("METHOD_xx_DIRECT", (char *)Irp->AssociatedIrp.SystemBuffer, inLength);
        if (!Irp->MdlAddress) {
            status = STATUS_INVALID_PARAMETER;
            break;
        }
        buffer = (char *)MmGetSystemAddressForMdlSafe(Irp->MdlAddress, NormalPagePriority | MdlMappingNoExecute);
        if (!buffer) {
            status = STATUS_INSUFFICIENT_RESOURCES;
            break;
        }
        information = WriteReply(buffer, MmGetMdlByteCount(Irp->MdlAddress));
        break;

    case IOCTL_SAMPLE_NEITHER: {
        /* Raw user pointers, valid only in the caller's context: probe,
         * copy the input, lock and map the output, all under try/except. */
        char *input = (char *)irpSp->Parameters.DeviceIoControl.Type3InputBuffer;
        char *output = (char *)Irp->UserBuffer;
        char copy[32];
        __try {
            ProbeForRead(input, inLength, sizeof(UCHAR));
            if (inLength) /* no input: the pointer may be NULL */
                RtlCopyMemory(copy, input, inLength < sizeof(copy) ? inLength : sizeof(copy));
            PrintInput("METHOD_NEITHER", copy, inLength < sizeof(copy) ? inLength : (ULONG)sizeof(copy));
            ProbeForWrite(output, outLength, sizeof(UCHAR));
            mdl = IoAllocateMdl(output, outLength, FALSE, TRUE, NULL);
            if (!mdl) {
                status = STATUS_INSUFFICIENT_RESOURCES;
                __leave;
            }
            MmProbeAndLockPages(mdl, UserMode, IoWriteAccess);
        } __except (EXCEPTION_EXECUTE_HANDLER) {
            status = GetExceptionCode();
            DbgPrint("sample: exception 0x%08X on the caller's buffers\n", status);
            if (mdl) {
                IoFreeMdl(mdl);
                mdl = NULL;
            }
        }
        if (!NT_SUCCESS(status) || !mdl)
            break;
        buffer = (char *)MmGetSystemAddressForMdlSafe(mdl, NormalPagePriority | MdlMappingNoExecute);
        if (buffer)
            information = WriteReply(buffer, outLength);
        else
            status = STATUS_INSUFFICIENT_RESOURCES;
        MmUnlockPages(mdl);
        IoFreeMdl(mdl);
        break;
    }

    default:
        status = STATUS_INVALID_DEVICE_REQUEST;
        DbgPrint("sample: unknown control code 0x%08X\n", irpSp->Parameters.DeviceIoControl.IoControlCode);
        break;
    }

    Irp->IoStatus.Status = status;
    Irp->IoStatus.Information = information;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return status;
}

void SampleUnload(PDRIVER_OBJECT DriverObject)
{
    UNICODE_STRING linkName;
    PAGED_CODE();
    RtlInitUnicodeString(&linkName, L"\\DosDevices\\MmsimSample");
    IoDeleteSymbolicLink(&linkName);
    if (DriverObject->DeviceObject)
        IoDeleteDevice(DriverObject->DeviceObject);
    DbgPrint("sample: unloaded\n");
}
