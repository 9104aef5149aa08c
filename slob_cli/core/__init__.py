"""Pure logic: no I/O, no asyncio, no clock reads, no ib_async, no pandas."""
