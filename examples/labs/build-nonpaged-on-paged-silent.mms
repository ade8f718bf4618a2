# MmBuildMdlForNonPagedPool on paged pool, without Verifier: silent corruption
#
# MmBuildMdlForNonPagedPool copies the PFNs out of the PTEs and locks
# nothing. On paged pool that happens to be resident, Windows accepts it
# without a word. Later the memory manager trims the page, writes it to the
# page file and gives the frame to someone else. The MDL still lists the old
# frame, and a device doing DMA through the MDL writes into whoever owns
# that frame now: here, a user process.
#
# With Verifier the call stops at once (build-nonpaged-on-paged: 0xC4/0x7F).
# Without Verifier, had the page been paged out at the call, Windows would
# stop with 0x1A/0x1240. The simulator reports the device write as a
# stale-dma finding.

machine ram=1M
pool paged buf 0x1000 tag=Drv1
write buf "config"
mdl allocate m buf 0x1000
mdl build-nonpaged m
expect no-bugcheck
expect flags m = SOURCE_IS_NONPAGED_POOL|ALLOCATED_FIXED_SIZE
let frame = m.pfn0
expect value buf.pfn = frame
note "memory pressure: the paged pool page is trimmed and written out"
trim system
writer
expect pfn frame location=standby
note "an application needs memory and gets the frame"
process create app "app.exe"
process attach app
alloc big 0xEC000
touch-write big 0xEC000
!pfn frame
expect pfn frame share=1 ref=1 location=active
note "the device writes through the MDL, into app.exe"
dma write m "device data"
read big+0xEB000 16
expect bytes big+0xEB000 "device data"
expect finding stale-dma count=1
!findings
