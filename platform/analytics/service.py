"""What the console and the API ask: today's figures (live: one day is cheap), the heavy ones
(7 and 30 complete days, RFM) from the cache the jobs fill, the daily rollup and the pruning."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from mallow.analytics import figures, rfm
from mallow.analytics import models as m
from mallow.db import db
from mallow.orders.models import Order, OrderLine
from mallow.tenants.context import current_store

HEAVY = "heavy"


def heavy(as_of: date) -> dict:
    """The figures of the complete days before ``as_of`` (7 and 30 days, daily rows, RFM)."""
    last = as_of - timedelta(days=1)
    customers = rfm.customers(last)
    return {
        "as_of": as_of.isoformat(),
        "periods": {str(days): figures.period(days, last) for days in (7, 30)},
        "daily": figures.daily(30, last),
        "rfm": {"counts": rfm.counts(customers), "customers": customers},
    }


def cached_heavy(as_of: date, compute: bool = True) -> dict | None:
    """The cached heavy figures of ``as_of`` (computed and kept now when missing and ``compute``:
    the job usually did it already)."""
    key = f"{HEAVY}:{as_of.isoformat()}"
    found = db.session.get(m.CachedFigures, key)
    if found is not None:
        return found.data
    if not compute:
        return None
    return compute_heavy(as_of)


def compute_heavy(as_of: date) -> dict:
    data = heavy(as_of)
    key = f"{HEAVY}:{as_of.isoformat()}"
    row = db.session.get(m.CachedFigures, key)
    if row is None:
        db.session.add(m.CachedFigures(key=key, day=as_of, data=data))
    else:
        row.data, row.computed_at = data, datetime.now(UTC)
    db.session.commit()
    return data


def analytics(as_of: date | None = None) -> dict:
    """Everything the 概况 page and ``getStoreAnalytics`` show (personal data left out)."""
    as_of = as_of or figures.today()
    data = dict(cached_heavy(as_of))
    data["rfm"] = {"counts": data["rfm"]["counts"]}
    data["today"] = figures.period(1, as_of)
    return data


def segment_customers(segment: str, as_of: date | None = None) -> list[dict]:
    as_of = as_of or figures.today()
    return [row for row in cached_heavy(as_of)["rfm"]["customers"] if row["segment"] == segment]


# --- the daily rollup (a job) -----------------------------------------------------------------


def rollup(day: date) -> dict:
    """(Re)write the rollups of the local ``day``: per product (views, visitors, carts, paid
    units and amount) and per source (visitors, orders, paid amount)."""
    start, end = figures.window(1, day)
    E = m.AnalyticsEvent
    products: dict[int, dict] = {}
    product_visitors: dict[int, set] = {}
    sku_carts: dict[int, int] = {}
    for kind, visitor, product_id, sku_id in db.session.execute(
        sa.select(E.kind, E.visitor, E.product_id, E.sku_id).where(
            E.at >= start, E.at < end, E.kind.in_((m.PRODUCT_VIEW, m.ADD_TO_CART))
        )
    ):
        if kind == m.PRODUCT_VIEW and product_id is not None:
            products.setdefault(product_id, _product_row())["views"] += 1
            product_visitors.setdefault(product_id, set()).add(visitor)
        elif kind == m.ADD_TO_CART and sku_id is not None:
            sku_carts[sku_id] = sku_carts.get(sku_id, 0) + 1
    if sku_carts:
        from mallow.catalog.models import Sku

        for sku_id, product_id in db.session.execute(sa.select(Sku.id, Sku.product_id).where(Sku.id.in_(sku_carts))):
            products.setdefault(product_id, _product_row())["carts"] += sku_carts[sku_id]
    for product_id, units, amount in db.session.execute(
        sa.select(OrderLine.product_id, sa.func.sum(OrderLine.quantity), sa.func.sum(OrderLine.total))
        .join(Order, Order.id == OrderLine.order_id)
        .where(Order.paid_at >= start, Order.paid_at < end, Order.is_test.is_(False))
        .group_by(OrderLine.product_id)
    ):
        entry = products.setdefault(product_id, _product_row())
        entry["paid_units"], entry["paid_amount"] = int(units), int(amount)
    for product_id, seen in product_visitors.items():
        products[product_id]["visitors"] = len(seen)
    sources = figures.period(1, day)["sources"]
    codes = {name: code for code, name in m.SOURCES.items()}
    db.session.execute(sa.delete(m.DailyProduct).where(m.DailyProduct.day == day))
    db.session.execute(sa.delete(m.DailySource).where(m.DailySource.day == day))
    db.session.add_all(m.DailyProduct(day=day, product_id=p, **row) for p, row in products.items())
    db.session.add_all(
        m.DailySource(
            day=day, source=codes[s["source"]], visitors=s["visitors"], orders=s["orders"], paid_amount=s["paid_amount"]
        )
        for s in sources
    )
    return {"products": len(products), "sources": len(sources)}


def _product_row() -> dict:
    return {"views": 0, "visitors": 0, "carts": 0, "paid_units": 0, "paid_amount": 0}


def daily_sweep(now: datetime) -> dict:
    """The hourly sweep: roll up yesterday (and the day before, for late events), prune raw events
    older than :data:`~mallow.analytics.models.KEEP_DAYS`, drop the cache of earlier days
    (the rollup invalidates it) and compute today's heavy figures."""
    as_of = figures.today(now)
    done = {}
    for back in (2, 1):
        day = as_of - timedelta(days=back)
        done[day.isoformat()] = rollup(day)
    pruned = db.session.execute(
        sa.delete(m.AnalyticsEvent).where(m.AnalyticsEvent.at < figures.day_start(as_of - timedelta(days=m.KEEP_DAYS)))
    ).rowcount
    db.session.execute(sa.delete(m.CachedFigures).where(m.CachedFigures.day < as_of))
    db.session.commit()
    if db.session.get(m.CachedFigures, f"{HEAVY}:{as_of.isoformat()}") is None:
        compute_heavy(as_of)
    return {"rolled_up": done, "pruned": pruned, "store": current_store().id if current_store() else None}


def queue_compute(as_of: date) -> None:
    current_app.extensions["mallow.jobs"].enqueue(
        "analytics.compute", store_id=current_store().id, day=as_of.isoformat()
    )
