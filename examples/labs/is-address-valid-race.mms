# MmIsAddressValid at DISPATCH_LEVEL is no guarantee on a multiprocessor
#
# A driver running at DISPATCH_LEVEL (holding a spin lock) asks
# MmIsAddressValid whether a paged pool buffer is resident, gets TRUE, and
# reads it. On one CPU this looks safe. But the answer describes one moment:
# the working-set manager runs on another CPU and can trim the page between
# the check and the use. The read then faults at DISPATCH_LEVEL: 0xD1.
# No Verifier option is needed; only timing. Memory that must be touched
# at DISPATCH_LEVEL must be nonpaged (or locked with an MDL first).

machine cpus=2
driver load d "mydrv.sys" .text=0x2000
pool paged buf 0x1000 tag=Drv1
write buf "settings"
cpu 0
irql raise DISPATCH
note "CPU 0: if (MmIsAddressValid(buf)) ..."
is-valid buf
expect valid buf
note "CPU 1: the working-set manager trims the system working set"
cpu 1
trim system
expect invalid buf
note "CPU 0: ... read buf"
cpu 0
read buf 8 ip=d.text+0x88
expect bugcheck 0xD1 buf 2 0 d.text+0x88
!analyze -v
