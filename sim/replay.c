/* sim/replay.c — `mmsim replay DRIVER.so INPUT [-mmsim_* options]`: runs one
 * mmsim-fuzz input (a crash a fuzzer saved, a corpus file) the way
 * mmsim-fuzz does, on a machine that keeps a trace, and prints the trace
 * and the outcome: the same every time for the same input and options. The
 * input's decoding is mmsim-fuzz's own (fuzz/mmsim_fuzz.c, included). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#include <sys/personality.h>
#include <unistd.h>
#endif

#include "mm/mm.h"

static void replay_bugcheck(void *ctx, mm_machine *m, const struct mm_bugcheck *bc);
#define MMSIM_FUZZ_BUGCHECK_HOOK replay_bugcheck
#define MMSIM_FUZZ_TRACE_CAPACITY 65536
#define LLVMFuzzerInitialize mmsim_fuzz_initialize
#define LLVMFuzzerTestOneInput mmsim_fuzz_one
#include "../fuzz/mmsim_fuzz.c"
#undef LLVMFuzzerInitialize
#undef LLVMFuzzerTestOneInput

#include "replay.h"

static void print_trace(mm_machine *m)
{
    static struct mm_trace_event events[65536];
    size_t n = mm_trace_read(m, events, sizeof events / sizeof events[0]);
    char line[256];
    printf("trace: %zu events\n", n);
    for (size_t i = 0; i < n; i++) {
        mm_trace_format(&events[i], line, sizeof line);
        printf("%s\n", line);
    }
}

static void print_findings(mm_machine *m)
{
    struct mm_finding found[64];
    size_t n = mm_findings_read(m, found, 64);
    for (size_t i = 0; i < n; i++)
        printf("finding %s: %s\n", mm_finding_name(found[i].kind), found[i].text);
}

/* Driver code cannot go on past a bug check: the outcome is printed and the
 * run ends here, with mmsim's "unexpected bug check" status. */
static void replay_bugcheck(void *ctx, mm_machine *m, const struct mm_bugcheck *bc)
{
    (void)ctx;
    print_trace(m);
    print_findings(m);
    printf("outcome: ");
    print_bugcheck(stdout, bc);
    fflush(NULL);
    _Exit(3);
}

/* The driver's load address is in the trace: a replay runs without
 * address-space randomisation (Linux: the process runs itself again with it
 * off), so the same input prints the same trace byte for byte. */
static void without_randomisation(char **argv)
{
#if defined(__linux__)
    int now = personality(0xffffffff);
    if (now == -1 || (now & ADDR_NO_RANDOMIZE) || getenv("MMSIM_REPLAY_FIXED"))
        return;
    if (personality((unsigned long)now | ADDR_NO_RANDOMIZE) == -1)
        return;
    setenv("MMSIM_REPLAY_FIXED", "1", 1);
    execv("/proc/self/exe", argv);
#else
    (void)argv;
#endif
}

int replay_main(int argc, char **argv)
{
    without_randomisation(argv);
    argc -= 2; /* "mmsim replay" */
    argv += 2;
    const char *input = NULL;
    static char *args[64];
    int n = 0;
    args[n++] = "mmsim replay";
    for (int i = 0; i < argc && n < 62; i++) {
        size_t len = strlen(argv[i]);
        bool driver = argv[i][0] != '-' && len > 3 && strcmp(argv[i] + len - 3, ".so") == 0;
        if (argv[i][0] != '-' && !driver && !input)
            input = argv[i];
        else
            args[n++] = argv[i];
    }
    args[n] = NULL;
    FILE *f = input ? fopen(input, "rb") : NULL;
    if (!f) {
        fprintf(stderr, "usage: mmsim replay DRIVER.so INPUT [-mmsim_verifier=FLAGS] [-mmsim_exact_buffers=1]\n"
                        "                    [-mmsim_unload=1] [-mmsim_double_fetch=1|2] [-mmsim_adversary=N]\n");
        return 2;
    }
    static uint8_t data[1 << 20];
    size_t size = fread(data, 1, sizeof data, f);
    fclose(f);
    char **av = args;
    mmsim_fuzz_initialize(&n, &av);
    mmsim_fuzz_one(data, size);
    print_trace(ready.m);
    print_findings(ready.m);
    printf("outcome: no bug check\n");
    return 0;
}
