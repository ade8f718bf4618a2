/* tests/test_pfn.c — the PFN database: lazy population, list order and
 * counts, MiDecrementShareCount / MiDecrementReferenceCount outcomes
 * (standby, modified, free when deleted) and their bug checks (0x4E with
 * P1 7, 0x99 and 2), contents stored only once written. */
#include "harness.h"

#include "machine.h"
#include "pfn.h"

static mm_pfn mapped_user_page(mm_machine *m, mm_va *va_out)
{
    static struct mm_apc_state as;
    attached_process(m, "p.exe", &as);
    mm_va va = commit_user(m, 0x1000, MM_PAGE_READWRITE);
    assert_ok(mm_write(m, va, "data", 4));
    if (va_out)
        *va_out = va;
    return pfn_of(m, va);
}

static void fresh_machine_counts(void **state)
{
    mm_machine *m = *state;
    struct mm_memory_counts c;
    assert_ok(mm_memory_query(m, &c));
    uint64_t sum = 0;
    for (int i = 0; i < 8; i++)
        sum += c.list_pages[i];
    assert_int_equal(sum, c.physical_pages);
    assert_int_equal(c.list_pages[MM_FREE_PAGE_LIST], 0);
    assert_true(c.list_pages[MM_ACTIVE_AND_VALID] > 0); /* page tables, EPROCESS */
    struct mm_pfn_info i;
    assert_ok(mm_pfn_query(m, c.physical_pages - 1, &i)); /* never touched */
    assert_int_equal(i.location, MM_ZEROED_PAGE_LIST);
    assert_status(mm_pfn_query(m, c.physical_pages, &i), MM_STATUS_INVALID_PARAMETER);
    assert_int_equal(i.entry_address, layout_of(m).pfn_database + (c.physical_pages - 1) * 0x30);
}

static void contents_are_stored_only_once_written(void **state)
{
    mm_machine *m = *state;
    mm_va va;
    mapped_user_page(m, &va);
    uint64_t stored = mm_machine_stored_pages(m);
    mm_va zero = commit_user(m, 0x10000, MM_PAGE_READWRITE);
    uint8_t buf[64];
    for (int i = 0; i < 16; i++)
        assert_ok(mm_read(m, zero + (uint64_t)i * 0x1000, buf, sizeof buf));
    /* The 16 read demand-zero pages hold no bytes; at most a new page
     * table does. */
    assert_true(mm_machine_stored_pages(m) - stored <= 1);
    assert_ok(mm_write(m, zero + 0x3000, "y", 1));
    assert_true(mm_machine_stored_pages(m) - stored <= 2);
}

static void share_count_to_zero_goes_to_standby_or_modified(void **state)
{
    mm_machine *m = *state;
    mm_pfn pfn = mapped_user_page(m, NULL);
    struct mmi_pfn *e = mmi_pfn(m, pfn);
    e->reference_count++; /* a lock, as an MDL would take */
    uint64_t trimmed;
    assert_ok(mm_working_set_trim(m, mm_process_current(m), 8, &trimmed));
    assert_int_equal(trimmed, 0); /* locked pages are not trimmed */
    e->reference_count--;
    assert_ok(mm_working_set_trim(m, mm_process_current(m), 8, &trimmed));
    assert_int_equal(trimmed, 1);
    assert_pfn(m, pfn, 0, 0, MM_MODIFIED_PAGE_LIST);
}

static void extra_dereference_of_mapped_page_is_4e_07(void **state)
{
    mm_machine *m = *state;
    mm_pfn pfn = mapped_user_page(m, NULL);
    /* What an unmatched MmUnlockPages does: drop a reference nobody took. */
    expect_bugcheck(mmi_pfn_ref_dec(m, pfn), MM_BUGCHECK_PFN_LIST_CORRUPT, 0x07);
    assert_params(pfn, 1, 0);
    assert_true(H.bc.history_count > 0);
    char report[4096];
    mm_bugcheck_format(&H.bc, report, sizeof report);
    char first[128];
    snprintf(first, sizeof first, "*** STOP: 0x0000004E (0x0000000000000007,0x%016llX,0x0000000000000001,0x0000000000000000)\nPFN_LIST_CORRUPT\n",
             (unsigned long long)pfn);
    assert_true(strncmp(report, first, strlen(first)) == 0);
}

static void share_decrement_of_free_page_is_4e_99(void **state)
{
    mm_machine *m = *state;
    mm_va va;
    mm_pfn pfn = mapped_user_page(m, &va);
    mm_va base = va;
    uint64_t size = 0x1000;
    assert_ok(mm_virtual_free(m, NULL, &base, &size, MM_MEM_DECOMMIT));
    assert_pfn(m, pfn, 0, 0, MM_FREE_PAGE_LIST);
    expect_bugcheck(mmi_pfn_share_dec(m, pfn), MM_BUGCHECK_PFN_LIST_CORRUPT, 0x99);
    assert_params(pfn, MM_FREE_PAGE_LIST, 0);
}

static void reference_underflow_is_4e_02(void **state)
{
    mm_machine *m = *state;
    mm_va va;
    mm_pfn pfn = mapped_user_page(m, &va);
    mm_va base = va;
    uint64_t size = 0x1000;
    assert_ok(mm_virtual_free(m, NULL, &base, &size, MM_MEM_DECOMMIT));
    expect_bugcheck(mmi_pfn_ref_dec(m, pfn), MM_BUGCHECK_PFN_LIST_CORRUPT, 0x02);
    assert_params(pfn, m->pfn.pages - 1, 0);
}

static void locked_page_outlives_its_mapping(void **state)
{
    mm_machine *m = *state;
    mm_va va;
    mm_pfn pfn = mapped_user_page(m, &va);
    mmi_pfn_ref_inc(m, pfn); /* locked */
    mm_va base = va;
    uint64_t size = 0x1000;
    assert_ok(mm_virtual_free(m, NULL, &base, &size, MM_MEM_DECOMMIT));
    /* Unmapped but still referenced: in transition, not reusable. */
    assert_pfn(m, pfn, 0, 1, MM_TRANSITION_PAGE);
    struct mm_pfn_info i;
    assert_ok(mm_pfn_query(m, pfn, &i));
    assert_true(i.deleted);
    assert_invariants(m);
    assert_ok(mmi_pfn_ref_dec(m, pfn)); /* the unlock */
    assert_pfn(m, pfn, 0, 0, MM_FREE_PAGE_LIST);
}

static void lists_are_fifo_for_reuse(void **state)
{
    mm_machine *m = *state;
    mm_va a = mm_pool_allocate(m, MM_NONPAGED_POOL, 0x1000, 1);
    mm_va b = mm_pool_allocate(m, MM_NONPAGED_POOL, 0x1000, 1);
    mm_pfn pa = pfn_of(m, a), pb = pfn_of(m, b);
    assert_ok(mm_pool_free(m, a, 0));
    assert_ok(mm_pool_free(m, b, 0));
    mm_va c = mm_pool_allocate(m, MM_NONPAGED_POOL, 0x1000, 1);
    mm_va d = mm_pool_allocate(m, MM_NONPAGED_POOL, 0x1000, 1);
    assert_int_equal(pfn_of(m, c), pa);
    assert_int_equal(pfn_of(m, d), pb);
}

/* !pfn's flink and blink: the list neighbours of a free page, the
 * working-set place of an active one. */
static void query_shows_list_links(void **state)
{
    mm_machine *m = *state;
    mm_va a = mm_pool_allocate(m, MM_NONPAGED_POOL, 0x1000, 1);
    mm_va b = mm_pool_allocate(m, MM_NONPAGED_POOL, 0x1000, 1);
    mm_pfn pa = pfn_of(m, a), pb = pfn_of(m, b);
    struct mm_pfn_info i;
    assert_ok(mm_pfn_query(m, pa, &i));
    assert_int_equal(i.blink, 0);
    assert_ok(mm_pool_free(m, a, 0));
    assert_ok(mm_pool_free(m, b, 0));
    assert_ok(mm_pfn_query(m, pa, &i));
    assert_int_equal(i.location, MM_FREE_PAGE_LIST);
    assert_int_equal(i.flink, pb); /* freed in order: a, then b at the tail */
    struct mm_pfn_info j;
    assert_ok(mm_pfn_query(m, pb, &j));
    assert_int_equal(j.blink, pa);
    assert_int_equal(j.flink, MM_PFN_NONE);
    mm_va va;
    mm_pfn user = mapped_user_page(m, &va);
    assert_ok(mm_pfn_query(m, user, &i));
    assert_true(i.flink >= 1); /* in its process's working set */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup_machine, teardown_machine)
        T(fresh_machine_counts),
        T(contents_are_stored_only_once_written),
        T(share_count_to_zero_goes_to_standby_or_modified),
        T(extra_dereference_of_mapped_page_is_4e_07),
        T(share_decrement_of_free_page_is_4e_99),
        T(reference_underflow_is_4e_02),
        T(locked_page_outlives_its_mapping),
        T(lists_are_fifo_for_reuse),
        T(query_shows_list_links),
    };
    return cmocka_run_group_tests_name("pfn", tests, NULL, NULL);
}
