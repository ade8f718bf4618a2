/* sim/picture.c — the machine as a Graphviz graph. Clusters are address
 * spaces (each process, and system space); in them, one node per page of
 * each named range, MDL mapping and driver section (up to PAGES_SHOWN a
 * range), labelled with its PTE. Edges go from a page to the frame its PTE
 * names (dashed for a transition PTE) and from each MDL to the frames in
 * its PFN array. Frames are coloured by the list they are on. Anything new
 * or different since the previous picture is drawn in red. */
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

struct drawing {
    FILE *out, *edges; /* edges go after the clusters, or they pull frames into them */
    struct interp *in;
    struct picture_memory *old;
    struct strlist items;
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
    fprintf(d->out, "    \"%s\" [%s, label=\"%s\"%s];\n", id, attrs, label, hot ? ", color=red, penwidth=3" : "");
}

static void edge(struct drawing *d, const char *from, const char *to, const char *attrs)
{
    char item[256];
    snprintf(item, sizeof item, "e %s %s %s", from, to, attrs);
    bool hot = changed(d, item);
    fprintf(d->edges, "  \"%s\" -> \"%s\" [%s%s];\n", from, to, attrs, hot ? ", color=red, penwidth=2" : "");
}

static void want_frame(struct drawing *d, mm_pfn pfn)
{
    for (size_t i = 0; i < d->frame_count; i++)
        if (d->frames[i] == pfn)
            return;
    if (d->frame_count < FRAMES_MAX)
        d->frames[d->frame_count++] = pfn;
}

/* One page of a range: its PTE, and the frame it leads to. */
static void page(struct drawing *d, mm_process *p, uint32_t pid, mm_va va, const char *label)
{
    struct mm_pte_walk w;
    char id[64], text[200];
    snprintf(id, sizeof id, "v%u_%" PRIx64, pid, va);
    if (mm_pte_walk(d->in->m, p, va, &w) != MM_STATUS_SUCCESS)
        return;
    uint64_t pte = w.level[3].present ? w.level[3].value : 0;
    const char *kind = w.level[3].present ? mm_pte_format_name(pte) : "no page table";
    snprintf(text, sizeof text, "%s\\n%016" PRIx64 "\\nPTE %016" PRIx64 " (%s)", label, va, pte, kind);
    node(d, id, "shape=box", text);
    bool valid = pte & 1, transition = strcmp(kind, "transition") == 0;
    if (valid || transition) {
        mm_pfn pfn = (pte >> 12) & 0xFFFFFFFFFull;
        char to[32];
        snprintf(to, sizeof to, "f%" PRIx64, pfn);
        edge(d, id, to, valid ? "style=solid" : "style=dashed, label=\"transition\"");
        want_frame(d, pfn);
    }
}

static void range(struct drawing *d, mm_process *p, uint32_t pid, const char *name, mm_va va, uint64_t size)
{
    uint64_t pages = (MM_BYTE_OFFSET(va) + size + MM_PAGE_SIZE - 1) / MM_PAGE_SIZE;
    for (uint64_t i = 0; i < pages && i < PAGES_SHOWN; i++) {
        char label[64];
        snprintf(label, sizeof label, i ? "%s+0x%" PRIx64 : "%s", name, i * MM_PAGE_SIZE);
        page(d, p, pid, MM_PAGE_ALIGN(va) + i * MM_PAGE_SIZE, label);
    }
    if (pages > PAGES_SHOWN) { /* say what is not drawn */
        char id[64], label[96];
        snprintf(id, sizeof id, "more%u_%" PRIx64, pid, va);
        snprintf(label, sizeof label, "… %s: %" PRIu64 " more pages\\n(%" PRIu64 " in all; !pte ADDR shows any)", name,
                 pages - PAGES_SHOWN, pages);
        node(d, id, "shape=plaintext", label);
    }
}

static bool is_user(mm_va va) { return va < 0x800000000000ull; }

/* The named things that live in this address space (pid 0: system space). */
static void space(struct drawing *d, mm_process *p, uint32_t pid)
{
    struct interp *in = d->in;
    for (size_t i = 0; i < in->name_count && i < NAMES_DRAWN; i++) {
        const struct name *n = &in->names[i];
        if (n->kind == NAME_ADDRESS && !n->value && !n->freed && n->size &&
            (pid ? n->process == p && is_user(n->va) : !is_user(n->va)))
            range(d, p, pid, n->name, n->va, n->size);
        if (n->kind == NAME_MDL && pid && n->user && n->process == p) {
            char label[48];
            snprintf(label, sizeof label, "%s.user", n->name);
            range(d, p, pid, label, n->user, n->size);
        }
        if (n->kind == NAME_MDL && !pid) {
            struct mm_mdl h;
            if (mm_mdl_read(in->m, n->va, &h, NULL, 0) == MM_STATUS_SUCCESS &&
                ((uint16_t)h.MdlFlags & MM_MDL_MAPPED_TO_SYSTEM_VA) && h.MappedSystemVa) {
                char label[48];
                snprintf(label, sizeof label, "%s.sys", n->name);
                range(d, p, pid, label, h.MappedSystemVa, h.ByteCount);
            }
        }
        if (n->kind == NAME_IMAGE && !pid) {
            struct mm_section_info si;
            for (unsigned k = 0; mm_image_section(in->m, n->image, k, &si) == MM_STATUS_SUCCESS; k++) {
                char label[48];
                snprintf(label, sizeof label, "%s!%s", n->name, si.name);
                page(d, p, pid, si.base, label);
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
        char id[48], flags[200], label[320];
        snprintf(id, sizeof id, "m%" PRIx64, n->va);
        view_mdl_flags(flags, sizeof flags, (uint16_t)h.MdlFlags);
        for (char *c = flags; *c; c++)
            if (*c == '|')
                *c = ' ';
        snprintf(label, sizeof label, "MDL %s\\n%016" PRIx64 "\\n%s\\nByteCount 0x%x", n->name, n->va,
                 flags[0] ? flags : "(no flags)", h.ByteCount);
        node(d, id, "shape=note, style=filled, fillcolor=\"#e8eaf6\"", label);
        uint64_t pages = MM_MDL_PAGES(&h);
        for (uint64_t k = 0; k < pages && k < PAGES_SHOWN && (h.MdlFlags & (MM_MDL_PAGES_LOCKED | MM_MDL_SOURCE_IS_NONPAGED_POOL | MM_MDL_PARTIAL)); k++) {
            if (pfns[k] == MM_PFN_NONE)
                break;
            char to[32], attrs[64];
            snprintf(to, sizeof to, "f%" PRIx64, pfns[k]);
            snprintf(attrs, sizeof attrs, "style=dotted, color=\"#3949ab\", label=\"[%" PRIu64 "]\"", k);
            edge(d, id, to, attrs);
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

static void frames(struct drawing *d)
{
    for (size_t i = 0; i < d->frame_count; i++) {
        struct mm_pfn_info pi;
        if (mm_pfn_query(d->in->m, d->frames[i], &pi) != MM_STATUS_SUCCESS)
            continue;
        char id[32], label[160], attrs[96];
        snprintf(id, sizeof id, "f%" PRIx64, d->frames[i]);
        snprintf(label, sizeof label, "PFN 0x%" PRIx64 "\\n%s\\nshare %u  ref %u", d->frames[i],
                 mm_page_location_name(pi.location), pi.share_count, pi.reference_count);
        snprintf(attrs, sizeof attrs, "shape=box, style=\"rounded,filled\", fillcolor=\"%s\"",
                 list_colour(pi.location));
        node(d, id, attrs, label);
    }
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
        const char *name = mm_bugcheck_name(bc->code);
        snprintf(line, sizeof line, "*** STOP 0x%08X (0x%llx, 0x%llx, 0x%llx, 0x%llx) %s", bc->code,
                 (unsigned long long)bc->p[0], (unsigned long long)bc->p[1], (unsigned long long)bc->p[2],
                 (unsigned long long)bc->p[3], name ? name : "");
        escape(esc, sizeof esc, line);
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
    fprintf(out, "digraph mm {\n  graph [rankdir=LR, fontname=\"Helvetica\", labelloc=t, label=\"%s\"];\n"
                 "  node [fontname=\"Courier\", fontsize=10];\n  edge [fontname=\"Helvetica\", fontsize=9];\n", t);
    unsigned processes = 0;
    for (mm_process *p = mm_process_next(in->m, NULL); p && processes < PROCESSES_DRAWN; p = mm_process_next(in->m, p)) {
        struct mm_process_info pi;
        if (mm_process_query(in->m, p, &pi) != MM_STATUS_SUCCESS || pi.id == 4)
            continue;
        processes++;
        char item[64];
        snprintf(item, sizeof item, "c %u %d", pi.id, pi.terminated);
        bool hot = changed(&d, item);
        fprintf(out, "  subgraph cluster_p%u {\n    label=\"%s (Cid %04x)%s\"; style=rounded; color=\"%s\";%s\n",
                pi.id, pi.name, pi.id, pi.terminated ? ", exited" : "", hot ? "red" : "#607d8b",
                hot ? " penwidth=3;" : "");
        fprintf(out, "    \"p%u\" [shape=plaintext, label=\"user space\"];\n", pi.id);
        space(&d, p, pi.id);
        fputs("  }\n", out);
    }
    fputs("  subgraph cluster_system {\n    label=\"system space\"; style=rounded; color=\"#795548\";\n", out);
    fputs("    \"sys\" [shape=plaintext, label=\"kernel\"];\n", out);
    space(&d, mm_process_system(in->m), 0);
    fputs("  }\n", out);
    mdls(&d);
    frames(&d);
    verdict(&d);
    fclose(d.edges);
    fwrite(edges, 1, edges_len, out);
    free(edges);
    fputs("}\n", out);
    picture_memory_free(mem);
    if (d.items.count)
        qsort(d.items.v, d.items.count, sizeof *d.items.v, by_string);
    mem->items = d.items;
    mem->drawn = true;
}

void picture_memory_free(struct picture_memory *mem) { strlist_free(&mem->items); }

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
