/* wdk/wdkstate.h — the WDK layer's state for the calling thread's machine:
 * the driver's live pool blocks (for the leak report), device and link
 * names, loaded drivers, open files and the requests in flight. */
#ifndef MMWDK_STATE_H
#define MMWDK_STATE_H

#include "internal.h"

/* uthash with FNV-1a: its default Jenkins hash falls through switch cases
 * without annotations, which -Wimplicit-fallthrough refuses. Its tables
 * live in the machine's memory like the entries (mmwdk_hash_alloc), so a
 * snapshot's restore brings them back too. */
#define HASH_FUNCTION(keyptr, keylen, hashv) HASH_FNV(keyptr, keylen, hashv)
void *mmwdk_hash_alloc(size_t size);
void mmwdk_hash_free(void *p);
#define uthash_malloc(sz) mmwdk_hash_alloc(sz)
#define uthash_free(ptr, sz) mmwdk_hash_free(ptr)
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
    mm_va user_in;                /* the caller's input buffer (the adversary writes it) */
    ULONG in_len;
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
    struct mmwdk_injection_state *injection; /* Low Resources Simulation (inject.c) */
    struct mmwdk_adversary_state *adversary; /* the other CPU and user thread (inject.c) */
    mm_va current_in;             /* the latest user request's input buffer, and its length */
    ULONG current_in_len;
    mm_va current_out;            /* and its output buffer */
    ULONG current_out_len;
    mm_process *current_process;
};

/* Before a DDI runs: the adversary may act (inject.c). */
void mmwdk_adversary_step(mm_machine *m);

/* The state of m, made on first use. It is the machine's extension, in the
 * machine's memory (mm_machine_alloc): it goes with the machine, and a
 * restore of the machine's snapshot brings it back as it was. */
struct mmwdk_state *mmwdk_state(mm_machine *m);
/* Zeroed memory of m's state; the host running out stops the process. */
void *mmwdk_alloc(mm_machine *m, size_t size);
void mmwdk_free(mm_machine *m, void *p);

void mmwdk_pool_note(mm_machine *m, mm_va va, uint64_t bytes, uint32_t tag, void *caller);
void mmwdk_pool_forget(mm_machine *m, mm_va va);

/* "\Device\X" from a counted UTF-16 string (non-ASCII becomes '?'). */
void mmwdk_narrow(PCUNICODE_STRING s, char *out, size_t size);

#endif
