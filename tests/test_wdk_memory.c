/* tests/test_wdk_memory.c — the memory DDIs beyond the MDL path, called as
 * driver code calls them (WDK headers, -fshort-wchar): contiguous and
 * non-cached memory, I/O space, reserved mappings, pool with a priority,
 * the current process's virtual memory (Zw*VirtualMemory), their Low
 * Resources Simulation failures, and their misuse bug checks. */
#include "harness.h"

#include <ntifs.h>

#include "mmsim/wdk.h"
#include "wdk_harness.h"

static mm_process *app;

static int setup(void **state)
{
    setup_wdk_machine(state);
    if (*state)
        assert_ok(mm_process_create(H.m, "app.exe", &app));
    return 0;
}

static int teardown(void **state)
{
    if (*state && !mm_machine_is_dead(H.m))
        assert_invariants(H.m);
    teardown_wdk_machine(state);
    return 0;
}

static PHYSICAL_ADDRESS physical(ULONGLONG value)
{
    PHYSICAL_ADDRESS pa;
    pa.QuadPart = (LONGLONG)value;
    return pa;
}

/* A device's registers: past the end of RAM. */
static PHYSICAL_ADDRESS device(void)
{
    struct mm_memory_counts c;
    assert_ok(mm_memory_query(H.m, &c));
    return physical((c.physical_pages << PAGE_SHIFT) + 0x100000);
}

/* Contiguous memory: physically contiguous, within the bounds asked for,
 * written and read through the pointer; freed, its address is gone. */
static void contiguous_memory(void **state)
{
    skip_without_host_view(state);
    PUCHAR c = MmAllocateContiguousMemorySpecifyCache(3 * PAGE_SIZE, physical(0), physical(0xFFFFFFFF),
                                                      physical(0), MmCached);
    assert_non_null(c);
    LONGLONG first = MmGetPhysicalAddress(c).QuadPart;
    assert_true(first + 3 * PAGE_SIZE - 1 <= 0xFFFFFFFF);
    for (int i = 1; i < 3; i++)
        assert_int_equal(MmGetPhysicalAddress(c + i * PAGE_SIZE).QuadPart, first + i * PAGE_SIZE);
    memset(c, 0x3C, 3 * PAGE_SIZE);
    assert_int_equal(c[3 * PAGE_SIZE - 1], 0x3C);
    MmFreeContiguousMemorySpecifyCache(c, 3 * PAGE_SIZE, MmCached);
    assert_false(MmIsAddressValid(c));
    PVOID d = MmAllocateContiguousMemory(PAGE_SIZE, physical(~0ULL));
    assert_non_null(d);
    MmFreeContiguousMemory(d);
}

/* Freeing an address inside contiguous memory: 0xC2/0x60. */
static void contiguous_free_inside_is_0xC2(void **state)
{
    skip_without_host_view(state);
    PUCHAR c = MmAllocateContiguousMemory(2 * PAGE_SIZE, physical(~0ULL));
    assert_non_null(c);
    expect_bugcheck(MmFreeContiguousMemory(c + PAGE_SIZE), 0xC2, 0x60);
    assert_params((uint64_t)(uintptr_t)(c + PAGE_SIZE), 0, 0);
}

static void non_cached_memory(void **state)
{
    skip_without_host_view(state);
    PUCHAR p = MmAllocateNonCachedMemory(5000);
    assert_non_null(p);
    assert_int_equal(BYTE_OFFSET(p), 0);
    p[4999] = 7;
    assert_int_equal(p[4999], 7);
    MmFreeNonCachedMemory(p, 5000);
    assert_false(MmIsAddressValid(p));
}

/* A device's registers through MmMapIoSpaceEx: reads see all ones (no
 * device answers), and the unmap with another size is 0xDA/0x305. */
static void io_space(void **state)
{
    skip_without_host_view(state);
    volatile ULONG *regs = MmMapIoSpaceEx(device(), PAGE_SIZE, PAGE_READWRITE | PAGE_NOCACHE);
    assert_non_null((void *)regs);
    assert_int_equal(regs[3], 0xFFFFFFFFu);
    MmUnmapIoSpace((PVOID)regs, PAGE_SIZE);
    assert_null(MmMapIoSpaceEx(device(), PAGE_SIZE, PAGE_READWRITE | PAGE_NOCACHE | PAGE_WRITECOMBINE));
    PVOID again = MmMapIoSpace(device(), 2 * PAGE_SIZE, MmNonCached);
    assert_non_null(again);
    expect_bugcheck(MmUnmapIoSpace(again, PAGE_SIZE), 0xDA, 0x305);
}

/* A reserved mapping: the range taken once, an MDL's locked pages mapped
 * into it and out again; the bytes are the buffer's. */
static void reserved_mapping(void **state)
{
    skip_without_host_view(state);
    const ULONG tag = 'vseR';
    PVOID range = MmAllocateMappingAddress(4 * PAGE_SIZE, tag);
    assert_non_null(range);
    PUCHAR buffer = ExAllocatePoolWithTag(NonPagedPoolNx, 2 * PAGE_SIZE, 'fuBR');
    assert_non_null(buffer);
    memset(buffer, 0, 2 * PAGE_SIZE);
    PMDL mdl = IoAllocateMdl(buffer, 2 * PAGE_SIZE, FALSE, FALSE, NULL);
    assert_non_null(mdl);
    MmProbeAndLockPages(mdl, KernelMode, IoWriteAccess);
    PUCHAR view = MmMapLockedPagesWithReservedMapping(range, tag, mdl, MmCached);
    assert_ptr_equal(view, range);
    view[PAGE_SIZE + 5] = 0x5E;
    assert_int_equal(buffer[PAGE_SIZE + 5], 0x5E);
    MmUnmapReservedMapping(range, tag, mdl);
    assert_false(MmIsAddressValid(view));
    MmUnlockPages(mdl);
    IoFreeMdl(mdl);
    ExFreePoolWithTag(buffer, 'fuBR');
    MmFreeMappingAddress(range, tag);
}

/* Freeing a reserved range while a mapping is in it: 0xDA/0x103. */
static void reserved_range_freed_while_mapped_is_0xDA(void **state)
{
    skip_without_host_view(state);
    const ULONG tag = 'vseR';
    PVOID range = MmAllocateMappingAddress(PAGE_SIZE, tag);
    PVOID buffer = ExAllocatePoolWithTag(NonPagedPoolNx, 64, 'fuBR');
    PMDL mdl = IoAllocateMdl(buffer, 64, FALSE, FALSE, NULL);
    MmBuildMdlForNonPagedPool(mdl);
    assert_non_null(MmMapLockedPagesWithReservedMapping(range, tag, mdl, MmCached));
    expect_bugcheck(MmFreeMappingAddress(range, tag), 0xDA, 0x103);
}

/* The priority matters only when memory is short, and under Special Pool
 * for the block's alignment, which mmsim always takes from the page's end
 * (docs/decisions.md): here both allocations succeed as with
 * ExAllocatePoolWithTag. */
static void pool_with_priority(void **state)
{
    skip_without_host_view(state);
    PULONG p = ExAllocatePoolWithTagPriority(PagedPool, 100, 'irPP', LowPoolPriority);
    assert_non_null(p);
    p[24] = 1;
    ExFreePoolWithTag(p, 'irPP');
    p = ExAllocatePoolWithTagPriority(NonPagedPoolNx, 100, 'irPP', HighPoolPrioritySpecialPoolOverrun);
    assert_non_null(p);
    ExFreePoolWithTag(p, 'irPP');
}

/* A driver allocating memory in the process it runs in: committed and
 * readable from the driver, protected, released. Another process handle
 * than NtCurrentProcess() is refused. */
static void current_process_virtual_memory(void **state)
{
    skip_without_host_view(state);
    struct mm_process_info info;
    assert_ok(mm_process_query(H.m, app, &info));
    KAPC_STATE attach;
    KeStackAttachProcess((PRKPROCESS)(uintptr_t)info.eprocess, &attach);
    PVOID base = NULL;
    SIZE_T size = 5000;
    assert_int_equal(ZwAllocateVirtualMemory(NtCurrentProcess(), &base, 0, &size, MEM_COMMIT | MEM_RESERVE,
                                             PAGE_READWRITE),
                     STATUS_SUCCESS);
    assert_non_null(base);
    assert_true((ULONG_PTR)base < (ULONG_PTR)MmHighestUserAddress);
    assert_int_equal(size, 2 * PAGE_SIZE);
    ((PUCHAR)base)[size - 1] = 9;
    ULONG old = 0;
    PVOID at = base;
    SIZE_T length = PAGE_SIZE;
    assert_int_equal(ZwProtectVirtualMemory(NtCurrentProcess(), &at, &length, PAGE_READONLY, &old), STATUS_SUCCESS);
    assert_int_equal(old, PAGE_READWRITE);
    size = 0;
    assert_int_equal(ZwFreeVirtualMemory(NtCurrentProcess(), &base, &size, MEM_RELEASE), STATUS_SUCCESS);
    assert_int_equal(size, 2 * PAGE_SIZE);
    assert_int_equal(ZwAllocateVirtualMemory((HANDLE)(ULONG_PTR)0x44, &base, 0, &size, MEM_COMMIT, PAGE_READWRITE),
                     STATUS_INVALID_HANDLE);
    KeUnstackDetachProcess(&attach);
}

/* Low Resources Simulation of the physical-memory DDIs: NULL, as the
 * driver must handle. */
static void physical_ddis_fail_under_low_resources(void **state)
{
    skip_without_host_view(state);
    struct mmwdk_injection inj = {.sites = MMWDK_INJECT_PHYSICAL, .one_in = 1};
    mmwdk_inject(&inj);
    assert_null(MmAllocateContiguousMemory(PAGE_SIZE, physical(~0ULL)));
    assert_null(MmAllocateNonCachedMemory(PAGE_SIZE));
    assert_null(MmMapIoSpace(device(), PAGE_SIZE, MmNonCached));
    mmwdk_inject(NULL);
    PVOID c = MmAllocateContiguousMemory(PAGE_SIZE, physical(~0ULL));
    assert_non_null(c);
    MmFreeContiguousMemory(c);
}

/* Under Verifier a tag of 0 is 0xC2/0x9B, and P4 is the caller: an
 * address in the code that called ExAllocatePoolWithTag (here, this test);
 * the layer puts the CPU's caller back after the call. */
static void tag_zero_names_the_caller(void **state)
{
    (void)state;
    mm_cpu_set_caller(H.m, 0x5150);
    assert_ok(mm_machine_set_verifier(H.m, MM_VERIFIER_STANDARD));
    PVOID ok = ExAllocatePoolWithTag(NonPagedPoolNx, 16, 'gaTx');
    assert_non_null(ok);
    assert_int_equal(mm_cpu_set_caller(H.m, 0), 0x5150);
    ExFreePoolWithTag(ok, 'gaTx');
    expect_bugcheck(ExAllocatePoolWithTag(NonPagedPoolNx, 24, 0), 0xC2, 0x9B);
    uintptr_t here = (uintptr_t)tag_zero_names_the_caller;
    assert_true(H.bc.p[3] > here && H.bc.p[3] < here + 4096);
    assert_int_equal(H.bc.p[2], 24);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(contiguous_memory),
        T(contiguous_free_inside_is_0xC2),
        T(non_cached_memory),
        T(io_space),
        T(reserved_mapping),
        T(reserved_range_freed_while_mapped_is_0xDA),
        T(pool_with_priority),
        T(current_process_virtual_memory),
        T(physical_ddis_fail_under_low_resources),
        T(tag_zero_names_the_caller),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
