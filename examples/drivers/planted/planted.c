/* examples/drivers/planted/planted.c — a driver with a planted MDL bug for
 * mmsim-fuzz to find: one control code (0x900020C0, METHOD_BUFFERED) whose
 * input starts with the 32-bit magic 0x4D4D5349 takes a path that unlocks
 * an MDL twice. Every other request is handled correctly, so only an input
 * that finds both the code and the magic reaches the bug: PFN_LIST_CORRUPT
 * (0x4E/0x07) in MmUnlockPages. */
#include <ntddk.h>

#define IOCTL_PLANTED_ECHO CTL_CODE(0x9000, 0x820, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_PLANTED_LOCK CTL_CODE(0x9000, 0x830, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define PLANTED_MAGIC 0x4D4D5349u
#define PLANTED_TAG 0x746E6C50 /* "Plnt" */

DRIVER_INITIALIZE DriverEntry;
static DRIVER_DISPATCH PlantedCreateClose, PlantedControl;
static DRIVER_UNLOAD PlantedUnload;

static NTSTATUS Complete(PIRP Irp, NTSTATUS Status, ULONG_PTR Information)
{
    Irp->IoStatus.Status = Status;
    Irp->IoStatus.Information = Information;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return Status;
}

static NTSTATUS PlantedCreateClose(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    return Complete(Irp, STATUS_SUCCESS, 0);
}

/* Locks a scratch buffer, checks it, unlocks it; with the magic it
 * unlocks once more on a "retry" path nobody tested. */
static NTSTATUS LockScratch(ULONG Magic)
{
    PVOID scratch = ExAllocatePoolWithTag(NonPagedPoolNx, PAGE_SIZE, PLANTED_TAG);
    if (!scratch)
        return STATUS_INSUFFICIENT_RESOURCES;
    PMDL mdl = IoAllocateMdl(scratch, PAGE_SIZE, FALSE, FALSE, NULL);
    if (!mdl) {
        ExFreePoolWithTag(scratch, PLANTED_TAG);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    MmProbeAndLockPages(mdl, KernelMode, IoWriteAccess);
    MmUnlockPages(mdl);
    if (Magic == PLANTED_MAGIC)
        MmUnlockPages(mdl); /* the planted bug */
    IoFreeMdl(mdl);
    ExFreePoolWithTag(scratch, PLANTED_TAG);
    return STATUS_SUCCESS;
}

static NTSTATUS PlantedControl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PIO_STACK_LOCATION sp = IoGetCurrentIrpStackLocation(Irp);
    ULONG in = sp->Parameters.DeviceIoControl.InputBufferLength;
    ULONG out = sp->Parameters.DeviceIoControl.OutputBufferLength;
    PUCHAR buffer = (PUCHAR)Irp->AssociatedIrp.SystemBuffer;
    UNREFERENCED_PARAMETER(DeviceObject);
    switch (sp->Parameters.DeviceIoControl.IoControlCode) {
    case IOCTL_PLANTED_ECHO:
        return Complete(Irp, STATUS_SUCCESS, in < out ? in : out);
    case IOCTL_PLANTED_LOCK:
        if (in < sizeof(ULONG))
            return Complete(Irp, STATUS_BUFFER_TOO_SMALL, 0);
        return Complete(Irp, LockScratch(*(ULONG UNALIGNED *)buffer), 0);
    default:
        return Complete(Irp, STATUS_INVALID_DEVICE_REQUEST, 0);
    }
}

static void PlantedUnload(PDRIVER_OBJECT DriverObject) { IoDeleteDevice(DriverObject->DeviceObject); }

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    PDEVICE_OBJECT device;
    UNICODE_STRING name;
    UNREFERENCED_PARAMETER(RegistryPath);
    RtlInitUnicodeString(&name, L"\\Device\\MmsimPlanted");
    NTSTATUS status = IoCreateDevice(DriverObject, 0, &name, FILE_DEVICE_UNKNOWN, 0, FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    DriverObject->MajorFunction[IRP_MJ_CREATE] = PlantedCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = PlantedCreateClose;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = PlantedControl;
    DriverObject->DriverUnload = PlantedUnload;
    return STATUS_SUCCESS;
}
