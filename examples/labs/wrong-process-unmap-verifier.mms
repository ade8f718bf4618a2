# Unmapping a user mapping from the wrong process, under Driver Verifier: 0xC4/0xB9
#
# The same mistake as wrong-process-unmap: the driver maps a buffer into the
# requesting process and unmaps it later from a System worker thread. With
# Verifier on, MmUnmapLockedPages checks that the user address is a mapping
# in the current process and stops at once: 0xC4, subcode 0xB9, with the
# address and the MDL.

machine verifier=standard
pool nonpaged shared 0x2000 tag=Drv1
process create app "app.exe"
process attach app
mdl allocate m shared 0x2000
mdl build-nonpaged m
mdl map m user
note "the worker thread runs in the System process"
process detach app
mdl unmap m user
expect bugcheck 0xC4 0xB9 m.user m
!analyze -v
