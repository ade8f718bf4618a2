/* tests/drivers/pending_driver.c — a driver linked into tests/test_wdk.c
 * that holds its control requests: it marks each pending and keeps it,
 * with a cancel routine or (PendingNoCancel) without one, so the test can
 * see what a process exit does to requests still in a driver's hands. */
#include <ntddk.h>

#define IOCTL_PENDING_HOLD CTL_CODE(0x9000, 0x810, METHOD_OUT_DIRECT, FILE_ANY_ACCESS)

BOOLEAN PendingNoCancel;
static PIRP Held;

DRIVER_INITIALIZE PendingDriverEntry;
static DRIVER_DISPATCH PendingCreateClose, PendingControl;
static DRIVER_CANCEL PendingCancel;
static DRIVER_UNLOAD PendingUnload;
void PendingCompleteHeld(void);

static NTSTATUS PendingCreateClose(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    Irp->IoStatus.Status = STATUS_SUCCESS;
    Irp->IoStatus.Information = 0;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return STATUS_SUCCESS;
}

static void PendingCancel(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    IoReleaseCancelSpinLock(Irp->CancelIrql);
    if (Held == Irp)
        Held = NULL;
    Irp->IoStatus.Status = STATUS_CANCELLED;
    Irp->IoStatus.Information = 0;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
}

static NTSTATUS PendingControl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    IoMarkIrpPending(Irp);
    if (!PendingNoCancel)
        IoSetCancelRoutine(Irp, PendingCancel);
    Held = Irp;
    return STATUS_PENDING;
}

/* Completes the request held, as the device would when data arrives. */
void PendingCompleteHeld(void)
{
    PIRP irp = Held;
    Held = NULL;
    if (!irp)
        return;
    IoSetCancelRoutine(irp, NULL);
    irp->IoStatus.Status = STATUS_SUCCESS;
    irp->IoStatus.Information = 0;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
}

static void PendingUnload(PDRIVER_OBJECT DriverObject)
{
    UNICODE_STRING link;
    RtlInitUnicodeString(&link, L"\\DosDevices\\MmsimPending");
    IoDeleteSymbolicLink(&link);
    IoDeleteDevice(DriverObject->DeviceObject);
}

NTSTATUS PendingDriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNICODE_STRING name, link;
    PDEVICE_OBJECT device;
    UNREFERENCED_PARAMETER(RegistryPath);
    RtlInitUnicodeString(&name, L"\\Device\\MmsimPending");
    RtlInitUnicodeString(&link, L"\\DosDevices\\MmsimPending");
    NTSTATUS status = IoCreateDevice(DriverObject, 0, &name, FILE_DEVICE_UNKNOWN, 0, FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    IoCreateSymbolicLink(&link, &name);
    DriverObject->MajorFunction[IRP_MJ_CREATE] = PendingCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLEANUP] = PendingCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = PendingCreateClose;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = PendingControl;
    DriverObject->DriverUnload = PendingUnload;
    return STATUS_SUCCESS;
}
