# Unlock before unmap, then the page is repurposed under the user mapping
#
# A driver shares a buffer with an application: it locks the buffer's MDL,
# maps it into the application, and at cleanup unlocks the MDL and frees the
# buffer, but forgets MmUnmapLockedPages. Windows does not notice. The
# application's PTE still points at the physical page, and when another
# driver gets that page for its own allocation, the application reads (and
# could write) the other driver's data: an information leak and a memory
# corruption with no bug check at all.
#
# The simulator reports the mistake at the unlock (stale-user-mapping) and
# the first access through the dangling mapping (stale-mapping-access).

machine
pool nonpaged buf 0x1000 tag=Drv1
write buf "driver data"
let frame = buf.pfn
process create app "app.exe"
process attach app
mdl allocate m buf 0x1000
mdl lock m write
mdl map m user
expect bytes m.user "driver data"
expect pfn frame share=1 ref=2 location=active
note "cleanup, in the wrong order: unlock and free, no unmap"
mdl unlock m
pool free buf
expect finding stale-user-mapping count=1
expect pfn frame share=0 ref=0 location=free
note "another driver allocates a page and gets the same frame"
pool nonpaged other 0x1000 tag=Othr
expect value other.pfn = frame
write other "password=hunter2"
note "the application reads its old mapping"
read m.user 16 mode=user
expect bytes m.user "password=hunter2"
expect finding stale-mapping-access count=1
!findings
!history frame
