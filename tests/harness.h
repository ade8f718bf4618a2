/* tests/harness.h — CMocka fixtures and domain asserts shared by the unit
 * tests: a small machine per test whose bug checks unwind into the test,
 * invariants checked in teardown, and expect_bugcheck(expr, code, p1). */
#ifndef MMSIM_TEST_HARNESS_H
#define MMSIM_TEST_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mm/mm.h"

struct harness {
    mm_machine *m;
    jmp_buf jump;
    volatile bool armed;
    bool hit;
    struct mm_bugcheck bc;
    mm_process *proc;      /* setup_attached: the process CPU 0 is attached to */
    struct mm_apc_state apc;
    /* MMSIM_TEST_SNAPSHOTS=1: the machine's state when setup took its
     * snapshot, which teardown restores and compares. */
    bool snapshot;
    struct mm_memory_counts counts;
    uint64_t host_bytes, stored, step, trace;
};

static struct harness H;

static void harness_hook(void *ctx, mm_machine *m, const struct mm_bugcheck *bc)
{
    (void)ctx;
    (void)m;
    H.bc = *bc;
    H.hit = true;
    if (H.armed) {
        H.armed = false;
        longjmp(H.jump, 1);
    }
}

static inline struct mm_layout layout_of(mm_machine *m)
{
    struct mm_layout l;
    if (mm_machine_layout(m, &l) != MM_STATUS_SUCCESS)
        fail_msg("mm_machine_layout failed");
    return l;
}

/* Where user space starts counting: 0 in the Windows layout, the hosted
 * range's base in the hosted one, so `user_base(m) + 0x12340000` is the
 * same place in both. */
static inline mm_va user_base(mm_machine *m) { return layout_of(m).lowest_user_address - 0x10000; }

/* Tests of the Windows layout's own addresses skip on hosted machines. */
#define skip_if_hosted(m)                                   \
    do {                                                    \
        if (layout_of(m).kind == MM_LAYOUT_HOSTED)          \
            skip();                                         \
    } while (0)

/* MMSIM_TEST_LAYOUT=hosted runs a suite on hosted machines. */
static inline void harness_config(struct mm_config *cfg)
{
    mm_config_default(cfg);
    cfg->physical_pages = 2048;
    cfg->pagefile_pages = 1024;
    cfg->bugcheck_hook = harness_hook;
    const char *layout = getenv("MMSIM_TEST_LAYOUT");
    if (layout && strcmp(layout, "hosted") == 0)
        cfg->layout = MM_LAYOUT_HOSTED;
    const char *snapshots = getenv("MMSIM_TEST_SNAPSHOTS");
    cfg->snapshots = snapshots && strcmp(snapshots, "1") == 0;
}

/* Under MMSIM_TEST_SNAPSHOTS=1 the fixture's machine is snapshotted at once
 * and teardown restores it, whatever the test did, and checks that it is
 * the machine it was: every suite is then a test of restore. */
static inline void harness_take_snapshot(mm_machine *m)
{
    if (mm_machine_snapshot(m) != MM_STATUS_SUCCESS)
        fail_msg("mm_machine_snapshot failed");
    H.snapshot = true;
    mm_memory_query(m, &H.counts);
    H.host_bytes = mm_machine_host_bytes(m);
    H.stored = mm_machine_stored_pages(m);
    H.step = mm_machine_step(m);
    H.trace = mm_trace_count(m);
}

static inline void harness_check_restore(mm_machine *m)
{
    if (!H.snapshot)
        return;
    mm_status st = mm_machine_restore(m);
    if (st != MM_STATUS_SUCCESS)
        fail_msg("mm_machine_restore: %s", mm_status_name(st));
    struct mm_memory_counts now;
    mm_memory_query(m, &now);
    if (memcmp(&now, &H.counts, sizeof now) != 0 || mm_machine_host_bytes(m) != H.host_bytes ||
        mm_machine_stored_pages(m) != H.stored || mm_machine_step(m) != H.step || mm_trace_count(m) != H.trace)
        fail_msg("the restored machine differs from its snapshot");
}

static inline mm_machine *harness_machine(const struct mm_config *cfg)
{
    mm_machine *m = NULL;
    mm_status st = mm_machine_create(cfg, &m);
    if (st != MM_STATUS_SUCCESS)
        fail_msg("mm_machine_create: %s", mm_status_name(st));
    if (cfg->snapshots)
        harness_take_snapshot(m);
    return m;
}

static inline int setup_machine(void **state)
{
    struct mm_config cfg;
    harness_config(&cfg);
    memset(&H, 0, sizeof H);
    H.m = harness_machine(&cfg);
    *state = H.m;
    return 0;
}

#define assert_invariants(m)                                                         \
    do {                                                                             \
        char why_[256];                                                              \
        mm_status st_ = mm_machine_check_invariants((m), why_, sizeof why_);         \
        if (st_ != MM_STATUS_SUCCESS)                                                \
            fail_msg("invariant broken: %s (%s)", why_, mm_status_name(st_));        \
    } while (0)

static inline int teardown_machine(void **state)
{
    (void)state;
    if (H.m && !mm_machine_is_dead(H.m))
        assert_invariants(H.m);
    if (H.m && H.snapshot) {
        harness_check_restore(H.m);
        assert_invariants(H.m);
    }
    mm_machine_destroy(H.m);
    H.m = NULL;
    return 0;
}

/* A hosted machine in H.m (and *state), or *state NULL where the host has
 * no host view; tests then skip with skip_without_host_view. */
static inline int setup_hosted_machine(void **state)
{
    struct mm_config cfg;
    harness_config(&cfg);
    cfg.layout = MM_LAYOUT_HOSTED;
    memset(&H, 0, sizeof H);
    mm_status st = mm_machine_create(&cfg, &H.m);
    *state = MM_SUCCESS(st) ? H.m : NULL;
    if (st != MM_STATUS_NOT_SUPPORTED && !MM_SUCCESS(st))
        fail_msg("mm_machine_create: %s", mm_status_name(st));
    if (MM_SUCCESS(st) && cfg.snapshots)
        harness_take_snapshot(H.m);
    return 0;
}

#define skip_without_host_view(state) \
    do {                              \
        if (!*(state))                \
            skip();                   \
    } while (0)

#define assert_status(expr, want)                                                              \
    do {                                                                                       \
        mm_status got_ = (expr);                                                               \
        mm_status want_ = (want);                                                              \
        if (got_ != want_)                                                                     \
            fail_msg("%s: expected %s, got %s (0x%08X)", #expr, mm_status_name(want_),         \
                     mm_status_name(got_), (unsigned)got_);                                    \
    } while (0)
#define assert_ok(expr) assert_status((expr), MM_STATUS_SUCCESS)

/* Runs expr, which must raise bug check `code` with P1 = p1. */
#define expect_bugcheck(expr, want_code, want_p1)                                                        \
    do {                                                                                       \
        H.hit = false;                                                                         \
        H.armed = true;                                                                        \
        if (setjmp(H.jump) == 0) {                                                             \
            (void)(expr);                                                                      \
            H.armed = false;                                                                   \
            fail_msg("expected bug check 0x%X (P1 0x%llx) from %s, but it returned",         \
                     (unsigned)(want_code), (unsigned long long)(want_p1), #expr);                       \
        }                                                                                      \
        if (H.bc.code != (uint32_t)(want_code) || H.bc.p[0] != (uint64_t)(want_p1))                      \
            fail_msg("%s: expected bug check 0x%X (P1 0x%llx), got 0x%X (0x%llx,0x%llx,0x%llx,0x%llx)", \
                     #expr, (unsigned)(want_code), (unsigned long long)(want_p1), H.bc.code,             \
                     (unsigned long long)H.bc.p[0], (unsigned long long)H.bc.p[1],             \
                     (unsigned long long)H.bc.p[2], (unsigned long long)H.bc.p[3]);            \
    } while (0)

#define assert_params(p2, p3, p4)                                                              \
    do {                                                                                       \
        if (H.bc.p[1] != (uint64_t)(p2) || H.bc.p[2] != (uint64_t)(p3) || H.bc.p[3] != (uint64_t)(p4)) \
            fail_msg("bug check 0x%X parameters: expected (.., 0x%llx, 0x%llx, 0x%llx), got (.., 0x%llx, 0x%llx, 0x%llx)", \
                     H.bc.code, (unsigned long long)(p2), (unsigned long long)(p3),            \
                     (unsigned long long)(p4), (unsigned long long)H.bc.p[1],                  \
                     (unsigned long long)H.bc.p[2], (unsigned long long)H.bc.p[3]);            \
    } while (0)

/* PFN state: share count, reference count and location. */
#define assert_pfn(m, pfn, share, ref, where)                                               \
    do {                                                                                       \
        struct mm_pfn_info i_;                                                                 \
        assert_ok(mm_pfn_query((m), (pfn), &i_));                                              \
        if (i_.share_count != (share) || i_.reference_count != (ref) || i_.location != (where)) \
            fail_msg("PFN 0x%llx: expected share %u ref %u %s, got share %u ref %u %s",        \
                     (unsigned long long)(pfn), (unsigned)(share), (unsigned)(ref),            \
                     mm_page_location_name(where), i_.share_count, i_.reference_count,     \
                     mm_page_location_name(i_.location));                                      \
    } while (0)

/* The PFN behind va in the current context (the PTE must be valid). */
static inline mm_pfn pfn_of(mm_machine *m, mm_va va)
{
    struct mm_pte_walk w;
    assert_ok(mm_pte_walk(m, NULL, va, &w));
    if (!w.level[3].present || !(w.level[3].value & 1))
        fail_msg("%016llx is not mapped by a valid PTE", (unsigned long long)va);
    return (w.level[3].value >> 12) & 0xFFFFFFFFFull;
}

static inline uint64_t pte_of(mm_machine *m, mm_process *p, mm_va va)
{
    struct mm_pte_walk w;
    assert_ok(mm_pte_walk(m, p, va, &w));
    return w.level[3].present ? w.level[3].value : 0;
}

static inline uint64_t list_pages(mm_machine *m, unsigned location)
{
    struct mm_memory_counts c;
    assert_ok(mm_memory_query(m, &c));
    return c.list_pages[location];
}

/* Creates a process and attaches the current CPU to it. */
static inline mm_process *attached_process(mm_machine *m, const char *name, struct mm_apc_state *st)
{
    mm_process *p = NULL;
    assert_ok(mm_process_create(m, name, &p));
    assert_ok(mm_process_attach(m, p, st));
    return p;
}

/* A machine whose CPU 0 is attached to a fresh "app.exe" (H.proc). */
static inline int setup_attached(void **state)
{
    setup_machine(state);
    H.proc = attached_process(H.m, "app.exe", &H.apc);
    return 0;
}

/* The same with Driver Verifier's standard flags on. */
static inline int setup_attached_verifier(void **state)
{
    setup_attached(state);
    assert_ok(mm_machine_set_verifier(H.m, MM_VERIFIER_STANDARD));
    return 0;
}

static inline mm_va commit_user(mm_machine *m, uint64_t bytes, uint32_t protect)
{
    mm_va base = 0;
    uint64_t size = bytes;
    assert_ok(mm_virtual_alloc(m, NULL, &base, &size, MM_MEM_RESERVE | MM_MEM_COMMIT, protect));
    return base;
}

#endif
