/* include/wdk/ntddk.h — ntddk.h's subset for mmsim: everything of wdm.h,
 * and non-cached memory. Part of mmsim's WDK-compatible headers. */
#ifndef MMSIM_WDK_NTDDK_H
#define MMSIM_WDK_NTDDK_H

#include "wdm.h"

NTKERNELAPI PVOID MmAllocateNonCachedMemory(SIZE_T NumberOfBytes);
NTKERNELAPI void MmFreeNonCachedMemory(PVOID BaseAddress, SIZE_T NumberOfBytes);

#endif
