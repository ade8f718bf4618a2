/* tests/test_wdk.c — an unmodified WDM driver (examples/drivers/ioctl)
 * built as a shared object against include/wdk and run by mmsim's I/O
 * manager: DriverEntry creates its device and link, a user process opens
 * it and sends one control code per transfer method, bad user pointers on
 * the METHOD_NEITHER path end in the driver's own try/except, and unload
 * deletes everything and leaks nothing. */
#include "harness.h"

#include "ioctl_codes.h"
#include "mmsim/wdk.h"
#include "wdk_harness.h"

#ifndef SAMPLE_IOCTL_DRIVER
#error "SAMPLE_IOCTL_DRIVER: the path of the built sample driver"
#endif

#define REPLY "a reply from the driver"

static mmwdk_driver *driver;
static mm_process *app;

static int setup_wdk(void **state)
{
    setup_wdk_machine(state);
    if (!*state)
        return 0;
    int32_t entry = -1;
    assert_ok(mmwdk_driver_load(SAMPLE_IOCTL_DRIVER, &driver, &entry));
    assert_int_equal(entry, 0);
    assert_ok(mm_process_create(H.m, "app.exe", &app));
    return 0;
}

static int teardown_wdk(void **state)
{
    if (*state && driver && !mm_machine_is_dead(H.m))
        mmwdk_driver_unload(driver, NULL);
    driver = NULL;
    teardown_wdk_machine(state);
    return 0;
}

static mmwdk_file *open_sample(void)
{
    mmwdk_file *f = NULL;
    int32_t status = -1;
    assert_ok(mmwdk_open(app, SAMPLE_LINK_NAME, &f, &status));
    assert_int_equal(status, 0);
    assert_non_null(f);
    return f;
}

/* DriverEntry ran: its device, its link, its message; INIT is gone. */
static void driver_entry_made_its_device(void **state)
{
    skip_without_host_view(state);
    assert_non_null(mmwdk_driver_object(driver));
    assert_non_null(strstr(debug_text, "sample: loaded, device \\Device\\MmsimSample"));
    mmwdk_file *f = NULL;
    int32_t status = 0;
    assert_ok(mmwdk_open(app, "\\\\.\\NoSuchDevice", &f, &status));
    assert_int_equal((uint32_t)status, 0xC0000034u); /* STATUS_OBJECT_NAME_NOT_FOUND */
    assert_null(f);
}

static void one_method(uint32_t code, const char *method)
{
    mmwdk_file *f = open_sample();
    char out[64];
    memset(out, 0x55, sizeof out);
    uint64_t information = 0;
    const char in[] = "hello, driver";
    assert_int_equal(mmwdk_ioctl(f, code, in, sizeof in, out, sizeof out, &information), 0);
    assert_int_equal(information, sizeof REPLY);
    assert_string_equal(out, REPLY);
    char expect[96];
    snprintf(expect, sizeof expect, "sample: %s: %u bytes in: \"hello, driver\"", method, (unsigned)sizeof in);
    assert_non_null(strstr(debug_text, expect));
    assert_int_equal(mmwdk_close(f), 0);
}

static void method_buffered(void **state)
{
    skip_without_host_view(state);
    one_method(IOCTL_SAMPLE_BUFFERED, "METHOD_BUFFERED");
}

static void method_in_direct(void **state)
{
    skip_without_host_view(state);
    one_method(IOCTL_SAMPLE_IN_DIRECT, "METHOD_xx_DIRECT");
}

static void method_out_direct(void **state)
{
    skip_without_host_view(state);
    one_method(IOCTL_SAMPLE_OUT_DIRECT, "METHOD_xx_DIRECT");
}

/* A user thread frees the output buffer of METHOD_OUT_DIRECT requests while
 * they are in flight (legal on Windows): the MDL's locked pages stay pinned,
 * the driver writes through its system mapping, and completion unlocks
 * them; nothing stays locked and nothing bug-checks. */
static void out_direct_survives_a_freed_buffer(void **state)
{
    skip_without_host_view(state);
    mmwdk_file *f = open_sample();
    struct mmwdk_adversary adversary = {.actions = MMWDK_ADVERSARY_FREE_USER, .one_in = 1, .seed = 5};
    mmwdk_adversary(&adversary);
    for (int i = 0; i < 50; i++) {
        char out[64];
        uint64_t information = 0;
        int32_t st = mmwdk_ioctl(f, IOCTL_SAMPLE_OUT_DIRECT, "in", 3, out, sizeof out, &information);
        assert_int_equal(st, 0);
        assert_int_equal(information, sizeof REPLY);
        assert_false(mm_machine_is_dead(H.m));
    }
    assert_true(mmwdk_adversary_acts() >= 50);
    mmwdk_adversary(NULL);
    struct mm_process_info pi;
    assert_ok(mm_process_query(H.m, app, &pi));
    assert_int_equal(pi.locked_pages, 0);
    assert_invariants(H.m);
    assert_int_equal(mmwdk_close(f), 0);
}

static void method_neither(void **state)
{
    skip_without_host_view(state);
    one_method(IOCTL_SAMPLE_NEITHER, "METHOD_NEITHER");
}

/* A short output buffer gets the part of the reply that fits, and
 * METHOD_BUFFERED copies back exactly Information bytes. */
static void short_output(void **state)
{
    skip_without_host_view(state);
    mmwdk_file *f = open_sample();
    char out[5] = {0};
    uint64_t information = 0;
    assert_int_equal(mmwdk_ioctl(f, IOCTL_SAMPLE_BUFFERED, "x", 1, out, sizeof out, &information), 0);
    assert_int_equal(information, 5);
    assert_memory_equal(out, "a rep", 5);
    assert_int_equal(mmwdk_close(f), 0);
}

/* METHOD_NEITHER with a kernel address as the "user" input: ProbeForRead
 * raises STATUS_ACCESS_VIOLATION and the driver's __except returns it. */
static void neither_with_kernel_pointer_is_caught(void **state)
{
    skip_without_host_view(state);
    mmwdk_file *f = open_sample();
    mm_va kernel = mm_pool_allocate(H.m, MM_NONPAGED_POOL, 64, 0x74736554);
    uint64_t information = 7;
    int32_t st = mmwdk_ioctl_at(f, IOCTL_SAMPLE_NEITHER, kernel, 16, 0, 0, &information);
    assert_int_equal((uint32_t)st, 0xC0000005u);
    assert_int_equal(information, 0);
    assert_non_null(strstr(debug_text, "sample: exception 0xC0000005 on the caller's buffers"));
    assert_false(mm_machine_is_dead(H.m));
    assert_int_equal(mmwdk_close(f), 0);
    assert_ok(mm_pool_free(H.m, kernel, 0x74736554));
}

/* METHOD_NEITHER with wild pointers outside every range the machine has
 * (NULL, 0x41414141): the probe passes them (they are below
 * MmUserProbeAddress) and the copy faults: an access violation for the
 * driver's __except, not a crash of the host. */
static void neither_with_wild_pointers_is_caught(void **state)
{
    skip_without_host_view(state);
    mmwdk_file *f = open_sample();
    uint64_t information;
    assert_int_equal((uint32_t)mmwdk_ioctl_at(f, IOCTL_SAMPLE_NEITHER, 0x41414141, 16, 0, 0, &information),
                     0xC0000005u);
    assert_int_equal((uint32_t)mmwdk_ioctl_at(f, IOCTL_SAMPLE_NEITHER, 8, 16, 0, 0, &information), 0xC0000005u);
    assert_false(mm_machine_is_dead(H.m));
    assert_int_equal(mmwdk_close(f), 0);
}

/* The I/O manager probes a buffered request's buffers before the driver
 * sees it: a kernel address given as the output is the caller's access
 * violation, and the kernel bytes stay as they were. */
static void buffered_request_with_a_kernel_buffer_is_refused(void **state)
{
    skip_without_host_view(state);
    mmwdk_file *f = open_sample();
    mm_va kernel = mm_pool_allocate(H.m, MM_NONPAGED_POOL, 64, 0x74736554);
    memset((void *)(uintptr_t)kernel, 'K', 64);
    size_t before = strlen(debug_text);
    uint64_t information;
    assert_int_equal((uint32_t)mmwdk_ioctl_at(f, IOCTL_SAMPLE_BUFFERED, 0, 0, kernel, 64, &information), 0xC0000005u);
    assert_int_equal(((char *)(uintptr_t)kernel)[0], 'K');
    assert_int_equal(strlen(debug_text), before); /* the driver never ran */
    assert_ok(mm_pool_free(H.m, kernel, 0x74736554));
    assert_int_equal(mmwdk_close(f), 0);
}

/* METHOD_NEITHER with an uncommitted user address: the copy faults inside
 * the driver's __try; the exception reaches its __except. */
static void neither_with_unmapped_user_pointer_is_caught(void **state)
{
    skip_without_host_view(state);
    mmwdk_file *f = open_sample();
    struct mm_apc_state apc;
    assert_ok(mm_process_attach(H.m, app, &apc));
    mm_va base = 0;
    uint64_t size = 0x2000;
    assert_ok(mm_virtual_alloc(H.m, NULL, &base, &size, MM_MEM_RESERVE, MM_PAGE_READWRITE));
    assert_ok(mm_process_detach(H.m, &apc));
    uint64_t information = 0;
    int32_t st = mmwdk_ioctl_at(f, IOCTL_SAMPLE_NEITHER, base, 16, 0, 0, &information);
    assert_int_equal((uint32_t)st, 0xC0000005u);
    assert_false(mm_machine_is_dead(H.m));
    assert_int_equal(mmwdk_close(f), 0);
}

/* An unknown code: STATUS_INVALID_DEVICE_REQUEST; a read the driver has no
 * routine for: the default routine's answer. */
static void unknown_requests(void **state)
{
    skip_without_host_view(state);
    mmwdk_file *f = open_sample();
    uint64_t information;
    assert_int_equal((uint32_t)mmwdk_ioctl(f, 0x12345678, NULL, 0, NULL, 0, &information), 0xC0000010u);
    char buf[8];
    assert_int_equal((uint32_t)mmwdk_read(f, buf, sizeof buf, &information), 0xC0000010u);
    assert_int_equal(mmwdk_close(f), 0);
}

/* The filter of tests/drivers/filter_driver.c, linked into this test. */
int32_t FilterDriverEntry(struct _DRIVER_OBJECT *driver, struct _UNICODE_STRING *registry_path);
struct filter_counts {
    int32_t requests, completions;
    uint64_t bytes;
};
extern struct filter_counts FilterCounts;
extern uintptr_t FilterEntryLocal;
int32_t FilterAskBelow(uint32_t code, void *in, uint32_t in_len, void *out, uint32_t out_len, uint64_t *information);

/* A filter started from the test attaches above the sample: opens go to
 * the top of the stack, control requests pass down through it with a
 * completion routine, which sees each one come back with its bytes. */
static void filter_above_the_sample(void **state)
{
    skip_without_host_view(state);
    memset(&FilterCounts, 0, sizeof FilterCounts);
    mmwdk_driver *filter = NULL;
    int32_t entry = -1;
    assert_ok(mmwdk_driver_start(FilterDriverEntry, "filter", &filter, &entry));
    assert_int_equal(entry, 0);
#if !defined(__SANITIZE_ADDRESS__)
    /* DriverEntry ran on a kernel stack: its locals were system memory. */
    struct mm_layout l;
    assert_ok(mm_machine_layout(H.m, &l));
    assert_true(FilterEntryLocal >= l.system_range_start && FilterEntryLocal < l.system_end);
#endif
    mmwdk_file *f = open_sample();
    char out[32] = {0};
    uint64_t information = 0;
    assert_int_equal(mmwdk_ioctl(f, IOCTL_SAMPLE_BUFFERED, "via", 4, out, sizeof out, &information), 0);
    assert_string_equal(out, REPLY);
    assert_int_equal(mmwdk_ioctl(f, IOCTL_SAMPLE_OUT_DIRECT, "via", 4, out, sizeof out, &information), 0);
    assert_int_equal(FilterCounts.requests, 2);
    assert_int_equal(FilterCounts.completions, 2);
    assert_int_equal(FilterCounts.bytes, 2 * sizeof REPLY);
    /* A request the filter builds itself (IoBuildDeviceIoControlRequest),
     * in kernel buffers, to the device below. */
    char *kin = (char *)(uintptr_t)mm_pool_allocate(H.m, MM_NONPAGED_POOL, 4, 0x74736554);
    char *kout = (char *)(uintptr_t)mm_pool_allocate(H.m, MM_NONPAGED_POOL, 32, 0x74736554);
    strcpy(kin, "k");
    uint64_t kinfo = 0;
    assert_int_equal(FilterAskBelow(IOCTL_SAMPLE_BUFFERED, kin, 4, kout, 32, &kinfo), 0);
    assert_int_equal(kinfo, sizeof REPLY);
    assert_string_equal(kout, REPLY);
    assert_ok(mm_pool_free(H.m, (mm_va)(uintptr_t)kin, 0x74736554));
    assert_ok(mm_pool_free(H.m, (mm_va)(uintptr_t)kout, 0x74736554));
    assert_int_equal(mmwdk_close(f), 0);
    struct mmwdk_leaks leaks;
    assert_ok(mmwdk_driver_unload(filter, &leaks));
    assert_int_equal(leaks.devices + leaks.pool_blocks, 0);
}

/* tests/drivers/pending_driver.c, linked into this test. */
int32_t PendingDriverEntry(struct _DRIVER_OBJECT *driver, struct _UNICODE_STRING *registry_path);
void PendingCompleteHeld(void);
extern unsigned char PendingNoCancel;
#define IOCTL_PENDING_HOLD 0x90002042u /* METHOD_OUT_DIRECT */

static mmwdk_file *held_request(mmwdk_driver **pending, bool cancel_routine)
{
    PendingNoCancel = !cancel_routine;
    int32_t entry = -1;
    assert_ok(mmwdk_driver_start(PendingDriverEntry, "pending", pending, &entry));
    mmwdk_file *f = NULL;
    int32_t status = -1;
    assert_ok(mmwdk_open(app, "\\\\.\\MmsimPending", &f, &status));
    assert_int_equal(status, 0);
    char out[16];
    uint64_t information;
    assert_int_equal(mmwdk_ioctl(f, IOCTL_PENDING_HOLD, NULL, 0, out, sizeof out, &information), 0x103);
    return f;
}

/* A process that exits with a request in a driver's hands: the request is
 * cancelled (the driver's cancel routine completes it), then the process
 * goes. */
static void exit_cancels_held_requests(void **state)
{
    skip_without_host_view(state);
    mmwdk_driver *pending;
    held_request(&pending, true);
    struct mm_process_info info;
    assert_ok(mm_process_query(H.m, app, &info));
    assert_int_equal(info.locked_pages, 1); /* the OUT_DIRECT buffer */
    assert_ok(mmwdk_process_exit(app));
    assert_ok(mm_process_query(H.m, app, &info));
    assert_true(info.terminated);
    assert_int_equal(info.locked_pages, 0);
    assert_ok(mmwdk_driver_unload(pending, NULL));
}

/* With no cancel routine the request never completes: the exit cannot
 * finish and the buffer stays locked, as on Windows; once the driver
 * completes it, the process can go. */
static void exit_waits_for_a_request_nobody_cancels(void **state)
{
    skip_without_host_view(state);
    mmwdk_driver *pending;
    held_request(&pending, false);
    assert_status(mmwdk_process_exit(app), MM_STATUS_INVALID_DEVICE_STATE);
    struct mm_process_info info;
    assert_ok(mm_process_query(H.m, app, &info));
    assert_false(info.terminated);
    assert_int_equal(info.locked_pages, 1);
    PendingCompleteHeld();
    assert_ok(mmwdk_process_exit(app));
    assert_ok(mm_process_query(H.m, app, &info));
    assert_true(info.terminated);
    assert_ok(mmwdk_driver_unload(pending, NULL));
}

/* tests/drivers/overread_driver.c, linked into this test. */
int32_t OverreadDriverEntry(struct _DRIVER_OBJECT *driver, struct _UNICODE_STRING *registry_path);
#define IOCTL_OVERREAD 0x90002080u /* METHOD_BUFFERED */

static mmwdk_file *open_overread(mmwdk_driver **d)
{
    int32_t entry = -1, status = -1;
    assert_ok(mmwdk_driver_start(OverreadDriverEntry, "overread", d, &entry));
    mmwdk_file *f = NULL;
    assert_ok(mmwdk_open(app, "\\\\.\\MmsimOverread", &f, &status));
    assert_int_equal(status, 0);
    return f;
}

/* A driver that reads past its system buffer: pool slack hides it, as on
 * Windows without Special Pool ... */
static void overread_of_a_pool_system_buffer_is_silent(void **state)
{
    skip_without_host_view(state);
    mmwdk_driver *d;
    mmwdk_file *f = open_overread(&d);
    unsigned char in[4] = {200, 1, 2, 3};
    uint64_t information;
    assert_int_equal(mmwdk_ioctl(f, IOCTL_OVERREAD, in, sizeof in, NULL, 0, &information), 0);
    assert_int_equal(mmwdk_close(f), 0);
    assert_ok(mmwdk_driver_unload(d, NULL));
}

/* The driver reads `within` bytes of its system buffer, then `beyond`:
 * the second request must stop the machine at the first byte of the page
 * after the buffer's, a read. */
static void overread_stops_the_machine(mmwdk_file *f, unsigned char within, unsigned char beyond)
{
    unsigned char in[4] = {within, 1, 2, 3};
    uint64_t information;
    assert_int_equal(mmwdk_ioctl(f, IOCTL_OVERREAD, in, sizeof in, NULL, 0, &information), 0);
    in[0] = beyond;
    H.hit = false;
    H.armed = true;
    if (setjmp(H.jump) == 0) {
        mmwdk_ioctl(f, IOCTL_OVERREAD, in, sizeof in, NULL, 0, &information);
        H.armed = false;
        fail_msg("the read past the system buffer did not stop the machine");
    }
    assert_int_equal(H.bc.p[0] & 0xFFF, 0);
    assert_int_equal(H.bc.p[1], 0);
}

/* ... and in exact mode the first byte past the length stops the machine
 * (0x50, a read of the invalid page after the buffer). */
static void overread_of_an_exact_system_buffer_is_0x50(void **state)
{
    skip_without_host_view(state);
    mmwdk_exact_buffers(true);
    mmwdk_driver *d;
    overread_stops_the_machine(open_overread(&d), 4, 200);
    mmwdk_exact_buffers(false);
    assert_int_equal(H.bc.code, 0x50);
}

/* ... and under Verifier's Special Pool the system buffer ends its page
 * with an inaccessible page after it: the driver's read past it stops the
 * machine at once (the bytes up to the 16-byte boundary are Special Pool's
 * slack, which only a write would change). From a driver image it is 0xD6
 * naming the driver and its instruction; from code outside any image (the
 * driver linked into this test) it is the kernel's 0xCD. */
static void overread_under_special_pool_is_0xD6(void **state)
{
    skip_without_host_view(state);
    assert_ok(mm_machine_set_verifier(H.m, MM_VERIFIER_SPECIAL_POOL));
    mmwdk_driver *d;
    int32_t entry = -1, status = -1;
    assert_ok(mmwdk_driver_load(OVERREAD_DRIVER, &d, &entry));
    assert_int_equal(entry, 0);
    mmwdk_file *f = NULL;
    assert_ok(mmwdk_open(app, "\\\\.\\MmsimOverread", &f, &status));
    assert_int_equal(status, 0);
    overread_stops_the_machine(f, 16, 17);
    assert_int_equal(H.bc.code, 0xD6);
    assert_true(H.bc.p[2] != 0);
    assert_non_null(strstr(H.bc.explanation, "overread_driver"));
}

static void overread_by_linked_code_under_special_pool_is_0xCD(void **state)
{
    skip_without_host_view(state);
    assert_ok(mm_machine_set_verifier(H.m, MM_VERIFIER_SPECIAL_POOL));
    mmwdk_driver *d;
    overread_stops_the_machine(open_overread(&d), 16, 17);
    assert_int_equal(H.bc.code, 0xCD);
}

/* What a driver leaves behind is reported at unload, with the pool tag
 * and the place in the driver's image that allocated it. */
static void unload_reports_leaks(void **state)
{
    skip_without_host_view(state);
    mmwdk_driver *leaky;
    int32_t entry = -1;
    assert_ok(mmwdk_driver_load(LEAKY_DRIVER, &leaky, &entry));
    assert_int_equal(entry, 0);
    struct mmwdk_leaks leaks;
    assert_ok(mmwdk_driver_unload(leaky, &leaks));
    assert_int_equal(leaks.pool_blocks, 1);
    assert_int_equal(leaks.pool_bytes, 100);
    assert_int_equal(leaks.devices, 1);
    assert_non_null(strstr(leaks.report, "tag 'Leak', allocated at libleaky_driver.so+0x"));
    assert_non_null(strstr(leaks.report, "never deleted (IoDeleteDevice)"));
}

extern unsigned char OverreadDirect, OverreadLastByte;

/* ReadFile and WriteFile, by the device's flags: buffered (a system
 * buffer, the read copied back) and direct (an MDL of the user's buffer). */
static void read_and_write(bool direct)
{
    OverreadDirect = direct;
    OverreadLastByte = 0;
    mmwdk_driver *d;
    mmwdk_file *f = open_overread(&d);
    char buf[100];
    memset(buf, 0, sizeof buf);
    uint64_t information = 0;
    assert_int_equal(mmwdk_read(f, buf, 10, &information), 0);
    assert_int_equal(information, 10);
    assert_memory_equal(buf, "rrrrrrrrrr", 10);
    assert_int_equal(buf[10], 0);
    assert_int_equal(mmwdk_write(f, "Wxyz", 4, &information), 0);
    assert_int_equal(information, 4);
    assert_int_equal(OverreadLastByte, 'W');
    assert_int_equal(mmwdk_close(f), 0);
    assert_ok(mmwdk_driver_unload(d, NULL));
}

static void buffered_read_and_write(void **state)
{
    skip_without_host_view(state);
    read_and_write(false);
}

static void direct_read_and_write(void **state)
{
    skip_without_host_view(state);
    read_and_write(true);
}

/* Low Resources Simulation: each routine fails where the driver meets it,
 * and the sample's error paths answer with STATUS_INSUFFICIENT_RESOURCES. */
static int32_t neither_with(uint32_t site, uint64_t nth)
{
    struct mmwdk_injection inj = {.sites = site, .fail_nth = nth};
    mmwdk_inject(&inj);
    mmwdk_file *f = open_sample();
    char out[32];
    uint64_t information;
    int32_t st = mmwdk_ioctl(f, IOCTL_SAMPLE_NEITHER, "in", 3, out, sizeof out, &information);
    mmwdk_inject(NULL);
    assert_int_equal(mmwdk_close(f), 0);
    return st;
}

static void low_resources_simulation(void **state)
{
    skip_without_host_view(state);
    assert_int_equal((uint32_t)neither_with(MMWDK_INJECT_MDL, 1), 0xC000009Au);  /* IoAllocateMdl NULL */
    assert_int_equal((uint32_t)neither_with(MMWDK_INJECT_LOCK, 1), 0xC000009Au); /* raised, caught */
    assert_int_equal((uint32_t)neither_with(MMWDK_INJECT_MAP, 1), 0xC000009Au);  /* no system mapping */
    assert_int_equal((uint32_t)neither_with(MMWDK_INJECT_MDL, 2), 0);            /* only one call: none failed */
    assert_false(mm_machine_is_dead(H.m));
    /* A DriverEntry whose pool allocation fails does not load. */
    struct mmwdk_injection pool = {.sites = MMWDK_INJECT_POOL, .fail_nth = 1};
    mmwdk_inject(&pool);
    mmwdk_driver *leaky = (mmwdk_driver *)1;
    int32_t entry = 0;
    assert_ok(mmwdk_driver_load(LEAKY_DRIVER, &leaky, &entry));
    assert_int_equal((uint32_t)entry, 0xC000009Au);
    assert_null(leaky);
    assert_int_equal(mmwdk_injected(), 1);
    mmwdk_inject(NULL);
}

/* One in N, seeded: the same seed fails the same calls. */
static void low_resources_one_in_n_is_deterministic(void **state)
{
    skip_without_host_view(state);
    int32_t runs[2][12];
    for (int round = 0; round < 2; round++) {
        struct mmwdk_injection inj = {.sites = MMWDK_INJECT_MDL | MMWDK_INJECT_LOCK, .one_in = 3, .seed = 42};
        mmwdk_inject(&inj);
        mmwdk_file *f = open_sample();
        for (int i = 0; i < 12; i++) {
            char out[8];
            uint64_t information;
            runs[round][i] = mmwdk_ioctl(f, IOCTL_SAMPLE_NEITHER, "x", 2, out, sizeof out, &information);
        }
        mmwdk_inject(NULL);
        assert_int_equal(mmwdk_close(f), 0);
    }
    int failures = 0;
    for (int i = 0; i < 12; i++) {
        assert_int_equal(runs[0][i], runs[1][i]);
        failures += runs[0][i] != 0;
    }
    assert_true(failures > 0 && failures < 12);
}

/* A driver that cannot load names the routine it lacks. */
static void missing_driver_is_refused(void **state)
{
    skip_without_host_view(state);
    mmwdk_driver *d = (mmwdk_driver *)1;
    int32_t entry = 0;
    assert_status(mmwdk_driver_load("/nonexistent/driver.so", &d, &entry), MM_STATUS_OBJECT_NAME_NOT_FOUND);
    assert_null(d);
}

/* Unload: DriverUnload deletes its link and device, nothing is left. */
static void unload_leaves_nothing(void **state)
{
    skip_without_host_view(state);
    struct mmwdk_leaks leaks;
    assert_ok(mmwdk_driver_unload(driver, &leaks));
    driver = NULL;
    assert_int_equal(leaks.pool_blocks, 0);
    assert_int_equal(leaks.devices, 0);
    assert_int_equal(leaks.symbolic_links, 0);
    assert_int_equal(leaks.locked_mdls, 0);
    assert_string_equal(leaks.report, "");
    assert_non_null(strstr(debug_text, "sample: unloaded"));
    mmwdk_file *f = NULL;
    int32_t status = 0;
    assert_ok(mmwdk_open(app, SAMPLE_LINK_NAME, &f, &status));
    assert_int_equal((uint32_t)status, 0xC0000034u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup_wdk, teardown_wdk)
        T(driver_entry_made_its_device),
        T(method_buffered),
        T(method_in_direct),
        T(method_out_direct),
        T(out_direct_survives_a_freed_buffer),
        T(method_neither),
        T(short_output),
        T(neither_with_kernel_pointer_is_caught),
        T(neither_with_unmapped_user_pointer_is_caught),
        T(neither_with_wild_pointers_is_caught),
        T(buffered_request_with_a_kernel_buffer_is_refused),
        T(unknown_requests),
        T(filter_above_the_sample),
        T(missing_driver_is_refused),
        T(unload_reports_leaks),
        T(low_resources_simulation),
        T(low_resources_one_in_n_is_deterministic),
        T(buffered_read_and_write),
        T(direct_read_and_write),
        T(exit_cancels_held_requests),
        T(overread_of_a_pool_system_buffer_is_silent),
        T(overread_of_an_exact_system_buffer_is_0x50),
        T(overread_under_special_pool_is_0xD6),
        T(overread_by_linked_code_under_special_pool_is_0xCD),
        T(exit_waits_for_a_request_nobody_cancels),
        T(unload_leaves_nothing),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
