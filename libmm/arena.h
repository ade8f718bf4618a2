/* libmm/arena.h — the snapshot arena: the bookkeeping allocator of a
 * machine made with cfg.snapshots. Every block lives in one host range, the
 * allocator's own state included, so the machine's whole bookkeeping is the
 * range's used prefix: a snapshot copies it, a restore copies it back. */
#ifndef MMI_ARENA_H
#define MMI_ARENA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mm/machine.h"

struct mmi_arena;

/* An arena sized for cfg (its reservation is address space only; host
 * memory is committed as blocks need it), filled into *out as an allocator
 * whose ctx is the arena. NULL when the host refuses. */
struct mmi_arena *mmi_arena_create(const struct mm_config *cfg, struct mm_allocator *out);
void mmi_arena_destroy(struct mmi_arena *a);
/* The arena behind an allocator, or NULL when it is another allocator. */
struct mmi_arena *mmi_arena_of(const struct mm_allocator *alloc);

/* Copies the used prefix aside (the snapshot); false when the host has no
 * memory for the copy. */
bool mmi_arena_save(struct mmi_arena *a);
/* Puts the saved prefix back and clears what was allocated since; the
 * caller has a saved state (mmi_arena_saved). */
void mmi_arena_restore(struct mmi_arena *a);
bool mmi_arena_saved(const struct mmi_arena *a);
/* A block's bytes [p, p + n) that a restore leaves as they are: state of
 * the host's that the bookkeeping holds (the simulated TLB, which mirrors
 * the host view). One range per arena; n 0 removes it. */
void mmi_arena_keep(struct mmi_arena *a, const void *p, size_t n);

#endif
