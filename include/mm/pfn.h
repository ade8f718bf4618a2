/** \file
 * mm/pfn.h — read-only views of the PFN database: one page frame's entry and
 * the page-list counts (the data behind !pfn and !memusage). */
#ifndef MM_PFN_H
#define MM_PFN_H

#include "mm/status.h"
#include "mm/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** \addtogroup pfn
 *  \{ */

/** MMLISTS: where a page frame is. */
typedef enum {
    MM_ZEROED_PAGE_LIST = 0,
    MM_FREE_PAGE_LIST = 1,
    MM_STANDBY_PAGE_LIST = 2,
    MM_MODIFIED_PAGE_LIST = 3,
    MM_MODIFIED_NO_WRITE_PAGE_LIST = 4,
    MM_BAD_PAGE_LIST = 5,
    MM_ACTIVE_AND_VALID = 6,
    MM_TRANSITION_PAGE = 7
} mm_page_location;

/** MI_PFN_CACHE_ATTRIBUTE */
typedef enum { MM_PFN_NON_CACHED = 0, MM_PFN_CACHED = 1, MM_PFN_WRITE_COMBINED = 2, MM_PFN_NOT_MAPPED = 3 } mm_pfn_cache;

/** What the page frame is used for (the model knows; NT keeps it implicit). */
typedef enum {
    MM_USE_NONE = 0, MM_USE_PRIVATE, MM_USE_PAGE_TABLE, MM_USE_NONPAGED_POOL, MM_USE_PAGED_POOL,
    MM_USE_IMAGE, MM_USE_MDL_PAGES, MM_USE_SYSTEM, MM_USE_SECTION, MM_USE_KERNEL_STACK, MM_USE_CONTIGUOUS
} mm_page_use;

struct mm_pfn_info {
    mm_pfn pfn;
    uint32_t share_count;
    uint16_t reference_count;
    uint8_t location;          /**< mm_page_location */
    uint8_t cache_attribute;   /**< mm_pfn_cache */
    bool modified;
    bool deleted;              /**< returns to the free list on its last reference */
    bool lock_charged;
    bool stored;               /**< contents held by the store (else all zero) */
    uint8_t use;               /**< mm_page_use */
    mm_va pte_address;         /**< self-map address of the PTE that maps it */
    mm_pfn pte_frame;          /**< page-table page holding that PTE */
    uint64_t original_pte;
    mm_va mapped_va;           /**< the address that PTE maps */
    uint32_t owner_process_id; /**< address space of that PTE (4 = system) */
    mm_va entry_address;       /**< where WinDbg would show the MMPFN */
    /** On a page list: the next and previous frames (MM_PFN_NONE at an end,
     * and for frames never taken yet, which the list holds implicitly).
     * Active: flink is the page's place in its working set, counted from 1
     * (0: in none), as !pfn's flink shows WsIndex; blink 0. */
    mm_pfn flink, blink;
};

struct mm_memory_counts {
    uint64_t physical_pages;
    uint64_t list_pages[8];          /**< by mm_page_location */
    uint64_t available_pages;        /**< zeroed + free + standby */
    uint64_t commit_charge, commit_limit;
    uint64_t system_locked_pages;    /**< distinct locked pages (MmSystemLockPagesCount) */
    uint64_t pagefile_used, pagefile_total;
    uint64_t nonpaged_pool_pages, paged_pool_pages;
    uint64_t system_ptes_used, system_ptes_total; /**< the system PTE pool */
};

/** A snapshot of page frame pfn's PFN entry (!pfn).
 * \ownership out is the caller's.
 * \errors MM_STATUS_INVALID_PARAMETER for a frame past the machine's RAM. */
MM_API mm_status mm_pfn_query(mm_machine *m, mm_pfn pfn, struct mm_pfn_info *out);
/** The page-list and commit counts of the machine (!memusage, !vm).
 * \ownership out is the caller's. */
MM_API mm_status mm_memory_query(mm_machine *m, struct mm_memory_counts *out);
/** "ZeroedPageList", "StandbyPageList" … as !pfn names an mm_page_location;
 * a static string. */
MM_API const char *mm_page_location_name(unsigned location);

/** \} */

#ifdef __cplusplus
}
#endif
#endif
