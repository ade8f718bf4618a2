machine
repeat 3
  note "x"
