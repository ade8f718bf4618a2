/* fuzz/mmsim_fuzz.c — mmsim-fuzz: fuzzes a driver built against include/wdk.
 *
 *   mmsim-fuzz DRIVER.so [-mmsim_verifier=FLAGS] [-mmsim_exact_buffers=1]
 *              [libFuzzer options] [corpus directories]
 *
 * Each input runs on a fresh hosted machine: the driver is loaded and its
 * DriverEntry called, a user process opens the driver's device, and the
 * input is decoded into up to 16 requests (docs/fuzzing.md gives the
 * format): DeviceIoControl with any code and input/output sizes, reads,
 * writes, reopening the device, and failures of the routines the driver
 * calls (Low Resources Simulation). A bug check prints one line,
 * `mmsim: bugcheck 0x4E/0x7 in MmUnlockPages` (code/P1 and the routine),
 * then the report, and aborts: libFuzzer saves the input and crashes
 * deduplicate by that line. Built without libFuzzer, the replay main runs
 * a corpus against the driver as a test. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
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

/* The driver stays loaded in the host process for the whole campaign:
 * libFuzzer keeps pointers to its coverage counters, which an unload would
 * pull away. Each machine adopts it afresh; before that, its writable data
 * goes back to the bytes it had when loaded, so every input starts from the
 * same driver. */
struct saved_range {
    unsigned char *at;
    size_t bytes;
    unsigned char *copy;
};
static struct saved_range saved[8];
static unsigned saved_count;
static void *driver_handle;

/* The segment whole, redzones between its globals included (an
 * AddressSanitizer build poisons them; memcpy would be checked). */
#if defined(__clang__) || defined(__GNUC__)
__attribute__((no_sanitize("address")))
#endif
static void raw_copy(unsigned char *to, const unsigned char *from, size_t n)
{
    volatile unsigned char *d = to;
    for (size_t i = 0; i < n; i++)
        d[i] = from[i];
}

static int save_writable(struct dl_phdr_info *info, size_t size, void *ctx)
{
    (void)size;
    struct link_map *lm = ctx;
    if ((ElfW(Addr))info->dlpi_addr != lm->l_addr || strcmp(info->dlpi_name, lm->l_name) != 0)
        return 0;
    uintptr_t relro_start = 0, relro_end = 0;
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_GNU_RELRO) {
            relro_start = info->dlpi_addr + info->dlpi_phdr[i].p_vaddr;
            relro_end = (relro_start + info->dlpi_phdr[i].p_memsz) & ~(uintptr_t)4095;
        }
    for (int i = 0; i < info->dlpi_phnum && saved_count < 8; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_W))
            continue;
        uintptr_t start = info->dlpi_addr + ph->p_vaddr, end = start + ph->p_memsz;
        if (start < relro_end && end > relro_end && start >= relro_start)
            start = relro_end; /* read-only once relocated */
        struct saved_range *r = &saved[saved_count++];
        r->at = (unsigned char *)start;
        r->bytes = end - start;
        r->copy = malloc(r->bytes);
        if (!r->copy)
            abort();
        raw_copy(r->copy, r->at, r->bytes);
    }
    return 1;
}

static void keep_driver_loaded(void)
{
    driver_handle = dlopen(driver_path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    struct link_map *lm = NULL;
    if (!driver_handle || dlinfo(driver_handle, RTLD_DI_LINKMAP, &lm) != 0 || !lm) {
        fprintf(stderr, "mmsim-fuzz: cannot load %s: %s\n", driver_path, dlerror());
        exit(2);
    }
    dl_iterate_phdr(save_writable, lm);
}

static void restore_driver_data(void)
{
    for (unsigned i = 0; i < saved_count; i++)
        raw_copy(saved[i].at, saved[i].copy, saved[i].bytes);
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
        else
            (*argv)[kept++] = (*argv)[i];
    }
    *argc = kept;
    (*argv)[kept] = NULL;
    if (!driver_path) {
        fputs("usage: mmsim-fuzz DRIVER.so [-mmsim_verifier=FLAGS] [-mmsim_exact_buffers=1] [libFuzzer options]\n",
              stderr);
        exit(2);
    }
    keep_driver_loaded();
    return 0;
}

/* The crash's signature line first, then the report: the fuzzer keeps the
 * input, and the same bug always prints the same first line. */
static void on_bugcheck(void *ctx, mm_machine *m, const struct mm_bugcheck *bc)
{
    (void)ctx;
    (void)m;
    fprintf(stderr, "mmsim: bugcheck 0x%X/0x%llX in %s\n", bc->code, (unsigned long long)bc->p[0],
            bc->operation ? bc->operation : "?");
    static char report[8192];
    mm_bugcheck_format(bc, report, sizeof report);
    fputs(report, stderr);
    fflush(stderr);
    abort();
}

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

/* One request: op (ioctl, read, write, reopen, inject), then its fields. */
static bool request(struct input *in, mm_process *p, mmwdk_driver *d, mmwdk_file **f)
{
    static uint8_t data[MAX_BUFFER], out[MAX_BUFFER];
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
    memcpy(data, in->p, in_len);
    in->p += in_len;
    in->left -= in_len;
    if (op == 0)
        mmwdk_ioctl(*f, code, data, in_len, out, out_len, &information);
    else if (op == 1)
        mmwdk_read(*f, out, out_len, &information);
    else
        mmwdk_write(*f, data, in_len, &information);
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mm_config cfg;
    mm_config_default(&cfg);
    cfg.layout = MM_LAYOUT_HOSTED;
    cfg.physical_pages = 4096;
    cfg.trace_capacity = 0;
    cfg.verifier_flags = verifier;
    cfg.bugcheck_hook = on_bugcheck;
    restore_driver_data();
    mm_machine *m = NULL;
    if (!MM_SUCCESS(mm_machine_create(&cfg, &m))) {
        fputs("mmsim-fuzz: this host cannot make a hosted machine\n", stderr);
        exit(2);
    }
    mmwdk_use(m);
    mmwdk_exact_buffers(exact);
    mmwdk_set_debug_output(quiet, NULL);
    mmwdk_driver *d = NULL;
    int32_t entry = 0;
    mm_status st = mmwdk_driver_load(driver_path, &d, &entry);
    if (!MM_SUCCESS(st)) {
        fprintf(stderr, "mmsim-fuzz: cannot load %s: %s %s\n", driver_path, mm_status_meaning(st),
                mm_image_load_error());
        exit(2);
    }
    mm_process *p = NULL;
    mmwdk_file *f = NULL;
    int32_t status = 0;
    if (d && MM_SUCCESS(mm_process_create(m, "fuzz.exe", &p)) && MM_SUCCESS(mmwdk_open_driver(p, d, &f, &status)) &&
        f) {
        struct input in = {data, size};
        for (int i = 0; i < MAX_REQUESTS && f && request(&in, p, d, &f); i++)
            ;
        mmwdk_process_exit(p);
    }
    if (d)
        mmwdk_driver_unload(d, NULL);
    mmwdk_use(NULL);
    mm_machine_destroy(m);
    return 0;
}
