/* sim/demo.h — the built-in demo lab run by `mmsim` with no arguments. */
#ifndef MMSIM_DEMO_H
#define MMSIM_DEMO_H

#include <stdio.h>

/* Returns the process exit code (0 when every step did what it should). */
int demo_run(FILE *out);

#endif
