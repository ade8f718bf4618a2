machine
let a = 0xFFFFFFFFFFFFFFFF + 1
