/* libmm/trace.c — the event ring buffer, the trace hook and event formatting.
 * A run of per-page events takes one slot and one payload word per page;
 * readers see it expanded into the very events it stands for. */
#include "trace.h"

#include <assert.h>
#include <stdio.h>

#include "alloc.h"
#include "machine.h"
#include "process.h"

/* A capacity of 0 keeps no ring: with no hook either, nothing is recorded
 * and mmi_trace returns at once (the fuzzing and benchmark configuration). */
mm_status mmi_trace_init(mm_machine *m, uint32_t capacity)
{
    m->trace.on = capacity || m->cfg.trace_hook;
    if (!capacity)
        return MM_STATUS_SUCCESS;
    m->trace.ring = mmi_alloc(m, (size_t)capacity * sizeof *m->trace.ring);
    if (!m->trace.ring)
        return MM_STATUS_INSUFFICIENT_RESOURCES;
    m->trace.mask = capacity - 1;
    return MM_STATUS_SUCCESS;
}

void mmi_trace_fini(mm_machine *m)
{
    mmi_free(m, m->trace.ring);
    mmi_free(m, m->trace.payload);
    m->trace.ring = NULL;
    m->trace.payload = NULL;
}

void mmi_trace(mm_machine *m, mm_event_type type, mm_va va, mm_pfn pfn, uint64_t a, uint64_t b)
{
    if (!m->trace.on)
        return;
    assert(!m->trace.run); /* a run is closed before any other event */
    struct mmi_cpu *cpu = mmi_cpu(m);
    struct mm_trace_event one, *ev = m->trace.ring ? &m->trace.ring[m->trace.slots++ & m->trace.mask] : &one;
    *ev = (struct mm_trace_event){
        .seq = ++m->trace.count,
        .step = m->step,
        .operation = m->op,
        .type = (uint32_t)type,
        .cpu = m->current_cpu,
        .process_id = cpu->process ? cpu->process->id : 0,
        .va = va,
        .pfn = pfn,
        .a = a,
        .b = b,
    };
    if (m->cfg.trace_hook)
        m->cfg.trace_hook(m->cfg.trace_ctx, ev);
}

/* ---- runs ---- */

static unsigned run_events_per_page(enum mmi_run_kind kind) { return kind >= MMI_RUN_PTE_MAP ? 2 : 1; }

/* The payload is allocated at the first run; without it runs are expanded
 * at once, into the same events. */
static bool payload_ready(mm_machine *m)
{
    struct mmi_trace *t = &m->trace;
    if (!t->payload) {
        uint64_t words = 2 * (t->mask + 1);
        t->payload = mmi_alloc(m, (size_t)words * sizeof *t->payload);
        t->payload_mask = t->payload ? words - 1 : 0;
    }
    return t->payload != NULL;
}

/* The run's slot in the ring, when it has one: its header event, whose a
 * is the run's first payload word and whose reserved will say how many
 * pages it holds. */
static void open_slot(mm_machine *m, enum mmi_run_kind kind, mm_va va, mm_pfn table, uint64_t share)
{
    struct mmi_trace *t = &m->trace;
    struct mmi_cpu *cpu = mmi_cpu(m);
    t->run = &t->ring[t->slots++ & t->mask];
    *t->run = (struct mm_trace_event){
        .seq = t->count + 1,
        .step = m->step,
        .operation = m->op,
        .type = MM_EV_COUNT + (uint32_t)kind,
        .cpu = m->current_cpu,
        .process_id = cpu->process ? cpu->process->id : 0,
        .va = va,
        .pfn = table,
        .a = t->payload_count,
        .b = share,
    };
}

void mmi_trace_run_begin(mm_machine *m, enum mmi_run_kind kind, mm_va va, mm_pfn table, uint64_t share)
{
    struct mmi_trace *t = &m->trace;
    assert(!t->run);
    if (t->ring && !m->cfg.trace_hook && payload_ready(m)) {
        open_slot(m, kind, va, table, share);
        return;
    }
    /* Each event goes out as it happens (a hook, or no payload room), or
     * nothing is recorded: mmi_trace_run_expand works from these. */
    t->run_kind = kind;
    t->run_va = va;
    t->run_table = table;
    t->run_share = share;
    t->run_pages = 0;
}

void mmi_trace_run_end(mm_machine *m)
{
    struct mmi_trace *t = &m->trace;
    if (!t->run)
        return;
    uint64_t pages = t->payload_count - t->run->a;
    t->run->reserved = (uint32_t)pages; /* the slot's page count */
    t->count += pages * run_events_per_page((enum mmi_run_kind)(t->run->type - MM_EV_COUNT));
    if (pages == 0)
        t->slots--; /* an empty run leaves no slot */
    t->run = NULL;
}

/* The events of page i of a run, from its header and the page's value. */
static unsigned run_page_events(enum mmi_run_kind kind, const struct mm_trace_event *head, uint64_t i,
                                uint64_t value, struct mm_trace_event out[2])
{
    struct mm_trace_event ev = *head;
    ev.reserved = 0;
    ev.seq = head->seq + i * run_events_per_page(kind);
    if (kind <= MMI_RUN_REF_DOWN) {
        uint64_t old = value >> 48;
        ev.type = MM_EV_PFN_REF;
        ev.va = 0;
        ev.pfn = value & ((UINT64_C(1) << 48) - 1);
        ev.a = old;
        ev.b = kind == MMI_RUN_REF_UP ? old + 1 : old - 1;
        out[0] = ev;
        return 1;
    }
    bool map = kind == MMI_RUN_PTE_MAP;
    uint64_t share = head->b;
    ev.type = MM_EV_PTE_WRITE;
    ev.va = head->va + i * MM_PAGE_SIZE;
    ev.pfn = head->pfn;
    ev.a = map ? 0 : value;
    ev.b = map ? value : 0;
    out[0] = ev;
    ev.seq++;
    ev.type = MM_EV_PFN_SHARE;
    ev.va = 0;
    ev.a = map ? share + i : share - i;
    ev.b = map ? share + i + 1 : share - i - 1;
    out[1] = ev;
    return 2;
}

/* A run recorded without a slot: its events go out one by one. */
void mmi_trace_run_expand(mm_machine *m, uint64_t value)
{
    struct mmi_trace *t = &m->trace;
    if (!t->on)
        return;
    struct mm_trace_event head = {.seq = 0, .va = t->run_va, .pfn = t->run_table, .b = t->run_share};
    struct mm_trace_event ev[2];
    unsigned n = run_page_events(t->run_kind, &head, t->run_pages++, value, ev);
    for (unsigned k = 0; k < n; k++)
        mmi_trace(m, (mm_event_type)ev[k].type, ev[k].va, ev[k].pfn, ev[k].a, ev[k].b);
}

static uint64_t slot_events(const struct mm_trace_event *ev)
{
    if (ev->type < MM_EV_COUNT)
        return 1;
    return (uint64_t)ev->reserved * run_events_per_page((enum mmi_run_kind)(ev->type - MM_EV_COUNT));
}

/* Visits the events of one slot after the first `skip`. */
static size_t walk_slot(const struct mmi_trace *t, const struct mm_trace_event *slot, uint64_t skip,
                        void (*fn)(void *ctx, const struct mm_trace_event *ev), void *ctx)
{
    if (slot->type < MM_EV_COUNT) {
        fn(ctx, slot);
        return 1;
    }
    enum mmi_run_kind kind = (enum mmi_run_kind)(slot->type - MM_EV_COUNT);
    unsigned per = run_events_per_page(kind);
    size_t n = 0;
    for (uint64_t i = skip / per; i < slot->reserved; i++) {
        struct mm_trace_event ev[2];
        unsigned k = run_page_events(kind, slot, i, t->payload[(slot->a + i) & t->payload_mask], ev);
        for (unsigned j = i == skip / per ? (unsigned)(skip % per) : 0; j < k; j++, n++)
            fn(ctx, &ev[j]);
    }
    return n;
}

size_t mmi_trace_walk(const mm_machine *m, size_t max, void (*fn)(void *ctx, const struct mm_trace_event *ev),
                      void *ctx)
{
    const struct mmi_trace *t = &m->trace;
    if (!t->ring)
        return 0;
    uint64_t cap = t->mask + 1;
    uint64_t want = t->count < cap ? t->count : cap;
    if (want > max)
        want = max;
    /* Back from the newest slot until enough events are covered: each slot
     * holds at least one, so the ring always covers the capacity. */
    uint64_t oldest = t->slots > cap ? t->slots - cap : 0, s = t->slots, have = 0;
    while (have < want && s > oldest)
        have += slot_events(&t->ring[--s & t->mask]);
    size_t n = 0;
    for (uint64_t skip = have - want; s < t->slots; s++, skip = 0) {
        const struct mm_trace_event *slot = &t->ring[s & t->mask];
        uint64_t events = slot_events(slot);
        if (skip >= events) {
            skip -= events;
            continue;
        }
        n += walk_slot(t, slot, skip, fn, ctx);
    }
    return n;
}

const char *mm_event_name(uint32_t type)
{
    static const char *const names[] = {
#define NAME(name, va, pfn, a, b) #name,
        MM_EVENT_MAP(NAME)
#undef NAME
    };
    return type < MM_EV_COUNT ? names[type] : "UNKNOWN";
}

static int format_body(const struct mm_trace_event *ev, char *buf, size_t size)
{
    switch ((mm_event_type)ev->type) {
    case MM_EV_PFN_LIST:
        return snprintf(buf, size, "pfn 0x%llx %s -> %s", (unsigned long long)ev->pfn,
                        mm_page_location_name((unsigned)ev->a), mm_page_location_name((unsigned)ev->b));
    case MM_EV_PFN_SHARE:
    case MM_EV_PFN_REF:
        return snprintf(buf, size, "pfn 0x%llx %s %llu -> %llu", (unsigned long long)ev->pfn,
                        ev->type == MM_EV_PFN_SHARE ? "share" : "ref", (unsigned long long)ev->a,
                        (unsigned long long)ev->b);
    case MM_EV_PTE_WRITE:
        return snprintf(buf, size, "pte for %016llx (table pfn 0x%llx) %016llx -> %016llx",
                        (unsigned long long)ev->va, (unsigned long long)ev->pfn, (unsigned long long)ev->a,
                        (unsigned long long)ev->b);
    case MM_EV_FAULT: {
        /* the kinds of libmm/fault.c, in order from 1 */
        static const char *const kinds[] = {"?", "demand-zero", "soft (transition)", "hard (page file)",
                                            "copy-on-write", "guard page"};
        return snprintf(buf, size, "%s fault at %016llx -> %s (pfn 0x%llx)", ev->a < 6 ? kinds[ev->a] : "?",
                        (unsigned long long)ev->va, mm_status_name((mm_status)ev->b), (unsigned long long)ev->pfn);
    }
    case MM_EV_PAGEFILE:
        return snprintf(buf, size, "pfn 0x%llx %s page-file slot %llu", (unsigned long long)ev->pfn,
                        ev->b ? "read from" : "written to", (unsigned long long)ev->a);
    case MM_EV_POOL_ALLOC:
    case MM_EV_POOL_FREE: {
        char tag[5] = {0};
        for (int i = 0; i < 4; i++) {
            char c = (char)(ev->b >> (8 * i));
            tag[i] = (c >= 32 && c < 127) ? c : '.';
        }
        return snprintf(buf, size, "%s %016llx %llu bytes tag '%s'",
                        ev->type == MM_EV_POOL_ALLOC ? "alloc" : "free", (unsigned long long)ev->va,
                        (unsigned long long)ev->a, tag);
    }
    case MM_EV_TRIM:
        return snprintf(buf, size, "%016llx pfn 0x%llx out of the working set of process %llu",
                        (unsigned long long)ev->va, (unsigned long long)ev->pfn, (unsigned long long)ev->a);
    case MM_EV_VAD: {
        const char *op = ev->b == 0x4D41                                   ? "MDL user mapping"
                         : ev->b == MM_MEM_RELEASE                         ? "release"
                         : ev->b == MM_MEM_DECOMMIT                        ? "decommit"
                         : ev->b == MM_MEM_MAPPED                          ? "section view"
                         : ev->b == (MM_MEM_COMMIT | MM_MEM_RESERVE)       ? "reserve+commit"
                         : ev->b == MM_MEM_COMMIT                          ? "commit"
                         : ev->b == MM_MEM_RESERVE                         ? "reserve"
                                                                           : "?";
        return snprintf(buf, size, "%s %016llx %llu bytes", op, (unsigned long long)ev->va, (unsigned long long)ev->a);
    }
    case MM_EV_NOTE:
        if (ev->a <= 0xFF)
            return snprintf(buf, size, "finding %s at %016llx (MDL %016llx)", mm_finding_name((uint32_t)ev->a),
                            (unsigned long long)ev->va, (unsigned long long)ev->b);
        return snprintf(buf, size, "%c%c%c%c %016llx #%llu", (char)(ev->a >> 24), (char)(ev->a >> 16),
                        (char)(ev->a >> 8), (char)ev->a, (unsigned long long)ev->va, (unsigned long long)ev->b);
    default:
        return snprintf(buf, size, "va %016llx pfn 0x%llx a 0x%llx b 0x%llx", (unsigned long long)ev->va,
                        (unsigned long long)ev->pfn, (unsigned long long)ev->a, (unsigned long long)ev->b);
    }
}

int mm_trace_format(const struct mm_trace_event *ev, char *buf, size_t size)
{
    if (!ev || (!buf && size))
        return -1;
    char cpu[16] = "";
    if (ev->cpu)
        snprintf(cpu, sizeof cpu, " cpu %u", ev->cpu);
    int n = snprintf(buf, size, "#%llu step %llu%s %s: %s ", (unsigned long long)ev->seq, (unsigned long long)ev->step,
                     cpu, ev->operation ? ev->operation : "-", mm_event_name(ev->type));
    if (n < 0)
        return n;
    size_t used = (size_t)n < size ? (size_t)n : size;
    int k = format_body(ev, buf ? buf + used : NULL, size - used);
    return k < 0 ? k : n + k;
}

struct copy_out {
    struct mm_trace_event *out;
    size_t n;
};

static void copy_event(void *ctx, const struct mm_trace_event *ev)
{
    struct copy_out *c = ctx;
    c->out[c->n++] = *ev;
}

size_t mm_trace_read(const mm_machine *m, struct mm_trace_event *out, size_t max)
{
    if (!m || !out)
        return 0;
    struct copy_out c = {out, 0};
    return mmi_trace_walk(m, max, copy_event, &c);
}

uint64_t mm_trace_count(const mm_machine *m) { return m ? m->trace.count : 0; }
