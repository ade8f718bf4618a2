machine
mdl allocate m 0x10000 0x1000
mdl lokc m
