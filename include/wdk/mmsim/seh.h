/* include/wdk/mmsim/seh.h — structured exception handling for driver code
 * compiled by gcc or clang: __try/__except/__finally/__leave (and the
 * try/except/finally/leave spellings of older drivers), GetExceptionCode,
 * emulated with setjmp/longjmp (the fault handler runs with SA_NODEFER, so
 * no signal mask needs restoring) on mmsim's exceptions
 * (STATUS_ACCESS_VIOLATION from a probe or from a fault on a user address,
 * STATUS_DATATYPE_MISALIGNMENT from a probe, anything ExRaiseStatus raises).
 * Limits, each shown by a test (docs/wdk.md): a local changed inside
 * __try and read after an exception must be volatile; break, continue and
 * __leave inside the __try body act on the __try itself (__leave from
 * inside a loop of the body leaves only that loop), and inside a __finally
 * on the __finally; `return` out of a __try body skips its __finally;
 * GetExceptionCode is the thread's last exception; a __finally runs before an outer filter
 * is evaluated; EXCEPTION_CONTINUE_EXECUTION cannot resume and searches on.
 */
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
    int active;         /* on the stack of handlers */
};

/* A __finally block's view of how its __try was left. */
struct mmwdk_seh_final {
    int once;           /* the block runs once */
    int abnormal;       /* left by an exception, which goes on afterwards */
    NTSTATUS code;
    PVOID address;
};

struct mmwdk_seh_frame *mmwdk_seh_push(struct mmwdk_seh_frame *f);
void mmwdk_seh_cleanup(struct mmwdk_seh_frame *f);
int mmwdk_seh_landed(void);
int mmwdk_seh_filter(int disposition);
struct mmwdk_seh_final mmwdk_seh_final_begin(void);
void mmwdk_seh_final_end(struct mmwdk_seh_final *f);
NTSTATUS mmwdk_seh_code(void);

/* gcc warns about the frame's names in a nested __try (-Wshadow) and about
 * the loop variable living across setjmp (-Wclobbered, which it never is:
 * it changes only after the body); clang knows only the first. */
#if defined(__clang__)
#define MMWDK_SEH_QUIET _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wshadow\"")
#else
#define MMWDK_SEH_QUIET                                                                          \
    _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wshadow\"")                 \
        _Pragma("GCC diagnostic ignored \"-Wclobbered\"")
#endif
#define MMWDK_SEH_LOUD _Pragma("GCC diagnostic pop")

/* __try makes a frame for the body and takes it off the stack when the
 * body is left (normally, by __leave, break or return, or by an exception
 * longjmp brings back here). __except and __finally come after that scope:
 * the handler's own break and continue act on the driver's switch or loop,
 * as on Windows; an exception that arrived is "landed" for the one that
 * follows. */
#define __try                                                                                             \
    MMWDK_SEH_QUIET                                                                                       \
    for (struct mmwdk_seh_frame _mmwdk_seh __attribute__((cleanup(mmwdk_seh_cleanup))),                \
         *_mmwdk_seh_once = mmwdk_seh_push(&_mmwdk_seh);                                                 \
         _mmwdk_seh_once; _mmwdk_seh_once = NULL)                                                        \
        MMWDK_SEH_LOUD if (setjmp(_mmwdk_seh.jump) == 0)
/* Variadic: a filter may be a comma expression, `(s = GetExceptionCode(),
 * EXCEPTION_EXECUTE_HANDLER)`. */
#define __except(...) if (mmwdk_seh_landed() && mmwdk_seh_filter((int)(__VA_ARGS__)))
#define __finally                                                                                         \
    MMWDK_SEH_QUIET                                                                                       \
    for (struct mmwdk_seh_final _mmwdk_fin __attribute__((cleanup(mmwdk_seh_final_end))) =             \
             mmwdk_seh_final_begin();                                                                     \
         _mmwdk_fin.once; _mmwdk_fin.once = 0)                                                            \
        MMWDK_SEH_LOUD
#define __leave break

/* C only, as excpt.h does: in C++ try is a keyword. */
#if !defined(MMSIM_WDK_NO_LOWERCASE_SEH) && !defined(__cplusplus)
#define try __try
#define except __except
#define finally __finally
#define leave __leave
#endif

#define GetExceptionCode() mmwdk_seh_code()
#define _exception_code() mmwdk_seh_code()
#define AbnormalTermination() (_mmwdk_fin.abnormal != 0)

#ifdef __cplusplus
}
#endif
#endif
