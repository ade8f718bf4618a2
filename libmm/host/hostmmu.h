/* libmm/host/hostmmu.h — the hosted layout's host view (POSIX): a host
 * range reserved per machine, frames of the memory file mapped into it as
 * the simulated TLB caches them, and a SIGSEGV handler that sends every
 * access the host refuses to the simulated fault path. */
#ifndef MMI_HOST_HOSTMMU_H
#define MMI_HOST_HOSTMMU_H

#include "mm/machine.h"

/* Reserves the host range a hosted layout of cfg needs; its base, aligned
 * for mmi_layout_hosted, in *base. STATUS_NOT_SUPPORTED where the host
 * cannot (no POSIX memory file, or host pages other than 4 KiB). */
mm_status mmi_host_reserve(const struct mm_config *cfg, mm_va *base);
/* Starts the host view of a booted machine over its reserved range. */
mm_status mmi_host_attach(mm_machine *m);
/* Ends it and gives the range back (machine destruction). */
void mmi_host_detach(mm_machine *m);

#endif
