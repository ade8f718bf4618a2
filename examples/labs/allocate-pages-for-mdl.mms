# MmAllocatePagesForMdlEx -> map -> unmap -> free
#
# MmAllocatePagesForMdlEx hands a driver physical pages that belong to no
# virtual range: the MDL has no StartVa, the pages are not in any working
# set, and each PFN has share 1 and ref 1 from the allocation itself (the
# MDL says PAGES_LOCKED, but nothing was probed). To touch them the driver
# maps them (MmMapLockedPagesSpecifyCache), and at the end it unmaps,
# returns the pages (MmFreePagesFromMdl, which puts them on the free list)
# and frees the MDL itself with ExFreePool, not IoFreeMdl.
#
# MmFreePagesFromMdl on any other MDL stops with 0x1A/0x1236.

machine
mdl allocate-pages m 0x3000 ex
expect flags m = PAGES_LOCKED
dt _MDL m
expect pfn m.pfn0 share=1 ref=1 location=active
expect pfn m.pfn2 share=1 ref=1 location=active
let p0 = m.pfn0
!pfn p0
!memusage
mdl map m
expect flags m = PAGES_LOCKED|MAPPED_TO_SYSTEM_VA
note "a mapping borrows the allocation: no count changes"
expect pfn p0 share=1 ref=1 location=active
write m.sys "dma buffer"
expect bytes m.sys "dma buffer"
!pte m.sys
mdl unmap m
expect flags m = PAGES_LOCKED
expect invalid m.sys
mdl free-pages m
expect flags m = 0
expect pfn p0 share=0 ref=0 location=free
!pfn p0
pool free m
!memusage
expect no-bugcheck
!history p0
