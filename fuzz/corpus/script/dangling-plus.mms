machine
alloc buf 0x1000 +
