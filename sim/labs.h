/* sim/labs.h — the bundled labs: listed, shown and run from the copies
 * built into mmsim, or from the directory $MMSIM_LABS names. */
#ifndef MMSIM_LABS_H
#define MMSIM_LABS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Built from examples/labs by sim/embed.c; ends with {NULL, NULL}. */
struct embedded_lab {
    const char *name;
    const char *text;
};
extern const struct embedded_lab embedded_labs[];

/* A lab's script text (malloc'd, *len bytes), or NULL when there is no such lab. */
char *lab_text(const char *name, size_t *len);
int labs_list(FILE *out);
int labs_show(const char *name, FILE *out);
int labs_run(const char *name, FILE *out, bool progress);
/* Runs every lab, showing only the ones that fail; a line each on a terminal. */
int labs_run_all(FILE *out, bool progress);

#endif
