/* libmm/irql.h — the IRQL rules of the DDIs (irql.c). */
#ifndef MMI_IRQL_H
#define MMI_IRQL_H

#include "machine.h"

/* A routine with maximum IRQL `max` called above it. Without Verifier
 * Windows has no entry check: it crashes only when the routine's pageable
 * code would fault, i.e. for a routine limited below DISPATCH_LEVEL called
 * at DISPATCH_LEVEL or above: IRQL_NOT_LESS_OR_EQUAL (P1 = address
 * argument). Routines callable at DISPATCH run at any IRQL. Returns false
 * when the machine bug-checked. */
bool mmi_irql_too_high(mm_machine *m, mm_irql max, mm_va address);
static inline bool mmi_irql_allows(mm_machine *m, mm_irql max, mm_va address)
{
    mm_irql irql = mmi_irql(m);
    /* Below DISPATCH nothing stops a page fault; a routine callable at
     * DISPATCH is nonpageable code, which runs at any IRQL (Windows has no
     * entry check without Verifier: only a fault on non-resident data it
     * touches stops it, and the access path raises that). */
    if (irql <= max || irql < MM_DISPATCH_LEVEL || max >= MM_DISPATCH_LEVEL)
        return true;
    return mmi_irql_too_high(m, max, address);
}
/* A pageable routine callable at IRQL <= APC_LEVEL (MmAllocateNonCachedMemory,
 * MmLockPagableDataSection …): under Verifier's DDI compliance checking the
 * rule IrqlMmApcLte, 0xC4 (0x20019); else as mmi_irql_allows. */
bool mmi_irql_apc_lte(mm_machine *m);

#endif
