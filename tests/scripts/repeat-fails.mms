machine
repeat 3
  pool nonpaged b 0x1000
  expect value b = 1
end
