/* wdk/seh.c — the runtime of the __try/__except/__finally emulation
 * (include/wdk/mmsim/seh.h): the calling thread's stack of handlers,
 * raising (ExRaiseStatus, probes, faults on user addresses the model
 * reports), and the bug check Windows raises when nobody handles an
 * exception: 0x3B SYSTEM_SERVICE_EXCEPTION under a user process's request,
 * 0x7E SYSTEM_THREAD_EXCEPTION_NOT_HANDLED in the System process. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>

static _Thread_local struct mmwdk_seh_frame *top;
static _Thread_local NTSTATUS last_code;
static _Thread_local PVOID last_address;
static _Thread_local bool landed; /* an exception came back to a frame */

void mmwdk_seh_reset(void)
{
    top = NULL;
    landed = false;
}

struct mmwdk_seh_frame *mmwdk_seh_push(struct mmwdk_seh_frame *f)
{
    f->outer = top;
    f->active = 1;
    top = f;
    return f;
}

/* The frame leaves the stack (its scope ends: normally, __leave, break,
 * return); frames above it were abandoned with it. */
static void pop(struct mmwdk_seh_frame *f)
{
    if (f->active) {
        top = f->outer;
        f->active = 0;
    }
}

void mmwdk_seh_cleanup(struct mmwdk_seh_frame *f) { pop(f); }

NTSTATUS mmwdk_seh_code(void) { return last_code; }

static bool system_thread(mm_machine *m) { return mm_process_current(m) == mm_process_system(m); }

/* Nobody handled it: in the System process (DriverEntry, DriverUnload, a
 * worker) a system thread's exception, 0x7E; in a user process's request
 * an exception under a system service, 0x3B. */
static DECLSPEC_NORETURN void unhandled(NTSTATUS code, PVOID address, ULONG_PTR p0, ULONG_PTR p1)
{
    mm_machine *m = mmwdk_m("an exception");
    char why[200];
    if (code == STATUS_ACCESS_VIOLATION)
        snprintf(why, sizeof why,
                 "exception 0x%08X (a %s of %016llx) at %p was not handled: no __try/__except around it",
                 (unsigned)code, p0 ? "write" : "read", (unsigned long long)p1, address);
    else
        snprintf(why, sizeof why, "exception 0x%08X at %p was not handled: no __try/__except around it",
                 (unsigned)code, address);
    mm_bugcheck_ex(m, "KiDispatchException", system_thread(m) ? 0x7E : 0x3B, (uint32_t)code, va_of(address), 0, 0,
                   why);
    mmwdk_stop();
}

void mmwdk_raise(NTSTATUS code, PVOID address, ULONG_PTR p0, ULONG_PTR p1)
{
    struct mmwdk_seh_frame *f = top;
    if (!f)
        unhandled(code, address, p0, p1);
    pop(f);
    last_code = code;
    last_address = address;
    landed = true;
    longjmp(f->jump, 1);
}

/* Did the __try just left end with an exception? It is the next
 * __except's or __finally's to deal with. */
int mmwdk_seh_landed(void)
{
    bool was = landed;
    landed = false;
    return was;
}

/* EXCEPTION_EXECUTE_HANDLER runs the handler; anything else searches on
 * (EXCEPTION_CONTINUE_EXECUTION cannot resume an emulated exception). */
int mmwdk_seh_filter(int disposition)
{
    if (disposition == EXCEPTION_EXECUTE_HANDLER)
        return 1;
    mmwdk_raise(last_code, last_address, 0, 0);
}

struct mmwdk_seh_final mmwdk_seh_final_begin(void)
{
    struct mmwdk_seh_final f = {1, 0, 0, NULL};
    if (mmwdk_seh_landed()) {
        f.abnormal = 1;
        f.code = last_code;
        f.address = last_address;
    }
    return f;
}

/* After a __finally block that an exception ran, the exception goes on. */
void mmwdk_seh_final_end(struct mmwdk_seh_final *f)
{
    if (f->abnormal) {
        f->abnormal = 0;
        mmwdk_raise(f->code, f->address, 0, 0);
    }
}

void mmwdk_dispatch_exception(void *ctx, mm_machine *m, mm_status status, mm_va address, bool write, mm_va ip)
{
    (void)ctx;
    (void)m;
    mmwdk_raise((NTSTATUS)status, ptr_of(ip), write ? 1 : 0, address);
}

void mmwdk_stop_if_dead(mm_status st)
{
    mm_machine *m = mmwdk_machine();
    if (st == MM_STATUS_MACHINE_DEAD || (m && mm_machine_is_dead(m)))
        mmwdk_stop();
}

void mmwdk_raise_failure(mm_status st, PVOID address)
{
    mmwdk_stop_if_dead(st);
    mmwdk_raise((NTSTATUS)st, address, 0, 0);
}

void mmwdk_stop(void)
{
    mm_machine *m = mmwdk_machine();
    const struct mm_bugcheck *bc = m ? mm_machine_bugcheck(m) : NULL;
    fprintf(stderr, "mmsim: bug check 0x%X in %s: the driver cannot continue past it\n", bc ? bc->code : 0,
            bc && bc->operation ? bc->operation : "?");
    fflush(NULL);
    abort();
}

void ExRaiseStatus(NTSTATUS Status) { mmwdk_raise(Status, __builtin_return_address(0), 0, 0); }

void KeBugCheckEx(ULONG BugCheckCode, ULONG_PTR P1, ULONG_PTR P2, ULONG_PTR P3, ULONG_PTR P4)
{
    mm_bugcheck_ex(mmwdk_m("KeBugCheckEx"), "KeBugCheckEx", BugCheckCode, P1, P2, P3, P4,
                   "the driver called KeBugCheckEx");
    mmwdk_stop();
}

void KeBugCheck(ULONG BugCheckCode)
{
    mm_bugcheck_ex(mmwdk_m("KeBugCheck"), "KeBugCheck", BugCheckCode, 0, 0, 0, 0, "the driver called KeBugCheck");
    mmwdk_stop();
}

/* ---- probes: the checks ProbeForRead/ProbeForWrite make, raising ---- */

static void probe_range(const volatile void *address, SIZE_T length, ULONG alignment, PVOID caller)
{
    ULONG_PTR start = (ULONG_PTR)address, end = start + length;
    if ((alignment & (alignment - 1)) != 0 || alignment == 0 || alignment > 16)
        alignment = 1; /* the checked build asserts; the free build masks */
    if (start & (alignment - 1))
        mmwdk_raise(STATUS_DATATYPE_MISALIGNMENT, caller, 0, 0);
    if (end < start || end > MmUserProbeAddress)
        mmwdk_raise(STATUS_ACCESS_VIOLATION, caller, 0, start);
}

void ProbeForRead(const volatile void *Address, SIZE_T Length, ULONG Alignment)
{
    if (Length)
        probe_range(Address, Length, Alignment, __builtin_return_address(0));
}

/* ProbeForWrite also writes each page back to itself, so a page the
 * process cannot write raises here rather than later. */
void ProbeForWrite(volatile void *Address, SIZE_T Length, ULONG Alignment)
{
    if (!Length)
        return;
    probe_range(Address, Length, Alignment, __builtin_return_address(0));
    volatile UCHAR *p = (volatile UCHAR *)Address, *last = p + Length - 1;
    for (;;) {
        *p = *p;
        volatile UCHAR *next = (volatile UCHAR *)PAGE_ALIGN((ULONG_PTR)p + PAGE_SIZE);
        if (next > last)
            break;
        p = next;
    }
    *last = *last;
}
