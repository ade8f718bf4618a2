/* mm/physical.h — physical memory: I/O-space mappings (MmMapIoSpace),
 * non-cached and physically contiguous allocations. */
#ifndef MM_PHYSICAL_H
#define MM_PHYSICAL_H

#include "mm/types.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif
#endif
