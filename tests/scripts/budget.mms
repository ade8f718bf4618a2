# Four nested repeats would run 10^20 statements: the step budget stops it.
repeat 100000
  repeat 100000
    repeat 100000
      repeat 100000
        note "looping"
      end
    end
  end
end
