# Paged pool touched at DISPATCH_LEVEL, with Force IRQL Checking: 0xD1
#
# Page faults cannot be served at DISPATCH_LEVEL or above. A driver that
# reads paged pool while holding a spin lock works as long as the page
# happens to be resident, which on a test machine with plenty of RAM is
# nearly always: the bug ships. Driver Verifier's Force IRQL Checking
# trims all pageable memory whenever a driver raises IRQL to DISPATCH_LEVEL
# or above, so the first such access faults and stops with 0xD1
# DRIVER_IRQL_NOT_LESS_OR_EQUAL: the address, IRQL 2, a read (0), and the
# driver instruction (an instruction outside any driver gives 0xA instead).

machine verifier=irql
driver load d "mydrv.sys" .text=0x2000 PAGE=0x1000
pool paged settings 0x1000 tag=Cfg1
write settings "timeout=30"
note "at PASSIVE_LEVEL the page is resident"
expect valid settings
note "KeAcquireSpinLock raises to DISPATCH_LEVEL; Verifier trims pageable memory"
irql raise DISPATCH
expect invalid settings
!pte settings
read settings 10 ip=d.text+0x40
expect bugcheck 0xD1 settings 2 0 d.text+0x40
!analyze -v
