/* tests/test_pool.c — ExAllocatePoolWithTag / ExFreePoolWithTag: small
 * blocks packed into pages after POOL_HEADERs (split, merged, emptied pages
 * kept), page-aligned big blocks, Special Pool's page per block, stale
 * contents of nonpaged pages, paged pool faulting in on touch, and the
 * bad-free and overrun bug checks with and without Verifier. */
#include "harness.h"

#define TAG MM_POOL_TAG('T', 'e', 's', 't')

/* The POOL_HEADER before a block: PreviousSize, BlockSize, PoolType. */
static void read_header(mm_machine *m, mm_va block, unsigned char h[16])
{
    assert_ok(mm_read(m, block - 16, h, 16));
}

static void small_block_sits_after_a_header(void **state)
{
    mm_machine *m = *state;
    mm_va b = mm_pool_allocate(m, MM_NONPAGED_POOL, 100, TAG);
    assert_int_equal(b & 0xF, 0);
    assert_true((b & 0xFFF) >= 0x10);
    unsigned char h[16];
    read_header(m, b, h);
    assert_int_equal(h[2], (100 + 16 + 15) / 16); /* BlockSize */
    assert_int_equal(h[3], 1);                    /* PoolType + 1: nonpaged, in use */
    uint32_t tag;
    memcpy(&tag, h + 4, 4);
    assert_int_equal(tag, TAG);
    struct mm_pool_block_info i;
    assert_ok(mm_pool_query(m, b, &i));
    assert_int_equal(i.bytes, 100);
    assert_int_equal(i.pages, 1);
    assert_true(mm_is_address_valid(m, b));
    mm_pfn pfn = pfn_of(m, b);
    assert_pfn(m, pfn, 1, 1, MM_ACTIVE_AND_VALID);
    struct mm_pfn_info pi;
    assert_ok(mm_pfn_query(m, pfn, &pi));
    assert_int_equal(pi.use, MM_USE_NONPAGED_POOL);
    assert_ok(mm_pool_free(m, b, TAG));
    /* As on Windows outside Special Pool: the page stays pool, mapped, and
     * the header says free. */
    assert_true(mm_is_address_valid(m, b));
    assert_pfn(m, pfn, 1, 1, MM_ACTIVE_AND_VALID);
    read_header(m, b, h);
    assert_int_equal(h[3], 0);
    assert_status(mm_pool_query(m, b, &i), MM_STATUS_NOT_FOUND);
}

/* Small blocks share pages: each header records its neighbour's size,
 * a freed chunk merges with free neighbours, and the next request of the
 * same size gets the block freed last. */
static void small_blocks_share_a_page(void **state)
{
    mm_machine *m = *state;
    mm_va a = mm_pool_allocate(m, MM_NONPAGED_POOL, 100, TAG);
    mm_va b = mm_pool_allocate(m, MM_NONPAGED_POOL, 40, TAG);
    mm_va c = mm_pool_allocate(m, MM_NONPAGED_POOL, 200, TAG);
    assert_int_equal(b, a + 8 * 16); /* 100 bytes and the header: 8 units */
    assert_int_equal(c, b + 4 * 16);
    assert_int_equal(pfn_of(m, a), pfn_of(m, c));
    unsigned char h[16];
    read_header(m, b, h);
    assert_int_equal(h[0], 8); /* PreviousSize: a's BlockSize */
    assert_int_equal(h[2], 4);
    struct mm_pool_usage before, after;
    assert_ok(mm_pool_usage(m, MM_NONPAGED_POOL, &before));
    assert_ok(mm_pool_free(m, b, TAG));
    assert_int_equal(mm_pool_allocate(m, MM_NONPAGED_POOL, 40, TAG), b);
    assert_ok(mm_pool_free(m, b, TAG));
    assert_ok(mm_pool_free(m, a, TAG)); /* merges with b's chunk */
    read_header(m, a, h);
    assert_int_equal(h[2], 12);
    assert_int_equal(h[3], 0);
    read_header(m, c, h);
    assert_int_equal(h[0], 12); /* c's PreviousSize follows the merge */
    assert_int_equal(mm_pool_allocate(m, MM_NONPAGED_POOL, 150, TAG), a); /* 11 units fit the 12 */
    assert_ok(mm_pool_usage(m, MM_NONPAGED_POOL, &after));
    assert_int_equal(after.pages, before.pages);
    assert_invariants(m);
}

/* A write past the end of a block reaches the next block's header first;
 * ExFreePool of the block reads it: 0x19/0x20 (the entry, the next entry). */
static void overrun_into_the_next_header_is_bad_pool_header(void **state)
{
    mm_machine *m = *state;
    mm_va a = mm_pool_allocate(m, MM_NONPAGED_POOL, 0x30, TAG);
    mm_va b = mm_pool_allocate(m, MM_NONPAGED_POOL, 0x30, TAG);
    assert_int_equal(b, a + 0x40);
    unsigned char junk[0x38];
    memset(junk, 'A', sizeof junk);
    assert_ok(mm_write(m, a, junk, sizeof junk)); /* 8 bytes too many: b's PreviousSize and BlockSize */
    expect_bugcheck(mm_pool_free(m, a, TAG), MM_BUGCHECK_BAD_POOL_HEADER, 0x20);
    assert_params(a - 16, b - 16, 0);
}

/* Pages whose blocks are all free stay mapped in the pool, up to a bound;
 * the rest go back to the free list. */
static void emptied_pages_are_kept_up_to_a_bound(void **state)
{
    mm_machine *m = *state;
    struct mm_memory_counts before, full, after;
    assert_ok(mm_memory_query(m, &before));
    mm_va b[40];
    for (int i = 0; i < 40; i++)
        assert_true((b[i] = mm_pool_allocate(m, MM_NONPAGED_POOL, 0xFE0, TAG)) != 0);
    assert_ok(mm_memory_query(m, &full));
    uint64_t grown = full.nonpaged_pool_pages - before.nonpaged_pool_pages;
    assert_true(grown >= 40 - 1 && grown <= 40);
    for (int i = 0; i < 40; i++)
        assert_ok(mm_pool_free(m, b[i], TAG));
    assert_ok(mm_memory_query(m, &after));
    uint64_t kept = after.nonpaged_pool_pages - before.nonpaged_pool_pages;
    assert_true(kept <= 16);
    assert_true(kept >= 16 - 1);
    assert_int_equal(after.commit_charge - before.commit_charge, kept);
    assert_int_equal(after.list_pages[MM_ACTIVE_AND_VALID] - before.list_pages[MM_ACTIVE_AND_VALID], kept);
    /* the kept pages are what the next allocations get: no new page */
    for (int i = 0; i < 16; i++)
        assert_true((b[i] = mm_pool_allocate(m, MM_NONPAGED_POOL, 0xFE0, TAG)) != 0);
    assert_ok(mm_memory_query(m, &full));
    assert_true(full.nonpaged_pool_pages - before.nonpaged_pool_pages <= 16);
    assert_invariants(m);
}

/* Verifier's Special Pool gives each allocation of up to 0xFF0 bytes a
 * page of its own, ending at the page's end (Verify End, 16-byte aligned),
 * with an inaccessible page after it; the page goes at the free, so a
 * touch of freed special pool faults. */
static void special_pool_gives_each_block_the_end_of_its_own_page(void **state)
{
    mm_machine *m = *state;
    assert_ok(mm_machine_set_verifier(m, MM_VERIFIER_SPECIAL_POOL));
    mm_va a = mm_pool_allocate(m, MM_NONPAGED_POOL, 100, TAG);
    mm_va b = mm_pool_allocate(m, MM_NONPAGED_POOL, 0xFF0, TAG);
    mm_va c = mm_pool_allocate(m, MM_PAGED_POOL, 0x20, TAG);
    assert_int_equal(a & 0xFFF, 0x1000 - 112); /* 100 rounded up to 16 */
    assert_int_equal(b & 0xFFF, 0x10);
    assert_int_equal(c & 0xFFF, 0x1000 - 0x20);
    assert_true(MM_PAGE_ALIGN(a) != MM_PAGE_ALIGN(b));
    assert_false(mm_is_address_valid(m, MM_PAGE_ALIGN(a) + 0x1000));
    assert_false(mm_is_address_valid(m, MM_PAGE_ALIGN(b) + 0x1000));
    /* the rest of the page holds the pattern */
    uint8_t front[16];
    assert_ok(mm_read(m, a - 16, front, sizeof front));
    for (size_t i = 0; i < sizeof front; i++)
        assert_int_equal(front[i], 0x5A);
    mm_pfn pfn = pfn_of(m, a);
    assert_ok(mm_pool_free(m, a, TAG));
    assert_false(mm_is_address_valid(m, a));
    assert_pfn(m, pfn, 0, 0, MM_FREE_PAGE_LIST);
    assert_ok(mm_pool_free(m, c, TAG));
    assert_ok(mm_pool_free(m, b, TAG));
    /* A touch of freed Special Pool: 0xCC (0xD5 when a driver's code does
     * it), P1 the address, P2 0 read / 1 write, P3 the instruction. */
    uint8_t byte = 0;
    expect_bugcheck(mm_read(m, b + 8, &byte, 1), MM_BUGCHECK_PAGE_FAULT_IN_FREED_SPECIAL_POOL, b + 8);
    assert_params(0, 0, 0);
}

/* A touch of the page after a block: 0xCD (0xD6 from a driver's code),
 * at once, read or write. */
static void special_pool_overrun_is_0xCD(void **state)
{
    mm_machine *m = *state;
    assert_ok(mm_machine_set_verifier(m, MM_VERIFIER_SPECIAL_POOL));
    mm_va a = mm_pool_allocate(m, MM_NONPAGED_POOL, 0x40, TAG);
    uint8_t bytes[0x41] = {0};
    assert_ok(mm_write(m, a, bytes, 0x40)); /* all of it is the caller's */
    expect_bugcheck(mm_write(m, a, bytes, 0x41), MM_BUGCHECK_PAGE_FAULT_BEYOND_END_OF_ALLOCATION, a + 0x40);
    assert_params(1, 0, 0);
}

static void special_pool_overread_is_0xCD(void **state)
{
    mm_machine *m = *state;
    assert_ok(mm_machine_set_verifier(m, MM_VERIFIER_SPECIAL_POOL));
    mm_va a = mm_pool_allocate(m, MM_PAGED_POOL, 0x30, TAG);
    uint8_t byte;
    expect_bugcheck(mm_read(m, a + 0x35, &byte, 1), MM_BUGCHECK_PAGE_FAULT_BEYOND_END_OF_ALLOCATION, a + 0x35);
    assert_params(0, 0, 0);
}

/* A write into the slack after a block whose size is not a multiple of 16,
 * or in front of the block, changes the pattern: the free finds it,
 * 0xC1 with the block, the first changed byte and the sub-code. */
static void special_pool_slack_overrun_is_0xC1_24(void **state)
{
    mm_machine *m = *state;
    assert_ok(mm_machine_set_verifier(m, MM_VERIFIER_SPECIAL_POOL));
    mm_va a = mm_pool_allocate(m, MM_NONPAGED_POOL, 100, TAG);
    uint8_t byte = 0;
    assert_ok(mm_write(m, a + 100, &byte, 1));
    expect_bugcheck(mm_pool_free(m, a, TAG), MM_BUGCHECK_SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION, a);
    assert_params(a + 100, 0, 0x24);
}

static void special_pool_underrun_is_0xC1_23(void **state)
{
    mm_machine *m = *state;
    assert_ok(mm_machine_set_verifier(m, MM_VERIFIER_SPECIAL_POOL));
    mm_va a = mm_pool_allocate(m, MM_PAGED_POOL, 0x80, TAG);
    uint8_t byte = 0x77;
    assert_ok(mm_write(m, a - 8, &byte, 1));
    expect_bugcheck(mm_pool_free(m, a, TAG), MM_BUGCHECK_SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION, a);
    assert_params(a - 8, 0, 0x23);
}

/* Special Pool does not apply to a page or more: such a block is ordinary
 * (page aligned; a touch after its free is 0x50). The pool's books stay
 * straight across many special blocks and their reuse. */
static void special_pool_leaves_big_blocks_alone(void **state)
{
    mm_machine *m = *state;
    assert_ok(mm_machine_set_verifier(m, MM_VERIFIER_SPECIAL_POOL));
    mm_va big = mm_pool_allocate(m, MM_NONPAGED_POOL, 0x1800, TAG);
    assert_int_equal(big & 0xFFF, 0);
    assert_ok(mm_pool_free(m, big, TAG));
    uint8_t byte;
    expect_bugcheck(mm_read(m, big, &byte, 1), MM_BUGCHECK_PAGE_FAULT_IN_NONPAGED_AREA, big);
}

static void special_pool_blocks_come_and_go(void **state)
{
    mm_machine *m = *state;
    assert_ok(mm_machine_set_verifier(m, MM_VERIFIER_SPECIAL_POOL));
    struct mm_pool_usage before;
    assert_ok(mm_pool_usage(m, MM_NONPAGED_POOL, &before));
    mm_va live[32] = {0};
    for (unsigned i = 0; i < 2000; i++) {
        unsigned k = (i * 7) % 32;
        if (live[k])
            assert_ok(mm_pool_free(m, live[k], TAG));
        uint64_t bytes = 1 + (i * 37) % 0xFF0;
        live[k] = mm_pool_allocate(m, MM_NONPAGED_POOL, bytes, TAG);
        assert_true(live[k] != 0);
        assert_int_equal(MM_BYTE_OFFSET(live[k]), 0x1000 - ((bytes + 15) & ~15ull));
    }
    for (unsigned k = 0; k < 32; k++)
        assert_ok(mm_pool_free(m, live[k], TAG));
    struct mm_pool_usage after;
    assert_ok(mm_pool_usage(m, MM_NONPAGED_POOL, &after));
    assert_int_equal(after.pages, before.pages);
    assert_invariants(m);
}

/* mm_pool_query says how each block sits: packed, large, Special Pool, or
 * alone in its page (the memory manager's objects, an EPROCESS here). */
static void query_says_the_layout(void **state)
{
    mm_machine *m = *state;
    struct mm_pool_block_info i;
    mm_va packed = mm_pool_allocate(m, MM_NONPAGED_POOL, 40, TAG);
    assert_ok(mm_pool_query(m, packed, &i));
    assert_int_equal(i.layout, MM_POOL_PACKED);
    assert_int_equal(i.bytes, 40);
    mm_va large = mm_pool_allocate(m, MM_PAGED_POOL, 0x2000, TAG);
    assert_ok(mm_pool_query(m, large, &i));
    assert_int_equal(i.layout, MM_POOL_LARGE);
    assert_int_equal(i.pages, 2);
    mm_process *p = NULL;
    assert_ok(mm_process_create(m, "a.exe", &p));
    struct mm_process_info pi;
    assert_ok(mm_process_query(m, p, &pi));
    assert_ok(mm_pool_query(m, pi.eprocess, &i));
    assert_int_equal(i.layout, MM_POOL_OWN_PAGE);
    assert_ok(mm_machine_set_verifier(m, MM_VERIFIER_SPECIAL_POOL));
    mm_va special = mm_pool_allocate(m, MM_NONPAGED_POOL, 40, TAG);
    assert_ok(mm_pool_query(m, special, &i));
    assert_int_equal(i.layout, MM_POOL_SPECIAL);
    assert_status(mm_pool_query(m, special + 16, &i), MM_STATUS_NOT_FOUND);
}

/* Outside Special Pool a freed big block's pages go back: 0x50 as before. */
static void touch_of_a_freed_big_block_is_0x50(void **state)
{
    mm_machine *m = *state;
    mm_va b = mm_pool_allocate(m, MM_NONPAGED_POOL, 0x2000, TAG);
    assert_ok(mm_pool_free(m, b, TAG));
    uint8_t byte = 0;
    expect_bugcheck(mm_write(m, b + 0x1000, &byte, 1), MM_BUGCHECK_PAGE_FAULT_IN_NONPAGED_AREA, b + 0x1000);
}

static void big_block_is_page_aligned_and_counted(void **state)
{
    mm_machine *m = *state;
    struct mm_memory_counts before, after;
    assert_ok(mm_memory_query(m, &before));
    mm_va b = mm_pool_allocate(m, MM_NONPAGED_POOL, 0x2800, TAG);
    assert_int_equal(b & 0xFFF, 0);
    struct mm_pool_usage u;
    assert_ok(mm_pool_usage(m, MM_NONPAGED_POOL, &u));
    assert_ok(mm_memory_query(m, &after));
    assert_int_equal(after.nonpaged_pool_pages - before.nonpaged_pool_pages, 3);
    assert_int_equal(after.commit_charge - before.commit_charge, 3);
    assert_int_equal(after.list_pages[MM_ACTIVE_AND_VALID] - before.list_pages[MM_ACTIVE_AND_VALID], 3);
    assert_int_equal(u.bytes, before.nonpaged_pool_pages ? u.bytes : 0x2800);
    uint64_t allocations = u.allocations;
    assert_ok(mm_pool_free(m, b, 0));
    assert_ok(mm_pool_usage(m, MM_NONPAGED_POOL, &u));
    assert_int_equal(u.allocations, allocations - 1);
}

static void nonpaged_pool_hands_out_stale_contents(void **state)
{
    mm_machine *m = *state;
    mm_va b = mm_pool_allocate(m, MM_NONPAGED_POOL, 0x1000, TAG);
    assert_ok(mm_write(m, b + 100, "secret", 6));
    assert_ok(mm_pool_free(m, b, TAG));
    /* The freed frame is the first one handed out again (free list, not zeroed). */
    mm_va c = mm_pool_allocate(m, MM_NONPAGED_POOL, 0x1000, TAG);
    char out[7] = {0};
    assert_ok(mm_read(m, c + 100, out, 6));
    assert_string_equal(out, "secret");
}

static void paged_pool_is_demand_zero_and_pageable(void **state)
{
    mm_machine *m = *state;
    mm_va b = mm_pool_allocate(m, MM_PAGED_POOL, 0x3000, TAG);
    assert_int_equal(b & 0xFFF, 0);
    assert_false(mm_is_address_valid(m, b + 0x1000));
    assert_ok(mm_write(m, b + 0x1000, "x", 1));
    mm_pfn pfn = pfn_of(m, b + 0x1000);
    struct mm_pfn_info pi;
    assert_ok(mm_pfn_query(m, pfn, &pi));
    assert_int_equal(pi.use, MM_USE_PAGED_POOL);
    uint64_t n;
    assert_ok(mm_working_set_trim(m, NULL, UINT64_MAX, &n));
    assert_true(n >= 1);
    assert_false(mm_is_address_valid(m, b + 0x1000));
    char c = 0;
    assert_ok(mm_read(m, b + 0x1000, &c, 1));
    assert_int_equal(c, 'x');
    assert_ok(mm_pool_free(m, b, TAG));
}

static void wrong_tag_is_bad_pool_caller_0a(void **state)
{
    mm_machine *m = *state;
    mm_va b = mm_pool_allocate(m, MM_NONPAGED_POOL, 64, TAG);
    expect_bugcheck(mm_pool_free(m, b, MM_POOL_TAG('O', 't', 'h', 'r')), MM_BUGCHECK_BAD_POOL_CALLER, 0x0A);
    assert_params(b, TAG, MM_POOL_TAG('O', 't', 'h', 'r'));
}

static void double_free_without_verifier_is_c2_07(void **state)
{
    mm_machine *m = *state;
    mm_va b = mm_pool_allocate(m, MM_NONPAGED_POOL, 64, TAG);
    assert_ok(mm_pool_free(m, b, TAG));
    expect_bugcheck(mm_pool_free(m, b, TAG), MM_BUGCHECK_BAD_POOL_CALLER, 0x07);
    assert_int_equal(H.bc.p[3], b);
    assert_true(H.bc.history_count >= 2); /* the allocation and the first free */
}

static void double_free_with_verifier_is_c4_13(void **state)
{
    mm_machine *m = *state;
    assert_ok(mm_machine_set_verifier(m, MM_VERIFIER_STANDARD));
    mm_va b = mm_pool_allocate(m, MM_PAGED_POOL, 64, TAG);
    assert_ok(mm_pool_free(m, b, TAG));
    expect_bugcheck(mm_pool_free(m, b, TAG), MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0x13);
    assert_int_equal(H.bc.p[2], b - 16);
}

static void free_of_never_allocated_nonpaged_is_c2_44(void **state)
{
    mm_machine *m = *state;
    mm_va b = mm_pool_allocate(m, MM_NONPAGED_POOL, 64, TAG);
    expect_bugcheck(mm_pool_free(m, b + 0x100000, 0), MM_BUGCHECK_BAD_POOL_CALLER, 0x44);
    assert_params(b + 0x100000, 0, 0);
}

static void free_of_never_allocated_with_verifier_is_c4_10(void **state)
{
    mm_machine *m = *state;
    assert_ok(mm_machine_set_verifier(m, MM_VERIFIER_STANDARD));
    expect_bugcheck(mm_pool_free(m, layout_of(m).paged_pool + 0x5000, 0), MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION,
                    0x10);
    assert_params(layout_of(m).paged_pool + 0x5000, 0, 0);
}

static void free_of_user_address_is_c2_40(void **state)
{
    mm_machine *m = *state;
    expect_bugcheck(mm_pool_free(m, 0x10000, 0), MM_BUGCHECK_BAD_POOL_CALLER, 0x40);
    assert_params(0x10000, layout_of(m).system_range_start, 0);
}

static void free_of_non_pool_address_is_c2_42(void **state)
{
    mm_machine *m = *state;
    expect_bugcheck(mm_pool_free(m, layout_of(m).system_ptes, 0), MM_BUGCHECK_BAD_POOL_CALLER, 0x42);
}

static void paged_pool_free_in_unallocated_is_c2_50(void **state)
{
    mm_machine *m = *state;
    expect_bugcheck(mm_pool_free(m, layout_of(m).paged_pool + 0x3000, 0), MM_BUGCHECK_BAD_POOL_CALLER, 0x50);
    assert_int_equal(H.bc.p[2], 3);
    assert_int_equal(H.bc.p[3] % MM_PAGE_SIZE, 0); /* paged pool size, in bytes */
    assert_string_equal(mm_bugcheck_param_meaning(0xC2, 0x50, 3), "paged pool size in bytes");
}

static void paged_allocation_at_dispatch(void **state)
{
    mm_machine *m = *state;
    assert_ok(mm_irql_raise(m, MM_DISPATCH_LEVEL, NULL));
    expect_bugcheck(mm_pool_allocate(m, MM_PAGED_POOL, 32, TAG), MM_BUGCHECK_BAD_POOL_CALLER, 0x08);
    assert_params(MM_DISPATCH_LEVEL, MM_PAGED_POOL, 32);
}

static void paged_allocation_at_dispatch_with_verifier(void **state)
{
    mm_machine *m = *state;
    assert_ok(mm_machine_set_verifier(m, MM_VERIFIER_STANDARD));
    assert_ok(mm_irql_raise(m, MM_DISPATCH_LEVEL, NULL));
    assert_true(mm_pool_allocate(m, MM_NONPAGED_POOL, 32, TAG) != 0); /* nonpaged is fine */
    expect_bugcheck(mm_pool_allocate(m, MM_PAGED_POOL, 32, TAG), MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION,
                    0x01);
    assert_params(MM_DISPATCH_LEVEL, MM_PAGED_POOL, 32);
}

static void paged_free_at_dispatch(void **state)
{
    mm_machine *m = *state;
    mm_va b = mm_pool_allocate(m, MM_PAGED_POOL, 32, TAG);
    assert_ok(mm_irql_raise(m, MM_DISPATCH_LEVEL, NULL));
    expect_bugcheck(mm_pool_free(m, b, TAG), MM_BUGCHECK_BAD_POOL_CALLER, 0x09);
    assert_params(MM_DISPATCH_LEVEL, MM_PAGED_POOL, b);
}

static void zero_bytes_and_tag_zero_with_verifier(void **state)
{
    mm_machine *m = *state;
    mm_va z = mm_pool_allocate(m, MM_NONPAGED_POOL, 0, TAG);
    assert_true(z != 0); /* Verifier off: a zero-byte request succeeds */
    assert_true(mm_pool_allocate(m, MM_NONPAGED_POOL, 8, 0) != 0);
    assert_ok(mm_machine_set_verifier(m, MM_VERIFIER_STANDARD));
    expect_bugcheck(mm_pool_allocate(m, MM_NONPAGED_POOL, 0, TAG), MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION,
                    0x00);
}

static void tag_zero_with_verifier(void **state)
{
    mm_machine *m = *state;
    assert_ok(mm_machine_set_verifier(m, MM_VERIFIER_STANDARD));
    expect_bugcheck(mm_pool_allocate(m, MM_NONPAGED_POOL, 8, 0), MM_BUGCHECK_BAD_POOL_CALLER, 0x9B);
    assert_params(MM_NONPAGED_POOL, 8, 0); /* no caller named: the model's own call */
}

static void tag_big_names_the_caller(void **state)
{
    mm_machine *m = *state;
    assert_ok(mm_machine_set_verifier(m, MM_VERIFIER_STANDARD));
    assert_int_equal(mm_cpu_set_caller(m, 0xF00D0000), 0);
    expect_bugcheck(mm_pool_allocate(m, MM_PAGED_POOL, 32, MM_POOL_TAG('B', 'I', 'G', ' ')), MM_BUGCHECK_BAD_POOL_CALLER,
                    0x9C);
    assert_params(MM_PAGED_POOL, 32, 0xF00D0000);
}

static void overwritten_header_is_bad_pool_header(void **state)
{
    mm_machine *m = *state;
    mm_va b = mm_pool_allocate(m, MM_NONPAGED_POOL, 48, TAG);
    assert_ok(mm_write(m, b - 16, "\0\0\x7f\x01", 4)); /* an underrun smashes BlockSize */
    expect_bugcheck(mm_pool_free(m, b, TAG), MM_BUGCHECK_BAD_POOL_HEADER, 0x20);
    assert_int_equal(H.bc.p[1], b - 16);
}

static void bad_pool_type_and_huge_sizes_return_null(void **state)
{
    mm_machine *m = *state;
    assert_int_equal(mm_pool_allocate(m, (mm_pool_type)7, 8, TAG), 0);
    assert_int_equal(mm_pool_allocate(m, MM_NONPAGED_POOL, UINT64_C(1) << 40, TAG), 0);
    assert_int_equal(mm_pool_allocate(NULL, MM_NONPAGED_POOL, 8, TAG), 0);
    assert_status(mm_pool_free(NULL, 0, 0), MM_STATUS_INVALID_PARAMETER);
    struct mm_pool_block_info i;
    assert_status(mm_pool_query(m, 0x1234, &i), MM_STATUS_NOT_FOUND);
    assert_false(mm_machine_is_dead(m));
}

static void exhausting_ram_returns_null(void **state)
{
    mm_machine *m = *state;
    mm_va last = 1;
    int n = 0;
    while (last && n < 100000) {
        last = mm_pool_allocate(m, MM_NONPAGED_POOL, 0x10000, TAG);
        n++;
    }
    assert_int_equal(last, 0);
    assert_false(mm_machine_is_dead(m));
    assert_invariants(m);
}

/* Pool VA bookkeeping grows on demand: a block bigger than the first 64 MiB
 * of VA fits, and the whole region counts as pool from the start (a bad free
 * far into it is a bad pool free, not a non-pool one). */
static void pool_va_grows_on_demand(void **state)
{
    (void)state;
    struct mm_config cfg;
    harness_config(&cfg);
    cfg.physical_pages = 65536; /* 128k pages of pool VA */
    memset(&H, 0, sizeof H);
    mm_machine *m = H.m = harness_machine(&cfg);
    mm_va big = mm_pool_allocate(m, MM_NONPAGED_POOL, 20000 * MM_PAGE_SIZE, 1);
    assert_true(big != 0);
    mm_va far = big + 30000 * MM_PAGE_SIZE; /* past the first 16384 pages, never allocated */
    expect_bugcheck(mm_pool_free(m, far, 0), MM_BUGCHECK_BAD_POOL_CALLER, 0x44);
    mm_machine_destroy(m);
    H.m = NULL;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup_machine, teardown_machine)
        T(small_block_sits_after_a_header),
        T(small_blocks_share_a_page),
        T(overrun_into_the_next_header_is_bad_pool_header),
        T(emptied_pages_are_kept_up_to_a_bound),
        T(special_pool_gives_each_block_the_end_of_its_own_page),
        T(special_pool_overrun_is_0xCD),
        T(special_pool_overread_is_0xCD),
        T(special_pool_slack_overrun_is_0xC1_24),
        T(special_pool_underrun_is_0xC1_23),
        T(special_pool_leaves_big_blocks_alone),
        T(special_pool_blocks_come_and_go),
        T(query_says_the_layout),
        T(touch_of_a_freed_big_block_is_0x50),
        T(big_block_is_page_aligned_and_counted),
        T(nonpaged_pool_hands_out_stale_contents),
        T(paged_pool_is_demand_zero_and_pageable),
        T(wrong_tag_is_bad_pool_caller_0a),
        T(double_free_without_verifier_is_c2_07),
        T(double_free_with_verifier_is_c4_13),
        T(free_of_never_allocated_nonpaged_is_c2_44),
        T(free_of_never_allocated_with_verifier_is_c4_10),
        T(free_of_user_address_is_c2_40),
        T(free_of_non_pool_address_is_c2_42),
        cmocka_unit_test(pool_va_grows_on_demand),
        T(paged_pool_free_in_unallocated_is_c2_50),
        T(paged_allocation_at_dispatch),
        T(paged_allocation_at_dispatch_with_verifier),
        T(paged_free_at_dispatch),
        T(zero_bytes_and_tag_zero_with_verifier),
        T(tag_zero_with_verifier),
        T(tag_big_names_the_caller),
        T(overwritten_header_is_bad_pool_header),
        T(bad_pool_type_and_huge_sizes_return_null),
        T(exhausting_ram_returns_null),
    };
    return cmocka_run_group_tests_name("pool", tests, NULL, NULL);
}
