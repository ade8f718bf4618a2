# a misspelled MDL verb is reported before anything runs, with the nearest verb
machine
note "this must not print"
mdl alocate m
