"""After-sales: the shopper asks, the merchant decides, the money goes back through the provider.

* :func:`request` -- refund-only or return-and-refund, with a reason and up to six photos, on a
  paid, shipped or delivered (or completed) order; once delivered, only within
  ``aftersale_window_days`` of delivery. Return-and-refund needs goods that were shipped. One open
  request per order; the amount (default: all that is left) never exceeds what can still be
  refunded.
* :func:`decide` -- the merchant approves or rejects (a rejection needs a reason). Approving a
  refund-only request refunds at once; a return-and-refund waits for the goods:
  :func:`ship_return` (shopper: carrier and tracking number), then :func:`confirm_return`
  (merchant: the goods are back, their stock returns through ``inventory.stock.release`` with
  reason ``return``, and the refund is made).
* :func:`auto_approve` -- refund-only requests the merchant leaves alone for
  ``refund_auto_approve_hours`` are approved by the system (periodic job, see :mod:`.jobs`).
* The refund's success (notification or query) moves the request to ``refunded``
  (:func:`refund_succeeded`).
* :func:`repair_refunds` -- the same sweep makes the refund of an approved refund-only (or a
  returned) request that has none, when a crash or an outage came between the two steps; the
  refund is made once per request (:func:`_refund` checks under the order's lock).

Every step writes an :class:`~mallow.orders.models.OrderEvent`; every state change is one
conditional UPDATE, so a double click or a race with the timer changes things once.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, UTC

import sqlalchemy as sa
from flask_babel import gettext as _

from mallow import settings
from mallow.aftersales.models import AFTERSALE_STATES, OPEN_STATES, AfterSale
from mallow.db import db
from mallow.inventory import stock
from mallow.media.image_checks import ImageRejected, rejection_message
from mallow.media.images import store_image
from mallow.orders.models import Order, OrderEvent
from mallow.payments import refunds as payments
from mallow.payments.attempts import lock_order
from mallow.payments.models import Refund
from mallow.statemachine import InvalidTransition
from mallow.tenants.context import current_store
from mallow.validation import Errors, ValidationFailed, text

KINDS = ("refund_only", "return_refund")
ELIGIBLE_ORDER_STATES = ("paid", "shipped", "delivered", "completed")
MAX_PHOTOS = 6


class AfterSaleProblem(Exception):
    """The request cannot be made or moved: ``code``, ``message``, HTTP ``status``."""

    def __init__(self, code: str, message: str, status: int = 409):
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status = code, message, status


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(moment):
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def _event(order_id: int, kind: str, actor: str, detail: dict) -> None:
    db.session.add(OrderEvent(order_id=order_id, kind=kind, actor=actor, detail=detail))


def _move(aftersale: AfterSale, target: str, **values) -> bool:
    """One conditional UPDATE; False (nothing changed) when another actor moved it first."""
    sources = [s for s in AFTERSALE_STATES.states if AFTERSALE_STATES.can(s, target)]
    result = db.session.execute(
        sa.update(AfterSale)
        .where(AfterSale.id == aftersale.id, AfterSale.status.in_(sources))
        .values(status=target, **values)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(aftersale)
    return result.rowcount == 1


def _move_or_raise(aftersale: AfterSale, target: str, **values) -> None:
    AFTERSALE_STATES.check(aftersale.status, target)
    if not _move(aftersale, target, **values):
        AFTERSALE_STATES.check(aftersale.status, target)  # raises with the state it moved to
        raise InvalidTransition("aftersale", aftersale.status, target)


def _parse_amount(raw, errors: Errors) -> int | None:
    """Optional amount in fen: an integer (JSON) or a string of digits (form)."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and re.fullmatch(r"[0-9]{1,12}", raw.strip()):
        return int(raw.strip())
    errors.add("amount", "invalid", _("Enter the amount in fen as a whole number."))
    return None


def _photo_files(files) -> list:
    if files is None:
        return []
    found = files.getlist("photos") if hasattr(files, "getlist") else list(files)
    return [f for f in found if getattr(f, "filename", None)]


def request(customer, order: Order, data, files=None) -> AfterSale:
    """The shopper asks for a refund. Raises ValidationFailed (fields), AfterSaleProblem."""
    errors = Errors()
    kind = text(data, "kind", 20)
    if kind not in KINDS:
        errors.add("kind", "invalid", _("Choose refund only or return and refund."))
    reason = text(data, "reason", 201)
    if not reason:
        errors.add("reason", "required", _("Tell the store why you want a refund."))
    elif len(reason) > 200:
        errors.add("reason", "too_long", _("Use at most %(max)s characters.", max=200))
    amount = _parse_amount(data.get("amount") if hasattr(data, "get") else None, errors)
    photos = _photo_files(files)
    if len(photos) > MAX_PHOTOS:
        errors.add("photos", "too_many", _("Add at most %(max)s photos.", max=MAX_PHOTOS))
    errors.raise_if_any()

    if order.status not in ELIGIBLE_ORDER_STATES:
        raise AfterSaleProblem("not_eligible", _("This order cannot have an after-sales request."))
    if order.status in ("delivered", "completed"):
        window = timedelta(days=int(settings.get("aftersale_window_days")))
        if order.delivered_at is None or _aware(order.delivered_at) + window < _now():
            raise AfterSaleProblem("window_over", _("The time for after-sales requests on this order is over."))
    if kind == "return_refund" and order.status == "paid":
        raise AfterSaleProblem("not_shipped", _("Nothing was shipped yet: ask for a refund only."), 422)

    lock_order(order)
    open_request = db.session.execute(
        sa.select(AfterSale.id).where(AfterSale.order_id == order.id, AfterSale.status.in_(OPEN_STATES))
    ).first()
    if open_request is not None:
        db.session.rollback()
        raise AfterSaleProblem("already_open", _("This order has an after-sales request in progress."))
    left = payments.refundable(order)
    if left <= 0:
        db.session.rollback()
        raise AfterSaleProblem("nothing_to_refund", _("Nothing is left to refund on this order."))
    if amount is None:
        amount = left
    if not 0 < amount <= left:
        db.session.rollback()
        raise ValidationFailed({"amount": ("out_of_range", _("Enter an amount from 1 to %(max)s fen.", max=left))})

    stored = []
    for photo in photos:
        try:
            stored.append(store_image(photo, f"stores/{current_store().id}/aftersales").path)
        except ImageRejected as rejected:
            db.session.rollback()
            raise ValidationFailed({"photos": (rejected.code, rejection_message(rejected.code))}) from None
    now = _now()
    aftersale = AfterSale(
        order_id=order.id,
        customer_id=customer.id,
        kind=kind,
        status="requested",
        amount=amount,
        reason=reason,
        photos=stored,
        created_at=now,
        decide_by=now + timedelta(hours=int(settings.get("refund_auto_approve_hours"))),
    )
    db.session.add(aftersale)
    db.session.flush()
    _event(
        order.id,
        "aftersale_requested",
        f"shopper:{customer.id}",
        {"aftersale_id": aftersale.id, "kind": kind, "amount": amount, "reason": reason, "photos": len(stored)},
    )
    db.session.commit()
    return aftersale


def withdraw(aftersale: AfterSale, actor: str) -> AfterSale:
    _move_or_raise(aftersale, "withdrawn")
    _event(aftersale.order_id, "aftersale_withdrawn", actor, {"aftersale_id": aftersale.id})
    db.session.commit()
    return aftersale


def decide(aftersale: AfterSale, actor: str, approve: bool, reason: str = "") -> AfterSale:
    """Approve or reject a requested after-sale. Approving a refund-only request refunds now."""
    reason = (reason or "").strip()
    if not approve and not reason:
        raise ValidationFailed({"reason": ("required", _("Tell the shopper why the request is rejected."))})
    if len(reason) > 200:
        raise ValidationFailed({"reason": ("too_long", _("Use at most %(max)s characters.", max=200))})
    target = "approved" if approve else "rejected"
    _move_or_raise(aftersale, target, decided_at=_now(), merchant_reason=reason or None)
    _event(aftersale.order_id, f"aftersale_{target}", actor, {"aftersale_id": aftersale.id, "reason": reason})
    db.session.commit()
    if approve and aftersale.kind == "refund_only":
        _refund(aftersale, actor)
    return aftersale


def ship_return(aftersale: AfterSale, actor: str, data) -> AfterSale:
    """The shopper sent the goods back (return-and-refund, once approved)."""
    carrier, tracking = text(data, "carrier", 40), text(data, "tracking_number", 64)
    errors = Errors()
    if not carrier:
        errors.add("carrier", "required", _("Enter the carrier."))
    if not tracking:
        errors.add("tracking_number", "required", _("Enter the tracking number."))
    errors.raise_if_any()
    if aftersale.kind != "return_refund" or aftersale.status != "approved":
        raise AfterSaleProblem("not_awaiting_return", _("This request is not waiting for goods to come back."))
    result = db.session.execute(
        sa.update(AfterSale)
        .where(AfterSale.id == aftersale.id, AfterSale.status == "approved")
        .values(return_carrier=carrier, return_tracking_number=tracking)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(aftersale)
    if result.rowcount != 1:
        raise AfterSaleProblem("not_awaiting_return", _("This request is not waiting for goods to come back."))
    _event(
        aftersale.order_id,
        "return_shipped",
        actor,
        {"aftersale_id": aftersale.id, "carrier": carrier, "tracking_number": tracking},
    )
    db.session.commit()
    return aftersale


def confirm_return(aftersale: AfterSale, actor: str) -> AfterSale:
    """The merchant has the goods back: their stock returns (once), then the refund is made."""
    if aftersale.kind != "return_refund":
        raise AfterSaleProblem("not_a_return", _("This request has no goods to return."))
    _move_or_raise(aftersale, "returned")
    order = db.session.get(Order, aftersale.order_id)
    restocked = []
    for line in order.lines:
        if stock.release(line.sku_id, line.quantity, order.id, reason="return"):
            restocked.append({"sku_id": line.sku_id, "quantity": line.quantity})
    _event(order.id, "return_received", actor, {"aftersale_id": aftersale.id, "restocked": restocked})
    db.session.commit()
    _refund(aftersale, actor)
    return aftersale


def _refund(aftersale: AfterSale, actor: str) -> bool:
    """Make the request's refund through the one refund path, at most once: under the order's
    lock, a request that has a refund row already gets no other (a second call, or the sweep
    racing the merchant's click, changes nothing). True when this call wrote the refund."""
    order_id = aftersale.order_id
    db.session.commit()  # nothing is pending; on SQLite an older read would make the lock below fail
    order = db.session.get(Order, order_id)
    lock_order(order)
    if db.session.execute(sa.select(Refund.id).where(Refund.aftersale_id == aftersale.id)).first() is not None:
        db.session.rollback()
        return False
    try:
        payments.refund(order, aftersale.amount, f"aftersale:{aftersale.id}", actor, aftersale_id=aftersale.id)
    except payments.PaymentProblem as problem:
        if not _refund_failed_before(aftersale):  # the sweep tries again: one timeline entry is enough
            _event(order.id, "aftersale_refund_failed", actor, {"aftersale_id": aftersale.id, "code": problem.code})
            db.session.commit()
        return False
    return True


def _refund_failed_before(aftersale: AfterSale) -> bool:
    details = db.session.execute(
        sa.select(OrderEvent.detail).where(
            OrderEvent.order_id == aftersale.order_id, OrderEvent.kind == "aftersale_refund_failed"
        )
    ).scalars()
    return any((detail or {}).get("aftersale_id") == aftersale.id for detail in details)


def repair_refunds() -> int:
    """Make the refunds that approval (refund only) or the goods coming back (return and refund)
    should have made but never wrote: a crash or an outage between the two steps. Idempotent."""
    missing = (
        db.session.execute(
            sa.select(AfterSale)
            .where(
                sa.or_(
                    sa.and_(AfterSale.status == "approved", AfterSale.kind == "refund_only"),
                    AfterSale.status == "returned",
                ),
                ~sa.exists().where(Refund.aftersale_id == AfterSale.id),
            )
            .order_by(AfterSale.id)
            .limit(500)
        )
        .scalars()
        .all()
    )
    return sum(_refund(aftersale, "system") for aftersale in missing)


def refund_succeeded(_app, refund: Refund) -> None:
    """Receives payments' ``refund_succeeded`` (:mod:`mallow.payments.events`, inside that
    transaction): the refund of an after-sale moves it to ``refunded``."""
    if refund.aftersale_id is None:
        return
    aftersale = db.session.get(AfterSale, refund.aftersale_id)
    if aftersale is not None and _move(aftersale, "refunded"):
        _event(
            aftersale.order_id,
            "aftersale_refunded",
            "system",
            {"aftersale_id": aftersale.id, "amount": refund.amount, "out_refund_no": refund.out_refund_no},
        )


def auto_approve(now: datetime | None = None) -> int:
    """Approve the refund-only requests whose merchant did nothing in time. Idempotent."""
    now = now or _now()
    due = (
        db.session.execute(
            sa.select(AfterSale)
            .where(AfterSale.status == "requested", AfterSale.kind == "refund_only", AfterSale.decide_by <= now)
            .order_by(AfterSale.id)
        )
        .scalars()
        .all()
    )
    approved = 0
    for aftersale in due:
        try:
            decide(aftersale, "system", True, "")
        except InvalidTransition:  # withdrawn or decided a moment ago
            db.session.rollback()
            continue
        approved += 1
    return approved


def of_customer(customer_id: int) -> list[AfterSale]:
    return list(
        db.session.execute(
            sa.select(AfterSale).where(AfterSale.customer_id == customer_id).order_by(AfterSale.id.desc()).limit(100)
        ).scalars()
    )


def of_order(order_id: int) -> list[AfterSale]:
    """The requests of one order, newest first (the order page shows them)."""
    return list(
        db.session.execute(
            sa.select(AfterSale).where(AfterSale.order_id == order_id).order_by(AfterSale.id.desc())
        ).scalars()
    )


def of_store(status: str | None = None, limit: int = 200) -> list[AfterSale]:
    query = sa.select(AfterSale).order_by(AfterSale.id.desc()).limit(limit)
    if status:
        query = query.where(AfterSale.status == status)
    return list(db.session.execute(query).scalars())
