# System PTE exhaustion from leaked mappings: 0x3F
#
# Every MDL mapping into system space takes system PTEs, a finite pool.
# This driver handles each request by describing a nonpaged buffer with an
# MDL, mapping it with MmMapLockedPagesSpecifyCache, and freeing the MDL with
# IoFreeMdl, but never calls MmUnmapLockedPages. IoFreeMdl does not unmap,
# so every request leaks four PTEs. (Under Verifier the first request
# already stops: mapping a nonpaged-pool MDL this way is 0xC4/0xB2, and
# IoFreeMdl of a mapped MDL is 0xC4/0xB8.) MmGetSystemAddressForMdlSafe starts returning NULL, which a
# careful driver handles; MmMapLockedPages (which may not fail) then stops
# the machine with 0x3F NO_MORE_SYSTEM_PTES: P2 = the pages asked for,
# P3 = free PTEs, P4 = all PTEs. With TrackPtes set in the registry
# (machine track-ptes) the same moment gives 0xD8 DRIVER_USED_EXCESSIVE_PTES.
#
# A small system PTE pool makes the leak show after 16 requests.

machine system-ptes=64
pool nonpaged buf 0x4000 tag=Drv1
repeat 16
  mdl allocate m buf 0x4000
  mdl build-nonpaged m
  mdl map m
  mdl free m
end
expect finding leaked-system-mapping count=16
!memusage
mdl allocate last buf 0x4000
mdl build-nonpaged last
note "MmGetSystemAddressForMdlSafe may fail: it returns NULL"
mdl map last safe
expect no-bugcheck
note "MmMapLockedPages may not fail"
mdl map last legacy
expect bugcheck 0x3F 0 4 0 64
!analyze -v
