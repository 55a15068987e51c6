"""The audit log: who did what, to which store, when, from where."""

from __future__ import annotations

import sqlalchemy as sa
from flask import has_request_context, request
from sqlalchemy.orm import Mapped, mapped_column

from mallow.db import PlatformModel, db, utcnow


class AuditEntry(PlatformModel):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, index=True)
    actor_kind: Mapped[str] = mapped_column(sa.String(16))  # admin | merchant | shopper | system | anonymous
    actor_id: Mapped[int | None] = mapped_column(nullable=True)
    store_id: Mapped[int | None] = mapped_column(nullable=True, index=True)
    action: Mapped[str] = mapped_column(sa.String(64), index=True)
    target: Mapped[str | None] = mapped_column(sa.String(120), nullable=True)
    detail: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    ip: Mapped[str | None] = mapped_column(sa.String(45), nullable=True)


def record(
    action: str,
    *,
    actor=None,
    store_id: int | None = None,
    target: str | None = None,
    detail: dict | None = None,
    commit: bool = False,
) -> AuditEntry:
    """Add an audit entry to the current session (committed with the change it describes)."""
    entry = AuditEntry(
        actor_kind=getattr(actor, "kind", None) or ("system" if actor is None else str(actor)),
        actor_id=getattr(actor, "id", None),
        store_id=store_id,
        action=action,
        target=target,
        detail=detail or {},
        ip=request.remote_addr if has_request_context() else None,
    )
    db.session.add(entry)
    if commit:
        db.session.commit()
    return entry


def record_denial(reason: str, *, actor=None, store_id: int | None = None) -> None:
    """Log a refused access and commit it at once (guards run before a view changes anything)."""
    path = request.path if has_request_context() else None
    record("access.denied", actor=actor, store_id=store_id, target=path, detail={"reason": reason}, commit=True)
