/* sim/expect.c — `expect` statements: how a lab checks itself. Each prints
 * "ok" or "FAILED" with what was expected and what was found; a failure is
 * counted and the run goes on. */
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>

#include "interp.h"
#include "views.h"

#define OUT(...) fprintf(in->out, "      " __VA_ARGS__)

static bool verdict(struct interp *in, bool ok, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static bool verdict(struct interp *in, bool ok, const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    fprintf(in->out, "      %s: %s\n", ok ? "ok" : "FAILED", text);
    if (!ok)
        in->failures++;
    return true;
}

static bool is_star(const struct arg *a) { return a->n == 1 && a->t[0].kind == TOK_SYMBOL && a->t[0].text[0] == '*'; }

static bool expect_bugcheck(struct interp *in, const struct args *a)
{
    uint64_t want[5];
    bool any[5] = {false};
    if (a->count < 3 || a->count > 7)
        return interp_error(in, NULL, "expect bugcheck CODE [P1 [P2 [P3 [P4]]]] (* matches anything)",
                            "wrong number of arguments");
    for (size_t i = 2; i < a->count; i++) {
        if (is_star(&a->a[i]))
            any[i - 2] = true;
        else if (!eval_number(in, &a->a[i], &want[i - 2]))
            return false;
    }
    if (!in->bugchecked)
        return verdict(in, false, "bug check 0x%" PRIX64 ", but the machine is running", want[0]);
    bool ok = any[0] || in->bc.code == want[0];
    for (size_t i = 3; i < a->count; i++)
        ok = ok && (any[i - 2] || in->bc.p[i - 3] == want[i - 2]);
    if (ok)
        in->bugcheck_expected = true;
    return verdict(in, ok, "bug check 0x%X (0x%" PRIx64 ", 0x%" PRIx64 ", 0x%" PRIx64 ", 0x%" PRIx64 ") at line %u",
                   in->bc.code, in->bc.p[0], in->bc.p[1], in->bc.p[2], in->bc.p[3], in->bugcheck_line);
}

static bool expect_status(struct interp *in, const struct args *a)
{
    if (a->count != 3)
        return interp_error(in, NULL, "expect status STATUS_NAME|0xC0000005", "wrong number of arguments");
    const struct token *t = a->a[2].t;
    mm_status want = 0;
    if (t->kind == TOK_NUMBER) {
        want = (mm_status)(uint32_t)t->value;
    } else {
        const char *name = t->text;
        if (strncasecmp(name, "STATUS_", 7) == 0)
            name += 7;
        bool found = false;
        static const uint32_t candidates[] = {
#define X(n, v, text) v,
            MM_STATUS_MAP(X)
#undef X
        };
        for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++) {
            const char *full = mm_status_name((mm_status)candidates[i]);
            if (strcasecmp(full + 7, name) == 0) {
                want = (mm_status)candidates[i];
                found = true;
            }
        }
        if (!found)
            return interp_error(in, t, "for example STATUS_ACCESS_VIOLATION", "unknown status '%s'", t->text);
    }
    return verdict(in, in->last_status == want, "the last call returned %s, expected %s",
                   mm_status_name(in->last_status), mm_status_name(want));
}

static const char *const location_names[] = {"zeroed", "free", "standby", "modified", "modified-no-write", "bad",
                                             "active", "transition", NULL};

static bool expect_pfn(struct interp *in, const struct args *a)
{
    if (a->count < 3)
        return interp_error(in, NULL, "expect pfn ADDR|PFN [share=N] [ref=N] [location=active]", "which page?");
    uint64_t pfn;
    const struct arg *target = &a->a[2];
    bool word = target->n == 1 && target->t->kind == TOK_WORD;
    const struct name *named = word ? interp_find_name(in, target->t->text) : NULL;
    bool buffer = named && named->kind == NAME_ADDRESS && !named->value;
    if (buffer) {
        /* an address name: the frame behind it now */
        char field[48];
        snprintf(field, sizeof field, "%s.pfn", target->t->text);
        struct token t = *target->t;
        t.text = field;
        t.length = strlen(field);
        struct arg fa = {.t = &t, .n = 1};
        if (!eval_number(in, &fa, &pfn))
            return false;
    } else if (!eval_number(in, target, &pfn)) {
        return false;
    }
    struct mm_pfn_info pi;
    if (mm_pfn_query(in->m, pfn, &pi) != MM_STATUS_SUCCESS)
        return verdict(in, false, "PFN 0x%" PRIx64 " is not a page of this machine", pfn);
    bool ok = true;
    char want[160] = "", got[160];
    for (size_t i = 3; i < a->count; i++) {
        const struct arg *o = &a->a[i];
        if (!o->key)
            return interp_error(in, o->t, "share=N ref=N location=NAME", "expected key=value");
        const char *k = o->key->text;
        if (strcasecmp(k, "location") == 0) {
            int loc = eval_choice(o, location_names);
            if (loc < 0)
                return interp_error(in, o->t, "zeroed free standby modified bad active transition", "unknown location");
            ok = ok && pi.location == loc;
            snprintf(want + strlen(want), sizeof want - strlen(want), " location=%s", location_names[loc]);
            continue;
        }
        uint64_t v;
        if (!eval_number(in, o, &v))
            return false;
        if (strcasecmp(k, "share") == 0)
            ok = ok && pi.share_count == v;
        else if (strcasecmp(k, "ref") == 0)
            ok = ok && pi.reference_count == v;
        else
            return interp_error(in, o->key, "share=N ref=N location=NAME", "unknown PFN property '%s'", k);
        snprintf(want + strlen(want), sizeof want - strlen(want), " %s=%" PRIu64, k, v);
    }
    snprintf(got, sizeof got, "share=%u ref=%u location=%s", pi.share_count, pi.reference_count,
             pi.location < 8 ? location_names[pi.location] : "?");
    return verdict(in, ok, "PFN 0x%" PRIx64 ":%s (it has %s)", pfn, want, got);
}

static const char *const mdl_flag_names[] = {"MAPPED_TO_SYSTEM_VA", "PAGES_LOCKED", "SOURCE_IS_NONPAGED_POOL",
                                             "ALLOCATED_FIXED_SIZE", "PARTIAL", "PARTIAL_HAS_BEEN_MAPPED",
                                             "IO_PAGE_READ", "WRITE_OPERATION", "PARENT_MAPPED_SYSTEM_VA",
                                             "FREE_EXTRA_PTES", "DESCRIBES_AWE", "IO_SPACE", "NETWORK_HEADER",
                                             "MAPPING_CAN_FAIL", "PAGE_CONTENTS_INVARIANT", "INTERNAL", "none", NULL};
static const unsigned mdl_flag_values[] = {0x1, 0x2, 0x4, 0x8, 0x10, 0x20, 0x40, 0x80, 0x100, 0x200, 0x400,
                                           0x800, 0x1000, 0x2000, 0x4000, 0x8000, 0};

static bool expect_flags(struct interp *in, const struct args *a)
{
    /* expect flags M = A|B  (grouped as key=value) or expect flags M A|B */
    const struct token *mdl_tok;
    const struct arg *value;
    if (a->count == 3 && a->a[2].key) {
        mdl_tok = a->a[2].key;
        value = &a->a[2];
    } else if (a->count == 4 && !a->a[3].key) {
        mdl_tok = a->a[2].t;
        value = &a->a[3];
    } else {
        return interp_error(in, NULL, "expect flags MDL = PAGES_LOCKED|MAPPED_TO_SYSTEM_VA", "malformed expect flags");
    }
    struct name *n = interp_name(in, mdl_tok, NAME_MDL);
    unsigned want;
    if (!n || !eval_flags(in, value, mdl_flag_names, mdl_flag_values, &want))
        return false;
    struct mm_mdl h;
    if (mm_mdl_read(in->m, n->va, &h, NULL, 0) != MM_STATUS_SUCCESS)
        return verdict(in, false, "MDL %s cannot be read (freed?)", n->name);
    unsigned got = (uint16_t)h.MdlFlags;
    char gs[200], ws[200];
    view_mdl_flags(gs, sizeof gs, got);
    view_mdl_flags(ws, sizeof ws, want);
    return verdict(in, got == want, "MDL %s: flags 0x%04X (%s), expected 0x%04X (%s)", n->name, got, gs, want, ws);
}

static bool expect_finding(struct interp *in, const struct args *a)
{
    if (a->count < 3 || a->a[2].t->kind != TOK_WORD)
        return interp_error(in, NULL, "expect finding stale-user-mapping|stale-mapping-access|wrong-process-unmap|leaked-system-mapping [count=N]",
                            "which finding?");
    const char *kind = a->a[2].t->text;
    bool known = false;
    for (uint32_t k = 1; k <= MM_FINDING_KIND_COUNT; k++)
        known = known || strcmp(mm_finding_name(k), kind) == 0;
    if (!known)
        return interp_error(in, a->a[2].t, "stale-user-mapping, stale-mapping-access, wrong-process-unmap, leaked-system-mapping",
                            "unknown finding '%s'", kind);
    struct mm_finding f[64];
    size_t n = mm_findings_read(in->m, f, 64), count = 0;
    for (size_t i = 0; i < n; i++)
        count += strcmp(mm_finding_name(f[i].kind), kind) == 0;
    const struct arg *c = arg_option(a, "count");
    uint64_t want = 0;
    if (c && !eval_number(in, c, &want))
        return false;
    bool ok = c ? count == want : count > 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(mm_finding_name(f[i].kind), kind) == 0)
            OUT("  finding: %s\n", f[i].text);
    return verdict(in, ok, "%s finding%s: %zu found", kind, c ? " count" : "", count);
}

static bool expect_valid(struct interp *in, const struct args *a, bool valid)
{
    uint64_t va;
    if (a->count != 3 || !eval_number(in, &a->a[2], &va))
        return in->error ? false : interp_error(in, NULL, "expect valid|invalid ADDR", "which address?");
    bool got = mm_is_address_valid(in->m, va);
    return verdict(in, got == valid, "MmIsAddressValid(%016" PRIx64 ") is %s, expected %s", va, got ? "TRUE" : "FALSE",
                   valid ? "TRUE" : "FALSE");
}

static bool expect_bytes(struct interp *in, const struct args *a)
{
    uint64_t va;
    if (a->count != 4 || a->a[3].t->kind != TOK_STRING)
        return interp_error(in, NULL, "expect bytes ADDR \"text\"", "malformed expect bytes");
    if (!eval_number(in, &a->a[2], &va))
        return false;
    const struct token *s = a->a[3].t;
    char buf[512];
    size_t n = s->length < sizeof buf ? s->length : sizeof buf;
    mm_status st = mm_read(in->m, va, buf, n);
    if (st != MM_STATUS_SUCCESS)
        return verdict(in, false, "reading %016" PRIx64 ": %s", va, mm_status_name(st));
    bool same = memcmp(buf, s->text, n) == 0;
    return verdict(in, same, "%zu bytes at %016" PRIx64 " %s", n, va, same ? "match" : "differ from the expected text");
}

static bool expect_locked(struct interp *in, const struct args *a)
{
    uint64_t want;
    if (a->count != 4)
        return interp_error(in, NULL, "expect locked PROCESS N", "malformed expect locked");
    struct name *p = interp_name(in, a->a[2].t, NAME_PROCESS);
    if (!p || !eval_number(in, &a->a[3], &want))
        return false;
    struct mm_process_info pi;
    mm_process_query(in->m, p->process, &pi);
    return verdict(in, pi.locked_pages == (int64_t)want, "process %s: %" PRId64 " locked pages, expected %" PRIu64,
                   p->name, pi.locked_pages, want);
}

static bool expect_value(struct interp *in, const struct args *a)
{
    /* expect value EXPR = EXPR */
    if (a->count != 3 || !a->a[2].key)
        return interp_error(in, NULL, "expect value NAME = EXPRESSION", "malformed expect value");
    struct arg left = {.t = a->a[2].key, .n = 1};
    uint64_t l, r;
    if (!eval_number(in, &left, &l) || !eval_number(in, &a->a[2], &r))
        return false;
    return verdict(in, l == r, "%s: 0x%" PRIx64 ", expected 0x%" PRIx64, a->a[2].key->text, l, r);
}

bool expect_run(struct interp *in, const struct args *a)
{
    if (a->count < 2)
        return interp_error(in, NULL, "expect bugcheck|no-bugcheck|status|pfn|flags|finding|valid|invalid|bytes|locked|value",
                            "expect what?");
    const struct arg *what = &a->a[1];
    if (arg_is_word(what, "bugcheck"))
        return expect_bugcheck(in, a);
    if (arg_is_word(what, "no-bugcheck"))
        return verdict(in, !in->bugchecked, "the machine is running%s", in->bugchecked ? " (it bug-checked)" : "");
    if (!interp_machine(in))
        return false;
    if (arg_is_word(what, "status"))
        return expect_status(in, a);
    if (arg_is_word(what, "pfn"))
        return expect_pfn(in, a);
    if (arg_is_word(what, "flags"))
        return expect_flags(in, a);
    if (arg_is_word(what, "finding"))
        return expect_finding(in, a);
    if (arg_is_word(what, "valid"))
        return expect_valid(in, a, true);
    if (arg_is_word(what, "invalid"))
        return expect_valid(in, a, false);
    if (arg_is_word(what, "bytes"))
        return expect_bytes(in, a);
    if (arg_is_word(what, "locked"))
        return expect_locked(in, a);
    if (arg_is_word(what, "value"))
        return expect_value(in, a);
    return interp_error(in, what->t, "bugcheck no-bugcheck status pfn flags finding valid invalid bytes locked value",
                        "unknown expectation");
}
