/* sim/strlist.h — a growing list of owned strings (REPL history, typed
 * lines, picture items). */
#ifndef MMSIM_STRLIST_H
#define MMSIM_STRLIST_H

#include <stdbool.h>
#include <stddef.h>

struct strlist {
    char **v;
    size_t count, cap;
};

/* Appends a copy of s; false when memory ran out (the list is unchanged). */
bool strlist_add(struct strlist *l, const char *s);
/* Drops the strings from index `count` on. */
void strlist_truncate(struct strlist *l, size_t count);
void strlist_free(struct strlist *l);

#endif
