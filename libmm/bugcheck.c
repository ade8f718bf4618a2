/* libmm/bugcheck.c — the bug-check tables (names, parameter meanings), the
 * WinDbg-style report, and delivery to the machine's hook. */
#include "bugcheck.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "machine.h"

struct code_row {
    uint32_t code;
    const char *name;
    const char *param[4];
};
struct subcode_row {
    uint32_t code;
    uint64_t sub;
    const char *param[3];
    const char *meaning;
};

static const struct code_row codes[] = {
#define ROW(code, name, p1, p2, p3, p4) {code, #name, {p1, p2, p3, p4}},
    MM_BUGCHECK_MAP(ROW)
#undef ROW
};
static const struct subcode_row subcodes[] = {
#define ROW(code, sub, p2, p3, p4, meaning) {code, sub, {p2, p3, p4}, meaning},
    MM_BUGCHECK_SUBCODE_MAP(ROW)
#undef ROW
};

static const struct code_row *find_code(uint32_t code)
{
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (codes[i].code == code)
            return &codes[i];
    return NULL;
}

static const struct subcode_row *find_subcode(uint32_t code, uint64_t p1)
{
    for (size_t i = 0; i < sizeof subcodes / sizeof subcodes[0]; i++)
        if (subcodes[i].code == code && subcodes[i].sub == p1)
            return &subcodes[i];
    return NULL;
}

const char *mm_bugcheck_name(uint32_t code)
{
    const struct code_row *row = find_code(code);
    return row ? row->name : NULL;
}

const char *mm_bugcheck_subcode_meaning(uint32_t code, uint64_t p1)
{
    const struct subcode_row *row = find_subcode(code, p1);
    return row ? row->meaning : NULL;
}

const char *mm_bugcheck_param_meaning(uint32_t code, uint64_t p1, unsigned index)
{
    const struct code_row *row = find_code(code);
    if (!row || index > 3)
        return NULL;
    const struct subcode_row *sub = find_subcode(code, p1);
    if (sub)
        return index == 0 ? sub->meaning : sub->param[index - 1];
    return row->param[index];
}

/* The report being formatted: like snprintf, it counts what it would have
 * written when the buffer is short (or absent). */
struct report {
    char *buf;
    size_t size, used;
    int total;
};

static bool emit(struct report *r, const char *fmt, ...) MMI_PRINTF(2, 3);
static bool emit(struct report *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(r->buf ? r->buf + r->used : NULL, r->size - r->used, fmt, ap);
    va_end(ap);
    if (n < 0)
        return false;
    r->total += n;
    r->used = (size_t)r->total < r->size ? (size_t)r->total : r->size;
    return true;
}

int mm_bugcheck_format(const struct mm_bugcheck *bc, char *buf, size_t size)
{
    if (!bc || (!buf && size))
        return -1;
    struct report report = {.buf = buf, .size = size};
#define EMIT(...)                          \
    do {                                   \
        if (!emit(&report, __VA_ARGS__))   \
            return -1;                     \
    } while (0)
    const char *name = mm_bugcheck_name(bc->code);
    EMIT("*** STOP: 0x%08X (0x%016llX,0x%016llX,0x%016llX,0x%016llX)\n%s\n\nArguments:\n", bc->code,
         (unsigned long long)bc->p[0], (unsigned long long)bc->p[1], (unsigned long long)bc->p[2],
         (unsigned long long)bc->p[3], name ? name : "UNKNOWN_BUGCHECK");
    for (unsigned i = 0; i < 4; i++) {
        const char *meaning = mm_bugcheck_param_meaning(bc->code, bc->p[0], i);
        EMIT("Arg%u: %016llx, %s\n", i + 1, (unsigned long long)bc->p[i], meaning ? meaning : "?");
    }
    EMIT("\nRaised by: %s (step %llu) on CPU %u\n", bc->operation ? bc->operation : "-",
         (unsigned long long)bc->step, bc->cpu);
    if (bc->explanation[0])
        EMIT("Why: %s\n", bc->explanation);
    if (bc->history_count) {
        EMIT("History:\n");
        for (unsigned i = 0; i < bc->history_count; i++)
            EMIT("  %s\n", bc->history[i].text);
    }
#undef EMIT
    return report.total;
}

struct history {
    struct mm_bugcheck *bc;
    mm_pfn pfn;
    mm_va va;
};

static void history_event(void *ctx, const struct mm_trace_event *ev)
{
    struct history *h = ctx;
    struct mm_bugcheck *bc = h->bc;
    bool hit = (h->pfn != MM_PFN_NONE && ev->pfn == h->pfn && ev->type != MM_EV_PTE_WRITE) ||
               (h->va != 0 && ev->va == h->va);
    if (!hit)
        return;
    if (bc->history_count == MM_BUGCHECK_HISTORY_MAX) {
        memmove(&bc->history[0], &bc->history[1], sizeof bc->history[0] * (MM_BUGCHECK_HISTORY_MAX - 1));
        bc->history_count--;
    }
    struct mm_history_line *line = &bc->history[bc->history_count++];
    line->step = ev->step;
    mm_trace_format(ev, line->text, sizeof line->text);
}

static void collect_history(mm_machine *m, struct mm_bugcheck *bc, mm_pfn pfn, mm_va va)
{
    if ((pfn == MM_PFN_NONE && va == 0) || !m->trace.ring)
        return;
    struct history h = {bc, pfn, va};
    mmi_trace_walk(m, SIZE_MAX, history_event, &h);
}

mm_status mmi_bugcheck(mm_machine *m, uint32_t code, uint64_t p1, uint64_t p2, uint64_t p3, uint64_t p4,
                       mm_pfn focus_pfn, mm_va focus_va, const char *why, ...)
{
    struct mm_bugcheck *bc = &m->bugcheck;
    mmi_trace_run_end(m); /* a run cut short by the bug check keeps its pages so far */
    memset(bc, 0, sizeof *bc);
    bc->code = code;
    bc->p[0] = p1;
    bc->p[1] = p2;
    bc->p[2] = p3;
    bc->p[3] = p4;
    bc->cpu = m->current_cpu;
    bc->step = m->step;
    bc->operation = m->op;
    if (why) {
        va_list ap;
        va_start(ap, why);
        vsnprintf(bc->explanation, sizeof bc->explanation, why, ap);
        va_end(ap);
    }
    collect_history(m, bc, focus_pfn, focus_va);
    mmi_trace(m, MM_EV_BUGCHECK, 0, focus_pfn, code, p1);
    m->dead = true;
    mm_bugcheck_fn hook = m->cfg.bugcheck_hook ? m->cfg.bugcheck_hook : mm_bugcheck_hook_default;
    hook(m->cfg.bugcheck_ctx, m, bc);
    return MM_STATUS_MACHINE_DEAD;
}

mm_status mm_bugcheck_ex(mm_machine *m, const char *operation, uint32_t code, uint64_t p1, uint64_t p2,
                         uint64_t p3, uint64_t p4, const char *why)
{
    MMI_ENTER(m, operation && *operation ? operation : "KeBugCheckEx");
    return mmi_bugcheck(m, code, p1, p2, p3, p4, MM_PFN_NONE, 0, "%s", why ? why : "the driver called KeBugCheckEx");
}

void mm_bugcheck_hook_default(void *ctx, mm_machine *m, const struct mm_bugcheck *bc)
{
    (void)ctx;
    (void)m;
    fflush(NULL); /* what the program printed so far comes first, and is not lost at abort */
    char report[4096];
    mm_bugcheck_format(bc, report, sizeof report);
    fputs(report, stderr);
    fflush(stderr);
    abort();
}
