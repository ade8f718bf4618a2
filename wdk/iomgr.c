/* wdk/iomgr.c — the I/O manager: driver and device objects, names and
 * symbolic links, IRPs sent down a device stack and completed back up
 * (completion routines, STATUS_MORE_PROCESSING_REQUIRED), and a user
 * process's requests built as Windows builds them: METHOD_BUFFERED (one
 * system buffer of max(in, out) bytes, input copied in, Information bytes
 * copied out), METHOD_IN_DIRECT / METHOD_OUT_DIRECT (the output buffer
 * probed and locked into Irp->MdlAddress), METHOD_NEITHER (raw user
 * pointers), and read/write by the device's DO_BUFFERED_IO / DO_DIRECT_IO. */
#include "wdkstate.h"

#include <stdio.h>
#include <stdlib.h>

#define IRP_TAG 0x20707249      /* "Irp " */
#define OBJECT_TAG 0x6F697645   /* "Evio" */
#define BUFFER_TAG 0x66754249   /* "IBuf" */

static mm_machine *machine(const char *ddi) { return mmwdk_m(ddi); }

/* The test-side calls touch simulated memory from host code: the machine's
 * fault handler must be in front of the test framework's. */
static void run_deferred(mm_machine *m);

static mm_machine *test_entry(void)
{
    mm_machine *m = mmwdk_machine();
    mm_machine_enter(m);
    if (m && !mm_machine_is_dead(m))
        run_deferred(m);
    return m;
}

static PVOID kernel_alloc(mm_machine *m, SIZE_T bytes, ULONG tag)
{
    mm_va va = mm_pool_allocate(m, MM_NONPAGED_POOL, bytes, tag);
    if (va)
        memset(ptr_of(va), 0, bytes);
    return ptr_of(va);
}

static void kernel_free(mm_machine *m, PVOID p)
{
    if (p)
        mm_pool_free(m, va_of(p), 0);
}

/* ---- system buffers ---- */

static bool exact_buffers;

void mmwdk_exact_buffers(bool on) { exact_buffers = on; }

/* In exact mode a system buffer is len bytes ending where an invalid page
 * begins: pages from MmAllocatePagesForMdl mapped at the start of a
 * reserved range one page longer, the buffer placed at the end of the
 * mapped part. Otherwise it is nonpaged pool, as Windows gives it. */

static PVOID system_buffer(mm_machine *m, ULONG len)
{
    if (!exact_buffers)
        return ptr_of(mm_pool_allocate(m, MM_NONPAGED_POOL, len, BUFFER_TAG));
    uint64_t pages = ((uint64_t)len + PAGE_SIZE - 1) / PAGE_SIZE;
    struct mmwdk_exact_buffer *e = mmwdk_alloc(m, sizeof *e);
    if (!e)
        return NULL;
    e->mdl = mm_allocate_pages_for_mdl(m, 0, UINT64_MAX, 0, pages * PAGE_SIZE);
    e->base = e->mdl ? mm_allocate_mapping_address(m, (pages + 1) * PAGE_SIZE, BUFFER_TAG) : 0;
    mm_va mapped = e->base ? mm_map_locked_pages_with_reserved_mapping(m, e->base, BUFFER_TAG, e->mdl, MM_CACHED) : 0;
    if (!mapped) {
        if (e->base)
            mm_free_mapping_address(m, e->base, BUFFER_TAG);
        if (e->mdl) {
            mm_free_pages_from_mdl(m, e->mdl);
            mm_pool_free(m, e->mdl, 0);
        }
        mmwdk_free(m, e);
        return NULL;
    }
    e->buffer = mapped + pages * PAGE_SIZE - len;
    HASH_ADD(hh, mmwdk_state(m)->exact, buffer, sizeof e->buffer, e);
    return ptr_of(e->buffer);
}

static void system_buffer_free(mm_machine *m, PVOID p)
{
    struct mmwdk_exact_buffer *e = NULL;
    mm_va key = va_of(p);
    HASH_FIND(hh, mmwdk_state(m)->exact, &key, sizeof key, e);
    if (!e) {
        kernel_free(m, p);
        return;
    }
    HASH_DEL(mmwdk_state(m)->exact, e);
    mm_unmap_reserved_mapping(m, e->base, BUFFER_TAG, e->mdl);
    mm_free_mapping_address(m, e->base, BUFFER_TAG);
    mm_free_pages_from_mdl(m, e->mdl);
    mm_pool_free(m, e->mdl, 0);
    mmwdk_free(m, e);
}

/* The I/O manager's copies between a user buffer and a system buffer, as
 * the CPU would make them (a bad user address is an access violation, a
 * read past a system buffer into an invalid page is 0x50), through a
 * bounce buffer: the model never touches simulated memory through a host
 * pointer while it runs. */
static mm_status copy_simulated(mm_machine *m, mm_va to, mm_va from, uint64_t bytes)
{
    static _Thread_local unsigned char bounce[PAGE_SIZE];
    for (uint64_t done = 0; done < bytes;) {
        size_t n = bytes - done < sizeof bounce ? (size_t)(bytes - done) : sizeof bounce;
        mm_status st = mm_read(m, from + done, bounce, n);
        if (MM_SUCCESS(st))
            st = mm_write(m, to + done, bounce, n);
        if (!MM_SUCCESS(st))
            return st;
        done += n;
    }
    return MM_STATUS_SUCCESS;
}

/* A UNICODE_STRING in nonpaged pool holding text. */
static bool make_string(mm_machine *m, PUNICODE_STRING s, const char *text)
{
    size_t n = strlen(text);
    s->Buffer = kernel_alloc(m, (n + 1) * sizeof(WCHAR), OBJECT_TAG);
    if (!s->Buffer)
        return false;
    for (size_t i = 0; i < n; i++)
        s->Buffer[i] = (WCHAR)(unsigned char)text[i];
    s->Length = (USHORT)(n * sizeof(WCHAR));
    s->MaximumLength = (USHORT)((n + 1) * sizeof(WCHAR));
    return true;
}

/* The System process's context, for DriverEntry and DriverUnload. */
static void enter_system(mm_machine *m, struct mm_apc_state *saved, bool *attached)
{
    *attached = mm_process_current(m) != mm_process_system(m);
    if (*attached)
        mm_process_attach(m, mm_process_system(m), saved);
}

static void leave(mm_machine *m, struct mm_apc_state *saved, bool attached)
{
    if (attached && !mm_machine_is_dead(m))
        mm_process_detach(m, saved);
}

struct user_call {
    mm_process *process;
    struct mm_apc_state saved;
    bool attached;
};

static void enter_process(mm_machine *m, mm_process *p, struct user_call *c)
{
    c->process = p;
    c->attached = mm_process_current(m) != p;
    if (c->attached)
        mm_process_attach(m, p, &c->saved);
}

/* ---- the default dispatch routine ---- */

static NTSTATUS invalid_device_request(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    (void)DeviceObject;
    Irp->IoStatus.Status = STATUS_INVALID_DEVICE_REQUEST;
    Irp->IoStatus.Information = 0;
    IofCompleteRequest(Irp, IO_NO_INCREMENT);
    return STATUS_INVALID_DEVICE_REQUEST;
}

/* ---- devices and names ---- */

static struct mmwdk_name *find_name(struct mmwdk_name *head, const char *name)
{
    struct mmwdk_name *n = NULL;
    HASH_FIND_STR(head, name, n);
    return n;
}

static struct mmwdk_name *add_name(struct mmwdk_name **head, const char *name)
{
    struct mmwdk_name *n = mmwdk_alloc(mmwdk_machine(), sizeof *n);
    snprintf(n->name, sizeof n->name, "%s", name);
    HASH_ADD_STR(*head, name, n);
    return n;
}

static void drop_name(struct mmwdk_name **head, struct mmwdk_name *n)
{
    HASH_DEL(*head, n);
    mmwdk_free(mmwdk_machine(), n);
}

/* "\DosDevices\X" and "\??\X" name the same link. */
static void link_key(PCUNICODE_STRING s, char *out, size_t size)
{
    char raw[MMWDK_NAME_MAX];
    mmwdk_narrow(s, raw, sizeof raw);
    const char *dos = "\\DosDevices\\";
    if (strncmp(raw, dos, strlen(dos)) == 0)
        snprintf(out, size, "\\??\\%s", raw + strlen(dos));
    else
        snprintf(out, size, "%s", raw);
}

NTSTATUS IoCreateDevice(PDRIVER_OBJECT DriverObject, ULONG DeviceExtensionSize, PUNICODE_STRING DeviceName,
                        DEVICE_TYPE DeviceType, ULONG DeviceCharacteristics, BOOLEAN Exclusive,
                        PDEVICE_OBJECT *DeviceObject)
{
    mm_machine *m = machine("IoCreateDevice");
    struct mmwdk_state *s = mmwdk_state(m);
    char name[MMWDK_NAME_MAX] = "";
    if (DeviceName)
        mmwdk_narrow(DeviceName, name, sizeof name);
    if (*name && find_name(s->devices, name))
        return STATUS_OBJECT_NAME_COLLISION;
    SIZE_T extension = (DeviceExtensionSize + 15) & ~(SIZE_T)15;
    PDEVICE_OBJECT d = kernel_alloc(m, sizeof(DEVICE_OBJECT) + extension, OBJECT_TAG);
    if (!d)
        return STATUS_INSUFFICIENT_RESOURCES;
    d->Type = IO_TYPE_DEVICE;
    d->Size = (USHORT)(sizeof(DEVICE_OBJECT) + DeviceExtensionSize);
    d->DriverObject = DriverObject;
    d->NextDevice = DriverObject->DeviceObject;
    d->Flags = DO_DEVICE_INITIALIZING | (Exclusive ? DO_EXCLUSIVE : 0);
    d->Characteristics = DeviceCharacteristics;
    d->DeviceExtension = DeviceExtensionSize ? (PVOID)(d + 1) : NULL;
    d->DeviceType = DeviceType;
    d->StackSize = 1;
    d->SectorSize = DeviceType == FILE_DEVICE_DISK ? 512 : 0;
    if (*name) {
        struct mmwdk_name *n = add_name(&s->devices, name);
        if (!n) {
            kernel_free(m, d);
            return STATUS_INSUFFICIENT_RESOURCES;
        }
        n->device = d;
    }
    DriverObject->DeviceObject = d;
    *DeviceObject = d;
    return STATUS_SUCCESS;
}

void IoDeleteDevice(PDEVICE_OBJECT DeviceObject)
{
    mm_machine *m = machine("IoDeleteDevice");
    struct mmwdk_state *s = mmwdk_state(m);
    struct mmwdk_name *n, *tmp;
    HASH_ITER(hh, s->devices, n, tmp)
        if (n->device == DeviceObject)
            drop_name(&s->devices, n);
    PDEVICE_OBJECT *link = &DeviceObject->DriverObject->DeviceObject;
    while (*link && *link != DeviceObject)
        link = &(*link)->NextDevice;
    if (*link)
        *link = DeviceObject->NextDevice;
    kernel_free(m, DeviceObject);
}

NTSTATUS IoCreateSymbolicLink(PUNICODE_STRING SymbolicLinkName, PUNICODE_STRING DeviceName)
{
    struct mmwdk_state *s = mmwdk_state(machine("IoCreateSymbolicLink"));
    char key[MMWDK_NAME_MAX];
    link_key(SymbolicLinkName, key, sizeof key);
    if (find_name(s->links, key))
        return STATUS_OBJECT_NAME_COLLISION;
    struct mmwdk_name *n = add_name(&s->links, key);
    if (!n)
        return STATUS_INSUFFICIENT_RESOURCES;
    mmwdk_narrow(DeviceName, n->target, sizeof n->target);
    return STATUS_SUCCESS;
}

NTSTATUS IoDeleteSymbolicLink(PUNICODE_STRING SymbolicLinkName)
{
    struct mmwdk_state *s = mmwdk_state(machine("IoDeleteSymbolicLink"));
    char key[MMWDK_NAME_MAX];
    link_key(SymbolicLinkName, key, sizeof key);
    struct mmwdk_name *n = find_name(s->links, key);
    if (!n)
        return STATUS_OBJECT_NAME_NOT_FOUND;
    drop_name(&s->links, n);
    return STATUS_SUCCESS;
}

/* The top of the stack a device belongs to. */
static PDEVICE_OBJECT top_of(PDEVICE_OBJECT d)
{
    while (d->AttachedDevice)
        d = d->AttachedDevice;
    return d;
}

PDEVICE_OBJECT IoAttachDeviceToDeviceStack(PDEVICE_OBJECT SourceDevice, PDEVICE_OBJECT TargetDevice)
{
    PDEVICE_OBJECT top = top_of(TargetDevice);
    top->AttachedDevice = SourceDevice;
    SourceDevice->StackSize = (CCHAR)(top->StackSize + 1);
    SourceDevice->AlignmentRequirement = top->AlignmentRequirement;
    return top;
}

void IoDetachDevice(PDEVICE_OBJECT TargetDevice) { TargetDevice->AttachedDevice = NULL; }

NTSTATUS IoAttachDevice(PDEVICE_OBJECT SourceDevice, PUNICODE_STRING TargetDevice, PDEVICE_OBJECT *AttachedDevice)
{
    struct mmwdk_state *s = mmwdk_state(machine("IoAttachDevice"));
    char name[MMWDK_NAME_MAX];
    mmwdk_narrow(TargetDevice, name, sizeof name);
    struct mmwdk_name *n = find_name(s->devices, name);
    if (!n)
        return STATUS_OBJECT_NAME_NOT_FOUND;
    *AttachedDevice = IoAttachDeviceToDeviceStack(SourceDevice, n->device);
    return STATUS_SUCCESS;
}

/* ---- IRPs ---- */

PIRP IoAllocateIrp(CCHAR StackSize, BOOLEAN ChargeQuota)
{
    mm_machine *m = machine("IoAllocateIrp");
    PIRP irp = (PIRP)ptr_of(mm_io_allocate_irp_ex(m, StackSize, ChargeQuota));
    mmwdk_stop_if_dead(MM_STATUS_SUCCESS);
    return irp;
}

void IoFreeIrp(PIRP Irp)
{
    mm_machine *m = machine("IoFreeIrp");
    mmwdk_stop_if_dead(mm_io_free_irp(m, va_of(Irp)));
}

void IoInitializeIrp(PIRP Irp, USHORT PacketSize, CCHAR StackSize)
{
    mm_machine *m = machine("IoInitializeIrp");
    mm_va outer = mm_cpu_set_caller(m, va_of(__builtin_return_address(0))); /* 0xC9/0x20D's P2 */
    mm_status st = mm_io_initialize_irp(m, va_of(Irp), PacketSize, StackSize);
    mm_cpu_set_caller(m, outer);
    mmwdk_stop_if_dead(st);
}

/* IoReuseIrp: the packet as IoAllocateIrp left it, with its allocation
 * flags and the status given. */
void IoReuseIrp(PIRP Irp, NTSTATUS Iostatus)
{
    UCHAR flags = Irp->AllocationFlags;
    CCHAR stack = Irp->StackCount;
    USHORT size = Irp->Size;
    memset(Irp, 0, size);
    Irp->Type = IO_TYPE_IRP;
    Irp->Size = size;
    Irp->StackCount = stack;
    Irp->CurrentLocation = (CHAR)(stack + 1);
    Irp->AllocationFlags = flags;
    InitializeListHead(&Irp->ThreadListEntry);
    Irp->Tail.Overlay.CurrentStackLocation = (PIO_STACK_LOCATION)(Irp + 1) + stack;
    Irp->IoStatus.Status = Iostatus;
}

NTSTATUS IofCallDriver(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    Irp->CurrentLocation--;
    if (Irp->CurrentLocation <= 0) {
        mm_bugcheck_ex(machine("IoCallDriver"), "IofCallDriver", 0x35 /* NO_MORE_IRP_STACK_LOCATIONS */,
                       va_of(Irp), 0, 0, 0, "IoCallDriver with no stack location left for the next driver");
        mmwdk_stop();
    }
    Irp->Tail.Overlay.CurrentStackLocation--;
    PIO_STACK_LOCATION sp = Irp->Tail.Overlay.CurrentStackLocation;
    sp->DeviceObject = DeviceObject;
    PDRIVER_DISPATCH dispatch = sp->MajorFunction <= IRP_MJ_MAXIMUM_FUNCTION
                                    ? DeviceObject->DriverObject->MajorFunction[sp->MajorFunction]
                                    : invalid_device_request;
    return dispatch(DeviceObject, Irp);
}

static struct mmwdk_request *request_of(mm_machine *m, PIRP irp)
{
    struct mmwdk_request *r = NULL;
    mm_va key = va_of(irp);
    HASH_FIND(hh, mmwdk_state(m)->requests, &key, sizeof key, r);
    return r;
}

static bool completion_wanted(PIO_STACK_LOCATION sp, PIRP irp)
{
    if (!sp->CompletionRoutine)
        return false;
    if (irp->Cancel && (sp->Control & SL_INVOKE_ON_CANCEL))
        return true;
    return NT_SUCCESS(irp->IoStatus.Status) ? (sp->Control & SL_INVOKE_ON_SUCCESS) != 0
                                            : (sp->Control & SL_INVOKE_ON_ERROR) != 0;
}

static void finish(mm_machine *m, struct mmwdk_request *r, PIRP irp);
static void complete_in_context(mm_machine *m, struct mmwdk_request *r, PIRP irp);

/* IofCompleteRequest: each stack location above the current one, upwards,
 * gets its completion routine (which may take the IRP back with
 * STATUS_MORE_PROCESSING_REQUIRED); then the I/O manager finishes its own
 * requests. A second completion is 0x44. */
void IofCompleteRequest(PIRP Irp, CCHAR PriorityBoost)
{
    (void)PriorityBoost;
    mm_machine *m = machine("IoCompleteRequest");
    struct mmwdk_request *r = request_of(m, Irp);
    if ((r && (r->done || r->deferred)) || Irp->CurrentLocation > Irp->StackCount + 1) {
        mm_io_complete_request(m, va_of(Irp)); /* 0x44 MULTIPLE_IRP_COMPLETE_REQUESTS */
        mm_bugcheck_ex(m, "IofCompleteRequest", 0x44, va_of(Irp), 0, 0, 0, "the IRP was already completed");
        mmwdk_stop();
    }
    for (PIO_STACK_LOCATION sp = IoGetCurrentIrpStackLocation(Irp); Irp->CurrentLocation <= Irp->StackCount; sp++) {
        IoSkipCurrentIrpStackLocation(Irp);
        Irp->PendingReturned = (BOOLEAN)((sp->Control & SL_PENDING_RETURNED) != 0);
        PIO_COMPLETION_ROUTINE routine = completion_wanted(sp, Irp) ? sp->CompletionRoutine : NULL;
        PVOID context = sp->Context;
        sp->CompletionRoutine = NULL;
        sp->Context = NULL;
        sp->Control = 0;
        if (routine) {
            PDEVICE_OBJECT upper = Irp->CurrentLocation <= Irp->StackCount ? IoGetCurrentIrpStackLocation(Irp)->DeviceObject
                                                                          : NULL;
            if (routine(upper, Irp, context) == STATUS_MORE_PROCESSING_REQUIRED)
                return; /* the IRP belongs to that driver again */
        } else if (Irp->PendingReturned && Irp->CurrentLocation <= Irp->StackCount) {
            IoMarkIrpPending(Irp);
        }
    }
    if (r) {
        finish(m, r, Irp);
        return;
    }
    /* A packet a driver allocated and let complete to nobody: the MDLs and
     * the packet go, as for a thread's IRP. */
    mm_io_complete_request(m, va_of(Irp));
    mmwdk_stop_if_dead(MM_STATUS_SUCCESS);
}

PDRIVER_CANCEL IoSetCancelRoutine(PIRP Irp, PDRIVER_CANCEL CancelRoutine)
{
    PDRIVER_CANCEL old = Irp->CancelRoutine;
    Irp->CancelRoutine = CancelRoutine;
    return old;
}

void IoAcquireCancelSpinLock(PKIRQL Irql)
{
    *Irql = KeAcquireSpinLockRaiseToDpc(&mmwdk_state(machine("IoAcquireCancelSpinLock"))->cancel_lock);
}

void IoReleaseCancelSpinLock(KIRQL Irql)
{
    KeReleaseSpinLock(&mmwdk_state(machine("IoReleaseCancelSpinLock"))->cancel_lock, Irql);
}

/* IoCancelIrp: Cancel set, and the cancel routine (if any) called with the
 * cancel spin lock held, which it releases. */
BOOLEAN IoCancelIrp(PIRP Irp)
{
    KIRQL irql;
    IoAcquireCancelSpinLock(&irql);
    Irp->Cancel = TRUE;
    PDRIVER_CANCEL routine = IoSetCancelRoutine(Irp, NULL);
    if (!routine) {
        IoReleaseCancelSpinLock(irql);
        return FALSE;
    }
    Irp->CancelIrql = irql;
    routine(IoGetCurrentIrpStackLocation(Irp)->DeviceObject, Irp);
    return TRUE;
}

PEPROCESS IoGetRequestorProcess(PIRP Irp)
{
    mm_machine *m = machine("IoGetRequestorProcess");
    struct mmwdk_request *r = request_of(m, Irp);
    if (!r || !r->process)
        return NULL;
    struct mm_process_info info;
    return MM_SUCCESS(mm_process_query(m, r->process, &info)) ? (PEPROCESS)ptr_of(info.eprocess) : NULL;
}

/* ---- the I/O manager's own requests ---- */

static PIRP new_irp(mm_machine *m, PDEVICE_OBJECT device, UCHAR major, PFILE_OBJECT file, mm_process *p,
                    struct mmwdk_request **out)
{
    PIRP irp = (PIRP)ptr_of(mm_io_allocate_irp_ex(m, device->StackSize, false));
    if (!irp)
        return NULL;
    struct mmwdk_request *r = mmwdk_alloc(m, sizeof *r);
    if (!r) {
        mm_io_free_irp(m, va_of(irp));
        return NULL;
    }
    r->irp = va_of(irp);
    r->process = p;
    HASH_ADD(hh, mmwdk_state(m)->requests, irp, sizeof r->irp, r);
    irp->RequestorMode = p == mm_process_system(m) ? KernelMode : UserMode;
    irp->Tail.Overlay.OriginalFileObject = file;
    irp->Tail.Overlay.Thread = (PETHREAD)(void *)IoGetCurrentProcess();
    PIO_STACK_LOCATION sp = IoGetNextIrpStackLocation(irp);
    sp->MajorFunction = major;
    sp->FileObject = file;
    *out = r;
    return irp;
}

static void drop_request(mm_machine *m, struct mmwdk_request *r)
{
    HASH_DEL(mmwdk_state(m)->requests, r);
    mmwdk_free(m, r);
}

/* The I/O manager's part of completion, in the requester's context:
 * buffered output copied to the caller (IoStatus.Information bytes, as
 * Windows trusts the driver), the system buffer freed, the MDL chain
 * unlocked and freed with the packet. */
static void finish_now(mm_machine *m, struct mmwdk_request *r, PIRP irp)
{
    struct user_call c;
    enter_process(m, r->process, &c);
    complete_in_context(m, r, irp);
    leave(m, &c.saved, c.attached);
    if (!r->waiting)
        drop_request(m, r); /* nobody waits for it: the packet's address may come back */
}

/* The I/O manager's part of completion runs in the requester's context.
 * Completed from another process at DISPATCH_LEVEL (under a spin lock, in a
 * cancel routine) it cannot attach there: Windows queues an APC to the
 * requester's thread, and so does this, run at the next request or call
 * from the test (run_deferred). */
static void finish(mm_machine *m, struct mmwdk_request *r, PIRP irp)
{
    if (r->process != mm_process_current(m) && mm_irql_current(m) > MM_APC_LEVEL) {
        r->deferred = true;
        return;
    }
    finish_now(m, r, irp);
}

static void run_deferred(mm_machine *m)
{
    if (mm_irql_current(m) > MM_APC_LEVEL)
        return;
    struct mmwdk_request *r, *tmp;
    HASH_ITER(hh, mmwdk_state(m)->requests, r, tmp)
        if (r->deferred && !mm_machine_is_dead(m)) {
            r->deferred = false;
            finish_now(m, r, (PIRP)ptr_of(r->irp));
        }
}

static void complete_in_context(mm_machine *m, struct mmwdk_request *r, PIRP irp)
{
    r->status = irp->IoStatus.Status;
    r->information = irp->IoStatus.Information;
    if ((irp->Flags & IRP_BUFFERED_IO) && (irp->Flags & IRP_INPUT_OPERATION) && !NT_ERROR(r->status) &&
        r->information && irp->UserBuffer) {
        mm_status st = copy_simulated(m, va_of(irp->UserBuffer), va_of(irp->AssociatedIrp.SystemBuffer),
                                      r->information);
        if (!MM_SUCCESS(st))
            r->status = (NTSTATUS)st;
    }
    if ((irp->Flags & IRP_DEALLOCATE_BUFFER) && irp->AssociatedIrp.SystemBuffer)
        system_buffer_free(m, irp->AssociatedIrp.SystemBuffer);
    if (r->iosb) {
        r->iosb->Status = r->status;
        r->iosb->Information = r->information;
    }
    r->done = true;
    mm_io_complete_request(m, va_of(irp));
    mmwdk_stop_if_dead(MM_STATUS_SUCCESS);
}

/* Sends the IRP down and returns the request's status: its completion
 * status when it completed, STATUS_PENDING while a driver holds it. */
static NTSTATUS send(mm_machine *m, PDEVICE_OBJECT device, PIRP irp, struct mmwdk_request *r, ULONG_PTR *information)
{
    r->waiting = true;
    NTSTATUS st = IofCallDriver(device, irp);
    r->waiting = false;
    run_deferred(m);
    if (!r->done) {
        if (information)
            *information = 0;
        return st == STATUS_PENDING ? STATUS_PENDING : st;
    }
    NTSTATUS result = r->status;
    if (information)
        *information = r->information;
    drop_request(m, r);
    return result;
}

/* ---- user buffers ---- */

/* A user buffer of exactly len bytes in the current process, ending where
 * an uncommitted page begins; NULL for len 0. */
static mm_va user_buffer(mm_machine *m, ULONG len)
{
    if (!len)
        return 0;
    uint64_t pages = ((uint64_t)len + PAGE_SIZE - 1) / PAGE_SIZE;
    mm_va base = 0;
    uint64_t size = (pages + 1) * PAGE_SIZE;
    if (!MM_SUCCESS(mm_virtual_alloc(m, NULL, &base, &size, MM_MEM_RESERVE, MM_PAGE_READWRITE)))
        return 0;
    mm_va commit = base;
    size = pages * PAGE_SIZE;
    if (!MM_SUCCESS(mm_virtual_alloc(m, NULL, &commit, &size, MM_MEM_COMMIT, MM_PAGE_READWRITE)))
        return 0;
    return base + pages * PAGE_SIZE - len;
}

static void user_release(mm_machine *m, mm_va va)
{
    if (!va)
        return;
    mm_va base = va & ~(mm_va)(PAGE_SIZE - 1);
    struct mm_region_info info;
    if (MM_SUCCESS(mm_virtual_query(m, NULL, base, &info)))
        base = info.allocation_base;
    uint64_t size = 0;
    mm_virtual_free(m, NULL, &base, &size, MM_MEM_RELEASE);
}

/* ---- opening, requests, closing ---- */

static PDEVICE_OBJECT device_named(struct mmwdk_state *s, const char *name)
{
    char key[MMWDK_NAME_MAX];
    if (strncmp(name, "\\\\.\\", 4) == 0)
        snprintf(key, sizeof key, "\\??\\%s", name + 4);
    else
        snprintf(key, sizeof key, "%s", name);
    struct mmwdk_name *link = find_name(s->links, key);
    struct mmwdk_name *dev = find_name(s->devices, link ? link->target : key);
    return dev ? dev->device : NULL;
}

static mm_status open_device(mm_machine *m, mm_process *p, PDEVICE_OBJECT target, mmwdk_file **out, int32_t *status);

mm_status mmwdk_open(mm_process *p, const char *name, mmwdk_file **out, int32_t *status)
{
    mm_machine *m = test_entry();
    if (!m || !p || !name || !out || !status)
        return MM_STATUS_INVALID_PARAMETER;
    *out = NULL;
    PDEVICE_OBJECT target = device_named(mmwdk_state(m), name);
    if (!target) {
        *status = STATUS_OBJECT_NAME_NOT_FOUND;
        return MM_STATUS_SUCCESS;
    }
    return open_device(m, p, target, out, status);
}

mm_status mmwdk_open_driver(mm_process *p, mmwdk_driver *d, mmwdk_file **out, int32_t *status)
{
    mm_machine *m = test_entry();
    if (!m || !p || !d || !out || !status)
        return MM_STATUS_INVALID_PARAMETER;
    *out = NULL;
    PDEVICE_OBJECT target = d->object->DeviceObject;
    if (!target) {
        *status = STATUS_NO_SUCH_DEVICE;
        return MM_STATUS_SUCCESS;
    }
    while (target->NextDevice) /* the first made is last in the list */
        target = target->NextDevice;
    return open_device(m, p, target, out, status);
}

static mm_status open_device(mm_machine *m, mm_process *p, PDEVICE_OBJECT target, mmwdk_file **out, int32_t *status)
{
    struct mmwdk_state *s = mmwdk_state(m);
    PDEVICE_OBJECT device = top_of(target);
    struct user_call c;
    enter_process(m, p, &c);
    PFILE_OBJECT file = kernel_alloc(m, sizeof(FILE_OBJECT), OBJECT_TAG);
    mmwdk_file *f = mmwdk_alloc(m, sizeof *f);
    struct mmwdk_request *r = NULL;
    PIRP irp = file && f ? new_irp(m, device, IRP_MJ_CREATE, file, p, &r) : NULL;
    if (!irp) {
        kernel_free(m, file);
        mmwdk_free(m, f);
        leave(m, &c.saved, c.attached);
        return MM_STATUS_INSUFFICIENT_RESOURCES;
    }
    file->Type = IO_TYPE_FILE;
    file->Size = sizeof(FILE_OBJECT);
    file->DeviceObject = target;
    file->ReadAccess = file->WriteAccess = TRUE;
    irp->Flags = IRP_CREATE_OPERATION | IRP_SYNCHRONOUS_API;
    *status = send(m, device, irp, r, NULL);
    leave(m, &c.saved, c.attached);
    if (!NT_SUCCESS(*status)) {
        kernel_free(m, file);
        mmwdk_free(m, f);
        return mm_machine_is_dead(m) ? MM_STATUS_MACHINE_DEAD : MM_STATUS_SUCCESS;
    }
    f->process = p;
    f->object = file;
    f->device = device;
    f->next = s->files;
    s->files = f;
    *out = f;
    return MM_STATUS_SUCCESS;
}

/* The buffers of an IOCTL or a read/write, set the way the method asks. */
static NTSTATUS set_buffers(mm_machine *m, PIRP irp, ULONG method, mm_va in, ULONG in_len, mm_va out, ULONG out_len,
                            bool output_is_read)
{
    mm_mode mode = irp->RequestorMode == UserMode ? MM_USER_MODE : MM_KERNEL_MODE;
    PIO_STACK_LOCATION sp = IoGetNextIrpStackLocation(irp);
    if (method == METHOD_NEITHER) {
        sp->Parameters.DeviceIoControl.Type3InputBuffer = ptr_of(in);
        irp->UserBuffer = ptr_of(out);
        return STATUS_SUCCESS;
    }
    ULONG system_len = method == METHOD_BUFFERED ? (in_len > out_len ? in_len : out_len) : in_len;
    if (system_len) {
        PVOID buffer = system_buffer(m, system_len);
        if (!buffer)
            return STATUS_INSUFFICIENT_RESOURCES;
        irp->AssociatedIrp.SystemBuffer = buffer;
        irp->Flags |= IRP_BUFFERED_IO | IRP_DEALLOCATE_BUFFER;
        mm_status copied = in_len ? copy_simulated(m, va_of(buffer), in, in_len) : MM_STATUS_SUCCESS;
        if (!MM_SUCCESS(copied))
            return (NTSTATUS)copied;
        /* The rest of a buffered request's system buffer keeps the pool's
         * old bytes (docs/decisions.md): a driver that reports more output
         * than it wrote hands them to the caller. */
        if (method == METHOD_BUFFERED && out_len)
            irp->Flags |= IRP_INPUT_OPERATION;
    }
    irp->UserBuffer = ptr_of(out);
    if (method != METHOD_BUFFERED && out_len) {
        PMDL mdl = (PMDL)ptr_of(mm_io_allocate_mdl(m, out, out_len, false, true, va_of(irp)));
        if (!mdl)
            return STATUS_INSUFFICIENT_RESOURCES;
        mm_status st = mm_probe_and_lock_pages(m, va_of(mdl), mode,
                                               output_is_read ? MM_IO_READ_ACCESS : MM_IO_WRITE_ACCESS);
        if (!MM_SUCCESS(st)) {
            irp->MdlAddress = NULL;
            mm_io_free_mdl(m, va_of(mdl));
            return (NTSTATUS)st;
        }
    }
    return STATUS_SUCCESS;
}

/* A request that failed before reaching the driver: its buffers and
 * packet go back. */
static void abandon(mm_machine *m, PIRP irp, struct mmwdk_request *r)
{
    if ((irp->Flags & IRP_DEALLOCATE_BUFFER) && irp->AssociatedIrp.SystemBuffer)
        system_buffer_free(m, irp->AssociatedIrp.SystemBuffer);
    r->done = true;
    mm_io_complete_request(m, va_of(irp));
    drop_request(m, r);
}

/* NtDeviceIoControlFile's probes before a request is built (not for
 * METHOD_NEITHER, whose pointers are the driver's to probe): the input
 * readable, a buffered output writable, both inside user space; a failure
 * is the caller's STATUS_ACCESS_VIOLATION, and the driver never sees it. */
static bool in_user_space(mm_machine *m, mm_va va, ULONG len)
{
    struct mm_layout l;
    mm_machine_layout(m, &l);
    return !len || (va + len >= va && va + len <= l.user_probe_address);
}

static NTSTATUS probe_user_buffers(mm_machine *m, ULONG method, mm_va in, ULONG in_len, mm_va out, ULONG out_len)
{
    if (!in_user_space(m, in, in_len) || !in_user_space(m, out, out_len))
        return STATUS_ACCESS_VIOLATION;
    if (method != METHOD_BUFFERED)
        return STATUS_SUCCESS; /* a direct output is probed by MmProbeAndLockPages */
    for (mm_va page = out & ~(mm_va)(PAGE_SIZE - 1); out_len && page < out + out_len; page += PAGE_SIZE) {
        mm_va at = page < out ? out : page;
        UCHAR byte;
        mm_status st = mm_read(m, at, &byte, 1);
        if (MM_SUCCESS(st))
            st = mm_write(m, at, &byte, 1); /* as ProbeForWrite: the same byte back */
        if (!MM_SUCCESS(st))
            return (NTSTATUS)st;
    }
    return STATUS_SUCCESS;
}

/* Builds the IRP for user buffers already in the process (the caller is
 * in its context) and sends it. */
static NTSTATUS dispatch_user(mm_machine *m, mmwdk_file *f, UCHAR major, ULONG code, mm_va user_in, ULONG in_len,
                              mm_va user_out, ULONG out_len, uint64_t *information)
{
    struct mmwdk_request *r = NULL;
    PDEVICE_OBJECT device = top_of(f->object->DeviceObject); /* a filter may have come since the open */
    PIRP irp = new_irp(m, device, major, f->object, f->process, &r);
    if (!irp)
        return STATUS_INSUFFICIENT_RESOURCES;
    PIO_STACK_LOCATION sp = IoGetNextIrpStackLocation(irp);
    ULONG method;
    if (major == IRP_MJ_DEVICE_CONTROL) {
        sp->Parameters.DeviceIoControl.IoControlCode = code;
        sp->Parameters.DeviceIoControl.InputBufferLength = in_len;
        sp->Parameters.DeviceIoControl.OutputBufferLength = out_len;
        method = METHOD_FROM_CTL_CODE(code);
    } else {
        sp->Parameters.Read.Length = major == IRP_MJ_READ ? out_len : in_len;
        method = (device->Flags & DO_BUFFERED_IO) ? METHOD_BUFFERED
                 : (device->Flags & DO_DIRECT_IO) ? METHOD_OUT_DIRECT
                                                     : METHOD_NEITHER;
        irp->Flags |= major == IRP_MJ_READ ? IRP_READ_OPERATION : IRP_WRITE_OPERATION;
    }
    NTSTATUS st = method == METHOD_NEITHER ? STATUS_SUCCESS : probe_user_buffers(m, method, user_in, in_len, user_out,
                                                                                 out_len);
    if (!NT_SUCCESS(st)) {
        abandon(m, irp, r);
        return st;
    }
    bool write_request = major == IRP_MJ_WRITE;
    if (major == IRP_MJ_DEVICE_CONTROL)
        st = set_buffers(m, irp, method, user_in, in_len, user_out, out_len, method == METHOD_IN_DIRECT);
    else if (method == METHOD_BUFFERED)
        st = write_request ? set_buffers(m, irp, method, user_in, in_len, 0, 0, false)
                           : set_buffers(m, irp, method, 0, 0, user_out, out_len, false);
    else /* direct or neither: the data buffer, which a write's driver reads */
        st = set_buffers(m, irp, method, 0, 0, write_request ? user_in : user_out, write_request ? in_len : out_len,
                         write_request);
    if (major != IRP_MJ_DEVICE_CONTROL) /* a read's or a write's UserBuffer is the caller's buffer */
        irp->UserBuffer = ptr_of(write_request ? user_in : user_out);
    if (!NT_SUCCESS(st)) {
        abandon(m, irp, r);
        return st;
    }
    r->user_out = ptr_of(user_out);
    r->out_len = out_len;
    r->user_in = user_in;
    r->in_len = in_len;
    struct mmwdk_state *s = mmwdk_state(m);
    s->current_in = user_in;
    s->current_in_len = in_len;
    s->current_out = user_out;
    s->current_out_len = out_len;
    s->current_process = f->process;
    mm_machine_watch_reset(m); /* a double fetch is two reads within one request */
    st = send(m, device, irp, r, (ULONG_PTR *)information);
    if (st != STATUS_PENDING) /* no longer in flight: the adversary leaves them alone */
        s->current_in = s->current_out = 0;
    return st;
}

static NTSTATUS request(mmwdk_file *f, UCHAR major, ULONG code, const void *in, ULONG in_len, void *out,
                        ULONG out_len, uint64_t *information)
{
    mm_machine *m = test_entry();
    if (information)
        *information = 0;
    if (!m || !f || (in_len && !in) || (out_len && !out))
        return STATUS_INVALID_PARAMETER;
    if (mm_machine_is_dead(m))
        return (NTSTATUS)MM_STATUS_MACHINE_DEAD;
    struct user_call c;
    enter_process(m, f->process, &c);
    mm_va user_in = user_buffer(m, in_len), user_out = user_buffer(m, out_len);
    NTSTATUS st = STATUS_INSUFFICIENT_RESOURCES;
    if ((!in_len || user_in) && (!out_len || user_out)) {
        if (in_len)
            mm_write(m, user_in, in, in_len);
        st = dispatch_user(m, f, major, code, user_in, in_len, user_out, out_len, information);
    }
    if (out_len && user_out && !mm_machine_is_dead(m))
        mm_read(m, user_out, out, out_len);
    if (st != STATUS_PENDING && !mm_machine_is_dead(m)) {
        user_release(m, user_in);
        user_release(m, user_out);
    }
    leave(m, &c.saved, c.attached);
    return mm_machine_is_dead(m) ? (NTSTATUS)MM_STATUS_MACHINE_DEAD : st;
}

static int32_t request_at(mmwdk_file *f, UCHAR major, uint32_t code, mm_va in, uint32_t in_len, mm_va out,
                          uint32_t out_len, uint64_t *information)
{
    mm_machine *m = test_entry();
    if (information)
        *information = 0;
    if (!m || !f)
        return STATUS_INVALID_PARAMETER;
    if (mm_machine_is_dead(m))
        return (NTSTATUS)MM_STATUS_MACHINE_DEAD;
    struct user_call c;
    enter_process(m, f->process, &c);
    NTSTATUS st = dispatch_user(m, f, major, code, in, in_len, out, out_len, information);
    leave(m, &c.saved, c.attached);
    return mm_machine_is_dead(m) ? (NTSTATUS)MM_STATUS_MACHINE_DEAD : st;
}

int32_t mmwdk_ioctl_at(mmwdk_file *f, uint32_t code, mm_va in, uint32_t in_len, mm_va out, uint32_t out_len,
                       uint64_t *information)
{
    return request_at(f, IRP_MJ_DEVICE_CONTROL, code, in, in_len, out, out_len, information);
}

int32_t mmwdk_read_at(mmwdk_file *f, mm_va buffer, uint32_t length, uint64_t *information)
{
    return request_at(f, IRP_MJ_READ, 0, 0, 0, buffer, length, information);
}

int32_t mmwdk_write_at(mmwdk_file *f, mm_va buffer, uint32_t length, uint64_t *information)
{
    return request_at(f, IRP_MJ_WRITE, 0, buffer, length, 0, 0, information);
}

int32_t mmwdk_ioctl(mmwdk_file *f, uint32_t code, const void *in, uint32_t in_len, void *out, uint32_t out_len,
                    uint64_t *information)
{
    return request(f, IRP_MJ_DEVICE_CONTROL, code, in, in_len, out, out_len, information);
}

int32_t mmwdk_read(mmwdk_file *f, void *buffer, uint32_t length, uint64_t *information)
{
    return request(f, IRP_MJ_READ, 0, NULL, 0, buffer, length, information);
}

int32_t mmwdk_write(mmwdk_file *f, const void *buffer, uint32_t length, uint64_t *information)
{
    return request(f, IRP_MJ_WRITE, 0, buffer, length, NULL, 0, information);
}

static void forget_file(struct mmwdk_state *s, mmwdk_file *f)
{
    mmwdk_file **link = &s->files;
    while (*link && *link != f)
        link = &(*link)->next;
    if (*link)
        *link = f->next;
    mmwdk_free(s->m, f);
}

int32_t mmwdk_close(mmwdk_file *f)
{
    mm_machine *m = test_entry();
    if (!m || !f)
        return STATUS_INVALID_PARAMETER;
    struct user_call c;
    enter_process(m, f->process, &c);
    NTSTATUS st = STATUS_SUCCESS;
    UCHAR majors[2] = {IRP_MJ_CLEANUP, IRP_MJ_CLOSE};
    for (int i = 0; i < 2 && !mm_machine_is_dead(m); i++) {
        struct mmwdk_request *r = NULL;
        PDEVICE_OBJECT device = top_of(f->object->DeviceObject);
        PIRP irp = new_irp(m, device, majors[i], f->object, f->process, &r);
        if (irp)
            st = send(m, device, irp, r, NULL);
    }
    if (!mm_machine_is_dead(m))
        kernel_free(m, f->object);
    leave(m, &c.saved, c.attached);
    forget_file(mmwdk_state(m), f);
    return mm_machine_is_dead(m) ? (NTSTATUS)MM_STATUS_MACHINE_DEAD : st;
}

/* The process's requests still in a driver's hands are cancelled
 * (IoCancelIrp: the cancel routine, if any, completes them); true when
 * none is left. */
static bool cancel_requests(mm_machine *m, mm_process *p)
{
    struct mmwdk_state *s = mmwdk_state(m);
    struct mmwdk_request *r, *tmp;
    mm_va held[64];
    unsigned n = 0;
    HASH_ITER(hh, s->requests, r, tmp)
        if (r->process == p && !r->done && n < 64)
            held[n++] = r->irp;
    for (unsigned i = 0; i < n && !mm_machine_is_dead(m); i++)
        IoCancelIrp((PIRP)ptr_of(held[i])); /* a cancel routine completes it: its record goes */
    if (mm_machine_is_dead(m))
        return false;
    bool left = false;
    HASH_ITER(hh, s->requests, r, tmp)
        if (r->process == p && !r->done)
            left = true;
    return !left;
}

mm_status mmwdk_process_exit(mm_process *p)
{
    mm_machine *m = test_entry();
    if (!m || !p)
        return MM_STATUS_INVALID_PARAMETER;
    struct mmwdk_state *s = mmwdk_state(m);
    struct user_call c;
    enter_process(m, p, &c);
    bool all_done = cancel_requests(m, p);
    leave(m, &c.saved, c.attached);
    if (!all_done)
        return mm_machine_is_dead(m) ? MM_STATUS_MACHINE_DEAD : MM_STATUS_INVALID_DEVICE_STATE;
    for (mmwdk_file *f = s->files, *next; f && !mm_machine_is_dead(m); f = next) {
        next = f->next;
        if (f->process == p)
            mmwdk_close(f);
    }
    return mm_machine_is_dead(m) ? MM_STATUS_MACHINE_DEAD : mm_process_terminate(m, p);
}

PIRP IoBuildDeviceIoControlRequest(ULONG IoControlCode, PDEVICE_OBJECT DeviceObject, PVOID InputBuffer,
                                   ULONG InputBufferLength, PVOID OutputBuffer, ULONG OutputBufferLength,
                                   BOOLEAN InternalDeviceIoControl, PKEVENT Event, PIO_STATUS_BLOCK IoStatusBlock)
{
    (void)Event;
    mm_machine *m = machine("IoBuildDeviceIoControlRequest");
    struct mmwdk_request *r = NULL;
    PIRP irp = new_irp(m, DeviceObject,
                       InternalDeviceIoControl ? IRP_MJ_INTERNAL_DEVICE_CONTROL : IRP_MJ_DEVICE_CONTROL, NULL,
                       mm_process_current(m), &r);
    if (!irp)
        return NULL;
    irp->RequestorMode = KernelMode;
    r->iosb = IoStatusBlock;
    PIO_STACK_LOCATION sp = IoGetNextIrpStackLocation(irp);
    sp->Parameters.DeviceIoControl.IoControlCode = IoControlCode;
    sp->Parameters.DeviceIoControl.InputBufferLength = InputBufferLength;
    sp->Parameters.DeviceIoControl.OutputBufferLength = OutputBufferLength;
    ULONG method = METHOD_FROM_CTL_CODE(IoControlCode);
    NTSTATUS st = set_buffers(m, irp, method, va_of(InputBuffer), InputBufferLength, va_of(OutputBuffer),
                              OutputBufferLength, method == METHOD_IN_DIRECT);
    if (!NT_SUCCESS(st)) {
        abandon(m, irp, r);
        return NULL;
    }
    return irp;
}

/* ---- drivers ---- */

/* DriverEntry and DriverUnload run on a simulated kernel stack (24 KiB,
 * resident, above a guard page): an MDL over a local of theirs describes
 * simulated memory, and a deep recursion is the double fault Windows
 * raises. Where the host has no kernel stacks to give, on the caller's. */
struct driver_call {
    mmwdk_driver_entry entry;
    PDRIVER_OBJECT driver;
    PUNICODE_STRING registry;
    int32_t status;
};

static void run_entry(void *ctx)
{
    struct driver_call *c = ctx;
    c->status = c->entry(c->driver, c->registry);
}

static void run_unload(void *ctx)
{
    struct driver_call *c = ctx;
    c->driver->DriverUnload(c->driver);
}

#if defined(__SANITIZE_ADDRESS__)
#define ASAN_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ASAN_BUILD 1
#endif
#endif

static void on_kernel_stack(mm_machine *m, void (*fn)(void *), struct driver_call *c)
{
#ifdef ASAN_BUILD
    /* AddressSanitizer loses track of the stacks when a bug-check hook
     * leaves a kernel stack with longjmp: such builds stay on the caller's. */
    (void)m;
    fn(c);
#else
    if (mm_call_on_kernel_stack(m, fn, c) == MM_STATUS_NOT_SUPPORTED)
        fn(c);
#endif
}

static int32_t call_entry(mm_machine *m, mmwdk_driver_entry entry, PDRIVER_OBJECT d, PUNICODE_STRING registry)
{
    struct driver_call c = {entry, d, registry, (int32_t)STATUS_UNSUCCESSFUL};
    on_kernel_stack(m, run_entry, &c);
    return c.status;
}

static void call_unload(mm_machine *m, PDRIVER_OBJECT d)
{
    struct driver_call c = {NULL, d, NULL, 0};
    on_kernel_stack(m, run_unload, &c);
}

/* The driver object and the strings the I/O manager made for it go with
 * the driver (nothing holds them once it is unloaded). */
static void forget_driver_object(mm_machine *m, mmwdk_driver *d)
{
    kernel_free(m, d->object->DriverName.Buffer);
    kernel_free(m, d->registry->Buffer);
    kernel_free(m, d->registry);
    kernel_free(m, d->object);
}

static mm_status start(mm_machine *m, mmwdk_driver_entry entry, const char *name, mm_image *image, mmwdk_driver **out,
                       int32_t *entry_status)
{
    struct mmwdk_state *s = mmwdk_state(m);
    PDRIVER_OBJECT d = kernel_alloc(m, sizeof(DRIVER_OBJECT) + sizeof(DRIVER_EXTENSION), OBJECT_TAG);
    mmwdk_driver *h = mmwdk_alloc(m, sizeof *h);
    PUNICODE_STRING registry = kernel_alloc(m, sizeof(UNICODE_STRING), OBJECT_TAG);
    char text[160];
    snprintf(text, sizeof text, "\\Driver\\%s", name);
    bool ok = d && h && registry && make_string(m, &d->DriverName, text);
    snprintf(text, sizeof text, "\\Registry\\Machine\\System\\CurrentControlSet\\Services\\%s", name);
    ok = ok && make_string(m, registry, text);
    if (!ok) {
        if (d && d->DriverName.Buffer)
            kernel_free(m, d->DriverName.Buffer);
        if (registry && registry->Buffer)
            kernel_free(m, registry->Buffer);
        kernel_free(m, registry);
        kernel_free(m, d);
        mmwdk_free(m, h);
        return MM_STATUS_INSUFFICIENT_RESOURCES;
    }
    d->Type = IO_TYPE_DRIVER;
    d->Size = sizeof(DRIVER_OBJECT);
    d->DriverExtension = (PDRIVER_EXTENSION)(d + 1);
    d->DriverExtension->DriverObject = d;
    d->DriverInit = (PDRIVER_INITIALIZE)entry;
    for (int i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; i++)
        d->MajorFunction[i] = invalid_device_request;
    if (image) {
        struct mm_image_info info;
        mm_image_query(m, image, &info);
        d->DriverStart = ptr_of(info.base);
        d->DriverSize = (ULONG)info.size;
    }
    h->object = d;
    h->registry = registry;
    h->image = image;
    snprintf(h->name, sizeof h->name, "%s", name);
    struct mm_apc_state saved;
    bool attached;
    enter_system(m, &saved, &attached);
    *entry_status = call_entry(m, entry, d, registry);
    leave(m, &saved, attached);
    if (mm_machine_is_dead(m)) {
        mmwdk_free(m, h);
        return MM_STATUS_MACHINE_DEAD;
    }
    if (!NT_SUCCESS(*entry_status)) {
        forget_driver_object(m, h);
        mmwdk_free(m, h);
        if (image)
            mm_image_unload(m, image);
        return MM_STATUS_SUCCESS;
    }
    for (PDEVICE_OBJECT dev = d->DeviceObject; dev; dev = dev->NextDevice)
        dev->Flags &= ~(ULONG)DO_DEVICE_INITIALIZING;
    if (image)
        mm_image_discard_init(m, image);
    h->next = s->drivers;
    s->drivers = h;
    *out = h;
    return MM_STATUS_SUCCESS;
}

mm_status mmwdk_driver_start(mmwdk_driver_entry entry, const char *name, mmwdk_driver **out, int32_t *entry_status)
{
    mm_machine *m = test_entry();
    if (!m || !entry || !name || !*name || !out || !entry_status)
        return MM_STATUS_INVALID_PARAMETER;
    *out = NULL;
    return start(m, entry, name, NULL, out, entry_status);
}

mm_status mmwdk_driver_load(const char *path, mmwdk_driver **out, int32_t *entry_status)
{
    mm_machine *m = test_entry();
    if (!m || !path || !out || !entry_status)
        return MM_STATUS_INVALID_PARAMETER;
    *out = NULL;
    mm_image *image;
    mm_status st = mm_image_load_shared_object(m, path, &image);
    if (!MM_SUCCESS(st))
        return st;
    void *p = mm_image_symbol(m, image, "DriverEntry");
    if (!p) {
        mm_image_unload(m, image);
        return MM_STATUS_NOT_FOUND;
    }
    mmwdk_driver_entry entry;
    memcpy(&entry, &p, sizeof entry);
    struct mm_image_info info;
    mm_image_query(m, image, &info);
    char name[32];
    snprintf(name, sizeof name, "%s", info.name);
    char *dot = strchr(name, '.');
    if (dot)
        *dot = 0;
    return start(m, entry, strncmp(name, "lib", 3) == 0 ? name + 3 : name, image, out, entry_status);
}

struct _DRIVER_OBJECT *mmwdk_driver_object(const mmwdk_driver *d) { return d ? d->object : NULL; }

static void report(struct mmwdk_leaks *l, const char *line)
{
    size_t used = strlen(l->report);
    snprintf(l->report + used, sizeof l->report - used, "%s\n", line);
}

/* "mydriver.so+0x1234" for an address in a loaded image, else the address. */
static void call_site(mm_machine *m, const void *caller, char *out, size_t size)
{
    mm_image *img = mm_image_at(m, va_of(caller));
    struct mm_image_info info;
    if (img && MM_SUCCESS(mm_image_query(m, img, &info)))
        snprintf(out, size, "%s+0x%llx", info.name, (unsigned long long)(va_of(caller) - info.base));
    else
        snprintf(out, size, "%p", caller);
}

static void count_leaks(mm_machine *m, struct mmwdk_state *s, mmwdk_driver *d, struct mmwdk_leaks *l)
{
    memset(l, 0, sizeof *l);
    char line[MMWDK_NAME_MAX + 96];
    struct mmwdk_pool_block *b, *tmp;
    HASH_ITER(hh, s->pool, b, tmp) {
        /* The driver's own blocks: allocated from its image (or, for a
         * driver linked into the test, from outside every image). */
        if (mm_image_at(m, va_of(b->caller)) != d->image)
            continue;
        l->pool_blocks++;
        l->pool_bytes += b->bytes;
        char tag[5];
        for (int i = 0; i < 4; i++) {
            char c = (char)(b->tag >> (8 * i));
            tag[i] = c >= 32 && c < 127 ? c : '.';
        }
        tag[4] = 0;
        char site[64];
        call_site(m, b->caller, site, sizeof site);
        snprintf(line, sizeof line, "pool: %llu bytes at %016llx, tag '%s', allocated at %s",
                 (unsigned long long)b->bytes, (unsigned long long)b->va, tag, site);
        report(l, line);
        HASH_DEL(s->pool, b); /* reported once */
        mmwdk_free(m, b);
    }
    for (PDEVICE_OBJECT dev = d->object->DeviceObject; dev; dev = dev->NextDevice) {
        l->devices++;
        snprintf(line, sizeof line, "device: object %p never deleted (IoDeleteDevice)", (void *)dev);
        report(l, line);
    }
    struct mmwdk_name *n, *ntmp;
    HASH_ITER(hh, s->links, n, ntmp) {
        struct mmwdk_name *target = find_name(s->devices, n->target);
        if (target && target->device->DriverObject != d->object)
            continue; /* another driver's link */
        l->symbolic_links++;
        snprintf(line, sizeof line, "symbolic link: %s never deleted (IoDeleteSymbolicLink)", n->name);
        report(l, line);
    }
    struct mm_mdl_info mdls[64];
    size_t count = mm_mdls_read(m, mdls, 64);
    for (size_t i = 0; i < count && i < 64; i++) {
        if (mdls[i].locked) {
            l->locked_mdls++;
            snprintf(line, sizeof line, "MDL %016llx: %llu pages still locked", (unsigned long long)mdls[i].mdl,
                     (unsigned long long)mdls[i].lock_pages);
            report(l, line);
        }
        if (mdls[i].system_va) {
            l->mapped_mdls++;
            snprintf(line, sizeof line, "MDL %016llx: still mapped at %016llx (%llu pages)",
                     (unsigned long long)mdls[i].mdl, (unsigned long long)mdls[i].system_va,
                     (unsigned long long)mdls[i].system_pages);
            report(l, line);
        }
    }
}

mm_status mmwdk_driver_unload(mmwdk_driver *d, struct mmwdk_leaks *leaks)
{
    mm_machine *m = test_entry();
    if (!m || !d)
        return MM_STATUS_INVALID_PARAMETER;
    struct mmwdk_state *s = mmwdk_state(m);
    mmwdk_driver **link = &s->drivers;
    while (*link && *link != d)
        link = &(*link)->next;
    if (!*link)
        return MM_STATUS_INVALID_HANDLE;
    for (mmwdk_file *f = s->files; f; f = f->next)
        if (f->object->DeviceObject->DriverObject == d->object)
            return MM_STATUS_INVALID_DEVICE_STATE; /* Windows waits for the last reference */
    *link = d->next;
    if (d->object->DriverUnload && !mm_machine_is_dead(m)) {
        struct mm_apc_state saved;
        bool attached;
        enter_system(m, &saved, &attached);
        call_unload(m, d->object);
        leave(m, &saved, attached);
    }
    struct mmwdk_leaks local;
    count_leaks(m, s, d, leaks ? leaks : &local);
    if (d->image && !mm_machine_is_dead(m))
        mm_image_unload(m, d->image);
    if (!mm_machine_is_dead(m))
        forget_driver_object(m, d);
    mmwdk_free(m, d);
    return mm_machine_is_dead(m) ? MM_STATUS_MACHINE_DEAD : MM_STATUS_SUCCESS;
}
