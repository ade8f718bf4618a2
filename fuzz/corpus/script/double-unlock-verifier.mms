# Double unlock under Driver Verifier: 0xC4/0x7C at the faulty call
#
# With Verifier on, MmUnlockPages checks the MDL first: its flags no longer
# say PAGES_LOCKED, so the second unlock stops at once with
# DRIVER_VERIFIER_DETECTED_VIOLATION, sub-code 0x7C, naming the MDL (P2).

machine verifier=standard
pool nonpaged buf 0x1000 tag=Drv1
mdl allocate m buf 0x1000
mdl lock m write
mdl unlock m
expect flags m = ALLOCATED_FIXED_SIZE|WRITE_OPERATION
mdl unlock m
expect bugcheck 0xC4 0x7C m
!analyze -v
