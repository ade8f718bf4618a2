# Unmapping a user mapping from the wrong process: the mapping leaks
#
# A driver maps a locked buffer into the process that sent a request
# (MmMapLockedPagesSpecifyCache with UserMode). Later it unmaps from a
# worker thread, which runs in the System process, not in the requester.
# MmUnmapLockedPages looks the address up in the *current* process: there is
# nothing there, so nothing is unmapped, and Windows says nothing. The
# requester keeps a user mapping of pages the driver believes are released.
# With Verifier on, the same call stops with 0xC4/0xB9
# (see wrong-process-unmap-verifier).

machine
pool nonpaged shared 0x2000 tag=Drv1
write shared "event ring"
process create app "app.exe"
process attach app
mdl allocate m shared 0x2000
mdl build-nonpaged m
mdl map m user
expect bytes m.user "event ring"
!vad
note "the worker thread runs in the System process"
process detach app
mdl unmap m user
expect no-bugcheck
expect finding wrong-process-unmap count=1
!findings
note "the mapping is still in app.exe: it leaked"
process attach app
!vad
expect bytes m.user "event ring"
note "the driver now frees the buffer; app.exe can still read the frame"
process detach app
mdl free m
pool free shared
process attach app
read m.user 16 mode=user
expect finding stale-mapping-access count=1
