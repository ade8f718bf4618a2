# Every view a kernel developer compares with WinDbg, on one small run that
# ends in a 0x76; tests/check-scripts.sh checks their layout and wording.
machine ram=16M
process create app "app.exe"
process attach app
alloc buf 0x3000
write buf "x"
!pfn buf.pfn
!process app
!vad app
trim app
!pte buf
pool paged pp 0x1000
!pte pp
!memusage
mdl allocate m buf 0x3000
mdl lock m write user
dt _MDL m
dt _MDL
verifier irql
irql raise DISPATCH
irql lower PASSIVE
!verifier
!history buf.pfn
!history -v m
process detach
process exit app
expect bugcheck 0x76 0 * 3
!analyze -v
