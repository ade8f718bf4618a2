/* sim/drive.c — `mmsim drive [OPTIONS] DRIVER.so [SCENARIO]`: loads a driver
 * built against include/wdk into a hosted machine, calls DriverEntry, runs
 * the scenario's requests from user processes (docs/wdk.md lists the
 * commands), unloads the driver and reports what it leaked. A bug check
 * prints its report (the *** STOP line first) and ends the run. */
#include "drive.h"

#include <ctype.h>
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "interp.h"
#include "mm/mm.h"
#include "mmsim/wdk.h"

#define DRIVE_NAMES 16
#define MAX_LINE 4096
#define MAX_DATA 65536

struct named {
    char name[32];
    void *object;
    void *owner; /* a file's process */
};

struct drive {
    mm_machine *m;
    mmwdk_driver *driver;
    struct named processes[DRIVE_NAMES], files[DRIVE_NAMES];
    int32_t status;                 /* the last request's */
    uint64_t information;
    unsigned char output[MAX_DATA];
    uint32_t output_len;
    uint32_t expected_bugcheck;     /* 0: none expected */
    unsigned line;
    const char *path;
    jmp_buf stop;
    bool stopped;
};

static struct drive *active;

static void on_bugcheck(void *ctx, mm_machine *m, const struct mm_bugcheck *bc)
{
    (void)ctx;
    (void)m;
    static char report[8192];
    mm_bugcheck_format(bc, report, sizeof report);
    fputs(report, stdout);
    fflush(stdout);
    active->stopped = true;
    longjmp(active->stop, 1);
}

static void debug_line(void *ctx, const char *line)
{
    (void)ctx;
    printf("DbgPrint: %s%s", line, line[0] && line[strlen(line) - 1] == '\n' ? "" : "\n");
}

static int fail(struct drive *d, const char *what, const char *detail)
{
    fprintf(stderr, "mmsim drive: %s:%u: %s%s%s\n", d->path ? d->path : "-", d->line, what, detail ? ": " : "",
            detail ? detail : "");
    return EXIT_SCRIPT_ERROR;
}

/* ---- words ---- */

/* The next word of *s: a "quoted string" (with \n \t \\ \" \xHH) or a run
 * of non-blanks. */
static bool word(char **s, char *out, size_t size, size_t *len)
{
    char *p = *s;
    while (isspace((unsigned char)*p))
        p++;
    if (!*p || *p == '#')
        return false;
    size_t n = 0;
    if (*p == '"') {
        for (p++; *p && *p != '"'; p++) {
            char c = *p;
            if (c == '\\' && p[1]) {
                c = *++p;
                if (c == 'n')
                    c = '\n';
                else if (c == 't')
                    c = '\t';
                else if (c == 'x' && isxdigit((unsigned char)p[1]) && isxdigit((unsigned char)p[2])) {
                    char hex[3] = {p[1], p[2], 0};
                    c = (char)strtol(hex, NULL, 16);
                    p += 2;
                }
            }
            if (n + 1 < size)
                out[n++] = c;
        }
        if (*p == '"')
            p++;
    } else {
        while (*p && !isspace((unsigned char)*p) && n + 1 < size)
            out[n++] = *p++;
    }
    out[n] = 0;
    if (len)
        *len = n;
    *s = p;
    return true;
}

static bool number(const char *text, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 0);
    if (!*text || *end || errno)
        return false;
    *out = v;
    return true;
}

static const struct {
    const char *name;
    uint32_t value;
} statuses[] = {
    {"STATUS_SUCCESS", 0}, {"STATUS_PENDING", 0x103}, {"STATUS_BUFFER_OVERFLOW", 0x80000005},
    {"STATUS_UNSUCCESSFUL", 0xC0000001}, {"STATUS_NOT_IMPLEMENTED", 0xC0000002},
    {"STATUS_ACCESS_VIOLATION", 0xC0000005}, {"STATUS_INVALID_PARAMETER", 0xC000000D},
    {"STATUS_INVALID_DEVICE_REQUEST", 0xC0000010}, {"STATUS_NO_MEMORY", 0xC0000017},
    {"STATUS_ACCESS_DENIED", 0xC0000022}, {"STATUS_BUFFER_TOO_SMALL", 0xC0000023},
    {"STATUS_OBJECT_NAME_NOT_FOUND", 0xC0000034}, {"STATUS_INSUFFICIENT_RESOURCES", 0xC000009A},
    {"STATUS_NOT_SUPPORTED", 0xC00000BB}, {"STATUS_CANCELLED", 0xC0000120},
    {"STATUS_INVALID_DEVICE_STATE", 0xC0000184}, {"STATUS_DATATYPE_MISALIGNMENT", 0x80000002},
};

static const char *status_name(int32_t st)
{
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++)
        if (statuses[i].value == (uint32_t)st)
            return statuses[i].name;
    return NULL;
}

static bool parse_status(const char *text, int32_t *out)
{
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++)
        if (strcasecmp(text, statuses[i].name) == 0 || strcasecmp(text, statuses[i].name + 7) == 0) {
            *out = (int32_t)statuses[i].value;
            return true;
        }
    uint64_t v;
    if (!number(text, &v) || v > UINT32_MAX)
        return false;
    *out = (int32_t)(uint32_t)v;
    return true;
}

static void print_status(int32_t st)
{
    const char *name = status_name(st);
    if (name)
        printf("%s", name);
    else
        printf("0x%08X", (unsigned)st);
}

static struct named *find(struct named *table, const char *name)
{
    for (int i = 0; i < DRIVE_NAMES; i++)
        if (table[i].object && strcmp(table[i].name, name) == 0)
            return &table[i];
    return NULL;
}

static struct named *slot(struct named *table, const char *name)
{
    for (int i = 0; i < DRIVE_NAMES; i++)
        if (!table[i].object) {
            snprintf(table[i].name, sizeof table[i].name, "%s", name);
            return &table[i];
        }
    return NULL;
}

/* Printable output as a quoted string, anything else in hex. */
static void print_bytes(const unsigned char *b, uint64_t n)
{
    bool text = true;
    for (uint64_t i = 0; i < n; i++)
        if (!(isprint(b[i]) || (b[i] == 0 && i + 1 == n)))
            text = false;
    if (text) {
        printf("\"%.*s\"", (int)(n && b[n - 1] == 0 ? n - 1 : n), (const char *)b);
        return;
    }
    for (uint64_t i = 0; i < n; i++)
        printf("%02x", b[i]);
}

static void report_request(struct drive *d, const char *what)
{
    printf("%s: ", what);
    print_status(d->status);
    printf(", information %llu", (unsigned long long)d->information);
    uint64_t shown = d->information < d->output_len ? d->information : d->output_len;
    if (shown) {
        printf(", output ");
        print_bytes(d->output, shown);
    }
    putchar('\n');
}

/* ---- commands ---- */

static int cmd_process(struct drive *d, char *rest)
{
    char name[32];
    if (!word(&rest, name, sizeof name, NULL))
        return fail(d, "process needs a name", NULL);
    struct named *n = slot(d->processes, name);
    mm_process *p;
    if (!n || find(d->processes, name) || !MM_SUCCESS(mm_process_create(d->m, name, &p)))
        return fail(d, "cannot create process", name);
    n->object = p;
    printf("process %s created\n", name);
    return 0;
}

static int cmd_open(struct drive *d, char *rest)
{
    char file[32], process[32], device[256];
    if (!word(&rest, file, sizeof file, NULL) || !word(&rest, process, sizeof process, NULL) ||
        !word(&rest, device, sizeof device, NULL))
        return fail(d, "usage", "open FILE PROCESS DEVICE-NAME");
    struct named *p = find(d->processes, process), *f = slot(d->files, file);
    if (!p || !f || find(d->files, file))
        return fail(d, "unknown process or file name in use", process);
    mmwdk_file *handle = NULL;
    if (!MM_SUCCESS(mmwdk_open(p->object, device, &handle, &d->status)))
        return fail(d, "cannot open", device);
    d->information = 0;
    d->output_len = 0;
    f->object = handle;
    f->owner = p->object;
    printf("open %s: ", device);
    print_status(d->status);
    putchar('\n');
    return 0;
}

/* [in DATA] [out SIZE]: DATA is a quoted string or hex:BYTES. */
static int data_args(struct drive *d, char *rest, unsigned char *in, uint32_t *in_len, uint32_t *out_len)
{
    static char w[MAX_DATA];
    *in_len = *out_len = 0;
    size_t n;
    while (word(&rest, w, sizeof w, &n)) {
        if (strcmp(w, "in") == 0 && word(&rest, w, sizeof w, &n)) {
            if (strncmp(w, "hex:", 4) == 0) {
                for (size_t i = 4; w[i] && w[i + 1]; i += 2) {
                    char hex[3] = {w[i], w[i + 1], 0};
                    in[(*in_len)++] = (unsigned char)strtoul(hex, NULL, 16);
                }
            } else {
                memcpy(in, w, n + 1);
                *in_len = (uint32_t)n + 1; /* with its terminator, as a C string is sent */
            }
        } else if (strcmp(w, "out") == 0 && word(&rest, w, sizeof w, NULL)) {
            uint64_t v;
            if (!number(w, &v) || v > MAX_DATA)
                return fail(d, "out takes a size up to 65536", w);
            *out_len = (uint32_t)v;
        } else {
            return fail(d, "expected in DATA or out SIZE", w);
        }
    }
    return 0;
}

static int cmd_request(struct drive *d, const char *verb, char *rest)
{
    char file[32], codes[32];
    if (!word(&rest, file, sizeof file, NULL))
        return fail(d, "usage", "ioctl FILE CODE [in DATA] [out SIZE] | read FILE SIZE | write FILE DATA");
    struct named *f = find(d->files, file);
    if (!f)
        return fail(d, "no such open file", file);
    static unsigned char in[MAX_DATA];
    uint32_t in_len = 0, out_len = 0;
    uint64_t code = 0;
    int rc = 0;
    if (strcmp(verb, "ioctl") == 0) {
        if (!word(&rest, codes, sizeof codes, NULL) || !number(codes, &code) || code > UINT32_MAX)
            return fail(d, "ioctl needs a control code", NULL);
        rc = data_args(d, rest, in, &in_len, &out_len);
    } else if (strcmp(verb, "read") == 0) {
        uint64_t v;
        if (!word(&rest, codes, sizeof codes, NULL) || !number(codes, &v) || v > MAX_DATA)
            return fail(d, "read needs a size", NULL);
        out_len = (uint32_t)v;
    } else {
        char *p = rest;
        size_t n;
        if (!word(&p, (char *)in, sizeof in, &n))
            return fail(d, "write needs data", NULL);
        in_len = (uint32_t)n;
    }
    if (rc)
        return rc;
    memset(d->output, 0, sizeof d->output);
    d->output_len = out_len;
    if (strcmp(verb, "ioctl") == 0)
        d->status = mmwdk_ioctl(f->object, (uint32_t)code, in, in_len, d->output, out_len, &d->information);
    else if (strcmp(verb, "read") == 0)
        d->status = mmwdk_read(f->object, d->output, out_len, &d->information);
    else
        d->status = mmwdk_write(f->object, in, in_len, &d->information);
    char what[96];
    snprintf(what, sizeof what, "%s %s%s%s", verb, file, code ? " " : "", code ? codes : "");
    report_request(d, what);
    return 0;
}

static int cmd_close(struct drive *d, char *rest)
{
    char file[32];
    struct named *f = word(&rest, file, sizeof file, NULL) ? find(d->files, file) : NULL;
    if (!f)
        return fail(d, "close needs an open file", NULL);
    d->status = mmwdk_close(f->object);
    f->object = NULL;
    printf("close %s: ", file);
    print_status(d->status);
    putchar('\n');
    return 0;
}

static int cmd_exit(struct drive *d, char *rest)
{
    char name[32];
    struct named *p = word(&rest, name, sizeof name, NULL) ? find(d->processes, name) : NULL;
    if (!p)
        return fail(d, "exit needs a process", NULL);
    mm_status st = mmwdk_process_exit(p->object);
    for (int i = 0; i < DRIVE_NAMES; i++)
        if (d->files[i].object && d->files[i].owner == p->object)
            d->files[i].object = NULL; /* closed by the exit */
    printf("exit %s: %s\n", name, mm_status_name(st));
    return 0;
}

static int unload(struct drive *d)
{
    if (!d->driver)
        return fail(d, "the driver is not loaded", NULL);
    struct mmwdk_leaks leaks;
    mm_status st = mmwdk_driver_unload(d->driver, &leaks);
    if (st == MM_STATUS_INVALID_DEVICE_STATE)
        return fail(d, "cannot unload", "files are still open on the driver's devices (close them first)");
    d->driver = NULL;
    printf("unload: %llu pool blocks (%llu bytes), %llu devices, %llu symbolic links, %llu locked MDLs, "
           "%llu mapped MDLs left\n",
           (unsigned long long)leaks.pool_blocks, (unsigned long long)leaks.pool_bytes,
           (unsigned long long)leaks.devices, (unsigned long long)leaks.symbolic_links,
           (unsigned long long)leaks.locked_mdls, (unsigned long long)leaks.mapped_mdls);
    fputs(leaks.report, stdout);
    bool leaked = leaks.pool_blocks || leaks.devices || leaks.symbolic_links || leaks.locked_mdls ||
                  leaks.mapped_mdls;
    return leaked ? EXIT_EXPECT_FAILED : 0;
}

static int cmd_expect(struct drive *d, char *rest)
{
    char what[32], value[MAX_LINE];
    size_t n;
    char *peek = rest;
    if (word(&peek, what, sizeof what, NULL) && strcmp(what, "no-finding") == 0) {
        if (mm_findings_count(d->m) == 0)
            return 0;
        printf("expectation failed at line %u: %zu findings\n", d->line, mm_findings_count(d->m));
        return EXIT_EXPECT_FAILED;
    }
    if (!word(&rest, what, sizeof what, NULL) || !word(&rest, value, sizeof value, &n))
        return fail(d, "usage", "expect status S | information N | output DATA | finding KIND | bugcheck CODE");
    if (strcmp(what, "finding") == 0) {
        /* Findings so far of that kind ("stale-user-mapping" …): at least one. */
        struct mm_finding f[64];
        size_t n_found = mm_findings_read(d->m, f, 64);
        for (size_t i = 0; i < n_found && i < 64; i++)
            if (strcmp(mm_finding_name(f[i].kind), value) == 0)
                return 0;
        printf("expectation failed at line %u: no finding %s\n", d->line, value);
        return EXIT_EXPECT_FAILED;
    }
    if (strcmp(what, "bugcheck") == 0) {
        uint64_t code;
        if (!number(value, &code) || code == 0 || code > UINT32_MAX)
            return fail(d, "expect bugcheck needs a code", value);
        d->expected_bugcheck = (uint32_t)code;
        return 0;
    }
    bool held;
    if (strcmp(what, "status") == 0) {
        int32_t st;
        if (!parse_status(value, &st))
            return fail(d, "unknown status", value);
        held = st == d->status;
    } else if (strcmp(what, "information") == 0) {
        uint64_t v;
        if (!number(value, &v))
            return fail(d, "expect information needs a number", value);
        held = v == d->information;
    } else if (strcmp(what, "output") == 0) {
        held = n <= d->output_len && memcmp(d->output, value, n) == 0;
    } else {
        return fail(d, "expect status, information, output or bugcheck", what);
    }
    if (!held) {
        printf("expectation failed at line %u: %s %s\n", d->line, what, value);
        return EXIT_EXPECT_FAILED;
    }
    return 0;
}

static int command(struct drive *d, char *line)
{
    char verb[16];
    char *rest = line;
    if (!word(&rest, verb, sizeof verb, NULL))
        return 0;
    if (strcmp(verb, "process") == 0)
        return cmd_process(d, rest);
    if (strcmp(verb, "open") == 0)
        return cmd_open(d, rest);
    if (strcmp(verb, "ioctl") == 0 || strcmp(verb, "read") == 0 || strcmp(verb, "write") == 0)
        return cmd_request(d, verb, rest);
    if (strcmp(verb, "close") == 0)
        return cmd_close(d, rest);
    if (strcmp(verb, "exit") == 0)
        return cmd_exit(d, rest);
    if (strcmp(verb, "unload") == 0)
        return unload(d);
    if (strcmp(verb, "expect") == 0)
        return cmd_expect(d, rest);
    return fail(d, "unknown command", verb);
}

static int run_script(struct drive *d, FILE *in)
{
    static char line[MAX_LINE];
    int rc = 0;
    while (rc == 0 && fgets(line, sizeof line, in)) {
        d->line++;
        rc = command(d, line);
    }
    return rc;
}

/* ---- options and the run ---- */

static int usage(void)
{
    fputs("usage: mmsim drive [--verifier[=FLAGS]] [--track-locked-pages] [--exact-buffers] DRIVER.so [SCENARIO]\n", stderr);
    return EXIT_SCRIPT_ERROR;
}

static bool verifier_flags(const char *arg, uint32_t *flags)
{
    if (!*arg) {
        *flags = MM_VERIFIER_STANDARD;
        return true;
    }
    uint64_t v;
    if (!number(arg, &v) || v > UINT32_MAX)
        return false;
    *flags = (uint32_t)v;
    return true;
}

static void print_findings(struct drive *d)
{
    struct mm_finding f[64];
    size_t n = mm_findings_read(d->m, f, 64);
    for (size_t i = 0; i < n && i < 64; i++)
        printf("finding %s: %s\n", mm_finding_name(f[i].kind), f[i].text);
}

static int finish_run(struct drive *d, int rc)
{
    if (!d->stopped)
        print_findings(d);
    if (d->stopped) {
        const struct mm_bugcheck *bc = mm_machine_bugcheck(d->m);
        rc = d->expected_bugcheck && bc && bc->code == d->expected_bugcheck ? 0 : EXIT_BUGCHECK;
    } else if (d->expected_bugcheck) {
        printf("expectation failed: bug check 0x%X expected, none came\n", d->expected_bugcheck);
        rc = EXIT_EXPECT_FAILED;
    }
    mmwdk_use(NULL);
    mmwdk_set_debug_output(NULL, NULL);
    mm_machine_destroy(d->m);
    active = NULL;
    return rc;
}

int drive_main(int argc, char **argv)
{
    struct mm_config cfg;
    mm_config_default(&cfg);
    cfg.layout = MM_LAYOUT_HOSTED;
    cfg.bugcheck_hook = on_bugcheck;
    bool exact = false;
    int i = 0;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strncmp(argv[i], "--verifier", 10) == 0 && (argv[i][10] == 0 || argv[i][10] == '=')) {
            if (!verifier_flags(argv[i] + 10 + (argv[i][10] == '='), &cfg.verifier_flags))
                return usage();
        } else if (strcmp(argv[i], "--track-locked-pages") == 0) {
            cfg.track_locked_pages = true;
        } else if (strcmp(argv[i], "--exact-buffers") == 0) {
            exact = true;
        } else {
            return usage();
        }
    }
    if (argc - i < 1 || argc - i > 2)
        return usage();
    static struct drive d;
    memset(&d, 0, sizeof d);
    d.path = argc - i == 2 ? argv[i + 1] : NULL;
    FILE *script = d.path ? fopen(d.path, "r") : NULL;
    if (d.path && !script) {
        fprintf(stderr, "mmsim drive: cannot read %s: %s\n", d.path, strerror(errno));
        return EXIT_SCRIPT_ERROR;
    }
    mm_status st = mm_machine_create(&cfg, &d.m);
    if (!MM_SUCCESS(st)) {
        fprintf(stderr, "mmsim drive: cannot create a hosted machine: %s\n", mm_status_meaning(st));
        if (script)
            fclose(script);
        return EXIT_SCRIPT_ERROR;
    }
    active = &d;
    mmwdk_use(d.m);
    mmwdk_exact_buffers(exact);
    mmwdk_set_debug_output(debug_line, NULL);
    int rc = 0;
    if (setjmp(d.stop) == 0) {
        int32_t entry = 0;
        st = mmwdk_driver_load(argv[i], &d.driver, &entry);
        if (!MM_SUCCESS(st)) {
            const char *why = mm_image_load_error();
            fprintf(stderr, "mmsim drive: cannot load %s: %s%s%s\n", argv[i], mm_status_meaning(st), *why ? ": " : "",
                    why);
            rc = EXIT_SCRIPT_ERROR;
        } else {
            printf("DriverEntry: ");
            print_status(entry);
            putchar('\n');
            if (!d.driver)
                rc = EXIT_EXPECT_FAILED;
        }
        if (rc == 0 && script)
            rc = run_script(&d, script);
        if (rc == 0 && d.driver) {
            for (int f = 0; f < DRIVE_NAMES; f++) /* handles still open close first, as at exit */
                if (d.files[f].object) {
                    mmwdk_close(d.files[f].object);
                    d.files[f].object = NULL;
                }
            rc = unload(&d);
        }
    }
    if (script)
        fclose(script);
    return finish_run(&d, rc);
}
