/* tests/test_mdl.c — the MDL protocol: Windows' exact flags, sizes and counts
 * through allocate -> lock -> map -> unmap -> unlock -> free, kernel and user
 * buffers and mappings, and each misuse of the fact sheet's table in both
 * modes: with Verifier the 0xC4 sub-code at the faulty call, without it the
 * state change and the bug check where Windows raises it. */
#include "harness.h"

#define TAG MM_POOL_TAG('B', 'u', 'f', 'f')
#define PTE_WRITABLE_BITS UINT64_C(0x802) /* hardware write and software "writable" */

static bool tracking_on;

static int setup(void **state)
{
    tracking_on = false;
    return setup_attached(state);
}

/* TrackLockedPages = 1 in the registry, without Verifier. */
static int setup_tracking(void **state)
{
    struct mm_config cfg;
    harness_config(&cfg);
    cfg.track_locked_pages = true;
    tracking_on = true;
    memset(&H, 0, sizeof H);
    H.m = harness_machine(&cfg);
    *state = H.m;
    H.proc = attached_process(H.m, "app.exe", &H.apc);
    return 0;
}

static int setup_pte_tracking(void **state)
{
    struct mm_config cfg;
    harness_config(&cfg);
    cfg.track_ptes = true;
    memset(&H, 0, sizeof H);
    H.m = harness_machine(&cfg);
    *state = H.m;
    return 0;
}

static int setup_verifier(void **state)
{
    setup(state);
    tracking_on = false;
    assert_ok(mm_machine_set_verifier(H.m, MM_VERIFIER_STANDARD));
    return 0;
}

static struct mm_mdl read_mdl(mm_machine *m, mm_va mdl, mm_pfn *pfns, size_t max)
{
    struct mm_mdl h;
    assert_ok(mm_mdl_read(m, mdl, &h, pfns, max));
    return h;
}

#define assert_flags(m, mdl, want)                                                                \
    do {                                                                                          \
        struct mm_mdl h_ = read_mdl((m), (mdl), NULL, 0);                                         \
        if ((uint16_t)h_.MdlFlags != (uint16_t)(want))                                            \
            fail_msg("MDL flags: expected 0x%04x, got 0x%04x", (unsigned)(want), (uint16_t)h_.MdlFlags); \
    } while (0)

static int64_t locked_pages(mm_machine *m, mm_process *p)
{
    struct mm_process_info i;
    assert_ok(mm_process_query(m, p, &i));
    return i.locked_pages;
}

/* A locked one-page kernel buffer in nonpaged pool and its MDL. */
static mm_va kernel_mdl(mm_machine *m, mm_va *buffer)
{
    *buffer = mm_pool_allocate(m, MM_NONPAGED_POOL, 0x200, TAG);
    mm_va mdl = mm_io_allocate_mdl(m, *buffer, 0x200, false, false, 0);
    assert_true(mdl != 0);
    return mdl;
}

static mm_va user_mdl(mm_machine *m, mm_va *va, uint32_t bytes)
{
    *va = commit_user(m, 0x10000, MM_PAGE_READWRITE) + 0x123;
    mm_va mdl = mm_io_allocate_mdl(m, *va, bytes, false, false, 0);
    assert_true(mdl != 0);
    return mdl;
}

/* ---- corrupting the memory manager's own structures ---- */

/* Regression: DMA into a frame the model uses as a page table crashed the
 * host. A device write that changes a page-table entry is PTE corruption:
 * 0x1A/0x41792 (PTE address, low and high halves of the new contents). */
/* A locked MDL over a page-aligned pool page whose PFN array names, stale
 * as after reuse, the page table that maps a user page; *w is that page's
 * walk. */
static mm_va mdl_naming_a_page_table(mm_machine *m, struct mm_pte_walk *w, mm_va *buf)
{
    mm_va user = commit_user(m, 0x1000, MM_PAGE_READWRITE);
    assert_ok(mm_write(m, user, "x", 1));
    assert_ok(mm_pte_walk(m, NULL, user, w));
    mm_pfn table = (w->level[2].value >> 12) & 0xFFFFFFFFFull; /* the page table mapping `user` */
    *buf = mm_pool_allocate(m, MM_NONPAGED_POOL, 0x1000, TAG); /* page aligned */
    mm_va mdl = mm_io_allocate_mdl(m, *buf, 0x1000, false, false, 0);
    assert_true(mdl != 0);
    assert_ok(mm_probe_and_lock_pages(m, mdl, MM_KERNEL_MODE, MM_IO_WRITE_ACCESS));
    assert_ok(mm_write(m, MM_MDL_PFN_ARRAY(mdl), &table, sizeof table));
    return mdl;
}

static void dma_into_a_page_table(void **state)
{
    mm_machine *m = *state;
    struct mm_pte_walk w;
    mm_va buf;
    mm_va mdl = mdl_naming_a_page_table(m, &w, &buf);
    uint64_t junk[64];
    memset(junk, 0x41, sizeof junk);
    mm_va pte = w.level[3].entry_address;
    uint64_t offset = MM_BYTE_OFFSET(pte) - MM_BYTE_OFFSET(buf);
    expect_bugcheck(mm_dma_transfer(m, mdl, offset, junk, 8, true), MM_BUGCHECK_MEMORY_MANAGEMENT, 0x41792);
    assert_params(pte, 0x41414141, 0x41414141);
}

/* Regression (API fuzzer): IoBuildPartialMdl given a "target MDL" that is
 * a mapping of a page table (a stale PFN again) wrote its header into the
 * table unchecked, and the model went on with a corrupted PTE. The
 * routine writes through the driver's pointer, so the write is checked
 * as the driver's own: 0x1A/0x41792 before the bytes land. */
static void partial_mdl_built_into_a_page_table(void **state)
{
    mm_machine *m = *state;
    struct mm_pte_walk w;
    mm_va buf;
    mm_va mdl = mdl_naming_a_page_table(m, &w, &buf);
    mm_va reserved = mm_allocate_mapping_address(m, 0x1000, TAG);
    assert_true(reserved != 0);
    mm_va sys = mm_map_locked_pages_with_reserved_mapping(m, reserved, TAG, mdl, MM_CACHED);
    assert_true(sys != 0);
    mm_va source_buf;
    mm_va source = kernel_mdl(m, &source_buf);
    mm_va target = sys + MM_BYTE_OFFSET(w.level[3].entry_address); /* over the user page's PTE */
    expect_bugcheck(mm_io_build_partial_mdl(m, source, target, source_buf, 0x10), MM_BUGCHECK_MEMORY_MANAGEMENT,
                    0x41792);
    /* P2: the entry changed, one the header covers */
    assert_true(H.bc.p[1] >= w.level[3].entry_address && H.bc.p[1] < w.level[3].entry_address + 48);
}

/* Regression (API fuzzer): MmAdvanceMdl on memory that holds no MDL header
 * (a ByteOffset past the page) computed a negative page count and copied
 * gigabytes. It is refused, as MmProbeAndLockPages refuses such a header. */
static void advance_of_a_corrupt_header_is_refused(void **state)
{
    mm_machine *m = *state;
    mm_va buf;
    mm_va mdl = kernel_mdl(m, &buf);
    uint32_t garbage = 0xFFFFFA80;
    assert_ok(mm_write(m, mdl + offsetof(struct mm_mdl, ByteOffset), &garbage, sizeof garbage));
    assert_status(mm_advance_mdl(m, mdl, 0x10), MM_STATUS_INVALID_PARAMETER);
    assert_false(mm_machine_is_dead(m));
    assert_invariants(m);
}

/* Code under test sees the self-map read-only (a judgement call, see
 * docs/decisions.md): a write there is 0xBE, never a silent PTE change. */
static void cpu_write_through_the_self_map(void **state)
{
    mm_machine *m = *state;
    mm_va user = commit_user(m, 0x1000, MM_PAGE_READWRITE);
    assert_ok(mm_write(m, user, "x", 1));
    struct mm_pte_walk w;
    assert_ok(mm_pte_walk(m, NULL, user, &w));
    uint64_t forged = w.level[3].value ^ (UINT64_C(0x1234) << 12);
    expect_bugcheck(mm_write(m, w.level[3].entry_address, &forged, 8), MM_BUGCHECK_ATTEMPTED_WRITE_TO_READONLY_MEMORY,
                    w.level[3].entry_address);
}

static void write_over_prototype_ptes(void **state)
{
    mm_machine *m = *state;
    mm_section *sec = NULL;
    assert_ok(mm_section_create(m, 0x2000, MM_PAGE_READWRITE, &sec));
    struct mm_section_basic_info si;
    assert_ok(mm_section_query(m, sec, &si));
    uint64_t zero = 0;
    expect_bugcheck(mm_write(m, si.prototype_ptes + 8, &zero, 8), MM_BUGCHECK_MEMORY_MANAGEMENT, 0x41792);
    assert_int_equal(H.bc.p[1], si.prototype_ptes + 8);
}

/* Regression: DMA through an MDL that was allocated but never built or
 * locked (a zero PFN array) recorded nothing. */
static void dma_through_a_never_built_mdl(void **state)
{
    mm_machine *m = *state;
    mm_va buf = mm_pool_allocate(m, MM_NONPAGED_POOL, 0x200, TAG);
    mm_va mdl = mm_io_allocate_mdl(m, buf, 0x200, false, false, 0);
    mm_pfn none = 0;
    assert_ok(mm_write(m, MM_MDL_PFN_ARRAY(mdl), &none, sizeof none));
    char seen[16];
    assert_ok(mm_dma_transfer(m, mdl, 0, seen, sizeof seen, false));
    struct mm_finding f;
    assert_int_equal(mm_findings_read(m, &f, 1), 1);
    assert_int_equal(f.kind, MM_FINDING_STALE_DMA);
    assert_int_equal(f.mdl, mdl);
    assert_string_equal(mm_finding_name(f.kind), "stale-dma");
    assert_string_equal(mm_finding_name(MM_FINDING_FOREIGN_UNMAP), "foreign-unmap");
}

/* The attached process exits with `pages` still charged: 0x76 (0, EPROCESS,
 * pages, 0). */
static void exit_stops_with_locked_pages(mm_machine *m, uint64_t pages)
{
    assert_ok(mm_process_detach(m, &H.apc));
    struct mm_process_info pi;
    assert_ok(mm_process_query(m, H.proc, &pi));
    expect_bugcheck(mm_process_terminate(m, H.proc), MM_BUGCHECK_PROCESS_HAS_LOCKED_PAGES, 0);
    assert_params(pi.eprocess, pages, 0);
}

/* ---- the lifecycle ---- */

static void kernel_buffer_lifecycle(void **state)
{
    mm_machine *m = *state;
    mm_va buf;
    mm_va mdl = kernel_mdl(m, &buf);
    struct mm_mdl h = read_mdl(m, mdl, NULL, 0);
    assert_int_equal((uint16_t)h.MdlFlags, MM_MDL_ALLOCATED_FIXED_SIZE);
    assert_int_equal(h.Size, 56);
    assert_int_equal(h.StartVa, MM_PAGE_ALIGN(buf));
    assert_int_equal(h.ByteOffset, MM_BYTE_OFFSET(buf)); /* after a POOL_HEADER */
    assert_int_equal(h.ByteOffset % 0x10, 0);
    assert_true(h.ByteOffset != 0);
    assert_int_equal(h.ByteCount, 0x200);
    mm_pfn frame = pfn_of(m, buf);
    assert_pfn(m, frame, 1, 1, MM_ACTIVE_AND_VALID);
    assert_ok(mm_probe_and_lock_pages(m, mdl, MM_KERNEL_MODE, MM_IO_READ_ACCESS));
    mm_pfn pfns[2];
    h = read_mdl(m, mdl, pfns, 2);
    assert_int_equal((uint16_t)h.MdlFlags, 0x000A);
    assert_int_equal(h.Process, 0);
    assert_int_equal(pfns[0], frame);
    assert_pfn(m, frame, 1, 2, MM_ACTIVE_AND_VALID);
    struct mm_memory_counts c;
    assert_ok(mm_memory_query(m, &c));
    assert_int_equal(c.system_locked_pages, 1);
    assert_ok(mm_write(m, buf, "through the pool VA", 20));
    mm_va sys = mm_map_locked_pages_specify_cache(m, mdl, MM_KERNEL_MODE, MM_CACHED, 0, false,
                                                  MM_NORMAL_PAGE_PRIORITY, NULL);
    assert_true(sys >= layout_of(m).system_ptes && sys < layout_of(m).paged_pool);
    assert_int_equal(sys & 0xFFF, buf & 0xFFF);
    h = read_mdl(m, mdl, NULL, 0);
    assert_int_equal((uint16_t)h.MdlFlags, 0x000B);
    assert_int_equal(h.MappedSystemVa, sys);
    assert_pfn(m, frame, 1, 2, MM_ACTIVE_AND_VALID); /* a mapping changes no counts */
    char seen[20];
    assert_ok(mm_read(m, sys, seen, 20));
    assert_string_equal(seen, "through the pool VA");
    assert_int_equal(mm_get_system_address_for_mdl_safe(m, mdl, MM_NORMAL_PAGE_PRIORITY), sys);
    assert_ok(mm_unmap_locked_pages(m, sys, mdl));
    assert_flags(m, mdl, 0x000A);
    assert_false(mm_is_address_valid(m, sys));
    assert_ok(mm_unlock_pages(m, mdl));
    assert_flags(m, mdl, 0x0008);
    assert_pfn(m, frame, 1, 1, MM_ACTIVE_AND_VALID);
    assert_ok(mm_memory_query(m, &c));
    assert_int_equal(c.system_locked_pages, 0);
    assert_ok(mm_io_free_mdl(m, mdl));
    assert_ok(mm_pool_free(m, buf, TAG));
}

static void user_buffer_lock_charges_the_process(void **state)
{
    mm_machine *m = *state;
    mm_va va;
    mm_va mdl = user_mdl(m, &va, 0x2000); /* 0x123 offset: spans 3 pages */
    struct mm_process_info pi;
    assert_ok(mm_process_query(m, H.proc, &pi));
    assert_ok(mm_probe_and_lock_pages(m, mdl, MM_USER_MODE, MM_IO_WRITE_ACCESS));
    mm_pfn pfns[3];
    struct mm_mdl h = read_mdl(m, mdl, pfns, 3);
    assert_int_equal((uint16_t)h.MdlFlags, MM_MDL_ALLOCATED_FIXED_SIZE | MM_MDL_PAGES_LOCKED | MM_MDL_WRITE_OPERATION);
    assert_int_equal(h.Process, pi.eprocess);
    assert_int_equal(locked_pages(m, H.proc), 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(pfns[i], pfn_of(m, MM_PAGE_ALIGN(va) + (uint64_t)i * 0x1000));
        assert_pfn(m, pfns[i], 1, 2, MM_ACTIVE_AND_VALID);
        assert_true(pte_of(m, NULL, MM_PAGE_ALIGN(va) + (uint64_t)i * 0x1000) & 0x40); /* probed for write */
    }
    /* A locked page is not trimmed, and survives decommit of its VA. */
    uint64_t n;
    assert_ok(mm_working_set_trim(m, H.proc, UINT64_MAX, &n));
    assert_int_equal(n, 0);
    assert_ok(mm_unlock_pages(m, mdl));
    assert_int_equal(locked_pages(m, H.proc), 0);
    h = read_mdl(m, mdl, NULL, 0);
    assert_int_equal((uint16_t)h.MdlFlags, MM_MDL_ALLOCATED_FIXED_SIZE | MM_MDL_WRITE_OPERATION);
    assert_int_equal(h.Process, pi.eprocess); /* left as it was */
    assert_ok(mm_io_free_mdl(m, mdl));
}

static void read_lock_of_kernel_va_ignores_write(void **state)
{
    mm_machine *m = *state;
    mm_va buf;
    mm_va mdl = kernel_mdl(m, &buf);
    assert_ok(mm_probe_and_lock_pages(m, mdl, MM_KERNEL_MODE, MM_IO_MODIFY_ACCESS));
    assert_flags(m, mdl, 0x0008 | 0x0002 | 0x0080);
    assert_ok(mm_unlock_pages(m, mdl));
}

static void user_mapping_sees_the_same_bytes(void **state)
{
    mm_machine *m = *state;
    mm_va buf;
    mm_va mdl = kernel_mdl(m, &buf);
    assert_ok(mm_probe_and_lock_pages(m, mdl, MM_KERNEL_MODE, MM_IO_WRITE_ACCESS));
    mm_status raised = 1;
    mm_va uva = mm_map_locked_pages_specify_cache(m, mdl, MM_USER_MODE, MM_CACHED, 0, false,
                                                  MM_NORMAL_PAGE_PRIORITY, &raised);
    assert_ok(raised);
    assert_true(uva > 0 && uva <= layout_of(m).highest_user_address);
    assert_int_equal(uva & 0xFFF, buf & 0xFFF);
    assert_flags(m, mdl, 0x0008 | 0x0002 | 0x0080); /* no MDL flag tracks user mappings */
    uint64_t pte = pte_of(m, NULL, uva);
    assert_true((pte & 0x5) == 0x5 && (pte >> 63)); /* valid, user, no-execute */
    struct mm_access_request req = {.va = uva, .buffer = "from user mode", .length = 15,
                                    .kind = MM_ACCESS_WRITE, .mode = MM_USER_MODE};
    assert_ok(mm_access_memory(m, &req));
    char seen[15];
    assert_ok(mm_read(m, buf, seen, 15));
    assert_string_equal(seen, "from user mode");
    struct mm_region_info r;
    assert_ok(mm_virtual_query(m, NULL, uva, &r));
    mm_va b = MM_PAGE_ALIGN(uva);
    uint64_t s = 0;
    /* Windows' VadDevicePhysicalMemory: neither released, decommitted nor
     * committed over (regression: a commit rewrote the PTE as private). */
    assert_status(mm_virtual_free(m, NULL, &b, &s, MM_MEM_RELEASE), MM_STATUS_UNABLE_TO_DELETE_SECTION);
    s = MM_PAGE_SIZE;
    assert_status(mm_virtual_free(m, NULL, &b, &s, MM_MEM_DECOMMIT), MM_STATUS_UNABLE_TO_DELETE_SECTION);
    uint64_t mapped_pte = pte_of(m, NULL, b);
    s = MM_PAGE_SIZE;
    assert_status(mm_virtual_alloc(m, NULL, &b, &s, MM_MEM_COMMIT, MM_PAGE_READWRITE), MM_STATUS_CONFLICTING_ADDRESSES);
    assert_int_equal(pte_of(m, NULL, b), mapped_pte);
    assert_ok(mm_unmap_locked_pages(m, uva, mdl));
    assert_false(mm_is_address_valid(m, uva));
    assert_ok(mm_unlock_pages(m, mdl));
    assert_int_equal(mm_findings_count(m), 0);
}

static void nonpaged_pool_mdl(void **state)
{
    mm_machine *m = *state;
    mm_va buf = mm_pool_allocate(m, MM_NONPAGED_POOL, 0x1800, TAG);
    mm_va mdl = mm_io_allocate_mdl(m, buf + 0x100, 0x1000, false, false, 0);
    assert_ok(mm_build_mdl_for_nonpaged_pool(m, mdl));
    mm_pfn pfns[2];
    struct mm_mdl h = read_mdl(m, mdl, pfns, 2);
    assert_int_equal((uint16_t)h.MdlFlags, MM_MDL_ALLOCATED_FIXED_SIZE | MM_MDL_SOURCE_IS_NONPAGED_POOL);
    assert_int_equal(h.MappedSystemVa, buf + 0x100);
    assert_int_equal(pfns[1], pfn_of(m, buf + 0x1000));
    assert_pfn(m, pfns[0], 1, 1, MM_ACTIVE_AND_VALID); /* no counts change */
    assert_int_equal(mm_get_system_address_for_mdl_safe(m, mdl, 0), buf + 0x100);
    assert_ok(mm_io_free_mdl(m, mdl));
}

static void partial_mdl_shares_the_parent_mapping(void **state)
{
    mm_machine *m = *state;
    mm_va buf = mm_pool_allocate(m, MM_NONPAGED_POOL, 0x3000, TAG);
    mm_va parent = mm_io_allocate_mdl(m, buf, 0x3000, false, false, 0);
    mm_va child = mm_io_allocate_mdl(m, buf + 0x1800, 0x1000, false, false, 0);
    assert_ok(mm_probe_and_lock_pages(m, parent, MM_KERNEL_MODE, MM_IO_READ_ACCESS));
    assert_ok(mm_io_build_partial_mdl(m, parent, child, buf + 0x1800, 0x1000));
    mm_pfn pp[3], cp[2];
    read_mdl(m, parent, pp, 3);
    struct mm_mdl h = read_mdl(m, child, cp, 2);
    assert_int_equal((uint16_t)h.MdlFlags, MM_MDL_ALLOCATED_FIXED_SIZE | MM_MDL_PARTIAL);
    assert_int_equal(cp[0], pp[1]);
    assert_int_equal(cp[1], pp[2]);
    assert_pfn(m, pp[1], 1, 2, MM_ACTIVE_AND_VALID); /* borrowed, not referenced again */
    mm_va sys = mm_get_system_address_for_mdl_safe(m, child, MM_NORMAL_PAGE_PRIORITY);
    assert_true(sys != 0);
    assert_flags(m, child, MM_MDL_ALLOCATED_FIXED_SIZE | MM_MDL_PARTIAL | MM_MDL_MAPPED_TO_SYSTEM_VA |
                               MM_MDL_PARTIAL_HAS_BEEN_MAPPED);
    assert_ok(mm_prepare_mdl_for_reuse(m, child));
    assert_flags(m, child, MM_MDL_ALLOCATED_FIXED_SIZE | MM_MDL_PARTIAL);
    assert_false(mm_is_address_valid(m, sys));
    /* A partial MDL of a mapped parent shares the parent's mapping. */
    mm_va psys = mm_get_system_address_for_mdl_safe(m, parent, MM_NORMAL_PAGE_PRIORITY);
    assert_ok(mm_io_build_partial_mdl(m, parent, child, buf + 0x1800, 0));
    h = read_mdl(m, child, NULL, 0);
    assert_int_equal(h.ByteCount, 0x1800);
    assert_int_equal(h.MappedSystemVa, psys + 0x1800);
    assert_true((uint16_t)h.MdlFlags & MM_MDL_MAPPED_TO_SYSTEM_VA);
    assert_ok(mm_io_free_mdl(m, child));
    assert_ok(mm_unlock_pages(m, parent)); /* unmaps the parent first */
    assert_false(mm_is_address_valid(m, psys));
    assert_ok(mm_io_free_mdl(m, parent));
}

static void mdl_on_an_irp_chain(void **state)
{
    mm_machine *m = *state;
    mm_va irp = mm_pool_allocate(m, MM_NONPAGED_POOL, 0xD0, MM_POOL_TAG('I', 'r', 'p', ' '));
    mm_va a = mm_io_allocate_mdl(m, 0x10000, 0x100, false, false, irp);
    mm_va b = mm_io_allocate_mdl(m, 0x20000, 0x100, true, false, irp);
    uint64_t head = 0;
    assert_ok(mm_read(m, irp + 8, &head, 8));
    assert_int_equal(head, a);
    struct mm_mdl h = read_mdl(m, a, NULL, 0);
    assert_int_equal(h.Next, b);
    assert_int_equal(mm_io_allocate_mdl(m, 0x10000, 0x100, true, false, 0), 0); /* secondary needs an IRP */
    assert_int_equal(mm_io_allocate_mdl(m, 0x10000, 0, false, false, 0), 0);
    /* Windows 7 and later describe up to 4 GiB - PAGE_SIZE (regression: the
     * Server 2003 limit); Size, a CSHORT, wraps above about 32 MiB. */
    assert_int_equal(mm_io_allocate_mdl(m, 0x10000, 0xFFFFF001u, false, false, 0), 0);
    mm_va huge = mm_io_allocate_mdl(m, 0x10000, 0x4000000u, false, false, 0);
    assert_true(huge != 0);
    struct mm_mdl hh = read_mdl(m, huge, NULL, 0);
    assert_int_equal(hh.ByteCount, 0x4000000u);
    assert_int_equal((uint16_t)hh.Size, (uint16_t)(0x30 + 0x4000 * 8));
    assert_ok(mm_io_free_mdl(m, huge));
    mm_va big = mm_io_allocate_mdl(m, 0x10000, 24 * 0x1000, false, false, 0);
    assert_flags(m, big, 0); /* beyond 23 pages: from pool, not the lookaside list */
    assert_int_equal(mm_size_of_mdl(0xFF0, 0x20), 0x30 + 2 * 8);
}

/* ---- misuse, both modes ---- */

static void double_unlock_verifier(void **state)
{
    mm_machine *m = *state;
    mm_va buf;
    mm_va mdl = kernel_mdl(m, &buf);
    assert_ok(mm_probe_and_lock_pages(m, mdl, MM_KERNEL_MODE, MM_IO_READ_ACCESS));
    assert_ok(mm_unlock_pages(m, mdl));
    expect_bugcheck(mm_unlock_pages(m, mdl), MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0x7C);
    assert_params(mdl, MM_MDL_ALLOCATED_FIXED_SIZE, 0);
    assert_non_null(strstr(H.bc.explanation, "already unlocked"));
}

static void double_unlock_no_verifier(void **state)
{
    mm_machine *m = *state;
    mm_va buf;
    mm_va mdl = kernel_mdl(m, &buf);
    mm_pfn frame = pfn_of(m, buf);
    assert_ok(mm_probe_and_lock_pages(m, mdl, MM_KERNEL_MODE, MM_IO_READ_ACCESS));
    assert_ok(mm_unlock_pages(m, mdl));
    expect_bugcheck(mm_unlock_pages(m, mdl), MM_BUGCHECK_PFN_LIST_CORRUPT, 0x07);
    assert_params(frame, 1, 0);
    assert_non_null(strstr(H.bc.explanation, "MmUnlockPages(mdl"));
}

static void double_unlock_with_tracking(void **state)
{
    mm_machine *m = *state;
    mm_va va;
    mm_va mdl = user_mdl(m, &va, 0x100);
    assert_ok(mm_probe_and_lock_pages(m, mdl, MM_USER_MODE, MM_IO_READ_ACCESS));
    assert_ok(mm_unlock_pages(m, mdl));
    expect_bugcheck(mm_unlock_pages(m, mdl), MM_BUGCHECK_PROCESS_HAS_LOCKED_PAGES, 0x01);
    assert_params(mdl, 0, 0);
    assert_non_null(strstr(H.bc.explanation, "already unlocked"));
}

static void unlock_nonpaged_pool_mdl(void **state)
{
    mm_machine *m = *state;
    bool verifier = mm_machine_verifier(m) != 0;
    mm_va buf = mm_pool_allocate(m, MM_NONPAGED_POOL, 0x100, TAG);
    mm_va mdl = mm_io_allocate_mdl(m, buf, 0x100, false, false, 0);
    assert_ok(mm_build_mdl_for_nonpaged_pool(m, mdl));
    if (verifier) {
        expect_bugcheck(mm_unlock_pages(m, mdl), MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0x7D);
        assert_params(mdl, MM_MDL_ALLOCATED_FIXED_SIZE | MM_MDL_SOURCE_IS_NONPAGED_POOL, 0);
    } else {
        expect_bugcheck(mm_unlock_pages(m, mdl), MM_BUGCHECK_PFN_LIST_CORRUPT, 0x07);
        assert_params(pfn_of(m, buf), 1, 0);
    }
}

static void unlock_partial_mdl(void **state)
{
    mm_machine *m = *state;
    bool verifier = mm_machine_verifier(m) != 0;
    mm_va buf = mm_pool_allocate(m, MM_NONPAGED_POOL, 0x2000, TAG);
    mm_va parent = mm_io_allocate_mdl(m, buf, 0x2000, false, false, 0);
    mm_va child = mm_io_allocate_mdl(m, buf, 0x1000, false, false, 0);
    assert_ok(mm_probe_and_lock_pages(m, parent, MM_KERNEL_MODE, MM_IO_READ_ACCESS));
    assert_ok(mm_io_build_partial_mdl(m, parent, child, buf, 0x1000));
    if (verifier) {
        expect_bugcheck(mm_unlock_pages(m, child), MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0xB4);
        assert_params(child, MM_MDL_ALLOCATED_FIXED_SIZE | MM_MDL_PARTIAL, MM_MDL_PARTIAL);
        return;
    }
    /* The partial MDL drops the parent's lock silently; the parent's own
     * unlock then takes the last reference of a mapped page. */
    assert_ok(mm_unlock_pages(m, child));
    assert_pfn(m, pfn_of(m, buf), 1, 1, MM_ACTIVE_AND_VALID);
    expect_bugcheck(mm_unlock_pages(m, parent), MM_BUGCHECK_PFN_LIST_CORRUPT, 0x07);
    assert_params(pfn_of(m, buf), 1, 0);
}

static void lock_twice(void **state)
{
    mm_machine *m = *state;
    bool verifier = mm_machine_verifier(m) != 0;
    mm_va va;
    mm_va mdl = user_mdl(m, &va, 0x100);
    assert_ok(mm_probe_and_lock_pages(m, mdl, MM_USER_MODE, MM_IO_READ_ACCESS));
    if (verifier) {
        expect_bugcheck(mm_probe_and_lock_pages(m, mdl, MM_USER_MODE, MM_IO_READ_ACCESS),
                        MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0xB0);
        assert_params(mdl, MM_MDL_ALLOCATED_FIXED_SIZE | MM_MDL_PAGES_LOCKED, MM_MDL_PAGES_LOCKED);
        return;
    }
    assert_ok(mm_probe_and_lock_pages(m, mdl, MM_USER_MODE, MM_IO_READ_ACCESS));
    assert_int_equal(locked_pages(m, H.proc), 2); /* charged twice */
    assert_pfn(m, pfn_of(m, va), 1, 3, MM_ACTIVE_AND_VALID);
    assert_invariants(m); /* regression: the MDL record counted one lock */
    assert_ok(mm_unlock_pages(m, mdl));
    assert_int_equal(locked_pages(m, H.proc), 1);
    struct mm_leaked_lock l[2];
    assert_int_equal(mm_leaked_locks_read(m, l, 2), 1); /* the charge no MDL explains */
    assert_int_equal(l[0].mdl, mdl);
    assert_int_equal(l[0].pages, 1);
    assert_invariants(m);
    exit_stops_with_locked_pages(m, 1);
}

/* Regression: a probe that fails on an MDL that is already locked stores
 * the header with Process = 0, as Windows' exception path does; the first
 * lock's charge then has nobody to release it, and exit reports it. */
static void failing_reprobe_of_locked_mdl(void **state)
{
    mm_machine *m = *state;
    mm_va va;
    mm_va mdl = user_mdl(m, &va, 0x100);
    assert_ok(mm_probe_and_lock_pages(m, mdl, MM_USER_MODE, MM_IO_READ_ACCESS));
    mm_va base = MM_PAGE_ALIGN(va);
    uint64_t size = 0;
    assert_ok(mm_virtual_free(m, NULL, &base, &size, MM_MEM_RELEASE)); /* the page stays locked */
    assert_status(mm_probe_and_lock_pages(m, mdl, MM_USER_MODE, MM_IO_READ_ACCESS), MM_STATUS_ACCESS_VIOLATION);
    assert_int_equal(read_mdl(m, mdl, NULL, 0).Process, 0);
    assert_invariants(m);
    assert_ok(mm_unlock_pages(m, mdl)); /* the header names no process: nothing is uncharged */
    assert_int_equal(locked_pages(m, H.proc), 1);
    assert_invariants(m);
    assert_ok(mm_io_free_mdl(m, mdl));
    assert_invariants(m);
    exit_stops_with_locked_pages(m, 1);
}

/* Regression: MmBuildMdlForNonPagedPool on a locked MDL zeroes Process;
 * the counts must still explain each other. */
static void build_nonpaged_on_locked_mdl(void **state)
{
    mm_machine *m = *state;
    mm_va va;
    mm_va mdl = user_mdl(m, &va, 0x100);
    assert_ok(mm_probe_and_lock_pages(m, mdl, MM_USER_MODE, MM_IO_READ_ACCESS));
    assert_ok(mm_build_mdl_for_nonpaged_pool(m, mdl));
    assert_int_equal(read_mdl(m, mdl, NULL, 0).Process, 0);
    assert_invariants(m);
    assert_int_equal(locked_pages(m, H.proc), 1);
}

/* Without Verifier there is no entry check: routines callable at DISPATCH
 * run at any IRQL (regression: map and unlock raised 0xA at CLOCK while
 * probe-and-lock did not); only a fault stops them, and a routine whose
 * pageable code runs below DISPATCH (the user-mode map) faults there. */
static void irql_above_dispatch_without_verifier(void **state)
{
    mm_machine *m = *state;
    mm_va buf;
    mm_va mdl = kernel_mdl(m, &buf);
    assert_ok(mm_irql_raise(m, MM_CLOCK_LEVEL, NULL));
    assert_ok(mm_probe_and_lock_pages(m, mdl, MM_KERNEL_MODE, MM_IO_READ_ACCESS));
    mm_va sys = mm_map_locked_pages_specify_cache(m, mdl, MM_KERNEL_MODE, MM_CACHED, 0, false, 0, NULL);
    assert_true(sys != 0);
    assert_ok(mm_unmap_locked_pages(m, sys, mdl));
    assert_ok(mm_unlock_pages(m, mdl));
    assert_ok(mm_irql_lower(m, MM_DISPATCH_LEVEL));
    assert_ok(mm_probe_and_lock_pages(m, mdl, MM_KERNEL_MODE, MM_IO_READ_ACCESS));
    mm_status raised;
    expect_bugcheck(mm_map_locked_pages_specify_cache(m, mdl, MM_USER_MODE, MM_CACHED, 0, false, 0, &raised),
                    MM_BUGCHECK_IRQL_NOT_LESS_OR_EQUAL, mdl);
}

/* A requested user address is taken as it is: page aligned, ending at or
 * below MM_HIGHEST_VAD_ADDRESS, or STATUS_INVALID_ADDRESS is raised
 * (regression: an unaligned address was rounded, the top 64 KiB allowed). */
/* Regression (found by the API fuzzer): an MDL describing no page mapped
 * into user space made an empty VAD inside the next one. It is refused. */
static void user_mapping_of_an_empty_mdl(void **state)
{
    mm_machine *m = *state;
    mm_va buf = mm_pool_allocate(m, MM_NONPAGED_POOL, MM_PAGE_SIZE, TAG);
    mm_va mdl = mm_pool_allocate(m, MM_NONPAGED_POOL, 0x100, TAG);
    assert_ok(mm_initialize_mdl(m, mdl, buf, MM_PAGE_SIZE));
    assert_ok(mm_build_mdl_for_nonpaged_pool(m, mdl));
    uint32_t none = 0;
    assert_ok(mm_write(m, mdl + 0x28, &none, sizeof none)); /* ByteCount: the driver says 0 bytes */
    mm_status raised = MM_STATUS_SUCCESS;
    assert_int_equal(mm_map_locked_pages_specify_cache(m, mdl, MM_USER_MODE, MM_CACHED, 0, false, 0, &raised), 0);
    assert_status(raised, MM_STATUS_INVALID_PARAMETER);
    struct mm_process_info pi;
    assert_ok(mm_process_query(m, H.proc, &pi));
    assert_int_equal(pi.vad_count, 0);
    assert_invariants(m);
}

static void user_mapping_at_a_requested_address(void **state)
{
    mm_machine *m = *state;
    mm_va buf;
    mm_va mdl = kernel_mdl(m, &buf);
    assert_ok(mm_probe_and_lock_pages(m, mdl, MM_KERNEL_MODE, MM_IO_WRITE_ACCESS));
    mm_status raised;
    mm_va top = layout_of(m).highest_vad_address + 1 - MM_PAGE_SIZE;
    assert_int_equal(mm_map_locked_pages_specify_cache(m, mdl, MM_USER_MODE, MM_CACHED, top + 0x10, false, 0, &raised),
                     0);
    assert_status(raised, MM_STATUS_INVALID_ADDRESS);
    assert_int_equal(mm_map_locked_pages_specify_cache(m, mdl, MM_USER_MODE, MM_CACHED, top + MM_PAGE_SIZE, false, 0,
                                                       &raised), 0);
    assert_status(raised, MM_STATUS_INVALID_ADDRESS);
    mm_va at = mm_map_locked_pages_specify_cache(m, mdl, MM_USER_MODE, MM_CACHED, top, false, 0, &raised);
    assert_status(raised, MM_STATUS_SUCCESS);
    assert_int_equal(at, top + MM_BYTE_OFFSET(buf));
    /* Regression (found by the API fuzzer): a system address passed the
     * range check by wrapping, and user PTEs overwrote kernel page tables. */
    assert_int_equal(mm_map_locked_pages_specify_cache(m, mdl, MM_USER_MODE, MM_CACHED, MM_PTE_BASE, false, 0,
                                                       &raised), 0);
    assert_status(raised, MM_STATUS_INVALID_ADDRESS);
    assert_int_equal(mm_map_locked_pages_specify_cache(m, mdl, MM_USER_MODE, MM_CACHED, MM_PAGE_ALIGN(buf), false,
                                                       0, &raised), 0);
    assert_status(raised, MM_STATUS_INVALID_ADDRESS);
    assert_invariants(m);
    mm_va other = top - 0x3000; /* page aligned, not 64 KiB aligned: accepted */
    mm_va at2 = mm_map_locked_pages_specify_cache(m, mdl, MM_USER_MODE, MM_CACHED, other, false, 0, &raised);
    assert_int_equal(at2, other + MM_BYTE_OFFSET(buf));
    assert_int_equal(mm_map_locked_pages_specify_cache(m, mdl, MM_USER_MODE, MM_CACHED, top, false, 0, &raised), 0);
    assert_status(raised, MM_STATUS_CONFLICTING_ADDRESSES);
    mm_va b = top;
    uint64_t size = MM_PAGE_SIZE;
    uint32_t old;
    assert_status(mm_virtual_protect(m, NULL, &b, &size, MM_PAGE_READONLY, &old), MM_STATUS_CONFLICTING_ADDRESSES);
    assert_ok(mm_unmap_locked_pages(m, at, mdl));
    assert_ok(mm_unmap_locked_pages(m, at2, mdl));
    assert_ok(mm_unlock_pages(m, mdl));
}

/* Regressions in the words: 0x1233 said "never locked" for an MDL that was
 * unlocked; 0x3F ended in a stray "0" when no mapping had leaked. */
static void explanations_say_what_happened(void **state)
{
    mm_machine *m = *state;
    mm_va buf;
    mm_va mdl = kernel_mdl(m, &buf);
    assert_ok(mm_probe_and_lock_pages(m, mdl, MM_KERNEL_MODE, MM_IO_READ_ACCESS));
    assert_ok(mm_unlock_pages(m, mdl));
    expect_bugcheck(mm_map_locked_pages_specify_cache(m, mdl, MM_KERNEL_MODE, MM_CACHED, 0, false, 0, NULL),
                    MM_BUGCHECK_MEMORY_MANAGEMENT, 0x1233);
    assert_non_null(strstr(H.bc.explanation, "unlocked at step"));
    assert_null(strstr(H.bc.explanation, "never"));
}

static void no_more_system_ptes_without_leaks(void **state)
{
    mm_machine *m = *state;
    struct mm_memory_counts c;
    assert_ok(mm_memory_query(m, &c));
    mm_va range = mm_allocate_mapping_address(m, (c.system_ptes_total - 2 - c.system_ptes_used) * MM_PAGE_SIZE,
                                              MM_POOL_TAG('F', 'u', 'l', 'l'));
    assert_true(range != 0);
    mm_va buf;
    mm_va mdl = kernel_mdl(m, &buf);
    assert_ok(mm_probe_and_lock_pages(m, mdl, MM_KERNEL_MODE, MM_IO_READ_ACCESS));
    expect_bugcheck(mm_map_locked_pages_specify_cache(m, mdl, MM_KERNEL_MODE, MM_CACHED, 0, true, 0, NULL),
                    MM_BUGCHECK_NO_MORE_SYSTEM_PTES, 0);
    size_t n = strlen(H.bc.explanation);
    assert_true(n > 0 && H.bc.explanation[n - 1] == ')');
}

/* ---- kernel stacks ---- */

/* A stack buffer is locked with MmProbeAndLockPages; describing it with
 * MmBuildMdlForNonPagedPool is 0xC4/0x140 under Verifier (stack pages can
 * be traded), and silently latent without. */
static void mdl_over_a_kernel_stack_buffer(void **state)
{
    mm_machine *m = *state;
    mm_va base, limit;
    assert_ok(mm_kernel_stack_create(m, &base, &limit));
    assert_int_equal(base - limit, MM_KERNEL_STACK_SIZE);
    mm_va buf = base - 0x180; /* a local variable near the top */
    assert_ok(mm_write(m, buf, "stack", 5));
    struct mm_pfn_info pi;
    assert_ok(mm_pfn_query(m, pfn_of(m, buf), &pi));
    assert_int_equal(pi.use, MM_USE_KERNEL_STACK);
    mm_va mdl = mm_io_allocate_mdl(m, buf, 0x100, false, false, 0);
    assert_ok(mm_probe_and_lock_pages(m, mdl, MM_KERNEL_MODE, MM_IO_WRITE_ACCESS));
    assert_pfn(m, pfn_of(m, buf), 1, 2, MM_ACTIVE_AND_VALID);
    assert_ok(mm_unlock_pages(m, mdl));
    if (mm_machine_verifier(m)) {
        expect_bugcheck(mm_build_mdl_for_nonpaged_pool(m, mdl), MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0x140);
        assert_params(MM_PASSIVE_LEVEL, mdl, buf);
        return;
    }
    assert_ok(mm_build_mdl_for_nonpaged_pool(m, mdl)); /* works today, latent bug */
    assert_ok(mm_io_free_mdl(m, mdl));
    uint64_t free_before = list_pages(m, MM_FREE_PAGE_LIST);
    assert_ok(mm_kernel_stack_delete(m, base));
    assert_int_equal(list_pages(m, MM_FREE_PAGE_LIST), free_before + MM_KERNEL_STACK_SIZE / MM_PAGE_SIZE);
    assert_status(mm_kernel_stack_delete(m, base), MM_STATUS_INVALID_PARAMETER);
    assert_invariants(m);
}

/* Running off the end of a kernel stack hits its guard page: a double fault. */
static void kernel_stack_overflow_is_a_double_fault(void **state)
{
    mm_machine *m = *state;
    mm_va base, limit;
    assert_ok(mm_kernel_stack_create(m, &base, &limit));
    uint8_t b = 0;
    assert_ok(mm_write(m, limit, &b, 1));
    expect_bugcheck(mm_write(m, limit - 8, &b, 1), MM_BUGCHECK_UNEXPECTED_KERNEL_MODE_TRAP, 8);
    assert_params(0, 0, 0);
}

/* ---- MmAdvanceMdl, MmProtectMdlSystemAddress ---- */

/* Advancing past the first page unlocks it at once, gives its charge back
 * and keeps its system PTE until the unmap (MDL_FREE_EXTRA_PTES). */
static void advance_mdl(void **state)
{
    mm_machine *m = *state;
    mm_va va = commit_user(m, 0x10000, MM_PAGE_READWRITE) + 0x800;
    mm_va mdl = mm_io_allocate_mdl(m, va, 0x2400, false, false, 0); /* 3 pages */
    assert_ok(mm_probe_and_lock_pages(m, mdl, MM_USER_MODE, MM_IO_WRITE_ACCESS));
    assert_int_equal(locked_pages(m, H.proc), 3);
    mm_pfn pfns[3];
    read_mdl(m, mdl, pfns, 3);
    mm_va sys = mm_get_system_address_for_mdl_safe(m, mdl, 0);
    struct mm_memory_counts before;
    assert_ok(mm_memory_query(m, &before));
    assert_status(mm_advance_mdl(m, mdl, 0x2400), MM_STATUS_INVALID_PARAMETER_2);
    assert_ok(mm_advance_mdl(m, mdl, 0x900)); /* 0x800 + 0x900: one page passed */
    mm_pfn now[2];
    struct mm_mdl h = read_mdl(m, mdl, now, 2);
    assert_int_equal(h.ByteOffset, 0x100);
    assert_int_equal(h.ByteCount, 0x2400 - 0x900);
    assert_int_equal(h.StartVa, MM_PAGE_ALIGN(va) + MM_PAGE_SIZE);
    assert_int_equal(h.MappedSystemVa, sys + 0x900);
    assert_true((uint16_t)h.MdlFlags & MM_MDL_FREE_EXTRA_PTES);
    assert_int_equal(now[0], pfns[1]);
    assert_pfn(m, pfns[0], 1, 1, MM_ACTIVE_AND_VALID); /* unlocked at once */
    assert_pfn(m, pfns[1], 1, 2, MM_ACTIVE_AND_VALID);
    assert_int_equal(locked_pages(m, H.proc), 2);
    assert_invariants(m);
    assert_ok(mm_unmap_locked_pages(m, h.MappedSystemVa, mdl)); /* releases all three PTEs */
    struct mm_memory_counts after;
    assert_ok(mm_memory_query(m, &after));
    assert_int_equal(after.system_ptes_used, before.system_ptes_used - 3);
    assert_ok(mm_unlock_pages(m, mdl));
    assert_int_equal(locked_pages(m, H.proc), 0);
    assert_pfn(m, pfns[2], 1, 1, MM_ACTIVE_AND_VALID);
    assert_invariants(m);
}

static void protect_mdl_system_address(void **state)
{
    mm_machine *m = *state;
    mm_va buf;
    mm_va mdl = kernel_mdl(m, &buf);
    assert_ok(mm_probe_and_lock_pages(m, mdl, MM_KERNEL_MODE, MM_IO_WRITE_ACCESS));
    assert_status(mm_protect_mdl_system_address(m, mdl, MM_PAGE_READONLY), MM_STATUS_NOT_MAPPED_VIEW);
    mm_va sys = mm_get_system_address_for_mdl_safe(m, mdl, 0);
    assert_status(mm_protect_mdl_system_address(m, mdl, MM_PAGE_WRITECOPY), MM_STATUS_INVALID_PAGE_PROTECTION);
    assert_status(mm_protect_mdl_system_address(m, mdl, MM_PAGE_READONLY | MM_PAGE_GUARD),
                  MM_STATUS_INVALID_PAGE_PROTECTION);
    assert_ok(mm_protect_mdl_system_address(m, mdl, MM_PAGE_EXECUTE_READ));
    uint64_t pte = pte_of(m, NULL, sys);
    assert_false(pte & PTE_WRITABLE_BITS);
    assert_false(pte >> 63);
    char c;
    assert_ok(mm_read(m, sys, &c, 1));
    expect_bugcheck(mm_write(m, sys, "x", 1), MM_BUGCHECK_ATTEMPTED_WRITE_TO_READONLY_MEMORY, sys);
}

static void protect_no_access_then_back(void **state)
{
    mm_machine *m = *state;
    mm_va buf;
    mm_va mdl = kernel_mdl(m, &buf);
    assert_ok(mm_probe_and_lock_pages(m, mdl, MM_KERNEL_MODE, MM_IO_WRITE_ACCESS));
    mm_va sys = mm_get_system_address_for_mdl_safe(m, mdl, 0);
    assert_ok(mm_protect_mdl_system_address(m, mdl, MM_PAGE_NOACCESS));
    assert_false(mm_is_address_valid(m, sys));
    assert_invariants(m);
    assert_ok(mm_protect_mdl_system_address(m, mdl, MM_PAGE_READWRITE));
    assert_ok(mm_write(m, sys, "back", 4));
    char seen[4];
    assert_ok(mm_read(m, buf, seen, 4));
    assert_memory_equal(seen, "back", 4);
    assert_ok(mm_protect_mdl_system_address(m, mdl, MM_PAGE_NOACCESS));
    assert_ok(mm_unmap_locked_pages(m, sys, mdl));
    assert_ok(mm_unlock_pages(m, mdl));
    assert_invariants(m);
    /* A header whose MappedSystemVa is no system PTE mapping: 0x1A/0x1235. */
    assert_ok(mm_probe_and_lock_pages(m, mdl, MM_KERNEL_MODE, MM_IO_WRITE_ACCESS));
    sys = mm_get_system_address_for_mdl_safe(m, mdl, 0);
    struct mm_mdl h = read_mdl(m, mdl, NULL, 0);
    h.MappedSystemVa = buf;
    assert_ok(mm_write(m, mdl, &h, sizeof h));
    expect_bugcheck(mm_protect_mdl_system_address(m, mdl, MM_PAGE_READONLY), MM_BUGCHECK_MEMORY_MANAGEMENT, 0x1235);
    assert_int_equal(H.bc.p[1], mdl);
    assert_int_equal(H.bc.p[2], buf);
}

/* Scatter/gather: three user pages out of order, locked into one MDL and
 * seen contiguous through its system mapping. */
static void probe_and_lock_selected_pages(void **state)
{
    mm_machine *m = *state;
    mm_va base = commit_user(m, 0x6000, MM_PAGE_READWRITE);
    mm_va pages[3] = {base + 0x5000, base, base + 0x2000};
    for (int i = 0; i < 3; i++)
        assert_ok(mm_write(m, pages[i], (char[]){(char)('A' + i)}, 1));
    mm_va array = mm_pool_allocate(m, MM_NONPAGED_POOL, sizeof pages, TAG);
    assert_ok(mm_write(m, array, pages, sizeof pages));
    mm_va mdl = mm_io_allocate_mdl(m, pages[0], 3 * MM_PAGE_SIZE, false, false, 0);
    assert_ok(mm_probe_and_lock_selected_pages(m, mdl, array, MM_USER_MODE, MM_IO_READ_ACCESS));
    mm_pfn pfns[3];
    struct mm_mdl h = read_mdl(m, mdl, pfns, 3);
    assert_int_equal((uint16_t)h.MdlFlags, MM_MDL_ALLOCATED_FIXED_SIZE | MM_MDL_PAGES_LOCKED);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(pfns[i], pfn_of(m, pages[i]));
        assert_pfn(m, pfns[i], 1, 2, MM_ACTIVE_AND_VALID);
    }
    assert_int_equal(locked_pages(m, H.proc), 3);
    mm_va sys = mm_get_system_address_for_mdl_safe(m, mdl, 0);
    for (int i = 0; i < 3; i++) {
        char c;
        assert_ok(mm_read(m, sys + (mm_va)i * MM_PAGE_SIZE, &c, 1));
        assert_int_equal(c, 'A' + i);
    }
    assert_ok(mm_unlock_pages(m, mdl));
    assert_int_equal(locked_pages(m, H.proc), 0);
    assert_invariants(m);
    mm_va bad = pages[1] + 0x10; /* segments must be page aligned */
    assert_ok(mm_write(m, array + 8, &bad, 8));
    assert_status(mm_probe_and_lock_selected_pages(m, mdl, array, MM_USER_MODE, MM_IO_READ_ACCESS),
                  MM_STATUS_ACCESS_VIOLATION);
    assert_int_equal(locked_pages(m, H.proc), 0);
    assert_invariants(m);
    if (mm_machine_verifier(m)) {
        assert_ok(mm_irql_raise(m, MM_CLOCK_LEVEL, NULL));
        expect_bugcheck(mm_probe_and_lock_selected_pages(m, mdl, array, MM_USER_MODE, MM_IO_READ_ACCESS),
                        MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0x72);
        struct mm_process_info pi;
        assert_ok(mm_process_query(m, H.proc, &pi));
        assert_params(MM_CLOCK_LEVEL, mdl, pi.eprocess);
    }
}

/* ---- device memory (MDL_IO_SPACE) ---- */

/* Device frames locked through an MDL are counted (Windows 8 and later):
 * unlocking them twice finds no lock to drop, 0x1A/0x61948. */
static void io_space_mdl_unlocked_twice(void **state)
{
    mm_machine *m = *state;
    struct mm_memory_counts c;
    assert_ok(mm_memory_query(m, &c));
    uint64_t device = (c.physical_pages + 0x100) * MM_PAGE_SIZE; /* beyond RAM */
    mm_va regs = mm_map_io_space(m, device, 2 * MM_PAGE_SIZE, MM_NON_CACHED);
    assert_true(regs != 0);
    mm_va mdl = mm_io_allocate_mdl(m, regs, 2 * MM_PAGE_SIZE, false, false, 0);
    assert_ok(mm_probe_and_lock_pages(m, mdl, MM_KERNEL_MODE, MM_IO_READ_ACCESS));
    assert_flags(m, mdl, MM_MDL_ALLOCATED_FIXED_SIZE | MM_MDL_PAGES_LOCKED | MM_MDL_IO_SPACE);
    mm_pfn pfns[2];
    read_mdl(m, mdl, pfns, 2);
    assert_int_equal(pfns[0], device >> MM_PAGE_SHIFT);
    assert_ok(mm_unlock_pages(m, mdl));
    assert_flags(m, mdl, MM_MDL_ALLOCATED_FIXED_SIZE);
    if (mm_machine_verifier(m)) {
        expect_bugcheck(mm_unlock_pages(m, mdl), MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0x7C);
        assert_params(mdl, MM_MDL_ALLOCATED_FIXED_SIZE, 0);
        return;
    }
    expect_bugcheck(mm_unlock_pages(m, mdl), MM_BUGCHECK_MEMORY_MANAGEMENT, 0x61948);
    assert_params(pfns[0], 2, pfns[0]);
}

/* Under Verifier an MDL listing a device frame must say MDL_IO_SPACE. */
static void device_frame_in_an_mdl_not_marked_io_space(void **state)
{
    mm_machine *m = *state;
    assert_ok(mm_machine_set_verifier(m, MM_VERIFIER_STANDARD));
    mm_va buf;
    mm_va mdl = kernel_mdl(m, &buf);
    assert_ok(mm_probe_and_lock_pages(m, mdl, MM_KERNEL_MODE, MM_IO_READ_ACCESS));
    struct mm_memory_counts c;
    assert_ok(mm_memory_query(m, &c));
    mm_pfn device = c.physical_pages + 0x10;
    assert_ok(mm_write(m, MM_MDL_PFN_ARRAY(mdl), &device, 8)); /* the driver rewrites the array */
    expect_bugcheck(mm_map_locked_pages_specify_cache(m, mdl, MM_KERNEL_MODE, MM_CACHED, 0, false, 0, NULL),
                    MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0x89);
    assert_params(mdl, MM_MDL_PFN_ARRAY(mdl), device);
}

/* A page locked 32767 times (MmReferenceCountCheck) takes no more locks:
 * the probe fails with STATUS_WORKING_SET_QUOTA and leaves the MDL unlocked
 * (regression: the reference count overflowed an assertion at 65535). */
static void reference_count_limit(void **state)
{
    mm_machine *m = *state;
    mm_va buf;
    mm_va mdl = kernel_mdl(m, &buf);
    mm_pfn pfn = pfn_of(m, buf);
    for (unsigned i = 1; i < 32767; i++) /* the mapping holds one reference */
        assert_ok(mm_probe_and_lock_pages(m, mdl, MM_KERNEL_MODE, MM_IO_READ_ACCESS));
    assert_pfn(m, pfn, 1, 32767, MM_ACTIVE_AND_VALID);
    mm_va other = mm_io_allocate_mdl(m, buf, 0x200, false, false, 0);
    assert_status(mm_probe_and_lock_pages(m, other, MM_KERNEL_MODE, MM_IO_READ_ACCESS), MM_STATUS_WORKING_SET_QUOTA);
    assert_flags(m, other, MM_MDL_ALLOCATED_FIXED_SIZE);
    assert_pfn(m, pfn, 1, 32767, MM_ACTIVE_AND_VALID);
    assert_invariants(m);
}

/* Regression (API fuzzer): MmMapIoSpace of RAM nobody holds maps a frame
 * still on the zeroed list; locking it through that mapping took a
 * reference on a listed page and broke the PFN lists. Windows' PFN
 * database is corrupt at that point: 0x4E/0x99 at the lock. */
static void locking_a_free_frame_through_an_io_mapping(void **state)
{
    mm_machine *m = *state;
    struct mm_memory_counts c;
    assert_ok(mm_memory_query(m, &c));
    mm_pfn free_frame = c.physical_pages - 1; /* never used */
    mm_va va = mm_map_io_space(m, free_frame * MM_PAGE_SIZE, MM_PAGE_SIZE, MM_CACHED);
    assert_true(va != 0);
    mm_va mdl = mm_io_allocate_mdl(m, va, 0x100, false, false, 0);
    expect_bugcheck(mm_probe_and_lock_pages(m, mdl, MM_KERNEL_MODE, MM_IO_READ_ACCESS), MM_BUGCHECK_PFN_LIST_CORRUPT,
                    0x99);
    assert_int_equal(H.bc.p[1], free_frame);
}

static void map_unlocked_mdl(void **state)
{
    mm_machine *m = *state;
    bool verifier = mm_machine_verifier(m) != 0;
    mm_va buf;
    mm_va mdl = kernel_mdl(m, &buf);
    if (verifier) {
        expect_bugcheck(mm_map_locked_pages_specify_cache(m, mdl, MM_KERNEL_MODE, MM_CACHED, 0, false, 0, NULL),
                        MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0xB3);
        assert_params(mdl, MM_MDL_ALLOCATED_FIXED_SIZE, MM_MDL_PAGES_LOCKED);
        return;
    }
    /* The never-filled PFN array holds whatever the pool page held: here the
     * frame of an unrelated page, which nothing has locked. */
    mm_pfn victim = pfn_of(m, buf);
    assert_ok(mm_write(m, MM_MDL_PFN_ARRAY(mdl), &victim, 8));
    expect_bugcheck(mm_map_locked_pages_specify_cache(m, mdl, MM_KERNEL_MODE, MM_CACHED, 0, false, 0, NULL),
                    MM_BUGCHECK_MEMORY_MANAGEMENT, 0x1233);
    assert_int_equal(H.bc.p[1], victim);
}

static void map_twice(void **state)
{
    mm_machine *m = *state;
    bool verifier = mm_machine_verifier(m) != 0;
    mm_va buf;
    mm_va mdl = kernel_mdl(m, &buf);
    assert_ok(mm_probe_and_lock_pages(m, mdl, MM_KERNEL_MODE, MM_IO_READ_ACCESS));
    mm_va first = mm_map_locked_pages_specify_cache(m, mdl, MM_KERNEL_MODE, MM_CACHED, 0, false, 0, NULL);
    if (verifier) {
        expect_bugcheck(mm_map_locked_pages_specify_cache(m, mdl, MM_KERNEL_MODE, MM_CACHED, 0, false, 0, NULL),
                        MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0xB2);
        assert_params(mdl, 0x000B, MM_MDL_MAPPED_TO_SYSTEM_VA);
        return;
    }
    mm_va second = mm_map_locked_pages_specify_cache(m, mdl, MM_KERNEL_MODE, MM_CACHED, 0, false, 0, NULL);
    assert_true(second != first && second != 0);
    assert_ok(mm_unlock_pages(m, mdl)); /* releases the second mapping only */
    assert_true(mm_is_address_valid(m, first)); /* the first one leaked */
    assert_false(mm_is_address_valid(m, second));
}

static void bug_check_on_failure(void **state)
{
    mm_machine *m = *state;
    bool verifier = mm_machine_verifier(m) != 0;
    mm_va buf;
    mm_va mdl = kernel_mdl(m, &buf);
    assert_ok(mm_probe_and_lock_pages(m, mdl, MM_KERNEL_MODE, MM_IO_READ_ACCESS));
    if (verifier) {
        expect_bugcheck(mm_map_locked_pages_specify_cache(m, mdl, MM_KERNEL_MODE, MM_CACHED, 0, true, 0, NULL),
                        MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0x82);
        assert_params(mdl, 0x000A, 0);
        return;
    }
    /* Harmless until the system PTEs run out: leak mappings until they do. */
    mm_va va = 1;
    uint64_t leaked = 0;
    for (; leaked < 10000 && va; leaked++)
        va = mm_map_locked_pages_specify_cache(m, mdl, MM_KERNEL_MODE, MM_CACHED, 0, false, 0, NULL);
    assert_int_equal(va, 0); /* BugCheckOnFailure = FALSE: NULL */
    assert_int_equal(leaked - 1, 2048); /* the configured pool */
    expect_bugcheck(mm_map_locked_pages_specify_cache(m, mdl, MM_KERNEL_MODE, MM_CACHED, 0, true, 0, NULL),
                    MM_BUGCHECK_NO_MORE_SYSTEM_PTES, 0);
    assert_params(1, 0, 2048);
}

static void legacy_map_locked_pages(void **state)
{
    mm_machine *m = *state;
    mm_va buf;
    mm_va mdl = kernel_mdl(m, &buf);
    assert_ok(mm_probe_and_lock_pages(m, mdl, MM_KERNEL_MODE, MM_IO_READ_ACCESS));
    if (mm_machine_verifier(m)) {
        expect_bugcheck(mm_map_locked_pages(m, mdl, MM_KERNEL_MODE), MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION,
                        0x81);
        assert_params(mdl, 0x000A, 0);
        return;
    }
    assert_true(mm_map_locked_pages(m, mdl, MM_KERNEL_MODE) != 0);
    assert_flags(m, mdl, 0x000B);
}

static void unmap_not_mapped(void **state)
{
    mm_machine *m = *state;
    mm_va buf;
    mm_va mdl = kernel_mdl(m, &buf);
    assert_ok(mm_probe_and_lock_pages(m, mdl, MM_KERNEL_MODE, MM_IO_READ_ACCESS));
    if (mm_machine_verifier(m)) {
        expect_bugcheck(mm_unmap_locked_pages(m, layout_of(m).system_ptes, mdl),
                        MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0xB6);
        assert_params(mdl, 0x000A, MM_MDL_MAPPED_TO_SYSTEM_VA);
        return;
    }
    /* Without tracking: whatever the PTEs at that address map is released,
     * if they are one whole allocation of the MDL's size. */
    mm_va buf2;
    mm_va other = kernel_mdl(m, &buf2);
    assert_ok(mm_probe_and_lock_pages(m, other, MM_KERNEL_MODE, MM_IO_READ_ACCESS));
    mm_va theirs = mm_get_system_address_for_mdl_safe(m, other, 0);
    assert_ok(mm_unmap_locked_pages(m, theirs, mdl));
    assert_false(mm_is_address_valid(m, theirs)); /* another driver's mapping is gone */
    struct mm_finding f;
    assert_int_equal(mm_findings_read(m, &f, 1), 1);
    assert_int_equal(f.kind, MM_FINDING_FOREIGN_UNMAP);
    assert_int_equal(f.va, MM_PAGE_ALIGN(theirs));
    assert_invariants(m); /* regression: this aborted in bitmap.c */
    /* Its owner's own unmap now releases free PTEs: the allocator stops it. */
    expect_bugcheck(mm_unmap_locked_pages(m, theirs, other), MM_BUGCHECK_SYSTEM_PTE_MISUSE, 0x306);
    assert_params(MM_PAGE_ALIGN(theirs), MM_PAGE_ALIGN(theirs), 1);
}

/* Regression: an address that is not one whole system PTE allocation aborted
 * the host; Windows' allocator raises 0xDA with the 0x30x sub-codes. */
static void unmap_at_a_wrong_address(void **state)
{
    mm_machine *m = *state;
    mm_va buf = mm_pool_allocate(m, MM_NONPAGED_POOL, 0x3000, TAG);
    mm_va three = mm_io_allocate_mdl(m, buf, 0x3000, false, false, 0);
    mm_va one = mm_io_allocate_mdl(m, buf, 0x1000, false, false, 0);
    assert_ok(mm_probe_and_lock_pages(m, three, MM_KERNEL_MODE, MM_IO_READ_ACCESS));
    assert_ok(mm_probe_and_lock_pages(m, one, MM_KERNEL_MODE, MM_IO_READ_ACCESS));
    mm_va at = mm_get_system_address_for_mdl_safe(m, three, 0);
    assert_true(at != 0);
    /* the middle of another mapping */
    expect_bugcheck(mm_unmap_locked_pages(m, at + MM_PAGE_SIZE, one), MM_BUGCHECK_SYSTEM_PTE_MISUSE, 0x304);
    assert_params(at + MM_PAGE_SIZE, 1, 0);
}

static void unmap_with_the_wrong_size(void **state)
{
    mm_machine *m = *state;
    mm_va buf = mm_pool_allocate(m, MM_NONPAGED_POOL, 0x3000, TAG);
    mm_va three = mm_io_allocate_mdl(m, buf, 0x3000, false, false, 0);
    mm_va one = mm_io_allocate_mdl(m, buf, 0x1000, false, false, 0);
    assert_ok(mm_probe_and_lock_pages(m, three, MM_KERNEL_MODE, MM_IO_READ_ACCESS));
    assert_ok(mm_probe_and_lock_pages(m, one, MM_KERNEL_MODE, MM_IO_READ_ACCESS));
    mm_va at = mm_get_system_address_for_mdl_safe(m, three, 0);
    expect_bugcheck(mm_unmap_locked_pages(m, at, one), MM_BUGCHECK_SYSTEM_PTE_MISUSE, 0x305);
    assert_params(at, 1, 3);
}

static void unmap_unreserved_and_foreign_addresses(void **state)
{
    mm_machine *m = *state;
    mm_va buf;
    mm_va mdl = kernel_mdl(m, &buf);
    assert_ok(mm_probe_and_lock_pages(m, mdl, MM_KERNEL_MODE, MM_IO_READ_ACCESS));
    struct mm_memory_counts c;
    assert_ok(mm_memory_query(m, &c));
    mm_va last = layout_of(m).system_ptes + (c.system_ptes_total - 1) * MM_PAGE_SIZE;
    expect_bugcheck(mm_unmap_locked_pages(m, last, mdl), MM_BUGCHECK_SYSTEM_PTE_MISUSE, 0x306);
    assert_params(last, last, 1);
}

static void unmap_of_a_pool_address(void **state)
{
    mm_machine *m = *state;
    mm_va buf;
    mm_va mdl = kernel_mdl(m, &buf);
    assert_ok(mm_build_mdl_for_nonpaged_pool(m, mdl));
    /* a common bug: unmapping MappedSystemVa of a nonpaged-pool MDL */
    expect_bugcheck(mm_unmap_locked_pages(m, buf, mdl), MM_BUGCHECK_SYSTEM_PTE_MISUSE, 0x303);
    assert_params(MM_PAGE_ALIGN(buf), 1, 0);
}

/* TrackPtes: unmapping at another address (0x03), or after the MDL's first
 * page changed (0x04). */
static void tracked_unmap_at_the_wrong_address(void **state)
{
    mm_machine *m = *state;
    mm_va buf = mm_pool_allocate(m, MM_NONPAGED_POOL, 0x2000, TAG);
    mm_va mdl = mm_io_allocate_mdl(m, buf, 0x1000, false, false, 0);
    mm_va other = mm_io_allocate_mdl(m, buf + 0x1000, 0x1000, false, false, 0);
    assert_ok(mm_probe_and_lock_pages(m, mdl, MM_KERNEL_MODE, MM_IO_READ_ACCESS));
    assert_ok(mm_probe_and_lock_pages(m, other, MM_KERNEL_MODE, MM_IO_READ_ACCESS));
    mm_va mine = mm_get_system_address_for_mdl_safe(m, mdl, 0);
    mm_va theirs = mm_get_system_address_for_mdl_safe(m, other, 0);
    expect_bugcheck(mm_unmap_locked_pages(m, theirs, mdl), MM_BUGCHECK_SYSTEM_PTE_MISUSE, 0x03);
    assert_true(H.bc.p[1] != 0); /* the tracking structure, in nonpaged pool */
    assert_int_equal(H.bc.p[2], MM_PAGE_ALIGN(mine));
    assert_int_equal(H.bc.p[3], theirs);
}

static void tracked_unmap_after_the_first_page_changed(void **state)
{
    mm_machine *m = *state;
    mm_va buf = mm_pool_allocate(m, MM_NONPAGED_POOL, 0x2000, TAG);
    mm_va mdl = mm_io_allocate_mdl(m, buf, 0x1000, false, false, 0);
    assert_ok(mm_probe_and_lock_pages(m, mdl, MM_KERNEL_MODE, MM_IO_READ_ACCESS));
    mm_va at = mm_get_system_address_for_mdl_safe(m, mdl, 0);
    mm_pfn was;
    read_mdl(m, mdl, &was, 1);
    mm_pfn now = was + 1;
    assert_ok(mm_write(m, MM_MDL_PFN_ARRAY(mdl), &now, sizeof now)); /* the driver rewrites the array */
    expect_bugcheck(mm_unmap_locked_pages(m, at, mdl), MM_BUGCHECK_SYSTEM_PTE_MISUSE, 0x04);
    assert_int_equal(H.bc.p[2], was);
    assert_int_equal(H.bc.p[3], now);
}

static void unmap_not_mapped_with_pte_tracking(void **state)
{
    mm_machine *m = *state;
    mm_va buf;
    mm_va mdl = kernel_mdl(m, &buf);
    assert_ok(mm_probe_and_lock_pages(m, mdl, MM_KERNEL_MODE, MM_IO_READ_ACCESS));
    expect_bugcheck(mm_unmap_locked_pages(m, layout_of(m).system_ptes + 0x10, mdl), MM_BUGCHECK_SYSTEM_PTE_MISUSE, 0x06);
    assert_params(mdl, layout_of(m).system_ptes + 0x10, 1);
}

static void unmap_partial(void **state)
{
    mm_machine *m = *state;
    mm_va buf = mm_pool_allocate(m, MM_NONPAGED_POOL, 0x2000, TAG);
    mm_va parent = mm_io_allocate_mdl(m, buf, 0x2000, false, false, 0);
    mm_va child = mm_io_allocate_mdl(m, buf, 0x1000, false, false, 0);
    assert_ok(mm_probe_and_lock_pages(m, parent, MM_KERNEL_MODE, MM_IO_READ_ACCESS));
    assert_ok(mm_io_build_partial_mdl(m, parent, child, buf, 0x1000));
    mm_va sys = mm_get_system_address_for_mdl_safe(m, child, 0);
    if (mm_machine_verifier(m)) {
        expect_bugcheck(mm_unmap_locked_pages(m, sys, child), MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0xB5);
        assert_params(child, MM_MDL_ALLOCATED_FIXED_SIZE | MM_MDL_PARTIAL | MM_MDL_MAPPED_TO_SYSTEM_VA |
                                 MM_MDL_PARTIAL_HAS_BEEN_MAPPED, MM_MDL_PARTIAL);
        return;
    }
    assert_ok(mm_unmap_locked_pages(m, sys, child));
    assert_false(mm_is_address_valid(m, sys));
}

static void unmap_user_mapping_from_wrong_process(void **state)
{
    mm_machine *m = *state;
    mm_va buf;
    mm_va mdl = kernel_mdl(m, &buf);
    assert_ok(mm_probe_and_lock_pages(m, mdl, MM_KERNEL_MODE, MM_IO_READ_ACCESS));
    mm_va uva = mm_map_locked_pages_specify_cache(m, mdl, MM_USER_MODE, MM_CACHED, 0, false, 0, NULL);
    assert_true(uva != 0);
    assert_ok(mm_process_detach(m, &H.apc));
    mm_process *other = attached_process(m, "other.exe", &H.apc);
    (void)other;
    if (mm_machine_verifier(m)) {
        expect_bugcheck(mm_unmap_locked_pages(m, uva, mdl), MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0xB9);
        assert_params(uva, mdl, 0);
        return;
    }
    assert_ok(mm_unmap_locked_pages(m, uva, mdl));
    struct mm_finding f;
    assert_int_equal(mm_findings_read(m, &f, 1), 1);
    assert_int_equal(f.kind, MM_FINDING_WRONG_PROCESS_UNMAP);
    struct mm_process_info pi;
    assert_ok(mm_process_query(m, H.proc, &pi));
    assert_int_equal(f.other_process_id, pi.id); /* the process whose mapping leaked */
    assert_ok(mm_process_detach(m, &H.apc));
    assert_ok(mm_process_attach(m, H.proc, &H.apc));
    assert_true(mm_is_address_valid(m, uva)); /* still mapped in its own process */
}

static void free_mapped_mdl(void **state)
{
    mm_machine *m = *state;
    mm_va buf;
    mm_va mdl = kernel_mdl(m, &buf);
    assert_ok(mm_probe_and_lock_pages(m, mdl, MM_KERNEL_MODE, MM_IO_READ_ACCESS));
    mm_va sys = mm_get_system_address_for_mdl_safe(m, mdl, 0);
    if (mm_machine_verifier(m)) {
        expect_bugcheck(mm_io_free_mdl(m, mdl), MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0xB8);
        assert_params(mdl, 0x000B, 0);
        return;
    }
    assert_ok(mm_io_free_mdl(m, mdl));
    assert_true(mm_is_address_valid(m, sys)); /* its system PTEs leaked */
}

static void freed_while_locked_user_buffer(void **state)
{
    mm_machine *m = *state;
    struct mm_memory_counts counts;
    assert_ok(mm_memory_query(m, &counts));
    bool tracking = *(volatile bool *)&tracking_on;
    mm_va va;
    mm_va mdl = user_mdl(m, &va, 0x2000);
    assert_ok(mm_probe_and_lock_pages(m, mdl, MM_USER_MODE, MM_IO_READ_ACCESS));
    assert_ok(mm_io_free_mdl(m, mdl)); /* no check at the free */
    assert_ok(mm_process_detach(m, &H.apc));
    struct mm_process_info pi;
    assert_ok(mm_process_query(m, H.proc, &pi));
    if (mm_machine_verifier(m) & MM_VERIFIER_POOL_TRACKING || tracking) {
        expect_bugcheck(mm_process_terminate(m, H.proc), MM_BUGCHECK_DRIVER_LEFT_LOCKED_PAGES_IN_PROCESS, H.bc.p[0]);
        assert_int_equal(H.bc.code, 0xCB);
        assert_int_equal(H.bc.p[1], 0);
        assert_int_equal(H.bc.p[2], mdl);
        assert_int_equal(H.bc.p[3], 3);
        struct mm_pool_block_info tracker;
        assert_ok(mm_pool_query(m, H.bc.p[0], &tracker)); /* P1: the tracking structure */
        return;
    }
    expect_bugcheck(mm_process_terminate(m, H.proc), MM_BUGCHECK_PROCESS_HAS_LOCKED_PAGES, 0);
    assert_params(pi.eprocess, 3, 0);
}

static void user_mode_probe_of_kernel_address(void **state)
{
    mm_machine *m = *state;
    mm_va buf;
    mm_va mdl = kernel_mdl(m, &buf);
    assert_status(mm_probe_and_lock_pages(m, mdl, MM_USER_MODE, MM_IO_READ_ACCESS), MM_STATUS_ACCESS_VIOLATION);
    mm_pfn slot0;
    read_mdl(m, mdl, &slot0, 1);
    assert_int_equal(slot0, MM_PFN_NONE);
    assert_flags(m, mdl, MM_MDL_ALLOCATED_FIXED_SIZE);
    assert_false(mm_machine_is_dead(m));
}

static void write_probe_of_read_only_page(void **state)
{
    mm_machine *m = *state;
    mm_va ro = commit_user(m, 0x1000, MM_PAGE_READONLY);
    mm_va mdl = mm_io_allocate_mdl(m, ro, 0x100, false, false, 0);
    assert_status(mm_probe_and_lock_pages(m, mdl, MM_USER_MODE, MM_IO_WRITE_ACCESS), MM_STATUS_ACCESS_VIOLATION);
    assert_flags(m, mdl, MM_MDL_ALLOCATED_FIXED_SIZE);
    assert_int_equal(locked_pages(m, H.proc), 0);
    assert_ok(mm_probe_and_lock_pages(m, mdl, MM_USER_MODE, MM_IO_READ_ACCESS));
    assert_ok(mm_unlock_pages(m, mdl));
}

static void reserved_range_probe(void **state)
{
    mm_machine *m = *state;
    mm_va base = 0;
    uint64_t size = 0x2000;
    assert_ok(mm_virtual_alloc(m, NULL, &base, &size, MM_MEM_RESERVE, MM_PAGE_READWRITE));
    mm_va mdl = mm_io_allocate_mdl(m, base, 0x2000, false, false, 0);
    assert_status(mm_probe_and_lock_pages(m, mdl, MM_USER_MODE, MM_IO_READ_ACCESS), MM_STATUS_ACCESS_VIOLATION);
    assert_int_equal(locked_pages(m, H.proc), 0);
}

static void probe_above_dispatch(void **state)
{
    mm_machine *m = *state;
    mm_va va;
    mm_va mdl = user_mdl(m, &va, 0x100);
    if (mm_machine_verifier(m)) {
        assert_ok(mm_irql_raise(m, MM_CLOCK_LEVEL, NULL));
        expect_bugcheck(mm_probe_and_lock_pages(m, mdl, MM_KERNEL_MODE, MM_IO_READ_ACCESS),
                        MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0x70);
        assert_params(MM_CLOCK_LEVEL, mdl, MM_KERNEL_MODE);
        return;
    }
    /* At DISPATCH a pageable page that is not resident faults: 0x0A. */
    assert_ok(mm_irql_raise(m, MM_DISPATCH_LEVEL, NULL));
    expect_bugcheck(mm_probe_and_lock_pages(m, mdl, MM_KERNEL_MODE, MM_IO_READ_ACCESS),
                    MM_BUGCHECK_IRQL_NOT_LESS_OR_EQUAL, va);
    assert_params(MM_DISPATCH_LEVEL, 0, 0); /* a read; no instruction address for the DDI's own code */
}

static void build_nonpaged_mdl_on_paged_pool(void **state)
{
    mm_machine *m = *state;
    mm_va paged = mm_pool_allocate(m, MM_PAGED_POOL, 0x2000, TAG);
    mm_va mdl = mm_io_allocate_mdl(m, paged, 0x2000, false, false, 0);
    if (mm_machine_verifier(m)) {
        expect_bugcheck(mm_build_mdl_for_nonpaged_pool(m, mdl), MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0x7F);
        assert_params(MM_PASSIVE_LEVEL, mdl, MM_MDL_ALLOCATED_FIXED_SIZE);
        return;
    }
    struct mm_pte_walk w;
    assert_ok(mm_pte_walk(m, NULL, paged, &w));
    if (layout_of(m).kind == MM_LAYOUT_WINDOWS)
        assert_int_equal(w.level[3].entry_address, UINT64_C(0xFFFFF6FC50000000));
    expect_bugcheck(mm_build_mdl_for_nonpaged_pool(m, mdl), MM_BUGCHECK_MEMORY_MANAGEMENT, 0x1240);
    assert_params(mdl, w.level[3].entry_address, 0); /* P3: the PTE of the first page, in the self-map */
}

static void unlock_before_unmap_leaves_a_stale_user_mapping(void **state)
{
    mm_machine *m = *state;
    mm_va va;
    mm_va mdl = user_mdl(m, &va, 0x100);
    assert_ok(mm_write(m, va, "mine", 4));
    assert_ok(mm_probe_and_lock_pages(m, mdl, MM_USER_MODE, MM_IO_WRITE_ACCESS));
    mm_pfn frame = pfn_of(m, va);
    mm_va uva = mm_map_locked_pages_specify_cache(m, mdl, MM_USER_MODE, MM_CACHED, 0, false, 0, NULL);
    assert_ok(mm_unlock_pages(m, mdl)); /* legal, but the user mapping stays */
    struct mm_finding f[4];
    assert_int_equal(mm_findings_read(m, f, 4), 1);
    assert_int_equal(f[0].kind, MM_FINDING_STALE_USER_MAPPING);
    assert_int_equal(f[0].va, MM_PAGE_ALIGN(uva));
    assert_string_equal(mm_finding_name(f[0].kind), "stale-user-mapping");
    /* The buffer is released; its frame goes back to the free list and is
     * handed to someone else. */
    mm_process *victim = NULL;
    assert_ok(mm_process_create(m, "victim.exe", &victim));
    mm_va b = MM_PAGE_ALIGN(va);
    uint64_t s = 0;
    assert_ok(mm_virtual_free(m, NULL, &b, &s, MM_MEM_RELEASE));
    assert_pfn(m, frame, 0, 0, MM_FREE_PAGE_LIST);
    struct mm_apc_state as2;
    assert_ok(mm_process_attach(m, victim, &as2));
    mm_va pool_like = mm_pool_allocate(m, MM_NONPAGED_POOL, 0x1000, TAG); /* takes the free frame */
    assert_int_equal(pfn_of(m, pool_like), frame);
    assert_ok(mm_write(m, pool_like + 0x123, "secret", 6)); /* same offset as the mapping */
    assert_ok(mm_process_detach(m, &as2));
    char seen[7] = {0};
    struct mm_access_request req = {.va = uva, .buffer = seen, .length = 6, .mode = MM_USER_MODE};
    assert_ok(mm_access_memory(m, &req)); /* the dangling PTE still works… */
    assert_string_equal(seen, "secret");  /* …and reads someone else's data */
    assert_int_equal(mm_findings_read(m, f, 4), 2);
    assert_int_equal(f[1].kind, MM_FINDING_STALE_MAPPING_ACCESS);
    assert_int_equal(f[1].pfn, frame);
    assert_int_equal(f[1].other_process_id, MM_SYSTEM_PROCESS_ID); /* pool belongs to the system */
}

static void exhausting_system_ptes_with_leaked_mappings(void **state)
{
    mm_machine *m = *state;
    mm_va buf;
    mm_va mdl = kernel_mdl(m, &buf);
    assert_ok(mm_probe_and_lock_pages(m, mdl, MM_KERNEL_MODE, MM_IO_READ_ACCESS));
    unsigned mapped = 0;
    for (;; mapped++) {
        /* The buggy driver rebuilds the MDL flags each time, forgetting the mapping. */
        struct mm_mdl h = read_mdl(m, mdl, NULL, 0);
        h.MdlFlags = 0x000A;
        assert_ok(mm_write(m, mdl, &h, sizeof h));
        if (!mm_get_system_address_for_mdl_safe(m, mdl, MM_NORMAL_PAGE_PRIORITY))
            break;
    }
    assert_int_equal(mapped, 2048);
}

static void probe_and_lock_process_pages_charges_the_target(void **state)
{
    mm_machine *m = *state;
    mm_va va;
    mm_va mdl = user_mdl(m, &va, 0x1000); /* a buffer of app.exe */
    assert_ok(mm_process_detach(m, &H.apc));
    mm_process *other = attached_process(m, "other.exe", &H.apc);
    assert_ok(mm_probe_and_lock_process_pages(m, mdl, H.proc, MM_USER_MODE, MM_IO_READ_ACCESS));
    assert_ptr_equal(mm_process_current(m), other); /* detached again */
    assert_int_equal(locked_pages(m, H.proc), 2);
    assert_int_equal(locked_pages(m, other), 0);
    struct mm_process_info pi;
    assert_ok(mm_process_query(m, H.proc, &pi));
    struct mm_mdl h = read_mdl(m, mdl, NULL, 0);
    assert_int_equal(h.Process, pi.eprocess);
    assert_ok(mm_unlock_pages(m, mdl)); /* from any context: Process names the charge */
    assert_int_equal(locked_pages(m, H.proc), 0);
}

static void mapping_can_fail_and_priority_flags(void **state)
{
    mm_machine *m = *state;
    mm_va buf;
    mm_va mdl = kernel_mdl(m, &buf);
    assert_ok(mm_probe_and_lock_pages(m, mdl, MM_KERNEL_MODE, MM_IO_READ_ACCESS));
    mm_va ro = mm_map_locked_pages_specify_cache(m, mdl, MM_KERNEL_MODE, MM_NON_CACHED, 0, false,
                                                 MM_NORMAL_PAGE_PRIORITY | MM_MDL_MAPPING_NO_WRITE |
                                                     MM_MDL_MAPPING_NO_EXECUTE, NULL);
    uint64_t pte = pte_of(m, NULL, ro);
    assert_false(pte & 0x802);                  /* read-only */
    assert_true(pte >> 63);                     /* no-execute */
    /* Cached pool keeps its cache type: the request does not make a
     * conflicting non-cached alias (regression). */
    assert_int_equal(pte & 0x18, 0);
    /* Pages with no cache type yet (MmAllocatePagesForMdl) take the
     * request, and keep it for the next mapping. */
    mm_va pages = mm_allocate_pages_for_mdl(m, 0, UINT64_MAX, 0, MM_PAGE_SIZE);
    assert_true(pages != 0);
    mm_va nc = mm_map_locked_pages_specify_cache(m, pages, MM_KERNEL_MODE, MM_NON_CACHED, 0, false,
                                                 MM_NORMAL_PAGE_PRIORITY, NULL);
    assert_int_equal(pte_of(m, NULL, nc) & 0x18, 0x18); /* PCD | PWT */
    mm_pfn frame;
    read_mdl(m, pages, &frame, 1);
    struct mm_pfn_info pi;
    assert_ok(mm_pfn_query(m, frame, &pi));
    assert_int_equal(pi.cache_attribute, MM_PFN_NON_CACHED);
    assert_ok(mm_unmap_locked_pages(m, nc, pages));
    nc = mm_map_locked_pages_specify_cache(m, pages, MM_KERNEL_MODE, MM_CACHED, 0, false, MM_NORMAL_PAGE_PRIORITY,
                                           NULL);
    assert_int_equal(pte_of(m, NULL, nc) & 0x18, 0x18); /* still non-cached */
    expect_bugcheck(mm_write(m, ro, "x", 1), MM_BUGCHECK_ATTEMPTED_WRITE_TO_READONLY_MEMORY, ro);
}

static void mapping_can_fail_flag_returns_null(void **state)
{
    struct mm_config cfg;
    harness_config(&cfg);
    cfg.system_ptes = 16;
    mm_machine_destroy(H.m);
    mm_machine *m = H.m = *state = harness_machine(&cfg);
    mm_va buf = mm_pool_allocate(m, MM_NONPAGED_POOL, 0x20000, 1);
    mm_va mdl = mm_io_allocate_mdl(m, buf, 0x20000, false, false, 0); /* 32 pages > 16 PTEs */
    assert_ok(mm_probe_and_lock_pages(m, mdl, MM_KERNEL_MODE, MM_IO_READ_ACCESS));
    struct mm_mdl h = read_mdl(m, mdl, NULL, 0);
    h.MdlFlags = (int16_t)((uint16_t)h.MdlFlags | MM_MDL_MAPPING_CAN_FAIL);
    assert_ok(mm_write(m, mdl, &h, sizeof h));
    assert_int_equal(mm_map_locked_pages_specify_cache(m, mdl, MM_KERNEL_MODE, MM_CACHED, 0, true, 0, NULL), 0);
    assert_false(mm_machine_is_dead(m)); /* BugCheckOnFailure overridden */
    h.MdlFlags = (int16_t)((uint16_t)h.MdlFlags & ~MM_MDL_MAPPING_CAN_FAIL);
    assert_ok(mm_write(m, mdl, &h, sizeof h));
    expect_bugcheck(mm_map_locked_pages_specify_cache(m, mdl, MM_KERNEL_MODE, MM_CACHED, 0, true, 0, NULL),
                    MM_BUGCHECK_NO_MORE_SYSTEM_PTES, 0);
    assert_params(32, 16, 16);
}

/* IoAllocateMdl of up to 23 pages comes from the MDL lookaside list and
 * IoFreeMdl gives it back: the block stays allocated pool, its Next field
 * now links the list, and the next allocation gets the same MDL. */
static void freed_mdl_goes_to_the_lookaside_list(void **state)
{
    mm_machine *m = *state;
    mm_va buf = mm_pool_allocate(m, MM_NONPAGED_POOL, MM_PAGE_SIZE, TAG);
    mm_va first = mm_io_allocate_mdl(m, buf, MM_PAGE_SIZE, false, false, 0);
    mm_va second = mm_io_allocate_mdl(m, buf, MM_PAGE_SIZE, false, false, 0);
    struct mm_pool_usage before;
    assert_ok(mm_pool_usage(m, MM_NONPAGED_POOL, &before));
    assert_ok(mm_io_free_mdl(m, first));
    assert_ok(mm_io_free_mdl(m, second));
    struct mm_pool_usage after;
    assert_ok(mm_pool_usage(m, MM_NONPAGED_POOL, &after));
    assert_int_equal(after.allocations, before.allocations); /* still pool, on the list */
    struct mm_pool_block_info info;
    assert_ok(mm_pool_query(m, second, &info));
    assert_int_equal(info.tag, MM_POOL_TAG('M', 'd', 'l', ' '));
    uint64_t next = 0;
    assert_ok(mm_read(m, second, &next, sizeof next));
    assert_int_equal(next, first); /* the list's link is the MDL's Next */
    assert_int_equal(mm_io_allocate_mdl(m, buf, 100, false, false, 0), second); /* last in, first out */
    struct mm_mdl h = read_mdl(m, second, NULL, 0);
    assert_int_equal(h.Next, 0);
    assert_int_equal(h.ByteCount, 100);
    assert_int_equal(h.MdlFlags, MM_MDL_ALLOCATED_FIXED_SIZE);
    assert_int_equal(mm_io_allocate_mdl(m, buf, 100, false, false, 0), first);
    assert_invariants(m);
}

/* An MDL too big for the list goes back to pool at once. */
static void large_mdl_is_freed_to_pool(void **state)
{
    mm_machine *m = *state;
    mm_va buf = mm_pool_allocate(m, MM_NONPAGED_POOL, 24 * MM_PAGE_SIZE, TAG);
    mm_va mdl = mm_io_allocate_mdl(m, buf, 24 * MM_PAGE_SIZE, false, false, 0);
    assert_int_equal(read_mdl(m, mdl, NULL, 0).MdlFlags, 0);
    assert_ok(mm_io_free_mdl(m, mdl));
    struct mm_pool_block_info info;
    assert_status(mm_pool_query(m, mdl, &info), MM_STATUS_NOT_FOUND);
}

/* Freeing an MDL that already sits on the list would let Windows hand it out
 * twice; mmsim stops at the second free with pool's double-free check. */
static void mdl_freed_twice(void **state)
{
    mm_machine *m = *state;
    mm_va buf = mm_pool_allocate(m, MM_NONPAGED_POOL, MM_PAGE_SIZE, TAG);
    mm_va mdl = mm_io_allocate_mdl(m, buf, MM_PAGE_SIZE, false, false, 0);
    assert_ok(mm_io_free_mdl(m, mdl));
    if (mm_machine_verifier(m)) { /* Special Pool: the MDL went back to pool, its page unmapped */
        /* IoFreeMdl's own read of the freed block: 0xCC, not the driver's 0xD5 */
        expect_bugcheck(mm_io_free_mdl(m, mdl), MM_BUGCHECK_PAGE_FAULT_IN_FREED_SPECIAL_POOL, mdl);
        return;
    }
    expect_bugcheck(mm_io_free_mdl(m, mdl), MM_BUGCHECK_BAD_POOL_CALLER, 0x07);
    assert_int_equal(H.bc.p[2] >> 32, MM_POOL_TAG('M', 'd', 'l', ' ')); /* P3: the POOL_HEADER */
    assert_params(0, H.bc.p[2], mdl);
}

/* A driver that ExFreePools an MDL on the list: the list drops it. */
static void pool_freed_lookaside_mdl_is_not_reused(void **state)
{
    mm_machine *m = *state;
    mm_va buf = mm_pool_allocate(m, MM_NONPAGED_POOL, MM_PAGE_SIZE, TAG);
    mm_va mdl = mm_io_allocate_mdl(m, buf, MM_PAGE_SIZE, false, false, 0);
    assert_ok(mm_io_free_mdl(m, mdl));
    assert_ok(mm_pool_free(m, mdl, 0));
    mm_va again = mm_io_allocate_mdl(m, buf, MM_PAGE_SIZE, false, false, 0);
    assert_true(again != 0);
    assert_int_equal(read_mdl(m, again, NULL, 0).ByteCount, MM_PAGE_SIZE);
    assert_invariants(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown_machine)
#define V(f) {"verifier_" #f, f, setup_verifier, teardown_machine, NULL}
        T(kernel_buffer_lifecycle),
        T(freed_mdl_goes_to_the_lookaside_list),
        T(large_mdl_is_freed_to_pool),
        T(mdl_freed_twice),
        V(mdl_freed_twice),
        T(pool_freed_lookaside_mdl_is_not_reused),
        T(dma_into_a_page_table),
        T(partial_mdl_built_into_a_page_table),
        T(advance_of_a_corrupt_header_is_refused),
        T(cpu_write_through_the_self_map),
        T(write_over_prototype_ptes),
        T(dma_through_a_never_built_mdl),
        T(user_buffer_lock_charges_the_process),
        T(read_lock_of_kernel_va_ignores_write),
        T(user_mapping_sees_the_same_bytes),
        T(nonpaged_pool_mdl),
        T(partial_mdl_shares_the_parent_mapping),
        T(mdl_on_an_irp_chain),
        V(double_unlock_verifier),
        T(double_unlock_no_verifier),
        {"tracking_double_unlock", double_unlock_with_tracking, setup_tracking, teardown_machine, NULL},
        {"tracking_freed_while_locked", freed_while_locked_user_buffer, setup_tracking, teardown_machine, NULL},
        T(unlock_nonpaged_pool_mdl), V(unlock_nonpaged_pool_mdl),
        T(unlock_partial_mdl), V(unlock_partial_mdl),
        T(lock_twice), V(lock_twice),
        T(failing_reprobe_of_locked_mdl),
        T(irql_above_dispatch_without_verifier),
        T(user_mapping_at_a_requested_address),
        T(user_mapping_of_an_empty_mdl),
        T(explanations_say_what_happened),
        T(no_more_system_ptes_without_leaks),
        T(mdl_over_a_kernel_stack_buffer), V(mdl_over_a_kernel_stack_buffer),
        T(kernel_stack_overflow_is_a_double_fault),
        T(advance_mdl),
        T(protect_mdl_system_address),
        T(protect_no_access_then_back),
        T(probe_and_lock_selected_pages), V(probe_and_lock_selected_pages),
        T(io_space_mdl_unlocked_twice), V(io_space_mdl_unlocked_twice),
        T(reference_count_limit),
        T(locking_a_free_frame_through_an_io_mapping),
        T(device_frame_in_an_mdl_not_marked_io_space),
        T(build_nonpaged_on_locked_mdl),
        T(map_unlocked_mdl), V(map_unlocked_mdl),
        T(map_twice), V(map_twice),
        T(bug_check_on_failure), V(bug_check_on_failure),
        T(legacy_map_locked_pages), V(legacy_map_locked_pages),
        T(unmap_not_mapped), V(unmap_not_mapped),
        {"pte_tracking_unmap_not_mapped", unmap_not_mapped_with_pte_tracking, setup_pte_tracking, teardown_machine, NULL},
        T(unmap_at_a_wrong_address),
        T(unmap_with_the_wrong_size),
        T(unmap_unreserved_and_foreign_addresses),
        T(unmap_of_a_pool_address),
        {"pte_tracking_wrong_address", tracked_unmap_at_the_wrong_address, setup_pte_tracking, teardown_machine, NULL},
        {"pte_tracking_first_page_changed", tracked_unmap_after_the_first_page_changed, setup_pte_tracking,
         teardown_machine, NULL},
        T(unmap_partial), V(unmap_partial),
        T(unmap_user_mapping_from_wrong_process), V(unmap_user_mapping_from_wrong_process),
        T(free_mapped_mdl), V(free_mapped_mdl),
        T(freed_while_locked_user_buffer), V(freed_while_locked_user_buffer),
        T(user_mode_probe_of_kernel_address), V(user_mode_probe_of_kernel_address),
        T(write_probe_of_read_only_page), V(write_probe_of_read_only_page),
        T(reserved_range_probe),
        T(probe_above_dispatch), V(probe_above_dispatch),
        T(build_nonpaged_mdl_on_paged_pool), V(build_nonpaged_mdl_on_paged_pool),
        T(unlock_before_unmap_leaves_a_stale_user_mapping),
        T(exhausting_system_ptes_with_leaked_mappings),
        T(probe_and_lock_process_pages_charges_the_target),
        T(mapping_can_fail_and_priority_flags),
        T(mapping_can_fail_flag_returns_null),
    };
    return cmocka_run_group_tests_name("mdl", tests, NULL, NULL);
}
