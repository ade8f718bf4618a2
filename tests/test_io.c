/* tests/test_io.c — the remaining rows of the misuse table: MDLs chained on
 * an I/O-manager IRP and completed after the driver already unlocked or freed
 * them, and pageable driver sections locked with MmLockPagable* (0x1A/0x1010,
 * 0x1234), in both Verifier modes. */
#include "harness.h"


/* Direct I/O: the I/O manager locks the user buffer in an MDL on the IRP. */
static mm_va direct_io_irp(mm_machine *m, mm_va *mdl_out, mm_va *buffer)
{
    *buffer = commit_user(m, 0x2000, MM_PAGE_READWRITE);
    mm_va irp = mm_io_allocate_irp(m);
    assert_true(irp != 0);
    mm_va mdl = mm_io_allocate_mdl(m, *buffer, 0x2000, false, false, irp);
    assert_ok(mm_probe_and_lock_pages(m, mdl, MM_USER_MODE, MM_IO_WRITE_ACCESS));
    *mdl_out = mdl;
    return irp;
}

static void completion_unlocks_and_frees_the_chain(void **state)
{
    mm_machine *m = *state;
    mm_va mdl, buf;
    mm_va irp = direct_io_irp(m, &mdl, &buf);
    struct mm_process_info pi;
    assert_ok(mm_process_query(m, H.proc, &pi));
    assert_int_equal(pi.locked_pages, 2);
    assert_ok(mm_io_complete_request(m, irp));
    assert_ok(mm_process_query(m, H.proc, &pi));
    assert_int_equal(pi.locked_pages, 0);
    assert_pfn(m, pfn_of(m, buf), 1, 1, MM_ACTIVE_AND_VALID);
    struct mm_pool_block_info b;
    assert_status(mm_pool_query(m, irp, &b), MM_STATUS_NOT_FOUND);
    if (mm_machine_verifier(m)) { /* Special Pool: the MDL went back to pool */
        assert_status(mm_pool_query(m, mdl, &b), MM_STATUS_NOT_FOUND);
        return;
    }
    /* IoFreeMdl gave the fixed-size MDL back to the lookaside list. */
    assert_ok(mm_pool_query(m, mdl, &b));
    assert_int_equal(mm_io_allocate_mdl(m, buf, 0x1000, false, false, 0), mdl);
}

static void driver_unlocks_then_completes(void **state)
{
    mm_machine *m = *state;
    mm_va mdl, buf;
    mm_va irp = direct_io_irp(m, &mdl, &buf);
    assert_ok(mm_unlock_pages(m, mdl)); /* the driver's own, wrong, unlock */
    if (mm_machine_verifier(m)) {
        expect_bugcheck(mm_io_complete_request(m, irp), MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0x7C);
        assert_params(mdl, MM_MDL_ALLOCATED_FIXED_SIZE | MM_MDL_WRITE_OPERATION, 0);
        assert_string_equal(H.bc.operation, "MmUnlockPages");
        return;
    }
    expect_bugcheck(mm_io_complete_request(m, irp), MM_BUGCHECK_PFN_LIST_CORRUPT, 0x07);
    assert_params(pfn_of(m, buf), 1, 0);
}

static void driver_frees_then_completes(void **state)
{
    mm_machine *m = *state;
    mm_va mdl, buf;
    mm_va irp = direct_io_irp(m, &mdl, &buf);
    assert_ok(mm_unlock_pages(m, mdl));
    assert_ok(mm_io_free_mdl(m, mdl)); /* still on the IRP's chain */
    if (mm_machine_verifier(m)) {
        /* Special Pool: the MDL went back to pool, and completion follows
         * Irp->MdlAddress into a freed page. */
        expect_bugcheck(mm_io_complete_request(m, irp), MM_BUGCHECK_PAGE_FAULT_IN_FREED_SPECIAL_POOL, mdl);
        assert_params(0, 0, 0); /* a read, by the I/O manager's own code */
        return;
    }
    /* The MDL sits on the lookaside list with its header intact: completion
     * unlocks it a second time. */
    expect_bugcheck(mm_io_complete_request(m, irp), MM_BUGCHECK_PFN_LIST_CORRUPT, 0x07);
    assert_params(pfn_of(m, buf), 1, 0);
}

static mm_image *driver(mm_machine *m)
{
    struct mm_section_desc s[] = {
        {".text", 0x1000, MM_SECTION_CODE, NULL, 0},
        {"PAGE", 0x2000, MM_SECTION_CODE, NULL, 0},
    };
    mm_image *img = NULL;
    assert_ok(mm_image_load(m, "pager.sys", s, 2, &img));
    return img;
}

static void lock_pageable_section_keeps_it_resident(void **state)
{
    mm_machine *m = *state;
    mm_image *img = driver(m);
    mm_va page = mm_image_section_address(m, img, "PAGE");
    uint64_t n;
    assert_ok(mm_working_set_trim(m, NULL, UINT64_MAX, &n));
    assert_false(mm_is_address_valid(m, page + 0x1000));
    mm_va handle = mm_lock_pagable_section(m, page + 0x1234);
    assert_int_equal(handle, page);
    assert_true(mm_is_address_valid(m, page + 0x1000)); /* the whole section came in */
    assert_pfn(m, pfn_of(m, page + 0x1000), 1, 2, MM_ACTIVE_AND_VALID);
    assert_int_equal(mm_lock_pagable_section(m, page), page); /* lock count 2 */
    assert_ok(mm_working_set_trim(m, NULL, UINT64_MAX, &n));
    assert_true(mm_is_address_valid(m, page)); /* locked: not trimmed */
    assert_ok(mm_irql_raise(m, MM_DISPATCH_LEVEL, NULL));
    assert_ok(mm_read(m, page + 0x1000, &n, 8)); /* safe at DISPATCH while locked */
    assert_ok(mm_irql_lower(m, MM_PASSIVE_LEVEL));
    assert_ok(mm_unlock_pagable_image_section(m, handle));
    assert_pfn(m, pfn_of(m, page), 1, 2, MM_ACTIVE_AND_VALID);
    assert_ok(mm_unlock_pagable_image_section(m, handle));
    assert_pfn(m, pfn_of(m, page), 1, 1, MM_ACTIVE_AND_VALID);
}

static void unlock_section_more_than_locked(void **state)
{
    mm_machine *m = *state;
    mm_image *img = driver(m);
    mm_va handle = mm_lock_pagable_section(m, mm_image_section_address(m, img, "PAGE"));
    assert_ok(mm_unlock_pagable_image_section(m, handle));
    expect_bugcheck(mm_unlock_pagable_image_section(m, handle), MM_BUGCHECK_MEMORY_MANAGEMENT, 0x1010);
}

static void lock_of_a_nonexistent_section(void **state)
{
    mm_machine *m = *state;
    mm_image *img = driver(m);
    mm_va text = mm_image_section_address(m, img, ".text");
    expect_bugcheck(mm_lock_pagable_section(m, text), MM_BUGCHECK_MEMORY_MANAGEMENT, 0x1234);
    assert_int_equal(H.bc.p[1], text);
}

static void section_lock_above_apc(void **state)
{
    mm_machine *m = *state;
    mm_image *img = driver(m);
    mm_va page = mm_image_section_address(m, img, "PAGE");
    assert_ok(mm_irql_raise(m, MM_DISPATCH_LEVEL, NULL));
    if (mm_machine_verifier(m)) {
        expect_bugcheck(mm_lock_pagable_section(m, page), MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0x20019);
        assert_params(0, 0, 0); /* Windows: rule-condition string, rule state; 0 here (docs/physical.md) */
        return;
    }
    expect_bugcheck(mm_lock_pagable_section(m, page), MM_BUGCHECK_IRQL_NOT_LESS_OR_EQUAL, 0);
    assert_params(MM_DISPATCH_LEVEL, 0, 0);
}

/* ---- IRP packets ---- */

static uint64_t irp_field(mm_machine *m, mm_va irp, unsigned offset, size_t size)
{
    uint64_t v = 0;
    assert_ok(mm_read(m, irp + offset, &v, size));
    return v;
}

/* IoAllocateIrp's packets, with Windows' x64 layout and allocation flags. */
static void allocate_irp_layout(void **state)
{
    mm_machine *m = *state;
    mm_va small = mm_io_allocate_irp_ex(m, 3, false); /* a large-lookaside packet: 8 locations */
    assert_int_equal(irp_field(m, small, 0x00, 2), MM_IO_TYPE_IRP);
    assert_int_equal(irp_field(m, small, 0x02, 2), MM_IO_SIZE_OF_IRP(8));
    assert_int_equal(irp_field(m, small, 0x42, 1), 3);           /* StackCount */
    assert_int_equal(irp_field(m, small, 0x43, 1), 4);           /* CurrentLocation: one past */
    assert_int_equal(irp_field(m, small, 0x47, 1), MM_IRP_ALLOCATED_FIXED_SIZE | MM_IRP_LOOKASIDE_ALLOCATION);
    assert_int_equal(irp_field(m, small, 0x20, 8), small + 0x20); /* empty ThreadListEntry */
    assert_int_equal(irp_field(m, small, 0xB8, 8), small + MM_IO_SIZE_OF_IRP(3));
    assert_int_equal(irp_field(m, small, 0x08, 8), 0);           /* no MDL */
    mm_va big = mm_io_allocate_irp_ex(m, 10, false);
    assert_int_equal(irp_field(m, big, 0x02, 2), MM_IO_SIZE_OF_IRP(10));
    assert_int_equal(irp_field(m, big, 0x47, 1), 0);
    mm_va quota = mm_io_allocate_irp_ex(m, 2, true);
    assert_int_equal(irp_field(m, quota, 0x02, 2), MM_IO_SIZE_OF_IRP(2));
    assert_int_equal(irp_field(m, quota, 0x47, 1), MM_IRP_QUOTA_CHARGED);
    assert_int_equal(mm_io_allocate_irp_ex(m, 0, false), 0);
    assert_int_equal(mm_io_allocate_irp_ex(m, 128, false), 0);
    assert_ok(mm_io_free_irp(m, small));
    assert_ok(mm_io_free_irp(m, big));
    assert_ok(mm_io_free_irp(m, quota));
}

/* IoFreeIrp leaves the MDL chain to the driver: a locked user buffer on it
 * stays locked, and the process exits with 0x76. */
static void free_irp_keeps_the_mdl_chain(void **state)
{
    mm_machine *m = *state;
    mm_va mdl, buf;
    mm_va irp = direct_io_irp(m, &mdl, &buf);
    assert_ok(mm_io_free_irp(m, irp));
    struct mm_mdl h;
    assert_ok(mm_mdl_read(m, mdl, &h, NULL, 0));
    assert_true((uint16_t)h.MdlFlags & MM_MDL_PAGES_LOCKED);
    struct mm_process_info pi;
    assert_ok(mm_process_query(m, H.proc, &pi));
    assert_int_equal(pi.locked_pages, 2);
    assert_ok(mm_process_detach(m, &H.apc));
    expect_bugcheck(mm_process_terminate(m, H.proc), MM_BUGCHECK_PROCESS_HAS_LOCKED_PAGES, 0);
}

/* Freeing or completing a packet twice: 0x44, or 0xC9/0x01 under I/O Verification. */
static void irp_freed_twice(void **state)
{
    mm_machine *m = *state;
    mm_va irp = mm_io_allocate_irp(m);
    assert_ok(mm_io_free_irp(m, irp));
    if (mm_machine_verifier(m) & MM_VERIFIER_IO_VERIFICATION) {
        expect_bugcheck(mm_io_free_irp(m, irp), MM_BUGCHECK_DRIVER_VERIFIER_IOMANAGER_VIOLATION, 0x01);
        assert_params(irp, 0, 0);
        return;
    }
    expect_bugcheck(mm_io_free_irp(m, irp), MM_BUGCHECK_MULTIPLE_IRP_COMPLETE_REQUESTS, irp);
}

static void irp_completed_twice(void **state)
{
    mm_machine *m = *state;
    mm_va mdl, buf;
    mm_va irp = direct_io_irp(m, &mdl, &buf);
    assert_ok(mm_io_complete_request(m, irp));
    expect_bugcheck(mm_io_complete_request(m, irp), mm_machine_verifier(m) & MM_VERIFIER_IO_VERIFICATION
                                                        ? MM_BUGCHECK_DRIVER_VERIFIER_IOMANAGER_VIOLATION
                                                        : MM_BUGCHECK_MULTIPLE_IRP_COMPLETE_REQUESTS,
                    mm_machine_verifier(m) & MM_VERIFIER_IO_VERIFICATION ? 0x01 : irp);
}

/* IoInitializeIrp belongs on the driver's own memory: on an IoAllocateIrp
 * packet it is 0xC9/0x20D under I/O Verification; without, the allocation
 * flags are lost and IoFreeIrp hands the packet to ExFreePool. */
static void initialize_irp(void **state)
{
    mm_machine *m = *state;
    mm_va own = mm_pool_allocate(m, MM_NONPAGED_POOL, MM_IO_SIZE_OF_IRP(2), MM_POOL_TAG('D', 'I', 'r', 'p'));
    assert_ok(mm_io_initialize_irp(m, own, (uint16_t)MM_IO_SIZE_OF_IRP(2), 2));
    assert_int_equal(irp_field(m, own, 0x00, 2), MM_IO_TYPE_IRP);
    assert_int_equal(irp_field(m, own, 0x43, 1), 3);
    assert_status(mm_io_initialize_irp(m, own, 0x40, 2), MM_STATUS_INVALID_PARAMETER); /* packet too small */
    assert_ok(mm_io_free_irp(m, own)); /* ExFreePool of the driver's block */
    struct mm_pool_block_info b;
    assert_status(mm_pool_query(m, own, &b), MM_STATUS_NOT_FOUND);
    mm_va irp = mm_io_allocate_irp(m);
    if (mm_machine_verifier(m) & MM_VERIFIER_IO_VERIFICATION) {
        mm_cpu_set_caller(m, 0x7FFE1230); /* the driver's code that called it */
        expect_bugcheck(mm_io_initialize_irp(m, irp, (uint16_t)MM_IRP_SIZE, 1),
                        MM_BUGCHECK_DRIVER_VERIFIER_IOMANAGER_VIOLATION, 0x20D);
        assert_params(0x7FFE1230, irp, 0);
        return;
    }
    assert_ok(mm_io_initialize_irp(m, irp, (uint16_t)MM_IRP_SIZE, 1));
    assert_int_equal(irp_field(m, irp, 0x47, 1), 0); /* the lookaside flags are gone */
    assert_ok(mm_io_free_irp(m, irp));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup_attached, teardown_machine)
#define V(f) {"verifier_" #f, f, setup_attached_verifier, teardown_machine, NULL}
        T(completion_unlocks_and_frees_the_chain),
        T(allocate_irp_layout),
        T(free_irp_keeps_the_mdl_chain),
        T(irp_freed_twice), V(irp_freed_twice),
        T(irp_completed_twice), V(irp_completed_twice),
        T(initialize_irp), V(initialize_irp),
        T(driver_unlocks_then_completes), V(driver_unlocks_then_completes),
        T(driver_frees_then_completes), V(driver_frees_then_completes),
        T(lock_pageable_section_keeps_it_resident),
        T(unlock_section_more_than_locked), V(unlock_section_more_than_locked),
        T(lock_of_a_nonexistent_section),
        T(section_lock_above_apc), V(section_lock_above_apc),
    };
    return cmocka_run_group_tests_name("io", tests, NULL, NULL);
}
