machine
repeat 0
  note "x"
end
