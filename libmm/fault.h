/* libmm/fault.h — CPU accesses through the page tables and the page-fault
 * handler behind them (demand zero, soft and hard faults, copy on write, and
 * the bug checks or access violations Windows raises). */
#ifndef MMI_FAULT_H
#define MMI_FAULT_H

#include "mm/memory.h"
#include "mm/pfn.h"

/* The access itself, without starting a new public operation. */
mm_status mmi_access(mm_machine *m, const struct mm_access_request *req);
/* MmIsAddressValid without the entry bookkeeping. */
bool mmi_is_address_valid(mm_machine *m, mm_va va);
/* What a page mapped at va is used for. */
mm_page_use mmi_use_for_va(const mm_machine *m, mm_va va);
/* Drop the cached translation of one page / of every page. */
void mmi_tlb_flush_page(mm_machine *m, mm_va va);
void mmi_tlb_flush_all(mm_machine *m);

#endif
