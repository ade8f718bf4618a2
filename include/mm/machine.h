/** \file
 * mm/machine.h — the simulated machine: created from a config, owns all
 * state (no globals), simulated CPUs with their IRQL, the verifier settings,
 * the hooks, and the invariant checker. */
#ifndef MM_MACHINE_H
#define MM_MACHINE_H

#include "mm/bugcheck.h"
#include "mm/status.h"
#include "mm/trace.h"
#include "mm/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** \addtogroup verifier
 *  \{ */

/** Driver Verifier option bits, as `verifier /flags` takes them. */
#define MM_VERIFIER_SPECIAL_POOL 0x1u
#define MM_VERIFIER_FORCE_IRQL_CHECKING 0x2u
#define MM_VERIFIER_LOW_RESOURCES 0x4u
#define MM_VERIFIER_POOL_TRACKING 0x8u
#define MM_VERIFIER_IO_VERIFICATION 0x10u
#define MM_VERIFIER_DEADLOCK_DETECTION 0x20u
#define MM_VERIFIER_DMA 0x80u
#define MM_VERIFIER_SECURITY 0x100u
#define MM_VERIFIER_MISCELLANEOUS 0x800u
#define MM_VERIFIER_DDI_COMPLIANCE 0x20000u
#define MM_VERIFIER_STANDARD 0x209BBu

/** \} */
/** \addtogroup machine
 *  \{ */
/** All host memory the model uses for its own bookkeeping goes through this. */
struct mm_allocator {
    void *(*alloc)(void *ctx, size_t size);
    void *(*realloc)(void *ctx, void *ptr, size_t size);
    void (*free)(void *ctx, void *ptr);
    void *ctx;
};

/** Receives each bug check. It may return (the failing call then returns
 * MM_STATUS_MACHINE_DEAD or 0) or unwind with longjmp; either way the machine
 * is dead afterwards. NULL means mm_bugcheck_hook_default. */
typedef void (*mm_bugcheck_fn)(void *ctx, mm_machine *m, const struct mm_bugcheck *bc);

/** Where a machine puts user and system space. MM_LAYOUT_WINDOWS (the
 * default) is Windows x64's: user space up to 0x7FFFFFFEFFFF, system space
 * from 0xFFFF800000000000 with fixed regions; the model never dereferences
 * these addresses. MM_LAYOUT_HOSTED puts both in host address ranges the
 * machine reserves, user space below system space, so a VA the model hands
 * out is a host pointer (this needs the host layer; see docs/hosted.md). */
typedef enum {
    MM_LAYOUT_WINDOWS = 0,
    MM_LAYOUT_HOSTED = 1,
} mm_layout_kind;

/** A machine's address layout (mm_machine_layout). */
struct mm_layout {
    mm_layout_kind kind;
    mm_va lowest_user_address;    /**< MM_LOWEST_USER_ADDRESS in the Windows layout */
    mm_va highest_user_address;   /**< MmHighestUserAddress */
    mm_va user_probe_address;     /**< MmUserProbeAddress: the first address a probe refuses */
    mm_va highest_vad_address;    /**< the last byte a VAD may cover */
    mm_va system_range_start;     /**< MmSystemRangeStart */
    mm_va driver_images;          /**< where loaded driver images go */
    mm_va system_ptes;            /**< the system PTE region (MDL mappings, kernel stacks) */
    mm_va paged_pool;
    mm_va pfn_database;           /**< the PFN database's VA (WinDbg's MMPFN addresses) */
    mm_va nonpaged_pool;
    mm_va system_end;             /**< one past the last system address of the regions */
};

struct mm_config {
    uint64_t physical_pages;      /**< simulated RAM, in 4 KiB pages (256 .. 2^28) */
    uint32_t cpu_count;           /**< simulated CPUs (1 .. 64) */
    uint64_t seed;                /**< deterministic RNG seed */
    uint32_t verifier_flags;      /**< MM_VERIFIER_* ; 0 = Verifier off */
    bool track_locked_pages;      /**< registry TrackLockedPages = 1 */
    bool track_ptes;              /**< registry TrackPtes = 1 */
    uint32_t system_ptes;         /**< size of the system PTE pool */
    uint64_t pagefile_pages;      /**< page-file size in pages (0 = none) */
    uint32_t trace_capacity;      /**< events kept in the ring (power of two, >= 16; 0 = no trace) */
    mm_bugcheck_fn bugcheck_hook;
    void *bugcheck_ctx;
    mm_trace_fn trace_hook;       /**< optional: every event as it happens */
    void *trace_ctx;
    struct mm_allocator allocator; /**< zeroed = the C library's */
    mm_layout_kind layout;        /**< MM_LAYOUT_WINDOWS unless asked */
    bool snapshots;               /**< keep the bookkeeping in one arena, so
                                   *   mm_machine_snapshot() works (needs the
                                   *   default allocator) */
};

/** Fills cfg with the defaults: 64 MiB of RAM, 2 CPUs, a page file, Verifier
 * off, the default bug-check hook.
 * \ownership cfg is the caller's; the machine copies it at creation. */
MM_API void mm_config_default(struct mm_config *cfg);
/** Creates a machine from cfg (NULL is not allowed) and stores it in *out.
 * \ownership The caller owns the machine and frees it with
 * mm_machine_destroy(), which frees everything made in it.
 * \errors MM_STATUS_INVALID_PARAMETER for a config out of range,
 * MM_STATUS_INSUFFICIENT_RESOURCES when the host allocator fails. */
MM_API mm_status mm_machine_create(const struct mm_config *cfg, mm_machine **out);
MM_API void mm_machine_destroy(mm_machine *m); /**< NULL is a no-op */

/** The machine's address layout (MmHighestUserAddress, MmSystemRangeStart,
 * where each region starts). */
MM_API mm_status mm_machine_layout(const mm_machine *m, struct mm_layout *out);

/** True once the machine has bug-checked: every later call is refused with
 * MM_STATUS_MACHINE_DEAD (or returns 0). */
MM_API bool mm_machine_is_dead(const mm_machine *m);
/** The bug check that killed the machine, or NULL. */
MM_API const struct mm_bugcheck *mm_machine_bugcheck(const mm_machine *m);
/** Prints the WinDbg-style report to stderr and aborts the host process. */
MM_API void mm_bugcheck_hook_default(void *ctx, mm_machine *m, const struct mm_bugcheck *bc);

/** Host bytes held by the model's bookkeeping (through the allocator), and by
 * stored page contents. */
MM_API uint64_t mm_machine_host_bytes(const mm_machine *m);
/** Pages whose contents the store holds (pages never written cost nothing). */
MM_API uint64_t mm_machine_stored_pages(const mm_machine *m);

/** Verifies every structural rule; MM_STATUS_SUCCESS or MM_STATUS_UNSUCCESSFUL
 * with the first broken rule in `why`. */
MM_API mm_status mm_machine_check_invariants(mm_machine *m, char *why, size_t why_size);

/** Public operations run so far: the step number of the latest one (trace
 * events and findings carry the step that caused them). */
MM_API uint64_t mm_machine_step(const mm_machine *m);

/** \} */
/** \addtogroup snapshot
 *  \{ */
/** Takes the machine's snapshot: its state as it is now, to come back to
 * with mm_machine_restore(). A machine has one snapshot; taking another
 * replaces it. Take it between calls, with no driver code running.
 * \ownership The snapshot belongs to the machine and goes with it.
 * \errors MM_STATUS_NOT_SUPPORTED for a machine created without
 * cfg.snapshots, MM_STATUS_MACHINE_DEAD after a bug check,
 * MM_STATUS_INVALID_DEVICE_STATE while code runs on a simulated kernel stack,
 * MM_STATUS_INSUFFICIENT_RESOURCES when the host has no memory for it. */
MM_API mm_status mm_machine_snapshot(mm_machine *m);
/** Puts the machine back as it was at its snapshot: frames, page tables,
 * processes, pool, MDLs, the trace, the RNG, the bug-check state (a dead
 * machine lives again) and everything allocated with mm_machine_alloc().
 * The cost grows with what changed since (pages written, bookkeeping
 * used), not with the machine's RAM.
 * \ownership Objects that existed at the snapshot (processes, images,
 * MDLs, pool blocks, mm_machine_alloc() blocks) are valid again with their
 * state then; objects made since no longer exist. Shared-object images
 * loaded since are unloaded.
 * \errors MM_STATUS_NOT_FOUND when no snapshot was taken,
 * MM_STATUS_INVALID_DEVICE_STATE while code runs on a simulated kernel
 * stack, MM_STATUS_NOT_SUPPORTED as for mm_machine_snapshot(). */
MM_API mm_status mm_machine_restore(mm_machine *m);
/** From now until the next mm_machine_restore(), user pages whose
 * translations go (a process detach or exit) stay mapped in the host view;
 * the restore keeps those the snapshot's tables give again and unmaps the
 * rest. For a harness that ends each input (a process exit, say) and
 * restores next: it saves the host mappings made and removed per input.
 * No driver or host code may touch user memory in between: a stale touch
 * would not fault.
 * \errors MM_STATUS_NOT_FOUND when no snapshot was taken,
 * MM_STATUS_NOT_SUPPORTED as for mm_machine_snapshot(). */
MM_API mm_status mm_machine_defer_host_unmaps(mm_machine *m);
/** Host memory that is part of the machine's state (a layer on top keeps
 * its own bookkeeping here): zeroed, counted in mm_machine_host_bytes(),
 * rolled back by mm_machine_restore(). NULL when the host refuses.
 * \ownership The caller frees it with mm_machine_free() before the machine
 * is destroyed, or lets a release function (mm_machine_set_extension()) do
 * so. */
MM_API void *mm_machine_alloc(mm_machine *m, size_t size);
/** Frees a block of mm_machine_alloc() (NULL is a no-op). */
MM_API void mm_machine_free(mm_machine *m, void *p);
/** Hangs one pointer of a layer on top (the WDK layer's state) on the
 * machine. It is part of the machine's state, so a restore brings back the
 * pointer of the snapshot; release (may be NULL) is called with it when the
 * machine is destroyed.
 * \errors MM_STATUS_INVALID_PARAMETER for a NULL machine. */
MM_API mm_status mm_machine_set_extension(mm_machine *m, void *extension,
                                          void (*release)(mm_machine *m, void *extension));
/** The pointer given to mm_machine_set_extension(), or NULL. */
MM_API void *mm_machine_extension(const mm_machine *m);

/** \} */
/** \addtogroup verifier
 *  \{ */
/** Sets the Driver Verifier flags (MM_VERIFIER_*; 0 turns it off). Verifier
 * and tracking may be changed at run time, as with `verifier /flags` after
 * a reboot.
 * \windows verifier /flags */
MM_API mm_status mm_machine_set_verifier(mm_machine *m, uint32_t verifier_flags);
/** The Verifier flags in force (MM_VERIFIER_*; 0 = off). */
MM_API uint32_t mm_machine_verifier(const mm_machine *m);

/** \} */
/** \addtogroup machine
 *  \{ */
/** Simulated CPUs: calls run on the current CPU. */
MM_API uint32_t mm_cpu_count(const mm_machine *m);
/** The CPU that calls run on (0-based). */
MM_API uint32_t mm_cpu_current(const mm_machine *m);
/** Makes cpu the current CPU; later calls run there, at its IRQL and in its
 * process context.
 * \errors MM_STATUS_INVALID_PARAMETER for a CPU the machine does not have. */
MM_API mm_status mm_cpu_set_current(mm_machine *m, uint32_t cpu);

/** The code address the next calls on the current CPU are made from (a
 * driver's return address, as a WDK routine sees it), for the bug-check
 * parameters that name the caller (0xC2/0x9B and 0x9C, 0xC9/0x20D); 0, the default,
 * when the caller is not code of the machine. Returns the previous one, so
 * a layer can put it back after its call. */
MM_API mm_va mm_cpu_set_caller(mm_machine *m, mm_va caller);

/** KeGetCurrentIrql / KeRaiseIrql / KeLowerIrql on the current CPU. */
MM_API mm_irql mm_irql_current(const mm_machine *m);
/** KeRaiseIrql: raises the current CPU's IRQL to new_irql; the old one in
 * *old_irql (may be NULL).
 * \windows KeRaiseIrql
 * \errors Bug check 0x09 IRQL_NOT_GREATER_OR_EQUAL when new_irql is below
 * the current IRQL. */
MM_API mm_status mm_irql_raise(mm_machine *m, mm_irql new_irql, mm_irql *old_irql);
/** KeLowerIrql: lowers the current CPU's IRQL to new_irql.
 * \windows KeLowerIrql
 * \errors Bug check 0x0A IRQL_NOT_LESS_OR_EQUAL when new_irql is above the
 * current IRQL. */
MM_API mm_status mm_irql_lower(mm_machine *m, mm_irql new_irql);

/** \} */

#ifdef __cplusplus
}
#endif
#endif
