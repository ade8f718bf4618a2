/* examples/fuzz-template/fuzz_driver.c — a fuzz target for a driver whose
 * DriverEntry is linked into the fuzzer (here the IOCTL sample,
 * examples/drivers/ioctl), to copy for your own driver. For a driver
 * built as a shared object, use mmsim-fuzz instead (docs/fuzzing.md).
 *
 * Each input runs on a fresh machine: DriverEntry, a user process that
 * opens the device, the requests the input decodes to, the process's exit,
 * DriverUnload. A bug check aborts with its report (the default hook), so
 * the fuzzer keeps the input; so does a leak found at unload. Built
 * against an installed mmsim:
 *
 *   clang -fsanitize=fuzzer,address $(pkg-config --cflags mmsim-wdk) \
 *       fuzz_driver.c mydriver.c $(pkg-config --libs mmsim-wdk)
 *
 * or with mmsim's fuzz/replay.c instead of -fsanitize=fuzzer, to replay a
 * corpus as a test (meson.build here does both). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "ioctl_codes.h"
#include "mm/mm.h"
#include "mmsim/wdk.h"

/* 1. Your driver: its DriverEntry (compiled against include/wdk, linked
 *    in), the name its device is opened by and the codes it answers, with
 *    one it does not know (it must refuse that one). */
int32_t DriverEntry(struct _DRIVER_OBJECT *driver, struct _UNICODE_STRING *registry_path);
static const uint32_t codes[] = {IOCTL_SAMPLE_BUFFERED, IOCTL_SAMPLE_IN_DIRECT, IOCTL_SAMPLE_OUT_DIRECT,
                                 IOCTL_SAMPLE_NEITHER, SAMPLE_CTL(0x9FF, 0)};

static void quiet(void *ctx, const char *line)
{
    (void)ctx;
    (void)line;
}

/* 2. What an input means: up to 8 requests, each three bytes (which
 *    code, input length, output length) and then the input bytes. */
static void send_requests(mmwdk_file *f, const uint8_t *data, size_t size)
{
    static uint8_t out[256];
    for (int i = 0; i < 8 && size >= 3; i++) {
        uint32_t code = codes[data[0] % (sizeof codes / sizeof codes[0])];
        uint8_t in_len = data[1], out_len = data[2];
        data += 3, size -= 3;
        if (in_len > size)
            in_len = (uint8_t)size;
        uint64_t information;
        mmwdk_ioctl(f, code, data, in_len, out, out_len, &information);
        data += in_len, size -= in_len;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* 3. A small hosted machine, so the driver's pointers are real. */
    struct mm_config cfg;
    mm_config_default(&cfg);
    cfg.layout = MM_LAYOUT_HOSTED;
    cfg.physical_pages = 4096;
    cfg.trace_capacity = 0; /* no history in the report, but faster */
    mm_machine *m;
    if (!MM_SUCCESS(mm_machine_create(&cfg, &m)))
        abort();
    mmwdk_use(m);
    mmwdk_set_debug_output(quiet, NULL); /* DbgPrint: not on every run */

    /* 4. Load, open, send, exit, unload. The driver's globals are host
     *    memory and are not reset between inputs: DriverEntry must set
     *    them, or reset them here. */
    mmwdk_driver *d;
    int32_t entry;
    if (!MM_SUCCESS(mmwdk_driver_start(DriverEntry, "sample", &d, &entry)) || !d)
        abort(); /* DriverEntry failed with nothing injected: a bug */
    mm_process *p;
    mmwdk_file *f = NULL;
    int32_t status;
    if (MM_SUCCESS(mm_process_create(m, "fuzz.exe", &p))) {
        if (MM_SUCCESS(mmwdk_open(p, SAMPLE_LINK_NAME, &f, &status)) && f)
            send_requests(f, data, size);
        mmwdk_process_exit(p); /* closes f; 0x76 if pages stay locked */
    }
    struct mmwdk_leaks leaks;
    mmwdk_driver_unload(d, &leaks);
    if (leaks.pool_blocks || leaks.devices || leaks.symbolic_links || leaks.locked_mdls || leaks.mapped_mdls) {
        fprintf(stderr, "driver leaked at unload:\n%s", leaks.report);
        abort();
    }
    mmwdk_use(NULL);
    mm_machine_destroy(m);
    return 0;
}
