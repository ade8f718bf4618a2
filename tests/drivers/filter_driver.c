/* tests/drivers/filter_driver.c — a filter driver linked into
 * tests/test_wdk.c (started with mmwdk_driver_start): it attaches above the
 * sample's device, passes create and close down with
 * IoSkipCurrentIrpStackLocation, and passes control requests down with a
 * completion routine that counts them and the bytes they returned. */
#include <ntddk.h>

struct filter_counts {
    LONG requests, completions;
    ULONG_PTR bytes;
};
struct filter_counts FilterCounts;
ULONG_PTR FilterEntryLocal; /* where a local of DriverEntry lived */

typedef struct {
    PDEVICE_OBJECT Lower;
} FILTER_EXTENSION;

DRIVER_INITIALIZE FilterDriverEntry;
static DRIVER_DISPATCH FilterPass, FilterControl;
static IO_COMPLETION_ROUTINE FilterDone;
static DRIVER_UNLOAD FilterUnload;

static NTSTATUS FilterPass(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    FILTER_EXTENSION *ext = (FILTER_EXTENSION *)DeviceObject->DeviceExtension;
    IoSkipCurrentIrpStackLocation(Irp);
    return IoCallDriver(ext->Lower, Irp);
}

static NTSTATUS FilterDone(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    UNREFERENCED_PARAMETER(Context);
    if (Irp->PendingReturned)
        IoMarkIrpPending(Irp);
    if (DeviceObject && DeviceObject->DeviceExtension)
        FilterCounts.completions++;
    FilterCounts.bytes += Irp->IoStatus.Information;
    return STATUS_CONTINUE_COMPLETION;
}

static NTSTATUS FilterControl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    FILTER_EXTENSION *ext = (FILTER_EXTENSION *)DeviceObject->DeviceExtension;
    FilterCounts.requests++;
    IoCopyCurrentIrpStackLocationToNext(Irp);
    IoSetCompletionRoutine(Irp, FilterDone, NULL, TRUE, TRUE, TRUE);
    return IoCallDriver(ext->Lower, Irp);
}

/* A request the filter makes itself: IoBuildDeviceIoControlRequest to the
 * device below, sent with IoCallDriver; the I/O status block says how it
 * went. */
static PDEVICE_OBJECT FilterLower;

NTSTATUS FilterAskBelow(ULONG Code, PVOID In, ULONG InLength, PVOID Out, ULONG OutLength, ULONG_PTR *Information);
NTSTATUS FilterAskBelow(ULONG Code, PVOID In, ULONG InLength, PVOID Out, ULONG OutLength, ULONG_PTR *Information)
{
    IO_STATUS_BLOCK iosb = {{0}, 0};
    PIRP irp = IoBuildDeviceIoControlRequest(Code, FilterLower, In, InLength, Out, OutLength, FALSE, NULL, &iosb);
    if (!irp)
        return STATUS_INSUFFICIENT_RESOURCES;
    NTSTATUS status = IoCallDriver(FilterLower, irp);
    *Information = iosb.Information;
    return status == STATUS_PENDING ? status : iosb.Status;
}

static void FilterUnload(PDRIVER_OBJECT DriverObject)
{
    PDEVICE_OBJECT device = DriverObject->DeviceObject;
    FILTER_EXTENSION *ext = (FILTER_EXTENSION *)device->DeviceExtension;
    IoDetachDevice(ext->Lower);
    IoDeleteDevice(device);
}

NTSTATUS FilterDriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNICODE_STRING target;
    PDEVICE_OBJECT device;
    UNREFERENCED_PARAMETER(RegistryPath);
    FilterEntryLocal = (ULONG_PTR)&target;
    NTSTATUS status = IoCreateDevice(DriverObject, sizeof(FILTER_EXTENSION), NULL, FILE_DEVICE_UNKNOWN, 0, FALSE,
                                     &device);
    if (!NT_SUCCESS(status))
        return status;
    RtlInitUnicodeString(&target, L"\\Device\\MmsimSample");
    FILTER_EXTENSION *ext = (FILTER_EXTENSION *)device->DeviceExtension;
    status = IoAttachDevice(device, &target, &ext->Lower);
    FilterLower = ext->Lower;
    if (!NT_SUCCESS(status)) {
        IoDeleteDevice(device);
        return status;
    }
    for (int i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; i++)
        DriverObject->MajorFunction[i] = FilterPass;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = FilterControl;
    DriverObject->DriverUnload = FilterUnload;
    device->Flags &= ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}
