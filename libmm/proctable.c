/* libmm/proctable.c — the process table: every process by handle (its
 * object's address), by id (NT's CID table) and by the address of its live
 * EPROCESS block. Lookups only; process.c creates, links and drops. */
#include "process.h"

#include "machine.h"

struct mm_process *mmi_process_lookup(mm_machine *m, const mm_process *p)
{
    struct mm_process *found = NULL;
    if (p)
        HASH_FIND_PTR(m->processes, &p, found);
    return found;
}

mm_status mmi_process_resolve(mm_machine *m, mm_process *p, struct mm_process **out)
{
    struct mm_process *q = p ? mmi_process_lookup(m, p) : mmi_cpu(m)->process;
    if (!q)
        return MM_STATUS_INVALID_HANDLE;
    if (q->terminated)
        return MM_STATUS_PROCESS_IS_TERMINATING;
    *out = q;
    return MM_STATUS_SUCCESS;
}

struct mm_process *mmi_process_by_id(mm_machine *m, uint32_t id)
{
    struct mm_process *p = NULL;
    HASH_FIND(hh_id, m->process_ids, &id, sizeof id, p);
    return p;
}

struct mm_process *mmi_process_by_eprocess(mm_machine *m, uint64_t eprocess)
{
    struct mm_process *p = NULL;
    if (eprocess)
        HASH_FIND(hh_eprocess, m->process_eps, &eprocess, sizeof eprocess, p);
    return p;
}
