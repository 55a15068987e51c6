"""Notices for a store's staff: things that need attention (low stock, expiring licences).

A notice with a ``key`` is raised at most once while it is open: raising it again updates it
instead of piling up duplicates; resolving it lets it be raised again later.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from mallow.db import StoreModel, db, utcnow


class Notice(StoreModel):
    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(32), index=True)  # low_stock | qualification | …
    key: Mapped[str] = mapped_column(sa.String(80))  # e.g. "sku:12"
    message: Mapped[str] = mapped_column(sa.String(300))
    detail: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    created_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    resolved_at: Mapped[sa.DateTime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    #: set while open, NULL once resolved: a unique index keeps one open notice per key
    open_key: Mapped[str | None] = mapped_column(sa.String(120), unique=True, nullable=True)


def raise_notice(kind: str, key: str, message: str, detail: dict | None = None) -> Notice:
    open_key = f"{kind}:{key}"
    notice = db.session.execute(sa.select(Notice).where(Notice.open_key == open_key)).scalar_one_or_none()
    if notice is None:
        notice = Notice(kind=kind, key=key, message=message[:300], detail=detail or {}, open_key=open_key)
        db.session.add(notice)
    else:
        notice.message, notice.detail = message[:300], detail or {}
    return notice


def resolve(kind: str, key: str) -> None:
    db.session.execute(
        sa.update(Notice).where(Notice.open_key == f"{kind}:{key}").values(resolved_at=utcnow(), open_key=None)
    )


def is_open(kind: str, key: str) -> bool:
    return db.session.execute(sa.select(Notice.id).where(Notice.open_key == f"{kind}:{key}")).first() is not None


def open_notices(limit: int | None = 50, kind: str | None = None) -> list[Notice]:
    query = sa.select(Notice).where(Notice.open_key.is_not(None)).order_by(Notice.id.desc()).limit(limit)
    if kind is not None:
        query = query.where(Notice.kind == kind)
    return list(db.session.execute(query).scalars())
