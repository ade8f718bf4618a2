/* tests/test_bugcheck.c — the bug-check tables (every code named, sub-codes
 * with parameter meanings), the WinDbg-style report, status names, and the
 * trace ring that feeds the history. */
#define _POSIX_C_SOURCE 200809L
#include "harness.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static void every_code_has_a_name_and_meanings(void **state)
{
    (void)state;
    static const uint32_t codes[] = {
#define CODE(code, name, p1, p2, p3, p4) code,
        MM_BUGCHECK_MAP(CODE)
#undef CODE
    };
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        assert_non_null(mm_bugcheck_name(codes[i]));
        for (unsigned k = 0; k < 4; k++)
            assert_non_null(mm_bugcheck_param_meaning(codes[i], 0x12345, k));
    }
    assert_string_equal(mm_bugcheck_name(0x4E), "PFN_LIST_CORRUPT");
    assert_string_equal(mm_bugcheck_name(0xC4), "DRIVER_VERIFIER_DETECTED_VIOLATION");
    assert_null(mm_bugcheck_name(0x12345));
    assert_null(mm_bugcheck_param_meaning(0x4E, 7, 4));
}

static void subcodes_give_parameter_meanings(void **state)
{
    (void)state;
    assert_string_equal(mm_bugcheck_param_meaning(0x4E, 7, 1), "PFN");
    assert_string_equal(mm_bugcheck_param_meaning(0x4E, 7, 2), "current share count");
    assert_string_equal(mm_bugcheck_subcode_meaning(0x4E, 7), "a driver unlocked a page more times than it locked it");
    assert_string_equal(mm_bugcheck_param_meaning(0x1A, 0x1233, 1), "PFN");
    assert_string_equal(mm_bugcheck_param_meaning(0xC4, 0x7C, 1), "MDL");
    assert_string_equal(mm_bugcheck_param_meaning(0x76, 0, 1), "process");
    assert_string_equal(mm_bugcheck_param_meaning(0xDA, 0x104, 2), "caller's tag");
    assert_string_equal(mm_bugcheck_param_meaning(0x50, 0, 3),
                        "fault type (0 freed PTE, 1 no-access PTE, 2 page table not present, 4 not canonical)");
    assert_null(mm_bugcheck_subcode_meaning(0x4E, 0x55));
}

static void report_format(void **state)
{
    (void)state;
    struct mm_bugcheck bc = {.code = 0x76, .p = {0, 0xFFFFFA8000123000, 3, 0}, .step = 9,
                             .operation = "PspExitProcess"};
    snprintf(bc.explanation, sizeof bc.explanation, "process x.exe exited with 3 pages locked");
    bc.history_count = 1;
    snprintf(bc.history[0].text, sizeof bc.history[0].text, "#4 step 3 Test: NOTE");
    char buf[2048];
    int n = mm_bugcheck_format(&bc, buf, sizeof buf);
    assert_true(n > 0 && (size_t)n < sizeof buf);
    const char *expect =
        "*** STOP: 0x00000076 (0x0000000000000000,0xFFFFFA8000123000,0x0000000000000003,0x0000000000000000)\n"
        "PROCESS_HAS_LOCKED_PAGES\n\nArguments:\n"
        "Arg1: 0000000000000000, the process being terminated still has locked pages\n"
        "Arg2: fffffa8000123000, process\n";
    assert_true(strncmp(buf, expect, strlen(expect)) == 0);
    assert_non_null(strstr(buf, "Raised by: PspExitProcess (step 9)"));
    assert_non_null(strstr(buf, "Why: process x.exe exited"));
    assert_non_null(strstr(buf, "History:\n  #4 step 3"));
    char tiny[8];
    assert_int_equal(mm_bugcheck_format(&bc, tiny, sizeof tiny), n); /* snprintf contract */
    assert_int_equal(tiny[7], 0);
    assert_int_equal(mm_bugcheck_format(&bc, NULL, 0), n);
    assert_true(mm_bugcheck_format(NULL, buf, sizeof buf) < 0);
}

static void status_names(void **state)
{
    (void)state;
    assert_string_equal(mm_status_name(MM_STATUS_ACCESS_VIOLATION), "STATUS_ACCESS_VIOLATION");
    assert_int_equal((uint32_t)MM_STATUS_ACCESS_VIOLATION, 0xC0000005u);
    assert_int_equal((uint32_t)MM_STATUS_GUARD_PAGE_VIOLATION, 0x80000001u);
    assert_string_equal(mm_status_name(0x12345), "STATUS_<unknown>");
    assert_true(MM_SUCCESS(MM_STATUS_SUCCESS));
    assert_false(MM_SUCCESS(MM_STATUS_NO_MEMORY));
    assert_non_null(strstr(mm_status_meaning(MM_STATUS_MACHINE_DEAD), "bug-checked"));
}

static void trace_ring_keeps_the_latest(void **state)
{
    (void)state;
    struct mm_config cfg;
    harness_config(&cfg);
    cfg.trace_capacity = 16;
    mm_machine *m = harness_machine(&cfg);
    mm_va b = mm_pool_allocate(m, MM_NONPAGED_POOL, 32, MM_POOL_TAG('A', 'b', 'c', 'd'));
    assert_ok(mm_pool_free(m, b, 0));
    uint64_t total = mm_trace_count(m);
    assert_true(total > 16);
    struct mm_trace_event ev[32];
    size_t n = mm_trace_read(m, ev, 32);
    assert_int_equal(n, 16);
    assert_int_equal(ev[15].seq, total);
    assert_int_equal(ev[0].seq, total - 15);
    bool saw_free = false;
    for (size_t i = 0; i < n; i++) {
        char line[200];
        assert_true(mm_trace_format(&ev[i], line, sizeof line) > 0);
        if (ev[i].type == MM_EV_POOL_FREE) {
            saw_free = true;
            assert_non_null(strstr(line, "free"));
            assert_non_null(strstr(line, "'Abcd'"));
            assert_string_equal(ev[i].operation, "ExFreePoolWithTag");
        }
    }
    assert_true(saw_free);
    assert_string_equal(mm_event_name(MM_EV_PTE_WRITE), "PTE_WRITE");
    assert_string_equal(mm_event_name(999), "UNKNOWN");
    assert_int_equal(mm_trace_read(m, NULL, 4), 0);
    mm_machine_destroy(m);
}

/* The default hook prints the report to stderr and aborts the process. */
static void default_hook_reports_and_aborts(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        struct mm_config cfg;
        mm_config_default(&cfg);
        mm_machine *m = NULL;
        mm_machine_create(&cfg, &m);
        mm_irql_raise(m, MM_DISPATCH_LEVEL, NULL);
        mm_irql_raise(m, MM_APC_LEVEL, NULL);
        _exit(0); /* not reached */
    }
    close(fds[1]);
    char out[4096] = {0};
    size_t got = 0;
    ssize_t n;
    while ((n = read(fds[0], out + got, sizeof out - 1 - got)) > 0)
        got += (size_t)n;
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
    const char *first = "*** STOP: 0x00000009 (0x0000000000000002,0x0000000000000001,0x0000000000000000,"
                        "0x0000000000000000)\nIRQL_NOT_GREATER_OR_EQUAL\n";
    assert_true(strncmp(out, first, strlen(first)) == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_code_has_a_name_and_meanings),
        cmocka_unit_test(subcodes_give_parameter_meanings),
        cmocka_unit_test(report_format),
        cmocka_unit_test(status_names),
        cmocka_unit_test(trace_ring_keeps_the_latest),
        cmocka_unit_test(default_hook_reports_and_aborts),
    };
    return cmocka_run_group_tests_name("bugcheck", tests, NULL, NULL);
}
