# a misspelled IRQL lists the levels
machine
irql raise DISPATH
