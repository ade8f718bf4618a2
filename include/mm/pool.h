/** \file
 * mm/pool.h — nonpaged and paged pool (ExAllocatePoolWithTag /
 * ExFreePoolWithTag), page-backed, with the pool bug checks for bad frees. */
#ifndef MM_POOL_H
#define MM_POOL_H

#include "mm/status.h"
#include "mm/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** \addtogroup pool
 *  \{ */

typedef enum { MM_NONPAGED_POOL = 0, MM_PAGED_POOL = 1 } mm_pool_type; /**< POOL_TYPE */

#define MM_POOL_TAG(a, b, c, d) \
    ((uint32_t)(uint8_t)(a) | ((uint32_t)(uint8_t)(b) << 8) | ((uint32_t)(uint8_t)(c) << 16) | \
     ((uint32_t)(uint8_t)(d) << 24))
#define MM_POOL_HEADER_SIZE 0x10u

/** Returns the block address, or 0 when pool cannot be had (as Windows
 * returns NULL). Misuse raises the pool bug checks. */
MM_API mm_va mm_pool_allocate(mm_machine *m, mm_pool_type type, uint64_t bytes, uint32_t tag);
/** ExFreePoolWithTag; tag 0 means ExFreePool (no tag check). */
MM_API mm_status mm_pool_free(mm_machine *m, mm_va block, uint32_t tag);

/** How a block sits in pool (docs/model.md, "Pool"). */
typedef enum {
    MM_POOL_PACKED = 0,   /**< after a POOL_HEADER, sharing its page with other blocks */
    MM_POOL_OWN_PAGE = 1, /**< after a POOL_HEADER, alone in its page (the memory manager's own objects) */
    MM_POOL_LARGE = 2,    /**< page aligned, whole pages of its own */
    MM_POOL_SPECIAL = 3,  /**< Verifier's Special Pool: ends its page; the next page is inaccessible */
} mm_pool_layout;

struct mm_pool_block_info {
    mm_va block;
    mm_pool_type type;
    uint64_t bytes;
    uint32_t tag;
    uint64_t pages;
    uint32_t layout;      /**< mm_pool_layout */
};
/** What the pool header of the block at block says (!pool).
 * \errors MM_STATUS_NOT_FOUND when block is no allocated pool block. */
MM_API mm_status mm_pool_query(mm_machine *m, mm_va block, struct mm_pool_block_info *out);

struct mm_pool_usage {
    uint64_t allocations, bytes, pages;
};
/** Allocations, bytes and pages in use in one pool type (!poolused). */
MM_API mm_status mm_pool_usage(mm_machine *m, mm_pool_type type, struct mm_pool_usage *out);

/** \} */

#ifdef __cplusplus
}
#endif
#endif
