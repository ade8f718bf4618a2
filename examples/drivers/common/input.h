/* examples/drivers/common/input.h — the first byte of a METHOD_NEITHER
 * request's input, read as drivers must: probed and copied inside __try.
 * Returns 0 when the caller gave nothing readable. */
#ifndef MMSIM_STORY_INPUT_H
#define MMSIM_STORY_INPUT_H

#include <ntddk.h>

static inline UCHAR StoryInputByte(PIO_STACK_LOCATION IrpSp)
{
    volatile UCHAR op = 0;
    PUCHAR input = (PUCHAR)IrpSp->Parameters.DeviceIoControl.Type3InputBuffer;
    if (IrpSp->Parameters.DeviceIoControl.InputBufferLength == 0)
        return 0;
    __try {
        ProbeForRead(input, 1, 1);
        op = *input;
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        op = 0;
    }
    return op;
}

#endif
