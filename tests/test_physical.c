/* tests/test_physical.c — physical-memory DDIs: I/O-space mappings of device
 * frames and locked RAM (bytes, PTE cache bits, no PFN count changes), non-
 * cached and contiguous allocations, and their misuse with and without
 * Verifier (0xC4 0x73/0x7B/0x83/0x20019, 0xDA 0x305/0x400, 0xC2/0x60). */
#include <stdlib.h>

#include "harness.h"
#include "failing_alloc.h"

#include "physical.h"

#define TAG MM_POOL_TAG('P', 'h', 'y', 's')

/* Hardware PTE bits the tests look at. */
#define HW_WRITE UINT64_C(0x2)
#define HW_PWT UINT64_C(0x8)
#define HW_PCD UINT64_C(0x10)
#define HW_NX (UINT64_C(1) << 63)
#define CACHE_BITS (HW_PCD | HW_PWT)

/* The machine's invariants, and the physical module's own. */
#define check(m)                                                                    \
    do {                                                                            \
        assert_invariants(m);                                                       \
        char why_[256];                                                             \
        if (mmi_physical_check((m), why_, sizeof why_) != MM_STATUS_SUCCESS)        \
            fail_msg("physical invariant broken: %s", why_);                        \
    } while (0)

static int setup(void **state) { return setup_attached(state); }
static int setup_verifier(void **state) { return setup_attached_verifier(state); }

static int teardown(void **state)
{
    if (H.m && !mm_machine_is_dead(H.m))
        check(H.m);
    return teardown_machine(state);
}

static uint64_t ram_end(mm_machine *m)
{
    struct mm_memory_counts c;
    assert_ok(mm_memory_query(m, &c));
    return c.physical_pages << MM_PAGE_SHIFT;
}

/* A device's registers: well above RAM. */
static uint64_t device(mm_machine *m) { return ram_end(m) + 0x100000; }

static uint64_t ptes_used(mm_machine *m)
{
    struct mm_memory_counts c;
    assert_ok(mm_memory_query(m, &c));
    return c.system_ptes_used;
}

static uint64_t pte(mm_machine *m, mm_va va) { return pte_of(m, NULL, va); }
static mm_pfn frame_at(mm_machine *m, mm_va va) { return pfn_of(m, va); }

static struct mm_pfn_info pfn_info(mm_machine *m, mm_pfn pfn)
{
    struct mm_pfn_info i;
    assert_ok(mm_pfn_query(m, pfn, &i));
    return i;
}

static void assert_all(const unsigned char *p, unsigned char value, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != value)
            fail_msg("byte %zu is 0x%02x, expected 0x%02x", i, p[i], value);
}

/* A user page holding `text`, probe-locked by a new MDL; returns the MDL. */
static mm_va locked_user_page(mm_machine *m, mm_va *va, const char *text)
{
    *va = commit_user(m, 0x1000, MM_PAGE_READWRITE);
    assert_ok(mm_write(m, *va + 0x100, text, strlen(text)));
    mm_va mdl = mm_io_allocate_mdl(m, *va, 0x1000, false, false, 0);
    assert_true(mdl != 0);
    assert_ok(mm_probe_and_lock_pages(m, mdl, MM_USER_MODE, MM_IO_WRITE_ACCESS));
    return mdl;
}

static void unlock_and_free(mm_machine *m, mm_va mdl)
{
    assert_ok(mm_unlock_pages(m, mdl));
    assert_ok(mm_io_free_mdl(m, mdl));
}

/* ---- MmMapIoSpace over device memory ---- */

static void device_reads_all_ones_and_drops_writes(void **state)
{
    mm_machine *m = *state;
    uint64_t pa = device(m) + 0x123, used = ptes_used(m);
    mm_va va = mm_map_io_space(m, pa, 0x1000, MM_NON_CACHED);
    assert_true(va != 0);
    assert_int_equal(MM_BYTE_OFFSET(va), 0x123); /* the VA of the physical address itself */
    assert_int_equal(ptes_used(m), used + 2);     /* 0x123 + 0x1000 spans two pages */
    unsigned char buf[64];
    memset(buf, 0, sizeof buf);
    assert_ok(mm_read(m, va, buf, sizeof buf));
    assert_all(buf, 0xFF, sizeof buf);
    assert_ok(mm_write(m, va + 0xFF0, "register", 8)); /* crosses into the second page */
    memset(buf, 0, sizeof buf);
    assert_ok(mm_read(m, va + 0xFF0, buf, 16));
    assert_all(buf, 0xFF, 16);
    for (unsigned i = 0; i < 2; i++) {
        uint64_t e = pte(m, MM_PAGE_ALIGN(va) + i * MM_PAGE_SIZE);
        assert_int_equal((e >> 12) & 0xFFFFFFFFFull, (pa >> 12) + i);
        assert_int_equal(e & CACHE_BITS, CACHE_BITS);   /* non-cached: PCD and PWT */
        assert_true(e & HW_WRITE);
        assert_false(e & HW_NX);                         /* the legacy routine maps executable */
    }
    assert_int_equal(mm_get_physical_address(m, va), pa);
    check(m);
    assert_ok(mm_unmap_io_space(m, va, 0x1000));
    assert_int_equal(ptes_used(m), used);
    assert_int_equal(pte(m, MM_PAGE_ALIGN(va)), 0);
    check(m);
}

static void read_after_unmap_faults(void **state)
{
    mm_machine *m = *state;
    mm_va va = mm_map_io_space(m, device(m), 0x1000, MM_CACHED);
    assert_ok(mm_unmap_io_space(m, va, 0x1000));
    uint32_t x;
    expect_bugcheck(mm_read(m, va, &x, 4), MM_BUGCHECK_PAGE_FAULT_IN_NONPAGED_AREA, va);
}

static void cache_types_give_pte_bits(void **state)
{
    mm_machine *m = *state;
    static const struct { mm_cache_type cache; uint64_t bits; } cases[] = {
        {MM_NON_CACHED, HW_PCD | HW_PWT}, {MM_CACHED, 0}, {MM_WRITE_COMBINED, HW_PCD},
        {MM_HARDWARE_COHERENT_CACHED, 0}, {MM_NON_CACHED_UNORDERED, HW_PCD | HW_PWT}, {MM_USWC_CACHED, HW_PCD},
    };
    for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mm_va va = mm_map_io_space(m, device(m) + i * MM_PAGE_SIZE, 8, cases[i].cache);
        assert_true(va != 0);
        assert_int_equal(pte(m, va) & CACHE_BITS, cases[i].bits);
        assert_ok(mm_unmap_io_space(m, va, 8));
    }
    uint64_t used = ptes_used(m);
    assert_int_equal(mm_map_io_space(m, device(m), 8, MM_MAXIMUM_CACHE_TYPE), 0);
    assert_int_equal(mm_map_io_space(m, device(m), 8, (mm_cache_type)-1), 0);
    assert_int_equal(mm_map_io_space(m, device(m), 0, MM_NON_CACHED), 0);
    assert_int_equal(mm_map_io_space(m, UINT64_MAX - 0x10, 0x100, MM_NON_CACHED), 0); /* wraps */
    assert_int_equal(mm_map_io_space(m, UINT64_C(1) << 52, 0x1000, MM_NON_CACHED), 0); /* beyond 52 bits */
    assert_int_equal(ptes_used(m), used);
    assert_int_equal(mm_map_io_space(NULL, device(m), 8, MM_CACHED), 0);
    check(m);
}

static void map_io_space_ex_protections(void **state)
{
    mm_machine *m = *state;
    static const struct { uint32_t protect; uint64_t want; } ok[] = {
        {MM_PAGE_READONLY, HW_NX},
        {MM_PAGE_READWRITE | MM_PAGE_NOCACHE, HW_WRITE | HW_NX | HW_PCD | HW_PWT},
        {MM_PAGE_EXECUTE, 0},
        {MM_PAGE_EXECUTE_READ | MM_PAGE_WRITECOMBINE, HW_PCD},
        {MM_PAGE_EXECUTE_READWRITE, HW_WRITE},
    };
    for (unsigned i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        mm_va va = mm_map_io_space_ex(m, device(m), 0x1000, ok[i].protect);
        assert_true(va != 0);
        assert_int_equal(pte(m, va) & (HW_WRITE | HW_NX | CACHE_BITS), ok[i].want);
        assert_ok(mm_unmap_io_space(m, va, 0x1000));
    }
    static const uint32_t bad[] = {0, MM_PAGE_NOACCESS, MM_PAGE_WRITECOPY, MM_PAGE_EXECUTE_WRITECOPY,
                                   MM_PAGE_READWRITE | MM_PAGE_GUARD, MM_PAGE_READWRITE | MM_PAGE_NOCACHE |
                                   MM_PAGE_WRITECOMBINE, MM_PAGE_READONLY | MM_PAGE_READWRITE, MM_PAGE_NOCACHE,
                                   MM_PAGE_READWRITE | 0x10000u};
    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(mm_map_io_space_ex(m, device(m), 0x1000, bad[i]), 0);
    check(m);
}

static void write_through_read_only_mapping_is_0xBE(void **state)
{
    mm_machine *m = *state;
    mm_va va = mm_map_io_space_ex(m, device(m), 0x1000, MM_PAGE_READONLY | MM_PAGE_NOCACHE);
    uint32_t x;
    assert_ok(mm_read(m, va, &x, 4));
    assert_int_equal(x, 0xFFFFFFFFu);
    uint64_t e = pte(m, va);
    expect_bugcheck(mm_write(m, va, &x, 4), MM_BUGCHECK_ATTEMPTED_WRITE_TO_READONLY_MEMORY, va);
    assert_params(e, 0, 0);
}

/* Mappings live in a hash: many of them, unmapped in any order. */
static void many_mappings(void **state)
{
    mm_machine *m = *state;
    enum { N = 300 };
    static mm_va va[N];
    uint64_t used = ptes_used(m);
    for (unsigned i = 0; i < N; i++) {
        va[i] = mm_map_io_space(m, device(m) + i * 0x10000 + i, 0x800, MM_NON_CACHED);
        assert_true(va[i] != 0);
    }
    check(m);
    for (unsigned i = 1; i < N; i += 2)
        assert_ok(mm_unmap_io_space(m, va[i], 0x800));
    check(m);
    for (unsigned i = 0; i < N; i += 2)
        assert_ok(mm_unmap_io_space(m, va[i], 0x800));
    assert_int_equal(ptes_used(m), used);
    check(m);
}

/* Regression (API fuzzer): a physical address beyond what a PTE's frame
 * number holds (48 bits) was mapped with its high bits cut. */
static void beyond_48_bit_physical_is_null(void **state)
{
    mm_machine *m = *state;
    assert_int_equal(mm_map_io_space(m, UINT64_C(1) << 48, MM_PAGE_SIZE, MM_NON_CACHED), 0);
    assert_int_equal(mm_map_io_space(m, (UINT64_C(1) << 48) - MM_PAGE_SIZE, 2 * MM_PAGE_SIZE, MM_NON_CACHED), 0);
    assert_true(mm_map_io_space(m, (UINT64_C(1) << 48) - MM_PAGE_SIZE, MM_PAGE_SIZE, MM_NON_CACHED) != 0);
    assert_invariants(m);
}

static void too_large_for_system_ptes_is_null(void **state)
{
    mm_machine *m = *state;
    struct mm_memory_counts c;
    assert_ok(mm_memory_query(m, &c));
    uint64_t free_ptes = c.system_ptes_total - c.system_ptes_used;
    assert_int_equal(mm_map_io_space(m, device(m), (free_ptes + 1) * MM_PAGE_SIZE, MM_NON_CACHED), 0);
    assert_false(mm_machine_is_dead(m));
    assert_int_equal(ptes_used(m), c.system_ptes_used);
    check(m);
}

static void mapping_is_traced(void **state)
{
    mm_machine *m = *state;
    mm_va va = mm_map_io_space(m, device(m), 0x3000, MM_NON_CACHED);
    assert_ok(mm_unmap_io_space(m, va, 0x3000));
    struct mm_trace_event ev[64];
    size_t n = mm_trace_read(m, ev, 64);
    bool mapped = false, unmapped = false;
    for (size_t i = 0; i < n; i++) {
        if (ev[i].type != MM_EV_NOTE || ev[i].va != va)
            continue;
        char text[128];
        mm_trace_format(&ev[i], text, sizeof text);
        mapped |= strstr(text, "IOMP") != NULL && ev[i].b == 3;
        unmapped |= strstr(text, "IOUM") != NULL;
    }
    assert_true(mapped && unmapped);
}

/* ---- MmMapIoSpace over RAM ---- */

static void locked_ram_shows_the_same_bytes(void **state)
{
    mm_machine *m = *state;
    mm_va user;
    mm_va mdl = locked_user_page(m, &user, "secret");
    mm_pfn pfn = pfn_of(m, user);
    assert_pfn(m, pfn, 1, 2, MM_ACTIVE_AND_VALID);
    mm_va va = mm_map_io_space(m, (pfn << 12) + 0x100, 6, MM_NON_CACHED);
    assert_true(va != 0);
    assert_int_equal(MM_BYTE_OFFSET(va), 0x100);
    char buf[8] = {0};
    assert_ok(mm_read(m, va, buf, 6));
    assert_memory_equal(buf, "secret", 6);
    assert_ok(mm_write(m, va, "SECRET", 6));
    assert_ok(mm_read(m, user + 0x100, buf, 6));
    assert_memory_equal(buf, "SECRET", 6);
    assert_pfn(m, pfn, 1, 2, MM_ACTIVE_AND_VALID); /* no PFN count changes */
    /* The page is cached: its attribute wins over the request. */
    assert_int_equal(pte(m, va) & CACHE_BITS, 0);
    assert_int_equal(pfn_info(m, pfn).cache_attribute, MM_PFN_CACHED);
    check(m);
    assert_ok(mm_unmap_io_space(m, va, 6));
    assert_pfn(m, pfn, 1, 2, MM_ACTIVE_AND_VALID);
    unlock_and_free(m, mdl);
    assert_pfn(m, pfn, 1, 1, MM_ACTIVE_AND_VALID);
    check(m);
}

/* Nonpaged memory the system hands out counts as locked. */
static void nonpaged_memory_is_locked_for_verifier(void **state)
{
    mm_machine *m = *state;
    mm_va pool = mm_pool_allocate(m, MM_NONPAGED_POOL, 0x100, TAG);
    assert_ok(mm_write(m, pool, "pool", 4));
    mm_va va = mm_map_io_space(m, mm_get_physical_address(m, pool), 0x100, MM_CACHED);
    char buf[4];
    assert_ok(mm_read(m, va, buf, 4));
    assert_memory_equal(buf, "pool", 4);
    assert_ok(mm_unmap_io_space(m, va, 0x100));
    mm_va nc = mm_allocate_non_cached_memory(m, 0x1000);
    mm_va ct = mm_allocate_contiguous_memory(m, 0x2000, UINT64_MAX);
    mm_va a = mm_map_io_space(m, mm_get_physical_address(m, nc), 0x1000, MM_CACHED);
    mm_va b = mm_map_io_space(m, mm_get_physical_address(m, ct), 0x2000, MM_NON_CACHED);
    assert_true(a && b);
    /* The frames keep their own attributes. */
    assert_int_equal(pte(m, a) & CACHE_BITS, CACHE_BITS);
    assert_int_equal(pte(m, b) & CACHE_BITS, 0);
    check(m);
    assert_ok(mm_unmap_io_space(m, a, 0x1000));
    assert_ok(mm_unmap_io_space(m, b, 0x2000));
    assert_ok(mm_free_non_cached_memory(m, nc, 0x1000));
    assert_ok(mm_free_contiguous_memory(m, ct));
    assert_ok(mm_pool_free(m, pool, TAG));
}

static void unlocked_ram_with_verifier_is_0x83(void **state)
{
    mm_machine *m = *state;
    mm_va user = commit_user(m, 0x1000, MM_PAGE_READWRITE);
    assert_ok(mm_write(m, user, "x", 1)); /* resident, but nobody locked it */
    mm_pfn pfn = pfn_of(m, user);
    uint64_t pa = (pfn << 12) + 0x10;
    expect_bugcheck(mm_map_io_space(m, pa, 0x20, MM_CACHED), MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0x83);
    assert_params(pa, 0x20, pfn);
}

/* P4 names the first frame that is not locked: here the free frame after
 * a contiguous allocation's (which the system holds). */
static void free_ram_with_verifier_is_0x83(void **state)
{
    mm_machine *m = *state;
    mm_va ct = mm_allocate_contiguous_memory_specify_cache(m, 0x1000, 0x7E0000, 0x7E0FFF, 0, MM_CACHED);
    assert_int_equal(frame_at(m, ct), 0x7E0);
    expect_bugcheck(mm_map_io_space(m, 0x7E0800, 0x1000, MM_CACHED), MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION,
                    0x83);
    assert_params(0x7E0800, 0x1000, 0x7E1);
}

static void unlocked_ram_without_verifier_is_mapped(void **state)
{
    mm_machine *m = *state;
    uint64_t pa = ram_end(m) - 0x1000; /* the last RAM frame, free; the next is device memory */
    mm_va va = mm_map_io_space(m, pa, 0x2000, MM_CACHED);
    assert_true(va != 0);
    assert_ok(mm_write(m, va + 0xFF8, "ABCDEFGHIJKLMNOP", 16));
    unsigned char buf[16];
    assert_ok(mm_read(m, va + 0xFF8, buf, 16));
    assert_memory_equal(buf, "ABCDEFGH", 8); /* RAM keeps it */
    assert_all(buf + 8, 0xFF, 8);            /* the device does not */
    struct mm_pfn_info i = pfn_info(m, pa >> 12);
    assert_int_equal(i.location, MM_ZEROED_PAGE_LIST); /* a free page, silently dirtied */
    assert_true(i.stored);
    check(m);
    assert_ok(mm_unmap_io_space(m, va, 0x2000));
    check(m);
}

static void page_tables_of_system_space_are_refused(void **state)
{
    mm_machine *m = *state;
    mm_va pool = mm_pool_allocate(m, MM_NONPAGED_POOL, 0x100, TAG);
    struct mm_pte_walk w;
    assert_ok(mm_pte_walk(m, NULL, pool, &w));
    mm_pfn table = w.level[3].table_pfn;
    uint64_t used = ptes_used(m);
    assert_int_equal(mm_map_io_space(m, table << 12, 0x1000, MM_CACHED), 0);
    assert_int_equal(mm_map_io_space(m, (table << 12) - 0x1000, 0x2000, MM_CACHED), 0); /* any page of the range */
    assert_int_equal(mm_map_io_space(m, w.level[0].table_pfn << 12, 0x1000, MM_CACHED), 0);
    assert_int_equal(ptes_used(m), used);
    /* A user process's own tables may be mapped (ReactOS kmtest, run on Windows). */
    mm_va user = commit_user(m, 0x1000, MM_PAGE_READWRITE);
    assert_ok(mm_write(m, user, "u", 1));
    assert_ok(mm_pte_walk(m, NULL, user, &w));
    mm_va va = mm_map_io_space(m, w.level[0].table_pfn << 12, 0x1000, MM_CACHED);
    assert_true(va != 0);
    assert_ok(mm_unmap_io_space(m, va, 0x1000));
    assert_ok(mm_pool_free(m, pool, TAG));
    check(m);
}

/* Under Verifier too it is NULL, not 0x83. */
static void page_tables_refused_under_verifier(void **state)
{
    mm_machine *m = *state;
    mm_va pool = mm_pool_allocate(m, MM_NONPAGED_POOL, 0x100, TAG);
    struct mm_pte_walk w;
    assert_ok(mm_pte_walk(m, NULL, pool, &w));
    assert_int_equal(mm_map_io_space(m, w.level[3].table_pfn << 12, 0x1000, MM_CACHED), 0);
    assert_false(mm_machine_is_dead(m));
    assert_ok(mm_pool_free(m, pool, TAG));
}

/* ---- IRQL ---- */

static void map_above_dispatch_with_verifier_is_0x73(void **state)
{
    mm_machine *m = *state;
    assert_ok(mm_irql_raise(m, MM_CLOCK_LEVEL, NULL));
    expect_bugcheck(mm_map_io_space(m, device(m) + 8, 0x10, MM_NON_CACHED),
                    MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0x73);
    assert_params(MM_CLOCK_LEVEL, device(m) + 8, 0x10);
}

static void map_and_unmap_at_dispatch(void **state)
{
    mm_machine *m = *state;
    assert_ok(mm_irql_raise(m, MM_DISPATCH_LEVEL, NULL));
    mm_va va = mm_map_io_space(m, device(m), 0x10, MM_NON_CACHED);
    assert_true(va != 0);
    assert_ok(mm_unmap_io_space(m, va, 0x10)); /* Windows' documented limit; Verifier is off */
    assert_ok(mm_irql_lower(m, MM_PASSIVE_LEVEL));
    check(m);
}

static void unmap_above_apc_with_verifier_is_0x7B(void **state)
{
    mm_machine *m = *state;
    mm_va va = mm_map_io_space(m, device(m) + 0x40, 0x10, MM_NON_CACHED);
    assert_true(va != 0);
    assert_ok(mm_irql_raise(m, MM_DISPATCH_LEVEL, NULL));
    expect_bugcheck(mm_unmap_io_space(m, va, 0x10), MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0x7B);
    assert_params(MM_DISPATCH_LEVEL, va, 0x10);
}

/* ---- MmUnmapIoSpace misuse ---- */

static void unmap_never_mapped_is_0xDA_400(void **state)
{
    mm_machine *m = *state;
    mm_va va = layout_of(m).system_ptes + 0x100000 + 0x20;
    expect_bugcheck(mm_unmap_io_space(m, va, 0x1000), MM_BUGCHECK_SYSTEM_PTE_MISUSE, 0x400);
    assert_params(MM_PAGE_ALIGN(va), 2, 0);
}

static void unmap_second_page_is_0xDA_400(void **state)
{
    mm_machine *m = *state;
    mm_va va = mm_map_io_space(m, device(m), 0x2000, MM_NON_CACHED);
    expect_bugcheck(mm_unmap_io_space(m, va + 0x1000, 0x1000), MM_BUGCHECK_SYSTEM_PTE_MISUSE, 0x400);
    assert_params(va + 0x1000, 1, 0);
}

/* Without Verifier a driver may map RAM nobody holds and write it. The
 * page at the head of the zeroed list, written so, stays there silently
 * dirtied; the page table a new process takes from there next still
 * starts all zeros (found by the API fuzzer: a new PML4 inherited the
 * bytes and its system half no longer matched). */
static void page_table_from_a_dirtied_zero_page_starts_empty(void **state)
{
    mm_machine *m = *state;
    mm_pfn head = MM_PFN_NONE;
    struct mm_pfn_info pi;
    for (mm_pfn pfn = 1; pfn < 4096 && head == MM_PFN_NONE; pfn++)
        if (MM_SUCCESS(mm_pfn_query(m, pfn, &pi)) && pi.location == MM_ZEROED_PAGE_LIST && pi.blink == MM_PFN_NONE)
            head = pfn;
    assert_true(head != MM_PFN_NONE);
    mm_va va = mm_map_io_space(m, (uint64_t)head << 12, MM_PAGE_SIZE, MM_CACHED);
    assert_true(va != 0);
    unsigned char junk[MM_PAGE_SIZE];
    memset(junk, 0xA5, sizeof junk);
    assert_ok(mm_write(m, va, junk, sizeof junk));
    assert_ok(mm_pfn_query(m, head, &pi));
    assert_int_equal(pi.location, MM_ZEROED_PAGE_LIST);
    assert_true(pi.stored);
    assert_ok(mm_unmap_io_space(m, va, MM_PAGE_SIZE));
    mm_process *p = NULL;
    assert_ok(mm_process_create(m, "after.exe", &p)); /* its PML4 (or a table) is that page */
    assert_ok(mm_pfn_query(m, head, &pi));
    assert_int_equal(pi.location, MM_ACTIVE_AND_VALID);
    assert_int_equal(pi.use, MM_USE_PAGE_TABLE);
    assert_invariants(m);
}

static void unmap_twice_is_0xDA_400(void **state)
{
    mm_machine *m = *state;
    mm_va va = mm_map_io_space(m, device(m), 0x1000, MM_NON_CACHED);
    assert_ok(mm_unmap_io_space(m, va, 0x1000));
    expect_bugcheck(mm_unmap_io_space(m, va, 0x1000), MM_BUGCHECK_SYSTEM_PTE_MISUSE, 0x400);
    assert_params(va, 1, 0);
}

static void unmap_non_cached_memory_is_0xDA_400(void **state)
{
    mm_machine *m = *state;
    mm_va va = mm_allocate_non_cached_memory(m, 0x1000);
    expect_bugcheck(mm_unmap_io_space(m, va, 0x1000), MM_BUGCHECK_SYSTEM_PTE_MISUSE, 0x400);
    assert_params(va, 1, 0);
}

static void unmap_wrong_size_is_0xDA_305(void **state)
{
    mm_machine *m = *state;
    mm_va va = mm_map_io_space(m, device(m) + 0x10, 0x2FF0, MM_NON_CACHED); /* 3 pages */
    expect_bugcheck(mm_unmap_io_space(m, va, 0x10), MM_BUGCHECK_SYSTEM_PTE_MISUSE, 0x305);
    assert_params(MM_PAGE_ALIGN(va), 1, 3);
}

static void unmap_zero_bytes_is_0xDA_305(void **state)
{
    mm_machine *m = *state;
    mm_va va = mm_map_io_space(m, device(m), 0x1000, MM_NON_CACHED);
    expect_bugcheck(mm_unmap_io_space(m, va, 0), MM_BUGCHECK_SYSTEM_PTE_MISUSE, 0x305);
    assert_params(va, 0, 1);
}

/* ---- MmAllocateNonCachedMemory / MmFreeNonCachedMemory ---- */

static void non_cached_memory_pages(void **state)
{
    mm_machine *m = *state;
    uint64_t used = ptes_used(m);
    uint64_t available = list_pages(m, MM_FREE_PAGE_LIST) + list_pages(m, MM_ZEROED_PAGE_LIST);
    mm_va va = mm_allocate_non_cached_memory(m, 0x2001);
    assert_true(va != 0);
    assert_int_equal(MM_BYTE_OFFSET(va), 0);
    assert_int_equal(ptes_used(m), used + 4); /* 3 pages and the hidden-MDL PTE in front */
    assert_int_equal(pte(m, va - 0x1000) & 1, 0);
    mm_pfn pfns[3];
    for (unsigned i = 0; i < 3; i++) {
        uint64_t e = pte(m, va + i * MM_PAGE_SIZE);
        assert_int_equal(e & (CACHE_BITS | HW_WRITE | HW_NX | 1), CACHE_BITS | HW_WRITE | HW_NX | 1);
        pfns[i] = (e >> 12) & 0xFFFFFFFFFull;
        assert_pfn(m, pfns[i], 1, 1, MM_ACTIVE_AND_VALID);
        struct mm_pfn_info pi = pfn_info(m, pfns[i]);
        assert_int_equal(pi.cache_attribute, MM_PFN_NON_CACHED);
        assert_int_equal(pi.use, MM_USE_MDL_PAGES);
        assert_int_equal(pi.mapped_va, va + i * MM_PAGE_SIZE);
    }
    assert_ok(mm_write(m, va + 0x2FFC, "tail", 4));
    char buf[4];
    assert_ok(mm_read(m, va + 0x2FFC, buf, 4));
    assert_memory_equal(buf, "tail", 4);
    check(m);
    assert_ok(mm_free_non_cached_memory(m, va, 0x2001));
    for (unsigned i = 0; i < 3; i++)
        assert_int_equal(pfn_info(m, pfns[i]).location, MM_FREE_PAGE_LIST);
    assert_int_equal(ptes_used(m), used);
    assert_int_equal(list_pages(m, MM_FREE_PAGE_LIST) + list_pages(m, MM_ZEROED_PAGE_LIST), available);
    assert_int_equal(mm_allocate_non_cached_memory(m, 0), 0);
    check(m);
}

/* Windows releases pages + 1 PTEs from the one in front; the allocator
 * checks the count. */
static void non_cached_wrong_size_is_0xDA_305(void **state)
{
    mm_machine *m = *state;
    mm_va va = mm_allocate_non_cached_memory(m, 0x2000);
    expect_bugcheck(mm_free_non_cached_memory(m, va, 0x1000), MM_BUGCHECK_SYSTEM_PTE_MISUSE, 0x305);
    assert_params(va - 0x1000, 2, 3);
}

static void non_cached_inside_is_0xDA_304(void **state)
{
    mm_machine *m = *state;
    mm_va va = mm_allocate_non_cached_memory(m, 0x2000);
    expect_bugcheck(mm_free_non_cached_memory(m, va + 0x1000, 0x1000), MM_BUGCHECK_SYSTEM_PTE_MISUSE, 0x304);
    assert_params(va, 2, 0);
}

static void non_cached_twice_is_0xDA_306(void **state)
{
    mm_machine *m = *state;
    mm_va va = mm_allocate_non_cached_memory(m, 0x1000);
    assert_ok(mm_free_non_cached_memory(m, va, 0x1000));
    expect_bugcheck(mm_free_non_cached_memory(m, va, 0x1000), MM_BUGCHECK_SYSTEM_PTE_MISUSE, 0x306);
    assert_params(va - 0x1000, va - 0x1000, 2);
}

/* An I/O mapping whose shape matches: the PTEs are one allocation, but no
 * non-cached allocation starts at base. */
static void non_cached_free_of_other_mapping_is_0xDA_303(void **state)
{
    mm_machine *m = *state;
    mm_va io = mm_map_io_space(m, device(m), 0x2000, MM_NON_CACHED);
    expect_bugcheck(mm_free_non_cached_memory(m, io + 0x1000, 0x1000), MM_BUGCHECK_SYSTEM_PTE_MISUSE, 0x303);
    assert_params(io, 2, 0);
}

static void non_cached_at_dispatch_with_verifier_is_0x20019(void **state)
{
    mm_machine *m = *state;
    assert_ok(mm_irql_raise(m, MM_DISPATCH_LEVEL, NULL));
    expect_bugcheck(mm_allocate_non_cached_memory(m, 0x1000), MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION,
                    0x20019);
    assert_params(0, 0, 0);
}

static void non_cached_free_at_dispatch_with_verifier_is_0x20019(void **state)
{
    mm_machine *m = *state;
    mm_va va = mm_allocate_non_cached_memory(m, 0x1000);
    assert_true(va != 0);
    assert_ok(mm_irql_raise(m, MM_DISPATCH_LEVEL, NULL));
    expect_bugcheck(mm_free_non_cached_memory(m, va, 0x1000), MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION,
                    0x20019);
}

/* Without Verifier its pageable code faults at DISPATCH_LEVEL. */
static void non_cached_at_dispatch_is_0x0A(void **state)
{
    mm_machine *m = *state;
    assert_ok(mm_irql_raise(m, MM_DISPATCH_LEVEL, NULL));
    expect_bugcheck(mm_allocate_non_cached_memory(m, 0x1000), MM_BUGCHECK_IRQL_NOT_LESS_OR_EQUAL, 0);
    assert_params(MM_DISPATCH_LEVEL, 0, 0);
}

/* ---- contiguous memory ---- */

static void contiguous_memory_pages(void **state)
{
    mm_machine *m = *state;
    uint64_t used = ptes_used(m);
    mm_va va = mm_allocate_contiguous_memory(m, 0x4800, UINT64_MAX);
    assert_true(va != 0);
    assert_int_equal(MM_BYTE_OFFSET(va), 0);
    assert_int_equal(ptes_used(m), used + 5);
    mm_pfn first = frame_at(m, va);
    for (unsigned i = 0; i < 5; i++) {
        uint64_t e = pte(m, va + i * MM_PAGE_SIZE);
        assert_int_equal((e >> 12) & 0xFFFFFFFFFull, first + i);
        assert_int_equal(e & (CACHE_BITS | HW_NX | HW_WRITE), HW_WRITE); /* cached, executable */
        assert_pfn(m, first + i, 1, 1, MM_ACTIVE_AND_VALID);
        struct mm_pfn_info pi = pfn_info(m, first + i);
        assert_int_equal(pi.use, MM_USE_CONTIGUOUS);
        assert_int_equal(pi.cache_attribute, MM_PFN_CACHED);
        assert_int_equal(pi.mapped_va, va + i * MM_PAGE_SIZE);
    }
    assert_ok(mm_write(m, va + 0x47F0, "contiguous", 10));
    char buf[10];
    assert_ok(mm_read(m, va + 0x47F0, buf, 10));
    assert_memory_equal(buf, "contiguous", 10);
    check(m);
    assert_ok(mm_free_contiguous_memory(m, va));
    for (unsigned i = 0; i < 5; i++)
        assert_int_equal(pfn_info(m, first + i).location, MM_FREE_PAGE_LIST);
    assert_int_equal(ptes_used(m), used);
    assert_false(mm_is_address_valid(m, va));
    check(m);
    /* The lowest run is taken: the same frames again. */
    va = mm_allocate_contiguous_memory(m, 0x5000, UINT64_MAX);
    assert_int_equal(frame_at(m, va), first);
    assert_ok(mm_free_contiguous_memory_specify_cache(m, va, 0x1000, MM_WRITE_COMBINED)); /* size ignored */
    assert_int_equal(ptes_used(m), used);
    check(m);
}

static void contiguous_range_boundary_and_cache(void **state)
{
    mm_machine *m = *state;
    /* Frames 0x7CC..0x7D3 would cross the 64 KiB multiple at 0x7D0. */
    mm_va va = mm_allocate_contiguous_memory_specify_cache(m, 0x8000, 0x7CB001, 0x7FFFFF, 0x10000, MM_NON_CACHED);
    assert_true(va != 0);
    mm_pfn first = frame_at(m, va);
    assert_int_equal(first, 0x7D0);
    for (unsigned i = 0; i < 8; i++) {
        assert_int_equal(frame_at(m, va + i * MM_PAGE_SIZE), first + i);
        assert_int_equal(pte(m, va + i * MM_PAGE_SIZE) & CACHE_BITS, CACHE_BITS);
        assert_int_equal(pfn_info(m, first + i).cache_attribute, MM_PFN_NON_CACHED);
    }
    check(m);
    assert_ok(mm_free_contiguous_memory(m, va));
    /* Now the frames have entries: the scan of used frames honours it too. */
    va = mm_allocate_contiguous_memory_specify_cache(m, 0x8000, 0x7CC000, 0x7FFFFF, 0x10000, MM_WRITE_COMBINED);
    assert_int_equal(frame_at(m, va), 0x7D0);
    assert_int_equal(pte(m, va) & CACHE_BITS, HW_PCD);
    assert_ok(mm_free_contiguous_memory(m, va));
    /* The highest address bounds the run. */
    va = mm_allocate_contiguous_memory_specify_cache(m, 0x8000, 0x7D0000, 0x7D7FFF, 0, MM_CACHED);
    assert_int_equal(frame_at(m, va), 0x7D0);
    assert_ok(mm_free_contiguous_memory(m, va));
    assert_int_equal(mm_allocate_contiguous_memory_specify_cache(m, 0x9000, 0x7D0000, 0x7D7FFF, 0, MM_CACHED), 0);
    check(m);
}

static void contiguous_requests_that_cannot_be_had(void **state)
{
    mm_machine *m = *state;
    uint64_t top = ram_end(m) - 1, used = ptes_used(m);
    assert_int_equal(mm_allocate_contiguous_memory(m, 0, top), 0);
    assert_int_equal(mm_allocate_contiguous_memory(m, ram_end(m) + 0x1000, UINT64_MAX), 0);
    assert_int_equal(mm_allocate_contiguous_memory_specify_cache(m, 0x1000, 0x200000, 0x100000, 0, MM_CACHED), 0);
    assert_int_equal(mm_allocate_contiguous_memory_specify_cache(m, 0x1000, 0, top, 0x1800, MM_CACHED), 0);
    assert_int_equal(mm_allocate_contiguous_memory_specify_cache(m, 0x1000, 0, top, 0x3000, MM_CACHED), 0);
    assert_int_equal(mm_allocate_contiguous_memory_specify_cache(m, 0x3000, 0, top, 0x2000, MM_CACHED), 0);
    assert_int_equal(mm_allocate_contiguous_memory_specify_cache(m, 0x1000, 0, top, 0, MM_MAXIMUM_CACHE_TYPE), 0);
    assert_int_equal(mm_allocate_contiguous_memory_specify_cache(m, 0x1000, ram_end(m), UINT64_MAX, 0, MM_CACHED), 0);
    assert_int_equal(mm_allocate_contiguous_memory_specify_cache(m, 0x1000, UINT64_MAX, UINT64_MAX, 0, MM_CACHED), 0);
    assert_ok(mm_irql_raise(m, MM_CLOCK_LEVEL, NULL));
    assert_int_equal(mm_allocate_contiguous_memory(m, 0x1000, top), 0);
    assert_ok(mm_irql_lower(m, MM_DISPATCH_LEVEL));
    mm_va va = mm_allocate_contiguous_memory(m, 0x1000, top); /* DISPATCH_LEVEL is allowed */
    assert_true(va != 0);
    assert_ok(mm_free_contiguous_memory(m, va));
    assert_ok(mm_irql_lower(m, MM_PASSIVE_LEVEL));
    assert_int_equal(ptes_used(m), used);
    assert_false(mm_machine_is_dead(m));
    check(m);
}

static void contiguous_free_inside_is_0xC2_60(void **state)
{
    mm_machine *m = *state;
    mm_va va = mm_allocate_contiguous_memory(m, 0x2000, UINT64_MAX);
    expect_bugcheck(mm_free_contiguous_memory(m, va + 0x1000), MM_BUGCHECK_BAD_POOL_CALLER, 0x60);
    assert_params(va + 0x1000, 0, 0);
}

static void contiguous_free_twice_is_0xC2_60(void **state)
{
    mm_machine *m = *state;
    mm_va va = mm_allocate_contiguous_memory(m, 0x2000, UINT64_MAX);
    assert_ok(mm_free_contiguous_memory(m, va));
    expect_bugcheck(mm_free_contiguous_memory_specify_cache(m, va, 0x2000, MM_CACHED), MM_BUGCHECK_BAD_POOL_CALLER,
                    0x60);
    assert_params(va, 0, 0);
}

static void contiguous_free_of_non_cached_is_0xC2_60(void **state)
{
    mm_machine *m = *state;
    mm_va va = mm_allocate_non_cached_memory(m, 0x1000);
    expect_bugcheck(mm_free_contiguous_memory(m, va), MM_BUGCHECK_BAD_POOL_CALLER, 0x60);
    assert_params(va, 0, 0);
}

/* An MDL described over memory that lives in system PTEs (built, never
 * mapped) and given to MmUnmapLockedPages: without Verifier or PTE tracking
 * Windows releases the PTEs at that address whoever holds them. The model
 * says so (a foreign-unmap finding naming what was lost) and keeps its books
 * straight; the owner's own release then stops as Windows stops it. */
static mm_va mdl_over(mm_machine *m, mm_va va, uint64_t bytes)
{
    mm_va mdl = mm_io_allocate_mdl(m, va, bytes, false, false, 0);
    assert_true(mdl != 0);
    assert_ok(mm_build_mdl_for_nonpaged_pool(m, mdl));
    return mdl;
}

static void last_finding_names(mm_machine *m, uint32_t kind, const char *text)
{
    struct mm_finding f[64];
    size_t n = mm_findings_read(m, f, 64);
    assert_true(n > 0);
    assert_int_equal(f[n - 1].kind, kind);
    if (!strstr(f[n - 1].text, text))
        fail_msg("finding \"%s\" does not say \"%s\"", f[n - 1].text, text);
}

static void unmap_locked_pages_of_an_io_mapping(void **state)
{
    mm_machine *m = *state;
    uint64_t before = ptes_used(m);
    mm_va va = mm_map_io_space(m, device(m), 0x4000, MM_NON_CACHED);
    assert_true(va != 0);
    mm_va mdl = mdl_over(m, va, 0x4000);
    assert_ok(mm_unmap_locked_pages(m, va, mdl));
    last_finding_names(m, MM_FINDING_FOREIGN_UNMAP, "MmMapIoSpace");
    assert_int_equal(ptes_used(m), before);
    assert_false(pte(m, va) & 1);
    check(m);
    expect_bugcheck(mm_unmap_io_space(m, va, 0x4000), MM_BUGCHECK_SYSTEM_PTE_MISUSE, 0x400);
    assert_params(va, 4, 0);
}

static void unmap_locked_pages_of_contiguous_memory(void **state)
{
    mm_machine *m = *state;
    uint64_t before = ptes_used(m);
    mm_va va = mm_allocate_contiguous_memory(m, 0x3000, UINT64_MAX);
    assert_true(va != 0);
    mm_pfn first = frame_at(m, va);
    mm_va mdl = mdl_over(m, va, 0x3000);
    assert_ok(mm_unmap_locked_pages(m, va, mdl));
    last_finding_names(m, MM_FINDING_FOREIGN_UNMAP, "contiguous");
    assert_int_equal(ptes_used(m), before);
    /* the frames stay allocated, mapped nowhere: leaked, as on Windows */
    for (mm_pfn p = first; p < first + 3; p++) {
        struct mm_pfn_info i = pfn_info(m, p);
        assert_int_equal(i.location, MM_ACTIVE_AND_VALID);
        assert_int_equal(i.share_count, 1);
    }
    check(m);
    /* the system PTEs go to the next mapping; the frames do not */
    mm_va again = mm_allocate_contiguous_memory(m, 0x3000, UINT64_MAX);
    assert_true(again != 0);
    assert_true(frame_at(m, again) != first);
    check(m);
    assert_ok(mm_free_contiguous_memory(m, again));
    assert_ok(mm_io_free_mdl(m, mdl));
    check(m);
    expect_bugcheck(mm_free_contiguous_memory(m, va), MM_BUGCHECK_BAD_POOL_CALLER, 0x60);
    assert_params(va, 0, 0);
}

/* Windows' pool fast path means a nonpaged pool address is ExFreePool'd. */
static void contiguous_free_of_pool_goes_to_pool(void **state)
{
    mm_machine *m = *state;
    mm_va pool = mm_pool_allocate(m, MM_NONPAGED_POOL, 0x2000, TAG);
    assert_ok(mm_free_contiguous_memory(m, pool));
    struct mm_pool_block_info info;
    assert_true(mm_pool_query(m, pool, &info) != MM_STATUS_SUCCESS);
    check(m);
}

/* A standby page is repurposed: its process gets it back from the page
 * file, the allocation gets the frame with its old contents. */
static void contiguous_repurposes_standby(void **state)
{
    mm_machine *m = *state;
    mm_va user = commit_user(m, 0x1000, MM_PAGE_READWRITE);
    assert_ok(mm_write(m, user, "standby!", 8));
    mm_pfn pfn = pfn_of(m, user);
    uint64_t n;
    assert_ok(mm_working_set_trim(m, H.proc, UINT64_MAX, &n));
    assert_ok(mm_modified_page_writer(m, &n));
    assert_int_equal(pfn_info(m, pfn).location, MM_STANDBY_PAGE_LIST);
    mm_va va = mm_allocate_contiguous_memory_specify_cache(m, 0x1000, pfn << 12, (pfn << 12) | 0xFFF, 0, MM_CACHED);
    assert_true(va != 0);
    assert_int_equal(frame_at(m, va), pfn);
    char buf[8];
    assert_ok(mm_read(m, va, buf, 8));
    assert_memory_equal(buf, "standby!", 8); /* not initialised */
    assert_ok(mm_write(m, va, "mine....", 8));
    assert_ok(mm_read(m, user, buf, 8));
    assert_memory_equal(buf, "standby!", 8);
    assert_true(pfn_of(m, user) != pfn);
    check(m);
    assert_ok(mm_free_contiguous_memory(m, va));
    check(m);
}

/* A page locked through an MDL outlives the free: it leaves at the unlock. */
static void contiguous_freed_while_locked(void **state)
{
    mm_machine *m = *state;
    mm_va va = mm_allocate_contiguous_memory(m, 0x1000, UINT64_MAX);
    mm_pfn pfn = frame_at(m, va);
    mm_va mdl = mm_io_allocate_mdl(m, va, 0x1000, false, false, 0);
    assert_ok(mm_probe_and_lock_pages(m, mdl, MM_KERNEL_MODE, MM_IO_WRITE_ACCESS));
    assert_pfn(m, pfn, 1, 2, MM_ACTIVE_AND_VALID);
    assert_ok(mm_free_contiguous_memory(m, va));
    assert_pfn(m, pfn, 0, 1, MM_TRANSITION_PAGE);
    check(m);
    unlock_and_free(m, mdl);
    assert_int_equal(pfn_info(m, pfn).location, MM_FREE_PAGE_LIST);
    check(m);
}

/* 16 GiB of RAM: the frames never used cost nothing to search. */
static int setup_big(void **state)
{
    struct mm_config cfg;
    harness_config(&cfg);
    cfg.physical_pages = UINT64_C(1) << 22;
    memset(&H, 0, sizeof H);
    H.m = harness_machine(&cfg);
    *state = H.m;
    return 0;
}

static void contiguous_on_a_big_machine(void **state)
{
    mm_machine *m = *state;
    uint64_t host = mm_machine_host_bytes(m);
    mm_va va[8];
    for (unsigned i = 0; i < 8; i++) {
        va[i] = mm_allocate_contiguous_memory(m, 0x100000, UINT64_C(0xFFFFFFFF));
        assert_true(va[i] != 0);
        mm_pfn first = frame_at(m, va[i]);
        assert_int_equal(frame_at(m, va[i] + 0xFF000), first + 255);
    }
    assert_true(mm_machine_host_bytes(m) - host < 4u << 20);
    for (unsigned i = 0; i < 8; i++)
        assert_ok(mm_free_contiguous_memory(m, va[i]));
    check(m);
}

/* ---- host allocation failures ---- */

static struct failing F;

/* Each DDI once, freeing what it got; true when all succeeded. The
 * contiguous request lies in frames never used, so it needs new entries. */
static bool physical_round(mm_machine *m)
{
    mm_va io = mm_map_io_space(m, device(m), 0x3000, MM_NON_CACHED);
    mm_va nc = mm_allocate_non_cached_memory(m, 0x3000);
    mm_va ct = mm_allocate_contiguous_memory_specify_cache(m, 0x3000, ram_end(m) - 0x10000, UINT64_MAX, 0,
                                                           MM_CACHED);
    if (io)
        assert_ok(mm_unmap_io_space(m, io, 0x3000));
    if (nc)
        assert_ok(mm_free_non_cached_memory(m, nc, 0x3000));
    if (ct)
        assert_ok(mm_free_contiguous_memory(m, ct));
    return io && nc && ct;
}

static void host_allocation_failures(void **state)
{
    (void)state;
    for (uint64_t n = 1;; n++) {
        struct mm_config cfg;
        harness_config(&cfg);
        cfg.allocator = failing_allocator(&F);
        cfg.snapshots = false; /* the arena is the allocator then */
        F = (struct failing){0};
        memset(&H, 0, sizeof H);
        H.m = harness_machine(&cfg);
        F.fail_at = n;
        bool all = physical_round(H.m);
        bool failed = F.calls >= n;
        F.fail_at = 0;
        assert_false(mm_machine_is_dead(H.m));
        assert_true(all || failed);
        check(H.m);
        mm_machine_destroy(H.m);
        H.m = NULL;
        if (F.live != 0)
            fail_msg("allocation %llu failing leaked %lld blocks", (unsigned long long)n, (long long)F.live);
        if (!failed) {
            assert_true(n > 3); /* there were allocations to fail */
            return;
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(device_reads_all_ones_and_drops_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(device_reads_all_ones_and_drops_writes, setup_verifier, teardown),
        cmocka_unit_test_setup_teardown(read_after_unmap_faults, setup, teardown),
        cmocka_unit_test_setup_teardown(page_table_from_a_dirtied_zero_page_starts_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(unmap_locked_pages_of_an_io_mapping, setup, teardown),
        cmocka_unit_test_setup_teardown(unmap_locked_pages_of_contiguous_memory, setup, teardown),
        cmocka_unit_test_setup_teardown(cache_types_give_pte_bits, setup, teardown),
        cmocka_unit_test_setup_teardown(map_io_space_ex_protections, setup, teardown),
        cmocka_unit_test_setup_teardown(write_through_read_only_mapping_is_0xBE, setup, teardown),
        cmocka_unit_test_setup_teardown(many_mappings, setup, teardown),
        cmocka_unit_test_setup_teardown(too_large_for_system_ptes_is_null, setup, teardown),
        cmocka_unit_test_setup_teardown(beyond_48_bit_physical_is_null, setup, teardown),
        cmocka_unit_test_setup_teardown(mapping_is_traced, setup, teardown),
        cmocka_unit_test_setup_teardown(locked_ram_shows_the_same_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(locked_ram_shows_the_same_bytes, setup_verifier, teardown),
        cmocka_unit_test_setup_teardown(nonpaged_memory_is_locked_for_verifier, setup_verifier, teardown),
        cmocka_unit_test_setup_teardown(unlocked_ram_with_verifier_is_0x83, setup_verifier, teardown),
        cmocka_unit_test_setup_teardown(free_ram_with_verifier_is_0x83, setup_verifier, teardown),
        cmocka_unit_test_setup_teardown(unlocked_ram_without_verifier_is_mapped, setup, teardown),
        cmocka_unit_test_setup_teardown(page_tables_of_system_space_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(page_tables_refused_under_verifier, setup_verifier, teardown),
        cmocka_unit_test_setup_teardown(map_above_dispatch_with_verifier_is_0x73, setup_verifier, teardown),
        cmocka_unit_test_setup_teardown(map_and_unmap_at_dispatch, setup, teardown),
        cmocka_unit_test_setup_teardown(unmap_above_apc_with_verifier_is_0x7B, setup_verifier, teardown),
        cmocka_unit_test_setup_teardown(unmap_never_mapped_is_0xDA_400, setup, teardown),
        cmocka_unit_test_setup_teardown(unmap_second_page_is_0xDA_400, setup, teardown),
        cmocka_unit_test_setup_teardown(unmap_twice_is_0xDA_400, setup_verifier, teardown),
        cmocka_unit_test_setup_teardown(unmap_non_cached_memory_is_0xDA_400, setup, teardown),
        cmocka_unit_test_setup_teardown(unmap_wrong_size_is_0xDA_305, setup, teardown),
        cmocka_unit_test_setup_teardown(unmap_zero_bytes_is_0xDA_305, setup, teardown),
        cmocka_unit_test_setup_teardown(non_cached_memory_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(non_cached_memory_pages, setup_verifier, teardown),
        cmocka_unit_test_setup_teardown(non_cached_wrong_size_is_0xDA_305, setup, teardown),
        cmocka_unit_test_setup_teardown(non_cached_inside_is_0xDA_304, setup, teardown),
        cmocka_unit_test_setup_teardown(non_cached_twice_is_0xDA_306, setup, teardown),
        cmocka_unit_test_setup_teardown(non_cached_free_of_other_mapping_is_0xDA_303, setup, teardown),
        cmocka_unit_test_setup_teardown(non_cached_at_dispatch_with_verifier_is_0x20019, setup_verifier, teardown),
        cmocka_unit_test_setup_teardown(non_cached_free_at_dispatch_with_verifier_is_0x20019, setup_verifier,
                                        teardown),
        cmocka_unit_test_setup_teardown(non_cached_at_dispatch_is_0x0A, setup, teardown),
        cmocka_unit_test_setup_teardown(contiguous_memory_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(contiguous_memory_pages, setup_verifier, teardown),
        cmocka_unit_test_setup_teardown(contiguous_range_boundary_and_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(contiguous_requests_that_cannot_be_had, setup, teardown),
        cmocka_unit_test_setup_teardown(contiguous_free_inside_is_0xC2_60, setup, teardown),
        cmocka_unit_test_setup_teardown(contiguous_free_twice_is_0xC2_60, setup_verifier, teardown),
        cmocka_unit_test_setup_teardown(contiguous_free_of_non_cached_is_0xC2_60, setup, teardown),
        cmocka_unit_test_setup_teardown(contiguous_free_of_pool_goes_to_pool, setup, teardown),
        cmocka_unit_test_setup_teardown(contiguous_repurposes_standby, setup, teardown),
        cmocka_unit_test_setup_teardown(contiguous_freed_while_locked, setup, teardown),
        cmocka_unit_test_setup_teardown(contiguous_freed_while_locked, setup_verifier, teardown),
        cmocka_unit_test_setup_teardown(contiguous_on_a_big_machine, setup_big, teardown),
        cmocka_unit_test(host_allocation_failures),
    };
    return cmocka_run_group_tests_name("physical", tests, NULL, NULL);
}
