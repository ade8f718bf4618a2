/* sim/poolview.c — !pool ADDR: the pool page that holds an address, as
 * WinDbg's !pool shows it (every POOL_HEADER of the page, its size,
 * previous size, allocated or free, tag; '*' on the entry holding the
 * address), a large allocation, or a Special Pool page; then (mmsim) what
 * is wrong with the headers or the pattern and which bug check the next
 * free would raise. Built on the public API: debugger reads that change
 * nothing. */
#include <inttypes.h>
#include <string.h>

#include "views.h"

#define UNIT 16u
#define SPECIAL_MAX (MM_PAGE_SIZE - UNIT)
#define SPECIAL_FILL 0x5Au /* docs/decisions.md, "Special Pool" */

static const char *type_name(unsigned pool_type_plus_one)
{
    return pool_type_plus_one == 1 ? "Nonpaged pool" : pool_type_plus_one == 2 ? "Paged pool" : "pool";
}

static void tag_text(uint32_t tag, char out[5])
{
    for (int i = 0; i < 4; i++) {
        unsigned char c = (unsigned char)(tag >> (8 * i));
        out[i] = c >= 0x20 && c < 0x7F ? (char)c : '.';
    }
    out[4] = 0;
}

static bool is_block(mm_machine *m, mm_va block, struct mm_pool_block_info *info)
{
    return mm_pool_query(m, block, info) == MM_STATUS_SUCCESS && info->block == block;
}

/* The live block a Special Pool page holds: its first bytes say the
 * block's size, and the block ends the page on a 16-byte boundary. */
static bool special_page(mm_machine *m, mm_va page, const unsigned char *bytes, struct mm_pool_block_info *info)
{
    uint16_t size;
    memcpy(&size, bytes, 2);
    if (size == 0 || size > SPECIAL_MAX)
        return false;
    mm_va block = page + MM_PAGE_SIZE - ((size + UNIT - 1) & ~(uint64_t)(UNIT - 1));
    return is_block(m, block, info) && info->layout == MM_POOL_SPECIAL;
}

static void show_special(FILE *out, mm_machine *m, mm_va page, const unsigned char *bytes,
                         const struct mm_pool_block_info *info)
{
    char tag[5];
    tag_text(info->tag, tag);
    fprintf(out, "Pool page %016" PRIx64 " region is Special pool\n", page);
    fprintf(out, "*%016" PRIx64 " size: %4" PRIx64 " data: %016" PRIx64 " (%s) *%s\n", info->block, info->bytes,
            info->block, info->type == MM_PAGED_POOL ? "Paged" : "NonPaged", tag);
    fputs("\nmmsim:\n", out);
    fprintf(out, "  the block ends its page; the page after it (%016" PRIx64 ") is %s: a touch there is 0xD6\n"
                 "  (0xCD from the kernel's code)\n",
            page + MM_PAGE_SIZE, mm_is_address_valid(m, page + MM_PAGE_SIZE) ? "VALID (unexpected)" : "inaccessible");
    uint64_t front = info->block - page, end = front + info->bytes;
    for (uint64_t i = 8; i < MM_PAGE_SIZE; i++) {
        if (i == front) {
            i = end - 1;
            continue;
        }
        if (bytes[i] != SPECIAL_FILL) {
            fprintf(out, "  the pattern (0x%02X) is changed at %016" PRIx64 " (0x%02X), %s: its free will be "
                         "0xC1/0x%s\n",
                    SPECIAL_FILL, page + i, bytes[i], i < front ? "in front of the block" : "after its end",
                    i < front ? "23" : "24");
            return;
        }
    }
    fprintf(out, "  the rest of the page holds the pattern 0x%02X, intact (checked at the free: 0xC1)\n",
            SPECIAL_FILL);
}

/* The headers of a page of packed blocks, in order, up to the first that
 * contradicts the one before (an overrun) or cannot be a header. */
static void show_headers(FILE *out, mm_machine *m, mm_va page, const unsigned char *bytes, mm_va va)
{
    unsigned prev = 0;
    bool corrupt = false;
    char note[160] = "";
    fprintf(out, "Pool page %016" PRIx64 " region is %s\n", va, type_name(bytes[3] ? bytes[3] : 1));
    for (unsigned at = 0; at < MM_PAGE_SIZE;) {
        const unsigned char *h = bytes + at;
        unsigned size = h[2] * UNIT, previous = h[0] * UNIT;
        uint32_t tag;
        memcpy(&tag, h + 4, 4);
        bool mine = va >= page + at && va < page + at + (size ? size : UNIT);
        char text[5];
        tag_text(tag, text);
        fprintf(out, "%c%016" PRIx64 " size: %4x previous size: %4x  %-12s%c%s\n", mine ? '*' : ' ', page + at,
                size, previous, h[3] ? "(Allocated)" : "(Free)", mine && h[3] ? '*' : ' ', text);
        if (previous != prev) {
            snprintf(note, sizeof note, "the header at %016" PRIx64 " says previous size %x, but the entry "
                     "before is %x: an overrun of that entry (its free, or this one's, is 0x19/0x20)",
                     page + at, previous, prev);
            corrupt = true;
            break;
        }
        if (!size || at + size > MM_PAGE_SIZE) {
            snprintf(note, sizeof note, "the header at %016" PRIx64 " has size %x: corrupt (0x19/0x20 at a free)",
                     page + at, size);
            corrupt = true;
            break;
        }
        struct mm_pool_block_info info;
        if (h[3] && is_block(m, page + at + UNIT, &info) && info.layout == MM_POOL_OWN_PAGE)
            break; /* the block owns the rest of its page */
        prev = size;
        at += size;
    }
    if (corrupt) {
        fputs("\nmmsim:\n", out);
        fprintf(out, "  %s\n", note);
    }
}

void view_pool(FILE *out, mm_machine *m, mm_va va)
{
    mm_va page = va & ~(mm_va)(MM_PAGE_SIZE - 1);
    struct mm_pool_block_info info;
    for (unsigned back = 0; back < 64; back++) { /* a large allocation holding va */
        mm_va first = page - (mm_va)back * MM_PAGE_SIZE;
        if (is_block(m, first, &info) && info.layout == MM_POOL_LARGE && info.pages > back) {
            char tag[5];
            tag_text(info.tag, tag);
            fprintf(out, "%016" PRIx64 " is not a valid small pool allocation, checking large pool...\n", va);
            fprintf(out, "*%016" PRIx64 " : large page allocation, tag is %s, size is 0x%" PRIx64 " bytes\n",
                    first, tag, info.bytes);
            return;
        }
    }
    unsigned char bytes[MM_PAGE_SIZE];
    size_t done = 0;
    if (mm_debug_read(m, NULL, page, bytes, sizeof bytes, &done) != MM_STATUS_SUCCESS) {
        fprintf(out, "Pool page %016" PRIx64 " is not resident or not mapped: unable to read its headers\n", page);
        return;
    }
    if (special_page(m, page, bytes, &info)) {
        show_special(out, m, page, bytes, &info);
        return;
    }
    if (!bytes[3] && !bytes[2]) {
        fprintf(out, "%016" PRIx64 " is not a valid pool address (no POOL_HEADER starts its page)\n", va);
        return;
    }
    show_headers(out, m, page, bytes, va);
}
