/* sim/picture.c — the machine as a Graphviz graph, laid out the same way
 * from one picture to the next. Left column: one box per address space
 * (each process, then system space), a row per page of each named range,
 * MDL mapping and driver section (up to PAGES_SHOWN a range) with its PTE;
 * then the MDLs. Right column: the page frames, coloured by list. Edges go
 * from a page to the frame its PTE names (dashed for a transition PTE) and
 * from each MDL to the frames in its PFN array. Anything new or different
 * since the previous picture is drawn in red.
 *
 * Stable layout (docs/scenario-language.md, "Pictures"): every node is
 * named by what it is (process id, name, PFN), never by where it lies;
 * boxes and rows come in creation order, frames in the order the run first
 * drew them; and an invisible chain in each column fixes that order, so
 * Graphviz cannot reorder boxes to save an edge crossing. Address spaces
 * are HTML-table nodes, not clusters, because dot ignores ordering
 * constraints between clusters. */
#include "picture.h"

#include <inttypes.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "views.h"

#define PAGES_SHOWN 8
#define FRAMES_MAX 256
/* A picture of more is unreadable, and would take long to draw: only the
 * first names made and the first processes are drawn (the title says so). */
#define NAMES_DRAWN 256
#define PROCESSES_DRAWN 32
/* Frames whose first appearance a run remembers; later ones follow them in
 * PFN order. */
#define FRAMES_REMEMBERED 65536

struct drawing {
    FILE *out, *edges; /* edges go after the nodes */
    struct interp *in;
    struct picture_memory *old;
    struct strlist items;
    struct strlist column; /* the left column's nodes, top to bottom */
    const char *box;       /* the address-space box rows go into */
    mm_pfn frames[FRAMES_MAX];
    size_t frame_count;
};

static int by_string(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Records an item of this picture; true when the previous one lacked it. */
static bool changed(struct drawing *d, const char *item)
{
    (void)strlist_add(&d->items, item); /* out of memory: the next picture shows it as new */
    const struct strlist *old = &d->old->items;
    return d->old->drawn && (!old->count || !bsearch(&item, old->v, old->count, sizeof *old->v, by_string));
}

static void node(struct drawing *d, const char *id, const char *attrs, const char *label)
{
    char item[512];
    snprintf(item, sizeof item, "n %s %s", id, label);
    bool hot = changed(d, item);
    fprintf(d->out, "  \"%s\" [%s, label=\"%s\"%s];\n", id, attrs, label, hot ? ", color=red, penwidth=3" : "");
}

static void edge(struct drawing *d, const char *from, const char *to, const char *attrs)
{
    char item[256];
    snprintf(item, sizeof item, "e %s %s %s", from, to, attrs);
    bool hot = changed(d, item);
    fprintf(d->edges, "  %s -> \"%s\" [%s%s];\n", from, to, attrs, hot ? ", color=red, penwidth=2" : "");
}

static void html_escape(char *dst, size_t size, const char *src)
{
    size_t k = 0;
    for (; *src; src++) {
        const char *e = *src == '&' ? "&amp;" : *src == '<' ? "&lt;" : *src == '>' ? "&gt;" : *src == '"' ? "&quot;" : NULL;
        size_t n = e ? strlen(e) : 1;
        if (k + n + 1 > size)
            break;
        memcpy(dst + k, e ? e : src, n);
        k += n;
    }
    dst[k] = 0;
}

/* A box for an address space: an HTML table whose rows are its pages. */
static void box_open(struct drawing *d, const char *id, const char *title, const char *colour, bool hot)
{
    char t[160];
    html_escape(t, sizeof t, title);
    fprintf(d->out, "  \"%s\" [shape=plaintext, label=<<table border=\"%d\" cellborder=\"1\" cellspacing=\"0\" "
                    "cellpadding=\"3\" style=\"rounded\" color=\"%s\">\n"
                    "    <tr><td border=\"0\"><font face=\"Helvetica\">%s</font></td></tr>\n",
            id, hot ? 3 : 1, hot ? "red" : colour, t);
    d->box = id;
    (void)strlist_add(&d->column, id); /* out of memory: this box is not held in place */
}

static void box_close(struct drawing *d) { fputs("  </table>>];\n", d->out); }

/* One row of the current box; `port` names it for edges. */
static void row(struct drawing *d, const char *port, const char *text)
{
    char item[512];
    snprintf(item, sizeof item, "n %s:%s %s", d->box, port, text);
    bool hot = changed(d, item);
    fprintf(d->out, "    <tr><td port=\"%s\"%s>%s</td></tr>\n", port, hot ? " border=\"3\" color=\"red\"" : "", text);
}

static void want_frame(struct drawing *d, mm_pfn pfn)
{
    for (size_t i = 0; i < d->frame_count; i++)
        if (d->frames[i] == pfn)
            return;
    if (d->frame_count < FRAMES_MAX)
        d->frames[d->frame_count++] = pfn;
}

/* A row's port: its label, with anything but [A-Za-z0-9._!+-] made '_'. */
static void port_name(char *dst, size_t size, const char *label, const char *suffix)
{
    snprintf(dst, size, "%s%s", label, suffix);
    for (char *c = dst; *c; c++)
        if (!strchr("._!+-", *c) && !(*c >= '0' && *c <= '9') && !((*c | 0x20) >= 'a' && (*c | 0x20) <= 'z'))
            *c = '_';
}

/* One page of a range: its PTE, and the frame it leads to. */
static void page(struct drawing *d, mm_process *p, mm_va va, const char *label)
{
    struct mm_pte_walk w;
    char port[64], text[240], from[160];
    if (mm_pte_walk(d->in->m, p, va, &w) != MM_STATUS_SUCCESS)
        return;
    uint64_t pte = w.level[3].present ? w.level[3].value : 0;
    const char *kind = w.level[3].present ? mm_pte_format_name(pte) : "no page table";
    port_name(port, sizeof port, label, "");
    snprintf(text, sizeof text, "%s<br/>%016" PRIx64 "<br/>PTE %016" PRIx64 " (%s)", label, va, pte, kind);
    row(d, port, text);
    bool valid = pte & 1, transition = strcmp(kind, "transition") == 0;
    if (valid || transition) {
        mm_pfn pfn = (pte >> 12) & 0xFFFFFFFFFull;
        char to[32];
        snprintf(from, sizeof from, "\"%s\":\"%s\":e", d->box, port);
        snprintf(to, sizeof to, "f%" PRIx64, pfn);
        edge(d, from, to, valid ? "style=solid" : "style=dashed, label=\"transition\"");
        want_frame(d, pfn);
    }
}

static void range(struct drawing *d, mm_process *p, const char *name, mm_va va, uint64_t size)
{
    uint64_t pages = (MM_BYTE_OFFSET(va) + size + MM_PAGE_SIZE - 1) / MM_PAGE_SIZE;
    for (uint64_t i = 0; i < pages && i < PAGES_SHOWN; i++) {
        char label[64];
        snprintf(label, sizeof label, i ? "%s+0x%" PRIx64 : "%s", name, i * MM_PAGE_SIZE);
        page(d, p, MM_PAGE_ALIGN(va) + i * MM_PAGE_SIZE, label);
    }
    if (pages > PAGES_SHOWN) { /* say what is not drawn */
        char port[64], text[160];
        port_name(port, sizeof port, name, ".more");
        snprintf(text, sizeof text, "<i>… %s: %" PRIu64 " more pages</i><br/>(%" PRIu64 " in all; !pte ADDR shows any)",
                 name, pages - PAGES_SHOWN, pages);
        row(d, port, text);
    }
}

static bool is_user(mm_va va) { return va < 0x800000000000ull; }

/* The named things that live in this address space (user: a process's;
 * else system space), in the order the script made them. */
static void space(struct drawing *d, mm_process *p, bool user)
{
    struct interp *in = d->in;
    for (size_t i = 0; i < in->name_count && i < NAMES_DRAWN; i++) {
        const struct name *n = &in->names[i];
        if (n->kind == NAME_ADDRESS && !n->value && !n->freed && n->size &&
            (user ? n->process == p && is_user(n->va) : !is_user(n->va)))
            range(d, p, n->name, n->va, n->size);
        if (n->kind == NAME_MDL && user && n->user && n->process == p) {
            char label[48];
            snprintf(label, sizeof label, "%s.user", n->name);
            range(d, p, label, n->user, n->size);
        }
        if (n->kind == NAME_MDL && !user) {
            struct mm_mdl h;
            if (mm_mdl_read(in->m, n->va, &h, NULL, 0) == MM_STATUS_SUCCESS &&
                ((uint16_t)h.MdlFlags & MM_MDL_MAPPED_TO_SYSTEM_VA) && h.MappedSystemVa) {
                char label[48];
                snprintf(label, sizeof label, "%s.sys", n->name);
                range(d, p, label, h.MappedSystemVa, h.ByteCount);
            }
        }
        if (n->kind == NAME_IMAGE && !user) {
            struct mm_section_info si;
            for (unsigned k = 0; mm_image_section(in->m, n->image, k, &si) == MM_STATUS_SUCCESS; k++) {
                char label[48];
                snprintf(label, sizeof label, "%s!%s", n->name, si.name);
                page(d, p, si.base, label);
            }
        }
    }
}

static void mdls(struct drawing *d)
{
    struct interp *in = d->in;
    for (size_t i = 0; i < in->name_count && i < NAMES_DRAWN; i++) {
        const struct name *n = &in->names[i];
        struct mm_mdl h;
        mm_pfn pfns[PAGES_SHOWN];
        if (n->kind != NAME_MDL || mm_mdl_read(in->m, n->va, &h, pfns, PAGES_SHOWN) != MM_STATUS_SUCCESS)
            continue;
        char id[48], from[56], flags[200], label[320];
        snprintf(id, sizeof id, "mdl_%s", n->name);
        snprintf(from, sizeof from, "\"%s\"", id);
        view_mdl_flags(flags, sizeof flags, (uint16_t)h.MdlFlags);
        for (char *c = flags; *c; c++)
            if (*c == '|')
                *c = ' ';
        snprintf(label, sizeof label, "MDL %s\\n%016" PRIx64 "\\n%s\\nByteCount 0x%x", n->name, n->va,
                 flags[0] ? flags : "(no flags)", h.ByteCount);
        node(d, id, "shape=note, style=filled, fillcolor=\"#e8eaf6\"", label);
        (void)strlist_add(&d->column, id);
        uint64_t pages = MM_MDL_PAGES(&h);
        for (uint64_t k = 0; k < pages && k < PAGES_SHOWN && (h.MdlFlags & (MM_MDL_PAGES_LOCKED | MM_MDL_SOURCE_IS_NONPAGED_POOL | MM_MDL_PARTIAL)); k++) {
            if (pfns[k] == MM_PFN_NONE)
                break;
            char to[32], attrs[64];
            snprintf(to, sizeof to, "f%" PRIx64, pfns[k]);
            snprintf(attrs, sizeof attrs, "style=dotted, color=\"#3949ab\", label=\"[%" PRIu64 "]\"", k);
            edge(d, from, to, attrs);
            want_frame(d, pfns[k]);
        }
    }
}

static const char *list_colour(unsigned location)
{
    static const char *const colours[8] = {"#ffffff", "#e0e0e0", "#a6c8ff", "#ffcc80",
                                           "#ffb74d", "#ff8a80", "#b9f6ca", "#fff59d"};
    return colours[location & 7];
}

/* When the run first drew this frame (remembered in mem, kept sorted by
 * PFN); a frame past FRAMES_REMEMBERED comes after all that are. */
static uint64_t first_drawn(struct picture_memory *mem, mm_pfn pfn)
{
    size_t lo = 0, hi = mem->frame_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (mem->frames[mid].pfn == pfn)
            return mem->frames[mid].order;
        if (mem->frames[mid].pfn < pfn)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (mem->frame_count == FRAMES_REMEMBERED)
        return UINT64_MAX;
    if (mem->frame_count == mem->frame_cap) {
        size_t cap = mem->frame_cap ? 2 * mem->frame_cap : 64;
        struct picture_frame *g = realloc(mem->frames, cap * sizeof *g);
        if (!g)
            return UINT64_MAX;
        mem->frames = g;
        mem->frame_cap = cap;
    }
    memmove(mem->frames + lo + 1, mem->frames + lo, (mem->frame_count - lo) * sizeof *mem->frames);
    mem->frames[lo] = (struct picture_frame){.pfn = pfn, .order = mem->frames_drawn++};
    mem->frame_count++;
    return mem->frames[lo].order;
}

struct frame_place {
    uint64_t order;
    mm_pfn pfn;
};

static int by_place(const void *a, const void *b)
{
    const struct frame_place *x = a, *y = b;
    if (x->order != y->order)
        return x->order < y->order ? -1 : 1;
    return x->pfn < y->pfn ? -1 : x->pfn > y->pfn;
}

/* The frames, in the order the run first drew them, held in a column. */
static void frames(struct drawing *d)
{
    struct frame_place place[FRAMES_MAX];
    for (size_t i = 0; i < d->frame_count; i++) /* in the order met, so new frames keep that order */
        place[i] = (struct frame_place){.order = first_drawn(d->old, d->frames[i]), .pfn = d->frames[i]};
    if (d->frame_count)
        qsort(place, d->frame_count, sizeof *place, by_place);
    size_t drawn = 0;
    for (size_t i = 0; i < d->frame_count; i++) {
        struct mm_pfn_info pi;
        if (mm_pfn_query(d->in->m, place[i].pfn, &pi) != MM_STATUS_SUCCESS)
            continue;
        char id[32], label[160], attrs[96];
        snprintf(id, sizeof id, "f%" PRIx64, place[i].pfn);
        snprintf(label, sizeof label, "PFN 0x%" PRIx64 "\\n%s\\nshare %u  ref %u", place[i].pfn,
                 mm_page_location_name(pi.location), pi.share_count, pi.reference_count);
        snprintf(attrs, sizeof attrs, "shape=box, style=\"rounded,filled\", fillcolor=\"%s\"",
                 list_colour(pi.location));
        node(d, id, attrs, label);
        place[drawn++] = place[i];
    }
    if (drawn < 2)
        return;
    fputs("  { rank=same;", d->out);
    for (size_t i = 0; i < drawn; i++)
        fprintf(d->out, "%s\"f%" PRIx64 "\"", i ? " -> " : " ", place[i].pfn);
    fputs(" [style=invis]; }\n", d->out);
}

/* Holds the left column in the order drawn. */
static void column(struct drawing *d)
{
    if (d->column.count < 2)
        return;
    fputs("  { rank=same;", d->out);
    for (size_t i = 0; i < d->column.count; i++)
        fprintf(d->out, "%s\"%s\"", i ? " -> " : " ", d->column.v[i]);
    fputs(" [style=invis]; }\n", d->out);
}

static void escape(char *dst, size_t size, const char *src)
{
    size_t k = 0;
    for (; *src && k + 2 < size; src++) {
        if (*src == '"' || *src == '\\')
            dst[k++] = '\\';
        dst[k++] = *src;
    }
    dst[k] = 0;
}

/* What the machine has said so far, in a box of its own: the bug check
 * (code, parameters, name) and the findings (stale or leaked mappings, …)
 * that are the point of many labs. Drawn in red when it changed. */
/* Adds one left-justified line to a DOT label, never past its end. */
static void append(char *label, size_t size, size_t *n, const char *line)
{
    int w = snprintf(label + *n, size - *n, "%s\\l", line);
    *n = w < 0 || (size_t)w >= size - *n ? size - 1 : *n + (size_t)w;
}

static void verdict(struct drawing *d)
{
    const struct mm_bugcheck *bc = mm_machine_bugcheck(d->in->m);
    size_t count = mm_findings_count(d->in->m);
    if (!bc && !count)
        return;
    char label[2048] = "", line[512], esc[600];
    size_t n = 0;
    if (bc) {
        /* the STOP line as the run printed it (views.c, view_stop) */
        const char *name = mm_bugcheck_name(bc->code);
        snprintf(line, sizeof line, "*** STOP: 0x%08X (0x%016llX,0x%016llX,0x%016llX,0x%016llX)", bc->code,
                 (unsigned long long)bc->p[0], (unsigned long long)bc->p[1], (unsigned long long)bc->p[2],
                 (unsigned long long)bc->p[3]);
        escape(esc, sizeof esc, line);
        append(label, sizeof label, &n, esc);
        escape(esc, sizeof esc, name ? name : "UNKNOWN_BUGCHECK");
        append(label, sizeof label, &n, esc);
    }
    struct mm_finding f[4];
    size_t got = mm_findings_read(d->in->m, f, 4);
    for (size_t i = 0; i < got && n < sizeof label - 1; i++) {
        snprintf(line, sizeof line, "finding %s: %s", mm_finding_name(f[i].kind), f[i].text);
        for (char *c = line; *c; c++)
            if (*c == '\n' || *c == '\r')
                *c = ' ';
        /* Wrapped at a space near 72 columns, continuation lines indented. */
        for (char *c = line; *c && n < sizeof label - 1;) {
            size_t len = strlen(c);
            if (len > 72) {
                len = 72;
                while (len > 30 && c[len] != ' ')
                    len--;
            }
            char piece[128];
            snprintf(piece, sizeof piece, "%s%.*s", c == line ? "" : "    ", (int)len, c);
            escape(esc, sizeof esc, piece);
            append(label, sizeof label, &n, esc);
            c += len;
            while (*c == ' ')
                c++;
        }
    }
    if (count > got) {
        snprintf(line, sizeof line, "… %zu more findings (!findings)", count - got);
        append(label, sizeof label, &n, line);
    }
    char item[64];
    snprintf(item, sizeof item, "v %u %zu", bc ? bc->code : 0, count);
    bool hot = changed(d, item);
    fprintf(d->out, "  \"verdict\" [shape=box, style=\"filled,bold\", fillcolor=\"%s\", color=\"%s\", "
                    "fontname=\"Courier-Bold\", label=\"%s\"];\n",
            bc ? "#ffcdd2" : "#fff9c4", hot ? "red" : "#9e9e9e", label);
    (void)strlist_add(&d->column, "verdict");
}

void picture_dot(FILE *out, struct interp *in, const char *title, struct picture_memory *mem)
{
    char *edges = NULL;
    size_t edges_len = 0;
    struct drawing d = {.out = out, .in = in, .old = mem, .edges = open_memstream(&edges, &edges_len)};
    if (!d.edges)
        return;
    char t[256];
    char full[300];
    snprintf(full, sizeof full, "%s%s", title, in->name_count > NAMES_DRAWN ? " (the first 256 names)" : "");
    escape(t, sizeof t, full);
    fprintf(out, "digraph mm {\n  graph [rankdir=LR, newrank=true, fontname=\"Helvetica\", labelloc=t, label=\"%s\"];\n"
                 "  node [fontname=\"Courier\", fontsize=10];\n  edge [fontname=\"Helvetica\", fontsize=9];\n", t);
    verdict(&d); /* at the top of the left column */
    unsigned processes = 0;
    for (mm_process *p = mm_process_next(in->m, NULL); p && processes < PROCESSES_DRAWN; p = mm_process_next(in->m, p)) {
        struct mm_process_info pi;
        if (mm_process_query(in->m, p, &pi) != MM_STATUS_SUCCESS || pi.id == 4)
            continue;
        processes++;
        char item[64], id[16], label[96];
        snprintf(item, sizeof item, "c %u %d", pi.id, pi.terminated);
        snprintf(id, sizeof id, "P%u", pi.id);
        snprintf(label, sizeof label, "%.16s (Cid %04x)%s", pi.name, pi.id, pi.terminated ? ", exited" : "");
        box_open(&d, id, label, "#607d8b", changed(&d, item));
        space(&d, p, true);
        box_close(&d);
    }
    box_open(&d, "S", "system space", "#795548", false);
    space(&d, mm_process_system(in->m), false);
    box_close(&d);
    mdls(&d);
    column(&d);
    frames(&d);
    fclose(d.edges);
    fwrite(edges, 1, edges_len, out);
    free(edges);
    fputs("}\n", out);
    strlist_free(&d.column);
    strlist_free(&mem->items);
    if (d.items.count)
        qsort(d.items.v, d.items.count, sizeof *d.items.v, by_string);
    mem->items = d.items;
    mem->drawn = true;
}

void picture_memory_free(struct picture_memory *mem)
{
    strlist_free(&mem->items);
    free(mem->frames);
    *mem = (struct picture_memory){0};
}

extern char **environ;

/* Runs Graphviz: dot -Tsvg. Temporary files keep it simple and portable. */
char *picture_svg(const char *dot, size_t len, size_t *svg_len)
{
    char in_path[] = "/tmp/mmsim-dot-XXXXXX", out_path[64];
    int fd = mkstemp(in_path);
    if (fd < 0)
        return NULL;
    bool written = write(fd, dot, len) == (ssize_t)len;
    close(fd);
    snprintf(out_path, sizeof out_path, "%s.svg", in_path);
    char *argv[] = {"dot", "-Tsvg", "-o", out_path, in_path, NULL};
    pid_t pid;
    int status = -1;
    if (written && posix_spawnp(&pid, "dot", NULL, NULL, argv, environ) == 0)
        waitpid(pid, &status, 0);
    char *svg = NULL;
    const char *why;
    if (status == 0)
        svg = script_read_file(out_path, svg_len, &why);
    remove(in_path);
    remove(out_path);
    return svg;
}
