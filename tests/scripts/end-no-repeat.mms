machine
note "x"
end
