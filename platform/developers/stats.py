"""What a developer may know about the stores using their plugins: how many, never which."""

from __future__ import annotations

import sqlalchemy as sa

from mallow.db import db
from mallow.plugins.models import StorePlugin


def store_counts(names: list[str]) -> dict[str, int]:
    """``{plugin name: number of stores that have it enabled}`` (0 for the others)."""
    if not names:
        return {}
    rows = db.session.execute(
        sa.select(StorePlugin.name, sa.func.count(StorePlugin.id))
        .where(StorePlugin.name.in_(names), StorePlugin.enabled.is_(True))
        .group_by(StorePlugin.name)
    ).all()
    counts = dict.fromkeys(names, 0)
    counts.update({name: count for name, count in rows})
    return counts
