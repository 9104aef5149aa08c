"""Repository over the orders, fills and trades tables (schema v1)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from slob_cli.adapters.store.db import Store, from_iso, to_us
from slob_cli.adapters.store.instants import instant_us
from slob_cli.adapters.store.schema import ISO_TEXT_INSTANTS
from slob_cli.core.broker_view import BrokerExecution, OrderStatus, StoredOrder
from slob_cli.core.orders import OrderIntent
from slob_cli.core.pnl import FillLine, TradeResult


def fill_line(row: dict[str, Any]) -> FillLine:
    """Return a `fills` row as the P&L function's input."""
    return FillLine(float(row["quantity"]), float(row["price"]), row["commission"])


def trade_columns(result: TradeResult) -> dict[str, Any]:
    """Return the `trades` columns that hold a trade's result (core/pnl.py)."""
    return {"exit_price": result.exit_price, "pnl_points": result.points, "gross_money": result.gross,
            "entry_commission": result.entry_commission, "exit_commission": result.exit_commission,
            "commission": result.commission, "pnl_money": result.net}


class OrderRepository:
    """Read and write our order intents, the broker's fills and the trades they make up."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._conn = store._conn

    # ------------------------------------------------------------------ orders
    def insert_intents(self, intents: Sequence[OrderIntent], now: datetime, run_id: int | None = None,
                       local_symbol: str | None = None) -> None:
        """Write intents (status INTENT) in one transaction, before anything is sent."""
        with self.store.transaction() as conn:
            conn.executemany(
                "INSERT INTO orders(order_ref, setup_id, role, symbol, local_symbol, action, order_type, quantity,"
                " limit_price, stop_price, tif, oca_group, parent_ref, status, filled, created_at, updated_at, run_id)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,0,?,?,?)",
                [(i.order_ref, i.setup_id, i.role.value, i.symbol, local_symbol, i.action, i.order_type, i.quantity,
                  i.limit_price, i.stop_price, i.tif, i.oca_group, i.parent_ref, OrderStatus.INTENT.value,
                  to_us(now), to_us(now), run_id) for i in intents],
            )

    def mark_sent(self, ids: dict[str, int], now: datetime) -> None:
        """Record the broker order ids of intents that were handed to the broker."""
        with self.store.transaction() as conn:
            conn.executemany(
                "UPDATE orders SET broker_order_id=?, status=CASE WHEN status=? THEN ? ELSE status END,"
                " sent_at=?, updated_at=? WHERE order_ref=?",
                [(order_id, OrderStatus.INTENT.value, OrderStatus.SENT.value, to_us(now), to_us(now), ref)
                 for ref, order_id in ids.items()],
            )

    def update_status(self, order_ref: str, status: OrderStatus, filled: int | None, avg_fill_price: float | None,
                      now: datetime, broker_order_id: int | None = None, perm_id: int | None = None) -> bool:
        """Update an order's status; terminal states are never left; return True when the row changed.

        An id of 0 (IB reports completed orders of an earlier client session so) never replaces a known one.
        """
        broker_order_id, perm_id = broker_order_id or None, perm_id or None
        row = self.order(order_ref)
        if row is None:
            return False
        current = OrderStatus(row["status"])
        if current in (OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.INACTIVE, OrderStatus.EXPIRED) \
                and status is not current and not (current is OrderStatus.CANCELLED and status is OrderStatus.FILLED):
            return False
        new_filled = max(int(row["filled"] or 0), int(filled or 0))
        if (current, new_filled) == (status, int(row["filled"] or 0)) and broker_order_id in (None, row["broker_order_id"]) \
                and perm_id in (None, row["perm_id"]):
            return False
        with self.store.transaction() as conn:
            conn.execute(
                "UPDATE orders SET status=?, filled=?, avg_fill_price=coalesce(?, avg_fill_price),"
                " broker_order_id=coalesce(?, broker_order_id), perm_id=coalesce(?, perm_id), updated_at=?"
                " WHERE order_ref=?",
                (status.value, new_filled, avg_fill_price, broker_order_id, perm_id, to_us(now), order_ref),
            )
        return True

    def order(self, order_ref: str) -> dict[str, Any] | None:
        """Return one orders row, or None."""
        rows = list(self.store.query(f"SELECT {self.store._columns('orders')} FROM orders WHERE order_ref=?",
                                     [order_ref]))
        return rows[0] if rows else None

    def order_by_broker_id(self, broker_order_id: int) -> dict[str, Any] | None:
        """Return the newest orders row sent with this broker order id, or None."""
        rows = list(self.store.query(f"SELECT {self.store._columns('orders')} FROM orders WHERE broker_order_id=?"
                                     " ORDER BY orders.created_at DESC, orders.rowid DESC LIMIT 1", [broker_order_id]))
        return rows[0] if rows else None

    def orders_for_setup(self, setup_id: str) -> list[dict[str, Any]]:
        """Return a setup's orders, oldest first."""
        return list(self.store.query(f"SELECT {self.store._columns('orders')} FROM orders WHERE setup_id=?"
                                     " ORDER BY orders.created_at, orders.rowid", [setup_id]))

    def setup_plan(self, setup_id: str) -> tuple[str, float | None] | None:
        """Return a stored setup's direction and entry estimate, or None when it is not stored."""
        row = self.store._conn.execute("SELECT direction, entry_estimate FROM setups WHERE id=?", (setup_id,)).fetchone()
        return None if row is None else (row[0], row[1])

    def unsettled_closed_trades(self) -> list[str]:
        """Return the setup ids of closed trades not yet settled (a commission report may be missing)."""
        return [row["setup_id"] for row in self.store.query(
            "SELECT setup_id FROM trades WHERE status='CLOSED' AND settled_at IS NULL")]

    def unfilled_live(self, role: str) -> list[dict[str, Any]]:
        """Return the orders of one role ('entry', 'flatten') sent or working at the broker and not completely filled."""
        return list(self.store.query(
            f"SELECT {self.store._columns('orders')} FROM orders"
            " WHERE role=? AND status IN ('SENT','WORKING') AND filled < quantity ORDER BY rowid", [role]))

    def stored_orders(self, only_open: bool = False) -> list[StoredOrder]:
        """Return every stored order (or only those not in a terminal state) as StoredOrder."""
        sql = f"SELECT {self.store._columns('orders')} FROM orders"
        if only_open:
            sql += " WHERE status IN ('INTENT', 'SENT', 'WORKING')"
        return [StoredOrder.from_row(row, from_iso(row["created_at"])) for row in self.store.query(sql + " ORDER BY rowid")]

    def setup_has_orders(self, setup_id: str) -> bool:
        """Return True when any order was ever written for a setup (idempotency guard)."""
        return self._conn.execute("SELECT 1 FROM orders WHERE setup_id=? LIMIT 1", (setup_id,)).fetchone() is not None

    # ------------------------------------------------------------------ fills
    def known_exec_ids(self) -> frozenset[str]:
        """Return the execution ids already stored."""
        return frozenset(r[0] for r in self._conn.execute("SELECT exec_id FROM fills"))

    def insert_fill(self, execution: BrokerExecution) -> bool:
        """Store an execution once; return False when it was already stored."""
        with self.store.transaction() as conn:
            cursor = conn.execute(
                "INSERT OR IGNORE INTO fills(exec_id, order_ref, broker_order_id, perm_id, symbol, side, quantity,"
                " price, ts) VALUES (?,?,?,?,?,?,?,?,?)",
                (execution.exec_id, execution.order_ref, execution.order_id or None, execution.perm_id or None,
                 execution.symbol, execution.side, execution.shares, execution.price, to_us(execution.time)),
            )
        return cursor.rowcount > 0

    def set_commission(self, exec_id: str, commission: float, realized_pnl: float | None) -> str | None:
        """Attach a commission report to its fill; return the fill's orderRef (None if unknown)."""
        with self.store.transaction() as conn:
            conn.execute("UPDATE fills SET commission=?, realized_pnl=? WHERE exec_id=?",
                         (commission, realized_pnl, exec_id))
        row = self._conn.execute("SELECT order_ref FROM fills WHERE exec_id=?", (exec_id,)).fetchone()
        return row[0] if row else None

    def fills_for(self, order_refs: Iterable[str]) -> list[dict[str, Any]]:
        """Return the fills of some orders, in time order."""
        refs = list(order_refs)
        if not refs:
            return []
        marks = ",".join("?" * len(refs))
        return list(self.store.query(f"SELECT {self.store._columns('fills')} FROM fills WHERE order_ref IN ({marks})"
                                     " ORDER BY fills.ts, fills.exec_id", refs))

    # ------------------------------------------------------------------ trades
    def trade(self, setup_id: str) -> dict[str, Any] | None:
        """Return the trade of a setup, or None."""
        rows = list(self.store.query(f"SELECT {self.store._columns('trades')} FROM trades WHERE setup_id=?",
                                     [setup_id]))
        return rows[0] if rows else None

    def upsert_trade(self, row: dict[str, Any]) -> None:
        """Insert or replace a trade row (its instants as datetimes or ISO text)."""
        instants = ISO_TEXT_INSTANTS["trades"]
        row = {column: instant_us(value) if column in instants else value for column, value in row.items()}
        columns = list(row)
        updates = ", ".join(f"{c}=excluded.{c}" for c in columns if c != "setup_id")
        with self.store.transaction() as conn:
            conn.execute(
                f"INSERT INTO trades({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
                f" ON CONFLICT(setup_id) DO UPDATE SET {updates}",
                [row[c] for c in columns],
            )

    def open_trades(self) -> list[dict[str, Any]]:
        """Return trades whose position is not closed."""
        return list(self.store.query(f"SELECT {self.store._columns('trades')} FROM trades WHERE status='OPEN'"
                                     " ORDER BY trades.entry_time"))
