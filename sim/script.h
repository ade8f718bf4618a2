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
};

/* Where a script went wrong, and a hint how to fix it. */
struct script_error {
    unsigned line, col;
    char message[160];
    char hint[160];
};

/* Parses `text` (len bytes; NULs are errors). On error returns false, fills
 * *err and leaves *out empty. */
bool script_parse(const char *text, size_t len, struct script *out, struct script_error *err);
void script_free(struct script *s);

/* The whole file (malloc'd, *len bytes and a NUL; at most 64 MiB), or NULL. */
char *script_read_file(const char *path, size_t *len);

/* "line 3, column 7: message\n  3 | source\n    |       ^ hint" */
void script_error_print(FILE *out, const char *file, const struct script_error *err, const char *source_line);

#endif
