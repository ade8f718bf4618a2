/* tests/test_machine.c — machine creation and its limits, lazy PFN database
 * (64 GiB costs what it touches), IRQL rules (0x9, 0x0A), CPUs, verifier
 * switching, a dead machine refusing calls, and determinism. */
#define _POSIX_C_SOURCE 200809L
#include "harness.h"

#include "layout.h"
#include "machine.h" /* the operation context */

#include <fcntl.h>
#include <unistd.h>

static void config_is_validated(void **state)
{
    (void)state;
    struct mm_config cfg;
    mm_machine *m = (mm_machine *)1;
    assert_status(mm_machine_create(NULL, &m), MM_STATUS_INVALID_PARAMETER);
    harness_config(&cfg);
    assert_status(mm_machine_create(&cfg, NULL), MM_STATUS_INVALID_PARAMETER);
    struct mm_config bad[6];
    for (int i = 0; i < 6; i++)
        bad[i] = cfg;
    bad[0].physical_pages = 10;
    bad[1].physical_pages = UINT64_C(1) << 40;
    bad[2].cpu_count = 0;
    bad[3].cpu_count = 65;
    bad[4].trace_capacity = 1000;
    bad[5].system_ptes = 1;
    for (int i = 0; i < 6; i++) {
        assert_status(mm_machine_create(&bad[i], &m), MM_STATUS_INVALID_PARAMETER);
        assert_null(m);
    }
    mm_machine_destroy(NULL);
}

static void sixty_four_gib_is_cheap(void **state)
{
    (void)state;
    struct mm_config cfg;
    harness_config(&cfg);
    cfg.physical_pages = UINT64_C(64) << 18; /* 64 GiB */
    mm_machine *big = harness_machine(&cfg);
    struct mm_memory_counts c;
    assert_ok(mm_memory_query(big, &c));
    assert_int_equal(c.physical_pages, UINT64_C(64) << 18);
    assert_true(c.list_pages[MM_ZEROED_PAGE_LIST] > c.physical_pages - 64);
    /* Bookkeeping stays small: chunk tables, not 16 M PFN entries. */
    assert_true(mm_machine_host_bytes(big) < 4u << 20);
    struct mm_apc_state s;
    mm_process *p = NULL;
    assert_ok(mm_process_create(big, "big.exe", &p));
    assert_ok(mm_process_attach(big, p, &s));
    mm_va va = 0;
    uint64_t size = UINT64_C(8) << 30; /* 8 GiB committed */
    assert_ok(mm_virtual_alloc(big, NULL, &va, &size, MM_MEM_RESERVE | MM_MEM_COMMIT, MM_PAGE_READWRITE));
    assert_ok(mm_write(big, va + (UINT64_C(7) << 30), "far", 3));
    char out[4] = {0};
    assert_ok(mm_read(big, va + (UINT64_C(7) << 30), out, 3));
    assert_string_equal(out, "far");
    assert_true(mm_machine_stored_pages(big) < 64);
    assert_invariants(big);
    assert_ok(mm_process_detach(big, &s));
    mm_machine_destroy(big);
}

static void irql_rules(void **state)
{
    mm_machine *m = *state;
    mm_irql old = 99;
    assert_int_equal(mm_irql_current(m), MM_PASSIVE_LEVEL);
    assert_ok(mm_irql_raise(m, MM_APC_LEVEL, &old));
    assert_int_equal(old, MM_PASSIVE_LEVEL);
    assert_ok(mm_irql_raise(m, MM_DISPATCH_LEVEL, &old));
    assert_int_equal(old, MM_APC_LEVEL);
    assert_status(mm_irql_raise(m, 16, &old), MM_STATUS_INVALID_PARAMETER);
    assert_ok(mm_cpu_set_current(m, 1));
    assert_int_equal(mm_irql_current(m), MM_PASSIVE_LEVEL); /* per CPU */
    assert_ok(mm_cpu_set_current(m, 0));
    assert_status(mm_cpu_set_current(m, 2), MM_STATUS_INVALID_PARAMETER);
    assert_int_equal(mm_cpu_count(m), 2);
    assert_ok(mm_irql_lower(m, MM_PASSIVE_LEVEL));
    assert_int_equal(mm_irql_current(m), MM_PASSIVE_LEVEL);
}

static void raising_to_lower_irql_is_0x9(void **state)
{
    mm_machine *m = *state;
    assert_ok(mm_irql_raise(m, MM_DISPATCH_LEVEL, NULL));
    expect_bugcheck(mm_irql_raise(m, MM_APC_LEVEL, NULL), MM_BUGCHECK_IRQL_NOT_GREATER_OR_EQUAL, MM_DISPATCH_LEVEL);
    assert_params(MM_APC_LEVEL, 0, 0);
}

static void lowering_to_higher_irql_is_0xa(void **state)
{
    mm_machine *m = *state;
    expect_bugcheck(mm_irql_lower(m, MM_DISPATCH_LEVEL), MM_BUGCHECK_IRQL_NOT_LESS_OR_EQUAL, 0);
    assert_params(MM_PASSIVE_LEVEL, 0, 0);
}

/* Under Verifier the same mistakes are its automatic checks: 0xC4/0x30
 * for KeRaiseIrql, 0xC4/0x31 for KeLowerIrql (IRQL, requested IRQL, 0),
 * also for a level above HIGH_LEVEL, which without Verifier is refused. */
static void raising_to_lower_irql_with_verifier_is_0xc4_30(void **state)
{
    mm_machine *m = *state;
    assert_ok(mm_machine_set_verifier(m, MM_VERIFIER_STANDARD));
    assert_ok(mm_irql_raise(m, MM_DISPATCH_LEVEL, NULL));
    expect_bugcheck(mm_irql_raise(m, MM_APC_LEVEL, NULL), MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0x30);
    assert_params(MM_DISPATCH_LEVEL, MM_APC_LEVEL, 0);
}

static void raising_above_high_level_with_verifier_is_0xc4_30(void **state)
{
    mm_machine *m = *state;
    assert_status(mm_irql_raise(m, 16, NULL), MM_STATUS_INVALID_PARAMETER);
    assert_ok(mm_machine_set_verifier(m, MM_VERIFIER_STANDARD));
    expect_bugcheck(mm_irql_raise(m, 16, NULL), MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0x30);
    assert_params(MM_PASSIVE_LEVEL, 16, 0);
}

static void lowering_to_higher_irql_with_verifier_is_0xc4_31(void **state)
{
    mm_machine *m = *state;
    assert_ok(mm_machine_set_verifier(m, MM_VERIFIER_STANDARD));
    assert_ok(mm_irql_raise(m, MM_APC_LEVEL, NULL));
    expect_bugcheck(mm_irql_lower(m, MM_DISPATCH_LEVEL), MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0x31);
    assert_params(MM_APC_LEVEL, MM_DISPATCH_LEVEL, 0);
}

static void dead_machine_refuses_everything(void **state)
{
    mm_machine *m = *state;
    assert_null(mm_machine_bugcheck(m));
    assert_ok(mm_irql_raise(m, MM_DISPATCH_LEVEL, NULL));
    expect_bugcheck(mm_irql_raise(m, 0, NULL), MM_BUGCHECK_IRQL_NOT_GREATER_OR_EQUAL, 2);
    const struct mm_bugcheck *bc = mm_machine_bugcheck(m);
    assert_non_null(bc);
    assert_int_equal(bc->code, 0x9);
    assert_string_equal(bc->operation, "KeRaiseIrql");
    mm_process *p = NULL;
    assert_status(mm_process_create(m, "x", &p), MM_STATUS_MACHINE_DEAD);
    assert_status(mm_irql_lower(m, 0), MM_STATUS_MACHINE_DEAD);
    assert_status(mm_write(m, layout_of(m).paged_pool, "x", 1), MM_STATUS_MACHINE_DEAD);
    assert_status(mm_machine_set_verifier(m, 0), MM_STATUS_MACHINE_DEAD);
    mm_va b = 0;
    uint64_t s = 1;
    assert_status(mm_virtual_alloc(m, NULL, &b, &s, MM_MEM_COMMIT, MM_PAGE_READWRITE), MM_STATUS_MACHINE_DEAD);
    assert_false(mm_is_address_valid(m, layout_of(m).paged_pool));
    /* Queries still answer, for post-mortem views. */
    struct mm_memory_counts c;
    assert_ok(mm_memory_query(m, &c));
}

static void returning_hook_makes_calls_fail_cleanly(void **state)
{
    (void)state;
    struct mm_config cfg;
    harness_config(&cfg);
    mm_machine *m = harness_machine(&cfg);
    H.armed = false; /* the hook records and returns */
    assert_status(mm_irql_lower(m, 5), MM_STATUS_MACHINE_DEAD);
    assert_int_equal(H.bc.code, 0xA);
    assert_true(mm_machine_is_dead(m));
    mm_machine_destroy(m);
}

static void record_trace(void *ctx, const struct mm_trace_event *ev)
{
    uint64_t *h = ctx;
    *h = (*h ^ (ev->type + 31 * ev->va + 17 * ev->pfn + 7 * ev->a + 3 * ev->b + ev->step)) * 1099511628211u;
}

static uint64_t run_workload(uint64_t seed)
{
    struct mm_config cfg;
    harness_config(&cfg);
    uint64_t hash = 1469598103934665603u;
    cfg.seed = seed;
    cfg.trace_hook = record_trace;
    cfg.trace_ctx = &hash;
    mm_machine *m = harness_machine(&cfg);
    struct mm_apc_state s;
    attached_process(m, "w.exe", &s);
    mm_va va = commit_user(m, 0x20000, MM_PAGE_READWRITE);
    for (int i = 0; i < 32; i++)
        assert_ok(mm_write(m, va + (uint64_t)i * 0x1000, &i, sizeof i));
    mm_va pool = mm_pool_allocate(m, MM_PAGED_POOL, 0x3000, 0x1234);
    assert_ok(mm_write(m, pool + 0x2000, "p", 1));
    assert_ok(mm_memory_pressure(m));
    int v;
    assert_ok(mm_read(m, va + 5 * 0x1000, &v, sizeof v));
    assert_int_equal(v, 5);
    assert_true(mm_trace_count(m) > 100);
    mm_machine_destroy(m);
    return hash;
}

/* trace_capacity 0: no ring, nothing recorded, the same model underneath;
 * a bug check still carries its code and parameters, with no history. */
static void no_trace_records_nothing(void **state)
{
    (void)state;
    struct mm_config cfg;
    harness_config(&cfg);
    cfg.trace_capacity = 0;
    mm_machine *m = harness_machine(&cfg);
    mm_va pool = mm_pool_allocate(m, MM_NONPAGED_POOL, 0x2000, 0x1234);
    mm_va mdl = mm_io_allocate_mdl(m, pool, 0x2000, false, false, 0);
    assert_ok(mm_build_mdl_for_nonpaged_pool(m, mdl));
    assert_int_equal(mm_trace_count(m), 0);
    struct mm_trace_event ev;
    assert_int_equal(mm_trace_read(m, &ev, 1), 0);
    assert_ok(mm_io_free_mdl(m, mdl));
    assert_ok(mm_pool_free(m, pool, 0x1234));
    expect_bugcheck(mm_pool_free(m, pool, 0x1234), MM_BUGCHECK_BAD_POOL_CALLER, 0x07);
    assert_int_equal(H.bc.history_count, 0);
    assert_int_equal(mm_trace_count(m), 0);
    mm_machine_destroy(m);
}

/* A DDI's per-page events are kept as one run in the ring: read back, they
 * are the very events a hook sees one by one, wherever the ring's edge
 * cuts a run. */
struct event_log {
    struct mm_trace_event ev[4096];
    size_t n;
};

static void log_event(void *ctx, const struct mm_trace_event *ev)
{
    struct event_log *log = ctx;
    log->ev[log->n++ % 4096] = *ev;
}

static void mdl_lifecycles(mm_machine *m)
{
    mm_va buf = mm_pool_allocate(m, MM_NONPAGED_POOL, 600 * MM_PAGE_SIZE, 0x1234);
    assert_true(buf != 0);
    static const uint32_t pages[] = {1, 3, 64, 600, 2};
    for (size_t i = 0; i < sizeof pages / sizeof pages[0]; i++) {
        mm_va mdl = mm_io_allocate_mdl(m, buf, pages[i] * MM_PAGE_SIZE, false, false, 0);
        assert_ok(mm_probe_and_lock_pages(m, mdl, MM_KERNEL_MODE, MM_IO_WRITE_ACCESS));
        mm_va va = mm_map_locked_pages_specify_cache(m, mdl, MM_KERNEL_MODE, MM_CACHED, 0, false,
                                                     MM_NORMAL_PAGE_PRIORITY, NULL);
        assert_true(va != 0);
        assert_ok(mm_unmap_locked_pages(m, va, mdl));
        assert_ok(mm_unlock_pages(m, mdl));
        assert_ok(mm_io_free_mdl(m, mdl));
    }
}

static void runs_read_back_as_their_events(void **state)
{
    (void)state;
    static struct event_log hooked;
    static struct mm_trace_event ring[4096];
    static const uint32_t capacities[] = {16, 64, 1024, 4096};
    for (size_t c = 0; c < sizeof capacities / sizeof capacities[0]; c++) {
        struct mm_config cfg;
        harness_config(&cfg);
        cfg.trace_capacity = capacities[c];
        hooked.n = 0;
        cfg.trace_hook = log_event;
        cfg.trace_ctx = &hooked;
        mm_machine *with_hook = harness_machine(&cfg);
        mdl_lifecycles(with_hook);
        mm_machine_destroy(with_hook); /* a hosted machine's addresses repeat for the next one */
        cfg.trace_hook = NULL;
        mm_machine *m = harness_machine(&cfg);
        mdl_lifecycles(m);
        assert_int_equal(mm_trace_count(m), hooked.n);
        size_t n = mm_trace_read(m, ring, 4096);
        assert_int_equal(n, capacities[c]);
        for (size_t i = 0; i < n; i++) {
            const struct mm_trace_event *want = &hooked.ev[(hooked.n - n + i) % 4096];
            assert_memory_equal(&ring[i], want, sizeof ring[i]);
        }
        mm_machine_destroy(m);
    }
}

static void same_inputs_same_trace(void **state)
{
    (void)state;
    uint64_t a = run_workload(42), b = run_workload(42);
    assert_int_equal(a, b);
}

/* Regression: with the standard descriptors closed, the memory file took
 * fd 1 and every printf landed in simulated page tables. The library's
 * descriptors stay at 3 or above, so 0-2 are still free afterwards. */
static void closed_stdio_is_not_reused(void **state)
{
    (void)state;
    fflush(stdout);
    fflush(stderr);
    int saved[3];
    for (int fd = 0; fd < 3; fd++) {
        saved[fd] = fcntl(fd, F_DUPFD_CLOEXEC, 10);
        assert_true(saved[fd] >= 10);
        close(fd);
    }
    struct mm_config cfg;
    harness_config(&cfg);
    mm_machine *m = NULL;
    mm_status st = mm_machine_create(&cfg, &m);
    int reopened[3];
    for (int fd = 0; fd < 3; fd++)
        reopened[fd] = open("/dev/null", O_RDWR);
    for (int fd = 0; fd < 3; fd++) {
        dup2(saved[fd], fd);
        close(saved[fd]);
    }
    assert_ok(st);
    for (int fd = 0; fd < 3; fd++) {
        assert_int_equal(reopened[fd], fd); /* the machine took none of 0-2 */
        if (reopened[fd] > 2)
            close(reopened[fd]);
    }
    assert_invariants(m);
    mm_machine_destroy(m);
}

/* Regression: reading the findings of a machine that has none passed NULL
 * to memcpy (UBSan), as `!findings` on a script's first line did. */
static void no_findings_read_as_none(void **state)
{
    mm_machine *m = *state;
    struct mm_finding f[2];
    assert_int_equal(mm_findings_read(m, f, 2), 0);
    assert_int_equal(mm_findings_count(m), 0);
}

/* Host memory follows what the machine holds: committing, writing and
 * freeing 1 MiB over and over reuses the same frames instead of touching
 * new ones (regression: the host grew to the whole simulated RAM). */
static void churn_reuses_frames(void **state)
{
    (void)state;
    struct mm_config cfg;
    harness_config(&cfg);
    cfg.physical_pages = UINT64_C(1) << 18; /* 1 GiB */
    mm_machine *m = harness_machine(&cfg);
    uint64_t after_first = 0;
    for (int round = 0; round < 64; round++) {
        mm_va base = 0;
        uint64_t size = 1u << 20;
        assert_ok(mm_virtual_alloc(m, NULL, &base, &size, MM_MEM_RESERVE | MM_MEM_COMMIT, MM_PAGE_READWRITE));
        for (uint64_t off = 0; off < size; off += MM_PAGE_SIZE)
            assert_ok(mm_write(m, base + off, "x", 1));
        size = 0;
        assert_ok(mm_virtual_free(m, NULL, &base, &size, MM_MEM_RELEASE));
        if (round == 0)
            after_first = mm_machine_stored_pages(m);
    }
    assert_true(after_first >= 256);
    assert_true(mm_machine_stored_pages(m) <= after_first + 16);
    assert_invariants(m);
    mm_machine_destroy(m);
}

/* The operation context: a DDI run inside another names itself while it
 * runs, the caller's name comes back after, and the next public call starts
 * afresh however deep the last one was left (a bug check unwinds nothing). */
static void operation_context_nests(void **state)
{
    mm_machine *m = *state;
    mmi_op_begin(m, "IofCompleteRequest");
    mmi_op_enter(m, "MmUnlockPages");
    assert_string_equal(m->op, "MmUnlockPages");
    mmi_op_exit(m);
    assert_string_equal(m->op, "IofCompleteRequest");
    for (unsigned i = 0; i < MMI_OP_DEPTH + 3; i++) /* deeper than kept: the names past the limit are lost */
        mmi_op_enter(m, i < MMI_OP_DEPTH - 1 ? "inner" : "deepest");
    for (unsigned i = 0; i < MMI_OP_DEPTH + 3; i++)
        mmi_op_exit(m);
    assert_string_equal(m->op, "IofCompleteRequest");
    mmi_op_exit(m); /* never below the public call */
    assert_string_equal(m->op, "IofCompleteRequest");
    mmi_op_enter(m, "left open");
    mm_va b = mm_pool_allocate(m, MM_NONPAGED_POOL, 16, 1);
    assert_string_equal(m->op, "ExAllocatePoolWithTag");
    assert_int_equal(mmi_cpu(m)->op_depth, 1);
    assert_ok(mm_pool_free(m, b, 0));
}

/* A DDI another runs inside names itself in the bug check: the I/O
 * manager's completion unlocking an MDL the driver already unlocked. */
static void nested_bugcheck_names_the_inner_ddi(void **state)
{
    mm_machine *m = *state;
    struct mm_apc_state apc;
    attached_process(m, "app.exe", &apc);
    mm_va buf = commit_user(m, 0x1000, MM_PAGE_READWRITE);
    mm_va irp = mm_io_allocate_irp(m);
    mm_va mdl = mm_io_allocate_mdl(m, buf, 0x1000, false, false, irp);
    assert_ok(mm_probe_and_lock_pages(m, mdl, MM_USER_MODE, MM_IO_WRITE_ACCESS));
    assert_ok(mm_unlock_pages(m, mdl));
    expect_bugcheck(mm_io_complete_request(m, irp), MM_BUGCHECK_PFN_LIST_CORRUPT, 0x07);
    assert_string_equal(H.bc.operation, "MmUnlockPages");
}

/* The default layout is Windows x64's, and the model's addresses follow it. */
static void windows_layout_by_default(void **state)
{
    mm_machine *m = *state;
    skip_if_hosted(m);
    struct mm_layout l;
    assert_ok(mm_machine_layout(m, &l));
    assert_int_equal(l.kind, MM_LAYOUT_WINDOWS);
    assert_int_equal(l.highest_user_address, 0x7FFFFFFEFFFF);
    assert_int_equal(l.user_probe_address, 0x7FFFFFFF0000);
    assert_int_equal(l.system_range_start, 0xFFFF800000000000);
    assert_int_equal(l.system_ptes, MM_SYSTEM_PTE_START);
    assert_int_equal(l.paged_pool, MM_PAGED_POOL_START);
    mm_va np = mm_pool_allocate(m, MM_NONPAGED_POOL, 0x1000, 1);
    assert_true(np >= l.nonpaged_pool && np < l.system_end);
    assert_status(mm_machine_layout(m, NULL), MM_STATUS_INVALID_PARAMETER);
}

/* The hosted layout: user space, then system space, each region on a 1 GiB
 * boundary and big enough for the configuration, all in the low half. */
static void hosted_layout_regions(void **state)
{
    (void)state;
    struct mm_config cfg;
    mm_config_default(&cfg);
    mm_va base = UINT64_C(0x7F0000000000);
    uint64_t bytes = mmi_layout_hosted_bytes(&cfg);
    struct mm_layout l;
    mmi_layout_hosted(&cfg, base, &l);
    assert_int_equal(l.kind, MM_LAYOUT_HOSTED);
    assert_int_equal(l.lowest_user_address, base + 0x10000);
    assert_int_equal(l.system_range_start, base + MMI_HOSTED_USER_BYTES);
    assert_int_equal(l.user_probe_address, l.system_range_start - 0x10000);
    assert_int_equal(l.highest_user_address, l.user_probe_address - 1);
    assert_true(l.highest_vad_address < l.highest_user_address);
    const mm_va order[] = {l.system_range_start, l.driver_images, l.system_ptes, l.paged_pool, l.pfn_database,
                           l.nonpaged_pool, l.system_end};
    for (size_t i = 1; i < sizeof order / sizeof order[0]; i++) {
        assert_true(order[i] >= order[i - 1]);
        assert_int_equal(order[i] % MMI_HOSTED_ALIGN, 0);
    }
    assert_true(l.system_ptes - l.driver_images >= MMI_IMAGE_VA_PAGES * MM_PAGE_SIZE);
    assert_true(l.pfn_database - l.paged_pool >= mmi_pool_va_pages(&cfg) * MM_PAGE_SIZE);
    assert_true(l.system_end - l.nonpaged_pool >= mmi_pool_va_pages(&cfg) * MM_PAGE_SIZE);
    assert_int_equal(l.system_end, base + bytes);
    assert_true(l.system_end <= UINT64_C(0x800000000000));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(config_is_validated),
        cmocka_unit_test_setup_teardown(windows_layout_by_default, setup_machine, teardown_machine),
        cmocka_unit_test(hosted_layout_regions),
        cmocka_unit_test_setup_teardown(operation_context_nests, setup_machine, teardown_machine),
        cmocka_unit_test_setup_teardown(nested_bugcheck_names_the_inner_ddi, setup_machine, teardown_machine),
        cmocka_unit_test(sixty_four_gib_is_cheap),
        cmocka_unit_test(closed_stdio_is_not_reused),
        cmocka_unit_test(churn_reuses_frames),
        cmocka_unit_test_setup_teardown(no_findings_read_as_none, setup_machine, teardown_machine),
        cmocka_unit_test_setup_teardown(irql_rules, setup_machine, teardown_machine),
        cmocka_unit_test_setup_teardown(raising_to_lower_irql_is_0x9, setup_machine, teardown_machine),
        cmocka_unit_test_setup_teardown(lowering_to_higher_irql_is_0xa, setup_machine, teardown_machine),
        cmocka_unit_test_setup_teardown(raising_to_lower_irql_with_verifier_is_0xc4_30, setup_machine,
                                        teardown_machine),
        cmocka_unit_test_setup_teardown(raising_above_high_level_with_verifier_is_0xc4_30, setup_machine,
                                        teardown_machine),
        cmocka_unit_test_setup_teardown(lowering_to_higher_irql_with_verifier_is_0xc4_31, setup_machine,
                                        teardown_machine),
        cmocka_unit_test_setup_teardown(dead_machine_refuses_everything, setup_machine, teardown_machine),
        cmocka_unit_test(returning_hook_makes_calls_fail_cleanly),
        cmocka_unit_test(same_inputs_same_trace),
        cmocka_unit_test(runs_read_back_as_their_events),
        cmocka_unit_test(no_trace_records_nothing),
    };
    return cmocka_run_group_tests_name("machine", tests, NULL, NULL);
}
