machine
expect bugcheck
