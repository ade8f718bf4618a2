/* tests/test_mdl_misuse.c — the rows of the fact sheet's misuse -> outcome
 * table (nt-mm-facts.md §8.2, with the parameter tables of §5: 0xC4, 0x3F,
 * 0xD8) that tests/test_mdl.c and tests/test_io.c leave out: Verifier's
 * 0x85 (mapping frames that are not locked), 0xB2 for a nonpaged-pool MDL
 * mapped into system space, 0xB0 / 0xB1 for probe-and-lock of a nonpaged-pool
 * or partial MDL, the IRQL sub-codes 0x71, 0x74-0x7A and 0x20019 at
 * MmUnlockPagableImageSection; without Verifier the UserMode probe of a range
 * past MmUserProbeAddress or wrapping around, 0x3F from MmMapLockedPages at
 * system-PTE exhaustion, a double unlock that takes another MDL's lock away,
 * and with TrackPtes 0xD8 instead of 0x3F. Each test
 * asserts the bug-check code and all four parameters (or the raised status). */
#include "harness.h"

#define TAG MM_POOL_TAG('M', 'i', 's', 'u')

static int setup(void **state) { return setup_attached(state); }

static int setup_verifier(void **state) { return setup_attached_verifier(state); }

/* A machine with a small system PTE pool (and TrackPtes or not), CPU 0
 * attached to "app.exe". */
static int setup_small_pte_pool(void **state, bool track_ptes)
{
    struct mm_config cfg;
    harness_config(&cfg);
    cfg.system_ptes = 64;
    cfg.track_ptes = track_ptes;
    memset(&H, 0, sizeof H);
    H.m = harness_machine(&cfg);
    *state = H.m;
    H.proc = attached_process(H.m, "app.exe", &H.apc);
    return 0;
}

static int setup_64_ptes(void **state) { return setup_small_pte_pool(state, false); }
static int setup_64_ptes_tracked(void **state) { return setup_small_pte_pool(state, true); }

static struct mm_mdl read_mdl(mm_machine *m, mm_va mdl, mm_pfn *pfns, size_t max)
{
    struct mm_mdl h;
    assert_ok(mm_mdl_read(m, mdl, &h, pfns, max));
    return h;
}

static unsigned flags_of(mm_machine *m, mm_va mdl) { return (uint16_t)read_mdl(m, mdl, NULL, 0).MdlFlags; }

/* A one-page kernel buffer in nonpaged pool and its (unlocked) MDL. */
static mm_va kernel_mdl(mm_machine *m, mm_va *buffer)
{
    *buffer = mm_pool_allocate(m, MM_NONPAGED_POOL, 0x200, TAG);
    assert_true(*buffer != 0);
    mm_va mdl = mm_io_allocate_mdl(m, *buffer, 0x200, false, false, 0);
    assert_true(mdl != 0);
    return mdl;
}

/* A kernel-buffer MDL, probed and locked, with the IRQL then raised to
 * `irql`: the start of each IRQL check below. */
static mm_va locked_at_irql(mm_machine *m, mm_irql irql)
{
    mm_va buf;
    mm_va mdl = kernel_mdl(m, &buf);
    assert_ok(mm_probe_and_lock_pages(m, mdl, MM_KERNEL_MODE, MM_IO_READ_ACCESS));
    assert_ok(mm_irql_raise(m, irql, NULL));
    return mdl;
}

/* An MDL over `bytes` of a fresh committed user buffer of the current process. */
static mm_va user_mdl(mm_machine *m, mm_va *va, uint32_t bytes)
{
    *va = commit_user(m, 0x10000, MM_PAGE_READWRITE) + 0x123;
    mm_va mdl = mm_io_allocate_mdl(m, *va, bytes, false, false, 0);
    assert_true(mdl != 0);
    return mdl;
}

static uint64_t eprocess_of(mm_machine *m, mm_process *p)
{
    struct mm_process_info pi;
    assert_ok(mm_process_query(m, p, &pi));
    return pi.eprocess;
}

static int64_t locked_pages(mm_machine *m, mm_process *p)
{
    struct mm_process_info pi;
    assert_ok(mm_process_query(m, p, &pi));
    return pi.locked_pages;
}

static void system_ptes(mm_machine *m, uint64_t *used, uint64_t *total)
{
    struct mm_memory_counts c;
    assert_ok(mm_memory_query(m, &c));
    *used = c.system_ptes_used;
    *total = c.system_ptes_total;
}

/* A locked 4-page kernel buffer's MDL (page aligned: a whole-page pool block). */
static mm_va locked_four_page_mdl(mm_machine *m, mm_va buf)
{
    mm_va mdl = mm_io_allocate_mdl(m, buf, 4 * MM_PAGE_SIZE, false, false, 0);
    assert_true(mdl != 0);
    assert_ok(mm_probe_and_lock_pages(m, mdl, MM_KERNEL_MODE, MM_IO_READ_ACCESS));
    struct mm_mdl h = read_mdl(m, mdl, NULL, 0);
    assert_int_equal(MM_MDL_PAGES(&h), 4);
    return mdl;
}

/* ---- mapping: 0x85, 0xB2 ---- */

/* §8.2 "Mapping an MDL whose pages are not locked | 0xC4/0xB3 or 0x85"; §5:
 * 0x85 (MDL, pages to map, first PFN not locked). The flags pass the 0xB3
 * check (a partial MDL borrows its parent's lock), but the parent was
 * unlocked: the frames are held by nothing. */
static void verifier_map_partial_of_unlocked_parent_is_0x85(void **state)
{
    mm_machine *m = *state;
    mm_va buf = mm_pool_allocate(m, MM_NONPAGED_POOL, 0x3000, TAG);
    assert_int_equal(MM_BYTE_OFFSET(buf), 0);
    mm_va parent = mm_io_allocate_mdl(m, buf, 0x3000, false, false, 0);
    mm_va child = mm_io_allocate_mdl(m, buf + 0x800, 0x1000, false, false, 0); /* spans 2 pages */
    assert_ok(mm_probe_and_lock_pages(m, parent, MM_KERNEL_MODE, MM_IO_READ_ACCESS));
    assert_ok(mm_io_build_partial_mdl(m, parent, child, buf + 0x800, 0x1000));
    assert_ok(mm_unlock_pages(m, parent)); /* the driver unlocks the parent too early */
    assert_int_equal(flags_of(m, child), MM_MDL_ALLOCATED_FIXED_SIZE | MM_MDL_PARTIAL);
    expect_bugcheck(mm_map_locked_pages_specify_cache(m, child, MM_KERNEL_MODE, MM_CACHED, 0, false, 0, NULL),
                    MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0x85);
    assert_params(child, 2, pfn_of(m, buf));
}

/* The same with an MDL whose flags say locked, but whose PFN array the
 * driver rewrote to name a frame no lock holds. */
static void verifier_map_of_a_frame_not_locked_is_0x85(void **state)
{
    mm_machine *m = *state;
    mm_va buf;
    mm_va mdl = kernel_mdl(m, &buf);
    assert_ok(mm_probe_and_lock_pages(m, mdl, MM_KERNEL_MODE, MM_IO_READ_ACCESS));
    mm_va other = mm_pool_allocate(m, MM_NONPAGED_POOL, MM_PAGE_SIZE, TAG); /* a page of its own */
    mm_pfn unlocked = pfn_of(m, other);
    assert_pfn(m, unlocked, 1, 1, MM_ACTIVE_AND_VALID);
    assert_ok(mm_write(m, MM_MDL_PFN_ARRAY(mdl), &unlocked, sizeof unlocked));
    expect_bugcheck(mm_map_locked_pages_specify_cache(m, mdl, MM_KERNEL_MODE, MM_CACHED, 0, false, 0, NULL),
                    MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0x85);
    assert_params(mdl, 1, unlocked);
}

/* §8.2 "Mapping an already-mapped MDL into system space (also a
 * nonpaged-pool MDL via SpecifyCache) | 0xC4/0xB2"; §5: 0xB2 (MDL, flags,
 * offending flags). */
static void map_nonpaged_pool_mdl_into_system_space(void **state)
{
    mm_machine *m = *state;
    mm_va buf;
    mm_va mdl = kernel_mdl(m, &buf);
    assert_ok(mm_build_mdl_for_nonpaged_pool(m, mdl));
    unsigned built = MM_MDL_ALLOCATED_FIXED_SIZE | MM_MDL_SOURCE_IS_NONPAGED_POOL;
    assert_int_equal(flags_of(m, mdl), built);
    if (mm_machine_verifier(m)) {
        expect_bugcheck(mm_map_locked_pages_specify_cache(m, mdl, MM_KERNEL_MODE, MM_CACHED, 0, false, 0, NULL),
                        MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0xB2);
        assert_params(mdl, built, MM_MDL_SOURCE_IS_NONPAGED_POOL);
        return;
    }
    /* Without Verifier: a second mapping; MappedSystemVa (the pool address,
     * the MDL's first "mapping") is overwritten, and the new PTEs leak
     * unless someone unmaps them. */
    assert_ok(mm_write(m, buf, "pool", 5));
    mm_va sys = mm_map_locked_pages_specify_cache(m, mdl, MM_KERNEL_MODE, MM_CACHED, 0, false, 0, NULL);
    assert_true(sys != 0 && sys != buf);
    assert_true(sys >= layout_of(m).system_ptes && sys < layout_of(m).paged_pool);
    assert_int_equal(MM_BYTE_OFFSET(sys), MM_BYTE_OFFSET(buf));
    struct mm_mdl h = read_mdl(m, mdl, NULL, 0);
    assert_int_equal((uint16_t)h.MdlFlags, built | MM_MDL_MAPPED_TO_SYSTEM_VA);
    assert_int_equal(h.MappedSystemVa, sys);
    char seen[5];
    assert_ok(mm_read(m, sys, seen, 5));
    assert_string_equal(seen, "pool");
    assert_false(mm_machine_is_dead(m));
}

/* ---- probe-and-lock of an MDL with bad flags: 0xB0, 0xB1 ---- */

/* §8.2 "MmProbeAndLockPages on an already-locked, nonpaged-pool or partial
 * MDL | 0xC4/0xB0 (0xB1 for the process variant)"; §5: (MDL, flags,
 * offending flags). */
static void verifier_probe_of_nonpaged_pool_mdl_is_0xb0(void **state)
{
    mm_machine *m = *state;
    mm_va buf;
    mm_va mdl = kernel_mdl(m, &buf);
    assert_ok(mm_build_mdl_for_nonpaged_pool(m, mdl));
    expect_bugcheck(mm_probe_and_lock_pages(m, mdl, MM_KERNEL_MODE, MM_IO_READ_ACCESS),
                    MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0xB0);
    assert_params(mdl, MM_MDL_ALLOCATED_FIXED_SIZE | MM_MDL_SOURCE_IS_NONPAGED_POOL, MM_MDL_SOURCE_IS_NONPAGED_POOL);
}

/* A partial MDL of a locked user buffer, *parent its parent. */
static mm_va partial_of_locked_user_buffer(mm_machine *m, mm_va *parent)
{
    mm_va va;
    *parent = user_mdl(m, &va, 0x2000);
    mm_va child = mm_io_allocate_mdl(m, va, 0x100, false, false, 0);
    assert_true(child != 0);
    assert_ok(mm_probe_and_lock_pages(m, *parent, MM_USER_MODE, MM_IO_READ_ACCESS));
    assert_ok(mm_io_build_partial_mdl(m, *parent, child, va, 0x100));
    assert_int_equal(flags_of(m, child), MM_MDL_ALLOCATED_FIXED_SIZE | MM_MDL_PARTIAL);
    return child;
}

static void probe_of_partial_mdl(void **state)
{
    mm_machine *m = *state;
    mm_va parent;
    mm_va child = partial_of_locked_user_buffer(m, &parent);
    if (mm_machine_verifier(m)) {
        expect_bugcheck(mm_probe_and_lock_pages(m, child, MM_USER_MODE, MM_IO_READ_ACCESS),
                        MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0xB0);
        assert_params(child, MM_MDL_ALLOCATED_FIXED_SIZE | MM_MDL_PARTIAL, MM_MDL_PARTIAL);
        return;
    }
    /* Without Verifier: a second reference and a second process charge,
     * which the process's exit reports once the parent is unlocked. */
    mm_pfn frame;
    read_mdl(m, child, &frame, 1);
    assert_int_equal(locked_pages(m, H.proc), 3); /* the parent's 3 pages */
    assert_ok(mm_probe_and_lock_pages(m, child, MM_USER_MODE, MM_IO_READ_ACCESS));
    assert_int_equal(locked_pages(m, H.proc), 4);
    assert_pfn(m, frame, 1, 3, MM_ACTIVE_AND_VALID);
    assert_ok(mm_unlock_pages(m, parent));
    assert_ok(mm_process_detach(m, &H.apc));
    uint64_t eprocess = eprocess_of(m, H.proc);
    expect_bugcheck(mm_process_terminate(m, H.proc), MM_BUGCHECK_PROCESS_HAS_LOCKED_PAGES, 0);
    assert_params(eprocess, 1, 0);
}

static void verifier_process_probe_of_locked_mdl_is_0xb1(void **state)
{
    mm_machine *m = *state;
    mm_va va;
    mm_va mdl = user_mdl(m, &va, 0x100);
    assert_ok(mm_probe_and_lock_process_pages(m, mdl, H.proc, MM_USER_MODE, MM_IO_READ_ACCESS));
    expect_bugcheck(mm_probe_and_lock_process_pages(m, mdl, H.proc, MM_USER_MODE, MM_IO_READ_ACCESS),
                    MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0xB1);
    assert_params(mdl, MM_MDL_ALLOCATED_FIXED_SIZE | MM_MDL_PAGES_LOCKED, MM_MDL_PAGES_LOCKED);
}

static void verifier_process_probe_of_partial_mdl_is_0xb1(void **state)
{
    mm_machine *m = *state;
    mm_va parent;
    mm_va child = partial_of_locked_user_buffer(m, &parent);
    expect_bugcheck(mm_probe_and_lock_process_pages(m, child, H.proc, MM_USER_MODE, MM_IO_READ_ACCESS),
                    MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0xB1);
    assert_params(child, MM_MDL_ALLOCATED_FIXED_SIZE | MM_MDL_PARTIAL, MM_MDL_PARTIAL);
}

/* ---- Verifier's IRQL checks of the Mm DDIs ---- */

/* §5 0xC4/0x71 (IRQL, MDL, Process): the process whose pages are locked. */
static void verifier_process_probe_above_dispatch_is_0x71(void **state)
{
    mm_machine *m = *state;
    mm_va va;
    mm_va mdl = user_mdl(m, &va, 0x100);
    mm_process *target = H.proc;
    assert_ok(mm_process_detach(m, &H.apc));
    mm_process *other = attached_process(m, "other.exe", &H.apc);
    assert_true(eprocess_of(m, other) != eprocess_of(m, target));
    assert_ok(mm_irql_raise(m, MM_CLOCK_LEVEL, NULL));
    expect_bugcheck(mm_probe_and_lock_process_pages(m, mdl, target, MM_USER_MODE, MM_IO_READ_ACCESS),
                    MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0x71);
    assert_params(MM_CLOCK_LEVEL, mdl, eprocess_of(m, target));
}

/* §5 0xC4/0x74 / 0x75 (IRQL, MDL, access mode): MmMapLockedPages, kernel
 * mode above DISPATCH, user mode above APC. The IRQL check comes before
 * 0x81 (any use of MmMapLockedPages). */
static void verifier_legacy_map_kernel_above_dispatch_is_0x74(void **state)
{
    mm_machine *m = *state;
    mm_va mdl = locked_at_irql(m, MM_CLOCK_LEVEL);
    expect_bugcheck(mm_map_locked_pages(m, mdl, MM_KERNEL_MODE), MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION,
                    0x74);
    assert_params(MM_CLOCK_LEVEL, mdl, MM_KERNEL_MODE);
}

static void verifier_legacy_map_user_above_apc_is_0x75(void **state)
{
    mm_machine *m = *state;
    mm_va mdl = locked_at_irql(m, MM_DISPATCH_LEVEL);
    expect_bugcheck(mm_map_locked_pages(m, mdl, MM_USER_MODE), MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0x75);
    assert_params(MM_DISPATCH_LEVEL, mdl, MM_USER_MODE);
}

/* §5 0xC4/0x76 / 0x77: the same for MmMapLockedPagesSpecifyCache. */
static void verifier_map_kernel_above_dispatch_is_0x76(void **state)
{
    mm_machine *m = *state;
    mm_va mdl = locked_at_irql(m, MM_CLOCK_LEVEL);
    expect_bugcheck(mm_map_locked_pages_specify_cache(m, mdl, MM_KERNEL_MODE, MM_CACHED, 0, false, 0, NULL),
                    MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0x76);
    assert_params(MM_CLOCK_LEVEL, mdl, MM_KERNEL_MODE);
}

static void verifier_map_user_above_apc_is_0x77(void **state)
{
    mm_machine *m = *state;
    mm_va mdl = locked_at_irql(m, MM_DISPATCH_LEVEL);
    mm_status raised;
    expect_bugcheck(mm_map_locked_pages_specify_cache(m, mdl, MM_USER_MODE, MM_CACHED, 0, false, 0, &raised),
                    MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0x77);
    assert_params(MM_DISPATCH_LEVEL, mdl, MM_USER_MODE);
}

/* §5 0xC4/0x78 (IRQL, MDL, 0): MmUnlockPages above DISPATCH. */
static void verifier_unlock_above_dispatch_is_0x78(void **state)
{
    mm_machine *m = *state;
    mm_va mdl = locked_at_irql(m, MM_CLOCK_LEVEL);
    expect_bugcheck(mm_unlock_pages(m, mdl), MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0x78);
    assert_params(MM_CLOCK_LEVEL, mdl, 0);
}

/* §5 0xC4/0x79 / 0x7A (IRQL, VA being unmapped, MDL): MmUnmapLockedPages of
 * a system mapping above DISPATCH, of a user mapping above APC. */
static void verifier_unmap_system_above_dispatch_is_0x79(void **state)
{
    mm_machine *m = *state;
    mm_va buf;
    mm_va mdl = kernel_mdl(m, &buf);
    assert_ok(mm_probe_and_lock_pages(m, mdl, MM_KERNEL_MODE, MM_IO_READ_ACCESS));
    mm_va sys = mm_map_locked_pages_specify_cache(m, mdl, MM_KERNEL_MODE, MM_CACHED, 0, false, 0, NULL);
    assert_true(sys != 0);
    assert_ok(mm_irql_raise(m, MM_CLOCK_LEVEL, NULL));
    expect_bugcheck(mm_unmap_locked_pages(m, sys, mdl), MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0x79);
    assert_params(MM_CLOCK_LEVEL, sys, mdl);
}

static void verifier_unmap_user_above_apc_is_0x7a(void **state)
{
    mm_machine *m = *state;
    mm_va buf;
    mm_va mdl = kernel_mdl(m, &buf);
    assert_ok(mm_probe_and_lock_pages(m, mdl, MM_KERNEL_MODE, MM_IO_READ_ACCESS));
    mm_status raised = 1;
    mm_va uva = mm_map_locked_pages_specify_cache(m, mdl, MM_USER_MODE, MM_CACHED, 0, false, 0, &raised);
    assert_ok(raised);
    assert_true(uva != 0);
    assert_ok(mm_irql_raise(m, MM_DISPATCH_LEVEL, NULL));
    expect_bugcheck(mm_unmap_locked_pages(m, uva, mdl), MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0x7A);
    assert_params(MM_DISPATCH_LEVEL, uva, mdl);
}

/* §8.2 "MmUnlockPagableImageSection ... (0xC4/0x20019 for IRQL above APC
 * under DDI compliance)". §5 gives P2 the rule-condition string and P3 the
 * rule state; mmsim documents that it passes 0 for both (docs/physical.md,
 * MmAllocateNonCachedMemory: "the parameters are the rule's condition
 * string and state in Windows, 0 here"), and P4 is reserved. */
static void verifier_unlock_pagable_section_above_apc_is_0x20019(void **state)
{
    mm_machine *m = *state;
    struct mm_section_desc s[] = {
        {".text", 0x1000, MM_SECTION_CODE, NULL, 0},
        {"PAGE", 0x2000, MM_SECTION_CODE, NULL, 0},
    };
    mm_image *img = NULL;
    assert_ok(mm_image_load(m, "pager.sys", s, 2, &img));
    mm_va handle = mm_lock_pagable_section(m, mm_image_section_address(m, img, "PAGE"));
    assert_true(handle != 0);
    assert_ok(mm_irql_raise(m, MM_DISPATCH_LEVEL, NULL));
    expect_bugcheck(mm_unlock_pagable_image_section(m, handle), MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION,
                    0x20019);
    assert_params(0, 0, 0);
}

/* ---- UserMode probe of a range past MmUserProbeAddress or wrapping ---- */

/* §8.2 "Probe-and-lock with UserMode on a kernel VA, or a range wrap |
 * Raises STATUS_ACCESS_VIOLATION"; §2.5 step 2: End > MM_USER_PROBE_ADDRESS
 * or End <= Address writes LIST_HEAD into PFN slot 0 and raises. */
static void expect_user_probe_refused(mm_machine *m, mm_va mdl)
{
    unsigned before = flags_of(m, mdl);
    int64_t charged = locked_pages(m, H.proc);
    assert_status(mm_probe_and_lock_pages(m, mdl, MM_USER_MODE, MM_IO_READ_ACCESS), MM_STATUS_ACCESS_VIOLATION);
    mm_pfn slot0;
    read_mdl(m, mdl, &slot0, 1);
    assert_int_equal(slot0, MM_PFN_NONE);
    assert_int_equal(flags_of(m, mdl), before);
    assert_int_equal(locked_pages(m, H.proc), charged);
    assert_false(mm_machine_is_dead(m));
}

static void user_probe_running_past_the_probe_address(void **state)
{
    mm_machine *m = *state;
    mm_va probe = layout_of(m).user_probe_address;
    mm_va va = probe - 0x1000 + 0x80; /* the last user page below MmUserProbeAddress… */
    mm_va mdl = mm_io_allocate_mdl(m, va, 0x1000, false, false, 0); /* …and 0x80 bytes beyond it */
    assert_true(mdl != 0);
    struct mm_mdl h = read_mdl(m, mdl, NULL, 0);
    assert_true(MM_MDL_VIRTUAL_ADDRESS(&h) < probe && MM_MDL_VIRTUAL_ADDRESS(&h) + h.ByteCount > probe);
    expect_user_probe_refused(m, mdl);
}

static void user_probe_of_a_wrapping_range(void **state)
{
    mm_machine *m = *state;
    mm_va va = UINT64_C(0xFFFFFFFFFFFFF800);
    mm_va mdl = mm_io_allocate_mdl(m, va, 0x1000, false, false, 0); /* End wraps to 0x800 */
    assert_true(mdl != 0);
    struct mm_mdl h = read_mdl(m, mdl, NULL, 0);
    assert_true(MM_MDL_VIRTUAL_ADDRESS(&h) + h.ByteCount <= MM_MDL_VIRTUAL_ADDRESS(&h));
    expect_user_probe_refused(m, mdl);
}

/* ---- system PTE exhaustion: 0x3F, and 0xD8 with TrackPtes ---- */

/* §8.2 "BugCheckOnFailure = TRUE / MmMapLockedPages | ... Only on PTE
 * exhaustion: 0x3F(0, pages, free, total)"; §2.8: MmMapLockedPages is
 * SpecifyCache(..., BugCheckOnFailure = TRUE, ...). 64 PTEs, 4-page MDLs:
 * the 17th mapping finds none free, 0x3F (0, 4, 0, 64). */
static void legacy_map_at_system_pte_exhaustion_is_0x3f(void **state)
{
    mm_machine *m = *state;
    uint64_t used, total;
    system_ptes(m, &used, &total);
    assert_int_equal(total, 64);
    assert_int_equal(used, 0);
    mm_va buf = mm_pool_allocate(m, MM_NONPAGED_POOL, 4 * MM_PAGE_SIZE, TAG);
    assert_int_equal(MM_BYTE_OFFSET(buf), 0);
    for (int i = 0; i < 16; i++)
        assert_true(mm_map_locked_pages(m, locked_four_page_mdl(m, buf), MM_KERNEL_MODE) != 0);
    system_ptes(m, &used, &total);
    assert_int_equal(used, 64);
    mm_va last = locked_four_page_mdl(m, buf);
    expect_bugcheck(mm_map_locked_pages(m, last, MM_KERNEL_MODE), MM_BUGCHECK_NO_MORE_SYSTEM_PTES, 0);
    assert_params(4, 0, 64);
}

/* §5 0xD8 (driver name or 0, PTEs used by that driver if P1 != 0, free
 * system PTEs, total system PTEs); "With TrackPtes = 1, 0xD8 is raised
 * instead" of 0x3F. mmsim names no driver: P1 0, so P2 0. */
static void pte_tracking_bug_check_on_failure_is_0xd8(void **state)
{
    mm_machine *m = *state;
    mm_va range = mm_allocate_mapping_address(m, 59 * MM_PAGE_SIZE, MM_POOL_TAG('F', 'u', 'l', 'l'));
    assert_true(range != 0);
    uint64_t used, total;
    system_ptes(m, &used, &total);
    assert_int_equal(total, 64);
    uint64_t free_ptes = total - used;
    assert_true(free_ptes < 4);
    mm_va buf = mm_pool_allocate(m, MM_NONPAGED_POOL, 4 * MM_PAGE_SIZE, TAG);
    mm_va mdl = locked_four_page_mdl(m, buf);
    assert_int_equal(mm_map_locked_pages_specify_cache(m, mdl, MM_KERNEL_MODE, MM_CACHED, 0, false, 0, NULL), 0);
    assert_false(mm_machine_is_dead(m)); /* BugCheckOnFailure = FALSE: NULL */
    expect_bugcheck(mm_map_locked_pages_specify_cache(m, mdl, MM_KERNEL_MODE, MM_CACHED, 0, true, 0, NULL),
                    MM_BUGCHECK_DRIVER_USED_EXCESSIVE_PTES, 0);
    assert_params(0, free_ptes, 64);
}

/* §8.2 "Mapping an already-mapped MDL into system space | First mapping's
 * PTEs leak (MappedSystemVa overwritten), leading to 0x3F/0xD8 under
 * pressure": each new mapping of the same MDL leaks the one before; with
 * TrackPtes the mapping that finds none left is 0xD8 (0, 0, 0, 64). */
static void pte_tracking_mapping_a_mapped_mdl_again_is_0xd8(void **state)
{
    mm_machine *m = *state;
    mm_va buf = mm_pool_allocate(m, MM_NONPAGED_POOL, 4 * MM_PAGE_SIZE, TAG);
    mm_va mdl = locked_four_page_mdl(m, buf);
    mm_va prev = 0;
    for (int i = 0; i < 16; i++) {
        mm_va sys = mm_map_locked_pages_specify_cache(m, mdl, MM_KERNEL_MODE, MM_CACHED, 0, false, 0, NULL);
        assert_true(sys != 0 && sys != prev);
        assert_int_equal(read_mdl(m, mdl, NULL, 0).MappedSystemVa, sys); /* the previous one forgotten */
        if (prev)
            assert_true(mm_is_address_valid(m, prev)); /* …but still mapped: leaked */
        prev = sys;
    }
    uint64_t used, total;
    system_ptes(m, &used, &total);
    assert_int_equal(used, 64);
    assert_int_equal(total, 64);
    expect_bugcheck(mm_map_locked_pages_specify_cache(m, mdl, MM_KERNEL_MODE, MM_CACHED, 0, true, 0, NULL),
                    MM_BUGCHECK_DRIVER_USED_EXCESSIVE_PTES, 0);
    assert_params(0, 0, 64);
}

/* MmUnlockPages twice without Verifier or lock tracking, on a user page
 * another MDL also holds locked: the second unlock takes that MDL's lock
 * away silently (the page's reference count drops to the mapping's own);
 * the other MDL's unlock then finds a page nobody locked, 0x4E (7, PFN,
 * share, 0). */
static void double_unlock_takes_another_mdls_lock(void **state)
{
    mm_machine *m = *state;
    mm_va va;
    mm_va a = user_mdl(m, &va, 0x100);
    mm_va b = mm_io_allocate_mdl(m, va, 0x100, false, false, 0);
    assert_true(b != 0);
    assert_ok(mm_probe_and_lock_pages(m, a, MM_KERNEL_MODE, MM_IO_READ_ACCESS));
    assert_ok(mm_probe_and_lock_pages(m, b, MM_KERNEL_MODE, MM_IO_READ_ACCESS));
    mm_pfn frame = pfn_of(m, va);
    struct mm_pfn_info before;
    assert_ok(mm_pfn_query(m, frame, &before));
    assert_int_equal(before.reference_count, 3); /* the mapping, a's lock, b's lock */
    assert_ok(mm_unlock_pages(m, a));
    assert_ok(mm_unlock_pages(m, a)); /* the bug: silently, b's lock goes */
    struct mm_pfn_info after;
    assert_ok(mm_pfn_query(m, frame, &after));
    assert_int_equal(after.reference_count, 1);
    assert_int_equal(after.share_count, 1);
    expect_bugcheck(mm_unlock_pages(m, b), MM_BUGCHECK_PFN_LIST_CORRUPT, 0x07);
    assert_params(frame, 1, 0);
}

/* A read of a system mapping made no-access (MmProtectMdlSystemAddress):
 * 0x50 with P4 = 1, ReactOS's value for a PTE that allows no access
 * (Microsoft lists none for it; docs/decisions.md). */
static void read_of_a_no_access_system_mapping_is_0x50_1(void **state)
{
    mm_machine *m = *state;
    mm_va buf;
    mm_va mdl = kernel_mdl(m, &buf);
    assert_ok(mm_probe_and_lock_pages(m, mdl, MM_KERNEL_MODE, MM_IO_WRITE_ACCESS));
    mm_va sys = mm_get_system_address_for_mdl_safe(m, mdl, 0);
    assert_true(sys != 0);
    assert_ok(mm_protect_mdl_system_address(m, mdl, MM_PAGE_NOACCESS));
    uint8_t byte;
    expect_bugcheck(mm_read(m, sys + 8, &byte, 1), MM_BUGCHECK_PAGE_FAULT_IN_NONPAGED_AREA, sys + 8);
    assert_params(0, 0, 1);
}

/* IoAllocateMdl(SecondaryBuffer) appends to the IRP's MDL chain; a chain
 * that loops (here an MDL whose Next names itself) never ends: below
 * DISPATCH_LEVEL the thread would hang, and mmsim stops the machine as one
 * breaks into a hung machine (0xE2); at DISPATCH_LEVEL the DPC watchdog
 * stops it (0x133, 1, 0x1E00). Found by the API fuzzer as a hang. */
static mm_va irp_with_a_looping_chain(mm_machine *m, mm_va *buf)
{
    mm_va irp = mm_io_allocate_irp(m);
    assert_true(irp != 0);
    *buf = mm_pool_allocate(m, MM_NONPAGED_POOL, 0x100, TAG);
    mm_va first = mm_io_allocate_mdl(m, *buf, 0x100, false, false, irp);
    assert_true(first != 0);
    assert_ok(mm_write(m, first, &first, 8)); /* first->Next = first */
    return irp;
}

static void secondary_mdl_on_a_looping_chain_is_0xe2(void **state)
{
    mm_machine *m = *state;
    mm_va buf;
    mm_va irp = irp_with_a_looping_chain(m, &buf);
    expect_bugcheck(mm_io_allocate_mdl(m, buf, 0x100, true, false, irp), MM_BUGCHECK_MANUALLY_INITIATED_CRASH, 0);
    assert_params(0, 0, 0);
}

static void secondary_mdl_on_a_looping_chain_at_dispatch_is_0x133(void **state)
{
    mm_machine *m = *state;
    mm_va buf;
    mm_va irp = irp_with_a_looping_chain(m, &buf);
    assert_ok(mm_irql_raise(m, MM_DISPATCH_LEVEL, NULL));
    expect_bugcheck(mm_io_allocate_mdl(m, buf, 0x100, true, false, irp), MM_BUGCHECK_DPC_WATCHDOG_VIOLATION, 1);
    assert_params(0x1E00, 0, 0);
}

/* A long chain that does not loop is walked to its end. */
static void secondary_mdls_on_a_long_chain(void **state)
{
    mm_machine *m = *state;
    mm_va irp = mm_io_allocate_irp(m);
    mm_va buf = mm_pool_allocate(m, MM_NONPAGED_POOL, 0x100, TAG);
    mm_va first = mm_io_allocate_mdl(m, buf, 0x100, false, false, irp), last = first;
    for (int i = 0; i < 40; i++)
        last = mm_io_allocate_mdl(m, buf, 0x100, true, false, irp);
    mm_va at = first;
    for (int i = 0; i < 40; i++)
        assert_ok(mm_debug_read(m, NULL, at, &at, 8, NULL));
    assert_int_equal(at, last);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown_machine)
#define V(f) {"verifier_" #f, f, setup_verifier, teardown_machine, NULL}
#define VO(f) cmocka_unit_test_setup_teardown(f, setup_verifier, teardown_machine)
        VO(verifier_map_partial_of_unlocked_parent_is_0x85),
        VO(verifier_map_of_a_frame_not_locked_is_0x85),
        T(map_nonpaged_pool_mdl_into_system_space), V(map_nonpaged_pool_mdl_into_system_space),
        VO(verifier_probe_of_nonpaged_pool_mdl_is_0xb0),
        T(probe_of_partial_mdl), V(probe_of_partial_mdl),
        VO(verifier_process_probe_of_locked_mdl_is_0xb1),
        VO(verifier_process_probe_of_partial_mdl_is_0xb1),
        VO(verifier_process_probe_above_dispatch_is_0x71),
        VO(verifier_legacy_map_kernel_above_dispatch_is_0x74),
        VO(verifier_legacy_map_user_above_apc_is_0x75),
        VO(verifier_map_kernel_above_dispatch_is_0x76),
        VO(verifier_map_user_above_apc_is_0x77),
        VO(verifier_unlock_above_dispatch_is_0x78),
        VO(verifier_unmap_system_above_dispatch_is_0x79),
        VO(verifier_unmap_user_above_apc_is_0x7a),
        VO(verifier_unlock_pagable_section_above_apc_is_0x20019),
        T(user_probe_running_past_the_probe_address),
        T(user_probe_of_a_wrapping_range),
        T(double_unlock_takes_another_mdls_lock),
        T(read_of_a_no_access_system_mapping_is_0x50_1),
        T(secondary_mdl_on_a_looping_chain_is_0xe2),
        T(secondary_mdl_on_a_looping_chain_at_dispatch_is_0x133),
        T(secondary_mdls_on_a_long_chain),
        cmocka_unit_test_setup_teardown(legacy_map_at_system_pte_exhaustion_is_0x3f, setup_64_ptes, teardown_machine),
        cmocka_unit_test_setup_teardown(pte_tracking_bug_check_on_failure_is_0xd8, setup_64_ptes_tracked,
                                        teardown_machine),
        cmocka_unit_test_setup_teardown(pte_tracking_mapping_a_mapped_mdl_again_is_0xd8, setup_64_ptes_tracked,
                                        teardown_machine),
    };
    return cmocka_run_group_tests_name("mdl misuse", tests, NULL, NULL);
}
