/* libmm/host/dormant.h — the host view's dormant pages: pages of system
 * PTE space whose translation the TLB dropped and that the host keeps as a
 * mapping of the same frame with no rights (PROT_NONE), so the next
 * mapping of that frame at that address (the usual case: an MDL mapped
 * again by the next request, or by the next input after a restore) is one
 * mprotect instead of two mmap calls. A dormant page refuses every access,
 * exactly as an unmapped one does. This is host state: a restore does not
 * roll it back, and it lives in host memory. */
#ifndef MMI_HOST_DORMANT_H
#define MMI_HOST_DORMANT_H

#include <stdbool.h>

#include "mm/types.h"

/* At most this many pages are dormant at once (each is a host mapping of
 * its own); the oldest gives way to a new one. */
#define MMI_DORMANT_MAX 64u

struct mmi_dormant;

struct mmi_dormant *mmi_dormant_new(void);
void mmi_dormant_free(struct mmi_dormant *d);
unsigned mmi_dormant_count(const struct mmi_dormant *d);
/* page now maps pfn with no rights. Returns a page that stops being
 * dormant to make room (the caller replaces its mapping with an empty
 * one), or 0. */
mm_va mmi_dormant_put(struct mmi_dormant *d, mm_va page, mm_pfn pfn);
/* Are the pages consecutive pages from page all dormant over consecutive
 * frames from pfn? Then they leave the table (the caller gives them their
 * rights back) and true is returned; else nothing changes. */
bool mmi_dormant_take_run(struct mmi_dormant *d, mm_va page, mm_pfn pfn, uint64_t pages);
/* The pages in [page, page + pages pages) are dormant no longer (the
 * caller maps something else there). */
void mmi_dormant_forget(struct mmi_dormant *d, mm_va page, uint64_t pages);

#endif
