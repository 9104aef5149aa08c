"""The Interactive Brokers adapter: the only code in slob that imports ib_async.

connection (connect, backoff, safe mode, heartbeat, IB codes), contracts + rolls (front month),
market_data (trade ticks, delayed fallback, stale watchdog), history (1-min warm-up), executions
(catch-up after reconnect), diagnostics (`slob test-connection`). Conversions to slob models live in
conversions; nothing camelCase leaves this package.
"""
