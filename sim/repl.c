/* sim/repl.c — the interactive scenario shell. Every line is a scenario
 * command, run at once against one machine; after each command the REPL
 * shows what it changed (frames' lists and counts, PTE writes, …). A
 * `repeat` block is collected until its `end`. Lines that start with a dot
 * talk to the REPL itself: .help .labs .lab NAME .show NAME .save FILE
 * .history .reset .quit. Piped input is read a bounded line at a time. */
#include "repl.h"

#include <errno.h>
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
    uint64_t max_steps;
    struct strlist lines; /* what was typed and ran cleanly (not dot-commands), for .save and .history */
    size_t kept;          /* bytes in lines */
    size_t block_first;   /* index in lines of the block's first line */
    const char **completions; /* Tab after the first word: verbs or names */
    size_t completions_cap;
    unsigned line;
    char *block;          /* a repeat block being typed */
    size_t block_len;
    unsigned depth, block_line;
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
    r->in.budget = r->max_steps;
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
        bool written = f && !ferror(f);
        if (!f || fclose(f) != 0 || !written)
            fprintf(r->out, "cannot write %s\n", arg);
        else
            fprintf(r->out, "%zu lines saved to %s (run it with mmsim run %s)\n", r->lines.count, arg, arg);
    } else {
        fprintf(r->out, "unknown REPL command '%s' (.help)\n", line);
    }
}

enum input { INPUT_LINE, INPUT_EOF, INPUT_TOO_LONG, INPUT_NUL, INPUT_ERROR };

#define LINE_ROOM (SCRIPT_MAX_LINE + 2) /* a line, a CR before its LF, and a NUL */
#define MAX_LINE_TEXT "4096"             /* SCRIPT_MAX_LINE, for messages */
_Static_assert(SCRIPT_MAX_LINE == 4096, "MAX_LINE_TEXT");

/* One line of piped input into buf (LINE_ROOM bytes). A longer line is
 * read to its end and dropped; a NUL byte means the input is not text. */
static enum input read_piped(FILE *input, char *buf)
{
    size_t n = 0;
    bool too_long = false;
    int c;
    while ((c = getc(input)) != EOF && c != '\n') {
        if (c == 0)
            return INPUT_NUL;
        if (n < LINE_ROOM - 1)
            buf[n++] = (char)c;
        else
            too_long = true;
    }
    if (c == EOF && ferror(input))
        return INPUT_ERROR;
    if (c == EOF && n == 0)
        return INPUT_EOF;
    if (n && buf[n - 1] == '\r') /* CR LF */
        n--;
    buf[n] = 0;
    return too_long || n > SCRIPT_MAX_LINE ? INPUT_TOO_LONG : INPUT_LINE;
}

static enum input next_line(struct repl *r, struct lineedit *e, FILE *input, char *buf)
{
    if (!r->interactive)
        return read_piped(input, buf);
    char *line = lineedit_read(e, r->depth ? "  ...> " : "mmsim> ", fileno(input), r->out);
    if (!line)
        return INPUT_EOF;
    snprintf(buf, LINE_ROOM, "%s", line); /* the editor's lines are shorter */
    free(line);
    return INPUT_LINE;
}

static const char *first_word(const char *line, size_t *len)
{
    while (*line == ' ' || *line == '\t')
        line++;
    *len = strcspn(line, " \t#");
    return line;
}

/* Keeps a typed line for .save and .history, up to REPL_MAX_KEPT bytes. */
static void keep(struct repl *r, const char *line)
{
    size_t n = strlen(line) + 1;
    if (r->kept + n > REPL_MAX_KEPT) {
        if (r->kept <= REPL_MAX_KEPT)
            fprintf(r->out, "(.save and .history keep only the first %u MiB of typed lines)\n",
                    REPL_MAX_KEPT >> 20);
        r->kept = REPL_MAX_KEPT + 1; /* said once */
        return;
    }
    if (strlist_add(&r->lines, line)) /* out of memory: .save and .history miss it */
        r->kept += n;
}

static void drop_block(struct repl *r, const char *why)
{
    fprintf(r->out, "repl:%u: error: %s; the repeat block from line %u is dropped\n", r->line, why, r->block_line);
    r->depth = 0;
    r->block_len = 0;
}

/* Adds a line to the block being collected; runs it once it is complete
 * (a line outside a repeat block is a block of its own). */
static void collect(struct repl *r, const char *line)
{
    size_t wl;
    const char *w = first_word(line, &wl);
    if (!r->block_len) {
        r->block_line = r->line;
        r->block_first = r->lines.count;
    }
    keep(r, line);
    if (wl == 6 && strncmp(w, "repeat", 6) == 0)
        r->depth++;
    else if (r->depth && wl == 3 && strncmp(w, "end", 3) == 0)
        r->depth--;
    size_t n = strlen(line);
    if (r->block_len + n + 1 > REPL_MAX_BLOCK) {
        drop_block(r, "the block is larger than a script may be (64 MiB)");
        return;
    }
    char *g = realloc(r->block, r->block_len + n + 2);
    if (!g) {
        drop_block(r, "out of memory");
        return;
    }
    r->block = g;
    memcpy(r->block + r->block_len, line, n);
    r->block_len += n;
    r->block[r->block_len++] = '\n';
    if (r->depth)
        return;
    unsigned failures = r->in.failures;
    bool dead = r->in.bugchecked;
    interp_run_chunk(&r->in, r->block, r->block_len, r->block_line);
    /* .save makes a script that runs as the session did: a block that
     * failed (an error, an expectation that did not hold) is not kept. */
    if (r->in.error || r->in.failures != failures)
        strlist_truncate(&r->lines, r->block_first);
    r->in.error = false; /* a mistake at the prompt is shown, not fatal */
    if (r->in.bugchecked && !dead)
        fprintf(r->out, "(the machine is dead: views such as !analyze -v and !findings still work; .reset starts "
                        "a new machine)\n");
    r->block_len = 0;
    fflush(r->out);
}

/* The end of the session: 0, or why it could not go on. */
static int stop(struct repl *r, enum input got)
{
    if (got == INPUT_NUL)
        fprintf(stderr, "mmsim: repl: line %u: a NUL byte: the input is not text\n", r->line + 1);
    else if (got == INPUT_ERROR)
        fprintf(stderr, "mmsim: repl: cannot read the input: %s\n", strerror(errno));
    return got == INPUT_NUL || got == INPUT_ERROR || ferror(r->out) ? EXIT_SCRIPT_ERROR : EXIT_SUCCESS_LAB;
}

/* Tab on a later word: the command's verbs for the second word when it has
 * them, else the names the session has made. */
static const char *const *later_words(void *ctx, const char *line, size_t word_start)
{
    struct repl *r = ctx;
    char command[32];
    size_t cl = strcspn(line, " \t");
    snprintf(command, sizeof command, "%.*s", (int)(cl < sizeof command ? cl : sizeof command - 1), line);
    size_t k = cl;
    while (line[k] == ' ' || line[k] == '\t')
        k++;
    const char *const *verbs = commands_verbs(command);
    if (verbs && k == word_start)
        return verbs;
    if (r->completions_cap < r->in.name_count + 1) {
        const char **g = realloc(r->completions, (r->in.name_count + 1) * sizeof *g);
        if (!g)
            return NULL;
        r->completions = g;
        r->completions_cap = r->in.name_count + 1;
    }
    for (size_t i = 0; i < r->in.name_count; i++)
        r->completions[i] = r->in.names[i].name;
    r->completions[r->in.name_count] = NULL;
    return r->completions;
}

int repl_run(FILE *input, FILE *out, bool interactive, uint64_t max_steps)
{
    struct repl r = {.out = out, .interactive = interactive, .max_steps = max_steps};
    struct lineedit e;
    char *buf = malloc(LINE_ROOM);
    if (!buf) {
        fprintf(stderr, "mmsim: repl: out of memory\n");
        return EXIT_SCRIPT_ERROR;
    }
    lineedit_init(&e, commands_words());
    e.later_words = later_words;
    e.ctx = &r;
    start(&r);
    if (interactive)
        fprintf(out, "mmsim %s: type scenario commands; .help lists them, .quit leaves.\n", MMSIM_VERSION);
    enum input got = INPUT_EOF;
    while (!r.quit && !ferror(out)) {
        errno = 0;
        got = next_line(&r, &e, input, buf);
        if (got == INPUT_EOF || got == INPUT_NUL || got == INPUT_ERROR)
            break;
        size_t wl;
        const char *w = first_word(buf, &wl);
        if (r.depth || w[0] != '.')
            r.line++; /* script lines only: .help and friends are not numbered */
        if (got == INPUT_TOO_LONG && r.depth)
            drop_block(&r, "line longer than " MAX_LINE_TEXT " characters");
        else if (got == INPUT_TOO_LONG)
            fprintf(out, "repl:%u:%d: error: line longer than " MAX_LINE_TEXT " characters; it is not run\n",
                    r.line, SCRIPT_MAX_LINE + 1);
        else if (!r.depth && w[0] == '.')
            dot_command(&r, w);
        else
            collect(&r, buf);
    }
    int rc = stop(&r, got);
    free(buf);
    free(r.block);
    lineedit_free(&e);
    strlist_free(&r.lines);
    free(r.completions);
    interp_fini(&r.in);
    return rc;
}
