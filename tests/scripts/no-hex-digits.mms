machine
let a = 0x```
