/* sim/drive.h — `mmsim drive`: a driver built against include/wdk, its
 * DriverEntry, a scenario of user requests, unload and the leak report. */
#ifndef MMSIM_DRIVE_H
#define MMSIM_DRIVE_H

/* argv: the arguments after `drive`; returns the exit status (interp.h). */
int drive_main(int argc, char **argv);

#endif
