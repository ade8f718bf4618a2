machine
alloc buf 0xFFFFFFFFFFFFFFFFF
