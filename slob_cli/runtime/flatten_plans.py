"""The flattens slob is trying to get filled, one plan per setup (or orphan position), kept in the store.

A plan survives a restart (the store's `state` row `flatten_plans`), so a new process neither starts
the count of retries over nor sends a second flatten for an attempt the last one already sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slob_cli.adapters.store import Store, from_iso, to_iso
from slob_cli.core.sessions import trading_date_of

FLATTEN_PLANS_KEY = "flatten_plans"


@dataclass
class FlattenPlan:
    """The flattening of one setup: retries used, when the next one is due (None: not failed), who retries.

    A session-end flatten is retried by the executor once the reconcile's new stop works (`due`). A
    flatten that reconciliation placed (a position no stop can protect: an orphan, no stop price known)
    is retried by the next reconciliation; its last attempt is left working (`given_up`).
    """

    retries: int = 0
    due: datetime | None = None
    reconcile: bool = False
    given_up: bool = False
    since: datetime | None = None  # when the first flatten was decided

    def stale(self, now: datetime) -> bool:
        """Return True when the plan began on an earlier New York date: the session it flattened is over."""
        return self.since is not None and trading_date_of(self.since) != trading_date_of(now)

    def to_dict(self) -> dict[str, Any]:
        """Return the plan as JSON-ready values."""
        return {"retries": self.retries, "due": to_iso(self.due) if self.due else None,
                "reconcile": self.reconcile, "given_up": self.given_up,
                "since": to_iso(self.since) if self.since else None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FlattenPlan:
        """Return the plan stored as `data`."""
        due, since = data.get("due"), data.get("since")
        return cls(int(data.get("retries", 0)), from_iso(due) if due else None, bool(data.get("reconcile")),
                   bool(data.get("given_up")), from_iso(since) if since else None)


def load_plans(store: Store) -> dict[str, FlattenPlan]:
    """Return the stored plans by setup id."""
    stored = store.get_state(FLATTEN_PLANS_KEY) or {}
    return {setup_id: FlattenPlan.from_dict(data) for setup_id, data in stored.items()}


def save_plans(store: Store, plans: dict[str, FlattenPlan], now: datetime) -> None:
    """Store the plans (all of them: the row is small)."""
    store.put_state(FLATTEN_PLANS_KEY, {setup_id: plan.to_dict() for setup_id, plan in plans.items()}, now)
