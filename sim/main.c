/* sim/main.c — the mmsim command. With no arguments it runs the demo lab. */
#include <stdio.h>
#include <string.h>

#include "demo.h"

enum { EXIT_OK = 0, EXIT_LAB_FAILED = 1, EXIT_USAGE = 2 };

static void usage(FILE *out)
{
    fputs("usage: mmsim [demo]\n"
          "       mmsim --help | --version\n\n"
          "mmsim simulates the Windows NT kernel memory manager: the PFN database,\n"
          "x64 page tables, pools, processes and driver images, and raises the bug\n"
          "checks Windows would. With no arguments it runs the demo lab.\n\n"
          "exit status: 0 the lab behaved as described, 1 it did not, 2 usage error\n",
          out);
}

int main(int argc, char **argv)
{
    if (argc == 1 || (argc == 2 && strcmp(argv[1], "demo") == 0))
        return demo_run(stdout) ? EXIT_LAB_FAILED : EXIT_OK;
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return EXIT_OK;
    }
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        puts("mmsim " MMSIM_VERSION);
        return EXIT_OK;
    }
    fprintf(stderr, "mmsim: unknown arguments\n");
    usage(stderr);
    return EXIT_USAGE;
}
