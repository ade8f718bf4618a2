/* examples/drivers/ioctl/ioctl_codes.h — the control codes the sample
 * driver answers, shared with whoever sends them (a test, a scenario). */
#ifndef MMSIM_SAMPLE_IOCTL_CODES_H
#define MMSIM_SAMPLE_IOCTL_CODES_H

#define SAMPLE_DEVICE_TYPE 0x9000 /* >= 0x8000: the range left to vendors */
#define SAMPLE_CTL(function, method) \
    ((unsigned)(((unsigned)SAMPLE_DEVICE_TYPE << 16) | ((unsigned)(function) << 2) | (unsigned)(method)))
#define IOCTL_SAMPLE_BUFFERED SAMPLE_CTL(0x900, 0)   /* METHOD_BUFFERED */
#define IOCTL_SAMPLE_IN_DIRECT SAMPLE_CTL(0x901, 1)  /* METHOD_IN_DIRECT */
#define IOCTL_SAMPLE_OUT_DIRECT SAMPLE_CTL(0x902, 2) /* METHOD_OUT_DIRECT */
#define IOCTL_SAMPLE_NEITHER SAMPLE_CTL(0x903, 3)    /* METHOD_NEITHER */

#define SAMPLE_DEVICE_NAME "\\Device\\MmsimSample"
#define SAMPLE_LINK_NAME "\\\\.\\MmsimSample"

#endif
