/* libmm/alloc.h — every host allocation of the model goes through the
 * machine's allocator hook, so tests can fail the Nth one and count leaks. */
#ifndef MMI_ALLOC_H
#define MMI_ALLOC_H

#include "mm/machine.h"

void *mmi_alloc(mm_machine *m, size_t size);            /* zeroed; NULL on failure */
void *mmi_realloc(mm_machine *m, void *p, size_t size); /* NULL on failure, p kept */
void mmi_free(mm_machine *m, void *p);                  /* NULL is a no-op */
/* Makes room for `need` elements in a growing array (doubling from
 * `initial`); false, with the array untouched, when the host refuses. */
bool mmi_grow(mm_machine *m, void **array, size_t *cap, size_t need, size_t elem, size_t initial);

/* Allocation before the machine exists (machine_create). */
void *mmi_alloc_with(const struct mm_allocator *a, size_t size);
void mmi_free_with(const struct mm_allocator *a, void *p);
void mmi_allocator_resolve(struct mm_allocator *out, const struct mm_allocator *in);

/* uthash allocates through the machine named `uthash_m` in scope, and
 * reports a failed insert instead of exiting. */
#define HASH_NONFATAL_OOM 1
#define uthash_malloc(sz) mmi_alloc(uthash_m, (sz))
#define uthash_free(ptr, sz) mmi_free(uthash_m, (ptr))
#define uthash_nonfatal_oom(obj) (uthash_failed = true)

#endif
