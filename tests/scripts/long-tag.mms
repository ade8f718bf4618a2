# a pool tag longer than four characters is an error, not cut
machine
pool nonpaged p 100 tag=TooLong
