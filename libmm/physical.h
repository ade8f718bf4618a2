/* libmm/physical.h — physical-memory DDIs: I/O-space mappings of device
 * (non-RAM) frames, non-cached and physically contiguous allocations. */
#ifndef MMI_PHYSICAL_H
#define MMI_PHYSICAL_H

#include "mm/types.h"

struct mmi_physical_state;

bool mmi_physical_init(mm_machine *m);
void mmi_physical_fini(mm_machine *m);

#endif
