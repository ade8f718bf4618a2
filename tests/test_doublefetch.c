/* tests/test_doublefetch.c — the adversarial side of a hosted machine:
 * examples/drivers/toctou checks a length in its caller's buffer and reads
 * it again to use it. Every single-threaded request passes; watching user
 * reads reports the double fetch (and not for the fixed code), flipping
 * the bytes of the second read, as a racing user thread would, shows the
 * write past the reply buffer as the bug check it is, and so does the
 * adversarial machine acting between the driver's calls. */
#include "wdk_harness.h"

#ifndef TOCTOU_DRIVER
#error "TOCTOU_DRIVER: the path of the built toctou driver"
#endif

#define IOCTL_TOCTOU_FILL 0x90002103u      /* CTL_CODE(0x9000, 0x840, METHOD_NEITHER, FILE_ANY_ACCESS) */
#define IOCTL_TOCTOU_FILL_ONCE 0x90002107u /* CTL_CODE(0x9000, 0x841, ...) */

static mmwdk_driver *driver;
static mm_process *app;
static mmwdk_file *file;
static mm_va request; /* the caller's TOCTOU_REQUEST, in app's space */

static int setup(void **state)
{
    setup_wdk_machine(state);
    if (!*state)
        return 0;
    int32_t entry = -1, status = -1;
    assert_ok(mmwdk_driver_load(TOCTOU_DRIVER, &driver, &entry));
    assert_int_equal(entry, 0);
    assert_ok(mm_process_create(H.m, "app.exe", &app));
    assert_ok(mmwdk_open_driver(app, driver, &file, &status));
    struct mm_apc_state apc;
    assert_ok(mm_process_attach(H.m, app, &apc));
    request = commit_user(H.m, MM_PAGE_SIZE, MM_PAGE_READWRITE);
    assert_ok(mm_process_detach(H.m, &apc));
    return 0;
}

static int teardown(void **state)
{
    if (*state && !mm_machine_is_dead(H.m)) {
        mmwdk_process_exit(app);
        mmwdk_driver_unload(driver, NULL);
    }
    driver = NULL;
    teardown_wdk_machine(state);
    return 0;
}

static int32_t send_fill(uint32_t code, uint32_t length, uint32_t fill)
{
    uint32_t body[2] = {length, fill};
    struct mm_apc_state apc;
    assert_ok(mm_process_attach(H.m, app, &apc));
    assert_ok(mm_write(H.m, request, body, sizeof body));
    assert_ok(mm_process_detach(H.m, &apc));
    uint64_t information = 0;
    return mmwdk_ioctl_at(file, code, request, sizeof body, 0, 0, &information);
}

static size_t double_fetches(void)
{
    struct mm_finding f[16];
    size_t n = mm_findings_read(H.m, f, 16), count = 0;
    for (size_t i = 0; i < n; i++)
        count += f[i].kind == MM_FINDING_DOUBLE_FETCH;
    return count;
}

/* Each request alone is handled right, in both versions. */
static void single_threaded_requests_pass(void **state)
{
    skip_without_host_view(state);
    for (uint32_t code = IOCTL_TOCTOU_FILL; code <= IOCTL_TOCTOU_FILL_ONCE; code += 4) {
        assert_int_equal(send_fill(code, 16, 0xAB), 0);
        assert_int_equal(send_fill(code, 256, 1), 0);
        assert_int_equal(send_fill(code, 257, 1), (int32_t)0xC000000D); /* STATUS_INVALID_PARAMETER */
        assert_int_equal(send_fill(code, 0xFFFFFFFF, 1), (int32_t)0xC000000D);
    }
    assert_false(mm_machine_is_dead(H.m));
    assert_int_equal(double_fetches(), 0);
}

/* Watching user reads names the double fetch, once per request, and not
 * the fixed code's. */
static void watch_reports_the_double_fetch(void **state)
{
    skip_without_host_view(state);
    struct mm_watch_config watch = {.flip = false};
    mm_status st = mm_machine_watch_user_reads(H.m, &watch);
    if (st == MM_STATUS_NOT_SUPPORTED)
        skip();
    assert_ok(st);
    assert_int_equal(send_fill(IOCTL_TOCTOU_FILL_ONCE, 16, 0xAB), 0);
    assert_int_equal(double_fetches(), 0);
    assert_int_equal(send_fill(IOCTL_TOCTOU_FILL, 16, 0xAB), 0);
    assert_int_equal(double_fetches(), 1);
    struct mm_finding f[16];
    size_t n = mm_findings_read(H.m, f, 16);
    assert_int_equal(f[n - 1].va, request); /* the length, read twice */
    assert_non_null(strstr(f[n - 1].text, "read at"));
    assert_int_equal(send_fill(IOCTL_TOCTOU_FILL, 32, 0xAB), 0);
    assert_int_equal(double_fetches(), 2); /* a new request, a new pair */
    assert_ok(mm_machine_watch_user_reads(H.m, NULL));
    assert_false(mm_machine_is_dead(H.m));
}

/* A user thread racing the driver: the second read sees another length,
 * and the fill runs past the 256-byte reply into pool no one mapped. */
static void flipping_shows_the_race(void **state)
{
    skip_without_host_view(state);
    struct mm_watch_config watch = {.flip = true, .seed = 1};
    mm_status st = mm_machine_watch_user_reads(H.m, &watch);
    if (st == MM_STATUS_NOT_SUPPORTED)
        skip();
    assert_ok(st);
    assert_int_equal(send_fill(IOCTL_TOCTOU_FILL_ONCE, 200, 0xAB), 0); /* the fix holds */
    assert_false(mm_machine_is_dead(H.m));
    expect_bugcheck(send_fill(IOCTL_TOCTOU_FILL, 200, 0xAB), 0x50, H.bc.p[0]);
    assert_int_equal(H.bc.code, 0x50); /* PAGE_FAULT_IN_NONPAGED_AREA: a write past the reply */
    assert_int_equal(H.bc.p[1], 2);
}

/* Sends the request again and again (fresh length each time) until the
 * machine dies or n requests have passed. */
static int fill_until_dead(uint32_t code, int n)
{
    for (int i = 0; i < n && !mm_machine_is_dead(H.m); i++)
        send_fill(code, 200, 0xAB);
    return 0;
}

/* The adversarial machine: before each routine the driver calls, a user
 * thread changes a byte of the request's buffer and another CPU trims.
 * The fixed code survives every interleaving; the double fetch does not:
 * ExAllocatePoolWithTag between its two reads is where the race lands. */
static void adversary_finds_the_race(void **state)
{
    skip_without_host_view(state);
    struct mmwdk_adversary adversary = {
        .actions = MMWDK_ADVERSARY_TRIM | MMWDK_ADVERSARY_WRITE_USER, .one_in = 1, .seed = 1};
    mmwdk_adversary(&adversary);
    fill_until_dead(IOCTL_TOCTOU_FILL_ONCE, 200);
    assert_false(mm_machine_is_dead(H.m));
    assert_true(mmwdk_adversary_acts() > 200);
    assert_invariants(H.m);
    expect_bugcheck(fill_until_dead(IOCTL_TOCTOU_FILL, 200), 0x50, H.bc.p[0]);
    assert_int_equal(H.bc.code, 0x50);
    assert_int_equal(H.bc.p[1], 2); /* the fill's write past the reply */
}

/* The user thread also re-protects and frees the request's buffer while
 * the driver works on it. The driver reads it under __try after
 * ProbeForRead, so a vanished or no-access buffer is STATUS_ACCESS_VIOLATION
 * for the caller, never a bug check. */
static void adversary_frees_and_protects_the_buffer(void **state)
{
    skip_without_host_view(state);
    struct mmwdk_adversary adversary = {
        .actions = MMWDK_ADVERSARY_PROTECT_USER | MMWDK_ADVERSARY_FREE_USER, .one_in = 1, .seed = 3};
    mmwdk_adversary(&adversary);
    int violations = 0, freed = 0, protected = 0;
    for (int i = 0; i < 100; i++) {
        struct mm_apc_state apc;
        assert_ok(mm_process_attach(H.m, app, &apc));
        mm_va buf = commit_user(H.m, MM_PAGE_SIZE, MM_PAGE_READWRITE);
        uint32_t body[2] = {200, 0xAB};
        assert_ok(mm_write(H.m, buf, body, sizeof body));
        assert_ok(mm_process_detach(H.m, &apc));
        uint64_t information = 0;
        if (mmwdk_ioctl_at(file, IOCTL_TOCTOU_FILL_ONCE, buf, sizeof body, 0, 0, &information) == (int32_t)0xC0000005)
            violations++;
        assert_false(mm_machine_is_dead(H.m));
        assert_ok(mm_process_attach(H.m, app, &apc));
        struct mm_region_info r;
        assert_ok(mm_virtual_query(H.m, NULL, buf, &r));
        if (r.state == MM_MEM_FREE) {
            freed++;
        } else {
            protected += r.protect != MM_PAGE_READWRITE;
            mm_va base = r.allocation_base;
            uint64_t size = 0;
            assert_ok(mm_virtual_free(H.m, NULL, &base, &size, MM_MEM_RELEASE));
        }
        assert_ok(mm_process_detach(H.m, &apc));
    }
    assert_true(violations > 0);
    assert_true(freed > 0);
    assert_true(protected > 0);
    assert_invariants(H.m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(single_threaded_requests_pass, setup, teardown),
        cmocka_unit_test_setup_teardown(watch_reports_the_double_fetch, setup, teardown),
        cmocka_unit_test_setup_teardown(flipping_shows_the_race, setup, teardown),
        cmocka_unit_test_setup_teardown(adversary_finds_the_race, setup, teardown),
        cmocka_unit_test_setup_teardown(adversary_frees_and_protects_the_buffer, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
