/* wdk/wdkstate.h — the WDK layer's state for the calling thread's machine:
 * the driver's live pool blocks (for the leak report), device and link
 * names, loaded drivers, open files and the requests in flight. */
#ifndef MMWDK_STATE_H
#define MMWDK_STATE_H

#include "internal.h"

/* uthash with FNV-1a: its default Jenkins hash falls through switch cases
 * without annotations, which -Wimplicit-fallthrough refuses. */
#define HASH_FUNCTION(keyptr, keylen, hashv) HASH_FNV(keyptr, keylen, hashv)
#include <uthash.h>

#define MMWDK_NAME_MAX 128

struct mmwdk_pool_block {
    UT_hash_handle hh;
    mm_va va;
    uint64_t bytes;
    uint32_t tag;
    void *caller;
};

struct mmwdk_name {
    UT_hash_handle hh;
    char name[MMWDK_NAME_MAX];    /* "\Device\X" or "\??\X" */
    PDEVICE_OBJECT device;        /* a device's name */
    char target[MMWDK_NAME_MAX];  /* a link's device name */
};

struct mmwdk_driver {
    struct mmwdk_driver *next;
    PDRIVER_OBJECT object;
    PUNICODE_STRING registry;     /* the path DriverEntry was given */
    mm_image *image;              /* NULL for a DriverEntry linked into the test */
    char name[64];
};

struct mmwdk_file {
    struct mmwdk_file *next;
    mm_process *process;
    PFILE_OBJECT object;
    PDEVICE_OBJECT device;
};

/* A request the I/O manager sent: what to finish when it completes. */
struct mmwdk_request {
    UT_hash_handle hh;
    mm_va irp;
    mm_process *process;
    PVOID user_out;
    ULONG out_len;
    bool done;
    bool waiting;                 /* a send() waits for it to come back */
    bool deferred;                /* completed; its finishing waits for PASSIVE_LEVEL */
    NTSTATUS status;
    ULONG_PTR information;
    PIO_STATUS_BLOCK iosb;        /* IoBuildDeviceIoControlRequest's caller */
};

/* An exact-size system buffer (iomgr.c): its pages' MDL and the reserved
 * range they are mapped at. */
struct mmwdk_exact_buffer {
    UT_hash_handle hh;
    mm_va buffer, base, mdl;
};

struct mmwdk_state {
    mm_machine *m;
    struct mmwdk_pool_block *pool;
    struct mmwdk_name *devices, *links;
    struct mmwdk_driver *drivers;
    struct mmwdk_file *files;
    struct mmwdk_request *requests;
    struct mmwdk_exact_buffer *exact;
    KSPIN_LOCK cancel_lock;       /* IoAcquireCancelSpinLock's */
};

/* The state of m (the calling thread's machine), made on first use. */
struct mmwdk_state *mmwdk_state(mm_machine *m);
void mmwdk_state_drop(void);

void mmwdk_pool_note(mm_machine *m, mm_va va, uint64_t bytes, uint32_t tag, void *caller);
void mmwdk_pool_forget(mm_machine *m, mm_va va);

/* "\Device\X" from a counted UTF-16 string (non-ASCII becomes '?'). */
void mmwdk_narrow(PCUNICODE_STRING s, char *out, size_t size);

#endif
