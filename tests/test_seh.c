/* tests/test_seh.c — the __try/__except/__finally emulation and the
 * kernel routines around it, from code written as driver code (built with
 * the WDK headers and -fshort-wchar): handlers found innermost first,
 * filters that search on, __finally on every way out, __leave, faults on
 * user addresses and probe failures caught, and the bug checks for an
 * exception nobody handles (0x7E in the System process, 0x3B under a user
 * process's request), KeBugCheckEx, PAGED_CODE at DISPATCH_LEVEL and spin locks. Each
 * documented limit of the emulation is shown here too. */
#include "harness.h"

#include <wdm.h>

#include "mmsim/wdk.h"
#include "wdk_harness.h"


static mm_process *app;

static int setup_seh(void **state)
{
    setup_wdk_machine(state);
    if (*state)
        assert_ok(mm_process_create(H.m, "app.exe", &app));
    return 0;
}

static int teardown_seh(void **state)
{
    teardown_wdk_machine(state);
    return 0;
}

static void raise_it(NTSTATUS st) { ExRaiseStatus(st); }

static void raise_is_caught(void **state)
{
    skip_without_host_view(state);
    volatile NTSTATUS seen = 0;
    volatile int after = 0;
    __try {
        raise_it(STATUS_INSUFFICIENT_RESOURCES);
        after = 1;
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        seen = GetExceptionCode();
    }
    assert_int_equal(seen, STATUS_INSUFFICIENT_RESOURCES);
    assert_int_equal(after, 0);
}

static int filter_for(NTSTATUS code, NTSTATUS wanted) { return code == wanted ? EXCEPTION_EXECUTE_HANDLER : EXCEPTION_CONTINUE_SEARCH; }

/* The inner filter declines; the outer handler runs. */
static void continue_search_reaches_the_outer_handler(void **state)
{
    skip_without_host_view(state);
    volatile int inner = 0, outer = 0;
    __try {
        __try {
            raise_it(STATUS_ACCESS_DENIED);
        } __except (filter_for(GetExceptionCode(), STATUS_INVALID_PARAMETER)) {
            inner = 1;
        }
    } __except (filter_for(GetExceptionCode(), STATUS_ACCESS_DENIED)) {
        outer = 1;
    }
    assert_int_equal(inner, 0);
    assert_int_equal(outer, 1);
}

/* __finally runs on the normal way out, on __leave and on an exception
 * (AbnormalTermination() tells which), and the exception goes on. */
static void finally_runs_every_way_out(void **state)
{
    skip_without_host_view(state);
    volatile int normal = 0, left = 0, abnormal = -1, caught = 0, skipped = 0;
    __try {
        normal = 1;
    } __finally {
        normal += AbnormalTermination() ? 100 : 10;
    }
    __try {
        __leave;
        skipped = 1;
    } __finally {
        left = 1;
    }
    __try {
        __try {
            raise_it(STATUS_UNSUCCESSFUL);
        } __finally {
            abnormal = AbnormalTermination();
        }
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        caught = GetExceptionCode() == STATUS_UNSUCCESSFUL;
    }
    assert_int_equal(normal, 11);
    assert_int_equal(left, 1);
    assert_int_equal(skipped, 0);
    assert_int_equal(abnormal, 1);
    assert_int_equal(caught, 1);
}

/* An exception raised inside a handler goes outwards. */
static void exception_in_a_handler_goes_outwards(void **state)
{
    skip_without_host_view(state);
    volatile NTSTATUS last = 0;
    __try {
        __try {
            raise_it(STATUS_UNSUCCESSFUL);
        } __except (EXCEPTION_EXECUTE_HANDLER) {
            raise_it(STATUS_NO_MEMORY);
        }
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        last = GetExceptionCode();
    }
    assert_int_equal(last, STATUS_NO_MEMORY);
}

/* The pattern of older samples: break inside the handler leaves the
 * driver's switch, as it does on Windows. */
static void break_in_a_handler_leaves_the_switch(void **state)
{
    skip_without_host_view(state);
    volatile int reached = 0, after = 0;
    switch (reached) {
    case 0:
        __try {
            raise_it(STATUS_UNSUCCESSFUL);
        } __except (EXCEPTION_EXECUTE_HANDLER) {
            reached = 1;
            break;
        }
        after = 1;
        break;
    default:
        break;
    }
    assert_int_equal(reached, 1);
    assert_int_equal(after, 0);
}

static int return_from_try(void)
{
    __try {
        return 5;
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        return -1;
    }
    return 0;
}

/* A __try left by return takes its frame with it: a later exception finds
 * the handler around the caller. */
static void return_from_a_try_pops_its_frame(void **state)
{
    skip_without_host_view(state);
    volatile int caught = 0, got = 0;
    __try {
        got = return_from_try();
        raise_it(STATUS_UNSUCCESSFUL);
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        caught = 1;
    }
    assert_int_equal(got, 5);
    assert_int_equal(caught, 1);
}

/* The documented limit of __leave: inside a loop of the body it leaves the
 * loop only (on Windows it leaves the __try). */
static void leave_inside_a_loop_leaves_the_loop(void **state)
{
    skip_without_host_view(state);
    volatile int iterations = 0, after_loop = 0;
    __try {
        for (int i = 0; i < 5; i++) {
            iterations++;
            if (i == 1)
                __leave;
        }
        after_loop = 1;
    } __finally {
    }
    assert_int_equal(iterations, 2);
    assert_int_equal(after_loop, 1); /* Windows: 0 */
}

static volatile int order[4], order_n;

static int note_filter(int id)
{
    order[order_n++] = id;
    return EXCEPTION_EXECUTE_HANDLER;
}

/* The documented limit on order: the inner __finally (2) runs before the
 * outer filter (1) is evaluated; Windows evaluates the filter first. */
static void finally_runs_before_the_outer_filter(void **state)
{
    skip_without_host_view(state);
    order_n = 0;
    __try {
        __try {
            raise_it(STATUS_UNSUCCESSFUL);
        } __finally {
            order[order_n++] = 2;
        }
    } __except (note_filter(1)) {
    }
    assert_int_equal(order_n, 2);
    assert_int_equal(order[0], 2); /* Windows: 1 */
    assert_int_equal(order[1], 1); /* Windows: 2 */
}

/* EXCEPTION_CONTINUE_EXECUTION cannot resume an emulated exception: the
 * search goes on outwards. */
static void continue_execution_searches_on(void **state)
{
    skip_without_host_view(state);
    volatile int outer = 0;
    __try {
        __try {
            raise_it(STATUS_UNSUCCESSFUL);
        } __except (EXCEPTION_CONTINUE_EXECUTION) {
        }
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        outer = 1;
    }
    assert_int_equal(outer, 1);
}

/* A filter may be a comma expression. */
static void comma_filter(void **state)
{
    skip_without_host_view(state);
    volatile NTSTATUS seen = 0;
    __try {
        raise_it(STATUS_NO_MEMORY);
    } __except (seen = GetExceptionCode(), EXCEPTION_EXECUTE_HANDLER) {
    }
    assert_int_equal(seen, STATUS_NO_MEMORY);
}

/* The spellings of older drivers. */
static void lowercase_spelling(void **state)
{
    skip_without_host_view(state);
    volatile int caught = 0;
    try {
        raise_it(STATUS_UNSUCCESSFUL);
    } except (EXCEPTION_EXECUTE_HANDLER) {
        caught = 1;
    }
    assert_int_equal(caught, 1);
}

/* A fault on a user address the process has not committed, inside __try:
 * the access violation is the handler's. The same write with no handler
 * around it in a user process is 0x3B, which names the address. */
static void fault_on_user_address(void **state)
{
    skip_without_host_view(state);
    struct mm_apc_state apc;
    assert_ok(mm_process_attach(H.m, app, &apc));
    mm_va base = 0;
    uint64_t size = 0x1000;
    assert_ok(mm_virtual_alloc(H.m, NULL, &base, &size, MM_MEM_RESERVE, MM_PAGE_READWRITE));
    volatile UCHAR *p = (volatile UCHAR *)(uintptr_t)base;
    volatile NTSTATUS seen = 0;
    __try {
        (void)*p;
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        seen = GetExceptionCode();
    }
    assert_int_equal(seen, STATUS_ACCESS_VIOLATION);
    expect_bugcheck(*p = 1, 0x3B, (uint32_t)STATUS_ACCESS_VIOLATION);
    char where[40];
    snprintf(where, sizeof where, "a write of %016llx", (unsigned long long)base);
    assert_non_null(strstr(H.bc.explanation, where));
}

static void probes_raise(void **state)
{
    skip_without_host_view(state);
    struct mm_apc_state apc;
    assert_ok(mm_process_attach(H.m, app, &apc));
    mm_va base = 0;
    uint64_t size = 0x1000;
    assert_ok(mm_virtual_alloc(H.m, NULL, &base, &size, MM_MEM_COMMIT | MM_MEM_RESERVE, MM_PAGE_READONLY));
    PVOID user = (PVOID)(uintptr_t)base;
    volatile NTSTATUS codes[4] = {0, 0, 0, 1};
    __try {
        ProbeForRead((PUCHAR)user + 1, 4, sizeof(ULONG));
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        codes[0] = GetExceptionCode();
    }
    __try {
        ProbeForRead(MmSystemRangeStart, 4, 1);
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        codes[1] = GetExceptionCode();
    }
    __try {
        ProbeForWrite(user, 16, 1); /* a read-only page */
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        codes[2] = GetExceptionCode();
    }
    __try {
        ProbeForRead(user, 0, 4); /* a zero length checks nothing */
        codes[3] = 0;
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        codes[3] = GetExceptionCode();
    }
    assert_int_equal(codes[0], STATUS_DATATYPE_MISALIGNMENT);
    assert_int_equal(codes[1], STATUS_ACCESS_VIOLATION);
    assert_int_equal(codes[2], STATUS_ACCESS_VIOLATION);
    assert_int_equal(codes[3], 0);
    assert_ok(mm_process_detach(H.m, &apc));
}

/* Nobody handles it: 0x7E in the System process, 0x3B in a user one. */
static void unhandled_in_the_system_process_is_0x7e(void **state)
{
    skip_without_host_view(state);
    expect_bugcheck(raise_it(STATUS_INVALID_PARAMETER), 0x7E, (uint32_t)STATUS_INVALID_PARAMETER);
}

static void unhandled_in_a_user_process_is_0x3b(void **state)
{
    skip_without_host_view(state);
    struct mm_apc_state apc;
    assert_ok(mm_process_attach(H.m, app, &apc));
    expect_bugcheck(raise_it(STATUS_INVALID_PARAMETER), 0x3B, (uint32_t)STATUS_INVALID_PARAMETER);
}

static void ke_bug_check_ex(void **state)
{
    skip_without_host_view(state);
    expect_bugcheck(KeBugCheckEx(0xDEAD, 1, 2, 3, 4), 0xDEAD, 1);
    assert_params(2, 3, 4);
    assert_string_equal(H.bc.operation, "KeBugCheckEx");
}

/* PAGED_CODE at DISPATCH_LEVEL reports and breaks, as the checked build. */
static void paged_code_at_dispatch(void **state)
{
    skip_without_host_view(state);
    PAGED_CODE(); /* PASSIVE_LEVEL: nothing */
    KIRQL old;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    assert_int_equal(old, PASSIVE_LEVEL);
    expect_bugcheck(PAGED_CODE(), 0x7E, (uint32_t)STATUS_BREAKPOINT);
    assert_non_null(strstr(debug_text, "EX: Pageable code called at IRQL 2"));
}

/* A spin lock raises to DISPATCH_LEVEL: trimmed paged pool touched under
 * it is 0x0A (the touch is the test's, not a driver image's). */
static void spin_lock_raises_irql(void **state)
{
    skip_without_host_view(state);
    KSPIN_LOCK lock;
    KeInitializeSpinLock(&lock);
    PUCHAR paged = (PUCHAR)ExAllocatePoolWithTag(PagedPool, 64, 'tseT');
    assert_non_null(paged);
    paged[0] = 1;
    KIRQL old;
    KeAcquireSpinLock(&lock, &old);
    assert_int_equal(KeGetCurrentIrql(), DISPATCH_LEVEL);
    KeReleaseSpinLock(&lock, old);
    assert_int_equal(KeGetCurrentIrql(), PASSIVE_LEVEL);
    uint64_t trimmed;
    assert_ok(mm_working_set_trim(H.m, NULL, UINT64_MAX, &trimmed));
    KeAcquireSpinLock(&lock, &old);
    expect_bugcheck(paged[0] = 2, 0x0A, (uintptr_t)paged);
}

/* A thread acquiring a spin lock it holds spins forever at DISPATCH_LEVEL:
 * Windows' DPC watchdog stops the machine (0x133, 1: too long at
 * DISPATCH_LEVEL, the period in ticks); Verifier's Deadlock Detection
 * stops it at the call (0xC4/0x1000, the lock). */
static void spin_lock_taken_twice_is_the_dpc_watchdog(void **state)
{
    skip_without_host_view(state);
    KSPIN_LOCK lock;
    KeInitializeSpinLock(&lock);
    KIRQL old;
    KeAcquireSpinLock(&lock, &old);
    expect_bugcheck(KeAcquireSpinLockAtDpcLevel(&lock), 0x133, 1);
    assert_params(0x1E00, 0, 0);
}

static void spin_lock_taken_twice_with_deadlock_detection_is_0xc4_1000(void **state)
{
    skip_without_host_view(state);
    assert_ok(mm_machine_set_verifier(H.m, MM_VERIFIER_DEADLOCK_DETECTION));
    KSPIN_LOCK lock;
    KeInitializeSpinLock(&lock);
    KIRQL old;
    KeAcquireSpinLock(&lock, &old);
    expect_bugcheck(KeAcquireSpinLock(&lock, &old), 0xC4, 0x1000);
    assert_params((uintptr_t)&lock, 0, 0);
}

/* ExAllocatePool2 refuses a tag of 0 and anything but one pool type:
 * NULL, or the exception POOL_FLAG_RAISE_ON_FAILURE asks for. */
static void pool2_refusals(void **state)
{
    skip_without_host_view(state);
    assert_null(ExAllocatePool2(POOL_FLAG_NON_PAGED, 16, 0));
    assert_null(ExAllocatePool2(POOL_FLAG_NON_PAGED | POOL_FLAG_PAGED, 16, 'tseT'));
    assert_null(ExAllocatePool2(POOL_FLAG_UNINITIALIZED, 16, 'tseT'));
    volatile NTSTATUS caught = STATUS_SUCCESS;
    __try {
        ExAllocatePool2(POOL_FLAG_PAGED | POOL_FLAG_RAISE_ON_FAILURE, 16, 0);
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        caught = GetExceptionCode();
    }
    assert_int_equal(caught, STATUS_INSUFFICIENT_RESOURCES);
}

/* ExAllocatePool2 zeroes; DbgPrint formats with Windows' rules. */
static void pool_and_debug_print(void **state)
{
    skip_without_host_view(state);
    PULONG p = (PULONG)ExAllocatePool2(POOL_FLAG_NON_PAGED, 16, 'tseT');
    assert_non_null(p);
    assert_int_equal(p[0] | p[1] | p[2] | p[3], 0);
    ExFreePoolWithTag(p, 'tseT');
    UNICODE_STRING name;
    RtlInitUnicodeString(&name, L"\\Device\\X");
    assert_int_equal(name.Length, 18);
    assert_int_equal(name.MaximumLength, 20);
    DbgPrint("%wZ %lx %I64x\n", &name, (ULONG)-1, (ULONG64)0x123456789ULL);
    assert_string_equal(debug_text, "\\Device\\X ffffffff 123456789\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup_seh, teardown_seh)
        T(raise_is_caught),
        T(spin_lock_taken_twice_is_the_dpc_watchdog),
        T(spin_lock_taken_twice_with_deadlock_detection_is_0xc4_1000),
        T(pool2_refusals),
        T(continue_search_reaches_the_outer_handler),
        T(finally_runs_every_way_out),
        T(exception_in_a_handler_goes_outwards),
        T(lowercase_spelling),
        T(comma_filter),
        T(finally_runs_before_the_outer_filter),
        T(continue_execution_searches_on),
        T(break_in_a_handler_leaves_the_switch),
        T(return_from_a_try_pops_its_frame),
        T(leave_inside_a_loop_leaves_the_loop),
        T(fault_on_user_address),
        T(probes_raise),
        T(unhandled_in_the_system_process_is_0x7e),
        T(unhandled_in_a_user_process_is_0x3b),
        T(ke_bug_check_ex),
        T(paged_code_at_dispatch),
        T(spin_lock_raises_irql),
        T(pool_and_debug_print),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
