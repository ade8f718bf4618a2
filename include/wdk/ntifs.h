/* include/wdk/ntifs.h — the thin ntifs.h subset mmsim's DDIs need: all of
 * ntddk.h. Part of mmsim's WDK-compatible headers. */
#ifndef MMSIM_WDK_NTIFS_H
#define MMSIM_WDK_NTIFS_H

#include "ntddk.h"

#endif
