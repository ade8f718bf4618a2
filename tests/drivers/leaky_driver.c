/* tests/drivers/leaky_driver.c — a driver that forgets to clean up: its
 * DriverEntry allocates a pool block and makes a device, and it has no
 * unload routine that gives either back (tests/test_wdk.c reads the leak
 * report). */
#include <ntddk.h>

static PVOID Table;

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD LeakyUnload;

static void LeakyUnload(PDRIVER_OBJECT DriverObject) { UNREFERENCED_PARAMETER(DriverObject); }

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    PDEVICE_OBJECT device;
    UNREFERENCED_PARAMETER(RegistryPath);
    Table = ExAllocatePoolWithTag(NonPagedPoolNx, 100, 'kaeL');
    if (!Table)
        return STATUS_INSUFFICIENT_RESOURCES;
    DriverObject->DriverUnload = LeakyUnload;
    return IoCreateDevice(DriverObject, 0, NULL, FILE_DEVICE_UNKNOWN, 0, FALSE, &device);
}
