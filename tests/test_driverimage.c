/* tests/test_driverimage.c — a driver built as a shared object
 * (tests/drivers/sample_driver.c) loaded into a hosted machine: its code
 * and globals live in frames of the machine at the addresses the code was
 * relocated for, an MDL describes a global, a discarded INIT page and an
 * unloaded driver fault as on Windows, and pageable code or data touched at
 * DISPATCH_LEVEL is 0xD1 with the driver's own instruction address. Skipped
 * where the host has no host view. */
#define _GNU_SOURCE
#include "harness.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#ifndef SAMPLE_DRIVER
#error "SAMPLE_DRIVER: the path of the built sample driver"
#endif

typedef int (*int_fn)(int);

static mm_image *img;

static mm_va va_of(const void *p) { return (mm_va)(uintptr_t)p; }

static void *sym(const char *name)
{
    void *p = mm_image_symbol(H.m, img, name);
    assert_non_null(p);
    return p;
}

static int_fn fn(const char *name)
{
    int_fn f;
    void *p = sym(name);
    memcpy(&f, &p, sizeof f);
    return f;
}

static int setup_driver(void **state)
{
    setup_hosted_machine(state);
    if (*state)
        assert_ok(mm_image_load_shared_object(H.m, SAMPLE_DRIVER, &img));
    return 0;
}

static int teardown_driver(void **state)
{
    if (*state)
        teardown_machine(state);
    img = NULL;
    return 0;
}

static struct mm_section_info section_named(const char *name)
{
    for (unsigned i = 0;; i++) {
        struct mm_section_info s;
        if (!MM_SUCCESS(mm_image_section(H.m, img, i, &s)))
            fail_msg("no section %s", name);
        if (strcmp(s.name, name) == 0)
            return s;
    }
}

/* The image is where the loader put it, its sections say what Windows
 * would make of them, and its code runs from the machine's frames. */
static void sections_and_code(void **state)
{
    skip_without_host_view(state);
    mm_machine *m = H.m;
    struct mm_image_info info;
    assert_ok(mm_image_query(m, img, &info));
    assert_string_equal(info.name, "libsample_driver.so");
    mm_va entry = va_of(sym("sample_driver_entry")), buffer = va_of(sym("sample_buffer"));
    assert_ptr_equal(mm_image_at(m, entry), img);
    assert_ptr_equal(mm_image_at(m, buffer), img);
    struct mm_layout l;
    assert_ok(mm_machine_layout(m, &l));
    assert_true(info.base >= l.system_range_start);
    struct mm_section_info page = section_named("PAGE"), init = section_named("INIT"),
                           text = section_named(".text"), data = section_named("PAGEDATA");
    assert_true(page.pageable && !page.discardable && (page.flags & MM_SECTION_CODE));
    assert_true(init.discardable && !init.pageable && (init.flags & MM_SECTION_CODE));
    assert_true(data.pageable && (data.flags & MM_SECTION_WRITE) && !(data.flags & MM_SECTION_CODE));
    assert_true(!text.pageable && !text.discardable);
    assert_true(entry >= init.base && entry < init.base + init.size);
    /* Resident in the model from the load; the host maps a page when the
     * code first touches it. */
    assert_true(mm_is_address_valid(m, text.base));
    assert_true(mm_va_to_pfn(m, NULL, page.base) != MM_PFN_NONE);
    assert_int_equal(fn("sample_resident")(5), 4);
}

/* What the code stores in its globals, the model reads at the same
 * address, and the other way round. */
static void globals_are_the_machines_memory(void **state)
{
    skip_without_host_view(state);
    mm_machine *m = H.m;
    assert_int_equal(fn("sample_driver_entry")(7), 8);
    int v = 0;
    assert_ok(mm_read(m, va_of(sym("sample_initialised")), &v, sizeof v));
    assert_int_equal(v, 7);
    mm_va buffer = va_of(sym("sample_buffer"));
    assert_ok(mm_write(m, buffer + 4096 + 3, "\x5c", 1));
    assert_int_equal(fn("sample_read_global")(4096 + 3), 0x5c);
    assert_int_equal(fn("sample_paged")(1), 2 + 7);
}

/* IoAllocateMdl over a driver global, locked and mapped: the system
 * mapping and the global are the same bytes. */
static void mdl_over_a_global(void **state)
{
    skip_without_host_view(state);
    mm_machine *m = H.m;
    mm_va buffer = va_of(sym("sample_buffer"));
    mm_va mdl = mm_io_allocate_mdl(m, buffer, 3 * 4096, false, false, 0);
    assert_true(mdl != 0);
    assert_ok(mm_probe_and_lock_pages(m, mdl, MM_KERNEL_MODE, MM_IO_WRITE_ACCESS));
    mm_va sys = mm_get_system_address_for_mdl_safe(m, mdl, MM_NORMAL_PAGE_PRIORITY);
    assert_true(sys != 0 && sys != buffer);
    *(volatile unsigned char *)(uintptr_t)(sys + 2 * 4096 + 9) = 0xA7;
    assert_int_equal(fn("sample_read_global")(2 * 4096 + 9), 0xA7);
    mm_pfn pfns[3];
    struct mm_mdl h;
    assert_ok(mm_mdl_read(m, mdl, &h, pfns, 3));
    assert_int_equal(pfns[1], mm_va_to_pfn(m, NULL, buffer + 4096));
    assert_ok(mm_unmap_locked_pages(m, sys, mdl));
    assert_ok(mm_unlock_pages(m, mdl));
    assert_ok(mm_io_free_mdl(m, mdl));
}

/* After DriverEntry the INIT pages are gone: calling into them is 0x50 at
 * the instruction that was fetched. */
static void discarded_init_is_0x50(void **state)
{
    skip_without_host_view(state);
    mm_machine *m = H.m;
    int_fn entry = fn("sample_driver_entry");
    assert_int_equal(entry(1), 2);
    assert_ok(mm_image_discard_init(m, img));
    assert_true(section_named("INIT").discarded);
    mm_va at = va_of(sym("sample_driver_entry"));
    expect_bugcheck(entry(1), MM_BUGCHECK_PAGE_FAULT_IN_NONPAGED_AREA, at);
    assert_params(0x10, at, 0); /* an execute, at that very instruction, on a freed PTE */
    assert_true(strstr(H.bc.explanation, "INIT") != NULL);
    /* The machine is dead: what still reads the image (here the test, at
     * exit the loader) reads ordinary memory with the driver's last bytes. */
    assert_int_equal(*(volatile int *)sym("sample_initialised"), 1);
    assert_int_equal(fn("sample_resident")(8), 7);
}

/* Pageable code trimmed and then called at DISPATCH_LEVEL: 0xD1, an
 * execute, at the driver's instruction. */
static void paged_code_at_dispatch_is_0xd1(void **state)
{
    skip_without_host_view(state);
    mm_machine *m = H.m;
    int_fn paged = fn("sample_paged");
    assert_int_equal(paged(2), 4);
    uint64_t trimmed;
    assert_ok(mm_working_set_trim(m, NULL, UINT64_MAX, &trimmed));
    mm_va at = va_of(sym("sample_paged"));
    assert_false(mm_is_address_valid(m, at));
    assert_true(mm_is_address_valid(m, va_of(sym("sample_resident"))));
    assert_int_equal(paged(3), 6); /* PASSIVE: a soft fault brings it back */
    assert_ok(mm_working_set_trim(m, NULL, UINT64_MAX, &trimmed));
    assert_false(mm_is_address_valid(m, at));
    assert_ok(mm_irql_raise(m, MM_DISPATCH_LEVEL, NULL));
    expect_bugcheck(paged(1), MM_BUGCHECK_DRIVER_IRQL_NOT_LESS_OR_EQUAL, at);
    assert_params(MM_DISPATCH_LEVEL, 8, at);
}

/* Pageable data read at DISPATCH_LEVEL: by driver code it is 0xD1 naming
 * the driver's instruction; the same read by code outside any driver
 * image is 0x0A. */
static void paged_data_at_dispatch_names_the_driver(void **state)
{
    skip_without_host_view(state);
    mm_machine *m = H.m;
    int (*read_paged)(void);
    void *p = sym("sample_paged_data_read");
    memcpy(&read_paged, &p, sizeof read_paged);
    assert_int_equal(read_paged(), 0x5A5A);
    assert_ok(mm_machine_set_verifier(m, MM_VERIFIER_FORCE_IRQL_CHECKING));
    assert_ok(mm_irql_raise(m, MM_DISPATCH_LEVEL, NULL)); /* trims every pageable page */
    mm_va data = va_of(sym("sample_paged_data"));
    assert_false(mm_is_address_valid(m, data));
    assert_true(mm_is_address_valid(m, va_of(p))); /* resident code */
    expect_bugcheck(read_paged(), MM_BUGCHECK_DRIVER_IRQL_NOT_LESS_OR_EQUAL, data);
    assert_int_equal(H.bc.p[1], MM_DISPATCH_LEVEL);
    assert_int_equal(H.bc.p[2], 0);
    assert_ptr_equal(mm_image_at(m, H.bc.p[3]), img); /* the load instruction inside the driver */
    assert_true(strstr(H.bc.explanation, "libsample_driver.so") != NULL);
}

static void paged_data_read_by_the_kernel_is_0x0a(void **state)
{
    skip_without_host_view(state);
    mm_machine *m = H.m;
    mm_va data = va_of(sym("sample_paged_data"));
    assert_ok(mm_machine_set_verifier(m, MM_VERIFIER_FORCE_IRQL_CHECKING));
    assert_ok(mm_irql_raise(m, MM_DISPATCH_LEVEL, NULL));
    expect_bugcheck(*(volatile int *)(uintptr_t)data, MM_BUGCHECK_IRQL_NOT_LESS_OR_EQUAL, data);
    assert_null(mm_image_at(m, H.bc.p[3]));
}

/* Code of an unloaded driver: 0xCE. */
static void unloaded_driver_is_0xce(void **state)
{
    skip_without_host_view(state);
    mm_machine *m = H.m;
    int_fn resident = fn("sample_resident");
    assert_int_equal(resident(1), 0);
    assert_ok(mm_image_unload(m, img));
    assert_null(mm_image_symbol(m, img, "sample_resident"));
    mm_va at = va_of((void *)resident);
    expect_bugcheck(resident(1), MM_BUGCHECK_DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS, at);
}

/* Refusals: no such file, not an image, the same object twice, a machine
 * with no host view. The object loads again once a machine gave it back. */
static void bad_loads_are_refused(void **state)
{
    skip_without_host_view(state);
    mm_machine *m = H.m;
    mm_image *other = (mm_image *)1;
    assert_status(mm_image_load_shared_object(m, "/nonexistent/driver.so", &other), MM_STATUS_OBJECT_NAME_NOT_FOUND);
    assert_null(other);
    char text[] = "/tmp/mmsim-not-an-image-XXXXXX";
    int fd = mkstemp(text);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "hello\n", 6), 6);
    close(fd);
    assert_status(mm_image_load_shared_object(m, text, &other), MM_STATUS_INVALID_IMAGE_FORMAT);
    unlink(text);
    assert_status(mm_image_load_shared_object(m, SAMPLE_DRIVER, &other), MM_STATUS_IMAGE_ALREADY_LOADED);
    assert_status(mm_image_load_shared_object(m, NULL, &other), MM_STATUS_INVALID_PARAMETER);
    assert_status(mm_image_load_shared_object(NULL, SAMPLE_DRIVER, &other), MM_STATUS_INVALID_PARAMETER);
    assert_int_equal(fn("sample_resident")(10), 9); /* the refused loads left it working */

    struct mm_config cfg;
    harness_config(&cfg);
    cfg.layout = MM_LAYOUT_WINDOWS;
    mm_machine *windows = harness_machine(&cfg);
    assert_status(mm_image_load_shared_object(windows, SAMPLE_DRIVER, &other), MM_STATUS_NOT_SUPPORTED);
    mm_machine_destroy(windows);

    /* A second hosted machine takes the object once the first gave it back. */
    mm_machine_destroy(m);
    H.m = NULL;
    *state = NULL;
    cfg.layout = MM_LAYOUT_HOSTED;
    mm_machine *again = harness_machine(&cfg);
    mm_image *second;
    assert_ok(mm_image_load_shared_object(again, SAMPLE_DRIVER, &second));
    int_fn resident;
    void *p = mm_image_symbol(again, second, "sample_resident");
    memcpy(&resident, &p, sizeof resident);
    assert_int_equal(resident(3), 2);
    mm_machine_destroy(again);
}

#ifdef PRAGMA_DRIVER
/* Sections named with #pragma alloc_text and data_seg, as in WDK sources. */
static void pragma_named_sections(void **state)
{
    skip_without_host_view(state);
    mm_machine *m = H.m;
    mm_image *wdk;
    assert_ok(mm_image_load_shared_object(m, PRAGMA_DRIVER, &wdk));
    bool seen_page = false, seen_init = false, seen_data = false;
    struct mm_section_info s;
    for (unsigned i = 0; MM_SUCCESS(mm_image_section(m, wdk, i, &s)); i++) {
        if (strcmp(s.name, "PAGE") == 0)
            seen_page = s.pageable && (s.flags & MM_SECTION_CODE);
        if (strcmp(s.name, "INIT") == 0)
            seen_init = s.discardable && (s.flags & MM_SECTION_CODE);
        if (strcmp(s.name, "PAGEDATA") == 0)
            seen_data = s.pageable && (s.flags & MM_SECTION_WRITE);
    }
    assert_true(seen_page && seen_init && seen_data);
    void *p[3] = {mm_image_symbol(m, wdk, "PragmaDriverEntry"), mm_image_symbol(m, wdk, "PragmaPaged"),
                  mm_image_symbol(m, wdk, "PragmaResident")};
    int_fn f[3];
    memcpy(f, p, sizeof f);
    assert_int_equal(f[0](1), 4);
    assert_int_equal(f[1](2), 6);
    assert_ok(mm_image_discard_init(m, wdk));
    assert_int_equal(f[2](5), 2);
    expect_bugcheck(f[0](1), MM_BUGCHECK_PAGE_FAULT_IN_NONPAGED_AREA, va_of(p[0]));
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup_driver, teardown_driver)
        T(sections_and_code),
        T(globals_are_the_machines_memory),
        T(mdl_over_a_global),
        T(discarded_init_is_0x50),
        T(paged_code_at_dispatch_is_0xd1),
        T(paged_data_at_dispatch_names_the_driver),
        T(paged_data_read_by_the_kernel_is_0x0a),
        T(unloaded_driver_is_0xce),
        T(bad_loads_are_refused),
#ifdef PRAGMA_DRIVER
        T(pragma_named_sections),
#endif
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
