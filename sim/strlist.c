/* sim/strlist.c — see strlist.h. */
#include "strlist.h"

#include <stdlib.h>
#include <string.h>

bool strlist_add(struct strlist *l, const char *s)
{
    if (l->count == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 32;
        char **g = realloc(l->v, cap * sizeof *g);
        if (!g)
            return false;
        l->v = g;
        l->cap = cap;
    }
    char *copy = strdup(s);
    if (!copy)
        return false;
    l->v[l->count++] = copy;
    return true;
}

void strlist_truncate(struct strlist *l, size_t count)
{
    while (l->count > count)
        free(l->v[--l->count]);
}

void strlist_free(struct strlist *l)
{
    for (size_t i = 0; i < l->count; i++)
        free(l->v[i]);
    free(l->v);
    *l = (struct strlist){0};
}
