"""RFM segments of a store's paying customers (paid, non-test orders; refunds taken off).

Per customer: **R**ecency (days since the last paid order), **F**requency (paid orders) and
**M**onetary (amount paid minus refunded, fen). Each becomes a score 1–5 by quintiles among
the store's customers: ``score = 1 + 5 × (customers strictly worse) // n`` (deterministic, equal
values get equal scores; a smaller recency is better). Segments, first match wins:

==============  ==========================================
``valuable``    重要价值: R ≥ 3, F ≥ 3, M ≥ 3
``win_back``    重要唤回: R < 3, F ≥ 3, M ≥ 3
``new``         新客: R ≥ 3 and exactly one order
``promising``   潜力: R ≥ 3 (the other recent customers)
``lost``        流失: R < 3 (the others)
==============  ==========================================
"""

from __future__ import annotations

from bisect import bisect_left
from datetime import date, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from mallow.analytics.figures import day_start, local_day
from mallow.db import db
from mallow.orders.models import Order

SEGMENTS = ("valuable", "win_back", "new", "promising", "lost")
SEGMENT_LABELS = {
    "valuable": _l("Important value"),
    "win_back": _l("Important win-back"),
    "new": _l("New customers"),
    "promising": _l("Promising"),
    "lost": _l("Lost"),
}
HIGH = 3


def _scores(values: list[int], better_is_smaller: bool = False) -> list[int]:
    ordered = sorted(-v if better_is_smaller else v for v in values)
    n = len(values)
    return [1 + 5 * bisect_left(ordered, -v if better_is_smaller else v) // n for v in values]


def segment_of(r: int, f: int, mscore: int, orders: int) -> str:
    if r >= HIGH and f >= HIGH and mscore >= HIGH:
        return "valuable"
    if r < HIGH and f >= HIGH and mscore >= HIGH:
        return "win_back"
    if r >= HIGH and orders == 1:
        return "new"
    return "promising" if r >= HIGH else "lost"


def customers(as_of: date) -> list[dict]:
    """Every paying customer with recency, frequency, monetary, scores and segment (by id)."""
    found = db.session.execute(
        sa.select(
            Order.customer_id,
            sa.func.max(Order.paid_at),
            sa.func.count(),
            sa.func.sum(Order.total - Order.refunded_total),
        )
        .where(
            Order.paid_at.is_not(None), Order.paid_at < day_start(as_of + timedelta(days=1)), Order.is_test.is_(False)
        )
        .group_by(Order.customer_id)
        .order_by(Order.customer_id)
    ).all()
    if not found:
        return []
    recency = [(as_of - local_day(last)).days for _c, last, _f, _m in found]
    frequency = [int(f) for _c, _l, f, _m in found]
    monetary = [int(mv) for _c, _l, _f, mv in found]
    r_scores, f_scores, m_scores = _scores(recency, True), _scores(frequency), _scores(monetary)
    out = []
    for i, (customer_id, last, _f, _m) in enumerate(found):
        out.append(
            {
                "customer_id": customer_id,
                "last_paid": local_day(last).isoformat(),
                "recency_days": recency[i],
                "orders": frequency[i],
                "amount": monetary[i],
                "r": r_scores[i],
                "f": f_scores[i],
                "m": m_scores[i],
                "segment": segment_of(r_scores[i], f_scores[i], m_scores[i], frequency[i]),
            }
        )
    return out


def counts(rows: list[dict]) -> dict[str, int]:
    out = dict.fromkeys(SEGMENTS, 0)
    for row in rows:
        out[row["segment"]] += 1
    return out
