/* examples/driver-test/test_driver.c — a CMocka test of a driver routine
 * against mmsim: the good path leaves the bytes in the user's buffer and
 * nothing locked; the double unlock is caught as Windows would stop:
 * PFN_LIST_CORRUPT (0x4E) with P1 = 7 and the page's PFN in P2. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <mm/test.h>

#include "driver.h"

struct fixture {
    struct mm_catcher catcher;
    mm_machine *m;
    mm_process *app;
    struct mm_apc_state attached;
    mm_va buffer;
};

static int setup(void **state)
{
    static struct fixture f;
    f.m = mm_test_machine_create(&f.catcher, NULL);
    assert_non_null(f.m);
    assert_int_equal(mm_process_create(f.m, "app.exe", &f.app), MM_STATUS_SUCCESS);
    assert_int_equal(mm_process_attach(f.m, f.app, &f.attached), MM_STATUS_SUCCESS);
    uint64_t size = 0x1000;
    f.buffer = 0;
    assert_int_equal(mm_virtual_alloc(f.m, NULL, &f.buffer, &size, MM_MEM_RESERVE | MM_MEM_COMMIT,
                                      MM_PAGE_READWRITE), MM_STATUS_SUCCESS);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    mm_machine_destroy(f->m);
    return 0;
}

static void good_path(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(read_into_user_buffer(f->m, f->buffer, 0x100, false), MM_STATUS_SUCCESS);
    char seen[22];
    assert_int_equal(mm_read(f->m, f->buffer, seen, sizeof seen), MM_STATUS_SUCCESS);
    assert_string_equal(seen, "hello from the driver");
    struct mm_process_info info;
    assert_int_equal(mm_process_query(f->m, f->app, &info), MM_STATUS_SUCCESS);
    assert_int_equal(info.locked_pages, 0);
    char why[256];
    assert_int_equal(mm_machine_check_invariants(f->m, why, sizeof why), MM_STATUS_SUCCESS);
}

static void double_unlock_is_caught(void **state)
{
    struct fixture *f = *state;
    MM_EXPECT_BUGCHECK(&f->catcher, read_into_user_buffer(f->m, f->buffer, 0x100, true), MM_BUGCHECK_PFN_LIST_CORRUPT,
                       0x07);
    if (!f->catcher.ok)
        fail_msg("%s", f->catcher.message);
    assert_true(mm_machine_is_dead(f->m));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(good_path, setup, teardown),
        cmocka_unit_test_setup_teardown(double_unlock_is_caught, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
