/** \file
 * mm/process.h — processes: creation, termination (which tears down the
 * address space and checks for locked pages), the current process of each
 * CPU and KeStackAttachProcess-style attach/detach. */
#ifndef MM_PROCESS_H
#define MM_PROCESS_H

#include "mm/status.h"
#include "mm/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** \addtogroup process
 *  \{ */

#define MM_SYSTEM_PROCESS_ID 4u

struct mm_process_info {
    uint32_t id;
    char name[16];
    mm_va eprocess;              /**< the EPROCESS address (in nonpaged pool) */
    mm_pfn directory_table_base; /**< PFN of the top-level page table */
    bool terminated;
    int64_t locked_pages;        /**< NumberOfLockedPages */
    uint64_t working_set_pages;
    uint64_t commit_charge;      /**< private committed pages */
    uint64_t vad_count;
    uint32_t attach_count;       /**< CPUs currently in its context */
};

/** One VAD (!vad): a reservation, a view of a section, or an MDL's user
 * mapping. Start and end are page aligned; end is exclusive. */
struct mm_vad_info {
    mm_va start, end;
    uint32_t protect;        /**< MM_PAGE_* given when it was made */
    uint32_t type;           /**< MM_MEM_PRIVATE or MM_MEM_MAPPED */
    bool committed_all;      /**< MEM_COMMIT at reservation time */
    bool physical;           /**< an MDL mapped into the process (MmMapLockedPages UserMode) */
    uint64_t commit_charge;  /**< pages charged for a copy-on-write view */
    uint32_t level;          /**< depth in the process's balanced VAD tree (the root is 0), as !vad's Level */
};
/** Copies up to max VADs of p in address order; returns how many p has. */
MM_API size_t mm_process_vads(mm_machine *m, mm_process *p, struct mm_vad_info *out, size_t max);

/** KAPC_STATE: filled by attach, consumed by detach. */
struct mm_apc_state {
    mm_process *saved;   /**< context before the attach */
    mm_process *target;
    uint32_t cpu;
    uint32_t magic;
};

/** Creates a process named name (up to 15 characters kept), with an empty
 * address space, and stores it in *out.
 * \windows PspCreateProcess / MmCreateProcessAddressSpace
 * \ownership The handle stays valid until mm_process_close() (after
 * mm_process_terminate()) or the machine is destroyed.
 * \errors MM_STATUS_INVALID_PARAMETER for a bad name or out, and
 * MM_STATUS_INSUFFICIENT_RESOURCES when the machine or the host has no
 * memory for it. */
MM_API mm_status mm_process_create(mm_machine *m, const char *name, mm_process **out);
/** Tears the address space down; 0x76 / 0xCB if pages are still locked. */
MM_API mm_status mm_process_terminate(mm_machine *m, mm_process *p);
/** ObDereferenceObject of an exited process: it leaves the machine's tables
 * and the handle is no longer valid (STATUS_INVALID_HANDLE from then on).
 * A live or attached process: STATUS_INVALID_DEVICE_STATE. */
MM_API mm_status mm_process_close(mm_machine *m, mm_process *p);
/** A snapshot of the process (!process).
 * \errors MM_STATUS_INVALID_HANDLE for a closed process. */
MM_API mm_status mm_process_query(mm_machine *m, mm_process *p, struct mm_process_info *out);
/** The System process (id 4), which every machine has. */
MM_API mm_process *mm_process_system(mm_machine *m);
MM_API mm_process *mm_process_current(mm_machine *m); /**< of the current CPU */
/** The process with this id, or NULL. */
MM_API mm_process *mm_process_by_id(mm_machine *m, uint32_t id);
/** Enumerates live and terminated processes in creation order. */
MM_API mm_process *mm_process_next(mm_machine *m, mm_process *prev);

/** KeStackAttachProcess / KeUnstackDetachProcess on the current CPU. */
MM_API mm_status mm_process_attach(mm_machine *m, mm_process *p, struct mm_apc_state *state);
/** KeUnstackDetachProcess: restores the context saved in state.
 * \windows KeUnstackDetachProcess
 * \errors Bug check 0x06 INVALID_PROCESS_DETACH_ATTEMPT for a state that
 * is not the current CPU's latest attach. */
MM_API mm_status mm_process_detach(mm_machine *m, struct mm_apc_state *state);

/** \} */

#ifdef __cplusplus
}
#endif
#endif
