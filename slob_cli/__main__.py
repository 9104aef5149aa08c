"""Allow `python -m slob_cli ...` (used by subprocess tests and bench scripts)."""

from slob_cli.cli.main import run

run()
