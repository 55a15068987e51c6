"""Findings: a flagged term in one field of one merchant object (a product, a page).

One platform table for every store (so the admin's queue is one query); every merchant query
names the active store. States (``FINDING_STATES``)::

    open ──► accepted                    the merchant agrees (and will reword)
      └────► appealed ──► upheld         the platform keeps the finding: the term now blocks saves
                     └──► overturned     the platform allows it (trademark, verifiable fact …)
    any ───► cleared                     the text no longer contains the term

Every move is one conditional UPDATE (``… WHERE status IN (allowed sources)``), so a double
click or two admins deciding at once change the row once; each move is in the audit log.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import Mapped, mapped_column

from mallow import audit
from mallow.compliance.terms import reason_text
from mallow.db import PlatformModel, db, utcnow
from mallow.notices import raise_notice, resolve
from mallow.statemachine import InvalidTransition, StateMachine
from mallow.tenants.context import current_store
from mallow.validation import ValidationFailed

FINDING_STATES = StateMachine(
    "compliance_finding",
    {
        "open": {"accepted", "appealed", "cleared"},
        "accepted": {"cleared"},
        "appealed": {"upheld", "overturned", "cleared"},
        "upheld": {"cleared"},
        "overturned": {"cleared"},
        "cleared": set(),
    },
)
LIVE_STATES = tuple(s for s in FINDING_STATES.states if s != "cleared")
APPEAL_MAX = 500
EXCERPT = 15  # characters shown either side of the match


class Finding(PlatformModel):
    __tablename__ = "compliance_findings"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(sa.ForeignKey("stores.id", ondelete="CASCADE"))
    object_kind: Mapped[str] = mapped_column(sa.String(16))  # product | page
    object_id: Mapped[int] = mapped_column()
    object_label: Mapped[str] = mapped_column(sa.String(120), default="")
    field: Mapped[str] = mapped_column(sa.String(200))
    term: Mapped[str] = mapped_column(sa.String(40))
    kind: Mapped[str] = mapped_column(sa.String(20))
    reason: Mapped[str] = mapped_column(sa.String(200), default="")  # the term's own reason, if any
    matched: Mapped[str] = mapped_column(sa.String(120))  # as written (國 家 級)
    position: Mapped[int] = mapped_column()  # in the field's text
    before: Mapped[str] = mapped_column(sa.String(40), default="")
    after: Mapped[str] = mapped_column(sa.String(40), default="")
    status: Mapped[str] = mapped_column(sa.String(12), default="open", index=True)
    appeal_reason: Mapped[str | None] = mapped_column(sa.String(APPEAL_MAX), nullable=True)
    decision_reason: Mapped[str | None] = mapped_column(sa.String(APPEAL_MAX), nullable=True)
    decided_by: Mapped[int | None] = mapped_column(nullable=True)
    created_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    __table_args__ = (
        sa.Index("ix_compliance_findings_object", "store_id", "object_kind", "object_id"),
        sa.CheckConstraint(f"status IN {FINDING_STATES.states!r}", name="status"),
    )

    @property
    def reason_text(self) -> str:
        return reason_text(self.kind, self.reason)


def excerpt(text: str, start: int, end: int) -> tuple[str, str]:
    before = text[max(0, start - EXCERPT) : start]
    after = text[end : end + EXCERPT]
    return ("…" + before if start > EXCERPT else before), (after + "…" if end + EXCERPT < len(text) else after)


def live_findings(store_id: int, object_kind: str, object_id: int) -> list[Finding]:
    return list(
        db.session.execute(
            sa.select(Finding)
            .where(
                Finding.store_id == store_id,
                Finding.object_kind == object_kind,
                Finding.object_id == object_id,
                Finding.status.in_(LIVE_STATES),
            )
            .order_by(Finding.id)
        ).scalars()
    )


def store_findings(store_id: int, status: str | None = None, limit: int = 500) -> list[Finding]:
    query = sa.select(Finding).where(Finding.store_id == store_id)
    if status:
        query = query.where(Finding.status == status)
    return list(db.session.execute(query.order_by(Finding.id.desc()).limit(limit)).scalars())


def review_queue(status: str | None = "appealed", limit: int = 500) -> list[Finding]:
    query = sa.select(Finding)
    if status:
        query = query.where(Finding.status == status)
    return list(db.session.execute(query.order_by(Finding.id).limit(limit)).scalars())


def store_finding(store_id: int, finding_id) -> Finding | None:
    """A finding of this store only (another store's id is "not found")."""
    try:
        finding = db.session.get(Finding, int(finding_id))
    except (TypeError, ValueError):
        return None
    return finding if finding is not None and finding.store_id == store_id else None


def move(finding: Finding, target: str, **values) -> None:
    """One conditional UPDATE; ``InvalidTransition`` when the finding was elsewhere already."""
    sources = [s for s in FINDING_STATES.states if FINDING_STATES.can(s, target)]
    moved = db.session.execute(
        sa.update(Finding)
        .where(Finding.id == finding.id, Finding.status.in_(sources))
        .values(status=target, updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    current = finding.status
    db.session.refresh(finding)
    if moved.rowcount != 1:
        raise InvalidTransition(FINDING_STATES.name, finding.status or current, target)


def _reason(raw, field: str, required: bool = True) -> str:
    reason = str(raw or "").strip()
    if required and not reason:
        raise ValidationFailed({field: ("required", _("Required."))})
    if len(reason) > APPEAL_MAX:
        raise ValidationFailed({field: ("too_long", _("Use at most %(max)s characters.", max=APPEAL_MAX))})
    return reason


def _audit(finding: Finding, action: str, actor, **detail) -> None:
    audit.record(
        f"compliance.finding_{action}",
        actor=actor,
        store_id=finding.store_id,
        target=f"compliance_finding:{finding.id}",
        detail={
            "term": finding.term,
            "object": f"{finding.object_kind}:{finding.object_id}",
            "field": finding.field,
            **detail,
        },
    )


def accept(finding: Finding, merchant) -> None:
    move(finding, "accepted")
    _audit(finding, "accepted", merchant)
    sync_notice(finding.object_kind, finding.object_id, finding.object_label)
    db.session.commit()


def appeal(finding: Finding, merchant, reason, field: str = "appeal_reason") -> None:
    reason = _reason(reason, field)
    move(finding, "appealed", appeal_reason=reason)
    _audit(finding, "appealed", merchant, reason=reason)
    sync_notice(finding.object_kind, finding.object_id, finding.object_label)
    db.session.commit()


def decide(finding: Finding, admin, outcome: str, reason, field: str = "reason") -> None:
    """``outcome``: ``upheld`` or ``overturned`` (an appealed finding only)."""
    if outcome not in ("upheld", "overturned"):
        raise ValueError(outcome)
    reason = _reason(reason, field)
    if finding.status != "appealed":
        raise InvalidTransition(FINDING_STATES.name, finding.status, outcome)
    move(finding, outcome, decision_reason=reason, decided_by=admin.id)
    _audit(finding, outcome, admin, reason=reason)
    db.session.commit()


def sync_notice(object_kind: str, object_id: int, label: str) -> None:
    """One store notice per object while it has open findings (resolved when none is left)."""
    key = f"{object_kind}:{object_id}"
    terms = [f.term for f in live_findings(current_store().id, object_kind, object_id) if f.status == "open"]
    if not terms:
        resolve("compliance", key)
        return
    raise_notice(
        "compliance",
        key,
        _("“%(title)s” has wording to review: %(terms)s.", title=label, terms="、".join(dict.fromkeys(terms))),
        detail={"object_kind": object_kind, "object_id": object_id},
    )
