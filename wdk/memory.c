/* wdk/memory.c — the memory DDIs with their WDK signatures over the
 * model: pool (ExAllocatePool*, with the driver's live blocks kept for the
 * leak report at unload), MDLs (IoAllocateMdl … MmUnlockPages, raising
 * where Windows raises), mapping and reserved mappings, physical addresses,
 * I/O space, contiguous and non-cached memory, pageable sections, and the
 * current process's virtual memory (Zw*VirtualMemory). */
#include "internal.h"

#include "wdkstate.h"

/* ---- pool ---- */

static mm_pool_type pool_of(POOL_TYPE type)
{
    switch ((int)type & ~(int)NonPagedPoolNx) {
    case PagedPool:
    case PagedPoolCacheAligned:
    case PagedPoolSession: return MM_PAGED_POOL;
    default: return MM_NONPAGED_POOL;
    }
}

static PVOID allocate(const char *ddi, mm_pool_type type, SIZE_T bytes, ULONG tag, bool zero, PVOID caller)
{
    mm_machine *m = mmwdk_m(ddi);
    if (mmwdk_inject_failure(MMWDK_INJECT_POOL, caller))
        return NULL;
    mm_va outer = mm_cpu_set_caller(m, va_of(caller)); /* 0xC2/0x9B names it */
    mm_va va = mm_pool_allocate(m, type, bytes, tag);
    mm_cpu_set_caller(m, outer);
    if (!va)
        return NULL;
    if (zero)
        memset(ptr_of(va), 0, bytes);
    mmwdk_pool_note(m, va, bytes, tag, caller);
    return ptr_of(va);
}

PVOID ExAllocatePoolWithTag(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag)
{
    return allocate("ExAllocatePoolWithTag", pool_of(PoolType), NumberOfBytes, Tag, false,
                    __builtin_return_address(0));
}

PVOID ExAllocatePool(POOL_TYPE PoolType, SIZE_T NumberOfBytes)
{
    return allocate("ExAllocatePool", pool_of(PoolType), NumberOfBytes, 0x656E6F4E /* "None" */, false,
                    __builtin_return_address(0));
}

/* The priority says how hard to try when memory is short and, under
 * Special Pool, which end of the page to align the block with; mmsim's
 * Special Pool always aligns with the end (Verify End, docs/decisions.md). */
PVOID ExAllocatePoolWithTagPriority(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag, EX_POOL_PRIORITY Priority)
{
    (void)Priority;
    return allocate("ExAllocatePoolWithTagPriority", pool_of(PoolType), NumberOfBytes, Tag, false,
                    __builtin_return_address(0));
}

PVOID ExAllocatePoolZero(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag)
{
    return allocate("ExAllocatePoolZero", pool_of(PoolType), NumberOfBytes, Tag, true, __builtin_return_address(0));
}

/* ExAllocatePool2: exactly one of the pool-type flags; zeroed unless
 * POOL_FLAG_UNINITIALIZED. A tag of 0, invalid flags or no memory is NULL,
 * or with POOL_FLAG_RAISE_ON_FAILURE an exception (as documented). */
PVOID ExAllocatePool2(POOL_FLAGS Flags, SIZE_T NumberOfBytes, ULONG Tag)
{
    POOL_FLAGS kinds = Flags & (POOL_FLAG_NON_PAGED | POOL_FLAG_NON_PAGED_EXECUTE | POOL_FLAG_PAGED);
    bool valid = kinds != 0 && (kinds & (kinds - 1)) == 0 && Tag != 0;
    PVOID p = !valid ? NULL
                     : allocate("ExAllocatePool2", kinds == POOL_FLAG_PAGED ? MM_PAGED_POOL : MM_NONPAGED_POOL,
                                NumberOfBytes, Tag, !(Flags & POOL_FLAG_UNINITIALIZED), __builtin_return_address(0));
    if (!p && (Flags & POOL_FLAG_RAISE_ON_FAILURE))
        mmwdk_raise(STATUS_INSUFFICIENT_RESOURCES, __builtin_return_address(0), 0, 0);
    return p;
}

static void release(const char *ddi, PVOID p, ULONG tag)
{
    mm_machine *m = mmwdk_m(ddi);
    mmwdk_pool_forget(m, va_of(p));
    mmwdk_stop_if_dead(mm_pool_free(m, va_of(p), tag));
}

void ExFreePoolWithTag(PVOID P, ULONG Tag) { release("ExFreePoolWithTag", P, Tag); }
void ExFreePool(PVOID P) { release("ExFreePool", P, 0); }

/* ---- MDLs ---- */


PMDL IoAllocateMdl(PVOID VirtualAddress, ULONG Length, BOOLEAN SecondaryBuffer, BOOLEAN ChargeQuota, PIRP Irp)
{
    mm_machine *m = mmwdk_m("IoAllocateMdl");
    if (mmwdk_inject_failure(MMWDK_INJECT_MDL, __builtin_return_address(0)))
        return NULL;
    mm_va mdl = mm_io_allocate_mdl(m, va_of(VirtualAddress), Length, SecondaryBuffer, ChargeQuota, va_of(Irp));
    mmwdk_stop_if_dead(MM_STATUS_SUCCESS);
    return (PMDL)ptr_of(mdl);
}

void IoFreeMdl(PMDL Mdl) { mmwdk_stop_if_dead(mm_io_free_mdl(mmwdk_m("IoFreeMdl"), va_of(Mdl))); }

void IoBuildPartialMdl(PMDL SourceMdl, PMDL TargetMdl, PVOID VirtualAddress, ULONG Length)
{
    mmwdk_stop_if_dead(mm_io_build_partial_mdl(mmwdk_m("IoBuildPartialMdl"), va_of(SourceMdl), va_of(TargetMdl),
                                  va_of(VirtualAddress), Length));
}

SIZE_T MmSizeOfMdl(PVOID Base, SIZE_T Length) { return (SIZE_T)mm_size_of_mdl(va_of(Base), Length); }

void MmBuildMdlForNonPagedPool(PMDL MemoryDescriptorList)
{
    mmwdk_stop_if_dead(mm_build_mdl_for_nonpaged_pool(mmwdk_m("MmBuildMdlForNonPagedPool"), va_of(MemoryDescriptorList)));
}

/* A probe that fails raises (STATUS_ACCESS_VIOLATION for a bad or
 * inaccessible address), as Windows' MmProbeAndLockPages does. */
void MmProbeAndLockPages(PMDL MemoryDescriptorList, KPROCESSOR_MODE AccessMode, LOCK_OPERATION Operation)
{
    if (mmwdk_inject_failure(MMWDK_INJECT_LOCK, __builtin_return_address(0)))
        mmwdk_raise(STATUS_INSUFFICIENT_RESOURCES, __builtin_return_address(0), 0, 0);
    mm_status st = mm_probe_and_lock_pages(mmwdk_m("MmProbeAndLockPages"), va_of(MemoryDescriptorList),
                                           (mm_mode)AccessMode, (mm_lock_operation)Operation);
    if (!MM_SUCCESS(st))
        mmwdk_raise_failure(st, __builtin_return_address(0));
}

void MmProbeAndLockProcessPages(PMDL MemoryDescriptorList, PEPROCESS Process, KPROCESSOR_MODE AccessMode,
                                LOCK_OPERATION Operation)
{
    KAPC_STATE state;
    KeStackAttachProcess(Process, &state);
    mm_status st = mm_probe_and_lock_pages(mmwdk_m("MmProbeAndLockProcessPages"), va_of(MemoryDescriptorList),
                                           (mm_mode)AccessMode, (mm_lock_operation)Operation);
    KeUnstackDetachProcess(&state);
    if (!MM_SUCCESS(st))
        mmwdk_raise_failure(st, __builtin_return_address(0));
}

void MmUnlockPages(PMDL MemoryDescriptorList)
{
    mmwdk_stop_if_dead(mm_unlock_pages(mmwdk_m("MmUnlockPages"), va_of(MemoryDescriptorList)));
}

PVOID MmMapLockedPagesSpecifyCache(PMDL MemoryDescriptorList, KPROCESSOR_MODE AccessMode,
                                   MEMORY_CACHING_TYPE CacheType, PVOID RequestedAddress, ULONG BugCheckOnFailure,
                                   ULONG Priority)
{
    /* Only where the caller allowed failure: with BugCheckOnFailure a
     * shortage would stop the machine, which Low Resources Simulation never
     * causes. */
    if (!BugCheckOnFailure && mmwdk_inject_failure(MMWDK_INJECT_MAP, __builtin_return_address(0)))
        return NULL;
    mm_status raised = MM_STATUS_SUCCESS;
    mm_va va = mm_map_locked_pages_specify_cache(mmwdk_m("MmMapLockedPagesSpecifyCache"), va_of(MemoryDescriptorList),
                                                 (mm_mode)AccessMode, (mm_cache_type)CacheType,
                                                 va_of(RequestedAddress), BugCheckOnFailure != 0, Priority, &raised);
    mmwdk_stop_if_dead(raised);
    if (!va && AccessMode == UserMode && !MM_SUCCESS(raised))
        mmwdk_raise((NTSTATUS)raised, __builtin_return_address(0), 0, 0); /* a user mapping raises */
    return ptr_of(va);
}

PVOID MmMapLockedPages(PMDL MemoryDescriptorList, KPROCESSOR_MODE AccessMode)
{
    mm_va va = mm_map_locked_pages(mmwdk_m("MmMapLockedPages"), va_of(MemoryDescriptorList), (mm_mode)AccessMode);
    mmwdk_stop_if_dead(MM_STATUS_SUCCESS);
    return ptr_of(va);
}

void MmUnmapLockedPages(PVOID BaseAddress, PMDL MemoryDescriptorList)
{
    mmwdk_stop_if_dead(mm_unmap_locked_pages(mmwdk_m("MmUnmapLockedPages"), va_of(BaseAddress), va_of(MemoryDescriptorList)));
}

void MmPrepareMdlForReuse(PMDL Mdl) { mmwdk_stop_if_dead(mm_prepare_mdl_for_reuse(mmwdk_m("MmPrepareMdlForReuse"), va_of(Mdl))); }

NTSTATUS MmProtectMdlSystemAddress(PMDL MemoryDescriptorList, ULONG NewProtect)
{
    mm_status st = mm_protect_mdl_system_address(mmwdk_m("MmProtectMdlSystemAddress"), va_of(MemoryDescriptorList),
                                                 NewProtect);
    mmwdk_stop_if_dead(st);
    return (NTSTATUS)st;
}

NTSTATUS MmAdvanceMdl(PMDL Mdl, ULONG NumberOfBytes)
{
    mm_status st = mm_advance_mdl(mmwdk_m("MmAdvanceMdl"), va_of(Mdl), NumberOfBytes);
    mmwdk_stop_if_dead(st);
    return (NTSTATUS)st;
}

PMDL MmAllocatePagesForMdl(PHYSICAL_ADDRESS LowAddress, PHYSICAL_ADDRESS HighAddress, PHYSICAL_ADDRESS SkipBytes,
                           SIZE_T TotalBytes)
{
    if (mmwdk_inject_failure(MMWDK_INJECT_PAGES, __builtin_return_address(0)))
        TotalBytes = (TotalBytes / 2) & ~(SIZE_T)(PAGE_SIZE - 1); /* fewer pages than asked */
    mm_va mdl = mm_allocate_pages_for_mdl(mmwdk_m("MmAllocatePagesForMdl"), (uint64_t)LowAddress.QuadPart,
                                          (uint64_t)HighAddress.QuadPart, (uint64_t)SkipBytes.QuadPart, TotalBytes);
    mmwdk_stop_if_dead(MM_STATUS_SUCCESS);
    return (PMDL)ptr_of(mdl);
}

PMDL MmAllocatePagesForMdlEx(PHYSICAL_ADDRESS LowAddress, PHYSICAL_ADDRESS HighAddress, PHYSICAL_ADDRESS SkipBytes,
                             SIZE_T TotalBytes, MEMORY_CACHING_TYPE CacheType, ULONG Flags)
{
    if (mmwdk_inject_failure(MMWDK_INJECT_PAGES, __builtin_return_address(0)))
        TotalBytes = (TotalBytes / 2) & ~(SIZE_T)(PAGE_SIZE - 1);
    mm_va mdl = mm_allocate_pages_for_mdl_ex(mmwdk_m("MmAllocatePagesForMdlEx"), (uint64_t)LowAddress.QuadPart,
                                             (uint64_t)HighAddress.QuadPart, (uint64_t)SkipBytes.QuadPart,
                                             TotalBytes, (mm_cache_type)CacheType, Flags);
    mmwdk_stop_if_dead(MM_STATUS_SUCCESS);
    return (PMDL)ptr_of(mdl);
}

void MmFreePagesFromMdl(PMDL MemoryDescriptorList)
{
    mmwdk_stop_if_dead(mm_free_pages_from_mdl(mmwdk_m("MmFreePagesFromMdl"), va_of(MemoryDescriptorList)));
}

/* ---- addresses ---- */

static struct mm_layout layout(void)
{
    struct mm_layout l;
    mm_machine_layout(mmwdk_m("MmHighestUserAddress"), &l);
    return l;
}

PVOID mmwdk_highest_user_address(void) { return ptr_of(layout().highest_user_address); }
PVOID mmwdk_system_range_start(void) { return ptr_of(layout().system_range_start); }
ULONG_PTR mmwdk_user_probe_address(void) { return (ULONG_PTR)layout().user_probe_address; }

BOOLEAN MmIsAddressValid(PVOID VirtualAddress)
{
    return (BOOLEAN)mm_is_address_valid(mmwdk_m("MmIsAddressValid"), va_of(VirtualAddress));
}

PHYSICAL_ADDRESS MmGetPhysicalAddress(PVOID BaseAddress)
{
    PHYSICAL_ADDRESS pa;
    pa.QuadPart = (LONGLONG)mm_get_physical_address(mmwdk_m("MmGetPhysicalAddress"), va_of(BaseAddress));
    return pa;
}

/* ---- physical memory: I/O space, contiguous and non-cached memory ----
 * Each can fail under Low Resources Simulation (MMWDK_INJECT_PHYSICAL). */

PVOID MmMapIoSpace(PHYSICAL_ADDRESS PhysicalAddress, SIZE_T NumberOfBytes, MEMORY_CACHING_TYPE CacheType)
{
    mm_machine *m = mmwdk_m("MmMapIoSpace");
    if (mmwdk_inject_failure(MMWDK_INJECT_PHYSICAL, __builtin_return_address(0)))
        return NULL;
    mm_va va = mm_map_io_space(m, (uint64_t)PhysicalAddress.QuadPart, NumberOfBytes, (mm_cache_type)CacheType);
    mmwdk_stop_if_dead(MM_STATUS_SUCCESS);
    return ptr_of(va);
}

PVOID MmMapIoSpaceEx(PHYSICAL_ADDRESS PhysicalAddress, SIZE_T NumberOfBytes, ULONG Protect)
{
    mm_machine *m = mmwdk_m("MmMapIoSpaceEx");
    if (mmwdk_inject_failure(MMWDK_INJECT_PHYSICAL, __builtin_return_address(0)))
        return NULL;
    mm_va va = mm_map_io_space_ex(m, (uint64_t)PhysicalAddress.QuadPart, NumberOfBytes, Protect);
    mmwdk_stop_if_dead(MM_STATUS_SUCCESS);
    return ptr_of(va);
}

PVOID MmAllocateContiguousMemory(SIZE_T NumberOfBytes, PHYSICAL_ADDRESS HighestAcceptableAddress)
{
    mm_machine *m = mmwdk_m("MmAllocateContiguousMemory");
    if (mmwdk_inject_failure(MMWDK_INJECT_PHYSICAL, __builtin_return_address(0)))
        return NULL;
    mm_va va = mm_allocate_contiguous_memory(m, NumberOfBytes, (uint64_t)HighestAcceptableAddress.QuadPart);
    mmwdk_stop_if_dead(MM_STATUS_SUCCESS);
    return ptr_of(va);
}

PVOID MmAllocateContiguousMemorySpecifyCache(SIZE_T NumberOfBytes, PHYSICAL_ADDRESS LowestAcceptableAddress,
                                             PHYSICAL_ADDRESS HighestAcceptableAddress,
                                             PHYSICAL_ADDRESS BoundaryAddressMultiple, MEMORY_CACHING_TYPE CacheType)
{
    mm_machine *m = mmwdk_m("MmAllocateContiguousMemorySpecifyCache");
    if (mmwdk_inject_failure(MMWDK_INJECT_PHYSICAL, __builtin_return_address(0)))
        return NULL;
    mm_va va = mm_allocate_contiguous_memory_specify_cache(
        m, NumberOfBytes, (uint64_t)LowestAcceptableAddress.QuadPart, (uint64_t)HighestAcceptableAddress.QuadPart,
        (uint64_t)BoundaryAddressMultiple.QuadPart, (mm_cache_type)CacheType);
    mmwdk_stop_if_dead(MM_STATUS_SUCCESS);
    return ptr_of(va);
}

void MmFreeContiguousMemory(PVOID BaseAddress)
{
    mmwdk_stop_if_dead(mm_free_contiguous_memory(mmwdk_m("MmFreeContiguousMemory"), va_of(BaseAddress)));
}

void MmFreeContiguousMemorySpecifyCache(PVOID BaseAddress, SIZE_T NumberOfBytes, MEMORY_CACHING_TYPE CacheType)
{
    mmwdk_stop_if_dead(mm_free_contiguous_memory_specify_cache(mmwdk_m("MmFreeContiguousMemorySpecifyCache"),
                                                               va_of(BaseAddress), NumberOfBytes,
                                                               (mm_cache_type)CacheType));
}

PVOID MmAllocateNonCachedMemory(SIZE_T NumberOfBytes)
{
    mm_machine *m = mmwdk_m("MmAllocateNonCachedMemory");
    if (mmwdk_inject_failure(MMWDK_INJECT_PHYSICAL, __builtin_return_address(0)))
        return NULL;
    mm_va va = mm_allocate_non_cached_memory(m, NumberOfBytes);
    mmwdk_stop_if_dead(MM_STATUS_SUCCESS);
    return ptr_of(va);
}

void MmFreeNonCachedMemory(PVOID BaseAddress, SIZE_T NumberOfBytes)
{
    mmwdk_stop_if_dead(mm_free_non_cached_memory(mmwdk_m("MmFreeNonCachedMemory"), va_of(BaseAddress), NumberOfBytes));
}

/* ---- reserved mappings ---- */

PVOID MmAllocateMappingAddress(SIZE_T NumberOfBytes, ULONG PoolTag)
{
    mm_va va = mm_allocate_mapping_address(mmwdk_m("MmAllocateMappingAddress"), NumberOfBytes, PoolTag);
    mmwdk_stop_if_dead(MM_STATUS_SUCCESS);
    return ptr_of(va);
}

void MmFreeMappingAddress(PVOID BaseAddress, ULONG PoolTag)
{
    mmwdk_stop_if_dead(mm_free_mapping_address(mmwdk_m("MmFreeMappingAddress"), va_of(BaseAddress), PoolTag));
}

PVOID MmMapLockedPagesWithReservedMapping(PVOID MappingAddress, ULONG PoolTag, PMDL MemoryDescriptorList,
                                          MEMORY_CACHING_TYPE CacheType)
{
    mm_va va = mm_map_locked_pages_with_reserved_mapping(mmwdk_m("MmMapLockedPagesWithReservedMapping"),
                                                         va_of(MappingAddress), PoolTag,
                                                         va_of(MemoryDescriptorList), (mm_cache_type)CacheType);
    mmwdk_stop_if_dead(MM_STATUS_SUCCESS);
    return ptr_of(va);
}

void MmUnmapReservedMapping(PVOID BaseAddress, ULONG PoolTag, PMDL MemoryDescriptorList)
{
    mmwdk_stop_if_dead(mm_unmap_reserved_mapping(mmwdk_m("MmUnmapReservedMapping"), va_of(BaseAddress), PoolTag,
                                                 va_of(MemoryDescriptorList)));
}

/* ---- the current process's virtual memory ----
 * A driver's Zw call runs with previous mode KernelMode: its pointers are
 * not probed. Only NtCurrentProcess() names a process here (mmsim keeps
 * no handle table for processes): another handle is STATUS_INVALID_HANDLE. */

static mm_status virtual_memory(const char *ddi, HANDLE process, PVOID *base, PSIZE_T size, mm_va *va,
                                uint64_t *bytes, mm_process **p)
{
    mm_machine *m = mmwdk_m(ddi);
    if (process != NtCurrentProcess())
        return MM_STATUS_INVALID_HANDLE;
    if (!base || !size)
        return MM_STATUS_ACCESS_VIOLATION;
    *va = va_of(*base);
    *bytes = *size;
    *p = mm_process_current(m);
    return MM_STATUS_SUCCESS;
}

static NTSTATUS virtual_done(mm_status st, PVOID *base, PSIZE_T size, mm_va va, uint64_t bytes)
{
    mmwdk_stop_if_dead(st);
    if (MM_SUCCESS(st)) {
        *base = ptr_of(va);
        *size = (SIZE_T)bytes;
    }
    return (NTSTATUS)st;
}

NTSTATUS ZwAllocateVirtualMemory(HANDLE ProcessHandle, PVOID *BaseAddress, ULONG_PTR ZeroBits, PSIZE_T RegionSize,
                                 ULONG AllocationType, ULONG Protect)
{
    mm_va va;
    uint64_t bytes;
    mm_process *p;
    mm_status st = virtual_memory("ZwAllocateVirtualMemory", ProcessHandle, BaseAddress, RegionSize, &va, &bytes, &p);
    if (MM_SUCCESS(st) && ZeroBits)
        st = MM_STATUS_INVALID_PARAMETER; /* mmsim models no ZeroBits constraint */
    if (MM_SUCCESS(st))
        st = mm_virtual_alloc(mmwdk_machine(), p, &va, &bytes, AllocationType, Protect);
    return virtual_done(st, BaseAddress, RegionSize, va, bytes);
}

NTSTATUS ZwFreeVirtualMemory(HANDLE ProcessHandle, PVOID *BaseAddress, PSIZE_T RegionSize, ULONG FreeType)
{
    mm_va va;
    uint64_t bytes;
    mm_process *p;
    mm_status st = virtual_memory("ZwFreeVirtualMemory", ProcessHandle, BaseAddress, RegionSize, &va, &bytes, &p);
    if (MM_SUCCESS(st))
        st = mm_virtual_free(mmwdk_machine(), p, &va, &bytes, FreeType);
    return virtual_done(st, BaseAddress, RegionSize, va, bytes);
}

NTSTATUS ZwProtectVirtualMemory(HANDLE ProcessHandle, PVOID *BaseAddress, PSIZE_T RegionSize, ULONG NewProtect,
                                PULONG OldProtect)
{
    mm_va va;
    uint64_t bytes;
    mm_process *p;
    uint32_t old = 0;
    mm_status st = virtual_memory("ZwProtectVirtualMemory", ProcessHandle, BaseAddress, RegionSize, &va, &bytes, &p);
    if (MM_SUCCESS(st) && !OldProtect)
        st = MM_STATUS_ACCESS_VIOLATION;
    if (MM_SUCCESS(st))
        st = mm_virtual_protect(mmwdk_machine(), p, &va, &bytes, NewProtect, &old);
    if (MM_SUCCESS(st))
        *OldProtect = old;
    return virtual_done(st, BaseAddress, RegionSize, va, bytes);
}

void MmUnmapIoSpace(PVOID BaseAddress, SIZE_T NumberOfBytes)
{
    mmwdk_stop_if_dead(mm_unmap_io_space(mmwdk_m("MmUnmapIoSpace"), va_of(BaseAddress), NumberOfBytes));
}

PVOID MmLockPagableDataSection(PVOID AddressWithinSection)
{
    mm_va handle = mm_lock_pagable_section(mmwdk_m("MmLockPagableCodeSection"), va_of(AddressWithinSection));
    mmwdk_stop_if_dead(MM_STATUS_SUCCESS);
    return ptr_of(handle);
}

void MmUnlockPagableImageSection(PVOID ImageSectionHandle)
{
    mmwdk_stop_if_dead(mm_unlock_pagable_image_section(mmwdk_m("MmUnlockPagableImageSection"), va_of(ImageSectionHandle)));
}
