/** \file
 * mm/section.h — page-file-backed section objects and their views: memory
 * shared between processes (NtCreateSection / NtMapViewOfSection /
 * NtUnmapViewOfSection / NtClose). A view mapped PAGE_WRITECOPY shares the
 * section's frames until the process writes: the write gives it a private
 * copy (copy on write). */
#ifndef MM_SECTION_H
#define MM_SECTION_H

#include "mm/status.h"
#include "mm/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** \addtogroup section
 *  \{ */

/** SECTION_BASIC_INFORMATION, as NtQuerySection returns it, and more. */
struct mm_section_basic_info {
    uint64_t pages;
    uint32_t protect;      /**< the section's page protection (MM_PAGE_*) */
    uint32_t views;        /**< views mapped now */
    mm_va prototype_ptes;  /**< the prototype PTE array, in nonpaged pool */
    bool closed;           /**< closed, kept alive by its views */
};

/** Creates a committed section of `size` bytes (rounded up to pages) with
 * MM_PAGE_READONLY, MM_PAGE_READWRITE, MM_PAGE_EXECUTE_READ or
 * MM_PAGE_EXECUTE_READWRITE; charges its pages to the commit limit. */
MM_API mm_status mm_section_create(mm_machine *m, uint64_t size, uint32_t protect, mm_section **out);
/** Closes the handle; the section lives until its last view is unmapped. */
MM_API mm_status mm_section_close(mm_machine *m, mm_section *section);
/** NtQuerySection (SectionBasicInformation) and more.
 * \windows NtQuerySection
 * \errors MM_STATUS_INVALID_HANDLE for a section that no longer exists. */
MM_API mm_status mm_section_query(mm_machine *m, mm_section *section, struct mm_section_basic_info *out);
/** Maps the whole section into `process` (NULL: the current one) at *base, or
 * at an address the model picks when *base is 0. A writable view of a
 * read-only section fails with MM_STATUS_SECTION_PROTECTION. */
MM_API mm_status mm_map_view_of_section(mm_machine *m, mm_section *section, mm_process *process, mm_va *base,
                                        uint32_t protect);
/** NtUnmapViewOfSection: removes the view at base from process (NULL: the
 * current one); the section goes when its last view does and it is closed.
 * \windows NtUnmapViewOfSection
 * \errors MM_STATUS_NOT_MAPPED_VIEW when no view starts at base. */
MM_API mm_status mm_unmap_view_of_section(mm_machine *m, mm_process *process, mm_va base);

/** \} */

#ifdef __cplusplus
}
#endif
#endif
