/** \file
 * mm/bugcheck.h — the simulated bug checks: one table of codes and one of
 * sub-codes (keyed by P1), each with the meaning of every parameter, and the
 * record delivered to the machine's bug-check hook. */
#ifndef MM_BUGCHECK_H
#define MM_BUGCHECK_H

#include "mm/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** \addtogroup bugcheck
 *  \{ */

/** X(code, NAME, p1, p2, p3, p4) — parameter meanings when P1 is not a
 * sub-code; codes whose P1 selects a row of MM_BUGCHECK_SUBCODE_MAP say so. */
#define MM_BUGCHECK_MAP(X) \
    X(0x05, INVALID_PROCESS_ATTACH_ATTEMPT, "process being attached", "current process", "the thread's APC state index", "non-zero: a DPC is running") \
    X(0x06, INVALID_PROCESS_DETACH_ATTEMPT, "process named by the APC state", "current process", "IRQL", "0") \
    X(0x09, IRQL_NOT_GREATER_OR_EQUAL, "current IRQL", "requested IRQL", "0", "0") \
    X(0x0A, IRQL_NOT_LESS_OR_EQUAL, "memory referenced", "IRQL", "bit 0: write, bit 3: execute", "instruction address") \
    X(0x19, BAD_POOL_HEADER, "sub-code", "see sub-code", "see sub-code", "see sub-code") \
    X(0x1A, MEMORY_MANAGEMENT, "sub-code", "see sub-code", "see sub-code", "see sub-code") \
    X(0x1E, KMODE_EXCEPTION_NOT_HANDLED, "exception code", "address of the exception", "parameter 0 (access violation: 0 read, 1 write)", "parameter 1 (access violation: address referenced)") \
    X(0x3B, SYSTEM_SERVICE_EXCEPTION, "exception code", "address of the exception", "context record (0: not kept)", "0") \
    X(0x3F, NO_MORE_SYSTEM_PTES, "0: system PTEs, 1: nonpaged expansion", "size of the request", "free system PTEs", "total system PTEs") \
    X(0x41, MUST_SUCCEED_POOL_EMPTY, "request size", "nonpaged pages used", "requests larger than a page", "available pages") \
    X(0x4E, PFN_LIST_CORRUPT, "sub-code", "see sub-code", "see sub-code", "see sub-code") \
    X(0x50, PAGE_FAULT_IN_NONPAGED_AREA, "address referenced", "page-fault error code: 0 read, 0x2 write, 0x10 execute", "instruction address", "fault type (0 freed PTE, 1 no-access PTE, 2 page table not present, 4 not canonical)") \
    X(0x35, NO_MORE_IRP_STACK_LOCATIONS, "IRP", "reserved", "reserved", "reserved") \
    X(0x44, MULTIPLE_IRP_COMPLETE_REQUESTS, "IRP", "reserved", "reserved", "reserved") \
    X(0x76, PROCESS_HAS_LOCKED_PAGES, "sub-code", "see sub-code", "see sub-code", "see sub-code") \
    X(0x7E, SYSTEM_THREAD_EXCEPTION_NOT_HANDLED, "exception code", "address of the exception", "exception record (0: not kept)", "context record (0: not kept)") \
    X(0x7F, UNEXPECTED_KERNEL_MODE_TRAP, "trap number (8: double fault)", "reserved", "reserved", "reserved") \
    X(0xBE, ATTEMPTED_WRITE_TO_READONLY_MEMORY, "address written", "PTE contents", "reserved", "reserved") \
    X(0xC1, SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION, "address freed", "changed byte (0x23, 0x24)", "reserved", "sub-code") \
    X(0xC2, BAD_POOL_CALLER, "sub-code", "see sub-code", "see sub-code", "see sub-code") \
    X(0xC4, DRIVER_VERIFIER_DETECTED_VIOLATION, "sub-code", "see sub-code", "see sub-code", "see sub-code") \
    X(0xCB, DRIVER_LEFT_LOCKED_PAGES_IN_PROCESS, "lock tracking structure", "0 (reserved)", "MDL with the locked pages", "number of locked pages") \
    X(0xCC, PAGE_FAULT_IN_FREED_SPECIAL_POOL, "address referenced", "0 read, 1 write", "instruction address", "reserved") \
    X(0xCD, PAGE_FAULT_BEYOND_END_OF_ALLOCATION, "address referenced", "0 read, 1 write", "instruction address", "reserved") \
    X(0xCE, DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS, "address referenced", "0 read, 1 write", "instruction address", "reserved") \
    X(0xD1, DRIVER_IRQL_NOT_LESS_OR_EQUAL, "memory referenced", "IRQL", "0 read, 1 write, 8 execute", "driver instruction address") \
    X(0xD5, DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL, "address referenced", "0 read, 1 write", "instruction address", "reserved") \
    X(0xD6, DRIVER_PAGE_FAULT_BEYOND_END_OF_ALLOCATION, "address referenced", "0 read, 1 write", "instruction address", "reserved") \
    X(0xE2, MANUALLY_INITIATED_CRASH, "0", "0", "0", "0") \
    X(0xD8, DRIVER_USED_EXCESSIVE_PTES, "driver name or 0", "PTEs used by the driver", "free system PTEs", "total system PTEs") \
    X(0xC9, DRIVER_VERIFIER_IOMANAGER_VIOLATION, "sub-code", "see sub-code", "see sub-code", "see sub-code") \
    X(0xD9, LOCKED_PAGES_TRACKER_CORRUPTION, "sub-code", "see sub-code", "see sub-code", "see sub-code") \
    X(0xDA, SYSTEM_PTE_MISUSE, "sub-code", "see sub-code", "see sub-code", "see sub-code") \
    X(0xFC, ATTEMPTED_EXECUTE_OF_NOEXECUTE_MEMORY, "address executed", "PTE contents", "reserved", "reserved") \
    X(0x133, DPC_WATCHDOG_VIOLATION, "0: one DPC or ISR too long, 1: too long at DISPATCH_LEVEL or above", "watchdog period (ticks)", "triage block (0: none)", "reserved")

/** X(code, sub-code, p2, p3, p4, meaning) */
#define MM_BUGCHECK_SUBCODE_MAP(X) \
    X(0x19, 0x02, "pool entry", "size", "0", "special pool pattern check failed") \
    X(0x19, 0x03, "pool entry", "read-back flink", "read-back blink", "pool free list is corrupt") \
    X(0x19, 0x20, "pool entry", "next entry", "reserved", "pool block size is corrupt") \
    X(0x19, 0x21, "pointer being freed", "bytes", "corrupted value", "data after the block is corrupt (overrun)") \
    X(0x19, 0x22, "address", "reserved", "reserved", "no tracking entry: double free or never allocated") \
    X(0x1A, 0x1000, "reserved", "reserved", "reserved", "a fully cached page was mapped non-cached with bug-check-on-failure") \
    X(0x1A, 0x1010, "section handle", "reserved", "reserved", "a pageable section was unlocked more times than it was locked") \
    X(0x1A, 0x1233, "PFN", "reserved", "reserved", "a driver tried to map a physical page that was not locked") \
    X(0x1A, 0x1234, "address", "reserved", "reserved", "a driver tried to lock a pageable section that does not exist") \
    X(0x1A, 0x1235, "MDL", "MappedSystemVa", "PTE address", "a driver tried to protect an MDL with an invalid mapping") \
    X(0x1A, 0x1236, "MDL", "address of the bad PFN entry", "PFN value", "the MDL contains an unlocked or invalid physical page") \
    X(0x1A, 0x1240, "MDL", "PTE address", "reserved", "an MDL was built for a virtual range that is not resident") \
    X(0x1A, 0x1241, "MDL", "PTE address", "reserved", "the MDL's range was unmapped while the MDL was being built") \
    X(0x1A, 0x3300, "faulting address", "PTE", "address-space type", "write to a page wrongly marked copy-on-write") \
    X(0x1A, 0x3451, "reserved", "reserved", "reserved", "PTEs of a swapped-out kernel stack are corrupt") \
    X(0x1A, 0x3453, "reserved", "reserved", "reserved", "page-table pages of an exited process could not all be deleted") \
    X(0x1A, 0x41284, "reserved", "reserved", "reserved", "a PTE or the working-set list is corrupt") \
    X(0x1A, 0x41287, "address", "reserved", "reserved", "an illegal page fault while holding working-set synchronisation") \
    X(0x1A, 0x41790, "PFN entry address", "reserved", "reserved", "a page-table page is corrupt") \
    X(0x1A, 0x41792, "PTE address", "low half", "high half", "a PTE is corrupt") \
    X(0x1A, 0x61940, "PTE address", "page-table PTE contents", "address", "a PDE was unexpectedly invalidated") \
    X(0x1A, 0x61941, "faulting address", "reserved", "reserved", "the paging hierarchy is corrupt") \
    X(0x1A, 0x61946, "reserved", "reserved", "reserved", "a flawed MDL is being created") \
    X(0x1A, 0x61948, "base I/O frame", "page count", "frame", "I/O-space reference decrement: the range was never locked or is already unlocked") \
    X(0x1A, 0x6194A, "range start", "range pages", "page", "an I/O-space page that is not referenced was dereferenced at unmap") \
    X(0x4E, 0x01, "list head", "available pages", "0", "a page list head is corrupt") \
    X(0x4E, 0x02, "list entry being removed", "highest physical page", "reference count", "a page list entry is corrupt") \
    X(0x4E, 0x06, "PFN", "prototype PTE", "PTE contents", "a hardware or prototype PTE is corrupt") \
    X(0x4E, 0x07, "PFN", "current share count", "0", "a driver unlocked a page more times than it locked it") \
    X(0x4E, 0x8D, "PFN", "0", "0", "the page-free list is corrupt") \
    X(0x4E, 0x8F, "new page number", "old page number", "0", "a free or zeroed page list head is corrupt") \
    X(0x4E, 0x99, "PFN", "current page state", "0", "a PTE or PFN is corrupt") \
    X(0x4E, 0x9A, "PFN", "current page state", "reference count", "a driver tried to free a page that is still locked for I/O") \
    X(0x76, 0x00, "process", "number of locked pages", "driver stacks or 0", "the process being terminated still has locked pages") \
    X(0x76, 0x01, "MDL", "locked pages in the process", "driver stacks or 0", "a driver unlocked process pages that are not locked") \
    X(0xC2, 0x00, "0", "pool type", "tag", "zero-byte pool request") \
    X(0xC2, 0x07, "0", "pool header contents", "block address", "pool block freed twice") \
    X(0xC2, 0x08, "IRQL", "pool type", "size", "pool allocated at an invalid IRQL") \
    X(0xC2, 0x09, "IRQL", "pool type", "address", "pool freed at an invalid IRQL") \
    X(0xC2, 0x0A, "address", "allocator's tag", "tag used to free", "pool freed with the wrong tag") \
    X(0xC2, 0x40, "start address", "system range start", "0", "a user-mode address freed as kernel pool") \
    X(0xC2, 0x42, "address", "0", "0", "an address that was never in any pool was freed") \
    X(0xC2, 0x44, "start address", "0", "0", "a non-allocated nonpaged-pool address was freed") \
    X(0xC2, 0x48, "start address", "0", "0", "a non-allocated paged-pool address was freed") \
    X(0xC2, 0x50, "start address", "offset in pages from the start of paged pool", "paged pool size in bytes", "a non-allocated paged-pool address was freed") \
    X(0xC2, 0x60, "address", "0", "0", "MmFreeContiguousMemory of an address that does not start a contiguous allocation") \
    X(0xC2, 0x99, "address", "0", "0", "an invalid address was freed, or the header is corrupt") \
    X(0xC2, 0x9A, "pool type", "bytes", "tag", "must-succeed pool was requested") \
    X(0xC2, 0x9B, "pool type", "bytes", "caller", "pool was requested with tag 0") \
    X(0xC2, 0x9C, "pool type", "bytes", "caller", "pool was requested with tag \"BIG\"") \
    X(0xC4, 0x00, "IRQL", "pool type", "bytes", "zero-byte pool allocation") \
    X(0xC4, 0x01, "IRQL", "pool type", "size", "paged pool allocated above APC_LEVEL") \
    X(0xC4, 0x02, "IRQL", "pool type", "size", "nonpaged pool allocated above DISPATCH_LEVEL") \
    X(0xC4, 0x10, "address", "0", "0", "free of an address not returned by an allocation") \
    X(0xC4, 0x11, "IRQL", "pool type", "address", "paged pool freed above APC_LEVEL") \
    X(0xC4, 0x12, "IRQL", "pool type", "address", "nonpaged pool freed above DISPATCH_LEVEL") \
    X(0xC4, 0x13, "reserved", "pool header pointer", "pool header contents", "pool freed twice") \
    X(0xC4, 0x14, "reserved", "pool header pointer", "pool header contents", "pool freed twice") \
    X(0xC4, 0x30, "IRQL", "requested IRQL", "0", "KeRaiseIrql to a lower IRQL (or above HIGH_LEVEL)") \
    X(0xC4, 0x31, "IRQL", "requested IRQL", "0: bad new IRQL, 1: invalid in a DPC", "KeLowerIrql to a higher IRQL (or above HIGH_LEVEL)") \
    X(0xC4, 0x60, "bytes from paged pool", "bytes from nonpaged pool", "allocations not freed", "driver unloaded without freeing its pool") \
    X(0xC4, 0x62, "driver name", "reserved", "allocations not freed (paged and nonpaged)", "driver unloaded without freeing its pool") \
    X(0xC4, 0x6F, "MDL", "PFN being locked", "highest PFN", "MmProbeAndLockPages on pages not in the PFN database") \
    X(0xC4, 0x70, "IRQL", "MDL", "access mode", "MmProbeAndLockPages above DISPATCH_LEVEL") \
    X(0xC4, 0x71, "IRQL", "MDL", "process", "MmProbeAndLockProcessPages above DISPATCH_LEVEL") \
    X(0xC4, 0x72, "IRQL", "MDL", "process", "MmProbeAndLockSelectedPages above DISPATCH_LEVEL") \
    X(0xC4, 0x73, "IRQL", "physical address", "bytes", "MmMapIoSpace above DISPATCH_LEVEL") \
    X(0xC4, 0x74, "IRQL", "MDL", "access mode", "MmMapLockedPages (kernel) above DISPATCH_LEVEL") \
    X(0xC4, 0x75, "IRQL", "MDL", "access mode", "MmMapLockedPages (user) above APC_LEVEL") \
    X(0xC4, 0x76, "IRQL", "MDL", "access mode", "MmMapLockedPagesSpecifyCache (kernel) above DISPATCH_LEVEL") \
    X(0xC4, 0x77, "IRQL", "MDL", "access mode", "MmMapLockedPagesSpecifyCache (user) above APC_LEVEL") \
    X(0xC4, 0x78, "IRQL", "MDL", "0", "MmUnlockPages above DISPATCH_LEVEL") \
    X(0xC4, 0x79, "IRQL", "address being unmapped", "MDL", "MmUnmapLockedPages (kernel) above DISPATCH_LEVEL") \
    X(0xC4, 0x7A, "IRQL", "address being unmapped", "MDL", "MmUnmapLockedPages (user) above APC_LEVEL") \
    X(0xC4, 0x7B, "IRQL", "address", "bytes", "MmUnmapIoSpace above APC_LEVEL") \
    X(0xC4, 0x7C, "MDL", "MDL flags", "0", "MmUnlockPages on an MDL whose pages were never successfully locked") \
    X(0xC4, 0x7D, "MDL", "MDL flags", "0", "MmUnlockPages on an MDL built for nonpaged pool") \
    X(0xC4, 0x7E, "IRQL", "DISPATCH_LEVEL", "0", "MmAllocatePagesForMdl(Ex) or MmFreePagesFromMdl above DISPATCH_LEVEL") \
    X(0xC4, 0x7F, "IRQL", "MDL", "MDL flags", "MmBuildMdlForNonPagedPool on an MDL over paged pool") \
    X(0xC4, 0x81, "MDL", "MDL flags", "0", "the driver called MmMapLockedPages") \
    X(0xC4, 0x82, "MDL", "MDL flags", "0", "MmMapLockedPagesSpecifyCache with BugCheckOnFailure = TRUE") \
    X(0xC4, 0x83, "start of physical range", "bytes", "first PFN not locked", "MmMapIoSpace over RAM pages that are not locked") \
    X(0xC4, 0x85, "MDL", "pages to map", "first PFN not locked", "mapping an MDL whose pages are not locked") \
    X(0xC4, 0x89, "MDL", "pointer to the non-memory page entry", "non-memory PFN", "an MDL not marked MDL_IO_SPACE holds non-RAM pages") \
    X(0xC4, 0xB0, "MDL", "MDL flags", "offending flags", "MmProbeAndLockPages on an MDL with bad flags") \
    X(0xC4, 0xB1, "MDL", "MDL flags", "offending flags", "MmProbeAndLockProcessPages on an MDL with bad flags") \
    X(0xC4, 0xB2, "MDL", "MDL flags", "offending flags", "MmMapLockedPages* on an MDL with bad flags (already mapped, or not locked)") \
    X(0xC4, 0xB3, "MDL", "MDL flags", "missing flags", "MmMapLockedPages* on an MDL that is not locked") \
    X(0xC4, 0xB4, "MDL", "MDL flags", "unexpected partial flag", "MmUnlockPages on a partial MDL") \
    X(0xC4, 0xB5, "MDL", "MDL flags", "unexpected partial flag", "MmUnmapLockedPages on a partial MDL") \
    X(0xC4, 0xB6, "MDL", "MDL flags", "missing flag", "MmUnmapLockedPages on an MDL not mapped to a system address") \
    X(0xC4, 0xB8, "MDL", "MDL flags", "reserved", "IoFreeMdl while the MDL's pages are still mapped") \
    X(0xC4, 0xB9, "address being unmapped", "MDL", "reserved", "MmUnmapLockedPages with a bad user-space address") \
    X(0xC4, 0x105, "IRP", "reserved", "reserved", "ExFreePool of an IRP instead of IoFreeIrp") \
    X(0xC4, 0x140, "IRQL", "MDL", "associated address", "a non-locked MDL was built over pageable or tradable memory") \
    X(0xC4, 0x141, "highest physical address requested", "bytes", "0", "physical memory explicitly requested below 4 GiB") \
    X(0xC4, 0x1000, "resource (spin lock)", "reserved", "reserved", "Deadlock Detection: a thread acquired a lock it holds") \
    X(0xC4, 0x1010, "device object", "IRP", "system address of the MDL buffer", "invariant MDL buffer contents were modified (write IRP)") \
    X(0xC4, 0x1011, "device object", "IRP", "system address", "invariant MDL buffer was modified (read IRP)") \
    X(0xC4, 0x2002, "driver address", "priority", "0", "an executable MDL mapping was requested") \
    X(0xC4, 0x2001A, "rule condition", "rule state", "reserved", "DDI rule IrqlMmDispatch: MmFreeContiguousMemory above DISPATCH_LEVEL") \
    X(0xC4, 0x20019, "rule condition", "rule state", "reserved", "DDI rule IrqlMmApcLte: called above APC_LEVEL") \
    X(0xC9, 0x01, "IRP", "0", "0", "IoFreeIrp of an object whose type is not IO_TYPE_IRP (freed twice, or not an IRP)") \
    X(0xC9, 0x02, "IRP", "0", "0", "IoFreeIrp of an IRP still associated with a thread") \
    X(0xC9, 0x20D, "driver address", "IRP", "device object", "IoInitializeIrp on an IRP from IoAllocateIrp: a quota leak (use IoReuseIrp)") \
    X(0xD9, 0x01, "tracking structure", "MDL", "pages locked for the process", "MDL inserted twice on the same process list") \
    X(0xD9, 0x02, "tracking structure", "MDL", "pages locked for the process", "MDL inserted twice on the system-wide list") \
    X(0xD9, 0x03, "first tracking structure found", "tracking structure", "MDL", "MDL found twice in the process list on free") \
    X(0xD9, 0x04, "tracking structure", "MDL", "0", "MDL found on the system-wide list after it was removed") \
    X(0xDA, 0x01, "tracking structure", "MDL", "duplicate tracking structure", "the mapping being freed is a duplicate") \
    X(0xDA, 0x02, "tracking structure", "mappings the system expects to free", "mappings the driver is freeing", "wrong number of mappings freed") \
    X(0xDA, 0x03, "first tracking structure", "expected mapping address", "address the driver is freeing", "wrong mapping address freed") \
    X(0xDA, 0x04, "tracking structure", "expected first PFN", "current first PFN", "the MDL's first page changed since it was mapped") \
    X(0xDA, 0x05, "first tracking structure", "expected address", "address the driver is freeing", "the MDL's start address changed since it was mapped") \
    X(0xDA, 0x06, "MDL", "address given by the driver", "mappings to free", "the MDL being unmapped was never, or is not currently, mapped") \
    X(0xDA, 0x100, "mappings requested", "caller's tag", "caller of caller", "reserve: zero mappings requested") \
    X(0xDA, 0x101, "first mapping address", "caller's tag", "owner's tag", "free: tag mismatch (not the owner)") \
    X(0xDA, 0x102, "first mapping address", "caller's tag", "reserved", "free: range apparently empty") \
    X(0xDA, 0x103, "invalid mapping address", "caller's tag", "mappings in the range", "free while still mapped") \
    X(0xDA, 0x104, "first mapping address", "caller's tag", "owner's tag", "map: range not owned (tag mismatch)") \
    X(0xDA, 0x105, "first mapping address", "caller's tag", "reserved", "map: invalid mapping address") \
    X(0xDA, 0x107, "first mapping address", "address of the non-empty mapping", "last mapping address", "map into a range that is not empty") \
    X(0xDA, 0x108, "first mapping address", "caller's tag", "owner's tag", "unmap: range not owned") \
    X(0xDA, 0x109, "first mapping address", "caller's tag", "reserved", "unmap: range apparently empty") \
    X(0xDA, 0x10A, "first mapping address", "PTEs in the range (with its two headers)", "pages to unmap", "unmap: more pages than the range holds") \
    X(0xDA, 0x10B, "first mapping address", "caller's tag", "pages to unmap", "unmap: a page of the MDL is not mapped there") \
    X(0xDA, 0x10C, "first mapping address", "caller's tag", "pages to unmap", "unmap: pages past the MDL's are still mapped in the range") \
    X(0xDA, 0x303, "first address", "count", "0", "releasing a range of system PTEs that was not reserved") \
    X(0xDA, 0x304, "first address", "count", "0", "the release starts in the middle of another allocation") \
    X(0xDA, 0x305, "first address", "caller's count", "correct count", "wrong release count") \
    X(0xDA, 0x306, "first address", "already-free mapping", "count", "releasing an already-free mapping") \
    X(0xDA, 0x400, "I/O mapping base", "pages to free", "0", "freeing an I/O-space mapping the system does not know")

/** Codes as an enum: MM_BUGCHECK_PFN_LIST_CORRUPT = 0x4E … */
enum {
#define MM_BUGCHECK_ENUM(code, name, p1, p2, p3, p4) MM_BUGCHECK_##name = code,
    MM_BUGCHECK_MAP(MM_BUGCHECK_ENUM)
#undef MM_BUGCHECK_ENUM
};

#define MM_BUGCHECK_HISTORY_MAX 16

/** One step of the history shown with a bug check (see mm/trace.h). */
struct mm_history_line {
    uint64_t step;      /**< operation number that made the change */
    char text[160];
};

/** What the machine's bug-check hook receives. */
struct mm_bugcheck {
    uint32_t code;
    uint64_t p[4];                 /**< P1..P4 */
    uint32_t cpu;                  /**< simulated CPU that raised it */
    uint64_t step;                 /**< operation number (1-based) */
    const char *operation;         /**< the public call that raised it */
    char explanation[256];         /**< why, in words, naming the culprit */
    unsigned history_count;        /**< recent history of the PFN/object involved */
    struct mm_history_line history[MM_BUGCHECK_HISTORY_MAX];
};

/** "PFN_LIST_CORRUPT"; NULL for a code not in the table. */
MM_API const char *mm_bugcheck_name(uint32_t code);
/** Meaning of parameter index (0..3) for this code and P1 (sub-code aware). */
MM_API const char *mm_bugcheck_param_meaning(uint32_t code, uint64_t p1, unsigned index);
/** One-line meaning of the sub-code, or NULL. */
MM_API const char *mm_bugcheck_subcode_meaning(uint32_t code, uint64_t p1);
/** WinDbg-style report; returns the length it would have written (snprintf). */
MM_API int mm_bugcheck_format(const struct mm_bugcheck *bc, char *buf, size_t size);
/** Stops the machine with the given code and parameters, as KeBugCheckEx
 * does, on behalf of operation (the DDI name the report shows) and why
 * (the explanation, or NULL). The hook runs as for any bug check.
 * \windows KeBugCheckEx
 * \errors MM_STATUS_INVALID_PARAMETER for a NULL machine; otherwise
 * MM_STATUS_MACHINE_DEAD (when the hook returns). */
MM_API mm_status mm_bugcheck_ex(mm_machine *m, const char *operation, uint32_t code, uint64_t p1, uint64_t p2,
                                uint64_t p3, uint64_t p4, const char *why);

/** \} */

#ifdef __cplusplus
}
#endif
#endif
