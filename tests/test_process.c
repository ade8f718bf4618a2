/* tests/test_process.c — process objects: creation (its own top table with
 * the shared system half and the self-map), EPROCESS in nonpaged pool,
 * attach/detach with KeStackAttachProcess rules (0x5, 0x6), termination and
 * the locked-page check (0x76), and handles from elsewhere. */
#include "harness.h"

#include "process.h" /* internal: to set NumberOfLockedPages before MDLs exist */

/* Two fresh processes, a.exe and b.exe. */
static void two_processes(mm_machine *m, mm_process **a, mm_process **b)
{
    assert_ok(mm_process_create(m, "a.exe", a));
    assert_ok(mm_process_create(m, "b.exe", b));
}

/* The address of p's EPROCESS block, as the 0x5 and 0x6 parameters give it. */
static uint64_t eprocess_of(mm_machine *m, mm_process *p)
{
    struct mm_process_info info;
    assert_ok(mm_process_query(m, p, &info));
    return info.eprocess;
}

static void create_gives_own_address_space(void **state)
{
    mm_machine *m = *state;
    mm_process *a = NULL, *b = NULL;
    two_processes(m, &a, &b);
    struct mm_process_info ia, ib, is;
    assert_ok(mm_process_query(m, a, &ia));
    assert_ok(mm_process_query(m, b, &ib));
    assert_ok(mm_process_query(m, mm_process_system(m), &is));
    assert_int_equal(is.id, MM_SYSTEM_PROCESS_ID);
    assert_string_equal(ia.name, "a.exe");
    assert_int_equal(ib.id, ia.id + 4);
    assert_true(ia.directory_table_base != ib.directory_table_base);
    struct mm_pool_block_info pb;
    assert_ok(mm_pool_query(m, ia.eprocess, &pb));
    assert_int_equal(pb.tag, MM_POOL_TAG('P', 'r', 'o', 'c'));
    assert_ptr_equal(mm_process_by_id(m, ib.id), b);
    assert_ptr_equal(mm_process_next(m, NULL), mm_process_system(m));
    /* Same user address, different frames, different contents. */
    struct mm_apc_state s;
    mm_va va = user_base(m) + 0x400000;
    uint64_t size = 0x1000;
    assert_ok(mm_virtual_alloc(m, a, &va, &size, MM_MEM_RESERVE | MM_MEM_COMMIT, MM_PAGE_READWRITE));
    assert_ok(mm_virtual_alloc(m, b, &va, &size, MM_MEM_RESERVE | MM_MEM_COMMIT, MM_PAGE_READWRITE));
    assert_ok(mm_process_attach(m, a, &s));
    assert_ok(mm_write(m, va, "A", 1));
    mm_pfn pa = pfn_of(m, va);
    assert_ok(mm_process_detach(m, &s));
    assert_ok(mm_process_attach(m, b, &s));
    char c = 0;
    assert_ok(mm_read(m, va, &c, 1));
    assert_int_equal(c, 0);
    assert_true(pfn_of(m, va) != pa);
    struct mm_pfn_info pi;
    assert_ok(mm_pfn_query(m, pa, &pi));
    assert_int_equal(pi.owner_process_id, ia.id);
    assert_ok(mm_process_detach(m, &s));
}

static void self_map_and_shared_system_half(void **state)
{
    mm_machine *m = *state;
    mm_process *a = NULL;
    assert_ok(mm_process_create(m, "a.exe", &a));
    struct mm_process_info ia;
    assert_ok(mm_process_query(m, a, &ia));
    struct mm_pte_walk wa, ws;
    assert_ok(mm_pte_walk(m, a, layout_of(m).paged_pool, &wa));
    assert_ok(mm_pte_walk(m, mm_process_system(m), layout_of(m).paged_pool, &ws));
    assert_int_equal(wa.level[0].value, ws.level[0].value);
    /* The PXE of the self-map slot maps the top table itself. */
    struct mm_pte_walk self;
    assert_ok(mm_pte_walk(m, a, MM_PTE_BASE, &self));
    assert_int_equal(self.level[0].entry_address, MM_PXE_BASE + 0x1ED * 8);
    assert_int_equal((self.level[0].value >> 12) & 0xFFFFFFFFF, ia.directory_table_base);
    /* In the hosted layout system space shares no top-level slot of its own. */
    unsigned shared = layout_of(m).kind == MM_LAYOUT_HOSTED ? 0 : 3; /* the PXEs of the three system slots */
    assert_pfn(m, ia.directory_table_base, 1 + shared, 1, MM_ACTIVE_AND_VALID);
}

static void attach_detach_and_nesting(void **state)
{
    mm_machine *m = *state;
    mm_process *a = NULL, *b = NULL;
    two_processes(m, &a, &b);
    struct mm_apc_state s1, s2;
    assert_ptr_equal(mm_process_current(m), mm_process_system(m));
    assert_ok(mm_process_attach(m, a, &s1));
    assert_ok(mm_process_attach(m, b, &s2));
    assert_ptr_equal(mm_process_current(m), b);
    assert_ok(mm_process_detach(m, &s2));
    assert_ptr_equal(mm_process_current(m), a);
    assert_ok(mm_process_detach(m, &s1));
    assert_ptr_equal(mm_process_current(m), mm_process_system(m));
    /* Another CPU keeps its own context. */
    assert_ok(mm_cpu_set_current(m, 1));
    assert_ok(mm_process_attach(m, a, &s1));
    assert_ok(mm_cpu_set_current(m, 0));
    assert_ptr_equal(mm_process_current(m), mm_process_system(m));
    assert_status(mm_process_terminate(m, a), MM_STATUS_INVALID_DEVICE_STATE);
    assert_ok(mm_cpu_set_current(m, 1));
    assert_ok(mm_process_detach(m, &s1));
    assert_ok(mm_process_terminate(m, a));
}

static void detach_out_of_order_is_0x6(void **state)
{
    mm_machine *m = *state;
    mm_process *a = NULL, *b = NULL;
    two_processes(m, &a, &b);
    struct mm_apc_state s1, s2;
    assert_ok(mm_process_attach(m, a, &s1));
    assert_ok(mm_process_attach(m, b, &s2));
    expect_bugcheck(mm_process_detach(m, &s1), MM_BUGCHECK_INVALID_PROCESS_DETACH_ATTEMPT, eprocess_of(m, a));
}

static void attach_at_dispatch_is_0x5(void **state)
{
    mm_machine *m = *state;
    mm_process *a = NULL;
    assert_ok(mm_process_create(m, "a.exe", &a));
    uint64_t ea = eprocess_of(m, a), es = eprocess_of(m, mm_process_system(m));
    assert_ok(mm_irql_raise(m, MM_DISPATCH_LEVEL, NULL));
    struct mm_apc_state s;
    expect_bugcheck(mm_process_attach(m, a, &s), MM_BUGCHECK_INVALID_PROCESS_ATTACH_ATTEMPT, ea);
    assert_params(es, 0, 1); /* ApcStateIndex 0 (not attached), "a DPC is running" */
}

/* Attached already (ApcStateIndex 1), then again at DISPATCH_LEVEL. */
static void attach_while_attached_at_dispatch_is_0x5(void **state)
{
    mm_machine *m = *state;
    mm_process *a = NULL, *b = NULL;
    two_processes(m, &a, &b);
    uint64_t ea = eprocess_of(m, a), eb = eprocess_of(m, b);
    struct mm_apc_state s1, s2;
    assert_ok(mm_process_attach(m, a, &s1));
    assert_ok(mm_irql_raise(m, MM_DISPATCH_LEVEL, NULL));
    expect_bugcheck(mm_process_attach(m, b, &s2), MM_BUGCHECK_INVALID_PROCESS_ATTACH_ATTEMPT, eb);
    assert_params(ea, 1, 1);
}

static void exit_with_locked_pages_is_0x76(void **state)
{
    mm_machine *m = *state;
    mm_process *a = NULL;
    assert_ok(mm_process_create(m, "leaky.exe", &a));
    struct mm_process_info ia;
    assert_ok(mm_process_query(m, a, &ia));
    a->locked_pages = 3; /* what a leaked, locked user MDL leaves behind */
    expect_bugcheck(mm_process_terminate(m, a), MM_BUGCHECK_PROCESS_HAS_LOCKED_PAGES, 0);
    assert_params(ia.eprocess, 3, 0);
    assert_true(strstr(H.bc.explanation, "leaky.exe") != NULL);
}

static void terminate_rules(void **state)
{
    mm_machine *m = *state;
    assert_status(mm_process_terminate(m, mm_process_system(m)), MM_STATUS_ACCESS_DENIED);
    mm_process *a = NULL;
    assert_ok(mm_process_create(m, "a.exe", &a));
    assert_ok(mm_process_terminate(m, a));
    assert_status(mm_process_terminate(m, a), MM_STATUS_PROCESS_IS_TERMINATING);
    struct mm_apc_state s;
    assert_status(mm_process_attach(m, a, &s), MM_STATUS_PROCESS_IS_TERMINATING);
    struct mm_process_info ia;
    assert_ok(mm_process_query(m, a, &ia));
    assert_true(ia.terminated);
    assert_status(mm_process_create(m, NULL, &a), MM_STATUS_INVALID_PARAMETER);
    assert_status(mm_process_create(m, "x", NULL), MM_STATUS_INVALID_PARAMETER);
    assert_ok(mm_irql_raise(m, MM_DISPATCH_LEVEL, NULL));
    expect_bugcheck(mm_process_create(m, "late.exe", &a), MM_BUGCHECK_IRQL_NOT_LESS_OR_EQUAL, 0);
}

static void handles_from_another_machine_are_refused(void **state)
{
    mm_machine *m = *state;
    struct mm_config cfg;
    harness_config(&cfg);
    mm_machine *other = harness_machine(&cfg);
    mm_process *foreign = NULL;
    assert_ok(mm_process_create(other, "elsewhere.exe", &foreign));
    struct mm_apc_state s;
    assert_status(mm_process_attach(m, foreign, &s), MM_STATUS_INVALID_HANDLE);
    assert_status(mm_process_terminate(m, foreign), MM_STATUS_INVALID_HANDLE);
    struct mm_process_info i;
    assert_status(mm_process_query(m, foreign, &i), MM_STATUS_INVALID_HANDLE);
    int garbage[64] = {0};
    assert_status(mm_process_terminate(m, (mm_process *)garbage), MM_STATUS_INVALID_HANDLE);
    struct mm_apc_state forged = {0};
    expect_bugcheck(mm_process_detach(m, &forged), MM_BUGCHECK_INVALID_PROCESS_DETACH_ATTEMPT, 0);
    mm_machine_destroy(other);
}

/* Lock and unlock a user buffer in process p (attached), one page. */
static void lock_unlock_once(mm_machine *m, mm_process *p)
{
    struct mm_apc_state s;
    assert_ok(mm_process_attach(m, p, &s));
    mm_va buf = commit_user(m, 0x1000, MM_PAGE_READWRITE);
    mm_va mdl = mm_io_allocate_mdl(m, buf, 0x1000, false, false, 0);
    assert_true(mdl != 0);
    assert_ok(mm_probe_and_lock_pages(m, mdl, MM_USER_MODE, MM_IO_WRITE_ACCESS));
    assert_ok(mm_unlock_pages(m, mdl));
    assert_ok(mm_io_free_mdl(m, mdl));
    assert_ok(mm_process_detach(m, &s));
}

/* Regression: the second process got the first one's EPROCESS address and
 * MmUnlockPages credited the dead process, so the live one exited with 0x76. */
static void reused_eprocess_names_the_live_process(void **state)
{
    mm_machine *m = *state;
    mm_process *a = NULL, *b = NULL;
    assert_ok(mm_process_create(m, "first.exe", &a));
    lock_unlock_once(m, a);
    struct mm_process_info ia, ib;
    assert_ok(mm_process_query(m, a, &ia));
    assert_ok(mm_process_terminate(m, a));
    assert_ok(mm_process_create(m, "second.exe", &b));
    assert_ok(mm_process_query(m, b, &ib));
    assert_int_equal(ib.eprocess, ia.eprocess); /* the pool block was reused */
    assert_int_not_equal(ib.id, ia.id);
    lock_unlock_once(m, b);
    assert_ok(mm_process_query(m, a, &ia));
    assert_ok(mm_process_query(m, b, &ib));
    assert_int_equal(ia.locked_pages, 0);
    assert_int_equal(ib.locked_pages, 0);
    assert_invariants(m);
    assert_ok(mm_process_terminate(m, b));
    assert_true(mm_process_by_id(m, ia.id) == a);
    assert_true(mm_process_by_id(m, ib.id) == b);
}

/* Regression: mm_process_vads read the VADs of a process handle from a
 * destroyed machine (freed memory) or from another machine. */
static void vads_refuse_foreign_and_stale_handles(void **state)
{
    mm_machine *m = *state;
    struct mm_config cfg;
    harness_config(&cfg);
    mm_machine *other = harness_machine(&cfg);
    mm_process *foreign = NULL;
    assert_ok(mm_process_create(other, "elsewhere.exe", &foreign));
    struct mm_apc_state s;
    assert_ok(mm_process_attach(other, foreign, &s));
    commit_user(other, 0x1000, MM_PAGE_READWRITE);
    assert_ok(mm_process_detach(other, &s));
    struct mm_vad_info v[4];
    assert_int_equal(mm_process_vads(other, foreign, v, 4), 1);
    assert_int_equal(mm_process_vads(m, foreign, v, 4), 0);
    mm_machine_destroy(other);
    assert_int_equal(mm_process_vads(m, foreign, v, 4), 0);
    assert_int_equal(mm_process_vads(m, NULL, v, 4), 0);
}

/* Regression (found by the API fuzzer): a driver's stale pointer freed a
 * process's EPROCESS block, the next process got the same address, and the
 * host read freed memory at teardown. Freeing a block the kernel owns stops
 * at the free. */
static void driver_freeing_an_eprocess(void **state)
{
    mm_machine *m = *state;
    /* A block on a page of its own (as Special Pool gives; 0xFF0 bytes end
     * the page right after its header), freed: the EPROCESS, which owns
     * its page too, gets the same address. */
    assert_ok(mm_machine_set_verifier(m, MM_VERIFIER_SPECIAL_POOL));
    mm_va block = mm_pool_allocate(m, MM_NONPAGED_POOL, 0xFF0, MM_POOL_TAG('F', 'u', 'z', 'z'));
    assert_ok(mm_pool_free(m, block, 0));
    assert_ok(mm_machine_set_verifier(m, 0));
    mm_process *p = NULL;
    assert_ok(mm_process_create(m, "a.exe", &p));
    struct mm_process_info pi;
    assert_ok(mm_process_query(m, p, &pi));
    assert_int_equal(pi.eprocess, block); /* the EPROCESS reused the freed block */
    expect_bugcheck(mm_pool_free(m, block, 0), MM_BUGCHECK_BAD_POOL_CALLER, 0x99);
    assert_params(block, 0, 0);
}

static void driver_freeing_an_eprocess_verifier(void **state)
{
    mm_machine *m = *state;
    assert_ok(mm_machine_set_verifier(m, MM_VERIFIER_STANDARD));
    mm_process *p = NULL;
    assert_ok(mm_process_create(m, "a.exe", &p));
    struct mm_process_info pi;
    assert_ok(mm_process_query(m, p, &pi));
    expect_bugcheck(mm_pool_free(m, pi.eprocess, 0), MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0x10);
    assert_params(pi.eprocess, 0, 0);
}

static void close_forgets_an_exited_process(void **state)
{
    mm_machine *m = *state;
    mm_process *a = NULL, *b = NULL, *c = NULL;
    two_processes(m, &a, &b);
    assert_ok(mm_process_create(m, "c.exe", &c));
    struct mm_process_info ib;
    assert_ok(mm_process_query(m, b, &ib));
    /* Only an exited process, not the System process, not an attached one. */
    assert_int_equal(mm_process_close(m, b), MM_STATUS_INVALID_DEVICE_STATE);
    assert_int_equal(mm_process_close(m, mm_process_system(m)), MM_STATUS_ACCESS_DENIED);
    assert_ok(mm_process_terminate(m, b));
    assert_ok(mm_process_close(m, b));
    assert_int_equal(mm_process_query(m, b, &ib), MM_STATUS_INVALID_HANDLE);
    assert_int_equal(mm_process_close(m, b), MM_STATUS_INVALID_HANDLE);
    assert_null(mm_process_by_id(m, ib.id));
    /* The creation-order list skips it, in both directions of the unlink. */
    mm_process *seen[4] = {0};
    int n = 0;
    for (mm_process *q = mm_process_next(m, NULL); q && n < 4; q = mm_process_next(m, q))
        seen[n++] = q;
    assert_int_equal(n, 3);
    assert_ptr_equal(seen[1], a);
    assert_ptr_equal(seen[2], c);
    /* Closing the last one in the list, then creating again, keeps it whole. */
    assert_ok(mm_process_terminate(m, c));
    assert_ok(mm_process_close(m, c));
    mm_process *d = NULL;
    assert_ok(mm_process_create(m, "d.exe", &d));
    assert_ptr_equal(mm_process_next(m, a), d);
    assert_null(mm_process_next(m, d));
    assert_invariants(m);
}

/* !vad's Level: the depth of each VAD in the balanced tree. */
static void vads_report_their_tree_level(void **state)
{
    mm_machine *m = *state;
    struct mm_apc_state apc;
    mm_process *p = attached_process(m, "vads.exe", &apc);
    for (int i = 0; i < 7; i++)
        commit_user(m, 0x1000, MM_PAGE_READWRITE);
    struct mm_vad_info v[16];
    size_t n = mm_process_vads(m, p, v, 16);
    assert_true(n >= 7);
    unsigned roots = 0, deepest = 0;
    for (size_t i = 0; i < n && i < 16; i++) {
        roots += v[i].level == 0;
        deepest = v[i].level > deepest ? v[i].level : deepest;
    }
    assert_int_equal(roots, 1);
    assert_true(deepest >= 2 && deepest <= 4); /* balanced: 7+ nodes, at most 1.44 log2 n deep */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup_machine, teardown_machine)
        T(create_gives_own_address_space),
        T(self_map_and_shared_system_half),
        T(attach_detach_and_nesting),
        T(detach_out_of_order_is_0x6),
        T(attach_at_dispatch_is_0x5),
        T(attach_while_attached_at_dispatch_is_0x5),
        T(exit_with_locked_pages_is_0x76),
        T(terminate_rules),
        T(handles_from_another_machine_are_refused),
        T(reused_eprocess_names_the_live_process),
        T(vads_refuse_foreign_and_stale_handles),
        T(driver_freeing_an_eprocess),
        T(driver_freeing_an_eprocess_verifier),
        T(close_forgets_an_exited_process),
        T(vads_report_their_tree_level),
    };
    return cmocka_run_group_tests_name("process", tests, NULL, NULL);
}
