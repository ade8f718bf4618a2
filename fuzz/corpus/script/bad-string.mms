machine
write 0x1000 "unterminated
