/* wdk/internal.h — what the WDK layer's files share: the machine current
 * for the calling thread, pointer/VA conversion, raising exceptions and
 * stopping the machine on a driver's behalf. The WDK layer is built on the
 * public mm_* API only (and its own headers in include/wdk). */
#ifndef MMWDK_INTERNAL_H
#define MMWDK_INTERNAL_H

#define NOMINMAX
#define MMSIM_WDK_NO_LOWERCASE_SEH
#include <ntifs.h>

#include "mm/mm.h"
#include "mmsim/wdk.h"

/* The calling thread's machine; a DDI called with none stops the host
 * process with a message (a harness bug, not a driver's). */
mm_machine *mmwdk_m(const char *ddi);

static inline mm_va va_of(const volatile void *p) { return (mm_va)(uintptr_t)p; }
static inline void *ptr_of(mm_va va) { return (void *)(uintptr_t)va; }

/* Raises an exception at the caller's address: to the innermost __try, or
 * the bug check for an unhandled exception (0x3B under a user process's
 * request, 0x7E in the System process). p0/p1 are the access violation's parameters (0/1 read or
 * write, the address). */
DECLSPEC_NORETURN void mmwdk_raise(NTSTATUS code, PVOID address, ULONG_PTR p0, ULONG_PTR p1);
/* A model call failed the way Windows raises (MmProbeAndLockPages): raise
 * the status, unless the machine died (nothing can continue then). */
void mmwdk_raise_failure(mm_status st, PVOID address);
/* The driver's code cannot go on past a bug check whose hook returned. */
DECLSPEC_NORETURN void mmwdk_stop(void);
/* mmwdk_stop when st says the machine died, or it is dead. */
void mmwdk_stop_if_dead(mm_status st);
/* The model's exception dispatcher for the calling thread's machine. */
void mmwdk_dispatch_exception(void *ctx, mm_machine *m, mm_status status, mm_va address, bool write, mm_va ip);
void mmwdk_seh_reset(void);

/* Should this call fail (Low Resources Simulation, inject.c)? site is an
 * MMWDK_INJECT_* bit, caller the driver's return address. */
bool mmwdk_inject_failure(uint32_t site, const void *caller);
/* Where DbgPrint's lines go. */
void mmwdk_debug_line(const char *text);

#endif
