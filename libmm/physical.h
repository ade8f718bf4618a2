/* libmm/physical.h — physical-memory DDIs: I/O-space mappings of device
 * (non-RAM) frames, non-cached and physically contiguous allocations. */
#ifndef MMI_PHYSICAL_H
#define MMI_PHYSICAL_H

#include "mm/physical.h"

struct mmi_physical_state;

bool mmi_physical_init(mm_machine *m);
void mmi_physical_fini(mm_machine *m);

/* The rules behind every recorded I/O mapping, non-cached and contiguous
 * allocation: each is exactly one system PTE allocation whose PTEs map the
 * recorded frames (I/O mappings without a share of any RAM frame, the
 * allocations with the frame's one share, its use and cache attribute), and
 * no active contiguous-memory frame lies outside an allocation.
 * MM_STATUS_SUCCESS, or MM_STATUS_UNSUCCESSFUL with the first broken rule in
 * `why`. */
/* MmUnmapLockedPages released the system PTEs at `va` for an MDL that did not
 * map them (a driver bug Windows lets pass). When an I/O-space mapping or a
 * contiguous allocation started there, its record goes (the contiguous
 * frames stay allocated, leaked) and the return says what was lost;
 * NULL otherwise. */
const char *mmi_physical_released(mm_machine *m, mm_va va);

/* Whether `pfn` belongs to a contiguous allocation whose PTEs were released
 * that way (allocated, and mapped nowhere). */
bool mmi_physical_orphaned_frame(mm_machine *m, mm_pfn pfn);

mm_status mmi_physical_check(mm_machine *m, char *why, size_t why_size);

#endif
