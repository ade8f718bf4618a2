/* libmm/vad.c — the VAD table: an AVL tree ordered by start address, with
 * parent links. Each node keeps the aligned hole between the VAD before it
 * and itself, and the largest such hole in its subtree, so the first free
 * range of a given size is found by one descent; a change walks up only as
 * far as heights or largest holes change, and a reservation after the
 * highest VAD (the common case) starts from it, not from the root. The
 * nodes are also threaded in address order (prev, next), so a neighbour
 * is one load, not a walk up the tree. Nodes are allocated one each, so a
 * VAD pointer stays valid until that VAD is removed. */
#include "vad.h"

#include <assert.h>

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
static uint64_t max_gap(const struct mmi_vad *n) { return n ? n->max_gap : 0; }
static uint64_t max3(uint64_t a, uint64_t b, uint64_t c) { return a > b ? (a > c ? a : c) : (b > c ? b : c); }

/* Recomputes n's height and largest hole from its children; true if either
 * changed (its ancestors then need the same). */
static bool update(struct mmi_vad *n)
{
    int hl = height(n->left), hr = height(n->right);
    int h = 1 + (hl > hr ? hl : hr);
    uint64_t g = max3(n->gap, max_gap(n->left), max_gap(n->right));
    bool changed = h != n->height || g != n->max_gap;
    n->height = h;
    n->max_gap = g;
    return changed;
}

/* Puts `to` where `from` hung from its parent (or at the root). */
static void replace_child(struct mmi_vad_table *t, struct mmi_vad *parent, struct mmi_vad *from, struct mmi_vad *to)
{
    if (!parent)
        t->root = to;
    else if (parent->left == from)
        parent->left = to;
    else
        parent->right = to;
    if (to)
        to->parent = parent;
}

static struct mmi_vad *rotate_right(struct mmi_vad_table *t, struct mmi_vad *n)
{
    struct mmi_vad *l = n->left;
    if (!l) /* balance() rotates only toward a taller side */
        return n;
    replace_child(t, n->parent, n, l);
    n->left = l->right;
    if (n->left)
        n->left->parent = n;
    l->right = n;
    n->parent = l;
    update(n);
    update(l);
    return l;
}

static struct mmi_vad *rotate_left(struct mmi_vad_table *t, struct mmi_vad *n)
{
    struct mmi_vad *r = n->right;
    if (!r)
        return n;
    replace_child(t, n->parent, n, r);
    n->right = r->left;
    if (n->right)
        n->right->parent = n;
    r->left = n;
    n->parent = r;
    update(n);
    update(r);
    return r;
}

/* Restores n's balance; returns the node now in its place. */
static struct mmi_vad *balance(struct mmi_vad_table *t, struct mmi_vad *n)
{
    int b = height(n->left) - height(n->right);
    if (b > 1) {
        if (height(n->left->left) < height(n->left->right))
            rotate_left(t, n->left);
        return rotate_right(t, n);
    }
    if (b < -1) {
        if (height(n->right->right) < height(n->right->left))
            rotate_right(t, n->right);
        return rotate_left(t, n);
    }
    return n;
}

/* From n up: heights, largest holes and balance, stopping where nothing
 * changes any more. */
static void fix_up(struct mmi_vad_table *t, struct mmi_vad *n)
{
    while (n) {
        int before = n->height;
        uint64_t gap = n->max_gap;
        bool changed = update(n);
        struct mmi_vad *top = balance(t, n);
        if (!changed && top == n && top->height == before && top->max_gap == gap)
            return;
        n = top->parent;
    }
}

/* A node's hole: after the VAD before it, or after the table's lowest address. */
static void set_gap(const struct mmi_vad_table *t, struct mmi_vad *n)
{
    n->gap = hole(n->prev ? n->prev->end : t->lowest, n->start);
}

/* Hangs node as a leaf and threads it between its neighbours: a left child
 * comes just before its parent, a right child just after. */
static void link_leaf(struct mmi_vad_table *t, struct mmi_vad *node)
{
    struct mmi_vad *parent = NULL, **at = &t->root;
    if (t->last && node->start > t->last->start) { /* after the highest VAD */
        parent = t->last;
        at = &parent->right;
    }
    while (*at) {
        parent = *at;
        at = node->start < parent->start ? &parent->left : &parent->right;
    }
    *at = node;
    node->parent = parent;
    if (!parent) {
        node->prev = node->next = NULL;
    } else if (at == &parent->left) {
        node->next = parent;
        node->prev = parent->prev;
    } else {
        node->prev = parent;
        node->next = parent->next;
    }
    if (node->prev)
        node->prev->next = node;
    if (node->next)
        node->next->prev = node;
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

/* The lowest VAD in n's subtree with a hole of `bytes` before it. */
static const struct mmi_vad *first_gap(const struct mmi_vad *n, uint64_t bytes)
{
    while (n && n->max_gap >= bytes) {
        if (max_gap(n->left) >= bytes)
            n = n->left;
        else if (n->gap >= bytes)
            return n;
        else
            n = n->right;
    }
    return NULL;
}

void mmi_vad_init(struct mmi_vad_table *t, mm_va lowest, mm_va top)
{
    *t = (struct mmi_vad_table){.lowest = lowest, .top = top};
}

mm_va mmi_vad_find_free(const struct mmi_vad_table *t, uint64_t bytes)
{
    if (!t->root)
        return hole(t->lowest, t->top) >= bytes ? align_up(t->lowest) : 0;
    const struct mmi_vad *n = first_gap(t->root, bytes);
    if (n)
        return n->start - n->gap; /* the hole ends at the VAD */
    return hole(t->last->end, t->top) >= bytes ? align_up(t->last->end) : 0;
}

struct mmi_vad *mmi_vad_insert(mm_machine *m, struct mmi_vad_table *t, const struct mmi_vad *vad)
{
    assert(vad->start < vad->end);
    struct mmi_vad *node = mmi_alloc(m, sizeof *node);
    if (!node)
        return NULL;
    *node = *vad;
    node->left = node->right = node->parent = NULL;
    node->height = 1;
    link_leaf(t, node);
    /* Callers check the range is free: it lies between its neighbours. */
    assert((!node->prev || node->prev->end <= node->start) && (!node->next || node->end <= node->next->start));
    if (!t->last || node->start > t->last->start)
        t->last = node;
    set_gap(t, node);
    node->max_gap = node->gap;
    fix_up(t, node->parent);
    struct mmi_vad *next = node->next;
    if (next) { /* the hole before it now starts at the new VAD */
        next->gap = hole(node->end, next->start);
        fix_up(t, next);
    }
    t->count++;
    t->hint = node; /* a new VAD is usually touched next */
    return node;
}

/* Unlinks vad; its in-order successor takes its place when it has two
 * children (the nodes themselves never move). Returns where the structure
 * changed, for the walk up. */
static struct mmi_vad *unlink_node(struct mmi_vad_table *t, struct mmi_vad *vad, struct mmi_vad *next)
{
    if (!vad->left || !vad->right) {
        replace_child(t, vad->parent, vad, vad->left ? vad->left : vad->right);
        return vad->parent;
    }
    struct mmi_vad *from = next; /* leftmost of vad's right subtree */
    if (next->parent != vad) {
        from = next->parent;
        replace_child(t, next->parent, next, next->right);
        next->right = vad->right;
        next->right->parent = next;
    }
    next->left = vad->left;
    next->left->parent = next;
    replace_child(t, vad->parent, vad, next);
    /* What vad's ancestors last saw of this place: a walk that stops below
     * it must leave them right, and one that reaches it compares with it. */
    next->height = vad->height;
    next->max_gap = vad->max_gap;
    return from;
}

void mmi_vad_remove(mm_machine *m, struct mmi_vad_table *t, struct mmi_vad *vad)
{
    struct mmi_vad *prev = vad->prev, *next = vad->next;
    if (prev)
        prev->next = next;
    if (next)
        next->prev = prev;
    if (t->last == vad)
        t->last = prev;
    if (next) /* the hole before it now reaches back to the VAD before vad */
        next->gap = hole(prev ? prev->end : t->lowest, next->start);
    fix_up(t, unlink_node(t, vad, next));
    if (next)
        fix_up(t, next);
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

/* ---- the tree's own invariants (the invariant checker and tests) ---- */

static int check_node(const struct mmi_vad_table *t, const struct mmi_vad *n, const struct mmi_vad *parent,
                      const struct mmi_vad **prev, size_t *count)
{
    if (!n)
        return 0;
    if (n->parent != parent)
        return -1;
    int hl = check_node(t, n->left, n, prev, count);
    if (hl < 0)
        return -1;
    if (n->start >= n->end || (*prev && (*prev)->end > n->start) ||
        n->gap != hole(*prev ? (*prev)->end : t->lowest, n->start) || n->prev != *prev ||
        (*prev && (*prev)->next != n))
        return -1;
    *prev = n;
    ++*count;
    int hr = check_node(t, n->right, n, prev, count);
    if (hr < 0)
        return -1;
    int h = 1 + (hl > hr ? hl : hr);
    if (n->height != h || hl - hr > 1 || hr - hl > 1 || n->max_gap != max3(n->gap, max_gap(n->left), max_gap(n->right)))
        return -1;
    return h;
}

bool mmi_vad_check(const struct mmi_vad_table *t)
{
    const struct mmi_vad *prev = NULL;
    size_t count = 0;
    return check_node(t, t->root, NULL, &prev, &count) >= 0 && count == t->count && prev == t->last &&
           (!prev || !prev->next);
}
