/* libmm/host/memfile.c — the memory file behind simulated RAM: created
 * anonymous (memfd on Linux, an unlinked temporary file elsewhere), sized
 * once as a sparse file and mapped shared, so storage is only consumed by
 * pages actually written. */
#define _GNU_SOURCE
#include "memfile.h"

#if defined(MMSIM_HAVE_MEMFILE)

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* A descriptor the library keeps must never be 0, 1 or 2: when the host
 * runs with one of those closed, the next open takes it, and every printf
 * would then write into simulated RAM. Moves fd to 3 or above. */
static int above_stdio(int fd)
{
    if (fd < 0 || fd > 2)
        return fd;
    int high = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    close(fd);
    return high;
}

static int create_fd(void)
{
#if defined(__linux__) && defined(MFD_CLOEXEC)
    int fd = memfd_create("mmsim-ram", MFD_CLOEXEC);
    if (fd >= 0)
        return above_stdio(fd);
#endif
    const char *dir = getenv("TMPDIR");
    char path[512];
    snprintf(path, sizeof path, "%s/mmsim-ram-XXXXXX", dir && *dir ? dir : "/tmp");
    int tfd = mkstemp(path);
    if (tfd >= 0)
        unlink(path);
    return above_stdio(tfd);
}

bool mmi_memfile_open(uint64_t bytes, int *fd, void **base)
{
    int f = create_fd();
    if (f < 0)
        return false;
    if (ftruncate(f, (off_t)bytes) != 0) {
        close(f);
        return false;
    }
    void *p = mmap(NULL, (size_t)bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, f, 0);
    if (p == MAP_FAILED) {
        close(f);
        return false;
    }
    *fd = f;
    *base = p;
    return true;
}

void mmi_memfile_close(int fd, void *base, uint64_t bytes)
{
    munmap(base, (size_t)bytes);
    close(fd);
}


#else

bool mmi_memfile_open(uint64_t bytes, int *fd, void **base)
{
    (void)bytes;
    (void)fd;
    (void)base;
    return false;
}
void mmi_memfile_close(int fd, void *base, uint64_t bytes)
{
    (void)fd;
    (void)base;
    (void)bytes;
}

#endif
