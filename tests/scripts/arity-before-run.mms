# a wrong argument count is found before anything runs
machine
note "this must not print"
pool nonpaged p
