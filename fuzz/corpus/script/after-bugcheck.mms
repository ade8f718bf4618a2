machine
pool paged b 0x1000
irql raise DISPATCH
touch b
touch b
