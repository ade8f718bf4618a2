machine
alloc buf 0x1000
machine ram=1G
