/* tests/test_pagetable.c — the x64 page tables and the queries on them:
 * self-map addresses, entry bits at every level, table share counts as
 * entries come and go, MmIsAddressValid, MmGetPhysicalAddress, the PTE format
 * names, and protection conversions. */
#include "harness.h"

#include "pte.h"

static struct mm_apc_state as;

static int setup(void **state)
{
    setup_machine(state);
    attached_process(H.m, "pt.exe", &as);
    return 0;
}

static void self_map_addresses(void **state)
{
    mm_machine *m = *state;
    struct mm_pte_walk w;
    assert_ok(mm_pte_walk(m, NULL, 0x7FF712340000, &w));
    assert_int_equal(w.level[3].entry_address, MM_PTE_BASE + (0x7FF712340000 >> 12) * 8);
    assert_int_equal(w.level[2].entry_address, MM_PDE_BASE + (0x7FF712340000 >> 21) * 8);
    assert_int_equal(w.level[1].entry_address, MM_PPE_BASE + (0x7FF712340000 >> 30) * 8);
    assert_int_equal(w.level[0].entry_address, MM_PXE_BASE + (0x7FF712340000 >> 39) * 8);
    assert_ok(mm_pte_walk(m, NULL, UINT64_C(0xFFFFF8A000001000), &w));
    assert_int_equal(w.level[3].entry_address, UINT64_C(0xFFFFF6FC50000008));
    assert_int_equal(mmi_va_from_pte_address(UINT64_C(0xFFFFF6FC50000008)), UINT64_C(0xFFFFF8A000001000));
    assert_status(mm_pte_walk(m, NULL, UINT64_C(0x0000900000000000), &w), MM_STATUS_INVALID_ADDRESS);
}

static void upper_levels_and_table_share_counts(void **state)
{
    mm_machine *m = *state;
    mm_va va = commit_user(m, 0x200000, MM_PAGE_READWRITE);
    assert_ok(mm_write(m, va, "a", 1));
    struct mm_pte_walk w;
    assert_ok(mm_pte_walk(m, NULL, va, &w));
    for (int l = 0; l < 3; l++) {
        uint64_t e = w.level[l].value;
        assert_true(w.level[l].present);
        assert_true((e & 0x7) == 0x7); /* valid, writable, user */
    }
    mm_pfn pt = w.level[3].table_pfn;
    assert_pfn(m, pt, 2, 1, MM_ACTIVE_AND_VALID); /* mapped by its PDE + one valid PTE */
    for (int i = 1; i < 5; i++)
        assert_ok(mm_write(m, va + (uint64_t)i * 0x1000, "b", 1));
    assert_pfn(m, pt, 6, 1, MM_ACTIVE_AND_VALID);
    uint64_t n;
    assert_ok(mm_working_set_trim(m, mm_process_current(m), 2, &n));
    /* Trimming to transition keeps the table's share (Windows' trimmer drops
     * only the data page's); repurposing or deleting the transition PTE
     * drops it. */
    assert_pfn(m, pt, 6, 1, MM_ACTIVE_AND_VALID);
    assert_ok(mm_modified_page_writer(m, &n)); /* to standby, where they can be repurposed */
    struct mm_pfn_info ti;
    do { /* take frames until the two trimmed pages are repurposed */
        assert_true(mm_pool_allocate(m, MM_NONPAGED_POOL, 0x100, MM_POOL_TAG('F', 'i', 'l', 'l')) != 0);
        assert_ok(mm_pfn_query(m, pt, &ti));
    } while (ti.share_count > 4);
    assert_pfn(m, pt, 4, 1, MM_ACTIVE_AND_VALID);
    mm_va base = va;
    uint64_t size = 0;
    assert_ok(mm_virtual_free(m, NULL, &base, &size, MM_MEM_RELEASE));
    struct mm_pfn_info i;
    assert_ok(mm_pfn_query(m, pt, &i));
    assert_int_equal(i.location, MM_FREE_PAGE_LIST);
}

static void address_validity_and_physical_address(void **state)
{
    mm_machine *m = *state;
    mm_va va = commit_user(m, 0x2000, MM_PAGE_READWRITE);
    assert_false(mm_is_address_valid(m, va));
    assert_int_equal(mm_get_physical_address(m, va), 0);
    assert_ok(mm_write(m, va + 0x123, "z", 1));
    assert_true(mm_is_address_valid(m, va + 0x123));
    mm_pfn pfn = pfn_of(m, va);
    assert_int_equal(mm_get_physical_address(m, va + 0x123), (pfn << 12) | 0x123);
    assert_false(mm_is_address_valid(m, va + 0x1000));
    assert_false(mm_is_address_valid(m, UINT64_C(0x0000900000000000)));
    assert_false(mm_is_address_valid(m, UINT64_C(0xFFFF800000000000)));
    mm_va np = mm_pool_allocate(m, MM_NONPAGED_POOL, 64, 1);
    assert_true(mm_is_address_valid(m, np));
    assert_int_equal(mm_get_physical_address(m, np) & 0xFFF, np & 0xFFF);
    /* Another context does not see this user page. */
    assert_ok(mm_process_detach(m, &as));
    assert_false(mm_is_address_valid(m, va + 0x123));
    assert_true(mm_is_address_valid(m, np));
    assert_false(mm_is_address_valid(NULL, np));
    attached_process(m, "pt2.exe", &as);
}

static void format_names(void **state)
{
    (void)state;
    assert_string_equal(mm_pte_format_name(0), "zero");
    assert_string_equal(mm_pte_format_name(0x8000000000013867), "valid");
    assert_string_equal(mm_pte_format_name(0x13880), "transition");
    assert_string_equal(mm_pte_format_name((UINT64_C(5) << 32) | 0x80), "pagefile");
    assert_string_equal(mm_pte_format_name(0x80), "demand-zero");
    assert_string_equal(mm_pte_format_name(0x200), "decommitted");
    assert_string_equal(mm_pte_format_name(0x300), "no-access");
    assert_string_equal(mm_pte_format_name(0x400), "prototype");
}

static void protections_round_trip(void **state)
{
    (void)state;
    static const uint32_t all[] = {MM_PAGE_NOACCESS, MM_PAGE_READONLY, MM_PAGE_READWRITE, MM_PAGE_WRITECOPY,
                                   MM_PAGE_EXECUTE, MM_PAGE_EXECUTE_READ, MM_PAGE_EXECUTE_READWRITE,
                                   MM_PAGE_EXECUTE_WRITECOPY, MM_PAGE_READWRITE | MM_PAGE_GUARD,
                                   MM_PAGE_READONLY | MM_PAGE_NOCACHE, MM_PAGE_READWRITE | MM_PAGE_WRITECOMBINE};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        uint32_t mm = mmi_protection_from_win32(all[i]);
        assert_true(mm != UINT32_MAX);
        assert_int_equal(mmi_protection_to_win32(mm), all[i]);
    }
    assert_int_equal(mmi_protection_from_win32(MM_PAGE_READWRITE), 4);
    assert_int_equal(mmi_protection_from_win32(MM_PAGE_NOACCESS), 0x18);
    assert_int_equal(mmi_protection_from_win32(MM_PAGE_NOACCESS | MM_PAGE_GUARD), UINT32_MAX);
    assert_int_equal(mmi_protection_from_win32(MM_PAGE_READWRITE | MM_PAGE_GUARD | MM_PAGE_NOCACHE), UINT32_MAX);
    assert_int_equal(mmi_protection_from_win32(0), UINT32_MAX);
    uint64_t pte = mmi_pte_make_valid(0x42, MMP_EXECUTE_READ | MMP_NOCACHE, false);
    assert_int_equal(pte, (UINT64_C(0x42) << 12) | 0x1 | 0x20 | 0x100 | 0x10 | 0x8);
    pte = mmi_pte_make_valid(0x42, MMP_WRITECOPY, true);
    assert_true((pte & 0x200) && !(pte & 0x802) && (pte & 4) && (pte >> 63));
}

/* What a debugger does: find the frame, decode the PTE and read memory
 * without faulting anything in or changing any count. */
static void debugger_helpers(void **state)
{
    mm_machine *m = *state;
    mm_va va = commit_user(m, 0x2000, MM_PAGE_READWRITE);
    assert_int_equal(mm_va_to_pfn(m, NULL, va), MM_PFN_NONE); /* committed, never touched */
    struct mm_pte_info pi;
    mm_pte_decode(pte_of(m, NULL, va), &pi);
    assert_int_equal(pi.kind, MM_PTE_ZERO); /* a VAD committed whole: the VAD answers the fault */
    char got[8] = {0};
    size_t done = 99;
    assert_status(mm_debug_read(m, NULL, va, got, 4, &done), MM_STATUS_ACCESS_VIOLATION);
    assert_int_equal(done, 0);
    assert_int_equal(mm_va_to_pfn(m, NULL, va), MM_PFN_NONE); /* the read faulted nothing in */
    assert_ok(mm_write(m, va + 0xFFC, "abcdefgh", 8)); /* two pages */
    mm_pfn pfn = pfn_of(m, va);
    assert_int_equal(mm_va_to_pfn(m, NULL, va), pfn);
    mm_pte_decode(pte_of(m, NULL, va), &pi);
    assert_int_equal(pi.kind, MM_PTE_VALID);
    assert_int_equal(pi.pfn, pfn);
    assert_true(pi.writable && pi.user && pi.no_execute && pi.dirty);
    uint64_t n;
    assert_ok(mm_working_set_trim(m, mm_process_current(m), 1, &n)); /* one page to transition */
    uint64_t before = pte_of(m, NULL, va) | pte_of(m, NULL, va + 0x1000);
    assert_ok(mm_debug_read(m, NULL, va + 0xFFC, got, 8, &done));
    assert_memory_equal(got, "abcdefgh", 8);
    assert_int_equal(done, 8);
    assert_int_equal(pte_of(m, NULL, va) | pte_of(m, NULL, va + 0x1000), before); /* no soft fault */
    mm_pte_decode(mmi_pte_make_transition(0x42, MMP_READWRITE), &pi);
    assert_int_equal(pi.kind, MM_PTE_TRANSITION);
    assert_int_equal(pi.pfn, 0x42);
    mm_pte_decode(mmi_pte_make_pagefile(7, MMP_READONLY), &pi);
    assert_int_equal(pi.kind, MM_PTE_PAGEFILE);
    assert_int_equal(pi.pagefile_slot, 7);
    assert_int_equal(pi.protection, MMP_READONLY);
    mm_pte_decode(mmi_pte_make_demand_zero(MMP_READWRITE), &pi);
    assert_int_equal(pi.kind, MM_PTE_DEMAND_ZERO);
    assert_int_equal(mm_va_to_pfn(m, NULL, UINT64_C(0x0000900000000000)), MM_PFN_NONE); /* not canonical */
    assert_status(mm_debug_read(m, NULL, va, NULL, 1, NULL), MM_STATUS_INVALID_PARAMETER);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown_machine)
        T(self_map_addresses),
        T(upper_levels_and_table_share_counts),
        T(address_validity_and_physical_address),
        T(format_names),
        T(protections_round_trip),
        T(debugger_helpers),
    };
    return cmocka_run_group_tests_name("pagetable", tests, NULL, NULL);
}
