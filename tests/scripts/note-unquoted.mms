# a note is a quoted string
machine
note unquoted text
