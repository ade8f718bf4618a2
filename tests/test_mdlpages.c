/* tests/test_mdlpages.c — MmAllocatePagesForMdl(Ex) / MmFreePagesFromMdl and
 * the reserved-mapping family: state after each step, and their misuse
 * (0x1A/0x1236, 0xDA 0x101/0x103/0x104/0x107/0x108, a range too small). */
#include "harness.h"

#define RTAG MM_POOL_TAG('R', 's', 'v', 'd')

static struct mm_mdl read_mdl(mm_machine *m, mm_va mdl, mm_pfn *pfns, size_t max)
{
    struct mm_mdl h;
    assert_ok(mm_mdl_read(m, mdl, &h, pfns, max));
    return h;
}

static void allocate_map_unmap_free(void **state)
{
    mm_machine *m = *state;
    struct mm_memory_counts c;
    assert_ok(mm_memory_query(m, &c));
    uint64_t pool_before = c.nonpaged_pool_pages;
    uint64_t free_before = list_pages(m, MM_FREE_PAGE_LIST) + list_pages(m, MM_ZEROED_PAGE_LIST);
    mm_va mdl = mm_allocate_pages_for_mdl(m, 0, UINT64_MAX, 0, 3 * MM_PAGE_SIZE);
    assert_true(mdl != 0);
    mm_pfn pfns[3];
    struct mm_mdl h = read_mdl(m, mdl, pfns, 3);
    assert_int_equal((uint16_t)h.MdlFlags, MM_MDL_PAGES_LOCKED);
    assert_int_equal(h.ByteCount, 3 * MM_PAGE_SIZE);
    assert_int_equal(h.Process, 0);
    for (int i = 0; i < 3; i++) {
        assert_pfn(m, pfns[i], 1, 1, MM_ACTIVE_AND_VALID);
        struct mm_pfn_info pi;
        assert_ok(mm_pfn_query(m, pfns[i], &pi));
        assert_int_equal(pi.use, MM_USE_MDL_PAGES);
        assert_true(pi.deleted);
    }
    mm_va sys = mm_get_system_address_for_mdl_safe(m, mdl, MM_NORMAL_PAGE_PRIORITY);
    assert_true(sys != 0);
    uint64_t zero = 1;
    assert_ok(mm_read(m, sys + 0x1000, &zero, 8));
    assert_int_equal(zero, 0); /* zero-filled */
    assert_ok(mm_write(m, sys + 0x2FF0, "end", 3));
    assert_ok(mm_free_pages_from_mdl(m, mdl)); /* Windows 7+: also unmaps */
    assert_false(mm_is_address_valid(m, sys));
    h = read_mdl(m, mdl, pfns, 3);
    assert_int_equal((uint16_t)h.MdlFlags, 0);
    assert_int_equal(pfns[0], MM_PFN_NONE);
    assert_ok(mm_pool_free(m, mdl, 0)); /* ExFreePool on the MDL itself */
    /* the MDL's pool page may stay in the pool, empty, for the next block */
    assert_ok(mm_memory_query(m, &c));
    assert_true(c.nonpaged_pool_pages - pool_before <= 1);
    assert_int_equal(list_pages(m, MM_FREE_PAGE_LIST) + list_pages(m, MM_ZEROED_PAGE_LIST) +
                         (c.nonpaged_pool_pages - pool_before),
                     free_before);
}

static void fewer_pages_than_asked(void **state)
{
    mm_machine *m = *state;
    struct mm_memory_counts c;
    assert_ok(mm_memory_query(m, &c));
    mm_va mdl = mm_allocate_pages_for_mdl(m, 0, UINT64_MAX, 0, (c.physical_pages + 100) * MM_PAGE_SIZE);
    assert_true(mdl != 0);
    struct mm_mdl h = read_mdl(m, mdl, NULL, 0);
    assert_true(h.ByteCount < (c.physical_pages + 100) * MM_PAGE_SIZE);
    assert_true(h.ByteCount > 0);
    assert_ok(mm_free_pages_from_mdl(m, mdl));
    assert_ok(mm_pool_free(m, mdl, 0));
    assert_int_equal(mm_allocate_pages_for_mdl_ex(m, 0, UINT64_MAX, 0, (c.physical_pages + 100) * MM_PAGE_SIZE,
                                                  MM_CACHED, MM_ALLOCATE_FULLY_REQUIRED), 0);
    assert_int_equal(mm_allocate_pages_for_mdl(m, 0, UINT64_MAX, 0x123, MM_PAGE_SIZE), 0); /* unaligned skip */
    assert_int_equal(mm_allocate_pages_for_mdl_ex(m, 0, UINT64_MAX, 0, MM_PAGE_SIZE, MM_CACHED, 0x8000), 0);
}

static void physical_range_is_honoured(void **state)
{
    mm_machine *m = *state;
    mm_va mdl = mm_allocate_pages_for_mdl(m, 0x400000, 0x4FFFFF, 0, 4 * MM_PAGE_SIZE);
    mm_pfn pfns[4];
    read_mdl(m, mdl, pfns, 4);
    for (int i = 0; i < 4; i++)
        assert_true(pfns[i] >= 0x400 && pfns[i] <= 0x4FF);
    assert_int_equal(list_pages(m, MM_BAD_PAGE_LIST), 0);
}

static void free_pages_of_a_probed_mdl_is_1a_1236(void **state)
{
    mm_machine *m = *state;
    mm_va buf = mm_pool_allocate(m, MM_NONPAGED_POOL, 64, 1);
    mm_va mdl = mm_io_allocate_mdl(m, buf, 64, false, false, 0);
    assert_ok(mm_probe_and_lock_pages(m, mdl, MM_KERNEL_MODE, MM_IO_READ_ACCESS));
    mm_pfn frame = pfn_of(m, buf);
    expect_bugcheck(mm_free_pages_from_mdl(m, mdl), MM_BUGCHECK_MEMORY_MANAGEMENT, 0x1236);
    assert_params(mdl, MM_MDL_PFN_ARRAY(mdl), frame);
}

/* Non-cached memory's frames are MDL pages too, but each has its PTE:
 * MmFreePagesFromMdl of an MDL built over them is 0x1A/0x1236 before any
 * frame is freed (the API fuzzer found the model freeing them while the
 * non-cached mapping still mapped them). */
static void free_pages_of_non_cached_memory_is_1a_1236(void **state)
{
    mm_machine *m = *state;
    mm_va nc = mm_allocate_non_cached_memory(m, 0x2000);
    assert_true(nc != 0);
    mm_va mdl = mm_io_allocate_mdl(m, nc, 0x2000, false, false, 0);
    assert_ok(mm_probe_and_lock_pages(m, mdl, MM_KERNEL_MODE, MM_IO_READ_ACCESS));
    mm_pfn frame = pfn_of(m, nc);
    expect_bugcheck(mm_free_pages_from_mdl(m, mdl), MM_BUGCHECK_MEMORY_MANAGEMENT, 0x1236);
    assert_params(mdl, MM_MDL_PFN_ARRAY(mdl), frame);
}

static void free_pages_above_dispatch_with_verifier_is_c4_7e(void **state)
{
    mm_machine *m = *state;
    assert_ok(mm_machine_set_verifier(m, MM_VERIFIER_STANDARD));
    mm_va mdl = mm_allocate_pages_for_mdl(m, 0, UINT64_MAX, 0, MM_PAGE_SIZE);
    assert_ok(mm_irql_raise(m, MM_CLOCK_LEVEL, NULL));
    expect_bugcheck(mm_free_pages_from_mdl(m, mdl), MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0x7E);
    assert_params(MM_CLOCK_LEVEL, MM_DISPATCH_LEVEL, 0);
}

static void reserved_mapping_lifecycle(void **state)
{
    mm_machine *m = *state;
    assert_int_equal(mm_allocate_mapping_address(m, MM_PAGE_SIZE, 0), 0); /* callers must name themselves */
    mm_va base = mm_allocate_mapping_address(m, 4 * MM_PAGE_SIZE, RTAG);
    assert_true(base >= layout_of(m).system_ptes + 2 * MM_PAGE_SIZE);
    assert_false(mm_is_address_valid(m, base));
    /* Windows' header encoding: PTE[-2] = total PTEs << 1, PTE[-1] = tag & ~1. */
    assert_int_equal(pte_of(m, NULL, base - 2 * MM_PAGE_SIZE), (4 + 2) << 1);
    assert_int_equal(pte_of(m, NULL, base - MM_PAGE_SIZE), RTAG & ~1u);
    mm_va buf = mm_pool_allocate(m, MM_NONPAGED_POOL, 0x1800, 1);
    mm_va mdl = mm_io_allocate_mdl(m, buf + 0x10, 0x1000, false, false, 0);
    assert_ok(mm_probe_and_lock_pages(m, mdl, MM_KERNEL_MODE, MM_IO_READ_ACCESS));
    mm_va va = mm_map_locked_pages_with_reserved_mapping(m, base, RTAG, mdl, MM_CACHED);
    assert_int_equal(va, base + 0x10); /* + the byte offset */
    struct mm_mdl h = read_mdl(m, mdl, NULL, 0);
    assert_int_equal(h.MappedSystemVa, base); /* without the byte offset */
    assert_true((uint16_t)h.MdlFlags & MM_MDL_MAPPED_TO_SYSTEM_VA);
    assert_ok(mm_write(m, buf + 0x10, "shared", 6));
    char seen[6];
    assert_ok(mm_read(m, va, seen, 6));
    assert_memory_equal(seen, "shared", 6);
    assert_ok(mm_unmap_reserved_mapping(m, base, RTAG, mdl));
    assert_false(mm_is_address_valid(m, va));
    h = read_mdl(m, mdl, NULL, 0);
    assert_false((uint16_t)h.MdlFlags & MM_MDL_MAPPED_TO_SYSTEM_VA);
    assert_ok(mm_free_mapping_address(m, base, RTAG));
    assert_ok(mm_unlock_pages(m, mdl));
}

static mm_va reserved_and_mapped(mm_machine *m, mm_va *mdl_out, uint64_t range_pages, uint32_t bytes)
{
    mm_va base = mm_allocate_mapping_address(m, range_pages * MM_PAGE_SIZE, RTAG);
    mm_va buf = mm_pool_allocate(m, MM_NONPAGED_POOL, 0x3000, 1);
    mm_va mdl = mm_io_allocate_mdl(m, buf, bytes, false, false, 0);
    assert_ok(mm_probe_and_lock_pages(m, mdl, MM_KERNEL_MODE, MM_IO_READ_ACCESS));
    *mdl_out = mdl;
    return base;
}

static void reserved_wrong_tag_on_map(void **state)
{
    mm_machine *m = *state;
    mm_va mdl;
    mm_va base = reserved_and_mapped(m, &mdl, 2, 0x1000);
    expect_bugcheck(mm_map_locked_pages_with_reserved_mapping(m, base, 0x1234, mdl, MM_CACHED),
                    MM_BUGCHECK_SYSTEM_PTE_MISUSE, 0x104);
    assert_params(base, 0x1234, RTAG);
}

static void reserved_wrong_tag_on_unmap_and_free(void **state)
{
    mm_machine *m = *state;
    mm_va mdl;
    mm_va base = reserved_and_mapped(m, &mdl, 2, 0x1000);
    assert_true(mm_map_locked_pages_with_reserved_mapping(m, base, RTAG, mdl, MM_CACHED) != 0);
    expect_bugcheck(mm_unmap_reserved_mapping(m, base, 0x1234, mdl), MM_BUGCHECK_SYSTEM_PTE_MISUSE, 0x108);
    assert_params(base, 0x1234, RTAG);
}

static void reserved_free_with_wrong_tag(void **state)
{
    mm_machine *m = *state;
    mm_va base = mm_allocate_mapping_address(m, MM_PAGE_SIZE, RTAG);
    expect_bugcheck(mm_free_mapping_address(m, base, 0x99), MM_BUGCHECK_SYSTEM_PTE_MISUSE, 0x101);
    assert_params(base, 0x99, RTAG);
}

static void reserved_free_while_mapped(void **state)
{
    mm_machine *m = *state;
    mm_va mdl;
    mm_va base = reserved_and_mapped(m, &mdl, 3, 0x2000);
    assert_true(mm_map_locked_pages_with_reserved_mapping(m, base, RTAG, mdl, MM_CACHED) != 0);
    expect_bugcheck(mm_free_mapping_address(m, base, RTAG), MM_BUGCHECK_SYSTEM_PTE_MISUSE, 0x103);
    assert_params(base, RTAG, 2);
}

static void reserved_map_into_non_empty_range(void **state)
{
    mm_machine *m = *state;
    mm_va mdl;
    mm_va base = reserved_and_mapped(m, &mdl, 3, 0x1000);
    assert_true(mm_map_locked_pages_with_reserved_mapping(m, base, RTAG, mdl, MM_CACHED) != 0);
    expect_bugcheck(mm_map_locked_pages_with_reserved_mapping(m, base, RTAG, mdl, MM_CACHED),
                    MM_BUGCHECK_SYSTEM_PTE_MISUSE, 0x107);
    /* P3, P4: PTE addresses (the first non-empty PTE, the range's last) */
    struct mm_pte_walk w0, w2;
    assert_ok(mm_pte_walk(m, NULL, base, &w0));
    assert_ok(mm_pte_walk(m, NULL, base + 2 * MM_PAGE_SIZE, &w2));
    assert_params(base, w0.level[3].entry_address, w2.level[3].entry_address);
}

static void reserved_range_too_small_returns_null(void **state)
{
    mm_machine *m = *state;
    mm_va mdl;
    mm_va base = reserved_and_mapped(m, &mdl, 1, 0x2000);
    assert_int_equal(mm_map_locked_pages_with_reserved_mapping(m, base, RTAG, mdl, MM_CACHED), 0);
    assert_false(mm_machine_is_dead(m));
    assert_ok(mm_free_mapping_address(m, base, RTAG));
}

static void reserving_zero_bytes_is_da_100(void **state)
{
    mm_machine *m = *state;
    expect_bugcheck(mm_allocate_mapping_address(m, 0, RTAG), MM_BUGCHECK_SYSTEM_PTE_MISUSE, 0x100);
    assert_params(0, RTAG, 0);
}

/* MmUnmapReservedMapping checks the MDL against the range before clearing
 * it (regression, found by the API fuzzer: an MDL longer than the range
 * cleared the PTEs of the kernel stack after it). */
static void reserved_unmap_of_a_longer_mdl_is_da_10a(void **state)
{
    mm_machine *m = *state;
    mm_va mdl;
    mm_va base = reserved_and_mapped(m, &mdl, 1, 0x1000);
    mm_va stack, limit;
    assert_ok(mm_kernel_stack_create(m, &stack, &limit)); /* right after the range */
    assert_true(mm_map_locked_pages_with_reserved_mapping(m, base, RTAG, mdl, MM_CACHED) != 0);
    mm_va buf = mm_pool_allocate(m, MM_NONPAGED_POOL, 0x3000, 1);
    mm_va longer = mm_io_allocate_mdl(m, buf, 0x3000, false, false, 0);
    expect_bugcheck(mm_unmap_reserved_mapping(m, base, RTAG, longer), MM_BUGCHECK_SYSTEM_PTE_MISUSE, 0x10A);
    assert_params(base, 1, 3); /* the range holds one mapping; the MDL has three pages */
}

static void reserved_unmap_of_unmapped_pages_is_da_10b(void **state)
{
    mm_machine *m = *state;
    mm_va mdl;
    mm_va base = reserved_and_mapped(m, &mdl, 2, 0x1000);
    expect_bugcheck(mm_unmap_reserved_mapping(m, base, RTAG, mdl), MM_BUGCHECK_SYSTEM_PTE_MISUSE, 0x10B);
    assert_params(base, RTAG, 1);
}

static void reserved_unmap_leaving_pages_mapped_is_da_10c(void **state)
{
    mm_machine *m = *state;
    mm_va two;
    mm_va base = reserved_and_mapped(m, &two, 2, 0x2000);
    assert_true(mm_map_locked_pages_with_reserved_mapping(m, base, RTAG, two, MM_CACHED) != 0);
    mm_va buf = mm_pool_allocate(m, MM_NONPAGED_POOL, 0x1000, 1);
    mm_va one = mm_io_allocate_mdl(m, buf, 0x1000, false, false, 0);
    expect_bugcheck(mm_unmap_reserved_mapping(m, base, RTAG, one), MM_BUGCHECK_SYSTEM_PTE_MISUSE, 0x10C);
    assert_params(base, RTAG, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup_machine, teardown_machine)
        T(reserved_unmap_of_a_longer_mdl_is_da_10a),
        T(reserved_unmap_of_unmapped_pages_is_da_10b),
        T(reserved_unmap_leaving_pages_mapped_is_da_10c),
        T(allocate_map_unmap_free),
        T(fewer_pages_than_asked),
        T(physical_range_is_honoured),
        T(free_pages_of_a_probed_mdl_is_1a_1236),
        T(free_pages_of_non_cached_memory_is_1a_1236),
        T(free_pages_above_dispatch_with_verifier_is_c4_7e),
        T(reserved_mapping_lifecycle),
        T(reserved_wrong_tag_on_map),
        T(reserved_wrong_tag_on_unmap_and_free),
        T(reserved_free_with_wrong_tag),
        T(reserved_free_while_mapped),
        T(reserved_map_into_non_empty_range),
        T(reserved_range_too_small_returns_null),
        T(reserving_zero_bytes_is_da_100),
    };
    return cmocka_run_group_tests_name("mdlpages", tests, NULL, NULL);
}
