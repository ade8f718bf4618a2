machine
mdl allocate-pages m 0x1000
let p = m.pfnx
