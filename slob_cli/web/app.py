"""The `slob web` ASGI app: a read-only JSON API over the store, the page, and a stream of changes.

Every route is a GET (the login form's POST only sets a cookie); the store connection is opened
read-only (`mode=ro`) by the caller. Reads are short SELECTs run on the event loop, one at a time,
so one SQLite connection serves every request without locks.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from collections.abc import AsyncIterator, Callable
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, Response, StreamingResponse
from starlette.routing import Route

from slob_cli.adapters.store.integrity import damage_error
from slob_cli.runtime import views, web_views
from slob_cli.runtime.lock import current_holder
from slob_cli.runtime.status import collect_status
from slob_cli.web.changes import ChangeWatcher
from slob_cli.web.security import SecurityMiddleware, TokenGuard

STATIC = Path(__file__).parent / "static"
STATIC_FILES = {"app.js": "text/javascript", "style.css": "text/css"}
CHART_LIBRARY = "lightweight-charts.js"

UTC = timezone.utc


def json_text(data: Any) -> str:
    """Return compact JSON (times and other odd values as text, as `slob status --json` does).

    Top-level values that are already JSON text (web_views.RawJSON) are written as they are.
    """
    if not isinstance(data, dict) or not any(isinstance(value, web_views.RawJSON) for value in data.values()):
        return json.dumps(data, default=str, separators=(",", ":"))
    parts = [f"{json.dumps(key)}:{value}" if isinstance(value, web_views.RawJSON)
             else f"{json.dumps(key)}:{json.dumps(value, default=str, separators=(',', ':'))}"
             for key, value in data.items()]
    return "{" + ",".join(parts) + "}"


def json_response(data: Any, status: int = 200) -> Response:
    """Return a JSON response that no cache keeps."""
    return Response(json_text(data), status, media_type="application/json", headers={"cache-control": "no-store"})


class BadRequest(ValueError):
    """A query parameter is malformed."""


def _date(request: Request) -> date | None:
    text = request.query_params.get("date")
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"date must be YYYY-MM-DD, not {text!r}") from None


def _since(request: Request) -> int | None:
    text = request.query_params.get("since")
    if not text:
        return None
    try:
        return int(text) * 1_000_000
    except ValueError:
        raise BadRequest(f"since must be epoch seconds, not {text!r}") from None


def _limit(request: Request) -> int:
    text = request.query_params.get("limit", "100")
    if not text.isdigit() or not 0 <= int(text) <= 10_000:
        raise BadRequest(f"limit must be a whole number from 0 to 10000, not {text!r}")
    return int(text)


def _symbol(request: Request) -> str | None:
    text = request.query_params.get("symbol")
    if text and not (text.isalnum() and len(text) <= 12):
        raise BadRequest(f"symbol must be letters and digits, not {text!r}")
    return text.upper() if text else None


def create_app(store: Any, db_path: Path, zone: str, token: str | None, chart_js: Path,
               now: Callable[[], datetime] | None = None, poll_interval: float = 0.5) -> Starlette:
    """Return the dashboard app over an open read-only store."""
    clock = now or (lambda: datetime.now(UTC))
    store.refuse_writes()  # besides mode=ro: this connection refuses any write statement
    watcher = ChangeWatcher(store, db_path, poll_interval)
    memo = views.StoreMemo()  # an unchanged store answers /api/status and /api/positions from memory

    def status_data() -> dict[str, Any]:
        return collect_status(store, db_path, clock(), memo=memo).to_dict()

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html", headers={"cache-control": "no-store"})

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name == CHART_LIBRARY:
            return FileResponse(chart_js, media_type="text/javascript", headers={"cache-control": "max-age=3600"})
        if name not in STATIC_FILES:
            return json_response({"error": "not found"}, 404)
        return FileResponse(STATIC / name, media_type=STATIC_FILES[name], headers={"cache-control": "no-cache"})

    async def api_status(request: Request) -> Response:
        return json_response(status_data())

    async def api_header(request: Request) -> Response:
        data = web_views.header(store, db_path, clock(), _symbol(request))
        data["zone"] = zone
        return json_response(data)

    async def api_candles(request: Request) -> Response:
        return json_response(web_views.chart_day(store, _symbol(request), _date(request), _since(request)))

    async def api_setups(request: Request) -> Response:
        return json_response(web_views.setups_overview(store))

    async def api_trades(request: Request) -> Response:
        return json_response(web_views.trades_history(store, _limit(request)))

    async def api_positions(request: Request) -> Response:
        holder = current_holder(db_path)  # read once: the memo's key and the book's running sim runs
        orders, positions = memo.reader(store, holder)("book", lambda: views.live_book(store, holder))  # as `slob status`
        return json_response({"positions": positions, "working_orders": orders})

    async def api_reports(request: Request) -> Response:
        return json_response({"reports": web_views.report_files(db_path)})

    async def api_report(request: Request) -> Response:
        found = web_views.report_file(db_path, request.path_params["run"])
        return json_response(found, 200) if found is not None else json_response({"error": "no such report"}, 404)

    async def api_events(request: Request) -> Response:
        return StreamingResponse(watcher.stream(), media_type="text/event-stream",
                                 headers={"cache-control": "no-store", "x-accel-buffering": "no"})

    async def bad_request(request: Request, exc: Exception) -> Response:
        return json_response({"error": str(exc)}, 400)

    async def not_found(request: Request, exc: Exception) -> Response:
        return json_response({"error": "not found"}, 404)  # /api/reports/abc too: JSON, as every answer

    async def store_failed(request: Request, exc: Exception) -> Response:
        damaged = damage_error(exc, db_path)
        if damaged is None:
            raise exc
        return json_response({"error": str(damaged)}, 503)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(watcher.run(), name="slob-web-changes")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    routes = [
        Route("/", index),
        Route("/static/{name}", static),
        Route("/api/status", api_status),
        Route("/api/header", api_header),
        Route("/api/candles", api_candles),
        Route("/api/setups", api_setups),
        Route("/api/trades", api_trades),
        Route("/api/positions", api_positions),
        Route("/api/reports", api_reports),
        Route("/api/reports/{run:int}", api_report),
        Route("/api/events", api_events),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={
        BadRequest: bad_request, 404: not_found, sqlite3.DatabaseError: store_failed})
    app.state.watcher = watcher
    app.add_middleware(SecurityMiddleware, guard=TokenGuard(token))
    return app
