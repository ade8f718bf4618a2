/* tests/test_snapshot.c — mm_machine_snapshot / mm_machine_restore: what a
 * restore brings back (bytes, processes, pool, MDLs, a dead machine's life,
 * the trace, memory written by host code through the host view or paged
 * out), that a run after a restore is the run after the snapshot again, and
 * that restores do not accumulate host memory. */
#include "harness.h"

#include <stdint.h>

#include "machine.h" /* the TLB's parked pages */

#define TAG MM_POOL_TAG('S', 'n', 'a', 'p')

static mm_machine *snapshot_machine(mm_layout_kind layout)
{
    struct mm_config cfg;
    harness_config(&cfg);
    cfg.layout = layout;
    cfg.snapshots = true;
    memset(&H, 0, sizeof H);
    mm_machine *m = NULL;
    mm_status st = mm_machine_create(&cfg, &m);
    if (layout == MM_LAYOUT_HOSTED && st == MM_STATUS_NOT_SUPPORTED)
        return NULL;
    assert_ok(st);
    H.m = m;
    return m;
}

static int teardown(void **state)
{
    (void)state;
    mm_machine_destroy(H.m);
    H.m = NULL;
    return 0;
}

static void write_byte(mm_machine *m, mm_va va, uint8_t v) { assert_ok(mm_write(m, va, &v, 1)); }

static uint8_t read_byte(mm_machine *m, mm_va va)
{
    uint8_t v = 0xEE;
    assert_ok(mm_read(m, va, &v, 1));
    return v;
}

static void refusals(void **state)
{
    (void)state;
    struct mm_config cfg;
    harness_config(&cfg);
    cfg.snapshots = false;
    mm_machine *plain = harness_machine(&cfg);
    assert_status(mm_machine_snapshot(plain), MM_STATUS_NOT_SUPPORTED);
    assert_status(mm_machine_restore(plain), MM_STATUS_NOT_SUPPORTED);
    mm_machine_destroy(plain);
    assert_status(mm_machine_snapshot(NULL), MM_STATUS_INVALID_PARAMETER);
    mm_machine *m = snapshot_machine(MM_LAYOUT_WINDOWS);
    assert_status(mm_machine_restore(m), MM_STATUS_NOT_FOUND); /* nothing taken yet */
}

/* Bytes, processes, pool and counts come back; what was made since is gone. */
static void restore_brings_state_back(void **state)
{
    (void)state;
    mm_machine *m = snapshot_machine(MM_LAYOUT_WINDOWS);
    mm_process *p = attached_process(m, "app.exe", &H.apc);
    mm_va page = commit_user(m, 0x3000, MM_PAGE_READWRITE);
    write_byte(m, page, 'A');
    mm_va block = mm_pool_allocate(m, MM_NONPAGED_POOL, 100, TAG);
    write_byte(m, block, 'P');
    struct mm_memory_counts before, after;
    mm_memory_query(m, &before);
    uint64_t bytes = mm_machine_host_bytes(m), stored = mm_machine_stored_pages(m);
    uint64_t step = mm_machine_step(m);
    assert_ok(mm_machine_snapshot(m));

    write_byte(m, page, 'B');
    write_byte(m, page + 0x2000, 'C');
    write_byte(m, block, 'Q');
    assert_ok(mm_pool_free(m, block, TAG));
    for (int i = 0; i < 50; i++)
        assert_non_null((void *)(uintptr_t)mm_pool_allocate(m, MM_PAGED_POOL, 3000, TAG));
    mm_process *q = NULL;
    assert_ok(mm_process_create(m, "later.exe", &q));
    struct mm_process_info qi;
    assert_ok(mm_process_query(m, q, &qi));
    mm_va mdl = mm_io_allocate_mdl(m, page, 0x3000, false, false, 0);
    assert_ok(mm_probe_and_lock_pages(m, mdl, MM_KERNEL_MODE, MM_IO_WRITE_ACCESS));

    assert_ok(mm_machine_restore(m));
    mm_memory_query(m, &after);
    assert_memory_equal(&before, &after, sizeof before);
    assert_int_equal(mm_machine_host_bytes(m), bytes);
    assert_int_equal(mm_machine_stored_pages(m), stored);
    assert_int_equal(mm_machine_step(m), step);
    assert_invariants(m);
    assert_int_equal(read_byte(m, page), 'A');
    assert_int_equal(read_byte(m, page + 0x2000), 0); /* demand zero again */
    assert_int_equal(read_byte(m, block), 'P');
    assert_null(mm_process_by_id(m, qi.id));
    struct mm_process_info pi;
    assert_ok(mm_process_query(m, p, &pi));
    assert_int_equal(pi.locked_pages, 0);
    assert_ok(mm_pool_free(m, block, TAG)); /* the block is live again */
}

/* A bug check kills the machine; the restore brings it back alive. */
static void restore_revives_a_dead_machine(void **state)
{
    (void)state;
    mm_machine *m = snapshot_machine(MM_LAYOUT_WINDOWS);
    mm_va buf = mm_pool_allocate(m, MM_NONPAGED_POOL, 0x2000, TAG);
    assert_ok(mm_machine_snapshot(m));
    for (int round = 0; round < 3; round++) {
        mm_va mdl = mm_io_allocate_mdl(m, buf, 0x2000, false, false, 0);
        assert_ok(mm_probe_and_lock_pages(m, mdl, MM_KERNEL_MODE, MM_IO_WRITE_ACCESS));
        assert_ok(mm_unlock_pages(m, mdl));
        expect_bugcheck(mm_unlock_pages(m, mdl), 0x4E, 7);
        assert_true(mm_machine_is_dead(m));
        assert_ok(mm_machine_restore(m));
        assert_false(mm_machine_is_dead(m));
        assert_null(mm_machine_bugcheck(m));
        assert_invariants(m);
    }
}

/* The same operations after a restore give the same trace, event for
 * event, as they did after the snapshot. */
static void run_after_restore_is_the_same_run(void **state)
{
    (void)state;
    mm_machine *m = snapshot_machine(MM_LAYOUT_WINDOWS);
    attached_process(m, "app.exe", &H.apc);
    assert_ok(mm_machine_snapshot(m));
    static struct mm_trace_event first[256], again[256];
    size_t n[2];
    for (int run = 0; run < 2; run++) {
        if (run)
            assert_ok(mm_machine_restore(m));
        uint64_t start = mm_trace_count(m);
        mm_va page = commit_user(m, 0x2000, MM_PAGE_READWRITE);
        write_byte(m, page, 1);
        mm_va pool = mm_pool_allocate(m, MM_NONPAGED_POOL, 0x1800, TAG);
        mm_va mdl = mm_io_allocate_mdl(m, page, 0x2000, false, false, 0);
        assert_ok(mm_probe_and_lock_pages(m, mdl, MM_USER_MODE, MM_IO_READ_ACCESS));
        assert_ok(mm_unlock_pages(m, mdl));
        mm_io_free_mdl(m, mdl);
        assert_ok(mm_pool_free(m, pool, TAG));
        uint64_t events = mm_trace_count(m) - start;
        assert_true(events > 0 && events <= 256);
        struct mm_trace_event all[4096];
        size_t got = mm_trace_read(m, all, 4096);
        assert_true(got >= events);
        memcpy(run ? again : first, all + got - events, (size_t)events * sizeof *all);
        n[run] = (size_t)events;
    }
    assert_int_equal(n[0], n[1]);
    assert_memory_equal(first, again, n[0] * sizeof first[0]);
}

/* A page sent to the page file after the snapshot is resident again after
 * the restore, with its bytes. */
static void paged_out_since_comes_back(void **state)
{
    (void)state;
    mm_machine *m = snapshot_machine(MM_LAYOUT_WINDOWS);
    mm_process *p = attached_process(m, "app.exe", &H.apc);
    mm_va page = commit_user(m, 0x1000, MM_PAGE_READWRITE);
    write_byte(m, page, 'R');
    mm_pfn pfn = pfn_of(m, page);
    assert_ok(mm_machine_snapshot(m));
    uint64_t trimmed = 0, written = 0;
    assert_ok(mm_working_set_trim(m, p, UINT64_MAX, &trimmed));
    assert_ok(mm_modified_page_writer(m, &written));
    assert_true(trimmed > 0 && written > 0);
    assert_ok(mm_machine_restore(m));
    assert_int_equal(pfn_of(m, page), pfn);
    assert_int_equal(read_byte(m, page), 'R');
    assert_invariants(m);
}

/* Restores do not accumulate: a thousand rounds of allocation end where
 * the first did. */
static void restores_do_not_accumulate(void **state)
{
    (void)state;
    mm_machine *m = snapshot_machine(MM_LAYOUT_WINDOWS);
    assert_ok(mm_machine_snapshot(m));
    uint64_t bytes = mm_machine_host_bytes(m);
    for (int round = 0; round < 1000; round++) {
        for (int i = 0; i < 20; i++)
            mm_pool_allocate(m, i % 2 ? MM_PAGED_POOL : MM_NONPAGED_POOL, 64 + 300 * (uint64_t)i, TAG);
        mm_process *p = NULL;
        assert_ok(mm_process_create(m, "churn.exe", &p));
        assert_ok(mm_machine_restore(m));
        assert_int_equal(mm_machine_host_bytes(m), bytes);
    }
    assert_invariants(m);
}

/* Host code writes simulated memory through pointers, which the model
 * does not see write by write: the restore still puts the bytes back, for
 * a page mapped writable before the snapshot and for one first written
 * after it. */
static void host_writes_come_back(void **state)
{
    (void)state;
    mm_machine *m = snapshot_machine(MM_LAYOUT_HOSTED);
    if (!m)
        skip();
    mm_va a = mm_pool_allocate(m, MM_NONPAGED_POOL, 0x1000, TAG);
    mm_va b = mm_pool_allocate(m, MM_NONPAGED_POOL, 0x1000, TAG);
    volatile uint8_t *pa = (volatile uint8_t *)(uintptr_t)a, *pb = (volatile uint8_t *)(uintptr_t)b;
    mm_machine_enter(m);
    pa[10] = 'x'; /* writable in the host view from here on */
    assert_ok(mm_machine_snapshot(m));
    for (int round = 0; round < 3; round++) {
        mm_machine_enter(m);
        pa[10] = 'y';
        pb[20] = 'z';
        assert_int_equal(read_byte(m, a + 10), 'y');
        assert_ok(mm_machine_restore(m));
        mm_machine_enter(m);
        assert_int_equal(pa[10], 'x');
        assert_int_equal(pb[20], 0);
        assert_int_equal(read_byte(m, b + 20), 0);
    }
    assert_invariants(m);
}

/* Watching user reads is part of the machine's state: a restore brings
 * back the snapshot's setting, and the host view's user pages follow it.
 * Turned on since the snapshot: after the restore a user page is mapped
 * again on its touch (the TLB kept its translation, the host view had
 * none). Turned off since a snapshot taken while watching: after the
 * restore the pages touched since are watched again (a second read is a
 * double fetch). */
static void watching_follows_a_restore(void **state)
{
    (void)state;
    for (int on_at_snapshot = 0; on_at_snapshot < 2; on_at_snapshot++) {
        mm_machine *m = snapshot_machine(MM_LAYOUT_HOSTED);
        if (!m)
            skip();
        struct mm_watch_config watch = {.flip = false};
        if (mm_machine_watch_user_reads(m, &watch) == MM_STATUS_NOT_SUPPORTED)
            skip(); /* not an x86-64 host */
        assert_ok(mm_machine_watch_user_reads(m, on_at_snapshot ? &watch : NULL));
        attached_process(m, "app.exe", &H.apc);
        mm_va u = commit_user(m, 0x1000, MM_PAGE_READWRITE);
        write_byte(m, u, 'S');
        volatile uint8_t *pu = (volatile uint8_t *)(uintptr_t)u;
        mm_machine_enter(m);
        assert_int_equal(pu[0], 'S');
        assert_ok(mm_machine_snapshot(m));
        assert_ok(mm_machine_watch_user_reads(m, on_at_snapshot ? NULL : &watch));
        mm_machine_enter(m);
        assert_int_equal(pu[0], 'S'); /* cached in the TLB, watched or not */
        assert_ok(mm_machine_restore(m));
        mm_machine_enter(m);
        mm_machine_watch_reset(m);
        assert_int_equal(pu[0], 'S');
        assert_int_equal(pu[0], 'S');
        struct mm_finding f[4];
        size_t n = mm_findings_read(m, f, 4);
        bool double_fetch = false;
        for (size_t i = 0; i < n && i < 4; i++)
            double_fetch |= f[i].kind == MM_FINDING_DOUBLE_FETCH;
        assert_int_equal(double_fetch, on_at_snapshot); /* watched exactly when the snapshot watched */
        assert_invariants(m);
        mm_machine_destroy(m);
        H.m = NULL;
    }
}

/* mm_machine_defer_host_unmaps: a process exit after it leaves the user
 * pages' host mappings; the restore keeps the ones its tables give again
 * (their bytes rolled back all the same) and drops a page made since. */
static void deferred_unmaps_settle_at_restore(void **state)
{
    (void)state;
    mm_machine *m = snapshot_machine(MM_LAYOUT_HOSTED);
    if (!m)
        skip();
    assert_status(mm_machine_defer_host_unmaps(m), MM_STATUS_NOT_FOUND);
    mm_process *p = NULL;
    assert_ok(mm_process_create(m, "app.exe", &p));
    struct mm_apc_state apc;
    assert_ok(mm_process_attach(m, p, &apc));
    mm_va a = commit_user(m, 0x2000, MM_PAGE_READWRITE);
    volatile uint8_t *pa = (volatile uint8_t *)(uintptr_t)a;
    mm_machine_enter(m);
    pa[0] = 'a';
    pa[0x1000] = 'A';
    assert_ok(mm_machine_snapshot(m));
    for (int round = 0; round < 3; round++) {
        mm_machine_enter(m);
        pa[1] = 'b'; /* through the mapping kept from the last round */
        mm_va n = commit_user(m, 0x1000, MM_PAGE_READWRITE);
        volatile uint8_t *pn = (volatile uint8_t *)(uintptr_t)n;
        mm_machine_enter(m);
        pn[0] = 'n';
        assert_ok(mm_machine_defer_host_unmaps(m));
        struct mm_apc_state now = apc;
        assert_ok(mm_process_detach(m, &now));
        assert_ok(mm_process_terminate(m, p));
        assert_true(m->tlb.parked_count >= 2);
        assert_ok(mm_machine_restore(m));
        assert_int_equal(m->tlb.parked_count, 0);
        assert_false(m->tlb.park);
        assert_non_null(mmi_tlb_entry_of(&m->tlb, a));       /* kept: the tables give it again */
        assert_null(mmi_tlb_entry_of(&m->tlb, MM_PAGE_ALIGN(n))); /* made since: gone */
        assert_false(mm_is_address_valid(m, n));
        mm_machine_enter(m);
        assert_int_equal(pa[0], 'a');
        assert_int_equal(pa[1], 0); /* the write through the kept mapping rolled back */
        assert_int_equal(pa[0x1000], 'A');
        assert_int_equal(read_byte(m, a + 1), 0);
    }
    assert_invariants(m);
}

/* Memory of a layer on top (mm_machine_alloc, the extension) rolls back
 * with the machine. */
static void extension_rolls_back(void **state)
{
    (void)state;
    mm_machine *m = snapshot_machine(MM_LAYOUT_WINDOWS);
    int *counter = mm_machine_alloc(m, sizeof *counter);
    assert_non_null(counter);
    *counter = 1;
    assert_ok(mm_machine_set_extension(m, counter, NULL));
    assert_ok(mm_machine_snapshot(m));
    *counter = 2;
    int *later = mm_machine_alloc(m, 64);
    assert_ok(mm_machine_set_extension(m, later, NULL));
    assert_ok(mm_machine_restore(m));
    assert_ptr_equal(mm_machine_extension(m), counter);
    assert_int_equal(*counter, 1);
    mm_machine_free(m, counter);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(refusals, teardown),
        cmocka_unit_test_teardown(restore_brings_state_back, teardown),
        cmocka_unit_test_teardown(restore_revives_a_dead_machine, teardown),
        cmocka_unit_test_teardown(run_after_restore_is_the_same_run, teardown),
        cmocka_unit_test_teardown(paged_out_since_comes_back, teardown),
        cmocka_unit_test_teardown(restores_do_not_accumulate, teardown),
        cmocka_unit_test_teardown(host_writes_come_back, teardown),
        cmocka_unit_test_teardown(watching_follows_a_restore, teardown),
        cmocka_unit_test_teardown(extension_rolls_back, teardown),
        cmocka_unit_test_teardown(deferred_unmaps_settle_at_restore, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
