/* include/wdk/mmsim/seh.h — structured exception handling for driver code
 * compiled by gcc or clang: __try/__except/__finally/__leave (and the
 * try/except/finally/leave spellings of older drivers), GetExceptionCode,
 * emulated with setjmp/longjmp (the fault handler runs with SA_NODEFER, so
 * no signal mask needs restoring) on mmsim's exceptions
 * (STATUS_ACCESS_VIOLATION from a probe or from a fault on a user address,
 * STATUS_DATATYPE_MISALIGNMENT from a probe, anything ExRaiseStatus raises).
 * Limits, each shown by a test (docs/wdk.md): a local changed inside
 * __try and read after an exception must be volatile; `return` out of a
 * __try skips its __finally (use __leave); `break` and `continue` inside a
 * __try act on the __try itself; a __finally runs before an outer filter is
 * evaluated; EXCEPTION_CONTINUE_EXECUTION cannot resume and searches on. */
#ifndef MMSIM_WDK_SEH_H
#define MMSIM_WDK_SEH_H

#include <setjmp.h>

#include "../ntdef.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EXCEPTION_EXECUTE_HANDLER 1
#define EXCEPTION_CONTINUE_SEARCH 0
#define EXCEPTION_CONTINUE_EXECUTION (-1)

/* One __try on the thread's stack of handlers. */
struct mmwdk_seh_frame {
    jmp_buf jump;
    struct mmwdk_seh_frame *outer;
    NTSTATUS code;      /* the exception, once one arrived */
    PVOID address;      /* where it was raised */
    int state;          /* MMWDK_SEH_* */
};

#define MMWDK_SEH_ACTIVE 1     /* on the stack of handlers */
#define MMWDK_SEH_UNWINDING 2  /* left by an exception that goes on outwards */

struct mmwdk_seh_frame *mmwdk_seh_push(struct mmwdk_seh_frame *f);
void mmwdk_seh_cleanup(struct mmwdk_seh_frame *f);
int mmwdk_seh_filter(struct mmwdk_seh_frame *f, int disposition);
void mmwdk_seh_unwinding(struct mmwdk_seh_frame *f);
int mmwdk_seh_next_phase(struct mmwdk_seh_frame *f, int phase);
NTSTATUS mmwdk_seh_code(void);

/* Phase 0 runs the body (or, after an exception, the filter and the
 * handler); phase 1 runs a __finally block; the exit of the scope takes the
 * frame off the stack whichever way it is left. The chain of if/else is
 * linear, so no dangling-else warning reaches the driver's build, and a
 * nested __try's frame hides the outer one's name without a -Wshadow
 * warning. */
#define __try                                                                                              \
    _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wshadow\"")                         \
    for (struct mmwdk_seh_frame _mmwdk_seh __attribute__((cleanup(mmwdk_seh_cleanup))),                 \
         *_mmwdk_seh_once = mmwdk_seh_push(&_mmwdk_seh);                                                  \
         _mmwdk_seh_once; _mmwdk_seh_once = NULL)                                                         \
        for (volatile int _mmwdk_seh_phase = 0; _mmwdk_seh_phase < 2;                                            \
             _mmwdk_seh_phase = mmwdk_seh_next_phase(&_mmwdk_seh, _mmwdk_seh_phase))                      \
            _Pragma("GCC diagnostic pop") if (_mmwdk_seh_phase == 0 && setjmp(_mmwdk_seh.jump) == 0)
#define __except(filter) else if (_mmwdk_seh_phase == 0 && mmwdk_seh_filter(&_mmwdk_seh, (int)(filter)))
#define __finally else if (_mmwdk_seh_phase == 0) mmwdk_seh_unwinding(&_mmwdk_seh); else
#define __leave continue

/* C only, as excpt.h does: in C++ try is a keyword. */
#if !defined(MMSIM_WDK_NO_LOWERCASE_SEH) && !defined(__cplusplus)
#define try __try
#define except __except
#define finally __finally
#define leave __leave
#endif

#define GetExceptionCode() mmwdk_seh_code()
#define _exception_code() mmwdk_seh_code()
#define AbnormalTermination() (_mmwdk_seh.state == MMWDK_SEH_UNWINDING)

#ifdef __cplusplus
}
#endif
#endif
