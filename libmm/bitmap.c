/* libmm/bitmap.c — first-fit run allocation over a bitmap. A second, small
 * bitmap marks the words that are full, so a search skips a used stretch
 * 4096 bits at a time whatever order things were freed in; a hint skips the
 * fully used prefix. */
#include "bitmap.h"

#include <assert.h>
#include <string.h>

#include "alloc.h"

#define FULL UINT64_MAX

bool mmi_bitmap_init_growable(mm_machine *m, struct mmi_bitmap *b, uint64_t initial, uint64_t max)
{
    if (initial > max)
        initial = max;
    uint64_t words = (initial + 63) / 64;
    *b = (struct mmi_bitmap){.size = initial, .max = max, .owner = m};
    b->words = mmi_alloc(m, (size_t)words * sizeof *b->words);
    b->full = mmi_alloc(m, (size_t)((words + 63) / 64) * sizeof *b->full);
    return b->words != NULL && b->full != NULL;
}

bool mmi_bitmap_init(mm_machine *m, struct mmi_bitmap *b, uint64_t size)
{
    return mmi_bitmap_init_growable(m, b, size, size);
}

/* Doubles the storage (at least to `need` bits, at most to max); false when
 * it cannot grow. The new words are clear. */
static bool grow(struct mmi_bitmap *b, uint64_t need)
{
    if (b->size >= b->max)
        return false;
    uint64_t size = b->size * 2 > need ? b->size * 2 : need;
    if (size > b->max)
        size = b->max;
    uint64_t old_words = (b->size + 63) / 64, words = (size + 63) / 64;
    uint64_t old_sums = (old_words + 63) / 64, sums = (words + 63) / 64;
    uint64_t *w = mmi_realloc(b->owner, b->words, (size_t)words * sizeof *w);
    if (!w)
        return false;
    b->words = w;
    uint64_t *f = mmi_realloc(b->owner, b->full, (size_t)sums * sizeof *f);
    if (!f)
        return false;
    b->full = f;
    memset(w + old_words, 0, (size_t)(words - old_words) * sizeof *w);
    memset(f + old_sums, 0, (size_t)(sums - old_sums) * sizeof *f);
    b->size = size;
    return true;
}

void mmi_bitmap_fini(mm_machine *m, struct mmi_bitmap *b)
{
    mmi_free(m, b->words);
    mmi_free(m, b->full);
    b->words = b->full = NULL;
}

static void note_word(struct mmi_bitmap *b, uint64_t w)
{
    uint64_t bit = UINT64_C(1) << (w % 64);
    if (b->words[w] == FULL)
        b->full[w / 64] |= bit;
    else
        b->full[w / 64] &= ~bit;
}

/* The bits of word w that [i, i + count) covers. */
static uint64_t word_mask(uint64_t w, uint64_t i, uint64_t count)
{
    uint64_t lo = i > w * 64 ? i - w * 64 : 0, hi = i + count - w * 64 < 64 ? i + count - w * 64 : 64;
    return (hi - lo == 64 ? FULL : ((UINT64_C(1) << (hi - lo)) - 1)) << lo;
}

/* Sets or clears the bits `mask` of word w (all clear / all set before). */
static inline void change_word(struct mmi_bitmap *b, uint64_t w, uint64_t mask, bool on)
{
    assert((b->words[w] & mask) == (on ? 0 : mask));
    b->words[w] = on ? b->words[w] | mask : b->words[w] & ~mask;
    note_word(b, w);
}

static void change_words(struct mmi_bitmap *b, uint64_t i, uint64_t count, bool on)
{
    for (uint64_t w = i / 64; w * 64 < i + count; w++)
        change_word(b, w, word_mask(w, i, count), on);
}

/* Sets or clears [i, i + count) a word at a time; most runs lie in one. */
static inline void change_range(struct mmi_bitmap *b, uint64_t i, uint64_t count, bool on)
{
    if (i % 64 + count <= 64)
        change_word(b, i / 64, word_mask(i / 64, i, count), on);
    else
        change_words(b, i, count, on);
}

static void set_range(struct mmi_bitmap *b, uint64_t i, uint64_t count)
{
    change_range(b, i, count, true);
    b->set += count;
}

/* How many clear bits follow from i, counting no further than count. */
static uint64_t clear_run(const struct mmi_bitmap *b, uint64_t i, uint64_t count)
{
    uint64_t k = 0;
    while (k < count) {
        uint64_t at = i + k, bits = b->words[at / 64] >> (at % 64);
        uint64_t room = 64 - at % 64;
        if (bits)
            room = (uint64_t)__builtin_ctzll(bits) < room ? (uint64_t)__builtin_ctzll(bits) : room;
        k += room;
        if (bits && room < 64 - at % 64)
            break; /* a set bit ends the run */
    }
    return k < count ? k : count;
}

/* The first bit at or after i that lies in a word with a clear bit. */
static uint64_t skip_full_words(const struct mmi_bitmap *b, uint64_t i)
{
    uint64_t w = i / 64;
    uint64_t words = (b->size + 63) / 64;
    if (w >= words || b->words[w] != FULL)
        return i;
    for (uint64_t s = w / 64; s < (words + 63) / 64; s++) {
        uint64_t free_words = ~b->full[s];
        if (s == w / 64)
            free_words &= FULL << (w % 64); /* words before w do not count */
        if (free_words)
            return (s * 64 + (uint64_t)__builtin_ctzll(free_words)) * 64;
    }
    return b->size;
}

/* The first clear bit at or after i within i's word, or the next word's
 * first bit (skip_full_words goes on from there): a run of set bits is
 * passed at once, not bit by bit. */
static uint64_t next_clear(const struct mmi_bitmap *b, uint64_t i)
{
    if (i >= b->size)
        return i;
    uint64_t clear = ~b->words[i / 64] >> (i % 64);
    return clear ? i + (uint64_t)__builtin_ctzll(clear) : (i / 64 + 1) * 64;
}

static uint64_t find_set(struct mmi_bitmap *b, uint64_t count, uint64_t align);

uint64_t mmi_bitmap_find_set(struct mmi_bitmap *b, uint64_t count, uint64_t align)
{
    uint64_t at = find_set(b, count, align);
    while (at == MMI_BITMAP_NONE && count && grow(b, b->size + count))
        at = find_set(b, count, align);
    return at;
}

/* The bits of `clear` at which a run of `count` (1 to 64) clear bits starts
 * inside the word: the run-length doubling of RtlFindClearBits, in
 * registers. */
static uint64_t run_starts(uint64_t clear, uint64_t count)
{
    for (uint64_t have = 1; have < count && clear;) {
        uint64_t step = have < count - have ? have : count - have;
        clear &= clear >> step;
        have += step;
    }
    return clear;
}

/* First fit inside the word that holds the hint, for an unaligned run of at
 * most 64 bits (a one-page system PTE or pool VA run, a page-file slot).
 * Nothing below the hint is clear, and a run that starts earlier in the
 * word but crosses into the next would contain this one, so the lowest run
 * inside the word is the lowest run of all. NONE: search the slow way. */
static uint64_t find_set_at_hint(struct mmi_bitmap *b, uint64_t count)
{
    uint64_t w = b->hint / 64;
    if (count > 64 || b->hint >= b->size)
        return MMI_BITMAP_NONE;
    uint64_t starts = run_starts(~b->words[w] & (FULL << (b->hint % 64)), count);
    if (!starts)
        return MMI_BITMAP_NONE;
    uint64_t i = w * 64 + (uint64_t)__builtin_ctzll(starts);
    if (i + count > b->size)
        return MMI_BITMAP_NONE;
    set_range(b, i, count);
    if (i == b->hint)
        b->hint = i + count;
    return i;
}

static uint64_t find_set(struct mmi_bitmap *b, uint64_t count, uint64_t align)
{
    if (count == 0 || count > b->size - b->set)
        return MMI_BITMAP_NONE;
    if (align == 1) {
        uint64_t fast = find_set_at_hint(b, count);
        if (fast != MMI_BITMAP_NONE)
            return fast;
    }
    uint64_t i = (b->hint + align - 1) / align * align;
    while (i + count <= b->size) {
        uint64_t skipped = skip_full_words(b, i);
        if (skipped != i) {
            i = (skipped + align - 1) / align * align;
            continue;
        }
        uint64_t k = clear_run(b, i, count);
        if (k == count) {
            set_range(b, i, count);
            if (i == b->hint)
                b->hint = i + count;
            return i;
        }
        i = (next_clear(b, i + k) + align - 1) / align * align;
    }
    return MMI_BITMAP_NONE;
}

void mmi_bitmap_clear(struct mmi_bitmap *b, uint64_t i, uint64_t count)
{
    if (!count)
        return;
    change_range(b, i, count, false);
    b->set -= count;
    if (i < b->hint)
        b->hint = i;
}

void mmi_bitmap_mark(struct mmi_bitmap *b, uint64_t i, bool on)
{
    assert(i < b->size);
    uint64_t bit = UINT64_C(1) << (i % 64);
    if (!(b->words[i / 64] & bit) != on)
        return; /* already so */
    change_word(b, i / 64, bit, on);
    b->set = on ? b->set + 1 : b->set - 1;
    if (!on && i < b->hint)
        b->hint = i; /* no clear bit below the hint, whatever the bitmap is for */
}
