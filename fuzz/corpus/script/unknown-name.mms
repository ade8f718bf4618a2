machine
touch nosuch+0x10
