/* libmm/trace.h — the event ring and the functions every module calls to
 * record what it changed: one event, or a run of a DDI's per-page events
 * (reference counts, PTE writes) kept as one slot and expanded into the
 * same events when read. */
#ifndef MMI_TRACE_H
#define MMI_TRACE_H

#include "mm/trace.h"

/* The per-page events a run stands for. REF_UP / REF_DOWN: PFN_REF of each
 * page, its count one up / down (value: pfn | old count << 48). PTE_MAP /
 * PTE_CLEAR: PTE_WRITE of consecutive PTEs of one page table from zero to
 * the value / from the value to zero, each followed by PFN_SHARE of the
 * table, one up / one down. */
enum mmi_run_kind { MMI_RUN_REF_UP, MMI_RUN_REF_DOWN, MMI_RUN_PTE_MAP, MMI_RUN_PTE_CLEAR };

struct mmi_trace {
    struct mm_trace_event *ring;
    uint64_t mask;     /* capacity - 1 */
    uint64_t count;    /* events emitted */
    uint64_t slots;    /* ring slots written (a run fills one) */
    bool on;           /* a ring or a hook: anything to record into */
    /* The run being recorded: its slot (NULL when it is expanded at once,
     * for a hook or without payload room), kind, first VA, page table and
     * that table's share count before it, and pages expanded so far. */
    struct mm_trace_event *run;
    enum mmi_run_kind run_kind;
    mm_va run_va;
    mm_pfn run_table;
    uint64_t run_share, run_pages;
    uint64_t *payload; /* the runs' per-page values; 2 x capacity, so the
                        * events the ring keeps always have theirs */
    uint64_t payload_mask, payload_count;
};

mm_status mmi_trace_init(mm_machine *m, uint32_t capacity);
void mmi_trace_fini(mm_machine *m);
void mmi_trace(mm_machine *m, mm_event_type type, mm_va va, mm_pfn pfn, uint64_t a, uint64_t b);

/* A run: begin, one add per page, end; no other event in between. */
void mmi_trace_run_begin(mm_machine *m, enum mmi_run_kind kind, mm_va va, mm_pfn table, uint64_t share);
void mmi_trace_run_expand(mm_machine *m, uint64_t value);
void mmi_trace_run_end(mm_machine *m);
/* One page of the run (t is &m->trace): one payload store; the run's end
 * counts its pages and events. */
static inline void mmi_trace_run_add(mm_machine *m, struct mmi_trace *t, uint64_t value)
{
    if (t->run) {
        t->payload[t->payload_count++ & t->payload_mask] = value;
    } else if (t->on) {
        mmi_trace_run_expand(m, value);
    }
}
/* A hot loop's hold on the open run: the payload ring and the position
 * in it, kept in registers (payload NULL: each value is expanded at once).
 * mmi_trace_run_put per page, mmi_trace_run_done before the run's end. */
struct mmi_run_writer {
    uint64_t *payload;
    uint64_t at, mask;
};
static inline struct mmi_run_writer mmi_trace_run_writer(const struct mmi_trace *t)
{
    struct mmi_run_writer w = {NULL, 0, 0};
    if (t->run)
        w = (struct mmi_run_writer){t->payload, t->payload_count, t->payload_mask};
    return w;
}
static inline void mmi_trace_run_put(mm_machine *m, struct mmi_run_writer *w, uint64_t value)
{
    if (w->payload)
        w->payload[w->at++ & w->mask] = value;
    else
        mmi_trace_run_expand(m, value);
}
static inline void mmi_trace_run_done(struct mmi_trace *t, const struct mmi_run_writer *w)
{
    if (w->payload)
        t->payload_count = w->at;
}
static inline uint64_t mmi_trace_ref_value(mm_pfn pfn, uint16_t old) { return pfn | (uint64_t)old << 48; }

/* The last `max` events kept (at most the capacity), oldest first, runs
 * expanded; returns how many were visited. */
size_t mmi_trace_walk(const mm_machine *m, size_t max, void (*fn)(void *ctx, const struct mm_trace_event *ev),
                      void *ctx);

#endif
