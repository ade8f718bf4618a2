/** \file
 * mm/mdl.h — memory descriptor lists: the x64 MDL layout, its flags and
 * helper macros, and the Probe / Lock / Map / Unmap / Unlock DDIs. An MDL
 * lives in simulated memory (IoAllocateMdl takes it from nonpaged pool);
 * DDIs take its address and mm_mdl_read() returns the header and PFN array
 * exactly as Windows lays them out. */
#ifndef MM_MDL_H
#define MM_MDL_H

#include "mm/status.h"
#include "mm/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** \addtogroup mdl
 *  \{ */

/** The x64 MDL header; the PFN array (8-byte PFN_NUMBERs) follows at 0x30. */
struct mm_mdl {
    uint64_t Next;                      /**< 0x00 next MDL in the chain (its address) */
    int16_t Size;                       /**< 0x08 header + PFN array, in bytes */
    int16_t MdlFlags;                   /**< 0x0A MM_MDL_* */
    uint16_t AllocationProcessorNumber; /**< 0x0C */
    uint16_t Reserved;                  /**< 0x0E */
    uint64_t Process;                   /**< 0x10 EPROCESS of locked user pages, or 0 */
    uint64_t MappedSystemVa;            /**< 0x18 */
    uint64_t StartVa;                   /**< 0x20 page-aligned start of the buffer */
    uint32_t ByteCount;                 /**< 0x28 */
    uint32_t ByteOffset;                /**< 0x2C offset in the first page */
};
#define MM_MDL_HEADER_SIZE 0x30u

#define MM_MDL_MAPPED_TO_SYSTEM_VA 0x0001
#define MM_MDL_PAGES_LOCKED 0x0002
#define MM_MDL_SOURCE_IS_NONPAGED_POOL 0x0004
#define MM_MDL_ALLOCATED_FIXED_SIZE 0x0008
#define MM_MDL_PARTIAL 0x0010
#define MM_MDL_PARTIAL_HAS_BEEN_MAPPED 0x0020
#define MM_MDL_IO_PAGE_READ 0x0040
#define MM_MDL_WRITE_OPERATION 0x0080
#define MM_MDL_PARENT_MAPPED_SYSTEM_VA 0x0100
#define MM_MDL_FREE_EXTRA_PTES 0x0200
#define MM_MDL_DESCRIBES_AWE 0x0400
#define MM_MDL_IO_SPACE 0x0800
#define MM_MDL_NETWORK_HEADER 0x1000
#define MM_MDL_MAPPING_CAN_FAIL 0x2000
#define MM_MDL_PAGE_CONTENTS_INVARIANT 0x4000
#define MM_MDL_INTERNAL 0x8000
#define MM_MDL_MAPPING_FLAGS                                                                        \
    (MM_MDL_MAPPED_TO_SYSTEM_VA | MM_MDL_PAGES_LOCKED | MM_MDL_SOURCE_IS_NONPAGED_POOL |             \
     MM_MDL_PARTIAL_HAS_BEEN_MAPPED | MM_MDL_PARENT_MAPPED_SYSTEM_VA | MM_MDL_IO_SPACE)

/** LOCK_OPERATION */
typedef enum { MM_IO_READ_ACCESS = 0, MM_IO_WRITE_ACCESS = 1, MM_IO_MODIFY_ACCESS = 2 } mm_lock_operation;

/** MEMORY_CACHING_TYPE */
typedef enum {
    MM_NON_CACHED = 0, MM_CACHED = 1, MM_WRITE_COMBINED = 2, MM_HARDWARE_COHERENT_CACHED = 3,
    MM_NON_CACHED_UNORDERED = 4, MM_USWC_CACHED = 5, MM_MAXIMUM_CACHE_TYPE = 6
} mm_cache_type;

/** MM_PAGE_PRIORITY, and the Windows 8 flags ORed into it. */
#define MM_LOW_PAGE_PRIORITY 0u
#define MM_NORMAL_PAGE_PRIORITY 16u
#define MM_HIGH_PAGE_PRIORITY 32u
#define MM_MDL_MAPPING_NO_WRITE 0x80000000u
#define MM_MDL_MAPPING_NO_EXECUTE 0x40000000u

/** Helper macros (§ MmGetMdl*): on an mm_mdl snapshot. */
#define MM_MDL_VIRTUAL_ADDRESS(mdl) ((mdl)->StartVa + (mdl)->ByteOffset)
#define MM_ADDRESS_AND_SIZE_TO_SPAN_PAGES(va, size) ((uint32_t)MM_SPAN_PAGES((va), (size)))
#define MM_MDL_PAGES(mdl) MM_ADDRESS_AND_SIZE_TO_SPAN_PAGES(MM_MDL_VIRTUAL_ADDRESS(mdl), (mdl)->ByteCount)
#define MM_MDL_PFN_ARRAY(mdl_va) ((mm_va)(mdl_va) + MM_MDL_HEADER_SIZE) /**< MmGetMdlPfnArray */

/** MmSizeOfMdl: bytes for the header and PFN array of a buffer. */
MM_API uint64_t mm_size_of_mdl(mm_va base, uint64_t length);

/** The header and up to max_pfns PFN-array entries of the MDL at `mdl`. */
MM_API mm_status mm_mdl_read(mm_machine *m, mm_va mdl, struct mm_mdl *header, mm_pfn *pfns, size_t max_pfns);

/** IoAllocateMdl: returns the MDL's address, or 0. With irp != 0 the MDL is
 * put on the IRP's chain (SecondaryBuffer: appended; else it replaces it). */
MM_API mm_va mm_io_allocate_mdl(mm_machine *m, mm_va va, uint32_t length, bool secondary_buffer,
                                bool charge_quota, mm_va irp);
/** IoFreeMdl: returns an MDL from mm_io_allocate_mdl() to its lookaside
 * list or pool.
 * \windows IoFreeMdl
 * \ownership The caller unlocks and unmaps first; an MDL freed while it
 * holds a system mapping is a finding (leaked-system-mapping), one freed
 * while locked leaves a lock charge (mm_leaked_locks_read()).
 * \errors Under Verifier, 0xC4/0xB8 while its pages are still mapped. */
MM_API mm_status mm_io_free_mdl(mm_machine *m, mm_va mdl);
/** MmInitializeMdl on caller memory (which must hold mm_size_of_mdl bytes). */
MM_API mm_status mm_initialize_mdl(mm_machine *m, mm_va mdl, mm_va base, uint64_t length);
/** MmBuildMdlForNonPagedPool: fills the PFN array of an MDL over nonpaged
 * memory and sets MDL_SOURCE_IS_NONPAGED_POOL.
 * \windows MmBuildMdlForNonPagedPool
 * \errors 0x1A/0x1240 for a range that is not resident; under Verifier
 * 0xC4/0x7F over paged pool and 0xC4/0x140 over pageable memory. */
MM_API mm_status mm_build_mdl_for_nonpaged_pool(mm_machine *m, mm_va mdl);
/** IoBuildPartialMdl: target describes [va, va + length) of source's pages.
 * \windows IoBuildPartialMdl
 * \ownership target is the caller's MDL; it borrows source's lock, so it
 * must be unmapped (mm_prepare_mdl_for_reuse()) before source is unlocked. */
MM_API mm_status mm_io_build_partial_mdl(mm_machine *m, mm_va source, mm_va target, mm_va va, uint32_t length);

/** MmProbeAndLockPages: MM_STATUS_SUCCESS, or the exception Windows raises
 * (STATUS_ACCESS_VIOLATION …), which a WDK-style wrapper would turn back into a raise. */
MM_API mm_status mm_probe_and_lock_pages(mm_machine *m, mm_va mdl, mm_mode mode, mm_lock_operation op);
/** MmProbeAndLockProcessPages: MmProbeAndLockPages in process p's context.
 * \windows MmProbeAndLockProcessPages
 * \errors As mm_probe_and_lock_pages(); 0xC4/0x71 above DISPATCH_LEVEL
 * under Verifier. */
MM_API mm_status mm_probe_and_lock_process_pages(mm_machine *m, mm_va mdl, mm_process *p, mm_mode mode,
                                                 mm_lock_operation op);
/** MmUnlockPages: releases the pages mm_probe_and_lock_pages() locked and
 * any system mapping of the MDL.
 * \windows MmUnlockPages
 * \errors 0x4E/0x07 PFN_LIST_CORRUPT for a page unlocked more than it was
 * locked, 0x76/0x01 for process pages that are not locked; under Verifier
 * 0xC4/0x7C (never locked), 0x7D (nonpaged-pool MDL), 0xB4 (partial),
 * 0x78 (above DISPATCH_LEVEL). */
MM_API mm_status mm_unlock_pages(mm_machine *m, mm_va mdl);

/** MmMapLockedPagesSpecifyCache. Kernel mode: 0 on failure (or 0x3F with
 * bug_check_on_failure). User mode: failures are exceptions, returned in
 * *raised (may be NULL). */
MM_API mm_va mm_map_locked_pages_specify_cache(mm_machine *m, mm_va mdl, mm_mode mode, mm_cache_type cache,
                                               mm_va requested, bool bug_check_on_failure, uint32_t priority,
                                               mm_status *raised);
/** MmMapLockedPages: MmMapLockedPagesSpecifyCache(MmCached, no address,
 * bug check on failure in kernel mode).
 * \windows MmMapLockedPages
 * \errors 0x3F NO_MORE_SYSTEM_PTES when kernel mapping fails; under
 * Verifier 0xC4/0x81 (the routine is obsolete). */
MM_API mm_va mm_map_locked_pages(mm_machine *m, mm_va mdl, mm_mode mode);
/** MmUnmapLockedPages: removes the mapping at base made for mdl (system or
 * user space).
 * \windows MmUnmapLockedPages
 * \errors Under Verifier 0xC4/0xB5 (partial), 0xB6 (not mapped), 0xB9 (bad
 * user address), 0x79/0x7A (IRQL); a user mapping unmapped from another
 * process is a finding (wrong-process-unmap). */
MM_API mm_status mm_unmap_locked_pages(mm_machine *m, mm_va base, mm_va mdl);
/** The MmGetSystemAddressForMdlSafe logic. */
MM_API mm_va mm_get_system_address_for_mdl_safe(mm_machine *m, mm_va mdl, uint32_t priority);
/** MmPrepareMdlForReuse: releases a partial MDL's system mapping so the MDL
 * can be built again.
 * \windows MmPrepareMdlForReuse */
MM_API mm_status mm_prepare_mdl_for_reuse(mm_machine *m, mm_va mdl);

/** MmAllocatePagesForMdlEx flags. */
#define MM_DONT_ZERO_ALLOCATION 0x1u
#define MM_ALLOCATE_FROM_LOCAL_NODE_ONLY 0x2u
#define MM_ALLOCATE_FULLY_REQUIRED 0x4u
#define MM_ALLOCATE_NO_WAIT 0x8u
#define MM_ALLOCATE_PREFER_CONTIGUOUS 0x10u
#define MM_ALLOCATE_REQUIRE_CONTIGUOUS_CHUNKS 0x20u

/** MmAllocatePagesForMdl(Ex): a new MDL (from pool) describing freshly
 * allocated physical pages in [low, high]; possibly fewer than asked (check
 * ByteCount); 0 when none. Free with mm_free_pages_from_mdl, then
 * mm_pool_free on the MDL. */
MM_API mm_va mm_allocate_pages_for_mdl(mm_machine *m, uint64_t low, uint64_t high, uint64_t skip,
                                       uint64_t total_bytes);
/** MmAllocatePagesForMdlEx: mm_allocate_pages_for_mdl() with a cache type
 * and MM_ALLOCATE_* / MM_DONT_ZERO_ALLOCATION flags.
 * \windows MmAllocatePagesForMdlEx */
MM_API mm_va mm_allocate_pages_for_mdl_ex(mm_machine *m, uint64_t low, uint64_t high, uint64_t skip,
                                          uint64_t total_bytes, mm_cache_type cache, uint32_t flags);
/** MmFreePagesFromMdl: frees the physical pages of an MDL from
 * mm_allocate_pages_for_mdl(); the MDL itself is then freed with
 * mm_pool_free().
 * \windows MmFreePagesFromMdl
 * \errors Under Verifier 0xC4/0x7E above DISPATCH_LEVEL. */
MM_API mm_status mm_free_pages_from_mdl(mm_machine *m, mm_va mdl);

/** MmProbeAndLockSelectedPages: `segments` is the address of an array of
 * FILE_SEGMENT_ELEMENTs (8 bytes each), one page-aligned page per page the
 * MDL spans; each is probed and locked into the MDL's PFN array (scatter /
 * gather I/O). Raises what MmProbeAndLockPages raises. */
MM_API mm_status mm_probe_and_lock_selected_pages(mm_machine *m, mm_va mdl, mm_va segments, mm_mode mode,
                                                  mm_lock_operation op);
/** MmAdvanceMdl: moves the start of the described range forward (the end
 * stays); whole pages passed are unlocked at once and a system mapping keeps
 * their PTEs until it is unmapped (MDL_FREE_EXTRA_PTES). Advancing to or
 * past the end is STATUS_INVALID_PARAMETER_2. */
MM_API mm_status mm_advance_mdl(mm_machine *m, mm_va mdl, uint32_t bytes);
/** MmProtectMdlSystemAddress: PAGE_NOACCESS, READONLY, READWRITE, EXECUTE,
 * EXECUTE_READ or EXECUTE_READWRITE on the MDL's system mapping; an MDL not
 * mapped to system space gets STATUS_NOT_MAPPED_VIEW, one whose
 * MappedSystemVa is no system PTE mapping 0x1A/0x1235. */
MM_API mm_status mm_protect_mdl_system_address(mm_machine *m, mm_va mdl, uint32_t new_protect);

/** Reserved mappings: a system range reserved up front (no memory behind
 * it) into which locked MDLs are mapped without any chance of failure. */
MM_API mm_va mm_allocate_mapping_address(mm_machine *m, uint64_t bytes, uint32_t tag);
/** MmFreeMappingAddress: releases a range from mm_allocate_mapping_address(),
 * which must be empty.
 * \windows MmFreeMappingAddress
 * \errors 0xDA/0x101 (wrong tag), 0x102, 0x103 (still mapped). */
MM_API mm_status mm_free_mapping_address(mm_machine *m, mm_va base, uint32_t tag);
/** MmMapLockedPagesWithReservedMapping: maps mdl's pages at the start of
 * the reserved range; 0 on failure.
 * \windows MmMapLockedPagesWithReservedMapping
 * \errors 0xDA/0x104 (not owned), 0x105, 0x107 (range not empty). */
MM_API mm_va mm_map_locked_pages_with_reserved_mapping(mm_machine *m, mm_va base, uint32_t tag, mm_va mdl,
                                                       mm_cache_type cache);
/** MmUnmapReservedMapping: removes mdl's pages from the reserved range.
 * \windows MmUnmapReservedMapping
 * \errors 0xDA/0x108 … 0x10C. */
MM_API mm_status mm_unmap_reserved_mapping(mm_machine *m, mm_va base, uint32_t tag, mm_va mdl);

/** \} */
/** \addtogroup irp
 *  \{ */
/** IRPs, x64 layout: sizeof(IRP) 0xD0 plus 0x48 per IO_STACK_LOCATION;
 * Type (6) at 0x00, Size at 0x02, MdlAddress at 0x08, StackCount 0x42,
 * CurrentLocation 0x43, AllocationFlags 0x47. */
#define MM_IRP_HEADER_SIZE 0xD0u
#define MM_IO_STACK_LOCATION_SIZE 0x48u
#define MM_IO_SIZE_OF_IRP(stack_size) (MM_IRP_HEADER_SIZE + (unsigned)(stack_size) * MM_IO_STACK_LOCATION_SIZE)
#define MM_IRP_SIZE MM_IO_SIZE_OF_IRP(1)
#define MM_IRP_MDL_ADDRESS 0x08u
#define MM_IO_TYPE_IRP 6
#define MM_IRP_QUOTA_CHARGED 0x01u
#define MM_IRP_ALLOCATED_MUST_SUCCEED 0x02u
#define MM_IRP_ALLOCATED_FIXED_SIZE 0x04u
#define MM_IRP_LOOKASIDE_ALLOCATION 0x08u
/** IoAllocateIrp(StackSize 1..127, ChargeQuota): up to 8 stack locations
 * without quota come as fixed-size lookaside packets; 0 on failure. */
MM_API mm_va mm_io_allocate_irp_ex(mm_machine *m, int stack_size, bool charge_quota);
MM_API mm_va mm_io_allocate_irp(mm_machine *m); /**< IoAllocateIrp(1, FALSE) */
/** IoInitializeIrp on driver memory of packet_size >= MM_IO_SIZE_OF_IRP. */
MM_API mm_status mm_io_initialize_irp(mm_machine *m, mm_va irp, uint16_t packet_size, int stack_size);
/** IoFreeIrp: the MDL chain is NOT freed (the driver must unlock and free
 * it first). Freeing a packet twice is 0x44, or 0xC9/0x01 under I/O
 * Verification; a driver-initialized packet goes to ExFreePool. */
MM_API mm_status mm_io_free_irp(mm_machine *m, mm_va irp);
/** IofCompleteRequest for an I/O-manager IRP: MmUnlockPages and IoFreeMdl on
 * every MDL of the Irp->MdlAddress chain, then the IRP is freed; completing
 * it again is 0x44. */
MM_API mm_status mm_io_complete_request(mm_machine *m, mm_va irp);

/** \} */
/** \addtogroup image
 *  \{ */
/** Pageable driver sections: MmLockPagableCodeSection / DataSection (any
 * address inside a PAGE* section) returns a handle; each lock brings the
 * whole section in and keeps it resident until the matching unlock. */
MM_API mm_va mm_lock_pagable_section(mm_machine *m, mm_va address);
/** MmUnlockPagableImageSection: undoes one mm_lock_pagable_section().
 * \windows MmUnlockPagableImageSection */
MM_API mm_status mm_unlock_pagable_image_section(mm_machine *m, mm_va handle);

/** \} */
/** \addtogroup mdl
 *  \{ */
/** A bus-master device reading or writing the pages an MDL lists, as its
 * scatter/gather list would carry them: physical frames, no MMU, no locks
 * checked. to_memory = true is a device write. A frame that is no longer
 * held for the MDL is still written (that is the corruption), and reported
 * as a stale-dma finding. */
MM_API mm_status mm_dma_transfer(mm_machine *m, mm_va mdl, uint64_t offset, void *buffer, size_t length,
                                 bool to_memory);

/** \} */
/** \addtogroup verifier
 *  \{ */
/** What the simulator sees that Windows does not check. */
typedef enum {
    MM_FINDING_STALE_USER_MAPPING = 1, /**< pages unlocked while a user mapping of them remains */
    MM_FINDING_STALE_MAPPING_ACCESS,   /**< that mapping touched a frame no longer locked for it */
    MM_FINDING_WRONG_PROCESS_UNMAP,    /**< a user mapping unmapped from another process's context */
    MM_FINDING_LEAKED_SYSTEM_MAPPING,  /**< an MDL freed or reused while it held system PTEs */
    MM_FINDING_STALE_DMA,              /**< a device reached a frame no longer held for the MDL, or one
                                        * that describes no pages */
    MM_FINDING_FOREIGN_UNMAP,          /**< MmUnmapLockedPages released another MDL's system mapping */
    MM_FINDING_DOUBLE_FETCH            /**< host code read the same user address twice in one request
                                        * (mm_machine_watch_user_reads) */
} mm_finding_kind;
#define MM_FINDING_KIND_COUNT 7

struct mm_finding {
    uint32_t kind;              /**< mm_finding_kind */
    uint32_t process_id;        /**< the process that acted */
    uint32_t other_process_id;  /**< the process whose page or range was hurt (0: none) */
    uint32_t reserved;
    uint64_t step;
    mm_va mdl, va;
    mm_pfn pfn;
    char text[224];
};

/** What the model knows of one MDL it has seen (!lockedpages, pictures). */
struct mm_mdl_info {
    mm_va mdl;
    uint32_t id;              /**< the order the model first saw it: "mdl 3" */
    uint32_t lock_process;    /**< process charged for the lock; 0: none */
    bool locked;              /**< probe-and-lock succeeded, no unlock since */
    bool pool_allocated;      /**< IoAllocateMdl or MmAllocatePagesForMdl made it */
    bool pages_allocated;     /**< MmAllocatePagesForMdl gave it its pages */
    uint64_t lock_pages, lock_step;
    mm_va tracker;            /**< lock tracker (TrackLockedPages), or 0 */
    mm_va system_va;          /**< system mapping held, or 0 */
    uint64_t system_pages;
};
/** Copies up to max records (in the order first seen); returns how many exist. */
MM_API size_t mm_mdls_read(const mm_machine *m, struct mm_mdl_info *out, size_t max);

/* A locked MDL that was freed without an unlock: its pages stay charged to
 * the process (the 0x76 / 0xCB culprit at exit). */
/** A lock charge no locked MDL explains any more: an MDL freed or rebuilt
 * while locked, locked twice and unlocked once, or unlocked through a header
 * that names another process. Negative pages: that process was uncharged for
 * pages it never locked through this MDL. Process exit reports what remains. */
struct mm_leaked_lock {
    uint32_t process_id;
    mm_va tracker, mdl;
    int64_t pages;
};
/** Copies up to max leaked lock charges; returns how many exist. */
MM_API size_t mm_leaked_locks_read(const mm_machine *m, struct mm_leaked_lock *out, size_t max);

MM_API const char *mm_finding_name(uint32_t kind); /**< "stale-user-mapping" … */
/** Copies up to max findings, oldest first; returns how many were copied. */
MM_API size_t mm_findings_read(const mm_machine *m, struct mm_finding *out, size_t max);
/** Findings recorded so far. */
MM_API size_t mm_findings_count(const mm_machine *m);

/** \} */

#ifdef __cplusplus
}
#endif
#endif
