/* wdk/core.c — the machine the WDK routines act on (per thread), where
 * DbgPrint's lines go, and the kernel's small routines: IRQL, spin locks,
 * the current process and attaching to another, assertions and
 * PAGED_CODE. */
#include "wdkstate.h"

#include <stdio.h>
#include <stdlib.h>

#include "dbgformat.h"

static _Thread_local mm_machine *current;
static void (*debug_fn)(void *ctx, const char *line);
static void *debug_ctx;

void mmwdk_use(mm_machine *m)
{
    if (current && current != m)
        mm_machine_set_exception_handler(current, NULL, NULL);
    current = m;
    mmwdk_seh_reset();
    if (m) {
        mm_machine_set_exception_handler(m, mmwdk_dispatch_exception, NULL);
        mm_machine_enter(m);
    }
}

mm_machine *mmwdk_machine(void) { return current; }

mm_machine *mmwdk_m(const char *ddi)
{
    if (!current) {
        fprintf(stderr, "mmsim: %s called with no machine for this thread (call mmwdk_use first)\n", ddi);
        fflush(NULL);
        abort();
    }
    mmwdk_adversary_step(current); /* between the driver's calls, the other CPU may act */
    return current;
}

void mmwdk_set_debug_output(void (*fn)(void *ctx, const char *line), void *ctx)
{
    debug_fn = fn;
    debug_ctx = ctx;
}

void mmwdk_debug_line(const char *text)
{
    if (debug_fn)
        debug_fn(debug_ctx, text);
    else
        fputs(text, stderr);
}

void mmwdk_assert_failed(const char *expression, const char *file, int line)
{
    char text[MMWDK_DBGPRINT_MAX];
    snprintf(text, sizeof text, "*** Assertion failed: %s\n***   Source File: %s, line %d\n", expression, file, line);
    mmwdk_debug_line(text);
    /* NT_ASSERT breaks into the debugger; with none, the breakpoint is an
     * exception nobody handles. */
    mmwdk_raise(STATUS_BREAKPOINT, __builtin_return_address(0), 0, 0);
}

/* The checked build's PAGED_CODE: pageable code at DISPATCH_LEVEL or above
 * is reported and breaks (a breakpoint exception nobody handles). */
void mmwdk_paged_code(const char *function)
{
    KIRQL irql = KeGetCurrentIrql();
    if (irql <= APC_LEVEL)
        return;
    char text[MMWDK_DBGPRINT_MAX];
    snprintf(text, sizeof text, "EX: Pageable code called at IRQL %u (%s)\n", irql, function);
    mmwdk_debug_line(text);
    mmwdk_raise(STATUS_BREAKPOINT, __builtin_return_address(0), 0, 0);
}

/* ---- IRQL ---- */

KIRQL KeGetCurrentIrql(void) { return (KIRQL)mm_irql_current(mmwdk_m("KeGetCurrentIrql")); }

KIRQL KfRaiseIrql(KIRQL NewIrql)
{
    mm_irql old = 0;
    mm_status st = mm_irql_raise(mmwdk_m("KeRaiseIrql"), NewIrql, &old);
    if (!MM_SUCCESS(st))
        mmwdk_stop();
    return (KIRQL)old;
}

void KeLowerIrql(KIRQL NewIrql)
{
    if (!MM_SUCCESS(mm_irql_lower(mmwdk_m("KeLowerIrql"), NewIrql)))
        mmwdk_stop();
}

KIRQL KeRaiseIrqlToDpcLevel(void) { return KfRaiseIrql(DISPATCH_LEVEL); }

/* ---- spin locks: one CPU runs the driver, so a lock held is a lock its
 * own thread holds: acquiring it again would spin forever at
 * DISPATCH_LEVEL. Verifier's Deadlock Detection stops it at the call
 * (0xC4/0x1000); without it Windows spins until the DPC watchdog stops the
 * machine (0x133, P1 1: too long at DISPATCH_LEVEL), which mmsim raises at
 * once (docs/decisions.md). ---- */

void KeInitializeSpinLock(PKSPIN_LOCK SpinLock) { *SpinLock = 0; }

#define DPC_WATCHDOG_PERIOD 0x1E00 /* ticks: Windows' default, 120 s of 15.6 ms */

static void take(PKSPIN_LOCK lock, const char *ddi)
{
    if (*lock) {
        mm_machine *m = mmwdk_m(ddi);
        if (mm_machine_verifier(m) & MM_VERIFIER_DEADLOCK_DETECTION)
            mm_bugcheck_ex(m, ddi, 0xC4, 0x1000, va_of(lock), 0, 0,
                           "the spin lock is already held by this thread: acquiring it again never returns");
        else
            mm_bugcheck_ex(m, ddi, 0x133, 1, DPC_WATCHDOG_PERIOD, 0, 0,
                           "the spin lock is already held by this thread: it spins at DISPATCH_LEVEL until the DPC "
                           "watchdog stops the machine");
        mmwdk_stop();
    }
    *lock = 1;
}

KIRQL KeAcquireSpinLockRaiseToDpc(PKSPIN_LOCK SpinLock)
{
    KIRQL old = KfRaiseIrql(DISPATCH_LEVEL);
    take(SpinLock, "KeAcquireSpinLock");
    return old;
}

void KeReleaseSpinLock(PKSPIN_LOCK SpinLock, KIRQL NewIrql)
{
    *SpinLock = 0;
    KeLowerIrql(NewIrql);
}

void KeAcquireSpinLockAtDpcLevel(PKSPIN_LOCK SpinLock) { take(SpinLock, "KeAcquireSpinLockAtDpcLevel"); }

void KeReleaseSpinLockFromDpcLevel(PKSPIN_LOCK SpinLock) { *SpinLock = 0; }

/* ---- processes ---- */

static PEPROCESS eprocess_of(mm_machine *m, mm_process *p)
{
    struct mm_process_info info;
    return p && MM_SUCCESS(mm_process_query(m, p, &info)) ? (PEPROCESS)ptr_of(info.eprocess) : NULL;
}

static mm_process *process_of(mm_machine *m, PEPROCESS process)
{
    for (mm_process *p = mm_process_next(m, NULL); p; p = mm_process_next(m, p))
        if (eprocess_of(m, p) == process)
            return p;
    return NULL;
}

PEPROCESS IoGetCurrentProcess(void)
{
    mm_machine *m = mmwdk_m("IoGetCurrentProcess");
    return eprocess_of(m, mm_process_current(m));
}

PEPROCESS PsGetCurrentProcess(void) { return IoGetCurrentProcess(); }

HANDLE PsGetProcessId(PEPROCESS Process)
{
    mm_machine *m = mmwdk_m("PsGetProcessId");
    struct mm_process_info info;
    mm_process *p = process_of(m, Process);
    return p && MM_SUCCESS(mm_process_query(m, p, &info)) ? (HANDLE)(ULONG_PTR)info.id : NULL;
}

HANDLE PsGetCurrentProcessId(void) { return PsGetProcessId(PsGetCurrentProcess()); }

PETHREAD PsGetCurrentThread(void)
{
    /* One thread per process in the simulation: its EPROCESS stands in. */
    return (PETHREAD)(void *)PsGetCurrentProcess();
}

MMSIM_STATIC_ASSERT(sizeof(struct mm_apc_state) <= sizeof(KAPC_STATE), "mm_apc_state fits in KAPC_STATE");

void KeStackAttachProcess(PRKPROCESS Process, PRKAPC_STATE ApcState)
{
    mm_machine *m = mmwdk_m("KeStackAttachProcess");
    mm_process *p = process_of(m, Process);
    struct mm_apc_state state;
    mm_status st = mm_process_attach(m, p ? p : mm_process_current(m), &state);
    if (!MM_SUCCESS(st))
        mmwdk_stop();
    memcpy(ApcState, &state, sizeof state);
}

void KeUnstackDetachProcess(PRKAPC_STATE ApcState)
{
    struct mm_apc_state state;
    memcpy(&state, ApcState, sizeof state);
    if (!MM_SUCCESS(mm_process_detach(mmwdk_m("KeUnstackDetachProcess"), &state)))
        mmwdk_stop();
}

void ObfReferenceObject(PVOID Object) { (void)Object; }
void ObfDereferenceObject(PVOID Object) { (void)Object; }
