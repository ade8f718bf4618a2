/* sim/script.c — lexer and parser of the scenario language (grammar in
 * docs/scenario-language.md). Line oriented: each non-empty line is one
 * statement; `#` starts a comment. Every error names its line and column. */
#include "script.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_LINE SCRIPT_MAX_LINE
#define MAX_TOKENS SCRIPT_MAX_LINE_TOKENS

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

/* A line's tokens are lexed into scratch space, then packed into one
 * allocation with the line's source (see pack). */
struct lexer {
    const char *p, *end;
    unsigned line;
    const char *line_start;
    struct script_error *err;
    char text[MAX_LINE + MAX_TOKENS + 1]; /* the tokens' texts, each NUL-terminated */
    size_t text_len;
};

/* Room for a token's text of up to n bytes (and its NUL) in the scratch
 * space: a line's texts are never longer than the line plus a NUL each. */
static char *scratch(struct lexer *lx) { return lx->text + lx->text_len; }

static void keep_text(struct lexer *lx, struct token *t, const char *p, size_t n)
{
    t->text = scratch(lx);
    memmove(t->text, p, n); /* a decoded string is already in place */
    t->text[n] = 0;
    t->length = n;
    lx->text_len += n + 1;
}

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
    unsigned base = 10, digits = 0;
    if (p[0] == '0' && p + 1 < lx->end && (p[1] == 'x' || p[1] == 'X')) {
        base = 16;
        p += 2;
    }
    for (; p < lx->end; p++) {
        int d = base == 16 ? hex_digit((unsigned char)*p) : (isdigit((unsigned char)*p) ? *p - '0' : -1);
        if (d < 0 && *p == '`' && base == 16 && digits) /* WinDbg's 0xfffff800`00000000 */
            continue;
        if (d < 0)
            break;
        if (v > (UINT64_MAX - (unsigned)d) / base)
            return fail(lx->err, lx->line, column(lx, lx->p), "numbers are 64-bit", "number too large");
        v = v * base + (unsigned)d;
        digits++;
    }
    if (!digits)
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
    keep_text(lx, t, lx->p, (size_t)(p - lx->p));
    lx->p = p;
    return true;
}

/* One escape after a backslash at lx->p; false (with the error) if unknown. */
static bool lex_escape(struct lexer *lx, char *out)
{
    char e = *lx->p++;
    if (e == 'n' || e == 't' || e == '0') {
        *out = e == 'n' ? '\n' : e == 't' ? '\t' : 0;
    } else if (e == '\\' || e == '"') {
        *out = e;
    } else if (e == 'x' && lx->p + 1 < lx->end && hex_digit((unsigned char)lx->p[0]) >= 0 &&
               hex_digit((unsigned char)lx->p[1]) >= 0) {
        *out = (char)(hex_digit((unsigned char)lx->p[0]) * 16 + hex_digit((unsigned char)lx->p[1]));
        lx->p += 2;
    } else {
        return fail(lx->err, lx->line, column(lx, lx->p - 2), "escapes: \\n \\t \\0 \\\\ \\\" \\xHH",
                    "unknown escape '\\%c'", e);
    }
    return true;
}

static bool lex_string(struct lexer *lx, struct token *t)
{
    const char *start = lx->p++;
    char *buf = scratch(lx); /* decoded, never longer than the source */
    size_t n = 0;
    while (lx->p < lx->end && *lx->p != '"') {
        char c = *lx->p++;
        if (c == '\\') {
            if (lx->p >= lx->end)
                break;
            if (!lex_escape(lx, &c))
                return false;
        }
        buf[n++] = c;
    }
    if (lx->p >= lx->end)
        return fail(lx->err, lx->line, column(lx, start), "close the string with \" on the same line",
                    "unterminated string");
    lx->p++;
    t->kind = TOK_STRING;
    keep_text(lx, t, buf, n); /* in place */
    return true;
}

/* One token at lx->p. */
static bool lex_token(struct lexer *lx, struct token *t)
{
    int c = (unsigned char)*lx->p;
    *t = (struct token){.line = lx->line, .col = column(lx, lx->p)};
    if (isdigit(c))
        return lex_number(lx, t);
    if (c == '"')
        return lex_string(lx, t);
    const char *s = lx->p;
    if (word_start(c)) {
        while (lx->p < lx->end && word_char((unsigned char)*lx->p))
            lx->p++;
        t->kind = TOK_WORD;
    } else if (strchr("=|+,()*", c)) {
        lx->p++;
        t->kind = TOK_SYMBOL;
    } else {
        return fail(lx->err, lx->line, column(lx, lx->p), "names are letters, digits, _ - . ! $ :",
                    isprint(c) ? "unexpected character '%c'" : "unexpected byte 0x%02x", c);
    }
    keep_text(lx, t, s, (size_t)(lx->p - s));
    return true;
}

/* One line into tokens (at most MAX_TOKENS, in tok). */
static bool lex_line(struct lexer *lx, struct token *tok, size_t *count)
{
    *count = 0;
    lx->text_len = 0;
    while (lx->p < lx->end) {
        int c = (unsigned char)*lx->p;
        if (c == ' ' || c == '\t' || c == '\r') {
            lx->p++;
            continue;
        }
        if (c == '#')
            return true;
        if (*count == MAX_TOKENS)
            return fail(lx->err, lx->line, column(lx, lx->p), "split the statement", "more than %d tokens on a line",
                        MAX_TOKENS);
        if (!lex_token(lx, &tok[*count]))
            return false;
        ++*count;
    }
    return true;
}

/* The statement as one allocation: its tokens, then its source, then the
 * tokens' texts (moved from the lexer's scratch space). */
static bool pack(struct statement *st, const struct lexer *lx, const struct token *tok, size_t count,
                 const char *source, size_t source_len)
{
    size_t head = count * sizeof *tok;
    char *block = malloc(head + source_len + 1 + lx->text_len);
    if (!block)
        return false;
    st->tok = (struct token *)(void *)block;
    st->count = count;
    st->source = block + head;
    memcpy(st->source, source, source_len);
    st->source[source_len] = 0;
    char *texts = st->source + source_len + 1;
    memcpy(texts, lx->text, lx->text_len);
    for (size_t i = 0; i < count; i++) {
        st->tok[i] = tok[i];
        st->tok[i].text = texts + (tok[i].text - lx->text);
    }
    return true;
}

void script_free(struct script *s)
{
    for (size_t i = 0; i < s->count; i++)
        free(s->stmt[i].tok);
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
    s->tokens += st->count;
    return true;
}

/* Checks the line at lx->p .. lx->end, lexes it and adds its statement. */
static bool parse_line(struct lexer *lx, struct script *out)
{
    const char *nul = memchr(lx->p, 0, (size_t)(lx->end - lx->p));
    if (nul)
        return fail(lx->err, lx->line, column(lx, nul), "scripts are text", "NUL byte in the script");
    if (lx->end - lx->p > MAX_LINE)
        return fail(lx->err, lx->line, MAX_LINE + 1, "split the line", "line longer than %d characters", MAX_LINE);
    const char *source = lx->p;
    size_t source_len = (size_t)(lx->end - lx->p), count;
    struct token tok[MAX_TOKENS];
    if (!lex_line(lx, tok, &count))
        return false;
    if (!count)
        return true;
    if (out->count == SCRIPT_MAX_STATEMENTS || out->tokens + count > SCRIPT_MAX_TOKENS)
        return fail(lx->err, lx->line, 1, "split the script",
                    out->count == SCRIPT_MAX_STATEMENTS ? "more than %u statements in a script"
                                                        : "more than %u tokens in a script",
                    out->count == SCRIPT_MAX_STATEMENTS ? SCRIPT_MAX_STATEMENTS : SCRIPT_MAX_TOKENS);
    struct statement st = {.line = lx->line};
    if (!pack(&st, lx, tok, count, source, source_len))
        return fail(lx->err, lx->line, 1, NULL, "out of memory");
    if (!push(out, &st)) {
        free(st.tok);
        return fail(lx->err, lx->line, 1, NULL, "out of memory");
    }
    return true;
}

bool script_parse(const char *text, size_t len, struct script *out, struct script_error *err)
{
    *out = (struct script){0};
    *err = (struct script_error){0};
    struct lexer *lx = malloc(sizeof *lx);
    if (!lx)
        return fail(err, 1, 1, NULL, "out of memory");
    *lx = (struct lexer){.p = text, .line = 0, .err = err};
    const char *end = text + len;
    bool ok = true;
    while (ok && lx->p < end) {
        lx->line++;
        lx->line_start = lx->p;
        const char *eol = memchr(lx->p, '\n', (size_t)(end - lx->p));
        lx->end = eol ? eol : end;
        if (lx->end > lx->p && lx->end[-1] == '\r') /* CR LF */
            lx->end--;
        ok = parse_line(lx, out);
        lx->p = eol ? eol + 1 : end;
    }
    free(lx);
    if (!ok)
        script_free(out);
    return ok;
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

/* Reads f to its end, or to one byte past the limit; NULL with *why on a
 * read error or when the limit is passed. */
static char *read_all(FILE *f, size_t hint, size_t *len, const char **why)
{
    size_t cap = hint < SCRIPT_MAX_BYTES ? hint + 2 : (size_t)SCRIPT_MAX_BYTES + 2, n = 0, got;
    char *text = malloc(cap);
    while (text && (got = fread(text + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (n > SCRIPT_MAX_BYTES)
            break;
        if (n + 1 < cap)
            continue;
        size_t more = cap * 2 < (size_t)SCRIPT_MAX_BYTES + 2 ? cap * 2 : (size_t)SCRIPT_MAX_BYTES + 2;
        char *g = realloc(text, more);
        if (!g)
            free(text);
        text = g;
        cap = more;
    }
    *why = !text ? strerror(ENOMEM) : ferror(f) ? strerror(errno ? errno : EIO)
         : n > SCRIPT_MAX_BYTES ? "larger than the 64 MiB limit" : NULL;
    if (*why) {
        free(text);
        return NULL;
    }
    text[n] = 0; /* a C string too */
    *len = n;
    return text;
}

char *script_read_file(const char *path, size_t *len, const char **why)
{
    bool std_in = strcmp(path, "-") == 0;
    FILE *f = std_in ? stdin : fopen(path, "rb");
    struct stat sb;
    *len = 0;
    *why = NULL;
    if (!f || fstat(fileno(f), &sb) != 0) {
        *why = strerror(errno);
    } else if (S_ISDIR(sb.st_mode)) {
        *why = "is a directory";
    } else if (S_ISREG(sb.st_mode) && (uint64_t)sb.st_size > SCRIPT_MAX_BYTES) {
        *why = "larger than the 64 MiB limit";
    }
    char *text = NULL;
    if (!*why) {
        errno = 0;
        text = read_all(f, S_ISREG(sb.st_mode) ? (size_t)sb.st_size : 65536, len, why);
    }
    if (f && !std_in)
        fclose(f);
    return text;
}

char *script_header(const char *text, size_t len)
{
    size_t n = 0;
    while (n < len && text[n] == '#') { /* the block ends at the first line that is not a comment */
        const char *nl = memchr(text + n, '\n', len - n);
        n = nl ? (size_t)(nl - text) + 1 : len;
    }
    if (!n)
        return NULL;
    char *out = malloc(n + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n;) {
        i++; /* the '#' */
        if (i < n && text[i] == ' ')
            i++;
        while (i < n && text[i] != '\n') {
            if (text[i] != '\r')
                *o++ = text[i];
            i++;
        }
        *o++ = '\n';
        i++;
    }
    *o = 0;
    return out;
}
