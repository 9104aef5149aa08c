"""slob: trade the 5/1 SLOB intraday strategy on Nasdaq-100 futures through Interactive Brokers."""

__version__ = "0.1.0"
