# CR LF line ends
machine
pool nonpaged b 0x1000
write b "hi"
expect bytes b "hi"
