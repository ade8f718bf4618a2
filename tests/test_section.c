/* tests/test_section.c — section objects and views: shared pages seen by two
 * processes, copy on write on a PAGE_WRITECOPY view (by the CPU and by
 * MmProbeAndLockPages for write), commit, teardown and bad input. */
#include "harness.h"

static uint64_t commit_charge(mm_machine *m)
{
    struct mm_memory_counts c;
    assert_ok(mm_memory_query(m, &c));
    return c.commit_charge;
}

/* Commit outside pool pages: a pool page emptied stays in the pool,
 * charged, for the next allocation. */
static uint64_t commit_beside_pool(mm_machine *m)
{
    struct mm_memory_counts c;
    assert_ok(mm_memory_query(m, &c));
    return c.commit_charge - c.nonpaged_pool_pages - c.paged_pool_pages;
}

static uint64_t pool_pages(mm_machine *m)
{
    struct mm_memory_counts c;
    assert_ok(mm_memory_query(m, &c));
    return c.nonpaged_pool_pages + c.paged_pool_pages;
}

static uint64_t free_pages(mm_machine *m)
{
    return list_pages(m, MM_FREE_PAGE_LIST) + list_pages(m, MM_ZEROED_PAGE_LIST);
}

static mm_va map_view(mm_machine *m, mm_section *s, mm_process *p, uint32_t protect)
{
    mm_va base = 0;
    assert_ok(mm_map_view_of_section(m, s, p, &base, protect));
    assert_true(base != 0 && (base & 0xFFFF) == 0);
    return base;
}

/* Runs in process p's context. */
static mm_pfn pfn_in(mm_machine *m, mm_process *p, mm_va va)
{
    return (pte_of(m, p, va) >> 12) & 0xFFFFFFFFFull;
}

static void shared_view_seen_by_two_processes(void **state)
{
    mm_machine *m = *state;
    mm_process *a = NULL, *b = NULL;
    assert_ok(mm_process_create(m, "a.exe", &a));
    assert_ok(mm_process_create(m, "b.exe", &b));
    uint64_t commit0 = commit_beside_pool(m), free0 = free_pages(m), pool0 = pool_pages(m);
    mm_section *s = NULL;
    assert_ok(mm_section_create(m, 3 * MM_PAGE_SIZE - 100, MM_PAGE_READWRITE, &s));
    assert_int_equal(commit_beside_pool(m), commit0 + 3); /* its pages (its prototype PTEs are pool) */
    mm_va va_a = map_view(m, s, a, MM_PAGE_READWRITE);
    mm_va va_b = map_view(m, s, b, MM_PAGE_READWRITE);
    mm_pfn page1 = pfn_in(m, a, va_a + MM_PAGE_SIZE);
    assert_int_equal(pfn_in(m, b, va_b + MM_PAGE_SIZE), page1);
    assert_pfn(m, page1, 2, 1, MM_ACTIVE_AND_VALID); /* two views; the prototype holds no share */
    struct mm_pfn_info pi;
    assert_ok(mm_pfn_query(m, page1, &pi));
    assert_int_equal(pi.use, MM_USE_SECTION);
    struct mm_section_basic_info si;
    assert_ok(mm_section_query(m, s, &si));
    assert_int_equal(si.pages, 3);
    assert_int_equal(si.views, 2);
    assert_true(pi.pte_address == si.prototype_ptes + 8); /* PteAddress is the prototype PTE */

    struct mm_apc_state st;
    assert_ok(mm_process_attach(m, a, &st));
    assert_ok(mm_write(m, va_a + MM_PAGE_SIZE + 16, "shared", 7));
    struct mm_region_info ri;
    assert_ok(mm_virtual_query(m, NULL, va_a, &ri));
    assert_int_equal(ri.type, MM_MEM_MAPPED);
    assert_int_equal(ri.protect, MM_PAGE_READWRITE);
    assert_int_equal(ri.region_size, 3 * MM_PAGE_SIZE);
    assert_ok(mm_process_detach(m, &st));
    assert_ok(mm_process_attach(m, b, &st));
    char got[7] = {0};
    assert_ok(mm_read(m, va_b + MM_PAGE_SIZE + 16, got, 7));
    assert_string_equal(got, "shared");
    assert_ok(mm_process_detach(m, &st));
    assert_invariants(m);

    assert_ok(mm_unmap_view_of_section(m, a, va_a));
    assert_pfn(m, page1, 1, 1, MM_ACTIVE_AND_VALID);
    assert_ok(mm_section_close(m, s)); /* the view in b keeps it */
    assert_ok(mm_section_query(m, s, &si));
    assert_true(si.closed);
    assert_int_equal(si.views, 1);
    assert_invariants(m);
    assert_ok(mm_unmap_view_of_section(m, b, va_b)); /* last view: the section goes */
    assert_status(mm_section_query(m, s, &si), MM_STATUS_INVALID_HANDLE);
    assert_int_equal(commit_beside_pool(m), commit0);
    assert_int_equal(free_pages(m) + pool_pages(m), free0 + pool0); /* frames, prototypes and page tables */
}

static void write_copy_view_gets_private_copy(void **state)
{
    mm_machine *m = *state;
    mm_section *s = NULL;
    assert_ok(mm_section_create(m, 2 * MM_PAGE_SIZE, MM_PAGE_READWRITE, &s));
    mm_process *b = NULL;
    assert_ok(mm_process_create(m, "b.exe", &b));
    mm_va va_b = map_view(m, s, b, MM_PAGE_READWRITE);
    uint64_t before_a = commit_beside_pool(m);
    struct mm_apc_state st;
    mm_process *a = attached_process(m, "a.exe", &st);
    uint64_t commit0 = commit_charge(m);
    mm_va va_a = map_view(m, s, NULL, MM_PAGE_WRITECOPY);
    assert_int_equal(commit_charge(m), commit0 + 2); /* charged for the copies it may need */
    mm_pfn shared = pfn_of(m, va_a);
    uint64_t pte = pte_of(m, a, va_a);
    assert_true(pte & 0x200);   /* copy on write */
    assert_false(pte & 0x2);    /* not writable */
    assert_pfn(m, shared, 2, 1, MM_ACTIVE_AND_VALID);
    char before[4] = {0};
    assert_ok(mm_read(m, va_a, before, 4)); /* reading keeps sharing */
    assert_int_equal(pfn_of(m, va_a), shared);

    assert_ok(mm_write(m, va_a, "mine", 4));
    mm_pfn copy = pfn_of(m, va_a);
    assert_true(copy != shared);
    assert_pfn(m, copy, 1, 1, MM_ACTIVE_AND_VALID);
    assert_pfn(m, shared, 1, 1, MM_ACTIVE_AND_VALID); /* a's view let go of it */
    struct mm_pfn_info pi;
    assert_ok(mm_pfn_query(m, copy, &pi));
    assert_int_equal(pi.use, MM_USE_PRIVATE);
    struct mm_region_info ri;
    assert_ok(mm_virtual_query(m, NULL, va_a, &ri));
    assert_int_equal(ri.protect, MM_PAGE_READWRITE); /* as VirtualQuery shows a copied page */
    assert_int_equal(ri.region_size, MM_PAGE_SIZE);
    assert_int_equal(ri.type, MM_MEM_MAPPED);
    assert_invariants(m);
    assert_ok(mm_process_detach(m, &st));

    struct mm_apc_state st2;
    assert_ok(mm_process_attach(m, b, &st2));
    char seen[4] = {1};
    assert_ok(mm_read(m, va_b, seen, 4));
    assert_memory_equal(seen, "\0\0\0\0", 4); /* b still sees the section's page */
    assert_ok(mm_process_detach(m, &st2));
    assert_ok(mm_process_terminate(m, a)); /* the view and the private copy go */
    assert_int_equal(commit_beside_pool(m), before_a);
    assert_pfn(m, shared, 1, 1, MM_ACTIVE_AND_VALID);
    assert_ok(mm_section_close(m, s));
    assert_ok(mm_process_terminate(m, b)); /* last view at exit frees the closed section */
    assert_invariants(m);
}

static void probe_for_write_breaks_copy_on_write(void **state)
{
    mm_machine *m = *state;
    mm_section *s = NULL;
    assert_ok(mm_section_create(m, 2 * MM_PAGE_SIZE, MM_PAGE_READWRITE, &s));
    struct mm_apc_state st;
    mm_process *a = attached_process(m, "a.exe", &st);
    mm_va va = map_view(m, s, NULL, MM_PAGE_WRITECOPY);
    mm_pfn shared0 = pfn_of(m, va), shared1 = pfn_of(m, va + MM_PAGE_SIZE);

    /* A read lock pins the shared frame itself. */
    mm_va rd = mm_io_allocate_mdl(m, va + MM_PAGE_SIZE, 100, false, false, 0);
    assert_ok(mm_probe_and_lock_pages(m, rd, MM_USER_MODE, MM_IO_READ_ACCESS));
    struct mm_mdl h;
    mm_pfn got;
    assert_ok(mm_mdl_read(m, rd, &h, &got, 1));
    assert_int_equal(got, shared1);
    assert_pfn(m, shared1, 1, 2, MM_ACTIVE_AND_VALID);

    /* A write lock breaks copy on write first and locks the private copy. */
    mm_va wr = mm_io_allocate_mdl(m, va, 100, false, false, 0);
    assert_ok(mm_probe_and_lock_pages(m, wr, MM_USER_MODE, MM_IO_WRITE_ACCESS));
    assert_ok(mm_mdl_read(m, wr, &h, &got, 1));
    assert_true(got != shared0);
    assert_int_equal(got, pfn_of(m, va));
    assert_true((uint16_t)h.MdlFlags & MM_MDL_WRITE_OPERATION);
    assert_pfn(m, got, 1, 2, MM_ACTIVE_AND_VALID);
    /* No view maps it now: its prototype turns transition, the page goes to standby. */
    assert_pfn(m, shared0, 0, 0, MM_STANDBY_PAGE_LIST);
    assert_false(pte_of(m, a, va) & 0x200);
    assert_invariants(m);

    assert_ok(mm_unlock_pages(m, wr));
    assert_ok(mm_unlock_pages(m, rd));
    assert_pfn(m, shared1, 1, 1, MM_ACTIVE_AND_VALID);
    assert_ok(mm_io_free_mdl(m, wr));
    assert_ok(mm_io_free_mdl(m, rd));
    assert_ok(mm_process_detach(m, &st));
    assert_ok(mm_section_close(m, s));
    assert_ok(mm_process_terminate(m, a));
}

static void read_only_section_and_bad_input(void **state)
{
    mm_machine *m = *state;
    mm_section *s = NULL;
    assert_status(mm_section_create(m, 0, MM_PAGE_READWRITE, &s), MM_STATUS_INVALID_PARAMETER);
    assert_status(mm_section_create(m, MM_PAGE_SIZE, MM_PAGE_WRITECOPY, &s), MM_STATUS_INVALID_PAGE_PROTECTION);
    assert_status(mm_section_create(m, MM_PAGE_SIZE, MM_PAGE_READWRITE, NULL), MM_STATUS_INVALID_PARAMETER);
    assert_status(mm_section_create(m, UINT64_C(1) << 30, MM_PAGE_READWRITE, &s), MM_STATUS_COMMITMENT_LIMIT);
    assert_ok(mm_section_create(m, MM_PAGE_SIZE, MM_PAGE_READONLY, &s));
    struct mm_apc_state st;
    attached_process(m, "a.exe", &st);
    mm_va base = 0;
    assert_status(mm_map_view_of_section(m, s, NULL, &base, MM_PAGE_READWRITE), MM_STATUS_SECTION_PROTECTION);
    assert_status(mm_map_view_of_section(m, s, NULL, &base, MM_PAGE_EXECUTE_READ), MM_STATUS_SECTION_PROTECTION);
    assert_status(mm_map_view_of_section(m, s, NULL, &base, MM_PAGE_READONLY | MM_PAGE_GUARD),
                  MM_STATUS_INVALID_PAGE_PROTECTION);
    base = 0x12345000;
    assert_status(mm_map_view_of_section(m, s, NULL, &base, MM_PAGE_READONLY), MM_STATUS_MAPPED_ALIGNMENT);
    base = 0;
    assert_status(mm_map_view_of_section(m, (mm_section *)(uintptr_t)0x1234, NULL, &base, MM_PAGE_READONLY),
                  MM_STATUS_INVALID_HANDLE);
    assert_status(mm_map_view_of_section(m, s, NULL, NULL, MM_PAGE_READONLY), MM_STATUS_INVALID_PARAMETER);
    /* A copy-on-write view of a read-only section is allowed: copies are private. */
    mm_va va = map_view(m, s, NULL, MM_PAGE_WRITECOPY);
    mm_va ro = map_view(m, s, NULL, MM_PAGE_READONLY);
    assert_status(mm_write(m, ro, "x", 1), MM_STATUS_ACCESS_VIOLATION);
    assert_ok(mm_write(m, va, "x", 1));
    uint64_t size = 0;
    mm_va b = va;
    assert_status(mm_virtual_free(m, NULL, &b, &size, MM_MEM_RELEASE), MM_STATUS_UNABLE_TO_DELETE_SECTION);
    uint32_t old = 0;
    b = ro;
    size = MM_PAGE_SIZE;
    assert_status(mm_virtual_protect(m, NULL, &b, &size, MM_PAGE_READWRITE, &old), MM_STATUS_SECTION_PROTECTION);
    assert_ok(mm_virtual_protect(m, NULL, &b, &size, MM_PAGE_WRITECOPY, &old));
    assert_int_equal(old, MM_PAGE_READONLY);
    assert_true(pte_of(m, NULL, ro) & 0x200);
    assert_status(mm_unmap_view_of_section(m, NULL, va + MM_PAGE_SIZE), MM_STATUS_NOT_MAPPED_VIEW);
    mm_va priv = commit_user(m, MM_PAGE_SIZE, MM_PAGE_READWRITE);
    assert_status(mm_unmap_view_of_section(m, NULL, priv), MM_STATUS_NOT_MAPPED_VIEW);
    base = priv;
    assert_status(mm_map_view_of_section(m, s, NULL, &base, MM_PAGE_READONLY), MM_STATUS_CONFLICTING_ADDRESSES);
    assert_ok(mm_section_close(m, s));
    assert_status(mm_section_close(m, s), MM_STATUS_INVALID_HANDLE);
    base = 0;
    assert_status(mm_map_view_of_section(m, s, NULL, &base, MM_PAGE_READONLY), MM_STATUS_INVALID_HANDLE);
    assert_ok(mm_unmap_view_of_section(m, NULL, va));
    assert_ok(mm_unmap_view_of_section(m, NULL, ro));
    assert_invariants(m);
    assert_ok(mm_process_detach(m, &st));
}

/* With no view left a section page is an ordinary standby or modified page
 * whose prototype is in transition: the writer pages it out, repurposing
 * leaves a page-file prototype, and the next view reads it back. */
static void unmapped_section_pages_page_out_and_back(void **state)
{
    mm_machine *m = *state;
    mm_section *s = NULL;
    assert_ok(mm_section_create(m, MM_PAGE_SIZE, MM_PAGE_READWRITE, &s));
    struct mm_section_basic_info si;
    assert_ok(mm_section_query(m, s, &si));
    struct mm_apc_state st;
    attached_process(m, "a.exe", &st);
    mm_va va = map_view(m, s, NULL, MM_PAGE_READWRITE);
    assert_ok(mm_write(m, va + 8, "kept", 4));
    mm_pfn page = pfn_of(m, va);
    assert_ok(mm_unmap_view_of_section(m, NULL, va));
    assert_pfn(m, page, 0, 0, MM_MODIFIED_PAGE_LIST);
    uint64_t proto;
    assert_ok(mm_read(m, si.prototype_ptes, &proto, 8));
    assert_int_equal(proto & 0xC01, 0x800); /* transition: not valid, not prototype */
    assert_int_equal((proto >> 12) & 0xFFFFFFFFFull, page);
    assert_invariants(m);
    uint64_t n;
    assert_ok(mm_modified_page_writer(m, &n));
    assert_pfn(m, page, 0, 0, MM_STANDBY_PAGE_LIST);
    struct mm_pfn_info pi;
    static mm_va fill[4096];
    size_t filled = 0;
    do { /* take frames until the page is repurposed */
        assert_true(filled < 4096);
        fill[filled] = mm_pool_allocate(m, MM_NONPAGED_POOL, 0x1000, MM_POOL_TAG('F', 'i', 'l', 'l'));
        assert_true(fill[filled++] != 0);
        assert_ok(mm_pfn_query(m, page, &pi));
    } while (pi.location == MM_STANDBY_PAGE_LIST);
    assert_ok(mm_read(m, si.prototype_ptes, &proto, 8));
    assert_true((proto & 1) == 0 && (proto >> 32) != 0); /* a page-file PTE */
    assert_invariants(m);
    while (filled)
        assert_ok(mm_pool_free(m, fill[--filled], 0));
    va = map_view(m, s, NULL, MM_PAGE_READWRITE);
    char got[4];
    assert_ok(mm_read(m, va + 8, got, 4));
    assert_memory_equal(got, "kept", 4);
    assert_invariants(m);
    assert_ok(mm_unmap_view_of_section(m, NULL, va));
    assert_ok(mm_section_close(m, s));
    assert_invariants(m);
    assert_ok(mm_process_detach(m, &st));
}

/* Only valid view PTEs hold a share: a double unlock of a page two views
 * map reports share 2 in 0x4E/7's P3. */
static void double_unlock_of_a_page_two_views_map(void **state)
{
    mm_machine *m = *state;
    mm_section *s = NULL;
    assert_ok(mm_section_create(m, MM_PAGE_SIZE, MM_PAGE_READWRITE, &s));
    struct mm_apc_state st;
    attached_process(m, "a.exe", &st);
    mm_va one = map_view(m, s, NULL, MM_PAGE_READWRITE);
    map_view(m, s, NULL, MM_PAGE_READONLY);
    mm_pfn page = pfn_of(m, one);
    mm_va mdl = mm_io_allocate_mdl(m, one, 0x100, false, false, 0);
    assert_ok(mm_probe_and_lock_pages(m, mdl, MM_USER_MODE, MM_IO_READ_ACCESS));
    assert_pfn(m, page, 2, 2, MM_ACTIVE_AND_VALID);
    assert_ok(mm_unlock_pages(m, mdl));
    expect_bugcheck(mm_unlock_pages(m, mdl), MM_BUGCHECK_PFN_LIST_CORRUPT, 0x07);
    assert_params(page, 2, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(shared_view_seen_by_two_processes, setup_machine, teardown_machine),
        cmocka_unit_test_setup_teardown(write_copy_view_gets_private_copy, setup_machine, teardown_machine),
        cmocka_unit_test_setup_teardown(probe_for_write_breaks_copy_on_write, setup_machine, teardown_machine),
        cmocka_unit_test_setup_teardown(read_only_section_and_bad_input, setup_machine, teardown_machine),
        cmocka_unit_test_setup_teardown(unmapped_section_pages_page_out_and_back, setup_machine, teardown_machine),
        cmocka_unit_test_setup_teardown(double_unlock_of_a_page_two_views_map, setup_machine, teardown_machine),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
