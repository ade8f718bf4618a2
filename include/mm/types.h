/** \file
 * mm/types.h — basic types and the x64 address-space constants of mmsim.
 * Addresses are NT-shaped 64-bit values (mm_va); the model never dereferences
 * them. Values follow the Windows 8.1 / 10 (pre-randomisation) x64 layout. */
#ifndef MM_TYPES_H
#define MM_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** \addtogroup types
 *  \{ */

#if defined(MMSIM_BUILDING) && defined(__GNUC__)
#define MM_API __attribute__((visibility("default")))
#else
#define MM_API
#endif

typedef uint64_t mm_va;      /**< a simulated virtual address */
typedef uint64_t mm_pfn;     /**< a page frame number (PFN_NUMBER) */
typedef int32_t mm_status;   /**< an NTSTATUS value, see mm/status.h */

typedef struct mm_machine mm_machine;
typedef struct mm_process mm_process;
typedef struct mm_image mm_image;
typedef struct mm_section mm_section;

#define MM_PAGE_SIZE 0x1000u
#define MM_PAGE_SHIFT 12
#define MM_PFN_NONE UINT64_C(0xFFFFFFFFFFFFFFFF) /**< LIST_HEAD sentinel */

#define MM_PAGE_ALIGN(va) ((mm_va)(va) & ~(mm_va)(MM_PAGE_SIZE - 1))
#define MM_BYTE_OFFSET(va) ((uint32_t)((mm_va)(va) & (MM_PAGE_SIZE - 1)))
#define MM_SPAN_PAGES(va, size) \
    ((uint64_t)((((mm_va)(va) & (MM_PAGE_SIZE - 1)) + (uint64_t)(size) + MM_PAGE_SIZE - 1) >> MM_PAGE_SHIFT))

/** User space: 128 TiB, with the 64 KiB no-access gap below its top. */
#define MM_LOWEST_USER_ADDRESS UINT64_C(0x0000000000010000)
#ifndef MMSIM_WDK_WDM_H /* the WDK headers' names win (include/wdk/wdm.h) */
#define MM_HIGHEST_USER_ADDRESS UINT64_C(0x00007FFFFFFEFFFF)
#define MM_USER_PROBE_ADDRESS UINT64_C(0x00007FFFFFFF0000)
#endif
/** The highest address a VAD may cover: the last 64 KiB below
 * MM_HIGHEST_USER_ADDRESS are never mapped. */
#define MM_HIGHEST_VAD_ADDRESS (MM_HIGHEST_USER_ADDRESS - 0x10000)
#ifndef MMSIM_WDK_WDM_H
#define MM_SYSTEM_RANGE_START UINT64_C(0xFFFF800000000000)
#endif
#define MM_ALLOCATION_GRANULARITY 0x10000u

/** System regions (fixed, so runs are reproducible). */
#define MM_PTE_BASE UINT64_C(0xFFFFF68000000000)        /**< page-table self-map */
#define MM_PDE_BASE UINT64_C(0xFFFFF6FB40000000)
#define MM_PPE_BASE UINT64_C(0xFFFFF6FB7DA00000)
#define MM_PXE_BASE UINT64_C(0xFFFFF6FB7DBED000)
#define MM_PXE_SELFMAP_INDEX 0x1EDu
#define MM_DRIVER_IMAGE_START UINT64_C(0xFFFFF80004000000) /**< loader mappings */
#define MM_SYSTEM_PTE_START UINT64_C(0xFFFFF88000000000)
#define MM_PAGED_POOL_START UINT64_C(0xFFFFF8A000000000)
#define MM_PFN_DATABASE UINT64_C(0xFFFFFA8000000000)      /**< nonpaged pool follows */

/** IRQLs (x64). */
typedef uint8_t mm_irql;
#define MM_PASSIVE_LEVEL 0
#define MM_APC_LEVEL 1
#define MM_DISPATCH_LEVEL 2
#define MM_CLOCK_LEVEL 13
#define MM_HIGH_LEVEL 15

/** KPROCESSOR_MODE */
typedef enum { MM_KERNEL_MODE = 0, MM_USER_MODE = 1 } mm_mode;

/** Access kinds, as the CPU reports them. */
typedef enum { MM_ACCESS_READ = 0, MM_ACCESS_WRITE = 1, MM_ACCESS_EXECUTE = 2 } mm_access;

/** \} */

#ifdef __cplusplus
}
#endif
#endif
