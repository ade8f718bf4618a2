machine ram=64M
pool nonpaged b 0x1000
expect pfn b share=2
