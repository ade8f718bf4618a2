# Unlocking before unmapping a user mapping leaves a dangling PTE
#
# A driver maps a locked MDL into the calling process, then unlocks the MDL
# before unmapping. Windows does not notice: the user PTE still maps the frame,
# but nothing keeps that frame locked. The simulator reports the mistake as a
# finding (stale-user-mapping) at the unlock.

machine
pool nonpaged buf 0x1000 tag=Drv1
write buf "driver data"
process create app "app.exe"
process attach app
mdl allocate m buf 0x1000
mdl lock m write
mdl map m user
expect bytes m.user "driver data"
mdl unlock m
expect no-bugcheck
expect finding stale-user-mapping count=1
!findings
