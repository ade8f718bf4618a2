# a misspelled MDL verb is reported as one, with the nearest verb
machine
mdl alocate m
