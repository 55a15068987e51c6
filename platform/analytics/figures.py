"""The dashboard's figures, from the orders and payments tables (money: integer fen) and from the
raw events (visitors, funnel, sources). Days are the store's local days (``BABEL_DEFAULT_TIMEZONE``).

* **GMV** of a window: the totals of orders paid in it, minus the refunds that succeeded in it
  (test orders, paid through the sandbox, never count);
* **orders**: orders paid in the window; **paying customers**: their distinct shoppers;
* **visitors**: distinct visitor ids of any event in the window;
* **funnel**: distinct visitors who viewed (a page or a product), added to the cart, placed an
  order, and whose order was paid (the visitor of the order's placing, joined by order id);
* **top products**: by the paid amount of their order lines; **sources**: visitors, orders and
  paid amount per traffic source (an order's source is the one it was placed from).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app

from mallow.analytics import models as m
from mallow.db import db
from mallow.orders.models import Order, OrderLine
from mallow.payments.models import Refund

PERIODS = (1, 7, 30)
TOP_PRODUCTS = 10


def zone() -> ZoneInfo:
    return ZoneInfo(current_app.config.get("BABEL_DEFAULT_TIMEZONE", "Asia/Shanghai"))


def today(now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(zone()).date()


def day_start(day: date) -> datetime:
    """The UTC moment the store's local ``day`` begins."""
    return datetime.combine(day, time(0), tzinfo=zone()).astimezone(UTC)


def local_day(moment: datetime) -> date:
    if moment.tzinfo is None:  # SQLite gives naive UTC back
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone()).date()


def window(days: int, last: date) -> tuple[datetime, datetime]:
    return day_start(last - timedelta(days=days - 1)), day_start(last + timedelta(days=1))


def _paid_orders(start: datetime, end: datetime):
    return sa.and_(Order.paid_at >= start, Order.paid_at < end, Order.is_test.is_(False))


def daily(days: int, last: date) -> list[dict]:
    """One row per local day of the window: GMV, paid orders, paying customers, visitors, page views."""
    start, end = window(days, last)
    rows = {last - timedelta(days=i): _empty_day() for i in range(days)}
    customers: dict[date, set] = {d: set() for d in rows}
    for paid_at, total, customer_id in db.session.execute(
        sa.select(Order.paid_at, Order.total, Order.customer_id).where(_paid_orders(start, end))
    ):
        day = local_day(paid_at)
        rows[day]["gmv"] += int(total)
        rows[day]["orders"] += 1
        customers[day].add(customer_id)
    for finished_at, amount in db.session.execute(
        sa.select(Refund.finished_at, Refund.amount)
        .join(Order, Order.id == Refund.order_id)
        .where(
            Refund.status == "succeeded",
            Refund.finished_at >= start,
            Refund.finished_at < end,
            Order.is_test.is_(False),
        )
    ):
        rows[local_day(finished_at)]["gmv"] -= int(amount)
    visitors: dict[date, set] = {d: set() for d in rows}
    E = m.AnalyticsEvent
    for at, kind, visitor in db.session.execute(sa.select(E.at, E.kind, E.visitor).where(E.at >= start, E.at < end)):
        day = local_day(at)
        visitors[day].add(visitor)
        if kind == m.PAGE_VIEW:
            rows[day]["page_views"] += 1
    for day, row in rows.items():
        row["customers"], row["visitors"] = len(customers[day]), len(visitors[day])
    return [{"day": day.isoformat(), **rows[day]} for day in sorted(rows)]


def _empty_day() -> dict:
    return {"gmv": 0, "orders": 0, "customers": 0, "visitors": 0, "page_views": 0}


def period(days: int, last: date) -> dict:
    """The figures of the ``days`` local days ending with ``last``."""
    start, end = window(days, last)
    E = m.AnalyticsEvent
    paid = db.session.execute(
        sa.select(
            sa.func.coalesce(sa.func.sum(Order.total), 0),
            sa.func.count(),
            sa.func.count(sa.distinct(Order.customer_id)),
        ).where(_paid_orders(start, end))
    ).one()
    refunded = db.session.execute(
        sa.select(sa.func.coalesce(sa.func.sum(Refund.amount), 0))
        .join(Order, Order.id == Refund.order_id)
        .where(
            Refund.status == "succeeded",
            Refund.finished_at >= start,
            Refund.finished_at < end,
            Order.is_test.is_(False),
        )
    ).scalar_one()
    visitors: set[str] = set()
    viewers: set[str] = set()
    carters: set[str] = set()
    ordered: dict[int, tuple[str, int]] = {}  # order id -> (visitor, source)
    paid_orders: dict[int, int] = {}  # order id -> amount
    by_source: dict[int, dict] = {}
    for kind, visitor, source, order_id, amount in db.session.execute(
        sa.select(E.kind, E.visitor, E.source, E.order_id, E.amount).where(E.at >= start, E.at < end)
    ):
        visitors.add(visitor)
        if kind in (m.PAGE_VIEW, m.PRODUCT_VIEW):
            viewers.add(visitor)
            by_source.setdefault(source, {"visitors": set(), "orders": 0, "paid_amount": 0})["visitors"].add(visitor)
        elif kind == m.ADD_TO_CART:
            carters.add(visitor)
        elif kind == m.ORDER_PLACED and order_id is not None:
            ordered[order_id] = (visitor, source)
        elif kind == m.PAYMENT and order_id is not None:
            paid_orders[order_id] = int(amount or 0)
    payers = {ordered[o][0] for o in paid_orders if o in ordered}
    for order_id, (_visitor, source) in ordered.items():
        entry = by_source.setdefault(source, {"visitors": set(), "orders": 0, "paid_amount": 0})
        entry["orders"] += 1
        entry["paid_amount"] += paid_orders.get(order_id, 0)
    sources = [
        {"source": m.SOURCES[s], "visitors": len(e["visitors"]), "orders": e["orders"], "paid_amount": e["paid_amount"]}
        for s, e in sorted(by_source.items())
    ]
    return {
        "days": days,
        "from": (last - timedelta(days=days - 1)).isoformat(),
        "to": last.isoformat(),
        "gmv": int(paid[0]) - int(refunded),
        "paid_total": int(paid[0]),
        "refunded": int(refunded),
        "orders": int(paid[1]),
        "customers": int(paid[2]),
        "visitors": len(visitors),
        "funnel": {
            "viewed": len(viewers),
            "carted": len(carters),
            "ordered": len({v for v, _s in ordered.values()}),
            "paid": len(payers),
        },
        "top_products": top_products(start, end),
        "sources": sources,
    }


def top_products(start: datetime, end: datetime, limit: int = TOP_PRODUCTS) -> list[dict]:
    amount = sa.func.sum(OrderLine.total).label("amount")
    found = db.session.execute(
        sa.select(OrderLine.product_id, sa.func.max(OrderLine.title), amount, sa.func.sum(OrderLine.quantity))
        .join(Order, Order.id == OrderLine.order_id)
        .where(_paid_orders(start, end))
        .group_by(OrderLine.product_id)
        .order_by(amount.desc(), OrderLine.product_id)
        .limit(limit)
    )
    return [{"product_id": p, "title": t, "paid_amount": int(a), "units": int(u)} for p, t, a, u in found]


def rates(funnel: dict) -> dict:
    """Step conversion in per mille (integer: 1000 = 100 %) of each step from the one before."""
    steps = ("viewed", "carted", "ordered", "paid")
    out = {}
    for before, step in zip(steps, steps[1:], strict=False):
        out[step] = funnel[step] * 1000 // funnel[before] if funnel[before] else 0
    return out
