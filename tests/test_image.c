/* tests/test_image.c — driver images: section layout and protections,
 * contents, INIT discarded after DriverEntry (0x50 on a later touch),
 * pageable sections at DISPATCH (0xD1 with the driver's IP, and Force IRQL
 * Checking making it deterministic), unloaded drivers (0xCE), 0xBE. */
#include "harness.h"

static mm_image *img;
static const char code[] = "\x48\x89\x5c\x24\x08"; /* any bytes */

static int setup(void **state)
{
    setup_machine(state);
    static char init_data[0x1800];
    memset(init_data, 0xAB, sizeof init_data);
    struct mm_section_desc s[] = {
        {".text", 0x1800, MM_SECTION_CODE, code, sizeof code - 1},
        {".data", 0x800, MM_SECTION_WRITE, "hello", 5},
        {"PAGE", 0x2000, MM_SECTION_CODE, NULL, 0},
        {"PAGEDATA", 0x1000, MM_SECTION_WRITE, NULL, 0},
        {"INIT", 0x1800, MM_SECTION_CODE, init_data, sizeof init_data},
    };
    assert_ok(mm_image_load(H.m, "mydriver.sys", s, 5, &img));
    return 0;
}

static mm_va section(const char *name) { return mm_image_section_address(H.m, img, name); }

static void layout_and_contents(void **state)
{
    mm_machine *m = *state;
    struct mm_image_info info;
    assert_ok(mm_image_query(m, img, &info));
    assert_string_equal(info.name, "mydriver.sys");
    assert_int_equal(info.base & 0xFFFF, 0);
    assert_int_equal(info.section_count, 5);
    assert_int_equal(info.size, (1 + 2 + 1 + 2 + 1 + 2) * 0x1000);
    assert_int_equal(section(".text"), info.base + 0x1000);
    assert_int_equal(section(".data"), info.base + 0x3000);
    assert_int_equal(section("PAGE"), info.base + 0x4000);
    assert_int_equal(section("nope"), 0);
    char mz[2];
    assert_ok(mm_read(m, info.base, mz, 2));
    assert_memory_equal(mz, "MZ", 2);
    char hello[6] = {0};
    assert_ok(mm_read(m, section(".data"), hello, 5));
    assert_string_equal(hello, "hello");
    struct mm_section_info si;
    assert_ok(mm_image_section(m, img, 2, &si));
    assert_true(si.pageable);
    assert_ok(mm_image_section(m, img, 4, &si));
    assert_true(si.discardable);
    assert_status(mm_image_section(m, img, 5, &si), MM_STATUS_NOT_FOUND);
    assert_ptr_equal(mm_image_at(m, section("PAGE") + 5), img);
}

static void code_is_read_execute_and_global(void **state)
{
    mm_machine *m = *state;
    uint64_t pte = pte_of(m, NULL, section(".text"));
    assert_true(pte & 1);
    assert_false(pte & 2);                      /* not writable */
    assert_false(pte & 4);                      /* kernel */
    assert_true(pte & 0x100);                   /* global */
    assert_false(pte & (UINT64_C(1) << 63));    /* executable */
    pte = pte_of(m, NULL, section(".data"));
    assert_true(pte & 0x802);
    assert_true(pte & (UINT64_C(1) << 63));
    struct mm_access_request x = {.va = section(".text"), .kind = MM_ACCESS_EXECUTE};
    assert_ok(mm_access_memory(m, &x));
}

static void write_to_code_is_0xbe(void **state)
{
    mm_machine *m = *state;
    mm_va va = section(".text") + 0x10;
    expect_bugcheck(mm_write(m, va, "x", 1), MM_BUGCHECK_ATTEMPTED_WRITE_TO_READONLY_MEMORY, va);
    assert_int_equal(H.bc.p[1], pte_of(m, NULL, va));
}

/* Regression: 0x1240 called a discarded INIT page "pageable". */
static void build_mdl_over_discarded_init(void **state)
{
    mm_machine *m = *state;
    mm_va init = section("INIT");
    assert_ok(mm_image_discard_init(m, img));
    mm_va mdl = mm_io_allocate_mdl(m, init, 0x100, false, false, 0);
    expect_bugcheck(mm_build_mdl_for_nonpaged_pool(m, mdl), MM_BUGCHECK_MEMORY_MANAGEMENT, 0x1240);
    assert_non_null(strstr(H.bc.explanation, "section INIT"));
    assert_non_null(strstr(H.bc.explanation, "discarded"));
    assert_null(strstr(H.bc.explanation, "pageable"));
}

static void init_is_discarded_after_driver_entry(void **state)
{
    mm_machine *m = *state;
    mm_va init = section("INIT");
    unsigned char b;
    assert_ok(mm_read(m, init + 0x1000, &b, 1));
    assert_int_equal(b, 0xAB);
    mm_pfn pfn = pfn_of(m, init + 0x1000);
    assert_ok(mm_image_discard_init(m, img));
    assert_pfn(m, pfn, 0, 0, MM_FREE_PAGE_LIST);
    assert_int_equal(pte_of(m, NULL, init), 0);
    assert_false(mm_is_address_valid(m, init));
    assert_true(mm_is_address_valid(m, section(".text")));
    assert_status(mm_image_discard_init(m, img), MM_STATUS_INVALID_DEVICE_STATE);
    /* Copying the whole image now walks into the hole. */
    struct mm_image_info info;
    assert_ok(mm_image_query(m, img, &info));
    static unsigned char copy[0x10000];
    expect_bugcheck(mm_read(m, info.base, copy, info.size), MM_BUGCHECK_PAGE_FAULT_IN_NONPAGED_AREA, init);
    assert_params(0, 0, 0); /* read, no IP, freed PTE */
}

static void pageable_section_at_dispatch_is_0xd1(void **state)
{
    mm_machine *m = *state;
    mm_va page = section("PAGEDATA");
    uint64_t n;
    assert_ok(mm_working_set_trim(m, NULL, UINT64_MAX, &n));
    assert_int_equal(n, 3); /* PAGE (2) and PAGEDATA (1); .text and .data stay */
    assert_true(mm_is_address_valid(m, section(".text")));
    assert_ok(mm_irql_raise(m, MM_DISPATCH_LEVEL, NULL));
    uint32_t v;
    struct mm_access_request req = {.va = page, .buffer = &v, .length = 4, .ip = section(".text") + 0x42};
    expect_bugcheck(mm_access_memory(m, &req), MM_BUGCHECK_DRIVER_IRQL_NOT_LESS_OR_EQUAL, page);
    assert_params(MM_DISPATCH_LEVEL, 0, section(".text") + 0x42);
    assert_true(strstr(H.bc.explanation, "mydriver.sys") != NULL);
}

static void force_irql_checking_trims_on_raise(void **state)
{
    mm_machine *m = *state;
    mm_va page = section("PAGEDATA");
    assert_ok(mm_write(m, page, "v", 1));
    assert_ok(mm_irql_raise(m, MM_DISPATCH_LEVEL, NULL));
    assert_ok(mm_read(m, page, &(char){0}, 1)); /* latent: resident, no crash */
    assert_ok(mm_irql_lower(m, MM_PASSIVE_LEVEL));
    assert_ok(mm_machine_set_verifier(m, MM_VERIFIER_FORCE_IRQL_CHECKING));
    assert_ok(mm_irql_raise(m, MM_DISPATCH_LEVEL, NULL));
    assert_false(mm_is_address_valid(m, page));
    struct mm_access_request req = {.va = page, .buffer = &(char){0}, .length = 1, .ip = section("PAGE")};
    expect_bugcheck(mm_access_memory(m, &req), MM_BUGCHECK_DRIVER_IRQL_NOT_LESS_OR_EQUAL, page);
}

static void unloaded_driver_is_0xce(void **state)
{
    mm_machine *m = *state;
    struct mm_memory_counts before, after;
    assert_ok(mm_memory_query(m, &before));
    mm_va data = section(".data");
    assert_ok(mm_image_unload(m, img));
    assert_ok(mm_memory_query(m, &after));
    assert_int_equal(before.list_pages[MM_ACTIVE_AND_VALID] - after.list_pages[MM_ACTIVE_AND_VALID],
                     1 + 2 + 1 + 2 + 1 + 2);
    assert_status(mm_image_unload(m, img), MM_STATUS_INVALID_DEVICE_STATE);
    expect_bugcheck(mm_write(m, data, "x", 1),
                    MM_BUGCHECK_DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS, data);
    assert_params(1, 0, 0);
}

static void bad_descriptions_are_rejected(void **state)
{
    mm_machine *m = *state;
    mm_image *i2 = NULL;
    struct mm_section_desc ok = {".text", 0x100, MM_SECTION_CODE, NULL, 0};
    struct mm_section_desc bad[] = {
        {NULL, 0x100, 0, NULL, 0},          {"", 0x100, 0, NULL, 0},
        {"TOOLONGNAME", 0x100, 0, NULL, 0}, {".text", 0, 0, NULL, 0},
        {".text", 0x100, 0, NULL, 5},       {".text", 0x100, 0, "x", 0x200},
        {".text", 0x100, 0x80, NULL, 0},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_status(mm_image_load(m, "x.sys", &bad[i], 1, &i2), MM_STATUS_INVALID_PARAMETER);
    assert_status(mm_image_load(m, NULL, &ok, 1, &i2), MM_STATUS_INVALID_PARAMETER);
    assert_status(mm_image_load(m, "x.sys", &ok, 0, &i2), MM_STATUS_INVALID_PARAMETER);
    assert_status(mm_image_load(m, "x.sys", &ok, 1, NULL), MM_STATUS_INVALID_PARAMETER);
    assert_status(mm_image_unload(m, (mm_image *)&ok), MM_STATUS_INVALID_HANDLE);
    assert_ok(mm_image_load(m, "x.sys", &ok, 1, &i2));
    struct mm_image_info a, b;
    assert_ok(mm_image_query(m, img, &a));
    assert_ok(mm_image_query(m, i2, &b));
    assert_true(b.base >= a.base + a.size);
}

/* Images take more than 16 MiB of image space (where its bookkeeping
 * starts) at consecutive places; an unloaded image keeps its range (a
 * later touch is a reference to an unloaded driver), so the next one goes
 * after the last. */
static void images_beyond_sixteen_mib(void **state)
{
    (void)state;
    struct mm_config cfg;
    harness_config(&cfg);
    cfg.physical_pages = 8192; /* 32 MiB, and as much page file: room for 24 MiB of images */
    cfg.pagefile_pages = 8192;
    mm_machine *m = NULL;
    assert_ok(mm_machine_create(&cfg, &m));
    struct mm_section_desc big = {"PAGEDATA", 6u << 20, MM_SECTION_WRITE, NULL, 0};
    mm_image *im[4];
    struct mm_image_info info[4];
    for (int i = 0; i < 4; i++) {
        assert_ok(mm_image_load(m, "big.sys", &big, 1, &im[i]));
        assert_ok(mm_image_query(m, im[i], &info[i]));
        if (i)
            assert_true(info[i].base >= info[i - 1].base + info[i - 1].size);
    }
    assert_true(info[3].base + info[3].size - info[0].base > (16u << 20));
    mm_va top = mm_image_section_address(m, im[3], "PAGEDATA") + (6u << 20) - 8;
    assert_ok(mm_write(m, top, "lastpage", 8)); /* its last page is a page like any other */
    char back[8];
    assert_ok(mm_read(m, top, back, 8));
    assert_memory_equal(back, "lastpage", 8);
    assert_ok(mm_image_unload(m, im[1]));
    mm_image *again = NULL;
    struct mm_image_info a;
    assert_ok(mm_image_load(m, "again.sys", &big, 1, &again));
    assert_ok(mm_image_query(m, again, &a));
    assert_true(a.base >= info[3].base + info[3].size);
    assert_invariants(m);
    mm_machine_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown_machine)
        T(layout_and_contents),
        T(code_is_read_execute_and_global),
        T(write_to_code_is_0xbe),
        T(init_is_discarded_after_driver_entry),
        T(build_mdl_over_discarded_init),
        T(pageable_section_at_dispatch_is_0xd1),
        T(force_irql_checking_trims_on_raise),
        T(unloaded_driver_is_0xce),
        T(bad_descriptions_are_rejected),
        T(images_beyond_sixteen_mib),
    };
    return cmocka_run_group_tests_name("image", tests, NULL, NULL);
}
