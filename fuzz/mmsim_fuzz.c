/* fuzz/mmsim_fuzz.c — mmsim-fuzz: fuzzes a driver built against include/wdk.
 *
 *   mmsim-fuzz DRIVER.so [-mmsim_verifier=FLAGS] [-mmsim_exact_buffers=1]
 *              [-mmsim_unload=1] [-mmsim_double_fetch=1|2]
 *              [-mmsim_adversary=ONE_IN] [libFuzzer options] [corpus directories]
 *
 * One hosted machine serves the whole run: the driver is loaded and its
 * DriverEntry called, a user process opens the driver's device, and the
 * machine's snapshot is taken. Each input restores it and is decoded into
 * up to 16 requests (docs/fuzzing.md gives the format): DeviceIoControl with any code and input/output sizes, reads,
 * writes, reopening the device, and failures of the routines the driver
 * calls (Low Resources Simulation). A bug check prints one line,
 * `mmsim: bugcheck 0x4E/0x7 in MmUnlockPages` (code/P1 and the routine),
 * then the report, and aborts: libFuzzer saves the input and crashes
 * deduplicate by that line. Built without libFuzzer, the replay main runs
 * a corpus against the driver as a test. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mm/mm.h"
#include "mmsim/wdk.h"

#define MAX_REQUESTS 16
#define MAX_BUFFER 4096

static const char *driver_path;
static uint32_t verifier;
static bool exact;
static bool unload;
static unsigned double_fetch; /* 1: watch user reads, 2: and flip the second */
static uint32_t adversary;    /* one_in for mmwdk_adversary; 0: off */

/* The driver stays loaded in the host process for the whole campaign:
 * libFuzzer keeps pointers to its coverage counters, which an unload would
 * pull away. */
static void keep_driver_loaded(void)
{
    if (!dlopen(driver_path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE)) {
        fprintf(stderr, "mmsim-fuzz: cannot load %s: %s\n", driver_path, dlerror());
        exit(2);
    }
}

/* libFuzzer's -fork, -merge and -minimize_crash run the program again
 * with the arguments it saw, which no longer name the driver: the settings
 * travel in the environment, which the children inherit (and which a user
 * may set instead of the arguments). */
static void inherit_settings(void)
{
    char value[32];
    if (driver_path)
        setenv("MMSIM_FUZZ_DRIVER_PATH", driver_path, 1);
    else
        driver_path = getenv("MMSIM_FUZZ_DRIVER_PATH");
    const char *v = getenv("MMSIM_FUZZ_VERIFIER");
    if (verifier) {
        snprintf(value, sizeof value, "0x%X", (unsigned)verifier);
        setenv("MMSIM_FUZZ_VERIFIER", value, 1);
    } else if (v) {
        verifier = (uint32_t)strtoul(v, NULL, 0);
    }
    if (exact)
        setenv("MMSIM_FUZZ_EXACT_BUFFERS", "1", 1);
    else
        exact = getenv("MMSIM_FUZZ_EXACT_BUFFERS") && strcmp(getenv("MMSIM_FUZZ_EXACT_BUFFERS"), "1") == 0;
    if (unload)
        setenv("MMSIM_FUZZ_UNLOAD", "1", 1);
    else
        unload = getenv("MMSIM_FUZZ_UNLOAD") && strcmp(getenv("MMSIM_FUZZ_UNLOAD"), "1") == 0;
    if (double_fetch) {
        snprintf(value, sizeof value, "%u", double_fetch);
        setenv("MMSIM_FUZZ_DOUBLE_FETCH", value, 1);
    } else if ((v = getenv("MMSIM_FUZZ_DOUBLE_FETCH")) != NULL) {
        double_fetch = (unsigned)strtoul(v, NULL, 0);
    }
    if (adversary) {
        snprintf(value, sizeof value, "%u", (unsigned)adversary);
        setenv("MMSIM_FUZZ_ADVERSARY", value, 1);
    } else if ((v = getenv("MMSIM_FUZZ_ADVERSARY")) != NULL) {
        adversary = (uint32_t)strtoul(v, NULL, 0);
    }
}

/* Takes mmsim-fuzz's own arguments out of argv, so libFuzzer sees only its
 * own: the driver (the first argument ending in .so) and -mmsim_* flags. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    int kept = 1;
    for (int i = 1; i < *argc; i++) {
        const char *a = (*argv)[i];
        size_t n = strlen(a);
        if (!driver_path && a[0] != '-' && n > 3 && strcmp(a + n - 3, ".so") == 0)
            driver_path = a;
        else if (strncmp(a, "-mmsim_verifier=", 16) == 0)
            verifier = (uint32_t)strtoul(a + 16, NULL, 0);
        else if (strcmp(a, "-mmsim_exact_buffers=1") == 0)
            exact = true;
        else if (strcmp(a, "-mmsim_unload=1") == 0)
            unload = true;
        else if (strncmp(a, "-mmsim_double_fetch=", 20) == 0)
            double_fetch = (unsigned)strtoul(a + 20, NULL, 0);
        else if (strncmp(a, "-mmsim_adversary=", 17) == 0)
            adversary = (uint32_t)strtoul(a + 17, NULL, 0);
        else
            (*argv)[kept++] = (*argv)[i];
    }
    *argc = kept;
    (*argv)[kept] = NULL;
    inherit_settings();
    if (!driver_path) {
        fputs("usage: mmsim-fuzz DRIVER.so [-mmsim_verifier=FLAGS] [-mmsim_exact_buffers=1] [-mmsim_unload=1]\n"
              "       [-mmsim_double_fetch=1|2] [-mmsim_adversary=ONE_IN] [libFuzzer options]\n",
              stderr);
        exit(2);
    }
    keep_driver_loaded();
    return 0;
}

/* The crash's signature line first, then the report: the fuzzer keeps the
 * input, and the same bug always prints the same first line. */
static void print_bugcheck(FILE *to, const struct mm_bugcheck *bc)
{
    fprintf(to, "mmsim: bugcheck 0x%X/0x%llX in %s\n", bc->code, (unsigned long long)bc->p[0],
            bc->operation ? bc->operation : "?");
    static char report[8192];
    mm_bugcheck_format(bc, report, sizeof report);
    fputs(report, to);
    fflush(to);
}

/* `mmsim replay` (sim/replay.c) includes this file with its own hook and a
 * trace. */
#ifndef MMSIM_FUZZ_BUGCHECK_HOOK
static void on_bugcheck(void *ctx, mm_machine *m, const struct mm_bugcheck *bc)
{
    (void)ctx;
    (void)m;
    print_bugcheck(stderr, bc);
    abort();
}
#define MMSIM_FUZZ_BUGCHECK_HOOK on_bugcheck
#endif
#ifndef MMSIM_FUZZ_TRACE_CAPACITY
#define MMSIM_FUZZ_TRACE_CAPACITY 0
#endif

static void quiet(void *ctx, const char *line)
{
    (void)ctx;
    (void)line;
}

struct input {
    const uint8_t *p;
    size_t left;
};

static uint32_t take(struct input *in, unsigned bytes)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < bytes && in->left; i++, in->left--)
        v |= (uint32_t)*in->p++ << (8 * i);
    return v;
}

/* The user buffers: a committed page each, then an uncommitted one, made
 * before the snapshot. A request's buffer ends where the committed page
 * does, so a driver reading or writing past its length faults, as with a
 * buffer of exactly that size. */
static mm_va in_page, out_page;

static mm_va user_page(mm_machine *m)
{
    mm_va base = 0;
    uint64_t size = 2 * MM_PAGE_SIZE;
    if (!MM_SUCCESS(mm_virtual_alloc(m, NULL, &base, &size, MM_MEM_RESERVE, MM_PAGE_READWRITE)))
        return 0;
    size = MM_PAGE_SIZE;
    uint8_t zero = 0;
    if (!MM_SUCCESS(mm_virtual_alloc(m, NULL, &base, &size, MM_MEM_COMMIT, MM_PAGE_READWRITE)) ||
        !MM_SUCCESS(mm_write(m, base, &zero, 1))) /* resident in the snapshot: no demand-zero fault per input */
        return 0;
    return base;
}

static mm_va ending_at_page_end(mm_va page, uint32_t len) { return len ? page + MM_PAGE_SIZE - len : 0; }

/* One request: op (ioctl, read, write, reopen, inject), then its fields. */
static bool request(mm_machine *m, struct input *in, mm_process *p, mmwdk_driver *d, mmwdk_file **f)
{
    if (!in->left)
        return false;
    uint8_t op = (uint8_t)take(in, 1) % 5;
    uint64_t information;
    int32_t status;
    if (op == 4) { /* Low Resources Simulation: these routines fail from the Nth call on */
        struct mmwdk_injection inj = {.sites = take(in, 1) & MMWDK_INJECT_ALL, .fail_nth = take(in, 2)};
        mmwdk_inject(&inj);
        return true;
    }
    if (op == 3) { /* close and open again */
        mmwdk_close(*f);
        *f = NULL;
        return MM_SUCCESS(mmwdk_open_driver(p, d, f, &status)) && *f;
    }
    uint32_t code = op == 0 ? take(in, 4) : 0;
    uint32_t in_len = op == 1 ? 0 : take(in, 2) % (MAX_BUFFER + 1);
    uint32_t out_len = op == 2 ? 0 : take(in, 2) % (MAX_BUFFER + 1);
    if (in_len > in->left)
        in_len = (uint32_t)in->left;
    mm_va user_in = ending_at_page_end(in_page, in_len), user_out = ending_at_page_end(out_page, out_len);
    if (in_len) /* the CPU is in the process's context already */
        mm_write(m, user_in, in->p, in_len);
    in->p += in_len;
    in->left -= in_len;
    if (op == 0)
        mmwdk_ioctl_at(*f, code, user_in, in_len, user_out, out_len, &information);
    else if (op == 1)
        mmwdk_read_at(*f, user_out, out_len, &information);
    else
        mmwdk_write_at(*f, user_in, in_len, &information);
    return true;
}

/* A double fetch is a bug even when no bug check follows: a crash with
 * its own first line. */
static void report_double_fetch(mm_machine *m)
{
    struct mm_finding found[32];
    size_t n = mm_findings_read(m, found, 32);
    for (size_t i = 0; i < n; i++) {
        if (found[i].kind != MM_FINDING_DOUBLE_FETCH)
            continue;
        fprintf(stderr, "mmsim: finding double-fetch\n%s\n", found[i].text);
        fflush(stderr);
        abort();
    }
}

/* The machine every input starts from: the driver loaded and its
 * DriverEntry run, a user process with the device open. */
static struct {
    mm_machine *m;
    mmwdk_driver *d;
    mm_process *p;
    mmwdk_file *f;
    struct mm_apc_state apc; /* attached to p from the snapshot on */
} ready;

/* At exit the host's loader runs the driver's destructors: its pages must
 * be host memory again by then. */
static void destroy_ready(void)
{
    mm_machine_pin_fault_handler(ready.m, false);
    mmwdk_use(NULL);
    mm_machine_destroy(ready.m);
    ready.m = NULL;
}

/* The machine has run a while before the snapshot: pool pages that blocks
 * were freed from stay mapped in the pool, and the host view maps them, so
 * an input's requests allocate and free pool with no host mapping made or
 * removed. (With Special Pool each block has its own page again.) */
#define WARM_POOL_PAGES 8

static void warm_pool(mm_machine *m)
{
    mm_va block[WARM_POOL_PAGES];
    uint32_t tag = MM_POOL_TAG('W', 'a', 'r', 'm');
    for (int i = 0; i < WARM_POOL_PAGES; i++)
        if ((block[i] = mm_pool_allocate(m, MM_NONPAGED_POOL, 0xFE0, tag)) != 0)
            memset((void *)(uintptr_t)block[i], 0, 0xFE0);
    for (int i = 0; i < WARM_POOL_PAGES; i++)
        if (block[i])
            mm_pool_free(m, block[i], tag);
}

static void prepare(void)
{
    struct mm_config cfg;
    mm_config_default(&cfg);
    cfg.layout = MM_LAYOUT_HOSTED;
    cfg.physical_pages = 4096;
    cfg.trace_capacity = MMSIM_FUZZ_TRACE_CAPACITY;
    cfg.bugcheck_hook = MMSIM_FUZZ_BUGCHECK_HOOK;
    cfg.snapshots = true;
    if (!MM_SUCCESS(mm_machine_create(&cfg, &ready.m))) {
        fputs("mmsim-fuzz: this host cannot make a hosted machine\n", stderr);
        exit(2);
    }
    mmwdk_use(ready.m);
    warm_pool(ready.m);
    if (verifier && !MM_SUCCESS(mm_machine_set_verifier(ready.m, verifier))) {
        fputs("mmsim-fuzz: bad -mmsim_verifier flags\n", stderr);
        exit(2);
    }
    mmwdk_exact_buffers(exact);
    mmwdk_set_debug_output(quiet, NULL);
    int32_t entry = 0, status = 0;
    mm_status st = mmwdk_driver_load(driver_path, &ready.d, &entry);
    if (!MM_SUCCESS(st) || !ready.d) {
        fprintf(stderr, "mmsim-fuzz: cannot load %s: %s %s (DriverEntry 0x%08X)\n", driver_path,
                mm_status_meaning(st), mm_image_load_error(), (unsigned)entry);
        exit(2);
    }
    if (!MM_SUCCESS(mm_process_create(ready.m, "fuzz.exe", &ready.p)) ||
        !MM_SUCCESS(mmwdk_open_driver(ready.p, ready.d, &ready.f, &status)) || !ready.f) {
        fprintf(stderr, "mmsim-fuzz: the driver's device does not open (0x%08X)\n", (unsigned)status);
        exit(2);
    }
    /* The input's requests come from the process's thread: the CPU stays
     * in its context, with no address-space switch per request. */
    if (MM_SUCCESS(mm_process_attach(ready.m, ready.p, &ready.apc))) {
        in_page = user_page(ready.m);
        out_page = user_page(ready.m);
    }
    if (!in_page || !out_page) {
        fputs("mmsim-fuzz: no user buffers\n", stderr);
        exit(2);
    }
    if (double_fetch) {
        struct mm_watch_config watch = {.flip = double_fetch >= 2, .seed = 1};
        if (!MM_SUCCESS(mm_machine_watch_user_reads(ready.m, &watch))) {
            fputs("mmsim-fuzz: this host cannot watch user reads (x86-64 only)\n", stderr);
            exit(2);
        }
    }
    atexit(destroy_ready);
    mm_machine_pin_fault_handler(ready.m, true); /* libFuzzer installs none after this */
    if (!MM_SUCCESS(mm_machine_snapshot(ready.m))) {
        fputs("mmsim-fuzz: cannot take the machine's snapshot\n", stderr);
        exit(2);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ready.m)
        prepare();
    else if (!MM_SUCCESS(mm_machine_restore(ready.m)))
        abort();
    mmwdk_use(ready.m);
    mmwdk_file *f = ready.f;
    struct input in = {data, size};
    if (adversary && size) { /* the input's last byte seeds the interleaving */
        struct mmwdk_adversary adv = {.actions = MMWDK_ADVERSARY_ALL, .one_in = adversary, .seed = data[size - 1]};
        mmwdk_adversary(&adv);
        in.left--;
    }
    for (int i = 0; i < MAX_REQUESTS && f && request(ready.m, &in, ready.p, ready.d, &f); i++)
        ;
    report_double_fetch(ready.m);
    /* Process exit ends every input (locked pages, held requests), and
     * with -mmsim_unload=1 DriverUnload; the next input restores the
     * snapshot. */
    struct mm_apc_state apc = ready.apc; /* as the snapshot's attach left it */
    if (!unload) /* no driver code runs before the restore: the user pages' host mappings can wait for it */
        mm_machine_defer_host_unmaps(ready.m);
    mm_process_detach(ready.m, &apc);
    mmwdk_process_exit(ready.p);
    if (unload)
        mmwdk_driver_unload(ready.d, NULL);
    return 0;
}
