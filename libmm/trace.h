/* libmm/trace.h — the event ring and the one function every module calls to
 * record what it changed. */
#ifndef MMI_TRACE_H
#define MMI_TRACE_H

#include "mm/trace.h"

struct mmi_trace {
    struct mm_trace_event *ring;
    uint64_t mask;     /* capacity - 1 */
    uint64_t count;    /* events emitted */
    bool on;           /* a ring or a hook: anything to record into */
};

mm_status mmi_trace_init(mm_machine *m, uint32_t capacity);
void mmi_trace_fini(mm_machine *m);
void mmi_trace(mm_machine *m, mm_event_type type, mm_va va, mm_pfn pfn, uint64_t a, uint64_t b);

#endif
