"""Membership's part of a shopper's data rights (:mod:`mallow.privacy.sections`).

The export holds the member row (balance, growth, level, birthday) and the points ledger.
Deleting the account clears the birthday (the only personal datum here); the ledger rows keep no
personal data (kinds, points, order ids, the reasons Mallow or the merchant wrote) and stay, so
the store's points liability stays right. Registered by ``create_app``.
"""

from __future__ import annotations

import sqlalchemy as sa

from mallow.db import db
from mallow.membership.models import Member, MemberLevel, PointEntry

KEY = "membership"
#: ledger entries listed in the export (the newest; the count says how many there are in all)
EXPORT_LIMIT = 5000


def collect(customer) -> dict | None:
    member = db.session.get(Member, customer.id)
    total = db.session.execute(
        sa.select(sa.func.count(PointEntry.id)).where(PointEntry.customer_id == customer.id)
    ).scalar_one()
    if member is None and not total:
        return None
    level = db.session.get(MemberLevel, member.level_id) if member is not None and member.level_id else None
    rows = db.session.execute(
        sa.select(PointEntry)
        .where(PointEntry.customer_id == customer.id)
        .order_by(PointEntry.id.desc())
        .limit(EXPORT_LIMIT)
    ).scalars()
    return {
        "member": None
        if member is None
        else {
            "points": int(member.balance),
            "growth": int(member.growth),
            "level": level.name if level is not None else None,
            "birthday": member.birthday.isoformat() if member.birthday else None,
        },
        "count": int(total),
        "ledger": [
            {
                "at": entry.created_at.isoformat() if entry.created_at else None,
                "kind": entry.kind,
                "points": int(entry.points),
                "balance_after": int(entry.balance_after),
                "order_id": entry.order_id,
                "reason": entry.reason,
                "expires_at": entry.expires_at.isoformat() if entry.expires_at else None,
            }
            for entry in rows
        ],
    }


def erase(customer) -> int:
    """Clear the birthday; the number of rows changed."""
    changed = db.session.execute(
        sa.update(Member)
        .where(Member.customer_id == customer.id, Member.birthday.is_not(None))
        .values(birthday=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    return int(changed or 0)
