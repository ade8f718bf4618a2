# Partial MDLs and MmPrepareMdlForReuse
#
# A driver splits a large locked request into pieces by building partial
# MDLs over one MDL it allocated once (IoBuildPartialMdl). A partial MDL
# borrows the source's PFNs and lock (it copies only a few of its flags:
# not WRITE_OPERATION); it owns nothing except, once mapped,
# its own system mapping (PARTIAL_HAS_BEEN_MAPPED). Before the partial MDL
# is built again for the next piece, MmPrepareMdlForReuse must release that
# mapping. Skip it and each reuse leaks the previous mapping's system PTEs;
# the simulator reports leaked-system-mapping, and enough leaks end in
# system-pte-exhaustion.

machine
process create app "app.exe"
process attach app
alloc buf 0x3000
write buf "page zero"
write buf+0x1000 "page one"
write buf+0x2000 "page two"
mdl allocate big buf 0x3000
mdl lock big write
expect pfn big.pfn1 ref=2
mdl allocate part buf 0x1000
note "piece 1: the second page"
mdl partial part big buf+0x1000 0x1000
expect flags part = PARTIAL|ALLOCATED_FIXED_SIZE
expect value part.pfn0 = big.pfn1
expect pfn big.pfn1 ref=2
mdl map part safe
expect flags part = PARTIAL|PARTIAL_HAS_BEEN_MAPPED|MAPPED_TO_SYSTEM_VA|ALLOCATED_FIXED_SIZE
expect bytes part.sys "page one"
!memusage
mdl prepare-reuse part
expect flags part = PARTIAL|ALLOCATED_FIXED_SIZE
note "piece 2: the third page, the right way"
mdl partial part big buf+0x2000 0x1000
mdl map part safe
expect bytes part.sys "page two"
note "piece 3: the first page, forgetting MmPrepareMdlForReuse"
mdl partial part big buf 0x1000
expect finding leaked-system-mapping count=1
mdl map part safe
expect bytes part.sys "page zero"
!memusage
!findings
mdl prepare-reuse part
mdl free part
mdl unlock big
mdl free big
expect no-bugcheck
