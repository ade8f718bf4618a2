/* sim/script.c — lexer and parser of the scenario language (grammar in
 * docs/scenario-language.md). Line oriented: each non-empty line is one
 * statement; `#` starts a comment. Every error names its line and column. */
#include "script.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LINE 4096
#define MAX_TOKENS 64

static bool fail(struct script_error *err, unsigned line, unsigned col, const char *hint, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static bool fail(struct script_error *err, unsigned line, unsigned col, const char *hint, const char *fmt, ...)
{
    err->line = line;
    err->col = col;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    snprintf(err->hint, sizeof err->hint, "%s", hint ? hint : "");
    return false;
}

static bool word_start(int c) { return isalpha(c) || c == '_' || c == '!' || c == '$' || c == '.' || c == '-'; }
static bool word_char(int c) { return isalnum(c) || c == '_' || c == '!' || c == '$' || c == '.' || c == '-' || c == ':'; }

static char *dup_bytes(const char *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, p, n);
        s[n] = 0;
    }
    return s;
}

struct lexer {
    const char *p, *end;
    unsigned line;
    const char *line_start;
    struct script_error *err;
};

static unsigned column(const struct lexer *lx, const char *at) { return (unsigned)(at - lx->line_start) + 1; }

static int hex_digit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static bool lex_number(struct lexer *lx, struct token *t)
{
    const char *p = lx->p;
    uint64_t v = 0;
    unsigned base = 10;
    if (p[0] == '0' && p + 1 < lx->end && (p[1] == 'x' || p[1] == 'X')) {
        base = 16;
        p += 2;
    }
    const char *digits = p;
    for (; p < lx->end; p++) {
        int d = base == 16 ? hex_digit((unsigned char)*p) : (isdigit((unsigned char)*p) ? *p - '0' : -1);
        if (d < 0 && *p == '`' && base == 16) /* WinDbg's 0xfffff800`00000000 */
            continue;
        if (d < 0)
            break;
        if (v > (UINT64_MAX - (unsigned)d) / base)
            return fail(lx->err, lx->line, column(lx, lx->p), "numbers are 64-bit", "number too large");
        v = v * base + (unsigned)d;
    }
    if (p == digits)
        return fail(lx->err, lx->line, column(lx, lx->p), "write hex as 0x1F", "no digits after 0x");
    unsigned shift = 0;
    if (p < lx->end && (*p == 'K' || *p == 'M' || *p == 'G')) {
        shift = *p == 'K' ? 10 : *p == 'M' ? 20 : 30;
        p++;
    }
    if (p < lx->end && word_char((unsigned char)*p))
        return fail(lx->err, lx->line, column(lx, p), "a number may end in K, M or G (KiB, MiB, GiB)",
                    "unexpected '%c' in a number", *p);
    if (shift && v > (UINT64_MAX >> shift))
        return fail(lx->err, lx->line, column(lx, lx->p), "numbers are 64-bit", "number too large");
    t->kind = TOK_NUMBER;
    t->value = v << shift;
    t->text = dup_bytes(lx->p, (size_t)(p - lx->p));
    t->length = (size_t)(p - lx->p);
    lx->p = p;
    return t->text != NULL;
}

static bool lex_string(struct lexer *lx, struct token *t)
{
    const char *start = lx->p++;
    char *buf = malloc((size_t)(lx->end - lx->p) + 1);
    if (!buf)
        return fail(lx->err, lx->line, column(lx, start), NULL, "out of memory");
    size_t n = 0;
    while (lx->p < lx->end && *lx->p != '"') {
        char c = *lx->p++;
        if (c == '\\') {
            if (lx->p >= lx->end)
                break;
            char e = *lx->p++;
            if (e == 'n') {
                c = '\n';
            } else if (e == 't') {
                c = '\t';
            } else if (e == '0') {
                c = 0;
            } else if (e == '\\' || e == '"') {
                c = e;
            } else if (e == 'x' && lx->p + 1 < lx->end && hex_digit((unsigned char)lx->p[0]) >= 0 &&
                       hex_digit((unsigned char)lx->p[1]) >= 0) {
                c = (char)(hex_digit((unsigned char)lx->p[0]) * 16 + hex_digit((unsigned char)lx->p[1]));
                lx->p += 2;
            } else {
                free(buf);
                return fail(lx->err, lx->line, column(lx, lx->p - 2), "escapes: \\n \\t \\0 \\\\ \\\" \\xHH",
                            "unknown escape '\\%c'", e);
            }
        }
        buf[n++] = c;
    }
    if (lx->p >= lx->end) {
        free(buf);
        return fail(lx->err, lx->line, column(lx, start), "close the string with \" on the same line",
                    "unterminated string");
    }
    lx->p++;
    buf[n] = 0;
    *t = (struct token){.kind = TOK_STRING, .text = buf, .length = n};
    return true;
}

/* One line into tokens. */
static bool lex_line(struct lexer *lx, struct statement *st)
{
    while (lx->p < lx->end) {
        int c = (unsigned char)*lx->p;
        if (c == ' ' || c == '\t' || c == '\r') {
            lx->p++;
            continue;
        }
        if (c == '#')
            return true;
        if (st->count == MAX_TOKENS)
            return fail(lx->err, lx->line, column(lx, lx->p), "split the statement", "more than %d tokens on a line",
                        MAX_TOKENS);
        struct token *t = &st->tok[st->count];
        *t = (struct token){.line = lx->line, .col = column(lx, lx->p)};
        bool ok;
        if (isdigit(c)) {
            ok = lex_number(lx, t);
        } else if (c == '"') {
            ok = lex_string(lx, t);
        } else if (word_start(c)) {
            const char *s = lx->p;
            while (lx->p < lx->end && word_char((unsigned char)*lx->p))
                lx->p++;
            *t = (struct token){.kind = TOK_WORD, .line = t->line, .col = t->col, .text = dup_bytes(s, (size_t)(lx->p - s)),
                                .length = (size_t)(lx->p - s)};
            ok = t->text != NULL;
        } else if (strchr("=|+,()*", c)) {
            *t = (struct token){.kind = TOK_SYMBOL, .line = t->line, .col = t->col, .text = dup_bytes(lx->p, 1), .length = 1};
            lx->p++;
            ok = t->text != NULL;
        } else {
            return fail(lx->err, lx->line, column(lx, lx->p), "names are letters, digits, _ - . ! $ :",
                        isprint(c) ? "unexpected character '%c'" : "unexpected byte 0x%02x", c);
        }
        if (!ok)
            return false;
        t->line = lx->line;
        st->count++;
    }
    return true;
}

static void free_statement(struct statement *st)
{
    for (size_t i = 0; i < st->count; i++)
        free(st->tok[i].text);
    free(st->tok);
    free(st->source);
}

void script_free(struct script *s)
{
    for (size_t i = 0; i < s->count; i++)
        free_statement(&s->stmt[i]);
    free(s->stmt);
    *s = (struct script){0};
}

static bool push(struct script *s, struct statement *st)
{
    if (s->count == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 32;
        struct statement *n = realloc(s->stmt, cap * sizeof *n);
        if (!n)
            return false;
        s->stmt = n;
        s->cap = cap;
    }
    s->stmt[s->count++] = *st;
    return true;
}

bool script_parse(const char *text, size_t len, struct script *out, struct script_error *err)
{
    *out = (struct script){0};
    *err = (struct script_error){0};
    struct lexer lx = {.p = text, .end = text, .line = 0, .err = err};
    const char *end = text + len;
    while (lx.p < end) {
        lx.line++;
        lx.line_start = lx.p;
        const char *eol = memchr(lx.p, '\n', (size_t)(end - lx.p));
        lx.end = eol ? eol : end;
        const char *nul = memchr(lx.p, 0, (size_t)(lx.end - lx.p));
        bool ok = true;
        struct statement st = {.line = lx.line};
        if (nul) {
            ok = fail(err, lx.line, column(&lx, nul), "scripts are text", "NUL byte in the script");
        } else if (lx.end - lx.p > MAX_LINE) {
            ok = fail(err, lx.line, MAX_LINE + 1, "split the line", "line longer than %d characters", MAX_LINE);
        } else {
            st.tok = malloc(MAX_TOKENS * sizeof *st.tok);
            st.source = dup_bytes(lx.p, (size_t)(lx.end - lx.p));
            ok = (st.tok && st.source) ? lex_line(&lx, &st) : fail(err, lx.line, 1, NULL, "out of memory");
        }
        if (ok && st.count == 0) {
            free_statement(&st);
        } else if (!ok || !push(out, &st)) {
            if (ok)
                fail(err, lx.line, 1, NULL, "out of memory");
            free_statement(&st);
            script_free(out);
            return false;
        }
        lx.p = eol ? eol + 1 : end;
    }
    return true;
}

void script_error_print(FILE *out, const char *file, const struct script_error *err, const char *source_line)
{
    fprintf(out, "%s:%u:%u: error: %s\n", file ? file : "<script>", err->line, err->col, err->message);
    if (source_line) {
        fprintf(out, "%5u | ", err->line);
        for (const char *c = source_line; *c && *c != '\n'; c++)
            fputc(isprint((unsigned char)*c) || *c == '\t' ? *c : '?', out);
        fprintf(out, "\n      | %*s^", (int)(err->col > 1 ? err->col - 1 : 0), "");
        if (err->hint[0])
            fprintf(out, " %s", err->hint);
        fputc('\n', out);
    } else if (err->hint[0]) {
        fprintf(out, "  hint: %s\n", err->hint);
    }
}

char *script_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0, got;
    char *text = malloc(cap);
    while (text && (got = fread(text + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (n + 1 < cap)
            continue;
        char *g = cap < (64u << 20) ? realloc(text, cap * 2) : NULL;
        if (!g)
            free(text);
        text = g;
        cap *= 2;
    }
    fclose(f);
    if (text)
        text[n] = 0; /* a C string too */
    *len = n;
    return text;
}
