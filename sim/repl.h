/* sim/repl.h — `mmsim repl`: scenario commands typed one at a time. */
#ifndef MMSIM_REPL_H
#define MMSIM_REPL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "script.h"

/* Limits of a session (docs/scenario-language.md, "Limits"): lines are as
 * long as a script's; a repeat block being typed, and the typed lines kept
 * for .save and .history, as large as a script. */
#define REPL_MAX_BLOCK SCRIPT_MAX_BYTES
#define REPL_MAX_KEPT SCRIPT_MAX_BYTES

/* Reads commands until end of input or .quit; interactive = a terminal
 * (line editing, no echo of the typed line); max_steps is each entry's step
 * budget (0: none). Returns 0, or the exit code for input that is not text
 * (a NUL byte) or cannot be read, or output that cannot be written. */
int repl_run(FILE *input, FILE *out, bool interactive, uint64_t max_steps);

#endif
