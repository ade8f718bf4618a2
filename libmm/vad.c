/* libmm/vad.c — the VAD table: an AVL tree ordered by start address. Each
 * node also knows its subtree's lowest start, highest end and largest
 * aligned hole, so the first free range of a given size is found by one
 * descent. Nodes are allocated one each, so a VAD pointer stays valid until
 * that VAD is removed. */
#include "vad.h"

#include "alloc.h"

#define GRANULE ((mm_va)MM_ALLOCATION_GRANULARITY)

static mm_va align_up(mm_va va) { return (va + GRANULE - 1) & ~(GRANULE - 1); }

/* The hole between the end of one VAD and the start of the next, as a new
 * reservation would see it (starting on a 64 KiB boundary). */
static uint64_t hole(mm_va after, mm_va before)
{
    mm_va from = align_up(after);
    return before > from ? before - from : 0;
}

static int height(const struct mmi_vad *n) { return n ? n->height : 0; }
static uint64_t max3(uint64_t a, uint64_t b, uint64_t c) { return a > b ? (a > c ? a : c) : (b > c ? b : c); }

static void update(struct mmi_vad *n)
{
    int hl = height(n->left), hr = height(n->right);
    n->height = 1 + (hl > hr ? hl : hr);
    n->min_start = n->left ? n->left->min_start : n->start;
    n->max_end = n->right ? n->right->max_end : n->end;
    uint64_t before = n->left ? hole(n->left->max_end, n->start) : 0;
    uint64_t after = n->right ? hole(n->end, n->right->min_start) : 0;
    n->max_gap = max3(n->left ? n->left->max_gap : 0, n->right ? n->right->max_gap : 0, before > after ? before : after);
}

static struct mmi_vad *rotate_right(struct mmi_vad *n)
{
    struct mmi_vad *l = n->left;
    n->left = l->right;
    l->right = n;
    update(n);
    update(l);
    return l;
}

static struct mmi_vad *rotate_left(struct mmi_vad *n)
{
    struct mmi_vad *r = n->right;
    n->right = r->left;
    r->left = n;
    update(n);
    update(r);
    return r;
}

static struct mmi_vad *balance(struct mmi_vad *n)
{
    update(n);
    int b = height(n->left) - height(n->right);
    if (b > 1) {
        if (height(n->left->left) < height(n->left->right))
            n->left = rotate_left(n->left);
        return rotate_right(n);
    }
    if (b < -1) {
        if (height(n->right->right) < height(n->right->left))
            n->right = rotate_right(n->right);
        return rotate_left(n);
    }
    return n;
}

static struct mmi_vad *insert(struct mmi_vad *n, struct mmi_vad *node)
{
    if (!n)
        return node;
    if (node->start < n->start)
        n->left = insert(n->left, node);
    else
        n->right = insert(n->right, node);
    return balance(n);
}

static struct mmi_vad *remove_min(struct mmi_vad *n, struct mmi_vad **min)
{
    if (!n->left) {
        *min = n;
        return n->right;
    }
    n->left = remove_min(n->left, min);
    return balance(n);
}

/* Unlinks the node that starts at `start` (the node itself moves nowhere:
 * its in-order successor takes its place in the tree). */
static struct mmi_vad *remove(struct mmi_vad *n, mm_va start)
{
    if (!n)
        return NULL;
    if (start < n->start) {
        n->left = remove(n->left, start);
    } else if (start > n->start) {
        n->right = remove(n->right, start);
    } else {
        if (!n->left || !n->right)
            return n->left ? n->left : n->right;
        struct mmi_vad *successor;
        struct mmi_vad *right = remove_min(n->right, &successor);
        successor->left = n->left;
        successor->right = right;
        n = successor;
    }
    return balance(n);
}

/* As MiLocateAddress: the hint first (faults and releases come in runs on
 * one VAD), then a descent that leaves its answer as the next hint. */
struct mmi_vad *mmi_vad_find(struct mmi_vad_table *t, mm_va va)
{
    struct mmi_vad *h = t->hint;
    if (h && va >= h->start && va < h->end)
        return h;
    for (struct mmi_vad *n = t->root; n;) {
        if (va < n->start)
            n = n->left;
        else if (va >= n->end)
            n = n->right;
        else
            return t->hint = n;
    }
    return NULL;
}

/* The VAD with the highest start below `limit`. */
static const struct mmi_vad *floor_below(const struct mmi_vad_table *t, mm_va limit)
{
    const struct mmi_vad *best = NULL;
    for (const struct mmi_vad *n = t->root; n;) {
        if (n->start < limit) {
            best = n;
            n = n->right;
        } else {
            n = n->left;
        }
    }
    return best;
}

bool mmi_vad_range_free(const struct mmi_vad_table *t, mm_va start, mm_va end)
{
    const struct mmi_vad *v = floor_below(t, end);
    return !v || v->end <= start;
}

/* The lowest hole of `bytes` in n's subtree, whose in-order predecessor
 * outside it ends at prev_end; 0 if there is none before the subtree's end. */
static mm_va first_fit(const struct mmi_vad *n, mm_va prev_end, uint64_t bytes)
{
    while (n) {
        if (hole(prev_end, n->min_start) >= bytes)
            return align_up(prev_end);
        if (n->max_gap < bytes)
            return 0;
        if (n->left && n->left->max_gap >= bytes)
            return first_fit(n->left, prev_end, bytes);
        mm_va before = n->left ? n->left->max_end : prev_end;
        if (hole(before, n->start) >= bytes)
            return align_up(before);
        prev_end = n->end;
        n = n->right;
    }
    return 0;
}

void mmi_vad_init(struct mmi_vad_table *t, mm_va lowest, mm_va top)
{
    *t = (struct mmi_vad_table){.lowest = lowest, .top = top};
}

mm_va mmi_vad_find_free(const struct mmi_vad_table *t, uint64_t bytes)
{
    if (!t->root)
        return hole(t->lowest, t->top) >= bytes ? align_up(t->lowest) : 0;
    mm_va at = first_fit(t->root, t->lowest, bytes);
    if (at)
        return at;
    return hole(t->root->max_end, t->top) >= bytes ? align_up(t->root->max_end) : 0;
}

struct mmi_vad *mmi_vad_insert(mm_machine *m, struct mmi_vad_table *t, const struct mmi_vad *vad)
{
    struct mmi_vad *node = mmi_alloc(m, sizeof *node);
    if (!node)
        return NULL;
    *node = *vad;
    node->left = node->right = NULL;
    update(node);
    t->root = insert(t->root, node);
    t->count++;
    t->hint = node; /* a new VAD is usually touched next */
    return node;
}

void mmi_vad_remove(mm_machine *m, struct mmi_vad_table *t, struct mmi_vad *vad)
{
    t->root = remove(t->root, vad->start);
    t->count--;
    if (t->hint == vad)
        t->hint = NULL;
    mmi_free(m, vad);
}

struct mmi_vad *mmi_vad_first(const struct mmi_vad_table *t)
{
    struct mmi_vad *n = t->root;
    while (n && n->left)
        n = n->left;
    return n;
}

uint32_t mmi_vad_level(const struct mmi_vad_table *t, const struct mmi_vad *vad)
{
    uint32_t level = 0;
    for (const struct mmi_vad *n = t->root; n && n != vad; level++)
        n = vad->start < n->start ? n->left : n->right;
    return level;
}

struct mmi_vad *mmi_vad_above(const struct mmi_vad_table *t, mm_va va)
{
    struct mmi_vad *best = NULL;
    for (struct mmi_vad *n = t->root; n;) {
        if (n->start > va) {
            best = n;
            n = n->left;
        } else {
            n = n->right;
        }
    }
    return best;
}

static void free_tree(mm_machine *m, struct mmi_vad *n)
{
    while (n) { /* recurse on the left, loop on the right: depth stays O(log n) */
        free_tree(m, n->left);
        struct mmi_vad *right = n->right;
        mmi_free(m, n);
        n = right;
    }
}

void mmi_vad_fini(mm_machine *m, struct mmi_vad_table *t)
{
    free_tree(m, t->root);
    mmi_vad_init(t, t->lowest, t->top);
}
