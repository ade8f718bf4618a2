/* include/wdk/ntifs.h — the thin ntifs.h subset mmsim's DDIs need: all of
 * ntddk.h, and a process's virtual memory (Zw*VirtualMemory on the current
 * process). Part of mmsim's WDK-compatible headers. */
#ifndef MMSIM_WDK_NTIFS_H
#define MMSIM_WDK_NTIFS_H

#include "ntddk.h"

#define NtCurrentProcess() ((HANDLE)(LONG_PTR)-1)
#define ZwCurrentProcess() NtCurrentProcess()

NTSYSAPI NTSTATUS ZwAllocateVirtualMemory(HANDLE ProcessHandle, PVOID *BaseAddress, ULONG_PTR ZeroBits,
                                          PSIZE_T RegionSize, ULONG AllocationType, ULONG Protect);
NTSYSAPI NTSTATUS ZwFreeVirtualMemory(HANDLE ProcessHandle, PVOID *BaseAddress, PSIZE_T RegionSize, ULONG FreeType);
NTSYSAPI NTSTATUS ZwProtectVirtualMemory(HANDLE ProcessHandle, PVOID *BaseAddress, PSIZE_T RegionSize,
                                         ULONG NewProtect, PULONG OldProtect);

#endif
