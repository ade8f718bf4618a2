/* sim/report.c — runs a script while drawing pictures: DOT files
 * (--dot DIR), SVG files (--svg DIR, through Graphviz), or one
 * self-contained HTML report (--html FILE) that pairs every scenario line
 * with its output, the trace events it caused and the picture after it,
 * stepped through with buttons or the arrow keys. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "picture.h"

struct step {
    unsigned line;
    char *source, *output, *events;
    int picture; /* index of the picture after this step, or -1 */
};

struct report {
    const struct picture_options *po;
    struct picture_memory mem;
    bool marked;   /* the script has `picture` lines: draw only there */
    bool progress;
    FILE *shown;   /* where the run's output finally goes */
    char *header;  /* the script's opening comment, shown above the steps */
    FILE *capture; /* HTML: the run writes here, a step at a time */
    char *buf;
    size_t len, taken;
    struct step *steps;
    size_t count, cap;
    char **svgs;
    size_t svg_count;
    unsigned drawn;
    bool failed;
    bool full;     /* PICTURES_MAX were drawn, or REPORT_STEPS_MAX steps kept */
    bool streamed; /* HTML: the report is full; the rest of the output goes straight out */
};

static bool draws_after(const struct report *r, const struct statement *st)
{
    const char *w = st->tok[0].text;
    if (r->marked)
        return strcmp(w, "picture") == 0;
    static const char *const quiet[] = {"expect", "note", "let", "picture", "dt", NULL};
    for (int i = 0; quiet[i]; i++)
        if (strcmp(w, quiet[i]) == 0)
            return false;
    return w[0] != '!';
}

static bool save(const char *dir, unsigned n, const char *ext, const char *data, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/step-%03u.%s", dir, n, ext);
    FILE *f = fopen(path, "wb");
    bool ok = f && fwrite(data, 1, len, f) == len;
    if (f && fclose(f) != 0)
        ok = false;
    if (!ok)
        fprintf(stderr, "mmsim: cannot write %s\n", path);
    return ok;
}

static char *events_since(struct interp *in, uint64_t first)
{
    uint64_t now = mm_trace_count(in->m), n = now - first;
    if (n > 200)
        n = 200;
    struct mm_trace_event ev[200];
    size_t got = mm_trace_read(in->m, ev, (size_t)n);
    char *text = NULL, *lined = NULL;
    size_t len = 0, lined_len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return NULL;
    for (size_t i = 0; i < got; i++) {
        char line[200];
        mm_trace_format(&ev[i], line, sizeof line);
        fprintf(f, "%s\n", line);
    }
    if (now - first > got)
        fprintf(f, "… and %" PRIu64 " earlier events\n", now - first - got);
    fclose(f);
    FILE *saved = in->out, *g = open_memstream(&lined, &lined_len);
    if (g) {
        in->out = g;
        interp_put_steps(in, text, len);
        in->out = saved;
        fclose(g);
    }
    free(text);
    return lined;
}

static void draw(struct report *r, struct interp *in, const struct statement *st, struct step *s)
{
    char title[320], *dot = NULL;
    size_t dot_len = 0;
    if (r->drawn == PICTURES_MAX) {
        r->full = true;
        return;
    }
    snprintf(title, sizeof title, "after line %u: %s", st->line, st->source);
    FILE *f = open_memstream(&dot, &dot_len);
    if (!f)
        return;
    picture_dot(f, in, title, &r->mem);
    fclose(f);
    unsigned n = ++r->drawn;
    if (r->progress)
        fprintf(stderr, "\r  picture %u (line %u)", n, st->line);
    if (r->po->dot_dir && !save(r->po->dot_dir, n, "dot", dot, dot_len))
        r->failed = true;
    if (r->po->svg_dir || r->po->html_file) {
        size_t svg_len = 0;
        char *svg = picture_svg(dot, dot_len, &svg_len);
        if (!svg) {
            r->failed = true;
        } else if (r->po->svg_dir && !save(r->po->svg_dir, n, "svg", svg, svg_len)) {
            r->failed = true;
        }
        char **g = svg && r->po->html_file ? realloc(r->svgs, (r->svg_count + 1) * sizeof *g) : NULL;
        if (g) {
            r->svgs = g;
            r->svgs[r->svg_count] = svg;
            if (s)
                s->picture = (int)r->svg_count;
            r->svg_count++;
        } else {
            free(svg);
        }
    }
    free(dot);
}

/* Once the report holds all the steps it can, the run's output stops
 * collecting in memory: what was collected goes out, and so does the rest
 * as it is written (a quiet repeat pass still keeps its own until it ends). */
static void stream(struct report *r, struct interp *in)
{
    if (r->streamed || in->out != r->capture)
        return;
    fflush(r->capture);
    fwrite(r->buf, 1, r->len, r->shown);
    in->out = r->shown;
    r->streamed = true;
}

static void after(struct interp *in, const struct statement *st, uint64_t first_event)
{
    struct report *r = in->after_ctx;
    struct step *s = NULL;
    if (r->po->html_file && r->count == REPORT_STEPS_MAX) {
        r->full = true;
        stream(r, in);
    }
    if (r->po->html_file && r->count < REPORT_STEPS_MAX) {
        if (r->count == r->cap) {
            size_t cap = r->cap ? r->cap * 2 : 64;
            struct step *g = realloc(r->steps, cap * sizeof *g);
            if (!g)
                return;
            r->steps = g;
            r->cap = cap;
        }
        s = &r->steps[r->count++];
        fflush(r->capture);
        *s = (struct step){.line = st->line, .source = strdup(st->source), .picture = -1,
                           .output = strndup(r->buf + r->taken, r->len - r->taken),
                           .events = events_since(in, first_event)};
        r->taken = r->len;
    }
    if (draws_after(r, st) && !r->failed)
        draw(r, in, st, s);
}

static void html_text(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

/* The SVG without the XML prolog and doctype Graphviz puts before it. */
static const char *svg_body(const char *svg)
{
    const char *tag = strstr(svg, "<svg");
    return tag ? tag : svg;
}

static const char html_head[] =
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>mmsim report: %s</title>\n<style>\n"
    "body{font-family:system-ui,sans-serif;margin:0;color:#222}\n"
    "header{background:#263238;color:#fff;padding:.6em 1em;position:sticky;top:0;z-index:2}\n"
    "header h1{font-size:1.1em;margin:0 0 .3em}#verdict{font-weight:bold}\n"
    "nav button{font-size:1em;margin-right:.5em}#where{margin:0 1em}\n"
    "main{display:flex;gap:1em;padding:1em}#list{flex:0 0 34%%;max-height:85vh;overflow:auto;font-size:.85em}\n"
    "#list li{cursor:pointer;white-space:pre;font-family:monospace;padding:1px 4px}\n"
    "#list li.on{background:#ffe082}#list li.pic{border-left:4px solid #42a5f5}\n"
    "#detail{flex:1;min-width:0}pre{background:#f5f5f5;padding:.5em;overflow:auto;max-height:18em;margin:.3em 0}\n"
    "#picture svg{max-width:100%%;height:auto;border:1px solid #ccc}#error{display:none;background:#c62828;color:#fff;padding:.5em}\n"
    ".stash{display:none}h2{font-size:1em;margin:.6em 0 .2em}\n"
    "#about pre{background:#eceff1;margin:0;padding:.6em 1em;max-height:none;white-space:pre-wrap}\n</style></head>\n"
    "<body data-status=\"loading\">\n<div id=\"error\"></div>\n<header><h1>mmsim report: %s</h1>"
    "<div id=\"verdict\">%s</div>\n<nav><button id=\"prev\">&#9664; previous</button><span id=\"where\"></span>"
    "<button id=\"next\">next &#9654;</button> (or the arrow keys)</nav></header>\n";

static const char html_script[] =
    "<script>\n"
    "window.onerror=function(m){var e=document.getElementById('error');e.style.display='block';"
    "e.textContent='report error: '+m;document.body.dataset.status='error';};\n"
    "(function(){\n"
    "var steps=document.querySelectorAll('.step'),items=document.querySelectorAll('#list li'),cur=0;\n"
    "if(!steps.length)throw new Error('the report has no steps');\n"
    "function pictureAt(i){for(var k=i;k>=0;k--){var p=steps[k].dataset.picture;if(p!=='-1')return [p,k];}return null;}\n"
    "function show(i){cur=Math.max(0,Math.min(steps.length-1,i));var s=steps[cur];\n"
    "items.forEach(function(li,k){li.classList.toggle('on',k===cur);});items[cur].scrollIntoView({block:'nearest'});\n"
    "document.getElementById('source').textContent=s.querySelector('.src').textContent;\n"
    "document.getElementById('output').textContent=s.querySelector('.out').textContent||'(no output)';\n"
    "document.getElementById('events').textContent=s.querySelector('.ev').textContent||'(no trace events)';\n"
    "var pic=document.getElementById('picture'),at=pictureAt(cur);pic.innerHTML='';\n"
    "if(at){pic.appendChild(document.getElementById('pic'+at[0]).firstElementChild.cloneNode(true));\n"
    "document.getElementById('picnote').textContent=at[1]===cur?'(after this line)':'(after line '+steps[at[1]].dataset.line+')';}\n"
    "else document.getElementById('picnote').textContent='(none yet)';\n"
    "document.getElementById('where').textContent='step '+(cur+1)+' of '+steps.length+', line '+s.dataset.line;\n"
    "try{history.replaceState(null,'','#step-'+(cur+1));}catch(e){}}\n"
    "items.forEach(function(li,k){li.onclick=function(){show(k);};});\n"
    "document.getElementById('prev').onclick=function(){show(cur-1);};\n"
    "document.getElementById('next').onclick=function(){show(cur+1);};\n"
    "document.onkeydown=function(e){if(e.key==='ArrowLeft')show(cur-1);if(e.key==='ArrowRight')show(cur+1);};\n"
    "var h=/^#step-([0-9]+)$/.exec(location.hash),start=0;\n"
    "if(h)start=parseInt(h[1],10)-1;else for(var k=0;k<steps.length;k++)if(steps[k].dataset.picture!=='-1'){start=k;break;}\n"
    "show(start);document.body.dataset.status='ok';\n"
    "})();\n</script>\n</body></html>\n";

static bool write_html(const struct report *r, const char *file, const char *verdict)
{
    FILE *f = fopen(r->po->html_file, "w");
    if (!f) {
        fprintf(stderr, "mmsim: cannot write %s: %s\n", r->po->html_file, strerror(errno));
        return false;
    }
    char name[512], v[128];
    snprintf(name, sizeof name, "%s", file);
    snprintf(v, sizeof v, "%s", verdict);
    for (char *c = name; *c; c++)
        if (strchr("<>&\"%", *c))
            *c = '_';
    fprintf(f, html_head, name, name, v);
    if (r->header) {
        fputs("<section id=\"about\"><pre>", f);
        html_text(f, r->header);
        fputs("</pre></section>\n", f);
    }
    fputs("<main><ol id=\"list\">\n", f);
    for (size_t i = 0; i < r->count; i++) {
        fprintf(f, "<li%s>%4u  ", r->steps[i].picture >= 0 ? " class=\"pic\"" : "", r->steps[i].line);
        html_text(f, r->steps[i].source);
        fputs("</li>\n", f);
    }
    fputs("</ol>\n<section id=\"detail\"><h2>Line</h2><pre id=\"source\"></pre><h2>Output</h2><pre id=\"output\"></pre>"
          "<h2>Trace events</h2><pre id=\"events\"></pre><h2>Picture <span id=\"picnote\"></span></h2>"
          "<div id=\"picture\"></div></section></main>\n",
          f);
    for (size_t i = 0; i < r->count; i++) {
        fprintf(f, "<div class=\"stash step\" data-line=\"%u\" data-picture=\"%d\"><pre class=\"src\">", r->steps[i].line,
                r->steps[i].picture);
        html_text(f, r->steps[i].source);
        fputs("</pre><pre class=\"out\">", f);
        html_text(f, r->steps[i].output);
        fputs("</pre><pre class=\"ev\">", f);
        html_text(f, r->steps[i].events);
        fputs("</pre></div>\n", f);
    }
    for (size_t i = 0; i < r->svg_count; i++)
        fprintf(f, "<div class=\"stash\" id=\"pic%zu\">%s</div>\n", i, svg_body(r->svgs[i]));
    fputs(html_script, f);
    bool ok = !ferror(f);
    if (fclose(f) != 0 || !ok) {
        fprintf(stderr, "mmsim: cannot write %s\n", r->po->html_file);
        return false;
    }
    return true;
}

static bool has_picture_lines(const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (i && text[i - 1] != '\n')
            continue;
        size_t k = i;
        while (k < len && (text[k] == ' ' || text[k] == '\t'))
            k++;
        if (len - k >= 7 && memcmp(text + k, "picture", 7) == 0 && (k + 7 == len || strchr(" \t\r\n#", text[k + 7])))
            return true;
    }
    return false;
}

static bool ready(const struct picture_options *po)
{
    const char *dirs[] = {po->dot_dir, po->svg_dir};
    static const char *const options[] = {"--dot", "--svg"};
    for (int i = 0; i < 2; i++) {
        if (dirs[i] && mkdir(dirs[i], 0777) != 0 && errno != EEXIST) {
            fprintf(stderr, "mmsim: cannot make %s: %s\n", dirs[i], strerror(errno));
            return false;
        }
        struct stat st;
        if (dirs[i] && (stat(dirs[i], &st) != 0 || !S_ISDIR(st.st_mode))) {
            fprintf(stderr, "mmsim: %s %s: not a directory (%s takes a folder for one file per step)\n", options[i],
                    dirs[i], options[i]);
            return false;
        }
    }
    if (po->svg_dir || po->html_file) {
        size_t n;
        char *svg = picture_svg("digraph{}", 9, &n);
        free(svg);
        if (!svg) {
            fprintf(stderr, "mmsim: --svg and --html need Graphviz's dot (apt-get install graphviz)\n");
            return false;
        }
    }
    return true;
}

int picture_run(const char *file, const char *text, size_t len, const struct picture_options *po, FILE *out,
                bool progress)
{
    struct interp in;
    bool pictures = po->dot_dir || po->svg_dir || po->html_file;
    if (pictures && !ready(po))
        return EXIT_SCRIPT_ERROR;
    interp_init(&in, out, file);
    in.progress = progress;
    in.budget = po->max_steps;
    struct report r = {.po = po, .marked = has_picture_lines(text, len), .progress = progress, .shown = out};
    r.header = po->html_file ? script_header(text, len) : NULL;
    if (pictures) {
        in.after = after;
        in.after_ctx = &r;
    }
    if (po->html_file && (r.capture = open_memstream(&r.buf, &r.len)) != NULL)
        in.out = r.capture;
    interp_run_chunk(&in, text, len, 1);
    int rc = interp_verdict(&in);
    if (r.capture) {
        fflush(r.capture);
        if (!r.streamed)
            fwrite(r.buf, 1, r.len, out);
        static const char *const verdicts[] = {"PASSED", "FAILED", "error", "STOPPED"};
        const char *verdict = r.streamed ? verdicts[rc & 3] : r.len > r.taken ? r.buf + r.taken : "";
        char last[128];
        snprintf(last, sizeof last, "%.*s", (int)strcspn(verdict, "\n"), verdict);
        if (!write_html(&r, file, last))
            r.failed = true;
        fclose(r.capture);
        free(r.buf);
    }
    if (progress && r.drawn)
        fputc('\n', stderr);
    if (r.failed && rc == EXIT_SUCCESS_LAB)
        rc = EXIT_SCRIPT_ERROR;
    if (pictures)
        fprintf(out, "%u picture%s drawn%s%s\n", r.drawn, r.drawn == 1 ? "" : "s",
                r.failed ? " (some could not be saved)" : "",
                r.full ? " (the limit: later steps are not drawn or kept)" : "");
    for (size_t i = 0; i < r.count; i++) {
        free(r.steps[i].source);
        free(r.steps[i].output);
        free(r.steps[i].events);
    }
    free(r.steps);
    free(r.header);
    for (size_t i = 0; i < r.svg_count; i++)
        free(r.svgs[i]);
    free(r.svgs);
    picture_memory_free(&r.mem);
    interp_fini(&in);
    return rc;
}
