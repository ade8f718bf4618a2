/* libmm/irp.h — IRP packets: IoAllocateIrp / IoInitializeIrp / IoFreeIrp and
 * the record of which packets are live, so a double free or completion is
 * caught without reading freed memory. */
#ifndef MMI_IRP_H
#define MMI_IRP_H

#include "mm/types.h"

struct mmi_irp;

void mmi_irp_fini(mm_machine *m);
/* IoFreeIrp's checks and release (used by IofCompleteRequest too). */
mm_status mmi_irp_free(mm_machine *m, mm_va irp);
/* IofCompleteRequest of an IRP that is no longer live: 0x44. */
mm_status mmi_irp_check_live(mm_machine *m, mm_va irp);

#endif
