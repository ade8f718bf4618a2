# Double unlock: 0x4E PFN_LIST_CORRUPT with P1 = 7
#
# Without Driver Verifier, unlocking an MDL twice is not caught at the call:
# the second MmUnlockPages drops a reference the MDL no longer holds, and the
# PFN database notices that the page's reference count would fall below its
# share count. The bug check names the PFN (P2) and its share count (P3).

machine
pool nonpaged buf 0x1000 tag=Drv1
mdl allocate m buf 0x1000
mdl lock m write
expect pfn buf share=1 ref=2
mdl unlock m
expect pfn buf share=1 ref=1
let page = buf.pfn
mdl unlock m
expect bugcheck 0x4E 7 page 1 0
!analyze -v
