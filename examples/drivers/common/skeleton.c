/* examples/drivers/common/skeleton.c — DriverEntry, create/cleanup/close,
 * device control and unload for the story drivers (skeleton.h). */
#include "skeleton.h"

/* DriverEntry lives in INIT, discarded once it returns (docs/hosted.md
 * says how sections are named; ALLOC_PRAGMA is for compilers that take
 * the WDK's pragma). */
#ifdef ALLOC_PRAGMA
DRIVER_INITIALIZE DriverEntry;
#pragma alloc_text(INIT, DriverEntry)
#else
DRIVER_INITIALIZE DriverEntry __attribute__((section("INIT")));
#endif
static DRIVER_UNLOAD Unload;
static DRIVER_DISPATCH CreateClose, DeviceControl;

static NTSTATUS Complete(PIRP Irp, NTSTATUS Status, ULONG_PTR Information)
{
    Irp->IoStatus.Status = Status;
    Irp->IoStatus.Information = Information;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return Status;
}

static NTSTATUS CreateClose(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    if (IoGetCurrentIrpStackLocation(Irp)->MajorFunction == IRP_MJ_CLEANUP)
        StoryCleanup(Irp);
    return Complete(Irp, STATUS_SUCCESS, 0);
}

static NTSTATUS DeviceControl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PIO_STACK_LOCATION irpSp = IoGetCurrentIrpStackLocation(Irp);
    ULONG_PTR information = 0;
    BOOLEAN handled = FALSE;
    NTSTATUS passed = StoryDispatch(DeviceObject, Irp, &handled);
    if (handled)
        return passed;
    if (irpSp->Parameters.DeviceIoControl.IoControlCode != IOCTL_STORY)
        return Complete(Irp, STATUS_INVALID_DEVICE_REQUEST, 0);
    NTSTATUS status = StoryControl(DeviceObject, Irp, irpSp, &information);
    return Complete(Irp, status, information);
}

static void Unload(PDRIVER_OBJECT DriverObject)
{
    UNICODE_STRING link;
    StoryStop();
    RtlInitUnicodeString(&link, L"\\DosDevices\\MmsimStory");
    IoDeleteSymbolicLink(&link);
    IoDeleteDevice(DriverObject->DeviceObject);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNICODE_STRING name, link;
    PDEVICE_OBJECT device;
    UNREFERENCED_PARAMETER(RegistryPath);
    RtlInitUnicodeString(&name, L"\\Device\\MmsimStory");
    RtlInitUnicodeString(&link, L"\\DosDevices\\MmsimStory");
    NTSTATUS status = IoCreateDevice(DriverObject, 0, &name, FILE_DEVICE_UNKNOWN, 0, FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    status = IoCreateSymbolicLink(&link, &name);
    if (NT_SUCCESS(status))
        status = StoryStart(DriverObject);
    if (!NT_SUCCESS(status)) {
        IoDeleteSymbolicLink(&link);
        IoDeleteDevice(device);
        return status;
    }
    DriverObject->MajorFunction[IRP_MJ_CREATE] = CreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLEANUP] = CreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = CreateClose;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = DeviceControl;
    DriverObject->DriverUnload = Unload;
    return STATUS_SUCCESS;
}

/* Stories without these hooks get empty ones. */
__attribute__((weak)) NTSTATUS StoryDispatch(PDEVICE_OBJECT DeviceObject, PIRP Irp, BOOLEAN *Handled)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    UNREFERENCED_PARAMETER(Irp);
    *Handled = FALSE;
    return STATUS_SUCCESS;
}
__attribute__((weak)) NTSTATUS StoryStart(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
    return STATUS_SUCCESS;
}
__attribute__((weak)) void StoryCleanup(PIRP Irp) { UNREFERENCED_PARAMETER(Irp); }
__attribute__((weak)) void StoryStop(void) {}
