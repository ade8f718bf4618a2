/* sim/picture.h — pictures of the machine: processes and their named
 * ranges -> PTEs -> page frames (coloured by list, with share and
 * reference counts) <- MDLs (with flags), as Graphviz DOT, with what
 * changed since the previous picture drawn in red; and runs that save them
 * (--dot, --svg) or pair them with each line in an HTML report (--html). */
#ifndef MMSIM_PICTURE_H
#define MMSIM_PICTURE_H

#include <stdbool.h>
#include <stdio.h>

#include "interp.h"
#include "strlist.h"

/* What the previous picture showed, to highlight changes. */
struct picture_memory {
    struct strlist items; /* "n id label", "e from to style", "c pid" strings, sorted */
    bool drawn;   /* there was a previous picture (the first has nothing to compare) */
};

/* Writes the state as a DOT graph titled `title`; updates *mem. */
void picture_dot(FILE *out, struct interp *in, const char *title, struct picture_memory *mem);
void picture_memory_free(struct picture_memory *mem);
/* Renders DOT text to SVG with Graphviz's dot; the SVG (malloc'd) or NULL. */
char *picture_svg(const char *dot, size_t len, size_t *svg_len);

struct picture_options {
    const char *dot_dir, *svg_dir, *html_file;
};

/* Runs a script, drawing pictures as the options ask; returns the exit code. */
int picture_run(const char *file, const char *text, size_t len, const struct picture_options *po, FILE *out,
                bool progress);

#endif
