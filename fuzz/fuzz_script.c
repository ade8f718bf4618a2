/* fuzz/fuzz_script.c — libFuzzer target for the scenario language: any
 * bytes are parsed and, when they parse, run against a small machine. The
 * process must never crash, leak or trip a sanitizer; a bad script is an
 * exit code, not a failure. */
#include <stdint.h>
#include <stdio.h>

#include "interp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *sink;
    if (!sink)
        sink = fopen("/dev/null", "w");
    if (!sink || size > 1 << 16)
        return 0;
    struct interp in;
    interp_init(&in, sink, "fuzz");
    in.cfg.physical_pages = 1024; /* keep each run small and fast */
    in.cfg.pagefile_pages = 256;
    in.cfg.trace_capacity = 4096;
    in.budget = 20000; /* repeat blocks must not run for ever */
    interp_run_text(&in, (const char *)data, size);
    interp_fini(&in);
    return 0;
}
