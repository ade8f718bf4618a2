# The lifecycle of an MDL, and the counts at each step
#
# A driver describes a user buffer with an MDL, locks it for a write, maps it
# into system space, and undoes everything in order. Watch the MDL's flags,
# the frame's reference count and the process's locked-page count.

machine ram=64M cpus=2
process create app "app.exe"
process attach app
alloc buf 0x2000
write buf+0x10 "hello"
expect pfn buf share=1 ref=1 location=active

mdl allocate m buf+0x10 5
expect flags m = ALLOCATED_FIXED_SIZE

mdl lock m write user
note "MmProbeAndLockPages: the frame gets one more reference; the process is charged one locked page"
expect flags m = ALLOCATED_FIXED_SIZE|PAGES_LOCKED|WRITE_OPERATION
expect pfn buf share=1 ref=2 location=active
expect locked app 1
expect value m.pfn0 = buf.pfn

mdl map m kernel
expect flags m = ALLOCATED_FIXED_SIZE|PAGES_LOCKED|WRITE_OPERATION|MAPPED_TO_SYSTEM_VA
expect bytes m.sys "hello"
note "a mapping borrows the lock: no count changes"
expect pfn buf share=1 ref=2

mdl unmap m
expect flags m = ALLOCATED_FIXED_SIZE|PAGES_LOCKED|WRITE_OPERATION
mdl unlock m
expect pfn buf share=1 ref=1
expect locked app 0
mdl free m
expect no-bugcheck
