/* sim/replay.h — `mmsim replay`: one mmsim-fuzz input, its trace and its
 * outcome (sim/replay.c). */
#ifndef MMSIM_REPLAY_H
#define MMSIM_REPLAY_H

/* main's own argc and argv: "mmsim replay ...". */
int replay_main(int argc, char **argv);

#endif
