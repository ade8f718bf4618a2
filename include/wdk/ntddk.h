/* include/wdk/ntddk.h — ntddk.h's subset for mmsim: everything of wdm.h
 * (ntddk.h adds routines mmsim does not model yet). Part of mmsim's
 * WDK-compatible headers. */
#ifndef MMSIM_WDK_NTDDK_H
#define MMSIM_WDK_NTDDK_H

#include "wdm.h"

#endif
