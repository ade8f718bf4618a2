/* tests/test_hosted.c — the hosted layout through real pointers: the VA the
 * model hands out is a host pointer, the same frame seen at a user and a
 * system VA is the same bytes, and a touch Windows refuses lands in the
 * bug check Windows raises, at the faulting instruction. Skipped where the
 * host has no host view (no memory file, pages other than 4 KiB). */
#include "harness.h"

#include <stdint.h>

#define TAG MM_POOL_TAG('H', 'o', 's', 't')

static void *ptr(mm_va va) { return (void *)(uintptr_t)va; }

/* Reads and writes through a pointer, as driver code does; volatile so the
 * compiler keeps each access where the test puts it. */
static uint32_t load(mm_va va) { return *(volatile uint32_t *)ptr(va); }
static int store(mm_va va, uint32_t v)
{
    *(volatile uint32_t *)ptr(va) = v;
    return 0;
}

/* MEM_RELEASE of the reservation at base, in the current process. */
static void release_user(mm_machine *m, mm_va base)
{
    uint64_t size = 0;
    assert_ok(mm_virtual_free(m, NULL, &base, &size, MM_MEM_RELEASE));
}

/* A user page holding `value`, locked by an MDL (in *mdl) and mapped again
 * in `mode`: the mapping. */
static mm_va locked_user_page(mm_machine *m, uint32_t value, mm_mode mode, mm_va *user, mm_va *mdl)
{
    *user = commit_user(m, 0x1000, MM_PAGE_READWRITE);
    store(*user, value);
    *mdl = mm_io_allocate_mdl(m, *user, 0x1000, false, false, 0);
    assert_ok(mm_probe_and_lock_pages(m, *mdl, MM_USER_MODE, MM_IO_WRITE_ACCESS));
    return mm_map_locked_pages_specify_cache(m, *mdl, mode, MM_CACHED, 0, false, MM_NORMAL_PAGE_PRIORITY, NULL);
}

static int setup_hosted(void **state)
{
    struct mm_config cfg;
    harness_config(&cfg);
    cfg.layout = MM_LAYOUT_HOSTED;
    memset(&H, 0, sizeof H);
    assert_ok(mm_machine_create(&cfg, &H.m));
    *state = H.m;
    H.proc = attached_process(H.m, "app.exe", &H.apc);
    return 0;
}

static int teardown_hosted(void **state)
{
    if (*state)
        teardown_machine(state);
    return 0;
}

/* The layout's comparisons hold for the pointers drivers get. */
static void pointers_lie_in_their_ranges(void **state)
{
    mm_machine *m = *state;
    struct mm_layout l;
    assert_ok(mm_machine_layout(m, &l));
    assert_int_equal(l.kind, MM_LAYOUT_HOSTED);
    mm_va pool = mm_pool_allocate(m, MM_NONPAGED_POOL, 64, TAG);
    mm_va user = commit_user(m, 0x1000, MM_PAGE_READWRITE);
    assert_true(pool >= l.system_range_start && pool < l.system_end);
    assert_true(user >= l.lowest_user_address && user <= l.highest_user_address);
    assert_true(user < l.system_range_start);
}

/* A pool block written through its pointer holds those bytes for the model,
 * and the model's writes show through the pointer. */
static void pool_is_host_memory(void **state)
{
    mm_machine *m = *state;
    mm_va p = mm_pool_allocate(m, MM_NONPAGED_POOL, 64, TAG);
    store(p, 0x12345678);
    uint32_t seen = 0;
    assert_ok(mm_read(m, p, &seen, sizeof seen));
    assert_int_equal(seen, 0x12345678);
    uint32_t v = 0xCAFEF00D;
    assert_ok(mm_write(m, p + 8, &v, sizeof v));
    assert_int_equal(load(p + 8), 0xCAFEF00D);
    memcpy(ptr(p + 16), "hosted", 7); /* any host code, not only our helpers */
    assert_string_equal((const char *)ptr(p + 16), "hosted");
    assert_invariants(m);
}

/* A demand-zero user page is made on first touch, from host code. */
static void user_page_faults_in_on_touch(void **state)
{
    mm_machine *m = *state;
    mm_va u = commit_user(m, 0x3000, MM_PAGE_READWRITE);
    assert_int_equal(load(u + 0x1000), 0);
    store(u + 0x2000, 7);
    assert_int_equal(load(u + 0x2000), 7);
    struct mm_process_info pi;
    assert_ok(mm_process_query(m, H.proc, &pi));
    assert_true(pi.working_set_pages >= 2);
}

/* Bytes host code wrote are the frame's contents for the model too: freed
 * and reused, the frame is zeroed before anyone sees it again (a new
 * demand-zero page reads zeros, a new page table holds no stale entries). */
static void host_writes_are_zeroed_before_reuse(void **state)
{
    mm_machine *m = *state;
    for (int round = 0; round < 8; round++) {
        mm_va u = commit_user(m, 0x4000, MM_PAGE_READWRITE);
        for (unsigned i = 0; i < 4; i++) {
            assert_int_equal(load(u + i * 0x1000 + 0x40), 0);
            memset(ptr(u + i * 0x1000), 0xEE, 0x1000);
        }
        uint32_t seen = 0;
        assert_ok(mm_read(m, u + 0x2000, &seen, sizeof seen));
        assert_int_equal(seen, 0xEEEEEEEE);
        release_user(m, u);
        assert_invariants(m);
    }
}

/* One frame, two VAs: a user buffer locked and mapped in system space is
 * the same bytes both ways. */
static void user_and_system_views_alias(void **state)
{
    mm_machine *m = *state;
    mm_va u = commit_user(m, 0x2000, MM_PAGE_READWRITE);
    mm_va mdl = mm_io_allocate_mdl(m, u, 0x2000, false, false, 0);
    assert_ok(mm_probe_and_lock_pages(m, mdl, MM_USER_MODE, MM_IO_WRITE_ACCESS));
    mm_va s = mm_map_locked_pages_specify_cache(m, mdl, MM_KERNEL_MODE, MM_CACHED, 0, false,
                                                MM_NORMAL_PAGE_PRIORITY, NULL);
    assert_true(s != 0);
    store(u + 0x1004, 0xA5A5A5A5);
    assert_int_equal(load(s + 0x1004), 0xA5A5A5A5);
    store(s, 0x5A5A5A5A);
    assert_int_equal(load(u), 0x5A5A5A5A);
    assert_ok(mm_unmap_locked_pages(m, s, mdl));
    assert_ok(mm_unlock_pages(m, mdl));
    assert_ok(mm_io_free_mdl(m, mdl));
}

/* A page of nonpaged pool (in *buf), described by an MDL (in *mdl) and
 * mapped again in system space with `priority`: the mapping. */
static mm_va pool_page_mapped(mm_machine *m, uint32_t priority, mm_va *buf, mm_va *mdl)
{
    *buf = mm_pool_allocate(m, MM_NONPAGED_POOL, 0x1000, TAG);
    *mdl = mm_io_allocate_mdl(m, *buf, 0x1000, false, false, 0);
    assert_ok(mm_build_mdl_for_nonpaged_pool(m, *mdl));
    return mm_map_locked_pages_specify_cache(m, *mdl, MM_KERNEL_MODE, MM_CACHED, 0, false, priority, NULL);
}

/* Touching a system VA after MmUnmapLockedPages faults as on Windows. */
static void touch_after_unmap_is_0x50(void **state)
{
    mm_machine *m = *state;
    mm_va buf, mdl;
    mm_va s = pool_page_mapped(m, MM_NORMAL_PAGE_PRIORITY, &buf, &mdl);
    store(s, 1);
    assert_int_equal(load(buf), 1);
    assert_ok(mm_unmap_locked_pages(m, s, mdl));
    expect_bugcheck(load(s), MM_BUGCHECK_PAGE_FAULT_IN_NONPAGED_AREA, s);
    assert_int_equal(H.bc.p[1], 0); /* a read */
    assert_true(H.bc.p[2] != 0);    /* the instruction address the host reported */
}

/* A system mapping's VA is handed out again: the host must show the frame
 * the new mapping gives, with its rights, and refuse every access once it
 * is unmapped again, whether the frame is the same as last time (the host
 * wakes the page it kept without rights, docs/hosted.md) or another. */
static void system_va_mapped_again(void **state)
{
    mm_machine *m = *state;
    mm_va a = mm_pool_allocate(m, MM_NONPAGED_POOL, 0x1000, TAG), b = mm_pool_allocate(m, MM_NONPAGED_POOL, 0x1000, TAG);
    store(a, 0xAAAA);
    store(b, 0xBBBB);
    mm_va mdl_a = mm_io_allocate_mdl(m, a, 0x1000, false, false, 0), mdl_b = mm_io_allocate_mdl(m, b, 0x1000, false, false, 0);
    assert_ok(mm_build_mdl_for_nonpaged_pool(m, mdl_a));
    assert_ok(mm_build_mdl_for_nonpaged_pool(m, mdl_b));
    mm_va first = 0;
    for (int round = 0; round < 6; round++) {
        mm_va mdl = round % 3 == 2 ? mdl_b : mdl_a, buf = round % 3 == 2 ? b : a;
        mm_va s = mm_map_locked_pages_specify_cache(m, mdl, MM_KERNEL_MODE, MM_CACHED, 0, false,
                                                    MM_NORMAL_PAGE_PRIORITY, NULL);
        if (!first)
            first = s;
        assert_int_equal(s, first); /* the same system PTE each time */
        assert_int_equal(load(s), load(buf));
        store(s, (uint32_t)(0x1000 + round)); /* writable, and the same bytes as the buffer */
        assert_int_equal(load(buf), 0x1000 + round);
        assert_ok(mm_unmap_locked_pages(m, s, mdl));
    }
    mm_va s = mm_map_locked_pages_specify_cache(m, mdl_a, MM_KERNEL_MODE, MM_CACHED, 0, false,
                                                MM_NORMAL_PAGE_PRIORITY | MM_MDL_MAPPING_NO_WRITE, NULL);
    assert_int_equal(s, first);
    assert_int_equal(load(s), load(a));
    expect_bugcheck(store(s, 1), MM_BUGCHECK_ATTEMPTED_WRITE_TO_READONLY_MEMORY, s); /* woken read-only */
}

/* Touching it after the unmap faults, however often it was mapped before. */
static void touch_after_second_unmap_is_0x50(void **state)
{
    mm_machine *m = *state;
    mm_va buf, mdl;
    mm_va s = pool_page_mapped(m, MM_NORMAL_PAGE_PRIORITY, &buf, &mdl);
    store(s, 7);
    assert_ok(mm_unmap_locked_pages(m, s, mdl));
    mm_va again = mm_map_locked_pages_specify_cache(m, mdl, MM_KERNEL_MODE, MM_CACHED, 0, false,
                                                    MM_NORMAL_PAGE_PRIORITY, NULL);
    assert_int_equal(again, s);
    assert_int_equal(load(again), 7);
    assert_ok(mm_unmap_locked_pages(m, again, mdl));
    expect_bugcheck(store(s, 8), MM_BUGCHECK_PAGE_FAULT_IN_NONPAGED_AREA, s);
    assert_int_equal(H.bc.p[1], 2); /* a write */
}

/* A write through a read-only system mapping (MdlMappingNoWrite). */
static void write_to_read_only_mapping_is_0xbe(void **state)
{
    mm_machine *m = *state;
    mm_va buf, mdl;
    mm_va s = pool_page_mapped(m, MM_NORMAL_PAGE_PRIORITY | MM_MDL_MAPPING_NO_WRITE, &buf, &mdl);
    assert_int_equal(load(s), 0); /* reads are fine */
    expect_bugcheck(store(s + 4, 9), MM_BUGCHECK_ATTEMPTED_WRITE_TO_READONLY_MEMORY, s + 4);
}

/* A user address nothing is committed at, touched by kernel-mode code with
 * no exception handler. */
static void bad_user_address_is_0x1e(void **state)
{
    mm_machine *m = *state;
    mm_va u = commit_user(m, 0x1000, MM_PAGE_READWRITE);
    release_user(m, u);
    expect_bugcheck(store(u, 1), MM_BUGCHECK_KMODE_EXCEPTION_NOT_HANDLED, 0xC0000005);
    assert_int_equal(H.bc.p[2], 1); /* a write */
    assert_int_equal(H.bc.p[3], u);
}

/* Paged pool trimmed, then touched at DISPATCH_LEVEL. */
static void paged_pool_at_dispatch_is_0x0a(void **state)
{
    mm_machine *m = *state;
    mm_va p = mm_pool_allocate(m, MM_PAGED_POOL, 0x1000, TAG);
    store(p, 3);
    uint64_t trimmed = 0;
    assert_ok(mm_working_set_trim(m, mm_process_system(m), UINT64_MAX, &trimmed));
    assert_true(trimmed >= 1);
    mm_irql old;
    assert_ok(mm_irql_raise(m, MM_DISPATCH_LEVEL, &old));
    expect_bugcheck(load(p), MM_BUGCHECK_IRQL_NOT_LESS_OR_EQUAL, p);
    assert_int_equal(H.bc.p[1], MM_DISPATCH_LEVEL);
}

/* Data written before a page goes out to the page file is read back after
 * it comes in, through the same pointer. */
static void bytes_survive_page_out(void **state)
{
    mm_machine *m = *state;
    mm_va u = commit_user(m, 0x1000, MM_PAGE_READWRITE);
    store(u + 12, 0xBEEF);
    uint64_t trimmed = 0;
    assert_ok(mm_working_set_trim(m, H.proc, UINT64_MAX, &trimmed));
    assert_true(trimmed >= 1);
    assert_int_equal(load(u + 12), 0xBEEF);
}

/* Attaching to another process swaps the user range the host sees. */
static void attach_swaps_the_user_range(void **state)
{
    mm_machine *m = *state;
    mm_va a = commit_user(m, 0x1000, MM_PAGE_READWRITE);
    store(a, 0xAAAA);
    mm_process *other = NULL;
    assert_ok(mm_process_create(m, "other.exe", &other));
    struct mm_apc_state apc;
    assert_ok(mm_process_attach(m, other, &apc));
    mm_va base = a;
    uint64_t size = 0x1000;
    assert_ok(mm_virtual_alloc(m, NULL, &base, &size, MM_MEM_RESERVE | MM_MEM_COMMIT, MM_PAGE_READWRITE));
    assert_int_equal(base, a); /* the same VA in the other address space */
    assert_int_equal(load(a), 0); /* its own demand-zero page, not app.exe's */
    store(a, 0xBBBB);
    assert_ok(mm_process_detach(m, &apc));
    assert_int_equal(load(a), 0xAAAA);
}

/* User memory of the System process (translated through System's own
 * top table): attaching to a process takes it out of the host view too. */
static void attach_hides_system_user_pages(void **state)
{
    mm_machine *m = *state;
    assert_ok(mm_process_detach(m, &H.apc)); /* back in System */
    mm_va a = commit_user(m, 0x1000, MM_PAGE_READWRITE);
    store(a, 0xAAAA);
    assert_ok(mm_process_attach(m, H.proc, &H.apc));
    struct mm_region_info info;
    assert_ok(mm_virtual_query(m, NULL, a, &info));
    assert_int_equal(info.state, MM_MEM_FREE); /* app.exe has nothing there */
    expect_bugcheck(load(a), MM_BUGCHECK_KMODE_EXCEPTION_NOT_HANDLED, 0xC0000005);
}

/* A driver image's INIT section, discarded after DriverEntry, touched
 * through the pointer the driver kept. */
static void touch_of_discarded_init_is_0x50(void **state)
{
    mm_machine *m = *state;
    struct mm_section_desc s[] = {
        {".text", 0x1000, MM_SECTION_CODE, NULL, 0},
        {"INIT", 0x1000, MM_SECTION_CODE | MM_SECTION_WRITE, "boot", 5},
    };
    mm_image *img = NULL;
    assert_ok(mm_image_load(m, "init.sys", s, 2, &img));
    mm_va init = mm_image_section_address(m, img, "INIT");
    assert_string_equal((const char *)ptr(init), "boot"); /* DriverEntry reads it */
    assert_ok(mm_image_discard_init(m, img));
    expect_bugcheck(load(init), MM_BUGCHECK_PAGE_FAULT_IN_NONPAGED_AREA, init);
}

#if defined(__x86_64__)
/* Calling into nonpaged pool, which is no-execute: 0xFC at the call. */
static void executing_no_execute_pool_is_0xfc(void **state)
{
    mm_machine *m = *state;
    mm_va code = mm_pool_allocate(m, MM_NONPAGED_POOL, 16, TAG);
    *(volatile unsigned char *)ptr(code) = 0xC3; /* ret */
    void (*fn)(void);
    mm_va target = code;
    memcpy(&fn, &target, sizeof fn);
    expect_bugcheck((fn(), 0), MM_BUGCHECK_ATTEMPTED_EXECUTE_OF_NOEXECUTE_MEMORY, code);
}
#endif

/* The lesson of unlocking too early, through real pointers: a user mapping
 * of an MDL (MmMapLockedPagesSpecifyCache UserMode) outlives MmUnlockPages
 * (which takes only the system mapping down), and once the frame is
 * repurposed it shows the new owner's bytes; the access is a finding. */
static void stale_mapping_shows_the_new_owner(void **state)
{
    mm_machine *m = *state;
    mm_va u, mdl;
    mm_va s = locked_user_page(m, 0x11111111, MM_USER_MODE, &u, &mdl);
    assert_int_equal(load(s), 0x11111111);
    mm_pfn frame = pfn_of(m, u);
    assert_ok(mm_unlock_pages(m, mdl)); /* too early: the user mapping stays */
    release_user(m, u); /* the frame goes free */
    /* Someone else gets the frame: allocate until it comes back. */
    mm_va taker = 0;
    for (int i = 0; i < 64 && !taker; i++) {
        mm_va p = mm_pool_allocate(m, MM_NONPAGED_POOL, 0x1000, TAG);
        if (pfn_of(m, p) == frame)
            taker = p;
    }
    assert_true(taker != 0);
    store(taker, 0x22222222);
    assert_int_equal(load(s), 0x22222222); /* the process reads someone else's data */
    struct mm_finding f[8];
    size_t n = mm_findings_read(m, f, 8);
    bool touched = false;
    for (size_t i = 0; i < n && i < 8; i++)
        touched |= f[i].kind == MM_FINDING_STALE_MAPPING_ACCESS && f[i].va == s;
    assert_true(touched);
}

/* Where the host allows it a hosted machine lies at the same place each
 * time, so its addresses (and trace, and bug-check parameters) repeat. */
static void same_addresses_each_time(void **state)
{
    mm_machine *m = *state;
    struct mm_layout first = layout_of(m), again;
    struct mm_config cfg;
    harness_config(&cfg);
    cfg.layout = MM_LAYOUT_HOSTED;
    mm_machine_destroy(m);
    *state = H.m = NULL;
    mm_machine *n = harness_machine(&cfg);
    assert_ok(mm_machine_layout(n, &again));
    assert_int_equal(again.lowest_user_address, first.lowest_user_address);
    mm_machine_destroy(n);
}

/* A process frees a buffer whose pages a driver still holds locked and
 * mapped: the frames stay (the lock keeps them), the driver's mapping keeps
 * working, and only the unlock lets them go. */
static void locked_buffer_outlives_its_release(void **state)
{
    mm_machine *m = *state;
    mm_va u, mdl;
    mm_va s = locked_user_page(m, 0x600D, MM_KERNEL_MODE, &u, &mdl);
    mm_pfn frame = pfn_of(m, u);
    release_user(m, u);
    assert_int_equal(load(s), 0x600D); /* still the buffer's frame */
    store(s + 4, 0xBEEF);
    /* Unmapped from the process, kept by the lock alone (an MDL mapping
     * holds no share of the frame). */
    assert_pfn(m, frame, 0, 1, MM_TRANSITION_PAGE);
    assert_ok(mm_unmap_locked_pages(m, s, mdl));
    assert_ok(mm_unlock_pages(m, mdl));
    struct mm_pfn_info i;
    assert_ok(mm_pfn_query(m, frame, &i));
    assert_true(i.location != MM_ACTIVE_AND_VALID); /* gone with the last lock */
    assert_ok(mm_io_free_mdl(m, mdl));
    assert_invariants(m);
}

/* Same inputs, same run: two hosted machines given the same operations
 * record the same trace, addresses included. */
static size_t scripted_run(struct mm_trace_event *ev, size_t max)
{
    struct mm_config cfg;
    harness_config(&cfg);
    cfg.layout = MM_LAYOUT_HOSTED;
    cfg.trace_capacity = 4096;
    mm_machine *m = harness_machine(&cfg);
    mm_process *p = NULL;
    struct mm_apc_state apc;
    assert_ok(mm_process_create(m, "same.exe", &p));
    assert_ok(mm_process_attach(m, p, &apc));
    mm_va u = commit_user(m, 0x3000, MM_PAGE_READWRITE);
    store(u + 0x1000, 1);
    mm_va mdl = mm_io_allocate_mdl(m, u, 0x3000, false, false, 0);
    assert_ok(mm_probe_and_lock_pages(m, mdl, MM_USER_MODE, MM_IO_READ_ACCESS));
    assert_ok(mm_unlock_pages(m, mdl));
    assert_ok(mm_io_free_mdl(m, mdl));
    size_t n = mm_trace_read(m, ev, max);
    mm_machine_destroy(m);
    return n;
}

static void same_operations_same_trace(void **state)
{
    mm_machine *m = *state;
    mm_machine_destroy(m); /* the two runs below make their own, one at a time */
    *state = H.m = NULL;
    static struct mm_trace_event a[4096], b[4096];
    size_t na = scripted_run(a, 4096), nb = scripted_run(b, 4096);
    assert_int_equal(na, nb);
    assert_true(na > 10);
    for (size_t i = 0; i < na; i++) {
        assert_int_equal(a[i].type, b[i].type);
        assert_int_equal(a[i].va, b[i].va);
        assert_int_equal(a[i].pfn, b[i].pfn);
        assert_int_equal(a[i].a, b[i].a);
        assert_int_equal(a[i].b, b[i].b);
    }
}

/* Code under test on a simulated kernel stack: an MDL over a local buffer
 * describes simulated frames, and MmIsAddressValid(&local) holds. Results
 * are checked after the call: the stack is only 24 KiB. */
struct stack_run {
    mm_machine *m;
    mm_va local, mapped;
    bool valid, same_bytes;
    mm_status locked;
};

static void use_a_stack_buffer(void *ctx)
{
    struct stack_run *r = ctx;
    char buf[256];
    memcpy(buf, "on the kernel stack", 20);
    r->local = (mm_va)(uintptr_t)buf;
    r->valid = mm_is_address_valid(r->m, r->local);
    mm_va mdl = mm_io_allocate_mdl(r->m, r->local, sizeof buf, false, false, 0);
    r->locked = mm_probe_and_lock_pages(r->m, mdl, MM_KERNEL_MODE, MM_IO_WRITE_ACCESS);
    r->mapped = mm_map_locked_pages_specify_cache(r->m, mdl, MM_KERNEL_MODE, MM_CACHED, 0, false,
                                                  MM_NORMAL_PAGE_PRIORITY, NULL);
    r->same_bytes = r->mapped && memcmp(ptr(r->mapped), buf, 20) == 0;
    mm_unmap_locked_pages(r->m, r->mapped, mdl);
    mm_unlock_pages(r->m, mdl);
    mm_io_free_mdl(r->m, mdl);
}

static void mdl_over_a_stack_buffer(void **state)
{
    mm_machine *m = *state;
    struct stack_run r = {.m = m};
    assert_ok(mm_call_on_kernel_stack(m, use_a_stack_buffer, &r));
    struct mm_layout l = layout_of(m);
    assert_true(r.local >= l.system_ptes && r.local < l.paged_pool); /* a kernel stack lives in system PTEs */
    assert_true(r.valid);
    assert_ok(r.locked);
    assert_true(r.mapped != 0 && r.mapped != r.local);
    assert_true(r.same_bytes);
    assert_invariants(m);
}

static unsigned deepest;
static volatile unsigned limit = 1000; /* never reached: the stack ends first */

static void recurse(void *ctx)
{
    volatile char frame[1024];
    frame[0] = (char)deepest++;
    if (deepest < limit)
        recurse(ctx);
    frame[1] = frame[0]; /* not a tail call */
}

/* Running off the end of the kernel stack hits its guard page: a double
 * fault, as on Windows. */
static void kernel_stack_overflow_is_0x7f(void **state)
{
    mm_machine *m = *state;
    deepest = 0;
    expect_bugcheck(mm_call_on_kernel_stack(m, recurse, NULL), MM_BUGCHECK_UNEXPECTED_KERNEL_MODE_TRAP, 8);
    assert_true(deepest >= 10 && deepest <= 24); /* about 24 KiB of 1 KiB frames */
}

/* Whether this host gives a hosted machine a host view at all. */
static bool hosted_supported(void)
{
    struct mm_config cfg;
    mm_config_default(&cfg);
    cfg.layout = MM_LAYOUT_HOSTED;
    mm_machine *m = NULL;
    mm_status st = mm_machine_create(&cfg, &m);
    mm_machine_destroy(m);
    if (st != MM_STATUS_NOT_SUPPORTED && st != MM_STATUS_SUCCESS)
        fail_msg("mm_machine_create(hosted): %s", mm_status_name(st));
    return st == MM_STATUS_SUCCESS;
}

int main(void)
{
    if (!hosted_supported()) {
        puts("skipped: no host view on this host (the hosted layout needs the POSIX memory file and 4 KiB pages)");
        return 77;
    }
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup_hosted, teardown_hosted)
        T(pointers_lie_in_their_ranges),
        T(pool_is_host_memory),
        T(user_page_faults_in_on_touch),
        T(user_and_system_views_alias),
        T(host_writes_are_zeroed_before_reuse),
        T(attach_hides_system_user_pages),
        T(touch_after_unmap_is_0x50),
        T(system_va_mapped_again),
        T(touch_after_second_unmap_is_0x50),
        T(write_to_read_only_mapping_is_0xbe),
        T(bad_user_address_is_0x1e),
        T(paged_pool_at_dispatch_is_0x0a),
        T(bytes_survive_page_out),
        T(attach_swaps_the_user_range),
        T(touch_of_discarded_init_is_0x50),
#if defined(__x86_64__)
        T(executing_no_execute_pool_is_0xfc),
#endif
        T(stale_mapping_shows_the_new_owner),
        T(same_addresses_each_time),
        T(locked_buffer_outlives_its_release),
        T(same_operations_same_trace),
        T(mdl_over_a_stack_buffer),
        T(kernel_stack_overflow_is_0x7f),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
