/* sim/main.c — the mmsim command: with no arguments the demo lab; `run
 * FILE`, `lab list|show|run`, `repl`; --svg/--dot/--html pictures of a run;
 * --max-steps. Every command ends by checking that its output was written.
 * Exit codes are in interp.h and docs/mmsim.1. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drive.h"
#include "replay.h"
#include "interp.h"
#include "labs.h"
#include "picture.h"
#include "repl.h"

static void usage(FILE *out)
{
    fputs("usage: mmsim                       run the demo lab\n"
          "       mmsim run FILE [OPTIONS]    run a scenario script (docs/scenario-language.md);\n"
          "                                   FILE - is the standard input\n"
          "       mmsim lab list              the bundled labs, with their titles\n"
          "       mmsim lab show NAME         print a lab's script\n"
          "       mmsim lab run NAME [OPTIONS]\n"
          "       mmsim lab run --all         run every lab; show only the failures\n"
          "       mmsim repl [--max-steps N]  type scenario commands; .help inside\n"
          "       mmsim drive [--verifier[=FLAGS]] [--track-locked-pages] DRIVER.so [SCENARIO]\n"
          "                                   load a driver built against include/wdk, run\n"
          "                                   the scenario's requests, unload (docs/wdk.md)\n"
          "       mmsim replay DRIVER.so INPUT [-mmsim_* options]\n"
          "                                   run one mmsim-fuzz input; print its trace and\n"
          "                                   outcome (docs/fuzzing.md)\n"
          "       mmsim --help | --version\n"
          "OPTIONS: --dot DIR | --svg DIR | --html FILE   (the state after each step, or after\n"
          "          each `picture` line when the script has one; SVG and HTML need Graphviz)\n"
          "         --max-steps N   stop a run after N steps (default 10000000; 0: no limit)\n\n"
          "mmsim simulates the Windows NT kernel memory manager: the PFN database,\n"
          "x64 page tables, pools, processes, driver images, sections and MDLs, and\n"
          "raises the bug checks Windows would. See man ./docs/mmsim.1.\n\n"
          "exit status: 0 every expectation held, 1 an expectation failed,\n"
          "             2 usage error, unreadable input, malformed script, a limit passed\n"
          "             or output that could not be written, 3 an unexpected bug check\n",
          out);
}

static int usage_error(const char *what)
{
    fprintf(stderr, "mmsim: %s\n", what);
    usage(stderr);
    return EXIT_SCRIPT_ERROR;
}

/* --max-steps N: a decimal number. */
static bool max_steps(const char *arg, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(arg, &end, 10);
    if (!*arg || *end || arg[0] == '-' || arg[0] == '+' || errno == ERANGE)
        return false;
    *out = v;
    return true;
}

/* `run FILE` and `lab run NAME`, with picture options and --max-steps. */
static int run(const char *what, bool lab, int argc, char **argv)
{
    struct picture_options po = {.max_steps = DEFAULT_MAX_STEPS};
    for (int i = 0; i < argc; i += 2) {
        if (i + 1 >= argc)
            return usage_error(strcmp(argv[i], "--max-steps") == 0 ? "--max-steps needs a number"
                                                                     : "a picture option needs a directory or file");
        if (strcmp(argv[i], "--dot") == 0)
            po.dot_dir = argv[i + 1];
        else if (strcmp(argv[i], "--svg") == 0)
            po.svg_dir = argv[i + 1];
        else if (strcmp(argv[i], "--html") == 0)
            po.html_file = argv[i + 1];
        else if (strcmp(argv[i], "--max-steps") != 0)
            return usage_error("unknown option");
        else if (!max_steps(argv[i + 1], &po.max_steps))
            return usage_error("--max-steps takes a number of steps (0: no limit)");
    }
    size_t len;
    const char *why = NULL;
    char *text = lab ? lab_text(what, &len) : script_read_file(what, &len, &why);
    if (lab && !text) {
        fprintf(stderr, "mmsim: no lab named '%s' (see mmsim lab list)\n", what);
        return EXIT_SCRIPT_ERROR;
    }
    if (!text) {
        fprintf(stderr, "mmsim: %s: %s\n", strcmp(what, "-") == 0 ? "standard input" : what, why);
        return EXIT_SCRIPT_ERROR;
    }
    char file[256];
    snprintf(file, sizeof file, lab ? "%s.mms" : "%s", strcmp(what, "-") == 0 ? "<stdin>" : what);
    char *header = lab ? script_header(text, len) : NULL;
    if (header) /* the lab's explanation, before its steps */
        printf("%s\n", header);
    free(header);
    int rc = picture_run(file, text, len, &po, stdout, isatty(STDERR_FILENO));
    free(text);
    return rc;
}

static int repl(int argc, char **argv)
{
    uint64_t steps = DEFAULT_MAX_STEPS;
    if (argc == 2 && strcmp(argv[0], "--max-steps") == 0) {
        if (!max_steps(argv[1], &steps))
            return usage_error("--max-steps takes a number of steps (0: no limit)");
    } else if (argc) {
        return usage_error("mmsim repl takes only --max-steps N");
    }
    return repl_run(stdin, stdout, isatty(STDIN_FILENO) && isatty(STDOUT_FILENO), steps);
}

/* A closed standard descriptor would be reused by the next file opened,
 * and output meant for the terminal would land in it: hold each with
 * /dev/null, opened so that using it fails (reading stdin, writing
 * stdout) and the failure is reported. */
static bool hold_closed_std_fds(bool closed[3])
{
    for (int fd = 0; fd <= 2; fd++) {
        closed[fd] = fcntl(fd, F_GETFD) == -1 && errno == EBADF;
        int got = closed[fd] ? open("/dev/null", fd == 0 ? O_WRONLY : O_RDONLY) : fd;
        if (got != fd)
            return false; /* not expected: the lowest free descriptor is fd */
    }
    return true;
}

/* Every command's last word: was all of its output written? */
static int finish(int rc, bool stdout_closed)
{
    bool failed = ferror(stdout) != 0;
    errno = 0;
    if (fflush(stdout) != 0)
        failed = true;
    int err = errno;
    if (fclose(stdout) != 0 && !failed) {
        failed = true;
        err = errno;
    }
    if (!failed)
        return rc;
    if (stdout_closed)
        fprintf(stderr, "mmsim: cannot write the output: standard output is closed\n");
    else if (err)
        fprintf(stderr, "mmsim: cannot write the output: %s\n", strerror(err));
    else
        fprintf(stderr, "mmsim: cannot write the output\n");
    return EXIT_SCRIPT_ERROR;
}

static int dispatch(int argc, char **argv)
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
    if (argc >= 2 && strcmp(argv[1], "drive") == 0)
        return drive_main(argc - 2, argv + 2);
    if (argc >= 2 && strcmp(argv[1], "replay") == 0)
        return replay_main(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "repl") == 0)
        return repl(argc - 2, argv + 2);
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

int main(int argc, char **argv)
{
    bool closed[3];
    if (!hold_closed_std_fds(closed)) {
        fprintf(stderr, "mmsim: cannot open /dev/null\n");
        return EXIT_SCRIPT_ERROR;
    }
    return finish(dispatch(argc, argv), closed[1]);
}
