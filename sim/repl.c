/* sim/repl.c — the interactive scenario shell. Every line is a scenario
 * command, run at once against one machine; after each command the REPL
 * shows what it changed (frames' lists and counts, PTE writes, …). A
 * `repeat` block is collected until its `end`. Lines that start with a dot
 * talk to the REPL itself: .help .labs .lab NAME .show NAME .save FILE
 * .history .reset .quit. */
#include "repl.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "interp.h"
#include "labs.h"
#include "lineedit.h"
#include "views.h"

struct repl {
    struct interp in;
    FILE *out;
    bool interactive, quit;
    struct strlist lines; /* what was typed (not dot-commands), for .save and .history */
    unsigned line;
};

static void changed(struct interp *in, const struct statement *st, uint64_t first_event)
{
    const char *w = st->tok[0].text;
    if (w[0] == '!' || strcmp(w, "expect") == 0 || strcmp(w, "dt") == 0 || strcmp(w, "note") == 0 ||
        strcmp(w, "machine") == 0 || strcmp(w, "let") == 0)
        return;
    view_changes(in->out, in->m, first_event);
}

static void start(struct repl *r)
{
    interp_init(&r->in, r->out, "repl");
    r->in.echo = !r->interactive;
    r->in.after = changed;
    r->line = 0;
}

static void help(FILE *out)
{
    fputs("Type scenario commands (docs/scenario-language.md); each runs at once.\ncommands:\n", out);
    commands_help(out);
    fputs("REPL:\n  .labs  .lab NAME (reset, then run a lab and stay in it)  .show NAME\n"
          "  .save FILE (what you typed, as a script)  .history  .reset  .quit\n",
          out);
}

static void run_lab(struct repl *r, const char *name)
{
    size_t len;
    char *text = lab_text(name, &len);
    if (!text) {
        fprintf(r->out, "no lab named '%s' (.labs lists them)\n", name);
        return;
    }
    interp_fini(&r->in);
    start(r);
    r->in.echo = true;
    r->in.file = "lab";
    interp_run_chunk(&r->in, text, len, 1);
    interp_verdict(&r->in);
    r->in.echo = !r->interactive;
    r->in.file = "repl";
    r->in.error = false;
    fprintf(r->out, "(the lab's machine is yours: look around with views, or .reset)\n");
    free(text);
}

static void dot_command(struct repl *r, const char *line)
{
    char word[16] = "", arg[4096] = "";
    sscanf(line, "%15s %4095[^\n]", word, arg);
    if (strcmp(word, ".quit") == 0 || strcmp(word, ".exit") == 0 || strcmp(word, ".q") == 0) {
        r->quit = true;
    } else if (strcmp(word, ".help") == 0) {
        help(r->out);
    } else if (strcmp(word, ".reset") == 0) {
        interp_fini(&r->in);
        start(r);
        fprintf(r->out, "a new machine will be made by the next command\n");
    } else if (strcmp(word, ".labs") == 0) {
        labs_list(r->out);
    } else if (strcmp(word, ".lab") == 0 && arg[0]) {
        run_lab(r, arg);
    } else if (strcmp(word, ".show") == 0 && arg[0]) {
        labs_show(arg, r->out);
    } else if (strcmp(word, ".history") == 0) {
        for (size_t i = 0; i < r->lines.count; i++)
            fprintf(r->out, "%5zu  %s\n", i + 1, r->lines.v[i]);
    } else if (strcmp(word, ".save") == 0 && arg[0]) {
        FILE *f = fopen(arg, "w");
        for (size_t i = 0; f && i < r->lines.count; i++)
            fprintf(f, "%s\n", r->lines.v[i]);
        if (!f || fclose(f) != 0)
            fprintf(r->out, "cannot write %s\n", arg);
        else
            fprintf(r->out, "%zu lines saved to %s (run it with mmsim run %s)\n", r->lines.count, arg, arg);
    } else {
        fprintf(r->out, "unknown REPL command '%s' (.help)\n", line);
    }
}

static char *next_line(struct repl *r, struct lineedit *e, FILE *input, bool more)
{
    if (r->interactive)
        return lineedit_read(e, more ? "  ...> " : "mmsim> ", fileno(input), r->out);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, input);
    if (n < 0) {
        free(line);
        return NULL;
    }
    line[strcspn(line, "\r\n")] = 0;
    return line;
}

static const char *first_word(const char *line, size_t *len)
{
    while (*line == ' ' || *line == '\t')
        line++;
    *len = strcspn(line, " \t#");
    return line;
}

int repl_run(FILE *input, FILE *out, bool interactive)
{
    struct repl r = {.out = out, .interactive = interactive};
    struct lineedit e;
    lineedit_init(&e, commands_words());
    start(&r);
    if (interactive)
        fprintf(out, "mmsim %s: type scenario commands; .help lists them, .quit leaves.\n", MMSIM_VERSION);
    char *block = NULL;
    size_t block_len = 0;
    unsigned depth = 0, block_line = 0;
    char *line;
    while (!r.quit && (line = next_line(&r, &e, input, depth > 0)) != NULL) {
        r.line++;
        size_t wl;
        const char *w = first_word(line, &wl);
        if (!depth && w[0] == '.') {
            dot_command(&r, w);
            free(line);
            continue;
        }
        (void)strlist_add(&r.lines, line); /* out of memory: .save and .history miss it */
        if (wl == 6 && strncmp(w, "repeat", 6) == 0)
            depth++;
        else if (depth && wl == 3 && strncmp(w, "end", 3) == 0)
            depth--;
        size_t n = strlen(line);
        char *g = realloc(block, block_len + n + 2);
        if (g) {
            if (!block_len)
                block_line = r.line;
            block = g;
            memcpy(block + block_len, line, n);
            block_len += n;
            block[block_len++] = '\n';
        }
        free(line);
        if (depth || !g)
            continue;
        interp_run_chunk(&r.in, block, block_len, block_line);
        r.in.error = false; /* a mistake at the prompt is shown, not fatal */
        block_len = 0;
        fflush(out);
    }
    free(block);
    lineedit_free(&e);
    strlist_free(&r.lines);
    interp_fini(&r.in);
    return EXIT_SUCCESS_LAB;
}
