"""Per-store settings with typed defaults (a store table of key → JSON value)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import current_app, g, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Mapped, mapped_column

from mallow.db import StoreModel, db
from mallow.db.session import TenantSession

DEFAULTS = {
    "low_stock_threshold": 50,  # units: an alert below this
    "unpaid_order_minutes": 30,  # unpaid orders close after this
    "auto_confirm_receipt_days": 10,  # shipped orders count as received after this (自动确认收货)
    "auto_complete_days": 7,  # delivered orders complete after this
    "refund_auto_approve_hours": 48,  # refund-only requests the merchant leaves alone
    "aftersale_window_days": 7,  # after delivery, how long a shopper may ask for a refund
    "default_shipping_template": None,  # shipping template of products that name none (None: free)
    # the share reward rule (mallow.sharing.rewards): off until the merchant sets it
    "share_reward": {"enabled": False, "kind": "coupon", "amount": 0},
    # membership and points (mallow.membership.service.program): off until the merchant turns it on
    "membership": {
        "enabled": False,
        "earn_per_yuan": 1,
        "points_per_yuan": 100,
        "redeem_cap_percent": 50,
        "validity_days": 365,
        "level_basis": "spend",
    },
}


class StoreSetting(StoreModel):
    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    value: Mapped[object] = mapped_column(sa.JSON)


_CACHE = "mallow.store_settings"


def get(key: str):
    """The active store's value for ``key`` (its default when never set). In a request the
    store's settings come from this process's memory under the store's stamp, without touching
    the database session (a lane of :mod:`mallow.edge.lanes` has none until something needs it);
    else they are read in one query the first time a session asks (one session serves one
    store), and forgotten when it writes one or rolls back."""
    stored = _kept()
    if stored is None:
        stored = db.session.info.get(_CACHE)
        if stored is None:
            stored = db.session.info[_CACHE] = _read()
    return stored[key] if key in stored else DEFAULTS[key]


def _kept() -> dict | None:
    """The store's settings kept under the stamp this request read, or None (nothing kept, no
    stamp: outside a request, or after a write of something the stamp watches)."""
    if not has_app_context():
        return None
    stamp = g.get("mallow_store_stamp")
    if stamp is None:
        return None
    kept = current_app.extensions.get(_CACHE, {}).get(g.get("mallow_store_id"))
    return kept[1] if kept is not None and kept[0] == stamp else None


def _read() -> dict:
    """The store's settings; in a request, kept in this process under the store's stamp (a write
    of a setting moves it: ``StoreSetting`` is watched, see ``mallow.app``)."""
    stamp, store_id = (g.get("mallow_store_stamp"), g.get("mallow_store_id")) if has_app_context() else (None, None)
    memory = current_app.extensions.setdefault(_CACHE, {}) if stamp is not None else {}
    stored = dict(db.session.execute(sa.select(StoreSetting.key, StoreSetting.value)).all())
    if stamp is not None:
        if len(memory) >= 20_000:
            memory.clear()
        memory[store_id] = (stamp, dict(stored))
    return stored


@event.listens_for(TenantSession, "after_soft_rollback")
def _forget_after_rollback(session, previous_transaction) -> None:
    session.info.pop(_CACHE, None)


def put(key: str, value) -> None:
    if key not in DEFAULTS:
        raise KeyError(key)
    db.session.info.pop(_CACHE, None)
    row = db.session.get(StoreSetting, key)
    if row is None:
        db.session.add(StoreSetting(key=key, value=value))
    else:
        row.value = value
    db.session.flush()  # the write is this request's now: it reads the store's settings afresh (stamps)
