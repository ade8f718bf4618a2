/* sim/lineedit.h — a small line editor for the REPL: cursor movement,
 * deletion, history (up/down) and completion of words, on a
 * terminal in raw mode. The key handling is separate from the terminal so
 * that tests can drive it with byte strings. */
#ifndef MMSIM_LINEEDIT_H
#define MMSIM_LINEEDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "strlist.h"

#define LINEEDIT_MAX 1024
#define LINEEDIT_HISTORY_MAX 1000 /* lines remembered; the oldest go first */

struct lineedit {
    char buf[LINEEDIT_MAX];
    size_t len, pos;
    struct strlist history;
    size_t browse;             /* browse == history.count: editing a new line */
    char draft[LINEEDIT_MAX];  /* the new line, kept while browsing history */
    const char *const *words;  /* completions for the first word (NULL-terminated), or NULL */
    /* Completions for a later word: given the line and where the word being
     * completed starts, a NULL-terminated list (valid until the next call),
     * or NULL. Optional. */
    const char *const *(*later_words)(void *ctx, const char *line, size_t word_start);
    void *ctx;
    unsigned char pending[8];  /* an escape sequence read so far */
    size_t pending_len;
};

enum lineedit_result { LINEEDIT_MORE, LINEEDIT_DONE, LINEEDIT_EOF, LINEEDIT_CANCEL };

void lineedit_init(struct lineedit *e, const char *const *words);
void lineedit_free(struct lineedit *e);
/* Starts a new line. */
void lineedit_begin(struct lineedit *e);
/* Feeds one byte; DONE when Enter ends the line (in e->buf), EOF on Ctrl-D
 * at an empty line, CANCEL on Ctrl-C. */
enum lineedit_result lineedit_feed(struct lineedit *e, unsigned char c);
void lineedit_history_add(struct lineedit *e, const char *line);
/* Reads a line from a terminal: a malloc'd string, or NULL at end of input. */
char *lineedit_read(struct lineedit *e, const char *prompt, int fd, FILE *out);

#endif
