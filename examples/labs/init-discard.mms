# Copying a driver image across its discarded INIT section: 0x50
#
# When DriverEntry returns, the memory manager frees the driver's INIT
# section (code and data used only during initialisation): its PTEs become
# zero and its frames go back to the free list. A driver that later copies
# its own image, for example to checksum or back it up, reads right into
# the hole and stops with 0x50 PAGE_FAULT_IN_NONPAGED_AREA: a read (P2 = 0)
# of a freed PTE (P4 = 0) at the first INIT address.
#
# The careful version walks the image a page at a time with
# MmIsAddressValid, as shown first: the INIT page reports FALSE after the
# discard. (MmIsAddressValid is exact for nonpaged memory like this; for
# pageable memory see is-address-valid-race.)

machine
driver load d "mydrv.sys" .text=0x2000 INIT=0x1000 .data=0x1000
note "headers, .text, .text, INIT, .data: all resident while DriverEntry runs"
is-valid d
is-valid d+0x1000
is-valid d+0x2000
is-valid d+0x3000
is-valid d+0x4000
expect valid d.INIT
note "DriverEntry returned: the memory manager discards INIT"
driver discard-init d
is-valid d+0x2000
is-valid d+0x3000
is-valid d+0x4000
expect invalid d.INIT
expect valid d.data
!pte d.INIT
note "the careless copy reads straight across the hole"
pool nonpaged copy 0x5000 tag=Bkup
copy copy d 0x5000 ip=d.text+0x120
expect bugcheck 0x50 d.INIT 0 d.text+0x120 0
!analyze -v
