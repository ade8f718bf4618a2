machine
alloc buf 0x12zz
