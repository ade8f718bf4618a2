/* sim/script.h — the scenario language's lexer and parser: a script becomes
 * a list of statements, each a command word and its tokens with their line
 * and column. Nothing here knows what a command does (see interp.h). */
#ifndef MMSIM_SCRIPT_H
#define MMSIM_SCRIPT_H

#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>

enum token_kind { TOK_WORD, TOK_NUMBER, TOK_STRING, TOK_SYMBOL };

struct token {
    enum token_kind kind;
    unsigned line, col;
    char *text;     /* the word, the decoded string (may hold NULs), or the symbol */
    size_t length;  /* of text */
    uint64_t value; /* TOK_NUMBER */
};

struct statement {
    unsigned line;
    char *source;   /* the line as written, without its newline */
    struct token *tok;
    size_t count;
};

struct script {
    struct statement *stmt;
    size_t count, cap;
    size_t tokens;  /* in all statements */
};

/* Limits on what a script may hold (docs/scenario-language.md, "Limits"):
 * they keep the memory a script can make mmsim use to a small multiple of
 * its size. */
#define SCRIPT_MAX_BYTES (64u << 20)       /* a file */
#define SCRIPT_MAX_LINE 4096               /* characters in a line */
#define SCRIPT_MAX_LINE_TOKENS 64          /* tokens in a line */
#define SCRIPT_MAX_STATEMENTS 1000000u     /* statements in a script */
#define SCRIPT_MAX_TOKENS 4000000u         /* tokens in a script */

/* Where a script went wrong, and a hint how to fix it. */
struct script_error {
    unsigned line, col;
    char message[160];
    char hint[160];
};

/* Parses `text` (len bytes; NULs are errors; a line may end in CR LF). On
 * error returns false, fills *err and leaves *out empty. A statement's
 * tokens, their texts and its source are one allocation (st->tok). */
bool script_parse(const char *text, size_t len, struct script *out, struct script_error *err);
void script_free(struct script *s);

/* The whole file, or standard input for "-" (malloc'd, *len bytes and a
 * NUL; at most SCRIPT_MAX_BYTES), or NULL with *why saying why not: "is a
 * directory", "larger than the 64 MiB limit", or the system's reason. */
char *script_read_file(const char *path, size_t *len, const char **why);
/* The comment block a script starts with (a lab's explanation), each line
 * without its '#' and one space: a malloc'd string, or NULL if there is none. */
char *script_header(const char *text, size_t len);

/* "line 3, column 7: message\n  3 | source\n    |       ^ hint" */
void script_error_print(FILE *out, const char *file, const struct script_error *err, const char *source_line);

#endif
