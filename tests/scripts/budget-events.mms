# A statement that makes the machine work hard counts for more than one
# step: a step is a statement or ten units of work (a page a touch reaches,
# an event the machine records). With --max-steps 1000 the touch is refused
# before it runs (16 384 pages are 1638 steps); with 5000 it runs, and its
# 131 000 events use up the budget before the note.
machine ram=256M
alloc x 64M
touch-write x 64M
note "not reached with --max-steps 1000 or 5000"
