/** \file
 * mm/physical.h — physical memory: I/O-space mappings (MmMapIoSpace),
 * non-cached and physically contiguous allocations. Physical addresses at or
 * above the machine's RAM size (mm_memory_counts.physical_pages pages) are
 * device memory: reads through a mapping return all ones, writes are
 * dropped. */
#ifndef MM_PHYSICAL_H
#define MM_PHYSICAL_H

#include "mm/mdl.h"
#include "mm/status.h"
#include "mm/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** \addtogroup physical
 *  \{ */

/** MmMapIoSpace: maps `bytes` from `physical_address` into system PTEs and
 * returns the address of physical_address itself (its byte offset kept), or
 * 0 when the cache type is invalid, bytes is 0, the range holds a page table
 * of system space, or no system PTEs are left. RAM must be locked (Verifier:
 * 0xC4/0x83). The mapping is executable, as Windows' legacy routine. */
MM_API mm_va mm_map_io_space(mm_machine *m, uint64_t physical_address, uint64_t bytes, mm_cache_type cache);
/** MmMapIoSpaceEx (Windows 10): `protect` is one of MM_PAGE_READONLY,
 * READWRITE, EXECUTE, EXECUTE_READ, EXECUTE_READWRITE, optionally ORed with
 * MM_PAGE_NOCACHE or MM_PAGE_WRITECOMBINE (neither: cached); else 0. */
MM_API mm_va mm_map_io_space_ex(mm_machine *m, uint64_t physical_address, uint64_t bytes, uint32_t protect);
/** MmUnmapIoSpace: base and bytes as mapped. A range that is no I/O mapping
 * raises 0xDA/0x400, a wrong size 0xDA/0x305. */
MM_API mm_status mm_unmap_io_space(mm_machine *m, mm_va base, uint64_t bytes);

/** MmAllocateNonCachedMemory: whole pages of fresh RAM (not contiguous, not
 * zeroed) mapped non-cached in system PTEs; 0 on failure. IRQL <= APC. */
MM_API mm_va mm_allocate_non_cached_memory(mm_machine *m, uint64_t bytes);
/** MmFreeNonCachedMemory: base and bytes as allocated. */
MM_API mm_status mm_free_non_cached_memory(mm_machine *m, mm_va base, uint64_t bytes);

/** MmAllocateContiguousMemory(SpecifyCache): physically contiguous RAM within
 * [lowest, highest] not crossing a multiple of `boundary` (a power of two,
 * page aligned; 0 = none), mapped in system PTEs (executable, contents not
 * initialised); 0 when it cannot be had. */
MM_API mm_va mm_allocate_contiguous_memory(mm_machine *m, uint64_t bytes, uint64_t highest);
/** MmAllocateContiguousMemorySpecifyCache: see mm_allocate_contiguous_memory().
 * \windows MmAllocateContiguousMemorySpecifyCache */
MM_API mm_va mm_allocate_contiguous_memory_specify_cache(mm_machine *m, uint64_t bytes, uint64_t lowest,
                                                         uint64_t highest, uint64_t boundary, mm_cache_type cache);
/** MmFreeContiguousMemory: base must be the address the allocation returned
 * (else 0xC2/0x60). The SpecifyCache form ignores bytes and cache, as
 * Windows does. */
MM_API mm_status mm_free_contiguous_memory(mm_machine *m, mm_va base);
/** MmFreeContiguousMemorySpecifyCache (bytes and cache are ignored).
 * \windows MmFreeContiguousMemorySpecifyCache */
MM_API mm_status mm_free_contiguous_memory_specify_cache(mm_machine *m, mm_va base, uint64_t bytes,
                                                        mm_cache_type cache);

/** \} */

#ifdef __cplusplus
}
#endif
#endif
