/* sim/commands.c — the scenario commands that change the machine: settings,
 * processes, IRQL, user memory, pool, drivers, sections, MDLs and paging.
 * Each prints what it did and the state it changed. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "interp.h"
#include "views.h"

#define OUT(...) fprintf(in->out, "      " __VA_ARGS__)

typedef bool (*handler)(struct interp *in, const struct args *a);

struct command {
    const char *word, *sub;
    unsigned min, max; /* arguments after the command (and sub-command) words */
    handler run;
    const char *usage;
};

static bool need(struct interp *in, const struct args *a, unsigned first, unsigned min, unsigned max,
                 const char *usage)
{
    unsigned positional = 0;
    for (size_t i = first; i < a->count; i++)
        positional += a->a[i].key == NULL;
    if (positional < min || positional > max)
        return interp_error(in, positional < min ? NULL : a->a[a->count - 1].t, usage, "%s arguments",
                            positional < min ? "too few" : "too many");
    return true;
}

static bool status(struct interp *in, mm_status st)
{
    in->last_status = st;
    if (st != MM_STATUS_SUCCESS && !in->bugchecked)
        OUT("-> %s (0x%08X)\n", mm_status_name(st), (unsigned)st);
    return true;
}

static bool number(struct interp *in, const struct arg *a, uint64_t *v) { return eval_number(in, a, v); }

static const char *const protect_names[] = {"NOACCESS", "READONLY", "READWRITE", "WRITECOPY", "EXECUTE",
                                            "EXECUTE_READ", "EXECUTE_READWRITE", "EXECUTE_WRITECOPY", "GUARD",
                                            "NOCACHE", "WRITECOMBINE", NULL};
static const unsigned protect_values[] = {MM_PAGE_NOACCESS, MM_PAGE_READONLY, MM_PAGE_READWRITE,
                                          MM_PAGE_WRITECOPY, MM_PAGE_EXECUTE, MM_PAGE_EXECUTE_READ,
                                          MM_PAGE_EXECUTE_READWRITE, MM_PAGE_EXECUTE_WRITECOPY, MM_PAGE_GUARD,
                                          MM_PAGE_NOCACHE, MM_PAGE_WRITECOMBINE};

static bool protect_of(struct interp *in, const struct args *a, uint32_t fallback, uint32_t *out)
{
    const struct arg *p = arg_option(a, "protect");
    unsigned v = fallback;
    if (p && !eval_flags(in, p, protect_names, protect_values, &v))
        return false;
    *out = v;
    return true;
}

static const char *const verifier_names[] = {"off", "none", "standard", "special-pool", "irql", "low-resources",
                                             "pool-tracking", "io", "deadlock", "dma", "security", "misc", "ddi",
                                             NULL};
static const unsigned verifier_values[] = {0, 0, MM_VERIFIER_STANDARD, MM_VERIFIER_SPECIAL_POOL,
                                           MM_VERIFIER_FORCE_IRQL_CHECKING, MM_VERIFIER_LOW_RESOURCES,
                                           MM_VERIFIER_POOL_TRACKING, MM_VERIFIER_IO_VERIFICATION,
                                           MM_VERIFIER_DEADLOCK_DETECTION, MM_VERIFIER_DMA, MM_VERIFIER_SECURITY,
                                           MM_VERIFIER_MISCELLANEOUS, MM_VERIFIER_DDI_COMPLIANCE};

/* ---- machine ---- */

static bool cmd_machine(struct interp *in, const struct args *a)
{
    if (in->m)
        return interp_error(in, NULL, "put machine first, before anything that uses the machine",
                            "the machine already exists");
    for (size_t i = 1; i < a->count; i++) {
        const struct arg *o = &a->a[i];
        uint64_t v = 0;
        if (arg_is_word(o, "track-locked-pages")) {
            in->cfg.track_locked_pages = true;
        } else if (arg_is_word(o, "track-ptes")) {
            in->cfg.track_ptes = true;
        } else if (!o->key) {
            return interp_error(in, o->t, "ram= cpus= pagefile= system-ptes= seed= verifier= track-locked-pages track-ptes",
                                "unknown machine setting");
        } else if (strcasecmp(o->key->text, "verifier") == 0) {
            unsigned f;
            if (!eval_flags(in, o, verifier_names, verifier_values, &f))
                return false;
            in->cfg.verifier_flags = f;
        } else {
            if (!number(in, o, &v))
                return false;
            const char *k = o->key->text;
            if (strcasecmp(k, "ram") == 0)
                in->cfg.physical_pages = v / MM_PAGE_SIZE;
            else if (strcasecmp(k, "cpus") == 0)
                in->cfg.cpu_count = (uint32_t)(v > 64 ? 65 : v);
            else if (strcasecmp(k, "pagefile") == 0)
                in->cfg.pagefile_pages = v / MM_PAGE_SIZE;
            else if (strcasecmp(k, "system-ptes") == 0)
                in->cfg.system_ptes = (uint32_t)(v > UINT32_MAX ? UINT32_MAX : v);
            else if (strcasecmp(k, "seed") == 0)
                in->cfg.seed = v;
            else
                return interp_error(in, o->key, "ram= cpus= pagefile= system-ptes= seed= verifier=",
                                    "unknown machine setting '%s'", k);
        }
    }
    if (!interp_machine(in))
        return false;
    OUT("%" PRIu64 " MiB of RAM, %u CPUs, %" PRIu64 "-page page file, Verifier flags 0x%X\n",
        in->cfg.physical_pages * MM_PAGE_SIZE >> 20, in->cfg.cpu_count, in->cfg.pagefile_pages,
        in->cfg.verifier_flags);
    return true;
}

static bool cmd_verifier(struct interp *in, const struct args *a)
{
    unsigned f;
    if (!eval_flags(in, &a->a[1], verifier_names, verifier_values, &f))
        return false;
    return status(in, mm_machine_set_verifier(in->m, f));
}

static bool cmd_cpu(struct interp *in, const struct args *a)
{
    uint64_t cpu;
    if (!number(in, &a->a[1], &cpu))
        return false;
    return status(in, mm_cpu_set_current(in->m, (uint32_t)(cpu > UINT32_MAX ? UINT32_MAX : cpu)));
}

static unsigned distance(const char *a, const char *b);

/* The nearest of `words` to a misspelling, or NULL if none is close. */
static const char *nearest(const char *word, const char *const *words)
{
    const char *best = NULL;
    unsigned best_d = 3;
    for (size_t i = 0; words[i]; i++) {
        unsigned d = distance(word, words[i]);
        if (d < best_d) {
            best_d = d;
            best = words[i];
        }
    }
    return best;
}

static bool irql_of(struct interp *in, const struct arg *a, mm_irql *out)
{
    static const char *const names[] = {"PASSIVE", "APC", "DISPATCH", NULL};
    int k = eval_choice(a, names);
    uint64_t v = (uint64_t)k;
    if (k < 0 && a->n == 1 && a->t->kind == TOK_WORD && !interp_find_name(in, a->t->text)) {
        const char *close = nearest(a->t->text, names);
        char hint[96];
        snprintf(hint, sizeof hint, "%s%s%sPASSIVE, APC, DISPATCH or 0..31", close ? "did you mean " : "",
                 close ? close : "", close ? "? levels: " : "");
        return interp_error(in, a->t, hint, "no IRQL named '%s'", a->t->text);
    }
    if (k < 0 && !number(in, a, &v))
        return false;
    if (v > 31)
        return interp_error(in, a->t, "PASSIVE, APC, DISPATCH or 0..31", "no such IRQL");
    *out = (mm_irql)v;
    return true;
}

static bool cmd_irql(struct interp *in, const struct args *a)
{
    mm_irql level = 0;
    if (!irql_of(in, &a->a[2], &level))
        return false;
    if (arg_is_word(&a->a[1], "raise")) {
        mm_irql old = 0;
        status(in, mm_irql_raise(in->m, level, &old));
        if (in->irql_depth < 8)
            in->saved_irql[in->irql_depth++] = old;
    } else if (arg_is_word(&a->a[1], "lower")) {
        status(in, mm_irql_lower(in->m, level));
    } else {
        return interp_error(in, a->a[1].t, "irql raise LEVEL | irql lower LEVEL", "raise or lower?");
    }
    if (!in->bugchecked)
        OUT("CPU %u at IRQL %u\n", mm_cpu_current(in->m), mm_irql_current(in->m));
    return true;
}

/* ---- processes ---- */

static bool cmd_process(struct interp *in, const struct args *a)
{
    const struct arg *verb = &a->a[1];
    if (arg_is_word(verb, "create")) {
        if (!need(in, a, 2, 1, 2, "process create NAME [\"image.exe\"]"))
            return false;
        struct name *n = interp_new_name(in, a->a[2].t, NAME_PROCESS);
        if (!n)
            return false;
        const char *image = a->count > 3 && a->a[3].t->kind == TOK_STRING ? a->a[3].t->text : n->name;
        status(in, mm_process_create(in->m, image, &n->process));
        if (n->process) {
            struct mm_process_info pi;
            mm_process_query(in->m, n->process, &pi);
            OUT("process %s: id %u, EPROCESS %016" PRIx64 "\n", image, pi.id, pi.eprocess);
        }
        return true;
    }
    if (arg_is_word(verb, "detach")) {
        if (!in->apc_depth)
            return interp_error(in, verb->t, "attach first", "no process is attached");
        return status(in, mm_process_detach(in->m, &in->apc[--in->apc_depth]));
    }
    if (!need(in, a, 2, 1, 1, "process attach|exit NAME"))
        return false;
    struct name *n = interp_name(in, a->a[2].t, NAME_PROCESS);
    if (!n)
        return false;
    if (arg_is_word(verb, "attach")) {
        if (in->apc_depth == 8)
            return interp_error(in, verb->t, NULL, "attached too deep");
        return status(in, mm_process_attach(in->m, n->process, &in->apc[in->apc_depth++]));
    }
    if (arg_is_word(verb, "exit"))
        return status(in, mm_process_terminate(in->m, n->process));
    return interp_error(in, verb->t, "process create|attach|detach|exit", "unknown process verb");
}

/* ---- user memory ---- */

static mm_process *current_process(struct interp *in) { return mm_process_current(in->m); }

static bool cmd_alloc(struct interp *in, const struct args *a)
{
    if (!need(in, a, 1, 2, 3, "alloc NAME SIZE [reserve] [protect=READWRITE] [at=ADDR]"))
        return false;
    uint64_t size;
    uint32_t protect;
    mm_va base = 0;
    const struct arg *at = arg_option(a, "at");
    if (!number(in, &a->a[2], &size) || !protect_of(in, a, MM_PAGE_READWRITE, &protect) ||
        (at && !number(in, at, &base)))
        return false;
    bool reserve_only = a->count > 3 && arg_is_word(&a->a[3], "reserve");
    struct name *n = interp_new_name(in, a->a[1].t, NAME_ADDRESS);
    if (!n)
        return false;
    uint32_t type = MM_MEM_RESERVE | (reserve_only ? 0 : MM_MEM_COMMIT);
    status(in, mm_virtual_alloc(in->m, NULL, &base, &size, type, protect));
    n->va = base;
    n->size = size;
    n->process = current_process(in);
    if (in->last_status == MM_STATUS_SUCCESS)
        OUT("%s = %016" PRIx64 ", %" PRIu64 " bytes %s\n", n->name, base, size, reserve_only ? "reserved" : "committed");
    return true;
}

/* ADDR SIZE of commit, decommit and protect, which work page by page. */
static bool range_args(struct interp *in, const struct args *a, mm_va *va, uint64_t *size)
{
    return number(in, &a->a[1], va) && number(in, &a->a[2], size) && interp_afford(in, a->a[2].t, RANGE_WORK(*size));
}

static bool cmd_commit(struct interp *in, const struct args *a)
{
    mm_va va;
    uint64_t size;
    uint32_t protect;
    if (!range_args(in, a, &va, &size) || !protect_of(in, a, MM_PAGE_READWRITE, &protect))
        return false;
    return status(in, mm_virtual_alloc(in->m, NULL, &va, &size, MM_MEM_COMMIT, protect));
}

static bool cmd_decommit(struct interp *in, const struct args *a)
{
    mm_va va;
    uint64_t size;
    if (!range_args(in, a, &va, &size))
        return false;
    return status(in, mm_virtual_free(in->m, NULL, &va, &size, MM_MEM_DECOMMIT));
}

/* After a successful free, the names of what was freed stop being drawn
 * (the address may soon hold something else, under another name). */
static void forget_freed(struct interp *in, mm_va va, bool pool)
{
    if (in->last_status != MM_STATUS_SUCCESS || in->bugchecked)
        return;
    for (size_t i = 0; i < in->name_count; i++) {
        struct name *n = &in->names[i];
        if (n->kind == NAME_ADDRESS && !n->value && n->pool == pool && n->va == va)
            n->freed = true;
    }
}

static bool cmd_free(struct interp *in, const struct args *a)
{
    mm_va va;
    if (!number(in, &a->a[1], &va))
        return false;
    uint64_t size = 0;
    mm_va base = va;
    status(in, mm_virtual_free(in->m, NULL, &va, &size, MM_MEM_RELEASE));
    forget_freed(in, base, false);
    return true;
}

static bool cmd_protect(struct interp *in, const struct args *a)
{
    mm_va va;
    uint64_t size;
    unsigned protect;
    if (!range_args(in, a, &va, &size) || !eval_flags(in, &a->a[3], protect_names, protect_values, &protect))
        return false;
    uint32_t old = 0;
    status(in, mm_virtual_protect(in->m, NULL, &va, &size, protect, &old));
    if (in->last_status == MM_STATUS_SUCCESS)
        OUT("old protection 0x%X\n", old);
    return true;
}

/* touch / read / write: CPU accesses in the current context. */
static bool access_options(struct interp *in, const struct args *a, struct mm_access_request *req)
{
    const struct arg *mode = arg_option(a, "mode");
    const struct arg *ip = arg_option(a, "ip");
    static const char *const modes[] = {"kernel", "user", NULL};
    if (mode) {
        int k = eval_choice(mode, modes);
        if (k < 0)
            return interp_error(in, mode->t, "mode=kernel or mode=user", "unknown mode");
        req->mode = (mm_mode)k;
    }
    return !ip || number(in, ip, &req->ip);
}

static bool cmd_touch(struct interp *in, const struct args *a)
{
    struct mm_access_request req = {.length = 1, .kind = MM_ACCESS_READ};
    uint64_t length = 1;
    if (!number(in, &a->a[1], &req.va) || (a->count > 2 && !a->a[2].key && !number(in, &a->a[2], &length)) ||
        !access_options(in, a, &req))
        return false;
    if (length == 0 || length > (UINT64_C(1) << 32))
        return interp_error(in, a->a[2].t, NULL, "length must be 1 .. 4 GiB");
    req.length = (size_t)length;
    if (!interp_afford(in, a->count > 2 ? a->a[2].t : NULL, RANGE_WORK(length)))
        return false;
    if (arg_is_word(&a->a[0], "touch-write"))
        req.kind = MM_ACCESS_WRITE;
    return status(in, mm_access_memory(in->m, &req));
}

static bool cmd_write(struct interp *in, const struct args *a)
{
    struct mm_access_request req = {.kind = MM_ACCESS_WRITE};
    if (!number(in, &a->a[1], &req.va) || !access_options(in, a, &req))
        return false;
    const struct arg *data = &a->a[2];
    uint64_t q;
    if (data->t->kind == TOK_STRING) {
        req.buffer = data->t->text;
        req.length = data->t->length;
    } else if (number(in, data, &q)) {
        req.buffer = &q;
        req.length = 8;
    } else {
        return false;
    }
    return status(in, mm_access_memory(in->m, &req));
}

/* copy DST SRC LENGTH: RtlCopyMemory, a page-sized chunk at a time, so a
 * fault stops it at the first byte that cannot be read or written. */
static bool cmd_copy(struct interp *in, const struct args *a)
{
    struct mm_access_request rd = {.kind = MM_ACCESS_READ}, wr = {.kind = MM_ACCESS_WRITE};
    uint64_t length;
    if (!need(in, a, 1, 3, 3, "copy DST SRC LENGTH [mode=user] [ip=ADDR]") || !number(in, &a->a[1], &wr.va) ||
        !number(in, &a->a[2], &rd.va) || !number(in, &a->a[3], &length) || !access_options(in, a, &rd))
        return false;
    if (length == 0 || length > (UINT64_C(1) << 32))
        return interp_error(in, a->a[3].t, NULL, "length must be 1 .. 4 GiB");
    wr.mode = rd.mode;
    wr.ip = rd.ip;
    if (!interp_afford(in, a->a[3].t, 2 * RANGE_WORK(length))) /* a read and a write a page */
        return false;
    unsigned char buf[MM_PAGE_SIZE];
    for (uint64_t done = 0; done < length && !in->bugchecked;) {
        size_t chunk = (size_t)(MM_PAGE_SIZE - ((rd.va + done) & (MM_PAGE_SIZE - 1)));
        if (chunk > length - done)
            chunk = (size_t)(length - done);
        struct mm_access_request r = rd, w = wr;
        r.va += done, r.buffer = buf, r.length = chunk;
        w.va += done, w.buffer = buf, w.length = chunk;
        mm_status st = mm_access_memory(in->m, &r);
        if (st == MM_STATUS_SUCCESS)
            st = mm_access_memory(in->m, &w);
        if (st != MM_STATUS_SUCCESS) {
            OUT("stopped after %" PRIu64 " bytes\n", done);
            return status(in, st);
        }
        done += chunk;
    }
    if (!in->bugchecked)
        OUT("%" PRIu64 " bytes copied\n", length);
    return status(in, MM_STATUS_SUCCESS);
}

static bool cmd_read(struct interp *in, const struct args *a)
{
    struct mm_access_request req = {.kind = MM_ACCESS_READ};
    uint64_t length = 16;
    if (!number(in, &a->a[1], &req.va) || (a->count > 2 && !a->a[2].key && !number(in, &a->a[2], &length)) ||
        !access_options(in, a, &req))
        return false;
    if (length == 0 || length > 4096)
        return interp_error(in, NULL, NULL, "read shows 1 .. 4096 bytes");
    unsigned char buf[4096];
    req.buffer = buf;
    req.length = (size_t)length;
    status(in, mm_access_memory(in->m, &req));
    if (in->last_status != MM_STATUS_SUCCESS)
        return true;
    for (size_t i = 0; i < req.length; i += 16) {
        OUT("%016" PRIx64 " ", req.va + i);
        for (size_t k = i; k < i + 16 && k < req.length; k++)
            fprintf(in->out, " %02x", buf[k]);
        fputc('\n', in->out);
    }
    return true;
}

static bool cmd_is_valid(struct interp *in, const struct args *a)
{
    mm_va va;
    if (!number(in, &a->a[1], &va))
        return false;
    OUT("MmIsAddressValid(%016" PRIx64 ") = %s\n", va, mm_is_address_valid(in->m, va) ? "TRUE" : "FALSE");
    return true;
}

static bool cmd_let(struct interp *in, const struct args *a)
{
    /* let NAME = EXPR: grouped as key=value */
    if (a->count != 2 || !a->a[1].key)
        return interp_error(in, NULL, "let NAME = EXPRESSION", "malformed let");
    const struct arg *v = &a->a[1];
    uint64_t value;
    if (!number(in, v, &value))
        return false;
    struct name *n = interp_new_name(in, v->key, NAME_ADDRESS);
    if (!n)
        return false;
    n->va = value;
    n->value = true;
    n->process = current_process(in);
    OUT("%s = 0x%" PRIx64 "\n", n->name, value);
    return true;
}

static bool cmd_note(struct interp *in, const struct args *a)
{
    for (size_t i = 1; i < a->count; i++)
        if (a->a[i].t->kind != TOK_STRING)
            return interp_error(in, a->a[i].t, "note \"text\"", "a note is a quoted string");
    for (size_t i = 1; i < a->count; i++)
        if (a->a[i].t->kind == TOK_STRING)
            OUT("%s\n", a->a[i].t->text);
    return true;
}

/* ---- pool ---- */

/* tag=ABCD: up to four characters, padded with spaces as the WDK's tags
 * are; a longer one is an error, not silently cut. */
static bool tag_of(struct interp *in, const struct args *a, uint32_t *out)
{
    const struct arg *t = arg_option(a, "tag");
    *out = MM_POOL_TAG('S', 'c', 'r', 'p');
    if (!t || t->t->length == 0)
        return true;
    if (t->t->length > 4)
        return interp_error(in, t->t, "a pool tag is 1 to 4 characters, as in tag=Tag1", "tag '%s' is too long",
                            t->t->text);
    const char *s = t->t->text;
    char c[4] = {' ', ' ', ' ', ' '};
    for (size_t i = 0; i < t->t->length; i++)
        c[i] = s[i];
    *out = MM_POOL_TAG(c[0], c[1], c[2], c[3]);
    return true;
}

static bool cmd_pool(struct interp *in, const struct args *a)
{
    const struct arg *verb = &a->a[1];
    if (arg_is_word(verb, "free")) {
        mm_va va;
        uint32_t tag;
        if (!need(in, a, 2, 1, 1, "pool free ADDR [tag=Tag1]") || !number(in, &a->a[2], &va) || !tag_of(in, a, &tag))
            return false;
        status(in, mm_pool_free(in->m, va, arg_option(a, "tag") ? tag : 0));
        forget_freed(in, va, true);
        return true;
    }
    static const char *const types[] = {"nonpaged", "paged", NULL};
    int type = eval_choice(verb, types);
    if (type < 0)
        return interp_error(in, verb->t, "pool nonpaged|paged NAME SIZE [tag=Tag1] | pool free ADDR", "unknown pool verb");
    uint64_t size;
    uint32_t tag;
    if (!need(in, a, 2, 2, 2, "pool nonpaged|paged NAME SIZE [tag=Tag1]") || !number(in, &a->a[3], &size) ||
        !tag_of(in, a, &tag))
        return false;
    struct name *n = interp_new_name(in, a->a[2].t, NAME_ADDRESS);
    if (!n)
        return false;
    n->va = mm_pool_allocate(in->m, type == 0 ? MM_NONPAGED_POOL : MM_PAGED_POOL, size, tag);
    n->size = size;
    n->pool = true;
    if (!in->bugchecked)
        OUT("%s = %016" PRIx64 " (%s pool, %" PRIu64 " bytes)\n", n->name, n->va, types[type], size);
    return true;
}

/* ---- drivers ---- */

static bool cmd_driver(struct interp *in, const struct args *a)
{
    const struct arg *verb = &a->a[1];
    if (!need(in, a, 2, 1, 2, "driver load NAME [\"file.sys\"] .text=SIZE PAGE=SIZE INIT=SIZE … | driver discard-init|unload NAME"))
        return false;
    if (arg_is_word(verb, "load")) {
        struct mm_section_desc sections[16];
        unsigned count = 0;
        for (size_t i = 2; i < a->count; i++) {
            const struct arg *o = &a->a[i];
            if (!o->key)
                continue;
            uint64_t size;
            if (count == 16 || !number(in, o, &size))
                return count == 16 ? interp_error(in, o->key, NULL, "at most 16 sections") : false;
            const char *nm = o->key->text;
            bool code = strcasecmp(nm, ".data") != 0 && strcasecmp(nm, ".rdata") != 0;
            sections[count++] = (struct mm_section_desc){.name = nm, .size = (uint32_t)size,
                                                         .flags = code ? MM_SECTION_CODE : MM_SECTION_WRITE};
        }
        if (!count)
            return interp_error(in, NULL, "for example: driver load d .text=0x2000 PAGE=0x1000 INIT=0x1000",
                                "a driver needs sections");
        struct name *n = interp_new_name(in, a->a[2].t, NAME_IMAGE);
        if (!n)
            return false;
        const char *file = a->count > 3 && !a->a[3].key && a->a[3].t->kind == TOK_STRING ? a->a[3].t->text : n->name;
        status(in, mm_image_load(in->m, file, sections, count, &n->image));
        if (n->image) {
            struct mm_image_info ii;
            mm_image_query(in->m, n->image, &ii);
            n->va = ii.base;
            n->size = ii.size;
            OUT("%s loaded at %016" PRIx64 " (%" PRIu64 " bytes)\n", file, ii.base, ii.size);
        }
        return true;
    }
    struct name *n = interp_name(in, a->a[2].t, NAME_IMAGE);
    if (!n)
        return false;
    if (arg_is_word(verb, "discard-init"))
        return status(in, mm_image_discard_init(in->m, n->image));
    if (arg_is_word(verb, "unload"))
        return status(in, mm_image_unload(in->m, n->image));
    return interp_error(in, verb->t, "driver load|discard-init|unload", "unknown driver verb");
}

/* ---- sections ---- */

static bool cmd_section(struct interp *in, const struct args *a)
{
    const struct arg *verb = &a->a[1];
    if (arg_is_word(verb, "create")) {
        uint64_t size;
        uint32_t protect;
        if (!need(in, a, 2, 2, 2, "section create NAME SIZE [protect=READWRITE]") || !number(in, &a->a[3], &size) ||
            !protect_of(in, a, MM_PAGE_READWRITE, &protect) || !interp_afford(in, a->a[3].t, RANGE_WORK(size)))
            return false;
        struct name *n = interp_new_name(in, a->a[2].t, NAME_SECTION);
        if (!n)
            return false;
        n->size = size;
        return status(in, mm_section_create(in->m, size, protect, &n->section));
    }
    if (arg_is_word(verb, "map")) {
        /* section map VIEW SECTION [protect=] [process=] */
        uint32_t protect;
        if (!need(in, a, 2, 2, 2, "section map VIEW SECTION [protect=WRITECOPY] [process=P]") ||
            !protect_of(in, a, MM_PAGE_READWRITE, &protect))
            return false;
        struct name *s = interp_name(in, a->a[3].t, NAME_SECTION);
        const struct arg *po = arg_option(a, "process");
        struct name *p = po ? interp_name(in, po->t, NAME_PROCESS) : NULL;
        if (!s || (po && !p) || !interp_afford(in, a->a[3].t, RANGE_WORK(s->size)))
            return false;
        struct name *v = interp_new_name(in, a->a[2].t, NAME_ADDRESS);
        if (!v)
            return false;
        v->process = p ? p->process : current_process(in);
        v->size = s->size;
        status(in, mm_map_view_of_section(in->m, s->section, v->process, &v->va, protect));
        if (in->last_status == MM_STATUS_SUCCESS)
            OUT("%s = %016" PRIx64 "\n", v->name, v->va);
        return true;
    }
    if (!need(in, a, 2, 1, 1, "section close NAME | section unmap VIEW"))
        return false;
    if (arg_is_word(verb, "close")) {
        struct name *s = interp_name(in, a->a[2].t, NAME_SECTION);
        return s && status(in, mm_section_close(in->m, s->section));
    }
    if (arg_is_word(verb, "unmap")) {
        struct name *v = interp_name(in, a->a[2].t, NAME_ADDRESS);
        return v && status(in, mm_unmap_view_of_section(in->m, v->process, v->va));
    }
    return interp_error(in, verb->t, "section create|map|unmap|close", "unknown section verb");
}

/* ---- MDLs ---- */

static bool mdl_show(struct interp *in, const struct name *n)
{
    struct mm_mdl h;
    if (in->bugchecked || mm_mdl_read(in->m, n->va, &h, NULL, 0) != MM_STATUS_SUCCESS)
        return true;
    char flags[160];
    view_mdl_flags(flags, sizeof flags, (uint16_t)h.MdlFlags);
    OUT("%s: MdlFlags 0x%04X (%s)\n", n->name, (unsigned)(uint16_t)h.MdlFlags, flags);
    return true;
}

static bool mdl_allocate(struct interp *in, const struct args *a)
{
    uint64_t va, length;
    if (!need(in, a, 2, 3, 3, "mdl allocate NAME ADDR LENGTH") || !number(in, &a->a[3], &va) ||
        !number(in, &a->a[4], &length))
        return false;
    if (length > UINT32_MAX)
        return interp_error(in, a->a[4].t, NULL, "an MDL describes at most 4 GiB");
    struct name *n = interp_new_name(in, a->a[2].t, NAME_MDL);
    if (!n)
        return false;
    n->va = mm_io_allocate_mdl(in->m, va, (uint32_t)length, false, false, 0);
    n->size = length;
    if (!n->va && !in->bugchecked)
        OUT("IoAllocateMdl returned NULL\n");
    else if (n->va)
        OUT("%s = MDL at %016" PRIx64 "\n", n->name, n->va);
    return mdl_show(in, n);
}

static bool mdl_lock(struct interp *in, const struct args *a, struct name *n)
{
    static const char *const ops[] = {"read", "write", "modify", NULL};
    static const char *const modes[] = {"kernel", "user", NULL};
    mm_lock_operation op = MM_IO_WRITE_ACCESS;
    mm_mode mode = MM_KERNEL_MODE;
    const struct arg *po = arg_option(a, "process");
    for (size_t i = 3; i < a->count; i++) {
        if (a->a[i].key)
            continue;
        int k;
        if ((k = eval_choice(&a->a[i], ops)) >= 0)
            op = (mm_lock_operation)k;
        else if ((k = eval_choice(&a->a[i], modes)) >= 0)
            mode = (mm_mode)k;
        else
            return interp_error(in, a->a[i].t, "read|write|modify, kernel|user, process=P", "unknown lock option");
    }
    if (po) {
        struct name *p = interp_name(in, po->t, NAME_PROCESS);
        if (!p)
            return false;
        status(in, mm_probe_and_lock_process_pages(in->m, n->va, p->process, mode, op));
    } else {
        status(in, mm_probe_and_lock_pages(in->m, n->va, mode, op));
    }
    return mdl_show(in, n);
}

static const char *const cache_names[] = {"noncached", "cached", "writecombined", "coherent", "unordered", "uswc", NULL};

static bool mdl_map(struct interp *in, const struct args *a, struct name *n)
{
    mm_mode mode = MM_KERNEL_MODE;
    mm_cache_type cache = MM_CACHED;
    uint32_t priority = MM_NORMAL_PAGE_PRIORITY;
    bool bugcheck_on_failure = false, legacy = false, safe = false;
    for (size_t i = 3; i < a->count; i++) {
        const struct arg *o = &a->a[i];
        int k;
        if (o->key && strcasecmp(o->key->text, "cache") == 0 && (k = eval_choice(o, cache_names)) >= 0)
            cache = (mm_cache_type)k;
        else if (arg_is_word(o, "kernel"))
            mode = MM_KERNEL_MODE;
        else if (arg_is_word(o, "user"))
            mode = MM_USER_MODE;
        else if (arg_is_word(o, "nowrite"))
            priority |= MM_MDL_MAPPING_NO_WRITE;
        else if (arg_is_word(o, "noexecute"))
            priority |= MM_MDL_MAPPING_NO_EXECUTE;
        else if (arg_is_word(o, "bugcheck-on-failure"))
            bugcheck_on_failure = true;
        else if (arg_is_word(o, "legacy"))
            legacy = true;
        else if (arg_is_word(o, "safe"))
            safe = true;
        else
            return interp_error(in, o->t, "kernel|user cache=cached|noncached|… nowrite noexecute bugcheck-on-failure legacy safe",
                                "unknown map option");
    }
    mm_va va;
    if (safe)
        va = mm_get_system_address_for_mdl_safe(in->m, n->va, priority);
    else if (legacy)
        va = mm_map_locked_pages(in->m, n->va, mode);
    else
        va = mm_map_locked_pages_specify_cache(in->m, n->va, mode, cache, 0, bugcheck_on_failure, priority, NULL);
    if (mode == MM_USER_MODE && !safe) {
        n->user = va;
        n->process = current_process(in);
    }
    if (!in->bugchecked)
        OUT("mapped at %016" PRIx64 "%s\n", va, va ? "" : " (the mapping failed)");
    return mdl_show(in, n);
}

static bool cmd_mdl(struct interp *in, const struct args *a)
{
    const struct arg *verb = &a->a[1];
    if (arg_is_word(verb, "allocate"))
        return mdl_allocate(in, a);
    if (arg_is_word(verb, "allocate-pages")) {
        uint64_t size;
        if (!need(in, a, 2, 2, 3, "mdl allocate-pages NAME SIZE [ex]") || !number(in, &a->a[3], &size))
            return false;
        struct name *n = interp_new_name(in, a->a[2].t, NAME_MDL);
        if (!n)
            return false;
        bool ex = a->count > 4 && arg_is_word(&a->a[4], "ex");
        n->va = ex ? mm_allocate_pages_for_mdl_ex(in->m, 0, UINT64_MAX, 0, size, MM_CACHED, 0)
                   : mm_allocate_pages_for_mdl(in->m, 0, UINT64_MAX, 0, size);
        OUT("%s = MDL at %016" PRIx64 "\n", n->name, n->va);
        return mdl_show(in, n);
    }
    if (a->count < 3)
        return interp_error(in, verb->t, "mdl VERB NAME …", "which MDL?");
    struct name *n = interp_name(in, a->a[2].t, NAME_MDL);
    if (!n)
        return false;
    if (arg_is_word(verb, "lock"))
        return mdl_lock(in, a, n);
    if (arg_is_word(verb, "map"))
        return mdl_map(in, a, n);
    if (arg_is_word(verb, "unmap")) {
        bool user = a->count > 3 && arg_is_word(&a->a[3], "user");
        mm_va va = user ? n->user : 0;
        if (!user) {
            struct mm_mdl h;
            if (mm_mdl_read(in->m, n->va, &h, NULL, 0) == MM_STATUS_SUCCESS)
                va = h.MappedSystemVa;
        }
        status(in, mm_unmap_locked_pages(in->m, va, n->va));
        return mdl_show(in, n);
    }
    if (arg_is_word(verb, "unlock")) {
        status(in, mm_unlock_pages(in->m, n->va));
        return mdl_show(in, n);
    }
    if (arg_is_word(verb, "free"))
        return status(in, mm_io_free_mdl(in->m, n->va));
    if (arg_is_word(verb, "free-pages")) {
        status(in, mm_free_pages_from_mdl(in->m, n->va));
        return mdl_show(in, n);
    }
    if (arg_is_word(verb, "build-nonpaged")) {
        status(in, mm_build_mdl_for_nonpaged_pool(in->m, n->va));
        return mdl_show(in, n);
    }
    if (arg_is_word(verb, "prepare-reuse")) {
        status(in, mm_prepare_mdl_for_reuse(in->m, n->va));
        return mdl_show(in, n);
    }
    if (arg_is_word(verb, "partial")) {
        /* mdl partial TARGET SOURCE ADDR LENGTH: TARGET is allocated for the range */
        uint64_t va, length;
        if (!need(in, a, 3, 3, 3, "mdl partial TARGET SOURCE ADDR LENGTH") || !number(in, &a->a[4], &va) ||
            !number(in, &a->a[5], &length))
            return false;
        struct name *src = interp_name(in, a->a[3].t, NAME_MDL);
        if (!src || length > UINT32_MAX)
            return src ? interp_error(in, a->a[5].t, NULL, "too long") : false;
        return status(in, mm_io_build_partial_mdl(in->m, src->va, n->va, va, (uint32_t)length)) && mdl_show(in, n);
    }
    return interp_error(in, verb->t, NULL, "unknown MDL verb"); /* verb_known ran first: unreachable */
}

/* dma write MDL "bytes" [offset=N] | dma read MDL LENGTH [offset=N]: a
 * bus-master device using the MDL's PFN array. */
static bool cmd_dma(struct interp *in, const struct args *a)
{
    if (!need(in, a, 1, 3, 3, "dma write MDL \"bytes\" [offset=N] | dma read MDL LENGTH [offset=N]"))
        return false;
    bool write = arg_is_word(&a->a[1], "write");
    if (!write && !arg_is_word(&a->a[1], "read"))
        return interp_error(in, a->a[1].t, "dma write|read", "unknown dma verb");
    struct name *n = interp_name(in, a->a[2].t, NAME_MDL);
    const struct arg *off = arg_option(a, "offset");
    uint64_t offset = 0, length = 0;
    if (!n || (off && !number(in, off, &offset)))
        return false;
    unsigned char buf[4096];
    const struct arg *data = &a->a[3];
    if (write && data->n == 1 && data->t->kind == TOK_STRING) {
        length = data->t->length;
        memcpy(buf, data->t->text, length < sizeof buf ? length : sizeof buf);
    } else if (write || !number(in, data, &length)) {
        return in->error ? false : interp_error(in, data->t, "a \"string\" to write", "expected the bytes");
    }
    if (length == 0 || length > sizeof buf)
        return interp_error(in, data->t, NULL, "a transfer is 1 .. 4096 bytes here");
    status(in, mm_dma_transfer(in->m, n->va, offset, buf, (size_t)length, write));
    if (!write && in->last_status == MM_STATUS_SUCCESS)
        for (size_t i = 0; i < length; i += 16) {
            OUT("+%04zx ", (size_t)offset + i);
            for (size_t k = i; k < i + 16 && k < length; k++)
                fprintf(in->out, " %02x", buf[k]);
            fputc('\n', in->out);
        }
    return true;
}

/* ---- paging ---- */

static bool cmd_trim(struct interp *in, const struct args *a)
{
    mm_process *p = NULL;
    if (a->count > 1) {
        if (arg_is_word(&a->a[1], "system")) {
            p = mm_process_system(in->m);
        } else {
            struct name *n = interp_name(in, a->a[1].t, NAME_PROCESS);
            if (!n)
                return false;
            p = n->process;
        }
    }
    uint64_t trimmed = 0;
    status(in, mm_working_set_trim(in->m, p, UINT64_MAX, &trimmed));
    OUT("%" PRIu64 " pages trimmed\n", trimmed);
    return true;
}

static bool cmd_writer(struct interp *in, const struct args *a)
{
    (void)a;
    uint64_t written = 0;
    status(in, mm_modified_page_writer(in->m, &written));
    OUT("%" PRIu64 " pages written to the page file\n", written);
    return true;
}

/* picture ["title"]: marks where --svg/--dot/--html draw (see picture.h). */
static bool cmd_picture(struct interp *in, const struct args *a)
{
    (void)a;
    (void)interp_machine(in);
    return true;
}

static bool cmd_pressure(struct interp *in, const struct args *a)
{
    (void)a;
    return status(in, mm_memory_pressure(in->m));
}

static const struct command commands[] = {
    {"machine", NULL, 0, 16, cmd_machine, "machine [ram=64M] [cpus=2] [pagefile=64M] [verifier=standard] …"},
    {"verifier", NULL, 1, 1, cmd_verifier, "verifier FLAGS|off"},
    {"cpu", NULL, 1, 1, cmd_cpu, "cpu N"},
    {"irql", NULL, 2, 2, cmd_irql, "irql raise|lower LEVEL"},
    {"process", NULL, 1, 3, cmd_process, "process create|attach|detach|exit NAME"},
    {"alloc", NULL, 2, 3, cmd_alloc, "alloc NAME SIZE [reserve] [protect=READWRITE]"},
    {"commit", NULL, 2, 2, cmd_commit, "commit ADDR SIZE [protect=READWRITE]"},
    {"decommit", NULL, 2, 2, cmd_decommit, "decommit ADDR SIZE"},
    {"free", NULL, 1, 1, cmd_free, "free ADDR"},
    {"protect", NULL, 3, 3, cmd_protect, "protect ADDR SIZE PROTECTION"},
    {"touch", NULL, 1, 2, cmd_touch, "touch ADDR [LENGTH] [mode=user] [ip=ADDR]"},
    {"touch-write", NULL, 1, 2, cmd_touch, "touch-write ADDR [LENGTH] [mode=user] [ip=ADDR]"},
    {"write", NULL, 2, 2, cmd_write, "write ADDR \"bytes\"|NUMBER [mode=user] [ip=ADDR]"},
    {"read", NULL, 1, 2, cmd_read, "read ADDR [LENGTH]"},
    {"copy", NULL, 3, 3, cmd_copy, "copy DST SRC LENGTH [mode=user] [ip=ADDR]"},
    {"is-valid", NULL, 1, 1, cmd_is_valid, "is-valid ADDR"},
    {"let", NULL, 1, 1, cmd_let, "let NAME = EXPRESSION"},
    {"note", NULL, 0, 16, cmd_note, "note \"text\""},
    {"pool", NULL, 2, 3, cmd_pool, "pool nonpaged|paged NAME SIZE [tag=Tag1] | pool free ADDR"},
    {"driver", NULL, 2, 3, cmd_driver, "driver load NAME .text=SIZE … | driver discard-init|unload NAME"},
    {"section", NULL, 2, 3, cmd_section, "section create|map|unmap|close …"},
    {"mdl", NULL, 2, 8, cmd_mdl, "mdl allocate|lock|map|unmap|unlock|free|… NAME …"},
    {"dma", NULL, 3, 4, cmd_dma, "dma write MDL \"bytes\" | dma read MDL LENGTH [offset=N]"},
    {"trim", NULL, 0, 1, cmd_trim, "trim [PROCESS|system]"},
    {"writer", NULL, 0, 0, cmd_writer, "writer"},
    {"pressure", NULL, 0, 0, cmd_pressure, "pressure"},
    {"picture", NULL, 0, 1, cmd_picture, "picture [\"title\"]"},
};

static const char *const other_words[] = {"expect", "repeat", "end", "dt", "!pfn", "!pte", "!vtop", "!mdl", "!process", "!vad", "!pool", "!lockedpages", "!verifier", "!history", "!memusage",
                                          "!trace", "!analyze", "!findings", NULL};

static unsigned distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 31 || lb > 31)
        return 99;
    unsigned d[32][32];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = (unsigned)i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = (unsigned)j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            unsigned best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < best)
                best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            d[i][j] = best;
        }
    return d[la][lb];
}

void commands_help(FILE *out)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %s\n", commands[i].usage);
    fputs("  expect bugcheck|no-bugcheck|status|pfn|flags|finding|valid|invalid|bytes|locked|value …\n"
          "  repeat N … end\n"
          "views:\n  !pfn PFN  !pte ADDR  !vtop ADDR  dt _MDL M  !process [P]  !vad [P]  !memusage  !pool ADDR\n"
          "  !lockedpages  !verifier  !trace [N]  !history [-v] MDL|PFN|ADDR  !findings  !analyze -v\n",
          out);
}

const char *const *commands_words(void)
{
    static const char *words[sizeof commands / sizeof commands[0] + 24];
    if (!words[0]) {
        size_t n = 0;
        for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
            if (!n || strcmp(words[n - 1], commands[i].word) != 0)
                words[n++] = commands[i].word;
        for (size_t i = 0; other_words[i] && n + 1 < sizeof words / sizeof words[0]; i++)
            words[n++] = other_words[i];
    }
    return words;
}

/* The verbs of the commands that have them, with the positional arguments
 * each takes after the verb. Checked before the script runs and before any
 * name is looked up, so `mdl alocate m` is a misspelled verb, not a missing
 * MDL, and `pool nonpaged p` is short of an argument before line 1 runs. */
struct verb {
    const char *name;
    unsigned min, max;
};

static const struct {
    const char *word, *what;
    const struct verb *verbs;
} command_verbs[] = {
    {"mdl", "MDL",
     (const struct verb[]){{"allocate", 3, 3},
                           {"allocate-pages", 2, 3},
                           {"lock", 1, 7},
                           {"map", 1, 7},
                           {"unmap", 1, 2},
                           {"unlock", 1, 1},
                           {"free", 1, 1},
                           {"free-pages", 1, 1},
                           {"build-nonpaged", 1, 1},
                           {"prepare-reuse", 1, 1},
                           {"partial", 4, 4},
                           {NULL, 0, 0}}},
    {"process", "process",
     (const struct verb[]){{"create", 1, 2}, {"attach", 1, 1}, {"detach", 0, 1}, {"exit", 1, 1}, {NULL, 0, 0}}},
    {"section", "section",
     (const struct verb[]){{"create", 2, 2}, {"map", 2, 2}, {"unmap", 1, 1}, {"close", 1, 1}, {NULL, 0, 0}}},
    {"driver", "driver", (const struct verb[]){{"load", 1, 2}, {"discard-init", 1, 1}, {"unload", 1, 1}, {NULL, 0, 0}}},
    {"pool", "pool", (const struct verb[]){{"nonpaged", 2, 2}, {"paged", 2, 2}, {"free", 1, 1}, {NULL, 0, 0}}},
    {"irql", "IRQL", (const struct verb[]){{"raise", 1, 1}, {"lower", 1, 1}, {NULL, 0, 0}}},
    {"dma", "DMA", (const struct verb[]){{"write", 2, 2}, {"read", 2, 2}, {NULL, 0, 0}}},
};

static bool verb_known(struct interp *in, const struct command *c, const struct args *a)
{
    for (size_t i = 0; i < sizeof command_verbs / sizeof command_verbs[0]; i++) {
        if (strcmp(command_verbs[i].word, c->word) != 0 || a->count < 2)
            continue;
        const struct arg *verb = &a->a[1];
        const struct verb *v = command_verbs[i].verbs;
        for (; v->name; v++)
            if (arg_is_word(verb, v->name))
                return need(in, a, 2, v->min, v->max, c->usage);
        const char *names[16];
        size_t n = 0;
        for (v = command_verbs[i].verbs; v->name && n < 15; v++)
            names[n++] = v->name;
        names[n] = NULL;
        const char *close = verb->n == 1 ? nearest(verb->t->text, names) : NULL;
        char hint[96];
        if (close)
            snprintf(hint, sizeof hint, "did you mean '%s'?", close);
        return interp_error(in, verb->t, close ? hint : c->usage, "unknown %s verb '%s'", command_verbs[i].what,
                            verb->t->text);
    }
    return true;
}

const char *const *commands_verbs(const char *word)
{
    static const char *names[16];
    for (size_t i = 0; i < sizeof command_verbs / sizeof command_verbs[0]; i++) {
        if (strcmp(command_verbs[i].word, word) != 0)
            continue;
        size_t n = 0;
        for (const struct verb *v = command_verbs[i].verbs; v->name && n < 15; v++)
            names[n++] = v->name;
        names[n] = NULL;
        return names;
    }
    return NULL;
}

static const struct command *command_of(const char *word)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(word, commands[i].word) == 0)
            return &commands[i];
    return NULL;
}

/* Before anything runs: the argument count and the verb of a command. */
bool commands_check(struct interp *in, const struct statement *st)
{
    const struct command *c = command_of(st->tok[0].text);
    struct args a;
    if (!c || c->run == cmd_let)
        return true;
    return interp_group(in, st, &a) && need(in, &a, 1, c->min, c->max, c->usage) && verb_known(in, c, &a);
}

bool commands_known(const char *word, char *hint, size_t size)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(word, commands[i].word) == 0)
            return true;
    for (size_t i = 0; other_words[i]; i++)
        if (strcmp(word, other_words[i]) == 0)
            return true;
    /* Unknown: the nearest word, if one is close. */
    const char *best = NULL;
    unsigned best_d = 3;
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        unsigned d = distance(word, commands[i].word);
        if (d < best_d) {
            best_d = d;
            best = commands[i].word;
        }
    }
    for (size_t i = 0; other_words[i]; i++) {
        unsigned d = distance(word, other_words[i]);
        if (d < best_d) {
            best_d = d;
            best = other_words[i];
        }
    }
    if (best)
        snprintf(hint, size, "did you mean '%s'?", best);
    return false;
}

bool commands_run(struct interp *in, const struct args *a)
{
    const char *word = a->a[0].t->text;
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        const struct command *c = &commands[i];
        if (strcmp(word, c->word) != 0)
            continue;
        if (c->run != cmd_machine && !interp_machine(in))
            return false;
        /* let's one argument is NAME = VALUE, a key=value pair */
        if (c->run != cmd_let && (!need(in, a, 1, c->min, c->max, c->usage) || !verb_known(in, c, a)))
            return false;
        return c->run(in, a);
    }
    return interp_error(in, a->a[0].t, NULL, "unknown command '%s'", word);
}
