/* libmm/host/memfile.h — one sparse shared memory file per store (POSIX).
 * Without it (non-POSIX hosts, or -Dmemfile=disabled) open() returns false
 * and the portable heap store is used. */
#ifndef MMI_HOST_MEMFILE_H
#define MMI_HOST_MEMFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

bool mmi_memfile_open(uint64_t bytes, int *fd, void **base);
void mmi_memfile_close(int fd, void *base, uint64_t bytes);

#endif
