# A process exits with pages still locked: 0x76 PROCESS_HAS_LOCKED_PAGES
#
# A driver locked a user buffer and never unlocked it (the MDL leaked). When
# the process exits, its NumberOfLockedPages is not zero: Windows stops with
# 0x76, P1 = 0, P2 = the EPROCESS, P3 = the number of locked pages. With
# locked-page tracking on (or Verifier pool tracking) it is 0xCB instead, which
# names the driver's call site (see exit-with-locked-pages-tracked).

machine
process create app "app.exe"
process attach app
alloc buf 0x3000
touch buf 0x3000
mdl allocate m buf 0x3000
mdl lock m write user
expect locked app 3
process detach
process exit app
expect bugcheck 0x76 0 * 3
!analyze -v
