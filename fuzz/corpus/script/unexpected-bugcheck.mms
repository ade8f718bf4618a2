machine
pool paged b 0x1000
write b "x"
verifier irql
irql raise DISPATCH
touch b
