/* libmm/physical.c — physical-memory DDIs: MmMapIoSpace / MmUnmapIoSpace
 * over device (non-RAM) frames, MmAllocateNonCachedMemory and
 * MmAllocateContiguousMemory(SpecifyCache) with their frees and checks. */
#include "physical.h"

#include "alloc.h"
#include "machine.h"

struct mmi_physical_state {
    int unused;
};

bool mmi_physical_init(mm_machine *m)
{
    m->physical = mmi_alloc(m, sizeof *m->physical);
    return m->physical != NULL;
}

void mmi_physical_fini(mm_machine *m)
{
    mmi_free(m, m->physical);
    m->physical = NULL;
}
