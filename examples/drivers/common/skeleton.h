/* examples/drivers/common/skeleton.h — the part every story driver shares:
 * a device \Device\MmsimStory with the link \\.\MmsimStory, create and
 * close that succeed, and device control handed to the story's
 * StoryControl, which completes nothing itself: the skeleton completes the
 * IRP with the status and byte count it returns. */
#ifndef MMSIM_STORY_SKELETON_H
#define MMSIM_STORY_SKELETON_H

#include <ntddk.h>

/* The one control code a story answers: METHOD_NEITHER, so the story sees
 * the caller's own buffers (0x90002003). */
#define IOCTL_STORY CTL_CODE(0x9000, 0x800, METHOD_NEITHER, FILE_ANY_ACCESS)

NTSTATUS StoryControl(PDEVICE_OBJECT DeviceObject, PIRP Irp, PIO_STACK_LOCATION IrpSp, ULONG_PTR *Information);
/* Optional hooks (the skeleton provides empty ones when a story has none).
 * StoryDispatch sees a control request first; setting *Handled means the
 * story passed it on or completed it itself. */
NTSTATUS StoryDispatch(PDEVICE_OBJECT DeviceObject, PIRP Irp, BOOLEAN *Handled);
NTSTATUS StoryStart(PDRIVER_OBJECT DriverObject);
void StoryCleanup(PIRP Irp);
void StoryStop(void);

#endif
