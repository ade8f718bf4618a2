/* examples/drivers/toctou/toctou.c — a driver with a time-of-check /
 * time-of-use bug that every single-threaded test passes. Its METHOD_NEITHER
 * request names a length in the caller's own buffer; IOCTL_TOCTOU_FILL
 * checks that length and then reads it from user memory again to fill a
 * reply buffer, so a user thread that changes it in between makes the
 * driver write past the buffer. IOCTL_TOCTOU_FILL_ONCE is the fix: it
 * captures the length once. mmsim's watch on user reads reports the double
 * fetch, and with flipping shows what the race does (docs/fuzzing.md). */
#include <ntddk.h>

#define IOCTL_TOCTOU_FILL CTL_CODE(0x9000, 0x840, METHOD_NEITHER, FILE_ANY_ACCESS)
#define IOCTL_TOCTOU_FILL_ONCE CTL_CODE(0x9000, 0x841, METHOD_NEITHER, FILE_ANY_ACCESS)
#define TOCTOU_TAG 0x75637454 /* "Tctu" */
#define REPLY_MAX 256u

typedef struct _TOCTOU_REQUEST {
    ULONG Length; /* of the reply to prepare, at most REPLY_MAX */
    ULONG Fill;   /* the byte to prepare it with */
} TOCTOU_REQUEST;

DRIVER_INITIALIZE DriverEntry;
static DRIVER_DISPATCH ToctouCreateClose, ToctouControl;
static DRIVER_UNLOAD ToctouUnload;

static NTSTATUS Complete(PIRP Irp, NTSTATUS Status, ULONG_PTR Information)
{
    Irp->IoStatus.Status = Status;
    Irp->IoStatus.Information = Information;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return Status;
}

static NTSTATUS ToctouCreateClose(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    return Complete(Irp, STATUS_SUCCESS, 0);
}

/* Prepares a reply of Length bytes of Fill; once says whether the length
 * is read from the caller's buffer once (right) or twice (the bug). */
static NTSTATUS Prepare(volatile TOCTOU_REQUEST *request, BOOLEAN once)
{
    ULONG length = request->Length; /* the check's fetch */
    if (length > REPLY_MAX)
        return STATUS_INVALID_PARAMETER;
    PUCHAR reply = (PUCHAR)ExAllocatePoolWithTag(NonPagedPoolNx, REPLY_MAX, TOCTOU_TAG);
    if (!reply)
        return STATUS_INSUFFICIENT_RESOURCES;
    ULONG use = once ? length : request->Length; /* the bug: fetched again */
    RtlFillMemory(reply, use, (UCHAR)request->Fill);
    ULONG sum = 0;
    for (ULONG i = 0; i < REPLY_MAX; i++)
        sum += reply[i];
    ExFreePoolWithTag(reply, TOCTOU_TAG);
    return sum ? STATUS_SUCCESS : STATUS_NO_MORE_ENTRIES;
}

static NTSTATUS ToctouControl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PIO_STACK_LOCATION sp = IoGetCurrentIrpStackLocation(Irp);
    ULONG code = sp->Parameters.DeviceIoControl.IoControlCode;
    ULONG in = sp->Parameters.DeviceIoControl.InputBufferLength;
    PVOID user = sp->Parameters.DeviceIoControl.Type3InputBuffer;
    NTSTATUS status;
    UNREFERENCED_PARAMETER(DeviceObject);
    if (code != IOCTL_TOCTOU_FILL && code != IOCTL_TOCTOU_FILL_ONCE)
        return Complete(Irp, STATUS_INVALID_DEVICE_REQUEST, 0);
    if (in < sizeof(TOCTOU_REQUEST))
        return Complete(Irp, STATUS_BUFFER_TOO_SMALL, 0);
    __try {
        ProbeForRead(user, sizeof(TOCTOU_REQUEST), sizeof(ULONG));
        status = Prepare((volatile TOCTOU_REQUEST *)user, code == IOCTL_TOCTOU_FILL_ONCE);
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        status = GetExceptionCode();
    }
    return Complete(Irp, status, 0);
}

static void ToctouUnload(PDRIVER_OBJECT DriverObject) { IoDeleteDevice(DriverObject->DeviceObject); }

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    PDEVICE_OBJECT device;
    UNICODE_STRING name;
    UNREFERENCED_PARAMETER(RegistryPath);
    RtlInitUnicodeString(&name, L"\\Device\\MmsimToctou");
    NTSTATUS status = IoCreateDevice(DriverObject, 0, &name, FILE_DEVICE_UNKNOWN, 0, FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    DriverObject->MajorFunction[IRP_MJ_CREATE] = ToctouCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = ToctouCreateClose;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = ToctouControl;
    DriverObject->DriverUnload = ToctouUnload;
    return STATUS_SUCCESS;
}
