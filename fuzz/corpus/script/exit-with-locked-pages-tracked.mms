# Locked pages at process exit with tracking on: 0xCB
#
# The same leak as exit-with-locked-pages, with TrackLockedPages = 1: Windows
# recorded who locked the pages, so the bug check is
# DRIVER_LEFT_LOCKED_PAGES_IN_PROCESS, with the locked MDL in P3.

machine track-locked-pages
process create app "app.exe"
process attach app
alloc buf 0x2000
mdl allocate m buf 0x2000
mdl lock m write user
process detach
process exit app
expect bugcheck 0xCB * * m 2
!analyze -v
