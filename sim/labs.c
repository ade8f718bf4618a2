/* sim/labs.c — `mmsim lab list` and `mmsim lab run NAME`: the self-checking
 * scenarios in examples/labs (or $MMSIM_LABS). A lab's first comment lines
 * are its title and explanation. */
#include "labs.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "interp.h"

const char *labs_dir(void)
{
    const char *env = getenv("MMSIM_LABS");
    return env && *env ? env : MMSIM_LABS_DIR;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Sorted lab names (files ending in .mms), NULL-terminated; free with labs_free. */
static char **lab_names(size_t *count)
{
    DIR *d = opendir(labs_dir());
    *count = 0;
    if (!d)
        return NULL;
    size_t cap = 16;
    char **names = malloc(cap * sizeof *names);
    struct dirent *e;
    while (names && (e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".mms") != 0)
            continue;
        if (*count + 1 == cap) {
            char **g = realloc(names, cap * 2 * sizeof *g);
            if (!g)
                break;
            names = g;
            cap *= 2;
        }
        names[*count] = strndup(e->d_name, len - 4);
        if (names[*count])
            (*count)++;
    }
    closedir(d);
    if (names) {
        qsort(names, *count, sizeof *names, by_name);
        names[*count] = NULL;
    }
    return names;
}

static void labs_free(char **names, size_t count)
{
    for (size_t i = 0; names && i < count; i++)
        free(names[i]);
    free(names);
}

/* The first comment line of the lab, without "# ". */
static void lab_title(const char *name, char *title, size_t size)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.mms", labs_dir(), name);
    title[0] = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[256];
    if (fgets(line, sizeof line, f) && line[0] == '#') {
        char *s = line + 1;
        while (*s == ' ')
            s++;
        s[strcspn(s, "\n")] = 0;
        snprintf(title, size, "%.*s", (int)(size - 1), s);
    }
    fclose(f);
}

int labs_list(FILE *out)
{
    size_t count;
    char **names = lab_names(&count);
    if (!names || !count) {
        fprintf(stderr, "mmsim: no labs in %s (set MMSIM_LABS to the labs directory)\n", labs_dir());
        labs_free(names, count);
        return EXIT_SCRIPT_ERROR;
    }
    for (size_t i = 0; i < count; i++) {
        char title[200];
        lab_title(names[i], title, sizeof title);
        fprintf(out, "%-28s %s\n", names[i], title);
    }
    labs_free(names, count);
    return EXIT_SUCCESS_LAB;
}

int labs_run(const char *name, FILE *out)
{
    if (!*name || strchr(name, '/') || strchr(name, '.')) {
        fprintf(stderr, "mmsim: '%s' is not a lab name (see mmsim lab list)\n", name);
        return EXIT_SCRIPT_ERROR;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.mms", labs_dir(), name);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "mmsim: no lab named '%s' in %s (see mmsim lab list)\n", name, labs_dir());
        return EXIT_SCRIPT_ERROR;
    }
    fclose(f);
    return interp_run_file(path, out);
}
