/* sim/viewcmd.c — the WinDbg-style view commands of the scenario language:
 * !pfn, !pte, !vtop, dt _MDL / !mdl, !process, !memusage, !trace,
 * !findings and !analyze -v. They change nothing. */
#include <inttypes.h>
#include <string.h>

#include "interp.h"
#include "views.h"

static bool one_number(struct interp *in, const struct args *a, size_t i, const char *usage, uint64_t *out)
{
    if (a->count <= i)
        return interp_error(in, NULL, usage, "missing argument");
    return eval_number(in, &a->a[i], out);
}

static bool view_findings(struct interp *in)
{
    struct mm_finding f[64];
    size_t n = mm_findings_read(in->m, f, 64);
    if (!n)
        fprintf(in->out, "no findings\n");
    for (size_t i = 0; i < n; i++)
        fprintf(in->out, "[step %" PRIu64 "] %s: %s\n", f[i].step, mm_finding_name(f[i].kind), f[i].text);
    return true;
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
            return interp_error(in, a->count > 1 ? a->a[1].t : NULL, "dt _MDL NAME", "only dt _MDL is known");
        if (a->count <= i)
            return interp_error(in, NULL, "dt _MDL NAME", "which MDL?");
        struct name *n = interp_name(in, a->a[i].t, NAME_MDL);
        return n && (view_mdl(in->out, in->m, n->va), true);
    }
    if (strcmp(w, "!process") == 0) {
        mm_process *p = mm_process_current(in->m);
        if (a->count > 1) {
            struct name *n = interp_name(in, a->a[1].t, NAME_PROCESS);
            if (!n)
                return false;
            p = n->process;
        }
        view_process(in->out, in->m, p);
        return true;
    }
    if (strcmp(w, "!memusage") == 0)
        return view_memusage(in->out, in->m), true;
    if (strcmp(w, "!trace") == 0) {
        v = 20;
        if (a->count > 1 && !eval_number(in, &a->a[1], &v))
            return false;
        view_trace(in->out, in->m, (size_t)(v > 4096 ? 4096 : v));
        return true;
    }
    if (strcmp(w, "!findings") == 0)
        return view_findings(in);
    if (strcmp(w, "!analyze") == 0) {
        if (!in->bugchecked)
            fprintf(in->out, "the machine has not bug-checked\n");
        else
            view_bugcheck(in->out, &in->bc);
        return true;
    }
    return interp_error(in, a->a[0].t, "!pfn !pte !vtop dt _MDL !mdl !process !memusage !trace !findings !analyze -v",
                        "unknown view '%s'", w);
}
