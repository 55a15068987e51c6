"""Becoming a distributor: apply (free, no purchase needed), the merchant approves or rejects
(or the store auto-approves), grades assigned by the merchant only."""

from __future__ import annotations

import secrets
from datetime import datetime, UTC

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from mallow.sdk import Errors, ValidationFailed, current_store, db, form_text, id_value, record_audit
from mallow_distribution import rules
from mallow_distribution.i18n import _
from mallow_distribution.models import Distributor, Grade

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud and typed by hand


class DistributionProblem(Exception):
    """A request that cannot be done now: ``code``, ``message``, HTTP ``status``."""

    def __init__(self, code: str, message: str, status: int = 409):
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status = code, message, status


def _now() -> datetime:
    return datetime.now(UTC)


def _store_id() -> int:
    return current_store().id


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))


def of_customer(customer_id: int) -> Distributor | None:
    return db.session.execute(sa.select(Distributor).where(Distributor.customer_id == customer_id)).scalar_one_or_none()


def apply(customer, data) -> Distributor:
    """A shopper applies. Nothing to pay and nothing to buy: only the agreement to the terms."""
    errors = Errors()
    note = form_text(data, "note", 201)
    if len(note) > 200:
        errors.add("note", "too_long", _("Use at most %(max)s characters.", max=200))
    agreed = data.get("agree") if hasattr(data, "get") else None
    if agreed not in (True, "1", "on", "true", "yes"):
        errors.add("agree", "required", _("Read and accept the distributor terms."))
    errors.raise_if_any()
    auto = bool(rules.settings().get("auto_approve"))
    distributor = of_customer(customer.id)
    if distributor is not None:
        if distributor.status in ("pending", "approved"):
            return distributor
        if distributor.status == "suspended":
            raise DistributionProblem("suspended", _("Your distributor account is suspended. Contact the store."))
        distributor.status, distributor.note, distributor.reason = "pending", note, ""
        distributor.applied_at, distributor.decided_at, distributor.decided_by = _now(), None, ""
    else:
        distributor = Distributor(customer_id=customer.id, note=note, status="pending")
        for _attempt in range(5):
            distributor.code = new_code()
            taken = sa.select(Distributor.id).where(Distributor.code == distributor.code)
            if db.session.execute(taken).first() is None:
                break
        db.session.add(distributor)
    try:
        db.session.flush()
    except IntegrityError:  # a double click: the other request created it
        db.session.rollback()
        existing = of_customer(customer.id)
        if existing is None:
            raise
        return existing
    if auto:
        distributor.status, distributor.decided_at, distributor.decided_by = "approved", _now(), "system"
        record_audit(
            "distribution.distributor_approved",
            actor=None,
            store_id=_store_id(),
            target=f"distributor:{distributor.id}",
            detail={"auto": True},
        )
    db.session.commit()
    return distributor


def decide(distributor: Distributor, staff_actor, approve: bool, reason: str = "") -> Distributor:
    """The merchant approves or rejects an application, or suspends / reinstates a distributor."""
    reason = (reason or "").strip()[:200]
    if approve:
        allowed, target = ("pending", "rejected", "suspended"), "approved"
    else:
        if not reason:
            raise ValidationFailed({"reason": ("required", _("Give the reason: the shopper will see it."))})
        allowed = ("pending", "approved")
        target = "rejected" if distributor.status == "pending" else "suspended"
    if distributor.status not in allowed:
        raise DistributionProblem("not_allowed", _("This distributor cannot be changed that way now."))
    before = distributor.status
    moved = db.session.execute(
        sa.update(Distributor)
        .where(Distributor.id == distributor.id, Distributor.status == before)
        .values(
            status=target,
            reason="" if approve else reason,
            decided_at=_now(),
            decided_by=f"staff:{getattr(staff_actor, 'id', '')}",
        )
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:
        db.session.rollback()
        raise DistributionProblem(
            "changed", _("Someone else changed this distributor a moment ago. Reload and try again.")
        )
    record_audit(
        f"distribution.distributor_{target}",
        actor=staff_actor,
        store_id=_store_id(),
        target=f"distributor:{distributor.id}",
        detail={"from": before, "to": target, "reason": reason},
    )
    db.session.commit()
    db.session.refresh(distributor)
    return distributor


def assign_grade(distributor: Distributor, grade_id, staff_actor) -> Distributor:
    """The merchant puts a distributor in a grade (or none). Grades never follow headcount."""
    grade = None
    if grade_id not in (None, "", 0, "0"):
        grade = db.session.get(Grade, id_value(grade_id)) if id_value(grade_id) else None
        if grade is None:
            raise ValidationFailed({"grade_id": ("invalid", _("Choose a grade."))})
    before = distributor.grade_id
    distributor.grade_id = grade.id if grade else None
    record_audit(
        "distribution.grade_assigned",
        actor=staff_actor,
        store_id=_store_id(),
        target=f"distributor:{distributor.id}",
        detail={"from": before, "to": distributor.grade_id},
    )
    db.session.commit()
    return distributor
