# Locking a copy-on-write page for write gives the process its own copy
#
# A section is mapped PAGE_WRITECOPY into a process: the view's PTEs point at
# the section's shared frames, read-only with the copy-on-write bit. A driver
# that probes and locks such a buffer for write access makes
# MmProbeAndLockPages write-fault first: the process gets a private copy, the
# MDL locks the copy, and the shared frame keeps only its other shares.

machine
process create app "app.exe"
process create other "other.exe"
section create shared 0x2000
section map theirs shared process=other
process attach app
section map view shared protect=WRITECOPY
let page0 = view.pfn
expect pfn page0 share=2 ref=1
note "share 2: one for each view's valid PTE (the prototype PTE holds none)"

mdl allocate m view 0x1000
mdl lock m read user
expect value m.pfn0 = page0
expect pfn page0 share=2 ref=2
mdl unlock m

mdl lock m write user
note "the write probe broke copy on write: the MDL holds the process's private copy"
expect pfn view share=1 ref=2
expect pfn page0 share=1 ref=1
mdl unlock m
mdl free m
expect no-bugcheck
