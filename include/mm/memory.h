/** \file
 * mm/memory.h — virtual memory: user ranges with NtAllocateVirtualMemory /
 * NtFreeVirtualMemory / NtProtectVirtualMemory semantics, byte access through
 * the page tables (taking the faults a CPU would), MmIsAddressValid /
 * MmGetPhysicalAddress, PTE walks, and paging (trim, modified page writer). */
#ifndef MM_MEMORY_H
#define MM_MEMORY_H

#include "mm/status.h"
#include "mm/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** \addtogroup virtual
 *  \{ */

/** Allocation types and page protections (Win32 values). */
#define MM_MEM_COMMIT 0x1000u
#define MM_MEM_RESERVE 0x2000u
#define MM_MEM_DECOMMIT 0x4000u
#define MM_MEM_RELEASE 0x8000u
#define MM_MEM_FREE 0x10000u
#define MM_MEM_PRIVATE 0x20000u
#define MM_MEM_MAPPED 0x40000u

#define MM_PAGE_NOACCESS 0x01u
#define MM_PAGE_READONLY 0x02u
#define MM_PAGE_READWRITE 0x04u
#define MM_PAGE_WRITECOPY 0x08u
#define MM_PAGE_EXECUTE 0x10u
#define MM_PAGE_EXECUTE_READ 0x20u
#define MM_PAGE_EXECUTE_READWRITE 0x40u
#define MM_PAGE_EXECUTE_WRITECOPY 0x80u
#define MM_PAGE_GUARD 0x100u
#define MM_PAGE_NOCACHE 0x200u
#define MM_PAGE_WRITECOMBINE 0x400u

/** In process p (NULL = the current process). *base and *size are rounded as
 * Windows rounds them and returned. */
MM_API mm_status mm_virtual_alloc(mm_machine *m, mm_process *p, mm_va *base, uint64_t *size,
                                  uint32_t type, uint32_t protect);
/** NtFreeVirtualMemory: MM_MEM_DECOMMIT or MM_MEM_RELEASE of [*base, *base + *size).
 * \windows NtFreeVirtualMemory
 * \errors MM_STATUS_FREE_VM_NOT_AT_BASE, MM_STATUS_MEMORY_NOT_ALLOCATED,
 * MM_STATUS_UNABLE_TO_DELETE_SECTION for a view, as Windows returns them. */
MM_API mm_status mm_virtual_free(mm_machine *m, mm_process *p, mm_va *base, uint64_t *size,
                                 uint32_t type);
/** NtProtectVirtualMemory: the old protection of the first page in
 * *old_protect.
 * \windows NtProtectVirtualMemory
 * \errors MM_STATUS_NOT_COMMITTED, MM_STATUS_INVALID_PAGE_PROTECTION. */
MM_API mm_status mm_virtual_protect(mm_machine *m, mm_process *p, mm_va *base, uint64_t *size,
                                    uint32_t new_protect, uint32_t *old_protect);

/** MEMORY_BASIC_INFORMATION */
struct mm_region_info {
    mm_va base_address, allocation_base;
    uint32_t allocation_protect;
    uint64_t region_size;
    uint32_t state;    /**< MM_MEM_COMMIT, MM_MEM_RESERVE or MM_MEM_FREE */
    uint32_t protect;
    uint32_t type;     /**< MM_MEM_PRIVATE, MM_MEM_MAPPED or 0 */
};
/** NtQueryVirtualMemory (MemoryBasicInformation) of va in p (NULL: current).
 * \windows NtQueryVirtualMemory */
MM_API mm_status mm_virtual_query(mm_machine *m, mm_process *p, mm_va va, struct mm_region_info *out);

/** One access by the current CPU, in its current process context. */
struct mm_access_request {
    mm_va va;
    void *buffer;          /**< read into / written from; NULL = touch only */
    size_t length;
    mm_access kind;
    mm_mode mode;          /**< the CPU's privilege for the access */
    mm_va ip;              /**< instruction address, for bug-check parameters */
};
/** MM_STATUS_SUCCESS, ACCESS_VIOLATION (a user address the caller may catch),
 * GUARD_PAGE_VIOLATION, NO_MEMORY, or MACHINE_DEAD after a bug check. */
MM_API mm_status mm_access_memory(mm_machine *m, const struct mm_access_request *req);
/** Kernel-mode shorthands. */
MM_API mm_status mm_read(mm_machine *m, mm_va va, void *buffer, size_t length);
/** Kernel-mode write of length bytes at va (see mm_access_memory()). */
MM_API mm_status mm_write(mm_machine *m, mm_va va, const void *buffer, size_t length);

/** A kernel stack (MmCreateKernelStack): KERNEL_STACK_SIZE resident bytes
 * in system PTEs, growing down from *base to *limit, with an invalid guard
 * page below *limit (running into it is a double fault, 0x7F). Code under
 * test may keep buffers there; lock them with MmProbeAndLockPages, never
 * describe them with MmBuildMdlForNonPagedPool (0xC4/0x140 under Verifier). */
#define MM_KERNEL_STACK_SIZE 0x6000u
/** MmCreateKernelStack: a new kernel stack; its top in *base, its lowest
 * resident address in *limit.
 * \windows MmCreateKernelStack
 * \ownership Freed with mm_kernel_stack_delete().
 * \errors MM_STATUS_INSUFFICIENT_RESOURCES when no system PTEs or pages are
 * left. */
MM_API mm_status mm_kernel_stack_create(mm_machine *m, mm_va *base, mm_va *limit);
/** MmDeleteKernelStack of a stack made by mm_kernel_stack_create().
 * \windows MmDeleteKernelStack */
MM_API mm_status mm_kernel_stack_delete(mm_machine *m, mm_va base);

/** Runs fn(ctx) on a new simulated kernel stack of a hosted machine, as
 * driver code runs on a thread's kernel stack: its locals are simulated
 * memory (an MDL can describe them, MmIsAddressValid(&local) is true), and
 * running off its end touches the guard page: 0x7F (8), a double fault.
 * The stack is MM_KERNEL_STACK_SIZE (24 KiB), as on Windows x64, and is
 * deleted when fn returns.
 * \windows KeExpandKernelStackAndCallout (here: a fresh stack, not a larger one)
 * \errors MM_STATUS_NOT_SUPPORTED on a machine without a host view (the
 * Windows layout); MM_STATUS_INSUFFICIENT_RESOURCES when no stack can be
 * made. A bug check inside fn unwinds through the machine's hook as any
 * other does; the stack then stays until the machine is destroyed. */
MM_API mm_status mm_call_on_kernel_stack(mm_machine *m, void (*fn)(void *ctx), void *ctx);

/** Receives the exception a kernel-mode access raises (hosted layout): a
 * read or write of a bad user address by code running against the machine
 * (status STATUS_ACCESS_VIOLATION, the address, whether it was a write, and
 * the instruction). The function may leave by siglongjmp to an exception
 * handler (the WDK layer's __try/__except does); if it returns, the
 * exception is unhandled and the machine stops with 0x1E
 * KMODE_EXCEPTION_NOT_HANDLED. */
typedef void (*mm_exception_fn)(void *ctx, mm_machine *m, mm_status status, mm_va address, bool write, mm_va ip);
/** Puts the machine's fault handler in front of any SIGSEGV handler
 * installed since its last call (a test framework installs its own around
 * each test): call it before host code touches simulated memory outside
 * any mm_* call. Every mm_* call that changes state does it already. */
MM_API void mm_machine_enter(mm_machine *m);
/** Skips, on the calling thread while pinned, the check each call makes
 * that the machine's fault handler is still the first for SIGSEGV (a system
 * call per call: a large share of a fuzzer's time). Pin it around code that
 * installs no signal handler of its own; mm_machine_enter() still checks.
 * Pins nest: each true needs a false. */
MM_API void mm_machine_pin_fault_handler(mm_machine *m, bool pinned);

/** Double-fetch detection (hosted layout, x86-64 hosts). */
struct mm_watch_config {
    bool flip;     /**< a second read of an address sees other bytes first, as if a
                    *   user thread raced the reader (seeded) */
    uint64_t seed;
};
/** Watches host code's accesses to user addresses: every one faults into
 * the model and runs one instruction at a time (the host view keeps no user
 * page), so each read is seen. A read of an address already read since the
 * last mm_machine_watch_reset() is a double-fetch finding naming both
 * instructions; with cfg->flip the bytes there change just before the
 * second read. NULL turns watching off. Slow: two signals per access.
 * \errors MM_STATUS_NOT_SUPPORTED without a host view or off x86-64. */
MM_API mm_status mm_machine_watch_user_reads(mm_machine *m, const struct mm_watch_config *cfg);
/** A new request starts: the reads seen so far are forgotten. */
MM_API void mm_machine_watch_reset(mm_machine *m);
/** Installs fn (NULL: none) as the machine's exception dispatcher. */
MM_API mm_status mm_machine_set_exception_handler(mm_machine *m, mm_exception_fn fn, void *ctx);

/** \} */
/** \addtogroup pte
 *  \{ */
/** MmIsAddressValid (IRQL <= DISPATCH) and MmGetPhysicalAddress (0 if invalid). */
MM_API bool mm_is_address_valid(mm_machine *m, mm_va va);
/** MmGetPhysicalAddress: the physical address behind va, 0 if invalid.
 * \windows MmGetPhysicalAddress */
MM_API uint64_t mm_get_physical_address(mm_machine *m, mm_va va);

/** The !pte walk of va in process p (NULL = current): PXE, PPE, PDE, PTE. */
struct mm_pte_level {
    mm_va entry_address;  /**< self-map address of the entry */
    uint64_t value;       /**< the entry's contents */
    mm_pfn table_pfn;     /**< page-table page that holds it */
    bool present;         /**< the table exists (the level was reached) */
};
struct mm_pte_walk {
    mm_va va;
    struct mm_pte_level level[4]; /**< 0 = PXE … 3 = PTE */
};
/** Walks va through the four levels (!pte), with no fault and no trace.
 * \ownership out is the caller's. */
MM_API mm_status mm_pte_walk(mm_machine *m, mm_process *p, mm_va va, struct mm_pte_walk *out);
/** Reads a PTE value's fields for display; returns a static name of its format. */
MM_API const char *mm_pte_format_name(uint64_t pte);

/** A PTE value taken apart, hardware and software formats alike. */
typedef enum {
    MM_PTE_ZERO = 0, MM_PTE_VALID, MM_PTE_TRANSITION, MM_PTE_PAGEFILE, MM_PTE_DEMAND_ZERO, MM_PTE_PROTOTYPE,
    MM_PTE_DECOMMITTED, MM_PTE_NO_ACCESS
} mm_pte_kind;
struct mm_pte_info {
    mm_pte_kind kind;
    mm_pfn pfn;             /**< valid and transition: the frame */
    uint64_t pagefile_slot; /**< page file: the slot */
    uint32_t protection;    /**< software formats: the 5-bit MM_* protection */
    bool writable, no_execute, user, dirty, accessed, global;
    bool cache_disable, write_through;
    bool copy_on_write;
    bool mdl_mapping;       /**< mmsim's mark: an MDL mapping borrowing the MDL's lock */
};
/** Takes a PTE value apart into out (hardware and software formats). */
MM_API void mm_pte_decode(uint64_t pte, struct mm_pte_info *out);
/** The frame behind va in process p (NULL = current) when a valid PTE maps
 * it, else MM_PFN_NONE. A lookup like a debugger's: no fault, no trace. */
MM_API mm_pfn mm_va_to_pfn(mm_machine *m, mm_process *p, mm_va va);
/** Reads simulated memory the way a debugger does: through valid and
 * transition PTEs only, with no fault, no TLB fill, no trace and no change
 * to any count. *done (optional) says how many bytes were read; a page that
 * is not resident ends the read with STATUS_ACCESS_VIOLATION. */
MM_API mm_status mm_debug_read(mm_machine *m, mm_process *p, mm_va va, void *buffer, size_t length, size_t *done);

/** \} */
/** \addtogroup virtual
 *  \{ */
/** Paging. Trims up to max_pages from a working set (p NULL = the system
 * working set: paged pool and pageable image sections); locked pages stay. */
MM_API mm_status mm_working_set_trim(mm_machine *m, mm_process *p, uint64_t max_pages,
                                     uint64_t *trimmed);
/** Writes every modified page to the page file; they move to standby. */
MM_API mm_status mm_modified_page_writer(mm_machine *m, uint64_t *written);
/** Trims every working set and writes modified pages: low-memory pressure. */
MM_API mm_status mm_memory_pressure(mm_machine *m);
/** Repurposes up to max_pages standby pages, oldest first, onto the free
 * list: their last PTEs get their page-file (or demand-zero) contents back,
 * so the next touch reads the page file into another frame. What another
 * CPU's demand for memory does, and what "empty the standby list" asks.
 * \windows NtSetSystemInformation(SystemMemoryListInformation,
 * MemoryPurgeStandbyList) */
MM_API mm_status mm_purge_standby_list(mm_machine *m, uint64_t max_pages, uint64_t *purged);

/** \} */

#ifdef __cplusplus
}
#endif
#endif
