/* tests/test_invariants.c — mm_machine_check_invariants must notice every
 * kind of corruption it claims to check: each case breaks one rule through
 * the internals and expects the checker to name it. */
#include "harness.h"

#include "machine.h"
#include "pfn.h"
#include "process.h"
#include "pte.h"

static mm_pfn user_page(mm_machine *m, mm_va *va)
{
    static struct mm_apc_state as;
    attached_process(m, "p.exe", &as);
    *va = commit_user(m, 0x1000, MM_PAGE_READWRITE);
    assert_ok(mm_write(m, *va, "x", 1));
    return pfn_of(m, *va);
}

#define expect_broken(m, fragment)                                                    \
    do {                                                                              \
        char why_[256];                                                               \
        assert_status(mm_machine_check_invariants((m), why_, sizeof why_), MM_STATUS_UNSUCCESSFUL); \
        if (!strstr(why_, (fragment)))                                                \
            fail_msg("expected a complaint about \"%s\", got \"%s\"", (fragment), why_); \
    } while (0)

static void share_count_mismatch(void **state)
{
    mm_machine *m = *state;
    mm_va va;
    mm_pfn pfn = user_page(m, &va);
    assert_invariants(m);
    mmi_pfn(m, pfn)->share_count = 2;
    expect_broken(m, "valid PTEs map it");
    mmi_pfn(m, pfn)->share_count = 1;
}

static void list_count_mismatch(void **state)
{
    mm_machine *m = *state;
    mm_va b = mm_pool_allocate(m, MM_NONPAGED_POOL, 8, 1);
    assert_ok(mm_pool_free(m, b, 0));
    m->pfn.list[MM_FREE_PAGE_LIST].count++;
    expect_broken(m, "Free list");
    m->pfn.list[MM_FREE_PAGE_LIST].count--;
}

static void listed_page_with_references(void **state)
{
    mm_machine *m = *state;
    mm_va b = mm_pool_allocate(m, MM_NONPAGED_POOL, 0x1000, 1); /* its own page, freed with it */
    mm_pfn pfn = pfn_of(m, b);
    assert_ok(mm_pool_free(m, b, 0));
    mmi_pfn(m, pfn)->reference_count = 1;
    expect_broken(m, "reference count 1");
    mmi_pfn(m, pfn)->reference_count = 0;
}

static void page_table_share_count(void **state)
{
    mm_machine *m = *state;
    mm_va va;
    user_page(m, &va);
    struct mm_pte_walk w;
    assert_ok(mm_pte_walk(m, NULL, va, &w));
    mmi_pfn(m, w.level[3].table_pfn)->share_count++;
    expect_broken(m, "valid or transition entries");
    mmi_pfn(m, w.level[3].table_pfn)->share_count--;
}

static void broken_back_pointer(void **state)
{
    mm_machine *m = *state;
    mm_va va;
    mm_pfn pfn = user_page(m, &va);
    mmi_pfn(m, pfn)->pte_address += 8;
    expect_broken(m, "point back");
    mmi_pfn(m, pfn)->pte_address -= 8;
}

static void commit_accounting(void **state)
{
    mm_machine *m = *state;
    m->commit_charge++;
    expect_broken(m, "commit charge");
    m->commit_charge--;
}

static void negative_locked_pages(void **state)
{
    mm_machine *m = *state;
    mm_va va;
    user_page(m, &va);
    struct mm_process *p = mm_process_current(m);
    p->locked_pages = -1;
    expect_broken(m, "locked pages");
    p->locked_pages = 0;
}

static void working_set_entry(void **state)
{
    mm_machine *m = *state;
    mm_va va;
    mm_pfn pfn = user_page(m, &va);
    struct mm_process *p = mm_process_current(m);
    p->ws.e[0].va += 0x1000;
    expect_broken(m, "working-set entry");
    p->ws.e[0].va -= 0x1000;
    (void)pfn;
}

static void null_machine(void **state)
{
    (void)state;
    assert_status(mm_machine_check_invariants(NULL, NULL, 0), MM_STATUS_INVALID_PARAMETER);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup_machine, teardown_machine)
        T(share_count_mismatch),
        T(list_count_mismatch),
        T(listed_page_with_references),
        T(page_table_share_count),
        T(broken_back_pointer),
        T(commit_accounting),
        T(negative_locked_pages),
        T(working_set_entry),
        cmocka_unit_test(null_machine),
    };
    return cmocka_run_group_tests_name("invariants", tests, NULL, NULL);
}
