/** \file
 * mm/mm.h — the umbrella header of mmsim's native API. */
#ifndef MM_MM_H
#define MM_MM_H

#include "mm/types.h"
#include "mm/status.h"
#include "mm/bugcheck.h"
#include "mm/trace.h"
#include "mm/machine.h"
#include "mm/pfn.h"
#include "mm/process.h"
#include "mm/memory.h"
#include "mm/pool.h"
#include "mm/image.h"
#include "mm/section.h"
#include "mm/mdl.h"
#include "mm/physical.h"

#endif
