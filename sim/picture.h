/* sim/picture.h — pictures of the machine: processes and their named
 * ranges -> PTEs -> page frames (coloured by list, with share and
 * reference counts) <- MDLs (with flags), as Graphviz DOT, with what
 * changed since the previous picture drawn in red; and runs that save them
 * (--dot, --svg) or pair them with each line in an HTML report (--html). */
#ifndef MMSIM_PICTURE_H
#define MMSIM_PICTURE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "interp.h"
#include "strlist.h"

/* What the previous pictures showed: to highlight changes, and to keep
 * each frame where it was first drawn. */
struct picture_memory {
    struct strlist items; /* "n id label", "e from to style", "c pid" strings, sorted */
    bool drawn;   /* there was a previous picture (the first has nothing to compare) */
    struct picture_frame {
        uint64_t pfn, order; /* order: how many frames were drawn before it first was */
    } *frames;               /* sorted by pfn */
    size_t frame_count, frame_cap;
    uint64_t frames_drawn;
};

/* Writes the state as a DOT graph titled `title`; updates *mem. */
void picture_dot(FILE *out, struct interp *in, const char *title, struct picture_memory *mem);
void picture_memory_free(struct picture_memory *mem);
/* Renders DOT text to SVG with Graphviz's dot; the SVG (malloc'd) or NULL. */
char *picture_svg(const char *dot, size_t len, size_t *svg_len);

/* What to draw, and the run's step budget (interp.h; 0: no limit). */
struct picture_options {
    const char *dot_dir, *svg_dir, *html_file;
    uint64_t max_steps;
};

/* A run draws at most this many pictures, and an HTML report holds at most
 * this many steps (docs/scenario-language.md, "Limits"). */
#define PICTURES_MAX 1000
#define REPORT_STEPS_MAX 10000

/* Runs a script, drawing pictures as the options ask; returns the exit code. */
int picture_run(const char *file, const char *text, size_t len, const struct picture_options *po, FILE *out,
                bool progress);

#endif
