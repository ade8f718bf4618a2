/* include/wdk/mmsim/wdk.h — the test side of mmsim's WDK layer: which
 * machine the WDK routines act on, loading a driver (a shared object, or a
 * DriverEntry linked into the test) and unloading it with a leak report,
 * and a user process's requests to its device (open, DeviceIoControl with
 * any METHOD_*, read, write, close), built into IRPs as Windows' I/O
 * manager builds them. Usable without the WDK headers (no -fshort-wchar
 * needed): driver objects appear as opaque pointers. */
#ifndef MMSIM_WDK_TEST_H
#define MMSIM_WDK_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mm/mm.h"

#ifdef __cplusplus
extern "C" {
#endif

struct _DRIVER_OBJECT;
struct _UNICODE_STRING;
typedef struct mmwdk_driver mmwdk_driver;
typedef struct mmwdk_file mmwdk_file;
typedef int32_t (*mmwdk_driver_entry)(struct _DRIVER_OBJECT *driver, struct _UNICODE_STRING *registry_path);

/* Exact-size system buffers (off by default, where they are nonpaged pool
 * as on Windows): METHOD_BUFFERED and the input of the direct methods get a
 * system buffer of exactly the request's size that ends where an invalid
 * page begins, so a driver reading or writing past the length stops with
 * 0x50 at its instruction. User buffers are always exact. */
void mmwdk_exact_buffers(bool on);

/* Low Resources Simulation (wdk/inject.c): the routines a driver calls
 * fail as under memory pressure, seeded and deterministic. */
#define MMWDK_INJECT_POOL 0x01u       /* ExAllocatePool*: NULL */
#define MMWDK_INJECT_MDL 0x02u        /* IoAllocateMdl: NULL */
#define MMWDK_INJECT_LOCK 0x04u       /* MmProbeAndLockPages: raises STATUS_INSUFFICIENT_RESOURCES */
#define MMWDK_INJECT_MAP 0x08u        /* MmMapLockedPagesSpecifyCache (failure allowed): NULL */
#define MMWDK_INJECT_PAGES 0x10u      /* MmAllocatePagesForMdl(Ex): half the pages asked for */
#define MMWDK_INJECT_PHYSICAL 0x20u   /* MmMapIoSpace(Ex), MmAllocateContiguousMemory*, MmAllocateNonCachedMemory: NULL */
#define MMWDK_INJECT_ALL 0x3Fu
struct mmwdk_injection {
    uint32_t sites;        /* MMWDK_INJECT_* */
    uint64_t fail_nth;     /* fail the Nth eligible call (1-based); 0: not by count */
    uint32_t one_in;       /* fail each eligible call with probability 1/one_in; 0: never */
    uint64_t seed;         /* for one_in */
    mm_image *driver;      /* only calls from this driver's image; NULL: any */
    const void *call_site; /* only calls returning to this address; NULL: any */
};
/* Starts (or with NULL, stops) injection for the calling thread's machine. */
void mmwdk_inject(const struct mmwdk_injection *cfg);
/* How many calls it has failed since it started. */
uint64_t mmwdk_injected(void);

/* The adversarial machine: before a routine the driver calls, with
 * probability 1/one_in (seeded), another CPU trims working sets (pageable
 * code, paged pool and the caller's unlocked pages go to the transition
 * lists, so a touch at DISPATCH_LEVEL is 0xD1) and a user thread changes a
 * byte of the current request's input buffer. With PROTECT_USER and
 * FREE_USER, at one act in four each, the user thread also makes one of the
 * request's buffers read-only or no-access (NtProtectVirtualMemory), or
 * frees it (NtFreeVirtualMemory, legal while the I/O is in flight: pages an
 * MDL locked stay pinned, the addresses go). Per machine; NULL stops it. */
#define MMWDK_ADVERSARY_TRIM 0x1u
#define MMWDK_ADVERSARY_WRITE_USER 0x2u
#define MMWDK_ADVERSARY_PROTECT_USER 0x4u
#define MMWDK_ADVERSARY_FREE_USER 0x8u
#define MMWDK_ADVERSARY_ALL 0xFu
struct mmwdk_adversary {
    uint32_t actions; /* MMWDK_ADVERSARY_* */
    uint32_t one_in;  /* act before one call in one_in (1: every call) */
    uint64_t seed;
};
void mmwdk_adversary(const struct mmwdk_adversary *cfg);
/* How many times it has acted since it started. */
uint64_t mmwdk_adversary_acts(void);

/* The machine the WDK routines act on, for the calling thread: a hosted
 * machine (mm_config.layout = MM_LAYOUT_HOSTED). Installs the exception
 * dispatcher __try/__except needs; NULL forgets the machine. Destroy the
 * machine only after mmwdk_use(NULL) or after unloading its drivers. */
void mmwdk_use(mm_machine *m);
mm_machine *mmwdk_machine(void);

/* Where DbgPrint/DbgPrintEx lines go (each formatted with Windows' rules,
 * at most 511 characters); NULL: standard error. */
void mmwdk_set_debug_output(void (*fn)(void *ctx, const char *line), void *ctx);

/* Loads a driver built as a shared object and calls its DriverEntry in
 * the System process at PASSIVE_LEVEL; on success the INIT section is
 * discarded and DO_DEVICE_INITIALIZING cleared on the devices it made. A
 * DriverEntry that fails leaves the driver unloaded (its status in
 * *entry_status); out is then NULL. */
mm_status mmwdk_driver_load(const char *path, mmwdk_driver **out, int32_t *entry_status);
/* The same for a DriverEntry linked into the test (its globals stay host
 * memory); name is the service name ("sample"). */
mm_status mmwdk_driver_start(mmwdk_driver_entry entry, const char *name, mmwdk_driver **out, int32_t *entry_status);
struct _DRIVER_OBJECT *mmwdk_driver_object(const mmwdk_driver *d);

/* What a driver left behind at unload. */
struct mmwdk_leaks {
    uint64_t pool_blocks, pool_bytes; /* ExAllocatePool* blocks never freed */
    uint64_t devices;                 /* device objects never deleted */
    uint64_t symbolic_links;          /* links never deleted */
    uint64_t locked_mdls;             /* MDLs still locked (by any driver) */
    uint64_t mapped_mdls;             /* MDLs still mapped in system space (by any driver) */
    char report[1024];                /* one line per leak: tag, size, call site */
};
/* Calls DriverUnload (if any), reports leaks in *leaks (may be NULL) and
 * unloads the image; the handle is gone afterwards. */
mm_status mmwdk_driver_unload(mmwdk_driver *d, struct mmwdk_leaks *leaks);

/* A user process opens a device by name: "\\\\.\\Name" (a symbolic link, as
 * CreateFile takes it), "\\??\\Name" or "\\Device\\Name". The driver sees
 * IRP_MJ_CREATE; *status is its answer. On success *out is the open file. */
mm_status mmwdk_open(mm_process *p, const char *name, mmwdk_file **out, int32_t *status);
/* The same for the device a driver made (the top of its first device's
 * stack), without knowing its name: what a fuzzer opens. */
mm_status mmwdk_open_driver(mm_process *p, mmwdk_driver *d, mmwdk_file **out, int32_t *status);
/* DeviceIoControl from the file's process: the input bytes are copied into
 * a user buffer of exactly in_len bytes and the output buffer is out_len
 * bytes, each ending where an uncommitted page begins (a byte past the
 * length faults); the I/O manager builds the IRP for the code's METHOD_*.
 * Returns the NTSTATUS the request completed with (STATUS_PENDING while the
 * driver holds it), with IoStatus.Information in *information; out receives
 * the user buffer's contents afterwards. */
int32_t mmwdk_ioctl(mmwdk_file *f, uint32_t code, const void *in, uint32_t in_len, void *out, uint32_t out_len,
                    uint64_t *information);
/* The same with buffers the caller placed in the process itself (user
 * addresses, or any address at all: a fuzzer's or a test's bad pointer);
 * nothing is copied in or out. */
int32_t mmwdk_ioctl_at(mmwdk_file *f, uint32_t code, mm_va in, uint32_t in_len, mm_va out, uint32_t out_len,
                       uint64_t *information);
/* ReadFile / WriteFile, buffered, direct or neither by the device's flags. */
int32_t mmwdk_read(mmwdk_file *f, void *buffer, uint32_t length, uint64_t *information);
int32_t mmwdk_write(mmwdk_file *f, const void *buffer, uint32_t length, uint64_t *information);
/* The same with a buffer already in the opener's address space (as
 * mmwdk_ioctl_at). */
int32_t mmwdk_read_at(mmwdk_file *f, mm_va buffer, uint32_t length, uint64_t *information);
int32_t mmwdk_write_at(mmwdk_file *f, mm_va buffer, uint32_t length, uint64_t *information);
/* CloseHandle: IRP_MJ_CLEANUP then IRP_MJ_CLOSE; the handle is gone. */
int32_t mmwdk_close(mmwdk_file *f);
/* The process exits: its open files are closed (cleanup and close, as the
 * handle table's rundown sends them), then it terminates, which checks for
 * pages still locked (0x76, or 0xCB with TrackLockedPages). */
mm_status mmwdk_process_exit(mm_process *p);

#ifdef __cplusplus
}
#endif
#endif
