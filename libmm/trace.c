/* libmm/trace.c — the event ring buffer, the trace hook and event formatting. */
#include "trace.h"

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
    m->trace.ring = NULL;
}

void mmi_trace(mm_machine *m, mm_event_type type, mm_va va, mm_pfn pfn, uint64_t a, uint64_t b)
{
    if (!m->trace.on)
        return;
    struct mmi_cpu *cpu = mmi_cpu(m);
    struct mm_trace_event one, *ev = m->trace.ring ? &m->trace.ring[m->trace.count & m->trace.mask] : &one;
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

size_t mm_trace_read(const mm_machine *m, struct mm_trace_event *out, size_t max)
{
    if (!m || !out || !m->trace.ring)
        return 0;
    uint64_t cap = m->trace.mask + 1;
    uint64_t have = m->trace.count < cap ? m->trace.count : cap;
    if (have > max)
        have = max;
    uint64_t first = m->trace.count - have;
    for (uint64_t i = 0; i < have; i++)
        out[i] = m->trace.ring[(first + i) & m->trace.mask];
    return (size_t)have;
}

uint64_t mm_trace_count(const mm_machine *m) { return m ? m->trace.count : 0; }
