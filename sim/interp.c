/* sim/interp.c — the scenario interpreter's core: machine creation, named
 * objects, argument grouping and evaluation, dispatch of each statement to
 * the command, expect or view modules, and the run's verdict. */
#include "interp.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* uthash reports running out of memory through hash_failed, a local of the
 * function that adds. */
#define HASH_NONFATAL_OOM 1
#define uthash_nonfatal_oom(e) ((void)(e), hash_failed = true)
#include <uthash.h>
/* uthash's Jenkins hash falls through switch cases without annotations;
 * clang warns at every expansion. */
#ifdef __clang__
#pragma clang diagnostic ignored "-Wimplicit-fallthrough"
#endif

#include "views.h"

/* The index of names: a hash from each name to its slot in in->names. */
struct name_key {
    char name[sizeof ((struct name *)0)->name];
    size_t slot;
    UT_hash_handle hh;
};

static void record_bugcheck(void *ctx, mm_machine *m, const struct mm_bugcheck *bc)
{
    (void)m;
    struct interp *in = ctx;
    in->bc = *bc;
    in->bugchecked = true;
    in->bugcheck_line = in->st ? in->st->line : 0;
}

void interp_init(struct interp *in, FILE *out, const char *file)
{
    *in = (struct interp){.out = out, .file = file, .echo = true, .budget = DEFAULT_MAX_STEPS};
    mm_config_default(&in->cfg);
    in->cfg.trace_capacity = 1u << 16; /* !history looks this far back */
    in->cfg.bugcheck_hook = record_bugcheck;
    in->cfg.bugcheck_ctx = in;
}

static void drop_names(struct interp *in, size_t keep);

void interp_fini(struct interp *in)
{
    drop_names(in, 0);
    mm_machine_destroy(in->m);
    free(in->names);
    free(in->lines);
    in->m = NULL;
    in->names = NULL;
    in->lines = NULL;
}

/* Notes that the operations from `step` on belong to the current line. */
static void note_line(struct interp *in, uint64_t step)
{
    unsigned line = in->st ? in->st->line : 0;
    if (in->line_count && in->lines[in->line_count - 1].step == step) {
        in->lines[in->line_count - 1].line = line;
        return;
    }
    if (in->line_count == MAX_LINE_STEPS) { /* a long REPL session: forget the older half */
        in->line_count /= 2;
        memmove(in->lines, in->lines + in->line_count, in->line_count * sizeof *in->lines);
    }
    if (in->line_count == in->line_cap) {
        size_t cap = in->line_cap ? in->line_cap * 2 : 64;
        struct line_step *g = realloc(in->lines, cap * sizeof *g);
        if (!g)
            return; /* lines stay unnamed; steps are still shown */
        in->lines = g;
        in->line_cap = cap;
    }
    in->lines[in->line_count++] = (struct line_step){step, line};
}

unsigned interp_line_of_step(const struct interp *in, uint64_t step)
{
    size_t lo = 0, hi = in->line_count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (in->lines[mid].step <= step)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo ? in->lines[lo - 1].line : 0;
}

void interp_put_steps(struct interp *in, const char *text, size_t len)
{
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *hit = NULL;
        for (const char *q = p; q + 6 <= end && !hit; q++)
            if (memcmp(q, "step ", 5) == 0 && isdigit((unsigned char)q[5]) && (q == text || !isalnum((unsigned char)q[-1])))
                hit = q;
        if (!hit) {
            fwrite(p, 1, (size_t)(end - p), in->out);
            return;
        }
        fwrite(p, 1, (size_t)(hit - p), in->out);
        char *after;
        uint64_t step = strtoull(hit + 5, &after, 10);
        unsigned line = interp_line_of_step(in, step);
        if (line)
            fprintf(in->out, "line %u", line);
        else
            fwrite(hit, 1, (size_t)(after - hit), in->out);
        p = after;
    }
}

bool interp_error(struct interp *in, const struct token *t, const char *hint, const char *fmt, ...)
{
    struct script_error err = {.line = in->st ? in->st->line : 0, .col = t ? t->col : 1};
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err.message, sizeof err.message, fmt, ap);
    va_end(ap);
    snprintf(err.hint, sizeof err.hint, "%s", hint ? hint : "");
    fflush(in->out);
    script_error_print(in->out, in->file, &err, in->st ? in->st->source : NULL);
    in->error = true;
    return false;
}

bool interp_machine(struct interp *in)
{
    if (in->m)
        return true;
    mm_status st = mm_machine_create(&in->cfg, &in->m);
    if (st != MM_STATUS_SUCCESS)
        return interp_error(in, NULL, "check the machine settings", "cannot create the machine: %s",
                            mm_status_name(st));
    in->boot_events = mm_trace_count(in->m);
    note_line(in, 0);
    return true;
}

/* ---- names ---- */

static const char *const kind_names[] = {"address", "process", "MDL", "driver image", "section"};
/* The same with its article, for messages ("an MDL", "a process"). */
static const char *const kind_a[] = {"an address", "a process", "an MDL", "a driver image", "a section"};

struct name *interp_find_name(const struct interp *in, const char *s)
{
    struct name_key *k = NULL;
    if (strlen(s) < sizeof k->name)
        HASH_FIND_STR(in->name_index, s, k);
    return k ? &in->names[k->slot] : NULL;
}

struct name *interp_name(struct interp *in, const struct token *t, enum name_kind kind)
{
    if (t->kind != TOK_WORD) {
        interp_error(in, t, NULL, "expected the name of %s", kind_a[kind]);
        return NULL;
    }
    struct name *n = interp_find_name(in, t->text);
    if (!n) {
        interp_error(in, t, "names are made by alloc, pool, process, mdl, driver, section, view and let",
                     "no %s named '%.40s'", kind_names[kind], t->text);
        return NULL;
    }
    if (n->kind != kind) {
        interp_error(in, t, NULL, "%s is %s, not %s", t->text, kind_a[n->kind], kind_a[kind]);
        return NULL;
    }
    return n;
}

static bool valid_name(const char *s)
{
    if (!isalpha((unsigned char)s[0]) && s[0] != '_')
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-')
            return false;
    return true;
}

/* Forgets the names made after the first `keep` (a repeat pass's), newest first. */
static void drop_names(struct interp *in, size_t keep)
{
    while (in->name_count > keep) {
        struct name_key *k = NULL;
        const char *s = in->names[--in->name_count].name;
        HASH_FIND_STR(in->name_index, s, k);
        if (k) {
            HASH_DEL(in->name_index, k);
            free(k);
        }
    }
}

/* A new slot for the name t, in the array and the index. */
static struct name *add_name(struct interp *in, const struct token *t)
{
    if (in->name_count == MAX_NAMES) {
        interp_error(in, t, "reuse names, or make them inside a repeat block", "more than %u names", MAX_NAMES);
        return NULL;
    }
    if (in->name_count == in->name_cap) {
        size_t cap = in->name_cap ? in->name_cap * 2 : 16;
        struct name *g = realloc(in->names, cap * sizeof *g);
        if (!g) {
            interp_error(in, t, NULL, "out of memory");
            return NULL;
        }
        in->names = g;
        in->name_cap = cap;
    }
    bool hash_failed = false;
    struct name_key *k = calloc(1, sizeof *k);
    if (k) {
        snprintf(k->name, sizeof k->name, "%s", t->text);
        k->slot = in->name_count;
        HASH_ADD_STR(in->name_index, name, k);
    }
    if (!k || hash_failed) {
        free(k);
        interp_error(in, t, NULL, "out of memory");
        return NULL;
    }
    return &in->names[in->name_count++];
}

struct name *interp_new_name(struct interp *in, const struct token *t, enum name_kind kind)
{
    if (t->kind != TOK_WORD || t->length >= sizeof in->names[0].name || !valid_name(t->text)) {
        interp_error(in, t, "a name is a letter then letters, digits, _ or - (at most 31)", "bad name");
        return NULL;
    }
    struct name *n = interp_find_name(in, t->text); /* names may be reused: the newest meaning wins */
    if (!n && !(n = add_name(in, t)))
        return NULL;
    *n = (struct name){.kind = kind};
    snprintf(n->name, sizeof n->name, "%s", t->text);
    return n;
}

/* ---- evaluation ---- */

static mm_pfn pfn_at(struct interp *in, mm_process *p, mm_va va)
{
    struct mm_pte_walk w;
    if (mm_pte_walk(in->m, p, va, &w) != MM_STATUS_SUCCESS || !w.level[3].present || !(w.level[3].value & 1))
        return MM_PFN_NONE;
    return (w.level[3].value >> 12) & 0xFFFFFFFFFull;
}

/* NAME or NAME.field */
static bool eval_word(struct interp *in, const struct token *t, uint64_t *out)
{
    char base[64];
    snprintf(base, sizeof base, "%s", t->text);
    char *dot = strchr(base, '.');
    if (dot)
        *dot++ = 0;
    struct name *n = t->length < sizeof base ? interp_find_name(in, base) : NULL;
    if (!n)
        return interp_error(in, t, "numbers are decimal or 0x hex; names come from earlier statements",
                            "unknown name '%.40s'", base);
    if (!dot || !*dot) {
        if (n->kind == NAME_PROCESS || n->kind == NAME_SECTION)
            return interp_error(in, t, "use an address, MDL, driver or number here", "%s is %s", base,
                                kind_a[n->kind]);
        *out = n->va;
        return true;
    }
    if (n->kind == NAME_IMAGE) {
        mm_va va = mm_image_section_address(in->m, n->image, dot);
        if (!va) {
            char dotted[40];
            snprintf(dotted, sizeof dotted, ".%s", dot);
            va = mm_image_section_address(in->m, n->image, dotted);
        }
        if (!va)
            return interp_error(in, t, "sections are named as when the driver was loaded", "%s has no section '%s'",
                                base, dot);
        *out = va;
        return true;
    }
    if (n->kind == NAME_MDL && (strcmp(dot, "sys") == 0 || strcmp(dot, "user") == 0)) {
        if (strcmp(dot, "user") == 0) {
            *out = n->user;
            return true;
        }
        struct mm_mdl h;
        if (mm_mdl_read(in->m, n->va, &h, NULL, 0) != MM_STATUS_SUCCESS)
            return interp_error(in, t, NULL, "cannot read MDL %s", base);
        *out = h.MappedSystemVa;
        return true;
    }
    if (n->kind == NAME_MDL && strncmp(dot, "pfn", 3) == 0) {
        bool digits = dot[3] && strspn(dot + 3, "0123456789") == strlen(dot + 3);
        uint64_t index = digits ? strtoull(dot + 3, NULL, 10) : 64; /* 64: no such entry */
        mm_pfn pfns[64];
        struct mm_mdl h;
        if (index >= 64 || mm_mdl_read(in->m, n->va, &h, pfns, 64) != MM_STATUS_SUCCESS)
            return interp_error(in, t, "m.pfn0 .. m.pfn63", "cannot read PFN %.20s of MDL %s", dot + 3, base);
        *out = pfns[index];
        return true;
    }
    if (n->kind == NAME_ADDRESS && strcmp(dot, "pfn") == 0) {
        mm_pfn pfn = pfn_at(in, n->process, n->va);
        if (pfn == MM_PFN_NONE)
            return interp_error(in, t, "touch the page first, or lock it", "%s is not mapped by a valid PTE now",
                                base);
        *out = pfn;
        return true;
    }
    if (strcmp(dot, "size") == 0) {
        *out = n->size;
        return true;
    }
    return interp_error(in, t, "fields: ADDR.pfn, ADDR.size, MDL.sys, MDL.user, MDL.pfnN, DRIVER.SECTION",
                        "no field '%s' on %s", dot, kind_a[n->kind]);
}

bool eval_number(struct interp *in, const struct arg *a, uint64_t *out)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < a->n; i++) {
        const struct token *t = &a->t[i];
        if (i % 2 == 1) {
            if (t->kind != TOK_SYMBOL || t->text[0] != '+')
                return interp_error(in, t, "join terms with +", "unexpected '%s'", t->text);
            continue;
        }
        uint64_t v;
        if (t->kind == TOK_NUMBER)
            v = t->value;
        else if (t->kind == TOK_WORD) {
            if (!in->m && !interp_machine(in))
                return false;
            if (!eval_word(in, t, &v))
                return false;
        } else
            return interp_error(in, t, NULL, "expected a number or a name");
        if (sum + v < sum)
            return interp_error(in, t, "numbers are 64-bit", "the sum is too large");
        sum += v;
    }
    if (a->n % 2 == 0)
        return interp_error(in, a->n ? &a->t[a->n - 1] : NULL, NULL, "a sum must end with a term");
    *out = sum;
    return true;
}

int eval_choice(const struct arg *a, const char *const *choices)
{
    if (a->n != 1 || a->t[0].kind != TOK_WORD)
        return -1;
    for (int i = 0; choices[i]; i++)
        if (strcasecmp(a->t[0].text, choices[i]) == 0)
            return i;
    return -1;
}

bool eval_flags(struct interp *in, const struct arg *a, const char *const *names, const unsigned *values,
                unsigned *out)
{
    unsigned v = 0;
    for (size_t i = 0; i < a->n; i++) {
        const struct token *t = &a->t[i];
        if (i % 2 == 1) {
            if (t->kind != TOK_SYMBOL || t->text[0] != '|')
                return interp_error(in, t, "join flags with |", "unexpected '%s'", t->text);
            continue;
        }
        if (t->kind == TOK_NUMBER) {
            v |= (unsigned)t->value;
            continue;
        }
        int k = -1;
        for (int j = 0; t->kind == TOK_WORD && names[j]; j++)
            if (strcasecmp(t->text, names[j]) == 0)
                k = j;
        if (k < 0) {
            char hint[160] = "one of:";
            for (int j = 0; names[j] && strlen(hint) < 120; j++)
                snprintf(hint + strlen(hint), sizeof hint - strlen(hint), " %s", names[j]);
            return interp_error(in, t, hint, "unknown flag '%s'", t->text);
        }
        if (strcasecmp(names[k], "none") != 0 && strcasecmp(names[k], "off") != 0)
            v |= values[k];
    }
    if (a->n % 2 == 0)
        return interp_error(in, NULL, NULL, "flags must end with a flag");
    *out = v;
    return true;
}

const struct arg *arg_option(const struct args *args, const char *key)
{
    for (size_t i = 0; i < args->count; i++)
        if (args->a[i].key && strcasecmp(args->a[i].key->text, key) == 0)
            return &args->a[i];
    return NULL;
}

bool arg_is_word(const struct arg *a, const char *word)
{
    return !a->key && a->n == 1 && a->t[0].kind == TOK_WORD && strcasecmp(a->t[0].text, word) == 0;
}

/* Groups a statement's tokens into arguments: `a + b`, `A|B`, `key=value`. */
bool interp_group(struct interp *in, const struct statement *st, struct args *out)
{
    out->count = 0;
    size_t i = 0;
    while (i < st->count) {
        if (out->count == MAX_ARGS)
            return interp_error(in, &st->tok[i], NULL, "more than %d arguments", MAX_ARGS);
        struct arg *a = &out->a[out->count++];
        *a = (struct arg){0};
        if (i + 1 < st->count && st->tok[i].kind == TOK_WORD && st->tok[i + 1].kind == TOK_SYMBOL &&
            st->tok[i + 1].text[0] == '=' && i > 0) {
            a->key = &st->tok[i];
            i += 2;
            if (i >= st->count)
                return interp_error(in, a->key, NULL, "%s= needs a value", a->key->text);
        }
        a->t = &st->tok[i];
        a->n = 1;
        i++;
        while (i + 1 < st->count && st->tok[i].kind == TOK_SYMBOL &&
               (st->tok[i].text[0] == '+' || st->tok[i].text[0] == '|')) {
            a->n += 2;
            i += 2;
        }
        if (i < st->count && st->tok[i].kind == TOK_SYMBOL && (st->tok[i].text[0] == '+' || st->tok[i].text[0] == '|'))
            return interp_error(in, &st->tok[i], NULL, "'%s' needs something after it", st->tok[i].text);
    }
    return true;
}

static bool run_statement(struct interp *in, const struct statement *st, const struct args *a);

bool interp_statement(struct interp *in, const struct statement *st)
{
    in->st = st;
    struct args args;
    if (!interp_group(in, st, &args))
        return false;
    const struct token *cmd = &st->tok[0];
    if (cmd->kind != TOK_WORD)
        return interp_error(in, cmd, "a statement starts with a command word", "expected a command");
    if (in->echo)
        fprintf(in->out, "%4u> %s\n", st->line, st->source);
    if (in->m)
        note_line(in, mm_machine_step(in->m) + 1);
    bool booted = in->m == NULL;
    uint64_t first_event = in->m ? mm_trace_count(in->m) : 0;
    bool ok = run_statement(in, st, &args);
    if (booted && in->m)
        first_event = in->boot_events; /* the statement's own changes, not the boot's */
    if (in->after && in->m)
        in->after(in, st, first_event);
    return ok;
}

static bool run_statement(struct interp *in, const struct statement *st, const struct args *a)
{
    const struct token *cmd = &st->tok[0];
    struct args args = *a;
    bool ok;
    if (strcmp(cmd->text, "expect") == 0) {
        ok = expect_run(in, &args);
    } else if (cmd->text[0] == '!' || strcmp(cmd->text, "dt") == 0) {
        ok = interp_machine(in) && views_run(in, &args);
    } else {
        if (in->bugchecked && strcmp(cmd->text, "note") != 0)
            return interp_error(in, cmd, "only expect, note and views (!analyze -v …) may follow a bug check",
                                "the machine bug-checked at line %u (0x%X) and is dead", in->bugcheck_line,
                                in->bc.code);
        ok = commands_run(in, a);
        if (in->bugchecked && in->bugcheck_line == st->line)
            view_stop(in->out, &in->bc, "      ");
    }
    return ok && !in->error;
}

/* Static checks before anything runs: every command is known, with a
 * sensible number of arguments and a known verb, and every `repeat` has its
 * `end`. */
static bool check_commands(struct interp *in, const struct script *s)
{
    size_t open[MAX_REPEAT_DEPTH];
    unsigned depth = 0;
    for (size_t i = 0; i < s->count; i++) {
        const struct token *cmd = &s->stmt[i].tok[0];
        char hint[160] = "";
        in->st = &s->stmt[i];
        bool word = cmd->kind == TOK_WORD;
        if (word && strcmp(cmd->text, "repeat") == 0) {
            if (depth == MAX_REPEAT_DEPTH)
                return interp_error(in, cmd, NULL, "repeat blocks nest at most %d deep", MAX_REPEAT_DEPTH);
            open[depth++] = i;
        }
        if (word && strcmp(cmd->text, "end") == 0 && depth-- == 0)
            return interp_error(in, cmd, "an end closes a repeat block", "end without repeat");
        if (word && commands_known(cmd->text, hint, sizeof hint)) {
            if (!commands_check(in, &s->stmt[i]))
                return false;
            continue;
        }
        return interp_error(in, cmd, hint[0] ? hint : "see docs/scenario-language.md for the commands",
                            "unknown command '%s'", cmd->text);
    }
    if (depth) {
        in->st = &s->stmt[open[depth - 1]];
        return interp_error(in, &in->st->tok[0], "close it with a line that says end", "this repeat block has no end");
    }
    in->st = NULL;
    return true;
}

/* The index of the `end` that closes the block opened at `open`. */
static size_t block_end(const struct script *s, size_t open)
{
    unsigned depth = 0;
    for (size_t i = open; i < s->count; i++) {
        const char *w = s->stmt[i].tok[0].text;
        if (strcmp(w, "repeat") == 0)
            depth++;
        else if (strcmp(w, "end") == 0 && --depth == 0)
            return i;
    }
    return s->count; /* check_commands made this unreachable */
}

static bool run_range(struct interp *in, const struct script *s, size_t from, size_t to);

static bool in_trouble(const struct interp *in, unsigned failures)
{
    return in->error || in->bugchecked || in->failures != failures;
}

/* One pass over a block body whose output is kept only if it goes wrong:
 * the statements of a quiet pass write to memory, which is shown when a
 * statement fails, stops the machine or breaks an expectation. */
static bool run_quiet(struct interp *in, const struct script *s, size_t from, size_t to)
{
    FILE *shown = in->out;
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    if (!mem)
        return run_range(in, s, from, to);
    unsigned failures = in->failures;
    bool dead = in->bugchecked;
    in->out = mem;
    bool ok = run_range(in, s, from, to);
    in->out = shown;
    bool lost = ferror(mem) != 0;
    fclose(mem);
    if (!ok || lost || in->failures != failures || in->bugchecked != dead)
        fwrite(buf, 1, len, shown);
    free(buf);
    if (lost && !in->error)
        return interp_error(in, NULL, NULL, "out of memory for the output of a repeat pass");
    return ok;
}

static bool run_repeat(struct interp *in, const struct script *s, size_t open, size_t close)
{
    struct args args;
    uint64_t passes;
    in->st = &s->stmt[open];
    if (in->echo)
        fprintf(in->out, "%4u> %s\n", in->st->line, in->st->source);
    if (!interp_group(in, in->st, &args))
        return false;
    if (args.count != 2 || !eval_number(in, &args.a[1], &passes))
        return in->error ? false : interp_error(in, NULL, "repeat N, then the lines, then end", "repeat needs a count");
    if (passes == 0 || passes > MAX_REPEAT)
        return interp_error(in, args.a[1].t, NULL, "repeat 1 .. %d times", MAX_REPEAT);
    size_t names = in->name_count;
    bool progress = in->progress && passes >= 100;
    bool ok = true;
    for (uint64_t pass = 1; ok && pass <= passes && !in->bugchecked; pass++) {
        bool shown = pass == 1 || pass == passes;
        if (shown)
            fprintf(in->out, "      -- pass %" PRIu64 " of %" PRIu64 " --\n", pass, passes);
        else if (pass == 2 && passes == 3)
            fprintf(in->out, "      -- pass 2 runs quietly --\n");
        else if (pass == 2)
            fprintf(in->out, "      -- passes 2 .. %" PRIu64 " run quietly --\n", passes - 1);
        unsigned failures = in->failures;
        ok = shown ? run_range(in, s, open + 1, close) : run_quiet(in, s, open + 1, close);
        if (!shown && in_trouble(in, failures))
            fprintf(in->out, "      -- that was pass %" PRIu64 " of %" PRIu64 " --\n", pass, passes);
        drop_names(in, names); /* names made in the body live for one pass */
        if (progress && (pass % 64 == 0 || pass == passes))
            fprintf(stderr, "\r  repeat at line %u: pass %" PRIu64 " of %" PRIu64 "%s", s->stmt[open].line, pass,
                    passes, pass == passes ? "\n" : "");
    }
    in->st = &s->stmt[close];
    if (in->echo)
        fprintf(in->out, "%4u> %s\n", in->st->line, in->st->source);
    return ok;
}

void interp_charge(struct interp *in, uint64_t work) { in->work += work; }

static uint64_t events_since_start(const struct interp *in)
{
    uint64_t events = in->m ? mm_trace_count(in->m) : 0;
    return events > in->first_event ? events - in->first_event : 0;
}

/* The steps taken so far: statements, and their work in bulk. */
static uint64_t steps_taken(const struct interp *in)
{
    return in->steps + (events_since_start(in) + in->work) / WORK_PER_STEP;
}

bool interp_afford(struct interp *in, const struct token *t, uint64_t work)
{
    uint64_t taken = steps_taken(in), left = in->budget > taken ? in->budget - taken : 0;
    if (in->budget && work / WORK_PER_STEP > left)
        return interp_error(in, t, "--max-steps N raises the budget (0: no limit)",
                            "this would take %" PRIu64 " steps, more than the %" PRIu64 " left in the run's budget",
                            work / WORK_PER_STEP, left);
    in->work += work;
    return true;
}

/* May st run? Not when the step budget is used up, nor when the
 * output can no longer be written (there is no one to read it; the caller
 * reports the write error). */
static bool may_run(struct interp *in, const struct statement *st)
{
    if (ferror(in->out) || (in->chunk_out && ferror(in->chunk_out))) {
        in->error = true;
        return false;
    }
    if (in->budget && steps_taken(in) >= in->budget) {
        in->st = st;
        return interp_error(in, &st->tok[0], "--max-steps N raises it (0: no limit)",
                            "the run's budget of %" PRIu64 " steps is used up (%" PRIu64
                            " statements, %" PRIu64 " units of work)",
                            in->budget, in->steps, events_since_start(in) + in->work);
    }
    in->steps++;
    return true;
}

static bool run_range(struct interp *in, const struct script *s, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++) {
        if (!may_run(in, &s->stmt[i]))
            return false;
        if (strcmp(s->stmt[i].tok[0].text, "repeat") == 0) {
            size_t close = block_end(s, i);
            if (!run_repeat(in, s, i, close))
                return false;
            i = close;
        } else if (!interp_statement(in, &s->stmt[i])) {
            return false;
        }
    }
    return true;
}

bool interp_run_chunk(struct interp *in, const char *text, size_t len, unsigned first_line)
{
    struct script s;
    struct script_error err;
    if (!script_parse(text, len, &s, &err)) {
        /* Show the offending line. */
        const char *p = text, *end = text + len;
        for (unsigned l = 1; l < err.line && p < end; l++) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            p = nl ? nl + 1 : end;
        }
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((nl ? nl : end) - p);
        if (n > SCRIPT_MAX_LINE)
            n = SCRIPT_MAX_LINE; /* enough to see the start of a line that is too long */
        char *line = malloc(n + 1);
        if (line) {
            memcpy(line, p, n);
            line[n] = 0;
            for (size_t i = 0; i < n; i++)
                if (!line[i])
                    line[i] = '?';
        }
        err.line += first_line - 1;
        script_error_print(in->out, in->file, &err, line);
        free(line);
        in->error = true;
        return false;
    }
    for (size_t i = 0; i < s.count; i++) {
        s.stmt[i].line += first_line - 1;
        for (size_t k = 0; k < s.stmt[i].count; k++)
            s.stmt[i].tok[k].line += first_line - 1;
    }
    in->steps = in->work = 0; /* the budget is for each script, each entry of the REPL */
    in->first_event = in->m ? mm_trace_count(in->m) : 0;
    in->chunk_out = in->out;
    if (check_commands(in, &s))
        run_range(in, &s, 0, s.count);
    in->chunk_out = NULL;
    in->st = NULL;
    script_free(&s);
    return !in->error;
}

int interp_verdict(struct interp *in)
{
    if (in->error)
        return EXIT_SCRIPT_ERROR;
    if (in->failures) {
        fprintf(in->out, "FAILED: %u expectation%s did not hold\n", in->failures, in->failures == 1 ? "" : "s");
        return EXIT_EXPECT_FAILED;
    }
    if (in->bugchecked && !in->bugcheck_expected) {
        fprintf(in->out, "STOPPED: bug check 0x%X at line %u, which the script did not expect\n", in->bc.code,
                in->bugcheck_line);
        return EXIT_BUGCHECK;
    }
    fprintf(in->out, "PASSED\n");
    return EXIT_SUCCESS_LAB;
}

int interp_run_text(struct interp *in, const char *text, size_t len)
{
    interp_run_chunk(in, text, len, 1);
    return interp_verdict(in);
}
