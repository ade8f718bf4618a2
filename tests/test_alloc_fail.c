/* tests/test_alloc_fail.c — every create path survives the failure of its
 * Nth host allocation: it returns a clean status (or NULL where Windows
 * returns NULL), the machine's invariants still hold, and once the machine
 * is destroyed not one byte is left allocated. */
#include <stdlib.h>

#include "harness.h"
#include "failing_alloc.h"


static struct failing F;

static mm_machine *machine_with_allocator(void)
{
    struct mm_config cfg;
    harness_config(&cfg);
    cfg.allocator = failing_allocator(&F);
    cfg.snapshots = false; /* the arena is the allocator then */
    mm_machine *m = NULL;
    mm_status st = mm_machine_create(&cfg, &m);
    return st == MM_STATUS_SUCCESS ? m : NULL;
}

static void machine_create_fails_cleanly(void **state)
{
    (void)state;
    for (uint64_t n = 1;; n++) {
        F = (struct failing){.fail_at = n};
        mm_machine *m = machine_with_allocator();
        if (m) {
            assert_true(n > 5); /* there really were allocations to fail */
            mm_machine_destroy(m);
            assert_int_equal(F.live, 0);
            return;
        }
        assert_int_equal(F.live, 0);
    }
}

typedef mm_status (*operation)(mm_machine *m);

static mm_status op_process(mm_machine *m)
{
    mm_process *p = NULL;
    return mm_process_create(m, "p.exe", &p);
}

static mm_status op_pool(mm_machine *m)
{
    mm_va a = mm_pool_allocate(m, MM_NONPAGED_POOL, 100, 1);
    mm_va b = mm_pool_allocate(m, MM_PAGED_POOL, 0x5000, 1);
    if (a && b) {
        mm_status st = mm_pool_free(m, a, 0);
        return MM_SUCCESS(st) ? mm_pool_free(m, b, 0) : st;
    }
    return MM_STATUS_INSUFFICIENT_RESOURCES;
}

static mm_status op_image(mm_machine *m)
{
    struct mm_section_desc s[] = {{".text", 0x3000, MM_SECTION_CODE, "abc", 3}, {"PAGE", 0x2000, 0, NULL, 0}};
    mm_image *img = NULL;
    return mm_image_load(m, "d.sys", s, 2, &img);
}

static mm_status op_virtual(mm_machine *m)
{
    mm_process *p = NULL;
    struct mm_apc_state as;
    mm_status st = mm_process_create(m, "v.exe", &p);
    if (!MM_SUCCESS(st))
        return st;
    st = mm_process_attach(m, p, &as);
    if (!MM_SUCCESS(st))
        return st;
    for (int i = 0; i < 12 && MM_SUCCESS(st); i++) {
        mm_va base = 0;
        uint64_t size = 0x3000;
        st = mm_virtual_alloc(m, NULL, &base, &size, MM_MEM_RESERVE | MM_MEM_COMMIT, MM_PAGE_READWRITE);
        for (int k = 0; k < 3 && MM_SUCCESS(st); k++)
            st = mm_write(m, base + (uint64_t)k * 0x1000, "z", 1);
    }
    mm_process_detach(m, &as);
    return st;
}

static mm_status op_section(mm_machine *m)
{
    mm_process *p = NULL;
    struct mm_apc_state as;
    mm_section *s = NULL;
    mm_status st = mm_process_create(m, "s.exe", &p);
    if (MM_SUCCESS(st))
        st = mm_process_attach(m, p, &as);
    if (!MM_SUCCESS(st))
        return st;
    st = mm_section_create(m, 0x3000, MM_PAGE_READWRITE, &s);
    mm_va view = 0;
    if (MM_SUCCESS(st))
        st = mm_map_view_of_section(m, s, NULL, &view, MM_PAGE_WRITECOPY);
    if (MM_SUCCESS(st))
        st = mm_write(m, view + 0x1000, "c", 1); /* copy on write */
    if (MM_SUCCESS(st))
        st = mm_unmap_view_of_section(m, NULL, view);
    if (s) {
        mm_status closed = mm_section_close(m, s);
        st = MM_SUCCESS(st) ? closed : st;
    }
    mm_process_detach(m, &as);
    return st;
}

static mm_status op_invariants(mm_machine *m) { return mm_machine_check_invariants(m, NULL, 0); }

static void fail_each_allocation_of(operation op, const char *name)
{
    for (uint64_t n = 1;; n++) {
        F = (struct failing){0};
        mm_machine *m = machine_with_allocator();
        assert_non_null(m);
        F.calls = 0;
        F.fail_at = n;
        mm_status st = op(m);
        bool failed = F.calls >= n;
        F.fail_at = 0;
        if (!failed) {
            assert_ok(st);
            assert_invariants(m);
            mm_machine_destroy(m);
            assert_int_equal(F.live, 0);
            return;
        }
        if (st != MM_STATUS_SUCCESS && st != MM_STATUS_INSUFFICIENT_RESOURCES)
            fail_msg("%s with allocation %llu failing: %s", name, (unsigned long long)n, mm_status_name(st));
        assert_false(mm_machine_is_dead(m));
        assert_invariants(m);
        mm_machine_destroy(m);
        if (F.live != 0)
            fail_msg("%s with allocation %llu failing leaked %lld blocks", name, (unsigned long long)n,
                     (long long)F.live);
    }
}

static void process_create(void **state) { (void)state; fail_each_allocation_of(op_process, "process"); }
static void pool_allocate(void **state) { (void)state; fail_each_allocation_of(op_pool, "pool"); }
static void image_load(void **state) { (void)state; fail_each_allocation_of(op_image, "image"); }
static void virtual_memory(void **state) { (void)state; fail_each_allocation_of(op_virtual, "virtual"); }
static void section_views(void **state) { (void)state; fail_each_allocation_of(op_section, "section"); }
static void invariants(void **state) { (void)state; fail_each_allocation_of(op_invariants, "invariants"); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(machine_create_fails_cleanly),
        cmocka_unit_test(process_create),
        cmocka_unit_test(pool_allocate),
        cmocka_unit_test(image_load),
        cmocka_unit_test(virtual_memory),
        cmocka_unit_test(section_views),
        cmocka_unit_test(invariants),
    };
    return cmocka_run_group_tests_name("alloc_fail", tests, NULL, NULL);
}
