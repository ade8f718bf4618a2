machien ram=64M
