/* tests/test_physical.c — physical-memory DDIs: I/O-space mappings of device
 * frames, non-cached and contiguous allocations, and their misuse. */
#include "harness.h"

static void machine_boots_with_physical_state(void **state)
{
    mm_machine *m = *state;
    assert_invariants(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(machine_boots_with_physical_state, setup_machine, teardown_machine),
    };
    return cmocka_run_group_tests_name("physical", tests, NULL, NULL);
}
