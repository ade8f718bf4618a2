/* sim/repl.h — `mmsim repl`: scenario commands typed one at a time. */
#ifndef MMSIM_REPL_H
#define MMSIM_REPL_H

#include <stdbool.h>
#include <stdio.h>

/* Reads commands until end of input or .quit; interactive = a terminal
 * (line editing, no echo of the typed line). Returns the exit code. */
int repl_run(FILE *input, FILE *out, bool interactive);

#endif
