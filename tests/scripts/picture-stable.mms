# Pictures keep their layout from step to step (tests/check-report.sh): an
# object freed or added in the middle leaves the others in their order.
machine
process create app "app.exe"
process create tool "tool.exe"
process attach app
alloc a 0x2000
alloc b 0x1000
alloc c 0x1000
write a "first"
write a+0x1000 "second"
write b "middle"
write c "last"
pool nonpaged p1 0x1000 tag=Pic1
pool nonpaged p2 0x1000 tag=Pic2
pool nonpaged p3 0x1000 tag=Pic3
mdl allocate m1 p1 0x1000
mdl build-nonpaged m1
mdl allocate m3 p3 0x1000
mdl build-nonpaged m3
mdl allocate mc c 0x1000
mdl lock mc write user
note "the middle objects go"
free b
pool free p2
note "a new MDL locks the first and the last buffers' pages"
mdl allocate ma a 0x2000
mdl lock ma write user
mdl allocate mb c 0x1000
mdl lock mb read user
process detach
process attach tool
alloc t 0x1000
write t "tool"
process detach
mdl unlock mc
mdl free mc
