machine

