/* sim/labs.c — `mmsim lab list|show|run`: the self-checking scenarios of
 * examples/labs, built into the binary (or read from $MMSIM_LABS when set,
 * to try edited copies). A lab's first comment line is its title; the
 * comment block under it explains it. */
#include "labs.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "interp.h"

static const char *labs_env(void)
{
    const char *env = getenv("MMSIM_LABS");
    return env && *env ? env : NULL;
}

static bool valid_name(const char *name)
{
    return *name && !strchr(name, '/') && !strchr(name, '.') && strlen(name) < 128;
}

char *lab_text(const char *name, size_t *len)
{
    if (!valid_name(name))
        return NULL;
    if (labs_env()) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.mms", labs_env(), name);
        const char *why;
        char *text = script_read_file(path, len, &why);
        if (!text && access(path, F_OK) == 0) /* there, but not a lab we can read */
            fprintf(stderr, "mmsim: %s: %s\n", path, why);
        return text;
    }
    for (const struct embedded_lab *l = embedded_labs; l->name; l++)
        if (strcmp(l->name, name) == 0) {
            *len = strlen(l->text);
            char *copy = malloc(*len + 1);
            if (copy)
                memcpy(copy, l->text, *len + 1);
            return copy;
        }
    return NULL;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Sorted lab names, NULL-terminated; free with names_free. */
static char **lab_names(size_t *count)
{
    *count = 0;
    size_t cap = 64;
    char **names = calloc(cap, sizeof *names);
    if (!names)
        return NULL;
    if (!labs_env()) {
        for (const struct embedded_lab *l = embedded_labs; l->name && *count + 1 < cap; l++)
            if ((names[*count] = strdup(l->name)) != NULL)
                (*count)++;
    } else {
        DIR *d = opendir(labs_env());
        struct dirent *e;
        while (d && (e = readdir(d)) != NULL && *count + 1 < cap) {
            size_t len = strlen(e->d_name);
            if (len > 4 && strcmp(e->d_name + len - 4, ".mms") == 0 &&
                (names[*count] = strndup(e->d_name, len - 4)) != NULL)
                (*count)++;
        }
        if (d)
            closedir(d);
    }
    qsort(names, *count, sizeof *names, by_name);
    return names;
}

static void names_free(char **names, size_t count)
{
    for (size_t i = 0; names && i < count; i++)
        free(names[i]);
    free(names);
}

static void title_of(const char *text, char *title, size_t size)
{
    title[0] = 0;
    if (text[0] != '#')
        return;
    const char *s = text + 1;
    while (*s == ' ')
        s++;
    snprintf(title, size, "%.*s", (int)strcspn(s, "\n"), s);
}

int labs_list(FILE *out)
{
    size_t count;
    char **names = lab_names(&count);
    if (!count) {
        fprintf(stderr, "mmsim: no labs%s%s\n", labs_env() ? " in " : "", labs_env() ? labs_env() : "");
        names_free(names, count);
        return EXIT_SCRIPT_ERROR;
    }
    for (size_t i = 0; i < count; i++) {
        size_t len;
        char *text = lab_text(names[i], &len), title[200] = "";
        if (text)
            title_of(text, title, sizeof title);
        free(text);
        fprintf(out, "%-32s %s\n", names[i], title);
    }
    names_free(names, count);
    return EXIT_SUCCESS_LAB;
}

static char *find(const char *name, size_t *len)
{
    char *text = lab_text(name, len);
    if (!text)
        fprintf(stderr, "mmsim: no lab named '%s' (see mmsim lab list)\n", name);
    return text;
}

int labs_show(const char *name, FILE *out)
{
    size_t len;
    char *text = find(name, &len);
    if (!text)
        return EXIT_SCRIPT_ERROR;
    fwrite(text, 1, len, out);
    free(text);
    return EXIT_SUCCESS_LAB;
}

int labs_run(const char *name, FILE *out, bool progress)
{
    size_t len;
    char *text = find(name, &len);
    if (!text)
        return EXIT_SCRIPT_ERROR;
    char file[160];
    snprintf(file, sizeof file, "%s.mms", name);
    char *header = script_header(text, len);
    if (header) /* the lab's explanation, before its steps */
        fprintf(out, "%s\n", header);
    free(header);
    struct interp in;
    interp_init(&in, out, file);
    in.progress = progress;
    int rc = interp_run_text(&in, text, len);
    interp_fini(&in);
    free(text);
    return rc;
}

int labs_run_all(FILE *out, bool progress)
{
    size_t count, failed = 0;
    char **names = lab_names(&count);
    for (size_t i = 0; i < count; i++) {
        if (progress)
            fprintf(stderr, "\r\033[K[%zu/%zu] %s", i + 1, count, names[i]);
        char *buf = NULL;
        size_t len = 0;
        FILE *mem = open_memstream(&buf, &len);
        int rc = labs_run(names[i], mem ? mem : out, false);
        if (mem)
            fclose(mem);
        if (progress)
            fputs("\r\033[K", stderr);
        if (rc != EXIT_SUCCESS_LAB) {
            fwrite(buf, 1, len, out);
            failed++;
        }
        fprintf(out, "%-32s %s\n", names[i], rc == EXIT_SUCCESS_LAB ? "passed" : "FAILED");
        free(buf);
    }
    fprintf(out, "%zu of %zu labs passed\n", count - failed, count);
    names_free(names, count);
    return failed ? EXIT_EXPECT_FAILED : count ? EXIT_SUCCESS_LAB : EXIT_SCRIPT_ERROR;
}
