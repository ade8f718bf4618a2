/* fuzz/driver_beside.c — mmsim-fuzz for one driver kept beside the
 * executable (MMSIM_FUZZ_DRIVER names the file), for runners that start a
 * fuzzer with no arguments of its own: OSS-Fuzz and ClusterFuzzLite copy
 * the fuzzer and the driver into one folder. A driver given on the command
 * line still wins. */

/* mmsim_fuzz.c whole, its LLVMFuzzerInitialize renamed: the one below
 * adds the driver's path and hands over to it. */
#define LLVMFuzzerInitialize mmsim_fuzz_initialize
#include "mmsim_fuzz.c"
#undef LLVMFuzzerInitialize

#include <unistd.h>

#ifndef MMSIM_FUZZ_DRIVER
#error "MMSIM_FUZZ_DRIVER: the driver's file name, beside the executable"
#endif

static bool names_a_driver(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        size_t n = strlen(argv[i]);
        if (argv[i][0] != '-' && n > 3 && strcmp(argv[i] + n - 3, ".so") == 0)
            return true;
    }
    return false;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    if (names_a_driver(*argc, *argv))
        return mmsim_fuzz_initialize(argc, argv);
    /* The folder of the program itself, not the current directory: a
     * runner starts fuzzers from anywhere. */
    static char path[4096];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    char *slash = n > 0 ? memrchr(path, '/', (size_t)n) : NULL;
    size_t room = slash ? sizeof path - (size_t)(slash + 1 - path) : 0;
    if (!slash || snprintf(slash + 1, room, "%s", MMSIM_FUZZ_DRIVER) >= (int)room) {
        fputs("mmsim-fuzz: cannot find the folder this program is in\n", stderr);
        exit(2);
    }
    /* The driver first, then the runner's own arguments, NULL-terminated
     * (mmsim_fuzz_initialize writes the terminator after those it keeps).
     * Not on the heap: nothing would free it, and a leak checker says so. */
    static char *args[1024];
    if (*argc + 2 > (int)(sizeof args / sizeof args[0])) {
        fputs("mmsim-fuzz: too many arguments\n", stderr);
        exit(2);
    }
    args[0] = (*argv)[0];
    args[1] = path;
    for (int i = 1; i < *argc; i++)
        args[i + 1] = (*argv)[i];
    *argv = args;
    ++*argc;
    return mmsim_fuzz_initialize(argc, argv);
}
