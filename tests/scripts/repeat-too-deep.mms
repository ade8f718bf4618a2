machine
repeat 1
 repeat 1
  repeat 1
   repeat 1
    repeat 1
    end
   end
  end
 end
end
