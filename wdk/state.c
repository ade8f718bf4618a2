/* wdk/state.c — the WDK layer's per-machine state (wdkstate.h): one for
 * the calling thread's machine, dropped when the thread moves to another
 * machine or to none. */
#include "wdkstate.h"

#include <stdio.h>
#include <stdlib.h>

static _Thread_local struct mmwdk_state *state;

static void *must(void *p)
{
    if (!p) {
        fputs("mmsim: out of host memory in the WDK layer\n", stderr);
        abort();
    }
    return p;
}

struct mmwdk_state *mmwdk_state(mm_machine *m)
{
    if (state && state->m != m)
        mmwdk_state_drop();
    if (!state) {
        state = must(calloc(1, sizeof *state));
        state->m = m;
    }
    return state;
}

#define FREE_HASH(head, type)                      \
    do {                                           \
        type *e_, *t_;                             \
        HASH_ITER(hh, head, e_, t_) {              \
            HASH_DEL(head, e_);                    \
            free(e_);                              \
        }                                          \
    } while (0)

void mmwdk_state_drop(void)
{
    if (!state)
        return;
    FREE_HASH(state->pool, struct mmwdk_pool_block);
    FREE_HASH(state->devices, struct mmwdk_name);
    FREE_HASH(state->links, struct mmwdk_name);
    FREE_HASH(state->requests, struct mmwdk_request);
    FREE_HASH(state->exact, struct mmwdk_exact_buffer);
    while (state->drivers) {
        struct mmwdk_driver *next = state->drivers->next;
        free(state->drivers);
        state->drivers = next;
    }
    while (state->files) {
        struct mmwdk_file *next = state->files->next;
        free(state->files);
        state->files = next;
    }
    free(state);
    state = NULL;
}

void mmwdk_pool_note(mm_machine *m, mm_va va, uint64_t bytes, uint32_t tag, void *caller)
{
    struct mmwdk_state *s = mmwdk_state(m);
    struct mmwdk_pool_block *b = NULL;
    HASH_FIND(hh, s->pool, &va, sizeof va, b);
    if (!b) {
        b = must(calloc(1, sizeof *b));
        b->va = va;
        HASH_ADD(hh, s->pool, va, sizeof b->va, b);
    }
    b->bytes = bytes;
    b->tag = tag;
    b->caller = caller;
}

void mmwdk_pool_forget(mm_machine *m, mm_va va)
{
    struct mmwdk_state *s = mmwdk_state(m);
    struct mmwdk_pool_block *b = NULL;
    HASH_FIND(hh, s->pool, &va, sizeof va, b);
    if (b) {
        HASH_DEL(s->pool, b);
        free(b);
    }
}

void mmwdk_narrow(PCUNICODE_STRING s, char *out, size_t size)
{
    size_t n = 0;
    if (s && s->Buffer)
        for (; n + 1 < size && n < s->Length / sizeof(WCHAR); n++)
            out[n] = s->Buffer[n] < 0x80 ? (char)s->Buffer[n] : '?';
    out[n] = 0;
}
