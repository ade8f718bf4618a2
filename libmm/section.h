/* libmm/section.h — section objects inside the model: unmapping a view (also
 * at process exit) and teardown. */
#ifndef MMI_SECTION_H
#define MMI_SECTION_H

#include "mm/section.h"

struct mm_process;
struct mmi_vad;

/* Removes the view `vad` of process p; frees a closed section's last view. */
mm_status mmi_section_unmap_view(mm_machine *m, struct mm_process *p, struct mmi_vad *vad);
/* Host memory of every section, at machine teardown. */
void mmi_section_free_all(mm_machine *m);
uint64_t mmi_section_count(const mm_machine *m);
/* Calls visit with the address and contents of every prototype PTE of every
 * section (read from the frame, without an access); stops at a failure. */
mm_status mmi_section_for_each_prototype(mm_machine *m, mm_status (*visit)(void *ctx, mm_va at, uint64_t pte),
                                         void *ctx);
/* May a view (or a page of one) of section s have this protection (MM_*)? */
bool mmi_section_allows(const struct mm_section *s, unsigned protection);
/* The protection a page of view `vad` gets when NtProtectVirtualMemory asks
 * for `protection`: a shared page of a copy-on-write view stays copy on
 * write; a private copy is simply writable. */
unsigned mmi_section_page_protection(const struct mmi_vad *vad, unsigned protection, bool shared);

#endif
