/* libmm/irql.h — the IRQL rules of the DDIs (irql.c). */
#ifndef MMI_IRQL_H
#define MMI_IRQL_H

#include "mm/machine.h"

/* A routine with maximum IRQL `max` called above it. Without Verifier
 * Windows has no entry check: it crashes only when the routine's pageable
 * code would fault, i.e. for a routine limited below DISPATCH_LEVEL called
 * at DISPATCH_LEVEL or above: IRQL_NOT_LESS_OR_EQUAL (P1 = address
 * argument). Routines callable at DISPATCH run at any IRQL. Returns false
 * when the machine bug-checked. */
bool mmi_irql_allows(mm_machine *m, mm_irql max, mm_va address);
/* A pageable routine callable at IRQL <= APC_LEVEL (MmAllocateNonCachedMemory,
 * MmLockPagableDataSection …): under Verifier's DDI compliance checking the
 * rule IrqlMmApcLte, 0xC4 (0x20019); else as mmi_irql_allows. */
bool mmi_irql_apc_lte(mm_machine *m);

#endif
