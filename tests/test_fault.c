/* tests/test_fault.c — the page-fault handler: soft faults from standby and
 * modified, hard faults from the page file after repurposing, faults at
 * DISPATCH_LEVEL (0x0A / 0xD1), bad system references (0x50 with its P4),
 * writes to read-only system pages (0xBE), and copy-on-write bookkeeping. */
#include "harness.h"


static void trim_makes_transition_and_soft_fault_restores(void **state)
{
    mm_machine *m = *state;
    mm_va va = commit_user(m, 0x2000, MM_PAGE_READWRITE);
    uint32_t v = 0x1234;
    assert_ok(mm_write(m, va, &v, 4));        /* dirty */
    assert_ok(mm_read(m, va + 0x1000, &v, 4)); /* clean */
    mm_pfn dirty = pfn_of(m, va), clean = pfn_of(m, va + 0x1000);
    uint64_t trimmed;
    assert_ok(mm_working_set_trim(m, H.proc, 10, &trimmed));
    assert_int_equal(trimmed, 2);
    assert_pfn(m, dirty, 0, 0, MM_MODIFIED_PAGE_LIST);
    assert_pfn(m, clean, 0, 0, MM_STANDBY_PAGE_LIST);
    uint64_t pte = pte_of(m, NULL, va);
    assert_false(pte & 1);
    assert_true(pte & 0x800); /* transition */
    assert_int_equal((pte >> 12) & 0xFFFFFFFFF, dirty);
    assert_int_equal((pte >> 5) & 0x1F, 4); /* protection kept */
    assert_false(mm_is_address_valid(m, va));
    assert_ok(mm_read(m, va, &v, 4));
    assert_int_equal(v, 0x1234);
    assert_int_equal(pfn_of(m, va), dirty); /* the same frame came back */
    assert_pfn(m, dirty, 1, 1, MM_ACTIVE_AND_VALID);
    struct mm_pfn_info i;
    assert_ok(mm_pfn_query(m, dirty, &i));
    assert_true(i.modified);
}

/* A fresh page with v at offset, trimmed and written out: on standby.
 * Returns its frame. */
static mm_pfn page_on_standby(mm_machine *m, uint64_t v, unsigned offset, mm_va *va)
{
    *va = commit_user(m, 0x1000, MM_PAGE_READWRITE);
    assert_ok(mm_write(m, *va + offset, &v, 8));
    mm_pfn pfn = pfn_of(m, *va);
    uint64_t n;
    assert_ok(mm_working_set_trim(m, H.proc, 1, &n));
    assert_ok(mm_modified_page_writer(m, &n));
    assert_int_equal(n, 1);
    return pfn;
}

static void modified_writer_page_file_and_repurpose(void **state)
{
    mm_machine *m = *state;
    mm_va va;
    mm_pfn pfn = page_on_standby(m, 0xfeedface, 8, &va);
    assert_pfn(m, pfn, 0, 0, MM_STANDBY_PAGE_LIST);
    struct mm_pfn_info i;
    assert_ok(mm_pfn_query(m, pfn, &i));
    assert_false(i.modified);
    uint64_t slot = i.original_pte >> 32;
    assert_true(slot != 0);
    /* Use up every free page: the standby page is repurposed and its PTE
     * gets the page-file PTE back. */
    struct mm_memory_counts c;
    assert_ok(mm_memory_query(m, &c));
    mm_va big = commit_user(m, (c.available_pages + 2) * MM_PAGE_SIZE, MM_PAGE_READWRITE);
    uint64_t k = 0;
    while (pte_of(m, NULL, va) & 0x800) {
        uint8_t b = 1;
        assert_ok(mm_write(m, big + k++ * MM_PAGE_SIZE, &b, 1));
    }
    assert_int_equal(pte_of(m, NULL, va), (slot << 32) | (4u << 5));
    assert_ok(mm_memory_pressure(m));
    uint64_t back = 0;
    assert_ok(mm_read(m, va + 8, &back, 8)); /* hard fault */
    assert_int_equal(back, 0xfeedface);
    assert_ok(mm_pfn_query(m, pfn_of(m, va), &i));
    assert_int_equal(i.original_pte >> 32, slot); /* still backed by its slot */
}

/* Purging the standby list repurposes its pages at once: the PTE gets the
 * page-file PTE back, the frame goes to the free list, and the next touch
 * reads the page file. */
static void purged_standby_page_comes_back_from_the_page_file(void **state)
{
    mm_machine *m = *state;
    mm_va va;
    mm_pfn pfn = page_on_standby(m, 0x5eedf00d, 16, &va);
    uint64_t n;
    struct mm_pfn_info i;
    assert_ok(mm_pfn_query(m, pfn, &i));
    uint64_t slot = i.original_pte >> 32;
    struct mm_memory_counts before, after;
    assert_ok(mm_memory_query(m, &before));
    assert_ok(mm_purge_standby_list(m, UINT64_MAX, &n));
    assert_int_equal(n, before.list_pages[MM_STANDBY_PAGE_LIST]);
    assert_ok(mm_memory_query(m, &after));
    assert_int_equal(after.list_pages[MM_STANDBY_PAGE_LIST], 0);
    assert_int_equal(after.list_pages[MM_FREE_PAGE_LIST], before.list_pages[MM_FREE_PAGE_LIST] + n);
    assert_pfn(m, pfn, 0, 0, MM_FREE_PAGE_LIST);
    assert_int_equal(pte_of(m, NULL, va), (slot << 32) | (4u << 5));
    assert_invariants(m);
    uint64_t back = 0;
    assert_ok(mm_read(m, va + 16, &back, 8)); /* hard fault */
    assert_int_equal(back, 0x5eedf00d);
    assert_ok(mm_purge_standby_list(m, 0, &n));
    assert_int_equal(n, 0);
    assert_status(mm_purge_standby_list(NULL, 1, &n), MM_STATUS_INVALID_PARAMETER);
}

static void fault_at_dispatch_is_irql_not_less_or_equal(void **state)
{
    mm_machine *m = *state;
    mm_va pp = mm_pool_allocate(m, MM_PAGED_POOL, 0x2000, MM_POOL_TAG('P', 'a', 'g', 'e'));
    assert_true(pp != 0);
    uint8_t b = 0;
    assert_ok(mm_write(m, pp, &b, 1)); /* resident now */
    mm_irql old;
    assert_ok(mm_irql_raise(m, MM_DISPATCH_LEVEL, &old));
    assert_ok(mm_read(m, pp, &b, 1)); /* resident: a latent bug, no crash */
    expect_bugcheck(mm_read(m, pp + 0x1000, &b, 1), MM_BUGCHECK_IRQL_NOT_LESS_OR_EQUAL, pp + 0x1000);
    assert_params(MM_DISPATCH_LEVEL, 0, 0);
    assert_true(mm_machine_is_dead(m));
    assert_status(mm_read(m, pp, &b, 1), MM_STATUS_MACHINE_DEAD);
    assert_status(mm_process_create(m, "x", &H.proc), MM_STATUS_MACHINE_DEAD);
    assert_int_equal(mm_pool_allocate(m, MM_NONPAGED_POOL, 8, 1), 0);
}

static void user_address_at_dispatch_write_code(void **state)
{
    mm_machine *m = *state;
    mm_va va = commit_user(m, 0x1000, MM_PAGE_READWRITE);
    assert_ok(mm_irql_raise(m, MM_DISPATCH_LEVEL, NULL));
    uint8_t b = 1;
    expect_bugcheck(mm_write(m, va, &b, 1), MM_BUGCHECK_IRQL_NOT_LESS_OR_EQUAL, va);
    assert_params(2, 1, 0); /* IRQL 2, write */
}

static void bad_system_references(void **state)
{
    mm_machine *m = *state;
    uint8_t b;
    expect_bugcheck(mm_read(m, UINT64_C(0xFFFF800000001000), &b, 1), MM_BUGCHECK_PAGE_FAULT_IN_NONPAGED_AREA,
                    UINT64_C(0xFFFF800000001000));
    assert_params(0, 0, 2); /* read, no ip, page table not present */
}

static void freed_system_pte_is_type_zero(void **state)
{
    mm_machine *m = *state;
    mm_va np = mm_pool_allocate(m, MM_NONPAGED_POOL, 0x2000, MM_POOL_TAG('N', 'p', 'o', 'l'));
    assert_ok(mm_pool_free(m, np, 0));
    uint8_t b = 5;
    struct mm_access_request req = {.va = np + 0x10, .buffer = &b, .length = 1, .kind = MM_ACCESS_WRITE,
                                    .ip = 0xFFFFF80012345678};
    expect_bugcheck(mm_access_memory(m, &req), MM_BUGCHECK_PAGE_FAULT_IN_NONPAGED_AREA, np + 0x10);
    assert_params(2, 0xFFFFF80012345678, 0); /* write, ip, freed PTE */
    assert_true(strstr(H.bc.explanation, "freed") != NULL);
}

/* Regression: an execute fault reported 0xA in P2. From Windows 10 1507 on
 * P2 is the x64 page-fault error code: instruction fetch is bit 4 (0x10). */
static void execute_of_a_freed_page_is_0x50_with_0x10(void **state)
{
    mm_machine *m = *state;
    mm_va np = mm_pool_allocate(m, MM_NONPAGED_POOL, 0x2000, MM_POOL_TAG('N', 'p', 'o', 'l'));
    assert_ok(mm_pool_free(m, np, 0));
    struct mm_access_request req = {.va = np, .kind = MM_ACCESS_EXECUTE, .ip = np};
    expect_bugcheck(mm_access_memory(m, &req), MM_BUGCHECK_PAGE_FAULT_IN_NONPAGED_AREA, np);
    assert_params(0x10, np, 0); /* execute, ip, freed PTE */
}

/* Executing a valid no-execute page is not a missing page: 0xFC with the
 * PTE's contents, at any IRQL. */
static void execute_of_a_valid_nx_page_is_0xfc(void **state)
{
    mm_machine *m = *state;
    mm_va np = mm_pool_allocate(m, MM_NONPAGED_POOL, 0x200, MM_POOL_TAG('N', 'p', 'o', 'l'));
    struct mm_pte_walk w;
    assert_ok(mm_pte_walk(m, NULL, np, &w));
    assert_true(w.level[3].value & (UINT64_C(1) << 63)); /* nonpaged pool is NX */
    assert_ok(mm_irql_raise(m, MM_DISPATCH_LEVEL, NULL));
    struct mm_access_request req = {.va = np + 0x40, .kind = MM_ACCESS_EXECUTE, .ip = np + 0x40};
    expect_bugcheck(mm_access_memory(m, &req), MM_BUGCHECK_ATTEMPTED_EXECUTE_OF_NOEXECUTE_MEMORY, np + 0x40);
    assert_params(w.level[3].value, 0, 0);
    assert_string_equal(mm_bugcheck_name(0xFC), "ATTEMPTED_EXECUTE_OF_NOEXECUTE_MEMORY");
}

static void non_canonical_is_type_four(void **state)
{
    mm_machine *m = *state;
    uint8_t b;
    expect_bugcheck(mm_read(m, UINT64_C(0x0000900000000000), &b, 1), MM_BUGCHECK_PAGE_FAULT_IN_NONPAGED_AREA,
                    UINT64_C(0x0000900000000000));
    assert_params(0, 0, 4);
}

static void user_mode_cannot_touch_non_canonical(void **state)
{
    mm_machine *m = *state;
    uint8_t b;
    struct mm_access_request req = {.va = UINT64_C(0x0000900000000000), .buffer = &b, .length = 1,
                                    .mode = MM_USER_MODE};
    assert_status(mm_access_memory(m, &req), MM_STATUS_ACCESS_VIOLATION);
    assert_false(mm_machine_is_dead(m));
}

static void access_spanning_pages(void **state)
{
    mm_machine *m = *state;
    mm_va va = commit_user(m, 0x3000, MM_PAGE_READWRITE);
    unsigned char in[0x2100], out[0x2100];
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (unsigned char)(i * 7);
    assert_ok(mm_write(m, va + 0x800, in, sizeof in));
    assert_ok(mm_read(m, va + 0x800, out, sizeof out));
    assert_memory_equal(in, out, sizeof in);
    struct mm_process_info pi;
    assert_ok(mm_process_query(m, H.proc, &pi));
    assert_int_equal(pi.working_set_pages, 3);
}

static void invalid_requests(void **state)
{
    mm_machine *m = *state;
    assert_status(mm_read(m, 0x10000, NULL, 4), MM_STATUS_INVALID_PARAMETER);
    assert_status(mm_access_memory(m, NULL), MM_STATUS_INVALID_PARAMETER);
    struct mm_access_request wrap = {.va = UINT64_MAX - 2, .length = 8};
    assert_status(mm_access_memory(m, &wrap), MM_STATUS_INVALID_PARAMETER);
    struct mm_access_request kind = {.va = 0x10000, .kind = (mm_access)9};
    assert_status(mm_access_memory(m, &kind), MM_STATUS_INVALID_PARAMETER);
    assert_status(mm_read(NULL, 0, &kind, 1), MM_STATUS_INVALID_PARAMETER);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup_attached, teardown_machine)
        T(trim_makes_transition_and_soft_fault_restores),
        T(execute_of_a_freed_page_is_0x50_with_0x10),
        T(execute_of_a_valid_nx_page_is_0xfc),
        T(modified_writer_page_file_and_repurpose),
        T(purged_standby_page_comes_back_from_the_page_file),
        T(fault_at_dispatch_is_irql_not_less_or_equal),
        T(user_address_at_dispatch_write_code),
        T(bad_system_references),
        T(freed_system_pte_is_type_zero),
        T(non_canonical_is_type_four),
        T(user_mode_cannot_touch_non_canonical),
        T(access_spanning_pages),
        T(invalid_requests),
    };
    return cmocka_run_group_tests_name("fault", tests, NULL, NULL);
}
