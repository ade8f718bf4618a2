/* sim/viewcmd.c — the WinDbg-style view commands of the scenario language:
 * !pfn, !pte, !vtop, dt _MDL / !mdl, !process, !vad, !memusage, !pool,
 * !lockedpages, !verifier, !trace, !history, !findings and !analyze -v.
 * They change nothing; where they name operation steps, the steps are
 * shown as the script lines that ran them. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "interp.h"
#include "views.h"

static bool one_number(struct interp *in, const struct args *a, size_t i, const char *usage, uint64_t *out)
{
    if (a->count <= i)
        return interp_error(in, NULL, usage, "missing argument");
    return eval_number(in, &a->a[i], out);
}

/* Output that names steps goes through memory, to be shown with lines. */
struct capture {
    FILE *mem;
    char *buf;
    size_t len;
};

static FILE *capture(struct interp *in, struct capture *c)
{
    *c = (struct capture){0};
    c->mem = open_memstream(&c->buf, &c->len);
    return c->mem ? c->mem : in->out;
}

static bool release(struct interp *in, struct capture *c)
{
    if (c->mem) {
        fclose(c->mem);
        interp_put_steps(in, c->buf, c->len);
        free(c->buf);
    }
    return true;
}

static bool view_findings(struct interp *in)
{
    struct mm_finding f[64];
    size_t n = mm_findings_read(in->m, f, 64);
    struct capture c;
    FILE *out = capture(in, &c);
    if (!n)
        fprintf(out, "no findings\n");
    for (size_t i = 0; i < n; i++)
        fprintf(out, "[step %" PRIu64 "] %s: %s\n", f[i].step, mm_finding_name(f[i].kind), f[i].text);
    return release(in, &c);
}

static mm_process *process_arg(struct interp *in, const struct args *a)
{
    if (a->count < 2)
        return mm_process_current(in->m);
    struct name *n = interp_name(in, a->a[1].t, NAME_PROCESS);
    return n ? n->process : NULL;
}

/* !history [-v] NAME|NUMBER: an MDL name, a PFN (a number below the RAM
 * size), or an address; -v adds mmsim's notes and the raw event fields. */
static bool view_history_of(struct interp *in, const struct args *a)
{
    uint64_t v;
    size_t i = a->count > 1 && arg_is_word(&a->a[1], "-v") ? 2 : 1;
    if (a->count <= i)
        return interp_error(in, NULL, "!history [-v] MDL | PFN | ADDR", "history of what?");
    if (!eval_number(in, &a->a[i], &v))
        return false;
    enum history_of kind = HISTORY_VA;
    const struct token *t = a->a[i].t;
    const struct name *n = a->a[i].n == 1 && t->kind == TOK_WORD ? interp_find_name(in, t->text) : NULL;
    struct mm_memory_counts c;
    if (n && n->kind == NAME_MDL)
        kind = HISTORY_MDL;
    else if ((!n || n->value) && mm_memory_query(in->m, &c) == MM_STATUS_SUCCESS && v < c.physical_pages)
        kind = HISTORY_PFN;
    static const char *const what[] = {"PFN", "MDL", "address"};
    struct capture cap;
    FILE *out = capture(in, &cap);
    fprintf(out, "History of %s 0x%" PRIx64 ":\n", what[kind], v);
    view_history(out, in->m, kind, v, i == 2);
    uint64_t events = mm_trace_count(in->m);
    interp_charge(in, events < in->cfg.trace_capacity ? events : in->cfg.trace_capacity);
    return release(in, &cap);
}

bool views_run(struct interp *in, const struct args *a)
{
    const char *w = a->a[0].t->text;
    uint64_t v;
    if (strcmp(w, "!pfn") == 0)
        return one_number(in, a, 1, "!pfn PFN (for example !pfn buf.pfn)", &v) && (view_pfn(in->out, in->m, v), true);
    if (strcmp(w, "!pte") == 0 || strcmp(w, "!vtop") == 0) {
        if (!one_number(in, a, 1, "!pte ADDR", &v))
            return false;
        view_pte(in->out, in->m, NULL, v);
        if (strcmp(w, "!vtop") == 0) {
            uint64_t pa = mm_get_physical_address(in->m, v);
            fprintf(in->out, "Virtual address %" PRIx64 " translates to physical address %" PRIx64 "\n", v, pa);
        }
        return true;
    }
    if (strcmp(w, "!mdl") == 0 || strcmp(w, "dt") == 0) {
        size_t i = strcmp(w, "dt") == 0 ? 2 : 1;
        if (i == 2 && (a->count < 2 || !arg_is_word(&a->a[1], "_MDL")))
            return interp_error(in, a->count > 1 ? a->a[1].t : NULL, "dt _MDL [NAME]", "only dt _MDL is known");
        if (i == 2 && a->count == 2)
            return view_mdl_type(in->out), true;
        if (a->count <= i)
            return interp_error(in, NULL, "!mdl NAME", "which MDL?");
        struct name *n = interp_name(in, a->a[i].t, NAME_MDL);
        return n && (view_mdl(in->out, in->m, n->va), true);
    }
    if (strcmp(w, "!process") == 0 || strcmp(w, "!vad") == 0) {
        mm_process *p = process_arg(in, a);
        if (!p)
            return false;
        if (strcmp(w, "!vad") == 0)
            view_vad(in->out, in->m, p);
        else
            view_process(in->out, in->m, p);
        return true;
    }
    if (strcmp(w, "!pool") == 0)
        return one_number(in, a, 1, "!pool ADDR", &v) && (view_pool(in->out, in->m, v), true);
    if (strcmp(w, "!lockedpages") == 0) {
        struct capture c;
        view_lockedpages(capture(in, &c), in->m);
        return release(in, &c);
    }
    if (strcmp(w, "!verifier") == 0)
        return view_verifier(in->out, in->m, in->cfg.track_locked_pages, in->cfg.track_ptes), true;
    if (strcmp(w, "!history") == 0)
        return view_history_of(in, a);
    if (strcmp(w, "!memusage") == 0) {
        struct mm_memory_counts c;
        if (mm_memory_query(in->m, &c) == MM_STATUS_SUCCESS)
            interp_charge(in, c.physical_pages); /* it reads every frame */
        return view_memusage(in->out, in->m), true;
    }
    if (strcmp(w, "!trace") == 0) {
        v = 20;
        if (a->count > 1 && !eval_number(in, &a->a[1], &v))
            return false;
        struct capture c;
        view_trace(capture(in, &c), in->m, (size_t)(v > 4096 ? 4096 : v));
        interp_charge(in, v > 4096 ? 4096 : v);
        return release(in, &c);
    }
    if (strcmp(w, "!findings") == 0)
        return view_findings(in);
    if (strcmp(w, "!analyze") == 0) {
        if (!in->bugchecked)
            fprintf(in->out, "the machine has not bug-checked\n");
        else {
            struct capture c;
            view_analyze(capture(in, &c), in->m, &in->bc);
            return release(in, &c);
        }
        return true;
    }
    return interp_error(in, a->a[0].t,
                        "!pfn !pte !vtop dt _MDL !mdl !process !vad !memusage !pool !lockedpages !verifier !trace !history [-v] "
                        "!findings !analyze -v",
                        "unknown view '%s'", w);
}
