"""The web dashboard (`slob web`): a read-only Starlette app, its guard, its change stream, its page.

Starlette and uvicorn are imported only here and by `runtime/web.py`, which the `web` command
imports lazily, so `slob --help` never loads them.
"""
