/* libmm/bugcheck.h — raising a simulated bug check. Caller misuse comes here
 * (never an assertion): the machine records the stop, keeps the history of
 * the page or object involved, dies, and calls the hook. */
#ifndef MMI_BUGCHECK_H
#define MMI_BUGCHECK_H

#include "mm/bugcheck.h"

#if defined(__GNUC__)
#define MMI_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define MMI_PRINTF(a, b)
#endif

/* focus_pfn / focus_va pick the history lines (MM_PFN_NONE / 0: none).
 * Returns MM_STATUS_MACHINE_DEAD, for `return mmi_bugcheck(...)`. */
mm_status mmi_bugcheck(mm_machine *m, uint32_t code, uint64_t p1, uint64_t p2, uint64_t p3, uint64_t p4,
                       mm_pfn focus_pfn, mm_va focus_va, const char *why, ...) MMI_PRINTF(9, 10);

#endif
