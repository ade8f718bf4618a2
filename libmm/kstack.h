/* libmm/kstack.h — kernel stacks: KERNEL_STACK_SIZE of resident pages in
 * system PTEs above an invalid guard PTE, as MmCreateKernelStack lays them
 * out. */
#ifndef MMI_KSTACK_H
#define MMI_KSTACK_H

#include "mm/types.h"

struct mmi_kstack;

void mmi_kstack_fini(mm_machine *m);
/* The stack whose guard page holds va, or false. */
bool mmi_kstack_guard(mm_machine *m, mm_va va, mm_va *stack_base);

#endif
