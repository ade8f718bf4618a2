/* sim/lineedit.c — the REPL's line editor. Keys: Left/Right (Ctrl-B/F),
 * Home/End (Ctrl-A/E), Backspace, Delete, Ctrl-K/U/W (kill to end, to
 * start, a word back), Up/Down (Ctrl-P/N) for history, Tab to complete the
 * command word, Ctrl-C to drop the line, Ctrl-D at an empty line to leave. */
#include "lineedit.h"

#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

void lineedit_init(struct lineedit *e, const char *const *words)
{
    memset(e, 0, sizeof *e);
    e->words = words;
}

void lineedit_free(struct lineedit *e) { strlist_free(&e->history); }

void lineedit_begin(struct lineedit *e)
{
    e->len = e->pos = e->pending_len = 0;
    e->buf[0] = 0;
    e->browse = e->history.count;
}

void lineedit_history_add(struct lineedit *e, const char *line)
{
    struct strlist *h = &e->history;
    if (!*line || (h->count && strcmp(h->v[h->count - 1], line) == 0))
        return;
    if (h->count == LINEEDIT_HISTORY_MAX) {
        free(h->v[0]);
        memmove(h->v, h->v + 1, --h->count * sizeof *h->v);
    }
    (void)strlist_add(h, line); /* out of memory: the line is just not remembered */
}

static void set_line(struct lineedit *e, const char *text)
{
    snprintf(e->buf, sizeof e->buf, "%s", text);
    e->len = e->pos = strlen(e->buf);
}

static void insert(struct lineedit *e, char c)
{
    if (e->len + 1 >= sizeof e->buf)
        return;
    memmove(e->buf + e->pos + 1, e->buf + e->pos, e->len - e->pos + 1);
    e->buf[e->pos++] = c;
    e->len++;
}

static void erase(struct lineedit *e, size_t from, size_t to)
{
    memmove(e->buf + from, e->buf + to, e->len - to + 1);
    e->len -= to - from;
    e->pos = from;
}

static void browse(struct lineedit *e, int delta)
{
    if (delta < 0 && e->browse == 0)
        return;
    size_t count = e->history.count;
    if (delta > 0 && e->browse >= count)
        return;
    if (e->browse == count)
        snprintf(e->draft, sizeof e->draft, "%s", e->buf);
    e->browse = (size_t)((long)e->browse + delta);
    set_line(e, e->browse == count ? e->draft : e->history.v[e->browse]);
}

/* Completes the word before the cursor when exactly one candidate starts
 * with it, or extends it to what all the candidates share: the first word
 * from `words`, a later one from `later_words`. */
static void complete(struct lineedit *e)
{
    size_t start = e->pos;
    while (start > 0 && e->buf[start - 1] != ' ' && e->buf[start - 1] != '\t')
        start--;
    const char *const *words = e->words;
    if (start > 0) {
        e->buf[e->len] = 0;
        words = e->later_words ? e->later_words(e->ctx, e->buf, start) : NULL;
    }
    if (!words)
        return;
    const char *typed = e->buf + start;
    size_t n = e->pos - start;
    const char *first = NULL;
    size_t common = 0;
    for (size_t i = 0; words[i]; i++) {
        if (strncmp(words[i], typed, n) != 0)
            continue;
        if (!first) {
            first = words[i];
            common = strlen(first);
        } else {
            size_t k = 0;
            while (k < common && first[k] == words[i][k])
                k++;
            common = k;
        }
    }
    for (size_t k = n; first && k < common; k++)
        insert(e, first[k]);
    bool unique = first && common == strlen(first);
    for (size_t i = 0; unique && words[i]; i++)
        unique = words[i] == first || strcmp(words[i], first) == 0 || strncmp(words[i], first, strlen(first)) != 0;
    if (unique && e->pos == e->len)
        insert(e, ' ');
}

static enum lineedit_result escape(struct lineedit *e)
{
    const unsigned char *p = e->pending;
    size_t n = e->pending_len;
    if (n == 1)
        return LINEEDIT_MORE; /* ESC: wait for the rest */
    if (p[1] != '[' && p[1] != 'O') {
        e->pending_len = 0; /* Alt and a key: ignored */
        return LINEEDIT_MORE;
    }
    unsigned char last = p[n - 1];
    if (n == 2 || (last >= '0' && last <= '9') || last == ';') {
        if (n == sizeof e->pending)
            e->pending_len = 2; /* too long for a key we know: read on to its end, keep none of it */
        return LINEEDIT_MORE;
    }
    e->pending_len = 0;
    switch (last) {
    case 'A': browse(e, -1); break;
    case 'B': browse(e, +1); break;
    case 'C': e->pos += e->pos < e->len; break;
    case 'D': e->pos -= e->pos > 0; break;
    case 'H': e->pos = 0; break;
    case 'F': e->pos = e->len; break;
    case '~':
        if (p[2] == '3' && e->pos < e->len)
            erase(e, e->pos, e->pos + 1);
        else if (p[2] == '1' || p[2] == '7')
            e->pos = 0;
        else if (p[2] == '4' || p[2] == '8')
            e->pos = e->len;
        break;
    default: break;
    }
    return LINEEDIT_MORE;
}

enum lineedit_result lineedit_feed(struct lineedit *e, unsigned char c)
{
    if (e->pending_len || c == 27) {
        e->pending[e->pending_len++] = c;
        return escape(e);
    }
    switch (c) {
    case '\r':
    case '\n': return LINEEDIT_DONE;
    case 1: e->pos = 0; break;                       /* Ctrl-A */
    case 2: e->pos -= e->pos > 0; break;             /* Ctrl-B */
    case 3: lineedit_begin(e); return LINEEDIT_CANCEL; /* Ctrl-C */
    case 4:                                          /* Ctrl-D */
        if (!e->len)
            return LINEEDIT_EOF;
        if (e->pos < e->len)
            erase(e, e->pos, e->pos + 1);
        break;
    case 5: e->pos = e->len; break;                  /* Ctrl-E */
    case 6: e->pos += e->pos < e->len; break;        /* Ctrl-F */
    case 8:
    case 127:                                        /* Backspace */
        if (e->pos)
            erase(e, e->pos - 1, e->pos);
        break;
    case 9: complete(e); break;                      /* Tab */
    case 11: e->buf[e->len = e->pos] = 0; break;     /* Ctrl-K */
    case 14: browse(e, +1); break;                   /* Ctrl-N */
    case 16: browse(e, -1); break;                   /* Ctrl-P */
    case 21: erase(e, 0, e->pos); break;             /* Ctrl-U */
    case 23: {                                       /* Ctrl-W */
        size_t k = e->pos;
        while (k && e->buf[k - 1] == ' ')
            k--;
        while (k && e->buf[k - 1] != ' ')
            k--;
        erase(e, k, e->pos);
        break;
    }
    default:
        if (c >= 32)
            insert(e, (char)c);
        break;
    }
    return LINEEDIT_MORE;
}

static void refresh(const struct lineedit *e, const char *prompt, FILE *out)
{
    fprintf(out, "\r%s%s\033[K\r", prompt, e->buf);
    size_t column = strlen(prompt) + e->pos;
    if (column)
        fprintf(out, "\033[%zuC", column);
    fflush(out);
}

char *lineedit_read(struct lineedit *e, const char *prompt, int fd, FILE *out)
{
    struct termios saved, raw;
    if (tcgetattr(fd, &saved) != 0)
        return NULL;
    raw = saved;
    raw.c_iflag &= ~(tcflag_t)(ICRNL | IXON | BRKINT | ISTRIP | INPCK);
    raw.c_lflag &= ~(tcflag_t)(ECHO | ICANON | IEXTEN | ISIG);
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    tcsetattr(fd, TCSANOW, &raw);
    lineedit_begin(e);
    refresh(e, prompt, out);
    enum lineedit_result r = LINEEDIT_MORE;
    unsigned char c;
    while (r == LINEEDIT_MORE || r == LINEEDIT_CANCEL) {
        if (read(fd, &c, 1) != 1) {
            r = LINEEDIT_EOF;
            break;
        }
        r = lineedit_feed(e, c);
        if (r == LINEEDIT_CANCEL)
            fputs("^C\r\n", out);
        refresh(e, prompt, out);
    }
    tcsetattr(fd, TCSANOW, &saved);
    fputs("\r\n", out);
    fflush(out);
    if (r == LINEEDIT_EOF)
        return NULL;
    lineedit_history_add(e, e->buf);
    return strdup(e->buf);
}
