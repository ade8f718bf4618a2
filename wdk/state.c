/* wdk/state.c — the WDK layer's per-machine state (wdkstate.h): the
 * machine's extension, allocated in the machine's memory, released with the
 * machine. */
#include "wdkstate.h"

#include <stdio.h>
#include <stdlib.h>

/* The machine whose state a hash table belongs to while it is torn down
 * (the machine's destruction may run on a thread using another one). */
static _Thread_local mm_machine *hash_owner;

void *mmwdk_alloc(mm_machine *m, size_t size)
{
    void *p = mm_machine_alloc(m, size);
    if (!p) {
        fputs("mmsim: out of host memory in the WDK layer\n", stderr);
        abort();
    }
    return p;
}

void mmwdk_free(mm_machine *m, void *p) { mm_machine_free(m, p); }

void *mmwdk_hash_alloc(size_t size) { return mmwdk_alloc(hash_owner ? hash_owner : mmwdk_machine(), size); }
void mmwdk_hash_free(void *p) { mmwdk_free(hash_owner ? hash_owner : mmwdk_machine(), p); }

#define FREE_HASH(m, head, type)                   \
    do {                                           \
        type *e_, *t_;                             \
        HASH_ITER(hh, head, e_, t_) {              \
            HASH_DEL(head, e_);                    \
            mmwdk_free(m, e_);                     \
        }                                          \
    } while (0)

/* At the machine's destruction. */
static void release(mm_machine *m, void *extension)
{
    struct mmwdk_state *s = extension;
    mm_machine *outer = hash_owner;
    hash_owner = m;
    FREE_HASH(m, s->pool, struct mmwdk_pool_block);
    FREE_HASH(m, s->devices, struct mmwdk_name);
    FREE_HASH(m, s->links, struct mmwdk_name);
    FREE_HASH(m, s->requests, struct mmwdk_request);
    FREE_HASH(m, s->exact, struct mmwdk_exact_buffer);
    hash_owner = outer;
    while (s->drivers) {
        struct mmwdk_driver *next = s->drivers->next;
        mmwdk_free(m, s->drivers);
        s->drivers = next;
    }
    while (s->files) {
        struct mmwdk_file *next = s->files->next;
        mmwdk_free(m, s->files);
        s->files = next;
    }
    mmwdk_free(m, s->injection);
    mmwdk_free(m, s->adversary);
    mmwdk_free(m, s);
    mm_machine_set_extension(m, NULL, NULL);
}

struct mmwdk_state *mmwdk_state(mm_machine *m)
{
    struct mmwdk_state *s = mm_machine_extension(m);
    if (!s) {
        s = mmwdk_alloc(m, sizeof *s);
        s->m = m;
        mm_machine_set_extension(m, s, release);
    }
    return s;
}

void mmwdk_pool_note(mm_machine *m, mm_va va, uint64_t bytes, uint32_t tag, void *caller)
{
    struct mmwdk_state *s = mmwdk_state(m);
    struct mmwdk_pool_block *b = NULL;
    HASH_FIND(hh, s->pool, &va, sizeof va, b);
    if (!b) {
        b = mmwdk_alloc(m, sizeof *b);
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
        mmwdk_free(m, b);
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
