/* sim/main.c — the mmsim command. With no arguments it runs the demo lab;
 * `run FILE` and `lab list|run NAME` run scenario scripts. */
#include <stdio.h>
#include <string.h>

#include "demo.h"
#include "interp.h"
#include "labs.h"

static void usage(FILE *out)
{
    fputs("usage: mmsim [demo]\n"
          "       mmsim run FILE          run a scenario script (docs/scenario-language.md)\n"
          "       mmsim lab list          the bundled labs\n"
          "       mmsim lab run NAME      run one of them\n"
          "       mmsim --help | --version\n\n"
          "mmsim simulates the Windows NT kernel memory manager: the PFN database,\n"
          "x64 page tables, pools, processes, driver images, sections and MDLs, and\n"
          "raises the bug checks Windows would. With no arguments it runs the demo lab.\n\n"
          "exit status: 0 every expectation held, 1 an expectation failed,\n"
          "             2 usage error or malformed script, 3 an unexpected bug check\n",
          out);
}

int main(int argc, char **argv)
{
    if (argc == 1 || (argc == 2 && strcmp(argv[1], "demo") == 0))
        return demo_run(stdout) ? EXIT_EXPECT_FAILED : EXIT_SUCCESS_LAB;
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return EXIT_SUCCESS_LAB;
    }
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        puts("mmsim " MMSIM_VERSION);
        return EXIT_SUCCESS_LAB;
    }
    if (argc == 3 && strcmp(argv[1], "run") == 0)
        return interp_run_file(argv[2], stdout);
    if (argc == 3 && strcmp(argv[1], "lab") == 0 && strcmp(argv[2], "list") == 0)
        return labs_list(stdout);
    if (argc == 4 && strcmp(argv[1], "lab") == 0 && strcmp(argv[2], "run") == 0)
        return labs_run(argv[3], stdout);
    fprintf(stderr, "mmsim: unknown arguments\n");
    usage(stderr);
    return EXIT_SCRIPT_ERROR;
}
