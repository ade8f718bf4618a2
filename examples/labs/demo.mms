# The demo: a page's life, a driver's MDL, and a bug check
#
# This is what `mmsim` runs with no arguments. Each note says what to look
# for. Every line is a scenario command (docs/scenario-language.md); paste
# them into `mmsim repl` to explore, or change one and run it again with
# `mmsim run FILE`.

machine ram=64M cpus=2
note "1. The machine at boot: nearly every page is on the zeroed list."
!memusage

note "2. A process commits 64 KiB. Committing takes no page..."
process create notepad "notepad.exe"
process attach notepad
alloc buf 64K
!pte buf
note "...the first write is a demand-zero fault that builds the page tables."
write buf+0x10 "hello, NT"
!pte buf
let frame = buf.pfn
!pfn frame
!process notepad
expect pfn frame share=1 ref=1 location=active

note "3. The working set is trimmed: the PTE becomes a transition PTE and the"
note "   dirty page goes to the modified list, still holding its bytes."
trim notepad
!pte buf
expect pfn frame share=0 ref=0 location=modified

note "4. The modified page writer copies it to the page file: now it is standby."
writer
expect pfn frame location=standby

note "5. The process reads the page again: a soft fault, the same frame, no I/O."
read buf+0x10 9
expect bytes buf+0x10 "hello, NT"
expect pfn frame share=1 ref=1 location=active

note "6. A driver does direct I/O on that buffer: IoAllocateMdl,"
note "   MmProbeAndLockPages, MmGetSystemAddressForMdlSafe. The lock is one"
note "   more reference (ref 2); the system mapping changes no count."
mdl allocate m buf+0x10 10
mdl lock m write user
mdl map m safe
dt _MDL m
expect pfn frame share=1 ref=2 location=active
expect bytes m.sys "hello, NT"
!lockedpages

note "7. MmUnlockPages (which also unmaps) and IoFreeMdl: all back as it was."
mdl unlock m
mdl free m
expect pfn frame share=1 ref=1 location=active
!history frame
process detach notepad

note "8. A driver loads; after DriverEntry its INIT section is discarded."
driver load d "demo.sys" .text=0x2000 INIT=0x1000 .data=0x1000
driver discard-init d
expect invalid d.INIT

note "9. The driver allocates paged pool and fills it: it is resident."
pool paged settings 0x2000 tag=Demo
write settings "paged data"
expect valid settings

note "10. Driver Verifier's Force IRQL Checking is turned on, and the driver"
note "    raises to DISPATCH_LEVEL: Verifier trims all pageable memory."
verifier irql
!verifier
irql raise DISPATCH
expect invalid settings

note "11. The driver's DPC reads its paged buffer at DISPATCH_LEVEL: a page"
note "    fault that cannot be served. Windows stops with 0xD1."
read settings 10 ip=d.text+0x40
expect bugcheck 0xD1 settings 2 0 d.text+0x40
!analyze -v
