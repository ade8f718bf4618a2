# A write one byte past a pool block, with and without Special Pool: 0xD6
#
# Pool blocks are packed into pages after 16-byte POOL_HEADERs, so a write
# just past a block lands in the next block's header and nothing happens
# until someone frees a block and the pool checks its neighbours
# (BAD_POOL_HEADER, 0x19, often far from the bug). Driver Verifier's
# Special Pool gives each allocation a page of its own, ends the block at
# the page's end (16-byte aligned) and leaves the next page inaccessible:
# the same write stops at the instruction that makes it, with 0xD6
# DRIVER_PAGE_FAULT_BEYOND_END_OF_ALLOCATION (the address, 1 for a write,
# the driver instruction). Bytes between the block's end and the 16-byte
# boundary are checked when the block is freed (0xC1).

machine
driver load d "namecopy.sys" .text=0x2000
note "without Verifier: two 16-byte blocks, packed in one page"
pool nonpaged a 16 tag=Name
pool nonpaged b 16 tag=Name
!pool a
note "the driver writes past a (zeros, from a+16): into b's POOL_HEADER, silently"
write a+16 0 ip=d.text+0x80
expect no-bugcheck
note "!pool sees it: b's previous size no longer matches a's size"
!pool a
note "Special Pool on: the next allocation ends its own page"
verifier special-pool
pool nonpaged c 15 tag=Name
!pool c
!pte c+16
expect invalid c+16
write c+16 0 ip=d.text+0x80
expect bugcheck 0xD6 c+16 1 d.text+0x80 0
!analyze -v
