/* libmm/bitmap.c — first-fit run allocation over a bitmap, with a hint that
 * skips the fully used prefix. */
#include "bitmap.h"

#include <assert.h>

#include "alloc.h"

bool mmi_bitmap_init(mm_machine *m, struct mmi_bitmap *b, uint64_t size)
{
    *b = (struct mmi_bitmap){.size = size};
    b->words = mmi_alloc(m, (size_t)((size + 63) / 64) * sizeof *b->words);
    return b->words != NULL;
}

void mmi_bitmap_fini(mm_machine *m, struct mmi_bitmap *b)
{
    mmi_free(m, b->words);
    b->words = NULL;
}

bool mmi_bitmap_test(const struct mmi_bitmap *b, uint64_t i)
{
    return i < b->size && (b->words[i / 64] >> (i % 64)) & 1;
}

static void set_range(struct mmi_bitmap *b, uint64_t i, uint64_t count)
{
    for (uint64_t k = i; k < i + count; k++) {
        assert(!mmi_bitmap_test(b, k));
        b->words[k / 64] |= UINT64_C(1) << (k % 64);
    }
    b->set += count;
}

uint64_t mmi_bitmap_find_set(struct mmi_bitmap *b, uint64_t count, uint64_t align)
{
    if (count == 0 || count > b->size - b->set)
        return MMI_BITMAP_NONE;
    uint64_t i = (b->hint + align - 1) / align * align;
    while (i + count <= b->size) {
        uint64_t k = 0;
        while (k < count && !mmi_bitmap_test(b, i + k))
            k++;
        if (k == count) {
            set_range(b, i, count);
            if (i == b->hint)
                b->hint = i + count;
            return i;
        }
        i = (i + k + 1 + align - 1) / align * align;
    }
    return MMI_BITMAP_NONE;
}

void mmi_bitmap_clear(struct mmi_bitmap *b, uint64_t i, uint64_t count)
{
    for (uint64_t k = i; k < i + count; k++) {
        assert(mmi_bitmap_test(b, k));
        b->words[k / 64] &= ~(UINT64_C(1) << (k % 64));
    }
    b->set -= count;
    if (i < b->hint)
        b->hint = i;
}

void mmi_bitmap_mark(struct mmi_bitmap *b, uint64_t i, bool on)
{
    assert(i < b->size);
    bool was = mmi_bitmap_test(b, i);
    if (was == on)
        return;
    if (on)
        b->words[i / 64] |= UINT64_C(1) << (i % 64);
    else
        b->words[i / 64] &= ~(UINT64_C(1) << (i % 64));
    b->set = on ? b->set + 1 : b->set - 1;
}
