/* sim/labs.h — finding, listing and running the bundled labs. */
#ifndef MMSIM_LABS_H
#define MMSIM_LABS_H

#include <stdio.h>

const char *labs_dir(void);
int labs_list(FILE *out);
int labs_run(const char *name, FILE *out);

#endif
