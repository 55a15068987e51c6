"""Analytics' part of a shopper's data rights (:mod:`mallow.privacy.sections`).

The export holds the storefront events recorded as the shopper's (signed in, or on a browser they
later signed in on). Deleting the account **anonymises** them, which keeps the store's figures
(views, funnel, sources) right: their ``customer_id`` is cleared and every visitor id the shopper
was seen with (``c<id>`` and the ``mallow_v`` cookies of the browsers they signed in on) becomes
one new random pseudonym that nothing links back to them. Registered by ``create_app``.

Events still in a process's buffer when the account is deleted are written with the tombstone
customer's id (no name, no phone): nothing personal is left in them.
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa

from mallow.analytics.models import AnalyticsEvent
from mallow.db import db

KEY = "analytics"
#: events listed in the export (the newest; the count says how many there are in all)
EXPORT_LIMIT = 5000


def _visitors(customer_id: int):
    return (
        sa.select(AnalyticsEvent.visitor).where(AnalyticsEvent.customer_id == customer_id).distinct().scalar_subquery()
    )


def collect(customer) -> dict | None:
    mine = sa.or_(AnalyticsEvent.customer_id == customer.id, AnalyticsEvent.visitor.in_(_visitors(customer.id)))
    total = db.session.execute(sa.select(sa.func.count()).select_from(AnalyticsEvent).where(mine)).scalar_one()
    if not total:
        return None
    rows = db.session.execute(
        sa.select(AnalyticsEvent).where(mine).order_by(AnalyticsEvent.id.desc()).limit(EXPORT_LIMIT)
    ).scalars()
    return {
        "count": total,
        "events": [
            {
                "at": event.at.isoformat() if event.at else None,
                "kind": event.kind,
                "path": event.path,
                "product_id": event.product_id,
                "order_id": event.order_id,
            }
            for event in rows
        ],
    }


def erase(customer) -> int:
    """Anonymise the shopper's events (see the module); the number of events changed."""
    pseudonym = "x" + secrets.token_hex(12)
    visitors = [
        row[0]
        for row in db.session.execute(
            sa.select(AnalyticsEvent.visitor).where(AnalyticsEvent.customer_id == customer.id).distinct()
        )
    ]
    mine = AnalyticsEvent.customer_id == customer.id
    if visitors:
        mine = sa.or_(mine, AnalyticsEvent.visitor.in_(visitors))
    changed = db.session.execute(
        sa.update(AnalyticsEvent).where(mine).values(customer_id=None, visitor=pseudonym)
    ).rowcount
    return changed or 0
