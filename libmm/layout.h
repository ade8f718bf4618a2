/* libmm/layout.h — a machine's address layout (struct mm_layout): Windows
 * x64's fixed one, or the hosted one over a host range the host layer
 * reserved; and the questions every module asks of an address. */
#ifndef MMI_LAYOUT_H
#define MMI_LAYOUT_H

#include "mm/machine.h"

/* Pages of driver-image VA (the image region's bitmap). */
#define MMI_IMAGE_VA_PAGES (UINT64_C(1) << 18)
/* The hosted layout's user space. */
#define MMI_HOSTED_USER_BYTES (UINT64_C(64) << 30)
/* Hosted regions start on this boundary. */
#define MMI_HOSTED_ALIGN (UINT64_C(1) << 30)

/* Pages of VA each pool gets for a configuration. */
uint64_t mmi_pool_va_pages(const struct mm_config *cfg);
void mmi_layout_windows(const struct mm_config *cfg, struct mm_layout *l);
/* The bytes a hosted layout spans (user space, then the system regions). */
uint64_t mmi_layout_hosted_bytes(const struct mm_config *cfg);
/* The hosted layout over [base, base + mmi_layout_hosted_bytes), base
 * aligned to MMI_HOSTED_ALIGN. */
void mmi_layout_hosted(const struct mm_config *cfg, mm_va base, struct mm_layout *l);

#endif
