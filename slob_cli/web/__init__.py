"""The web dashboard (`slob web`): a presentation layer beside `cli/`, over the same read models.

`server.py` checks the bind and the token and runs uvicorn; `app.py` is the Starlette app (JSON
API, page, event stream) over `runtime/status.py`, `runtime/views.py` and `runtime/web_views.py`;
`security.py` guards every request; `changes.py` tells open pages what changed; `static/` is the
page; `assets/` is where npm installs the chart library. Starlette and uvicorn are imported only
in this package, which the `web` command imports lazily, so `slob --help` never loads them.
"""
