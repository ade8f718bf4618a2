machine
alloc b 0x1000
expect flags b = PAGES_LOCKED
