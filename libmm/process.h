/* libmm/process.h — the process object (EPROCESS-like): address space (top
 * table, VADs), working set, locked-page count; its table's lookups
 * (proctable.c), and process.c's calls for machine creation. */
#ifndef MMI_PROCESS_H
#define MMI_PROCESS_H

#include "hash.h"

#include "mm/process.h"

#include "vad.h"
#include "workset.h"

struct mm_process {
    UT_hash_handle hh;
    UT_hash_handle hh_id;         /* by id, for the machine's lifetime */
    UT_hash_handle hh_eprocess;   /* by EPROCESS address, while it is allocated */
    void *self;                   /* hash key: the object's own address */
    mm_machine *machine;
    struct mm_process *next, *prev; /* creation order */
    uint32_t id;
    char name[16];
    mm_va eprocess;
    bool eprocess_hashed;         /* linked in the machine's EPROCESS hash */
    mm_pfn pml4;
    bool terminated;
    int64_t locked_pages;         /* NumberOfLockedPages */
    uint64_t commit;
    struct mmi_vad_table vads;
    struct mmi_working_set ws;
    uint32_t attach_count;
};

/* Validates a caller's process pointer without dereferencing it first. */
struct mm_process *mmi_process_lookup(mm_machine *m, const mm_process *p);
/* p validated and live, or NULL for "current"; resolves to an object. */
mm_status mmi_process_resolve(mm_machine *m, mm_process *p, struct mm_process **out);
mm_status mmi_process_create_system(mm_machine *m);
/* Gives a process its EPROCESS block in nonpaged pool. */
mm_status mmi_process_alloc_eprocess(mm_machine *m, struct mm_process *p);
void mmi_process_free_all(mm_machine *m);
/* The process whose EPROCESS block is at `eprocess` now (an exited
 * process's block may have been reused), or NULL. */
struct mm_process *mmi_process_by_eprocess(mm_machine *m, uint64_t eprocess);
/* Any process ever created on the machine, by id (exited ones included). */
struct mm_process *mmi_process_by_id(mm_machine *m, uint32_t id);

#endif
