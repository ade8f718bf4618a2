# MmBuildMdlForNonPagedPool on paged pool, under Driver Verifier: 0xC4/0x7F
#
# MmBuildMdlForNonPagedPool fills the PFN array from the PTEs without locking
# anything, so it is only correct for memory that cannot be paged out. With
# Verifier on, describing paged pool this way stops at the call.

machine verifier=standard
pool paged buf 0x1000 tag=Drv1
write buf "x"
mdl allocate m buf 0x1000
mdl build-nonpaged m
expect bugcheck 0xC4 0x7F * m
!analyze -v
