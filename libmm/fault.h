/* libmm/fault.h — CPU accesses through the page tables and the page-fault
 * handler behind them (demand zero, soft and hard faults, copy on write, and
 * the bug checks or access violations Windows raises). */
#ifndef MMI_FAULT_H
#define MMI_FAULT_H

#include "mm/memory.h"
#include "mm/pfn.h"

/* The access itself, without starting a new public operation. */
mm_status mmi_access(mm_machine *m, const struct mm_access_request *req);
/* The same for a routine writing memory the driver handed it (an MDL it
 * builds or fills): checked as the driver's own write would be
 * (mmi_check_structure_write), since the pointer is the driver's. */
mm_status mmi_access_for_driver(mm_machine *m, const struct mm_access_request *req);
/* The host bytes behind [va, va + len) for the model's own kernel access
 * that needs no fault: inside one system page whose translation the TLB
 * holds (for a write, a writable one). They stay valid until the model
 * changes a PTE or a frame. NULL: use mmi_access. The bytes of a read may
 * be a shared zero page, never to be written. The page written last is
 * remembered with its TLB entry (mmi_tlb_recent_bytes): while that entry
 * holds, the next access to the page needs no lookup. */
void *mmi_kernel_bytes(mm_machine *m, mm_va va, size_t len, bool write);
/* A write that does not come from the memory manager (driver code through
 * the public access API, or a device through an MDL) into a frame holding
 * page tables or prototype PTEs: 0x1A/0x41792 when it changes an entry,
 * before the bytes land, so the model never runs on a corrupted structure.
 * `who` names the writer for the explanation. */
mm_status mmi_check_structure_write(mm_machine *m, mm_pfn pfn, uint32_t offset, const void *buf, size_t len,
                                    const char *who);
/* An access by host code (a driver dereferencing a hosted VA) that the
 * host view refused: resolved as the CPU would (demand zero, soft and hard
 * faults, copy on write) and left in the TLB, hence mapped for the host; or
 * the bug check Windows raises; or STATUS_ACCESS_VIOLATION for a user
 * address, which the caller turns into an exception. */
mm_status mmi_host_access(mm_machine *m, mm_va va, mm_access kind, mm_va ip);
/* How many pages from the page-aligned va a kernel-mode read (or write) by
 * the current CPU reaches with no fault and no PTE change: valid, and for
 * a write writable and already dirty. One page-table walk per table. A
 * probe touches those pages and needs nothing else from them; it leaves
 * their translations uncached (only speed and a host view depend on the
 * simulated TLB, and a hosted machine gets 0: every page is touched).
 * pfns, if not NULL, receives the frames of the pages it counts. */
uint64_t mmi_resident_run(mm_machine *m, mm_va va, uint64_t pages, bool write, mm_pfn *pfns);
/* MmIsAddressValid without the entry bookkeeping. */
bool mmi_is_address_valid(mm_machine *m, mm_va va);
/* What a page mapped at va is used for. */
mm_page_use mmi_use_for_va(const mm_machine *m, mm_va va);

/* P2 of 0x50 (Windows 10 1507 on): the x64 page-fault error code, 0 read,
 * 0x2 write, 0x10 instruction fetch. */
uint64_t mmi_fault_access_code(mm_access kind);

#endif
