/* libmm/pool.h — pool regions and blocks; the internal allocate/release
 * (no caller checks) used for system objects such as EPROCESS. */
#ifndef MMI_POOL_H
#define MMI_POOL_H

#include "mm/pool.h"

mm_status mmi_pool_init(mm_machine *m);
void mmi_pool_fini(mm_machine *m);
mm_status mmi_pool_alloc(mm_machine *m, mm_pool_type type, uint64_t bytes, uint32_t tag, mm_va *out);
/* A nonpaged block for the memory manager's own object (EPROCESS, prototype
 * PTEs, tracking structures): a driver's ExFreePool of it is a bug check. */
mm_status mmi_pool_alloc_kernel(mm_machine *m, uint64_t bytes, uint32_t tag, mm_va *out);
mm_status mmi_pool_release(mm_machine *m, mm_va block);
/* ExFreePoolWithTag's checks and release, inside another operation. */
mm_status mmi_pool_free_checked(mm_machine *m, mm_va block, uint32_t tag);
/* ExFreePoolWithTag's checks alone (IRQL, a live block, not the kernel's,
 * the tag, an intact POOL_HEADER): what a lookaside free still checks. */
mm_status mmi_pool_check_free(mm_machine *m, mm_va block, uint32_t tag);
/* The bug check for a block freed a second time (0xC2/0x07; 0xC4/0x13
 * under Verifier). */
mm_status mmi_pool_double_free(mm_machine *m, mm_va block);
/* Whether va lies in the page of a Special Pool block freed since (its
 * address not reused): a touch there is 0xD5 / 0xCC, not 0x50. */
bool mmi_pool_freed_special(const mm_machine *m, mm_va va);
/* Whether va lies in the inaccessible page after a live Special Pool
 * block's page: a touch there ran past the block's end (0xD6 / 0xCD). */
bool mmi_pool_special_guard(const mm_machine *m, mm_va va);
/* Whether block is the address of a live pool allocation. */
bool mmi_pool_is_allocated(mm_machine *m, mm_va block);
/* Which pool's VA range holds va: 0 nonpaged, 1 paged, -1 neither. */
int mmi_pool_region(const mm_machine *m, mm_va va);

#endif
