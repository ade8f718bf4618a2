/* sim/main.c — the mmsim command: with no arguments the demo lab; `run
 * FILE`, `lab list|show|run`, `repl`; --svg/--dot/--html pictures of a run.
 * Exit codes are in interp.h and docs/mmsim.1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "interp.h"
#include "labs.h"
#include "picture.h"
#include "repl.h"

static void usage(FILE *out)
{
    fputs("usage: mmsim                       run the demo lab\n"
          "       mmsim run FILE [PICTURES]   run a scenario script (docs/scenario-language.md)\n"
          "       mmsim lab list              the bundled labs, with their titles\n"
          "       mmsim lab show NAME         print a lab's script\n"
          "       mmsim lab run NAME [PICTURES]\n"
          "       mmsim lab run --all         run every lab; show only the failures\n"
          "       mmsim repl                  type scenario commands; .help inside\n"
          "       mmsim --help | --version\n"
          "PICTURES: --dot DIR | --svg DIR | --html FILE   (the state after each step, or after\n"
          "          each `picture` line when the script has one; SVG and HTML need Graphviz)\n\n"
          "mmsim simulates the Windows NT kernel memory manager: the PFN database,\n"
          "x64 page tables, pools, processes, driver images, sections and MDLs, and\n"
          "raises the bug checks Windows would. See man ./docs/mmsim.1.\n\n"
          "exit status: 0 every expectation held, 1 an expectation failed,\n"
          "             2 usage error or malformed script, 3 an unexpected bug check\n",
          out);
}

static int usage_error(const char *what)
{
    fprintf(stderr, "mmsim: %s\n", what);
    usage(stderr);
    return EXIT_SCRIPT_ERROR;
}

/* `run FILE` and `lab run NAME`, with an optional picture option. */
static int run(const char *what, bool lab, int argc, char **argv)
{
    struct picture_options po = {0};
    for (int i = 0; i < argc; i += 2) {
        if (i + 1 >= argc)
            return usage_error("a picture option needs a directory or file");
        if (strcmp(argv[i], "--dot") == 0)
            po.dot_dir = argv[i + 1];
        else if (strcmp(argv[i], "--svg") == 0)
            po.svg_dir = argv[i + 1];
        else if (strcmp(argv[i], "--html") == 0)
            po.html_file = argv[i + 1];
        else
            return usage_error("unknown option");
    }
    size_t len;
    char *text = lab ? lab_text(what, &len) : NULL;
    if (lab && !text) {
        fprintf(stderr, "mmsim: no lab named '%s' (see mmsim lab list)\n", what);
        return EXIT_SCRIPT_ERROR;
    }
    if (!lab && !(text = script_read_file(what, &len))) {
        fprintf(stderr, "mmsim: cannot read %s\n", what);
        return EXIT_SCRIPT_ERROR;
    }
    char file[256];
    snprintf(file, sizeof file, lab ? "%s.mms" : "%s", what);
    int rc = picture_run(file, text, len, &po, stdout, isatty(STDERR_FILENO));
    free(text);
    return rc;
}

int main(int argc, char **argv)
{
    bool tty = isatty(STDERR_FILENO);
    if (argc == 1 || (argc == 2 && strcmp(argv[1], "demo") == 0))
        return labs_run("demo", stdout, tty);
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return EXIT_SUCCESS_LAB;
    }
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        puts("mmsim " MMSIM_VERSION);
        return EXIT_SUCCESS_LAB;
    }
    if (argc >= 3 && strcmp(argv[1], "run") == 0)
        return run(argv[2], false, argc - 3, argv + 3);
    if (argc == 2 && strcmp(argv[1], "repl") == 0)
        return repl_run(stdin, stdout, isatty(STDIN_FILENO) && isatty(STDOUT_FILENO));
    if (argc >= 3 && strcmp(argv[1], "lab") == 0) {
        if (argc == 3 && strcmp(argv[2], "list") == 0)
            return labs_list(stdout);
        if (argc == 4 && strcmp(argv[2], "show") == 0)
            return labs_show(argv[3], stdout);
        if (argc == 4 && strcmp(argv[2], "run") == 0 && strcmp(argv[3], "--all") == 0)
            return labs_run_all(stdout, tty);
        if (argc >= 4 && strcmp(argv[2], "run") == 0)
            return run(argv[3], true, argc - 4, argv + 4);
    }
    return usage_error("unknown arguments");
}
